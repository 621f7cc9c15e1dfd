//! The webhook adapter: sample Lambda events through `lambda_http`, and real HTTP on loopback.

use ghsync_shared::Store;
use ghsync_shared::config::WebhookSecrets;
use ghsync_shared::domain::TaskStatus;
use ghsync_shared::store::Table;
use ghsync_shared::webhook::sign;
use ghsync_webhook::{WebhookState, router};
use http::Method;
use serde_json::json;
use testkit::events::{SECRET, expected_status};
use testkit::fixtures::{issue, issues_event};
use testkit::http::send;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tower::ServiceExt;
use uuid::Uuid;

async fn following(store: &Store, repo: &str) -> Uuid {
    testkit::configured_project(store, repo, vec![2, 0, 0]).await
}

/// An `issues` `opened` delivery body for issue 1 of acme/widgets.
fn opened_body() -> String {
    issues_event(
        "opened",
        issue("acme/widgets", 1, "Hi", None, "open", "2026-01-05T10:00:00Z"),
        "acme/widgets",
        json!({}),
    )
    .to_string()
}

fn state(store: &Store, secret: &str) -> WebhookState {
    WebhookState::github_com(store.clone(), WebhookSecrets::parse(secret))
}

async fn serve(state: WebhookState) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router(state)).await.unwrap() });
    url
}

#[tokio::test]
async fn the_sample_events_are_current_and_answered_as_expected() {
    let store = testkit::sqlite().await;
    let p = following(&store, testkit::events::REPO).await;
    let app = router(state(&store, SECRET));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");
    for (name, generated) in testkit::events::all() {
        let text = std::fs::read_to_string(dir.join(name)).unwrap_or_else(|e| panic!("events/{name}: {e}"));
        let on_disk: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(on_disk, generated, "events/{name} is stale: run `cargo run -p testkit --bin gen-events`");
        if !name.starts_with("webhook-") {
            continue;
        }
        let request = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status().as_u16(), expected_status(name), "{name}");
    }
    // opened → edited → closed → reopened → deleted: the task took every step.
    let tasks = store.list_tasks(p).await.unwrap();
    let t42 = tasks.iter().find(|t| t.github.as_ref().unwrap().issue_number == 42).unwrap();
    assert_eq!(t42.task.title, "Login fails on Safari 17");
    assert_eq!(t42.task.status, TaskStatus::Todo, "reopened");
    assert_eq!(t42.github.as_ref().unwrap().remote_state.as_str(), "deleted");
    assert!(tasks.iter().all(|t| t.task.title != "Forged"), "the badly signed event changed nothing");
    // The comment brought its issue in, and sits on its thread.
    let t46 = tasks.iter().find(|t| t.github.as_ref().unwrap().issue_number == 46).unwrap();
    let thread =
        store.task_comments(t46.task.id, &ghsync_shared::paging::PageRequest::everything()).await.unwrap();
    assert_eq!(thread[0].body, "It also happens on Firefox.");
    assert_eq!(store.count_rows(Table::Deliveries).await.unwrap(), 10, "every verified delivery is logged");
}

#[tokio::test]
async fn statuses_over_http_follow_the_outcome() {
    let store = testkit::sqlite().await;
    following(&store, "acme/widgets").await;
    let url = format!("{}/webhooks/github", serve(state(&store, "s3cret")).await);
    let body = opened_body();
    let sig = sign("s3cret", body.as_bytes());
    let headers = |event: &'static str, id: &'static str| {
        vec![("content-type", "application/json"), ("x-github-event", event), ("x-github-delivery", id)]
    };

    let mut h = headers("issues", "d-1");
    h.push(("x-hub-signature-256", &sig));
    let r = send(Method::POST, &url, &h, body.clone()).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["outcome"], "applied");
    let r = send(Method::POST, &url, &h, body.clone()).await;
    assert_eq!((r.status.as_u16(), r.json()["outcome"].clone()), (200, json!("duplicate")));

    let before = testkit::row_counts(&store).await;
    let sha1_only = [("x-hub-signature", "sha1=0000000000000000000000000000000000000000")];
    type Case<'a> = (Vec<(&'a str, &'a str)>, String, u16);
    let cases: Vec<Case> = vec![
        (headers("issues", "d-2"), body.clone(), 401),
        ([headers("issues", "d-3"), sha1_only.to_vec()].concat(), body.clone(), 401),
        ([headers("issues", "d-4"), vec![("x-hub-signature-256", "sha256=00")]].concat(), body.clone(), 401),
        (vec![("x-github-delivery", "d-5"), ("x-hub-signature-256", &sig)], body.clone(), 400),
        (vec![("x-github-event", "issues"), ("x-hub-signature-256", &sig)], body.clone(), 400),
    ];
    for (headers, body, status) in cases {
        let r = send(Method::POST, &url, &headers, body).await;
        assert_eq!(r.status, status, "{headers:?}: {}", r.text());
        assert!(r.json()["error"]["message"].is_string());
    }
    let garbage = "{not json";
    let gsig = sign("s3cret", garbage.as_bytes());
    let mut h = headers("issues", "d-6");
    h.push(("x-hub-signature-256", &gsig));
    assert_eq!(send(Method::POST, &url, &h, garbage).await.status, 400);

    let huge = vec![b'x'; ghsync_shared::webhook::MAX_BODY_BYTES + 1];
    let hsig = sign("s3cret", &huge);
    let mut h = headers("issues", "d-7");
    h.push(("x-hub-signature-256", &hsig));
    assert_eq!(send(Method::POST, &url, &h, huge).await.status, 413);
    assert_eq!(testkit::row_counts(&store).await, before);
}

