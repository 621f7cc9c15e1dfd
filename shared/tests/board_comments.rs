//! Comments written on the board, on their way to GitHub (docs/comments.md, "From the board"),
//! on both backends against the GitHub-speaking test server: posted once whatever the echo
//! and the answer do, edits and deletions both ways, conflicts, one-way and unpublished tasks,
//! and the pace of posts under GitHub's secondary limits.

use std::time::Duration;

use ghsync_shared::Store;
use ghsync_shared::domain::{CommentOrigin, ResolutionAction};
use ghsync_shared::services::comment_push::CommentPushed;
use ghsync_shared::store::{Backoff, CommentResolution, StoreError};
use ghsync_shared::sync::board_comments::{Pace, posted_body};
use ghsync_shared::time::{Deadline, Timestamp};
use serde_json::Value;
use testkit::both_backends;
use testkit::github::{Fault, HoldWhen};
use testkit::two_way::{REPO, World};

both_backends!(
    a_board_comment_is_posted_once_with_its_attribution_and_marker,
    the_echo_links_while_the_answer_is_held,
    a_lost_answer_is_found_by_its_marker_not_posted_again,
    a_second_post_found_later_is_deleted_not_imported,
    a_lost_post_is_linked_with_what_was_posted,
    board_edits_and_deletions_reach_github,
    an_edit_on_both_sides_is_a_conflict_a_person_resolves,
    a_deletion_on_github_against_a_board_edit_is_a_conflict,
    a_forged_attribution_is_kept_as_written,
    github_comments_are_read_only_on_the_board,
    one_way_keeps_comments_local_until_the_offer_is_taken,
    comments_follow_their_tasks_publication_in_order,
    a_secondary_limit_holds_the_account_and_shows_pending,
    queued_posts_are_spread_under_the_limits,
);

/// The posts (POST …/issues/{n}/comments) GitHub received.
fn posts(w: &World) -> usize {
    w.gh.requests().iter().filter(|r| r.method == "POST" && r.path.ends_with("/comments")).count()
}

fn body(c: &Value) -> &str {
    c["body"].as_str().unwrap()
}

async fn a_board_comment_is_posted_once_with_its_attribution_and_marker(store: Store) {
    let mut w = World::new(store, 1, true).await;
    // Blank lines at either end would not survive the trip: the board keeps what GitHub shows.
    let written = w.comment(1, "\n\nLooks good.\n", Some("Ana")).await;
    assert_eq!(written.origin, CommentOrigin::Board);
    assert!(!written.push_pending, "{written:?}");
    let on_github = w.github_comments(1);
    assert_eq!(on_github.len(), 1);
    assert_eq!(
        body(&on_github[0]),
        format!("**Ana** (via ghsync):\n\nLooks good.\n\n<!-- ghsync:comment:{} -->", written.id)
    );
    let github = written.github.expect("linked to its GitHub comment");
    assert_eq!(Some(github.comment_id), on_github[0]["id"].as_i64());

    // Its echo, then a reconcile: still one comment, shown as written on the board.
    w.deliver_comment("created", on_github[0].clone()).await;
    w.rec.run_project(w.project).await.unwrap();
    let thread = w.thread(1).await;
    assert_eq!(thread.len(), 1, "{thread:?}");
    assert_eq!((thread[0].body.as_str(), thread[0].author.as_str()), ("Looks good.", "Ana"));
    assert_eq!(posts(&w), 1);
    assert_eq!(w.gh.writes().len(), 1, "the POST alone: nothing was edited back and forth");
    assert_eq!(w.github_comments(1).len(), 1);
}

