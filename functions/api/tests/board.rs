//! The board's API over real HTTP, on both database backends: its filters by label,
//! assignee and milestone (and how they follow GitHub's changes), its columns paged
//! newest-updated first, a card's read and a move refused when its card is stale
//! (docs/board.md).

// The tests' async bodies are deep for the compiler's layout queries (as in comments.rs).
#![recursion_limit = "256"]

mod common;

use common::*;
use ghsync_shared::Store;
use http::Method;
use serde_json::{Value, json};
use testkit::both_backends;
use testkit::http::send;

both_backends!(
    filters_find_labels_assignees_and_milestones_and_follow_github,
    columns_page_newest_updated_first_with_their_own_cursors,
    a_move_of_a_stale_card_is_refused_and_writes_nothing,
);

/// Issue `n` of acme/widgets at `at` with these labels, assignees and milestone.
fn issue_with(
    n: i64,
    title: &str,
    at: &str,
    labels: &[&str],
    assignees: &[&str],
    milestone: Option<&str>,
) -> Value {
    let mut issue = testkit::fixtures::issue("acme/widgets", n, title, None, "open", at);
    issue["labels"] = labels.iter().map(|l| json!({"name": l, "color": "0e8a16"})).collect();
    issue["assignees"] = assignees.iter().map(|a| json!({"login": a})).collect();
    issue["milestone"] = milestone.map_or(Value::Null, |m| json!({"number": 1, "title": m}));
    issue
}

/// A project following acme/widgets (`two_way` as given), synced once.
async fn synced_project(app: &App, two_way: bool) -> String {
    let id = app.project().await;
    let body = json!({"repo_owner": "acme", "repo_name": "widgets", "pat": GOOD_PAT, "two_way": two_way});
    let r = app.call(Method::PUT, &format!("/api/projects/{id}/github-sync"), Some(body)).await;
    assert_eq!(r.status, 200, "{}", r.text());
    app.worker().run_project(id.parse().unwrap()).await.unwrap();
    id
}

/// The titles a task list answers, in its order.
async fn titles(app: &App, path: &str) -> Vec<String> {
    let r = app.call(Method::GET, path, None).await;
    assert_eq!(r.status, 200, "{path}: {}", r.text());
    r.json()["items"].as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap().to_string()).collect()
}

async fn filters_find_labels_assignees_and_milestones_and_follow_github(store: Store) {
    let app = spawn_app(store).await;
    let gh = &app.github;
    gh.upsert(
        "acme/widgets",
        issue_with(1, "Crash", "2026-01-05T10:00:01Z", &["bug", "UI"], &["Ana"], Some("v1.0")),
    );
    gh.upsert("acme/widgets", issue_with(2, "Slow", "2026-01-05T10:00:02Z", &["perf"], &["bo", "ana"], None));
    gh.upsert("acme/widgets", issue_with(3, "Docs", "2026-01-05T10:00:03Z", &[], &[], Some("V1.0")));
    gh.upsert(
        "acme/widgets",
        issue_with(4, "Ui_glitch 100%", "2026-01-05T10:00:04Z", &["ui_x"], &[], Some("v2.0")),
    );
    gh.upsert("acme/widgets", issue_with(5, "Ärger im Büro", "2026-01-05T10:00:05Z", &[], &[], None));
    let id = synced_project(&app, false).await;
    let list = |query: &str| format!("/api/projects/{id}/tasks?{query}");

    // The title search: a substring as typed, or with its ASCII letters in any case, on both
    // backends; `%` and `_` are text.
    let searches: [(&str, &[&str]); 5] = [
        ("q=%C3%84rger", &["Ärger im Büro"]),
        ("q=IM%20B%C3%BC", &["Ärger im Büro"]),
        ("q=100%25", &["Ui_glitch 100%"]),
        ("q=i_g", &["Ui_glitch 100%"]),
        ("q=i%25g", &[]),
    ];
    for (query, want) in searches {
        assert_eq!(titles(&app, &list(query)).await, want, "{query}");
    }

    // Each filter compares the whole value, in any case of its ASCII letters; they combine.
    let cases: [(&str, &[&str]); 12] = [
        ("label=ui", &["Crash"]),
        ("label=UI", &["Crash"]),
        ("label=u", &[]),
        ("label=ui_x", &["Ui_glitch 100%"]),
        ("assignee=ANA", &["Crash", "Slow"]),
        ("assignee=bo", &["Slow"]),
        ("milestone=v1.0", &["Crash", "Docs"]),
        ("milestone=v2", &[]),
        ("assignee=ana&label=perf", &["Slow"]),
        ("milestone=v1.0&q=doc", &["Docs"]),
        ("label=ui&status=done", &[]),
        ("label=&assignee=%20&milestone=", &["Crash", "Slow", "Docs", "Ui_glitch 100%", "Ärger im Büro"]),
    ];
    for (query, want) in cases {
        assert_eq!(titles(&app, &list(query)).await, want, "{query}");
    }

    // GitHub moves a label, an assignee and a milestone: the filters follow the next sync.
    gh.upsert("acme/widgets", issue_with(1, "Crash", "2026-01-05T11:00:00Z", &["bug"], &[], Some("v2.0")));
    gh.upsert("acme/widgets", issue_with(3, "Docs", "2026-01-05T11:00:00Z", &["UI"], &["ana"], None));
    app.worker().run_project(id.parse().unwrap()).await.unwrap();
    assert_eq!(titles(&app, &list("label=ui")).await, ["Docs"]);
    assert_eq!(titles(&app, &list("assignee=ana")).await, ["Slow", "Docs"]);
    assert_eq!(titles(&app, &list("milestone=v2.0")).await, ["Crash", "Ui_glitch 100%"]);
    assert_eq!(titles(&app, &list("milestone=v1.0")).await, Vec::<String>::new());

    // A conflict holds GitHub's content back, not its labels: the filter shows what the card shows.
    let slow = app.call(Method::GET, &list("assignee=bo"), None).await.json()["items"][0]["id"].clone();
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/tasks/{}", slow.as_str().unwrap()),
            Some(json!({"title": "Slow here"})),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.text());
    gh.upsert(
        "acme/widgets",
        issue_with(2, "Slow there", "2026-01-05T12:00:00Z", &["perf", "triage"], &["bo"], None),
    );
    app.worker().run_project(id.parse().unwrap()).await.unwrap();
    let held = app.call(Method::GET, &list("label=triage"), None).await.json();
    assert_eq!(held["items"][0]["title"], "Slow here");
    assert_eq!(held["items"][0]["github"]["sync_conflict_status"], "pending");
    assert_eq!(titles(&app, &list("assignee=ana")).await, ["Docs"]);
}

