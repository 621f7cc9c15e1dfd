//! A task's own labels and assignees (docs/fields.md): a person's edit on the board (checked
//! against the repository's choices, written with its outbox entry in one transaction), the
//! merge of a snapshot's sets, and the repository's choices kept per config (an element
//! push's record is `elements.rs`).

use sqlx::AnyConnection;
use uuid::Uuid;

use super::{Store, StoreError};
use crate::domain::{IssueExtras, Label, Milestone, Nullable, RemoteIssue, RepositoryChoices, Task};
use crate::sync::fields::{self, Sets, element_key};
use crate::time::Timestamp;

/// What the repository offers, as a list GitHub answered: `labels` or `assignees`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChoiceKind {
    Labels,
    Assignees,
    Milestones,
}

impl ChoiceKind {
    fn as_str(self) -> &'static str {
        match self {
            ChoiceKind::Labels => "labels",
            ChoiceKind::Assignees => "assignees",
            ChoiceKind::Milestones => "milestones",
        }
    }
}

/// A person's new labels, assignees and milestone for a task (`None` / `Keep`: that field
/// stays).
#[derive(Clone, Debug, Default)]
pub struct SetsEdit<'a> {
    pub labels: Option<&'a [String]>,
    pub assignees: Option<&'a [String]>,
    /// `Set(n)`: milestone number `n`; `Clear`: none.
    pub milestone: Nullable<i64>,
}

impl SetsEdit<'_> {
    pub fn is_empty(&self) -> bool {
        self.labels.is_none() && self.assignees.is_none() && self.milestone == Nullable::Keep
    }
}

/// What an edit of the fields decided.
#[derive(Debug, Default)]
pub(super) struct FieldsEdited {
    /// The sets changed (written, with the facets): the push goes.
    pub sets_changed: bool,
    /// The task's milestone after the edit (`None`: unchanged), written with its content.
    pub milestone: Option<Option<Milestone>>,
}

/// The link and config columns an edit of the sets needs.
#[derive(sqlx::FromRow)]
struct EditRow {
    remote_state: Option<String>,
    unlinked_at: Option<String>,
    two_way: Option<i64>,
    task_labels: String,
    task_assignees: String,
}

