//! The reconcile adapter: the sample EventBridge event through the handler.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use ghsync_shared::crypto::{KeyProvider, LocalKeys, Secret};
use ghsync_shared::domain::SyncStatus;
use ghsync_shared::github::GitHub;
use ghsync_shared::services::Services;
use ghsync_shared::services::reconcile::{ReconcileOptions, Reconciler};
use lambda_runtime::{Context, Diagnostic, LambdaEvent};
use testkit::github::FakeGitHub;

const PAT: &str = "ghp_tickTestToken0000000001";

async fn reconciler(gh: &FakeGitHub) -> Reconciler {
    let store = testkit::sqlite().await;
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"77".repeat(32)).unwrap());
    let project = testkit::configured_project(&store, "acme/widgets", Vec::new()).await;
    let blob = keys.seal(project, &Secret::new(PAT)).await.unwrap();
    sqlx::query("UPDATE github_sync_config SET encrypted_pat = $1")
        .bind(blob)
        .execute(store.pool())
        .await
        .unwrap();
    let github = GitHub::new(&gh.url, Duration::from_secs(2)).unwrap();
    Reconciler::new(Services::new(store, keys, github), ReconcileOptions::default())
}

fn tick(deadline_in: Duration) -> LambdaEvent<EventBridgeEvent> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/reconcile-scheduled.json"
    ))
    .unwrap();
    let event: EventBridgeEvent = serde_json::from_str(&text).unwrap();
    assert_eq!(event.detail_type, "Scheduled Event");
    let mut context = Context::default();
    context.deadline =
        (SystemTime::now() + deadline_in).duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    LambdaEvent::new(event, context)
}

async fn github() -> FakeGitHub {
    let gh = FakeGitHub::start().await;
    gh.add_repo("acme/widgets", PAT);
    for n in 1..=3 {
        gh.upsert(
            "acme/widgets",
            testkit::fixtures::issue("acme/widgets", n, "An issue", None, "open", "2026-01-05T10:00:00Z"),
        );
    }
    gh
}

#[tokio::test]
async fn a_scheduled_tick_syncs_the_due_configs() {
    let gh = github().await;
    let r = reconciler(&gh).await;
    let summary = ghsync_reconcile::handle(tick(Duration::from_secs(120)), &r).await.unwrap();
    assert_eq!(summary.configs.len(), 1);
    let h = summary.configs[0].history.as_ref().unwrap();
    assert_eq!((h.status, h.tasks_created), (SyncStatus::Success, 3));
    // Nothing is due on the next tick.
    let summary = ghsync_reconcile::handle(tick(Duration::from_secs(120)), &r).await.unwrap();
    assert!(summary.configs.is_empty());
}

#[tokio::test]
async fn a_tick_near_its_deadline_starts_nothing() {
    let gh = github().await;
    let r = reconciler(&gh).await;
    let summary = ghsync_reconcile::handle(tick(ghsync_reconcile::MARGIN / 2), &r).await.unwrap();
    assert!(summary.stopped_for_deadline && summary.configs.is_empty());
    assert!(gh.requests().is_empty());
}

#[tokio::test]
async fn an_unavailable_database_is_a_retryable_failure() {
    let gh = github().await;
    let r = reconciler(&gh).await;
    r.services.store.close().await;
    let err = ghsync_reconcile::handle(tick(Duration::from_secs(120)), &r).await.unwrap_err();
    let d: Diagnostic = err.into();
    assert_eq!(d.error_type, "Retryable");
}

#[tokio::test]
async fn a_runtime_without_a_deadline_runs_every_due_config() {
    let gh = github().await;
    let r = reconciler(&gh).await;
    let mut event = tick(Duration::from_secs(120));
    event.context.deadline = 0;
    let summary = ghsync_reconcile::handle(event, &r).await.unwrap();
    assert!(!summary.stopped_for_deadline);
    assert_eq!(summary.configs.len(), 1);
}

#[tokio::test]
async fn a_deadline_given_as_a_timeout_is_read_as_one() {
    let gh = github().await;
    let r = reconciler(&gh).await;
    let mut event = tick(Duration::from_secs(120));
    event.context.deadline = 600_000; // what `cargo lambda watch` sends: its 600 s timeout
    let summary = ghsync_reconcile::handle(event, &r).await.unwrap();
    assert_eq!(summary.configs.len(), 1);
    let mut event = tick(Duration::from_secs(120));
    event.context.deadline = 20_000; // 20 s: less than the margin
    assert!(ghsync_reconcile::handle(event, &r).await.unwrap().stopped_for_deadline);
}
