//! The API fuzz target's harness, shared by the fuzzer (`fuzz/fuzz_targets/api.rs`) and the
//! test that replays its kept corpus (`functions/api/tests/fuzz_corpus.rs`): request bodies
//! (and a list's query string) against the router, on an in-memory store holding a project,
//! its config, a task and a pending conflict. GitHub is a closed port: a check of a PAT
//! fails fast as unreachable.
//!
//! Input: byte 0 picks the route, the rest is the body (for the task list: the query).
//! A panic or a 500 is a finding: bad input must get a 4xx, an unreachable dependency a 502.

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use ghsync_shared::config::ApiToken;
use ghsync_shared::crypto::{KeyProvider, LocalKeys};
use ghsync_shared::domain::{Content, TaskPatch, TaskStatus};
use ghsync_shared::github::{GitHub, Retries};
use ghsync_shared::services::Services;
use ghsync_shared::store::{ConfigWrite, StoreOptions};
use ghsync_shared::{Store, StoreError};
use tower::ServiceExt;
use uuid::Uuid;

use crate::{ApiState, router};

const TOKEN: &str = "fuzz-api-token";

/// The router and the ids its routes name.
#[derive(Clone)]
pub struct Target {
    app: Router,
    project: Uuid,
    task: Uuid,
    conflict: Uuid,
}

/// Builds the target: a migrated in-memory SQLite store, seeded.
pub async fn target() -> Result<Target, StoreError> {
    let store = Store::connect("sqlite::memory:", &StoreOptions::default()).await?;
    store.migrate().await?;
    let project = store.create_project("Fuzzed").await?.id;
    let write = ConfigWrite {
        credential: Some(ghsync_shared::store::Credential::Pat(vec![2, 0, 0])),
        sync_enabled: Some(true),
        ..ConfigWrite::new(
            ghsync_shared::domain::RepoOwner::parse("acme").expect("owner"),
            ghsync_shared::domain::RepoName::parse("widgets").expect("name"),
        )
    };
    store.put_config(project, &write).await?;
    let issue = |title: &str, at: &str| ghsync_shared::domain::RemoteIssue {
        node_id: "I_kwDOfuzz000001".into(),
        number: 1,
        html_url: "https://github.com/acme/widgets/issues/1".into(),
        content: Content::new(title, None).expect("a title"),
        state: ghsync_shared::domain::IssueState::Open,
        updated_at: at.parse().expect("a time"),
        extras: Default::default(),
        marker: None,
    };
    store.apply_issue(project, &issue("Remote", "2026-01-05T10:00:00Z")).await?;
    let task = store.list_tasks(project).await?[0].task.id;
    store.update_task(task, &TaskPatch { title: Some("Local".into()), ..Default::default() }).await?;
    store.apply_issue(project, &issue("Remote again", "2026-01-05T11:00:00Z")).await?;
    let conflict = store.list_conflicts(project, None).await?[0].id;
    store.create_task(project, &Content::new("Unlinked", None).expect("a title"), TaskStatus::Todo).await?;

    let github = GitHub::new("http://127.0.0.1:9", std::time::Duration::from_millis(200))
        .expect("a GitHub URL")
        .with_retries(Retries { attempts: 1, base: std::time::Duration::from_millis(1) });
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"0f".repeat(32)).expect("a key"));
    let services = Services::new(store, keys, github);
    let app = router(ApiState {
        services,
        secrets: ghsync_shared::secrets::Secrets::fixed(None, ApiToken::new(TOKEN)),
        runs: Default::default(),
        hooks: Default::default(),
        push: ghsync_shared::services::push::PushOptions::api(),
    });
    Ok(Target { app, project, task, conflict })
}

/// Runs one input; returns the status it was answered with.
pub async fn run_one(target: &Target, data: &[u8]) -> StatusCode {
    let (pick, rest) = match data {
        [pick, rest @ ..] => (*pick, rest),
        [] => (0, data),
    };
    let Target { project: p, task: t, conflict: c, .. } = target;
    let (method, path) = match pick % 8 {
        0 => ("POST", "/api/projects".to_string()),
        1 => ("PUT", format!("/api/projects/{p}/github-sync")),
        2 => ("PATCH", format!("/api/tasks/{t}")),
        3 => ("POST", format!("/api/conflicts/{c}/resolve")),
        4 => ("POST", format!("/api/projects/{p}/tasks")),
        5 => ("POST", format!("/api/tasks/{t}/github-issue")),
        6 => ("POST", format!("/api/projects/{p}/github-sync/run")),
        _ => ("GET", format!("/api/projects/{p}/tasks?{}", String::from_utf8_lossy(rest))),
    };
    let request = Request::builder()
        .method(method)
        .uri(&path)
        .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(rest.to_vec()));
    let Ok(request) = request else {
        // A query string that is not a URI: nothing reaches the API.
        return StatusCode::BAD_REQUEST;
    };
    let response = target.app.clone().oneshot(request).await.expect("the router is infallible");
    let status = response.status();
    assert_ne!(status, StatusCode::INTERNAL_SERVER_ERROR, "{method} {path} answered 500");
    status
}
