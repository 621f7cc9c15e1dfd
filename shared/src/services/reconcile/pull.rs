//! One config's pull: the conditional probe, the listing page by page (each page applied in
//! its own transaction, with a checkpoint), the budget reserve that cuts a run short, and a
//! full pass's look-up of the links the listing did not show.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use url::Url;
use uuid::Uuid;

use crate::crypto::Secret;
use crate::domain::{RemoteIssue, RepoRef, SyncCounts, WebHost};
use crate::github::{GhIssue, GitHubError, Lookup, MalformedItem, PER_PAGE, Page};
use crate::services::Connection;
use crate::store::{ApplyOutcome, Checkpoint, Claimed, Probe};
use crate::sync::{self, Disappearance, FullPass};
use crate::time::Timestamp;

use super::{Limits, Progress, ReconcileError, Reconciler, comments};

/// What one run's pull found.
pub(super) enum Pulled {
    NotModified,
    /// What to remember: `probe` as [`RunEnd::probe`] (`None` keeps the stored one).
    Listed {
        watermark: Option<Timestamp>,
        probe: Option<Option<Probe>>,
        full_pass_done: Option<Timestamp>,
    },
    /// The deadline (or the token's budget) stopped the run after its last checkpoint; the
    /// next run continues. `probe` as [`RunEnd::probe`]: a listing cut half-way has none.
    /// `resume_at`: when the next run may start (the budget's reset), else at once.
    Cut {
        probe: Option<Option<Probe>>,
        resume_at: Option<Timestamp>,
    },
}

/// Counters of one run.
#[derive(Default)]
pub(super) struct Tally {
    pub(super) requests: u32,
    /// The token's budget (and expiry) as GitHub last told it, for the run's metrics.
    pub(super) budget: Option<crate::github::Budget>,
    pub(super) counts: SyncCounts,
    /// Issues GitHub listed that are not valid snapshots (blank title, foreign URL…).
    pub(super) skipped: Vec<String>,
}

/// How many skipped issues a run's message names.
const SKIPPED_NAMED: usize = 10;

impl Tally {
    /// The snapshot of a listed issue, or `None` for a pull request or a malformed issue
    /// (counted and named; the run goes on without it).
    pub(super) fn snapshot(&mut self, item: GhIssue, web: &WebHost, repo: &RepoRef) -> Option<RemoteIssue> {
        let number = item.number;
        match item.into_remote(web, repo) {
            Ok(snapshot) => snapshot,
            Err(e) => {
                self.skip(MalformedItem { number: Some(number), reason: e.to_string() });
                None
            }
        }
    }

    pub(super) fn skip(&mut self, item: MalformedItem) {
        tracing::warn!(issue = item.number, reason = %item.reason, "skipped a malformed issue");
        let name = item.number.map_or_else(|| "an item".to_string(), |n| format!("#{n}"));
        self.skipped.push(format!("{name} ({})", item.reason));
        self.counts.issues_skipped += 1;
    }

    /// The run's message about skipped issues, if any were skipped.
    pub(super) fn skipped_message(&self) -> Option<String> {
        if self.skipped.is_empty() {
            return None;
        }
        let named: Vec<&str> = self.skipped.iter().take(SKIPPED_NAMED).map(String::as_str).collect();
        let more = self.skipped.len().saturating_sub(SKIPPED_NAMED);
        let more = if more > 0 { format!(" and {more} more") } else { String::new() };
        Some(format!("skipped {} malformed item(s): {}{more}", self.skipped.len(), named.join("; ")))
    }

    /// A comment GitHub listed that is not a valid snapshot: named in the run's message.
    pub(super) fn skip_comment(&mut self, item: MalformedItem) {
        tracing::warn!(comment = item.number, reason = %item.reason, "skipped a malformed comment");
        let id = item.number.map_or_else(|| "?".to_string(), |n| n.to_string());
        self.skipped.push(format!("comment {id} ({})", item.reason));
    }

    pub(super) fn count(&mut self, outcomes: Vec<ApplyOutcome>) {
        sync::count(&mut self.counts, &outcomes);
    }

    pub(super) fn changed(&self) -> bool {
        self.counts.tasks_created
            + self.counts.tasks_updated
            + self.counts.conflicts_detected
            + self.counts.comments.changed()
            > 0
    }
}

