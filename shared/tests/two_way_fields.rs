//! Labels and assignees edited on the board and merged per element both ways (docs/fields.md),
//! on both backends: both sides' changes to a set survive (an addition on each side between a
//! push and its echo, a removal on GitHub beside an addition on the board), a push costs one
//! request for all labels added and one per label removed, echoes change nothing, what GitHub
//! would drop silently is refused before it is sent (or shown when GitHub dropped it), a label
//! new to the repository is created first, and a one-way config refuses the edit.

use ghsync_shared::Store;
use ghsync_shared::contract::Pushed;
use ghsync_shared::domain::{Nullable, Resolution, TaskPatch};
use ghsync_shared::store::StoreError;
use serde_json::{Value, json};
use testkit::both_backends;
use testkit::two_way::{REPO, World};

both_backends!(
    a_label_added_on_each_side_between_a_push_and_its_echo_stays_on_both,
    an_assignee_removed_on_github_beside_one_added_on_the_board_keeps_both_changes,
    one_label_added_is_one_request_and_k_removed_are_k_requests,
    echoes_change_nothing,
    an_unassignable_login_is_refused_naming_it_and_nothing_is_written,
    an_assignee_github_drops_is_a_visible_refusal,
    a_label_new_to_the_repository_is_created_then_added,
    a_label_github_refuses_to_create_is_a_visible_refusal_naming_the_permission,
    one_way_refuses_field_edits,
    a_milestone_follows_the_content_rules_both_ways,
    a_milestone_the_repository_lacks_is_refused,
    choices_are_listed_with_their_etags_and_read_again_after_a_label_delivery,
    a_merge_names_github_s_milestone_and_the_push_keeps_it,
    a_link_stored_before_milestones_takes_github_s_without_a_conflict,
    set_edits_waiting_when_two_way_turns_off_are_kept_and_offered_again,
);

fn labels(names: &[&str]) -> TaskPatch {
    TaskPatch { labels: Some(names.iter().map(|n| n.to_string()).collect()), ..Default::default() }
}

fn milestone(number: Option<i64>) -> TaskPatch {
    let milestone = number.map_or(Nullable::Clear, Nullable::Set);
    TaskPatch { milestone, ..Default::default() }
}

fn assignees(logins: &[&str]) -> TaskPatch {
    TaskPatch { assignees: Some(logins.iter().map(|n| n.to_string()).collect()), ..Default::default() }
}

/// The names of a JSON list of labels or users.
fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array().into_iter().flatten().filter_map(|v| v[key].as_str().map(str::to_string)).collect()
}

async fn board_labels(w: &World, n: i64) -> Vec<String> {
    w.task(n).await.github.unwrap().extras.labels.into_iter().map(|l| l.name).collect()
}

async fn board_assignees(w: &World, n: i64) -> Vec<String> {
    w.task(n).await.github.unwrap().extras.assignees
}

/// Someone changes issue `n`'s labels or assignees on GitHub (no delivery).
fn set_on_github(w: &World, n: i64, labels: Option<&[&str]>, assignees: Option<&[&str]>) {
    let mut issue = w.github(n);
    if let Some(labels) = labels {
        issue["labels"] = labels.iter().map(|l| json!({"name": l, "color": "0e8a16"})).collect();
    }
    if let Some(logins) = assignees {
        issue["assignees"] = logins.iter().map(|l| json!({"login": l})).collect();
    }
    issue["updated_at"] = json!(w.gh.next_write_time(REPO));
    w.gh.upsert(REPO, issue);
}

/// A two-way world whose repository has these labels and assignable users, listed by a run.
async fn world(store: Store, two_way: bool) -> World {
    let w = World::new(store, 2, two_way).await;
    for n in [1, 2] {
        set_on_github(&w, n, Some(&[]), Some(&[]));
    }
    w.gh.add_repo_labels(REPO, &["bug", "ui", "docs", "perf"]);
    w.gh.set_assignable(REPO, &["ana", "bo", "cy"]);
    for (number, title) in [(1, "v1"), (2, "v2"), (3, "v3")] {
        w.gh.add_repo_milestone(REPO, number, title);
    }
    w.rec.run_project(w.project).await.unwrap();
    w.gh.clear_requests();
    w
}

