//! The outbox of two-way sync: local edits of linked tasks waiting to reach GitHub, and
//! tasks being published. One row per task (`sync_outbox`), written in the transaction of
//! the edit: a later edit bumps its version instead of adding a row, so entries coalesce to
//! the newest (the pusher sends the task as it is when it writes).
//!
//! Every path that removes an entry is [`settle_in`] (GitHub holds the task, a conflict holds
//! both sides, or the issue is gone), the end of a repository switch or of the config
//! ([`end_entries_in`], which leaves the reason on the task), or a publication GitHub
//! refused (nothing was created). The rules of `crate::sync::push` decide; this file and
//! `push.rs` carry their decisions out.

use sqlx::AnyConnection;
use uuid::Uuid;

use super::rows::{content, opt_ts, parse, uuid};
use super::{Store, StoreError};
use crate::domain::{Content, Offer, Parked};
use crate::sync::{self, Backoff, Pushing, Rearm};
use crate::time::Timestamp;

/// Makes the config of `project_id` due by `at` at the latest: every writer of `next_sync_at`
/// keeps the earliest time anyone asked for.
pub(crate) async fn due_by_in(
    conn: &mut AnyConnection,
    project_id: Uuid,
    at: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE github_sync_config SET next_sync_at = $2 \
         WHERE project_id = $1 AND (next_sync_at IS NULL OR next_sync_at > $2)",
    )
    .bind(project_id.to_string())
    .bind(at.to_sql())
    .execute(conn)
    .await?;
    Ok(())
}

/// After a claim let an entry go (`left`: its project, retry time and parking, as the release
/// returned them): its config is due when the entry is, unless two-way sync is off. One rule
/// for both outboxes.
pub(super) async fn due_after_release_in(
    conn: &mut AnyConnection,
    left: Option<(String, String, Option<String>)>,
) -> Result<(), StoreError> {
    let Some((project, at, parked)) = left else { return Ok(()) };
    if parked.as_deref() == Some(Parked::OneWay.as_str()) {
        return Ok(());
    }
    due_by_in(conn, uuid("outbox.project_id", &project)?, super::rows::ts("outbox.next_attempt_at", &at)?)
        .await
}

/// The values that re-arm parked entries for `cause` ([`sync::rearm`]): (refused, one-way).
fn rearms(cause: Rearm) -> (i64, i64) {
    (i64::from(sync::rearm(Parked::Refused, cause)), i64::from(sync::rearm(Parked::OneWay, cause)))
}

/// The `parked` column after re-arming with `$n` (refused) and `$n+1` (one-way) bound to
/// [`rearms`].
macro_rules! rearmed_parked {
    ($refused:literal, $one_way:literal) => {
        concat!(
            "CASE WHEN sync_outbox.parked = 'refused' AND ",
            $refused,
            " = 1 THEN NULL WHEN sync_outbox.parked = 'one_way' AND ",
            $one_way,
            " = 1 THEN NULL ELSE sync_outbox.parked END"
        )
    };
}

/// Queues a push of `task_id` when it is linked to a live issue of a two-way config (else
/// does nothing), inside the caller's transaction. A waiting entry takes the new version and
/// is due at once (a later edit replaces a waiting one and its backoff; a refused one goes
/// again, the edit may have fixed it). The config is due within a claim's lifetime, so the
/// worker comes by even when the process that queued the edit dies before it pushes.
pub(crate) async fn queue_push_in(
    conn: &mut AnyConnection,
    task_id: Uuid,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let (refused, one_way) = rearms(Rearm::Edited);
    let project: Option<String> = sqlx::query_scalar(concat!(
        "INSERT INTO sync_outbox (task_id, project_id, version, queued_at, next_attempt_at, attempts) \
         SELECT m.task_id, m.project_id, 1, $2, $2, 0 FROM task_github_metadata m \
         JOIN github_sync_config c ON c.project_id = m.project_id \
         WHERE m.task_id = $1 AND c.two_way = 1 AND ",
        live_link!("m"),
        " ON CONFLICT (task_id) DO UPDATE SET version = sync_outbox.version + 1, \
         next_attempt_at = excluded.next_attempt_at, attempts = 0, last_error = NULL, kind = 'push', \
         parked = ",
        rearmed_parked!("$3", "$4"),
        " RETURNING project_id"
    ))
    .bind(task_id.to_string())
    .bind(now.to_sql())
    .bind(refused)
    .bind(one_way)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(project) = project else { return Ok(false) };
    due_by_in(conn, uuid("sync_outbox.project_id", &project)?, now.plus(PUSH_LEASE)).await?;
    Ok(true)
}

