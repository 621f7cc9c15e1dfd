//! Tasks: creating, reading, listing and editing them (an edit of a linked task queues its
//! push in the same transaction).

use tracing::instrument;
use uuid::Uuid;

use super::facets::fold;
use super::rows::{MetadataRow, TaskRow, TaskWithLinkRow};
use super::{Store, StoreError, new_id};
use crate::domain::{Content, Task, TaskGitHubMetadata, TaskOrder, TaskPatch, TaskStatus, TaskWithLink};
use crate::paging::PageRequest;
use crate::time::Timestamp;

/// Which tasks a list keeps.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskFilter {
    pub status: Option<TaskStatus>,
    /// Only tasks whose link has a pending conflict.
    pub conflict_pending: bool,
    /// Only tasks whose title contains this text (case-insensitive for ASCII letters).
    pub title_contains: Option<String>,
    /// Only tasks that show this label (its name, case-insensitive for ASCII letters).
    pub label: Option<String>,
    /// Only tasks assigned to this login (case-insensitive for ASCII letters).
    pub assignee: Option<String>,
    /// Only tasks in the milestone with this title (case-insensitive for ASCII letters).
    pub milestone: Option<String>,
}

/// A filter's value when it filters: an empty one keeps every task (in the SQL text and in
/// what is bound alike).
fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().filter(|v| !v.is_empty())
}

/// The task list's query: the text depends only on the order and on which of the column,
/// the cursor and the filters are given, so each planner sees an index it can walk (a column's
/// `tasks(project_id, status, updated_at, id)`, the project's `(project_id, created_at, id)`)
/// and starts at the cursor instead of filtering everything before it. Every value is
/// bound, always as `$1`…`$11`: an absent column, cursor or filter is an always-true
/// comparison of its empty binding. A label, assignee or milestone filter (`$8`, `$9`, `$10`,
/// folded as [`fold`]) is a semi-join on `task_facets`: the planner either probes it for each
/// task of the column or starts from the value's few tasks.
fn task_list_sql(order: TaskOrder, filter: &TaskFilter, cursor: bool) -> String {
    let column = if filter.status.is_some() { "t.status = $2" } else { "$2 = ''" };
    let (after, sort) = match order {
        TaskOrder::Created => ("(t.created_at, t.id) > ($5, $6)", "t.created_at, t.id"),
        TaskOrder::Updated => ("(t.updated_at, t.id) < ($5, $6)", "t.updated_at DESC, t.id DESC"),
    };
    let after = if cursor { after } else { "$5 = '' AND $6 = ''" };
    let facet = |given: bool, kind: &str, n: u8| match given {
        true => format!(
            "t.id IN (SELECT f.task_id FROM task_facets f WHERE f.project_id = $1 \
             AND f.kind = '{kind}' AND f.value = ${n})"
        ),
        false => format!("${n} = ''"),
    };
    format!(
        concat!(
            "SELECT ",
            task_columns!(),
            ", ",
            link_columns!(),
            " FROM tasks t LEFT JOIN task_github_metadata m ON m.task_id = t.id \
             LEFT JOIN sync_outbox o ON o.task_id = t.id \
             WHERE t.project_id = $1 AND {column} AND {after} \
             AND ($3 = 0 OR m.sync_conflict_status = 'pending') \
             AND {title} AND {label} AND {assignee} AND {milestone} ORDER BY {sort} LIMIT $7"
        ),
        column = column,
        title = match given(&filter.title_contains).is_some() {
            true => "(lower(t.title) LIKE $4 ESCAPE '\\' OR lower(t.title) LIKE $11 ESCAPE '\\')",
            false => "$4 = '' AND $11 = ''",
        },
        after = after,
        label = facet(given(&filter.label).is_some(), "label", 8),
        assignee = facet(given(&filter.assignee).is_some(), "assignee", 9),
        milestone = facet(given(&filter.milestone).is_some(), "milestone", 10),
        sort = sort,
    )
}

/// The `LIKE` patterns (escape `\`) of a title search for `text`: its ASCII letters folded,
/// and all its letters lower-cased. `lower()` folds only ASCII letters on SQLite and every
/// letter on PostgreSQL (under a UTF-8 locale): a title matches either pattern, so on both
/// backends the text is found as typed and with its ASCII letters in any case.
fn like_patterns(text: &str) -> (String, String) {
    let escaped = |text: String| {
        let mut pattern = String::with_capacity(text.len() + 2);
        pattern.push('%');
        for c in text.chars() {
            if matches!(c, '%' | '_' | '\\') {
                pattern.push('\\');
            }
            pattern.push(c);
        }
        pattern.push('%');
        pattern
    };
    (escaped(fold(text)), escaped(text.to_lowercase()))
}

impl Store {
    /// Creates a task on the board that is not (yet) linked to an issue.
    #[instrument(skip(self, content))]
    pub async fn create_task(
        &self,
        project_id: Uuid,
        content: &Content,
        status: TaskStatus,
    ) -> Result<Task, StoreError> {
        self.get_project(project_id).await?;
        let now = Timestamp::now().to_sql();
        let row: TaskRow = sqlx::query_as(concat!(
            "INSERT INTO tasks (id, project_id, title, description, status, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $6) RETURNING ",
            task_returning!()
        ))
        .bind(new_id())
        .bind(project_id.to_string())
        .bind(&content.title)
        .bind(&content.description)
        .bind(status.as_str())
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        row.try_into()
    }

    /// One task, or `NotFound`.
    pub async fn get_task(&self, id: Uuid) -> Result<Task, StoreError> {
        let row: Option<TaskRow> =
            sqlx::query_as(concat!("SELECT ", task_columns!(), " FROM tasks t WHERE t.id = $1"))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.ok_or(StoreError::NotFound("task"))?.try_into()
    }

