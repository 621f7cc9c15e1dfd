//! Fan-out through a real SQS queue (moto's server): the tick claims the due configs and
//! sends each claim; the queue's messages, fed back as the SQS event Lambda would deliver,
//! sync each config once.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{SqsEvent, SqsMessage};
use ghsync_shared::Store;
use ghsync_shared::crypto::{KeyProvider, LocalKeys};
use ghsync_shared::domain::SyncStatus;
use ghsync_shared::github::GitHub;
use ghsync_shared::services::Services;
use ghsync_shared::services::fanout::Fanout;
use ghsync_shared::services::reconcile::{ReconcileOptions, Reconciler};
use ghsync_shared::store::Table;
use lambda_runtime::{Context, LambdaEvent};
use testkit::both_backends;
use testkit::github::FakeGitHub;

const PAT: &str = "ghp_fanoutTestToken00000001";
const CONFIGS: usize = 25;

both_backends!(
    each_due_config_is_claimed_once_sent_once_and_synced_once,
    a_sync_now_reaches_the_reconcile_function_through_the_queue,
);

fn context() -> Context {
    let mut context = Context::default();
    context.deadline =
        (SystemTime::now() + Duration::from_secs(120)).duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    context
}

fn tick() -> LambdaEvent<EventBridgeEvent> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/reconcile-scheduled.json"
    ))
    .unwrap();
    LambdaEvent::new(serde_json::from_str(&text).unwrap(), context())
}

/// A fresh queue on the test server, and a fan-out to it.
async fn queue() -> (aws_sdk_sqs::Client, String, Fanout) {
    let endpoint = testkit::kms::url();
    let client = aws_sdk_sqs::Client::new(&testkit::kms::loader(&endpoint).load().await);
    let name = format!("ghsync-reconcile-{}", uuid::Uuid::new_v4().simple());
    let url = client.create_queue().queue_name(name).send().await.unwrap().queue_url().unwrap().to_string();
    let fanout = Fanout::from_loader(testkit::kms::loader(&endpoint), url.clone()).await;
    (client, url, fanout)
}

/// Every message on the queue, as the SQS event Lambda's event source would deliver.
async fn drain(client: &aws_sdk_sqs::Client, url: &str, expected: usize) -> SqsEvent {
    let mut records = Vec::new();
    for _ in 0..50 {
        if records.len() >= expected {
            break;
        }
        let out = client
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in out.messages() {
            let mut record = SqsMessage::default();
            record.message_id = m.message_id().map(str::to_string);
            record.body = m.body().map(str::to_string);
            record.event_source = Some("aws:sqs".into());
            records.push(record);
        }
    }
    let mut event = SqsEvent::default();
    event.records = records;
    event
}

