//! Reconciliation: for each due config, poll GitHub and apply whatever the webhooks missed,
//! through the same sync rules.
//!
//! Per config: decrypt the PAT; if the last listing left a probe (its last, partial page and
//! that page's ETag), ask it conditionally: with `sort=updated&direction=asc` every change
//! lands on that page, so `304` means nothing changed (one request). Otherwise list
//! `state=all&sort=updated&direction=asc&per_page=100&since=watermark`, following `Link` to
//! the end, applying each page in one transaction. Once a day the listing starts from the
//! beginning and every linked issue missing from it is looked up (deleted or transferred).
//!
//! An issue that changes while pages are fetched moves to the end of the listing: it is seen
//! again there, and the item that slid into the already-fetched page is not. Such a listing
//! keeps the watermark below the moved issue's first position and leaves no probe, so the
//! next run lists that range again.

use std::sync::Arc;
use std::time::Duration;

use serde::Serialize;
use tracing::instrument;
use uuid::Uuid;

use crate::crypto::CryptoError;
use crate::domain::{SyncHistory, SyncStatus};
use crate::github::{GitHubError, Retries};
use crate::services::Services;
use crate::store::{Claimed, RunEnd, StoreError};
use crate::sync::{self, RunEnded};
use crate::time::Timestamp;

mod comments;
mod pull;

use pull::{Pulled, Tally};

/// How the reconciler paces itself.
#[derive(Clone, Debug)]
pub struct ReconcileOptions {
    /// Configs synced at the same time.
    pub concurrency: usize,
    /// How long a claim holds before another run may take the config (a run that died).
    pub lease: chrono::Duration,
    /// How far the next listing reaches back before the newest `updated_at` seen.
    pub overlap: chrono::Duration,
    /// How often the whole repository is listed to find deleted and transferred issues.
    pub full_pass_every: chrono::Duration,
    /// Attempts for a request that failed with a 5xx, a timeout or a lost connection.
    pub attempts: u32,
    /// The first retry's delay; each further one doubles it.
    pub retry_base: Duration,
    /// A repository with changes or an applied webhook within this window is polled every 30 s.
    pub active_window: chrono::Duration,
    /// Requests of a token's hourly budget kept in reserve: below it, every config of the
    /// token stops (to continue after GitHub's reset) instead of running into the limit.
    pub rate_reserve: u32,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        Self {
            concurrency: crate::config::DEFAULT_RECONCILE_CONCURRENCY,
            lease: chrono::Duration::minutes(15),
            overlap: chrono::Duration::seconds(60),
            full_pass_every: chrono::Duration::days(1),
            attempts: 3,
            retry_base: Duration::from_millis(500),
            active_window: chrono::Duration::minutes(5),
            rate_reserve: 100,
        }
    }
}

impl ReconcileOptions {
    /// The defaults, with the concurrency the configuration names.
    pub fn for_config(config: &crate::config::Config) -> Self {
        Self { concurrency: config.reconcile_concurrency, ..Self::default() }
    }
}