    /// A project's tasks with their GitHub links, oldest first.
    pub async fn list_tasks(&self, project_id: Uuid) -> Result<Vec<TaskWithLink>, StoreError> {
        self.list_tasks_page(
            project_id,
            &TaskFilter::default(),
            TaskOrder::Created,
            &PageRequest::everything(),
        )
        .await
    }

    /// A page of a project's tasks with their GitHub links in `order`, as `filter` keeps
    /// them: up to [`PageRequest::fetch`] rows after the request's cursor (see
    /// [`crate::paging`]).
    pub async fn list_tasks_page(
        &self,
        project_id: Uuid,
        filter: &TaskFilter,
        order: TaskOrder,
        request: &PageRequest,
    ) -> Result<Vec<TaskWithLink>, StoreError> {
        self.get_project(project_id).await?;
        let sql = task_list_sql(order, filter, request.after.is_some());
        let facet = |value: &Option<String>| given(value).map(fold).unwrap_or_default();
        let title = given(&filter.title_contains).map(like_patterns).unwrap_or_default();
        let rows: Vec<TaskWithLinkRow> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(project_id.to_string())
            .bind(filter.status.map_or("", |s| s.as_str()))
            .bind(i64::from(filter.conflict_pending))
            .bind(&title.0)
            .bind(request.after.map(|c| c.at.to_sql()).unwrap_or_default())
            .bind(request.after.map(|c| c.id.to_string()).unwrap_or_default())
            .bind(request.fetch())
            .bind(facet(&filter.label))
            .bind(facet(&filter.assignee))
            .bind(facet(&filter.milestone))
            .bind(&title.1)
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(TaskWithLink::try_from).collect()
    }

    /// One task with its GitHub link, as the board shows it, or `NotFound`.
    pub async fn get_task_with_link(&self, id: Uuid) -> Result<TaskWithLink, StoreError> {
        let row: Option<TaskWithLinkRow> = sqlx::query_as(concat!(
            "SELECT ",
            task_columns!(),
            ", ",
            link_columns!(),
            " FROM tasks t LEFT JOIN task_github_metadata m ON m.task_id = t.id \
             LEFT JOIN sync_outbox o ON o.task_id = t.id WHERE t.id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(StoreError::NotFound("task"))?.try_into()
    }

    /// The GitHub link of a task, if it has one.
    pub async fn get_metadata(&self, task_id: Uuid) -> Result<Option<TaskGitHubMetadata>, StoreError> {
        let row: Option<MetadataRow> = sqlx::query_as(concat!(
            "SELECT ",
            metadata_columns!(),
            " FROM task_github_metadata m WHERE m.task_id = $1"
        ))
        .bind(task_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(TaskGitHubMetadata::try_from).transpose()
    }

    /// A local edit: the local side of the sync rules. In a two-way config an edit of a
    /// linked task also queues its push, in the same transaction (see [`Store::claim_push`]).
    pub async fn update_task(&self, id: Uuid, patch: &TaskPatch) -> Result<Task, StoreError> {
        self.update_task_if(id, patch, None).await
    }

    /// [`Store::update_task`], only while the task is still the version last updated at
    /// `seen` (when given): otherwise [`StoreError::Changed`] and nothing is written. The
    /// board sends the version it shows, so a card moved on a stale board never overwrites a
    /// change it did not show.
    #[instrument(skip(self, patch))]
    pub async fn update_task_if(
        &self,
        id: Uuid,
        patch: &TaskPatch,
        seen: Option<Timestamp>,
    ) -> Result<Task, StoreError> {
        let mut tx = self.begin().await?;
        let task = super::rows::lock_task(&mut tx, self.backend, id).await?;
        if seen.is_some_and(|seen| seen != task.updated_at) {
            return Err(StoreError::Changed(format!(
                "the task changed since it was read: it is in {} now (updated {})",
                task.status, task.updated_at
            )));
        }
        let now = Timestamp::now();
        // The sets first (a refusal writes nothing), then the row with one time for both.
        let edit = super::SetsEdit {
            labels: patch.labels.as_deref(),
            assignees: patch.assignees.as_deref(),
            milestone: patch.milestone.clone(),
        };
        let edited = match edit.is_empty() {
            true => Default::default(),
            false => super::fields::edit_sets_in(&mut tx, &task, edit, now).await?,
        };
        let before = task.content();
        let milestone = edited.milestone.unwrap_or_else(|| task.milestone.clone());
        let content = Content::new(
            patch.title.clone().unwrap_or(task.title),
            patch.description.clone().apply(task.description),
        )?
        .with_milestone(milestone);
        let status = patch.status.unwrap_or(task.status);
        let row: TaskRow = sqlx::query_as(concat!(
            "UPDATE tasks SET title = $2, description = $3, status = $4, updated_at = $5, milestone_number = $6, \
             milestone_title = $7 WHERE id = $1 RETURNING ",
            task_returning!()
        ))
        .bind(id.to_string())
        .bind(&content.title)
        .bind(&content.description)
        .bind(status.as_str())
        .bind(now.to_sql())
        .bind(content.milestone.as_ref().map(|m| m.number))
        .bind(content.milestone.as_ref().map(|m| m.title.as_str()))
        .fetch_one(&mut *tx)
        .await?;
        if content != before || status != task.status || edited.sets_changed {
            super::outbox::queue_push_in(&mut tx, id, now).await?;
        }
        tx.commit().await?;
        row.try_into()
    }
}
