//! The migration step as CloudFormation drives it: a custom resource's Create and Update
//! apply the migrations, Delete leaves the schema, and every request is answered at its
//! response URL (here a local server standing in for the presigned S3 URL), failures too.

use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use axum::http::HeaderMap;
use ghsync_shared::config::Config;
use ghsync_shared::startup::StartupError;
use ghsync_shared::store::Table;
use ghsync_shared::{Store, StoreOptions};
use serde_json::{Value, json};

/// What the response URL received: (content type, body).
type Answers = Arc<Mutex<Vec<(String, Value)>>>;

async fn answering_server() -> (String, Answers) {
    let answers: Answers = Arc::default();
    let kept = answers.clone();
    let app = axum::Router::new().route(
        "/cfn-response",
        axum::routing::put(move |headers: HeaderMap, body: Bytes| {
            let kept = kept.clone();
            async move {
                let content_type =
                    headers.get("content-type").map_or("<none>", |v| v.to_str().unwrap()).to_string();
                kept.lock().unwrap().push((content_type, serde_json::from_slice(&body).unwrap()));
                ""
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cfn-response?X-Amz-Signature=abc", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, answers)
}

/// The sample event of `events/` (checked current by the webhook's adapter test) for
/// `kind`, answered at `response_url`.
fn request(kind: &str, response_url: &str) -> Value {
    let mut request = testkit::events::custom_resource_event(kind);
    request["ResponseURL"] = json!(response_url);
    request["RequestId"] = json!(format!("req-{kind}"));
    request
}

fn settings(database_url: String) -> impl AsyncFnOnce() -> Result<Config, StartupError> {
    async move || {
        Ok(Config::lambda_from_lookup(|name| (name == "GHSYNC_DATABASE_URL").then(|| database_url.clone()))?)
    }
}

async fn answered(answers: &Answers) -> (String, Value) {
    let answers = answers.lock().unwrap();
    assert_eq!(answers.len(), 1, "one answer per request: {answers:?}");
    answers[0].clone()
}

async fn migrations_missing(url: &str) -> Option<i64> {
    let store = Store::connect(url, &StoreOptions::default()).await.unwrap();
    let missing = store.missing_migration().await.unwrap().map(|m| m.version);
    store.close().await;
    missing
}

/// A fresh, empty database on each backend.
async fn backends() -> Vec<String> {
    let dir = testkit::temp_dir("ghsync-migrate");
    vec![format!("sqlite://{}?mode=rwc", dir.join("fresh.db").display()), testkit::postgres_url().await]
}

#[tokio::test]
async fn create_migrates_an_empty_database_and_answers_success() {
    for url in backends().await {
        assert!(migrations_missing(&url).await.is_some());
        let (response_url, answers) = answering_server().await;
        let result =
            ghsync_migrate::handle(request("Create", &response_url), settings(url.clone())).await.unwrap();
        assert_eq!(result, json!({"status": "SUCCESS"}));
        let (content_type, answer) = answered(&answers).await;
        assert_eq!(content_type, "", "the presigned URL is signed for an empty content type");
        assert_eq!(answer["Status"], "SUCCESS");
        assert_eq!(answer["PhysicalResourceId"], "ghsync-schema");
        assert_eq!(answer["RequestId"], "req-Create");
        assert_eq!(answer["LogicalResourceId"], "Migration");
        assert_eq!(answer["StackId"], testkit::events::custom_resource_event("Create")["StackId"]);
        let store = Store::connect(&url, &StoreOptions::default()).await.unwrap();
        assert_eq!(answer["Data"]["SchemaVersion"], store.schema_version().to_string());
        assert_eq!(store.missing_migration().await.unwrap().map(|m| m.version), None);
    }
}

#[tokio::test]
async fn update_applies_the_migration_a_new_build_brings() {
    for backend in ["sqlite", "postgres"] {
        let (url, _) = testkit::schema::one_migration_behind(backend).await;
        assert!(migrations_missing(&url).await.is_some());
        let (response_url, answers) = answering_server().await;
        ghsync_migrate::handle(request("Update", &response_url), settings(url.clone())).await.unwrap();
        assert_eq!(answered(&answers).await.1["Status"], "SUCCESS");
        assert_eq!(migrations_missing(&url).await, None, "{backend}");
    }
}

#[tokio::test]
async fn delete_answers_success_and_leaves_the_data() {
    for url in backends().await {
        let store = Store::connect(&url, &StoreOptions::default()).await.unwrap();
        store.migrate().await.unwrap();
        store.create_project("Kept").await.unwrap();
        let (response_url, answers) = answering_server().await;
        ghsync_migrate::handle(request("Delete", &response_url), settings("postgres://127.0.0.1:9/x".into()))
            .await
            .unwrap();
        let answer = answered(&answers).await.1;
        assert_eq!(
            (answer["Status"].as_str(), answer["PhysicalResourceId"].as_str()),
            (Some("SUCCESS"), Some("ghsync-schema"))
        );
        assert_eq!(store.count_rows(Table::Projects).await.unwrap(), 1);
    }
}

#[tokio::test]
async fn a_failure_is_answered_failed_with_its_reason_and_no_password() {
    let (response_url, answers) = answering_server().await;
    let unreachable = "postgres://owner:pw-never-shown@127.0.0.1:9/ghsync?connect_timeout=2".to_string();
    let result =
        ghsync_migrate::handle(request("Create", &response_url), settings(unreachable)).await.unwrap();
    assert_eq!(result, json!({"status": "FAILED"}));
    let answer = answered(&answers).await.1;
    assert_eq!(answer["Status"], "FAILED");
    let reason = answer["Reason"].as_str().unwrap();
    assert!(reason.starts_with("cannot open the database"), "{reason}");
    assert!(!answer.to_string().contains("pw-never-shown"), "{answer}");

    // Unreadable settings (a secret that cannot be read) are answered the same way.
    let (response_url, answers) = answering_server().await;
    let missing = async || {
        Err(StartupError::Config(ghsync_shared::config::ConfigError::Missing("GHSYNC_DATABASE_URL")))
    };
    ghsync_migrate::handle(request("Update", &response_url), missing).await.unwrap();
    let answer = answered(&answers).await.1;
    assert_eq!(
        (answer["Status"].as_str(), answer["Reason"].as_str()),
        (Some("FAILED"), Some("GHSYNC_DATABASE_URL is not set"))
    );
}

#[tokio::test]
async fn invoked_by_hand_it_migrates_and_returns_the_schema_version() {
    let url = backends().await.remove(0);
    let by_hand =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../events/migrate.json")).unwrap();
    let result =
        ghsync_migrate::handle(serde_json::from_str(&by_hand).unwrap(), settings(url.clone())).await.unwrap();
    let store = Store::connect(&url, &StoreOptions::default()).await.unwrap();
    assert_eq!(result, json!({"schema_version": store.schema_version()}));
    assert_eq!(migrations_missing(&url).await, None);
}

#[tokio::test]
async fn a_rollback_to_an_older_build_migrates_nothing_and_answers_success() {
    let (url, _) = testkit::schema::one_migration_behind("sqlite").await;
    let (response_url, answers) = answering_server().await;
    let mut rollback = request("Update", &response_url);
    // CloudFormation puts back the older version: the new properties name a lower one.
    let (older, newer) = (
        rollback["OldResourceProperties"]["CodeVersion"].clone(),
        rollback["ResourceProperties"]["CodeVersion"].clone(),
    );
    rollback["ResourceProperties"]["CodeVersion"] = older;
    rollback["OldResourceProperties"]["CodeVersion"] = newer;
    ghsync_migrate::handle(rollback, settings(url.clone())).await.unwrap();
    assert_eq!(answered(&answers).await.1["Status"], "SUCCESS");
    assert!(migrations_missing(&url).await.is_some(), "a rollback applies no migration");
}

#[tokio::test]
async fn a_request_that_does_not_parse_is_still_answered() {
    let (response_url, answers) = answering_server().await;
    let mut broken = request("Create", &response_url);
    broken["RequestType"] = json!("Replace");
    let result = ghsync_migrate::handle(broken, settings("sqlite::memory:".into())).await.unwrap();
    assert_eq!(result, json!({"status": "FAILED"}));
    let answer = answered(&answers).await.1;
    assert_eq!(answer["Status"], "FAILED");
    assert_eq!(answer["LogicalResourceId"], "Migration");
}

#[tokio::test]
async fn an_older_build_migrating_a_newer_database_leaves_the_newer_migrations() {
    // A database a newer build migrated: one more migration than this build knows.
    let url = format!("sqlite://{}?mode=rwc", testkit::temp_dir("ghsync-migrate").join("newer.db").display());
    let store = Store::connect(&url, &StoreOptions::default()).await.unwrap();
    store.migrate().await.unwrap();
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, installed_on, success, checksum, execution_time) \
         VALUES (29991231000000, 'from the future', '2099-01-01', 1, x'00', 0)",
    )
    .execute(store.pool())
    .await
    .unwrap();
    store.close().await;
    let result = ghsync_migrate::handle(json!({}), settings(url.clone())).await.unwrap();
    assert!(result["schema_version"].as_i64().is_some(), "{result}");
}
