//! The management API over real HTTP (loopback), against a GitHub-speaking server, on both
//! database backends.

mod common;

use common::*;
use ghsync_shared::Store;
use ghsync_shared::crypto::KeyProvider;
use ghsync_shared::store::Table;
use http::Method;
use serde_json::{Value, json};
use testkit::http::send;
use testkit::{both_backends, row_counts};

both_backends!(
    projects_are_created_and_listed,
    every_route_refuses_a_missing_or_wrong_token,
    a_config_is_stored_only_after_github_accepts_the_pat,
    updating_without_a_pat_keeps_it_and_with_one_reencrypts,
    a_refused_pat_is_422_and_stores_nothing,
    an_unreachable_github_is_502_and_stores_nothing,
    invalid_values_are_422_naming_the_field,
    unknown_projects_are_404,
    malformed_and_oversized_bodies_are_refused,
    a_config_can_be_read_and_deleted,
    invalid_task_edits_get_their_status_and_change_nothing,
    invalid_conflict_requests_get_their_status_and_change_nothing,
    a_sync_run_is_refused_while_another_holds_the_config,
    lists_come_in_bounded_pages_that_give_every_item_once,
    run_now_is_queued_at_once_and_done_by_the_worker,
    two_way_needs_a_token_that_can_write_issues,
    a_two_way_edit_is_on_github_when_the_api_answers,
    a_task_is_published_through_the_api,
    a_refused_push_is_retried_by_a_person_once_fixed,
    turning_two_way_on_offers_the_edits_made_while_one_way,
    a_push_the_api_cannot_finish_in_its_budget_goes_to_the_worker,
    a_publication_whose_answer_is_lost_is_accepted_and_finished_once,
    an_installation_that_accepts_new_permissions_sends_refused_edits_again,
    the_configs_webhook_is_installed_repaired_and_removed,
    without_hook_permission_or_a_public_url_the_manual_values_are_given,
    a_configs_secret_ends_with_its_repository_and_with_a_rotation,
    a_token_must_be_allowed_what_the_config_needs,
    an_expiring_token_is_shown_and_an_expired_one_fails_its_run,
    an_app_config_syncs_with_installation_tokens,
    an_app_config_pauses_and_resumes_with_its_installation,
    a_replayed_installation_event_changes_nothing_github_does_not_bear_out,
    a_forged_app_key_is_refused,
    a_ghes_api_with_a_path_prefix_works_end_to_end,
);

/// A project with a config, one synced task and one pending conflict on it.
async fn with_conflict(app: &App) -> (String, String, String) {
    let id = app.project().await;
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    assert_eq!(
        app.call(Method::PUT, &format!("/api/projects/{id}/github-sync"), Some(body)).await.status,
        200
    );
    let p: uuid::Uuid = id.parse().unwrap();
    let i = testkit::issue(1, "A", Some("a"), "open", "2026-01-05T10:00:00Z");
    app.store.apply_issue(p, &i).await.unwrap();
    let task = app.store.list_tasks(p).await.unwrap()[0].task.id;
    let patch = ghsync_shared::domain::TaskPatch { title: Some("Local".into()), ..Default::default() };
    app.store.update_task(task, &patch).await.unwrap();
    app.store
        .apply_issue(p, &testkit::issue(1, "Remote", Some("a"), "open", "2026-01-05T11:00:00Z"))
        .await
        .unwrap();
    let conflict = app.store.list_conflicts(p, None).await.unwrap()[0].id;
    (id, task.to_string(), conflict.to_string())
}

