//! A push as the store sees it: the job a pusher claims (a token and a lease), the record of
//! its write (`in_flight`, before the write goes out) and the record of its outcome, both
//! conditional on the token, so a push that outlived its claim changes nothing. The rules of
//! `crate::sync::push` decide; this file carries their decisions out.

use sqlx::AnyConnection;
use uuid::Uuid;

use super::outbox::due_by_in;
use super::rows::{content, opt_ts, parse, ts, uuid};
use super::{Backend, PushConfig, Scope, Store, StoreError, apply_issue_in, carry_out_gone_in};
use crate::domain::{ConflictStatus, Content, IssueState, RemoteIssue, RemoteState, TaskStatus};
use crate::sync::fields::{Elements, Sets};
use crate::sync::{
    self, AfterRead, Backoff, Claim, Disappearance, EntryState, Failure, Fence, Fields, Idle, Pushing,
    Source, Then,
};
use crate::time::Timestamp;

/// What an outbox entry is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EntryKind {
    /// A linked task's local edit.
    Push,
    /// An unlinked task being opened as an issue.
    Publish,
}

/// A claimed outbox entry with everything a push needs: the task, its link and its config.
#[derive(Clone)]
pub struct PushJob {
    pub task_id: Uuid,
    pub project_id: Uuid,
    /// The entry's version when it was read.
    pub version: i64,
    /// Failed attempts so far (the exponent of the backoff).
    pub attempts: i64,
    /// The claim's token: the push writes and records only while the entry carries it.
    pub token: String,
    pub kind: EntryKind,
    /// A write (or post) sent earlier whose answer was never recorded.
    pub in_flight: Option<Fields>,
    /// `None`: the project has no config (any more).
    pub config: Option<PushConfig>,
    /// `None`: the task is not linked (any more, or yet).
    pub link: Option<PushLink>,
    pub local: Content,
    pub local_status: TaskStatus,
    /// The task's own labels and assignees.
    pub local_sets: Sets,
}

impl std::fmt::Debug for PushJob {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PushJob")
            .field("task_id", &self.task_id)
            .field("version", &self.version)
            .field("attempts", &self.attempts)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
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
    /// GitHub's `updated_at` of the newest snapshot applied.
    pub applied_updated_at: Timestamp,
    pub link_ended: bool,
    pub conflict_pending: bool,
    /// GitHub's labels and assignees as last synced: the base of the element writes.
    pub base_sets: Sets,
}

impl PushJob {
    /// The element writes that wait (docs/fields.md): what turns GitHub's sets as last synced
    /// into the task's own. Nothing without a link.
    pub fn elements(&self) -> Elements {
        self.link.as_ref().map(|l| self.local_sets.changes_from(&l.base_sets)).unwrap_or_default()
    }

    /// The task as the push rules see it, if it is linked.
    pub fn pushing(&self) -> Option<Pushing<'_>> {
        let link = self.link.as_ref()?;
        Some(Pushing {
            base: &link.base,
            base_state: link.base_state,
            local: &self.local,
            local_status: self.local_status,
            conflict_pending: link.conflict_pending,
            gone: !sync::link_live(link.remote_state, link.link_ended),
            in_flight: self.in_flight.as_ref(),
            sets_pending: !self.local_sets.changes_from(&link.base_sets).is_empty(),
        })
    }

    /// What is left to send (the settle rule: `Err` means the entry is done with). An entry
    /// without a link has nothing to write to.
    pub fn outgoing(&self) -> Result<Fields, Idle> {
        self.pushing().map_or(Err(Idle::Gone), |p| sync::outgoing(&p))
    }

    /// What GitHub's issue as `read` at `now` means for the entry ([`sync::after_read`]).
    pub fn after_read(&self, read: &RemoteIssue, now: Timestamp) -> AfterRead {
        match (self.pushing(), &self.link) {
            (Some(pushing), Some(link)) => sync::after_read(
                &pushing,
                &sync::Read { content: &read.content, state: read.state, updated_at: read.updated_at },
                link.applied_updated_at,
                now,
            ),
            _ => AfterRead::Idle(Idle::Gone),
        }
    }
}