/// Applies a person's edit of `task`'s sets and milestone inside the caller's transaction (the
/// task is locked): only on a live link of a two-way config (`StateConflict`, 409, otherwise:
/// one-way shows GitHub's); names checked and spelled as the repository spells them; an added
/// assignee the repository cannot assign, or an eleventh, or a milestone the repository does
/// not have, is a 422 naming them. The sets are written here (with the facets); the milestone
/// is returned for the caller to write with the content (then it rewrites the facets).
pub(super) async fn edit_sets_in(
    conn: &mut AnyConnection,
    task: &Task,
    edit: SetsEdit<'_>,
    now: Timestamp,
) -> Result<FieldsEdited, StoreError> {
    let row: EditRow = sqlx::query_as(
        "SELECT m.remote_state, \
         m.unlinked_at, c.two_way, t.labels AS task_labels, t.assignees AS task_assignees \
         FROM tasks t LEFT JOIN task_github_metadata m ON m.task_id = t.id \
         LEFT JOIN github_sync_config c ON c.project_id = t.project_id WHERE t.id = $1",
    )
    .bind(task.id.to_string())
    .fetch_one(&mut *conn)
    .await?;
    let live = match &row.remote_state {
        Some(state) => super::rows::stored_link_live(state, row.unlinked_at.is_some())?,
        None => false,
    };
    if !live {
        return Err(StoreError::StateConflict(
            "labels, assignees and the milestone are edited on a task linked to an issue on GitHub; this one is not"
                .into(),
        ));
    }
    if row.two_way != Some(1) {
        return Err(StoreError::StateConflict(
            "two-way sync is off for the task's project: its labels, assignees and milestone are GitHub's, shown \
             read-only"
                .into(),
        ));
    }
    let current = super::rows::sets(&row.task_labels, &row.task_assignees)?;
    let choices = read_choices_in(conn, task.project_id).await?;
    let mut wanted = current.clone();
    if let Some(names) = edit.labels {
        let repository = choices.labels.as_deref().unwrap_or_default();
        let find = |name: &str| {
            let key = element_key(name);
            repository.iter().chain(&current.labels).find(|l| element_key(&l.name) == key).cloned()
        };
        let names = fields::clean_labels(names, |n| find(n).map(|l| l.name))?;
        wanted.labels = names
            .into_iter()
            .map(|name| find(&name).unwrap_or(Label { name, color: String::new() }))
            .collect();
    }
    if let Some(logins) = edit.assignees {
        let mut seen = std::collections::HashSet::new();
        let logins: Vec<String> = logins
            .iter()
            .map(|l| l.trim().to_string())
            .filter(|l| !l.is_empty() && seen.insert(element_key(l)))
            .collect();
        fields::check_assignees(&logins, &current.assignees, choices.assignees.as_deref())?;
        let spelled = |login: String| {
            let key = element_key(&login);
            let known = choices.assignees.iter().flatten().chain(&current.assignees);
            known.into_iter().find(|a| element_key(a) == key).cloned().unwrap_or(login)
        };
        wanted.assignees = logins.into_iter().map(spelled).collect();
    }
    let milestone = match edit.milestone {
        Nullable::Keep => None,
        Nullable::Clear => Some(None),
        Nullable::Set(number) => {
            let own = [task.milestone.as_ref()];
            Some(Some(milestone_of(number, &own, choices.milestones.as_deref(), "milestone")?))
        }
    };
    let milestone = milestone.filter(|m| *m != task.milestone);
    let sets_changed = wanted != current;
    if !sets_changed && milestone.is_none() {
        return Ok(FieldsEdited::default());
    }
    let task_id = task.id.to_string();
    if sets_changed {
        write_sets_in(conn, &task_id, &wanted, &now.to_sql()).await?;
    }
    let shown_milestone = milestone.clone().unwrap_or_else(|| task.milestone.clone());
    let shown = IssueExtras {
        labels: wanted.labels,
        assignees: wanted.assignees,
        milestone: shown_milestone.map(|m| m.title),
    };
    super::facets::replace_in(conn, &task.project_id.to_string(), &[(&task_id, &shown)]).await?;
    Ok(FieldsEdited { sets_changed, milestone })
}

/// Milestone `number` as a person names it: as `known` shows it (the task's own, either side
/// of a conflict), else as the repository's milestones list it (`None`: not listed yet, the
/// number is taken and its title shown as `#n` until GitHub's answer names it). A number the
/// listed milestones lack is a 422 on `field` (`milestone`, or `merged_content`).
pub(super) fn milestone_of(
    number: i64,
    known: &[Option<&Milestone>],
    listed: Option<&[Milestone]>,
    field: &'static str,
) -> Result<Milestone, StoreError> {
    if let Some(known) = known.iter().flatten().find(|m| m.number == number) {
        return Ok((*known).clone());
    }
    match listed {
        None => Ok(Milestone { number, title: format!("#{number}") }),
        Some(listed) => listed.iter().find(|m| m.number == number).cloned().ok_or_else(|| {
            let named = if field == "milestone" { "" } else { "milestone: " };
            StoreError::Invalid(crate::domain::ValidationError::new(
                field,
                format!("{named}the repository has no milestone {number}"),
            ))
        }),
    }
}

/// Writes a task's own labels and assignees.
pub(super) async fn write_sets_in(
    conn: &mut AnyConnection,
    task_id: &str,
    sets: &Sets,
    now: &str,
) -> Result<(), StoreError> {
    let labels = serde_json::to_string(&sets.labels).expect("labels serialise");
    let assignees = serde_json::to_string(&sets.assignees).expect("logins serialise");
    sqlx::query("UPDATE tasks SET labels = $2, assignees = $3, updated_at = $4 WHERE id = $1")
        .bind(task_id)
        .bind(labels)
        .bind(assignees)
        .bind(now)
        .execute(conn)
        .await?;
    Ok(())
}