impl Reconciler {
    pub(super) fn report_progress(&self, c: &Claimed, tally: &Tally, done: bool) {
        if let Some(sink) = &self.progress {
            (sink.0)(&Progress {
                project_id: c.config.project_id,
                repo: c.config.full_name(),
                pages: tally.counts.pages_fetched,
                issues: tally.counts.issues_fetched,
                done,
            });
        }
    }
    /// When the run keeps the reserve and the token's known budget is below it: the time
    /// GitHub resets the budget.
    pub(super) fn waits_for_budget(&self, pat: &Secret, limits: Limits) -> Option<Timestamp> {
        if !limits.keep_reserve {
            return None;
        }
        let budget = self.services.github.budget(pat)?;
        (budget.remaining < self.options.rate_reserve && budget.reset_at > Timestamp::now())
            .then_some(budget.reset_at)
    }
    /// Whether a run's look-ups stop before the `i`-th (the next run goes on from there): the
    /// token's budget is nearly spent (`Some(Some(reset))`), or the deadline passed and at
    /// least one was made (`Some(None)`).
    pub(super) fn stops_before(&self, i: usize, pat: &Secret, limits: Limits) -> Option<Option<Timestamp>> {
        if let Some(reset) = self.waits_for_budget(pat, limits) {
            return Some(Some(reset));
        }
        (i > 0 && limits.deadline.passed()).then_some(None)
    }
    /// Probes, lists and applies, page by page, each page a checkpoint; then, for a full
    /// pass that has listed everything, looks up what it did not show. Returns what to
    /// remember for the next run.
    pub(super) async fn pull(
        &self,
        c: &Claimed,
        run_id: Uuid,
        tally: &mut Tally,
        limits: Limits,
    ) -> Result<Pulled, ReconcileError> {
        let reach = c.config.reach();
        let conn = self.services.reach_github(&reach).await?;
        let pulled = self.pull_with(c, &conn, run_id, tally, limits).await;
        if let Err(ReconcileError::GitHub(e)) = &pulled {
            // A revoked installation token: the next run mints another.
            self.services.forget_refused(&reach, &conn.token, e).await;
        }
        tally.budget = self.services.github.budget(&conn.token);
        let told = tally.budget.and_then(|b| b.token_expires_at);
        if told.is_some() && told != c.config.token_expires_at {
            // GitHub says when the PAT expires (it may have been renewed, or never told before).
            self.services.store.set_token_expiry(c.config.project_id, &c.config.encrypted_pat, told).await?;
        }
        pulled
    }
    /// The issues, then (when they are done) the comments: a run cut during the issues
    /// leaves the comments to the next run, and a full pass is done when both are.
    pub(super) async fn pull_with(
        &self,
        c: &Claimed,
        conn: &Connection,
        run_id: Uuid,
        tally: &mut Tally,
        limits: Limits,
    ) -> Result<Pulled, ReconcileError> {
        let now = Timestamp::now();
        // A full pass lists everything to find deleted and transferred issues and deleted
        // comments; it may span runs. One is due once a day (and the first import is one).
        let (pass, started) = match sync::full_pass(
            c.full_pass_started_at,
            c.last_full_pass_at,
            self.options.full_pass_every,
            now,
        ) {
            FullPass::Continue(started) => (Some(started), false),
            FullPass::Start => {
                self.services.store.start_full_pass(c, now).await?;
                (Some(now), true)
            }
            FullPass::No => (None, false),
        };
        let issues = self.pull_issues(c, conn, run_id, tally, limits, pass, started).await?;
        let (watermark, probe, pass_done, issues_unmodified) = match issues {
            Pulled::Cut { .. } => return Ok(issues),
            Pulled::NotModified => (None, None, None, true),
            Pulled::Listed { watermark, probe, full_pass_done } => (watermark, probe, full_pass_done, false),
        };
        let from = comments::CommentsFrom {
            since: if started { None } else { c.comments_watermark },
            pass: pass_done,
            pass_listed: !started && c.comments_pass_listed,
        };
        let comments = self.pull_comments(c, conn, run_id, tally, limits, from).await?;
        self.give_hook_its_events(c, conn, tally).await;
        if c.config.two_way {
            self.refresh_choices(c, conn, tally).await;
        }
        Ok(match comments {
            comments::CommentsPulled::Cut { resume_at } => Pulled::Cut { probe, resume_at },
            comments::CommentsPulled::NotModified if issues_unmodified => Pulled::NotModified,
            _ => Pulled::Listed { watermark, probe, full_pass_done: pass_done },
        })
    }