#[derive(sqlx::FromRow)]
struct PushRow {
    task_id: String,
    project_id: String,
    version: i64,
    attempts: i64,
    claim_token: Option<String>,
    kind: String,
    in_flight: Option<String>,
    title: String,
    description: Option<String>,
    status: String,
    task_labels: String,
    task_assignees: String,
    milestone_number: Option<i64>,
    milestone_title: Option<String>,
    #[sqlx(flatten)]
    config: super::rows::ConfigCols,
    metadata_id: Option<String>,
    github_issue_id: Option<String>,
    github_issue_number: Option<i64>,
    last_synced_content: Option<String>,
    synced_state: Option<String>,
    remote_state: Option<String>,
    remote_updated_at: Option<String>,
    unlinked_at: Option<String>,
    sync_conflict_status: Option<String>,
    base_labels: Option<String>,
    base_assignees: Option<String>,
}

impl TryFrom<PushRow> for PushJob {
    type Error = StoreError;
    fn try_from(r: PushRow) -> Result<Self, StoreError> {
        let config = r.config.config(uuid("sync_outbox.project_id", &r.project_id)?)?;
        let link = match (
            r.metadata_id,
            r.github_issue_id,
            r.github_issue_number,
            r.last_synced_content,
            r.synced_state,
            r.remote_state,
            r.remote_updated_at,
        ) {
            (
                Some(metadata_id),
                Some(node_id),
                Some(number),
                Some(base),
                Some(synced),
                Some(remote),
                Some(applied),
            ) => Some(PushLink {
                metadata_id,
                node_id,
                number,
                base: content("task_github_metadata.last_synced_content", &base)?,
                base_state: parse("task_github_metadata.synced_state", &synced)?,
                remote_state: parse("task_github_metadata.remote_state", &remote)?,
                applied_updated_at: ts("task_github_metadata.remote_updated_at", &applied)?,
                link_ended: r.unlinked_at.is_some(),
                conflict_pending: r.sync_conflict_status.as_deref() == Some(ConflictStatus::Pending.as_str()),
                base_sets: super::rows::sets(
                    r.base_labels.as_deref().unwrap_or("[]"),
                    r.base_assignees.as_deref().unwrap_or("[]"),
                )?,
            }),
            _ => None,
        };
        Ok(PushJob {
            task_id: uuid("sync_outbox.task_id", &r.task_id)?,
            project_id: uuid("sync_outbox.project_id", &r.project_id)?,
            version: r.version,
            attempts: r.attempts,
            token: r.claim_token.unwrap_or_default(),
            kind: if r.kind == "publish" { EntryKind::Publish } else { EntryKind::Push },
            in_flight: super::rows::in_flight(r.in_flight.as_deref())?,
            config,
            link,
            local: Content {
                title: r.title,
                description: r.description,
                milestone: super::rows::milestone(r.milestone_number, r.milestone_title),
            },
            local_status: parse("tasks.status", &r.status)?,
            local_sets: super::rows::sets(&r.task_labels, &r.task_assignees)?,
        })
    }
}

/// The entry of `task_id` with its task, link and config, as it stands in the caller's
/// transaction.
pub(super) async fn read_job_in(
    conn: &mut AnyConnection,
    task_id: Uuid,
) -> Result<Option<PushJob>, StoreError> {
    let row: Option<PushRow> = sqlx::query_as(concat!(
        "SELECT o.task_id, o.project_id, o.version, o.attempts, o.claim_token, o.kind, o.in_flight, \
         t.title, t.description, t.status, t.labels AS task_labels, t.assignees AS task_assignees, \
         t.milestone_number, t.milestone_title, ",
        push_config_columns!(),
        ", m.id AS metadata_id, m.github_issue_id, m.github_issue_number, m.last_synced_content, \
         m.synced_state, m.remote_state, m.remote_updated_at, m.unlinked_at, m.sync_conflict_status, \
         m.labels AS base_labels, m.assignees AS base_assignees \
         FROM sync_outbox o JOIN tasks t ON t.id = o.task_id \
         LEFT JOIN task_github_metadata m ON m.task_id = o.task_id \
         LEFT JOIN github_sync_config c ON c.project_id = o.project_id WHERE o.task_id = $1"
    ))
    .bind(task_id.to_string())
    .fetch_optional(conn)
    .await?;
    row.map(PushJob::try_from).transpose()
}