async fn the_echo_links_while_the_answer_is_held(store: Store) {
    let mut w = World::new(store, 1, true).await;
    let task = w.task_id(1).await;
    for echo_by in ["webhook", "listing"] {
        let written =
            w.store.add_comment(task, &format!("held answer, echo by {echo_by}"), None).await.unwrap();
        // GitHub makes the comment; its answer waits while the echo arrives.
        let mut held = w.gh.hold_request("POST", "/issues/1/comments", HoldWhen::AfterServing);
        let services = w.services.clone();
        let options = services.push_options;
        let push = tokio::spawn(async move {
            services.push_comment(written.id, &options, Backoff::Respect, &mut 0).await
        });
        held.arrived().await;
        let created = w.github_comments(1).into_iter().last().unwrap();
        match echo_by {
            "webhook" => {
                w.deliver_comment("created", created).await;
            }
            _ => {
                w.rec.run_project(w.project).await.unwrap();
            }
        }
        let linked = w.store.get_comment(written.id).await.unwrap();
        assert!(linked.github.is_some(), "the echo linked the board comment: {linked:?}");
        held.release();
        assert_eq!(push.await.unwrap().unwrap(), CommentPushed::Sent);
    }
    let thread = w.thread(1).await;
    assert_eq!(thread.len(), 2, "{thread:?}");
    assert!(thread.iter().all(|c| c.origin == CommentOrigin::Board && !c.push_pending));
    assert_eq!(w.github_comments(1).len(), 2);
    assert_eq!(posts(&w), 2);
    assert_eq!(w.store.pending_comment_pushes(w.project).await.unwrap(), 0);
}

async fn a_lost_answer_is_found_by_its_marker_not_posted_again(store: Store) {
    let w = World::new(store, 1, true).await;
    w.gh.lose_write_answers(1);
    let written = w.comment(1, "Deployed.", Some("Bo")).await;
    assert!(written.github.is_none() && written.push_pending, "{written:?}");
    assert!(written.push_error.is_none(), "a lost answer is not a failure: {written:?}");
    assert_eq!(w.github_comments(1).len(), 1, "GitHub made it");

    // The retry looks before it posts: it finds the comment by its marker.
    w.make_comment_due(written.id).await;
    assert_eq!(w.push_comment(written.id).await, CommentPushed::Sent);
    let linked = w.store.get_comment(written.id).await.unwrap();
    assert_eq!(linked.github.map(|g| g.comment_id), w.github_comments(1)[0]["id"].as_i64());
    assert_eq!(posts(&w), 1, "posted once");
    let searches =
        w.gh.requests()
            .iter()
            .filter(|r| r.method == "GET" && r.path.ends_with("/issues/1/comments"))
            .count();
    assert_eq!(searches, 1);
    w.rec.run_project(w.project).await.unwrap();
    assert_eq!((w.github_comments(1).len(), w.thread(1).await.len()), (1, 1));
}

async fn a_lost_post_is_linked_with_what_was_posted(store: Store) {
    let mut w = World::new(store, 1, true).await;
    // The answer is lost; a person fixes a typo in ghsync's post on GitHub before the link.
    w.gh.lose_write_answers(1);
    let written = w.comment(1, "Deployd.", Some("Bo")).await;
    let posted = w.github_comments(1)[0].clone();
    let id = posted["id"].as_i64().unwrap();
    w.edit_comment_on_github(id, &posted_body("Bo", "Deployed.", written.id));
    // A board change does not hasten the search (GitHub's listing may lag behind the post).
    w.store.edit_comment(written.id, "Deployd. (edited)").await.unwrap();
    assert_eq!(w.push_comment(written.id).await, CommentPushed::Waiting);
    assert!(w.gh.requests().iter().all(|r| r.method == "POST"), "no search before the retry time");
    // Found: linked with what was posted as its base; both sides changed it: a conflict.
    w.make_comment_due(written.id).await;
    w.push_comment(written.id).await;
    let held = w.store.get_comment(written.id).await.unwrap();
    assert_eq!(held.github.as_ref().map(|g| g.comment_id), Some(id));
    assert_eq!(
        held.conflict.map(|c| c.github_body),
        Some(Some("Deployed.".to_string())),
        "nothing overwritten"
    );
    assert_eq!(w.gh.writes().len(), 1, "only the POST");

    // A lost post deleted on GitHub is linked by its `deleted` delivery and stays deleted.
    w.gh.lose_write_answers(1);
    let second = w.comment(1, "Second", None).await;
    let on_github =
        w.github_comments(1).into_iter().find(|c| c["body"].as_str().unwrap().contains("Second")).unwrap();
    w.gh.delete_comment(REPO, on_github["id"].as_i64().unwrap());
    w.deliver_comment("deleted", on_github).await;
    w.make_comment_due(second.id).await;
    w.services.drain_comment_pushes(w.project, Backoff::Respect, Deadline::NONE).await.unwrap();
    assert!(w.thread(1).await.iter().all(|c| c.id != second.id), "deleted on both sides");
    assert_eq!(posts(&w), 2, "never posted again");
}

