//! A board comment's push as the store sees it: the job a pusher claims (a token and a lease,
//! as for tasks), the record of a post before it goes out (`posted_at`: its answer, its echo,
//! or a search of the issue's comments finds it later), and the record of the outcome, all
//! conditional on the token, so a push that outlived its claim changes nothing.
//!
//! The rules are `crate::sync::board_comments` and the claim and fence rules of
//! `crate::sync::push`; the pusher is `crate::services::comment_push`.

use sqlx::AnyConnection;
use uuid::Uuid;

use super::board_comments::{github_changed_in, link_in};
use super::comment_rows::stored_comment_in;
use super::outbox::due_by_in;
use super::rows::ConfigCols;
use super::rows::{opt_ts, parse, ts, uuid};
use super::{Backend, PushConfig, Store, StoreError, new_id};
use crate::domain::RemoteComment;
use crate::sync::board_comments::{CommentPush, PostStep, Side, comment_push, post_step};
use crate::sync::{self, Backoff, Claim, EntryState, Failure, Fence, Then};
use crate::time::Timestamp;

/// A claimed comment entry with everything its push needs.
#[derive(Clone)]
pub struct CommentJob {
    pub comment_id: Uuid,
    pub task_id: Uuid,
    pub project_id: Uuid,
    /// The entry's version when it was read (a later change of the comment bumps it).
    pub version: i64,
    pub attempts: i64,
    /// The claim's token: the push records only while the entry carries it.
    pub token: String,
    /// A post sent then whose answer was never recorded.
    pub posted_at: Option<Timestamp>,
    pub author: String,
    /// The board's side.
    pub body: String,
    pub board_deleted: bool,
    /// Deleted on GitHub (a tombstone).
    pub github_deleted: bool,
    /// The text both sides last agreed on; `None`: never on GitHub.
    pub base: Option<String>,
    pub github_id: Option<i64>,
    pub conflict: bool,
    /// `None`: the project has no config (any more).
    pub config: Option<PushConfig>,
    /// The task's issue number, and whether its link is live; `None`: not published yet.
    pub issue: Option<(i64, bool)>,
}

impl std::fmt::Debug for CommentJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CommentJob")
            .field("comment_id", &self.comment_id)
            .field("attempts", &self.attempts)
            .field("github_id", &self.github_id)
            .finish_non_exhaustive()
    }
}

impl CommentJob {
    /// The board's side.
    pub fn board(&self) -> Side<'_> {
        if self.board_deleted { Side::Deleted } else { Side::Body(&self.body) }
    }

    /// What it sends while GitHub holds the base; nothing while a conflict holds both sides.
    /// A post whose answer was lost is settled first (found, or known not to have landed),
    /// whatever the board did since.
    pub fn next(&self) -> CommentPush {
        if self.github_id.is_none()
            && post_step(self.posted_at.is_some(), self.board()) == PostStep::LookForMarker
        {
            return CommentPush::Post;
        }
        self.decided()
    }

    /// What it sends, a lost post aside.
    pub fn decided(&self) -> CommentPush {
        if self.conflict {
            return CommentPush::Nothing;
        }
        let github = match self.base.as_deref() {
            Some(base) if !self.github_deleted => Side::Body(base),
            _ => Side::Deleted,
        };
        comment_push(self.board(), self.base.as_deref(), github)
    }
}

#[derive(sqlx::FromRow)]
struct JobRow {
    comment_id: String,
    task_id: String,
    project_id: String,
    version: i64,
    attempts: i64,
    claim_token: Option<String>,
    posted_at: Option<String>,
    author: String,
    body: String,
    board_deleted_at: Option<String>,
    deleted_at: Option<String>,
    base_body: Option<String>,
    github_comment_id: Option<i64>,
    conflict_at: Option<String>,
    #[sqlx(flatten)]
    config: ConfigCols,
    github_issue_number: Option<i64>,
    remote_state: Option<String>,
    unlinked_at: Option<String>,
}