/// The claim columns of an entry, locked for the caller's transaction.
#[derive(sqlx::FromRow)]
pub(super) struct EntryRow {
    project_id: String,
    pub(super) claim_token: Option<String>,
    parked: Option<String>,
    next_attempt_at: String,
    lease_until: Option<String>,
    kind: String,
    in_flight: Option<String>,
}

impl EntryRow {
    pub(super) fn lease_until(&self) -> Result<Option<Timestamp>, StoreError> {
        opt_ts("sync_outbox.lease_until", self.lease_until.as_deref())
    }

    pub(super) fn state(&self) -> Result<EntryState, StoreError> {
        Ok(EntryState {
            parked: self.parked.as_deref().map(|p| parse("sync_outbox.parked", p)).transpose()?,
            next_attempt_at: ts("sync_outbox.next_attempt_at", &self.next_attempt_at)?,
            lease_until: self.lease_until()?,
            post_unanswered: self.kind == "publish" && self.in_flight.is_some(),
        })
    }
}

pub(super) async fn lock_entry_in(
    conn: &mut AnyConnection,
    backend: Backend,
    task_id: Uuid,
) -> Result<Option<EntryRow>, StoreError> {
    Ok(sqlx::query_as(locking!(
        backend,
        "SELECT project_id, claim_token, parked, next_attempt_at, lease_until, kind, in_flight \
         FROM sync_outbox WHERE task_id = $1"
    ))
    .bind(task_id.to_string())
    .fetch_optional(conn)
    .await?)
}

/// The entry, locked, when `job`'s claim still holds it: the fence of every record a push makes.
/// The task is locked first, as an edit and a retry lock it before they touch its entry, so the
/// pusher and a person never wait on each other in a circle.
pub(super) async fn fenced_in(
    conn: &mut AnyConnection,
    backend: Backend,
    job: &PushJob,
) -> Result<Option<EntryRow>, StoreError> {
    sqlx::query(locking!(backend, "SELECT id FROM tasks WHERE id = $1"))
        .bind(job.task_id.to_string())
        .fetch_optional(&mut *conn)
        .await?;
    let entry = lock_entry_in(conn, backend, job.task_id).await?;
    Ok(entry.filter(|e| e.claim_token.as_deref() == Some(job.token.as_str())))
}

/// Whether `job`'s claim still holds the entry and outlasts a write that may take
/// `write_takes` ([`sync::fence`]), in the caller's transaction (the entry locked).
pub(super) async fn write_fence_in(
    conn: &mut AnyConnection,
    backend: Backend,
    job: &PushJob,
    now: Timestamp,
    write_takes: chrono::Duration,
) -> Result<Fence, StoreError> {
    let (holder, lease) = match lock_entry_in(conn, backend, job.task_id).await? {
        Some(e) => {
            let lease = e.lease_until()?;
            (e.claim_token, lease)
        }
        None => (None, None),
    };
    Ok(sync::fence(holder.as_deref(), &job.token, lease, now, write_takes))
}

/// Records `fields` as the write (or post) about to go out for the task's entry.
pub(super) async fn record_in_flight_in(
    conn: &mut AnyConnection,
    task_id: Uuid,
    fields: &Fields,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE sync_outbox SET in_flight = $2 WHERE task_id = $1")
        .bind(task_id.to_string())
        .bind(serde_json::to_string(fields).expect("fields serialise"))
        .execute(conn)
        .await?;
    Ok(())
}

/// Gives the entry of `task_id` to the claim `token` until `until`.
pub(super) async fn take_claim_in(
    conn: &mut AnyConnection,
    task_id: Uuid,
    token: &str,
    until: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query("UPDATE sync_outbox SET claim_token = $2, lease_until = $3 WHERE task_id = $1")
        .bind(task_id.to_string())
        .bind(token)
        .bind(until.to_sql())
        .execute(conn)
        .await?;
    Ok(())
}