#[tokio::test]
async fn header_names_match_in_any_case() {
    let store = testkit::sqlite().await;
    following(&store, "acme/widgets").await;
    let url = serve(state(&store, "s3cret")).await;
    let addr = url.trim_start_matches("http://");
    let body = opened_body();
    let request = format!(
        "POST /webhooks/github HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: issues\r\nX-GITHUB-DELIVERY: d-case\r\nX-Hub-Signature-256: {}\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        sign("s3cret", body.as_bytes()),
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).await.unwrap();
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert_eq!(store.count_rows(Table::Tasks).await.unwrap(), 1);
}

#[tokio::test]
async fn without_a_secret_every_delivery_is_refused() {
    let store = testkit::sqlite().await;
    following(&store, "acme/widgets").await;
    let url = format!("{}/webhooks/github", serve(state(&store, "")).await);
    let body = r#"{"zen": "hi"}"#;
    for sig in [sign("", body.as_bytes()), sign("anything", body.as_bytes())] {
        let h =
            [("x-github-event", "ping"), ("x-github-delivery", "d"), ("x-hub-signature-256", sig.as_str())];
        assert_eq!(send(Method::POST, &url, &h, body).await.status, 401);
    }
    assert_eq!(store.count_rows(Table::Deliveries).await.unwrap(), 0);
}

// On SQLite the delivery goes through the group-commit writer; on PostgreSQL it runs alone.
testkit::both_backends!(an_unavailable_database_answers_503_so_github_can_redeliver);

async fn an_unavailable_database_answers_503_so_github_can_redeliver(store: Store) {
    following(&store, "acme/widgets").await;
    let url = format!("{}/webhooks/github", serve(state(&store, "s3cret")).await);
    store.close().await;
    let body = opened_body();
    let sig = sign("s3cret", body.as_bytes());
    let h = [
        ("x-github-event", "issues"),
        ("x-github-delivery", "d-down"),
        ("x-hub-signature-256", sig.as_str()),
    ];
    let r = send(Method::POST, &url, &h, body).await;
    assert_eq!(r.status, 503, "{}", r.text());
}

/// Sends only the head of a request that announces `length` body bytes, and reads the answer
/// (bounded: a server that waits for the body fails the test instead of hanging it).
async fn answer_to_head(addr: &str, path: &str, extra_headers: &str, length: usize) -> String {
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: issues\r\nX-GitHub-Delivery: d-head\r\n{extra_headers}\
         Content-Length: {length}\r\n\r\n"
    );
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut buf = vec![0u8; 4096];
    let read = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read(&mut buf))
        .await
        .expect("answered without the body")
        .unwrap();
    String::from_utf8_lossy(&buf[..read]).into_owned()
}