/// Why a config's run failed; recorded in its history row and `sync_error`.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("cannot decrypt the PAT")]
    Crypto(#[from] CryptoError),
    /// The config cannot reach GitHub: its PAT expired or does not open, or its App
    /// installation has no token.
    #[error(transparent)]
    Reach(#[from] crate::services::ManageError),
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A run's metrics (see [`crate::metrics`]): counted by status, with its duration, what it
/// fetched and found, and the token's remaining budget and days to expiry when GitHub said.
fn sync_metrics(report: &ConfigReport, status: SyncStatus, tally: &Tally, duration_ms: i64) {
    use crate::metrics::{Line, Unit};
    let mut line = Line::new()
        .dimension("status", status.as_str())
        .metric("SyncRuns", Unit::Count, 1.0)
        .metric("SyncDuration", Unit::Milliseconds, duration_ms as f64)
        .metric("IssuesFetched", Unit::Count, tally.counts.issues_fetched as f64)
        .metric("TasksChanged", Unit::Count, (tally.counts.tasks_created + tally.counts.tasks_updated) as f64)
        .metric("Conflicts", Unit::Count, tally.counts.conflicts_detected as f64)
        .metric("CommentsFetched", Unit::Count, tally.counts.comments.fetched as f64)
        .metric("CommentsChanged", Unit::Count, tally.counts.comments.changed() as f64)
        .metric("GitHubRequests", Unit::Count, f64::from(tally.requests))
        .property("project_id", report.project_id.to_string())
        .property("repo", report.repo.as_str())
        .property("complete", report.complete);
    if let Some(budget) = tally.budget {
        line = line.metric("RateLimitRemaining", Unit::Count, f64::from(budget.remaining));
        if let Some(expires) = budget.token_expires_at {
            let days = (expires.millis_since(Timestamp::now())) as f64 / 86_400_000.0;
            line = line.metric("TokenExpiresInDays", Unit::None, (days * 10.0).round() / 10.0);
        }
    }
    line.emit();
}

/// One config's run, as reported.
#[derive(Clone, Debug, Serialize)]
pub struct ConfigReport {
    pub project_id: Uuid,
    pub repo: String,
    /// The run's history row (absent only when the database failed before it was written).
    pub history: Option<SyncHistory>,
    /// GitHub requests made (list pages, probes, issue look-ups, retries).
    pub requests: u32,
    /// Answered by one `304`.
    pub not_modified: bool,
    /// Reached the end of what was due; `false`: the deadline cut the run, and the next one
    /// continues where it stopped.
    pub complete: bool,
    /// Local edits pushed to GitHub (two-way configs), by outcome.
    pub pushes: Option<crate::services::push::Drained>,
    /// Board comments sent to GitHub (two-way configs), by outcome.
    pub comment_pushes: Option<crate::services::push::Drained>,
    pub error: Option<String>,
}

/// One pass over the due configs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunSummary {
    pub configs: Vec<ConfigReport>,
    pub deliveries_pruned: u64,
    /// Due configs left for the next run because the deadline was near.
    pub stopped_for_deadline: bool,
    /// Every due config was synced to its end (nothing was cut or left by the deadline).
    pub complete: bool,
}

/// The reconciler: the services and its pacing.
#[derive(Clone, Debug)]
pub struct Reconciler {
    pub services: Services,
    pub options: ReconcileOptions,
    /// Told after each applied page (a terminal shows it; see `ghsync reconcile`).
    pub progress: Option<ProgressSink>,
}

/// A run's progress after one of its pages.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Progress {
    pub project_id: Uuid,
    pub repo: String,
    /// Pages applied by this run so far.
    pub pages: i64,
    /// Issues fetched by this run so far.
    pub issues: i64,
    /// Whether the run has ended (complete or not).
    pub done: bool,
}

/// Where progress goes.
#[derive(Clone)]
pub struct ProgressSink(pub Arc<dyn Fn(&Progress) + Send + Sync>);

impl std::fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ProgressSink")
    }
}

/// What bounds one run: its deadline, and whether it keeps the token's budget reserve (a
/// scheduled run does; one a person forces through `--project` does not).
#[derive(Clone, Copy, Debug)]
struct Limits {
    deadline: crate::time::Deadline,
    keep_reserve: bool,
}