/// What claiming an entry found.
#[derive(Debug)]
pub enum PushClaim {
    /// Held by this pusher now.
    Job(Box<PushJob>),
    /// Another pusher holds it until then (the config is due by then: someone comes back).
    Busy { until: Timestamp },
    /// Its retry time has not come.
    NotDue,
    /// Parked until two-way sync is on again.
    Parked,
    /// There is no entry.
    Nothing,
}

/// How a push ended, as the outbox records it.
#[derive(Debug)]
pub enum PushEnd<'a> {
    /// GitHub answered the write with the issue as it now is, what was asked in it
    /// ([`sync::check_answer`], checked by the pusher).
    Answered { issue: &'a RemoteIssue },
    /// The attempt failed; `wrote` when its write went out (a lost answer: the write may have
    /// landed, its record stays in flight; a refusal of it: it did not).
    Failed { failure: Failure, error: &'a str, wrote: bool },
    /// The issue is gone (404/410) or moved (301): how, for the gone rule.
    Gone { how: Disappearance, new: Option<&'a RemoteIssue> },
    /// Nothing was sent: the entry is settled as it stands (GitHub holds the task, a conflict
    /// holds both sides, the issue is gone) or waits for more.
    Settle,
    /// A read showed GitHub holding the base: a write in flight did not land (or was
    /// overwritten since); its record goes, and the entry is settled as it stands.
    HoldsBase,
    /// Not pushed now (the config is disabled): the entry waits, unclaimed.
    Release,
}

/// Where an entry stands after a push recorded its end.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Finished {
    /// Removed: GitHub holds the task, a conflict holds both sides, or the issue is gone.
    Settled(Idle),
    /// Still waiting (more to send, due at once; or a retry later; or parked).
    Waiting,
    /// The claim was lost before the end: nothing was recorded.
    Lost,
}

/// What recording a write before it goes out found.
#[derive(Debug)]
pub enum WriteStart {
    /// Recorded as in flight: send these fields.
    Write { fields: Fields, job: Box<PushJob> },
    /// The entry as it now stands says something else than a write (GitHub changed after
    /// all, a conflict opened, nothing left): decide again with it.
    Changed { verdict: AfterRead, job: Box<PushJob> },
    /// The claim was lost, or would end before the write: nothing was recorded or sent.
    Fenced(Fence),
}

impl Store {
    /// Claims the outbox entry of `task_id` for `lease` when the claim rule allows it
    /// ([`sync::claim`]); a busy entry makes its config due when the other claim runs out.
    pub async fn claim_push(
        &self,
        task_id: Uuid,
        now: Timestamp,
        lease: chrono::Duration,
        backoff: Backoff,
    ) -> Result<PushClaim, StoreError> {
        let mut tx = self.begin().await?;
        let Some(entry) = lock_entry_in(&mut tx, self.backend, task_id).await? else {
            return Ok(PushClaim::Nothing);
        };
        let claimed = match sync::claim(&entry.state()?, now, backoff) {
            Claim::Take => {
                take_claim_in(&mut tx, task_id, &super::new_id(), now.plus(lease)).await?;
                match read_job_in(&mut tx, task_id).await? {
                    Some(job) => PushClaim::Job(Box::new(job)),
                    None => PushClaim::Nothing,
                }
            }
            Claim::Busy { until } => {
                due_by_in(&mut tx, uuid("sync_outbox.project_id", &entry.project_id)?, until).await?;
                PushClaim::Busy { until }
            }
            Claim::NotDue { .. } => PushClaim::NotDue,
            Claim::Parked => PushClaim::Parked,
        };
        tx.commit().await?;
        Ok(claimed)
    }

    /// Applies an issue a push read (it differed from the base: the sync rules decide, with
    /// the write in flight known as ours) and returns the entry as it then stands; `None` when
    /// the claim was lost (nothing applied).
    pub async fn push_read(&self, job: &PushJob, issue: &RemoteIssue) -> Result<Option<PushJob>, StoreError> {
        issue.validate()?;
        super::retry_races(|| async {
            let mut tx = self.begin().await?;
            if fenced_in(&mut tx, self.backend, job).await?.is_none() {
                return Ok(None);
            }
            let scope = Scope {
                backend: self.backend,
                project_id: job.project_id,
                source: Source::Read,
                now: Timestamp::now(),
            };
            apply_issue_in(&mut tx, scope, issue).await?;
            let fresh = read_job_in(&mut tx, job.task_id).await?;
            tx.commit().await?;
            Ok(fresh)
        })
        .await
    }

    /// Records the write a push is about to send, deciding it again from the entry as it
    /// stands now (the task as it is when it writes, GitHub's `read` still the base), only
    /// while the claim holds and outlasts `write_takes`.
    pub async fn begin_write(
        &self,
        job: &PushJob,
        read: &RemoteIssue,
        write_takes: chrono::Duration,
    ) -> Result<WriteStart, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        let fence = write_fence_in(&mut tx, self.backend, job, now, write_takes).await?;
        if fence != Fence::Held {
            return Ok(WriteStart::Fenced(fence));
        }
        let Some(fresh) = read_job_in(&mut tx, job.task_id).await? else {
            return Ok(WriteStart::Fenced(Fence::Lost));
        };
        let verdict = fresh.after_read(read, now);
        let AfterRead::Write(fields) = verdict else {
            return Ok(WriteStart::Changed { verdict, job: Box::new(fresh) });
        };
        record_in_flight_in(&mut tx, job.task_id, &fields).await?;
        tx.commit().await?;
        Ok(WriteStart::Write { fields, job: Box::new(fresh) })
    }

    /// Records how the push of `job` ended, in one transaction, only while its claim holds
    /// (a push that lost its claim records nothing), and lets the entry go: removed when it
    /// is settled, otherwise waiting (due at once with more to send, at its retry time after
    /// a failure, or parked), its config due by then.
    pub async fn finish_push(&self, job: &PushJob, end: PushEnd<'_>) -> Result<Finished, StoreError> {
        super::retry_races(|| async {
            let now = Timestamp::now();
            let mut tx = self.begin().await?;
            if fenced_in(&mut tx, self.backend, job).await?.is_none() {
                return Ok(Finished::Lost);
            }
            let scope =
                Scope { backend: self.backend, project_id: job.project_id, source: Source::Read, now };
            let task_id = job.task_id.to_string();
            let finished = match end {
                PushEnd::Answered { issue } => {
                    issue.validate()?;
                    // The answer is the issue with our write in it: the rules compare it with
                    // the base our write made (a GitHub edit that slipped in beside it is
                    // imported, not reverted).
                    apply_issue_in(&mut tx, scope, issue).await?;
                    clear_in_flight_in(&mut tx, job.task_id).await?;
                    settle_in(&mut tx, job.task_id, now).await?
                }
                PushEnd::Failed { failure, error, wrote } => {
                    match sync::after_failure(failure, job.attempts, now) {
                        Then::Retry { at } => {
                            sqlx::query(
                                "UPDATE sync_outbox SET attempts = attempts + 1, last_error = $2, \
                                 next_attempt_at = $3 WHERE task_id = $1",
                            )
                            .bind(&task_id)
                            .bind(error)
                            .bind(at.to_sql())
                            .execute(&mut *tx)
                            .await?;
                        }
                        Then::Park { at } => {
                            if wrote {
                                // GitHub refused the write itself: it did not land.
                                clear_in_flight_in(&mut tx, job.task_id).await?;
                            }
                            park_refused_in(&mut tx, job.task_id, error, at, now).await?;
                        }
                        Then::LookUp => {
                            return Err(StoreError::StateConflict(
                                "a missing issue is looked up before the push is recorded".into(),
                            ));
                        }
                    }
                    Finished::Waiting
                }
                PushEnd::Gone { how, new } => {
                    if let Some(link) = &job.link {
                        carry_out_gone_in(&mut tx, scope, &link.node_id, how, new, None).await?;
                    }
                    settle_in(&mut tx, job.task_id, now).await?
                }
                PushEnd::Settle => settle_in(&mut tx, job.task_id, now).await?,
                PushEnd::HoldsBase => {
                    clear_in_flight_in(&mut tx, job.task_id).await?;
                    settle_in(&mut tx, job.task_id, now).await?
                }
                PushEnd::Release => Finished::Waiting,
            };
            release_in(&mut tx, job.task_id).await?;
            tx.commit().await?;
            Ok(finished)
        })
        .await
    }

    /// The entry of `task_id` as it stands (tests).
    #[cfg(any(test, feature = "testing"))]
    pub async fn read_push(&self, task_id: Uuid) -> Result<Option<PushJob>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_job_in(&mut conn, task_id).await
    }
}