/// Queues the push of a task whose own sets differ from GitHub's after a snapshot merged them
/// (the board's additions and removals GitHub lacks), unless an entry already waits: it sends
/// them (a snapshot is no edit, so a parked entry stays parked until its cause changes).
pub(crate) async fn queue_sets_in(
    conn: &mut AnyConnection,
    task_id: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    let waiting: Option<i64> = sqlx::query_scalar("SELECT version FROM sync_outbox WHERE task_id = $1")
        .bind(task_id)
        .fetch_optional(&mut *conn)
        .await?;
    if waiting.is_none() {
        queue_push_in(conn, uuid("tasks.id", task_id)?, now).await?;
    }
    Ok(())
}

/// Queues what board comment `comment_id` has to send when its project is two-way (else does
/// nothing), inside the caller's transaction: a waiting entry takes the new version and is due
/// at once (a refused one goes again: the change may have fixed it), unless a post whose
/// answer was lost waits for its retry time (GitHub's listing may lag behind it). The config is due within
/// a claim's lifetime, so the worker comes by even when the process that queued it dies.
pub(crate) async fn queue_comment_in(
    conn: &mut AnyConnection,
    comment_id: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let project: Option<String> = sqlx::query_scalar(
        "INSERT INTO comment_outbox (comment_id, task_id, project_id, version, queued_at, next_attempt_at, attempts) \
         SELECT c.id, c.task_id, c.project_id, 1, $2, $2, 0 FROM task_comments c \
         JOIN github_sync_config g ON g.project_id = c.project_id \
         WHERE c.id = $1 AND c.origin = 'board' AND g.two_way = 1 \
         ON CONFLICT (comment_id) DO UPDATE SET version = comment_outbox.version + 1, \
         next_attempt_at = CASE WHEN comment_outbox.posted_at IS NULL THEN excluded.next_attempt_at \
         ELSE comment_outbox.next_attempt_at END, attempts = 0, last_error = NULL, \
         parked = CASE WHEN comment_outbox.parked = 'refused' THEN NULL ELSE comment_outbox.parked END \
         RETURNING project_id",
    )
    .bind(comment_id)
    .bind(now.to_sql())
    .fetch_optional(&mut *conn)
    .await?;
    let Some(project) = project else { return Ok(false) };
    due_by_in(conn, uuid("comment_outbox.project_id", &project)?, now.plus(PUSH_LEASE)).await?;
    Ok(true)
}

/// How long a pusher holds an entry before another may take it (a pusher that died). A push's
/// read and write end well inside it ([`crate::services::push::PushOptions`]).
pub const PUSH_LEASE: chrono::Duration = chrono::Duration::minutes(2);

impl Store {
    /// The tasks of `project_id` whose entries a pass may claim at `now` (all waiting,
    /// unparked ones with [`Backoff::Ignore`]), oldest first, at most `limit`. The claim itself
    /// decides again ([`sync::claim`]); this only narrows the candidates.
    pub async fn due_pushes(
        &self,
        project_id: Uuid,
        now: Timestamp,
        backoff: Backoff,
        limit: i64,
    ) -> Result<Vec<Uuid>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT task_id FROM sync_outbox WHERE project_id = $1 \
             AND (parked IS NULL OR parked <> 'one_way') \
             AND (next_attempt_at <= $2 OR ($4 = 1 AND parked IS NULL \
                  AND NOT (kind = 'publish' AND in_flight IS NOT NULL))) \
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

