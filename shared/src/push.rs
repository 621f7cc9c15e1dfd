//! The pusher of two-way sync: sends a task's queued local edit to its issue, and publishes
//! an unlinked task as a new issue.
//!
//! A push reads the issue, and only when GitHub still holds the base writes it (one read,
//! one write); when GitHub changed meanwhile the snapshot it read goes through the sync rules
//! instead (converged, fast-forward, or one conflict) and GitHub is not touched
//! ([`crate::sync::push`] decides). The API pushes right after an edit commits; whatever
//! that does not send (GitHub unreachable, the request's budget spent) stays in the outbox
//! and the reconcile worker retries it with backoff.

use std::time::Instant;

use serde::Serialize;
use uuid::Uuid;

use crate::crypto::Pat;
use crate::domain::{RemoteIssue, Task};
use crate::github::{GitHubError, IssueChange, Lookup};
use crate::manage::{Connection, ManageError, Services};
use crate::store::{Backoff, PushEnd, PushJob, StoreError};
use crate::sync::{Idle, PushPlan, push};
use crate::time::Timestamp;

/// How long a pusher holds an outbox entry before another may take it (one that died).
const PUSH_LEASE: chrono::Duration = chrono::Duration::minutes(2);

/// What one push did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "pushed", content = "message")]
pub enum Pushed {
    /// GitHub took the change.
    Sent,
    /// Nothing differed from the base (or the config is one-way, or the task has no link).
    Nothing,
    /// A conflict waits for a person, or the issue is gone: nothing was sent.
    Held,
    /// GitHub had changed: its snapshot was applied through the sync rules instead
    /// (converged, fast-forwarded, or a conflict), and GitHub was not touched.
    Pulled,
    /// GitHub refused the change; its message is on the task's link.
    Refused(String),
    /// A transient failure: the reconcile worker tries again later.
    Retrying(String),
    /// Nothing due for the task, or another pusher holds it.
    Busy,
    /// The config is disabled: the edit waits in the outbox.
    Waiting,
}

/// A push's result before it is recorded.
enum Outcome {
    Sent { sent: Option<crate::domain::Content>, issue: Box<RemoteIssue> },
    Dropped(Pushed),
    Refused(String),
    Retry { error: String, at: Timestamp },
    Release,
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

impl Services {
    /// Pushes the queued edit of `task_id` if it is due and free, and records the outcome.
    pub async fn push_task(&self, task_id: Uuid) -> Result<Pushed, StoreError> {
        let mut requests = 0;
        self.push_counted(task_id, Backoff::Respect, &mut requests).await
    }

    async fn push_counted(
        &self,
        task_id: Uuid,
        backoff: Backoff,
        requests: &mut u32,
    ) -> Result<Pushed, StoreError> {
        let Some(job) = self.store.claim_push(task_id, Timestamp::now(), PUSH_LEASE, backoff).await? else {
            return Ok(Pushed::Busy);
        };
        let (job, outcome) = self.push_claimed(job, requests).await?;
        let (end, pushed) = match &outcome {
            Outcome::Sent { sent, issue } => (PushEnd::Sent { sent: sent.as_ref(), issue }, Pushed::Sent),
            Outcome::Dropped(pushed) => (PushEnd::Dropped, pushed.clone()),
            Outcome::Refused(message) => {
                tracing::warn!(task_id = %task_id, error = %message, "GitHub refused a push");
                (PushEnd::Refused(message), Pushed::Refused(message.clone()))
            }
            Outcome::Retry { error, at } => {
                tracing::info!(task_id = %task_id, error = %error, retry_at = %at, "push failed; retrying later");
                (PushEnd::Retry { error, at: *at }, Pushed::Retrying(error.clone()))
            }
            Outcome::Release => (PushEnd::Release, Pushed::Waiting),
        };
        self.store.finish_push(&job, end).await?;
        Ok(pushed)
    }

    /// Pushes the project's waiting edits, oldest first (those whose retry time has come, or
    /// all of them with [`Backoff::Ignore`]), starting none once `deadline` has passed.
    pub async fn drain_pushes(
        &self,
        project_id: Uuid,
        backoff: Backoff,
        deadline: Option<Instant>,
    ) -> Result<Drained, StoreError> {
        let mut drained = Drained::default();
        for task_id in self.store.due_pushes(project_id, Timestamp::now(), backoff, 500).await? {
            if crate::reconcile::deadline_near(deadline) {
                break;
            }
            match self.push_counted(task_id, backoff, &mut drained.requests).await? {
                Pushed::Sent => drained.sent += 1,
                Pushed::Pulled => drained.pulled += 1,
                Pushed::Refused(_) => drained.refused += 1,
                Pushed::Retrying(_) => drained.retrying += 1,
                Pushed::Nothing | Pushed::Held | Pushed::Busy | Pushed::Waiting => {}
            }
        }
        Ok(drained)
    }