async fn invalid_task_edits_get_their_status_and_change_nothing(store: Store) {
    let app = spawn_app(store.clone()).await;
    let (_, task, _) = with_conflict(&app).await;
    let before = row_counts(&store).await;
    let task_before = store.get_task(task.parse().unwrap()).await.unwrap();
    let path = format!("/api/tasks/{task}");
    for (body, status) in [
        (json!({"status": "doing"}), 422),
        (json!({"title": ""}), 422),
        (json!({"title": "x".repeat(5000)}), 422),
        (json!({"priority": 1}), 422),
        (json!({"title": 7}), 422),
    ] {
        let r = app.call(Method::PATCH, &path, Some(body.clone())).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
    }
    let r = app.call(Method::PATCH, &path, Some(json!({"title": ""}))).await;
    assert_eq!(r.json()["error"]["field"], "title");
    assert_eq!(
        app.call(Method::PATCH, &format!("/api/tasks/{}", uuid::Uuid::new_v4()), Some(json!({"title": "x"})))
            .await
            .status,
        404
    );
    assert_eq!(
        app.call(Method::PATCH, "/api/tasks/not-an-id", Some(json!({"title": "x"}))).await.status,
        400
    );
    assert_eq!(store.get_task(task.parse().unwrap()).await.unwrap(), task_before);
    assert_eq!(row_counts(&store).await, before);
    // A valid edit works, and clearing the description is an edit too.
    let r = app.call(Method::PATCH, &path, Some(json!({"status": "inreview", "description": null}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (r.json()["status"].clone(), r.json()["description"].clone()),
        (json!("inreview"), Value::Null)
    );
}

async fn invalid_conflict_requests_get_their_status_and_change_nothing(store: Store) {
    let app = spawn_app(store.clone()).await;
    let (project, _, conflict) = with_conflict(&app).await;
    let before = row_counts(&store).await;
    let c_before = store.get_conflict(conflict.parse().unwrap()).await.unwrap();
    let path = format!("/api/conflicts/{conflict}/resolve");
    for (body, status, field) in [
        (json!({"action": "keep_local", "merged_content": {"title": "x"}}), 422, Some("merged_content")),
        (json!({"action": "merge"}), 422, Some("merged_content")),
        (json!({"action": "merge", "merged_content": {"title": " "}}), 422, Some("merged_content")),
        (json!({"action": "discard"}), 422, None),
        (json!({}), 422, None),
    ] {
        let r = app.call(Method::POST, &path, Some(body.clone())).await;
        assert_eq!(r.status, status, "{body}: {}", r.text());
        if let Some(field) = field {
            assert_eq!(r.json()["error"]["field"], field, "{body}");
        }
    }
    let unknown = format!("/api/conflicts/{}/resolve", uuid::Uuid::new_v4());
    assert_eq!(app.call(Method::POST, &unknown, Some(json!({"action": "keep_local"}))).await.status, 404);
    let r = app.call(Method::GET, &format!("/api/projects/{project}/conflicts?status=open"), None).await;
    assert_eq!((r.status.as_u16(), r.json()["error"]["field"].clone()), (422, json!("status")));
    let r = app.call(Method::GET, &format!("/api/projects/{project}/conflicts?state=pending"), None).await;
    assert_eq!(r.status, 400);
    let nobody = uuid::Uuid::new_v4();
    for path in [
        format!("/api/projects/{nobody}/conflicts"),
        format!("/api/projects/{nobody}/tasks"),
        format!("/api/projects/{nobody}/sync-history"),
    ] {
        assert_eq!(app.call(Method::GET, &path, None).await.status, 404, "{path}");
    }
    assert_eq!(store.get_conflict(conflict.parse().unwrap()).await.unwrap(), c_before);
    assert_eq!(row_counts(&store).await, before);
    // Then once for real, and a second time is a 409.
    assert_eq!(app.call(Method::POST, &path, Some(json!({"action": "accept_github"}))).await.status, 200);
    let r = app.call(Method::POST, &path, Some(json!({"action": "keep_local"}))).await;
    assert_eq!((r.status.as_u16(), r.json()["error"]["code"].clone()), (409, json!("conflict")));
}

async fn a_sync_run_is_refused_while_another_holds_the_config(store: Store) {
    let app = spawn_app(store.clone()).await;
    let id = app.project().await;
    let run = format!("/api/projects/{id}/github-sync/run");
    assert_eq!(app.call(Method::POST, &run, None).await.status, 404, "no config yet");
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    assert_eq!(
        app.call(Method::PUT, &format!("/api/projects/{id}/github-sync"), Some(body)).await.status,
        200
    );
    let lease = ghsync_shared::time::Timestamp::now().plus(chrono::Duration::minutes(5));
    sqlx::query("UPDATE github_sync_config SET lease_token = 'other-run', lease_until = $1")
        .bind(lease.to_sql())
        .execute(store.pool())
        .await
        .unwrap();
    let r = app.call(Method::POST, &run, None).await;
    assert_eq!(r.status, 409, "{}", r.text());
    assert_eq!(store.count_rows(Table::SyncHistory).await.unwrap(), 0);
    sqlx::query("UPDATE github_sync_config SET lease_token = NULL, lease_until = NULL")
        .execute(store.pool())
        .await
        .unwrap();
    let r = app.call(Method::POST, &run, None).await;
    assert_eq!(r.status, 202, "{}", r.text());
    assert_eq!(r.json()["status"], "in_progress");
    // The reconcile worker carries the queued run out, in the history row it was given.
    let report = app.worker().run_due(ghsync_shared::time::Deadline::NONE).await.unwrap();
    assert_eq!(report.configs.len(), 1);
    let summary = app.call(Method::GET, &format!("/api/projects/{id}/sync-history"), None).await.json();
    assert_eq!(summary["last_100_syncs"][0]["id"], r.json()["history_id"]);
    assert_eq!(summary["last_100_syncs"][0]["status"], "success");
    assert_eq!(store.count_rows(Table::SyncHistory).await.unwrap(), 1);
}

async fn run_now_is_queued_at_once_and_done_by_the_worker(store: Store) {
    let app = spawn_app(store.clone()).await;
    let id = app.project().await;
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    app.call(Method::PUT, &format!("/api/projects/{id}/github-sync"), Some(body)).await;
    for n in 1..=250 {
        let i = testkit::fixtures::issue(
            "acme/widgets",
            n,
            &format!("Issue {n}"),
            None,
            "open",
            "2026-01-05T10:00:00Z",
        );
        app.github.upsert("acme/widgets", i);
    }
    // GitHub as slow as it gets: the API answers without asking it.
    app.github.set_latency(std::time::Duration::from_millis(300));
    app.github.clear_requests();
    let run = format!("/api/projects/{id}/github-sync/run");

    let r = app.call(Method::POST, &run, None).await;

    assert_eq!(r.status, 202, "{}", r.text());
    let history_id = r.json()["history_id"].as_str().unwrap().to_string();
    assert!(app.github.requests().is_empty(), "the request itself never talks to GitHub");
    let again = app.call(Method::POST, &run, None).await;
    assert_eq!(again.status, 409, "a queued run holds the config: {}", again.text());

    // The worker runs it; while it runs, a second request is refused too.
    // When the third page is asked for, the first is applied (pages go one after another).
    let held = app.github.hold_list_request(3);
    let worker = app.worker();
    let running =
        tokio::spawn(async move { worker.run_due(ghsync_shared::time::Deadline::NONE).await.unwrap() });
    let mut held = held;
    held.arrived().await;
    let r = app.call(Method::GET, &format!("/api/projects/{id}/sync-history/runs"), None).await.json();
    assert_eq!(r["items"][0]["id"], history_id.as_str());
    assert_eq!(r["items"][0]["status"], "in_progress");
    assert!(r["items"][0]["pages_fetched"].as_i64().unwrap() >= 1, "a running sync shows its progress: {r}");
    assert!(r["items"][0]["issues_fetched"].as_i64().unwrap() >= 100);
    assert_eq!(app.call(Method::POST, &run, None).await.status, 409);
    held.release();
    running.await.unwrap();

    let r =
        app.call(Method::GET, &format!("/api/projects/{id}/sync-history/runs?limit=1"), None).await.json();
    let done = &r["items"][0];
    assert_eq!(done["id"], history_id.as_str());
    assert_eq!((done["status"].as_str(), done["tasks_created"].as_i64()), (Some("success"), Some(250)));
    assert_eq!(store.count_rows(Table::SyncHistory).await.unwrap(), 1);
    // A disabled config is refused.
    store.set_sync_enabled(id.parse().unwrap(), false).await.unwrap();
    assert_eq!(app.call(Method::POST, &run, None).await.status, 409);
}

async fn projects_are_created_and_listed(store: Store) {
    let app = spawn_app(store).await;
    let id = app.project().await;
    let list = app.call(Method::GET, "/api/projects", None).await;
    assert_eq!(list.status, 200);
    assert_eq!(list.json()[0]["id"], id.as_str());
    assert_eq!(list.json()[0]["name"], "Widgets");
}

async fn every_route_refuses_a_missing_or_wrong_token(store: Store) {
    let app = spawn_app(store.clone()).await;
    let id = app.project().await;
    let before = row_counts(&store).await;
    let routes = [
        (Method::GET, "/api/projects".to_string()),
        (Method::POST, "/api/projects".to_string()),
        (Method::GET, format!("/api/projects/{id}/github-sync")),
        (Method::PUT, format!("/api/projects/{id}/github-sync")),
        (Method::DELETE, format!("/api/projects/{id}/github-sync")),
        (Method::GET, "/api/no-such-route".to_string()),
        (Method::POST, format!("/api/projects/{id}/github-sync/run")),
        (Method::GET, format!("/api/projects/{id}/github-sync/webhook")),
        (Method::POST, format!("/api/projects/{id}/github-sync/webhook")),
        (Method::GET, format!("/api/projects/{id}/sync-history")),
        (Method::GET, format!("/api/projects/{id}/sync-history/runs")),
        (Method::GET, format!("/api/projects/{id}/tasks")),
        (Method::POST, format!("/api/projects/{id}/tasks")),
        (Method::GET, format!("/api/projects/{id}/conflicts?status=pending")),
        (Method::GET, format!("/api/tasks/{id}")),
        (Method::PATCH, format!("/api/tasks/{id}")),
        (Method::POST, format!("/api/tasks/{id}/github-issue")),
        (Method::POST, format!("/api/conflicts/{id}/resolve")),
        (Method::GET, "/api/openapi.json".to_string()),
    ];
    let body = json!({"name": "x", "repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    for (method, path) in &routes {
        for auth in [None, Some("Bearer wrong-token"), Some(TOKEN), Some("Basic dGVzdA==")] {
            let r = app.call_as(method.clone(), path, Some(body.clone()), auth).await;
            assert_eq!(r.status, 401, "{method} {path} with {auth:?}");
            assert_eq!(r.json()["error"]["code"], "unauthenticated");
        }
    }
    assert_eq!(row_counts(&store).await, before);

    // With no token configured, every request is refused, even one bearing a token.
    let closed = spawn_app_with(store, None, None).await;
    let r = closed.call(Method::GET, "/api/projects", None).await;
    assert_eq!(r.status, 401);
}

async fn a_config_is_stored_only_after_github_accepts_the_pat(store: Store) {
    let app = spawn_app(store).await;
    let id = app.project().await;
    let r = app
        .call(
            Method::PUT,
            &format!("/api/projects/{id}/github-sync"),
            Some(json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT, "sync_interval_seconds": 60})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let config = r.json();
    assert_eq!(config["repo_owner"], "acme");
    assert_eq!(config["repo_name"], "widgets");
    assert_eq!(config["sync_enabled"], true);
    assert_eq!(config["sync_interval_seconds"], 60);
    assert!(config.get("encrypted_pat").is_none() && config.get("pat").is_none());
    assert!(config["next_sync_at"].is_string(), "a new config is due at once");

    let checks: Vec<_> =
        app.github.requests().into_iter().filter(|r| r.path == "/repos/acme/widgets").collect();
    assert_eq!(checks.len(), 1);
    assert_eq!(checks[0].authorization.as_deref(), Some(format!("Bearer {GOOD_PAT}").as_str()));
    let blob = app.stored_blob(&id).await;
    assert_eq!(app.keys.open(id.parse::<uuid::Uuid>().unwrap(), &blob).await.unwrap().expose(), GOOD_PAT);
}

async fn updating_without_a_pat_keeps_it_and_with_one_reencrypts(store: Store) {
    let app = spawn_app(store).await;
    let id = app.project().await;
    let path = format!("/api/projects/{id}/github-sync");
    let create = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    assert_eq!(app.call(Method::PUT, &path, Some(create)).await.status, 200);
    let first = app.stored_blob(&id).await;

    let r = app
        .call(
            Method::PUT,
            &path,
            Some(json!({"repo_owner": "acme", "repo_name": "widgets", "sync_enabled": false})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["sync_enabled"], false);
    assert_eq!(app.stored_blob(&id).await, first, "no PAT: the stored one is kept");

    // Another repository, or another host, without the PAT: refused, and the stored PAT is
    // sent nowhere (docs/trust.md). With the PAT it is checked against the new repository.
    app.github.clear_requests();
    let other_host = app.github.url.replace("127.0.0.1", "localhost") + "/api/v3";
    for moved in [
        json!({"repo_owner": "acme", "repo_name": "gadgets"}),
        json!({"repo_owner": "acme", "repo_name": "widgets", "api_url": other_host}),
    ] {
        let r = app.call(Method::PUT, &path, Some(moved.clone())).await;
        assert_eq!(
            (r.status.as_u16(), r.json()["error"]["field"].clone()),
            (422, json!(if moved.get("api_url").is_some() { "api_url" } else { "pat" })),
            "{moved}: {}",
            r.text()
        );
    }
    assert!(app.github.requests().is_empty(), "{:?}", app.github.requests());
    let config = app.call(Method::GET, &path, None).await.json();
    assert_eq!((config["repo_name"].clone(), config["api_url"].clone()), (json!("widgets"), Value::Null));
    let moved = json!({"repo_owner": "acme", "repo_name": "gadgets", "pat": GOOD_PAT});
    let r = app.call(Method::PUT, &path, Some(moved)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let paths: Vec<String> = app.github.requests().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/repos/acme/gadgets", "/repos/acme/gadgets/issues"]);

    let r = app
        .call(
            Method::PUT,
            &path,
            Some(json!({"repo_owner": "acme", "repo_name": "widgets", "pat": OTHER_PAT})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    let second = app.stored_blob(&id).await;
    assert_ne!(second, first);
    assert_eq!(app.keys.open(id.parse::<uuid::Uuid>().unwrap(), &second).await.unwrap().expose(), OTHER_PAT);
}

async fn a_refused_pat_is_422_and_stores_nothing(store: Store) {
    let app = spawn_app(store.clone()).await;
    let id = app.project().await;
    let path = format!("/api/projects/{id}/github-sync");
    let before = row_counts(&store).await;
    for pat in ["ghp_unknownToGitHub", "ghp_canSeeNothing"] {
        let r = app
            .call(Method::PUT, &path, Some(json!({"repo_owner": "acme", "repo_name": "widgets", "pat": pat})))
            .await;
        assert_eq!(r.status, 422, "{}", r.text());
        let e = &r.json()["error"];
        assert_eq!(e["code"], "pat_refused");
        assert_eq!(e["field"], "pat");
        assert!(e["message"].as_str().unwrap().contains("acme/widgets"));
        assert!(!r.text().contains(pat));
    }
    assert_eq!(row_counts(&store).await, before);

    // A stored config is not changed by a refused PAT either.
    let ok = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    assert_eq!(app.call(Method::PUT, &path, Some(ok)).await.status, 200);
    let blob = app.stored_blob(&id).await;
    let bad = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": "ghp_unknownToGitHub"});
    assert_eq!(app.call(Method::PUT, &path, Some(bad)).await.status, 422);
    assert_eq!(app.stored_blob(&id).await, blob);
}

async fn an_unreachable_github_is_502_and_stores_nothing(store: Store) {
    let dead = testkit::UNREACHABLE.to_string();
    let app = spawn_app_with(store.clone(), Some(TOKEN), Some(dead)).await;
    let id = app.project().await;
    let before = row_counts(&store).await;
    let r = app
        .call(
            Method::PUT,
            &format!("/api/projects/{id}/github-sync"),
            Some(json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT})),
        )
        .await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "github_unavailable");
    // A stable message: nothing of the client's error chain (address, OS error) is answered.
    assert_eq!(r.json()["error"]["message"], ghsync_api::error::GITHUB_UNAVAILABLE);
    assert!(!r.text().contains("127.0.0.1"), "{}", r.text());
    assert_eq!(row_counts(&store).await, before);
}

async fn invalid_values_are_422_naming_the_field(store: Store) {
    let app = spawn_app(store.clone()).await;
    let id = app.project().await;
    let path = format!("/api/projects/{id}/github-sync");
    let before = row_counts(&store).await;
    let cases = [
        (json!({"repo_owner": "", "repo_name": "widgets", "pat": GOOD_PAT}), "repo_owner"),
        (json!({"repo_owner": "-acme", "repo_name": "widgets", "pat": GOOD_PAT}), "repo_owner"),
        (json!({"repo_owner": "acme", "repo_name": "", "pat": GOOD_PAT}), "repo_name"),
        (json!({"repo_owner": "acme", "repo_name": "wid gets", "pat": GOOD_PAT}), "repo_name"),
        (
            json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT, "sync_interval_seconds": 29}),
            "sync_interval_seconds",
        ),
        (
            json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT, "sync_interval_seconds": 3601}),
            "sync_interval_seconds",
        ),
        (json!({"repo_owner": "acme", "repo_name": "widgets"}), "pat"),
        (json!({"repo_owner": "acme", "repo_name": "widgets", "pat": " "}), "pat"),
    ];
    for (body, field) in cases {
        let r = app.call(Method::PUT, &path, Some(body.clone())).await;
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        assert_eq!(r.json()["error"]["field"], field, "{body}");
    }
    let r = app.call(Method::POST, "/api/projects", Some(json!({"name": "  "}))).await;
    assert_eq!((r.status.as_u16(), r.json()["error"]["field"].clone()), (422, json!("name")));
    // A value of the wrong type is refused by the body's shape.
    let r = app
        .call(
            Method::PUT,
            &path,
            Some(json!({"repo_owner": "acme", "repo_name": "w", "sync_enabled": "yes"})),
        )
        .await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(row_counts(&store).await, before);
    assert!(app.github.requests().is_empty(), "nothing invalid reaches GitHub");
}

