//! Two-way sync against the GitHub-speaking test server, on both backends: local edits reach
//! GitHub (one read, one write), their echo changes nothing, a GitHub change nobody has seen
//! is never overwritten, resolutions converge, status moves map to issue states (a close
//! reason in two writes), refusals wait for their fix, a one-way config never writes, and
//! tasks are published as new issues.

use ghsync_shared::Store;
use ghsync_shared::contract::Pushed;
use ghsync_shared::domain::{Content, Resolution, TaskOrder, TaskStatus};
use ghsync_shared::services::ManageError;
use ghsync_shared::services::push::Published;
use ghsync_shared::store::{PushClaim, StoreError, TaskFilter};
use serde_json::{Value, json};
use testkit::both_backends;
use testkit::fixtures::issue;
use testkit::github::Fault;
use testkit::two_way::{REPO, World, status, title};

async fn world(store: Store, issues: i64, two_way: bool) -> World {
    World::new(store, issues, two_way).await
}

both_backends!(
    a_local_edit_reaches_github_and_its_echo_changes_nothing,
    an_edit_made_while_github_is_unreachable_goes_out_with_the_next_reconcile,
    a_github_change_nobody_saw_is_never_overwritten_and_keep_local_converges,
    status_moves_map_to_issue_states_and_back_without_a_loop,
    a_one_way_config_never_writes_to_github,
    refusals_are_recorded_on_the_link,
    a_later_edit_replaces_a_pending_one,
    publishing_a_task_opens_an_issue_and_links_it,
    labels_assignees_and_milestone_are_imported_and_filter_the_board,
    a_published_issue_seen_before_its_link_leaves_one_task,
);

async fn a_local_edit_reaches_github_and_its_echo_changes_nothing(store: Store) {
    let mut w = world(store, 2, true).await;
    assert_eq!(w.edit(1, title("Mine now")).await, Pushed::Sent);
    assert_eq!(w.github(1)["title"], "Mine now");
    assert_eq!(w.methods(), ["GET", "PATCH"], "one read and one write per local edit");
    assert_eq!(w.store.pending_pushes(w.project).await.unwrap(), 0);

    let before = w.task(1).await;
    w.gh.clear_requests();
    w.deliver("edited", 1).await;
    assert_eq!(w.task(1).await, before, "the echo changes nothing");
    assert_eq!(w.pending_conflicts().await.len(), 0);
    let report = w.rec.run_project(w.project).await.unwrap();
    let history = report.history.unwrap();
    assert_eq!((history.tasks_updated, history.conflicts_detected), (0, 0));
    assert!(w.gh.writes().is_empty(), "no second push");
    assert_eq!(w.task(1).await, before);
}

