//! The element writes of a push (docs/fields.md, "Pushed as elements"): a task's labels and
//! assignees reach its issue as the elements that changed, never as whole sets, so a change
//! someone made on GitHub meanwhile is not undone, and without a read first. Labels the
//! repository lacks are created before they are added. Every write is idempotent (adding a
//! label it has, removing one it lacks), so a lost answer is harmless: the write goes again.
//! GitHub's answers are compared with what was asked; what it left out (an assignee it could
//! not assign) is a visible refusal, never a new base.

use std::future::Future;

use crate::contract::Pushed;
use crate::github::{GhIssue, GitHubError};
use crate::services::push::{Attempt, write_takes};
use crate::services::{Connection, Services};
use crate::store::{Finished, PushConfig, PushJob, StoreError};
use crate::sync::fields::{Elements, SetChange, labels_to_create, missing_from_answer};
use crate::sync::{Failure, Fence};

/// How the element writes went: `Ok` with the entry as it now stands once recorded (and the
/// issue as GitHub answered the last assignee write, if one went), or `Err` with how the push
/// ended (the failure recorded as such).
pub(crate) type ElementsEnd = Result<(Box<PushJob>, Option<GhIssue>), (Pushed, Finished)>;

/// A write that did not go as asked.
enum Stop {
    /// GitHub failed or refused the request.
    GitHub(GitHubError),
    /// The push's deadline came before GitHub answered (the write may have landed).
    Deadline,
    /// GitHub answered without what was asked.
    Dropped(String),
    /// The store failed.
    Store(StoreError),
}

impl Services {
    /// Sends `elements`, the element writes `job` waits for ([`PushJob::elements`]), records
    /// what GitHub took, and returns the entry as it then stands (or how the push ended).
    pub(crate) async fn push_elements(
        &self,
        (job, elements): (&PushJob, &Elements),
        config: &PushConfig,
        connection: &Connection,
        attempt: &Attempt,
        requests: &mut u32,
    ) -> Result<ElementsEnd, StoreError> {
        match self.store.hold_for_elements(job, write_takes(attempt.deadline)).await? {
            Fence::Held => {}
            Fence::Lost => return Ok(Err((Pushed::Busy, Finished::Lost))),
            _ => {
                let error = "the claim would run out before the writes: the worker pushes them";
                let (pushed, finished) = self.failed(job, Failure::HandedOver, error, false).await?;
                return Ok(Err((pushed, finished)));
            }
        }
        let (mut done, mut answer) = (Elements::default(), None);
        let taken = (&mut done, &mut answer);
        let stop = self.write_elements(job, config, connection, attempt, elements, taken, requests).await;
        // What GitHub took is recorded even when a later write failed (each is idempotent).
        let fresh = if done.is_empty() { None } else { self.store.record_elements(job, &done).await? };
        let Err(stop) = stop else {
            return Ok(match fresh {
                Some(fresh) => Ok((Box::new(fresh), answer)),
                None if done.is_empty() => Ok((Box::new(job.clone()), answer)),
                None => Err((Pushed::Busy, Finished::Lost)),
            });
        };
        let job = fresh.as_ref().unwrap_or(job);
        let (pushed, finished) = match stop {
            Stop::Store(e) => return Err(e),
            Stop::Deadline => {
                let error = "GitHub's answer to a label or assignee write did not come within the push's deadline: \
                             it goes again (adding or removing an element twice changes nothing)";
                self.failed(job, Failure::Transient, error, false).await?
            }
            Stop::Dropped(error) => self.failed(job, Failure::Refused, &error, false).await?,
            Stop::GitHub(e) => self.github_failed(job, config, connection, e, false, requests).await?,
        };
        Ok(Err((pushed, finished)))
    }