/// The link and task [`adopt_milestone_in`] writes to.
pub(super) struct Adopting<'a> {
    pub metadata_id: &'a str,
    pub task_id: &'a str,
    /// The task has a milestone by number (set on the board since).
    pub task_has_number: bool,
}

/// A link stored before milestones were synced: its base says nothing of the milestone, and
/// its task knows the milestone's title only. Its first snapshot's milestone becomes the base's
/// (and the task's, unless the task has one by number), so neither side looks changed
/// (docs/fields.md, "One value: the milestone"); from then on the link knows it.
pub(super) async fn adopt_milestone_in(
    conn: &mut AnyConnection,
    link: Adopting<'_>,
    issue: &RemoteIssue,
    (base, local): (&mut crate::domain::Content, &mut crate::domain::Content),
) -> Result<(), StoreError> {
    let milestone = issue.content.milestone.clone();
    base.milestone = milestone.clone();
    sqlx::query(
        "UPDATE task_github_metadata SET last_synced_content = $2, milestone_known = 1 WHERE id = $1",
    )
    .bind(link.metadata_id)
    .bind(base.to_json())
    .execute(&mut *conn)
    .await?;
    if !link.task_has_number {
        local.milestone = milestone;
        sqlx::query("UPDATE tasks SET milestone_number = $2, milestone_title = $3 WHERE id = $1")
            .bind(link.task_id)
            .bind(local.milestone.as_ref().map(|m| m.number))
            .bind(local.milestone.as_ref().map(|m| m.title.as_str()))
            .execute(conn)
            .await?;
    }
    Ok(())
}

/// What a snapshot's sets are merged with: GitHub's as last synced (the base), the task's
/// own, and whether the config is two-way.
pub(super) struct SnapshotSets<'a> {
    pub synced: &'a IssueExtras,
    pub local: &'a Sets,
    pub two_way: bool,
    /// The task's milestone once the snapshot's content is applied (the filters show it).
    pub milestone: Option<&'a Milestone>,
}

/// The sets of a snapshot applied to a linked task (docs/fields.md, "When the merge runs"),
/// inside its transaction: they merge element by element whatever the content does; the task
/// takes the merge (the link took GitHub's sets as the new base, when `link_written`), and
/// what the merge holds beyond GitHub's sets waits in the outbox. The facets follow.
pub(super) async fn merge_snapshot_sets_in(
    conn: &mut AnyConnection,
    (project_id, now): (Uuid, Timestamp),
    task_id: &str,
    sets: SnapshotSets<'_>,
    issue: &RemoteIssue,
    link_written: bool,
) -> Result<(), StoreError> {
    let remote = Sets::of(&issue.extras);
    let merged = Sets::merged(&Sets::of(sets.synced), sets.local, &remote);
    let changed = merged != *sets.local;
    if changed {
        write_sets_in(conn, task_id, &merged, &now.to_sql()).await?;
    }
    if sets.two_way && !merged.same_elements(&remote) {
        super::outbox::queue_sets_in(conn, task_id, now).await?;
    }
    // The same milestone renamed on GitHub: the task shows its new title (the number is
    // the milestone; a rename is no change of either side).
    let renamed = match (sets.milestone, issue.content.milestone.as_ref()) {
        (Some(own), Some(theirs)) if own.number == theirs.number && own.title != theirs.title => Some(theirs),
        _ => None,
    };
    if let Some(theirs) = renamed {
        sqlx::query("UPDATE tasks SET milestone_title = $2 WHERE id = $1")
            .bind(task_id)
            .bind(&theirs.title)
            .execute(&mut *conn)
            .await?;
    }
    if link_written || changed || renamed.is_some() {
        let milestone = renamed.or(sets.milestone).map(|m| m.title.clone());
        let shown = IssueExtras { labels: merged.labels, assignees: merged.assignees, milestone };
        super::facets::replace_in(conn, &project_id.to_string(), &[(task_id, &shown)]).await?;
    }
    Ok(())
}

