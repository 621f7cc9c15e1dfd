//! Two-way sync against a GitHub that is slow, lagging or forgetful, on both backends: each
//! finding of the fence-and-outbox issue as a test. A push that outlives its claim changes
//! nothing; a read past the deadline writes nothing and the edit waits; a lagging read keeps
//! the edit; a write whose answer is lost is known as ours; a push the API cannot finish is
//! handed to the worker; retry times are kept; refusals wait for their fix; toggles and
//! repository switches lose nothing; a missing issue follows the gone rule; a delivery from the
//! future is refused; a GitHub edit landing beside our write opens no conflict; and only the
//! fields changed locally are sent.

use std::time::Duration;

use ghsync_shared::Store;
use ghsync_shared::contract::Pushed;
use ghsync_shared::domain::{Parked, RemoteState};
use ghsync_shared::services::push::PushOptions;
use ghsync_shared::store::Backoff;
use ghsync_shared::time::Timestamp;
use ghsync_shared::webhook::WebhookError;
use serde_json::json;
use testkit::both_backends;
use testkit::github::{Fault, HoldWhen, Mutation};
use testkit::two_way::{PAT, REPO, World, title};

both_backends!(
    a_push_that_outlives_its_claim_changes_nothing,
    a_read_dribbled_past_the_deadline_writes_nothing_and_the_edit_waits,
    a_lagging_read_keeps_the_edit,
    a_write_whose_answer_is_lost_is_known_as_ours,
    a_push_the_api_cannot_finish_is_handed_to_the_worker,
    a_write_cut_by_the_deadline_is_recorded_and_never_sent_twice,
    every_writer_of_the_next_run_keeps_the_earliest_retry,
    refusals_wait_for_their_fix,
    turning_two_way_off_and_on_loses_no_edit,
    edits_made_while_one_way_are_offered_when_two_way_is_turned_on,
    a_repository_switch_ends_waiting_edits_with_a_reason_and_a_retry_sends_them,
    a_push_meeting_a_missing_issue_follows_the_gone_rule,
    a_delivery_from_the_future_is_refused_and_a_read_repairs_a_frozen_link,
    a_github_edit_delivered_between_our_write_and_its_record_opens_no_conflict,
    only_the_fields_changed_locally_are_sent,
);

async fn a_push_that_outlives_its_claim_changes_nothing(store: Store) {
    let w = World::new(store, 1, true).await;
    let task = w.task_id(1).await;
    w.edit_only(1, title("L1")).await;
    // Its read is answered slowly: GitHub's issue as it was then, after a long while.
    let mut held = w.gh.hold_request("GET", "/issues/1", HoldWhen::AfterServing);
    let services = w.services.clone();
    let first = tokio::spawn(async move { services.push_task(task).await.unwrap() });
    held.arrived().await;

    // Its read is slower than its claim: the claim runs out, a newer edit is claimed and sent.
    w.expire_claim(task).await;
    w.edit_only(1, title("L3")).await;
    assert_eq!(w.services.push_task(task).await.unwrap(), Pushed::Sent);
    assert_eq!(w.github(1)["title"], "L3");

    held.release();
    assert_eq!(first.await.unwrap(), Pushed::Busy, "the first push lost its claim");
    assert_eq!(w.github(1)["title"], "L3", "the old push wrote nothing");
    assert_eq!(w.patches(1).len(), 1, "one write in all");
    assert_eq!(w.task(1).await.task.title, "L3");
    assert_eq!(w.pending_pushes().await, 0);
    assert!(w.pending_conflicts().await.is_empty());
}

async fn a_read_dribbled_past_the_deadline_writes_nothing_and_the_edit_waits(store: Store) {
    let mut w = World::new(store, 1, true).await;
    let task = w.task_id(1).await;
    w.services.push_options.deadline = Duration::from_millis(300);
    // Each piece well inside the client's read timeout, the whole far past the deadline.
    w.gh.dribble_next_read(Duration::from_secs(3), 30);

    let pushed = w.edit(1, title("Slow")).await;

    assert!(matches!(pushed, Pushed::Retrying(ref m) if m.contains("deadline")), "{pushed:?}");
    assert!(w.gh.writes().is_empty(), "nothing is written after the deadline");
    let link = w.task(1).await.github.unwrap();
    assert!(link.push_pending, "the edit waits");
    let waiting = link.push_waiting.unwrap();
    assert!(waiting.reason.unwrap().contains("deadline"));
    assert!(waiting.next_attempt_at.is_some());
    assert_eq!(w.entry(task, "claim_token").await, None, "its claim was let go");
    assert!(w.next_sync_at().await <= waiting.next_attempt_at.unwrap(), "the worker comes back by then");

    let report = w.rec.run_project(w.project).await.unwrap();
    assert_eq!(report.pushes.unwrap().sent, 1);
    assert_eq!(w.github(1)["title"], "Slow");
    assert_eq!(w.pending_pushes().await, 0);
}

