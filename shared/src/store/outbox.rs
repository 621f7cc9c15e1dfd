//! The outbox of two-way sync: local edits of linked tasks waiting to reach GitHub, and what
//! a push writes back.
//!
//! One row per task (`sync_outbox`), written in the transaction of the edit: a later edit
//! bumps its version instead of adding a row, so entries coalesce to the newest (the pusher
//! sends the task as it is when it pushes). A pusher claims a row with a short lease, so the
//! pushes of one task never overlap; it removes the row only if the version it sent is still
//! the newest.

use sqlx::AnyConnection;
use uuid::Uuid;

use super::rows::{content, parse, uuid};
use super::{Store, StoreError};
use crate::domain::{
    ConflictStatus, Content, IssueState, RemoteIssue, RemoteState, RepoName, RepoOwner, RepoRef, TaskStatus,
};
use crate::sync::Pushing;
use crate::time::Timestamp;

/// Queues a push of `task_id` when it is linked to a live issue of a two-way config (else
/// does nothing), inside the caller's transaction. A pending entry takes the new version and
/// is due at once: a later edit replaces a pending one and its backoff.
pub(crate) async fn queue_push_in(
    conn: &mut AnyConnection,
    task_id: Uuid,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let done = sqlx::query(
        "INSERT INTO sync_outbox (task_id, project_id, version, queued_at, next_attempt_at, attempts) \
         SELECT m.task_id, m.project_id, 1, $2, $2, 0 FROM task_github_metadata m \
         JOIN github_sync_config c ON c.project_id = m.project_id \
         WHERE m.task_id = $1 AND c.two_way = 1 AND m.unlinked_at IS NULL \
         AND m.remote_state IN ('open', 'completed', 'not_planned') \
         ON CONFLICT (task_id) DO UPDATE SET version = sync_outbox.version + 1, \
         next_attempt_at = excluded.next_attempt_at, attempts = 0, last_error = NULL",
    )
    .bind(task_id.to_string())
    .bind(now.to_sql())
    .execute(conn)
    .await?;
    Ok(done.rows_affected() > 0)
}

/// Whether a push waits out the backoff of its earlier failures.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backoff {
    /// Only entries whose retry time has come (the API, a retry loop).
    Respect,
    /// Every waiting entry: a reconcile run that just reached GitHub takes them all along.
    Ignore,
}

/// A claimed outbox entry with everything a push needs: the task, its link and its config.
#[derive(Clone)]
pub struct PushJob {
    pub task_id: Uuid,
    pub project_id: Uuid,
    /// The entry's version when it was read: the push removes the entry only if it is still
    /// this one.
    pub version: i64,
    /// Failed attempts so far (the exponent of the backoff).
    pub attempts: i64,
    /// `None`: the project has no config (any more).
    pub config: Option<PushConfig>,
    /// `None`: the task is not linked (any more).
    pub link: Option<PushLink>,
    pub local: Content,
    pub local_status: TaskStatus,
}

impl std::fmt::Debug for PushJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushJob")
            .field("task_id", &self.task_id)
            .field("version", &self.version)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

/// The config a push goes through.
#[derive(Clone)]
pub struct PushConfig {
    pub repo: RepoRef,
    /// How it reaches GitHub.
    pub reach: crate::domain::Reach,
    pub two_way: bool,
    pub sync_enabled: bool,
}

/// The link a push writes to.
#[derive(Clone, Debug)]
pub struct PushLink {
    pub metadata_id: String,
    pub node_id: String,
    pub number: i64,
    pub base: Content,
    pub base_state: IssueState,
    pub remote_state: RemoteState,
    pub unlinked: bool,
    pub conflict_pending: bool,
}

impl PushJob {
    /// The task as the push rule sees it, if it is linked.
    pub fn pushing(&self) -> Option<Pushing<'_>> {
        let link = self.link.as_ref()?;
        Some(Pushing {
            base: &link.base,
            base_state: link.base_state,
            local: &self.local,
            local_status: self.local_status,
            conflict_pending: link.conflict_pending,
            gone: link.unlinked || link.remote_state.issue_state().is_none(),
        })
    }
}