impl Reconciler {
    /// A reconciler whose GitHub requests retry as `options` say.
    pub fn new(mut services: Services, options: ReconcileOptions) -> Self {
        let retries = Retries { attempts: options.attempts, base: options.retry_base };
        services.github = services.github.with_retries(retries);
        Self { services, options, progress: None }
    }
    /// What every scheduled pass does before it claims configs: prunes the delivery log
    /// (returns how many it removed), and keeps configs to the GitHub hosts the operator
    /// allows, so that no config is synced with one it does not (or no longer) allow.
    pub(crate) async fn before_claiming(&self) -> Result<u64, StoreError> {
        let store = &self.services.store;
        let pruned = store.prune_deliveries(Timestamp::now()).await?;
        let (paused, resumed) = store.keep_to_allowed_hosts(|url| self.services.github.allows(url)).await?;
        if paused + resumed > 0 {
            tracing::warn!(paused, resumed, "configs kept to the GitHub hosts this deployment allows");
        }
        Ok(pruned)
    }
    /// Syncs every due config (several at once, within the bound), claiming each first, and
    /// starts none once `deadline` has passed; a config whose run the deadline cuts is
    /// continued by the next run. Fails only when the database cannot be used to claim
    /// work; a config's failure is recorded in its history and reported.
    pub async fn run_due(&self, deadline: crate::time::Deadline) -> Result<RunSummary, StoreError> {
        let store = &self.services.store;
        let mut summary =
            RunSummary { deliveries_pruned: self.before_claiming().await?, ..Default::default() };
        let mut running = tokio::task::JoinSet::new();
        let mut exhausted = false;
        loop {
            while !exhausted && running.len() < self.options.concurrency.max(1) {
                if deadline.passed() {
                    summary.stopped_for_deadline = true;
                    exhausted = true;
                    break;
                }
                let mut claimed = store.claim_due(Timestamp::now(), 1, self.options.lease).await?;
                match claimed.pop() {
                    Some(c) => {
                        let this = self.clone();
                        let limits = Limits { deadline, keep_reserve: true };
                        running.spawn(async move { this.sync(c, limits).await });
                    }
                    None => exhausted = true,
                }
            }
            match running.join_next().await {
                Some(Ok(report)) => summary.configs.push(report),
                Some(Err(e)) => tracing::error!(error = %e, "a config sync panicked"),
                None => break,
            }
        }
        summary.complete = !summary.stopped_for_deadline && summary.configs.iter().all(|c| c.complete);
        Ok(summary)
    }
    /// Syncs the project's config now, due or not. `StateConflict` while another run holds it
    /// or when the config is disabled.
    pub async fn run_project(&self, project_id: Uuid) -> Result<ConfigReport, StoreError> {
        self.run_project_until(project_id, crate::time::Deadline::NONE).await
    }
    /// [`Reconciler::run_project`], stopping (to continue next run) once `deadline` passed.
    pub async fn run_project_until(
        &self,
        project_id: Uuid,
        deadline: crate::time::Deadline,
    ) -> Result<ConfigReport, StoreError> {
        let claimed =
            self.services.store.claim_project(project_id, Timestamp::now(), self.options.lease).await?;
        Ok(self.sync(claimed, Limits { deadline, keep_reserve: false }).await)
    }
    /// Syncs a config claimed elsewhere (see [`crate::fanout`]).
    pub async fn run_claimed(&self, claimed: Claimed, deadline: crate::time::Deadline) -> ConfigReport {
        self.sync(claimed, Limits { deadline, keep_reserve: true }).await
    }
    /// One claimed config: history row, pull, outcome, release.
    #[instrument(skip_all, fields(project_id = %claimed.config.project_id, repo = %claimed.config.full_name()))]
    async fn sync(&self, claimed: Claimed, limits: Limits) -> ConfigReport {
        let config = &claimed.config;
        let mut report = ConfigReport {
            project_id: config.project_id,
            repo: config.full_name(),
            history: None,
            requests: 0,
            not_modified: false,
            complete: false,
            pushes: None,
            comment_pushes: None,
            error: None,
        };
        let started = Timestamp::now();
        let run = match self.start_run(&claimed, started).await {
            Ok(run) => run,
            Err(e) => {
                report.error = Some(e.to_string());
                return report;
            }
        };
        let mut tally = Tally::default();
        let pulled = self.pull(&claimed, run.id, &mut tally, limits).await;
        if config.two_way && pulled.is_ok() {
            // Local edits the API could not send (GitHub unreachable, its budget spent): GitHub
            // just answered this run, so every waiting edit goes along, backoff or not.
            let drained =
                self.services.drain_pushes(config.project_id, crate::store::Backoff::Ignore, limits.deadline);
            match drained.await {
                Ok(drained) => {
                    tally.requests += drained.requests;
                    report.pushes = Some(drained);
                }
                Err(e) => {
                    tracing::warn!(error = %crate::telemetry::ErrorChain(&e), "pushing queued edits failed")
                }
            }
            // Then the board's comments (a task's own edit before the thread).
            let drained = self.services.drain_comment_pushes(
                config.project_id,
                crate::store::Backoff::Ignore,
                limits.deadline,
            );
            match drained.await {
                Ok(drained) => {
                    tally.requests += drained.requests;
                    report.comment_pushes = Some(drained);
                }
                Err(e) => {
                    tracing::warn!(error = %crate::telemetry::ErrorChain(&e), "pushing board comments failed")
                }
            }
        }
        self.report_progress(&claimed, &tally, true);
        let finished = Timestamp::now();
        report.requests = tally.requests;
        let (status, error, end) = self.run_end(&claimed, pulled, &mut tally, &mut report, finished).await;
        self.record_run(&claimed, run.id, (status, error, &end), &tally, &mut report, finished).await;
        tracing::info!(
            status = status.as_str(),
            complete = report.complete,
            requests = tally.requests,
            not_modified = report.not_modified,
            pages_fetched = tally.counts.pages_fetched,
            issues_fetched = tally.counts.issues_fetched,
            tasks_created = tally.counts.tasks_created,
            tasks_updated = tally.counts.tasks_updated,
            conflicts_detected = tally.counts.conflicts_detected,
            comments_fetched = tally.counts.comments.fetched,
            comments_changed = tally.counts.comments.changed(),
            duration_ms = finished.millis_since(started),
            "config synced"
        );
        sync_metrics(&report, status, &tally, finished.millis_since(started));
        report
    }