    /// The repository's labels, assignable users and milestones, which the board's edits are checked
    /// against (docs/fields.md, "Choices"): each list asked with its ETag, so an unchanged
    /// one costs a 304. A failure leaves the lists as they were; the run goes on.
    async fn refresh_choices(&self, c: &Claimed, conn: &Connection, tally: &mut Tally) {
        use crate::store::ChoiceKind;
        let (store, project) = (&self.services.store, c.config.project_id);
        let Ok(repo) = c.config.repo() else { return };
        let refreshed: Result<(), ReconcileError> = async {
            for kind in [ChoiceKind::Labels, ChoiceKind::Assignees, ChoiceKind::Milestones] {
                let etag = store.choice_etag(project, kind).await?;
                let (etag, requests) = (etag.as_deref(), &mut tally.requests);
                let listed = match kind {
                    ChoiceKind::Labels => {
                        conn.github.list_labels(&repo, &conn.token, etag, requests).await?.json()
                    }
                    ChoiceKind::Assignees => {
                        conn.github.list_assignees(&repo, &conn.token, etag, requests).await?.json()
                    }
                    ChoiceKind::Milestones => {
                        conn.github.list_milestones(&repo, &conn.token, etag, requests).await?.json()
                    }
                };
                match listed {
                    None => store.choices_unchanged(project, kind, Timestamp::now()).await?,
                    Some((json, etag)) => {
                        store.save_choices(project, kind, &json, etag.as_deref(), Timestamp::now()).await?
                    }
                }
            }
            Ok(())
        }
        .await;
        if let Err(e) = refreshed {
            tracing::warn!(error = %crate::telemetry::ErrorChain(&e), "cannot list the repository's labels and assignees");
        }
    }

    /// A hook an earlier ghsync installed sends `issues` only: it is given every event ghsync
    /// subscribes to now, once (its URL and secret untouched). GitHub's answer is recorded
    /// whatever it is (a hook gone or a refusal shows in the webhook panel, which reads the
    /// hook itself), so it is asked once; only a transient failure asks again next run. The
    /// run goes on either way.
    async fn give_hook_its_events(&self, c: &Claimed, conn: &Connection, tally: &mut Tally) {
        let store = &self.services.store;
        let Some(hook_id) = c.hook_missing_events else { return };
        let Ok(repo) = c.config.repo() else { return };
        match conn.github.set_hook_events(&repo, &conn.token, hook_id, &mut tally.requests).await {
            Ok(given) => {
                tracing::info!(hook_id, given, "the repository webhook was given the issue_comment event")
            }
            Err(e) if e.is_transient() => {
                tracing::warn!(error = %crate::telemetry::ErrorChain(&e), hook_id, "cannot give the webhook its events");
                return;
            }
            Err(e) => {
                tracing::warn!(error = %crate::telemetry::ErrorChain(&e), hook_id, "GitHub refused the webhook its events")
            }
        }
        if let Err(e) = store.hook_events_given(c.config.project_id, hook_id).await {
            tracing::warn!(error = %crate::telemetry::ErrorChain(&e), "cannot record the hook's events");
        }
    }