async fn unknown_projects_are_404(store: Store) {
    let app = spawn_app(store.clone()).await;
    let nobody = uuid::Uuid::new_v4();
    let path = format!("/api/projects/{nobody}/github-sync");
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let r = app.call(method.clone(), &path, Some(body.clone())).await;
        assert_eq!(r.status, 404, "{method}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "not_found");
    }
    // A project without a config: its config is 404 too.
    let id = app.project().await;
    assert_eq!(app.call(Method::GET, &format!("/api/projects/{id}/github-sync"), None).await.status, 404);
    // Not an id at all: 400.
    assert_eq!(app.call(Method::GET, "/api/projects/42/github-sync", None).await.status, 400);
    assert_eq!(store.count_rows(Table::SyncConfigs).await.unwrap(), 0);
}

async fn malformed_and_oversized_bodies_are_refused(store: Store) {
    let app = spawn_app(store.clone()).await;
    let auth = format!("Bearer {TOKEN}");
    let headers = [("content-type", "application/json"), ("authorization", auth.as_str())];
    let url = format!("{}/api/projects", app.url);
    let r = send(Method::POST, &url, &headers, "{\"name\": ").await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["error"]["code"], "bad_request");
    let r = send(Method::POST, &url, &[("authorization", auth.as_str())], "{\"name\": \"x\"}").await;
    assert_eq!(r.status, 400, "no JSON content type");
    let big = format!("{{\"name\": \"{}\"}}", "x".repeat(ghsync_api::MAX_BODY_BYTES + 1));
    let r = send(Method::POST, &url, &headers, big).await;
    assert_eq!(r.status, 413);
    assert_eq!(store.count_rows(Table::Projects).await.unwrap(), 0);
}

async fn a_config_can_be_read_and_deleted(store: Store) {
    let app = spawn_app(store.clone()).await;
    let id = app.project().await;
    let path = format!("/api/projects/{id}/github-sync");
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    assert_eq!(app.call(Method::PUT, &path, Some(body)).await.status, 200);
    let r = app.call(Method::GET, &path, None).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["repo_name"], "widgets");
    assert_eq!(app.call(Method::DELETE, &path, None).await.status, 204);
    assert_eq!(app.call(Method::GET, &path, None).await.status, 404);
    assert_eq!(app.call(Method::DELETE, &path, None).await.status, 404);
    assert_eq!(store.count_rows(Table::Projects).await.unwrap(), 1, "the project stays");
}

#[tokio::test]
async fn the_database_file_holds_no_plaintext_pat() {
    let dir = std::env::temp_dir().join(format!("ghsync-pat-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("ghsync.db");
    let url = format!("sqlite://{}?mode=rwc", db.display());
    let store = Store::connect(&url, &Default::default()).await.unwrap();
    store.migrate().await.unwrap();
    let app = spawn_app(store.clone()).await;
    let id = app.project().await;
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    assert_eq!(
        app.call(Method::PUT, &format!("/api/projects/{id}/github-sync"), Some(body)).await.status,
        200
    );
    store.close().await;

    let mut found = false;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(!bytes.windows(GOOD_PAT.len()).any(|w| w == GOOD_PAT.as_bytes()), "plaintext PAT on disk");
        found |= bytes.windows(6).any(|w| w == b"widget");
    }
    assert!(found, "the config row itself is on disk");
    std::fs::remove_dir_all(dir).unwrap();
}

#[tokio::test]
async fn the_openapi_document_lists_every_route() {
    let app = spawn_app(testkit::sqlite().await).await;
    let r = app.call(Method::GET, "/api/openapi.json", None).await;
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let mut listed: Vec<String> = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            listed.push(format!("{} {path}", method.to_uppercase()));
        }
    }
    listed.sort();
    let mut routes = vec![
        "POST /api/projects",
        "GET /api/projects",
        "PUT /api/projects/{id}/github-sync",
        "GET /api/projects/{id}/github-sync",
        "DELETE /api/projects/{id}/github-sync",
        "POST /api/projects/{id}/github-sync/run",
        "POST /api/projects/{id}/github-sync/offer",
        "GET /api/projects/{id}/github-sync/choices",
        "GET /api/projects/{id}/github-sync/webhook",
        "POST /api/projects/{id}/github-sync/webhook",
        "POST /api/projects/{id}/github-sync/webhook/rotate",
        "GET /api/projects/{id}/sync-history",
        "GET /api/projects/{id}/sync-history/runs",
        "GET /api/projects/{id}/tasks",
        "GET /api/tasks/{id}/comments",
        "POST /api/tasks/{id}/comments",
        "PATCH /api/comments/{id}",
        "DELETE /api/comments/{id}",
        "POST /api/comments/{id}/resolve",
        "POST /api/projects/{id}/tasks",
        "GET /api/tasks/{id}",
        "PATCH /api/tasks/{id}",
        "POST /api/tasks/{id}/github-issue",
        "POST /api/tasks/{id}/push/retry",
        "GET /api/projects/{id}/conflicts",
        "POST /api/conflicts/{id}/resolve",
        "GET /api/openapi.json",
        "PUT /api/github-app",
        "GET /api/github-app",
        "DELETE /api/github-app",
        "GET /api/github-app/installations",
    ];
    routes.sort();
    assert_eq!(listed, routes);
    // Named values are their wire names, as the API reads and writes them.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(schemas["TaskStatus"]["enum"], json!(["todo", "inprogress", "inreview", "done", "cancelled"]));
    assert_eq!(schemas["TaskOrder"]["enum"], json!(["created", "updated"]));
    if let Ok(path) = std::env::var("GHSYNC_OPENAPI_OUT") {
        std::fs::write(path, r.text()).unwrap();
    }
}

#[tokio::test]
async fn a_config_is_sealed_with_kms_when_kms_is_configured() {
    let keys = KeyProvider::Kms(testkit::kms::new_key().await);
    let app = spawn_app_with_keys(testkit::sqlite().await, Some(TOKEN), None, keys).await;
    let id = app.project().await;
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    let r = app.call(Method::PUT, &format!("/api/projects/{id}/github-sync"), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let blob = app.stored_blob(&id).await;
    assert_eq!(blob[0], 0x01, "a KMS-wrapped data key");
    assert_eq!(app.keys.open(id.parse::<uuid::Uuid>().unwrap(), &blob).await.unwrap().expose(), GOOD_PAT);
}

#[tokio::test]
async fn an_unreachable_kms_is_502_and_stores_nothing() {
    let dead = testkit::UNREACHABLE.to_string();
    let keys = KeyProvider::Kms(testkit::kms::keys_at(&dead, "alias/ghsync").await);
    let store = testkit::sqlite().await;
    let app = spawn_app_with_keys(store.clone(), Some(TOKEN), None, keys).await;
    let id = app.project().await;
    let before = row_counts(&store).await;
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    let r = app.call(Method::PUT, &format!("/api/projects/{id}/github-sync"), Some(body)).await;
    assert_eq!(r.status, 502, "{}", r.text());
    assert_eq!(r.json()["error"]["code"], "kms_unavailable");
    assert_eq!(r.json()["error"]["message"], ghsync_api::error::KMS_UNAVAILABLE);
    assert!(!r.text().contains(GOOD_PAT) && !r.text().contains("127.0.0.1"), "{}", r.text());
    assert_eq!(row_counts(&store).await, before);
}

/// Every item of a list, page by page; returns the items and the largest body in bytes.
async fn all_pages(app: &App, path: &str, limit: usize) -> (Vec<Value>, usize) {
    let (mut items, mut largest, mut cursor) = (Vec::new(), 0, None::<String>);
    let sep = if path.contains('?') { '&' } else { '?' };
    loop {
        let mut url = format!("{path}{sep}limit={limit}");
        if let Some(c) = &cursor {
            url.push_str(&format!("&cursor={c}"));
        }
        let r = app.call(Method::GET, &url, None).await;
        assert_eq!(r.status, 200, "{url}: {}", r.text());
        largest = largest.max(r.body.len());
        let page = r.json();
        let got = page["items"].as_array().unwrap();
        assert!(got.len() <= limit);
        items.extend(got.iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_string()),
            None => return (items, largest),
        }
    }
}

async fn lists_come_in_bounded_pages_that_give_every_item_once(store: Store) {
    let app = spawn_app(store.clone()).await;
    let project: uuid::Uuid = app.project().await.parse().unwrap();
    const N: i64 = 1200;
    let issues: Vec<_> = (1..=N)
        .map(|n| {
            let state = if n % 10 == 0 { "completed" } else { "open" };
            let title = if n % 100 == 7 { format!("Needle_{n} 100%") } else { format!("Issue {n}") };
            testkit::issue(n, &title, Some(&"d".repeat(600)), state, "2026-01-05T10:00:00Z")
        })
        .collect();
    for page in issues.chunks(100) {
        store.apply_page(project, page).await.unwrap();
    }
    let path = format!("/api/projects/{project}/tasks");

    for limit in [500, 100] {
        let (items, largest) = all_pages(&app, &path, limit).await;
        let mut ids: Vec<&str> = items.iter().map(|t| t["id"].as_str().unwrap()).collect();
        assert_eq!(ids.len(), N as usize, "limit {limit}");
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), N as usize, "every task once with limit {limit}");
        assert!(largest <= 1_000_000, "{largest} bytes");
    }
    let default = app.call(Method::GET, &path, None).await.json();
    assert_eq!(default["items"].as_array().unwrap().len(), 100, "100 by default");

    // Filters: status, title search (LIKE's own characters are plain text), pending conflict.
    let (done, _) = all_pages(&app, &format!("{path}?status=done"), 500).await;
    assert_eq!(done.len(), 120);
    assert!(done.iter().all(|t| t["status"] == "done"));
    let (found, _) = all_pages(&app, &format!("{path}?q=needle_"), 5).await;
    assert_eq!(found.len(), 12, "case-insensitive, across pages");
    let (found, _) = all_pages(&app, &format!("{path}?q=0%25"), 500).await;
    assert_eq!(found.len(), 12, "% is a character, not a wildcard");
    let (none, _) = all_pages(&app, &format!("{path}?conflict=pending"), 100).await;
    assert!(none.is_empty());
    let task = store.list_tasks(project).await.unwrap()[3].clone();
    let patch = ghsync_shared::domain::TaskPatch { title: Some("Local".into()), ..Default::default() };
    store.update_task(task.task.id, &patch).await.unwrap();
    let mut edited = issues[3].clone();
    edited.content = ghsync_shared::domain::Content::new("Remote", None).unwrap();
    edited.updated_at = "2026-01-05T11:00:00Z".parse().unwrap();
    store.apply_issue(project, &edited).await.unwrap();
    let (pending, _) = all_pages(&app, &format!("{path}?conflict=pending&status=todo"), 100).await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["id"], task.task.id.to_string());
    let (conflicts, _) =
        all_pages(&app, &format!("/api/projects/{project}/conflicts?status=pending"), 1).await;
    assert_eq!(conflicts.len(), 1);

    // Out of range and forged.
    for bad in ["limit=0", "limit=501", "status=doing", "conflict=maybe"] {
        let r = app.call(Method::GET, &format!("{path}?{bad}"), None).await;
        assert_eq!(r.status, 422, "{bad}: {}", r.text());
    }
    for bad in ["cursor=nonsense", "cursor=00ff", "limit=ten", "page=2"] {
        let r = app.call(Method::GET, &format!("{path}?{bad}"), None).await;
        assert_eq!(r.status, 400, "{bad}: {}", r.text());
    }
    let runs =
        app.call(Method::GET, &format!("/api/projects/{project}/sync-history/runs?limit=0"), None).await;
    assert_eq!(runs.status, 422);
}

