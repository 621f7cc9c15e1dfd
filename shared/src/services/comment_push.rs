//! The pusher of board comments (docs/comments.md, "From the board"): posts a board comment
//! to its task's issue once, sends its edits and its deletion, and never overwrites what
//! GitHub changed meanwhile.
//!
//! A push claims the comment's entry (a token and a lease, as for tasks) and, within one
//! deadline, reads and writes:
//! - a post is recorded before it goes out; when its answer is lost, the issue's comments
//!   since then are searched for the comment's marker before anything is posted again (and
//!   the post's echo, however early, links to the comment instead of adding one);
//! - an edit or a deletion reads the comment first and writes only while GitHub still holds
//!   the base; otherwise the board takes GitHub's change, or both sides wait as a conflict.
//!
//! Every write is paced per GitHub account under GitHub's secondary limits
//! (`Store::reserve_write`); a paced entry waits, it does not fail.

use uuid::Uuid;

use crate::domain::RemoteComment;
use crate::github::{CommentLookup, GitHubError};
use crate::services::push::{
    Attempt, BUDGET_SPENT, Drained, PushOptions, chain, failure_of, reach_failure, write_takes,
};
use crate::services::{Connection, ManageError, Services};
use crate::store::{CommentClaim, CommentEnd, CommentJob, PushConfig, StoreError, account_of};
use crate::sync::board_comments::{
    CommentPush, PostStep, Side, comment_push, post_step, posted_body, read_posted,
};
use crate::sync::{Backoff, Failure, Fence};
use crate::time::{Deadline, Timestamp};

/// What pushing a board comment did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommentPushed {
    /// Posted, edited or deleted on GitHub (or a lost post found).
    Sent,
    /// GitHub's side changed: the board took it, agreed, or a conflict now holds both.
    Pulled,
    Refused(String),
    Retrying(String),
    /// Paced under GitHub's limits: it goes then.
    Paced(Timestamp),
    /// Waits for something else: the task's publication, two-way sync, its retry time.
    Waiting,
    Busy,
    Nothing,
}

/// Everything a claimed push works with.
struct Push<'a> {
    job: CommentJob,
    config: &'a PushConfig,
    connection: &'a Connection,
    account: String,
    number: i64,
    attempt: Attempt,
    options: &'a PushOptions,
}

impl Services {
    /// Pushes board comment `comment_id`'s waiting change, paced by `options`: claims its
    /// entry, pushes, and goes again while a step succeeded and more waits (an edit made
    /// meanwhile), at most `options.rounds` times.
    pub async fn push_comment(
        &self,
        comment_id: Uuid,
        options: &PushOptions,
        backoff: Backoff,
        requests: &mut u32,
    ) -> Result<CommentPushed, StoreError> {
        let mut pushed = CommentPushed::Nothing;
        for round in 0..options.rounds.max(1) {
            let backoff = if round == 0 { backoff } else { Backoff::Respect };
            let claimed =
                self.store.claim_comment_push(comment_id, Timestamp::now(), options.lease, backoff).await?;
            let job = match claimed {
                CommentClaim::Job(job) => *job,
                CommentClaim::Busy { .. } if round == 0 => return Ok(CommentPushed::Busy),
                CommentClaim::NotDue | CommentClaim::Parked if round == 0 => {
                    return Ok(CommentPushed::Waiting);
                }
                _ => return Ok(pushed),
            };
            let this = self.push_comment_claimed(job, options, requests).await?;
            let again = matches!(this, CommentPushed::Sent | CommentPushed::Pulled);
            if round == 0 || this != CommentPushed::Nothing {
                pushed = this;
            }
            if !again {
                break;
            }
        }
        Ok(pushed)
    }

    /// Pushes the project's waiting board comments, oldest first (each task's posts in the
    /// thread's order), starting none once `deadline` has passed; stops when the account
    /// must wait longer than the pusher waits for its pace.
    pub async fn drain_comment_pushes(
        &self,
        project_id: Uuid,
        backoff: Backoff,
        deadline: Deadline,
    ) -> Result<Drained, StoreError> {
        let mut drained = Drained::default();
        let options = self.push_options;
        loop {
            let due = self.store.due_comment_pushes(project_id, Timestamp::now(), backoff, 500).await?;
            let mut progressed = false;
            for comment_id in due {
                if deadline.passed() {
                    return Ok(drained);
                }
                match self.push_comment(comment_id, &options, backoff, &mut drained.requests).await? {
                    CommentPushed::Sent => {
                        drained.sent += 1;
                        progressed = true;
                    }
                    CommentPushed::Pulled => drained.pulled += 1,
                    CommentPushed::Refused(_) => drained.refused += 1,
                    CommentPushed::Retrying(_) => drained.retrying += 1,
                    // The account waits: so do the project's other writes.
                    CommentPushed::Paced(_) => return Ok(drained),
                    CommentPushed::Waiting | CommentPushed::Busy | CommentPushed::Nothing => {}
                }
            }
            // A thread's next post is due once the one before it went.
            if !progressed {
                return Ok(drained);
            }
        }
    }