/// The repository's milestones as last listed for the project of `task_id` (`None`: not yet).
pub(super) async fn listed_milestones_in(
    conn: &mut AnyConnection,
    task_id: Uuid,
) -> Result<Option<Vec<Milestone>>, StoreError> {
    let project: String = sqlx::query_scalar("SELECT project_id FROM tasks WHERE id = $1")
        .bind(task_id.to_string())
        .fetch_one(&mut *conn)
        .await?;
    let project = super::rows::uuid("tasks.project_id", &project)?;
    Ok(read_choices_in(conn, project).await?.milestones)
}

/// The repository's choices for a config, as last listed (inside the caller's transaction).
async fn read_choices_in(
    conn: &mut AnyConnection,
    project_id: Uuid,
) -> Result<RepositoryChoices, StoreError> {
    let rows: Vec<(String, String, String)> =
        sqlx::query_as("SELECT kind, items, refreshed_at FROM repository_choices WHERE project_id = $1")
            .bind(project_id.to_string())
            .fetch_all(conn)
            .await?;
    let mut choices = RepositoryChoices::default();
    for (kind, items, at) in rows {
        let at = super::rows::ts("repository_choices.refreshed_at", &at)?;
        choices.refreshed_at = Some(choices.refreshed_at.map_or(at, |seen: Timestamp| seen.min(at)));
        let corrupt = |e| StoreError::corrupt("repository_choices.items", e);
        match kind.as_str() {
            "labels" => choices.labels = Some(serde_json::from_str(&items).map_err(corrupt)?),
            "milestones" => choices.milestones = Some(serde_json::from_str(&items).map_err(corrupt)?),
            _ => choices.assignees = Some(serde_json::from_str(&items).map_err(corrupt)?),
        }
    }
    Ok(choices)
}

impl Store {
    /// The repository's labels and assignable users as last listed for the project's config
    /// (each `None` until listed once).
    pub async fn choices(&self, project_id: Uuid) -> Result<RepositoryChoices, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_choices_in(&mut conn, project_id).await
    }

    /// The ETag of a list as last answered (`None`: list it in full), unless a delivery marked
    /// it stale.
    pub async fn choice_etag(
        &self,
        project_id: Uuid,
        kind: ChoiceKind,
    ) -> Result<Option<String>, StoreError> {
        let etag: Option<Option<String>> = sqlx::query_scalar(
            "SELECT CASE WHEN stale = 1 THEN NULL ELSE etag END FROM repository_choices \
             WHERE project_id = $1 AND kind = $2",
        )
        .bind(project_id.to_string())
        .bind(kind.as_str())
        .fetch_optional(&self.pool)
        .await?;
        Ok(etag.flatten())
    }

    /// Stores a list GitHub answered in full, with its ETag.
    pub async fn save_choices(
        &self,
        project_id: Uuid,
        kind: ChoiceKind,
        items_json: &str,
        etag: Option<&str>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO repository_choices (project_id, kind, items, etag, refreshed_at, stale) \
             VALUES ($1, $2, $3, $4, $5, 0) ON CONFLICT (project_id, kind) DO UPDATE SET \
             items = excluded.items, etag = excluded.etag, refreshed_at = excluded.refreshed_at, stale = 0",
        )
        .bind(project_id.to_string())
        .bind(kind.as_str())
        .bind(items_json)
        .bind(etag)
        .bind(now.to_sql())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// A list GitHub answered 304 for: unchanged, refreshed now.
    pub async fn choices_unchanged(
        &self,
        project_id: Uuid,
        kind: ChoiceKind,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("UPDATE repository_choices SET refreshed_at = $3 WHERE project_id = $1 AND kind = $2")
            .bind(project_id.to_string())
            .bind(kind.as_str())
            .bind(now.to_sql())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A `label` or `milestone` delivery for repository `full_name` (`owner/name`): every
    /// config following it lists its choices in full on its next run.
    pub async fn choices_stale_for_repo(&self, full_name: &str) -> Result<(), StoreError> {
        let Some((owner, name)) = full_name.split_once('/') else { return Ok(()) };
        sqlx::query(
            "UPDATE repository_choices SET stale = 1 WHERE project_id IN (SELECT project_id \
             FROM github_sync_config WHERE lower(repo_owner) = lower($1) AND lower(repo_name) = lower($2))",
        )
        .bind(owner)
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
