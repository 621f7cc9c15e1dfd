//! The pusher of two-way sync: sends a task's waiting local edit to its issue (publishing an
//! unlinked task is `publish.rs`; board comments are `comment_push.rs`), and the pace every
//! write of an account keeps.
//!
//! A push claims the task's outbox entry (a token and a lease), reads the issue, and only
//! while GitHub still holds the base writes the fields changed locally since the base (one
//! read, one write; a close reason that changes takes a reopen and a close). When GitHub
//! changed meanwhile, the read goes through the sync rules instead and GitHub is not touched.
//! Before the write goes out it is recorded as in flight (only while the claim holds), so its
//! answer, its echo, or a later read, however late, is known as ours; its outcome is recorded
//! only while the claim holds. One deadline covers the read and the write and ends well inside
//! the claim's lifetime. The rules of [`crate::sync::push`] decide every step; what the API
//! does not finish within its budget waits in the outbox for the reconcile worker.

use std::time::{Duration, Instant};

use serde::Serialize;
use uuid::Uuid;

use crate::contract::Pushed;
use crate::domain::Task;
use crate::github::{GitHubError, IssueChange, Lookup};
use crate::services::{Connection, ManageError, Services};
use crate::store::{Backoff, Finished, PushClaim, PushConfig, PushEnd, PushJob, StoreError, WriteStart};
use crate::sync::{self, AfterRead, Disappearance, Failure, Fence, Idle};
use crate::time::Timestamp;

/// How a pusher paces itself.
#[derive(Clone, Copy, Debug)]
pub struct PushOptions {
    /// How long a claim holds an entry before another pusher may take it.
    pub lease: chrono::Duration,
    /// The one deadline of a push's read and write. With GitHub's own limit on a request
    /// ([`GITHUB_PROCESSING`]) it ends well inside the lease.
    pub deadline: Duration,
    /// The API's budget for the read: a push whose read took longer is handed to the worker
    /// before it writes (it never cuts a write).
    pub read_budget: Option<Duration>,
    /// Writes of one entry per call (a reopen then a close; an edit made meanwhile).
    pub rounds: u32,
    /// The pace of mutating requests per GitHub account (comments and publications).
    pub pace: crate::sync::board_comments::Pace,
    /// How long a pusher waits for the pace before it leaves an entry for later (then its
    /// answer shows the comment pending).
    pub pace_wait: Duration,
}

/// How long GitHub works on a request at most: it ends any API request that takes longer
/// than ten seconds, so a write it has not answered by then will not land later.
pub const GITHUB_PROCESSING: chrono::Duration = chrono::Duration::seconds(10);

impl Default for PushOptions {
    /// The worker's: a lease of two minutes, 25 s for a push (inside the reconcile function's
    /// 30 s margin before its own deadline).
    fn default() -> Self {
        Self {
            lease: crate::store::PUSH_LEASE,
            deadline: Duration::from_secs(25),
            read_budget: None,
            rounds: 3,
            pace: crate::sync::board_comments::PACE,
            pace_wait: Duration::from_secs(5),
        }
    }
}

impl PushOptions {
    /// The API's: it answers within its function's 10 s, so it gives a read 4 s and the whole
    /// push 8 s; what it does not finish waits for the worker.
    pub fn api() -> Self {
        Self {
            deadline: Duration::from_secs(8),
            read_budget: Some(Duration::from_secs(4)),
            // GitHub's second between writes, waited for; a full minute or hour is not.
            pace_wait: Duration::from_millis(1500),
            ..Self::default()
        }
    }
}

impl Pushed {
    fn of_idle(idle: Idle) -> Self {
        match idle {
            Idle::Delivered => Pushed::Nothing,
            Idle::Conflict => Pushed::Held,
            Idle::Gone => Pushed::Gone,
        }
    }
}

/// What draining a project's outbox did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct Drained {
    pub sent: u32,
    pub pulled: u32,
    pub refused: u32,
    pub retrying: u32,
    /// GitHub requests made.
    pub requests: u32,
}

/// The result of a publication.
#[derive(Clone, Debug)]
pub enum Published {
    /// The issue is open and linked.
    Linked(Task),
    /// GitHub's answer did not come: the worker finishes it (it looks for the issue by its
    /// marker before it ever posts again).
    Pending(Task),
}

impl Services {
    /// Pushes the waiting edit of `task_id` if it is due and free, as the worker does.
    pub async fn push_task(&self, task_id: Uuid) -> Result<Pushed, StoreError> {
        self.push_task_with(task_id, &self.push_options, Backoff::Respect, &mut 0).await
    }

