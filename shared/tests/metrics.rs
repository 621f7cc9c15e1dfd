//! The EMF lines of a webhook delivery and of a sync run: valid Embedded Metric Format (an
//! `_aws` block declaring each metric, whose values and dimensions are top-level members)
//! that carry no secret. Its own test binary: the metrics sink is process-wide.

use std::time::Duration;

use ghsync_shared::config::WebhookSecrets;
use ghsync_shared::crypto::{KeyProvider, LocalKeys};
use ghsync_shared::github::GitHub;
use ghsync_shared::services::Services;
use ghsync_shared::services::reconcile::{ReconcileOptions, Reconciler};
use ghsync_shared::webhook::{WebhookConfig, handle};
use serde_json::Value;
use testkit::fixtures::{Signed, issue, issues_event};
use testkit::github::FakeGitHub;

const REPO: &str = "acme/widgets";
const PAT: &str = "ghp_metricsTestSecretToken01";
const WEBHOOK_SECRET: &str = "metrics-test-webhook-secret";
const LOCAL_KEY: &str = "6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b6b";

/// Checks `line` against the EMF specification and returns it parsed.
fn valid_emf(line: &str) -> Value {
    let object: Value = serde_json::from_str(line).expect("one JSON object per line");
    let aws = &object["_aws"];
    assert!(aws["Timestamp"].as_i64().is_some_and(|t| t > 1_700_000_000_000), "Timestamp in ms: {line}");
    let directives = aws["CloudWatchMetrics"].as_array().expect("CloudWatchMetrics");
    assert_eq!(directives.len(), 1);
    let directive = &directives[0];
    assert_eq!(directive["Namespace"], "ghsync");
    for set in directive["Dimensions"].as_array().expect("Dimensions") {
        let set = set.as_array().expect("a dimension set is an array");
        assert!(!set.is_empty() && set.len() <= 30);
        for key in set {
            assert!(
                object[key.as_str().unwrap()].is_string(),
                "dimension {key} is a top-level string: {line}"
            );
        }
    }
    let metrics = directive["Metrics"].as_array().expect("Metrics");
    assert!(!metrics.is_empty() && metrics.len() <= 100);
    for metric in metrics {
        let name = metric["Name"].as_str().expect("Name");
        assert!(object[name].is_number(), "metric {name} has a top-level number: {line}");
        let unit = metric["Unit"].as_str().expect("Unit");
        assert!(["Count", "Milliseconds", "None"].contains(&unit), "{unit}");
    }
    object
}

fn declared(object: &Value) -> Vec<&str> {
    object["_aws"]["CloudWatchMetrics"][0]["Metrics"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["Name"].as_str().unwrap())
        .collect()
}

#[tokio::test]
async fn deliveries_and_sync_runs_are_valid_emf_and_carry_no_secret() {
    ghsync_shared::metrics::capture("test");
    let store = testkit::sqlite().await;

    // A sync run: GitHub lists two issues and tells the token's budget and expiry.
    let gh = FakeGitHub::start().await;
    gh.add_repo(REPO, PAT);
    gh.set_token_expiry(PAT, "2099-01-01 00:00:00 UTC");
    for n in 1..=2 {
        gh.upsert(REPO, issue(REPO, n, &format!("Issue {n}"), Some("body"), "open", "2026-01-01T00:00:00Z"));
    }
    // And one comment on the first.
    let at = "2026-01-01T00:00:01Z";
    gh.upsert_comment(REPO, testkit::fixtures::comment(REPO, 1, 5, "hello", "ana", at, at));
    let keys = KeyProvider::Local(LocalKeys::from_hex(LOCAL_KEY).unwrap());
    let project = testkit::project_with_pat(&store, REPO, &keys, PAT).await;
    let github = GitHub::new(&gh.url, Duration::from_secs(5)).unwrap();
    let reconciler = Reconciler::new(Services::new(store.clone(), keys, github), ReconcileOptions::default());
    reconciler.run_project(project).await.unwrap();

    // A delivery: an issue opened.
    let body = issues_event(
        "opened",
        issue(REPO, 3, "Issue 3", None, "open", "2026-01-02T00:00:00Z"),
        REPO,
        Value::Null,
    )
    .to_string();
    let config = WebhookConfig::github_com(WebhookSecrets::parse(WEBHOOK_SECRET));
    let signed = Signed::new("issues", "metrics-delivery-1", body.clone(), WEBHOOK_SECRET);
    handle(&store, &config, signed.delivery()).await.unwrap();
    // And one refused for its signature.
    let forged = Signed::new("issues", "metrics-delivery-1", body, "wrong");
    handle(&store, &config, forged.delivery()).await.unwrap_err();

    let lines = ghsync_shared::metrics::captured();
    for line in &lines {
        for secret in [PAT, WEBHOOK_SECRET, LOCAL_KEY] {
            assert!(!line.contains(secret), "a metric line carries a secret: {line}");
        }
    }
    let objects: Vec<Value> = lines.iter().map(|l| valid_emf(l)).collect();

    let run = objects.iter().find(|o| o["project_id"] == project.to_string()).expect("the sync run's line");
    assert_eq!(run["status"], "success");
    assert_eq!(
        run["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
        serde_json::json!([["function"], ["function", "status"]])
    );
    for metric in [
        "SyncRuns",
        "SyncDuration",
        "IssuesFetched",
        "Conflicts",
        "CommentsFetched",
        "CommentsChanged",
        "RateLimitRemaining",
        "TokenExpiresInDays",
    ] {
        assert!(declared(run).contains(&metric), "{metric} in {run}");
    }
    assert_eq!(run["IssuesFetched"], 2.0);
    assert_eq!((run["CommentsFetched"].clone(), run["CommentsChanged"].clone()), (1.0.into(), 1.0.into()));
    assert!(run["TokenExpiresInDays"].as_f64().unwrap() > 365.0, "{run}");
    assert_eq!(run["function"], "test");

    let applied =
        objects.iter().find(|o| o["delivery_id"] == "metrics-delivery-1" && o["outcome"] == "applied");
    let applied = applied.expect("the applied delivery's line");
    assert_eq!(declared(applied), ["Deliveries", "DeliveryLatency"]);
    assert_eq!(applied["Deliveries"], 1.0);
    assert!(objects.iter().any(|o| o["delivery_id"] == "metrics-delivery-1" && o["outcome"] == "refused"));
}