    /// Decides and sends one claimed push; returns the entry as it stands at the end (a pull
    /// may have changed its link) and what to record.
    async fn push_claimed(&self, job: PushJob, requests: &mut u32) -> Result<(PushJob, Outcome), StoreError> {
        let Some(config) = job.config.clone().filter(|c| c.two_way) else {
            return Ok((job, Outcome::Dropped(Pushed::Nothing)));
        };
        if !config.sync_enabled {
            return Ok((job, Outcome::Release));
        }
        let (number, outgoing) = match (job.link.as_ref(), job.pushing()) {
            (Some(link), Some(pushing)) => (link.number, crate::sync::outgoing(&pushing)),
            _ => return Ok((job, Outcome::Dropped(Pushed::Nothing))),
        };
        match outgoing {
            Err(Idle::Nothing) => return Ok((job, Outcome::Dropped(Pushed::Nothing))),
            Err(Idle::Hold) => return Ok((job, Outcome::Dropped(Pushed::Held))),
            Ok(_) => {}
        }
        let Connection { github, token: pat, .. } = match self.reach_github(&config.reach).await {
            Ok(connection) => connection,
            Err(e) => {
                let error = crate::telemetry::ErrorChain(&e).to_string();
                let at = backoff(job.attempts);
                return Ok((job, Outcome::Retry { error, at }));
            }
        };
        let repo = &config.repo;
        let read = match github.get_issue(repo, number, &pat, requests).await {
            Ok(Lookup::Found(issue)) => issue,
            Ok(Lookup::Gone) => {
                let message = "GitHub: the issue is gone (deleted, or no longer visible to the token)";
                return Ok((job, Outcome::Refused(message.into())));
            }
            Ok(Lookup::Moved(_)) => {
                let message = "GitHub: the issue was transferred to another repository";
                return Ok((job, Outcome::Refused(message.into())));
            }
            Err(e) => return Ok(self.failed_with(job, &config.reach, &pat, e).await),
        };
        let remote = match read.into_remote(github.web_host(), repo) {
            Ok(Some(remote)) => remote,
            Ok(None) => return Ok((job, Outcome::Dropped(Pushed::Nothing))),
            Err(e) => {
                return Ok((job, Outcome::Refused(format!("GitHub sent an issue ghsync cannot read: {e}"))));
            }
        };
        let mut job = job;
        let Some(pushing) = job.pushing() else {
            return Ok((job, Outcome::Dropped(Pushed::Nothing)));
        };
        let mut pulled = false;
        let mut plan = push(&pushing, &remote.content, remote.state);
        if plan == PushPlan::Pull {
            // GitHub changed since the last sync: the sync rules decide, GitHub is not touched.
            // A pull that leaves GitHub holding the base (it only imported a state change)
            // lets the edit go out with the same read.
            self.store.apply_page(job.project_id, std::slice::from_ref(&remote)).await?;
            pulled = true;
            match self.store.read_push(job.task_id).await? {
                Some(again) => job = again,
                None => return Ok((job, Outcome::Dropped(Pushed::Pulled))),
            }
            plan = match job.pushing() {
                Some(pushing) => push(&pushing, &remote.content, remote.state),
                None => PushPlan::Idle(Idle::Nothing),
            };
        }
        let out = match plan {
            PushPlan::Send(out) => (out.content.cloned(), out.state),
            PushPlan::Idle(_) | PushPlan::Pull if pulled => {
                return Ok((job, Outcome::Dropped(Pushed::Pulled)));
            }
            PushPlan::Idle(Idle::Hold) => return Ok((job, Outcome::Dropped(Pushed::Held))),
            PushPlan::Idle(Idle::Nothing) | PushPlan::Pull => {
                return Ok((job, Outcome::Dropped(Pushed::Nothing)));
            }
        };
        let change = IssueChange::of(out.0.as_ref(), out.1);
        match github.update_issue(repo, number, &pat, &change, requests).await {
            Ok(answer) => match answer.into_remote(github.web_host(), repo) {
                Ok(Some(issue)) => Ok((job, Outcome::Sent { sent: out.0, issue: Box::new(issue) })),
                Ok(None) => Ok((job, Outcome::Dropped(Pushed::Nothing))),
                Err(e) => Ok((
                    job,
                    Outcome::Refused(format!("GitHub answered with an issue ghsync cannot read: {e}")),
                )),
            },
            Err(e) => Ok(self.failed_with(job, &config.reach, &pat, e).await),
        }
    }