async fn each_due_config_is_claimed_once_sent_once_and_synced_once(store: Store) {
    let gh = FakeGitHub::start().await;
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"66".repeat(32)).unwrap());
    for i in 0..CONFIGS {
        let repo = format!("acme/repo{i}");
        gh.add_repo(&repo, PAT);
        for n in 1..=2 {
            gh.upsert(
                &repo,
                testkit::fixtures::issue(&repo, n, "An issue", None, "open", "2026-01-05T10:00:00Z"),
            );
        }
        testkit::project_with_pat(&store, &repo, &keys, PAT).await;
    }
    let github = GitHub::new(&gh.url, Duration::from_secs(5)).unwrap();
    let reconciler = Reconciler::new(Services::new(store.clone(), keys, github), ReconcileOptions::default());
    let (client, url, fanout) = queue().await;

    let sent = ghsync_reconcile::handle_fanout(tick(), &reconciler, &fanout).await.unwrap();

    assert_eq!(sent.sent, CONFIGS, "every due config is claimed and sent");
    assert!(gh.requests().is_empty(), "the tick itself asks GitHub nothing");
    let again = ghsync_reconcile::handle_fanout(tick(), &reconciler, &fanout).await.unwrap();
    assert_eq!(again.sent, 0, "claimed configs are not sent twice");

    let batch = drain(&client, &url, CONFIGS).await;
    assert_eq!(batch.records.len(), CONFIGS);
    let duplicate = batch.records[0].clone();
    let response = ghsync_reconcile::handle_messages(LambdaEvent::new(batch, context()), &reconciler).await;

    assert!(response.batch_item_failures.is_empty(), "{:?}", response.batch_item_failures);
    assert_eq!(store.count_rows(Table::Tasks).await.unwrap(), 2 * CONFIGS as i64);
    assert_eq!(store.count_rows(Table::SyncHistory).await.unwrap(), CONFIGS as i64);
    for project in store.list_projects().await.unwrap() {
        let runs = store.list_history(project.id, 10).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, SyncStatus::Success);
    }
    // A message delivered twice finds its claim gone: nothing runs again.
    let mut twice = SqsEvent::default();
    twice.records = vec![duplicate];
    let response = ghsync_reconcile::handle_messages(LambdaEvent::new(twice, context()), &reconciler).await;
    assert!(response.batch_item_failures.is_empty());
    assert_eq!(store.count_rows(Table::SyncHistory).await.unwrap(), CONFIGS as i64);
    // Nothing is due now.
    assert_eq!(ghsync_reconcile::handle_fanout(tick(), &reconciler, &fanout).await.unwrap().sent, 0);

    // The adapter tells the two kinds of event apart.
    let worker = ghsync_reconcile::Worker {
        reconciler: reconciler.clone(),
        fanout: Some(fanout),
        secrets: Default::default(),
    };
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../events/reconcile-scheduled.json"
    ))
    .unwrap();
    let event = LambdaEvent::new(serde_json::from_str(&text).unwrap(), context());
    let summary = ghsync_reconcile::handle_any(event, &worker).await.unwrap();
    assert_eq!(summary["sent"], 0);
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/reconcile-queue.json"))
            .unwrap();
    let event = LambdaEvent::new(serde_json::from_str(&text).unwrap(), context());
    let response = ghsync_reconcile::handle_any(event, &worker).await.unwrap();
    assert_eq!(response["batchItemFailures"], serde_json::json!([]), "an expired claim is done, not retried");
}

async fn a_sync_now_reaches_the_reconcile_function_through_the_queue(store: Store) {
    let gh = FakeGitHub::start().await;
    gh.add_repo("acme/widgets", PAT);
    for n in 1..=3 {
        gh.upsert(
            "acme/widgets",
            testkit::fixtures::issue("acme/widgets", n, "An issue", None, "open", "2026-01-05T10:00:00Z"),
        );
    }
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"66".repeat(32)).unwrap());
    let project = testkit::project_with_pat(&store, "acme/widgets", &keys, PAT).await;
    let github = GitHub::new(&gh.url, Duration::from_secs(5)).unwrap();
    let reconciler = Reconciler::new(Services::new(store.clone(), keys, github), ReconcileOptions::default());
    let (client, url, fanout) = queue().await;

    // What the API does: queue the run in the store, then hand it to the queue.
    let run = store.request_run(project, ghsync_shared::time::Timestamp::now()).await.unwrap();
    ghsync_shared::services::runs::RunQueue::Queue(fanout).wake(project).await;
    let batch = drain(&client, &url, 1).await;
    assert_eq!(batch.records.len(), 1, "one message for the run");
    let response = ghsync_reconcile::handle_messages(LambdaEvent::new(batch, context()), &reconciler).await;

    assert!(response.batch_item_failures.is_empty());
    let done = store.get_run(run.id).await.unwrap();
    assert_eq!((done.status, done.tasks_created), (SyncStatus::Success, 3), "the queued row carries the run");
    assert_eq!(store.count_rows(Table::SyncHistory).await.unwrap(), 1);
}