async fn a_second_post_found_later_is_deleted_not_imported(store: Store) {
    let mut w = World::new(store, 1, true).await;
    let written = w.comment(1, "Once only", Some("Ana")).await;
    // A post made again after a search that missed the first (a lagging listing).
    let again = posted_body("Ana", "Once only", written.id);
    let at = w.gh.next_write_time(REPO);
    let second = testkit::fixtures::comment(REPO, 1, 9_300, &again, "octocat", &at, &at);
    w.gh.upsert_comment(REPO, second.clone());
    w.deliver_comment("created", second).await;
    assert_eq!(w.thread(1).await.len(), 1, "not imported");
    w.services.drain_comment_pushes(w.project, Backoff::Respect, Deadline::NONE).await.unwrap();
    let left: Vec<i64> = w.github_comments(1).iter().filter_map(|c| c["id"].as_i64()).collect();
    assert_eq!(left, vec![written.github.unwrap().comment_id], "the second post is deleted");
    w.rec.run_project(w.project).await.unwrap();
    assert_eq!(w.thread(1).await.len(), 1);
    assert_eq!(w.store.pending_comment_pushes(w.project).await.unwrap(), 0);
}

async fn board_edits_and_deletions_reach_github(store: Store) {
    let w = World::new(store, 1, true).await;
    let written = w.comment(1, "First draft", Some("Ana")).await;
    let edited = w.store.edit_comment(written.id, "Second draft").await.unwrap();
    assert!(edited.push_pending);
    assert_eq!(w.push_comment(written.id).await, CommentPushed::Sent);
    let on_github = w.github_comments(1);
    assert!(body(&on_github[0]).starts_with("**Ana** (via ghsync):\n\nSecond draft\n\n<!-- ghsync:comment:"));
    // GitHub's echo of the edit changes nothing.
    w.rec.run_project(w.project).await.unwrap();
    assert_eq!(w.thread(1).await[0].body, "Second draft");

    w.store.delete_comment(written.id).await.unwrap();
    assert!(w.thread(1).await.is_empty(), "it leaves the thread at once");
    assert_eq!(w.push_comment(written.id).await, CommentPushed::Sent);
    assert!(w.github_comments(1).is_empty());
    // A board comment deleted before it was posted never reaches GitHub.
    let task = w.task_id(1).await;
    let unsent = w.store.add_comment(task, "never sent", None).await.unwrap();
    w.store.delete_comment(unsent.id).await.unwrap();
    w.rec.run_project(w.project).await.unwrap();
    assert!(w.github_comments(1).is_empty() && w.thread(1).await.is_empty());
    assert_eq!(w.store.pending_comment_pushes(w.project).await.unwrap(), 0);
    assert_eq!(posts(&w), 1);
}