#[derive(sqlx::FromRow)]
struct PushRow {
    task_id: String,
    project_id: String,
    version: i64,
    attempts: i64,
    title: String,
    description: Option<String>,
    status: String,
    repo_owner: Option<String>,
    repo_name: Option<String>,
    encrypted_pat: Option<Vec<u8>>,
    installation_id: Option<i64>,
    api_url: Option<String>,
    token_expires_at: Option<String>,
    two_way: Option<i64>,
    sync_enabled: Option<i64>,
    metadata_id: Option<String>,
    github_issue_id: Option<String>,
    github_issue_number: Option<i64>,
    last_synced_content: Option<String>,
    synced_state: Option<String>,
    remote_state: Option<String>,
    unlinked_at: Option<String>,
    sync_conflict_status: Option<String>,
}

impl TryFrom<PushRow> for PushJob {
    type Error = StoreError;
    fn try_from(r: PushRow) -> Result<Self, StoreError> {
        let config = match (r.repo_owner, r.repo_name, r.encrypted_pat) {
            (Some(owner), Some(name), Some(encrypted_pat)) => Some(PushConfig {
                repo: RepoRef {
                    owner: RepoOwner::parse(owner).map_err(|e| StoreError::corrupt("repo_owner", e))?,
                    name: RepoName::parse(name).map_err(|e| StoreError::corrupt("repo_name", e))?,
                },
                reach: crate::domain::Reach {
                    project_id: super::rows::uuid("sync_outbox.project_id", &r.project_id)?,
                    encrypted_pat,
                    installation_id: r.installation_id,
                    api_url: r.api_url,
                    token_expires_at: super::rows::opt_ts(
                        "github_sync_config.token_expires_at",
                        r.token_expires_at.as_deref(),
                    )?,
                },
                two_way: r.two_way == Some(1),
                sync_enabled: r.sync_enabled == Some(1),
            }),
            _ => None,
        };
        let link = match (
            r.metadata_id,
            r.github_issue_id,
            r.github_issue_number,
            r.last_synced_content,
            r.synced_state,
            r.remote_state,
        ) {
            (Some(metadata_id), Some(node_id), Some(number), Some(base), Some(synced), Some(remote)) => {
                Some(PushLink {
                    metadata_id,
                    node_id,
                    number,
                    base: content("task_github_metadata.last_synced_content", &base)?,
                    base_state: parse("task_github_metadata.synced_state", &synced)?,
                    remote_state: parse("task_github_metadata.remote_state", &remote)?,
                    unlinked: r.unlinked_at.is_some(),
                    conflict_pending: r.sync_conflict_status.as_deref()
                        == Some(ConflictStatus::Pending.as_str()),
                })
            }
            _ => None,
        };
        Ok(PushJob {
            task_id: uuid("sync_outbox.task_id", &r.task_id)?,
            project_id: uuid("sync_outbox.project_id", &r.project_id)?,
            version: r.version,
            attempts: r.attempts,
            config,
            link,
            local: Content { title: r.title, description: r.description },
            local_status: parse("tasks.status", &r.status)?,
        })
    }
}

