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

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::time::{Duration, Instant};

use http::StatusCode;
use serde::Serialize;
use tracing::instrument;
use uuid::Uuid;

use crate::crypto::{CryptoError, Pat};
use crate::domain::{RemoteIssue, RemoteState, RepoRef, SyncCounts, SyncHistory, SyncStatus};
use crate::github::{GhIssue, GitHubError, Response, next_link};
use crate::manage::Services;
use crate::store::{ApplyOutcome, Claimed, Probe, RunEnd, StoreError};
use crate::time::Timestamp;

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
    /// The shortest wait after a rate limit that names no time.
    pub rate_limit_floor: chrono::Duration,
    /// A repository with changes or an applied webhook within this window is polled every 30 s.
    pub active_window: chrono::Duration,
}

impl Default for ReconcileOptions {
    fn default() -> Self {
        Self {
            concurrency: 4,
            lease: chrono::Duration::minutes(15),
            overlap: chrono::Duration::seconds(60),
            full_pass_every: chrono::Duration::days(1),
            attempts: 3,
            retry_base: Duration::from_millis(500),
            rate_limit_floor: chrono::Duration::minutes(1),
            active_window: chrono::Duration::minutes(5),
        }
    }
}

/// GitHub's page size for the listing.
pub const PER_PAGE: usize = 100;

/// Why a config's run failed; recorded in its history row and `sync_error`.
#[derive(Debug, thiserror::Error)]
pub enum ReconcileError {
    #[error("cannot decrypt the PAT: {0}")]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("GitHub sent a malformed issue list: {0}")]
    Malformed(String),
    #[error("the repository {repo} is not readable with this PAT (GitHub answered {status})")]
    RepoUnavailable { repo: String, status: u16 },
    #[error("stopped before the Lambda deadline; the rest is synced next run")]
    Deadline,
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
    pub error: Option<String>,
}

/// One pass over the due configs.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RunSummary {
    pub configs: Vec<ConfigReport>,
    pub deliveries_pruned: u64,
    /// Due configs left for the next run because the deadline was near.
    pub stopped_for_deadline: bool,
}

/// The reconciler: the services and its pacing.
#[derive(Clone, Debug)]
pub struct Reconciler {
    pub services: Services,
    pub options: ReconcileOptions,
}

/// What one listing found.
enum Pulled {
    NotModified,
    Listed { watermark: Option<Timestamp>, probe: Option<Probe>, full_pass: bool },
}

/// Counters of one run.
#[derive(Default)]
struct Tally {
    requests: u32,
    counts: SyncCounts,
}

impl Tally {
    fn count(&mut self, outcomes: Vec<ApplyOutcome>) {
        for outcome in outcomes {
            match outcome {
                ApplyOutcome::Created => self.counts.tasks_created += 1,
                ApplyOutcome::Updated => self.counts.tasks_updated += 1,
                ApplyOutcome::Conflict => self.counts.conflicts_detected += 1,
                ApplyOutcome::Unchanged | ApplyOutcome::ConflictPending | ApplyOutcome::Stale => {}
            }
        }
    }

    fn changed(&self) -> bool {
        self.counts.tasks_created + self.counts.tasks_updated + self.counts.conflicts_detected > 0
    }
}

fn deadline_near(deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|d| Instant::now() >= d)
}

impl Reconciler {
    pub fn new(services: Services, options: ReconcileOptions) -> Self {
        Self { services, options }
    }