    /// Pushes the waiting edit of `task_id`, paced by `options`: claims the entry, pushes, and
    /// goes again while a step succeeded and more waits (the close after a reopen, an edit
    /// made meanwhile), at most `options.rounds` times.
    pub async fn push_task_with(
        &self,
        task_id: Uuid,
        options: &PushOptions,
        backoff: Backoff,
        requests: &mut u32,
    ) -> Result<Pushed, StoreError> {
        let mut pushed = Pushed::Nothing;
        for round in 0..options.rounds.max(1) {
            let backoff = if round == 0 { backoff } else { Backoff::Respect };
            let job = match self.store.claim_push(task_id, Timestamp::now(), options.lease, backoff).await? {
                PushClaim::Job(job) => job,
                PushClaim::Busy { .. } if round == 0 => return Ok(Pushed::Busy),
                PushClaim::NotDue | PushClaim::Parked if round == 0 => return Ok(Pushed::Waiting),
                PushClaim::Nothing if round == 0 => return Ok(Pushed::Nothing),
                _ => return Ok(pushed),
            };
            let (this, finished) = self.push_claimed(*job, options, requests).await?;
            // Again only after a step that succeeded left more to send.
            let again = finished == Finished::Waiting && matches!(this, Pushed::Sent | Pushed::Pulled);
            // A later round that finds nothing more reports what the one before did.
            if round == 0 || this != Pushed::Nothing {
                pushed = this;
            }
            if !again {
                break;
            }
        }
        Ok(pushed)
    }

    /// Pushes the project's waiting edits, oldest first (those whose retry time has come, or
    /// all unparked ones with [`Backoff::Ignore`]), starting none once `deadline` has passed.
    pub async fn drain_pushes(
        &self,
        project_id: Uuid,
        backoff: Backoff,
        deadline: crate::time::Deadline,
    ) -> Result<Drained, StoreError> {
        let mut drained = Drained::default();
        for task_id in self.store.due_pushes(project_id, Timestamp::now(), backoff, 500).await? {
            if deadline.passed() {
                break;
            }
            let options = self.push_options;
            match self.push_task_with(task_id, &options, backoff, &mut drained.requests).await? {
                Pushed::Sent => drained.sent += 1,
                Pushed::Pulled => drained.pulled += 1,
                Pushed::Refused(_) => drained.refused += 1,
                Pushed::Retrying(_) | Pushed::HandedOver => drained.retrying += 1,
                Pushed::Nothing | Pushed::Held | Pushed::Gone | Pushed::Busy | Pushed::Waiting => {}
            }
        }
        Ok(drained)
    }

