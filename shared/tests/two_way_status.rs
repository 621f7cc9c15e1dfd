//! Two-way sync of the column and of publishing, on both backends: each finding of the
//! status-and-publishing issue as a test. A close reason reaches GitHub (a reopen, then the
//! close, retried when the close fails, the reopen's echo never moving the task); a column and
//! an unseen state change are one conflict showing both; a move waiting behind a content
//! conflict reaches GitHub after any resolution; a publication whose answer is lost makes one
//! issue and one task (a lagging listing, a slow answer or a slow look-up included); a refused
//! one leaves nothing behind; a GitHub edit made before the link is stored is kept.

use ghsync_shared::Store;
use ghsync_shared::contract::Pushed;
use ghsync_shared::domain::{Content, Merged, Nullable, Resolution, TaskPatch, TaskStatus};
use ghsync_shared::services::ManageError;
use ghsync_shared::services::push::{Published, PushOptions};
use serde_json::json;
use testkit::both_backends;
use testkit::github::{Fault, HoldWhen};
use testkit::two_way::{PAT, REPO, World, status, title};

both_backends!(
    a_close_reason_change_reaches_github_and_a_failed_close_is_retried,
    a_column_and_an_unseen_state_change_are_one_conflict_showing_both,
    a_move_made_before_its_push_is_echoed_stays,
    a_move_waiting_behind_a_content_conflict_reaches_github_after_any_resolution,
    a_publication_whose_answer_is_lost_is_found_by_its_marker_not_posted_again,
    a_publication_whose_answer_is_lost_is_linked_by_its_webhook,
    a_github_edit_made_before_the_link_is_stored_is_kept,
    a_publication_github_refuses_ends_with_nothing_made,
    a_publication_answered_after_its_deadline_is_found_not_posted_again,
    a_look_up_slower_than_the_requests_budget_posts_nothing,
);