async fn a_label_added_on_each_side_between_a_push_and_its_echo_stays_on_both(store: Store) {
    // The echo of the board's push arrives after GitHub's own change, and then before it.
    for echo_first in [false, true] {
        let mut w = world(store.clone(), true).await;
        assert_eq!(w.edit(1, labels(&["bug"])).await, Pushed::Sent);
        let echo = w.github(1);
        set_on_github(&w, 1, Some(&["bug", "ui"]), None);
        if echo_first {
            w.deliver_snapshot("labeled", echo).await.unwrap();
            w.deliver("labeled", 1).await;
        } else {
            w.deliver("labeled", 1).await;
            w.deliver_snapshot("labeled", echo).await.unwrap();
        }
        assert_eq!(board_labels(&w, 1).await, ["bug", "ui"], "echo first: {echo_first}");
        assert_eq!(names(&w.github(1)["labels"], "name"), ["bug", "ui"]);
        assert_eq!(w.pending_pushes().await, 0);
        assert!(w.pending_conflicts().await.is_empty());
        // A reconcile agrees and sends nothing.
        w.gh.clear_requests();
        w.rec.run_project(w.project).await.unwrap();
        assert_eq!(board_labels(&w, 1).await, ["bug", "ui"]);
        assert!(w.gh.writes().is_empty(), "{:?}", w.methods());
    }
}

async fn an_assignee_removed_on_github_beside_one_added_on_the_board_keeps_both_changes(store: Store) {
    let mut w = world(store, true).await;
    set_on_github(&w, 1, None, Some(&["ana"]));
    w.deliver("assigned", 1).await;
    assert_eq!(board_assignees(&w, 1).await, ["ana"]);

    // The board adds bo (not pushed yet); meanwhile ana is unassigned on GitHub.
    w.edit_only(1, assignees(&["ana", "bo"])).await;
    set_on_github(&w, 1, None, Some(&[]));
    w.deliver("unassigned", 1).await;
    assert_eq!(board_assignees(&w, 1).await, ["bo"], "GitHub's removal and the board's addition");

    let task = w.task_id(1).await;
    assert_eq!(w.services.push_task(task).await.unwrap(), Pushed::Sent);
    assert_eq!(names(&w.github(1)["assignees"], "login"), ["bo"]);
    let writes = w.gh.writes();
    assert_eq!(writes.len(), 1, "one POST of the addition, no removal sent back");
    assert_eq!(
        (writes[0].method.as_str(), writes[0].body.clone()),
        ("POST", Some(json!({"assignees": ["bo"]})))
    );
    w.deliver("assigned", 1).await;
    assert_eq!(board_assignees(&w, 1).await, ["bo"]);
    assert_eq!(w.pending_pushes().await, 0);
}

async fn one_label_added_is_one_request_and_k_removed_are_k_requests(store: Store) {
    let mut w = world(store, true).await;
    let paths = |w: &World| -> Vec<String> {
        w.gh.requests().into_iter().map(|r| format!("{} {}", r.method, r.path)).collect()
    };
    assert_eq!(w.edit(1, labels(&["bug"])).await, Pushed::Sent);
    // One write, none read first; then one read for GitHub's time of it (a label's answer
    // carries none, and without it a delivery older than the write could undo the next edit).
    assert_eq!(paths(&w), ["POST /repos/acme/widgets/issues/1/labels", "GET /repos/acme/widgets/issues/1"]);

    // Three added in one request.
    w.gh.clear_requests();
    assert_eq!(w.edit(1, labels(&["bug", "ui", "docs", "perf"])).await, Pushed::Sent);
    assert_eq!(w.methods(), ["POST", "GET"]);
    assert_eq!(w.gh.requests()[0].body, Some(json!({"labels": ["ui", "docs", "perf"]})));
    w.deliver("labeled", 1).await;

    // Three removed: three writes, one per label.
    w.gh.clear_requests();
    assert_eq!(w.edit(1, labels(&["docs"])).await, Pushed::Sent);
    assert_eq!(
        paths(&w),
        [
            "DELETE /repos/acme/widgets/issues/1/labels/bug",
            "DELETE /repos/acme/widgets/issues/1/labels/ui",
            "DELETE /repos/acme/widgets/issues/1/labels/perf",
            "GET /repos/acme/widgets/issues/1",
        ]
    );
    assert_eq!(names(&w.github(1)["labels"], "name"), ["docs"]);

    // A label someone removed on GitHub already: its DELETE answers 404, which is success.
    set_on_github(&w, 1, Some(&[]), None);
    w.gh.clear_requests();
    assert_eq!(w.edit(1, labels(&[])).await, Pushed::Sent);
    assert_eq!(w.gh.requests()[0].status, 404);
    assert_eq!(w.pending_pushes().await, 0);
    assert!(w.task(1).await.github.unwrap().push_error.is_none());

    // An assignee's answer is the whole issue, with its time: no read after it.
    w.gh.clear_requests();
    assert_eq!(w.edit(1, assignees(&["ana"])).await, Pushed::Sent);
    assert_eq!(paths(&w), ["POST /repos/acme/widgets/issues/1/assignees"]);
}

