//! The outbox of two-way sync: local edits of linked tasks waiting to reach GitHub, tasks
//! being published, and what a push writes back.
//!
//! One row per task (`sync_outbox`), written in the transaction of the edit: a later edit
//! bumps its version instead of adding a row, so entries coalesce to the newest (the pusher
//! sends the task as it is when it writes). A pusher claims a row with a token and a lease;
//! the record of its write (`in_flight`, before the write goes out) and the record of its
//! outcome are conditional on the token, so a push that outlived its claim changes nothing.
//! The rules of `crate::sync::push` decide; this file carries their decisions out.
//!
//! Every path that removes an entry is [`settle_in`] (GitHub holds the task, a conflict holds
//! both sides, or the issue is gone), the end of a repository switch or of the config
//! ([`end_entries_in`], which leaves the reason on the task), or a publication GitHub
//! refused (nothing was created).

use sqlx::AnyConnection;
use uuid::Uuid;

use super::rows::{content, opt_ts, parse, ts, uuid};
use super::{Backend, Scope, Store, StoreError, apply_issue_in, carry_out_gone_in};
use crate::domain::{
    ConflictStatus, Content, IssueState, Offer, Parked, RemoteIssue, RemoteState, RepoName, RepoOwner,
    RepoRef, TaskStatus,
};
use crate::sync::{
    self, AfterRead, Backoff, Claim, EntryState, Failure, Fence, Fields, GoneAction, Idle, Pushing, Rearm,
    Source, Then,
};
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
         WHERE m.task_id = $1 AND c.two_way = 1 AND m.unlinked_at IS NULL \
         AND m.remote_state IN ('open', 'completed', 'not_planned') \
         ON CONFLICT (task_id) DO UPDATE SET version = sync_outbox.version + 1, \
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

/// How long a pusher holds an entry before another may take it (a pusher that died). A push's
/// read and write end well inside it ([`crate::services::push::PushOptions`]).
pub const PUSH_LEASE: chrono::Duration = chrono::Duration::minutes(2);

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
    /// GitHub's `updated_at` of the newest snapshot applied.
    pub applied_updated_at: Timestamp,
    pub unlinked: bool,
    pub conflict_pending: bool,
}

impl PushJob {
    /// The task as the push rules see it, if it is linked.
    pub fn pushing(&self) -> Option<Pushing<'_>> {
        let link = self.link.as_ref()?;
        Some(Pushing {
            base: &link.base,
            base_state: link.base_state,
            local: &self.local,
            local_status: self.local_status,
            conflict_pending: link.conflict_pending,
            gone: link.unlinked || link.remote_state.issue_state().is_none(),
            in_flight: self.in_flight.as_ref(),
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
    remote_updated_at: Option<String>,
    unlinked_at: Option<String>,
    sync_conflict_status: Option<String>,
}

/// Parses a stored `in_flight`.
pub(crate) fn in_flight(json: Option<&str>) -> Result<Option<Fields>, StoreError> {
    json.map(|j| serde_json::from_str(j).map_err(|e| StoreError::corrupt("sync_outbox.in_flight", e)))
        .transpose()
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
                    project_id: uuid("sync_outbox.project_id", &r.project_id)?,
                    encrypted_pat,
                    installation_id: r.installation_id,
                    api_url: r.api_url,
                    token_expires_at: opt_ts(
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
                unlinked: r.unlinked_at.is_some(),
                conflict_pending: r.sync_conflict_status.as_deref() == Some(ConflictStatus::Pending.as_str()),
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
            in_flight: in_flight(r.in_flight.as_deref())?,
            config,
            link,
            local: Content { title: r.title, description: r.description },
            local_status: parse("tasks.status", &r.status)?,
        })
    }
}