async fn a_close_reason_change_reaches_github_and_a_failed_close_is_retried(store: Store) {
    let mut w = World::new(store, 1, true).await;
    assert_eq!(w.edit(1, status(TaskStatus::Done)).await, Pushed::Sent);
    assert_eq!(
        (w.github(1)["state"].clone(), w.github(1)["state_reason"].clone()),
        (json!("closed"), json!("completed"))
    );

    // done → cancelled: GitHub ignores a new reason on a closed issue, so a reopen goes first;
    // the close after it fails.
    w.gh.clear_requests();
    w.gh.pass_next_write();
    w.gh.push_write_fault(Fault::status(502, r#"{"message":"Bad Gateway"}"#));
    let pushed = w.edit(1, status(TaskStatus::Cancelled)).await;
    assert!(matches!(pushed, Pushed::Retrying(_)), "{pushed:?}");
    assert_eq!(w.github(1)["state"], "open", "reopened; the close failed");
    assert_eq!(w.pending_pushes().await, 1, "the entry stays until the close succeeded");
    // The reopen's own echo never moves the task back to todo.
    w.deliver("reopened", 1).await;
    assert_eq!(w.task(1).await.task.status, TaskStatus::Cancelled);
    assert!(w.pending_conflicts().await.is_empty());

    // The worker retries the close.
    w.rec.run_project(w.project).await.unwrap();
    assert_eq!(
        (w.github(1)["state"].clone(), w.github(1)["state_reason"].clone()),
        (json!("closed"), json!("not_planned"))
    );
    assert_eq!(w.pending_pushes().await, 0);

    // And back: cancelled → done, in two writes, both answers checked.
    w.gh.clear_requests();
    assert_eq!(w.edit(1, status(TaskStatus::Done)).await, Pushed::Sent);
    let states: Vec<_> =
        w.patches(1).iter().map(|p| (p["state"].clone(), p["state_reason"].clone())).collect();
    assert_eq!(
        states,
        [(json!("open"), json!("reopened")), (json!("closed"), json!("completed"))],
        "a reopen, then the close with the new reason"
    );
    assert_eq!(w.github(1)["state_reason"], "completed");
    assert_eq!(w.task(1).await.task.status, TaskStatus::Done);
    assert_eq!(w.pending_pushes().await, 0);
}

async fn a_column_and_an_unseen_state_change_are_one_conflict_showing_both(store: Store) {
    let w = World::new(store, 2, true).await;
    // GitHub closes #1 as not planned (its delivery not seen); the task is moved to done.
    w.edit_on_github(1, "Issue 1", "not_planned");
    assert_eq!(w.edit(1, status(TaskStatus::Done)).await, Pushed::Pulled);
    assert_eq!(w.github(1)["state_reason"], "not_planned", "GitHub's close is not overwritten");
    assert_eq!(w.task(1).await.task.status, TaskStatus::Done, "nor the move");

    // #2 is done; moved to cancelled while GitHub reopens it.
    assert_eq!(w.edit(2, status(TaskStatus::Done)).await, Pushed::Sent);
    w.edit_on_github(2, "Issue 2", "reopened");
    assert_eq!(w.edit(2, status(TaskStatus::Cancelled)).await, Pushed::Pulled);
    assert_eq!(w.github(2)["state"], "open");
    assert_eq!(w.task(2).await.task.status, TaskStatus::Cancelled);

    let conflicts = w.pending_conflicts().await;
    assert_eq!(conflicts.len(), 2, "one conflict each");
    let (first, second) = (w.task_id(1).await, w.task_id(2).await);
    let one = conflicts.iter().find(|c| c.task_id == first).unwrap();
    assert_eq!(one.local_content_snapshot.status, Some(TaskStatus::Done));
    assert_eq!(
        (one.remote_content_snapshot.state.as_deref(), one.remote_content_snapshot.state_reason.as_deref()),
        (Some("closed"), Some("not_planned"))
    );
    let two = conflicts.iter().find(|c| c.task_id == second).unwrap();
    assert_eq!(two.local_content_snapshot.status, Some(TaskStatus::Cancelled));
    assert_eq!(two.remote_content_snapshot.state.as_deref(), Some("open"));

    // Keeping the board's column sends it: GitHub's close reason changes (a reopen, a close).
    w.store.resolve_conflict(one.id, &Resolution::KeepLocal).await.unwrap();
    assert_eq!(w.services.push_task(first).await.unwrap(), Pushed::Sent);
    assert_eq!(w.github(1)["state_reason"], "completed");
    // Accepting GitHub's takes its state: the task is open again.
    w.store.resolve_conflict(two.id, &Resolution::AcceptGithub).await.unwrap();
    assert_eq!(w.task(2).await.task.status, TaskStatus::Todo);
    assert_eq!(w.pending_pushes().await, 0);
}

async fn a_move_made_before_its_push_is_echoed_stays(store: Store) {
    let mut w = World::new(store, 1, true).await;
    let task = w.task_id(1).await;
    // The close goes out; its answer is slow.
    let mut held = w.gh.hold_request("PATCH", "/issues/1", HoldWhen::AfterServing);
    w.edit_only(1, status(TaskStatus::Done)).await;
    let services = w.services.clone();
    let push = tokio::spawn(async move { services.push_task(task).await.unwrap() });
    held.arrived().await;
    // The person moves the task back; then GitHub's echo of the close arrives.
    w.edit_only(1, status(TaskStatus::Todo)).await;
    w.deliver("closed", 1).await;
    assert_eq!(w.task(1).await.task.status, TaskStatus::Todo, "the move is not undone");
    held.release();
    assert_eq!(push.await.unwrap(), Pushed::Sent);

    assert_eq!(w.github(1)["state"], "open", "the move went out after the close");
    assert_eq!(w.task(1).await.task.status, TaskStatus::Todo);
    assert!(w.pending_conflicts().await.is_empty());
    assert_eq!(w.pending_pushes().await, 0);
}

async fn a_move_waiting_behind_a_content_conflict_reaches_github_after_any_resolution(store: Store) {
    let merged = Content::new("Merged", Some("body".into())).unwrap();
    let table = [
        (Resolution::AcceptGithub, "Theirs"),
        (Resolution::KeepLocal, "Mine"),
        (Resolution::Merge(Merged { content: merged, status: None, milestone_named: false }), "Merged"),
    ];
    for (resolution, title_after) in table {
        let w = World::new(store.clone(), 1, true).await;
        let task = w.task_id(1).await;
        w.edit_on_github(1, "Theirs", "open");
        assert_eq!(w.edit(1, title("Mine")).await, Pushed::Pulled);
        let conflict = w.pending_conflicts().await.pop().expect("a content conflict");
        // A move while the conflict waits.
        assert_eq!(w.edit(1, status(TaskStatus::Done)).await, Pushed::Held);

        w.store.resolve_conflict(conflict.id, &resolution).await.unwrap();
        assert_eq!(w.services.push_task(task).await.unwrap(), Pushed::Sent, "{resolution:?}");

        let gh = w.github(1);
        assert_eq!(
            (gh["title"].as_str(), gh["state"].as_str()),
            (Some(title_after), Some("closed")),
            "{resolution:?}"
        );
        let t = w.task(1).await.task;
        assert_eq!((t.title.as_str(), t.status), (title_after, TaskStatus::Done), "{resolution:?}");
        assert_eq!(w.pending_pushes().await, 0);
    }
}

async fn a_publication_whose_answer_is_lost_is_found_by_its_marker_not_posted_again(store: Store) {
    let w = World::new(store, 1, true).await;
    let content = Content::new("Ship it", Some("today".into())).unwrap();
    let task = w.store.create_task(w.project, &content, TaskStatus::Todo).await.unwrap();
    w.gh.lose_write_answers(1);

    let pending = w.services.publish_task(task.id).await.unwrap();
    assert!(matches!(pending, Published::Pending(_)), "{pending:?}");
    let created = w.github(2);
    assert!(created["body"].as_str().unwrap().ends_with(&format!("<!-- ghsync:task:{} -->", task.id)));

    // Finding: GitHub's listing may lag behind the post (a replica that has not seen the issue
    // yet). Asked again at once, nothing is looked up or posted: the look-up waits for the
    // entry's retry time.
    w.gh.lag_listings(true);
    w.gh.clear_requests();
    let refused = w.services.publish_task(task.id).await.unwrap_err();
    assert!(refused.to_string().contains("did not come"), "{refused}");
    assert!(w.gh.requests().is_empty(), "{:?}", w.gh.requests());

    // By its retry time the listing has caught up: the issue is looked for before anything is
    // posted.
    w.gh.lag_listings(false);
    w.make_due(task.id).await;
    w.gh.clear_requests();
    let Published::Linked(linked) = w.services.publish_task(task.id).await.unwrap() else { panic!("linked") };
    assert!(linked.github_issue_url.unwrap().ends_with("/issues/2"));
    let requests = w.gh.requests();
    assert!(!requests.iter().any(|r| r.method == "POST"), "{requests:?}");
    assert!(requests.iter().any(|r| r.path == "/user"));
    assert!(requests.iter().any(|r| r.query.contains("creator=octocat") && r.query.contains("sort=created")));

    assert!(w.gh.issue(REPO, 3).is_none(), "one issue");
    assert_eq!(w.store.list_tasks(w.project).await.unwrap().len(), 2, "one task per issue");
    assert_eq!(w.task(2).await.task.id, task.id);
    assert_eq!(w.pending_pushes().await, 0);

    // Every later body write keeps the marker; the board never shows it.
    let patch = TaskPatch { description: Nullable::Set("tomorrow".into()), ..Default::default() };
    assert_eq!(w.edit(2, patch).await, Pushed::Sent);
    let marker = format!("<!-- ghsync:task:{} -->", task.id);
    assert_eq!(w.github(2)["body"].as_str(), Some(format!("tomorrow\n\n{marker}").as_str()));
    assert_eq!(w.task(2).await.task.description.as_deref(), Some("tomorrow"));
}

async fn a_publication_whose_answer_is_lost_is_linked_by_its_webhook(store: Store) {
    let mut w = World::new(store, 1, true).await;
    let content = Content::new("Ship it", None).unwrap();
    let task = w.store.create_task(w.project, &content, TaskStatus::Todo).await.unwrap();
    w.gh.lose_write_answers(1);
    assert!(matches!(w.services.publish_task(task.id).await.unwrap(), Published::Pending(_)));

    // The new issue's webhook names the task in its marker: it is linked, not made a task.
    w.deliver("opened", 2).await;
    assert_eq!(w.task(2).await.task.id, task.id);
    assert_eq!(w.store.list_tasks(w.project).await.unwrap().len(), 2);
    // The worker then finds nothing more to do: no second issue.
    w.gh.clear_requests();
    w.rec.run_project(w.project).await.unwrap();
    assert!(!w.gh.requests().iter().any(|r| r.method == "POST"));
    assert!(w.gh.issue(REPO, 3).is_none());
    assert_eq!(w.pending_pushes().await, 0);
}

async fn a_github_edit_made_before_the_link_is_stored_is_kept(store: Store) {
    for marked in [true, false] {
        let mut w = World::new(store.clone(), 1, true).await;
        let content = Content::new("Draft", Some("mine".into())).unwrap();
        let task = w.store.create_task(w.project, &content, TaskStatus::Todo).await.unwrap();
        // GitHub opens the issue; its answer is slow; meanwhile someone edits it and that
        // delivery arrives (keeping ghsync's marker, or not).
        let mut held = w.gh.hold_request("POST", "/issues", HoldWhen::AfterServing);
        let services = w.services.clone();
        let publish = tokio::spawn(async move { services.publish_task(task.id).await.unwrap() });
        held.arrived().await;
        let marker = format!("\n\n<!-- ghsync:task:{} -->", task.id);
        let body = if marked { format!("their words{marker}") } else { "their words".to_string() };
        w.edit_body_on_github(2, &body);
        w.deliver("edited", 2).await;
        held.release();
        assert!(matches!(publish.await.unwrap(), Published::Linked(_)), "marked: {marked}");

        let tasks = w.store.list_tasks(w.project).await.unwrap();
        assert_eq!(tasks.len(), 2, "marked: {marked}: one task per issue");
        let t = w.task(2).await.task;
        assert_eq!(t.id, task.id, "marked: {marked}");
        assert_eq!(t.description.as_deref(), Some("their words"), "marked: {marked}: their edit is kept");
        assert!(w.pending_conflicts().await.is_empty());
    }
}

async fn a_publication_github_refuses_ends_with_nothing_made(store: Store) {
    let w = World::new(store, 1, true).await;
    let content = Content::new("Ship it", None).unwrap();
    let task = w.store.create_task(w.project, &content, TaskStatus::Todo).await.unwrap();
    w.gh.set_read_only(PAT);

    let refused = w.services.publish_task(task.id).await.unwrap_err();

    assert!(matches!(refused, ManageError::GitHubRefused(_)), "{refused:?}");
    assert!(w.gh.issue(REPO, 2).is_none(), "nothing was made");
    assert_eq!(w.pending_pushes().await, 0, "the publication ended");
    assert!(w.store.get_metadata(task.id).await.unwrap().is_none());
    // Once the token may write, the person asks again and it is published.
    w.gh.set_writable(PAT);
    let Published::Linked(linked) = w.services.publish_task(task.id).await.unwrap() else { panic!("linked") };
    assert!(linked.github_issue_url.unwrap().ends_with("/issues/2"));
}

async fn a_publication_answered_after_its_deadline_is_found_not_posted_again(store: Store) {
    let mut w = World::new(store, 1, true).await;
    let content = Content::new("Ship it", None).unwrap();
    let task = w.store.create_task(w.project, &content, TaskStatus::Todo).await.unwrap();
    // GitHub opens the issue; its answer comes after the push's deadline.
    w.services.push_options.deadline = std::time::Duration::from_millis(300);
    let held = w.gh.hold_request("POST", "/issues", HoldWhen::AfterServing);

    let pending = w.services.publish_task(task.id).await.unwrap();

    assert!(matches!(pending, Published::Pending(_)), "{pending:?}");
    assert!(w.gh.issue(REPO, 2).is_some(), "GitHub made it");
    assert!(w.entry(task.id, "in_flight").await.is_some(), "what was posted is recorded");
    held.release();
    // At its retry time it is looked for, and linked; nothing is posted again.
    w.services.push_options = PushOptions::default();
    w.make_due(task.id).await;
    w.gh.clear_requests();
    assert!(matches!(w.services.publish_task(task.id).await.unwrap(), Published::Linked(_)));
    assert!(!w.gh.requests().iter().any(|r| r.method == "POST"), "{:?}", w.gh.requests());
    assert!(w.gh.issue(REPO, 3).is_none(), "one issue");
    assert_eq!(w.task(2).await.task.id, task.id);
}

async fn a_look_up_slower_than_the_requests_budget_posts_nothing(store: Store) {
    let mut w = World::new(store, 1, true).await;
    let content = Content::new("Ship it", None).unwrap();
    let task = w.store.create_task(w.project, &content, TaskStatus::Todo).await.unwrap();
    w.gh.lose_write_answers(1);
    assert!(matches!(w.services.publish_task(task.id).await.unwrap(), Published::Pending(_)));
    // Asked again through the API at its retry time: the listing is answered slowly, past the
    // request's budget for its read.
    w.make_due(task.id).await;
    w.services.push_options = PushOptions {
        read_budget: Some(std::time::Duration::from_millis(200)),
        deadline: std::time::Duration::from_millis(400),
        ..PushOptions::api()
    };
    w.gh.dribble_next_read(std::time::Duration::from_secs(2), 20);
    w.gh.clear_requests();

    let pending = w.services.publish_task(task.id).await.unwrap();

    assert!(matches!(pending, Published::Pending(_)), "{pending:?}");
    assert!(!w.gh.requests().iter().any(|r| r.method == "POST"), "nothing is posted");
    assert!(w.entry(task.id, "in_flight").await.is_some(), "the post it looks for stays recorded");
    // Handed over, it is due at once: with the worker's pacing it is found by its marker.
    w.services.push_options = PushOptions::default();
    w.gh.clear_requests();
    assert!(matches!(w.services.publish_task(task.id).await.unwrap(), Published::Linked(_)));
    assert!(!w.gh.requests().iter().any(|r| r.method == "POST"));
    assert!(w.gh.issue(REPO, 3).is_none(), "one issue");
}