async fn columns_page_newest_updated_first_with_their_own_cursors(store: Store) {
    let app = spawn_app(store).await;
    for n in 1..=7 {
        let at = format!("2026-01-05T10:00:0{n}Z");
        app.github.upsert("acme/widgets", issue_with(n, &format!("Issue {n}"), &at, &[], &[], None));
    }
    let id = synced_project(&app, false).await;
    // Edits in this order make the newest-updated order 5, 2, then the rest as imported.
    for n in [2, 5] {
        let task = task_of(&app, &id, n).await;
        let r = app
            .call(Method::PATCH, &format!("/api/tasks/{task}"), Some(json!({"status": "inprogress"})))
            .await;
        assert_eq!(r.status, 200, "{}", r.text());
    }
    let task = task_of(&app, &id, 2).await;
    let r = app.call(Method::PATCH, &format!("/api/tasks/{task}"), Some(json!({"status": "todo"}))).await;
    assert_eq!(r.status, 200);

    // The To do column, two cards a page: every task once, newest-updated first.
    let mut seen = Vec::new();
    let mut cursor = String::new();
    let mut pages = 0;
    loop {
        let path = format!("/api/projects/{id}/tasks?status=todo&sort=updated&limit=2&cursor={cursor}");
        let page = app.call(Method::GET, &path, None).await.json();
        pages += 1;
        for t in page["items"].as_array().unwrap() {
            seen.push(t["title"].as_str().unwrap().to_string());
        }
        match page["next_cursor"].as_str() {
            Some(next) => cursor = next.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 3);
    assert_eq!(seen[0], "Issue 2", "the newest-updated first: {seen:?}");
    let mut sorted = seen.clone();
    sorted.sort();
    assert_eq!(sorted, ["Issue 1", "Issue 2", "Issue 3", "Issue 4", "Issue 6", "Issue 7"]);
    assert_eq!(
        titles(&app, &format!("/api/projects/{id}/tasks?status=inprogress&sort=updated")).await,
        ["Issue 5"]
    );
    // The default order is still oldest first.
    let created = titles(&app, &format!("/api/projects/{id}/tasks?status=todo")).await;
    assert_eq!(created[0], "Issue 1");

    // A cursor belongs to its order; an unknown order is named.
    let by_created = app.call(Method::GET, &format!("/api/projects/{id}/tasks?limit=1"), None).await.json();
    let other = by_created["next_cursor"].as_str().unwrap();
    let r =
        app.call(Method::GET, &format!("/api/projects/{id}/tasks?sort=updated&cursor={other}"), None).await;
    assert_eq!(r.status, 400, "{}", r.text());
    let r = app.call(Method::GET, &format!("/api/projects/{id}/tasks?sort=newest"), None).await;
    assert_eq!(r.status, 422, "{}", r.text());
    assert_eq!(r.json()["error"]["field"], "sort");
}

/// The id of the task of issue `n`.
async fn task_of(app: &App, project: &str, n: i64) -> String {
    let all = app.call(Method::GET, &format!("/api/projects/{project}/tasks"), None).await.json();
    let found = all["items"].as_array().unwrap().iter().find(|t| t["github"]["issue_number"] == n).cloned();
    found.expect("the issue's task")["id"].as_str().unwrap().to_string()
}

/// `PATCH /api/tasks/{task}` with `If-Match: if_match`.
async fn patch_if(app: &App, task: &str, if_match: &str, body: Value) -> testkit::http::Reply {
    let auth = format!("Bearer {TOKEN}");
    let headers =
        [("content-type", "application/json"), ("authorization", auth.as_str()), ("if-match", if_match)];
    send(Method::PATCH, &format!("{}/api/tasks/{task}", app.url), &headers, body.to_string()).await
}

async fn a_move_of_a_stale_card_is_refused_and_writes_nothing(store: Store) {
    let app = spawn_app(store.clone()).await;
    app.github.upsert("acme/widgets", issue_with(1, "Card", "2026-01-05T10:00:00Z", &["bug"], &[], None));
    app.github.upsert_comment(
        "acme/widgets",
        testkit::fixtures::comment(
            "acme/widgets",
            1,
            11,
            "Seen it",
            "bo",
            "2026-01-05T10:00:00Z",
            "2026-01-05T10:00:00Z",
        ),
    );
    let id = synced_project(&app, true).await;
    let task = task_of(&app, &id, 1).await;

    // The card as the board reads it: the task, its link and its thread's size.
    let card = app.call(Method::GET, &format!("/api/tasks/{task}"), None).await;
    assert_eq!(card.status, 200, "{}", card.text());
    let card = card.json();
    assert_eq!((card["title"].clone(), card["comment_count"].clone()), (json!("Card"), json!(1)));
    assert_eq!(card["github"]["labels"][0]["name"], "bug");
    let listed = app.call(Method::GET, &format!("/api/projects/{id}/tasks?sort=updated"), None).await.json();
    assert_eq!(listed["items"][0], card, "the list and the read show the same card");
    let seen = card["updated_at"].as_str().unwrap().to_string();

    // Someone else edits it; the board's move with the version it shows is refused.
    let r = app
        .call(Method::PATCH, &format!("/api/tasks/{task}"), Some(json!({"title": "Renamed elsewhere"})))
        .await;
    assert_eq!(r.status, 200);
    let before = testkit::row_counts(&store).await;
    app.github.clear_requests();
    for stale in [format!("\"{seen}\""), "\"yesterday\"".to_string()] {
        let r = patch_if(&app, &task, &stale, json!({"status": "done"})).await;
        assert_eq!(r.status, 412, "{stale}: {}", r.text());
        assert_eq!(r.json()["error"]["code"], "task_changed");
    }
    let message = patch_if(&app, &task, &format!("\"{seen}\""), json!({"status": "done"})).await.json();
    assert!(message["error"]["message"].as_str().unwrap().contains("it is in todo now"), "{message}");
    assert_eq!(testkit::row_counts(&store).await, before, "nothing written");
    assert!(app.github.requests().is_empty(), "nothing sent to GitHub");
    assert_eq!(app.github.issue("acme/widgets", 1).unwrap()["state"], "open");

    // With the version it shows now the move goes, and two-way closes the issue.
    let now = app.call(Method::GET, &format!("/api/tasks/{task}"), None).await.json();
    let current = format!("\"{}\"", now["updated_at"].as_str().unwrap());
    let r = patch_if(&app, &task, &current, json!({"status": "done"})).await;
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["status"], "done");
    let issue = app.github.issue("acme/widgets", 1).unwrap();
    assert_eq!(
        (issue["state"].clone(), issue["state_reason"].clone()),
        (json!("closed"), json!("completed"))
    );
    let moved = app.call(Method::GET, &format!("/api/tasks/{task}"), None).await.json();
    assert_eq!(
        (moved["status"].clone(), moved["github"]["push_pending"].clone()),
        (json!("done"), json!(false))
    );
    // `*` names any version.
    assert_eq!(patch_if(&app, &task, "*", json!({"status": "inreview"})).await.status, 200);
    let missing = app.call(Method::GET, &format!("/api/tasks/{}", uuid::Uuid::new_v4()), None).await;
    assert_eq!(missing.status, 404);
}
