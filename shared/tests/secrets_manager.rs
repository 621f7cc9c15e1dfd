//! Secrets from AWS Secrets Manager (moto's server): a deployed function reads its settings
//! from one secret at cold start, never shows them, and takes a rotated value on its next
//! failure without a redeploy.

use std::collections::HashMap;
use std::time::Duration;

use ghsync_shared::secrets::Secrets;
use ghsync_shared::startup::deployed_config;
use ghsync_shared::store::{StoreOptions, Table};
use ghsync_shared::webhook::{Receiver, WebhookConfig, WebhookError};
use ghsync_shared::{Store, StoreError};
use serde_json::json;
use testkit::fixtures::Signed;

fn env(vars: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    move |name| map.get(name).cloned()
}

fn loader() -> aws_config::ConfigLoader {
    testkit::kms::loader(&testkit::kms::url())
}

#[tokio::test]
async fn a_deployed_function_reads_its_settings_from_the_secret_and_shows_none() {
    let arn = testkit::secrets::create(&json!({
        "database_url": "postgres://app:db-password-1@db.internal:5432/ghsync",
        "webhook_secret": "hook-secret-old,hook-secret-new",
        "api_token": "api-token-1",
    }))
    .await;
    let (config, secrets) = deployed_config(env(&[("GHSYNC_SECRETS_ARN", &arn)]), loader).await.unwrap();
    assert_eq!(config.database_url, "postgres://app:db-password-1@db.internal:5432/ghsync");
    let webhook: Vec<String> = secrets
        .webhook()
        .unwrap()
        .iter()
        .map(|s| secrecy::ExposeSecret::expose_secret(s).to_string())
        .collect();
    assert_eq!(webhook, ["hook-secret-old", "hook-secret-new"]);
    assert_eq!(secrets.api_token().unwrap().expose(), "api-token-1");
    assert!(secrets.rotates());
    let shown = format!("{secrets:?} {:?}", config.webhook_secrets);
    for value in ["db-password-1", "hook-secret-old", "hook-secret-new", "api-token-1"] {
        assert!(!shown.contains(value), "{value} shown in {shown}");
    }

    // A variable the environment sets wins over its key (sam local invoke, events/env.json).
    let (config, secrets) = deployed_config(
        env(&[
            ("GHSYNC_SECRETS_ARN", &arn),
            ("GHSYNC_DATABASE_URL", "sqlite://local.db"),
            ("GHSYNC_API_TOKEN", "local"),
        ]),
        loader,
    )
    .await
    .unwrap();
    assert_eq!(config.database_url, "sqlite://local.db");
    assert_eq!(secrets.api_token().unwrap().expose(), "local");
    assert_eq!(secrets.webhook().unwrap().iter().count(), 2);
}

#[tokio::test]
async fn a_secret_that_cannot_be_used_stops_the_start_and_names_it() {
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ghsync-nowhere-AbCdEf";
    let e = deployed_config(env(&[("GHSYNC_SECRETS_ARN", missing)]), loader).await.unwrap_err();
    assert!(e.to_string().contains("cannot read the secret") && e.to_string().contains(missing), "{e}");

    let not_json = testkit::secrets::create(&json!("just-a-string-value")).await;
    let e = deployed_config(env(&[("GHSYNC_SECRETS_ARN", &not_json)]), loader).await.unwrap_err();
    assert!(e.to_string().contains("not a JSON object of strings"), "{e}");
    assert!(!e.to_string().contains("just-a-string-value"), "{e}");

    // Without a database URL in either place a deployed function names what is missing.
    let no_db = testkit::secrets::create(&json!({"webhook_secret": "s"})).await;
    let e = deployed_config(env(&[("GHSYNC_SECRETS_ARN", &no_db)]), loader).await.unwrap_err();
    assert_eq!(e.to_string(), "GHSYNC_DATABASE_URL is not set");
}

const BODY: &str = r#"{"zen":"Keep it logically awesome.","hook_id":1}"#;

async fn deliver(receiver: &Receiver, secret: &str, id: &str) -> Result<(), WebhookError> {
    receiver.handle(Signed::new("ping", id, BODY, secret).delivery()).await.map(|_| ())
}

