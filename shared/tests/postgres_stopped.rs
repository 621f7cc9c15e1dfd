//! PostgreSQL stopped in the middle of a reconcile run: the page being applied is not half
//! written, the run ends with a clear error, and once the server is back the next run
//! closes the dead run's history row and completes the import, with nothing lost or doubled.
//!
//! The server is a PostgreSQL of its own (`testkit::StoppablePostgres`), really stopped and
//! started; this binary holds the one test that does it.

use std::time::Duration;

use ghsync_shared::crypto::{KeyProvider, LocalKeys};
use ghsync_shared::domain::SyncStatus;
use ghsync_shared::github::GitHub;
use ghsync_shared::services::Services;
use ghsync_shared::services::reconcile::{ReconcileOptions, Reconciler};
use ghsync_shared::store::{StoreOptions, Table};
use ghsync_shared::{Store, StoreError};
use testkit::StoppablePostgres;
use testkit::fixtures::issue;
use testkit::github::FakeGitHub;

const REPO: &str = "acme/widgets";
const PAT: &str = "ghp_stoppedTestToken00000001";
const ISSUES: i64 = 250;

/// Tasks, and how many of them have no GitHub metadata (a half-written import would leave some).
async fn tasks_and_orphans(store: &Store) -> (i64, i64) {
    let orphans: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM tasks t WHERE NOT EXISTS \
         (SELECT 1 FROM task_github_metadata m WHERE m.task_id = t.id)",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    (store.count_rows(Table::Tasks).await.unwrap(), orphans)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reconcile_cut_off_by_a_stopped_database_is_completed_by_the_next_run() {
    let pg = StoppablePostgres::from_env();
    let store =
        pg.store(&StoreOptions { acquire_timeout: Duration::from_secs(2), ..Default::default() }).await;
    let gh = FakeGitHub::start().await;
    gh.add_repo(REPO, PAT);
    for n in 1..=ISSUES {
        let t = format!("2026-01-01T00:{:02}:{:02}Z", n / 60, n % 60);
        gh.upsert(REPO, issue(REPO, n, &format!("Issue {n}"), Some("body"), "open", &t));
    }
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"5a".repeat(32)).unwrap());
    let project = testkit::project_with_pat(&store, REPO, &keys, PAT).await;
    let services = Services::new(store.clone(), keys, GitHub::new(&gh.url, Duration::from_secs(10)).unwrap());
    // A short claim, so the run that died does not keep the config locked for long.
    let lease = chrono::Duration::seconds(2);
    let options = ReconcileOptions { lease, retry_base: Duration::from_millis(5), ..Default::default() };
    let rec = Reconciler::new(services, options);

    // Page 2 of 3 is held until PostgreSQL is down: page 2 cannot be applied.
    let mut page2 = gh.hold_list_request(2);
    let run = tokio::spawn({
        let rec = rec.clone();
        async move { rec.run_project(project).await }
    });
    page2.arrived().await;
    let stopped = tokio::task::block_in_place(|| pg.stop());
    page2.release();
    let report = run.await.unwrap().expect("the run was claimed before the stop");
    let error = report.error.expect("the run reports the failure");
    assert!(error.contains("database unavailable"), "{error}");
    assert!(report.history.is_none(), "nothing can be recorded while the database is down");
    tokio::task::block_in_place(|| stopped.start());

    // Page 2 is fetched while page 1 is applied, so page 1 may or may not have committed
    // before the stop; either way whole pages only, nothing of page 2, every task linked.
    let (tasks, orphans) = tasks_and_orphans(&store).await;
    assert!(tasks == 0 || tasks == 100, "{tasks} tasks: a page was cut");
    assert_eq!(orphans, 0);
    let history = store.list_history(project, 10).await.unwrap();
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].status, SyncStatus::InProgress, "the dead run's row is still open");

    // The dead run's claim lapses after its lease; until then a new run is refused.
    let recovered = loop {
        match rec.run_project(project).await {
            Err(StoreError::StateConflict(_)) => tokio::time::sleep(Duration::from_millis(200)).await,
            other => break other.expect("the database is back"),
        }
    };
    assert_eq!(recovered.error, None);
    assert_eq!(recovered.history.as_ref().unwrap().status, SyncStatus::Success);
    assert_eq!(tasks_and_orphans(&store).await, (ISSUES, 0));
    let titles: Vec<String> =
        sqlx::query_scalar("SELECT title FROM tasks ORDER BY title").fetch_all(store.pool()).await.unwrap();
    let mut expected: Vec<String> = (1..=ISSUES).map(|n| format!("Issue {n}")).collect();
    expected.sort();
    assert_eq!(titles, expected, "each issue exactly once");
    let history = store.list_history(project, 10).await.unwrap();
    let dead = history.iter().find(|h| h.id != recovered.history.as_ref().unwrap().id).unwrap();
    assert_eq!(dead.status, SyncStatus::Failure);
    assert!(dead.error_message.as_deref().unwrap().starts_with("abandoned"));
    let config = store.get_config(project).await.unwrap();
    assert_eq!(config.sync_error, None);

    // And the run after that finds nothing to do.
    let again = rec.run_project(project).await.unwrap();
    assert_eq!(again.history.unwrap().tasks_updated, 0);
    assert_eq!(tasks_and_orphans(&store).await, (ISSUES, 0));
}