async fn echoes_change_nothing(store: Store) {
    let mut w = world(store, true).await;
    assert_eq!(w.edit(1, labels(&["bug", "ui"])).await, Pushed::Sent);
    assert_eq!(w.edit(1, assignees(&["ana"])).await, Pushed::Sent);
    let before = w.task(1).await;
    w.gh.clear_requests();
    for action in ["labeled", "labeled", "assigned"] {
        w.deliver(action, 1).await;
    }
    let after = w.task(1).await;
    assert_eq!(after.github.as_ref().unwrap().extras, before.github.as_ref().unwrap().extras);
    assert_eq!(w.pending_pushes().await, 0, "no second push");
    let task = w.task_id(1).await;
    assert_eq!(w.services.push_task(task).await.unwrap(), Pushed::Nothing);
    assert!(w.gh.requests().is_empty(), "{:?}", w.methods());
}

async fn an_unassignable_login_is_refused_naming_it_and_nothing_is_written(store: Store) {
    let w = world(store, true).await;
    let task = w.task_id(1).await;
    let patch = TaskPatch { title: Some("New title".into()), ..assignees(&["ana", "mallory"]) };
    let e = w.store.update_task(task, &patch).await.unwrap_err();
    let StoreError::Invalid(e) = e else { panic!("{e:?}") };
    assert_eq!(e.field, "assignees");
    assert!(e.message.contains("mallory") && !e.message.contains("ana"), "{}", e.message);
    // Nothing of the request was written, nothing queued.
    assert_eq!(w.task(1).await.task.title, "Issue 1");
    assert!(board_assignees(&w, 1).await.is_empty());
    assert_eq!(w.pending_pushes().await, 0);

    // An eleventh is refused too, naming those over the limit.
    let many: Vec<String> = (0..11).map(|i| format!("user{i}")).collect();
    let logins: Vec<&str> = many.iter().map(String::as_str).collect();
    w.gh.set_assignable(REPO, &logins);
    w.rec.run_project(w.project).await.unwrap();
    let e = w.store.update_task(task, &assignees(&logins)).await.unwrap_err();
    let StoreError::Invalid(e) = e else { panic!("{e:?}") };
    assert!(e.message.contains("at most 10") && e.message.ends_with("user10"), "{}", e.message);
}

async fn an_assignee_github_drops_is_a_visible_refusal(store: Store) {
    let w = world(store, true).await;
    // bo can no longer be assigned, which ghsync has not listed yet: GitHub drops bo silently.
    w.gh.set_assignable(REPO, &["ana"]);
    let pushed = w.edit(1, assignees(&["ana", "bo"])).await;
    let Pushed::Refused(reason) = pushed else { panic!("{pushed:?}") };
    assert!(reason.contains("bo") && !reason.contains("ana,"), "{reason}");
    let link = w.task(1).await.github.unwrap();
    assert!(
        link.push_error.as_deref().is_some_and(|e| e.contains("did not assign bo")),
        "{:?}",
        link.push_error
    );
    assert_eq!(link.extras.assignees, ["ana", "bo"], "the board keeps what the person asked");
    assert_eq!(w.pending_pushes().await, 1, "parked, not dropped");
    assert_eq!(names(&w.github(1)["assignees"], "login"), ["ana"]);
}