/// A two-way project of `acme/widgets` with issue 1 imported (labelled `bug`, as the
/// fixtures label every issue).
async fn two_way_project(app: &App) -> (String, String) {
    app.github.upsert(
        "acme/widgets",
        testkit::fixtures::issue("acme/widgets", 1, "First", Some("one"), "open", "2026-01-05T10:00:00Z"),
    );
    let id = app.project().await;
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT, "two_way": true});
    let r = app.call(Method::PUT, &format!("/api/projects/{id}/github-sync"), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["two_way"], true);
    app.worker().run_project(id.parse().unwrap()).await.unwrap();
    let tasks = app.call(Method::GET, &format!("/api/projects/{id}/tasks"), None).await.json();
    (id, tasks["items"][0]["id"].as_str().unwrap().to_string())
}

async fn two_way_needs_a_token_that_can_write_issues(store: Store) {
    let app = spawn_app(store.clone()).await;
    app.github.set_read_only(OTHER_PAT);
    let id = app.project().await;
    let path = format!("/api/projects/{id}/github-sync");
    let before = row_counts(&store).await;
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": OTHER_PAT, "two_way": true});
    let r = app.call(Method::PUT, &path, Some(body)).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"]["field"], "two_way");
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("cannot write the issues of acme/widgets"), "{message}");
    assert!(message.contains("Issues: read and write"), "{message}");
    assert_eq!(row_counts(&store).await, before, "nothing stored");

    // One-way with that token is fine; switching it to two-way later is checked the same way.
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": OTHER_PAT});
    assert_eq!(app.call(Method::PUT, &path, Some(body)).await.status, 200);
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "two_way": true});
    let r = app.call(Method::PUT, &path, Some(body)).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(app.call(Method::GET, &path, None).await.json()["two_way"], false);
}