    /// The issues: probes, lists and applies, page by page, each page a checkpoint; then,
    /// for a full pass (`pass`, `started` by this run) that has listed everything, looks up
    /// what it did not show. Returns what to remember for the next run.
    #[allow(clippy::too_many_arguments)]
    async fn pull_issues(
        &self,
        c: &Claimed,
        conn: &Connection,
        run_id: Uuid,
        tally: &mut Tally,
        limits: Limits,
        pass: Option<Timestamp>,
        started: bool,
    ) -> Result<Pulled, ReconcileError> {
        let store = &self.services.store;
        let (github, pat) = (&conn.github, &conn.token);
        let config = &c.config;
        let repo = config.repo().map_err(|e| ReconcileError::Store(e.into()))?;
        let since = if started { None } else { c.list_watermark };
        if let Some(pass) = pass
            && c.full_pass_listed
            && !started
        {
            return self.look_up_unseen(c, &repo, conn, pass, run_id, tally, limits).await;
        }

        if let Some(reset) = self.waits_for_budget(pat, limits) {
            // The token's budget is nearly spent (by this config or another of the same
            // token): wait for GitHub's reset rather than run into the limit.
            return Ok(Pulled::Cut { probe: None, resume_at: Some(reset) });
        }
        if pass.is_none()
            && let Some(probe) = &c.probe
        {
            // A probe that no longer parses is only a lost shortcut: list instead.
            if let Ok(url) = Url::parse(&probe.url)
                && github.is_own_url(&url)
                && let Page::NotModified = github
                    .list_page::<GhIssue>(&repo, &url, pat, Some(&probe.etag), &mut tally.requests)
                    .await?
            {
                return Ok(Pulled::NotModified);
            }
        }

        // Every run applies at least one page, so a repository of any size finishes.
        let mut url = github.issues_listing(&repo, since);
        let mut listing = Listing::default();
        let mut fetched = github.list_page(&repo, &url, pat, None, &mut tally.requests).await;
        let last_page = loop {
            let Page::Listed { items, next, etag } = fetched? else {
                return Err(
                    GitHubError::Malformed("304 for a request that was not conditional".into()).into()
                );
            };
            let page_len = items.len();
            let (snapshots, listed, pull_requests) =
                listing.take_page(items, github.web_host(), &repo, tally);
            let checkpoint = Checkpoint {
                claimed: c,
                run_id,
                watermark: listing.watermark(since, self.options.overlap),
                pass,
                list_page: true,
            };
            tally.counts.pages_fetched += 1;
            self.report_progress(c, tally, false);
            let applying =
                store.apply_checkpointed(config.project_id, &snapshots, &listed, &pull_requests, &checkpoint);
            let Some(next) = next else {
                tally.count(applying.await?);
                break (url, etag, page_len);
            };
            let budget_reset = self.waits_for_budget(pat, limits);
            if limits.deadline.passed() || budget_reset.is_some() {
                tally.count(applying.await?);
                return Ok(Pulled::Cut { probe: Some(None), resume_at: budget_reset });
            }
            // The next page is fetched while this one is applied; each page is still applied
            // whole or not at all, in order, and a failed page stops the run before the next.
            let mut requests = 0;
            let (applied, next_page) =
                tokio::join!(applying, github.list_page(&repo, &next, pat, None, &mut requests));
            tally.requests += requests;
            tally.count(applied?);
            (url, fetched) = (next, next_page);
        };

        let watermark = listing.watermark(since, self.options.overlap).or(since);
        let (url, etag, len) = last_page;
        let keep = sync::keeps_probe(etag.is_some(), len, PER_PAGE, listing.moved());
        let probe = etag.filter(|_| keep).map(|etag| Probe { url: url.to_string(), etag });
        let Some(pass) = pass else {
            return Ok(Pulled::Listed { watermark, probe: Some(probe), full_pass_done: None });
        };
        // What the listing found is kept now: look-ups cut by the deadline continue next run.
        store.full_pass_listed(c, watermark, probe.as_ref()).await?;
        self.look_up_unseen(c, &repo, conn, pass, run_id, tally, limits).await
    }
    /// Looks up each issue linked before the full pass started that its listing did not
    /// show, and lets the sync rules decide what the answer means ([`sync::gone`]). Links
    /// made during the pass came from it, so an initial import has nothing to look up. Each
    /// answer is written at once, so a run cut here continues with the rest.
    #[allow(clippy::too_many_arguments)]
    pub(super) async fn look_up_unseen(
        &self,
        c: &Claimed,
        repo: &RepoRef,
        conn: &Connection,
        pass: Timestamp,
        run_id: Uuid,
        tally: &mut Tally,
        limits: Limits,
    ) -> Result<Pulled, ReconcileError> {
        let store = &self.services.store;
        let (github, pat) = (&conn.github, &conn.token);
        let project = c.config.project_id;
        for (i, (node_id, number)) in store.links_unseen_by_pass(project, pass).await?.into_iter().enumerate()
        {
            if let Some(resume_at) = self.stops_before(i, pat, limits) {
                return Ok(Pulled::Cut { probe: None, resume_at });
            }
            let (disappearance, new) = match github.get_issue(repo, number, pat, &mut tally.requests).await? {
                Lookup::Found(issue) => {
                    // Still there (it slid past the listing): apply it like any other, and
                    // count it as seen by the pass.
                    let snapshot = tally.snapshot(issue, github.web_host(), repo);
                    let snapshots: Vec<RemoteIssue> =
                        snapshot.into_iter().filter(|i| i.node_id == node_id).collect();
                    let checkpoint = Checkpoint {
                        claimed: c,
                        run_id,
                        watermark: None,
                        pass: Some(pass),
                        list_page: false,
                    };
                    tally.count(
                        store.apply_checkpointed(project, &snapshots, &[node_id], &[], &checkpoint).await?,
                    );
                    continue;
                }
                Lookup::Gone => (Disappearance::Deleted, None),
                Lookup::Moved(moved) => crate::github::moved_to(moved, github.web_host(), repo),
            };
            let outcome = store.apply_gone(project, &node_id, disappearance, new.as_ref()).await?;
            sync::count_gone(&mut tally.counts, &[outcome]);
        }
        Ok(Pulled::Listed { watermark: None, probe: None, full_pass_done: Some(pass) })
    }
}