/// The entry of `task_id` with its task, link and config, as it stands in the caller's
/// transaction.
pub(super) async fn read_job_in(
    conn: &mut AnyConnection,
    task_id: Uuid,
) -> Result<Option<PushJob>, StoreError> {
    let row: Option<PushRow> = sqlx::query_as(
        "SELECT o.task_id, o.project_id, o.version, o.attempts, o.claim_token, o.kind, o.in_flight, \
         t.title, t.description, t.status, \
         c.repo_owner, c.repo_name, c.encrypted_pat, c.installation_id, c.api_url, c.token_expires_at, \
         c.two_way, c.sync_enabled, \
         m.id AS metadata_id, m.github_issue_id, m.github_issue_number, m.last_synced_content, \
         m.synced_state, m.remote_state, m.remote_updated_at, m.unlinked_at, m.sync_conflict_status \
         FROM sync_outbox o JOIN tasks t ON t.id = o.task_id \
         LEFT JOIN task_github_metadata m ON m.task_id = o.task_id \
         LEFT JOIN github_sync_config c ON c.project_id = o.project_id WHERE o.task_id = $1",
    )
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
    /// The issue is gone (404/410) or moved (301): the gone rule's `action` for the link.
    Gone { action: GoneAction, new: Option<&'a RemoteIssue> },
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
                PushEnd::Gone { action, new } => {
                    if let Some(link) = &job.link {
                        carry_out_gone_in(&mut tx, scope, &link.node_id, action, new, None).await?;
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

    /// The entry of `task_id` as it stands (tests and operator checks).
    pub async fn read_push(&self, task_id: Uuid) -> Result<Option<PushJob>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        read_job_in(&mut conn, task_id).await
    }

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
        let task = super::tasks::lock_task(&mut tx, self.backend, task_id).await?;
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
    if let Some((project, at, parked)) = left
        && parked.as_deref() != Some(Parked::OneWay.as_str())
    {
        due_by_in(conn, uuid("sync_outbox.project_id", &project)?, ts("sync_outbox.next_attempt_at", &at)?)
            .await?;
    }
    Ok(())
}

/// Parks every entry of the project until two-way sync is on again (it was turned off).
pub(crate) async fn park_one_way_in(conn: &mut AnyConnection, project_id: Uuid) -> Result<u64, StoreError> {
    Ok(sqlx::query("UPDATE sync_outbox SET parked = 'one_way' WHERE project_id = $1")
        .bind(project_id.to_string())
        .execute(conn)
        .await?
        .rows_affected())
}

/// Sends the project's parked entries again, at once, as `cause` allows ([`sync::rearm`]).
pub(crate) async fn rearm_in(
    conn: &mut AnyConnection,
    project_id: Uuid,
    cause: Rearm,
    now: Timestamp,
) -> Result<u64, StoreError> {
    let (refused, one_way) = rearms(cause);
    let done = sqlx::query(concat!(
        "UPDATE sync_outbox SET next_attempt_at = $2, attempts = 0, parked = ",
        rearmed_parked!("$3", "$4"),
        " WHERE project_id = $1 AND ((parked = 'refused' AND $3 = 1) OR (parked = 'one_way' AND $4 = 1))"
    ))
    .bind(project_id.to_string())
    .bind(now.to_sql())
    .bind(refused)
    .bind(one_way)
    .execute(&mut *conn)
    .await?;
    if done.rows_affected() > 0 {
        due_by_in(conn, project_id, now).await?;
    }
    Ok(done.rows_affected())
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
    .fetch_one(conn)
    .await?;
    opt_ts("sync_outbox.next_attempt_at", at.as_deref())
}

/// The linked tasks of the project with something to send and no entry: edits made while the
/// config was one-way (or declined before), which turning two-way on offers to push.
async fn offered_in(conn: &mut AnyConnection, project_id: Uuid) -> Result<Vec<Uuid>, StoreError> {
    let rows: Vec<(String, String, Option<String>, String, String, String)> = sqlx::query_as(
        "SELECT t.id, t.title, t.description, t.status, m.last_synced_content, m.synced_state \
         FROM tasks t JOIN task_github_metadata m ON m.task_id = t.id \
         LEFT JOIN sync_outbox o ON o.task_id = t.id \
         WHERE t.project_id = $1 AND o.task_id IS NULL AND m.unlinked_at IS NULL \
         AND m.remote_state IN ('open', 'completed', 'not_planned') \
         AND (m.sync_conflict_status IS NULL OR m.sync_conflict_status <> 'pending') ORDER BY t.created_at, t.id",
    )
    .bind(project_id.to_string())
    .fetch_all(conn)
    .await?;
    let mut offered = Vec::new();
    for (id, title, description, status, base, synced) in rows {
        let local = Content { title, description };
        let base = content("task_github_metadata.last_synced_content", &base)?;
        let pushing = Pushing {
            base: &base,
            base_state: parse("task_github_metadata.synced_state", &synced)?,
            local: &local,
            local_status: parse("tasks.status", &status)?,
            conflict_pending: false,
            gone: false,
            in_flight: None,
        };
        if sync::outgoing(&pushing).is_ok() {
            offered.push(uuid("tasks.id", &id)?);
        }
    }
    Ok(offered)
}

impl Store {
    /// What turning two-way on offers for the project ([`offered_in`]).
    pub async fn offer(&self, project_id: Uuid) -> Result<Offer, StoreError> {
        let mut conn = self.pool.acquire().await?;
        Ok(Offer { tasks: offered_in(&mut conn, project_id).await?.len() as i64 })
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
        if queued > 0 {
            due_by_in(&mut tx, project_id, now).await?;
        }
        tx.commit().await?;
        Ok(Offer { tasks: queued })
    }
}