    /// The run's history row: closes runs a crashed worker left open, then takes the row a
    /// request through the API made, or starts one.
    async fn start_run(&self, claimed: &Claimed, started: Timestamp) -> Result<SyncHistory, StoreError> {
        let store = &self.services.store;
        store.close_abandoned_runs(claimed, started).await?;
        match claimed.requested_run {
            Some(id) => store.get_run(id).await,
            None => store.start_sync(claimed.config.project_id, claimed.config.id, started).await,
        }
    }

    /// How the run ended, for its history and its config: the status, the error or the
    /// skipped issues, and what the config keeps (next time as [`sync::next_sync_at`] says,
    /// watermark, probe, full pass).
    async fn run_end(
        &self,
        claimed: &Claimed,
        pulled: Result<Pulled, ReconcileError>,
        tally: &mut Tally,
        report: &mut ConfigReport,
        finished: Timestamp,
    ) -> (SyncStatus, Option<String>, RunEnd) {
        let config = &claimed.config;
        let interval = chrono::Duration::seconds(config.sync_interval_seconds);
        let mut end = RunEnd {
            last_sync_at: finished,
            next_sync_at: finished,
            sync_error: None,
            list_watermark: None,
            probe: None,
            last_full_pass_at: None,
            consecutive_failures: 0,
        };
        let pulled = match pulled {
            Ok(pulled) => pulled,
            Err(e) => {
                let message = crate::telemetry::ErrorChain(&e).to_string();
                let rate_limit = match &e {
                    ReconcileError::GitHub(e) => e.rate_limit(),
                    _ => None,
                };
                let ended = RunEnded::Failed { rate_limit };
                end.next_sync_at =
                    sync::next_sync_at(ended, interval, claimed.consecutive_failures, finished);
                end.sync_error = Some(message.clone());
                end.consecutive_failures = claimed.consecutive_failures + 1;
                tracing::warn!(error = %message, next_attempt = %end.next_sync_at, "sync failed");
                return (SyncStatus::Failure, Some(message), end);
            }
        };
        // The repository is busy when this run changed something or a delivery for it applied
        // something lately: it is asked again sooner.
        let active = tally.changed()
            || self
                .services
                .store
                .webhook_applied_since(&report.repo, finished.minus(self.options.active_window))
                .await
                .unwrap_or(false);
        let mut ended = RunEnded::Complete { active };
        report.complete = true;
        match pulled {
            Pulled::NotModified => report.not_modified = true,
            Pulled::Listed { watermark, probe, full_pass_done } => {
                end.list_watermark = watermark;
                end.probe = probe;
                end.last_full_pass_at = full_pass_done;
            }
            Pulled::Cut { probe, resume_at } => {
                // Each applied page is a checkpoint: the next run continues there.
                report.complete = false;
                tally.counts.cut_short = true;
                end.probe = probe;
                ended = RunEnded::Cut { resume_at };
            }
        }
        end.next_sync_at = sync::next_sync_at(ended, interval, 0, finished);
        (SyncStatus::Success, tally.skipped_message(), end)
    }

    /// Records the run: its history row completed, the config's end (only while the claim
    /// holds), the history pruned.
    async fn record_run(
        &self,
        claimed: &Claimed,
        run_id: uuid::Uuid,
        (status, error, end): (SyncStatus, Option<String>, &RunEnd),
        tally: &Tally,
        report: &mut ConfigReport,
        finished: Timestamp,
    ) {
        let store = &self.services.store;
        match store.complete_sync(run_id, status, &tally.counts, error.as_deref(), finished).await {
            Ok(history) => report.history = Some(history),
            Err(e) => report.error = Some(e.to_string()),
        }
        if status == SyncStatus::Failure {
            report.error = report.error.take().or(error);
        }
        match store.finish_run(claimed, end).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("the claim expired before the run ended; its outcome was not recorded")
            }
            Err(e) => report.error = Some(e.to_string()),
        }
        if let Err(e) = store.prune_history(claimed.config.id, finished).await {
            tracing::warn!(error = %e, "pruning sync history failed");
        }
    }
}
