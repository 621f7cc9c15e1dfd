//! Webhook deliveries through `webhook::handle`, on both backends, with GitHub-shaped payloads.

use ghsync_shared::config::WebhookSecrets;
use ghsync_shared::domain::{RemoteState, TaskPatch, TaskStatus, TaskWithLink};
use ghsync_shared::store::Table;
use ghsync_shared::time::Timestamp;
use ghsync_shared::webhook::{Delivery, Handled, IssueResult, WebhookConfig, WebhookError, handle, sign};
use ghsync_shared::{ApplyOutcome, Store, StoreError};
use serde_json::{Value, json};
use testkit::fixtures::{issue, issues_event, ping_event, pull_request_event, pull_request_issue};
use testkit::{both_backends, row_counts};
use uuid::Uuid;

const SECRET: &str = "webhook-test-secret";
const REPO: &str = "acme/widgets";

both_backends!(
    every_documented_action_gives_the_right_task_state,
    pull_requests_never_become_tasks,
    fifty_concurrent_copies_make_one_task,
    an_older_edit_after_a_newer_close_changes_nothing,
    a_redelivery_a_week_later_changes_nothing,
    invalid_deliveries_are_refused_and_write_nothing,
    unknown_repository_or_disabled_config_is_recorded_and_ignored,
    one_repository_feeds_every_enabled_project,
    a_transfer_into_a_configured_repository_relinks_the_task,
    ping_answers_and_other_events_are_ignored,
    an_issue_url_off_the_host_or_of_another_repository_is_refused,
    a_replayed_snapshot_does_not_revive_a_deleted_task,
    a_replayed_snapshot_of_a_transferred_identity_creates_nothing,
    a_same_second_edit_is_left_to_the_next_reconcile_and_its_replay_reverts_nothing,
    an_unavailable_database_is_refused_as_unavailable,
    a_configs_own_url_takes_only_its_secret_and_touches_only_its_project,
);

fn secrets() -> WebhookSecrets {
    WebhookSecrets::parse(SECRET).unwrap()
}

async fn configured_project(store: &Store, repo: &str) -> Uuid {
    testkit::configured_project(store, repo, vec![0x02, 0, 0]).await
}

async fn deliver(store: &Store, event: &str, id: &str, payload: &Value) -> Result<Handled, WebhookError> {
    testkit::deliver(store, SECRET, event, id, payload).await
}

async fn deliver_issue(store: &Store, action: &str, issue: Value, extra: Value) -> Handled {
    let payload = issues_event(action, issue, REPO, extra);
    deliver(store, "issues", &Uuid::new_v4().to_string(), &payload).await.unwrap()
}

async fn tasks(store: &Store, p: Uuid) -> Vec<TaskWithLink> {
    store.list_tasks(p).await.unwrap()
}

async fn the_task(store: &Store, p: Uuid) -> TaskWithLink {
    let mut all = tasks(store, p).await;
    assert_eq!(all.len(), 1, "one task per issue");
    all.remove(0)
}