    /// One claimed entry: decide, read, write, record. Returns what it did and where the entry
    /// stands.
    async fn push_claimed(
        &self,
        job: PushJob,
        options: &PushOptions,
        requests: &mut u32,
    ) -> Result<(Pushed, Finished), StoreError> {
        let Some(config) = job.config.clone() else {
            // No config any more: nothing can be sent (its removal ended the entries).
            return self.end(&job, PushEnd::Settle).await;
        };
        if !config.two_way || !config.sync_enabled {
            let finished = self.store.finish_push(&job, PushEnd::Release).await?;
            return Ok((Pushed::Waiting, finished));
        }
        if job.publishing() {
            return match self.publish_claimed(job, &config, options, requests).await {
                Ok(Published::Linked(_)) => Ok((Pushed::Sent, Finished::Waiting)),
                Ok(Published::Pending(_)) => {
                    Ok((Pushed::Retrying("the publication waits for GitHub".into()), Finished::Waiting))
                }
                Err(ManageError::Store(e)) => Err(e),
                // Refused: nothing was created, and the publication ended.
                Err(e) => Ok((Pushed::Refused(chain(&e)), Finished::Settled(Idle::Gone))),
            };
        }
        if job.outgoing().is_err() {
            // Nothing to send: no request at all.
            return self.end(&job, PushEnd::Settle).await;
        }
        let connection = match self.reach_github(&config.reach).await {
            Ok(connection) => connection,
            Err(ManageError::Store(e)) => return Err(e),
            Err(e) => return self.failed(&job, reach_failure(&e), &chain(&e), false).await,
        };
        let attempt = Attempt::start(options);
        let github = &connection.github;
        let (repo, number) = (&config.repo, job.link.as_ref().map_or(0, |l| l.number));

        // Labels and assignees first: element writes, no read (docs/fields.md).
        let mut job = job;
        let written = job.elements();
        if !written.is_empty() {
            let answer =
                match self.push_elements((&job, &written), &config, &connection, &attempt, requests).await? {
                    Ok((fresh, answer)) => {
                        job = *fresh;
                        answer
                    }
                    Err(ended) => return Ok(ended),
                };
            if job.outgoing().is_err() {
                // GitHub's time of the writes, so a delivery older than them is stale (docs/fields.md,
                // "Pushed as elements"): from the last assignee answer, else one read.
                match self
                    .after_elements(&job, &connection, repo, number, (&written, answer), &attempt, requests)
                    .await?
                {
                    Some(fresh) => job = fresh,
                    None => return Ok((Pushed::Busy, Finished::Lost)),
                }
                let (_, finished) = self.end(&job, PushEnd::Settle).await?;
                return Ok((Pushed::Sent, finished));
            }
        }

        // The read.
        let read = match tokio::time::timeout_at(
            attempt.read_until(),
            github.get_issue(repo, number, &connection.token, requests),
        )
        .await
        {
            Err(_) => {
                let (failure, error) = attempt.read_timed_out();
                return self.failed(&job, failure, error, false).await;
            }
            Ok(Err(e)) => return self.github_failed(&job, &config, &connection, e, false, requests).await,
            Ok(Ok(Lookup::Found(issue))) => issue,
            Ok(Ok(lookup)) => return self.gone(&job, &config, github, lookup).await,
        };
        let read = match read.into_remote(github.web_host(), repo) {
            Ok(Some(read)) => read,
            Ok(None) => return self.end(&job, PushEnd::Settle).await,
            Err(e) => {
                let error = format!("GitHub sent an issue ghsync cannot read: {e}");
                return self.failed(&job, Failure::Refused, &error, false).await;
            }
        };

        // What the read means.
        let mut pulled = false;
        let fields = loop {
            let verdict = match job.after_read(&read, Timestamp::now()) {
                AfterRead::Write(_) if attempt.budget_spent() => {
                    return self.failed(&job, Failure::HandedOver, BUDGET_SPENT, false).await;
                }
                AfterRead::Write(_) => {
                    match self.store.begin_write(&job, &read, write_takes(attempt.deadline)).await? {
                        WriteStart::Write { fields, job: fresh } => {
                            job = *fresh;
                            break fields;
                        }
                        WriteStart::Changed { verdict, job: fresh } => {
                            job = *fresh;
                            verdict
                        }
                        WriteStart::Fenced(Fence::Lost) => return Ok((Pushed::Busy, Finished::Lost)),
                        WriteStart::Fenced(_) => {
                            let error = "the claim would run out before the write: the worker pushes it";
                            return self.failed(&job, Failure::HandedOver, error, false).await;
                        }
                    }
                }
                other => other,
            };
            match verdict {
                AfterRead::Idle(idle) => {
                    // Nothing to send after a read: GitHub holds what the task holds.
                    let end = if idle == Idle::Delivered { PushEnd::HoldsBase } else { PushEnd::Settle };
                    let (pushed, finished) = self.end(&job, end).await?;
                    // GitHub's change was applied instead (converged, or a conflict now holds both).
                    let pulled = pulled && matches!(pushed, Pushed::Nothing | Pushed::Held);
                    return Ok((if pulled { Pushed::Pulled } else { pushed }, finished));
                }
                AfterRead::Lagging => {
                    let error = "GitHub answered with an older copy of the issue than ghsync has seen (a lagging \
                                 replica): nothing was written; trying again";
                    return self.failed(&job, Failure::Lagging, error, false).await;
                }
                AfterRead::Pull if pulled => {
                    let error = "GitHub's issue changed while it was read: trying again";
                    return self.failed(&job, Failure::Transient, error, false).await;
                }
                AfterRead::Pull => {
                    // GitHub changed since the base: the sync rules decide, GitHub is not
                    // touched; what is left may go out with the same read.
                    pulled = true;
                    match self.store.push_read(&job, &read).await? {
                        Some(fresh) => job = fresh,
                        None => return Ok((Pushed::Busy, Finished::Lost)),
                    }
                }
                AfterRead::Write(_) => unreachable!("a write was recorded above"),
            }
        };

        // The write: recorded as in flight above; never cut by the API's budget, only by the
        // push's own deadline (then its answer is "lost", and the next read tells).
        let change = IssueChange::of(&fields, read.marker);
        let answer = match tokio::time::timeout_at(
            attempt.deadline,
            github.update_issue(repo, number, &connection.token, &change, requests),
        )
        .await
        {
            Err(_) => {
                let error = "GitHub's answer to the write did not come within the push's deadline: it may have \
                             landed; the next attempt reads the issue to learn whether";
                return self.failed(&job, Failure::Transient, error, true).await;
            }
            Ok(Err(e)) => return self.github_failed(&job, &config, &connection, e, true, requests).await,
            Ok(Ok(answer)) => answer,
        };
        match answer.into_remote(github.web_host(), repo) {
            Ok(Some(issue)) => match sync::check_answer(&fields, &issue.content, issue.state) {
                Ok(()) => {
                    let end = PushEnd::Answered { issue: &issue };
                    Ok((Pushed::Sent, self.store.finish_push(&job, end).await?))
                }
                // Not what was asked: a refusal shown on the task, never a new base.
                Err(mismatch) => self.failed(&job, Failure::Refused, &mismatch.to_string(), true).await,
            },
            Ok(None) => self.end(&job, PushEnd::Settle).await,
            Err(e) => {
                let error = format!("GitHub answered with an issue ghsync cannot read: {e}");
                self.failed(&job, Failure::Transient, &error, true).await
            }
        }
    }

