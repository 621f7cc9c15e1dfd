//! Comments from GitHub over real HTTP (docs/comments.md): an `issue_comment` delivery on each
//! webhook route reaches the task's thread, `GET /api/tasks/{id}/comments` pages it, and the
//! GitHub App's settings check names the events the App lacks; a comment written, edited and
//! deleted on the board reaches GitHub, and a GitHub comment refuses both. Both backends.

#![recursion_limit = "256"]

mod common;

use common::{APP_ID, APP_SECRET, DEPLOY_SECRET, GOOD_PAT, INSTALLATION};
use ghsync_shared::Store;
use http::Method;
use serde_json::{Value, json};
use testkit::both_backends;
use testkit::fixtures::{comment, issue, repository, user};

both_backends!(
    a_comment_arrives_on_each_webhook_route_and_the_thread_pages,
    the_app_check_names_missing_events,
    board_comments_are_written_edited_and_deleted_through_the_api,
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

async fn board_comments_are_written_edited_and_deleted_through_the_api(store: Store) {
    let app = common::spawn_app_hooked(store.clone(), "https://ghsync.example").await;
    app.github.upsert(
        "acme/widgets",
        issue("acme/widgets", 1, "First", Some("one"), "open", "2026-01-05T10:00:00Z"),
    );
    let id = app.project().await;
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT, "two_way": true});
    assert_eq!(
        app.call(Method::PUT, &format!("/api/projects/{id}/github-sync"), Some(body)).await.status,
        200
    );
    app.worker().run_project(id.parse().unwrap()).await.unwrap();
    let tasks = app.call(Method::GET, &format!("/api/projects/{id}/tasks"), None).await.json();
    let task = tasks["items"][0]["id"].as_str().unwrap().to_string();
    let thread = format!("/api/tasks/{task}/comments");

    // Bad input: nothing written.
    let before = testkit::row_counts(&store).await;
    for bad in [json!({"body": "  "}), json!({"body": "x", "author": ""}), json!({"text": "x"})] {
        let r = app.call(Method::POST, &thread, Some(bad.clone())).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
    }
    let too_long = "x".repeat(ghsync_shared::sync::board_comments::MAX_BOARD_COMMENT_CHARS + 1);
    assert_eq!(app.call(Method::POST, &thread, Some(json!({"body": too_long}))).await.status, 422);
    assert_eq!(testkit::row_counts(&store).await, before);

    let r = app.call(Method::POST, &thread, Some(json!({"body": "On it", "author": "Ana"}))).await;
    assert_eq!(r.status, 201, "{}", r.text());
    let written = r.json();
    assert_eq!((written["origin"].as_str(), written["author"].as_str()), (Some("board"), Some("Ana")));
    assert_eq!(written["push_pending"], false, "posted before the answer: {written}");
    assert_eq!((written["push_error"].clone(), written["conflict"].clone()), (Value::Null, Value::Null));
    let github_id = written["github"]["comment_id"].as_i64().expect("linked");
    let on_github = app.github.comments("acme/widgets");
    assert_eq!(on_github.len(), 1);
    assert!(
        on_github[0]["body"]
            .as_str()
            .unwrap()
            .starts_with("**Ana** (via ghsync):\n\nOn it\n\n<!-- ghsync:comment:")
    );

    let comment = format!("/api/comments/{}", written["id"].as_str().unwrap());
    let r = app.call(Method::PATCH, &comment, Some(json!({"body": "Done"}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["body"], "Done");
    // A second write within GitHub's spacing of a second waits for the worker, shown pending.
    let project: uuid::Uuid = id.parse().unwrap();
    if r.json()["push_pending"] == true {
        app.worker().run_project(project).await.unwrap();
    }
    assert!(app.github.comments("acme/widgets")[0]["body"].as_str().unwrap().contains("\n\nDone\n\n"));
    assert_eq!(app.call(Method::DELETE, &comment, None).await.status, 204);
    app.worker().run_project(project).await.unwrap();
    assert!(app.github.comments("acme/widgets").iter().all(|c| c["id"].as_i64() != Some(github_id)));
    assert_eq!(app.call(Method::DELETE, &comment, None).await.status, 404);
    let page = app.call(Method::GET, &thread, None).await.json();
    assert_eq!(page["items"], json!([]));

    // A comment written on GitHub is read-only here; no conflict to resolve on a board one.
    let event = comment_event(1, 501, "from GitHub", 30, None);
    let r = app.deliver_to("/webhooks/github", "issue_comment", event, DEPLOY_SECRET).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let page = app.call(Method::GET, &thread, None).await.json();
    let github_comment = format!("/api/comments/{}", page["items"][0]["id"].as_str().unwrap());
    let r = app.call(Method::PATCH, &github_comment, Some(json!({"body": "mine"}))).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("read-only"));
    assert_eq!(app.call(Method::DELETE, &github_comment, None).await.status, 409);
    let resolve = format!("{github_comment}/resolve");
    assert_eq!(app.call(Method::POST, &resolve, Some(json!({"action": "keep_local"}))).await.status, 409);
    assert_eq!(app.call(Method::POST, &resolve, Some(json!({"action": "merge"}))).await.status, 422);
    assert_eq!(
        app.call(Method::PATCH, "/api/comments/not-an-id", Some(json!({"body": "x"}))).await.status,
        400
    );
}