async fn every_documented_action_gives_the_right_task_state(store: Store) {
    let p = configured_project(&store, REPO).await;
    let t = |m: u32| format!("2026-01-05T10:{m:02}:00Z");
    let i = |title: &str, state: &str, m: u32| issue(REPO, 7, title, Some("body"), state, &t(m));

    let opened = deliver_issue(&store, "opened", i("Crash on start", "open", 0), json!({})).await;
    assert!(
        matches!(&opened, Handled::Applied { results } if results[0].result == IssueResult::Applied(ApplyOutcome::Created))
    );
    assert_eq!(the_task(&store, p).await.task.status, TaskStatus::Todo);

    let changes = json!({"changes": {"title": {"from": "Crash on start"}}});
    deliver_issue(&store, "edited", i("Crash at start-up", "open", 1), changes).await;
    assert_eq!(the_task(&store, p).await.task.title, "Crash at start-up");

    // Actions that carry the issue unchanged in content change nothing on the task.
    let label = json!({"label": {"id": 1, "name": "bug", "color": "d73a4a", "default": true}});
    let assignee = json!({"assignee": testkit::fixtures::user("hubot", 2)});
    let milestone = json!({"milestone": {"id": 1, "number": 1, "title": "v1", "state": "open"}});
    for (m, (action, extra)) in [
        ("labeled", label.clone()),
        ("unlabeled", label),
        ("assigned", assignee.clone()),
        ("unassigned", assignee),
        ("milestoned", milestone.clone()),
        ("demilestoned", milestone),
        ("locked", json!({})),
        ("unlocked", json!({})),
        ("pinned", json!({})),
        ("unpinned", json!({})),
        ("typed", json!({"type": {"id": 1, "name": "Bug"}})),
        ("sub_issue_added_in_the_future", json!({})),
    ]
    .into_iter()
    .enumerate()
    {
        let before = the_task(&store, p).await;
        let handled =
            deliver_issue(&store, action, i("Crash at start-up", "open", 2 + m as u32), extra).await;
        assert!(matches!(handled, Handled::Applied { .. }), "{action}: {handled:?}");
        assert_eq!(the_task(&store, p).await.task, before.task, "{action} changes nothing on the task");
    }

    deliver_issue(&store, "closed", i("Crash at start-up", "completed", 20), json!({})).await;
    assert_eq!(the_task(&store, p).await.task.status, TaskStatus::Done);
    deliver_issue(&store, "reopened", i("Crash at start-up", "reopened", 21), json!({})).await;
    assert_eq!(the_task(&store, p).await.task.status, TaskStatus::Todo);
    deliver_issue(&store, "closed", i("Crash at start-up", "not_planned", 22), json!({})).await;
    assert_eq!(the_task(&store, p).await.task.status, TaskStatus::Cancelled);

    let deleted =
        deliver_issue(&store, "deleted", i("Crash at start-up", "not_planned", 23), json!({})).await;
    assert!(matches!(&deleted, Handled::Applied { results } if results[0].result == IssueResult::MarkedGone));
    let task = the_task(&store, p).await;
    assert_eq!(task.task.title, "Crash at start-up", "the task keeps its content");
    assert_eq!(task.github.unwrap().remote_state, RemoteState::Deleted);

    // Transferred to a repository this project does not follow: treated as deleted.
    deliver_issue(&store, "opened", issue(REPO, 8, "Move me", None, "open", &t(30)), json!({})).await;
    let moved = json!({"changes": {
        "new_issue": issue("acme/elsewhere", 1, "Move me", None, "open", &t(31)),
        "new_repository": testkit::fixtures::repository("acme/elsewhere"),
    }});
    let handled =
        deliver_issue(&store, "transferred", issue(REPO, 8, "Move me", None, "open", &t(31)), moved).await;
    assert!(matches!(&handled, Handled::Applied { results } if results[0].result == IssueResult::MarkedGone));
    let moved_task = tasks(&store, p).await.into_iter().find(|t| t.task.title == "Move me").unwrap();
    assert_eq!(moved_task.github.unwrap().remote_state, RemoteState::Transferred);
}

async fn pull_requests_never_become_tasks(store: Store) {
    let p = configured_project(&store, REPO).await;
    let as_issue =
        issues_event("opened", pull_request_issue(REPO, 9, "A PR", "2026-01-05T10:00:00Z"), REPO, json!({}));
    let handled = deliver(&store, "issues", "d-pr-1", &as_issue).await.unwrap();
    assert_eq!(handled, Handled::Ignored { reason: "pull_request" });
    assert_eq!(handled.status(), 202);
    let handled = deliver(&store, "pull_request", "d-pr-2", &pull_request_event(REPO, 9)).await.unwrap();
    assert_eq!(handled.status(), 202);
    assert!(tasks(&store, p).await.is_empty());
    assert_eq!(store.delivery_outcome("d-pr-1").await.unwrap().as_deref(), Some("pull_request"));
}