    /// Records an end and says what it means.
    pub(crate) async fn end(
        &self,
        job: &PushJob,
        end: PushEnd<'_>,
    ) -> Result<(Pushed, Finished), StoreError> {
        let finished = self.store.finish_push(job, end).await?;
        let pushed = match finished {
            Finished::Settled(idle) => Pushed::of_idle(idle),
            Finished::Waiting => Pushed::Nothing,
            Finished::Lost => Pushed::Busy,
        };
        Ok((pushed, finished))
    }

    /// Records a failed attempt ([`sync::after_failure`] decides: retry or park).
    pub(crate) async fn failed(
        &self,
        job: &PushJob,
        failure: Failure,
        error: &str,
        wrote: bool,
    ) -> Result<(Pushed, Finished), StoreError> {
        let finished = self.store.finish_push(job, PushEnd::Failed { failure, error, wrote }).await?;
        let pushed = match failure {
            Failure::Refused => {
                tracing::warn!(task_id = %job.task_id, error, "GitHub refused a push; it waits for its cause to change");
                Pushed::Refused(error.to_string())
            }
            Failure::HandedOver => Pushed::HandedOver,
            Failure::Busy { .. } => Pushed::Busy,
            _ => {
                tracing::info!(task_id = %job.task_id, error, "push failed; retrying later");
                Pushed::Retrying(error.to_string())
            }
        };
        Ok((pushed, finished))
    }

    /// A request GitHub failed: a refused installation token is forgotten and the push
    /// retried with a new one; a missing issue is looked up and the gone rule decides.
    pub(crate) async fn github_failed(
        &self,
        job: &PushJob,
        config: &PushConfig,
        connection: &Connection,
        e: GitHubError,
        wrote: bool,
        requests: &mut u32,
    ) -> Result<(Pushed, Finished), StoreError> {
        let error = chain(&e);
        if self.forget_refused(&config.reach, &connection.token, &e).await {
            return self.failed(job, Failure::Transient, &error, wrote).await;
        }
        match failure_of(&e) {
            Failure::Missing => {
                // A write GitHub answered 404/410/301: what is the issue now?
                let number = job.link.as_ref().map_or(0, |l| l.number);
                let lookup =
                    connection.github.get_issue(&config.repo, number, &connection.token, requests).await;
                match lookup {
                    Ok(Lookup::Found(_)) => self.failed(job, Failure::Refused, &error, wrote).await,
                    Ok(lookup) => self.gone(job, config, &connection.github, lookup).await,
                    Err(e) => self.failed(job, Failure::Transient, &chain(&e), wrote).await,
                }
            }
            failure => self.failed(job, failure, &error, wrote).await,
        }
    }

    /// The issue answered 404/410 (deleted) or 301 (transferred): the same gone rule as the
    /// reconcile's look-ups; a transfer within the configured repository relinks the task,
    /// and its edit then goes to the issue's new identity.
    async fn gone(
        &self,
        job: &PushJob,
        config: &PushConfig,
        github: &crate::github::GitHub,
        lookup: Lookup,
    ) -> Result<(Pushed, Finished), StoreError> {
        let (disappearance, new) = match lookup {
            Lookup::Gone | Lookup::Found(_) => (Disappearance::Deleted, None),
            Lookup::Moved(moved) => crate::github::moved_to(moved, github.web_host(), &config.repo),
        };
        let end = PushEnd::Gone { how: disappearance, new: new.as_ref() };
        let finished = self.store.finish_push(job, end).await?;
        // Relinked to the issue's new identity (it stayed in the repository): the edit goes there next.
        Ok((if finished == Finished::Waiting { Pushed::Pulled } else { Pushed::Gone }, finished))
    }
}

