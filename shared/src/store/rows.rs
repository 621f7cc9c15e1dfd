//! Rows as the database returns them, and their parsing into domain types; and the small
//! query helpers every table's file shares (placeholder lists, locking a task).

use std::str::FromStr;

use sqlx::AnyConnection;

/// A `SELECT` that locks the rows it reads until the transaction ends: `FOR UPDATE` on
/// PostgreSQL; on SQLite the transaction already holds the write lock (`BEGIN IMMEDIATE`).
macro_rules! locking {
    ($backend:expr, $($sql:expr),+ $(,)?) => {
        match $backend {
            $crate::store::Backend::Sqlite => concat!($($sql),+),
            $crate::store::Backend::Postgres => concat!($($sql),+, " FOR UPDATE"),
        }
    };
}

/// [`crate::sync::link_live`] as SQL over the link table aliased `$m`, for the one statement
/// that must decide it atomically with its write (queueing a push); a test holds the two to
/// the same answer for every state.
macro_rules! live_link {
    ($m:literal) => {
        concat!($m, ".unlinked_at IS NULL AND ", $m, ".remote_state IN ('open', 'completed', 'not_planned')")
    };
}

use uuid::Uuid;

use super::StoreError;
use crate::domain::{
    ConflictResolution, ConflictStatus, Content, GitHubLink, GitHubSyncConfig, IssueExtras, IssueState,
    LocalSnapshot, Merged, Project, PushWaiting, RemoteSnapshot, RemoteState, ResolutionAction, SyncHistory,
    SyncStatus, Task, TaskGitHubMetadata, TaskWithLink,
};
use crate::time::Timestamp;

pub(crate) fn uuid(what: &'static str, s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::corrupt(what, e))
}

pub(crate) fn ts(what: &'static str, s: &str) -> Result<Timestamp, StoreError> {
    s.parse().map_err(|e| StoreError::corrupt(what, e))
}

pub(crate) fn opt_ts(what: &'static str, s: Option<&str>) -> Result<Option<Timestamp>, StoreError> {
    s.map(|s| ts(what, s)).transpose()
}