async fn fifty_concurrent_copies_make_one_task(store: Store) {
    let p = configured_project(&store, REPO).await;
    let payload =
        issues_event("opened", issue(REPO, 1, "Once", None, "open", "2026-01-05T10:00:00Z"), REPO, json!({}));
    let copies = (0..50).map(|_| {
        let (store, payload) = (store.clone(), payload.clone());
        tokio::spawn(async move { deliver(&store, "issues", "same-delivery-id", &payload).await.unwrap() })
    });
    let results: Vec<Handled> =
        futures::future::join_all(copies).await.into_iter().map(Result::unwrap).collect();
    let applied = results.iter().filter(|h| matches!(h, Handled::Applied { .. })).count();
    let duplicates = results.iter().filter(|h| **h == Handled::Duplicate).count();
    assert_eq!((applied, duplicates), (1, 49));
    assert!(results.iter().all(|h| h.status() == 200));
    assert_eq!(tasks(&store, p).await.len(), 1);
    assert_eq!(store.count_rows(Table::Metadata).await.unwrap(), 1);
    assert_eq!(store.count_rows(Table::Deliveries).await.unwrap(), 1);
}

async fn an_older_edit_after_a_newer_close_changes_nothing(store: Store) {
    let p = configured_project(&store, REPO).await;
    deliver_issue(&store, "opened", issue(REPO, 3, "v1", None, "open", "2026-01-05T10:00:00Z"), json!({}))
        .await;
    deliver_issue(
        &store,
        "closed",
        issue(REPO, 3, "v3", None, "completed", "2026-01-05T10:02:00Z"),
        json!({}),
    )
    .await;
    let after_close = the_task(&store, p).await;

    let late = deliver_issue(
        &store,
        "edited",
        issue(REPO, 3, "v2", None, "open", "2026-01-05T10:01:00Z"),
        json!({}),
    )
    .await;

    assert!(
        matches!(&late, Handled::Applied { results } if results[0].result == IssueResult::Applied(ApplyOutcome::Stale))
    );
    assert_eq!(the_task(&store, p).await, after_close);
    assert_eq!(after_close.task.title, "v3");
    assert_eq!(after_close.task.status, TaskStatus::Done);
}