async fn a_two_way_edit_is_on_github_when_the_api_answers(store: Store) {
    let app = spawn_app(store).await;
    let (id, task) = two_way_project(&app).await;
    app.github.clear_requests();
    let r =
        app.call(Method::PATCH, &format!("/api/tasks/{task}"), Some(json!({"title": "Edited here"}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.github.issue("acme/widgets", 1).unwrap()["title"], "Edited here");
    let methods: Vec<String> = app.github.requests().into_iter().map(|r| r.method).collect();
    assert_eq!(methods, ["GET", "PATCH"]);

    // The task list shows the link's labels, no pending push and no error; ?label filters.
    let listed = app.call(Method::GET, &format!("/api/projects/{id}/tasks?label=BUG"), None).await.json();
    let github = &listed["items"][0]["github"];
    assert_eq!(github["labels"][0]["name"], "bug");
    assert_eq!(github["labels"][0]["color"], "d73a4a");
    assert_eq!((github["push_pending"].clone(), github["push_error"].clone()), (json!(false), Value::Null));
    let none = app.call(Method::GET, &format!("/api/projects/{id}/tasks?label=feature"), None).await.json();
    assert_eq!(none["items"], json!([]));

    // A refused push answers 200 (the edit is stored) and shows GitHub's message.
    app.github.set_read_only(GOOD_PAT);
    let r =
        app.call(Method::PATCH, &format!("/api/tasks/{task}"), Some(json!({"title": "Not allowed"}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = app.call(Method::GET, &format!("/api/projects/{id}/tasks"), None).await.json();
    let error = listed["items"][0]["github"]["push_error"].as_str().unwrap().to_string();
    assert!(error.contains("403") && error.contains("Resource not accessible"), "{error}");
}

async fn a_task_is_published_through_the_api(store: Store) {
    let app = spawn_app(store.clone()).await;
    let (id, _) = two_way_project(&app).await;
    let before = row_counts(&store).await;
    let blank =
        app.call(Method::POST, &format!("/api/projects/{id}/tasks"), Some(json!({"title": " "}))).await;
    assert_eq!(blank.status, 422);
    assert_eq!(blank.json()["error"]["field"], "title");
    assert_eq!(row_counts(&store).await, before);
    let r = app
        .call(Method::POST, &format!("/api/projects/{id}/tasks"), Some(json!({"title": "Local idea"})))
        .await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(
        (r.json()["status"].clone(), r.json()["github_issue_url"].clone()),
        (json!("todo"), Value::Null)
    );
    let task_id = r.json()["id"].as_str().unwrap().to_string();
    let path = format!("/api/tasks/{task_id}/github-issue");
    let r = app.call(Method::POST, &path, None).await;
    assert_eq!(r.status, 201, "{}", r.text());
    assert_eq!(r.json()["github_issue_url"], "https://github.com/acme/widgets/issues/2");
    assert_eq!(app.github.issue("acme/widgets", 2).unwrap()["title"], "Local idea");
    let r = app.call(Method::POST, &path, None).await;
    assert_eq!(r.status, 409, "{}", r.text());
    let unknown =
        app.call(Method::POST, &format!("/api/tasks/{}/github-issue", uuid::Uuid::nil()), None).await;
    assert_eq!(unknown.status, 404);
}

async fn a_refused_push_is_retried_by_a_person_once_fixed(store: Store) {
    let app = spawn_app(store).await;
    let (id, task) = two_way_project(&app).await;
    app.github.set_read_only(GOOD_PAT);
    let r = app.call(Method::PATCH, &format!("/api/tasks/{task}"), Some(json!({"title": "Later"}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let listed = app.call(Method::GET, &format!("/api/projects/{id}/tasks"), None).await.json();
    let github = &listed["items"][0]["github"];
    assert_eq!(
        (github["push_pending"].clone(), github["push_waiting"]["parked"].clone()),
        (json!(true), json!("refused"))
    );

    // Still refused: 202, and the task says why.
    let retry = format!("/api/tasks/{task}/push/retry");
    let r = app.call(Method::POST, &retry, None).await;
    assert_eq!((r.status.as_u16(), r.json()["pushed"].clone()), (202, json!("refused")), "{}", r.text());
    // Fixed on GitHub: the retry sends it.
    app.github.set_writable(GOOD_PAT);
    let r = app.call(Method::POST, &retry, None).await;
    assert_eq!((r.status.as_u16(), r.json()["pushed"].clone()), (202, json!("sent")), "{}", r.text());
    assert_eq!(app.github.issue("acme/widgets", 1).unwrap()["title"], "Later");
    let listed = app.call(Method::GET, &format!("/api/projects/{id}/tasks"), None).await.json();
    let github = &listed["items"][0]["github"];
    assert_eq!((github["push_pending"].clone(), github["push_error"].clone()), (json!(false), Value::Null));

    // A one-way project, or an unknown task, has nothing to retry.
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "two_way": false});
    assert_eq!(
        app.call(Method::PUT, &format!("/api/projects/{id}/github-sync"), Some(body)).await.status,
        200
    );
    assert_eq!(app.call(Method::POST, &retry, None).await.status, 409);
    let unknown = app.call(Method::POST, &format!("/api/tasks/{}/push/retry", uuid::Uuid::nil()), None).await;
    assert_eq!(unknown.status, 404);
}

async fn turning_two_way_on_offers_the_edits_made_while_one_way(store: Store) {
    let app = spawn_app(store).await;
    let (id, task) = two_way_project(&app).await;
    let path = format!("/api/projects/{id}/github-sync");
    let off = json!({"repo_owner": "acme", "repo_name": "widgets", "two_way": false});
    let r = app.call(Method::PUT, &path, Some(off)).await;
    assert_eq!((r.status.as_u16(), r.json().get("offer").cloned()), (200, None), "no offer when turned off");
    let r =
        app.call(Method::PATCH, &format!("/api/tasks/{task}"), Some(json!({"title": "Made one-way"}))).await;
    assert_eq!(r.status, 200);
    app.github.clear_requests();

    let on = json!({"repo_owner": "acme", "repo_name": "widgets", "two_way": true});
    let r = app.call(Method::PUT, &path, Some(on)).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["offer"].clone()),
        (200, json!({"tasks": 1, "comments": 0})),
        "{}",
        r.text()
    );
    let patches = app.github.writes().into_iter().filter(|r| r.method == "PATCH").count();
    assert_eq!(patches, 0, "nothing goes before the person accepts");
    // Declining leaves it; accepting queues it for the worker.
    let offer = format!("/api/projects/{id}/github-sync/offer");
    let r = app.call(Method::POST, &offer, Some(json!({"accept": false}))).await;
    assert_eq!((r.status.as_u16(), r.json()), (200, json!({"tasks": 0, "comments": 0})));
    let r = app.call(Method::POST, &offer, Some(json!({"accept": true}))).await;
    assert_eq!((r.status.as_u16(), r.json()), (202, json!({"tasks": 1, "comments": 0})), "{}", r.text());
    app.worker().run_due(ghsync_shared::time::Deadline::NONE).await.unwrap();
    assert_eq!(app.github.issue("acme/widgets", 1).unwrap()["title"], "Made one-way");
    let r = app.call(Method::POST, &offer, Some(json!({"accept": "yes"}))).await;
    assert_eq!(r.status, 422, "{}", r.text());
}

async fn a_push_the_api_cannot_finish_in_its_budget_goes_to_the_worker(store: Store) {
    let app = spawn_app(store).await;
    let (id, task) = two_way_project(&app).await;
    // GitHub's answer to the read takes longer than the request's budget.
    app.github.clear_requests();
    app.github.dribble_next_read(std::time::Duration::from_secs(2), 20);
    let r =
        app.call(Method::PATCH, &format!("/api/tasks/{task}"), Some(json!({"title": "Handed over"}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(app.github.writes().is_empty(), "nothing was written by the request");
    let listed = app.call(Method::GET, &format!("/api/projects/{id}/tasks"), None).await.json();
    assert_eq!(listed["items"][0]["github"]["push_pending"], true);
    // The worker takes it at once: its config is due now.
    let summary = app.worker().run_due(ghsync_shared::time::Deadline::NONE).await.unwrap();
    assert_eq!(summary.configs.len(), 1);
    assert_eq!(app.github.issue("acme/widgets", 1).unwrap()["title"], "Handed over");
    let listed = app.call(Method::GET, &format!("/api/projects/{id}/tasks"), None).await.json();
    assert_eq!(listed["items"][0]["github"]["push_pending"], false);
}

async fn a_publication_whose_answer_is_lost_is_accepted_and_finished_once(store: Store) {
    let app = spawn_app(store).await;
    let (id, _) = two_way_project(&app).await;
    let r = app.call(Method::POST, &format!("/api/projects/{id}/tasks"), Some(json!({"title": "New"}))).await;
    let task = r.json()["id"].as_str().unwrap().to_string();
    app.github.lose_write_answers(1);
    let r = app.call(Method::POST, &format!("/api/tasks/{task}/github-issue"), None).await;
    assert_eq!((r.status.as_u16(), r.json()["github_issue_url"].clone()), (202, Value::Null), "{}", r.text());
    // The worker finishes it: it finds the issue by its marker, it posts nothing.
    app.github.clear_requests();
    app.worker().run_project(id.parse().unwrap()).await.unwrap();
    assert!(!app.github.requests().iter().any(|r| r.method == "POST"));
    assert!(app.github.issue("acme/widgets", 3).is_none(), "one issue");
    let tasks = app.call(Method::GET, &format!("/api/projects/{id}/tasks"), None).await.json();
    let items = tasks["items"].as_array().unwrap();
    assert_eq!(items.len(), 2);
    let published = items.iter().find(|t| t["id"] == task.as_str()).unwrap();
    assert_eq!(published["github_issue_url"], "https://github.com/acme/widgets/issues/2");
}

async fn an_installation_that_accepts_new_permissions_sends_refused_edits_again(store: Store) {
    let app = spawn_app(store.clone()).await;
    let id = app_project(&app).await;
    app.worker().run_project(id.parse().unwrap()).await.unwrap();
    let tasks = app.call(Method::GET, &format!("/api/projects/{id}/tasks"), None).await.json();
    let task = tasks["items"][0]["id"].as_str().unwrap().to_string();
    // The installation may only read issues now: the edit is refused and waits.
    app.github.add_installation(INSTALLATION, &["acme/widgets"], &[("issues", "read"), ("metadata", "read")]);
    let r =
        app.call(Method::PATCH, &format!("/api/tasks/{task}"), Some(json!({"title": "By the App"}))).await;
    assert_eq!(r.status, 200);
    let listed = app.call(Method::GET, &format!("/api/projects/{id}/tasks"), None).await.json();
    let error = listed["items"][0]["github"]["push_error"].as_str().unwrap_or_default().to_string();
    assert!(error.contains("403"), "{error}");
    assert_eq!(app.worker().run_project(id.parse().unwrap()).await.unwrap().pushes.unwrap().sent, 0);

    // The owner accepts the App's new permissions: GitHub tells the App, the edit goes again.
    app.github.add_installation(
        INSTALLATION,
        &["acme/widgets"],
        &[("issues", "write"), ("metadata", "read")],
    );
    let accepted = json!({"action": "new_permissions_accepted", "installation": {"id": INSTALLATION}});
    let r = app.deliver_to_app("installation", &accepted, APP_SECRET).await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (200, json!({"outcome": "rearmed", "entries": 1})),
        "{}",
        r.text()
    );
    let report = app.worker().run_due(ghsync_shared::time::Deadline::NONE).await.unwrap();
    assert_eq!(report.configs[0].pushes.as_ref().map(|p| p.sent), Some(1), "{report:?}");
    assert_eq!(app.github.issue("acme/widgets", 1).unwrap()["title"], "By the App");
}

/// The config's own secret, as GitHub must be given it.
async fn own_secret(app: &common::App, config_id: &str) -> String {
    testkit::config_secret(&app.store, common::DEPLOY_SECRET, config_id.parse().unwrap()).await
}

async fn the_configs_webhook_is_installed_repaired_and_removed(store: Store) {
    let app = common::spawn_app_hooked(store, "https://ghsync.example").await;
    let id = app.project().await;
    let path = format!("/api/projects/{id}/github-sync");
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    let config = app.call(Method::PUT, &path, Some(body)).await.json();
    let config_id = config["id"].as_str().unwrap().to_string();
    let hook_id = config["hook_id"].as_i64().expect("installed on save");
    let hooks = app.github.hooks("acme/widgets");
    assert_eq!(hooks.len(), 1);
    let (hook, secret) = &hooks[0];
    assert_eq!(hook["id"], hook_id);
    assert_eq!(hook["config"]["url"], format!("https://ghsync.example/webhooks/github/{config_id}"));
    assert_eq!(
        (hook["config"]["content_type"].as_str(), hook["events"].clone()),
        (Some("json"), json!(["issues", "issue_comment"]))
    );
    assert_eq!(secret, &own_secret(&app, &config_id).await, "the config's own secret, not the deployment's");

    // What to give GitHub, and GitHub's last delivery.
    app.github.set_hook_last_response("acme/widgets", hook_id, 200, "active", "OK");
    let setup = app.call(Method::GET, &format!("{path}/webhook"), None).await.json();
    assert_eq!(setup["url"], format!("https://ghsync.example/webhooks/github/{config_id}"));
    assert_eq!(setup["secret"], own_secret(&app, &config_id).await);
    assert_eq!(
        (setup["events"].clone(), setup["content_type"].clone()),
        (json!(["issues", "issue_comment"]), json!("json"))
    );
    assert_eq!(setup["hook_id"], hook_id);
    assert_eq!(setup["last_delivery"]["code"], 200);
    assert_eq!(setup["message"], Value::Null);

    // A hook an older ghsync installed sends issues only: ghsync says so, and repairing it
    // subscribes it to their comments too.
    let patch = format!("{}/repos/acme/widgets/hooks/{hook_id}", app.github.url);
    let auth = format!("Bearer {GOOD_PAT}");
    let old = json!({"events": ["issues"]}).to_string();
    let headers = [("authorization", auth.as_str()), ("content-type", "application/json")];
    assert_eq!(send(Method::PATCH, &patch, &headers, old).await.status, 200);
    let setup = app.call(Method::GET, &format!("{path}/webhook"), None).await.json();
    assert!(setup["message"].as_str().unwrap().contains("does not send issue_comment"), "{setup}");
    app.call(Method::POST, &format!("{path}/webhook"), None).await;
    assert_eq!(app.github.hooks("acme/widgets")[0].0["events"], json!(["issues", "issue_comment"]));
    let setup = app.call(Method::GET, &format!("{path}/webhook"), None).await.json();
    assert_eq!(setup["message"], Value::Null);
    // Without a person: an older ghsync's hook (issues only, nothing recorded of its events)
    // is given the comments by the next run, once, its secret untouched.
    assert_eq!(
        send(Method::PATCH, &patch, &headers, json!({"events": ["issues"]}).to_string()).await.status,
        200
    );
    sqlx::query("UPDATE github_sync_config SET hook_events = NULL").execute(app.store.pool()).await.unwrap();
    let secret_before = app.github.hooks("acme/widgets")[0].1.clone();
    let worker = app.worker();
    worker.run_project(id.parse().unwrap()).await.unwrap();
    let (hook, secret_after) = app.github.hooks("acme/widgets")[0].clone();
    assert_eq!((hook["events"].clone(), secret_after), (json!(["issues", "issue_comment"]), secret_before));
    app.github.clear_requests();
    worker.run_project(id.parse().unwrap()).await.unwrap();
    assert!(!app.github.requests().iter().any(|r| r.path.contains("/hooks")), "asked once");

    // Someone deletes it on GitHub: ghsync says so, and repairs it.
    let delete = format!("{}/repos/acme/widgets/hooks/{hook_id}", app.github.url);
    let auth = format!("Bearer {GOOD_PAT}");
    assert_eq!(send(Method::DELETE, &delete, &[("authorization", auth.as_str())], "").await.status, 204);
    let setup = app.call(Method::GET, &format!("{path}/webhook"), None).await.json();
    assert!(setup["message"].as_str().unwrap().contains("gone from GitHub"), "{setup}");
    let repaired = app.call(Method::POST, &format!("{path}/webhook"), None).await;
    assert_eq!(repaired.status, 200, "{}", repaired.text());
    let hooks = app.github.hooks("acme/widgets");
    assert_eq!(hooks.len(), 1);
    assert_eq!(repaired.json()["hook_id"], hooks[0].0["id"]);
    // Repairing again changes the same hook, adds none.
    app.call(Method::POST, &format!("{path}/webhook"), None).await;
    assert_eq!(app.github.hooks("acme/widgets").len(), 1);

    // A rotation gives the installed hook the new secret.
    let before = own_secret(&app, &config_id).await;
    let rotated = app.call(Method::POST, &format!("{path}/webhook/rotate"), None).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let now = own_secret(&app, &config_id).await;
    assert_ne!(now, before);
    assert_eq!(
        (rotated.json()["secret"].as_str(), rotated.json()["message"].clone()),
        (Some(now.as_str()), Value::Null)
    );
    assert_eq!(app.github.hooks("acme/widgets")[0].1, now, "the installed hook has the new secret");

    // Deleting the config removes its hook.
    assert_eq!(app.call(Method::DELETE, &path, None).await.status, 204);
    assert!(app.github.hooks("acme/widgets").is_empty());
}

async fn a_configs_secret_ends_with_its_repository_and_with_a_rotation(store: Store) {
    let app = spawn_app(store.clone()).await;
    let id = app.project().await;
    let path = format!("/api/projects/{id}/github-sync");
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    let config = app.call(Method::PUT, &path, Some(body)).await.json();
    let hook = format!("/webhooks/github/{}", config["id"].as_str().unwrap());
    let event = |n: i64, repo: &str| {
        let issue = testkit::fixtures::issue(repo, n, "Hello", None, "open", "2026-01-05T10:00:00Z");
        testkit::fixtures::issues_event("opened", issue, repo, json!({})).to_string()
    };
    let secret = |setup: &Value| setup["secret"].as_str().unwrap().to_string();
    let first = secret(&app.call(Method::GET, &format!("{path}/webhook"), None).await.json());
    let r = app.deliver_to(&hook, "issues", event(1, "acme/widgets"), &first).await;
    assert_eq!(r.status, 200, "{}", r.text());
    // Not the deployment secret on the config's URL, nor the config's secret on the shared one.
    assert_eq!(app.deliver_to(&hook, "issues", event(2, "acme/widgets"), DEPLOY_SECRET).await.status, 401);
    let shared = app.deliver_to("/webhooks/github", "issues", event(2, "acme/widgets"), &first).await;
    assert_eq!(shared.status, 401, "{}", shared.text());

    // Rotated: the old secret is refused, the new one taken; the panel says a hook added by
    // hand needs it, until a delivery signed with it arrives.
    let rotated = app.call(Method::POST, &format!("{path}/webhook/rotate"), None).await;
    assert_eq!(rotated.status, 200, "{}", rotated.text());
    let second = secret(&rotated.json());
    assert_ne!(second, first);
    assert_eq!(rotated.json()["secret_generation"], 2);
    assert!(rotated.json()["message"].as_str().unwrap().contains("added by hand"), "{}", rotated.text());
    let refused = app.deliver_to(&hook, "issues", event(3, "acme/widgets"), &first).await;
    assert_eq!(refused.status, 401, "{}", refused.text());
    assert_eq!(app.deliver_to(&hook, "issues", event(3, "acme/widgets"), &second).await.status, 200);
    let setup = app.call(Method::GET, &format!("{path}/webhook"), None).await.json();
    assert!(!setup["message"].as_str().unwrap_or_default().contains("added by hand"), "{setup}");

    // Moved to another repository: its secret is new again, the old repository's is refused.
    let body = json!({"repo_owner": "acme", "repo_name": "gadgets", "pat": GOOD_PAT});
    assert_eq!(app.call(Method::PUT, &path, Some(body)).await.status, 200);
    let third = secret(&app.call(Method::GET, &format!("{path}/webhook"), None).await.json());
    assert!(third != second && third != first);
    let old = app.deliver_to(&hook, "issues", event(4, "acme/gadgets"), &second).await;
    assert_eq!(old.status, 401, "{}", old.text());
    assert_eq!(app.deliver_to(&hook, "issues", event(4, "acme/gadgets"), &third).await.status, 200);
    let tasks = app.call(Method::GET, &format!("/api/projects/{id}/tasks"), None).await.json();
    assert_eq!(tasks["items"].as_array().unwrap().len(), 3, "{tasks}");

    // A config made before generations keeps the secret its hook was given.
    sqlx::query("UPDATE github_sync_config SET secret_generation = 0, secret_salt = NULL")
        .execute(store.pool())
        .await
        .unwrap();
    let legacy = {
        use secrecy::ExposeSecret;
        let secrets = ghsync_shared::config::WebhookSecrets::parse(DEPLOY_SECRET).unwrap();
        let key = ghsync_shared::domain::TenantKey::FIRST;
        secrets
            .for_config(config["id"].as_str().unwrap().parse().unwrap(), &key)
            .current()
            .expose_secret()
            .to_string()
    };
    assert_eq!(app.deliver_to(&hook, "issues", event(5, "acme/gadgets"), &legacy).await.status, 200);
}

async fn without_hook_permission_or_a_public_url_the_manual_values_are_given(store: Store) {
    let app = common::spawn_app_hooked(store.clone(), "https://ghsync.example").await;
    app.github.deny_hooks(GOOD_PAT);
    let id = app.project().await;
    let path = format!("/api/projects/{id}/github-sync");
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    let r = app.call(Method::PUT, &path, Some(body)).await;
    assert_eq!(r.status, 200, "the config is stored all the same: {}", r.text());
    assert_eq!(r.json()["hook_id"], Value::Null);
    assert!(r.json()["hook_error"].as_str().unwrap().contains("admin:repo_hook"), "{}", r.text());
    let config_id = r.json()["id"].as_str().unwrap().to_string();
    for (method, what) in [(Method::GET, "read"), (Method::POST, "repair")] {
        let setup = app.call(method, &format!("{path}/webhook"), None).await;
        assert_eq!(setup.status, 200, "{what}: {}", setup.text());
        let setup = setup.json();
        let message = setup["message"].as_str().unwrap();
        assert!(
            message.contains("admin:repo_hook") && message.contains("Webhooks: read and write"),
            "{message}"
        );
        assert_eq!(setup["url"], format!("https://ghsync.example/webhooks/github/{config_id}"));
        assert_eq!(setup["secret"], own_secret(&app, &config_id).await);
    }
    assert!(app.github.hooks("acme/widgets").is_empty());

    // Once the token may, a repair installs it and the old refusal is gone.
    app.github.allow_hooks(GOOD_PAT);
    let setup = app.call(Method::POST, &format!("{path}/webhook"), None).await.json();
    assert!(setup["hook_id"].is_i64(), "{setup}");
    assert_eq!(setup["message"], Value::Null, "{setup}");
    assert_eq!(app.call(Method::GET, &path, None).await.json()["hook_error"], Value::Null);

    // Without a public URL: nothing is installed; the path and the secret are given.
    let plain = spawn_app(store).await;
    let id = plain.project().await;
    let path = format!("/api/projects/{id}/github-sync");
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    assert_eq!(plain.call(Method::PUT, &path, Some(body)).await.json()["hook_id"], Value::Null);
    let setup = plain.call(Method::GET, &format!("{path}/webhook"), None).await.json();
    assert!(setup["url"].as_str().unwrap().starts_with("/webhooks/github/"), "{setup}");
    assert!(setup["message"].as_str().unwrap().contains("GHSYNC_PUBLIC_URL"), "{setup}");
    assert_eq!(plain.call(Method::POST, &format!("{path}/webhook"), None).await.status, 409);
    assert!(plain.github.writes().is_empty());
}

/// GitHub's form of the `github-authentication-token-expiration` header for `at`.
fn expiry_header(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

async fn a_token_must_be_allowed_what_the_config_needs(store: Store) {
    let app = spawn_app(store.clone()).await;
    let id = app.project().await;
    let path = format!("/api/projects/{id}/github-sync");
    let put = |pat: &str, two_way: bool| json!({"repo_owner": "acme", "repo_name": "widgets", "pat": pat, "two_way": two_way});
    // A fine-grained token that may see the repository, not its issues.
    let metadata_only = "github_pat_metadataOnly0001";
    app.github.add_repo("acme/widgets", metadata_only);
    app.github.set_fine_grained(metadata_only, &[("metadata", "read")]);
    let before = row_counts(&store).await;
    let r = app.call(Method::PUT, &path, Some(put(metadata_only, false))).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"]["field"], "pat");
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(
        message.contains("cannot read the issues of acme/widgets") && message.contains("Issues: read"),
        "{message}"
    );
    assert!(message.contains("(GitHub: this needs issues=read)"), "GitHub's header is passed on: {message}");
    assert_eq!(row_counts(&store).await, before, "nothing stored");

    // Issues read-only: enough one-way, refused for two-way; the write probe created nothing.
    let read_only = "github_pat_issuesReadOnly01";
    app.github.add_repo("acme/widgets", read_only);
    app.github.set_fine_grained(read_only, &[("metadata", "read"), ("issues", "read")]);
    let r = app.call(Method::PUT, &path, Some(put(read_only, true))).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"]["field"], "two_way");
    let message = r.json()["error"]["message"].as_str().unwrap().to_string();
    assert!(message.contains("Issues: read and write") && message.contains("issues=write"), "{message}");
    let r = app.call(Method::PUT, &path, Some(put(read_only, false))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["token_permissions"],
        json!({"source": "fine_grained", "issues": "read", "hooks": false})
    );

    // Issues read and write: two-way is allowed.
    let writer = "github_pat_issuesReadWrite1";
    app.github.add_repo("acme/widgets", writer);
    app.github.set_fine_grained(writer, &[("metadata", "read"), ("issues", "write")]);
    let r = app.call(Method::PUT, &path, Some(put(writer, true))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        r.json()["token_permissions"],
        json!({"source": "fine_grained", "issues": "write", "hooks": false})
    );
    assert!(app.github.issue("acme/widgets", 1).is_none(), "probing for write access opened no issue");

    // A classic token is read from its scopes.
    app.github.set_classic_scopes(GOOD_PAT, "repo, admin:repo_hook");
    let r = app.call(Method::PUT, &path, Some(put(GOOD_PAT, true))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["token_permissions"], json!({"source": "classic", "issues": "write", "hooks": true}));
    app.github.set_classic_scopes(OTHER_PAT, "read:user");
    let r = app.call(Method::PUT, &path, Some(put(OTHER_PAT, true))).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert!(r.json()["error"]["message"].as_str().unwrap().contains("the repo scope"), "{}", r.text());
}

async fn an_expiring_token_is_shown_and_an_expired_one_fails_its_run(store: Store) {
    let app = spawn_app(store.clone()).await;
    app.github.upsert(
        "acme/widgets",
        testkit::fixtures::issue("acme/widgets", 1, "First", None, "open", "2026-01-05T10:00:00Z"),
    );
    let id = app.project().await;
    let path = format!("/api/projects/{id}/github-sync");
    let soon = chrono::Utc::now() + chrono::Duration::days(3) + chrono::Duration::hours(1);
    app.github.set_token_expiry(GOOD_PAT, &expiry_header(soon));
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT});
    let r = app.call(Method::PUT, &path, Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    let config = app.call(Method::GET, &path, None).await.json();
    let expires_at: chrono::DateTime<chrono::Utc> =
        config["token_expires_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(expires_at.timestamp(), soon.timestamp());
    let warning = config["token_warning"].as_str().unwrap_or_default().to_string();
    assert!(warning.contains("expires in 3 days"), "{config}");

    // GitHub now says it has expired (its header moved back): the run that learns it still
    // syncs, the next is refused before a request is sent.
    let past = chrono::Utc::now() - chrono::Duration::minutes(1);
    app.github.set_token_expiry(GOOD_PAT, &expiry_header(past));
    let worker = app.worker();
    let first = worker.run_project(id.parse().unwrap()).await.unwrap();
    assert_eq!(first.error, None);
    app.github.clear_requests();
    let second = worker.run_project(id.parse().unwrap()).await.unwrap();
    let error = second.error.expect("the run fails");
    assert!(error.contains("the token expired on") && error.contains("send a new one"), "{error}");
    assert!(app.github.requests().is_empty(), "nothing is sent with an expired token");
    let config = app.call(Method::GET, &path, None).await.json();
    assert_eq!(config["sync_error"].as_str(), Some(error.as_str()));
    assert!(config["token_warning"].as_str().unwrap().contains("expired"), "{config}");
    let history = app.call(Method::GET, &format!("/api/projects/{id}/sync-history"), None).await.json();
    assert_eq!(history["last_100_syncs"][0]["status"], "failure");
    assert_eq!(history["last_100_syncs"][0]["error_message"].as_str(), Some(error.as_str()));
}

/// A project following acme/widgets through the test App's installation, two-way, with
/// issue 1 imported.
async fn app_project(app: &App) -> String {
    app.github.upsert(
        "acme/widgets",
        testkit::fixtures::issue("acme/widgets", 1, "First", Some("one"), "open", "2026-01-05T10:00:00Z"),
    );
    app.with_app().await;
    let id = app.project().await;
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "installation_id": INSTALLATION, "two_way": true});
    let r = app.call(Method::PUT, &format!("/api/projects/{id}/github-sync"), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (r.json()["installation_id"].clone(), r.json()["token_permissions"]["source"].clone()),
        (json!(INSTALLATION), json!("app"))
    );
    id
}

async fn an_app_config_syncs_with_installation_tokens(store: Store) {
    let app = spawn_app(store.clone()).await;
    let info = app.call(Method::GET, "/api/github-app", None).await.json();
    assert_eq!(info, json!({"app_id": null, "configured": false, "warnings": []}));
    let id = app_project(&app).await;
    let info = app.call(Method::GET, "/api/github-app", None).await;
    assert_eq!(info.json(), json!({"app_id": APP_ID, "configured": true, "warnings": []}));
    assert!(!info.text().contains("PRIVATE KEY") && !info.text().contains(APP_SECRET));
    assert_eq!(app.github.tokens_minted(INSTALLATION), 1, "checked at save with a minted token");
    let listed = app.call(Method::GET, "/api/github-app/installations", None).await;
    assert_eq!(
        listed.json(),
        json!([{"id": INSTALLATION, "account": "acme", "repository_selection": "selected", "suspended": false}]),
        "{}",
        listed.text()
    );

    // The API's services and one worker: each mints once, then reuses its token.
    let worker = app.worker();
    let import = worker.run_project(id.parse().unwrap()).await.unwrap();
    assert_eq!(
        (import.error.clone(), import.history.as_ref().unwrap().tasks_created),
        (None, 1),
        "{import:?}"
    );
    let again = worker.run_project(id.parse().unwrap()).await.unwrap();
    assert!(again.not_modified, "one 304 when nothing changed: {again:?}");
    let tasks = app.call(Method::GET, &format!("/api/projects/{id}/tasks"), None).await.json();
    let task = tasks["items"][0]["id"].as_str().unwrap().to_string();
    let r =
        app.call(Method::PATCH, &format!("/api/tasks/{task}"), Some(json!({"title": "Edited here"}))).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(app.github.issue("acme/widgets", 1).unwrap()["title"], "Edited here");
    assert_eq!(app.github.tokens_minted(INSTALLATION), 2, "one token for the API, one for the worker");
    let requests = app.github.requests();
    // (`…/installation` is the App's own question, with its JWT: which installation is there.)
    let repo_requests: Vec<_> = requests
        .iter()
        .filter(|r| r.path.starts_with("/repos/") && !r.path.ends_with("/installation"))
        .collect();
    assert!(repo_requests.iter().any(|r| r.method == "PATCH"));
    for r in repo_requests {
        let auth = r.authorization.as_deref().unwrap_or_default();
        assert!(
            auth.starts_with("Bearer ghs_"),
            "{} {} went with an installation token: {auth}",
            r.method,
            r.path
        );
    }

    // A revoked token fails one run; the next mints another.
    app.github.revoke_installation_tokens(INSTALLATION);
    app.github.upsert(
        "acme/widgets",
        testkit::fixtures::issue("acme/widgets", 3, "Third", None, "open", "2026-01-05T12:00:00Z"),
    );
    let refused = worker.run_project(id.parse().unwrap()).await.unwrap();
    assert!(refused.error.unwrap_or_default().contains("401"), "the revoked token is refused");
    let recovered = worker.run_project(id.parse().unwrap()).await.unwrap();
    assert_eq!(recovered.error, None);
    assert_eq!(app.github.tokens_minted(INSTALLATION), 3);

    // A token with less than the refresh margin left is minted anew for each use.
    app.github.set_installation_token_lifetime(std::time::Duration::from_secs(240));
    let short = app.worker();
    for _ in 0..2 {
        let report = short.run_project(id.parse().unwrap()).await.unwrap();
        assert_eq!(report.error, None);
    }
    assert_eq!(app.github.tokens_minted(INSTALLATION), 5);

    // The App's JWT goes to the deployment's GitHub only: no App config on a config's own API.
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "api_url": "https://ghe.example/api/v3"});
    let r = app.call(Method::PUT, &format!("/api/projects/{id}/github-sync"), Some(body)).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["error"]["field"].clone()),
        (422, json!("api_url")),
        "{}",
        r.text()
    );

    // Exactly one of PAT and installation.
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "installation_id": INSTALLATION, "pat": GOOD_PAT});
    let r = app.call(Method::PUT, &format!("/api/projects/{id}/github-sync"), Some(body)).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["error"]["field"].clone()),
        (422, json!("installation_id")),
        "{}",
        r.text()
    );
    // An installation that cannot see the repository is refused at save.
    app.github.add_installation(78, &["acme/gadgets"], &[("issues", "read")]);
    let other = app.project().await;
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "installation_id": 78});
    let r = app.call(Method::PUT, &format!("/api/projects/{other}/github-sync"), Some(body)).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["error"]["field"].clone()),
        (422, json!("installation_id")),
        "{}",
        r.text()
    );
    assert!(
        r.json()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("installed on acme/widgets as installation 77")
    );
    // Nor may a config change to it: GitHub says which installation covers the repository.
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "installation_id": 78});
    let r = app.call(Method::PUT, &format!("/api/projects/{id}/github-sync"), Some(body)).await;
    assert_eq!((r.status.as_u16(), r.json()["error"]["field"].clone()), (422, json!("installation_id")));
    let config = app.call(Method::GET, &format!("/api/projects/{id}/github-sync"), None).await.json();
    assert_eq!(config["installation_id"], INSTALLATION);
}