async fn receiver_reading(arn: &str, every: Duration) -> Receiver {
    let secrets =
        Secrets::from_secrets_manager_every(loader(), arn.to_string(), HashMap::new(), every).await.unwrap();
    Receiver::new(testkit::sqlite().await, WebhookConfig { secrets, ..WebhookConfig::github_com(None) })
}

#[tokio::test]
async fn a_rotated_webhook_secret_is_taken_at_the_first_delivery_it_signs() {
    let arn = testkit::secrets::create(&json!({"webhook_secret": "before-rotation"})).await;
    let receiver = receiver_reading(&arn, Duration::ZERO).await;
    deliver(&receiver, "before-rotation", "d1").await.unwrap();
    assert!(matches!(deliver(&receiver, "after-rotation", "d2").await, Err(WebhookError::BadSignature)));

    testkit::secrets::rotate(&arn, &json!({"webhook_secret": "after-rotation"})).await;
    deliver(&receiver, "after-rotation", "d3").await.unwrap();
    assert!(matches!(deliver(&receiver, "before-rotation", "d4").await, Err(WebhookError::BadSignature)));
}

#[tokio::test]
async fn bad_signatures_do_not_read_the_secret_more_often_than_allowed() {
    let arn = testkit::secrets::create(&json!({"webhook_secret": "before-rotation"})).await;
    let receiver = receiver_reading(&arn, Duration::from_secs(3600)).await;
    testkit::secrets::rotate(&arn, &json!({"webhook_secret": "after-rotation"})).await;
    // Read at start less than an hour ago: the new value is not fetched yet.
    assert!(matches!(deliver(&receiver, "after-rotation", "d1").await, Err(WebhookError::BadSignature)));
    deliver(&receiver, "before-rotation", "d2").await.unwrap();
}

#[tokio::test]
async fn rotated_database_credentials_are_taken_at_the_next_failure() {
    let url = testkit::postgres_url().await;
    let admin = sqlx::PgPool::connect(&url).await.unwrap();
    let run = |sql: String| {
        let admin = admin.clone();
        async move { sqlx::query(sqlx::AssertSqlSafe(sql)).execute(&admin).await.unwrap() }
    };
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (old_role, new_role) = (format!("app_old_{suffix}"), format!("app_new_{suffix}"));
    for role in [&old_role, &new_role] {
        run(format!("CREATE ROLE {role} LOGIN SUPERUSER PASSWORD 'pw-{role}'")).await;
    }
    let as_role = |role: &str| url.replacen("postgres@", &format!("{role}:pw-{role}@"), 1);
    Store::connect(&url, &StoreOptions::default()).await.unwrap().migrate().await.unwrap();

    let arn = testkit::secrets::create(&json!({"database_url": as_role(&old_role)})).await;
    let secrets = Secrets::from_secrets_manager_every(loader(), arn.clone(), HashMap::new(), Duration::ZERO)
        .await
        .unwrap();
    let database_url = secrets.lookup("GHSYNC_DATABASE_URL").unwrap();
    let store = Store::connect(&database_url, &StoreOptions::deployed(1)).await.unwrap();
    secrets.watch_store(&store);
    assert_eq!(store.count_rows(Table::Projects).await.unwrap(), 0);

    // The credentials rotate: the secret names the new ones, the old ones stop working and
    // the function's connection is gone.
    testkit::secrets::rotate(&arn, &json!({"database_url": as_role(&new_role)})).await;
    run(format!("ALTER ROLE {old_role} NOLOGIN")).await;
    run(format!("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = '{old_role}'")).await;
    let refused = store.count_rows(Table::Projects).await.unwrap_err();
    assert!(matches!(refused, StoreError::Unavailable(_)), "{refused:?}");

    assert!(secrets.reread().await, "the re-read finds the new URL");
    assert_eq!(store.count_rows(Table::Projects).await.unwrap(), 0);
    let shown = format!("{secrets:?} {store:?}");
    assert!(!shown.contains(&format!("pw-{new_role}")), "{shown}");
}