    async fn push_comment_claimed(
        &self,
        job: CommentJob,
        options: &PushOptions,
        requests: &mut u32,
    ) -> Result<CommentPushed, StoreError> {
        let config = match job.config.clone() {
            Some(config) if config.two_way && config.sync_enabled => config,
            _ => return self.comment_ended(&job, CommentEnd::Release, CommentPushed::Waiting).await,
        };
        let Some((number, live)) = job.issue else {
            // Not published yet: its comments go once it is.
            return self.comment_ended(&job, CommentEnd::Release, CommentPushed::Waiting).await;
        };
        if !live {
            let error = "the task's issue is gone from GitHub: the comment stays on the board";
            let posted = job.posted_at.is_some();
            return self.comment_failed(&job, Failure::Refused, error, posted).await;
        }
        if matches!(job.next(), CommentPush::Nothing | CommentPush::TakeGitHub | CommentPush::Conflict) {
            return self.comment_ended(&job, CommentEnd::Settle, CommentPushed::Nothing).await;
        }
        let connection = match self.reach_github(&config.reach).await {
            Ok(connection) => connection,
            Err(ManageError::Store(e)) => return Err(e),
            Err(e) => {
                let posted = job.posted_at.is_some();
                return self.comment_failed(&job, reach_failure(&e), &chain(&e), posted).await;
            }
        };
        let push = Push {
            account: account_of(config.reach.installation_id, &connection.token),
            job,
            config: &config,
            connection: &connection,
            number,
            attempt: Attempt::start(options),
            options,
        };
        match push.job.github_id {
            None => self.post_comment(push, requests).await,
            Some(id) => self.change_comment(push, id, requests).await,
        }
    }

    /// A board comment not on GitHub yet: found (an earlier post whose answer was lost), or
    /// posted.
    async fn post_comment(&self, push: Push<'_>, requests: &mut u32) -> Result<CommentPushed, StoreError> {
        let (github, repo, token) = (&push.connection.github, &push.config.repo, &push.connection.token);
        let job = &push.job;
        if let (PostStep::LookForMarker, Some(posted_at)) =
            (post_step(job.posted_at.is_some(), job.board()), job.posted_at)
        {
            // The search is the post's read: from a minute before it, so a clock apart does not hide it.
            let since = posted_at.minus(chrono::Duration::minutes(1));
            let listed = tokio::time::timeout_at(
                push.attempt.read_until(),
                github.issue_comments_since(repo, push.number, since, token, requests),
            )
            .await;
            let found = match listed {
                Err(_) => {
                    let (failure, error) = push.attempt.read_timed_out();
                    return self.comment_failed(job, failure, error, true).await;
                }
                Ok(Err(e)) => return self.comment_github_failed(&push, e, true).await,
                Ok(Ok(listed)) => listed
                    .into_iter()
                    .filter_map(|c| c.into_remote(github.web_host(), repo).ok())
                    .find(|c| read_posted(&c.body).marker == Some(job.comment_id)),
            };
            if let Some(found) = found {
                tracing::info!(comment_id = %job.comment_id, github_comment_id = found.id, "a post whose answer was lost was found by its marker");
                return self
                    .comment_ended(job, CommentEnd::Holds { comment: &found }, CommentPushed::Sent)
                    .await;
            }
            if push.attempt.budget_spent() {
                return self.comment_failed(job, Failure::HandedOver, BUDGET_SPENT, true).await;
            }
        }
        if let Some(at) = self.paced(&push, true).await? {
            return self.comment_ended(job, CommentEnd::Paced { at }, CommentPushed::Paced(at)).await;
        }
        let fresh =
            match self.store.begin_comment_write(job, true, write_takes(push.attempt.deadline)).await? {
                Ok(fresh) => fresh,
                Err(Fence::Lost) => return Ok(CommentPushed::Busy),
                Err(_) => {
                    let error = "the claim would run out before the post: the worker posts it";
                    return self
                        .comment_failed(job, Failure::HandedOver, error, job.posted_at.is_some())
                        .await;
                }
            };
        if fresh.decided() != CommentPush::Post {
            // Deleted (or linked by its echo) meanwhile: nothing is posted; an earlier post
            // whose answer was lost was not found.
            let end = if fresh.posted_at.is_some() { CommentEnd::NotPosted } else { CommentEnd::Settle };
            return self.comment_ended(&fresh, end, CommentPushed::Nothing).await;
        }
        let body = posted_body(&fresh.author, &fresh.body, fresh.comment_id);
        let answer = tokio::time::timeout_at(
            push.attempt.deadline,
            github.create_comment(repo, push.number, &body, token, requests),
        )
        .await;
        match answer {
            Ok(Ok(created)) => match created.into_remote(github.web_host(), repo) {
                Ok(created) => {
                    self.comment_ended(&fresh, CommentEnd::Holds { comment: &created }, CommentPushed::Sent)
                        .await
                }
                Err(e) => {
                    let error = format!("GitHub answered the post with a comment ghsync cannot read: {e}");
                    self.comment_failed(&fresh, Failure::Transient, &error, true).await
                }
            },
            Ok(Err(e)) => {
                // A refusal or a rate limit created nothing; anything else may have.
                let landed =
                    !matches!(failure_of(&e), Failure::Refused | Failure::Missing | Failure::RateLimited(_));
                self.comment_github_failed(&Push { job: fresh, ..push }, e, landed).await
            }
            Err(_) => {
                let error = "GitHub's answer to the post did not come within the push's deadline: the next \
                             attempt looks for the comment before it ever posts again";
                self.comment_failed(&fresh, Failure::Transient, error, true).await
            }
        }
    }