async fn an_app_config_pauses_and_resumes_with_its_installation(store: Store) {
    let app = spawn_app(store.clone()).await;
    let id = app_project(&app).await;
    let path = format!("/api/projects/{id}/github-sync");
    let repos = |list: &str| json!([{"id": 1001, "name": "widgets", "full_name": "acme/widgets", "private": false, "node_id": list}]);
    let event = |action: &str, key: &str| {
        let mut body = json!({"action": action, "installation": {"id": INSTALLATION}, "repository_selection": "selected",
            "repositories_added": [], "repositories_removed": []});
        body[key] = repos("R_1");
        body
    };

    // Deliveries must be signed with the App's own secret.
    let forged = app
        .deliver_to_app("installation_repositories", &event("removed", "repositories_removed"), DEPLOY_SECRET)
        .await;
    assert_eq!(forged.status, 401, "{}", forged.text());
    assert_eq!(app.call(Method::GET, &path, None).await.json()["sync_enabled"], true);

    // The App's ping (sent when its webhook is set up) names no installation; an issue must.
    let ping = json!({"zen": "Design for failure.", "hook_id": 1, "hook": {"type": "App", "app_id": APP_ID}});
    let r = app.deliver_to_app("ping", &ping, APP_SECRET).await;
    assert_eq!((r.status.as_u16(), r.json()["outcome"].clone()), (200, json!("pong")), "{}", r.text());

    // An issue delivered to the App's URL reaches the configs of its installation only.
    let issue = testkit::fixtures::issue("acme/widgets", 2, "Second", None, "open", "2026-01-05T11:00:00Z");
    let mut opened = testkit::fixtures::issues_event("opened", issue, "acme/widgets", json!({}));
    opened["installation"] = json!({"id": INSTALLATION});
    let r = app.deliver_to_app("issues", &opened, APP_SECRET).await;
    assert_eq!((r.status.as_u16(), r.json()["outcome"].clone()), (200, json!("applied")), "{}", r.text());
    opened["installation"] = json!({"id": 78});
    let r = app.deliver_to_app("issues", &opened, APP_SECRET).await;
    assert_eq!(r.json()["outcome"], "ignored", "{}", r.text());
    opened.as_object_mut().unwrap().remove("installation");
    assert_eq!(app.deliver_to_app("issues", &opened, APP_SECRET).await.status, 400);

    // The repository leaves the installation: the config pauses, saying why.
    app.github.remove_installation_repo(INSTALLATION, "acme/widgets");
    let r = app
        .deliver_to_app("installation_repositories", &event("removed", "repositories_removed"), APP_SECRET)
        .await;
    assert_eq!(
        (r.status.as_u16(), r.json()),
        (200, json!({"outcome": "paused", "configs": 1})),
        "{}",
        r.text()
    );
    let config = app.call(Method::GET, &path, None).await.json();
    assert_eq!(
        (config["sync_enabled"].clone(), config["paused_by_github"].clone()),
        (json!(false), json!(true))
    );
    assert!(
        config["sync_error"]
            .as_str()
            .unwrap()
            .contains("acme/widgets was removed from the GitHub App installation 77"),
        "{config}"
    );
    let report = app.worker().run_due(ghsync_shared::time::Deadline::NONE).await.unwrap();
    assert!(report.configs.is_empty(), "a paused config is not synced");
    // An edit that sends the on/off as stored (as the console's form does) is no decision,
    // and the installation's suspension and return do not resume a repository still gone.
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "sync_enabled": false, "sync_interval_seconds": 300});
    assert_eq!(app.call(Method::PUT, &path, Some(body)).await.status, 200);
    assert_eq!(installation_event(&app, "suspend", Some(true)).await["configs"], 0);
    assert_eq!(installation_event(&app, "unsuspend", Some(false)).await["configs"], 0);
    assert_eq!(app.call(Method::GET, &path, None).await.json()["paused_by_github"], true);

    // It comes back: the config resumes, due at once.
    app.github.add_installation_repo(INSTALLATION, "acme/widgets");
    let r = app
        .deliver_to_app("installation_repositories", &event("added", "repositories_added"), APP_SECRET)
        .await;
    assert_eq!(r.json(), json!({"outcome": "resumed", "configs": 1}), "{}", r.text());
    let config = app.call(Method::GET, &path, None).await.json();
    assert_eq!(
        (config["sync_enabled"].clone(), config["paused_by_github"].clone(), config["sync_error"].clone()),
        (json!(true), json!(false), Value::Null)
    );
    let report = app.worker().run_due(ghsync_shared::time::Deadline::NONE).await.unwrap();
    assert_eq!(report.configs.len(), 1);
    assert_eq!(report.configs[0].error, None);

    // Suspending the installation pauses it; a person's own pause is left alone on resume.
    assert_eq!(installation_event(&app, "suspend", Some(true)).await["configs"], 1);
    assert_eq!(installation_event(&app, "unsuspend", Some(false)).await["configs"], 1);
    // Paused by GitHub, then turned on by a person: the pause is over, GitHub's return
    // changes nothing.
    assert_eq!(installation_event(&app, "suspend", Some(true)).await["configs"], 1);
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "sync_enabled": true});
    let r = app.call(Method::PUT, &path, Some(body)).await;
    assert_eq!(
        (r.json()["sync_enabled"].clone(), r.json()["paused_by_github"].clone()),
        (json!(true), json!(false))
    );
    assert_eq!(installation_event(&app, "unsuspend", Some(false)).await["configs"], 0);
    // Turned off by a person: GitHub's events leave it off.
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "sync_enabled": false});
    assert_eq!(app.call(Method::PUT, &path, Some(body)).await.status, 200);
    assert_eq!(installation_event(&app, "suspend", Some(true)).await["configs"], 0);
    assert_eq!(installation_event(&app, "unsuspend", Some(false)).await["configs"], 0);
    assert_eq!(app.call(Method::GET, &path, None).await.json()["sync_enabled"], false);
}