impl Services {
    /// Reserves a write through `account` under the pace of `options`, waiting when the pace
    /// frees up within `options.pace_wait` and before `deadline`; `Some(at)`: the write waits
    /// until then instead (it is left for later, shown pending).
    pub(crate) async fn paced_write(
        &self,
        account: &str,
        creates: bool,
        options: &PushOptions,
        deadline: tokio::time::Instant,
    ) -> Result<Option<Timestamp>, StoreError> {
        loop {
            let now = Timestamp::now();
            match self.store.reserve_write(account, creates, options.pace, now).await? {
                Ok(()) => return Ok(None),
                Err(at) => {
                    let wait = (at.as_datetime() - now.as_datetime()).to_std().unwrap_or_default();
                    if wait > options.pace_wait || tokio::time::Instant::now() + wait >= deadline {
                        return Ok(Some(at));
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}

/// The clock of one attempt: when it started, and what it may spend.
#[derive(Clone, Copy)]
pub(crate) struct Attempt {
    started: Instant,
    /// The one deadline of its read and write.
    pub(crate) deadline: tokio::time::Instant,
    /// The API's budget for the read.
    read_budget: Option<Duration>,
}

/// Why the API hands an attempt to the worker after a slow read.
pub(crate) const BUDGET_SPENT: &str =
    "the request's budget ran out before the write: the worker takes it over";

impl Attempt {
    pub(crate) fn start(options: &PushOptions) -> Self {
        let started = Instant::now();
        let deadline = tokio::time::Instant::from_std(started + options.deadline);
        Self { started, deadline, read_budget: options.read_budget }
    }

    /// When the read must have answered: the API's budget, or the deadline.
    pub(crate) fn read_until(&self) -> tokio::time::Instant {
        match self.read_budget {
            Some(budget) => self.deadline.min(tokio::time::Instant::from_std(self.started + budget)),
            None => self.deadline,
        }
    }

    /// Whether the read outlasted the API's budget: nothing is written, the worker takes it.
    pub(crate) fn budget_spent(&self) -> bool {
        self.read_budget.is_some_and(|budget| self.started.elapsed() > budget)
    }

    /// What a read that did not answer by [`Attempt::read_until`] means for the entry.
    pub(crate) fn read_timed_out(&self) -> (Failure, &'static str) {
        match self.read_budget {
            Some(_) => (
                Failure::HandedOver,
                "GitHub did not answer within the request's budget: the worker takes it over",
            ),
            None => (Failure::Transient, "GitHub did not answer the read within the push's deadline"),
        }
    }
}

/// The longest a write started now may take: what is left of the push's deadline, and
/// GitHub's own limit on working on it after that.
pub(crate) fn write_takes(deadline: tokio::time::Instant) -> chrono::Duration {
    let left = deadline.saturating_duration_since(tokio::time::Instant::now());
    chrono::Duration::from_std(left).unwrap_or(chrono::Duration::zero()) + GITHUB_PROCESSING
}

/// What a failed GitHub request means for the outbox.
pub(crate) fn failure_of(e: &GitHubError) -> Failure {
    match e {
        e if let Some(limit) = e.rate_limit() => Failure::RateLimited(limit),
        GitHubError::Refused { status: 404 | 410 | 301 | 302 | 307, .. } => Failure::Missing,
        e if e.is_transient() => Failure::Transient,
        GitHubError::Malformed(_) | GitHubError::BadJson(_) => Failure::Transient,
        _ => Failure::Refused,
    }
}

/// Why a config could not reach GitHub, for the outbox: a credential that cannot work waits
/// for a new one; a KMS or GitHub that does not answer is retried (the store's own failures
/// are not the outbox's to record).
pub(crate) fn reach_failure(e: &ManageError) -> Failure {
    match e {
        ManageError::Store(_) | ManageError::Crypto(_) | ManageError::GitHubUnavailable { .. } => {
            Failure::Transient
        }
        _ => Failure::Refused,
    }
}

impl Services {
    /// An installation token GitHub refused (revoked) is not used again; true when it was
    /// forgotten (the next attempt, with a new token, may well succeed).
    pub(crate) async fn forget_refused(
        &self,
        reach: &crate::domain::Reach,
        token: &crate::crypto::Secret,
        e: &GitHubError,
    ) -> bool {
        match (e, reach.installation_id) {
            (GitHubError::BadCredentials, Some(installation)) => {
                self.github.forget_installation_token(installation, token).await
            }
            _ => false,
        }
    }
}

/// An error with its causes, as one line.
pub(crate) fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    crate::telemetry::ErrorChain(e).to_string()
}