    /// Queues a push of `task_id` (a resolution that pushes, a task published with a closed
    /// status) in its own transaction.
    pub async fn queue_push(&self, task_id: Uuid) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let queued = queue_push_in(&mut tx, task_id, Timestamp::now()).await?;
        tx.commit().await?;
        Ok(queued)
    }

    /// A person's retry of a task's push (`POST /api/tasks/{id}/push/retry`): its entry goes
    /// again at once, parked or backing off, or is queued anew (an edit ended by a repository
    /// switch and linked again). `StateConflict` when nothing can be pushed: the config is
    /// one-way or disabled, or the task is not linked to a live issue.
    pub async fn retry_push(&self, task_id: Uuid) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let (refused, one_way) = rearms(Rearm::PersonRetry);
        let mut tx = self.begin().await?;
        let task = super::rows::lock_task(&mut tx, self.backend, task_id).await?;
        let config: Option<(i64, i64)> =
            sqlx::query_as("SELECT two_way, sync_enabled FROM github_sync_config WHERE project_id = $1")
                .bind(task.project_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        match config {
            None => {
                return Err(StoreError::StateConflict("the task's project has no GitHub sync config".into()));
            }
            Some((0, _)) => {
                return Err(StoreError::StateConflict(
                    "two-way sync is off for the task's project: nothing is pushed".into(),
                ));
            }
            Some((_, 0)) => {
                return Err(StoreError::StateConflict("sync is disabled for the task's project".into()));
            }
            Some(_) => {}
        }
        let rearmed = sqlx::query(concat!(
            "UPDATE sync_outbox SET next_attempt_at = $2, attempts = 0, parked = ",
            rearmed_parked!("$3", "$4"),
            " WHERE task_id = $1"
        ))
        .bind(task_id.to_string())
        .bind(now.to_sql())
        .bind(refused)
        .bind(one_way)
        .execute(&mut *tx)
        .await?;
        if rearmed.rows_affected() == 0 && !queue_push_in(&mut tx, task_id, now).await? {
            return Err(StoreError::StateConflict(
                "the task is not linked to an issue on GitHub: there is nothing to push it to".into(),
            ));
        }
        due_by_in(&mut tx, task.project_id, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Parks every entry of the project until two-way sync is on again (it was turned off).
pub(crate) async fn park_one_way_in(conn: &mut AnyConnection, project_id: Uuid) -> Result<u64, StoreError> {
    sqlx::query("UPDATE comment_outbox SET parked = 'one_way' WHERE project_id = $1")
        .bind(project_id.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query("UPDATE sync_outbox SET parked = 'one_way' WHERE project_id = $1")
        .bind(project_id.to_string())
        .execute(conn)
        .await?
        .rows_affected())
}

/// Sends the project's parked entries (edits and board comments) again, at once, as `cause`
/// allows ([`sync::rearm`]).
pub(crate) async fn rearm_in(
    conn: &mut AnyConnection,
    project_id: Uuid,
    cause: Rearm,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let (refused, one_way) = rearms(cause);
    let mut rearmed = 0;
    for table in ["sync_outbox", "comment_outbox"] {
        // Only the table's name is formatted in; every value is bound.
        let sql = format!(
            "UPDATE {table} SET next_attempt_at = $2, attempts = 0, parked = CASE \
             WHEN parked = 'refused' AND $3 = 1 THEN NULL WHEN parked = 'one_way' AND $4 = 1 THEN NULL \
             ELSE parked END \
             WHERE project_id = $1 AND ((parked = 'refused' AND $3 = 1) OR (parked = 'one_way' AND $4 = 1))"
        );
        let done = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(project_id.to_string())
            .bind(now.to_sql())
            .bind(refused)
            .bind(one_way)
            .execute(&mut *conn)
            .await?;
        rearmed += done.rows_affected();
    }
    if rearmed > 0 {
        due_by_in(conn, project_id, now).await?;
    }
    Ok(rearmed)
}

/// Ends every entry of the project, with `reason` left on each linked task (`push_error`), so
/// no edit meant for one repository is sent to another and none disappears unseen (a
/// repository switch, the config removed). A person's retry sends such an edit once the task
/// is linked again.
pub(crate) async fn end_entries_in(
    conn: &mut AnyConnection,
    project_id: Uuid,
    reason: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE task_github_metadata SET push_error = $2, push_error_at = $3, updated_at = $3 \
         WHERE task_id IN (SELECT task_id FROM sync_outbox WHERE project_id = $1)",
    )
    .bind(project_id.to_string())
    .bind(reason)
    .bind(now.to_sql())
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM sync_outbox WHERE project_id = $1")
        .bind(project_id.to_string())
        .execute(&mut *conn)
        .await?;
    sqlx::query(
        "UPDATE task_comments SET push_error = $2 \
         WHERE id IN (SELECT comment_id FROM comment_outbox WHERE project_id = $1)",
    )
    .bind(project_id.to_string())
    .bind(reason)
    .execute(&mut *conn)
    .await?;
    sqlx::query("DELETE FROM comment_outbox WHERE project_id = $1")
        .bind(project_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// The earliest time one of the project's entries may be claimed (not before its retry time,
/// nor before another pusher's claim runs out); `None` when none waits or all are parked
/// for two-way sync. A run's next time is never later.
pub(crate) async fn earliest_push_in(
    conn: &mut AnyConnection,
    project_id: Uuid,
) -> Result<Option<Timestamp>, StoreError> {
    let at: Option<String> = sqlx::query_scalar(
        "SELECT MIN(CASE WHEN lease_until IS NOT NULL AND lease_until > next_attempt_at THEN lease_until \
         ELSE next_attempt_at END) FROM sync_outbox WHERE project_id = $1 \
         AND (parked IS NULL OR parked <> 'one_way')",
    )
    .bind(project_id.to_string())
    .fetch_one(&mut *conn)
    .await?;
    // Board comments wait too, those of unpublished tasks aside (their publication makes them due).
    let comments: Option<String> = sqlx::query_scalar(
        "SELECT MIN(CASE WHEN o.lease_until IS NOT NULL AND o.lease_until > o.next_attempt_at THEN o.lease_until \
         ELSE o.next_attempt_at END) FROM comment_outbox o \
         JOIN task_github_metadata m ON m.task_id = o.task_id WHERE o.project_id = $1 \
         AND (o.parked IS NULL OR o.parked <> 'one_way')",
    )
    .bind(project_id.to_string())
    .fetch_one(conn)
    .await?;
    Ok(Timestamp::earliest(
        opt_ts("sync_outbox.next_attempt_at", at.as_deref())?,
        opt_ts("comment_outbox.next_attempt_at", comments.as_deref())?,
    ))
}

/// The linked tasks of the project with something to send and no entry: edits made while the
/// config was one-way (or declined before), which turning two-way on offers to push.
async fn offered_in(conn: &mut AnyConnection, project_id: Uuid) -> Result<Vec<Uuid>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: String,
        title: String,
        description: Option<String>,
        status: String,
        last_synced_content: String,
        synced_state: String,
        remote_state: String,
        unlinked_at: Option<String>,
        sync_conflict_status: Option<String>,
        labels: String,
        assignees: String,
        base_labels: String,
        base_assignees: String,
        milestone_number: Option<i64>,
        milestone_title: Option<String>,
    }
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT t.id, t.title, t.description, t.status, m.last_synced_content, m.synced_state, \
         m.remote_state, m.unlinked_at, m.sync_conflict_status, t.labels, t.assignees, \
         m.labels AS base_labels, m.assignees AS base_assignees, t.milestone_number, t.milestone_title \
         FROM tasks t JOIN task_github_metadata m ON m.task_id = t.id \
         LEFT JOIN sync_outbox o ON o.task_id = t.id \
         WHERE t.project_id = $1 AND o.task_id IS NULL ORDER BY t.created_at, t.id",
    )
    .bind(project_id.to_string())
    .fetch_all(conn)
    .await?;
    let mut offered = Vec::new();
    for r in rows {
        let milestone = super::rows::milestone(r.milestone_number, r.milestone_title);
        let local = Content { title: r.title, description: r.description, milestone };
        let base = content("task_github_metadata.last_synced_content", &r.last_synced_content)?;
        let local_sets = super::rows::sets(&r.labels, &r.assignees)?;
        let base_sets = super::rows::sets(&r.base_labels, &r.base_assignees)?;
        let pushing = Pushing {
            base: &base,
            base_state: parse("task_github_metadata.synced_state", &r.synced_state)?,
            local: &local,
            local_status: parse("tasks.status", &r.status)?,
            conflict_pending: r.sync_conflict_status.as_deref()
                == Some(crate::domain::ConflictStatus::Pending.as_str()),
            gone: !super::rows::stored_link_live(&r.remote_state, r.unlinked_at.is_some())?,
            in_flight: None,
            sets_pending: !local_sets.same_elements(&base_sets),
        };
        let id = r.id;
        // What `outgoing` sends nothing for (a conflict holds both sides, the link is dead)
        // is not offered.
        if sync::outgoing(&pushing).is_ok() {
            offered.push(uuid("tasks.id", &id)?);
        }
    }
    Ok(offered)
}