    /// A board comment on GitHub, edited or deleted on the board: GitHub's copy is read, and
    /// the change goes only while it still holds the base.
    async fn change_comment(
        &self,
        push: Push<'_>,
        id: i64,
        requests: &mut u32,
    ) -> Result<CommentPushed, StoreError> {
        let (github, repo, token) = (&push.connection.github, &push.config.repo, &push.connection.token);
        let job = &push.job;
        // The pace first: the read and the write then go back to back.
        if let Some(at) = self.paced(&push, false).await? {
            return self.comment_ended(job, CommentEnd::Paced { at }, CommentPushed::Paced(at)).await;
        }
        let read =
            tokio::time::timeout_at(push.attempt.read_until(), github.get_comment(repo, id, token, requests))
                .await;
        let current: Option<RemoteComment> = match read {
            Err(_) => {
                let (failure, error) = push.attempt.read_timed_out();
                return self.comment_failed(job, failure, error, false).await;
            }
            Ok(Err(e)) => return self.comment_github_failed(&push, e, false).await,
            Ok(Ok(CommentLookup::Found(c))) => match c.into_remote(github.web_host(), repo) {
                Ok(c) => Some(c),
                Err(e) => {
                    let error = format!("GitHub sent a comment ghsync cannot read: {e}");
                    return self.comment_failed(job, Failure::Transient, &error, false).await;
                }
            },
            Ok(Ok(CommentLookup::Gone)) => None,
            Ok(Ok(CommentLookup::Moved)) => {
                let error = "the comment's issue moved to another repository: the change stays on the board";
                return self.comment_failed(job, Failure::Refused, error, false).await;
            }
        };
        let shown = current.as_ref().map(|c| shown_of(job, &c.body));
        let base = job.base.as_deref().unwrap_or_default();
        let github_side = shown.map_or(Side::Deleted, Side::Body);
        let pulled = CommentEnd::Pulled { comment: current.as_ref() };
        if !matches!(
            comment_push(job.board(), Some(base), github_side),
            CommentPush::Edit | CommentPush::Delete
        ) {
            // GitHub changed it (or holds the board's change already): no write.
            return self.comment_ended(job, pulled, CommentPushed::Pulled).await;
        }
        if push.attempt.budget_spent() {
            return self.comment_failed(job, Failure::HandedOver, BUDGET_SPENT, false).await;
        }
        let fresh =
            match self.store.begin_comment_write(job, false, write_takes(push.attempt.deadline)).await? {
                Ok(fresh) => fresh,
                Err(Fence::Lost) => return Ok(CommentPushed::Busy),
                Err(_) => {
                    let error = "the claim would run out before the write: the worker sends it";
                    return self.comment_failed(job, Failure::HandedOver, error, false).await;
                }
            };
        // GitHub's side changed since the read (a delivery applied it: a conflict, a deletion, a
        // new base): nothing is written, the next round reads again.
        if fresh.conflict || fresh.github_deleted || fresh.base != job.base {
            return self.comment_ended(&fresh, CommentEnd::Settle, CommentPushed::Pulled).await;
        }
        // The board's side as it is when it writes (an edit or a deletion made since the read).
        let write = match comment_push(fresh.board(), Some(base), github_side) {
            now @ (CommentPush::Edit | CommentPush::Delete) => now,
            _ => return self.comment_ended(&fresh, CommentEnd::Settle, CommentPushed::Nothing).await,
        };
        let sent = match write {
            CommentPush::Edit => {
                let body = posted_body(&fresh.author, &fresh.body, fresh.comment_id);
                let answer = tokio::time::timeout_at(
                    push.attempt.deadline,
                    github.update_comment(repo, id, &body, token, requests),
                )
                .await;
                match answer {
                    Ok(Ok(c)) => c.into_remote(github.web_host(), repo).map(Some).map_err(|e| e.to_string()),
                    Ok(Err(e)) => {
                        return self.comment_github_failed(&Push { job: fresh, ..push }, e, false).await;
                    }
                    Err(_) => {
                        Err("GitHub's answer to the edit did not come: the next attempt reads the comment"
                            .into())
                    }
                }
            }
            _ => {
                let answer = tokio::time::timeout_at(
                    push.attempt.deadline,
                    github.delete_comment(repo, id, token, requests),
                )
                .await;
                match answer {
                    Ok(Ok(_)) => Ok(None),
                    Ok(Err(e)) => {
                        return self.comment_github_failed(&Push { job: fresh, ..push }, e, false).await;
                    }
                    Err(_) => Err(
                        "GitHub's answer to the deletion did not come: the next attempt reads the comment"
                            .into(),
                    ),
                }
            }
        };
        match sent {
            Ok(Some(c)) => {
                self.comment_ended(&fresh, CommentEnd::Holds { comment: &c }, CommentPushed::Sent).await
            }
            Ok(None) => self.comment_ended(&fresh, CommentEnd::Deleted, CommentPushed::Sent).await,
            Err(error) => self.comment_failed(&fresh, Failure::Transient, &error, false).await,
        }
    }