/// Removes the entry when the rules say it is done with ([`PushJob::outgoing`]: GitHub holds
/// the task, a conflict holds both sides, or the issue is gone); else it waits, due at once
/// (there is more to send: a newer edit, the close after a reopen).
pub(super) async fn settle_in(
    conn: &mut AnyConnection,
    task_id: Uuid,
    now: Timestamp,
) -> Result<Finished, StoreError> {
    let Some(job) = read_job_in(conn, task_id).await? else {
        return Ok(Finished::Settled(Idle::Gone));
    };
    if job.publishing() {
        // Not published yet: its own steps decide.
        return Ok(Finished::Waiting);
    }
    match job.outgoing() {
        Err(idle) => {
            sqlx::query("DELETE FROM sync_outbox WHERE task_id = $1")
                .bind(task_id.to_string())
                .execute(&mut *conn)
                .await?;
            if idle == Idle::Delivered
                && let Some(link) = &job.link
            {
                // GitHub holds the task: an old refusal no longer applies.
                sqlx::query(
                    "UPDATE task_github_metadata SET push_error = NULL, push_error_at = NULL WHERE id = $1",
                )
                .bind(&link.metadata_id)
                .execute(&mut *conn)
                .await?;
            }
            Ok(Finished::Settled(idle))
        }
        Ok(_) => {
            sqlx::query(
                "UPDATE sync_outbox SET kind = 'push', parked = NULL, next_attempt_at = $2, attempts = 0, \
                 last_error = NULL WHERE task_id = $1",
            )
            .bind(task_id.to_string())
            .bind(now.to_sql())
            .execute(&mut *conn)
            .await?;
            Ok(Finished::Waiting)
        }
    }
}