async fn a_redelivery_a_week_later_changes_nothing(store: Store) {
    let p = configured_project(&store, REPO).await;
    let payload =
        issues_event("edited", issue(REPO, 4, "Old", None, "open", "2026-01-05T10:00:00Z"), REPO, json!({}));
    deliver(&store, "issues", "d-week", &payload).await.unwrap();
    let id = the_task(&store, p).await.task.id;
    // Meanwhile the issue moved on and a person edited the task.
    deliver_issue(&store, "edited", issue(REPO, 4, "New", None, "open", "2026-01-06T10:00:00Z"), json!({}))
        .await;
    store
        .update_task(
            id,
            &TaskPatch {
                description: ghsync_shared::domain::Nullable::Set("local notes".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let before = the_task(&store, p).await;
    let counts = row_counts(&store).await;

    // Seven days later: still remembered.
    let week_ago = Timestamp::now().minus(chrono::Duration::days(7));
    sqlx::query("UPDATE webhook_deliveries SET received_at = $1")
        .bind(week_ago.to_sql())
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(store.prune_deliveries(Timestamp::now()).await.unwrap(), 0, "kept for at least 7 days");
    assert_eq!(deliver(&store, "issues", "d-week", &payload).await.unwrap(), Handled::Duplicate);
    assert_eq!(the_task(&store, p).await, before);
    assert_eq!(row_counts(&store).await, counts);

    // Once pruned, a redelivery is applied again, and the sync rules still keep it stale.
    let long_ago = Timestamp::now().minus(chrono::Duration::days(9));
    sqlx::query("UPDATE webhook_deliveries SET received_at = $1")
        .bind(long_ago.to_sql())
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(store.prune_deliveries(Timestamp::now()).await.unwrap(), 2);
    deliver(&store, "issues", "d-week", &payload).await.unwrap();
    assert_eq!(the_task(&store, p).await, before);
}

async fn invalid_deliveries_are_refused_and_write_nothing(store: Store) {
    configured_project(&store, REPO).await;
    let before = row_counts(&store).await;
    let body = serde_json::to_vec(&issues_event(
        "opened",
        issue(REPO, 5, "x", None, "open", "2026-01-05T10:00:00Z"),
        REPO,
        json!({}),
    ))
    .unwrap();
    let good = sign(SECRET, &body);
    let sha1 = "sha1=2fd4e1c67a2d28fced849ee1bb76e7391b93eb12";
    let bad_json = b"{\"action\": \"opened\", \"issue\": ".to_vec();
    let bad_json_sig = sign(SECRET, &bad_json);
    let wrong_shape = serde_json::to_vec(&json!({"action": "opened", "issue": {"number": "five"}})).unwrap();
    let wrong_shape_sig = sign(SECRET, &wrong_shape);
    let huge = vec![b' '; ghsync_shared::webhook::MAX_BODY_BYTES + 1];
    let huge_sig = sign(SECRET, &huge);
    struct Case<'a> {
        name: &'a str,
        secrets: Option<WebhookSecrets>,
        delivery: Delivery<'a>,
        check: fn(&WebhookError) -> bool,
    }
    let base = Delivery {
        event: Some("issues"),
        delivery_id: Some("d-bad"),
        signature_256: Some(&good),
        signature_sha1: None,
        body: &body,
        tenant: None,
        app: false,
    };
    let cases = [
        Case {
            name: "no secret configured",
            secrets: None,
            delivery: base,
            check: |e| matches!(e, WebhookError::NoSecret),
        },
        Case {
            name: "missing signature",
            secrets: Some(secrets()),
            delivery: Delivery { signature_256: None, ..base },
            check: |e| matches!(e, WebhookError::MissingSignature),
        },
        Case {
            name: "SHA-1 only",
            secrets: Some(secrets()),
            delivery: Delivery { signature_256: None, signature_sha1: Some(sha1), ..base },
            check: |e| matches!(e, WebhookError::MissingSignature),
        },
        Case {
            name: "malformed signature",
            secrets: Some(secrets()),
            delivery: Delivery { signature_256: Some("sha256=xyz"), ..base },
            check: |e| matches!(e, WebhookError::MalformedSignature),
        },
        Case {
            name: "wrong secret",
            secrets: Some(WebhookSecrets::parse("other").unwrap()),
            delivery: base,
            check: |e| matches!(e, WebhookError::BadSignature),
        },
        Case {
            name: "body changed",
            secrets: Some(secrets()),
            delivery: Delivery { body: &body[1..], ..base },
            check: |e| matches!(e, WebhookError::BadSignature),
        },
        Case {
            name: "missing event",
            secrets: Some(secrets()),
            delivery: Delivery { event: None, ..base },
            check: |e| matches!(e, WebhookError::MissingHeader("X-GitHub-Event")),
        },
        Case {
            name: "missing delivery id",
            secrets: Some(secrets()),
            delivery: Delivery { delivery_id: None, ..base },
            check: |e| matches!(e, WebhookError::MissingHeader("X-GitHub-Delivery")),
        },
        Case {
            name: "invalid JSON",
            secrets: Some(secrets()),
            delivery: Delivery { body: &bad_json, signature_256: Some(&bad_json_sig), ..base },
            check: |e| matches!(e, WebhookError::InvalidPayload(_)),
        },
        Case {
            name: "wrong shape",
            secrets: Some(secrets()),
            delivery: Delivery { body: &wrong_shape, signature_256: Some(&wrong_shape_sig), ..base },
            check: |e| matches!(e, WebhookError::InvalidPayload(_)),
        },
        Case {
            name: "too large",
            secrets: Some(secrets()),
            delivery: Delivery { body: &huge, signature_256: Some(&huge_sig), ..base },
            check: |e| matches!(e, WebhookError::TooLarge),
        },
    ];
    for case in cases {
        let err = handle(&store, &WebhookConfig::github_com(case.secrets), case.delivery).await.unwrap_err();
        assert!((case.check)(&err), "{}: {err:?}", case.name);
        assert_eq!(row_counts(&store).await, before, "{} wrote something", case.name);
    }
}

async fn unknown_repository_or_disabled_config_is_recorded_and_ignored(store: Store) {
    let p = configured_project(&store, REPO).await;
    let elsewhere = issues_event(
        "opened",
        issue("acme/unknown", 1, "x", None, "open", "2026-01-05T10:00:00Z"),
        "acme/unknown",
        json!({}),
    );
    let h = deliver(&store, "issues", "d-unknown", &elsewhere).await.unwrap();
    assert_eq!((h.status(), h), (202, Handled::Ignored { reason: "no_enabled_config" }));
    assert_eq!(store.delivery_outcome("d-unknown").await.unwrap().as_deref(), Some("no_enabled_config"));

    store.set_sync_enabled(p, false).await.unwrap();
    let mine =
        issues_event("opened", issue(REPO, 1, "x", None, "open", "2026-01-05T10:00:00Z"), REPO, json!({}));
    let h = deliver(&store, "issues", "d-disabled", &mine).await.unwrap();
    assert_eq!(h.status(), 202);
    assert!(tasks(&store, p).await.is_empty());
    // GitHub names are case-insensitive.
    store.set_sync_enabled(p, true).await.unwrap();
    let shouted = issues_event(
        "opened",
        issue(REPO, 1, "x", None, "open", "2026-01-05T10:00:00Z"),
        "ACME/Widgets",
        json!({}),
    );
    assert_eq!(deliver(&store, "issues", "d-case", &shouted).await.unwrap().status(), 200);
    assert_eq!(tasks(&store, p).await.len(), 1);
}

async fn one_repository_feeds_every_enabled_project(store: Store) {
    let (a, b, c) = (
        configured_project(&store, REPO).await,
        configured_project(&store, REPO).await,
        configured_project(&store, REPO).await,
    );
    store.set_sync_enabled(c, false).await.unwrap();
    let h = deliver_issue(
        &store,
        "opened",
        issue(REPO, 1, "Shared", None, "open", "2026-01-05T10:00:00Z"),
        json!({}),
    )
    .await;
    let Handled::Applied { results } = h else { panic!("{h:?}") };
    assert_eq!(results.len(), 2);
    assert_eq!(tasks(&store, a).await.len(), 1);
    assert_eq!(tasks(&store, b).await.len(), 1);
    assert!(tasks(&store, c).await.is_empty());
}

async fn a_transfer_into_a_configured_repository_relinks_the_task(store: Store) {
    let follower = configured_project(&store, REPO).await;
    let mover = configured_project(&store, REPO).await;
    deliver_issue(
        &store,
        "opened",
        issue(REPO, 2, "Travels", None, "open", "2026-01-05T10:00:00Z"),
        json!({}),
    )
    .await;
    let before = the_task(&store, mover).await;
    // `mover` now follows the repository the issue moves to; `follower` stays behind.
    testkit::switch_repo(&store, mover, "acme/gadgets").await;
    let new_issue = issue("acme/gadgets", 40, "Travels", Some("moved"), "open", "2026-01-05T10:05:00Z");
    let changes = json!({"changes": {"new_issue": new_issue, "new_repository": testkit::fixtures::repository("acme/gadgets")}});
    let payload = issues_event(
        "transferred",
        issue(REPO, 2, "Travels", None, "open", "2026-01-05T10:05:00Z"),
        REPO,
        changes,
    );

    let h = deliver(&store, "issues", "d-transfer", &payload).await.unwrap();

    let Handled::Applied { results } = h else { panic!("{h:?}") };
    let result_of = |p: Uuid| results.iter().find(|r| r.project_id == p).unwrap().result;
    assert_eq!(result_of(mover), IssueResult::Relinked);
    assert_eq!(result_of(follower), IssueResult::MarkedGone);
    let moved = the_task(&store, mover).await;
    assert_eq!(moved.task.id, before.task.id, "the same task follows the issue");
    assert_eq!(moved.task.github_issue_url.as_deref(), Some("https://github.com/acme/gadgets/issues/40"));
    assert_eq!(moved.task.description.as_deref(), Some("moved"));
    let link = moved.github.unwrap();
    assert_eq!((link.issue_number, link.remote_state), (40, RemoteState::Open));
    assert_eq!(the_task(&store, follower).await.github.unwrap().remote_state, RemoteState::Transferred);
}

async fn ping_answers_and_other_events_are_ignored(store: Store) {
    configured_project(&store, REPO).await;
    let h = deliver(&store, "ping", "d-ping", &ping_event(REPO)).await.unwrap();
    assert_eq!((h.status(), h), (200, Handled::Pong));
    let h = deliver(
        &store,
        "star",
        "d-star",
        &json!({"action": "created", "repository": testkit::fixtures::repository(REPO)}),
    )
    .await
    .unwrap();
    assert_eq!((h.status(), h), (202, Handled::Ignored { reason: "event_ignored" }));
    assert_eq!(store.count_rows(Table::Tasks).await.unwrap(), 0);
    assert_eq!(deliver(&store, "ping", "d-ping", &ping_event(REPO)).await.unwrap(), Handled::Duplicate);
}

async fn an_unavailable_database_is_refused_as_unavailable(store: Store) {
    configured_project(&store, REPO).await;
    store.close().await;
    let payload =
        issues_event("opened", issue(REPO, 1, "x", None, "open", "2026-01-05T10:00:00Z"), REPO, json!({}));
    let err = deliver(&store, "issues", "d-down", &payload).await.unwrap_err();
    assert!(matches!(err, WebhookError::Store(StoreError::Unavailable(_))), "{err:?}");
}

/// The one result of a delivery applied to one project.
fn only_result(h: &Handled) -> IssueResult {
    match h {
        Handled::Applied { results } if results.len() == 1 => results[0].result,
        other => panic!("{other:?}"),
    }
}

/// Delivers a payload under a fresh delivery id, as a replay of a captured body would come.
async fn replay(store: &Store, payload: &Value) -> Handled {
    deliver(store, "issues", &Uuid::new_v4().to_string(), payload).await.unwrap()
}

async fn an_issue_url_off_the_host_or_of_another_repository_is_refused(store: Store) {
    configured_project(&store, REPO).await;
    let before = row_counts(&store).await;
    for url in [
        "https://evil.example/acme/widgets/issues/5",
        "https://github.com/other/widgets/issues/5",
        "https://github.com/acme/gadgets/issues/5",
        "https://github.com/acme/widgets/issues/6",
    ] {
        let mut i = issue(REPO, 5, "Hijack", None, "open", "2026-01-05T10:00:00Z");
        i["html_url"] = json!(url);
        let payload = issues_event("opened", i, REPO, json!({}));
        let err = deliver(&store, "issues", &Uuid::new_v4().to_string(), &payload).await.unwrap_err();
        assert!(matches!(err, WebhookError::InvalidPayload(_)), "{url}: {err:?}");
        assert!(err.to_string().contains("github_issue_url"), "{url}: {err}");
        assert_eq!(row_counts(&store).await, before, "{url} wrote something");
    }
}

async fn a_replayed_snapshot_does_not_revive_a_deleted_task(store: Store) {
    let p = configured_project(&store, REPO).await;
    let opened = issues_event(
        "opened",
        issue(REPO, 4, "Doomed", None, "open", "2026-01-05T10:00:00Z"),
        REPO,
        json!({}),
    );
    let edited = issues_event(
        "edited",
        issue(REPO, 4, "Doomed v2", None, "open", "2026-01-05T10:01:00Z"),
        REPO,
        json!({}),
    );
    replay(&store, &opened).await;
    replay(&store, &edited).await;
    let deleted = issues_event(
        "deleted",
        issue(REPO, 4, "Doomed v2", None, "open", "2026-01-05T10:01:00Z"),
        REPO,
        json!({}),
    );
    assert_eq!(only_result(&replay(&store, &deleted).await), IssueResult::MarkedGone);

    // Captured bodies sent again under new delivery ids: none is newer than the deletion.
    for payload in [&opened, &edited] {
        assert_eq!(only_result(&replay(&store, payload).await), IssueResult::Applied(ApplyOutcome::Stale));
    }
    let task = the_task(&store, p).await;
    assert_eq!(task.github.unwrap().remote_state, RemoteState::Deleted);
    assert_eq!(task.task.title, "Doomed v2", "the task keeps its content");
}

async fn a_replayed_snapshot_of_a_transferred_identity_creates_nothing(store: Store) {
    let p = configured_project(&store, REPO).await;
    let opened = issues_event(
        "opened",
        issue(REPO, 2, "Travels", None, "open", "2026-01-05T10:00:00Z"),
        REPO,
        json!({}),
    );
    replay(&store, &opened).await;
    // The project now follows the repository the issue moves to.
    testkit::switch_repo(&store, p, "acme/gadgets").await;
    let new_issue = issue("acme/gadgets", 40, "Travels", None, "open", "2026-01-05T10:05:00Z");
    let changes = json!({"changes": {"new_issue": new_issue, "new_repository": testkit::fixtures::repository("acme/gadgets")}});
    let transferred = issues_event(
        "transferred",
        issue(REPO, 2, "Travels", None, "open", "2026-01-05T10:05:00Z"),
        REPO,
        changes,
    );
    assert_eq!(only_result(&replay(&store, &transferred).await), IssueResult::Relinked);

    // The old identity's captured body, replayed to a project that follows the old
    // repository again, must not make a second task of the issue.
    testkit::switch_repo(&store, p, REPO).await;
    assert_eq!(only_result(&replay(&store, &opened).await), IssueResult::Applied(ApplyOutcome::Retired));
    let task = the_task(&store, p).await;
    assert_eq!(task.github.unwrap().issue_number, 40);
}

async fn a_same_second_edit_is_left_to_the_next_reconcile_and_its_replay_reverts_nothing(store: Store) {
    let p = configured_project(&store, REPO).await;
    let second = "2026-01-05T10:00:07Z";
    let v1 = issues_event("edited", issue(REPO, 9, "Draft", None, "open", second), REPO, json!({}));
    let v2 = issues_event("edited", issue(REPO, 9, "Final", None, "open", second), REPO, json!({}));
    replay(&store, &v1).await;
    let config = store.get_config(p).await.unwrap();
    let due_before = config.next_sync_at;

    // GitHub's times are whole seconds: v2 cannot be told from an older edit of that second.
    let now = Timestamp::now();
    assert_eq!(only_result(&replay(&store, &v2).await), IssueResult::Applied(ApplyOutcome::Ambiguous));
    assert_eq!(the_task(&store, p).await.task.title, "Draft", "an ambiguous delivery changes nothing");
    let due = store.get_config(p).await.unwrap().next_sync_at.unwrap();
    assert!(
        due <= now.plus(chrono::Duration::seconds(30)),
        "the next reconcile reads it within 30 s: {due:?}"
    );
    assert!(due_before.is_none_or(|b| due <= b));

    // Replays of either body change nothing either.
    for payload in [&v1, &v2] {
        replay(&store, payload).await;
        assert_eq!(the_task(&store, p).await.task.title, "Draft");
    }
}

/// A delivery on config `tenant`'s own URL, signed with `secret`.
async fn deliver_to(
    store: &Store,
    secrets: &WebhookSecrets,
    tenant: Uuid,
    secret: &str,
    payload: &Value,
) -> Result<Handled, WebhookError> {
    let body = serde_json::to_vec(payload).unwrap();
    let signature = sign(secret, &body);
    let id = Uuid::new_v4().to_string();
    let delivery = Delivery {
        event: Some("issues"),
        delivery_id: Some(&id),
        signature_256: Some(&signature),
        signature_sha1: None,
        body: &body,
        tenant: Some(tenant),
        app: false,
    };
    handle(store, &WebhookConfig::github_com(Some(secrets.clone())), delivery).await
}

/// Config `config_id`'s own secret in its current generation under `secrets`.
async fn tenant_secret(store: &Store, secrets: &WebhookSecrets, config_id: Uuid) -> String {
    use secrecy::ExposeSecret;
    let (key, _) = store.tenant_key(config_id).await.unwrap().unwrap();
    secrets.for_config(config_id, &key).current().expose_secret().to_string()
}

async fn a_configs_own_url_takes_only_its_secret_and_touches_only_its_project(store: Store) {
    // A and B follow acme/widgets, C follows acme/gadgets.
    let (a, b, c) = (
        configured_project(&store, REPO).await,
        configured_project(&store, REPO).await,
        configured_project(&store, "acme/gadgets").await,
    );
    let config = |p: Uuid| {
        let store = store.clone();
        async move { store.find_config(p).await.unwrap().unwrap().id }
    };
    let (config_a, config_b, config_c) = (config(a).await, config(b).await, config(c).await);
    // Mid-rotation: the new deployment secret first, the old one still accepted.
    let rotating = WebhookSecrets::parse(&format!("new-secret,{SECRET}")).unwrap();
    let (secret_a, secret_b, secret_c) = (
        tenant_secret(&store, &rotating, config_a).await,
        tenant_secret(&store, &rotating, config_b).await,
        tenant_secret(&store, &rotating, config_c).await,
    );
    assert_ne!(secret_a, secret_b);
    let payload = issues_event(
        "opened",
        issue(REPO, 1, "Hello", None, "open", "2026-01-05T10:00:00Z"),
        REPO,
        json!({}),
    );
    let before = row_counts(&store).await;

    // B's secret, the deployment secret itself, or nothing of A's: refused, nothing written.
    for wrong in [secret_b.as_str(), SECRET, "new-secret"] {
        let refused = deliver_to(&store, &rotating, config_a, wrong, &payload).await;
        assert!(matches!(refused, Err(WebhookError::BadSignature)), "{refused:?}");
    }
    assert_eq!(row_counts(&store).await, before);

    // C's own secret on C's URL, but a body of A's repository: recorded and ignored.
    let ignored = deliver_to(&store, &rotating, config_c, &secret_c, &payload).await.unwrap();
    assert_eq!(ignored, Handled::Ignored { reason: "not_this_config" });
    assert_eq!(ignored.status(), 202);
    for p in [a, b, c] {
        assert!(store.list_tasks(p).await.unwrap().is_empty());
    }

    // A's own secret on A's URL: A alone changes, though B follows the same repository.
    let applied = deliver_to(&store, &rotating, config_a, &secret_a, &payload).await.unwrap();
    assert!(matches!(&applied, Handled::Applied { results } if results.len() == 1), "{applied:?}");
    assert_eq!(store.list_tasks(a).await.unwrap().len(), 1);
    assert!(store.list_tasks(b).await.unwrap().is_empty());
    // The answer GitHub shows the repository's admins names no project.
    let answer = serde_json::to_string(&applied).unwrap();
    for p in [a, b, c] {
        assert!(!answer.contains(&p.to_string()), "{answer}");
    }

    // The old secret's derivation still verifies during the rotation.
    let old = tenant_secret(&store, &secrets(), config_a).await;
    let edited = issues_event(
        "edited",
        issue(REPO, 1, "Hello again", None, "open", "2026-01-05T11:00:00Z"),
        REPO,
        json!({}),
    );
    deliver_to(&store, &rotating, config_a, &old, &edited).await.unwrap();
    assert_eq!(store.list_tasks(a).await.unwrap()[0].task.title, "Hello again");
}