/// Delivers an `installation` event of `action` to the App's URL, GitHub then saying the
/// installation is suspended or not (`None`: deleted); the answer's body.
async fn installation_event(app: &common::App, action: &str, suspended: Option<bool>) -> Value {
    match suspended {
        Some(suspended) => app.github.suspend_installation(INSTALLATION, suspended),
        None => app.github.delete_installation(INSTALLATION),
    }
    let body = json!({"action": action, "installation": {"id": INSTALLATION}});
    app.deliver_to_app("installation", &body, APP_SECRET).await.json()
}

async fn a_replayed_installation_event_changes_nothing_github_does_not_bear_out(store: Store) {
    let app = spawn_app(store.clone()).await;
    let id = app_project(&app).await;
    let path = format!("/api/projects/{id}/github-sync");
    let before = app.call(Method::GET, &path, None).await.json();
    assert_eq!(before["sync_enabled"], true);
    // Captured `suspend`, `deleted` and `removed` deliveries, resent under new delivery ids
    // (signed: they are GitHub's own) while GitHub says the installation is active and holds
    // the repository: nothing pauses, and each is told apart in the log.
    app.github.clear_requests();
    for action in ["suspend", "deleted"] {
        let r = installation_event(&app, action, Some(false)).await;
        assert_eq!(r, json!({"outcome": "ignored", "reason": "not_confirmed"}), "{action}");
    }
    let removed = json!({"action": "removed", "installation": {"id": INSTALLATION}, "repository_selection": "selected",
        "repositories_added": [], "repositories_removed": [{"id": 1001, "name": "widgets", "full_name": "acme/widgets"}]});
    let r = app.deliver_to_app("installation_repositories", &removed, APP_SECRET).await;
    assert_eq!(r.json(), json!({"outcome": "ignored", "reason": "not_confirmed"}), "{}", r.text());
    let after = app.call(Method::GET, &path, None).await.json();
    assert_eq!((after["sync_enabled"].clone(), after["sync_error"].clone()), (json!(true), Value::Null));
    // GitHub was asked with the App's JWT, about the installation and the repository.
    let asked: Vec<(String, bool)> = app
        .github
        .requests()
        .into_iter()
        .map(|r| (r.path, r.authorization.unwrap_or_default().starts_with("Bearer ey")))
        .collect();
    assert_eq!(
        asked,
        [
            (format!("/app/installations/{INSTALLATION}"), true),
            (format!("/app/installations/{INSTALLATION}"), true),
            ("/repos/acme/widgets/installation".to_string(), true),
        ]
    );
    // GitHub unreachable: nothing changes, and the delivery is refused for redelivery.
    for _ in 0..3 {
        // Every attempt of the client's retries.
        app.github.push_fault(testkit::github::Fault::status(503, "{}"));
    }
    let body = json!({"action": "suspend", "installation": {"id": INSTALLATION}});
    app.github.suspend_installation(INSTALLATION, true);
    let r = app.deliver_to_app("installation", &body, APP_SECRET).await;
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(app.call(Method::GET, &path, None).await.json()["sync_enabled"], true);
    // What GitHub bears out is believed: the installation really was deleted.
    assert_eq!(installation_event(&app, "deleted", None).await, json!({"outcome": "paused", "configs": 1}));
    assert_eq!(app.call(Method::GET, &path, None).await.json()["sync_enabled"], false);
}

