//! Secrets in logs, alone in a test binary: the capture of a thread's logs must not share
//! its process with tests that log without one (tracing caches each callsite's interest
//! process-wide, which can hide events from a capture).

mod common;

use common::*;
use ghsync_shared::Store;
use http::Method;
use serde_json::json;
use testkit::both_backends;

both_backends!(the_pat_never_appears_in_responses_or_logs);

async fn the_pat_never_appears_in_responses_or_logs(store: Store) {
    let (logs, _guard) = testkit::logs::capture();
    // With a public URL, saving installs the config's webhook (its own secret goes to GitHub).
    let app = spawn_app_hooked(store, "https://ghsync.example").await;
    let id = app.project().await;
    let path = format!("/api/projects/{id}/github-sync");
    let mut bodies = Vec::new();
    for body in [
        json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT}),
        json!({"repo_owner": "acme", "repo_name": "widgets", "pat": OTHER_PAT, "sync_interval_seconds": 120}),
        json!({"repo_owner": "acme", "repo_name": "widgets", "pat": "ghp_unknownToGitHub"}),
    ] {
        bodies.push(app.call(Method::PUT, &path, Some(body)).await);
    }
    bodies.push(app.call(Method::GET, &path, None).await);
    bodies.push(app.call(Method::GET, "/api/projects", None).await);
    assert_eq!(bodies[0].status, 200);
    assert_eq!(bodies[1].status, 200);

    // The webhook's own secret is given to the person who asks (GET …/webhook), never logged.
    let setup = app.call(Method::GET, &format!("{path}/webhook"), None).await;
    let own_secret = setup.json()["secret"].as_str().unwrap().to_string();
    app.call(Method::POST, &format!("{path}/webhook"), None).await;
    let log_text = logs.text();
    assert!(
        log_text.contains("repository webhook installed"),
        "the capture saw the installation:\n{log_text}"
    );
    for secret in [own_secret.as_str(), DEPLOY_SECRET] {
        assert!(!log_text.contains(secret), "a webhook secret was logged");
    }
    assert_eq!(log_text.matches("sync config stored").count(), 2, "the capture saw both stores:\n{log_text}");
    for secret in [GOOD_PAT, OTHER_PAT, "ghp_unknownToGitHub"] {
        assert!(!log_text.contains(secret), "{secret} was logged");
        for r in &bodies {
            assert!(!r.text().contains(secret), "{secret} in a response");
            assert!(!format!("{:?}", r.headers).contains(secret));
        }
    }
    let config = app.store.find_config(id.parse().unwrap()).await.unwrap().unwrap();
    let debug = format!("{config:?}");
    assert!(debug.contains("bytes]") && !debug.contains(OTHER_PAT), "{debug}");
}
