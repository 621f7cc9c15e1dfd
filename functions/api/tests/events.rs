//! The sample API events of `events/` through `lambda_http`'s own parsing and the router.

use ghsync_api::{ApiState, router};
use ghsync_shared::config::ApiToken;
use ghsync_shared::crypto::{KeyProvider, LocalKeys};
use ghsync_shared::domain::TaskPatch;
use ghsync_shared::github::GitHub;
use ghsync_shared::services::Services;
use http_body_util::BodyExt;
use testkit::events::{API_TOKEN, CONFLICT_ID, PROJECT_ID};
use tower::ServiceExt;

#[tokio::test]
async fn the_sample_api_events_are_answered() {
    let store = testkit::sqlite().await;
    let now = ghsync_shared::time::Timestamp::now().to_sql();
    sqlx::query("INSERT INTO projects (id, name, created_at, updated_at) VALUES ($1, 'Widgets', $2, $2)")
        .bind(PROJECT_ID)
        .bind(&now)
        .execute(store.pool())
        .await
        .unwrap();
    let project = PROJECT_ID.parse().unwrap();
    store.apply_issue(project, &testkit::issue(1, "A", None, "open", "2026-01-05T10:00:00Z")).await.unwrap();
    let task = store.list_tasks(project).await.unwrap()[0].task.id;
    store.update_task(task, &TaskPatch { title: Some("Local".into()), ..Default::default() }).await.unwrap();
    store
        .apply_issue(project, &testkit::issue(1, "Remote", None, "open", "2026-01-05T11:00:00Z"))
        .await
        .unwrap();
    sqlx::query("UPDATE conflict_resolution SET id = $1")
        .bind(CONFLICT_ID)
        .execute(store.pool())
        .await
        .unwrap();

    let services = Services::new(
        store.clone(),
        KeyProvider::Local(LocalKeys::from_hex(&"11".repeat(32)).unwrap()),
        GitHub::new("http://127.0.0.1:9", std::time::Duration::from_secs(1)).unwrap(),
    );
    let app = router(ApiState {
        services,
        secrets: ghsync_shared::secrets::Secrets::fixed(None, ApiToken::new(API_TOKEN)),
        runs: Default::default(),
        hooks: Default::default(),
        push: ghsync_shared::services::push::PushOptions::api(),
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../events");

    for (name, status, check) in [
        ("api-list-tasks.json", 200, "\"title\":\"Local\""),
        ("api-resolve-conflict.json", 200, "\"resolution_action\":\"accept_github\""),
        ("api-create-task.json", 201, "\"title\":\"Write the release notes\""),
    ] {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let request = lambda_http::request::from_str(&text).unwrap_or_else(|e| panic!("{name}: {e}"));
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), status, "{name}");
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains(check), "{name}: {body}");
    }
    assert_eq!(store.get_task(task).await.unwrap().title, "Remote");
}