async fn read_job_in(conn: &mut AnyConnection, comment_id: Uuid) -> Result<Option<CommentJob>, StoreError> {
    let row: Option<JobRow> = sqlx::query_as(concat!(
        "SELECT o.comment_id, o.task_id, o.project_id, o.version, o.attempts, o.claim_token, o.posted_at, \
         k.author, k.body, k.board_deleted_at, k.deleted_at, k.base_body, k.github_comment_id, k.conflict_at, ",
        push_config_columns!(),
        ", m.github_issue_number, m.remote_state, m.unlinked_at \
         FROM comment_outbox o JOIN task_comments k ON k.id = o.comment_id \
         LEFT JOIN task_github_metadata m ON m.task_id = o.task_id \
         LEFT JOIN github_sync_config c ON c.project_id = o.project_id WHERE o.comment_id = $1"
    ))
    .bind(comment_id.to_string())
    .fetch_optional(conn)
    .await?;
    let Some(r) = row else { return Ok(None) };
    let project_id = uuid("comment_outbox.project_id", &r.project_id)?;
    let issue = match (r.github_issue_number, r.remote_state) {
        (Some(number), Some(state)) => {
            Some((number, super::rows::stored_link_live(&state, r.unlinked_at.is_some())?))
        }
        _ => None,
    };
    Ok(Some(CommentJob {
        comment_id: uuid("comment_outbox.comment_id", &r.comment_id)?,
        task_id: uuid("comment_outbox.task_id", &r.task_id)?,
        project_id,
        version: r.version,
        attempts: r.attempts,
        token: r.claim_token.unwrap_or_default(),
        posted_at: opt_ts("comment_outbox.posted_at", r.posted_at.as_deref())?,
        author: r.author,
        body: r.body,
        board_deleted: r.board_deleted_at.is_some(),
        github_deleted: r.deleted_at.is_some(),
        base: r.base_body,
        github_id: r.github_comment_id,
        conflict: r.conflict_at.is_some(),
        config: r.config.config(project_id)?,
        issue,
    }))
}