    /// A failed request of a push ([`failed`]); a refused installation token is forgotten and
    /// the push retried with a new one rather than given up.
    async fn failed_with(
        &self,
        job: PushJob,
        reach: &crate::domain::Reach,
        token: &Pat,
        e: GitHubError,
    ) -> (PushJob, Outcome) {
        if self.forget_refused(reach, token, &e).await {
            let error = crate::telemetry::ErrorChain(&e).to_string();
            let at = backoff(job.attempts);
            return (job, Outcome::Retry { error, at });
        }
        failed(job, e)
    }

    /// An installation token GitHub refused (revoked) is not used again; true when it was
    /// forgotten (the next attempt, with a new token, may well succeed).
    pub(crate) async fn forget_refused(
        &self,
        reach: &crate::domain::Reach,
        token: &Pat,
        e: &GitHubError,
    ) -> bool {
        match (e, reach.installation_id) {
            (GitHubError::BadCredentials, Some(installation)) => {
                self.forget_installation_token(installation, token).await
            }
            _ => false,
        }
    }

    /// Opens an issue for an unlinked task of a two-way project and links it
    /// (`POST /api/tasks/{id}/github-issue`). A status that asks for a closed issue is
    /// pushed right after.
    pub async fn publish_task(&self, task_id: Uuid) -> Result<Task, ManageError> {
        let task = self.store.get_task(task_id).await?;
        if self.store.get_metadata(task_id).await?.is_some() {
            return Err(
                StoreError::StateConflict(format!("task {task_id} is linked to an issue already")).into()
            );
        }
        let config = self.store.find_config(task.project_id).await?.ok_or_else(|| {
            StoreError::StateConflict("the task's project has no GitHub sync config".into())
        })?;
        if !config.two_way {
            return Err(StoreError::StateConflict(
                "two-way sync is off for the task's project: turn it on to publish tasks".into(),
            )
            .into());
        }
        if !self.store.claim_publish(task_id, task.project_id, Timestamp::now(), PUSH_LEASE).await? {
            return Err(
                StoreError::StateConflict(format!("task {task_id} is being published already")).into()
            );
        }
        let published = self.publish_claimed(&task, &config).await;
        if published.is_err() {
            self.store.release_publish(task_id).await?;
        }
        let task = published?;
        // A closed column: the new issue is open, so the state goes out as a push.
        if let Err(e) = self.push_task(task_id).await {
            tracing::warn!(error = %crate::telemetry::ErrorChain(&e), "pushing a published task's state failed");
        }
        Ok(task)
    }

    async fn publish_claimed(
        &self,
        task: &Task,
        config: &crate::domain::GitHubSyncConfig,
    ) -> Result<Task, ManageError> {
        let (repo, c) = self.repo_and_connection(config).await?;
        let created =
            c.github.create_issue(&repo, &task.content(), &c.token, &mut 0).await.map_err(|e| match e {
                GitHubError::Refused { .. } | GitHubError::BadCredentials => ManageError::GitHubRefused(e),
                e => ManageError::GitHubUnavailable(e),
            })?;
        let issue = created.into_remote(c.github.web_host(), &repo)?.ok_or_else(|| {
            crate::domain::ValidationError::new("issue", "GitHub answered with a pull request")
        })?;
        Ok(self.store.link_published(task.id, &issue).await?)
    }
}

/// A failed request: a refusal is recorded, anything transient is retried (a rate limit at
/// the time GitHub names).
fn failed(job: PushJob, e: GitHubError) -> (PushJob, Outcome) {
    let message = crate::telemetry::ErrorChain(&e).to_string();
    let outcome = match &e {
        GitHubError::RateLimited { retry_after, reset_at, .. } => {
            let at = retry_after
                .and_then(|d| chrono::Duration::from_std(d).ok())
                .map(|d| Timestamp::now().plus(d))
                .or(*reset_at)
                .unwrap_or_else(|| backoff(job.attempts));
            Outcome::Retry { error: message, at }
        }
        e if e.is_transient() => Outcome::Retry { error: message, at: backoff(job.attempts) },
        _ => Outcome::Refused(message),
    };
    (job, outcome)
}

/// When a push that failed `attempts` times before is tried again: 30 s, doubling, at most
/// an hour.
fn backoff(attempts: i64) -> Timestamp {
    let exponent = attempts.clamp(0, 7) as u32;
    let delay = (chrono::Duration::seconds(30) * 2i32.pow(exponent)).min(chrono::Duration::hours(1));
    Timestamp::now().plus(delay)
}