async fn a_forged_app_key_is_refused(store: Store) {
    let app = spawn_app(store).await;
    app.github.set_app(APP_ID, testkit::github::app_public_key());
    app.github.add_installation(INSTALLATION, &["acme/widgets"], &[("issues", "write")]);
    // The stand-in checks the JWT's signature: the App's key passes, another key does not.
    let mint = format!("{}/app/installations/{INSTALLATION}/access_tokens", app.github.url);
    for (key, status) in [(testkit::github::app_private_key(), 201), (testkit::github::forged_app_key(), 401)]
    {
        let now = chrono::Utc::now().timestamp();
        let claims = json!({"iss": APP_ID, "iat": now - 60, "exp": now + 540});
        let key = jsonwebtoken::EncodingKey::from_rsa_pem(key.as_bytes()).unwrap();
        let jwt =
            jsonwebtoken::encode(&jsonwebtoken::Header::new(jsonwebtoken::Algorithm::RS256), &claims, &key)
                .unwrap();
        let auth = format!("Bearer {jwt}");
        assert_eq!(send(Method::POST, &mint, &[("authorization", auth.as_str())], "").await.status, status);
    }
    // Set with a key that is not the App's, ghsync's JWT is refused and nothing is stored.
    let body = json!({"app_id": APP_ID, "private_key": testkit::github::forged_app_key(), "webhook_secret": APP_SECRET});
    assert_eq!(app.call(Method::PUT, "/api/github-app", Some(body)).await.status, 200);
    let id = app.project().await;
    let path = format!("/api/projects/{id}/github-sync");
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "installation_id": INSTALLATION});
    let r = app.call(Method::PUT, &path, Some(body)).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["error"]["code"].clone()),
        (422, json!("github_app_refused")),
        "{}",
        r.text()
    );
    assert_eq!(app.call(Method::GET, &path, None).await.status, 404);
    // Not a key at all: refused before anything is sealed.
    let body = json!({"app_id": APP_ID, "private_key": "not a key", "webhook_secret": APP_SECRET});
    let r = app.call(Method::PUT, "/api/github-app", Some(body)).await;
    assert_eq!(
        (r.status.as_u16(), r.json()["error"]["field"].clone()),
        (422, json!("private_key")),
        "{}",
        r.text()
    );
    let listed = app.call(Method::GET, "/api/github-app/installations", None).await;
    assert_eq!(
        (listed.status.as_u16(), listed.json()["error"]["code"].clone()),
        (422, json!("github_app_refused"))
    );
    assert_eq!(app.call(Method::DELETE, "/api/github-app", None).await.status, 204);
    assert_eq!(app.call(Method::DELETE, "/api/github-app", None).await.status, 404);
    let listed = app.call(Method::GET, "/api/github-app/installations", None).await;
    assert_eq!(
        (listed.status.as_u16(), listed.json()["error"]["code"].clone()),
        (409, json!("no_github_app"))
    );
}

async fn a_ghes_api_with_a_path_prefix_works_end_to_end(store: Store) {
    let ghes = testkit::github::FakeGitHub::start_ghes().await;
    // The operator allows this server (`GHSYNC_GITHUB_HOSTS`), written another way.
    let allowed = ghes.url.replace("http://", "HTTP://") + "/";
    let app = common::spawn_app_allowing(store, &[allowed.as_str()]).await;
    assert!(ghes.url.ends_with("/api/v3"), "{}", ghes.url);
    let web = ghes.url.trim_end_matches("/api/v3").replace("http://", "https://");
    let pat = "ghp_enterpriseToken000001";
    ghes.add_repo("acme/widgets", pat);
    ghes.upsert(
        "acme/widgets",
        testkit::fixtures::issue(
            "acme/widgets",
            1,
            "On the enterprise",
            None,
            "open",
            "2026-01-05T10:00:00Z",
        ),
    );
    let id = app.project().await;
    let path = format!("/api/projects/{id}/github-sync");
    // A server the operator did not name: refused before anything is sent, so its own words
    // never reach an answer, whatever it would say.
    let unlisted = testkit::github::FakeGitHub::start_ghes().await;
    unlisted.add_repo("acme/widgets", pat);
    unlisted
        .push_fault(testkit::github::Fault::status(403, r#"{"message": "INTERNAL: instance role secret"}"#));
    for off_list in [
        unlisted.url.clone(),
        "https://10.0.0.1/api/v3".to_string(),
        "https://169.254.169.254/api/v3".to_string(),
        format!(
            "http://[::1]:{}/api/v3",
            unlisted.url.rsplit(':').next().unwrap().trim_end_matches("/api/v3")
        ),
        "https://ghe.example/api/v3".to_string(),
    ] {
        let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": pat, "api_url": off_list});
        let r = app.call(Method::PUT, &path, Some(body)).await;
        assert_eq!(
            (r.status.as_u16(), r.json()["error"]["field"].clone()),
            (422, json!("api_url")),
            "{off_list}: {}",
            r.text()
        );
        assert!(r.text().contains("GHSYNC_GITHUB_HOSTS") && !r.text().contains("INTERNAL"), "{}", r.text());
    }
    assert!(unlisted.requests().is_empty(), "{:?}", unlisted.requests());
    for (bad, why) in [("http://ghe.example/api/v3", "https"), ("https://ghe.example/", "/api/v3")] {
        let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": pat, "api_url": bad});
        let r = app.call(Method::PUT, &path, Some(body)).await;
        assert_eq!(
            (r.status.as_u16(), r.json()["error"]["field"].clone()),
            (422, json!("api_url")),
            "{bad}: {}",
            r.text()
        );
        assert!(r.json()["error"]["message"].as_str().unwrap().contains(why), "{}", r.text());
    }
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": pat, "api_url": ghes.url, "two_way": true});
    let r = app.call(Method::PUT, &path, Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["api_url"], ghes.url);
    let config_id = r.json()["id"].as_str().unwrap().to_string();
    assert!(app.github.requests().is_empty(), "github.com is never asked");
    // Back to github.com (allowed too) without the PAT: the server's PAT does not go there.
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "api_url": ""});
    let r = app.call(Method::PUT, &path, Some(body)).await;
    assert_eq!((r.status.as_u16(), r.json()["error"]["field"].clone()), (422, json!("pat")), "{}", r.text());
    assert!(app.github.requests().is_empty(), "the PAT went to github.com");

    let worker = app.worker();
    let report = worker.run_project(id.parse().unwrap()).await.unwrap();
    assert_eq!(report.error, None, "{report:?}");
    let tasks = app.call(Method::GET, &format!("/api/projects/{id}/tasks"), None).await.json();
    assert_eq!(tasks["items"][0]["title"], "On the enterprise");
    assert_eq!(tasks["items"][0]["github_issue_url"], format!("{web}/acme/widgets/issues/1"));
    assert!(worker.run_project(id.parse().unwrap()).await.unwrap().not_modified);
    let task = tasks["items"][0]["id"].as_str().unwrap().to_string();
    let r = app
        .call(Method::PATCH, &format!("/api/tasks/{task}"), Some(json!({"title": "Edited on the board"})))
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(ghes.issue("acme/widgets", 1).unwrap()["title"], "Edited on the board");

    // The server's own webhook, on the config's own URL: issues on the server's host apply,
    // the same issue claiming github.com does not.
    let issue =
        testkit::fixtures::issue("acme/widgets", 2, "From the hook", None, "open", "2026-01-05T11:00:00Z");
    let event = testkit::fixtures::issues_event("opened", issue, "acme/widgets", json!({})).to_string();
    // The deployment-wide URL speaks for github.com's acme/widgets: another repository.
    let r = app.deliver_to("/webhooks/github", "issues", event.clone(), DEPLOY_SECRET).await;
    assert_eq!(r.json()["outcome"], "ignored", "{}", r.text());
    let hook = format!("/webhooks/github/{config_id}");
    let r = app.deliver_to(&hook, "issues", event.clone(), &own_secret(&app, &config_id).await).await;
    assert_eq!(r.json()["outcome"], "ignored", "{}", r.text());
    let on_server = event.replace("https://github.com/", &format!("{web}/"));
    let r = app.deliver_to(&hook, "issues", on_server, &own_secret(&app, &config_id).await).await;
    assert_eq!((r.status.as_u16(), r.json()["outcome"].clone()), (200, json!("applied")), "{}", r.text());
    let tasks = app.call(Method::GET, &format!("/api/projects/{id}/tasks"), None).await.json();
    assert_eq!(tasks["items"][1]["github_issue_url"], format!("{web}/acme/widgets/issues/2"));
    assert!(app.github.requests().is_empty(), "github.com is never asked");
}

/// The App's webhook secret sealed under a key that is gone: unverifiable deliveries get the
/// same 401 as a wrong signature, no internal text, and the failure is opened (and counted)
/// once per read interval, not once per request.
#[tokio::test]
async fn an_app_secret_that_does_not_open_is_a_plain_401_opened_once() {
    ghsync_shared::metrics::capture("api-test");
    let app = spawn_app(testkit::sqlite().await).await;
    app.with_app().await;
    sqlx::query("UPDATE github_app SET encrypted_webhook_secret = $1")
        .bind(vec![1u8, 2, 3, 4])
        .execute(app.store.pool())
        .await
        .unwrap();
    let ping = json!({"zen": "Half measures are as bad as nothing at all.", "hook_id": 1});
    let wrong = app.deliver_to("/webhooks/github", "ping", ping.to_string(), "not-the-secret").await;
    for _ in 0..5 {
        let r = app.deliver_to_app("ping", &ping, APP_SECRET).await;
        assert_eq!(r.status, 401, "{}", r.text());
        assert_eq!(r.json(), wrong.json(), "the same words as a wrong signature");
        for internal in ["decrypt", "KMS", "key", "open"] {
            assert!(!r.text().contains(internal), "{}", r.text());
        }
    }
    let opened =
        ghsync_shared::metrics::captured().iter().filter(|l| l.contains("AppSecretUnopenable")).count();
    assert_eq!(opened, 1);
}
