//! Reconciliation against a GitHub-speaking server, on both backends.

use std::time::Duration;

use ghsync_shared::Store;
use ghsync_shared::crypto::{KeyProvider, LocalKeys};
use ghsync_shared::domain::{RemoteState, SyncStatus, TaskPatch};
use ghsync_shared::github::GitHub;
use ghsync_shared::services::Services;
use ghsync_shared::services::reconcile::{ReconcileOptions, Reconciler};
use ghsync_shared::store::Table;
use ghsync_shared::time::Timestamp;
use serde_json::Value;
use testkit::both_backends;
use testkit::fixtures::{issue, pull_request_issue};
use testkit::github::{FakeGitHub, Fault, Mutation};
use uuid::Uuid;

const REPO: &str = "acme/widgets";
const PAT: &str = "ghp_reconcileTestToken000001";

struct World {
    store: Store,
    gh: FakeGitHub,
    rec: Reconciler,
    project: Uuid,
}

fn at(i: i64) -> String {
    // Distinct, increasing GitHub times, one second apart from 2026-01-01.
    let t =
        chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap() + chrono::Duration::seconds(i);
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn title(n: i64) -> String {
    format!("Issue {n}")
}

async fn world_with(store: Store, keys: KeyProvider) -> World {
    let gh = FakeGitHub::start().await;
    gh.add_repo(REPO, PAT);
    let github = GitHub::new(&gh.url, Duration::from_millis(700)).unwrap();
    let services = Services::new(store.clone(), keys.clone(), github);
    let options = ReconcileOptions { retry_base: Duration::from_millis(5), ..Default::default() };
    let project = testkit::project_with_pat(&store, REPO, &keys, PAT).await;
    World { store, gh, rec: Reconciler::new(services, options), project }
}

async fn world(store: Store) -> World {
    world_with(store, KeyProvider::Local(LocalKeys::from_hex(&"5a".repeat(32)).unwrap())).await
}

impl World {
    fn seed(&self, issues: i64, prs: i64) {
        for n in 1..=issues {
            self.gh.upsert(REPO, issue(REPO, n, &title(n), Some("body"), "open", &at(n)));
        }
        for k in 1..=prs {
            let n = issues + k;
            self.gh.upsert(REPO, pull_request_issue(REPO, n, &format!("PR {n}"), &at(n)));
        }
    }

    async fn run(&self) -> ghsync_shared::services::reconcile::ConfigReport {
        self.rec.run_project(self.project).await.unwrap()
    }

    /// The requests about issues: the comment listing that follows each run's issues
    /// (tests/comments.rs) left out.
    fn issue_requests(&self) -> Vec<testkit::github::Recorded> {
        self.gh.requests().into_iter().filter(|r| !r.path.ends_with("/issues/comments")).collect()
    }

    fn list_requests(&self) -> Vec<testkit::github::Recorded> {
        self.gh.requests().into_iter().filter(|r| r.is_list()).collect()
    }

    async fn titles(&self) -> std::collections::BTreeMap<i64, String> {
        self.store
            .list_tasks(self.project)
            .await
            .unwrap()
            .into_iter()
            .map(|t| (t.github.unwrap().issue_number, t.task.title))
            .collect()
    }

    async fn config(&self) -> ghsync_shared::domain::GitHubSyncConfig {
        self.store.get_config(self.project).await.unwrap()
    }
}

both_backends!(
    first_run_imports_every_issue_and_no_pull_request,
    an_unchanged_repository_costs_one_304_and_writes_nothing,
    after_five_changes_the_next_run_updates_exactly_those_five,
    issues_edited_between_page_fetches_are_all_present_after_the_next_run,
    concurrent_runs_never_sync_a_config_twice,
    rate_limits_set_the_next_attempt_from_githubs_headers,
    server_errors_are_retried_then_recorded,
    a_timeout_fails_cleanly_and_the_next_run_recovers,
    a_refused_pat_is_recorded_as_such,
    truncated_json_leaves_no_half_applied_page,
    a_run_that_died_is_closed_as_failed_by_the_next,
    a_past_deadline_starts_nothing_and_leaves_configs_due,
    the_full_pass_finds_deleted_and_transferred_issues,
    history_is_pruned_to_a_month_or_the_newest_thousand,
    active_repositories_are_polled_every_30_seconds,
    local_edits_survive_and_conflicts_are_recorded,
    switching_the_repository_ends_the_old_links_and_imports_the_new_one,
    a_malformed_issue_is_skipped_named_and_counted_and_the_rest_applied,
    a_disabled_config_is_not_run_on_demand,
    an_ambiguous_delivery_is_settled_by_the_next_run,
    an_import_cut_into_many_runs_imports_every_issue_once,
    a_full_pass_spans_runs_and_looks_up_deletions_once_it_has_listed_everything,
    configs_sharing_a_token_wait_for_its_reset_below_the_reserve,
);

async fn first_run_imports_every_issue_and_no_pull_request(store: Store) {
    let w = world(store).await;
    w.seed(1000, 30);
    let report = w.run().await;
    let history = report.history.unwrap();
    assert_eq!(history.status, SyncStatus::Success, "{:?}", history.error_message);
    assert_eq!(w.list_requests().len(), 11, "⌈1030 items / 100⌉ list requests");
    assert_eq!(report.requests, 12, "and the (empty) comment listing");
    assert_eq!(history.issues_fetched, 1000);
    assert_eq!(history.tasks_created, 1000);
    assert_eq!(w.store.count_rows(Table::Tasks).await.unwrap(), 1000);
    let titles = w.titles().await;
    assert!((1..=1000).all(|n| titles[&n] == title(n)));
    assert!(!titles.contains_key(&1001), "no task for a pull request");
    let config = w.config().await;
    assert_eq!(config.sync_error, None);
    assert!(config.last_sync_at.is_some());
    for r in w.gh.requests() {
        assert_eq!(r.authorization.as_deref(), Some(format!("Bearer {PAT}").as_str()));
    }
    let first = &w.list_requests()[0];
    for param in ["state=all", "sort=updated", "direction=asc", "per_page=100"] {
        assert!(first.query.contains(param), "{}", first.query);
    }
}

async fn an_unchanged_repository_costs_one_304_and_writes_nothing(store: Store) {
    let w = world(store).await;
    w.seed(1000, 30);
    w.run().await;
    let tasks = w.store.list_tasks(w.project).await.unwrap();
    let counts = testkit::row_counts(&w.store).await;
    w.gh.clear_requests();

    let report = w.run().await;

    let requests = w.issue_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    assert_eq!(requests[0].status, 304);
    let comments: Vec<u16> = w.gh.requests().iter().skip(1).map(|r| r.status).collect();
    assert_eq!(comments, [304], "the comments' probe is conditional too");
    assert!(requests[0].if_none_match.is_some());
    assert!(report.not_modified);
    let h = report.history.unwrap();
    assert_eq!(
        (h.status, h.issues_fetched, h.tasks_created, h.tasks_updated),
        (SyncStatus::Success, 0, 0, 0)
    );
    assert_eq!(w.store.list_tasks(w.project).await.unwrap(), tasks);
    let mut expected = counts.clone();
    for (table, n) in expected.iter_mut() {
        if *table == Table::SyncHistory {
            *n += 1; // the run's own history row
        }
    }
    assert_eq!(testkit::row_counts(&w.store).await, expected);
}

async fn after_five_changes_the_next_run_updates_exactly_those_five(store: Store) {
    let w = world(store).await;
    w.seed(1000, 30);
    w.run().await;
    let before = w.titles().await;
    let changed = [3, 250, 512, 777, 1000];
    for (k, n) in changed.iter().enumerate() {
        w.gh.upsert(
            REPO,
            issue(REPO, *n, &format!("Changed {n}"), Some("body"), "open", &at(5000 + k as i64)),
        );
    }
    w.gh.clear_requests();

    let h = w.run().await.history.unwrap();

    assert_eq!(h.tasks_updated, 5);
    assert_eq!(h.tasks_created, 0);
    let after = w.titles().await;
    for n in 1..=1000 {
        let want = if changed.contains(&n) { format!("Changed {n}") } else { before[&n].clone() };
        assert_eq!(after[&n], want);
    }
    assert_eq!(w.issue_requests().len(), 2, "a probe answered 200, then one page since the watermark");
    // And then it is quiet again.
    w.gh.clear_requests();
    assert!(w.run().await.not_modified);
}

async fn issues_edited_between_page_fetches_are_all_present_after_the_next_run(store: Store) {
    let w = world(store).await;
    w.seed(350, 0);
    // While page 2 is awaited, issue 10 (page 1) and issue 250 (page 3) change: issue 10
    // moves to the end of the listing and issue 101 slides into the fetched page 1.
    w.gh.after_list_request(
        1,
        Mutation::Upsert { repo: REPO.into(), issue: issue(REPO, 10, "Edited 10", None, "open", &at(9000)) },
    );
    w.gh.after_list_request(
        1,
        Mutation::Upsert {
            repo: REPO.into(),
            issue: issue(REPO, 250, "Edited 250", None, "completed", &at(9001)),
        },
    );

    w.run().await;
    let after_first = w.titles().await;
    assert_eq!(after_first[&10], "Edited 10");
    assert_eq!(after_first[&250], "Edited 250");
    assert_eq!(after_first.len(), 349, "the offset listing skipped the issue that slid back");

    let second = w.run().await;
    assert!(!second.not_modified, "a listing that saw an issue move leaves no probe");
    let titles = w.titles().await;
    assert_eq!(titles.len(), 350);
    for n in 1..=350 {
        let want = match n {
            10 => "Edited 10".to_string(),
            250 => "Edited 250".to_string(),
            n => title(n),
        };
        assert_eq!(titles[&n], want);
    }
}

async fn concurrent_runs_never_sync_a_config_twice(store: Store) {
    let w = world(store).await;
    w.seed(250, 5);
    let (a, b, c) = tokio::join!(
        w.rec.run_due(ghsync_shared::time::Deadline::NONE),
        w.rec.run_due(ghsync_shared::time::Deadline::NONE),
        w.rec.run_project(w.project)
    );
    let claims = a.unwrap().configs.len() + b.unwrap().configs.len() + usize::from(c.is_ok());
    assert_eq!(claims, 1, "one run got the config");
    assert_eq!(w.store.count_rows(Table::SyncHistory).await.unwrap(), 1);
    assert_eq!(w.store.count_rows(Table::Tasks).await.unwrap(), 250);
    if let Err(e) = c {
        assert!(matches!(e, ghsync_shared::StoreError::StateConflict(_)), "{e:?}");
    }
}

async fn fails_then_recovers(
    w: &World,
    fault_count: usize,
    fault: Fault,
    expect_in_message: &str,
) -> Timestamp {
    for _ in 0..fault_count {
        w.gh.push_fault(fault.clone());
    }
    let before = testkit::row_counts(&w.store).await;
    let report = w.run().await;
    let finished = Timestamp::now();
    let h = report.history.unwrap();
    assert_eq!(h.status, SyncStatus::Failure);
    let message = h.error_message.unwrap();
    assert!(message.contains(expect_in_message), "{message}");
    let config = w.config().await;
    assert_eq!(config.sync_error.as_deref(), Some(message.as_str()));
    assert!(!message.contains(PAT));
    let mut expected = before;
    for (t, n) in expected.iter_mut() {
        if *t == Table::SyncHistory {
            *n += 1;
        }
    }
    assert_eq!(testkit::row_counts(&w.store).await, expected, "nothing applied");
    let next = config.next_sync_at.unwrap();
    // The clean run that follows succeeds and clears the error.
    let h = w.run().await.history.unwrap();
    assert_eq!(h.status, SyncStatus::Success, "{:?}", h.error_message);
    assert_eq!(w.config().await.sync_error, None);
    assert_eq!(w.store.count_rows(Table::Tasks).await.unwrap(), 120);
    let _ = finished;
    next
}

async fn rate_limits_set_the_next_attempt_from_githubs_headers(store: Store) {
    let body = r#"{"message":"API rate limit exceeded","documentation_url":"https://docs.github.com/rest/rate-limit"}"#;
    let w = world(store).await;
    w.seed(120, 0);
    let reset = Timestamp::now().plus(chrono::Duration::minutes(17));
    let reset_secs = reset.as_datetime().timestamp();
    let primary = Fault::status(403, body)
        .with_header("x-ratelimit-remaining", "0")
        .with_header("x-ratelimit-reset", reset_secs.to_string());
    let next = fails_then_recovers(&w, 1, primary, "rate limit").await;
    assert_eq!(next.as_datetime().timestamp(), reset_secs + 1, "x-ratelimit-reset");

    let w2 = world(testkit::sqlite().await).await;
    w2.seed(120, 0);
    let started = Timestamp::now();
    let next =
        fails_then_recovers(&w2, 1, Fault::status(429, body).with_header("retry-after", "120"), "rate limit")
            .await;
    let wait = next.millis_since(started);
    assert!((119_000..=125_000).contains(&wait), "retry-after: {wait} ms");

    let w3 = world(testkit::sqlite().await).await;
    w3.seed(120, 0);
    let started = Timestamp::now();
    let next = fails_then_recovers(&w3, 1, Fault::status(429, body), "rate limit").await;
    assert!(next.millis_since(started) >= 60_000, "at least a minute");
}

async fn server_errors_are_retried_then_recorded(store: Store) {
    let w = world(store).await;
    w.seed(120, 0);
    // One 502 is retried within the run.
    w.gh.push_fault(Fault::status(502, "bad gateway"));
    let h = w.run().await;
    assert_eq!(h.history.unwrap().status, SyncStatus::Success);
    assert_eq!(h.requests, 4, "one retry, then two pages, then the comment listing");
    // Three in a row fail the run; the next attempt backs off.
    let w = world(testkit::sqlite().await).await;
    w.seed(120, 0);
    let started = Timestamp::now();
    let next =
        fails_then_recovers(&w, 3, Fault::status(503, "unavailable"), "GitHub answered HTTP 503").await;
    assert!(next.millis_since(started) >= 30_000);
}

async fn a_timeout_fails_cleanly_and_the_next_run_recovers(store: Store) {
    let w = world(store).await;
    w.seed(120, 0);
    fails_then_recovers(&w, 3, Fault::slow(Duration::from_secs(2)), "GitHub is unreachable").await;
}

async fn a_refused_pat_is_recorded_as_such(store: Store) {
    let w = world(store).await;
    w.seed(120, 0);
    let body =
        r#"{"message":"Bad credentials","documentation_url":"https://docs.github.com/rest","status":"401"}"#;
    fails_then_recovers(&w, 1, Fault::status(401, body), "GitHub refused the token").await;
}

async fn truncated_json_leaves_no_half_applied_page(store: Store) {
    let w = world(store).await;
    w.seed(250, 0);
    w.run().await; // a clean first run; then a listing whose second page is cut off
    for n in 1..=250 {
        w.gh.upsert(REPO, issue(REPO, n, &format!("v2 {n}"), Some("body"), "open", &at(1000 + n)));
    }
    w.gh.push_fault(Fault::status(200, "[]")); // the probe says: changed
    w.gh.push_fault(Fault::status(200, &page_of(&w.gh, 1..=100)).with_header("link", next_link(&w.gh.url)));
    w.gh.push_fault(Fault::status(200, &page_of(&w.gh, 101..=200)[..5000]));
    let report = w.run().await;
    let h = report.history.unwrap();
    assert_eq!(h.status, SyncStatus::Failure);
    assert!(h.error_message.unwrap().contains("malformed"));
    let titles = w.titles().await;
    let v2 = titles.values().filter(|t| t.starts_with("v2 ")).count();
    assert_eq!(v2, 100, "the first page applied whole, the broken one not at all");
    // The watermark did not move: the next run lists the rest.
    let h = w.run().await.history.unwrap();
    assert_eq!(h.status, SyncStatus::Success);
    assert!(w.titles().await.values().all(|t| t.starts_with("v2 ")));
}

fn page_of(gh: &FakeGitHub, numbers: std::ops::RangeInclusive<i64>) -> String {
    let items: Vec<Value> = numbers.map(|n| gh.issue(REPO, n).unwrap()).collect();
    serde_json::to_string(&items).unwrap()
}

fn next_link(base: &str) -> String {
    format!(
        "<{base}/repositories/1000/issues?direction=asc&per_page=100&sort=updated&state=all&page=2>; rel=\"next\""
    )
}

async fn a_run_that_died_is_closed_as_failed_by_the_next(store: Store) {
    let w = world(store).await;
    w.seed(5, 0);
    let config = w.config().await;
    let dead = w.store.start_sync(w.project, config.id, Timestamp::now()).await.unwrap();
    // Its claim expired long ago.
    sqlx::query("UPDATE github_sync_config SET lease_token = 'dead', lease_until = $1")
        .bind(Timestamp::now().minus(chrono::Duration::minutes(1)).to_sql())
        .execute(w.store.pool())
        .await
        .unwrap();

    let summary = w.rec.run_due(ghsync_shared::time::Deadline::NONE).await.unwrap();

    assert_eq!(summary.configs.len(), 1);
    let history = w.store.list_history(w.project, 10).await.unwrap();
    let old = history.iter().find(|h| h.id == dead.id).unwrap();
    assert_eq!(old.status, SyncStatus::Failure);
    assert!(old.error_message.as_deref().unwrap().starts_with("abandoned"));
    assert!(old.duration_ms.is_some() && old.completed_at.is_some());
    assert!(history.iter().all(|h| h.status != SyncStatus::InProgress));
}

async fn a_past_deadline_starts_nothing_and_leaves_configs_due(store: Store) {
    let w = world(store).await;
    w.seed(5, 0);
    let summary = w.rec.run_due(ghsync_shared::time::Deadline::at(std::time::Instant::now())).await.unwrap();
    assert!(summary.stopped_for_deadline);
    assert!(summary.configs.is_empty());
    assert!(w.gh.requests().is_empty());
    assert_eq!(w.store.count_rows(Table::SyncHistory).await.unwrap(), 0);
    // Still due: the next run takes it.
    assert_eq!(w.rec.run_due(ghsync_shared::time::Deadline::NONE).await.unwrap().configs.len(), 1);
}

async fn the_full_pass_finds_deleted_and_transferred_issues(store: Store) {
    let w = world(store).await;
    w.seed(20, 0);
    w.gh.add_repo("acme/elsewhere", PAT);
    w.run().await;
    w.gh.mutate(Mutation::Delete { repo: REPO.into(), number: 3 });
    w.gh.mutate(Mutation::Transfer {
        repo: REPO.into(),
        number: 4,
        to_repo: "acme/elsewhere".into(),
        to_number: 1,
        updated_at: at(100),
    });
    // A day later.
    sqlx::query("UPDATE github_sync_config SET last_full_pass_at = $1")
        .bind(Timestamp::now().minus(chrono::Duration::days(2)).to_sql())
        .execute(w.store.pool())
        .await
        .unwrap();

    let h = w.run().await.history.unwrap();

    assert_eq!(h.status, SyncStatus::Success, "{:?}", h.error_message);
    let tasks = w.store.list_tasks(w.project).await.unwrap();
    let state = |n: i64| {
        tasks
            .iter()
            .find(|t| t.github.as_ref().unwrap().issue_number == n)
            .unwrap()
            .github
            .as_ref()
            .unwrap()
            .remote_state
    };
    assert_eq!(state(3), RemoteState::Deleted);
    assert_eq!(state(4), RemoteState::Transferred);
    assert_eq!(state(5), RemoteState::Open);
    assert_eq!(tasks.len(), 20, "tasks are kept with their content");
    let looked_up: Vec<String> =
        w.issue_requests().into_iter().filter(|r| !r.is_list()).map(|r| r.path).collect();
    assert!(looked_up.contains(&"/repos/acme/widgets/issues/3".to_string()), "{looked_up:?}");
}

async fn history_is_pruned_to_a_month_or_the_newest_thousand(store: Store) {
    let w = world(store).await;
    let config = w.config().await;
    let old = Timestamp::now().minus(chrono::Duration::days(40));
    for i in 0..1005 {
        w.store.start_sync(w.project, config.id, old.plus(chrono::Duration::seconds(i))).await.unwrap();
    }
    let recent = Timestamp::now().minus(chrono::Duration::days(1));
    w.store.start_sync(w.project, config.id, recent).await.unwrap();
    let pruned = w.store.prune_history(config.id, Timestamp::now()).await.unwrap();
    assert_eq!(pruned, 6, "old rows beyond the newest 1,000");
    assert_eq!(w.store.count_rows(Table::SyncHistory).await.unwrap(), 1000);
    let newest = w.store.list_history(w.project, 1).await.unwrap();
    assert_eq!(newest[0].started_at, recent);
}

async fn active_repositories_are_polled_every_30_seconds(store: Store) {
    let w = world(store).await;
    w.seed(3, 0);
    w.run().await;
    let c = w.config().await;
    let gap = c.next_sync_at.unwrap().millis_since(c.last_sync_at.unwrap());
    assert_eq!(gap, 30_000, "changes were seen");
    w.run().await;
    let c = w.config().await;
    let gap = c.next_sync_at.unwrap().millis_since(c.last_sync_at.unwrap());
    assert_eq!(gap, 300_000, "a quiet repository waits for its interval");
}

async fn local_edits_survive_and_conflicts_are_recorded(store: Store) {
    let w = world(store).await;
    w.seed(3, 0);
    w.run().await;
    let tasks = w.store.list_tasks(w.project).await.unwrap();
    let task = |n: i64| tasks.iter().find(|t| t.github.as_ref().unwrap().issue_number == n).unwrap().task.id;
    w.store
        .update_task(task(1), &TaskPatch { title: Some("Local 1".into()), ..Default::default() })
        .await
        .unwrap();
    w.store
        .update_task(task(2), &TaskPatch { title: Some("Local 2".into()), ..Default::default() })
        .await
        .unwrap();
    w.gh.upsert(REPO, issue(REPO, 2, "Remote 2", Some("body"), "open", &at(500)));

    let h = w.run().await.history.unwrap();

    assert_eq!(h.conflicts_detected, 1);
    let titles = w.titles().await;
    assert_eq!(titles[&1], "Local 1");
    assert_eq!(titles[&2], "Local 2", "the conflict leaves the task alone");
    // A second reconcile changes nothing.
    let h = w.run().await.history.unwrap();
    assert_eq!((h.tasks_created, h.tasks_updated, h.conflicts_detected), (0, 0, 0));
    assert_eq!(w.store.count_rows(Table::Conflicts).await.unwrap(), 1);
}

#[tokio::test]
async fn the_kms_provider_decrypts_the_pat_for_a_run() {
    let keys = KeyProvider::Kms(testkit::kms::new_key().await);
    let w = world_with(testkit::sqlite().await, keys).await;
    w.seed(10, 1);
    let h = w.run().await.history.unwrap();
    assert_eq!((h.status, h.tasks_created), (SyncStatus::Success, 10));
}

async fn switching_the_repository_ends_the_old_links_and_imports_the_new_one(store: Store) {
    let w = world(store).await;
    w.seed(5, 0);
    w.run().await;
    // The new repository has fewer issues: #4 and #5 of the old one have no namesake there.
    w.gh.add_repo("acme/gadgets", PAT);
    for n in 1..=3 {
        w.gh.upsert(
            "acme/gadgets",
            issue("acme/gadgets", n, &format!("Gadget {n}"), None, "open", &at(50 + n)),
        );
    }
    testkit::switch_repo(&w.store, w.project, "acme/gadgets").await;
    w.gh.clear_requests();

    let h = w.run().await.history.unwrap();

    assert_eq!(h.status, SyncStatus::Success, "{:?}", h.error_message);
    assert_eq!(h.tasks_created, 3, "the new repository is imported as on creation");
    let tasks = w.store.list_tasks(w.project).await.unwrap();
    assert_eq!(tasks.len(), 8, "the old tasks stay");
    for t in &tasks {
        let link = t.github.as_ref().unwrap();
        let old = link.issue_url.contains("/acme/widgets/");
        assert_ne!(link.remote_state, RemoteState::Deleted, "{}", link.issue_url);
        assert_eq!(link.unlinked_at.is_some(), old, "{}", link.issue_url);
    }
    let looked_up: Vec<String> =
        w.issue_requests().into_iter().filter(|r| !r.is_list()).map(|r| r.path).collect();
    assert!(looked_up.is_empty(), "no old issue is looked up in the new repository: {looked_up:?}");
    // A later full pass leaves the ended links alone too.
    sqlx::query("UPDATE github_sync_config SET last_full_pass_at = $1")
        .bind(Timestamp::now().minus(chrono::Duration::days(2)).to_sql())
        .execute(w.store.pool())
        .await
        .unwrap();
    w.run().await;
    let deleted = w
        .store
        .list_tasks(w.project)
        .await
        .unwrap()
        .into_iter()
        .filter(|t| t.github.as_ref().unwrap().remote_state == RemoteState::Deleted)
        .count();
    assert_eq!(deleted, 0);
}

async fn a_malformed_issue_is_skipped_named_and_counted_and_the_rest_applied(store: Store) {
    let w = world(store).await;
    w.seed(5, 0);
    w.gh.upsert(REPO, issue(REPO, 3, "   ", None, "open", &at(3)));
    let mut foreign = issue(REPO, 4, "Elsewhere", None, "open", &at(4));
    foreign["html_url"] = serde_json::json!("https://evil.example/acme/widgets/issues/4");
    w.gh.upsert(REPO, foreign);

    let report = w.run().await;

    let h = report.history.unwrap();
    assert_eq!(h.status, SyncStatus::Success);
    assert_eq!(report.error, None);
    assert_eq!((h.issues_fetched, h.tasks_created, h.issues_skipped), (3, 3, 2));
    let message = h.error_message.unwrap();
    assert!(message.contains("skipped 2 malformed item(s)"), "{message}");
    assert!(message.contains("#3") && message.contains("#4"), "{message}");
    let titles = w.titles().await;
    assert_eq!(titles.keys().copied().collect::<Vec<_>>(), [1, 2, 5]);
    assert_eq!(w.config().await.sync_error, None);
}

async fn a_disabled_config_is_not_run_on_demand(store: Store) {
    let w = world(store).await;
    w.seed(2, 0);
    w.store.set_sync_enabled(w.project, false).await.unwrap();
    let err = w.rec.run_project(w.project).await.unwrap_err();
    assert!(matches!(err, ghsync_shared::StoreError::StateConflict(_)), "{err:?}");
    assert!(w.gh.requests().is_empty(), "nothing was asked of GitHub");
    assert_eq!(w.store.count_rows(Table::SyncHistory).await.unwrap(), 0);
}

async fn an_ambiguous_delivery_is_settled_by_the_next_run(store: Store) {
    use ghsync_shared::config::WebhookSecrets;
    use ghsync_shared::webhook::{Delivery, WebhookConfig, handle, sign};
    let w = world(store).await;
    w.seed(3, 0);
    w.gh.upsert(REPO, issue(REPO, 2, "Final", Some("body"), "open", &at(2)));
    w.run().await;
    assert!(w.run().await.not_modified, "the probe is in place");
    // A captured delivery of an older edit made in the same second as "Final".
    let body = serde_json::to_vec(&testkit::fixtures::issues_event(
        "edited",
        issue(REPO, 2, "Draft", Some("body"), "open", &at(2)),
        REPO,
        serde_json::json!({}),
    ))
    .unwrap();
    let signature = sign("s", &body);
    let delivery = Delivery {
        event: Some("issues"),
        delivery_id: Some("replayed"),
        signature_256: Some(&signature),
        signature_sha1: None,
        body: &body,
        tenant: None,
        app: false,
    };
    handle(&w.store, &WebhookConfig::github_com(WebhookSecrets::parse("s")), delivery).await.unwrap();
    assert_eq!(w.titles().await[&2], "Final", "the delivery changed nothing");

    let report = w.run().await;

    assert!(!report.not_modified, "the issue is read again, not answered by the probe");
    assert_eq!(w.titles().await[&2], "Final");
    assert!(w.list_requests().iter().any(|r| r.if_none_match.is_none() && r.query.contains("since=")));
}

/// Runs the project's config with a short time limit until a run completes (at most `max`
/// runs); returns each run's (complete, list requests so far, tasks marked deleted).
async fn run_cut(w: &World, limit: Duration, max: usize) -> Vec<(bool, usize, usize)> {
    let mut runs = Vec::new();
    loop {
        let report = w
            .rec
            .run_project_until(
                w.project,
                ghsync_shared::time::Deadline::at(std::time::Instant::now() + limit),
            )
            .await
            .unwrap();
        let h = report.history.as_ref().unwrap();
        assert_eq!(h.status, SyncStatus::Success, "{:?}", h.error_message);
        assert_eq!(h.complete, report.complete);
        let deleted = w
            .store
            .list_tasks(w.project)
            .await
            .unwrap()
            .iter()
            .filter(|t| t.github.as_ref().unwrap().remote_state == RemoteState::Deleted)
            .count();
        runs.push((report.complete, w.list_requests().len(), deleted));
        if report.complete {
            return runs;
        }
        assert!(runs.len() < max, "no end after {max} runs: {runs:?}");
    }
}

async fn an_import_cut_into_many_runs_imports_every_issue_once(store: Store) {
    let w = world(store).await;
    const N: i64 = 2000;
    w.seed(N, 0);
    // GitHub-like latency, and runs far shorter than the whole listing.
    w.gh.set_latency(Duration::from_millis(40));

    let runs = run_cut(&w, Duration::from_millis(150), 200).await;

    assert!(runs.len() >= 3, "the import spans several runs: {runs:?}");
    assert!(runs[..runs.len() - 1].iter().all(|r| !r.0) && runs.last().unwrap().0);
    let titles = w.titles().await;
    assert_eq!(titles.len(), N as usize, "every issue once");
    assert!((1..=N).all(|n| titles[&n] == title(n)));
    assert_eq!(w.store.count_rows(Table::Tasks).await.unwrap(), N);
    let requests = w.list_requests().len();
    let bound = (N as usize).div_ceil(100) + runs.len() + 2;
    assert!(requests <= bound, "{requests} list requests for {} runs (bound {bound})", runs.len());
    // The history shows the cut runs and their progress.
    let history = w.store.list_history(w.project, 1000).await.unwrap();
    assert_eq!(history.iter().filter(|h| !h.complete).count(), runs.len() - 1);
    assert_eq!(history.iter().map(|h| h.tasks_created).sum::<i64>(), N);
    assert!(history.iter().all(|h| h.pages_fetched >= 1));
    // And the run after that is one 304.
    assert!(w.run().await.not_modified);
}

async fn a_full_pass_spans_runs_and_looks_up_deletions_once_it_has_listed_everything(store: Store) {
    let w = world(store).await;
    const N: i64 = 1500;
    w.seed(N, 0);
    w.run().await;
    for n in [7, 700, 1400] {
        w.gh.mutate(Mutation::Delete { repo: REPO.into(), number: n });
    }
    sqlx::query("UPDATE github_sync_config SET last_full_pass_at = $1")
        .bind(Timestamp::now().minus(chrono::Duration::days(2)).to_sql())
        .execute(w.store.pool())
        .await
        .unwrap();
    w.gh.clear_requests();
    w.gh.set_latency(Duration::from_millis(40));

    let runs = run_cut(&w, Duration::from_millis(150), 200).await;

    assert!(runs.len() >= 3, "the pass spans several runs: {runs:?}");
    let pages = (N as usize).div_ceil(100);
    for (complete, list_requests, deleted) in &runs {
        if *deleted > 0 {
            assert!(*list_requests >= pages, "deletions looked up before the whole listing: {runs:?}");
        }
        let _ = complete;
    }
    assert_eq!(runs.last().unwrap().2, 3, "the three deleted issues are found");
    let requests = w.list_requests().len();
    assert!(requests <= pages + runs.len() + 2, "{requests} list requests for {} runs", runs.len());
    let looked_up: Vec<String> =
        w.issue_requests().into_iter().filter(|r| !r.is_list()).map(|r| r.path).collect();
    assert_eq!(looked_up.len(), 3, "only what the pass did not show is looked up: {looked_up:?}");
    assert_eq!(w.store.count_rows(Table::Tasks).await.unwrap(), N, "tasks are kept");
    // The pass is over: the next run is incremental, and one 304.
    assert!(w.run().await.not_modified);
}

async fn configs_sharing_a_token_wait_for_its_reset_below_the_reserve(store: Store) {
    let w = world(store).await;
    w.seed(3000, 0);
    w.gh.add_repo("acme/gadgets", PAT);
    w.gh.upsert("acme/gadgets", issue("acme/gadgets", 1, "Gadget", None, "open", &at(1)));
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"5a".repeat(32)).unwrap());
    let other = testkit::project_with_pat(&w.store, "acme/gadgets", &keys, PAT).await;
    let due = |project: Uuid, at: Timestamp| {
        let store = w.store.clone();
        async move {
            sqlx::query("UPDATE github_sync_config SET next_sync_at = $2 WHERE project_id = $1")
                .bind(project.to_string())
                .bind(at.to_sql())
                .execute(store.pool())
                .await
                .unwrap();
        }
    };
    due(other, Timestamp::now().plus(chrono::Duration::hours(2))).await;
    // 120 requests left this hour; the reconciler keeps 100 in reserve.
    let reset = Timestamp::now().plus(chrono::Duration::minutes(40));
    let reset_secs = reset.as_datetime().timestamp();
    w.gh.set_rate_budget(PAT, 120, reset_secs);

    let summary = w.rec.run_due(ghsync_shared::time::Deadline::NONE).await.unwrap();

    let report = &summary.configs[0];
    assert_eq!(summary.configs.len(), 1);
    let h = report.history.as_ref().unwrap();
    assert_eq!(h.status, SyncStatus::Success, "{:?}", h.error_message);
    assert!(!report.complete, "it stops, to continue after the reset");
    assert!(report.requests <= 21, "{} requests", report.requests);
    assert!(w.gh.requests().iter().all(|r| r.status != 403), "the limit itself is never hit");
    let next = w.config().await.next_sync_at.unwrap();
    assert!(next.as_datetime().timestamp() >= reset_secs, "waits for the reset: {next:?}");
    assert_eq!(w.config().await.sync_error, None);
    // Another config of the same token waits too, without a request.
    due(other, Timestamp::now()).await;
    let before = w.gh.requests().len();
    let summary = w.rec.run_due(ghsync_shared::time::Deadline::NONE).await.unwrap();
    assert_eq!(summary.configs.len(), 1, "the first config is not due before the reset");
    assert!(!summary.configs[0].complete);
    assert_eq!(w.gh.requests().len(), before, "no request below the reserve");
    let other_next = w.store.get_config(other).await.unwrap().next_sync_at.unwrap();
    assert!(other_next.as_datetime().timestamp() >= reset_secs);
    // A person forcing a run is not held back by the reserve.
    assert!(w.rec.run_project(other).await.unwrap().complete);
}