pub(crate) fn parse<T: FromStr>(what: &'static str, s: &str) -> Result<T, StoreError>
where
    T::Err: ToString,
{
    s.parse().map_err(|e: T::Err| StoreError::corrupt(what, e.to_string()))
}

/// [`crate::sync::link_live`] for a link row as stored: its `remote_state` text and whether
/// `unlinked_at` is set.
pub(crate) fn stored_link_live(remote_state: &str, unlinked: bool) -> Result<bool, StoreError> {
    Ok(crate::sync::link_live(parse("task_github_metadata.remote_state", remote_state)?, unlinked))
}

pub(crate) fn content(what: &'static str, json: &str) -> Result<Content, StoreError> {
    Content::from_json(what, json).map_err(|e| StoreError::corrupt(what, e))
}

#[derive(sqlx::FromRow)]
pub(crate) struct ProjectRow {
    id: String,
    name: String,
    created_at: String,
    updated_at: String,
}

impl TryFrom<ProjectRow> for Project {
    type Error = StoreError;
    fn try_from(r: ProjectRow) -> Result<Self, StoreError> {
        Ok(Project {
            id: uuid("projects.id", &r.id)?,
            name: r.name,
            created_at: ts("projects.created_at", &r.created_at)?,
            updated_at: ts("projects.updated_at", &r.updated_at)?,
        })
    }
}

/// The column list that `task` rows decode from (for `concat!`).
macro_rules! task_columns {
    () => {
        "t.id, t.project_id, t.title, t.description, t.status, t.github_issue_url, t.created_at, t.updated_at, \
         t.milestone_number, t.milestone_title"
    };
}

/// The same columns unqualified, for `RETURNING`.
macro_rules! task_returning {
    () => {
        "id, project_id, title, description, status, github_issue_url, created_at, updated_at, \
         milestone_number, milestone_title"
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct TaskRow {
    id: String,
    project_id: String,
    title: String,
    description: Option<String>,
    status: String,
    github_issue_url: Option<String>,
    created_at: String,
    updated_at: String,
    milestone_number: Option<i64>,
    milestone_title: Option<String>,
}

/// A task's milestone from its two columns.
pub(crate) fn milestone(number: Option<i64>, title: Option<String>) -> Option<crate::domain::Milestone> {
    Some(crate::domain::Milestone { number: number?, title: title.unwrap_or_default() })
}

impl TryFrom<TaskRow> for Task {
    type Error = StoreError;
    fn try_from(r: TaskRow) -> Result<Self, StoreError> {
        Ok(Task {
            id: uuid("tasks.id", &r.id)?,
            project_id: uuid("tasks.project_id", &r.project_id)?,
            title: r.title,
            description: r.description,
            status: parse("tasks.status", &r.status)?,
            github_issue_url: r.github_issue_url,
            created_at: ts("tasks.created_at", &r.created_at)?,
            updated_at: ts("tasks.updated_at", &r.updated_at)?,
            milestone: milestone(r.milestone_number, r.milestone_title),
        })
    }
}

/// A task and the board-facing part of its link (LEFT JOIN: the link columns may be NULL).
#[derive(sqlx::FromRow)]
pub(crate) struct TaskWithLinkRow {
    #[sqlx(flatten)]
    task: TaskRow,
    link_node_id: Option<String>,
    github_issue_number: Option<i64>,
    link_url: Option<String>,
    sync_conflict_status: Option<String>,
    remote_state: Option<String>,
    remote_updated_at: Option<String>,
    last_synced_at: Option<String>,
    unlinked_at: Option<String>,
    labels: Option<String>,
    assignees: Option<String>,
    milestone: Option<String>,
    push_error: Option<String>,
    /// The outbox entry's columns (NULL without one).
    push_queued: Option<String>,
    push_next_attempt_at: Option<String>,
    push_last_error: Option<String>,
    push_parked: Option<String>,
    /// The comments the task's thread shows.
    comment_count: i64,
}

/// The comments a thread shows, of `task_comments c`: not deleted on either side, unless a
/// conflict waits on them (for `concat!`).
macro_rules! shown_in_thread {
    () => {
        "((c.deleted_at IS NULL AND c.board_deleted_at IS NULL) OR c.conflict_at IS NOT NULL)"
    };
}

/// The link columns [`TaskWithLinkRow`] reads, from `task_github_metadata m` and the task's
/// outbox entry `sync_outbox o` (for `concat!`).
macro_rules! link_columns {
    () => {
        concat!(
        "m.github_issue_id AS link_node_id, m.github_issue_number, m.github_issue_url AS link_url, \
         m.sync_conflict_status, m.remote_state, m.remote_updated_at, m.last_synced_at, m.unlinked_at, \
         t.labels, t.assignees, t.milestone_title AS milestone, m.push_error, o.queued_at AS push_queued, \
         o.next_attempt_at AS push_next_attempt_at, o.last_error AS push_last_error, o.parked AS push_parked, \
         (SELECT COUNT(*) FROM task_comments c WHERE c.task_id = t.id AND ",
            shown_in_thread!(),
            ") AS comment_count"
        )
    };
}

/// Parses the stored labels and assignees of a link.
pub(crate) fn extras(
    labels: Option<&str>,
    assignees: Option<&str>,
    milestone: Option<String>,
) -> Result<IssueExtras, StoreError> {
    let labels = serde_json::from_str(labels.unwrap_or("[]"))
        .map_err(|e| StoreError::corrupt("task_github_metadata.labels", e))?;
    let assignees = serde_json::from_str(assignees.unwrap_or("[]"))
        .map_err(|e| StoreError::corrupt("task_github_metadata.assignees", e))?;
    Ok(IssueExtras { labels, assignees, milestone })
}

/// Labels and assignees as stored (a task's own, or its link's: JSON `[{"name", "color"}]`
/// and `["login"]`), as one value.
pub(crate) fn sets(labels: &str, assignees: &str) -> Result<crate::sync::fields::Sets, StoreError> {
    Ok(crate::sync::fields::Sets::of(&extras(Some(labels), Some(assignees), None)?))
}

impl TryFrom<TaskWithLinkRow> for TaskWithLink {
    type Error = StoreError;
    fn try_from(r: TaskWithLinkRow) -> Result<Self, StoreError> {
        let github = match (r.link_node_id, r.github_issue_number, r.link_url, r.remote_state) {
            (Some(node_id), Some(number), Some(url), Some(state)) => Some(GitHubLink {
                node_id,
                issue_number: number,
                issue_url: url,
                sync_conflict_status: r
                    .sync_conflict_status
                    .as_deref()
                    .map(|s| parse::<ConflictStatus>("task_github_metadata.sync_conflict_status", s))
                    .transpose()?,
                remote_state: parse("task_github_metadata.remote_state", &state)?,
                remote_updated_at: ts(
                    "task_github_metadata.remote_updated_at",
                    r.remote_updated_at.as_deref().unwrap_or_default(),
                )?,
                last_synced_at: ts(
                    "task_github_metadata.last_synced_at",
                    r.last_synced_at.as_deref().unwrap_or_default(),
                )?,
                unlinked_at: opt_ts("task_github_metadata.unlinked_at", r.unlinked_at.as_deref())?,
                extras: extras(r.labels.as_deref(), r.assignees.as_deref(), r.milestone)?,
                push_pending: r.push_queued.is_some(),
                push_error: r.push_error,
                push_waiting: match r.push_queued {
                    None => None,
                    Some(_) => Some(PushWaiting {
                        next_attempt_at: opt_ts(
                            "sync_outbox.next_attempt_at",
                            r.push_next_attempt_at.as_deref(),
                        )?,
                        reason: r.push_last_error,
                        parked: r
                            .push_parked
                            .as_deref()
                            .map(|p| parse("sync_outbox.parked", p))
                            .transpose()?,
                    }),
                },
            }),
            _ => None,
        };
        Ok(TaskWithLink { task: r.task.try_into()?, github, comment_count: r.comment_count })
    }
}

/// The column list that `metadata` rows decode from (for `concat!`).
macro_rules! metadata_columns {
    () => {
        "m.id, m.task_id, m.project_id, m.github_issue_id, \
     m.github_issue_number, m.github_issue_url, m.last_synced_at, m.remote_updated_at, \
     m.last_synced_content, m.sync_conflict_status, m.synced_state, m.remote_state, \
     m.unlinked_at, m.created_at, m.updated_at"
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct MetadataRow {
    id: String,
    task_id: String,
    project_id: String,
    github_issue_id: String,
    github_issue_number: i64,
    github_issue_url: String,
    last_synced_at: String,
    remote_updated_at: String,
    last_synced_content: String,
    sync_conflict_status: Option<String>,
    synced_state: String,
    remote_state: String,
    unlinked_at: Option<String>,
    created_at: String,
    updated_at: String,
}

impl TryFrom<MetadataRow> for TaskGitHubMetadata {
    type Error = StoreError;
    fn try_from(r: MetadataRow) -> Result<Self, StoreError> {
        Ok(TaskGitHubMetadata {
            id: uuid("task_github_metadata.id", &r.id)?,
            task_id: uuid("task_github_metadata.task_id", &r.task_id)?,
            project_id: uuid("task_github_metadata.project_id", &r.project_id)?,
            github_issue_id: r.github_issue_id,
            github_issue_number: r.github_issue_number,
            github_issue_url: r.github_issue_url,
            last_synced_at: ts("task_github_metadata.last_synced_at", &r.last_synced_at)?,
            remote_updated_at: ts("task_github_metadata.remote_updated_at", &r.remote_updated_at)?,
            last_synced_content: r.last_synced_content,
            sync_conflict_status: r
                .sync_conflict_status
                .as_deref()
                .map(|s| parse("task_github_metadata.sync_conflict_status", s))
                .transpose()?,
            synced_state: parse::<IssueState>("task_github_metadata.synced_state", &r.synced_state)?,
            remote_state: parse::<RemoteState>("task_github_metadata.remote_state", &r.remote_state)?,
            unlinked_at: opt_ts("task_github_metadata.unlinked_at", r.unlinked_at.as_deref())?,
            created_at: ts("task_github_metadata.created_at", &r.created_at)?,
            updated_at: ts("task_github_metadata.updated_at", &r.updated_at)?,
        })
    }
}

/// The column list that `history` rows decode from (for `concat!`).
macro_rules! history_columns {
    () => {
        "id, project_id, sync_config_id, started_at, completed_at, \
     duration_ms, issues_fetched, tasks_created, tasks_updated, conflicts_detected, issues_skipped, \
     pages_fetched, complete, status, error_message, comments_fetched, comments_created, comments_updated, \
     comments_deleted"
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct HistoryRow {
    id: String,
    project_id: String,
    sync_config_id: String,
    started_at: String,
    completed_at: Option<String>,
    duration_ms: Option<i64>,
    issues_fetched: i64,
    tasks_created: i64,
    tasks_updated: i64,
    conflicts_detected: i64,
    issues_skipped: i64,
    pages_fetched: i64,
    complete: i64,
    status: String,
    error_message: Option<String>,
    comments_fetched: i64,
    comments_created: i64,
    comments_updated: i64,
    comments_deleted: i64,
}

impl TryFrom<HistoryRow> for SyncHistory {
    type Error = StoreError;
    fn try_from(r: HistoryRow) -> Result<Self, StoreError> {
        Ok(SyncHistory {
            id: uuid("sync_history.id", &r.id)?,
            project_id: uuid("sync_history.project_id", &r.project_id)?,
            sync_config_id: uuid("sync_history.sync_config_id", &r.sync_config_id)?,
            started_at: ts("sync_history.started_at", &r.started_at)?,
            completed_at: opt_ts("sync_history.completed_at", r.completed_at.as_deref())?,
            duration_ms: r.duration_ms,
            issues_fetched: r.issues_fetched,
            tasks_created: r.tasks_created,
            tasks_updated: r.tasks_updated,
            conflicts_detected: r.conflicts_detected,
            issues_skipped: r.issues_skipped,
            pages_fetched: r.pages_fetched,
            complete: r.complete != 0,
            comments: crate::domain::CommentCounts {
                fetched: r.comments_fetched,
                created: r.comments_created,
                updated: r.comments_updated,
                deleted: r.comments_deleted,
            },
            status: parse::<SyncStatus>("sync_history.status", &r.status)?,
            error_message: r.error_message,
        })
    }
}

/// The column list that `conflict` rows decode from (for `concat!`).
macro_rules! conflict_columns {
    () => {
        "c.id, c.task_id, c.metadata_id, c.detected_at, c.resolved_at, \
     c.resolution_action, c.local_content_snapshot, c.remote_content_snapshot, c.merged_content"
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConflictRow {
    id: String,
    task_id: String,
    metadata_id: String,
    detected_at: String,
    resolved_at: Option<String>,
    resolution_action: Option<String>,
    local_content_snapshot: String,
    remote_content_snapshot: String,
    merged_content: Option<String>,
}

impl TryFrom<ConflictRow> for ConflictResolution {
    type Error = StoreError;
    fn try_from(r: ConflictRow) -> Result<Self, StoreError> {
        Ok(ConflictResolution {
            id: uuid("conflict_resolution.id", &r.id)?,
            task_id: uuid("conflict_resolution.task_id", &r.task_id)?,
            metadata_id: uuid("conflict_resolution.metadata_id", &r.metadata_id)?,
            detected_at: ts("conflict_resolution.detected_at", &r.detected_at)?,
            resolved_at: opt_ts("conflict_resolution.resolved_at", r.resolved_at.as_deref())?,
            resolution_action: r
                .resolution_action
                .as_deref()
                .map(|s| parse::<ResolutionAction>("conflict_resolution.resolution_action", s))
                .transpose()?,
            local_content_snapshot: LocalSnapshot::from_json(
                "local_content_snapshot",
                &r.local_content_snapshot,
            )
            .map_err(|e| StoreError::corrupt("conflict_resolution.local_content_snapshot", e))?,
            remote_content_snapshot: RemoteSnapshot::from_json(
                "remote_content_snapshot",
                &r.remote_content_snapshot,
            )
            .map_err(|e| StoreError::corrupt("conflict_resolution.remote_content_snapshot", e))?,
            merged_content: r
                .merged_content
                .as_deref()
                .map(|s| {
                    Merged::from_json("merged_content", s)
                        .map_err(|e| StoreError::corrupt("conflict_resolution.merged_content", e))
                })
                .transpose()?,
        })
    }
}

/// The column list that `config` rows decode from (for `concat!`).
macro_rules! config_columns {
    () => {
        "id, project_id, repo_owner, repo_name, encrypted_pat, \
     last_sync_at, next_sync_at, sync_enabled, sync_interval_seconds, sync_error, created_at, updated_at, \
     two_way, hook_id, hook_error, installation_id, api_url, token_expires_at, token_permissions, \
     paused_by, secret_generation, secret_salt, secret_rotated_at, secret_used_at, host_paused"
    };
}

#[derive(sqlx::FromRow)]
pub(crate) struct ConfigRow {
    id: String,
    project_id: String,
    repo_owner: String,
    repo_name: String,
    encrypted_pat: Vec<u8>,
    last_sync_at: Option<String>,
    next_sync_at: Option<String>,
    sync_enabled: i64,
    sync_interval_seconds: i64,
    sync_error: Option<String>,
    created_at: String,
    updated_at: String,
    two_way: i64,
    hook_id: Option<i64>,
    hook_error: Option<String>,
    installation_id: Option<i64>,
    api_url: Option<String>,
    token_expires_at: Option<String>,
    token_permissions: Option<String>,
    paused_by: Option<String>,
    secret_generation: i64,
    secret_salt: Option<String>,
    secret_rotated_at: Option<String>,
    secret_used_at: Option<String>,
    host_paused: i64,
}

impl TryFrom<ConfigRow> for GitHubSyncConfig {
    type Error = StoreError;
    fn try_from(r: ConfigRow) -> Result<Self, StoreError> {
        let expires_at = opt_ts("github_sync_config.token_expires_at", r.token_expires_at.as_deref())?;
        Ok(GitHubSyncConfig {
            id: uuid("github_sync_config.id", &r.id)?,
            project_id: uuid("github_sync_config.project_id", &r.project_id)?,
            repo_owner: r.repo_owner,
            repo_name: r.repo_name,
            encrypted_pat: r.encrypted_pat,
            last_sync_at: opt_ts("github_sync_config.last_sync_at", r.last_sync_at.as_deref())?,
            next_sync_at: opt_ts("github_sync_config.next_sync_at", r.next_sync_at.as_deref())?,
            sync_enabled: r.sync_enabled != 0,
            sync_interval_seconds: r.sync_interval_seconds,
            sync_error: r.sync_error,
            created_at: ts("github_sync_config.created_at", &r.created_at)?,
            updated_at: ts("github_sync_config.updated_at", &r.updated_at)?,
            two_way: r.two_way != 0,
            hook_id: r.hook_id,
            hook_error: r.hook_error,
            installation_id: r.installation_id,
            api_url: r.api_url,
            token_expires_at: expires_at,
            token_permissions: r
                .token_permissions
                .as_deref()
                .map(|json| {
                    serde_json::from_str(json)
                        .map_err(|e| StoreError::corrupt("github_sync_config.token_permissions", e))
                })
                .transpose()?,
            token_warning: crate::domain::token_warning(expires_at, Timestamp::now()),
            paused_by_github: r.paused_by.is_some(),
            secret_generation: r.secret_generation,
            secret_salt: r.secret_salt,
            secret_rotated_at: opt_ts(
                "github_sync_config.secret_rotated_at",
                r.secret_rotated_at.as_deref(),
            )?,
            secret_used_at: opt_ts("github_sync_config.secret_used_at", r.secret_used_at.as_deref())?,
            paused_for_host: r.host_paused != 0,
        })
    }
}

/// One task, locked for the caller's transaction, or `NotFound`.
pub(super) async fn lock_task(
    conn: &mut AnyConnection,
    backend: super::Backend,
    id: Uuid,
) -> Result<Task, StoreError> {
    let row: Option<TaskRow> =
        sqlx::query_as(locking!(backend, "SELECT ", task_columns!(), " FROM tasks t WHERE t.id = $1"))
            .bind(id.to_string())
            .fetch_optional(conn)
            .await?;
    row.ok_or(StoreError::NotFound("task"))?.try_into()
}

/// `count` numbered placeholders from `$first`, comma-separated. Only placeholders are
/// ever formatted into SQL text; every value is bound.
pub(super) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|n| format!("${n}")).collect::<Vec<_>>().join(", ")
}

/// `head` followed by `rows` value tuples of `columns` placeholders each, numbered in order.
pub(super) fn multi_row_insert(head: &str, rows: usize, columns: usize) -> String {
    let tuples: Vec<String> =
        (0..rows).map(|r| format!("({})", placeholders(r * columns + 1, columns))).collect();
    format!("{head}{}", tuples.join(", "))
}

/// Parses a stored `in_flight`.
pub(crate) fn in_flight(json: Option<&str>) -> Result<Option<crate::sync::Fields>, StoreError> {
    json.map(|j| serde_json::from_str(j).map_err(|e| StoreError::corrupt("sync_outbox.in_flight", e)))
        .transpose()
}

#[cfg(test)]
mod tests {
    use crate::domain::RemoteState;

    #[test]
    fn the_sql_of_a_live_link_is_the_rules() {
        let sql = live_link!("m");
        for state in [
            RemoteState::Open,
            RemoteState::Completed,
            RemoteState::NotPlanned,
            RemoteState::Deleted,
            RemoteState::Transferred,
        ] {
            let listed = sql.contains(&format!("'{}'", state.as_str()));
            assert_eq!(listed, crate::sync::link_live(state, false), "{state:?}");
        }
        assert!(sql.contains("m.unlinked_at IS NULL"), "an ended link is not live: {sql}");
    }
}

/// The config a push goes through.
#[derive(Clone)]
pub struct PushConfig {
    pub repo: crate::domain::RepoRef,
    /// How it reaches GitHub.
    pub reach: crate::domain::Reach,
    pub two_way: bool,
    pub sync_enabled: bool,
}

/// The config columns a push goes through (`LEFT JOIN github_sync_config c`).
#[derive(sqlx::FromRow)]
pub(super) struct ConfigCols {
    repo_owner: Option<String>,
    repo_name: Option<String>,
    encrypted_pat: Option<Vec<u8>>,
    installation_id: Option<i64>,
    api_url: Option<String>,
    token_expires_at: Option<String>,
    two_way: Option<i64>,
    sync_enabled: Option<i64>,
}

impl ConfigCols {
    /// The config of `project_id`, if it has one.
    pub(super) fn config(self, project_id: Uuid) -> Result<Option<PushConfig>, StoreError> {
        let (Some(owner), Some(name), Some(encrypted_pat)) =
            (self.repo_owner, self.repo_name, self.encrypted_pat)
        else {
            return Ok(None);
        };
        Ok(Some(PushConfig {
            repo: crate::domain::RepoRef {
                owner: crate::domain::RepoOwner::parse(owner)
                    .map_err(|e| StoreError::corrupt("repo_owner", e))?,
                name: crate::domain::RepoName::parse(name)
                    .map_err(|e| StoreError::corrupt("repo_name", e))?,
            },
            reach: crate::domain::Reach {
                project_id,
                encrypted_pat,
                installation_id: self.installation_id,
                api_url: self.api_url,
                token_expires_at: opt_ts(
                    "github_sync_config.token_expires_at",
                    self.token_expires_at.as_deref(),
                )?,
            },
            two_way: self.two_way == Some(1),
            sync_enabled: self.sync_enabled == Some(1),
        }))
    }
}

/// The config columns [`ConfigCols`] reads.
macro_rules! push_config_columns {
    () => {
        "c.repo_owner, c.repo_name, c.encrypted_pat, c.installation_id, c.api_url, c.token_expires_at, \
         c.two_way, c.sync_enabled"
    };
}