async fn a_label_new_to_the_repository_is_created_then_added(store: Store) {
    let w = world(store, true).await;
    assert_eq!(w.edit(1, labels(&["BUG", "needs design"])).await, Pushed::Sent);
    let paths: Vec<String> =
        w.gh.requests().into_iter().map(|r| format!("{} {}", r.method, r.path)).collect();
    assert_eq!(
        paths,
        [
            "POST /repos/acme/widgets/labels",
            "POST /repos/acme/widgets/issues/1/labels",
            "GET /repos/acme/widgets/issues/1",
        ]
    );
    assert!(w.gh.repo_labels(REPO).contains(&"needs design".to_string()));
    // "BUG" took the repository's spelling.
    assert_eq!(names(&w.github(1)["labels"], "name"), ["bug", "needs design"]);
    assert_eq!(board_labels(&w, 1).await, ["bug", "needs design"]);

    // Made by someone else meanwhile: the 422 "already exists" is fine.
    w.gh.add_repo_labels(REPO, &["wontfix"]);
    w.gh.clear_requests();
    assert_eq!(w.edit(2, labels(&["wontfix"])).await, Pushed::Sent);
    assert_eq!(w.gh.requests()[0].status, 422);
    assert_eq!(names(&w.github(2)["labels"], "name"), ["wontfix"]);
}

async fn a_label_github_refuses_to_create_is_a_visible_refusal_naming_the_permission(store: Store) {
    let w = world(store, true).await;
    w.gh.set_read_only(testkit::two_way::PAT);
    let pushed = w.edit(1, labels(&["needs design"])).await;
    let Pushed::Refused(reason) = pushed else { panic!("{pushed:?}") };
    assert!(reason.contains("403") && reason.contains("Issues: write"), "{reason}");
    assert_eq!(w.gh.requests().len(), 1, "nothing is added after the refusal: {:?}", w.methods());
    let link = w.task(1).await.github.unwrap();
    assert_eq!(link.push_error.as_deref(), Some(reason.as_str()), "shown on the task");
    assert_eq!(board_labels(&w, 1).await, ["needs design"], "the board keeps what the person asked");
    assert_eq!(w.pending_pushes().await, 1, "parked, not dropped");
    // Write access given back: a person's retry creates it and adds it.
    w.gh.set_writable(testkit::two_way::PAT);
    let task = w.task_id(1).await;
    w.store.retry_push(task).await.unwrap();
    assert_eq!(w.services.push_task(task).await.unwrap(), Pushed::Sent);
    assert_eq!(names(&w.github(1)["labels"], "name"), ["needs design"]);
    assert_eq!(w.pending_pushes().await, 0);
}

async fn one_way_refuses_field_edits(store: Store) {
    let w = world(store, false).await;
    let task = w.task_id(1).await;
    for patch in [labels(&["bug"]), assignees(&["ana"])] {
        let e = w.store.update_task(task, &patch).await.unwrap_err();
        assert!(matches!(e, StoreError::StateConflict(_)), "{e:?}");
    }
    assert!(board_labels(&w, 1).await.is_empty());
    assert!(w.gh.writes().is_empty());
}

/// Someone sets issue `n`'s milestone on GitHub (no delivery).
fn milestone_on_github(w: &World, n: i64, milestone: Option<(i64, &str)>) {
    let mut issue = w.github(n);
    issue["milestone"] =
        milestone.map_or(Value::Null, |(number, title)| json!({"number": number, "title": title}));
    issue["updated_at"] = json!(w.gh.next_write_time(REPO));
    w.gh.upsert(REPO, issue);
}

async fn board_milestone(w: &World, n: i64) -> Option<i64> {
    w.task(n).await.task.milestone.map(|m| m.number)
}