    /// Syncs every due config (several at once, within the bound), claiming each first, and
    /// starts none once `deadline` has passed. Fails only when the database cannot be used
    /// to claim work; a config's failure is recorded in its history and reported.
    pub async fn run_due(&self, deadline: Option<Instant>) -> Result<RunSummary, StoreError> {
        let store = &self.services.store;
        let mut summary = RunSummary {
            deliveries_pruned: store.prune_deliveries(Timestamp::now()).await?,
            ..Default::default()
        };
        let mut running = tokio::task::JoinSet::new();
        let mut exhausted = false;
        loop {
            while !exhausted && running.len() < self.options.concurrency.max(1) {
                if deadline_near(deadline) {
                    summary.stopped_for_deadline = true;
                    exhausted = true;
                    break;
                }
                let mut claimed = store.claim_due(Timestamp::now(), 1, self.options.lease).await?;
                match claimed.pop() {
                    Some(c) => {
                        let this = self.clone();
                        running.spawn(async move { this.sync(c, deadline).await });
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
        Ok(summary)
    }

    /// Syncs the project's config now, due or not. `StateConflict` while another run holds it.
    pub async fn run_project(&self, project_id: Uuid) -> Result<ConfigReport, StoreError> {
        let claimed =
            self.services.store.claim_project(project_id, Timestamp::now(), self.options.lease).await?;
        Ok(self.sync(claimed, None).await)
    }

    /// One claimed config: history row, pull, outcome, release.
    #[instrument(skip_all, fields(project_id = %claimed.config.project_id, repo = %format_args!("{}/{}", claimed.config.repo_owner, claimed.config.repo_name)))]
    async fn sync(&self, claimed: Claimed, deadline: Option<Instant>) -> ConfigReport {
        let store = &self.services.store;
        let config = &claimed.config;
        let repo = format!("{}/{}", config.repo_owner, config.repo_name);
        let mut report = ConfigReport {
            project_id: config.project_id,
            repo: repo.clone(),
            history: None,
            requests: 0,
            not_modified: false,
            error: None,
        };
        let started = Timestamp::now();
        if let Err(e) = store.close_abandoned_runs(config.id, started).await {
            report.error = Some(e.to_string());
            return report;
        }
        let run = match store.start_sync(config.project_id, config.id, started).await {
            Ok(run) => run,
            Err(e) => {
                report.error = Some(e.to_string());
                return report;
            }
        };
        let mut tally = Tally::default();
        let pulled = self.pull(&claimed, &mut tally, deadline).await;
        let finished = Timestamp::now();
        report.requests = tally.requests;

        let (status, error, end) = match pulled {
            Ok(pulled) => {
                let active = tally.changed()
                    || store
                        .webhook_applied_since(&repo, finished.minus(self.options.active_window))
                        .await
                        .unwrap_or(false);
                let interval = if active {
                    crate::domain::SyncInterval::ACTIVE.seconds()
                } else {
                    config.sync_interval_seconds
                };
                let mut end = RunEnd {
                    last_sync_at: finished,
                    next_sync_at: finished.plus(chrono::Duration::seconds(interval)),
                    sync_error: None,
                    list_watermark: None,
                    probe: None,
                    last_full_pass_at: None,
                    consecutive_failures: 0,
                };
                match pulled {
                    Pulled::NotModified => report.not_modified = true,
                    Pulled::Listed { watermark, probe, full_pass } => {
                        end.list_watermark = watermark;
                        end.probe = Some(probe);
                        end.last_full_pass_at = full_pass.then_some(finished);
                    }
                }
                (SyncStatus::Success, None, end)
            }
            Err(e) => {
                let message = e.to_string();
                let next = self.next_attempt_after_failure(&e, &claimed, finished);
                tracing::warn!(error = %message, next_attempt = %next, "sync failed");
                let end = RunEnd {
                    last_sync_at: finished,
                    next_sync_at: next,
                    sync_error: Some(message.clone()),
                    list_watermark: None,
                    probe: None,
                    last_full_pass_at: None,
                    consecutive_failures: claimed.consecutive_failures + 1,
                };
                (SyncStatus::Failure, Some(message), end)
            }
        };
        match store.complete_sync(run.id, status, &tally.counts, error.as_deref(), finished).await {
            Ok(history) => report.history = Some(history),
            Err(e) => report.error = Some(e.to_string()),
        }
        report.error = report.error.or(error);
        match store.finish_run(&claimed, &end).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::warn!("the claim expired before the run ended; its outcome was not recorded")
            }
            Err(e) => report.error = Some(e.to_string()),
        }
        if let Err(e) = store.prune_history(config.id, finished).await {
            tracing::warn!(error = %e, "pruning sync history failed");
        }
        tracing::info!(
            status = status.as_str(),
            requests = tally.requests,
            not_modified = report.not_modified,
            issues_fetched = tally.counts.issues_fetched,
            tasks_created = tally.counts.tasks_created,
            tasks_updated = tally.counts.tasks_updated,
            conflicts_detected = tally.counts.conflicts_detected,
            duration_ms = finished.millis_since(started),
            "config synced"
        );
        report
    }

    /// When to try again after a failed run: a rate limit's own time (`retry-after`, then
    /// `x-ratelimit-reset`), else at least a minute doubling with each failure; other
    /// failures back off from 30 s, doubling, up to the configured interval.
    fn next_attempt_after_failure(&self, e: &ReconcileError, claimed: &Claimed, now: Timestamp) -> Timestamp {
        let failures = claimed.consecutive_failures.clamp(0, 10) as u32;
        let doubling = |base: chrono::Duration| base * 2i32.pow(failures);
        match e {
            ReconcileError::GitHub(GitHubError::RateLimited { retry_after, reset_at, .. }) => {
                if let Some(after) = retry_after {
                    now.plus(chrono::Duration::from_std(*after).unwrap_or(self.options.rate_limit_floor))
                } else if let Some(reset) = reset_at.filter(|r| *r > now) {
                    reset.plus(chrono::Duration::seconds(1))
                } else {
                    now.plus(doubling(self.options.rate_limit_floor).min(chrono::Duration::hours(1)))
                }
            }
            ReconcileError::Deadline => now,
            _ => {
                let interval = chrono::Duration::seconds(claimed.config.sync_interval_seconds);
                now.plus(
                    doubling(chrono::Duration::seconds(30)).min(interval.max(chrono::Duration::seconds(30))),
                )
            }
        }
    }

    /// Probes, lists and applies; returns what to remember for the next run.
    async fn pull(
        &self,
        c: &Claimed,
        tally: &mut Tally,
        deadline: Option<Instant>,
    ) -> Result<Pulled, ReconcileError> {
        let Services { store, keys, github } = &self.services;
        let config = &c.config;
        let repo = RepoRef::parse(&format!("{}/{}", config.repo_owner, config.repo_name))
            .map_err(|e| ReconcileError::Store(e.into()))?;
        let pat = keys.open(config.project_id, &config.encrypted_pat).await?;
        let now = Timestamp::now();
        let full_pass = c.last_full_pass_at.is_none_or(|t| t.plus(self.options.full_pass_every) <= now);

        if !full_pass && let Some(probe) = &c.probe {
            let r = self.get(&probe.url, &pat, Some(&probe.etag), tally).await?;
            if r.status == StatusCode::NOT_MODIFIED {
                return Ok(Pulled::NotModified);
            }
            expect_ok(&r, &repo)?;
        }

        let since = if full_pass { None } else { c.list_watermark };
        let mut url = format!(
            "{}/repos/{}/{}/issues?state=all&sort=updated&direction=asc&per_page={PER_PAGE}",
            github.base_url(),
            repo.owner,
            repo.name
        );
        if let Some(since) = since {
            url.push_str(&format!("&since={}", since.as_datetime().format("%Y-%m-%dT%H:%M:%SZ")));
        }
        // node id → the updated_at it was first seen with; a second sighting means it moved.
        let mut seen: HashMap<String, Timestamp> = HashMap::new();
        let mut moved_from: Option<Timestamp> = None;
        let mut newest: Option<Timestamp> = None;
        let last_page: (String, Option<String>, usize);
        if deadline_near(deadline) {
            return Err(ReconcileError::Deadline);
        }
        let mut fetched = self.get(&url, &pat, None, tally).await;
        loop {
            let r = fetched?;
            expect_ok(&r, &repo)?;
            let items: Vec<GhIssue> =
                serde_json::from_slice(&r.body).map_err(|e| ReconcileError::Malformed(e.to_string()))?;
            let page_len = items.len();
            let mut snapshots = Vec::with_capacity(page_len);
            for item in items {
                let updated_at: Timestamp = item.updated_at.parse().map_err(|e| {
                    ReconcileError::Malformed(format!("updated_at {:?}: {e}", item.updated_at))
                })?;
                match seen.entry(item.node_id.clone()) {
                    Entry::Occupied(first) => {
                        moved_from = Some(moved_from.map_or(*first.get(), |m| m.min(*first.get())));
                    }
                    Entry::Vacant(v) => {
                        v.insert(updated_at);
                    }
                }
                newest = Some(newest.map_or(updated_at, |n| n.max(updated_at)));
                if let Some(issue) =
                    item.into_remote().map_err(|e| ReconcileError::Malformed(e.to_string()))?
                {
                    snapshots.push(issue);
                }
            }
            tally.counts.issues_fetched += snapshots.len() as i64;
            let next = match next_link(&r.headers) {
                Some(next) if github.is_own_url(&next) => Some(next),
                Some(_) => {
                    return Err(ReconcileError::Malformed("a Link header points away from the API".into()));
                }
                None => None,
            };
            let applying = store.apply_page(config.project_id, &snapshots);
            let Some(next) = next else {
                tally.count(applying.await?);
                last_page = (url, r.header("etag").map(str::to_string), page_len);
                break;
            };
            if deadline_near(deadline) {
                tally.count(applying.await?);
                return Err(ReconcileError::Deadline);
            }
            // The next page is fetched while this one is applied; each page is still applied
            // whole or not at all, in order, and a failed page stops the run before the next.
            let (applied, next_page) = tokio::join!(applying, self.get(&next, &pat, None, tally));
            tally.count(applied?);
            (url, fetched) = (next, next_page);
        }

        if full_pass {
            self.find_removed(c, &repo, &pat, &seen, now, tally).await?;
        }

        // Never past an issue that moved during the listing: whatever slid past it is re-listed.
        let reach = match (newest, moved_from) {
            (Some(n), Some(m)) => Some(n.min(m)),
            (n, _) => n,
        };
        let watermark = reach.map(|r| {
            let w = r.minus(self.options.overlap);
            since.map_or(w, |s| w.max(s))
        });
        let probe = match last_page {
            (url, Some(etag), len) if moved_from.is_none() && len < PER_PAGE => Some(Probe { url, etag }),
            _ => None,
        };
        Ok(Pulled::Listed { watermark: watermark.or(since), probe, full_pass })
    }

    /// Looks up each issue linked before the listing started (`listed_at`) that the full
    /// listing did not show: 404/410 → deleted, 301 → transferred (relinked when it moved
    /// within the configured repository). Links made during the listing came from it, so an
    /// initial import has nothing to look up.
    async fn find_removed(
        &self,
        c: &Claimed,
        repo: &RepoRef,
        pat: &Pat,
        seen: &HashMap<String, Timestamp>,
        listed_at: Timestamp,
        tally: &mut Tally,
    ) -> Result<(), ReconcileError> {
        let Services { store, github, .. } = &self.services;
        let project = c.config.project_id;
        for (node_id, number) in store.linked_issues(project, listed_at).await? {
            if seen.contains_key(&node_id) {
                continue;
            }
            let url = format!("{}/repos/{}/{}/issues/{number}", github.base_url(), repo.owner, repo.name);
            let r = self.get(&url, pat, None, tally).await?;
            match r.status {
                StatusCode::NOT_FOUND | StatusCode::GONE => {
                    if store.mark_issue_gone(project, &node_id, RemoteState::Deleted).await? {
                        tally.counts.tasks_updated += 1;
                    }
                }
                StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::TEMPORARY_REDIRECT => {
                    let moved_to = match r.header("location") {
                        Some(location) if github.is_own_url(location) => {
                            let r = self.get(location, pat, None, tally).await?;
                            if r.status.is_success() { parse_issue(&r)? } else { None }
                        }
                        _ => None,
                    };
                    let relinked = match &moved_to {
                        Some(new) if issue_in_repo(new, repo) => {
                            store.relink_issue(project, &node_id, new).await?
                        }
                        _ => false,
                    };
                    if relinked || store.mark_issue_gone(project, &node_id, RemoteState::Transferred).await? {
                        tally.counts.tasks_updated += 1;
                    }
                }
                s if s.is_success() => {
                    // Still there (it slid past the listing): apply it like any other.
                    if let Some(issue) = parse_issue(&r)?.filter(|i| i.node_id == node_id) {
                        tally.count(store.apply_page(project, std::slice::from_ref(&issue)).await?);
                    }
                }
                s => return Err(GitHubError::Unexpected(s.as_u16()).into()),
            }
        }
        Ok(())
    }

    /// A GET with bounded retries (with doubling delays) for 5xx, timeouts and lost
    /// connections. Rate limits are not retried here: the whole config waits.
    async fn get(
        &self,
        url: &str,
        pat: &Pat,
        etag: Option<&str>,
        tally: &mut Tally,
    ) -> Result<Response, GitHubError> {
        let mut attempt = 0;
        loop {
            tally.requests += 1;
            match self.services.github.get(url, pat, etag).await {
                Err(e) if e.is_transient() && attempt + 1 < self.options.attempts => {
                    let delay = self.options.retry_base * 2u32.pow(attempt);
                    tracing::debug!(error = %e, ?delay, "retrying a GitHub request");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                other => return other,
            }
        }
    }
}

fn expect_ok(r: &Response, repo: &RepoRef) -> Result<(), ReconcileError> {
    match r.status {
        s if s.is_success() => Ok(()),
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN | StatusCode::GONE => {
            Err(ReconcileError::RepoUnavailable { repo: repo.to_string(), status: r.status.as_u16() })
        }
        s => Err(GitHubError::Unexpected(s.as_u16()).into()),
    }
}

fn parse_issue(r: &Response) -> Result<Option<RemoteIssue>, ReconcileError> {
    let issue: GhIssue =
        serde_json::from_slice(&r.body).map_err(|e| ReconcileError::Malformed(e.to_string()))?;
    issue.into_remote().map_err(|e| ReconcileError::Malformed(e.to_string()))
}

/// Whether an issue's URL is in `repo` (`https://host/{owner}/{repo}/issues/{n}`).
fn issue_in_repo(issue: &RemoteIssue, repo: &RepoRef) -> bool {
    let mut parts = issue.html_url.trim_start_matches("https://").split('/').skip(1);
    matches!((parts.next(), parts.next()), (Some(o), Some(n)) if repo.is(o, n))
}