    async fn paced(&self, push: &Push<'_>, creates: bool) -> Result<Option<Timestamp>, StoreError> {
        self.paced_write(&push.account, creates, push.options, push.attempt.deadline).await
    }

    /// A request GitHub failed: a refused installation token is forgotten (the next attempt
    /// mints another); a rate limit holds the whole account; a 404 of the issue or comment
    /// waits like a refusal. `posted`: a post may have landed.
    async fn comment_github_failed(
        &self,
        push: &Push<'_>,
        e: GitHubError,
        posted: bool,
    ) -> Result<CommentPushed, StoreError> {
        let error = chain(&e);
        if self.forget_refused(&push.config.reach, &push.connection.token, &e).await {
            return self.comment_failed(&push.job, Failure::Transient, &error, posted).await;
        }
        match failure_of(&e) {
            Failure::RateLimited(limit) => {
                let until = crate::sync::after_rate_limit(limit, push.job.attempts, Timestamp::now());
                self.store.hold_writes(&push.account, until).await?;
                self.comment_failed(&push.job, Failure::RateLimited(limit), &error, posted).await
            }
            Failure::Missing => {
                let error = format!("{error} (the issue or the comment is gone or locked on GitHub)");
                self.comment_failed(&push.job, Failure::Refused, &error, posted).await
            }
            failure => self.comment_failed(&push.job, failure, &error, posted).await,
        }
    }

    async fn comment_ended(
        &self,
        job: &CommentJob,
        end: CommentEnd<'_>,
        pushed: CommentPushed,
    ) -> Result<CommentPushed, StoreError> {
        if self.store.finish_comment_push(job, end).await? { Ok(pushed) } else { Ok(CommentPushed::Busy) }
    }

    async fn comment_failed(
        &self,
        job: &CommentJob,
        failure: Failure,
        error: &str,
        posted: bool,
    ) -> Result<CommentPushed, StoreError> {
        let pushed = match failure {
            Failure::Refused => {
                tracing::warn!(comment_id = %job.comment_id, error, "GitHub refused a comment's push; it waits for its cause to change");
                CommentPushed::Refused(error.to_string())
            }
            _ => {
                tracing::info!(comment_id = %job.comment_id, error, "comment push failed; retrying later");
                CommentPushed::Retrying(error.to_string())
            }
        };
        self.comment_ended(job, CommentEnd::Failed { failure, error, posted }, pushed).await
    }
}

/// The text GitHub shows for board comment `job`: without ghsync's attribution and marker when
/// they are this comment's own.
fn shown_of<'a>(job: &CommentJob, raw: &'a str) -> &'a str {
    let ours = read_posted(raw).marker == Some(job.comment_id);
    crate::sync::board_comments::shown_body(raw, ours)
}