async fn a_milestone_follows_the_content_rules_both_ways(store: Store) {
    let mut w = world(store, true).await;
    // Set on the board: it goes with the content's read, then one PATCH naming it alone.
    assert_eq!(w.edit(1, milestone(Some(1))).await, Pushed::Sent);
    assert_eq!(w.methods(), ["GET", "PATCH"]);
    assert_eq!(w.patches(1), [json!({"milestone": 1})]);
    assert_eq!(w.github(1)["milestone"]["title"], "v1");
    let card = w.task(1).await;
    assert_eq!(card.github.as_ref().unwrap().extras.milestone.as_deref(), Some("v1"));
    w.deliver("milestoned", 1).await;
    assert_eq!((w.pending_pushes().await, w.pending_conflicts().await.len()), (0, 0), "the echo is quiet");

    // Changed on GitHub alone: the board takes it.
    milestone_on_github(&w, 1, Some((2, "v2")));
    w.deliver("milestoned", 1).await;
    assert_eq!(board_milestone(&w, 1).await, Some(2));

    // Changed on both sides, differently: a conflict whose snapshots show both milestones.
    w.edit_only(1, milestone(Some(3))).await;
    milestone_on_github(&w, 1, None);
    w.deliver("demilestoned", 1).await;
    let conflicts = w.pending_conflicts().await;
    assert_eq!(conflicts.len(), 1);
    let local = conflicts[0].local_content_snapshot.content.milestone.as_ref().map(|m| m.number);
    assert_eq!((local, conflicts[0].remote_content_snapshot.content.milestone.clone()), (Some(3), None));
    assert_eq!(board_milestone(&w, 1).await, Some(3), "the task is not touched");

    // Keeping the board's pushes it.
    w.store.resolve_conflict(conflicts[0].id, &Resolution::KeepLocal).await.unwrap();
    let task = w.task_id(1).await;
    w.services.push_task(task).await.unwrap();
    assert_eq!(w.github(1)["milestone"]["number"], 3);
    assert_eq!(w.pending_pushes().await, 0);
}

async fn a_milestone_the_repository_lacks_is_refused(store: Store) {
    let w = world(store, true).await;
    let task = w.task_id(1).await;
    let e = w.store.update_task(task, &milestone(Some(9))).await.unwrap_err();
    let StoreError::Invalid(e) = e else { panic!("{e:?}") };
    assert_eq!((e.field, e.message.contains('9')), ("milestone", true), "{}", e.message);
    assert_eq!(board_milestone(&w, 1).await, None);
    assert_eq!(w.pending_pushes().await, 0);
    // One-way: 409, as for the sets.
    let one_way = world(w.store.clone(), false).await;
    let task = one_way.task_id(1).await;
    let e = one_way.store.update_task(task, &milestone(Some(1))).await.unwrap_err();
    assert!(matches!(e, StoreError::StateConflict(_)), "{e:?}");
}

async fn choices_are_listed_with_their_etags_and_read_again_after_a_label_delivery(store: Store) {
    let mut w = world(store, true).await;
    let choices = w.store.choices(w.project).await.unwrap();
    let listed: Vec<String> = choices.labels.unwrap().into_iter().map(|l| l.name).collect();
    assert_eq!(listed, ["bug", "ui", "docs", "perf"]);
    assert_eq!(choices.assignees.unwrap(), ["ana", "bo", "cy"]);
    assert_eq!(choices.milestones.unwrap().iter().map(|m| m.number).collect::<Vec<_>>(), [1, 2, 3]);

    // Unchanged: each list costs a 304.
    let lists = |w: &World| -> Vec<(String, u16)> {
        let paths = ["/labels", "/assignees", "/milestones"];
        w.gh.requests()
            .into_iter()
            .filter(|r| paths.iter().any(|p| r.path.ends_with(p)))
            .map(|r| (r.path.rsplit('/').next().unwrap().to_string(), r.status))
            .collect()
    };
    w.rec.run_project(w.project).await.unwrap();
    assert_eq!(lists(&w), [("labels".into(), 304), ("assignees".into(), 304), ("milestones".into(), 304)]);

    // A label renamed on GitHub fires a `label` delivery, no issue event: the next run reads the
    // lists in full.
    w.gh.add_repo_labels(REPO, &["wontfix"]);
    let label = json!({
        "action": "created", "label": {"name": "wontfix"},
        "repository": {"full_name": REPO, "html_url": format!("https://github.com/{REPO}")},
    });
    w.deliver_event("label", &label).await.unwrap();
    w.gh.clear_requests();
    w.rec.run_project(w.project).await.unwrap();
    assert_eq!(lists(&w), [("labels".into(), 200), ("assignees".into(), 200), ("milestones".into(), 200)]);
    let labels = w.store.choices(w.project).await.unwrap().labels.unwrap();
    assert!(labels.iter().any(|l| l.name == "wontfix"));
}