/// The board comments of the project with something to send and no entry: written, edited
/// or deleted on the board while the config was one-way.
async fn offered_comments_in(conn: &mut AnyConnection, project_id: Uuid) -> Result<Vec<String>, StoreError> {
    Ok(sqlx::query_scalar(
        "SELECT c.id FROM task_comments c LEFT JOIN comment_outbox o ON o.comment_id = c.id \
         WHERE c.project_id = $1 AND c.origin = 'board' AND o.comment_id IS NULL \
         AND c.deleted_at IS NULL AND c.conflict_at IS NULL \
         AND ((c.github_comment_id IS NULL AND c.board_deleted_at IS NULL) \
              OR (c.github_comment_id IS NOT NULL AND (c.board_deleted_at IS NOT NULL OR c.body <> c.base_body))) \
         ORDER BY c.created_at, c.id",
    )
    .bind(project_id.to_string())
    .fetch_all(conn)
    .await?)
}

impl Store {
    /// What turning two-way on offers for the project ([`offered_in`], [`offered_comments_in`]).
    pub async fn offer(&self, project_id: Uuid) -> Result<Offer, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(Offer {
            tasks: offered_in(&mut conn, project_id).await?.len() as i64,
            comments: offered_comments_in(&mut conn, project_id).await?.len() as i64,
        })
    }

    /// Accepts the offer: queues a push of each offered task, in one transaction (`StateConflict`
    /// while the config is one-way). Returns how many.
    pub async fn accept_offer(&self, project_id: Uuid) -> Result<Offer, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        let two_way: Option<i64> =
            sqlx::query_scalar("SELECT two_way FROM github_sync_config WHERE project_id = $1")
                .bind(project_id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        match two_way {
            None => return Err(StoreError::NotFound("sync config")),
            Some(0) => {
                return Err(StoreError::StateConflict(
                    "two-way sync is off for this project: turn it on first".into(),
                ));
            }
            Some(_) => {}
        }
        let mut queued = 0;
        for task_id in offered_in(&mut tx, project_id).await? {
            queued += i64::from(queue_push_in(&mut tx, task_id, now).await?);
        }
        let mut comments = 0;
        for comment_id in offered_comments_in(&mut tx, project_id).await? {
            comments += i64::from(queue_comment_in(&mut tx, &comment_id, now).await?);
        }
        if queued + comments > 0 {
            due_by_in(&mut tx, project_id, now).await?;
        }
        tx.commit().await?;
        Ok(Offer { tasks: queued, comments })
    }
}
