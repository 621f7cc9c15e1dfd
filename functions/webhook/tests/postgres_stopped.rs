//! PostgreSQL stopped in the middle of a burst of deliveries over real HTTP: each delivery is
//! answered 200 (applied, whole) or 503 (nothing written, redeliver later); once the server
//! is back the same receiver, without a restart, applies the redeliveries, and the delivery
//! log and the tasks are exactly what was sent.
//!
//! The server is a PostgreSQL of its own (`testkit::StoppablePostgres`), really stopped and
//! started; this binary holds the one test that does it.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use ghsync_shared::config::WebhookSecrets;
use ghsync_shared::store::{StoreOptions, Table};
use ghsync_shared::webhook::sign;
use ghsync_webhook::{WebhookState, router};
use http::Method;
use testkit::StoppablePostgres;
use testkit::fixtures::versioned_edit;
use tokio::sync::{Semaphore, mpsc};

const SECRET: &str = "stopped-secret";
const BURST: usize = 300;
/// The server is stopped once this many deliveries have been answered.
const STOP_AFTER: usize = 100;

fn delivery(k: usize) -> (String, String) {
    (format!("burst-{k}"), versioned_edit("acme/widgets", (k % 100) as i64 + 1, k / 100))
}

async fn post(url: &str, (id, body): &(String, String)) -> u16 {
    let sig = sign(SECRET, body.as_bytes());
    let h = [("x-github-event", "issues"), ("x-github-delivery", id.as_str()), ("x-hub-signature-256", &sig)];
    testkit::http::send(Method::POST, url, &h, body.clone()).await.status.as_u16()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_burst_cut_off_by_a_stopped_database_loses_nothing() {
    let pg = StoppablePostgres::from_env();
    let options = StoreOptions { acquire_timeout: Duration::from_millis(500), ..Default::default() };
    let store = pg.store(&options).await;
    let project = testkit::configured_project(&store, "acme/widgets", vec![2, 0, 0]).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/github", listener.local_addr().unwrap());
    let state = WebhookState::github_com(store.clone(), WebhookSecrets::parse(SECRET));
    tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });

    // The burst: 16 at a time; the answers come back on a channel as they arrive.
    let sends: Arc<Vec<(String, String)>> = Arc::new((0..BURST).map(delivery).collect());
    let (answers_tx, mut answers) = mpsc::unbounded_channel();
    let gate = Arc::new(Semaphore::new(16));
    for k in 0..BURST {
        let (url, sends, answers_tx, gate) = (url.clone(), sends.clone(), answers_tx.clone(), gate.clone());
        tokio::spawn(async move {
            let _permit = gate.acquire_owned().await.unwrap();
            let _ = answers_tx.send((k, post(&url, &sends[k]).await));
        });
    }
    drop(answers_tx);
    let mut status = BTreeMap::new();
    let mut before_stop = Vec::new();
    let mut stopped = None;
    while let Some((k, code)) = answers.recv().await {
        status.insert(k, code);
        if stopped.is_none() {
            before_stop.push(code);
        }
        if status.len() == STOP_AFTER {
            stopped = Some(tokio::task::block_in_place(|| pg.stop()));
        }
    }
    assert!(before_stop.iter().all(|c| *c == 200), "{before_stop:?}");
    assert!(status.values().all(|c| *c == 200 || *c == 503), "only 200 or 503: {status:?}");
    let refused: Vec<usize> = status.iter().filter(|(_, c)| **c != 200).map(|(k, _)| *k).collect();
    assert!(
        refused.len() > (BURST - STOP_AFTER) / 2,
        "deliveries after the stop are refused: {}",
        refused.len()
    );
    tokio::task::block_in_place(|| stopped.expect("the burst outlasted the stop").start());

    // Whatever was answered 200 is in the log, with its effects (one transaction).
    for (k, code) in &status {
        if *code == 200 {
            assert!(store.delivery_outcome(&sends[*k].0).await.unwrap().is_some(), "delivery {k}");
        }
    }

    // Redeliver what was refused, through the same receiver: the pool reconnects by itself.
    // (A 503 means the transaction did not commit, so the redelivery is applied; were a
    // commit's answer lost with the connection, it would be answered as a duplicate, also 200.)
    for k in &refused {
        assert_eq!(post(&url, &sends[*k]).await, 200, "redelivery of {k}");
    }
    assert_eq!(store.count_rows(Table::Deliveries).await.unwrap(), BURST as i64);
    let tasks = store.list_tasks(project).await.unwrap();
    assert_eq!(tasks.len(), 100);
    // The newest version of each issue won, whatever the order of arrival and refusal.
    let newest = (BURST - 1) / 100;
    for t in &tasks {
        assert!(t.task.title.ends_with(&format!(" v{newest}")), "{}", t.task.title);
        assert!(t.github.is_some(), "every task keeps its link: {}", t.task.title);
    }
}