    /// After element writes with nothing else to send: the issue as GitHub now holds it (the
    /// last assignee write's answer, else a read) is applied like a push's read, so GitHub's
    /// time of the writes is known and a delivery from before them is stale, never a new base
    /// (label answers carry no time). A read that does not show what was written (a lagging
    /// replica, or a change made beside it) is not applied: the next snapshot tells. Returns
    /// the entry as it then stands; `None` when the claim was lost.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn after_elements(
        &self,
        job: &PushJob,
        connection: &Connection,
        repo: &crate::domain::RepoRef,
        number: i64,
        (written, answer): (&Elements, Option<GhIssue>),
        attempt: &Attempt,
        requests: &mut u32,
    ) -> Result<Option<PushJob>, StoreError> {
        let github = &connection.github;
        let issue = match answer {
            Some(issue) => Some(issue),
            None => match tokio::time::timeout_at(
                attempt.deadline,
                github.get_issue(repo, number, &connection.token, requests),
            )
            .await
            {
                Ok(Ok(crate::github::Lookup::Found(issue))) => Some(issue),
                // Slow, refused or gone: the writes are recorded; the next snapshot tells.
                _ => None,
            },
        };
        let Some(Ok(Some(issue))) = issue.map(|i| i.into_remote(github.web_host(), repo)) else {
            return Ok(Some(job.clone()));
        };
        let labels = crate::sync::fields::label_names(&issue.extras.labels);
        let shows = missing_from_answer(&written.labels, &labels).is_empty()
            && missing_from_answer(&written.assignees, &issue.extras.assignees).is_empty();
        if !shows {
            return Ok(Some(job.clone()));
        }
        self.store.push_read(job, &issue).await
    }

    /// The writes themselves, in order: labels created, labels added (one request), labels
    /// removed (one each), assignees added, assignees removed. `done` gathers what GitHub took,
    /// `answer` the issue as the last assignee write left it.
    #[allow(clippy::too_many_arguments)]
    async fn write_elements(
        &self,
        job: &PushJob,
        config: &PushConfig,
        connection: &Connection,
        attempt: &Attempt,
        elements: &Elements,
        (done, answer): (&mut Elements, &mut Option<GhIssue>),
        requests: &mut u32,
    ) -> Result<(), Stop> {
        let (github, token, repo) = (&connection.github, &connection.token, &config.repo);
        let number = job.link.as_ref().map_or(0, |l| l.number);
        let deadline = attempt.deadline;
        if !elements.labels.add.is_empty() {
            let known = self.store.choices(job.project_id).await.map_err(Stop::Store)?.labels;
            // Not listed yet: each is created (a 422 "already exists" is fine).
            let known: Vec<String> = known.unwrap_or_default().into_iter().map(|l| l.name).collect();
            for name in labels_to_create(&elements.labels.add, &known) {
                within(deadline, github.create_label(repo, &name, token, requests)).await.map_err(|stop| match stop {
                    Stop::GitHub(GitHubError::Refused { status: 403, message }) => Stop::Dropped(format!(
                        "GitHub refused to create the label {name:?} (HTTP 403: {message}): creating labels takes \
                         write access to the repository's issues (a fine-grained token's or the App's \
                         \"Issues: write\" permission)"
                    )),
                    stop => stop,
                })?;
            }
            let held =
                within(deadline, github.add_labels(repo, number, &elements.labels.add, token, requests))
                    .await?;
            let asked = SetChange { add: elements.labels.add.clone(), remove: vec![] };
            let missing = missing_from_answer(&asked, &held);
            done.labels.add = elements.labels.add.iter().filter(|l| !missing.contains(l)).cloned().collect();
            if !missing.is_empty() {
                return Err(Stop::Dropped(format!("GitHub did not add the labels {}", missing.join(", "))));
            }
        }
        for name in &elements.labels.remove {
            within(deadline, github.remove_label(repo, number, name, token, requests)).await?;
            done.labels.remove.push(name.clone());
        }
        for (add, logins) in [(true, &elements.assignees.add), (false, &elements.assignees.remove)] {
            if logins.is_empty() {
                continue;
            }
            let issue =
                within(deadline, github.change_assignees(repo, number, add, logins, token, requests)).await?;
            let held: Vec<String> = issue.assignees.iter().map(|u| u.login.clone()).collect();
            *answer = Some(issue);
            let asked = if add {
                SetChange { add: logins.clone(), remove: vec![] }
            } else {
                SetChange { add: vec![], remove: logins.clone() }
            };
            let missing = missing_from_answer(&asked, &held);
            let taken: Vec<String> = logins.iter().filter(|l| !missing.contains(l)).cloned().collect();
            if add {
                done.assignees.add = taken
            } else {
                done.assignees.remove = taken
            }
            if !missing.is_empty() {
                let what = if add { "assign" } else { "unassign" };
                return Err(Stop::Dropped(format!(
                    "GitHub did not {what} {} (not assignable in the repository?)",
                    missing.join(", ")
                )));
            }
        }
        Ok(())
    }
}

/// A request answered by `deadline`, or [`Stop::Deadline`].
async fn within<T>(
    deadline: tokio::time::Instant,
    request: impl Future<Output = Result<T, GitHubError>>,
) -> Result<T, Stop> {
    match tokio::time::timeout_at(deadline, request).await {
        Err(_) => Err(Stop::Deadline),
        Ok(answer) => answer.map_err(Stop::GitHub),
    }
}