async fn clear_in_flight_in(conn: &mut AnyConnection, task_id: Uuid) -> Result<(), StoreError> {
    sqlx::query("UPDATE sync_outbox SET in_flight = NULL WHERE task_id = $1")
        .bind(task_id.to_string())
        .execute(conn)
        .await?;
    Ok(())
}

/// Parks the entry as refused with GitHub's reason, shown on the task's link, until its cause
/// may have changed (or its slow retry at `at`).
async fn park_refused_in(
    conn: &mut AnyConnection,
    task_id: Uuid,
    reason: &str,
    at: Timestamp,
    now: Timestamp,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sync_outbox SET parked = 'refused', attempts = attempts + 1, last_error = $2, \
         next_attempt_at = $3 WHERE task_id = $1",
    )
    .bind(task_id.to_string())
    .bind(reason)
    .bind(at.to_sql())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE task_github_metadata SET push_error = $2, push_error_at = $3, updated_at = $3 WHERE task_id = $1",
    )
    .bind(task_id.to_string())
    .bind(reason)
    .bind(now.to_sql())
    .execute(conn)
    .await?;
    Ok(())
}

/// Lets the claim go; the config is due when the entry, if it is still waiting, is.
pub(super) async fn release_in(conn: &mut AnyConnection, task_id: Uuid) -> Result<(), StoreError> {
    let left: Option<(String, String, Option<String>)> = sqlx::query_as(
        "UPDATE sync_outbox SET claim_token = NULL, lease_until = NULL WHERE task_id = $1 \
         RETURNING project_id, next_attempt_at, parked",
    )
    .bind(task_id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    super::outbox::due_after_release_in(conn, left).await
}