#[tokio::test]
async fn an_unsigned_or_form_encoded_delivery_is_refused_before_its_body_is_read() {
    let store = testkit::sqlite().await;
    following(&store, "acme/widgets").await;
    let url = serve(state(&store, "s3cret")).await;
    let addr = url.trim_start_matches("http://").to_string();
    let before = testkit::row_counts(&store).await;

    // 25 MiB announced, not one byte sent: the refusal comes anyway.
    let big = ghsync_shared::webhook::MAX_BODY_BYTES;
    for (path, extra) in [
        ("/webhooks/github", ""),
        ("/webhooks/github", "X-Hub-Signature-256: sha256=zz\r\n"),
        ("/webhooks/github", "X-Hub-Signature: sha1=0000000000000000000000000000000000000000\r\n"),
        ("/webhooks/github/6f1c2a4e-3b7d-4c8e-9a10-2b3c4d5e6f70", ""),
    ] {
        let answer = answer_to_head(&addr, path, extra, big).await;
        assert!(answer.starts_with("HTTP/1.1 401"), "{path} {extra:?}: {answer}");
    }

    // GitHub's default content type: told to choose JSON.
    let form = "payload=%7B%22zen%22%3A%22hi%22%7D";
    let sig = sign("s3cret", form.as_bytes());
    let h = [
        ("content-type", "application/x-www-form-urlencoded"),
        ("x-github-event", "ping"),
        ("x-github-delivery", "d-form"),
        ("x-hub-signature-256", sig.as_str()),
    ];
    let r = send(Method::POST, &format!("{url}/webhooks/github"), &h, form).await;
    assert_eq!(r.status, 400, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "form_encoded");
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("application/json"));
    assert_eq!(testkit::row_counts(&store).await, before);
}

#[tokio::test]
async fn a_configs_own_url_over_http() {
    let store = testkit::sqlite().await;
    let a = following(&store, "acme/widgets").await;
    let b = following(&store, "acme/widgets").await;
    let config_a = store.find_config(a).await.unwrap().unwrap().id;
    let secret_a = testkit::config_secret(&store, "s3cret", config_a).await;
    let base = serve(state(&store, "s3cret")).await;
    let body = opened_body();
    let sig = sign(&secret_a, body.as_bytes());
    let h =
        [("content-type", "application/json"), ("x-github-event", "issues"), ("x-github-delivery", "d-a")];
    fn with<'a>(h: &[(&'a str, &'a str)], sig: &'a str) -> Vec<(&'a str, &'a str)> {
        [h.to_vec(), vec![("x-hub-signature-256", sig)]].concat()
    }

    let r =
        send(Method::POST, &format!("{base}/webhooks/github/not-a-config"), &with(&h, &sig), body.clone())
            .await;
    assert_eq!(r.status, 404);
    // The deployment secret does not open a config's own URL.
    let global = sign("s3cret", body.as_bytes());
    let r =
        send(Method::POST, &format!("{base}/webhooks/github/{config_a}"), &with(&h, &global), body.clone())
            .await;
    assert_eq!(r.status, 401, "{}", r.text());
    let r = send(Method::POST, &format!("{base}/webhooks/github/{config_a}"), &with(&h, &sig), body.clone())
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(!r.text().contains(&a.to_string()) && !r.text().contains(&b.to_string()), "{}", r.text());
    assert_eq!(store.list_tasks(a).await.unwrap().len(), 1);
    assert!(store.list_tasks(b).await.unwrap().is_empty());
}

#[tokio::test]
async fn bodies_read_at_once_are_bounded() {
    let store = testkit::sqlite().await;
    following(&store, "acme/widgets").await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let app = ghsync_webhook::router_with(state(&store, "s3cret"), 1);
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    // One sender with a well-formed (wrong) signature stalls half-way through its body.
    let wrong = format!("sha256={}", "0".repeat(64));
    let head = format!(
        "POST /webhooks/github HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         X-GitHub-Event: issues\r\nX-GitHub-Delivery: d-stall\r\nX-Hub-Signature-256: {wrong}\r\n\
         Content-Length: 1000\r\n\r\n0123456789"
    );
    let mut stalled = tokio::net::TcpStream::connect(&addr).await.unwrap();
    stalled.write_all(head.as_bytes()).await.unwrap();
    // Another delivery meanwhile waits for the slot, then is turned away (503: GitHub
    // redelivers) instead of read.
    let url = format!("http://{addr}/webhooks/github");
    let h = [
        ("x-github-event", "ping"),
        ("x-github-delivery", "d-next"),
        ("x-hub-signature-256", wrong.as_str()),
    ];
    let mut status = 0;
    for _ in 0..200 {
        status = send(Method::POST, &url, &h, r#"{"zen":"x"}"#).await.status.as_u16();
        if status == 503 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(status, 503, "the one slot is taken by the stalled body");
    drop(stalled);
    // The slot comes back once the stalled sender is gone.
    let mut freed = 0;
    for _ in 0..200 {
        freed = send(Method::POST, &url, &h, r#"{"zen":"x"}"#).await.status.as_u16();
        if freed != 503 {
            break;
        }
        tokio::task::yield_now().await;
    }
    assert_eq!(freed, 401, "read and verified again");
}
