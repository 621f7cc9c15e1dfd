//! Tasks: creating, reading, listing and editing them (an edit of a linked task queues its
//! push in the same transaction).

use tracing::instrument;
use uuid::Uuid;

use super::rows::{MetadataRow, TaskRow, TaskWithLinkRow};
use super::{Store, StoreError, new_id};
use crate::domain::{Content, IssueExtras, Task, TaskGitHubMetadata, TaskPatch, TaskStatus, TaskWithLink};
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
    /// Only tasks whose issue has this label (case-insensitive for ASCII letters).
    pub label: Option<String>,
}

/// A `LIKE` pattern (escape `\`) matching titles that contain `text`, lower-cased.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
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
        self.list_tasks_page(project_id, &TaskFilter::default(), &PageRequest::everything()).await
    }

    /// A page of a project's tasks with their GitHub links, oldest first, as `filter` keeps
    /// them: up to [`PageRequest::fetch`] rows after the request's cursor (see
    /// [`crate::paging`]).
    pub async fn list_tasks_page(
        &self,
        project_id: Uuid,
        filter: &TaskFilter,
        request: &PageRequest,
    ) -> Result<Vec<TaskWithLink>, StoreError> {
        self.get_project(project_id).await?;
        let pattern = filter.title_contains.as_deref().map(like_pattern);
        let rows: Vec<TaskWithLinkRow> = sqlx::query_as(concat!(
            "SELECT ",
            task_columns!(),
            ", ",
            link_columns!(),
            " FROM tasks t LEFT JOIN task_github_metadata m ON m.task_id = t.id \
             LEFT JOIN sync_outbox o ON o.task_id = t.id \
             WHERE t.project_id = $1 AND ($2 = '' OR t.status = $2) \
             AND ($3 = 0 OR m.sync_conflict_status = 'pending') \
             AND ($4 = '' OR lower(t.title) LIKE $4 ESCAPE '\\') \
             AND ($5 = '' OR t.created_at > $5 OR (t.created_at = $5 AND t.id > $6)) \
             AND ($8 = '' OR lower(m.labels) LIKE $8 ESCAPE '\\') \
             ORDER BY t.created_at, t.id LIMIT $7"
        ))
        .bind(project_id.to_string())
        .bind(filter.status.map_or("", |s| s.as_str()))
        .bind(i64::from(filter.conflict_pending))
        .bind(pattern.unwrap_or_default())
        .bind(request.after.map(|c| c.at.to_sql()).unwrap_or_default())
        .bind(request.after.map(|c| c.id.to_string()).unwrap_or_default())
        .bind(request.fetch())
        .bind(filter.label.as_deref().map(IssueExtras::label_pattern).unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TaskWithLink::try_from).collect()
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
    #[instrument(skip(self, patch))]
    pub async fn update_task(&self, id: Uuid, patch: &TaskPatch) -> Result<Task, StoreError> {
        let mut tx = self.begin().await?;
        let task = super::rows::lock_task(&mut tx, self.backend, id).await?;
        let before = task.content();
        let content = Content::new(
            patch.title.clone().unwrap_or(task.title),
            patch.description.clone().apply(task.description),
        )?;
        let status = patch.status.unwrap_or(task.status);
        let row: TaskRow = sqlx::query_as(concat!(
            "UPDATE tasks SET title = $2, description = $3, status = $4, updated_at = $5 \
             WHERE id = $1 RETURNING ",
            task_returning!()
        ))
        .bind(id.to_string())
        .bind(&content.title)
        .bind(&content.description)
        .bind(status.as_str())
        .bind(Timestamp::now().to_sql())
        .fetch_one(&mut *tx)
        .await?;
        if content != before || status != task.status {
            super::outbox::queue_push_in(&mut tx, id, Timestamp::now()).await?;
        }
        tx.commit().await?;
        row.try_into()
    }
}