/// The entry's claim columns, locked (the comment first, as a person's change locks it before
/// it touches the entry, so the pusher and a person never wait on each other in a circle).
async fn lock_in(
    conn: &mut AnyConnection,
    backend: Backend,
    comment_id: Uuid,
) -> Result<Option<(EntryState, Option<String>, String)>, StoreError> {
    sqlx::query(locking!(backend, "SELECT id FROM task_comments WHERE id = $1"))
        .bind(comment_id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    type Row = (Option<String>, String, Option<String>, Option<String>, Option<String>, String);
    let row: Option<Row> = sqlx::query_as(locking!(
        backend,
        "SELECT parked, next_attempt_at, lease_until, posted_at, claim_token, project_id \
             FROM comment_outbox WHERE comment_id = $1"
    ))
    .bind(comment_id.to_string())
    .fetch_optional(conn)
    .await?;
    let Some((parked, next, lease, posted_at, token, project)) = row else { return Ok(None) };
    let state = EntryState {
        parked: parked.as_deref().map(|p| parse("comment_outbox.parked", p)).transpose()?,
        next_attempt_at: ts("comment_outbox.next_attempt_at", &next)?,
        lease_until: opt_ts("comment_outbox.lease_until", lease.as_deref())?,
        // A post whose answer was lost is looked for, never posted again, before its retry time:
        // the issue's comments may lag behind the post.
        post_unanswered: posted_at.is_some(),
    };
    Ok(Some((state, token, project)))
}

/// Entry `p` of comment `e` is an older post of the same task, still waiting (not refused,
/// not deleted): a thread's posts go in the order they were written.
macro_rules! older_post_waits {
    () => {
        "p.parked IS NULL AND e.github_comment_id IS NULL AND e.board_deleted_at IS NULL \
         AND (e.created_at < k.created_at OR (e.created_at = k.created_at AND e.id < k.id))"
    };
}

/// What claiming a comment entry found.
#[derive(Debug)]
pub enum CommentClaim {
    Job(Box<CommentJob>),
    Busy { until: Timestamp },
    NotDue,
    Parked,
    Nothing,
}

/// How a comment's push ended, as the outbox records it.
#[derive(Debug)]
pub enum CommentEnd<'a> {
    /// GitHub holds the comment as `comment` shows it: the answer to a post or an edit, or the
    /// post found by its marker. Linked (if it was not), its text the base.
    Holds { comment: &'a RemoteComment },
    /// GitHub deleted it at the push's request (or it was gone already, and the board deleted
    /// it too).
    Deleted,
    /// A read showed GitHub's side changed since the base (`None`: deleted): the board takes
    /// it, agrees, or keeps both as a conflict.
    Pulled { comment: Option<&'a RemoteComment> },
    /// The attempt failed; `posted` when a post went out and its answer was lost (it is looked
    /// for before anything is posted again).
    Failed { failure: Failure, error: &'a str, posted: bool },
    /// Paced under GitHub's limits: it goes at `at` (waiting, not failing).
    Paced { at: Timestamp },
    /// Nothing was sent: the entry is settled as it stands, or waits for more.
    Settle,
    /// Not pushed now (the config is disabled, the task not published): the entry waits.
    Release,
    /// A post whose answer was lost was looked for and not found, and nothing is to be posted
    /// now (the board deleted the comment meanwhile): the entry ends. The comment stays as a
    /// hidden row, so that the post, should it show up late after all, is linked and deleted.
    NotPosted,
}

impl Store {
    /// The comment entries of `project_id` a pass may claim at `now`, oldest first: posts only
    /// once the task is published and no older post of the task waits (a thread's order).
    pub async fn due_comment_pushes(
        &self,
        project_id: Uuid,
        now: Timestamp,
        backoff: Backoff,
        limit: i64,
    ) -> Result<Vec<Uuid>, StoreError> {
        let ids: Vec<String> = sqlx::query_scalar(concat!(
            "SELECT o.comment_id FROM comment_outbox o \
             JOIN task_comments k ON k.id = o.comment_id \
             JOIN task_github_metadata m ON m.task_id = o.task_id \
             WHERE o.project_id = $1 AND (o.parked IS NULL OR o.parked <> 'one_way') \
             AND (o.next_attempt_at <= $2 OR ($4 = 1 AND o.parked IS NULL AND o.posted_at IS NULL)) \
             AND (o.lease_until IS NULL OR o.lease_until < $2) \
             AND NOT EXISTS (SELECT 1 FROM comment_outbox p JOIN task_comments e ON e.id = p.comment_id \
                 WHERE p.task_id = o.task_id AND k.github_comment_id IS NULL AND ",
            older_post_waits!(),
            ") \
             ORDER BY k.created_at, k.id LIMIT $3"
        ))
        .bind(project_id.to_string())
        .bind(now.to_sql())
        .bind(limit)
        .bind(i64::from(backoff == Backoff::Ignore))
        .fetch_all(&self.pool)
        .await?;
        ids.iter().map(|id| uuid("comment_outbox.comment_id", id)).collect()
    }

    /// Comment entries waiting in a project's outbox (tests and operator checks).
    pub async fn pending_comment_pushes(&self, project_id: Uuid) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM comment_outbox WHERE project_id = $1")
            .bind(project_id.to_string())
            .fetch_one(&self.pool)
            .await?)
    }

    /// Claims comment `comment_id`'s entry for `lease` when the claim rule allows it.
    pub async fn claim_comment_push(
        &self,
        comment_id: Uuid,
        now: Timestamp,
        lease: chrono::Duration,
        backoff: Backoff,
    ) -> Result<CommentClaim, StoreError> {
        let mut tx = self.begin().await?;
        let Some((state, _, project)) = lock_in(&mut tx, self.backend, comment_id).await? else {
            return Ok(CommentClaim::Nothing);
        };
        let older: Option<i64> = sqlx::query_scalar(concat!(
            "SELECT 1 FROM task_comments k JOIN comment_outbox p ON p.task_id = k.task_id \
             JOIN task_comments e ON e.id = p.comment_id \
             WHERE k.id = $1 AND p.comment_id <> $1 AND k.github_comment_id IS NULL AND ",
            older_post_waits!()
        ))
        .bind(comment_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let claimed = match sync::claim(&state, now, backoff) {
            // An older post of the thread goes first.
            Claim::Take if older.is_some() => CommentClaim::NotDue,
            Claim::Take => {
                sqlx::query(
                    "UPDATE comment_outbox SET claim_token = $2, lease_until = $3 WHERE comment_id = $1",
                )
                .bind(comment_id.to_string())
                .bind(new_id())
                .bind(now.plus(lease).to_sql())
                .execute(&mut *tx)
                .await?;
                match read_job_in(&mut tx, comment_id).await? {
                    Some(job) => CommentClaim::Job(Box::new(job)),
                    None => CommentClaim::Nothing,
                }
            }
            Claim::Busy { until } => {
                due_by_in(&mut tx, uuid("comment_outbox.project_id", &project)?, until).await?;
                CommentClaim::Busy { until }
            }
            Claim::NotDue { .. } => CommentClaim::NotDue,
            Claim::Parked => CommentClaim::Parked,
        };
        tx.commit().await?;
        Ok(claimed)
    }

    /// Records the write a push is about to send (a post: its time, so that a lost answer is
    /// looked for), only while the claim holds and outlasts `write_takes`; returns the entry as
    /// it now stands (the board's text as it is when it writes).
    pub async fn begin_comment_write(
        &self,
        job: &CommentJob,
        post: bool,
        write_takes: chrono::Duration,
    ) -> Result<Result<CommentJob, Fence>, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        let Some((state, holder, _)) = lock_in(&mut tx, self.backend, job.comment_id).await? else {
            return Ok(Err(Fence::Lost));
        };
        let fence = sync::fence(holder.as_deref(), &job.token, state.lease_until, now, write_takes);
        if fence != Fence::Held {
            return Ok(Err(fence));
        }
        let Some(mut fresh) = read_job_in(&mut tx, job.comment_id).await? else {
            return Ok(Err(Fence::Lost));
        };
        if post && fresh.decided() == CommentPush::Post {
            sqlx::query("UPDATE comment_outbox SET posted_at = $2, posted_body = $3 WHERE comment_id = $1")
                .bind(job.comment_id.to_string())
                .bind(now.to_sql())
                .bind(&fresh.body)
                .execute(&mut *tx)
                .await?;
            fresh.posted_at = Some(now);
        }
        tx.commit().await?;
        Ok(Ok(fresh))
    }

    /// Records how the push of `job` ended, in one transaction, only while its claim holds,
    /// and lets the entry go: removed when GitHub holds the board's side (or a conflict holds
    /// both), otherwise waiting (due at once with more to send, at its retry or paced time, or
    /// parked), its config due by then.
    pub async fn finish_comment_push(
        &self,
        job: &CommentJob,
        end: CommentEnd<'_>,
    ) -> Result<bool, StoreError> {
        super::retry_races(|| async {
            let now = Timestamp::now();
            let mut tx = self.begin().await?;
            let Some((_, holder, _)) = lock_in(&mut tx, self.backend, job.comment_id).await? else {
                return Ok(false);
            };
            if holder.as_deref() != Some(job.token.as_str()) {
                return Ok(false);
            }
            let id = job.comment_id.to_string();
            match end {
                CommentEnd::Holds { comment } => {
                    if job.github_id.is_none() {
                        link_in(&mut tx, &id, comment, None).await?;
                    }
                    sqlx::query(
                        "UPDATE task_comments SET base_body = $2, github_updated_at = $3, push_error = NULL \
                         WHERE id = $1 AND github_comment_id = $4 AND github_updated_at <= $3",
                    )
                    .bind(&id)
                    .bind(crate::sync::board_comments::read_posted(&comment.body).text)
                    .bind(comment.updated_at.to_sql())
                    .bind(comment.id)
                    .execute(&mut *tx)
                    .await?;
                    clear_posted_in(&mut tx, &id).await?;
                    settle_in(&mut tx, job.comment_id, now).await?;
                }
                CommentEnd::Deleted => {
                    sqlx::query(
                        "UPDATE task_comments SET deleted_at = COALESCE(deleted_at, $2) WHERE id = $1",
                    )
                    .bind(&id)
                    .bind(now.to_sql())
                    .execute(&mut *tx)
                    .await?;
                    settle_in(&mut tx, job.comment_id, now).await?;
                }
                CommentEnd::Pulled { comment } => {
                    if let Some(github_id) = job.github_id
                        && let Some(row) =
                            stored_comment_in(&mut tx, self.backend, job.project_id, github_id).await?
                    {
                        let (github, at, url) = match comment {
                            Some(c) => (
                                Side::Body(row.shown(&c.body)),
                                Some(c.updated_at),
                                Some((c.html_url.as_str(), c.author_login.as_str())),
                            ),
                            None => (Side::Deleted, None, None),
                        };
                        github_changed_in(&mut tx, &row, github, at, url, now).await?;
                    }
                    settle_in(&mut tx, job.comment_id, now).await?;
                }
                CommentEnd::Failed { failure, error, posted } => {
                    if !posted {
                        // Nothing went out, or GitHub refused the post itself: nothing was created.
                        clear_posted_in(&mut tx, &id).await?;
                    }
                    let parked_at = match sync::after_failure(failure, job.attempts, now) {
                        Then::Retry { at } => {
                            // A change made meanwhile keeps the earlier time it asked for.
                            sqlx::query(
                                "UPDATE comment_outbox SET attempts = attempts + 1, last_error = $2, \
                                 next_attempt_at = CASE WHEN version <> $4 AND next_attempt_at < $3 \
                                 THEN next_attempt_at ELSE $3 END WHERE comment_id = $1",
                            )
                            .bind(&id)
                            .bind(error)
                            .bind(at.to_sql())
                            .bind(job.version)
                            .execute(&mut *tx)
                            .await?;
                            None
                        }
                        Then::Park { at } => Some(at),
                        // The pusher looks a missing issue or comment up before it records a
                        // failure; one that reaches here waits like a refusal.
                        Then::LookUp => Some(now.plus(sync::push::PARKED_RETRY)),
                    };
                    if let Some(at) = parked_at {
                        // A change made meanwhile may have fixed it: it goes as queued.
                        sqlx::query(
                            "UPDATE comment_outbox SET parked = CASE WHEN version <> $4 THEN parked ELSE 'refused' END, \
                             attempts = attempts + 1, last_error = $2, \
                             next_attempt_at = CASE WHEN version <> $4 THEN next_attempt_at ELSE $3 END \
                             WHERE comment_id = $1",
                        )
                        .bind(&id)
                        .bind(error)
                        .bind(at.to_sql())
                        .bind(job.version)
                        .execute(&mut *tx)
                        .await?;
                        sqlx::query("UPDATE task_comments SET push_error = $2 WHERE id = $1")
                            .bind(&id)
                            .bind(error)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                CommentEnd::Paced { at } => {
                    sqlx::query("UPDATE comment_outbox SET next_attempt_at = $2 WHERE comment_id = $1")
                        .bind(&id)
                        .bind(at.to_sql())
                        .execute(&mut *tx)
                        .await?;
                }
                CommentEnd::Settle => settle_in(&mut tx, job.comment_id, now).await?,
                CommentEnd::NotPosted => {
                    clear_posted_in(&mut tx, &id).await?;
                    // Unless its echo linked it meanwhile (then its board change goes).
                    sqlx::query(
                        "DELETE FROM comment_outbox WHERE comment_id = $1 AND EXISTS \
                         (SELECT 1 FROM task_comments WHERE id = $1 AND github_comment_id IS NULL)",
                    )
                    .bind(&id)
                    .execute(&mut *tx)
                    .await?;
                    settle_in(&mut tx, job.comment_id, now).await?;
                }
                CommentEnd::Release => {}
            }
            release_in(&mut tx, job.comment_id).await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    /// Comment `comment_id`'s entry as it stands (tests).
    #[cfg(any(test, feature = "testing"))]
    pub async fn read_comment_push(&self, comment_id: Uuid) -> Result<Option<CommentJob>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_job_in(&mut conn, comment_id).await
    }
}

async fn clear_posted_in(conn: &mut AnyConnection, id: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE comment_outbox SET posted_at = NULL WHERE comment_id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Removes the entry when nothing is left to send (GitHub holds the board's side, a conflict
/// holds both, or a comment deleted before it was posted); else it waits, due at once.
async fn settle_in(conn: &mut AnyConnection, comment_id: Uuid, now: Timestamp) -> Result<(), StoreError> {
    let Some(job) = read_job_in(conn, comment_id).await? else { return Ok(()) };
    let id = comment_id.to_string();
    match job.next() {
        CommentPush::Nothing | CommentPush::TakeGitHub | CommentPush::Conflict => {
            if job.github_id.is_none() && job.board_deleted && job.posted_at.is_none() {
                // Deleted on the board before it ever reached GitHub: gone altogether.
                sqlx::query("DELETE FROM task_comments WHERE id = $1").bind(&id).execute(&mut *conn).await?;
                return Ok(());
            }
            sqlx::query("DELETE FROM comment_outbox WHERE comment_id = $1")
                .bind(&id)
                .execute(&mut *conn)
                .await?;
            if !job.conflict {
                sqlx::query("UPDATE task_comments SET push_error = NULL WHERE id = $1")
                    .bind(&id)
                    .execute(conn)
                    .await?;
            }
        }
        CommentPush::Post | CommentPush::Edit | CommentPush::Delete => {
            sqlx::query(
                "UPDATE comment_outbox SET parked = CASE WHEN parked = 'one_way' THEN parked ELSE NULL END, \
                 next_attempt_at = $2, attempts = 0, last_error = NULL WHERE comment_id = $1",
            )
            .bind(&id)
            .bind(now.to_sql())
            .execute(conn)
            .await?;
        }
    }
    Ok(())
}

/// Lets the claim go; the config is due when the entry, if it still waits, is.
async fn release_in(conn: &mut AnyConnection, comment_id: Uuid) -> Result<(), StoreError> {
    let left: Option<(String, String, Option<String>)> = sqlx::query_as(
        "UPDATE comment_outbox SET claim_token = NULL, lease_until = NULL WHERE comment_id = $1 \
         RETURNING project_id, next_attempt_at, parked",
    )
    .bind(comment_id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    super::outbox::due_after_release_in(conn, left).await
}