/// How a push ended, as the outbox records it.
#[derive(Debug)]
pub enum PushEnd<'a> {
    /// GitHub took the change and answered with the issue as it now is: base := its content,
    /// synced state := its state, applied `updated_at` := its `updated_at`.
    Sent { sent: Option<&'a Content>, issue: &'a RemoteIssue },
    /// Nothing to send, or nothing may be sent (a conflict, a gone issue, a one-way config).
    Dropped,
    /// GitHub refused it (403, 404/410, 422): recorded on the link, not retried; a later
    /// edit queues a new push.
    Refused(&'a str),
    /// A transient failure: tried again at `at`.
    Retry { error: &'a str, at: Timestamp },
    /// Not pushed now (the config is disabled): the entry waits, unclaimed.
    Release,
}

impl Store {
    /// Claims the outbox entry of `task_id` when it is due (or `backoff` is
    /// [`Backoff::Ignore`]) and nobody else holds it, for `lease`; `None` otherwise (no entry,
    /// not due, or another pusher has it).
    pub async fn claim_push(
        &self,
        task_id: Uuid,
        now: Timestamp,
        lease: chrono::Duration,
        backoff: Backoff,
    ) -> Result<Option<PushJob>, StoreError> {
        let claimed = sqlx::query(
            "UPDATE sync_outbox SET lease_until = $3 WHERE task_id = $1 \
             AND ($4 = 1 OR next_attempt_at <= $2) AND (lease_until IS NULL OR lease_until < $2)",
        )
        .bind(task_id.to_string())
        .bind(now.to_sql())
        .bind(now.plus(lease).to_sql())
        .bind(i64::from(backoff == Backoff::Ignore))
        .execute(&self.pool)
        .await?;
        if claimed.rows_affected() == 0 {
            return Ok(None);
        }
        self.read_push(task_id).await
    }

    /// The claimed entry of `task_id` read again (after a pull changed its link).
    pub async fn read_push(&self, task_id: Uuid) -> Result<Option<PushJob>, StoreError> {
        let row: Option<PushRow> = sqlx::query_as(
            "SELECT o.task_id, o.project_id, o.version, o.attempts, t.title, t.description, t.status, \
             c.repo_owner, c.repo_name, c.encrypted_pat, c.installation_id, c.api_url, c.token_expires_at, \
             c.two_way, c.sync_enabled, \
             m.id AS metadata_id, m.github_issue_id, m.github_issue_number, m.last_synced_content, \
             m.synced_state, m.remote_state, m.unlinked_at, m.sync_conflict_status \
             FROM sync_outbox o JOIN tasks t ON t.id = o.task_id \
             LEFT JOIN task_github_metadata m ON m.task_id = o.task_id \
             LEFT JOIN github_sync_config c ON c.project_id = o.project_id WHERE o.task_id = $1",
        )
        .bind(task_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(PushJob::try_from).transpose()
    }

    /// The tasks of `project_id` whose pushes are due at `now` (all waiting ones with
    /// [`Backoff::Ignore`]) and free, oldest first, at most `limit`.
    pub async fn due_pushes(
        &self,
        project_id: Uuid,
        now: Timestamp,
        backoff: Backoff,
        limit: i64,
    ) -> Result<Vec<Uuid>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT task_id FROM sync_outbox WHERE project_id = $1 AND ($4 = 1 OR next_attempt_at <= $2) \
             AND (lease_until IS NULL OR lease_until < $2) ORDER BY queued_at, task_id LIMIT $3",
        )
        .bind(project_id.to_string())
        .bind(now.to_sql())
        .bind(limit)
        .bind(i64::from(backoff == Backoff::Ignore))
        .fetch_all(&self.pool)
        .await?;
        ids.iter().map(|id| uuid("sync_outbox.task_id", id)).collect()
    }

    /// Entries waiting in a project's outbox (tests and operator checks).
    pub async fn pending_pushes(&self, project_id: Uuid) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM sync_outbox WHERE project_id = $1")
            .bind(project_id.to_string())
            .fetch_one(&self.pool)
            .await?)
    }

    /// Records how the push of `job` ended, in one transaction, and lets the entry go: it is
    /// removed when it was done with and no newer edit came meanwhile; otherwise it waits
    /// (due at once for a newer edit, at its retry time after a transient failure).
    pub async fn finish_push(&self, job: &PushJob, end: PushEnd<'_>) -> Result<(), StoreError> {
        let now = Timestamp::now().to_sql();
        let task_id = job.task_id.to_string();
        let mut tx = self.begin().await?;
        let metadata_id = job.link.as_ref().map(|l| l.metadata_id.clone());
        let done_with = match end {
            PushEnd::Sent { sent, issue } => {
                // A link another writer moved past this write (a newer GitHub edit applied
                // meanwhile, or a conflict opened) keeps what it has.
                sqlx::query(
                    "UPDATE task_github_metadata SET last_synced_content = $2, synced_state = $3, \
                     remote_state = $3, remote_updated_at = $4, last_synced_at = $5, updated_at = $5, \
                     push_error = NULL, push_error_at = NULL, labels = $6, assignees = $7, milestone = $8 \
                     WHERE id = $1 AND remote_updated_at <= $4 \
                     AND (sync_conflict_status IS NULL OR sync_conflict_status <> 'pending')",
                )
                .bind(&metadata_id)
                .bind(issue.content.to_json())
                .bind(issue.state.as_str())
                .bind(issue.updated_at.to_sql())
                .bind(&now)
                .bind(issue.extras.labels_json())
                .bind(issue.extras.assignees_json())
                .bind(issue.extras.milestone.as_deref())
                .execute(&mut *tx)
                .await?;
                if let Some(sent) = sent.filter(|sent| **sent != issue.content) {
                    // GitHub stored the text in its own form (it trims a title, say): the task
                    // takes that form unless it was edited again meanwhile.
                    sqlx::query(
                        "UPDATE tasks SET title = $2, description = $3, updated_at = $4 \
                         WHERE id = $1 AND title = $5 AND COALESCE(description, '') = $6",
                    )
                    .bind(&task_id)
                    .bind(&issue.content.title)
                    .bind(&issue.content.description)
                    .bind(&now)
                    .bind(&sent.title)
                    .bind(sent.description.as_deref().unwrap_or(""))
                    .execute(&mut *tx)
                    .await?;
                }
                true
            }
            PushEnd::Dropped => true,
            PushEnd::Refused(message) => {
                sqlx::query(
                    "UPDATE task_github_metadata SET push_error = $2, push_error_at = $3, updated_at = $3 \
                     WHERE id = $1",
                )
                .bind(&metadata_id)
                .bind(message)
                .bind(&now)
                .execute(&mut *tx)
                .await?;
                true
            }
            PushEnd::Retry { error, at } => {
                sqlx::query(
                    "UPDATE sync_outbox SET attempts = attempts + 1, last_error = $3, lease_until = NULL, \
                     next_attempt_at = CASE WHEN version = $2 THEN $4 ELSE next_attempt_at END \
                     WHERE task_id = $1",
                )
                .bind(&task_id)
                .bind(job.version)
                .bind(error)
                .bind(at.to_sql())
                .execute(&mut *tx)
                .await?;
                // The reconcile worker retries it: the config is due by then.
                sqlx::query(
                    "UPDATE github_sync_config SET next_sync_at = $2 \
                     WHERE project_id = $1 AND (next_sync_at IS NULL OR next_sync_at > $2)",
                )
                .bind(job.project_id.to_string())
                .bind(at.to_sql())
                .execute(&mut *tx)
                .await?;
                false
            }
            PushEnd::Release => false,
        };
        if done_with {
            sqlx::query("DELETE FROM sync_outbox WHERE task_id = $1 AND version = $2")
                .bind(&task_id)
                .bind(job.version)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query("UPDATE sync_outbox SET lease_until = NULL WHERE task_id = $1")
            .bind(&task_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Claims the publication of an unlinked task: its outbox row, held for `lease`, keeps a
    /// second request from opening a second issue. `false` while another holds it.
    pub async fn claim_publish(
        &self,
        task_id: Uuid,
        project_id: Uuid,
        now: Timestamp,
        lease: chrono::Duration,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "INSERT INTO sync_outbox (task_id, project_id, version, queued_at, next_attempt_at, attempts, \
             lease_until) VALUES ($1, $2, 1, $3, $3, 0, $4) \
             ON CONFLICT (task_id) DO UPDATE SET lease_until = excluded.lease_until \
             WHERE sync_outbox.lease_until IS NULL OR sync_outbox.lease_until < excluded.queued_at",
        )
        .bind(task_id.to_string())
        .bind(project_id.to_string())
        .bind(now.to_sql())
        .bind(now.plus(lease).to_sql())
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// Lets go of a publication that failed (nothing was linked).
    pub async fn release_publish(&self, task_id: Uuid) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM sync_outbox WHERE task_id = $1")
            .bind(task_id.to_string())
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Queues a push of `task_id` (a resolution that pushes, a task published with a closed
    /// status) in its own transaction.
    pub async fn queue_push(&self, task_id: Uuid) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let queued = queue_push_in(&mut tx, task_id, Timestamp::now()).await?;
        tx.commit().await?;
        Ok(queued)
    }
}