async fn a_lagging_read_keeps_the_edit(store: Store) {
    let mut w = World::new(store, 1, true).await;
    w.edit_on_github(1, "Theirs", "open");
    w.deliver("edited", 1).await;
    assert_eq!(w.task(1).await.task.title, "Theirs", "the board has GitHub's newest");
    // The next read answers the version before it, as a lagging replica does.
    w.gh.lag_reads(REPO, 1, 1);

    let pushed = w.edit(1, title("Mine")).await;

    assert!(matches!(pushed, Pushed::Retrying(ref m) if m.contains("older copy")), "{pushed:?}");
    assert!(w.gh.writes().is_empty(), "nothing is written on a lagging read");
    assert_eq!(w.pending_pushes().await, 1, "the edit waits");
    assert_eq!(w.task(1).await.task.title, "Mine");

    let report = w.rec.run_project(w.project).await.unwrap();
    assert_eq!(report.pushes.unwrap().sent, 1);
    assert_eq!(w.github(1)["title"], "Mine");
    assert_eq!(w.pending_pushes().await, 0);
    assert!(w.pending_conflicts().await.is_empty());
}

async fn a_write_whose_answer_is_lost_is_known_as_ours(store: Store) {
    let mut w = World::new(store, 1, true).await;
    let task = w.task_id(1).await;
    w.gh.lose_write_answers(1);

    let pushed = w.edit(1, title("L1")).await;

    assert!(matches!(pushed, Pushed::Retrying(_)), "{pushed:?}");
    assert_eq!(w.github(1)["title"], "L1", "GitHub took the write; its answer was lost");
    assert!(w.entry(task, "in_flight").await.is_some(), "the write is recorded as in flight");
    // The person edits again; then GitHub's echo of the first write arrives.
    w.edit_only(1, title("L2")).await;
    w.deliver("edited", 1).await;
    assert!(w.pending_conflicts().await.is_empty(), "our own edit is no conflict with itself");
    assert_eq!(w.task(1).await.task.title, "L2");

    let report = w.rec.run_project(w.project).await.unwrap();
    assert_eq!(report.pushes.unwrap().sent, 1);
    assert_eq!(w.github(1)["title"], "L2");
    assert_eq!(w.pending_pushes().await, 0);
    assert!(w.pending_conflicts().await.is_empty());
}

async fn a_push_the_api_cannot_finish_is_handed_to_the_worker(store: Store) {
    let w = World::new(store, 1, true).await;
    let task = w.task_id(1).await;
    w.edit_only(1, title("Later")).await;
    let api = PushOptions {
        read_budget: Some(Duration::from_millis(200)),
        deadline: Duration::from_millis(400),
        ..PushOptions::api()
    };
    w.gh.dribble_next_read(Duration::from_secs(2), 20);

    let pushed = w.services.push_task_with(task, &api, Backoff::Respect, &mut 0).await.unwrap();

    assert_eq!(pushed, Pushed::HandedOver);
    assert!(w.gh.writes().is_empty(), "nothing was written");
    assert_eq!(w.entry(task, "claim_token").await, None, "not left claimed");
    assert!(w.next_sync_at().await <= Timestamp::now(), "the worker is due at once");
    // The worker takes it (the local worker's pass; the reconcile queue in AWS).
    w.rec.run_due(ghsync_shared::time::Deadline::NONE).await.unwrap();
    assert_eq!(w.github(1)["title"], "Later");
    assert_eq!(w.pending_pushes().await, 0);
}

async fn a_write_cut_by_the_deadline_is_recorded_and_never_sent_twice(store: Store) {
    let mut w = World::new(store, 1, true).await;
    let task = w.task_id(1).await;
    w.services.push_options.deadline = Duration::from_millis(300);
    // GitHub makes the change, and its answer comes after the push's deadline.
    let mut held = w.gh.hold_request("PATCH", "/issues/1", HoldWhen::AfterServing);
    w.edit_only(1, title("Cut")).await;
    let services = w.services.clone();
    let push = tokio::spawn(async move { services.push_task(task).await.unwrap() });
    held.arrived().await;
    let pushed = push.await.unwrap();
    held.release();

    assert!(matches!(pushed, Pushed::Retrying(ref m) if m.contains("may have landed")), "{pushed:?}");
    assert_eq!(w.github(1)["title"], "Cut");
    assert!(w.entry(task, "in_flight").await.is_some());
    assert_eq!(w.entry(task, "claim_token").await, None, "the claim was let go");

    // The next attempt reads GitHub holding the write: settled, no second write.
    w.gh.clear_requests();
    w.rec.run_project(w.project).await.unwrap();
    assert!(w.patches(1).is_empty(), "{:?}", w.patches(1));
    assert_eq!(w.pending_pushes().await, 0);
    assert!(w.pending_conflicts().await.is_empty());
}