async fn an_edit_on_both_sides_is_a_conflict_a_person_resolves(store: Store) {
    let mut w = World::new(store, 1, true).await;
    let written = w.comment(1, "The plan", Some("Ana")).await;
    let id = written.github.as_ref().unwrap().comment_id;
    // Edited on GitHub (the marker kept, as GitHub's editor shows it) and on the board.
    let raw = format!(
        "**Ana** (via ghsync):\n\nThe plan, amended on GitHub\n\n<!-- ghsync:comment:{} -->",
        written.id
    );
    let github_copy = w.edit_comment_on_github(id, &raw);
    w.store.edit_comment(written.id, "The plan, amended on the board").await.unwrap();
    w.gh.clear_requests();
    assert_eq!(w.push_comment(written.id).await, CommentPushed::Pulled);
    assert!(w.gh.writes().is_empty(), "nothing is overwritten");
    let held = w.store.get_comment(written.id).await.unwrap();
    let conflict = held.conflict.clone().expect("a conflict");
    assert_eq!(conflict.github_body.as_deref(), Some("The plan, amended on GitHub"));
    assert_eq!(held.body, "The plan, amended on the board");
    assert!(!held.push_pending);
    // Its delivery, late, changes nothing more; an edit waits for the resolution.
    w.deliver_comment("edited", github_copy).await;
    assert!(matches!(w.store.edit_comment(written.id, "again").await, Err(StoreError::StateConflict(_))));

    let resolved = w
        .store
        .resolve_comment(written.id, &CommentResolution::Merge("Both amendments".into()))
        .await
        .unwrap();
    assert!(resolved.conflict.is_none() && resolved.push_pending);
    assert_eq!(w.push_comment(written.id).await, CommentPushed::Sent);
    assert!(body(&w.github_comments(1)[0]).contains("\n\nBoth amendments\n\n"));
    assert_eq!(w.thread(1).await[0].body, "Both amendments");

    // Accepting GitHub's side sends nothing.
    let raw =
        format!("**Ana** (via ghsync):\n\nGitHub's last word\n\n<!-- ghsync:comment:{} -->", written.id);
    w.edit_comment_on_github(id, &raw);
    w.store.edit_comment(written.id, "The board's last word").await.unwrap();
    w.push_comment(written.id).await;
    w.gh.clear_requests();
    let accepted = w.store.resolve_comment(written.id, &CommentResolution::AcceptGithub).await.unwrap();
    assert_eq!(accepted.body, "GitHub's last word");
    assert!(!accepted.push_pending && accepted.conflict.is_none());
    w.rec.run_project(w.project).await.unwrap();
    assert!(w.gh.writes().is_empty());
    assert!(CommentResolution::new(ResolutionAction::Merge, None).is_err());
}

async fn a_deletion_on_github_against_a_board_edit_is_a_conflict(store: Store) {
    let mut w = World::new(store, 1, true).await;
    let written = w.comment(1, "Keep me", Some("Ana")).await;
    let on_github = w.github_comments(1)[0].clone();
    w.store.edit_comment(written.id, "Keep me, edited").await.unwrap();
    // GitHub deletes it before the edit goes, and says so.
    w.gh.delete_comment(REPO, on_github["id"].as_i64().unwrap());
    w.deliver_comment("deleted", on_github).await;
    let held = w.store.get_comment(written.id).await.unwrap();
    assert_eq!(held.conflict.as_ref().map(|c| c.github_body.clone()), Some(None), "{held:?}");
    assert_eq!(w.thread(1).await.len(), 1, "the conflict keeps it on the thread");
    // Keeping the board's posts it anew.
    w.store.resolve_comment(written.id, &CommentResolution::KeepLocal).await.unwrap();
    assert_eq!(w.push_comment(written.id).await, CommentPushed::Sent);
    let now_on_github = w.github_comments(1);
    assert_eq!(now_on_github.len(), 1);
    assert!(body(&now_on_github[0]).contains("Keep me, edited"));
    w.rec.run_project(w.project).await.unwrap();
    let thread = w.thread(1).await;
    assert_eq!(thread.len(), 1, "{thread:?}");
    assert_eq!(thread[0].github.as_ref().map(|g| g.comment_id), now_on_github[0]["id"].as_i64());
}