/// What a run's listing (of issues, or of comments) has seen so far, across its pages.
#[derive(Default)]
pub(super) struct Listing {
    /// item → the `updated_at` it was first seen with; a second sighting means it moved.
    seen: HashMap<String, Timestamp>,
    /// The earliest first position of an item seen twice.
    moved_from: Option<Timestamp>,
    newest: Option<Timestamp>,
}

impl Listing {
    /// Takes note of an item (an issue's node id, a comment's id) listed at `updated_at`.
    pub(super) fn saw(&mut self, key: String, updated_at: Timestamp) {
        match self.seen.entry(key) {
            // Listed again as it was (a page that starts at the last page's time): not a move.
            Entry::Occupied(first) if *first.get() == updated_at => {}
            Entry::Occupied(first) => {
                self.moved_from = Some(self.moved_from.map_or(*first.get(), |m| m.min(*first.get())));
            }
            Entry::Vacant(v) => {
                v.insert(updated_at);
            }
        }
        self.newest = Some(self.newest.map_or(updated_at, |n| n.max(updated_at)));
    }

    /// Whether an item was seen twice (it moved while the listing went on).
    pub(super) fn moved(&self) -> bool {
        self.moved_from.is_some()
    }

    /// Takes note of a page of issues and returns its issues as snapshots, the node ids
    /// listed, and the numbers of its pull requests; pull requests and malformed items are
    /// left out of the snapshots (the latter counted and named in the run's message).
    fn take_page(
        &mut self,
        items: Vec<Result<GhIssue, MalformedItem>>,
        web: &WebHost,
        repo: &RepoRef,
        tally: &mut Tally,
    ) -> (Vec<RemoteIssue>, Vec<String>, Vec<i64>) {
        let mut snapshots = Vec::with_capacity(items.len());
        let mut listed = Vec::with_capacity(items.len());
        let mut pull_requests = Vec::new();
        for item in items {
            let item = match item {
                Ok(item) => item,
                Err(malformed) => {
                    tally.skip(malformed);
                    continue;
                }
            };
            listed.push(item.node_id.clone());
            if let Ok(updated_at) = item.updated_at() {
                self.saw(item.node_id.clone(), updated_at);
            }
            if item.pull_request.is_some() {
                pull_requests.push(item.number);
            }
            if let Some(issue) = tally.snapshot(item, web, repo) {
                snapshots.push(issue);
            }
        }
        tally.counts.issues_fetched += snapshots.len() as i64;
        (snapshots, listed, pull_requests)
    }

    /// The `since` of a listing that resumes after what this one has applied: the newest
    /// `updated_at` seen minus `overlap`, never past an item that moved during the listing
    /// (whatever slid past it is listed again), never below `since`.
    pub(super) fn watermark(&self, since: Option<Timestamp>, overlap: chrono::Duration) -> Option<Timestamp> {
        let reach = match (self.newest, self.moved_from) {
            (Some(n), Some(m)) => Some(n.min(m)),
            (n, _) => n,
        };
        reach.map(|r| {
            let w = r.minus(overlap);
            since.map_or(w, |s| w.max(s))
        })
    }
}
