//! Comments from GitHub over real HTTP (docs/comments.md): an `issue_comment` delivery on each
//! webhook route reaches the task's thread, `GET /api/tasks/{id}/comments` pages it, and the
//! GitHub App's settings check names the events the App lacks. Both backends.

mod common;

use common::{APP_ID, APP_SECRET, DEPLOY_SECRET, GOOD_PAT, INSTALLATION};
use ghsync_shared::Store;
use http::Method;
use serde_json::{Value, json};
use testkit::both_backends;
use testkit::fixtures::{comment, issue, repository, user};

both_backends!(
    a_comment_arrives_on_each_webhook_route_and_the_thread_pages,
    the_app_check_names_missing_events
);

/// An `issue_comment` `created` delivery of comment `id` on issue `number` of acme/widgets.
fn comment_event(number: i64, id: i64, body: &str, minute: u32, installation: Option<i64>) -> String {
    let at = format!("2026-01-05T10:{minute:02}:00Z");
    let mut payload = json!({
        "action": "created",
        "issue": issue("acme/widgets", number, &format!("Issue {number}"), None, "open", &at),
        "comment": comment("acme/widgets", number, id, body, "ana", &at, &at),
        "repository": repository("acme/widgets"),
        "sender": user("ana", 7),
    });
    if let Some(id) = installation {
        payload["installation"] = json!({"id": id});
    }
    payload.to_string()
}

async fn a_comment_arrives_on_each_webhook_route_and_the_thread_pages(store: Store) {
    let app = common::spawn_app_hooked(store, "https://ghsync.example").await;
    let id = app.project().await;
    let path = format!("/api/projects/{id}/github-sync");
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    let config = app.call(Method::PUT, &path, Some(body)).await.json();
    let config_id = config["id"].as_str().unwrap().to_string();
    let own = testkit::config_secret(&app.store, DEPLOY_SECRET, config_id.parse().unwrap()).await;

    // The deployment's URL, then the config's own URL: both on issue 1.
    let r = app
        .deliver_to(
            "/webhooks/github",
            "issue_comment",
            comment_event(1, 101, "first", 1, None),
            DEPLOY_SECRET,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let own_url = format!("/webhooks/github/{config_id}");
    let r = app.deliver_to(&own_url, "issue_comment", comment_event(1, 102, "second", 2, None), &own).await;
    assert_eq!(r.status, 200, "{}", r.text());

    let tasks = app.call(Method::GET, &format!("/api/projects/{id}/tasks"), None).await.json();
    let task = tasks["items"][0]["id"].as_str().unwrap().to_string();
    let comments = format!("/api/tasks/{task}/comments");
    let page = app.call(Method::GET, &comments, None).await.json();
    let bodies: Vec<&str> =
        page["items"].as_array().unwrap().iter().map(|c| c["body"].as_str().unwrap()).collect();
    assert_eq!(bodies, ["first", "second"], "oldest first: {page}");
    let first = &page["items"][0];
    assert_eq!(first["task_id"], task.as_str());
    assert_eq!(first["author"], "ana");
    assert_eq!(
        first["github"],
        json!({"comment_id": 101, "url": "https://github.com/acme/widgets/issues/1#issuecomment-101", "author_login": "ana"})
    );
    assert_eq!(page["next_cursor"], Value::Null);

    // Pages of one.
    let one = app.call(Method::GET, &format!("{comments}?limit=1"), None).await.json();
    assert_eq!(one["items"].as_array().unwrap().len(), 1);
    let cursor = one["next_cursor"].as_str().expect("a second page");
    let next = app.call(Method::GET, &format!("{comments}?limit=1&cursor={cursor}"), None).await.json();
    assert_eq!(next["items"][0]["body"], "second");
    assert_eq!(next["next_cursor"], Value::Null);
    assert_eq!(app.call(Method::GET, &format!("{comments}?cursor=zz"), None).await.status, 400);
    assert_eq!(app.call(Method::GET, &format!("{comments}?limit=0"), None).await.status, 422);
    let unknown = format!("/api/tasks/{}/comments", uuid::Uuid::new_v4());
    assert_eq!(app.call(Method::GET, &unknown, None).await.status, 404);

    // The App's URL: a config working through the App's installation, on another project.
    app.with_app().await;
    let id2 = app.project().await;
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "installation_id": INSTALLATION});
    let r = app.call(Method::PUT, &format!("/api/projects/{id2}/github-sync"), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let event = comment_event(2, 201, "through the App", 3, Some(INSTALLATION));
    let r = app.deliver_to_app("issue_comment", &serde_json::from_str(&event).unwrap(), APP_SECRET).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let tasks = app.call(Method::GET, &format!("/api/projects/{id2}/tasks"), None).await.json();
    let task2 = tasks["items"][0]["id"].as_str().unwrap();
    let page = app.call(Method::GET, &format!("/api/tasks/{task2}/comments"), None).await.json();
    assert_eq!(page["items"][0]["body"], "through the App", "{page}");
    // The App's delivery touched only the installation's config.
    let page = app.call(Method::GET, &comments, None).await.json();
    assert_eq!(page["items"].as_array().unwrap().len(), 2);
}

async fn the_app_check_names_missing_events(store: Store) {
    let app = common::spawn_app(store).await;
    app.with_app().await;
    let info = app.call(Method::GET, "/api/github-app", None).await.json();
    assert_eq!(info["warnings"], json!([]), "{info}");
    // The App's settings lost "Issue comment".
    app.github.set_app_events(&["issues", "installation"]);
    let info = app.call(Method::GET, "/api/github-app", None).await.json();
    let warnings = info["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{info}");
    assert!(warnings[0].as_str().unwrap().contains("\"Issue comment\""), "{info}");
    let body = json!({"app_id": APP_ID, "private_key": testkit::github::app_private_key(), "webhook_secret": APP_SECRET});
    let saved = app.call(Method::PUT, "/api/github-app", Some(body)).await.json();
    assert_eq!(saved["warnings"].as_array().unwrap().len(), 1, "saving says so too: {saved}");
}