async fn a_merge_names_github_s_milestone_and_the_push_keeps_it(store: Store) {
    use ghsync_shared::contract::MergedContent;
    let mut w = world(store, true).await;
    // The board renames the task (not pushed yet) while GitHub sets milestone 2.
    w.edit_only(1, TaskPatch { title: Some("Board title".into()), ..Default::default() }).await;
    milestone_on_github(&w, 1, Some((2, "v2")));
    w.deliver("milestoned", 1).await;
    let conflicts = w.pending_conflicts().await;
    assert_eq!(conflicts.len(), 1, "the content (title and milestone) changed on both sides");
    // The person merges: the board's title, GitHub's milestone.
    let merged = MergedContent {
        title: "Board title".into(),
        description: Some("body".into()),
        status: None,
        milestone: Nullable::Set(2),
    };
    let merge = Resolution::Merge(merged.parse().unwrap());
    w.store.resolve_conflict(conflicts[0].id, &merge).await.unwrap();
    assert_eq!(w.task(1).await.task.milestone.map(|m| (m.number, m.title)), Some((2, "v2".into())));
    let task = w.task_id(1).await;
    w.services.push_task(task).await.unwrap();
    let issue = w.github(1);
    assert_eq!(
        (issue["title"].as_str(), issue["milestone"]["number"].as_i64()),
        (Some("Board title"), Some(2))
    );
    assert!(
        w.patches(1).iter().all(|p| p.get("milestone").is_none()),
        "GitHub's milestone is not written over"
    );
}

async fn a_link_stored_before_milestones_takes_github_s_without_a_conflict(store: Store) {
    let mut w = world(store, true).await;
    // As migration 16 leaves a link stored before it: a base without a milestone, a task with
    // its title only, the link marked as not knowing it. GitHub's issue has milestone 1.
    milestone_on_github(&w, 1, Some((1, "v1")));
    let task = w.task_id(1).await;
    let pool = w.store.pool();
    sqlx::query(
        "UPDATE task_github_metadata SET milestone_known = 0, last_synced_content = $2 WHERE task_id = $1",
    )
    .bind(task.to_string())
    .bind(r#"{"title":"Issue 1","description":"body"}"#)
    .execute(pool)
    .await
    .unwrap();
    sqlx::query("UPDATE tasks SET milestone_number = NULL, milestone_title = 'v1' WHERE id = $1")
        .bind(task.to_string())
        .execute(pool)
        .await
        .unwrap();
    // The board edits the title; the issue's next snapshot arrives: no conflict, and the push
    // sends the title alone.
    w.edit_only(1, TaskPatch { title: Some("Board title".into()), ..Default::default() }).await;
    w.deliver("edited", 1).await;
    assert!(w.pending_conflicts().await.is_empty());
    assert_eq!(board_milestone(&w, 1).await, Some(1));
    w.gh.clear_requests();
    w.services.push_task(task).await.unwrap();
    assert_eq!(w.patches(1), [json!({"title": "Board title"})]);
    assert_eq!(w.github(1)["milestone"]["number"], 1);
}

async fn set_edits_waiting_when_two_way_turns_off_are_kept_and_offered_again(store: Store) {
    let mut w = world(store, true).await;
    w.edit_only(1, labels(&["bug"])).await;
    testkit::set_two_way(&w.store, w.project, false).await;
    // A snapshot while one-way: GitHub's other change comes in, the board's label stays.
    set_on_github(&w, 1, None, Some(&["ana"]));
    w.deliver("assigned", 1).await;
    assert_eq!(
        (board_labels(&w, 1).await, board_assignees(&w, 1).await),
        (vec!["bug".to_string()], vec!["ana".to_string()])
    );
    testkit::set_two_way(&w.store, w.project, true).await;
    let task = w.task_id(1).await;
    w.store.retry_push(task).await.unwrap();
    assert_eq!(w.services.push_task(task).await.unwrap(), Pushed::Sent);
    assert_eq!(names(&w.github(1)["labels"], "name"), ["bug"]);
}
