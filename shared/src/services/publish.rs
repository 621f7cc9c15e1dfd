//! Publishing: an unlinked task of a two-way project opened as a new issue and linked
//! (`POST /api/tasks/{id}/github-issue`), exactly once. The post is recorded before it goes
//! out; when its answer is lost, the issue is looked for by its marker among the newest issues
//! the token's account opened before anything is posted again. A new issue keeps the
//! account's pace under GitHub's limits on content-creating requests, as board comments do.

use uuid::Uuid;

use crate::domain::{RemoteIssue, Task};
use crate::github::GitHubError;
use crate::services::push::{
    Attempt, BUDGET_SPENT, Published, PushOptions, chain, failure_of, reach_failure, write_takes,
};
use crate::services::{Connection, ManageError, Services};
use crate::store::{PushClaim, PushConfig, PushEnd, PushJob, StoreError};
use crate::sync::publish::{PublishStep, publish_step};
use crate::sync::{Failure, Fence};
use crate::time::Timestamp;

impl Services {
    /// Opens an issue for an unlinked task of a two-way project and links it
    /// (`POST /api/tasks/{id}/github-issue`); a column that asks for a closed issue is pushed
    /// right after. Idempotent: a second request while one runs is refused, and when GitHub's
    /// answer is lost the issue is looked for by its marker before anything is posted again.
    pub async fn publish_task(&self, task_id: Uuid) -> Result<Published, ManageError> {
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
        let options = self.push_options;
        let job = match self.store.claim_publish(task_id, Timestamp::now(), options.lease).await? {
            PushClaim::Job(job) => job,
            PushClaim::Parked => {
                return Err(
                    StoreError::StateConflict("two-way sync is off for the task's project".into()).into()
                );
            }
            PushClaim::NotDue => {
                return Err(StoreError::StateConflict(format!(
                    "task {task_id} is being published: GitHub's answer to its post did not come; the worker \
                     finishes it, looking for the issue before it ever posts again"
                ))
                .into());
            }
            _ => {
                return Err(
                    StoreError::StateConflict(format!("task {task_id} is being published already")).into()
                );
            }
        };
        let Some(push_config) = job.config.clone() else {
            return Err(
                StoreError::StateConflict("the task's project has no GitHub sync config".into()).into()
            );
        };
        let published = self.publish_claimed(*job, &push_config, &options, &mut 0).await?;
        if let Published::Linked(_) = published {
            // A closed column: the new issue is open, so the state goes out as a push.
            if let Err(e) = self.push_task(task_id).await {
                tracing::warn!(error = %crate::telemetry::ErrorChain(&e), "pushing a published task's state failed");
            }
            return Ok(Published::Linked(self.store.get_task(task_id).await?));
        }
        Ok(published)
    }