async fn an_edit_made_while_github_is_unreachable_goes_out_with_the_next_reconcile(store: Store) {
    let w = world(store, 1, true).await;
    w.gh.push_fault(Fault::status(503, r#"{"message":"Service Unavailable"}"#));
    let pushed = w.edit(1, title("Offline edit")).await;
    assert!(matches!(pushed, Pushed::Retrying(_)), "{pushed:?}");
    assert_eq!(w.github(1)["title"], "Issue 1");
    assert_eq!(w.store.pending_pushes(w.project).await.unwrap(), 1, "kept in the outbox");
    assert!(w.task(1).await.github.unwrap().push_pending);

    let report = w.rec.run_project(w.project).await.unwrap();
    assert_eq!(report.pushes.as_ref().map(|p| p.sent), Some(1), "{report:?}");
    assert_eq!(w.github(1)["title"], "Offline edit");
    assert_eq!(w.store.pending_pushes(w.project).await.unwrap(), 0);
    assert!(!w.task(1).await.github.unwrap().push_pending);
}

async fn a_github_change_nobody_saw_is_never_overwritten_and_keep_local_converges(store: Store) {
    let mut w = world(store, 1, true).await;
    w.edit_on_github(1, "Theirs", "open");
    assert_eq!(w.edit(1, title("Mine")).await, Pushed::Pulled);
    assert_eq!(w.github(1)["title"], "Theirs", "GitHub's text is untouched");
    assert!(w.gh.writes().is_empty());
    let conflicts = w.pending_conflicts().await;
    assert_eq!(conflicts.len(), 1, "exactly one pending conflict");
    assert_eq!(w.task(1).await.task.title, "Mine");

    w.store.resolve_conflict(conflicts[0].id, &Resolution::KeepLocal).await.unwrap();
    assert_eq!(w.services.push_task(conflicts[0].task_id).await.unwrap(), Pushed::Sent);
    assert_eq!(w.github(1)["title"], "Mine", "keep local reaches GitHub");

    // The next GitHub edit fast-forwards the task: no new conflict.
    w.edit_on_github(1, "Theirs again", "open");
    w.deliver("edited", 1).await;
    assert_eq!(w.task(1).await.task.title, "Theirs again");
    assert_eq!(w.pending_conflicts().await.len(), 0);
}

async fn status_moves_map_to_issue_states_and_back_without_a_loop(store: Store) {
    let mut w = world(store, 1, true).await;
    // (move, GitHub state and reason after it, writes expected)
    let table = [
        (TaskStatus::InProgress, "open", Value::Null, 0), // between open columns
        (TaskStatus::Done, "closed", json!("completed"), 1),
        // another close reason: a reopen, then the close (GitHub ignores the reason alone)
        (TaskStatus::Cancelled, "closed", json!("not_planned"), 2),
        (TaskStatus::Done, "closed", json!("completed"), 2),
        (TaskStatus::InReview, "open", json!("reopened"), 1), // an open column reopens
        (TaskStatus::Todo, "open", json!("reopened"), 0),
    ];
    for (to, state, reason, writes) in table {
        w.gh.clear_requests();
        w.edit(1, status(to)).await;
        let gh = w.github(1);
        assert_eq!((gh["state"].as_str().unwrap(), &gh["state_reason"]), (state, &reason), "{to}");
        assert_eq!(w.gh.writes().len(), writes, "{to}");
        // The echo and the next poll leave the task where it is and write nothing.
        w.gh.clear_requests();
        w.deliver("edited", 1).await;
        w.rec.run_project(w.project).await.unwrap();
        assert_eq!(w.task(1).await.task.status, to, "{to}: no loop back");
        assert!(w.gh.writes().is_empty(), "{to}: no second push");
    }
}

async fn a_one_way_config_never_writes_to_github(store: Store) {
    let mut w = world(store, 2, false).await;
    w.edit(1, title("Local only")).await;
    w.edit(2, status(TaskStatus::Done)).await;
    w.edit_on_github(1, "Remote", "open");
    w.deliver("edited", 1).await;
    let conflict = w.pending_conflicts().await;
    w.store.resolve_conflict(conflict[0].id, &Resolution::KeepLocal).await.unwrap();
    w.services.push_task(conflict[0].task_id).await.unwrap();
    w.rec.run_project(w.project).await.unwrap();
    assert_eq!(w.store.pending_pushes(w.project).await.unwrap(), 0, "nothing is queued");
    let requests = w.gh.requests();
    assert!(!requests.is_empty(), "the poll reached the stand-in");
    assert!(w.gh.writes().is_empty(), "{:?}", w.gh.writes());
}

async fn refusals_are_recorded_on_the_link(store: Store) {
    let w = world(store, 1, true).await;
    // 422, with GitHub's message.
    w.gh.push_write_fault(Fault::status(422, r#"{"message":"Validation Failed"}"#));
    let pushed = w.edit(1, title("Invalid")).await;
    let Pushed::Refused(message) = pushed else { panic!("{pushed:?}") };
    assert!(message.contains("422") && message.contains("Validation Failed"), "{message}");
    let link = w.task(1).await.github.unwrap();
    assert_eq!(link.push_error.as_deref(), Some(message.as_str()));
    assert!(link.push_pending, "a refused edit waits for its fix");
    // A later edit (it may fix what GitHub refused) goes again, and clears the refusal.
    assert_eq!(w.edit(1, title("Valid")).await, Pushed::Sent);
    assert_eq!(w.task(1).await.github.unwrap().push_error, None);
    assert_eq!(w.pending_pushes().await, 0);
}

async fn a_later_edit_replaces_a_pending_one(store: Store) {
    let w = world(store, 1, true).await;
    w.gh.push_fault(Fault::status(502, r#"{"message":"Bad Gateway"}"#));
    assert!(matches!(w.edit(1, title("First")).await, Pushed::Retrying(_)));
    w.gh.clear_requests();
    // The newer edit is due at once, backoff or not, and only the newest text goes out.
    assert_eq!(w.edit(1, title("Second")).await, Pushed::Sent);
    assert_eq!(w.github(1)["title"], "Second");
    assert_eq!(w.gh.writes().len(), 1);
    assert_eq!(w.store.pending_pushes(w.project).await.unwrap(), 0);
}

async fn publishing_a_task_opens_an_issue_and_links_it(store: Store) {
    let mut w = world(store, 2, true).await;
    let content = Content::new("Write the docs", Some("All of them".into())).unwrap();
    let task = w.store.create_task(w.project, &content, TaskStatus::Done).await.unwrap();
    let Published::Linked(published) = w.services.publish_task(task.id).await.unwrap() else {
        panic!("pending")
    };
    let url = published.github_issue_url.clone().expect("linked");
    assert!(url.ends_with("/acme/widgets/issues/3"), "{url}");
    let gh = w.github(3);
    let marker = format!("<!-- ghsync:task:{} -->", task.id);
    let body = format!("All of them\n\n{marker}");
    assert_eq!((gh["title"].as_str(), gh["body"].as_str()), (Some("Write the docs"), Some(body.as_str())));
    assert_eq!(w.task(3).await.task.description.as_deref(), Some("All of them"), "the marker is no content");
    assert_eq!((gh["state"].as_str(), gh["state_reason"].as_str()), (Some("closed"), Some("completed")));
    assert_eq!(w.methods(), ["POST", "GET", "PATCH"], "open, then close as the column says");

    // Its webhooks create no second task.
    w.deliver("opened", 3).await;
    w.deliver("closed", 3).await;
    let tasks = w.store.list_tasks(w.project).await.unwrap();
    assert_eq!(tasks.len(), 3);
    assert_eq!(w.task(3).await.task.id, task.id);
    assert_eq!(w.pending_conflicts().await.len(), 0);

    // Publishing again, or in a one-way project, is refused.
    let again = w.services.publish_task(task.id).await.unwrap_err();
    assert!(matches!(again, ManageError::Store(StoreError::StateConflict(_))), "{again:?}");
    testkit::set_two_way(&w.store, w.project, false).await;
    let other = w.store.create_task(w.project, &content, TaskStatus::Todo).await.unwrap();
    let one_way = w.services.publish_task(other.id).await.unwrap_err();
    assert!(matches!(one_way, ManageError::Store(StoreError::StateConflict(_))), "{one_way:?}");
    assert!(w.gh.issue(REPO, 4).is_none());
}

async fn labels_assignees_and_milestone_are_imported_and_filter_the_board(store: Store) {
    let w = world(store, 2, false).await;
    let mut labelled = issue(REPO, 2, "Labelled", None, "open", &w.gh.next_write_time(REPO));
    labelled["labels"] = json!([
        {"id": 1, "name": "Needs Design", "color": "0e8a16", "default": false},
        {"id": 2, "name": "p1", "color": "b60205", "default": false}
    ]);
    labelled["assignees"] =
        json!([testkit::fixtures::user("hubot", 2), testkit::fixtures::user("octocat", 1)]);
    labelled["milestone"] = json!({"id": 5, "number": 1, "title": "v1.0", "state": "open"});
    w.gh.upsert(REPO, labelled);
    w.rec.run_project(w.project).await.unwrap();

    let link = w.task(2).await.github.unwrap();
    let names: Vec<(&str, &str)> =
        link.extras.labels.iter().map(|l| (l.name.as_str(), l.color.as_str())).collect();
    assert_eq!(names, [("Needs Design", "0e8a16"), ("p1", "b60205")]);
    assert_eq!(link.extras.assignees, ["hubot", "octocat"]);
    assert_eq!(link.extras.milestone.as_deref(), Some("v1.0"));
    // Issue 1 keeps the fixture's "bug" label.
    assert_eq!(w.task(1).await.github.unwrap().extras.labels[0].name, "bug");

    let filtered = |label: &str| {
        let filter = TaskFilter { label: Some(label.into()), ..Default::default() };
        let store = w.store.clone();
        let project = w.project;
        async move {
            let page = ghsync_shared::paging::PageRequest::everything();
            let tasks = store.list_tasks_page(project, &filter, TaskOrder::Created, &page).await.unwrap();
            tasks.into_iter().map(|t| t.task.title).collect::<Vec<_>>()
        }
    };
    assert_eq!(filtered("needs design").await, ["Labelled"]);
    assert_eq!(filtered("bug").await, ["Issue 1"]);
    assert!(filtered("needs").await.is_empty(), "a label matches whole");
    assert!(filtered("p%").await.is_empty(), "LIKE wildcards are text");
}

async fn a_published_issue_seen_before_its_link_leaves_one_task(store: Store) {
    // The new issue's webhook (or a poll) is applied between GitHub's answer to the POST and
    // the link: it created a task of its own, which the link replaces.
    let w = world(store, 1, true).await;
    let content = Content::new("Race me", None).unwrap();
    let task = w.store.create_task(w.project, &content, TaskStatus::Todo).await.unwrap();
    let at = w.gh.next_write_time(REPO);
    let new = testkit::issue(2, "Race me", None, "open", &at);
    w.store.apply_issue(w.project, &new).await.unwrap();
    assert_eq!(w.store.list_tasks(w.project).await.unwrap().len(), 3, "the echo made a task");
    let now = ghsync_shared::time::Timestamp::now();
    let PushClaim::Job(job) =
        w.store.claim_publish(task.id, now, chrono::Duration::minutes(2)).await.unwrap()
    else {
        panic!("claimed")
    };
    w.store.link_published(&job, &new).await.unwrap();
    let tasks = w.store.list_tasks(w.project).await.unwrap();
    assert_eq!(tasks.len(), 2, "one task per issue");
    let linked = tasks.iter().find(|t| t.github.as_ref().is_some_and(|g| g.node_id == new.node_id)).unwrap();
    assert_eq!(linked.task.id, task.id, "the published task keeps the link");
    assert_eq!(w.store.pending_pushes(w.project).await.unwrap(), 0);
}