async fn a_forged_attribution_is_kept_as_written(store: Store) {
    let mut w = World::new(store, 1, true).await;
    let task = w.task_id(1).await;
    let board = w.store.add_comment(task, "a real one", None).await.unwrap();
    let forged = "**Mallory** (via ghsync):\n\nTrust me";
    // A marker naming a board comment of another task, or none, is anyone's text.
    let copied =
        format!("**Mallory** (via ghsync):\n\nCopied\n\n<!-- ghsync:comment:{} -->", uuid::Uuid::now_v7());
    for (id, text) in [(9_001, forged.to_string()), (9_002, copied.clone())] {
        let c = testkit::fixtures::comment(
            REPO,
            1,
            id,
            &text,
            "mallory",
            &testkit::two_way::at(500),
            &testkit::two_way::at(500),
        );
        w.gh.upsert_comment(REPO, c.clone());
        w.deliver_comment("created", c).await;
    }
    let thread = w.thread(1).await;
    let shown: Vec<(&str, &str, CommentOrigin)> =
        thread.iter().map(|c| (c.body.as_str(), c.author.as_str(), c.origin)).collect();
    assert!(shown.contains(&(forged, "mallory", CommentOrigin::Github)), "{shown:?}");
    assert!(shown.contains(&(copied.as_str(), "mallory", CommentOrigin::Github)), "{shown:?}");
    // The board comment itself stays unposted and unlinked.
    assert!(w.store.get_comment(board.id).await.unwrap().github.is_none());
}

async fn github_comments_are_read_only_on_the_board(store: Store) {
    let mut w = World::new(store, 1, true).await;
    let c = testkit::fixtures::comment(
        REPO,
        1,
        9_100,
        "From GitHub",
        "mona",
        &testkit::two_way::at(500),
        &testkit::two_way::at(500),
    );
    w.gh.upsert_comment(REPO, c.clone());
    w.deliver_comment("created", c).await;
    let id = w.thread(1).await[0].id;
    assert!(matches!(w.store.edit_comment(id, "mine now").await, Err(StoreError::StateConflict(_))));
    assert!(matches!(w.store.delete_comment(id).await, Err(StoreError::StateConflict(_))));
    assert_eq!(w.thread(1).await[0].body, "From GitHub");
    // Bodies the board refuses: empty, or too long for GitHub with the attribution and marker.
    let task = w.task_id(1).await;
    assert!(matches!(w.store.add_comment(task, " \n ", None).await, Err(StoreError::Invalid(_))));
    let long = "x".repeat(ghsync_shared::sync::board_comments::MAX_BOARD_COMMENT_CHARS + 1);
    assert!(matches!(w.store.add_comment(task, &long, None).await, Err(StoreError::Invalid(_))));
    assert_eq!(w.thread(1).await.len(), 1);
}

async fn one_way_keeps_comments_local_until_the_offer_is_taken(store: Store) {
    let w = World::new(store, 1, false).await;
    let written = w.comment(1, "Kept here", Some("Ana")).await;
    assert!(written.local_only && !written.push_pending, "{written:?}");
    w.rec.run_project(w.project).await.unwrap();
    assert_eq!(posts(&w), 0);
    testkit::set_two_way(&w.store, w.project, true).await;
    assert_eq!(w.store.offer(w.project).await.unwrap().comments, 1);
    assert_eq!(w.store.accept_offer(w.project).await.unwrap().comments, 1);
    assert!(w.store.get_comment(written.id).await.unwrap().push_pending);
    w.rec.run_project(w.project).await.unwrap();
    assert_eq!(w.github_comments(1).len(), 1);
    assert!(!w.store.get_comment(written.id).await.unwrap().local_only);
    // Turned off again: a waiting edit is parked, not sent.
    testkit::set_two_way(&w.store, w.project, false).await;
    w.store.edit_comment(written.id, "Kept here, edited").await.unwrap();
    w.rec.run_project(w.project).await.unwrap();
    assert!(body(&w.github_comments(1)[0]).contains("\n\nKept here\n\n"));
}