    /// A claimed publication: looks for the issue an earlier post may have opened, else posts
    /// it (recorded first), and links what GitHub answers.
    pub(crate) async fn publish_claimed(
        &self,
        job: PushJob,
        config: &PushConfig,
        options: &PushOptions,
        requests: &mut u32,
    ) -> Result<Published, ManageError> {
        let task = self.store.get_task(job.task_id).await?;
        let connection = match self.reach_github(&config.reach).await {
            Ok(connection) => connection,
            Err(e @ ManageError::Store(_)) => return Err(e),
            Err(e) if reach_failure(&e) == Failure::Refused => {
                self.store.release_publish(&job).await?;
                return Err(e);
            }
            Err(e) => return self.publication_waits(&job, Failure::Transient, &chain(&e), task).await,
        };
        let (github, repo) = (&connection.github, &config.repo);
        let attempt = Attempt::start(options);
        if publish_step(job.in_flight.is_some()) == PublishStep::LookForMarker {
            // The look-up is the publication's read: bounded like a push's.
            let found = tokio::time::timeout_at(
                attempt.read_until(),
                self.find_published(&job, config, &connection, requests),
            )
            .await;
            match found {
                Err(_) => {
                    let (failure, error) = attempt.read_timed_out();
                    return self.publication_waits(&job, failure, error, task).await;
                }
                Ok(Ok(Some(issue))) => return self.linked(&job, &issue, task).await,
                Ok(Ok(None)) => {}
                Ok(Err(e @ ManageError::Store(_))) => return Err(e),
                Ok(Err(e)) => {
                    return self.publication_waits(&job, Failure::Transient, &chain(&e), task).await;
                }
            }
            if attempt.budget_spent() {
                return self.publication_waits(&job, Failure::HandedOver, BUDGET_SPENT, task).await;
            }
        }
        // A new issue creates content: it keeps the account's pace, as board comments do.
        let account = crate::store::account_of(config.reach.installation_id, &connection.token);
        if let Some(at) = self.paced_write(&account, true, options, attempt.deadline).await? {
            let error = "paced under GitHub's limits on content-creating requests: it goes shortly";
            return self.publication_waits(&job, Failure::Busy { until: at }, error, task).await;
        }
        match self.store.begin_publish(&job, &job.posted(), write_takes(attempt.deadline)).await? {
            Fence::Held => {}
            Fence::Lost => return Ok(Published::Pending(task)),
            Fence::TooLate => {
                let error = "the claim would run out before the post: the worker publishes it";
                return self.publication_waits(&job, Failure::HandedOver, error, task).await;
            }
        }
        let created = tokio::time::timeout_at(
            attempt.deadline,
            github.create_issue(repo, &job.local, job.task_id, &connection.token, requests),
        )
        .await;
        let e = match created {
            Ok(Ok(created)) => {
                let issue = created.into_remote(github.web_host(), repo)?.ok_or_else(|| {
                    crate::domain::ValidationError::new("issue", "GitHub answered with a pull request")
                })?;
                return self.linked(&job, &issue, task).await;
            }
            Ok(Err(e)) => e,
            Err(_) => {
                GitHubError::Malformed("GitHub's answer did not come within the push's deadline".into())
            }
        };
        let refused = matches!(failure_of(&e), Failure::Refused | Failure::Missing)
            && !self.forget_refused(&config.reach, &connection.token, &e).await;
        if refused {
            // Nothing was created: the person hears why.
            self.store.release_publish(&job).await?;
            return Err(ManageError::GitHubRefused(e));
        }
        // The issue may exist: it is looked for by its marker, never posted again blindly.
        let failure = match failure_of(&e) {
            Failure::RateLimited(limit) => {
                // A secondary limit holds the whole account, its comments too.
                let until = crate::sync::after_rate_limit(limit, job.attempts, Timestamp::now());
                self.store.hold_writes(&account, until).await?;
                Failure::RateLimited(limit)
            }
            _ => Failure::Transient,
        };
        let error = chain(&e);
        tracing::info!(task_id = %job.task_id, error, "publication waits: GitHub's answer was lost");
        let job = PushJob { in_flight: Some(job.posted()), ..job };
        self.publication_waits(&job, failure, &error, task).await
    }

    /// Records that a publication waits for the worker (a post that went out is looked for by
    /// its marker first).
    async fn publication_waits(
        &self,
        job: &PushJob,
        failure: Failure,
        error: &str,
        task: Task,
    ) -> Result<Published, ManageError> {
        let end = PushEnd::Failed { failure, error, wrote: job.in_flight.is_some() };
        self.store.finish_push(job, end).await?;
        Ok(Published::Pending(task))
    }

    async fn linked(&self, job: &PushJob, issue: &RemoteIssue, task: Task) -> Result<Published, ManageError> {
        Ok(match self.store.link_published(job, issue).await? {
            Some(task) => Published::Linked(task),
            None => Published::Pending(task),
        })
    }

    /// The issue an earlier post opened for the task, found by its marker among the newest
    /// issues the token's account opened.
    async fn find_published(
        &self,
        job: &PushJob,
        config: &PushConfig,
        connection: &Connection,
        requests: &mut u32,
    ) -> Result<Option<RemoteIssue>, ManageError> {
        let github = &connection.github;
        let login = match &connection.installation {
            Some(_) => github.app_bot_login(&self.app_jwt().await?, requests).await,
            None => github.token_login(&connection.token, requests).await,
        }
        .map_err(ManageError::unavailable("looking for an issue being published"))?;
        let issues = github
            .issues_created_by(&config.repo, &login, &connection.token, requests)
            .await
            .map_err(ManageError::unavailable("looking for an issue being published"))?;
        Ok(issues
            .into_iter()
            .filter_map(|i| i.into_remote(github.web_host(), &config.repo).ok().flatten())
            .find(|i| i.marker == Some(job.task_id)))
    }
}
