//! Load with nothing lost: many deliveries over real HTTP at 64 connections, a fifth of them
//! duplicates, in random order; afterwards the delivery log and the tasks are exactly what
//! was sent. `GHSYNC_LOAD_DELIVERIES` (default 2,000; the issue's full run is 20,000) sets
//! the count.

use std::collections::BTreeMap;
use std::sync::Arc;

use ghsync_shared::Store;
use ghsync_shared::config::WebhookSecrets;
use ghsync_shared::store::Table;
use ghsync_shared::webhook::sign;
use ghsync_webhook::{WebhookState, router};
use http::Method;
use testkit::both_backends;
use testkit::fixtures::versioned_edit;
use tokio::sync::Mutex;

both_backends!(every_delivery_is_applied_once_and_nothing_is_lost);

async fn every_delivery_is_applied_once_and_nothing_is_lost(store: Store) {
    let total: usize =
        std::env::var("GHSYNC_LOAD_DELIVERIES").ok().and_then(|v| v.parse().ok()).unwrap_or(2_000);
    let unique = total * 4 / 5;
    let project = testkit::configured_project(&store, "acme/widgets", vec![2, 0, 0]).await;
    let state = WebhookState::github_com(store.clone(), WebhookSecrets::parse("load-secret"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/webhooks/github", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });

    // Each issue gets four versions; the newest must win whatever the arrival order.
    let issues = unique.div_ceil(4);
    let mut sends: Vec<(String, String)> = (0..unique)
        .map(|k| {
            let (n, version) = ((k % issues) as i64 + 1, k / issues);
            (format!("load-{k}"), versioned_edit("acme/widgets", n, version))
        })
        .collect();
    let duplicates: Vec<(String, String)> = sends.iter().step_by(4).take(total - unique).cloned().collect();
    sends.extend(duplicates);
    // A fixed shuffle (the test must not depend on luck to be reproducible).
    let mut x: u64 = 0x5DEE_CE66;
    for i in (1..sends.len()).rev() {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        sends.swap(i, (x >> 33) as usize % (i + 1));
    }
    let newest: BTreeMap<i64, String> = (0..unique)
        .map(|k| ((k % issues) as i64 + 1, k / issues))
        .fold(BTreeMap::new(), |mut m, (n, v)| {
            let e = m.entry(n).or_insert(0);
            *e = (*e).max(v);
            m
        })
        .into_iter()
        .map(|(n, v)| (n, format!("Issue {n} v{v}")))
        .collect();

    let queue = Arc::new(Mutex::new(sends));
    let client = testkit::http::client();
    let workers = (0..64).map(|_| {
        let (queue, client, url) = (queue.clone(), client.clone(), url.clone());
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            loop {
                let Some((id, body)) = queue.lock().await.pop() else { break };
                let sig = sign("load-secret", body.as_bytes());
                let headers = [
                    ("x-github-event", "issues"),
                    ("x-github-delivery", id.as_str()),
                    ("x-hub-signature-256", sig.as_str()),
                ];
                statuses.push(
                    testkit::http::send_with(&client, Method::POST, &url, &headers, body)
                        .await
                        .status
                        .as_u16(),
                );
            }
            statuses
        })
    });
    let statuses: Vec<u16> =
        futures::future::join_all(workers).await.into_iter().flat_map(Result::unwrap).collect();

    assert_eq!(statuses.len(), total);
    assert!(statuses.iter().all(|s| *s == 200), "every delivery answered 200");
    assert_eq!(
        store.count_rows(Table::Deliveries).await.unwrap() as usize,
        unique,
        "one log row per delivery id"
    );
    let tasks = store.list_tasks(project).await.unwrap();
    assert_eq!(tasks.len(), issues, "one task per issue");
    for t in tasks {
        let n = t.github.unwrap().issue_number;
        assert_eq!(t.task.title, newest[&n], "issue {n} holds its newest version");
    }
}