async fn comments_follow_their_tasks_publication_in_order(store: Store) {
    let w = World::new(store, 0, true).await;
    let content = ghsync_shared::domain::Content::new("Board task", None).unwrap();
    let task =
        w.store.create_task(w.project, &content, ghsync_shared::domain::TaskStatus::Todo).await.unwrap();
    for text in ["first", "second", "third"] {
        let c = w.store.add_comment(task.id, text, None).await.unwrap();
        assert!(c.push_pending && c.github.is_none());
    }
    w.rec.run_project(w.project).await.unwrap();
    assert_eq!(posts(&w), 0, "nothing goes before the task is an issue");
    w.services.publish_task(task.id).await.unwrap();
    w.services.drain_comment_pushes(w.project, Backoff::Respect, Deadline::NONE).await.unwrap();
    let number = w.store.get_metadata(task.id).await.unwrap().unwrap().github_issue_number;
    let bodies: Vec<String> = w.github_comments(number).iter().map(|c| body(c).to_string()).collect();
    assert_eq!(bodies.len(), 3, "{bodies:?}");
    for (got, want) in bodies.iter().zip(["first", "second", "third"]) {
        assert!(got.contains(&format!("\n\n{want}\n\n")), "{bodies:?}");
    }
}

async fn a_secondary_limit_holds_the_account_and_shows_pending(store: Store) {
    let w = World::new(store, 1, true).await;
    w.gh.push_write_fault(Fault::status(403, r#"{"message":"You have exceeded a secondary rate limit."}"#));
    let before = Timestamp::now();
    let first = w.comment(1, "one", None).await;
    assert!(first.push_pending && first.push_error.is_none(), "waiting, not failed: {first:?}");
    let retry_at = w.store.read_comment_push(first.id).await.unwrap().unwrap();
    assert!(retry_at.attempts == 1);
    // The whole account waits at least a minute: the next comment is paced, not posted.
    let second = w.comment(1, "two", None).await;
    assert!(second.push_pending && second.github.is_none(), "{second:?}");
    assert_eq!(posts(&w), 1, "only the refused post went");
    let next = w.store.get_config(w.project).await.unwrap().next_sync_at.unwrap();
    assert!(next >= before, "the config comes back for them");
}

async fn queued_posts_are_spread_under_the_limits(store: Store) {
    let mut w = World::new(store, 1, true).await;
    // GitHub's pace, run fast: 20 posts a "minute" of 1 s, 100 an "hour" of 6 s.
    let pace = Pace {
        per_minute: 20,
        per_hour: 100,
        spacing: chrono::Duration::milliseconds(2),
        minute: chrono::Duration::seconds(1),
        hour: chrono::Duration::seconds(6),
    };
    w.services.push_options.pace = pace;
    w.services.push_options.pace_wait = Duration::from_secs(5);
    let task = w.task_id(1).await;
    for i in 0..150 {
        w.store.add_comment(task, &format!("post {i}"), None).await.unwrap();
    }
    while w.store.pending_comment_pushes(w.project).await.unwrap() > 0 {
        w.services.drain_comment_pushes(w.project, Backoff::Ignore, Deadline::NONE).await.unwrap();
    }
    assert_eq!(posts(&w), 150, "each posted once");
    assert_eq!(w.github_comments(1).len(), 150);
    // Counted by the test server: never more than the pace allows in a window. The windows it
    // counts are shorter by a margin: a request reaches it some time after its reservation,
    // and a busy machine may stretch that by a few hundred milliseconds.
    let busiest = w.gh.busiest_creates(Duration::from_millis(600));
    assert!(busiest <= pace.per_minute, "{busiest} posts in one window");
    assert!(w.gh.busiest_creates(Duration::from_millis(5_600)) <= pace.per_hour);
}