async fn every_writer_of_the_next_run_keeps_the_earliest_retry(store: Store) {
    let w = World::new(store, 1, true).await;
    let task = w.task_id(1).await;
    // A push that fails asks its config to come back at its retry time.
    w.gh.push_fault(Fault::status(502, r#"{"message":"Bad Gateway"}"#));
    assert!(matches!(w.edit(1, title("Retry me")).await, Pushed::Retrying(_)));
    let retry_at: Timestamp = w.entry(task, "next_attempt_at").await.unwrap().parse().unwrap();
    assert!(w.next_sync_at().await <= retry_at);

    // A run ends whose own push fails again: its next time is the push's, not its interval's.
    w.gh.push_write_fault(Fault::status(502, r#"{"message":"Bad Gateway"}"#));
    let report = w.rec.run_project(w.project).await.unwrap();
    assert_eq!(report.pushes.unwrap().retrying, 1);
    let retry_at: Timestamp = w.entry(task, "next_attempt_at").await.unwrap().parse().unwrap();
    assert!(retry_at > Timestamp::now(), "backing off");
    assert!(w.next_sync_at().await <= retry_at, "the run's end kept the push's time");

    // An edit that finds its entry held by another pusher: its config comes back when that
    // claim runs out (that pusher may have died).
    let until = Timestamp::now().plus(chrono::Duration::seconds(90));
    sqlx::query("UPDATE sync_outbox SET claim_token = 'another', lease_until = $2 WHERE task_id = $1")
        .bind(task.to_string())
        .bind(until.to_sql())
        .execute(w.store.pool())
        .await
        .unwrap();
    sqlx::query("UPDATE github_sync_config SET next_sync_at = $2 WHERE project_id = $1")
        .bind(w.project.to_string())
        .bind(Timestamp::now().plus(chrono::Duration::hours(1)).to_sql())
        .execute(w.store.pool())
        .await
        .unwrap();
    assert_eq!(w.edit(1, title("Busy")).await, Pushed::Busy);
    assert!(w.next_sync_at().await <= until);
}

async fn refusals_wait_for_their_fix(store: Store) {
    let w = World::new(store, 2, true).await;
    let (one, two) = (w.task_id(1).await, w.task_id(2).await);
    w.gh.set_read_only(PAT);

    let pushed = w.edit(1, title("Not yet")).await;

    let Pushed::Refused(message) = pushed else { panic!("{pushed:?}") };
    assert!(message.contains("403") && message.contains("Resource not accessible"), "{message}");
    let link = w.task(1).await.github.unwrap();
    assert_eq!(link.push_error.as_deref(), Some(message.as_str()), "GitHub's reason on the task");
    assert!(link.push_pending, "the edit waits for its fix");
    let waiting = link.push_waiting.unwrap();
    assert_eq!(waiting.parked, Some(Parked::Refused));
    let hourly = Timestamp::now().plus(chrono::Duration::minutes(59));
    assert!(waiting.next_attempt_at.unwrap() > hourly, "a slow retry, hourly");
    // Not sent again while its cause stands: a run that reached GitHub leaves it parked.
    w.gh.clear_requests();
    w.rec.run_project(w.project).await.unwrap();
    assert!(w.gh.writes().is_empty());
    assert_eq!(w.services.push_task(one).await.unwrap(), Pushed::Waiting);

    // The token is fixed and saved again: it goes.
    w.gh.set_writable(PAT);
    w.save_credential().await;
    assert_eq!(w.services.push_task(one).await.unwrap(), Pushed::Sent);
    assert_eq!(w.github(1)["title"], "Not yet");
    assert_eq!(w.task(1).await.github.unwrap().push_error, None, "cleared once GitHub holds it");

    // A person's retry, once the cause is gone.
    w.gh.set_read_only(PAT);
    assert!(matches!(w.edit(2, title("Retry")).await, Pushed::Refused(_)));
    w.gh.set_writable(PAT);
    w.store.retry_push(two).await.unwrap();
    assert_eq!(w.services.push_task(two).await.unwrap(), Pushed::Sent);
    assert_eq!(w.github(2)["title"], "Retry");
    assert_eq!(w.pending_pushes().await, 0);
}

async fn turning_two_way_off_and_on_loses_no_edit(store: Store) {
    let w = World::new(store, 1, true).await;
    let task = w.task_id(1).await;
    w.gh.push_fault(Fault::status(502, r#"{"message":"Bad Gateway"}"#));
    assert!(matches!(w.edit(1, title("Waiting")).await, Pushed::Retrying(_)));

    testkit::set_two_way(&w.store, w.project, false).await;
    let waiting = w.task(1).await.github.unwrap().push_waiting.expect("still there");
    assert_eq!(waiting.parked, Some(Parked::OneWay));
    w.gh.clear_requests();
    w.rec.run_project(w.project).await.unwrap();
    assert_eq!(w.services.push_task(task).await.unwrap(), Pushed::Waiting);
    assert!(w.gh.writes().is_empty(), "nothing goes to GitHub while one-way");

    testkit::set_two_way(&w.store, w.project, true).await;
    assert_eq!(w.services.push_task(task).await.unwrap(), Pushed::Sent);
    assert_eq!(w.github(1)["title"], "Waiting");
    assert_eq!(w.pending_pushes().await, 0);
}

async fn edits_made_while_one_way_are_offered_when_two_way_is_turned_on(store: Store) {
    let w = World::new(store, 3, false).await;
    w.edit_only(1, title("Edited one-way")).await;
    w.edit_only(2, testkit::two_way::status(ghsync_shared::domain::TaskStatus::Done)).await;
    w.edit_only(3, testkit::two_way::status(ghsync_shared::domain::TaskStatus::InProgress)).await;
    assert_eq!(w.pending_pushes().await, 0, "one-way queues nothing");

    testkit::set_two_way(&w.store, w.project, true).await;
    let offer = w.store.offer(w.project).await.unwrap();
    assert_eq!(offer.tasks, 2, "the title and the close; a move between open columns sends nothing");
    assert!(w.gh.writes().is_empty(), "nothing goes before the person accepts");

    let queued = w.store.accept_offer(w.project).await.unwrap();
    assert_eq!(queued.tasks, 2);
    w.services.drain_pushes(w.project, Backoff::Respect, ghsync_shared::time::Deadline::NONE).await.unwrap();
    assert_eq!(w.github(1)["title"], "Edited one-way");
    assert_eq!(w.github(2)["state"], "closed");
    assert_eq!(w.store.offer(w.project).await.unwrap().tasks, 0);
}

async fn a_repository_switch_ends_waiting_edits_with_a_reason_and_a_retry_sends_them(store: Store) {
    let w = World::new(store, 1, true).await;
    let task = w.task_id(1).await;
    w.gh.add_repo("acme/gadgets", PAT);
    w.gh.push_fault(Fault::status(502, r#"{"message":"Bad Gateway"}"#));
    assert!(matches!(w.edit(1, title("Meant for widgets")).await, Pushed::Retrying(_)));

    testkit::switch_repo(&w.store, w.project, "acme/gadgets").await;
    assert_eq!(w.pending_pushes().await, 0, "no edit goes to another repository");
    let link = w.store.get_metadata(task).await.unwrap().unwrap();
    assert!(link.unlinked_at.is_some());
    let reason = w.task(1).await.github.unwrap().push_error.expect("the task says why");
    assert!(reason.contains("acme/widgets to acme/gadgets"), "{reason}");

    // Back to widgets: the import links the task again; the edit is still the task's, and a
    // retry sends it.
    testkit::switch_repo(&w.store, w.project, REPO).await;
    w.rec.run_project(w.project).await.unwrap();
    assert_eq!(w.task(1).await.task.title, "Meant for widgets", "the edit stayed on the board");
    w.store.retry_push(task).await.unwrap();
    assert_eq!(w.services.push_task(task).await.unwrap(), Pushed::Sent);
    assert_eq!(w.github(1)["title"], "Meant for widgets");
    assert_eq!(w.task(1).await.github.unwrap().push_error, None);
}

async fn a_push_meeting_a_missing_issue_follows_the_gone_rule(store: Store) {
    let w = World::new(store, 2, true).await;
    // Deleted (410 on the read): the task keeps its edit and shows the issue as deleted.
    w.gh.mutate(Mutation::Delete { repo: REPO.into(), number: 1 });
    assert_eq!(w.edit(1, title("Kept")).await, Pushed::Gone);
    let gone = w.task(1).await;
    assert_eq!((gone.task.title.as_str(), gone.github.unwrap().remote_state), ("Kept", RemoteState::Deleted));
    assert_eq!(w.pending_pushes().await, 0);

    // Transferred within the repository the project follows (301): the task follows the issue
    // to its new identity, and the edit goes there.
    let at = w.gh.next_write_time(REPO);
    w.gh.mutate(Mutation::Transfer {
        repo: REPO.into(),
        number: 2,
        to_repo: REPO.into(),
        to_number: 7,
        updated_at: at,
    });
    let task = w.task_id(2).await;
    w.store.update_task(task, &title("Follows")).await.unwrap();
    w.services.push_task(task).await.unwrap();
    assert_eq!(w.github(7)["title"], "Follows");
    assert_eq!(w.task(7).await.task.id, task);
    assert_eq!(w.pending_pushes().await, 0);
}

async fn a_delivery_from_the_future_is_refused_and_a_read_repairs_a_frozen_link(store: Store) {
    let mut w = World::new(store, 1, true).await;
    let before = w.task(1).await;
    let mut forged = w.github(1);
    forged["title"] = json!("From 2099");
    forged["updated_at"] = json!("2099-01-01T00:00:00Z");
    let refused = w.deliver_snapshot("edited", forged).await.unwrap_err();
    assert!(matches!(refused, WebhookError::FromTheFuture { .. }), "{refused:?}");
    assert_eq!(w.task(1).await, before, "nothing applied");
    assert_eq!(
        w.store.delivery_outcome(&w.delivery_id(1)).await.unwrap().as_deref(),
        Some("from_the_future"),
        "recorded"
    );

    // A link that took such a time before deliveries from the future were refused: a two-way
    // edit is not dropped as "older", the read replaces the time, and the edit goes out.
    sqlx::query("UPDATE task_github_metadata SET remote_updated_at = '2099-01-01T00:00:00.000Z'")
        .execute(w.store.pool())
        .await
        .unwrap();
    assert_eq!(w.edit(1, title("After the freeze")).await, Pushed::Sent);
    assert_eq!(w.github(1)["title"], "After the freeze");
    let applied = w.task(1).await.github.unwrap().remote_updated_at;
    assert!(applied < Timestamp::now(), "GitHub's real time again: {applied}");
}

async fn a_github_edit_delivered_between_our_write_and_its_record_opens_no_conflict(store: Store) {
    let mut w = World::new(store, 1, true).await;
    let task = w.task_id(1).await;
    let mut held = w.gh.hold_request("PATCH", "/issues/1", HoldWhen::AfterServing);
    w.edit_only(1, title("Ours")).await;
    let services = w.services.clone();
    let push = tokio::spawn(async move { services.push_task(task).await.unwrap() });
    held.arrived().await;
    // GitHub holds our title; someone edits the body; its delivery lands before our record.
    w.edit_body_on_github(1, "their body");
    w.deliver("edited", 1).await;
    assert!(w.pending_conflicts().await.is_empty(), "our write is known as ours");
    held.release();
    assert_eq!(push.await.unwrap(), Pushed::Sent);

    let t = w.task(1).await.task;
    assert_eq!((t.title.as_str(), t.description.as_deref()), ("Ours", Some("their body")));
    assert_eq!(w.github(1)["body"], "their body");
    assert!(w.pending_conflicts().await.is_empty());
    assert_eq!(w.pending_pushes().await, 0);
}

async fn only_the_fields_changed_locally_are_sent(store: Store) {
    let w = World::new(store, 1, true).await;
    let task = w.task_id(1).await;
    // The write waits while someone edits the body on GitHub, after the push read it.
    let mut held = w.gh.hold_request("PATCH", "/issues/1", HoldWhen::BeforeServing);
    w.edit_only(1, title("Title only")).await;
    let services = w.services.clone();
    let push = tokio::spawn(async move { services.push_task(task).await.unwrap() });
    held.arrived().await;
    w.edit_body_on_github(1, "their body");
    held.release();
    assert_eq!(push.await.unwrap(), Pushed::Sent);

    assert_eq!(w.patches(1), [json!({"title": "Title only"})], "the title alone");
    assert_eq!(w.github(1)["body"], "their body", "their body edit stays");
    let t = w.task(1).await.task;
    assert_eq!((t.title.as_str(), t.description.as_deref()), ("Title only", Some("their body")));
    assert!(w.pending_conflicts().await.is_empty());
    assert_eq!(w.pending_pushes().await, 0);
}
