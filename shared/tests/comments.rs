//! Comments from GitHub on the board (docs/comments.md), on both backends: `issue_comment`
//! deliveries through `webhook::handle`, and the reconcile's comment listing against the
//! GitHub-speaking test server.

use std::time::Duration;

use ghsync_shared::Store;
use ghsync_shared::crypto::{KeyProvider, LocalKeys};
use ghsync_shared::domain::{SyncStatus, TaskComment};
use ghsync_shared::github::GitHub;
use ghsync_shared::paging::PageRequest;
use ghsync_shared::services::Services;
use ghsync_shared::services::reconcile::{ReconcileOptions, Reconciler};
use ghsync_shared::store::Table;
use ghsync_shared::sync::CommentOutcome;
use ghsync_shared::time::{Deadline, Timestamp};
use ghsync_shared::webhook::{Handled, IssueResult};
use serde_json::{Value, json};
use testkit::both_backends;
use testkit::fixtures::{comment, issue, pull_request_comment, pull_request_issue, repository, user};
use testkit::github::{FakeGitHub, HoldWhen, Mutation};
use uuid::Uuid;

const REPO: &str = "acme/widgets";
const SECRET: &str = "comments-test-secret";
const PAT: &str = "ghp_commentsTestToken00001";

both_backends!(
    a_comment_arrives_by_delivery_and_follows_its_edits_and_deletion,
    duplicated_and_reordered_deliveries_change_nothing_more,
    a_pull_requests_comment_is_ignored_by_the_webhook,
    a_comment_delivered_before_its_issue_is_not_lost,
    a_comment_alone_changes_no_task_content,
    the_reconcile_brings_comments_whose_deliveries_were_dropped,
    the_full_pass_finds_comments_deleted_without_a_delivery,
    pull_requests_comments_are_skipped_by_the_listing,
    a_comment_listed_before_its_issue_is_imported_is_not_lost,
    comments_are_imported_across_runs_cut_by_the_deadline,
    a_comment_deleted_while_the_listing_pages_hides_no_other,
    a_deleted_issue_keeps_its_thread_through_the_full_pass,
    a_comment_whose_issue_cannot_be_imported_pins_nothing,
    a_same_second_edit_by_delivery_is_left_to_the_next_reconcile,
    a_run_on_the_old_repository_writes_nothing_after_a_switch,
    a_rereads_lower_watermark_outlives_a_run_in_progress,
);

fn at(i: i64) -> String {
    let t =
        chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap() + chrono::Duration::seconds(i);
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

// --- deliveries ---------------------------------------------------------------------------

async fn deliver(store: &Store, event: &str, id: &str, payload: &Value) -> Handled {
    testkit::deliver(store, SECRET, event, id, payload).await.unwrap()
}

/// An `issue_comment` delivery: `action` on `comment`, with its issue as it now is.
fn comment_event(action: &str, issue: Value, comment: Value) -> Value {
    json!({
        "action": action,
        "issue": issue,
        "comment": comment,
        "repository": repository(REPO),
        "sender": user("ana", 7),
    })
}

async fn thread(store: &Store, task: Uuid) -> Vec<TaskComment> {
    store.task_comments(task, &PageRequest::everything()).await.unwrap()
}

async fn the_only_task(store: &Store, project: Uuid) -> Uuid {
    let tasks = store.list_tasks(project).await.unwrap();
    assert_eq!(tasks.len(), 1, "one task");
    tasks[0].task.id
}

fn comment_result(h: &Handled) -> CommentOutcome {
    match h {
        Handled::Applied { results } => match results[0].result {
            IssueResult::Comment { comment, .. } => comment,
            other => panic!("not a comment: {other:?}"),
        },
        other => panic!("not applied: {other:?}"),
    }
}

async fn a_comment_arrives_by_delivery_and_follows_its_edits_and_deletion(store: Store) {
    let p = testkit::configured_project(&store, REPO, vec![2, 0, 0]).await;
    let the_issue = |i| issue(REPO, 7, "Crash on start", Some("body"), "open", &at(i));
    let c = |body: &str, i| comment(REPO, 7, 501, body, "ana", &at(10), &at(i));
    deliver(
        &store,
        "issues",
        "d-open",
        &json!({"action": "opened", "issue": the_issue(1), "repository": repository(REPO)}),
    )
    .await;

    let h = deliver(
        &store,
        "issue_comment",
        "d-1",
        &comment_event("created", the_issue(10), c("It crashes **here**", 10)),
    )
    .await;
    assert_eq!(comment_result(&h), CommentOutcome::Created);
    let task = the_only_task(&store, p).await;
    let shown = thread(&store, task).await;
    assert_eq!(shown.len(), 1);
    assert_eq!((shown[0].body.as_str(), shown[0].author.as_str()), ("It crashes **here**", "ana"));
    let gh = shown[0].github.as_ref().expect("a GitHub comment");
    assert_eq!((gh.comment_id, gh.author_login.as_str()), (501, "ana"));
    assert_eq!(gh.url, "https://github.com/acme/widgets/issues/7#issuecomment-501");

    let h = deliver(
        &store,
        "issue_comment",
        "d-2",
        &comment_event("edited", the_issue(11), c("It crashes at start-up", 11)),
    )
    .await;
    assert_eq!(comment_result(&h), CommentOutcome::Updated);
    assert_eq!(thread(&store, task).await[0].body, "It crashes at start-up");

    // An older snapshot changes nothing.
    let h = deliver(
        &store,
        "issue_comment",
        "d-3",
        &comment_event("edited", the_issue(11), c("It crashes **here**", 10)),
    )
    .await;
    assert_eq!(comment_result(&h), CommentOutcome::Stale);
    assert_eq!(thread(&store, task).await[0].body, "It crashes at start-up");

    let h = deliver(
        &store,
        "issue_comment",
        "d-4",
        &comment_event("deleted", the_issue(12), c("It crashes at start-up", 11)),
    )
    .await;
    assert_eq!(comment_result(&h), CommentOutcome::Deleted);
    assert!(thread(&store, task).await.is_empty(), "a deleted comment leaves the thread");

    // A replay under a new delivery id does not bring it back.
    let h = deliver(&store, "issue_comment", "d-5", &comment_event("edited", the_issue(13), c("back?", 13)))
        .await;
    assert_eq!(comment_result(&h), CommentOutcome::Unchanged);
    assert!(thread(&store, task).await.is_empty());
}

async fn duplicated_and_reordered_deliveries_change_nothing_more(store: Store) {
    let p = testkit::configured_project(&store, REPO, vec![2, 0, 0]).await;
    let the_issue = |i| issue(REPO, 3, "Slow search", None, "open", &at(i));
    let created =
        comment_event("created", the_issue(20), comment(REPO, 3, 77, "first words", "bo", &at(20), &at(20)));
    let edited =
        comment_event("edited", the_issue(20), comment(REPO, 3, 77, "second words", "bo", &at(20), &at(25)));
    let other =
        comment_event("created", the_issue(30), comment(REPO, 3, 78, "another", "cy", &at(30), &at(30)));
    // The edit arrives first, then the creation, then copies of both.
    deliver(&store, "issue_comment", "e-2", &edited).await;
    deliver(&store, "issue_comment", "e-1", &created).await;
    deliver(&store, "issue_comment", "e-3", &other).await;
    assert_eq!(deliver(&store, "issue_comment", "e-2", &edited).await, Handled::Duplicate);
    assert_eq!(deliver(&store, "issue_comment", "e-1", &created).await, Handled::Duplicate);
    // The same creation redelivered under another id is stale now.
    assert_eq!(
        comment_result(&deliver(&store, "issue_comment", "e-9", &created).await),
        CommentOutcome::Stale
    );

    let task = the_only_task(&store, p).await;
    let bodies: Vec<String> = thread(&store, task).await.into_iter().map(|c| c.body).collect();
    assert_eq!(bodies, ["second words", "another"], "oldest first, each comment once");
    assert_eq!(store.count_rows(Table::Comments).await.unwrap(), 2);
}

async fn a_pull_requests_comment_is_ignored_by_the_webhook(store: Store) {
    let p = testkit::configured_project(&store, REPO, vec![2, 0, 0]).await;
    let pr = pull_request_issue(REPO, 40, "Fix the crash", &at(5));
    let h = deliver(
        &store,
        "issue_comment",
        "pr-1",
        &comment_event("created", pr, pull_request_comment(REPO, 40, 900, "LGTM", &at(5))),
    )
    .await;
    assert_eq!((h.status(), h), (202, Handled::Ignored { reason: "pull_request" }));
    assert!(store.list_tasks(p).await.unwrap().is_empty());
    assert_eq!(store.count_rows(Table::Comments).await.unwrap(), 0);
}

async fn a_comment_delivered_before_its_issue_is_not_lost(store: Store) {
    let p = testkit::configured_project(&store, REPO, vec![2, 0, 0]).await;
    // The issue's own `opened` delivery never came (or comes later).
    let the_issue = issue(REPO, 12, "Dark mode", Some("Please"), "open", &at(50));
    let h = deliver(
        &store,
        "issue_comment",
        "c-1",
        &comment_event("created", the_issue.clone(), comment(REPO, 12, 61, "+1", "dee", &at(50), &at(50))),
    )
    .await;
    assert_eq!(comment_result(&h), CommentOutcome::Created);
    let task = the_only_task(&store, p).await;
    assert_eq!(thread(&store, task).await[0].body, "+1");
    // The late `opened` changes nothing more.
    deliver(&store, "issues", "c-0", &json!({"action": "opened", "issue": issue(REPO, 12, "Dark mode", Some("Please"), "open", &at(49)), "repository": repository(REPO)})).await;
    assert_eq!(store.list_tasks(p).await.unwrap().len(), 1);
    assert_eq!(thread(&store, task).await.len(), 1);
}

async fn a_comment_alone_changes_no_task_content(store: Store) {
    let p = testkit::configured_project(&store, REPO, vec![2, 0, 0]).await;
    let the_issue = |i| issue(REPO, 5, "Export to CSV", Some("As a user"), "open", &at(i));
    deliver(
        &store,
        "issues",
        "n-0",
        &json!({"action": "opened", "issue": the_issue(1), "repository": repository(REPO)}),
    )
    .await;
    let task = the_only_task(&store, p).await;
    let before = store.get_task(task).await.unwrap();
    // A local edit waits (no push in a one-way config, but the task differs from its base).
    let patch = ghsync_shared::domain::TaskPatch {
        title: Some("Export to CSV and TSV".into()),
        ..Default::default()
    };
    store.update_task(task, &patch).await.unwrap();
    // The comment moves the issue's updated_at; its content is as it was.
    let h = deliver(
        &store,
        "issue_comment",
        "n-1",
        &comment_event("created", the_issue(9), comment(REPO, 5, 71, "when?", "eve", &at(9), &at(9))),
    )
    .await;
    let Handled::Applied { results } = &h else { panic!("{h:?}") };
    let IssueResult::Comment { issue: outcome, comment } = results[0].result else { panic!("{h:?}") };
    assert_eq!(comment, CommentOutcome::Created);
    assert_ne!(outcome, ghsync_shared::ApplyOutcome::Conflict, "a comment is not a content change");
    let after = store.get_task(task).await.unwrap();
    assert_eq!(after.title, "Export to CSV and TSV", "the local edit stands");
    assert_eq!(after.description, before.description);
    assert!(store.list_conflicts(p, None).await.unwrap().is_empty());
}

// --- the reconcile ------------------------------------------------------------------------

struct World {
    store: Store,
    gh: FakeGitHub,
    rec: Reconciler,
    project: Uuid,
}

async fn world(store: Store) -> World {
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"5c".repeat(32)).unwrap());
    let gh = FakeGitHub::start().await;
    gh.add_repo(REPO, PAT);
    let github = GitHub::new(&gh.url, Duration::from_secs(5)).unwrap();
    let services = Services::new(store.clone(), keys.clone(), github);
    let options = ReconcileOptions { retry_base: Duration::from_millis(5), ..Default::default() };
    let project = testkit::project_with_pat(&store, REPO, &keys, PAT).await;
    World { store, gh, rec: Reconciler::new(services, options), project }
}

impl World {
    async fn run(&self) -> ghsync_shared::domain::SyncHistory {
        let report = self.rec.run_project(self.project).await.unwrap();
        let history = report.history.expect("a history row");
        assert_eq!(history.status, SyncStatus::Success, "{:?}", history.error_message);
        history
    }

    /// Every task's thread, by issue number: the comments' bodies, oldest first.
    async fn threads(&self) -> std::collections::BTreeMap<i64, Vec<String>> {
        let mut all = std::collections::BTreeMap::new();
        for t in self.store.list_tasks(self.project).await.unwrap() {
            let bodies = thread(&self.store, t.task.id).await.into_iter().map(|c| c.body).collect();
            all.insert(t.github.unwrap().issue_number, bodies);
        }
        all
    }

    async fn full_pass_due(&self) {
        sqlx::query("UPDATE github_sync_config SET last_full_pass_at = $1")
            .bind(Timestamp::now().minus(chrono::Duration::days(2)).to_sql())
            .execute(self.store.pool())
            .await
            .unwrap();
    }

    fn requests_to(&self, suffix: &str) -> usize {
        self.gh.requests().iter().filter(|r| r.path.ends_with(suffix)).count()
    }
}

async fn the_reconcile_brings_comments_whose_deliveries_were_dropped(store: Store) {
    let w = world(store).await;
    for n in 1..=3 {
        w.gh.upsert(REPO, issue(REPO, n, &format!("Issue {n}"), None, "open", &at(n)));
    }
    w.gh.upsert_comment(REPO, comment(REPO, 1, 11, "one", "ana", &at(10), &at(10)));
    w.gh.upsert_comment(REPO, comment(REPO, 2, 12, "two", "bo", &at(11), &at(11)));
    w.gh.upsert_comment(REPO, comment(REPO, 1, 13, "three", "cy", &at(12), &at(12)));
    let h = w.run().await;
    assert_eq!((h.comments.fetched, h.comments.created), (3, 3));
    assert_eq!(w.threads().await[&1], ["one", "three"]);
    assert_eq!(w.threads().await[&2], ["two"]);

    // Nothing changed: one conditional request for the issues, one for the comments.
    w.gh.clear_requests();
    let h = w.run().await;
    assert_eq!(h.comments, Default::default());
    let statuses: Vec<u16> = w.gh.requests().iter().map(|r| r.status).collect();
    assert_eq!(statuses, [304, 304], "an unchanged repository costs two conditional requests");

    // Edited and added while no delivery arrived.
    w.gh.upsert_comment(REPO, comment(REPO, 2, 12, "two, edited", "bo", &at(11), &at(20)));
    w.gh.upsert_comment(REPO, comment(REPO, 3, 14, "four", "dee", &at(21), &at(21)));
    let h = w.run().await;
    assert_eq!((h.comments.created, h.comments.updated), (1, 1));
    assert_eq!(w.threads().await[&2], ["two, edited"]);
    assert_eq!(w.threads().await[&3], ["four"]);
}

async fn the_full_pass_finds_comments_deleted_without_a_delivery(store: Store) {
    let w = world(store).await;
    w.gh.upsert(REPO, issue(REPO, 1, "Issue 1", None, "open", &at(1)));
    for id in 1..=3 {
        w.gh.upsert_comment(REPO, comment(REPO, 1, id, &format!("c{id}"), "ana", &at(10 + id), &at(10 + id)));
    }
    w.run().await;
    w.gh.delete_comment(REPO, 2);
    // An incremental run cannot see a deletion.
    w.run().await;
    assert_eq!(w.threads().await[&1], ["c1", "c2", "c3"]);
    w.full_pass_due().await;
    let h = w.run().await;
    assert_eq!(h.comments.deleted, 1, "{h:?}");
    assert_eq!(w.threads().await[&1], ["c1", "c3"]);
    assert_eq!(w.requests_to("/issues/comments/2"), 1, "the missing comment was looked up once");
    assert_eq!(w.requests_to("/issues/comments/1"), 0, "listed comments are not looked up");
    // The tombstone stays: the deletion is not undone by anything later.
    assert_eq!(w.store.count_rows(Table::Comments).await.unwrap(), 3);
}

async fn pull_requests_comments_are_skipped_by_the_listing(store: Store) {
    let w = world(store).await;
    w.gh.upsert(REPO, issue(REPO, 1, "Issue 1", None, "open", &at(1)));
    w.gh.upsert(REPO, pull_request_issue(REPO, 2, "A fix", &at(2)));
    w.gh.upsert_comment(REPO, pull_request_comment(REPO, 2, 21, "LGTM", &at(5)));
    w.gh.upsert_comment(REPO, comment(REPO, 1, 22, "on the issue", "ana", &at(6), &at(6)));
    let h = w.run().await;
    assert_eq!((h.comments.fetched, h.comments.created), (2, 1));
    assert_eq!(w.threads().await.len(), 1);
    assert_eq!(w.threads().await[&1], ["on the issue"]);
    assert_eq!(w.requests_to("/issues/2"), 0, "the pull request was known from the issue listing");
    // A pull request opened (and commented on) right after the next issue probe was answered
    // is read once when its comment is listed, then known.
    let list_requests = w.gh.requests().iter().filter(|r| r.is_list()).count();
    w.gh.after_list_request(
        list_requests + 1,
        Mutation::Upsert { repo: REPO.into(), issue: pull_request_issue(REPO, 3, "Another fix", &at(30)) },
    );
    w.gh.after_list_request(
        list_requests + 1,
        Mutation::UpsertComment {
            repo: REPO.into(),
            comment: pull_request_comment(REPO, 3, 31, "nit", &at(31)),
        },
    );
    w.run().await;
    w.gh.upsert_comment(REPO, pull_request_comment(REPO, 3, 32, "another nit", &at(32)));
    w.run().await;
    assert_eq!(w.requests_to("/issues/3"), 1, "read once, then known as a pull request");
    assert_eq!(w.store.count_rows(Table::Comments).await.unwrap(), 1);
}

async fn a_comment_listed_before_its_issue_is_imported_is_not_lost(store: Store) {
    let w = world(store).await;
    w.gh.upsert(REPO, issue(REPO, 1, "Issue 1", None, "open", &at(1)));
    // Right after the issue listing was answered, a new issue and a comment on it appear:
    // the comment listing shows a comment whose issue ghsync has not imported.
    let new_issue = issue(REPO, 2, "Issue 2", Some("new"), "open", &at(40));
    w.gh.after_list_request(1, Mutation::Upsert { repo: REPO.into(), issue: new_issue });
    w.gh.after_list_request(
        1,
        Mutation::UpsertComment {
            repo: REPO.into(),
            comment: comment(REPO, 2, 41, "first!", "ana", &at(41), &at(41)),
        },
    );
    let h = w.run().await;
    assert_eq!(h.comments.created, 1, "{h:?}");
    assert_eq!(w.threads().await[&2], ["first!"], "the issue was imported first, then its comment");
    assert_eq!(w.requests_to("/issues/2"), 1, "its issue was read once");
    // The next run lists it again in the overlap and changes nothing.
    let h = w.run().await;
    assert_eq!((h.comments.created, h.comments.updated), (0, 0));
}

async fn comments_are_imported_across_runs_cut_by_the_deadline(store: Store) {
    let w = world(store).await;
    let (issues, comments) = (150_i64, 420_i64);
    for n in 1..=issues {
        w.gh.upsert(REPO, issue(REPO, n, &format!("Issue {n}"), None, "open", &at(n)));
    }
    for id in 1..=comments {
        let n = 1 + id % issues;
        w.gh.upsert_comment(
            REPO,
            comment(REPO, n, id, &format!("c{id}"), "ana", &at(1000 + id), &at(1000 + id)),
        );
    }
    // A deadline that has always passed: each run applies one page, then stops.
    let mut runs = 0_i64;
    loop {
        runs += 1;
        let report =
            w.rec.run_project_until(w.project, Deadline::at(std::time::Instant::now())).await.unwrap();
        assert!(report.error.is_none(), "{report:?}");
        if report.complete {
            break;
        }
        assert!(runs < 50, "the import never finished");
    }
    let total: usize = w.threads().await.values().map(Vec::len).sum();
    assert_eq!(total, comments as usize, "every comment arrived once");
    let lists =
        w.gh.requests().iter().filter(|r| r.method == "GET" && !r.path.contains("/comments/")).count();
    let pages = (issues + 99) / 100 + (comments + 99) / 100;
    assert!(lists as i64 <= pages + 2 * runs, "{lists} requests for {pages} pages in {runs} runs");
}

async fn a_comment_deleted_while_the_listing_pages_hides_no_other(store: Store) {
    let w = world(store).await;
    w.gh.upsert(REPO, issue(REPO, 1, "Issue 1", None, "open", &at(1)));
    for id in 1..=250 {
        w.gh.upsert_comment(
            REPO,
            comment(REPO, 1, id, &format!("c{id}"), "ana", &at(100 + id), &at(100 + id)),
        );
    }
    // The first page of comments is answered, and before the second is asked for, a comment
    // of the first page is deleted: an offset's next page would start one comment too late.
    let mut held = w.gh.hold_request("GET", "/issues/comments", HoldWhen::AfterServing);
    let run = tokio::spawn({
        let rec = w.rec.clone();
        let project = w.project;
        async move { rec.run_project(project).await.unwrap() }
    });
    held.arrived().await;
    w.gh.delete_comment(REPO, 5);
    held.release();
    let report = run.await.unwrap();
    assert!(report.complete, "{report:?}");
    let thread = &w.threads().await[&1];
    // Every comment listed after the deletion is there (c5 came with the first page).
    assert_eq!(thread.len(), 250, "{} comments", thread.len());
    assert!(thread.contains(&"c101".to_string()) && thread.contains(&"c250".to_string()));
}

async fn a_deleted_issue_keeps_its_thread_through_the_full_pass(store: Store) {
    let w = world(store).await;
    w.gh.upsert(REPO, issue(REPO, 1, "Issue 1", None, "open", &at(1)));
    w.gh.upsert(REPO, issue(REPO, 2, "Issue 2", None, "open", &at(2)));
    w.gh.upsert_comment(REPO, comment(REPO, 1, 11, "kept", "ana", &at(10), &at(10)));
    w.gh.upsert_comment(REPO, comment(REPO, 2, 21, "on two", "ana", &at(11), &at(11)));
    w.run().await;
    // The issue goes (its comments with it) and its delivery is lost; a full pass is due.
    w.gh.mutate(Mutation::Delete { repo: REPO.into(), number: 1 });
    w.gh.delete_comment(REPO, 11);
    w.full_pass_due().await;
    let h = w.run().await;
    assert_eq!(h.comments.deleted, 0, "{h:?}");
    assert_eq!(w.threads().await[&1], ["kept"], "a gone issue keeps its task, and its task its thread");
    let tasks = w.store.list_tasks(w.project).await.unwrap();
    let one = tasks.iter().find(|t| t.github.as_ref().unwrap().issue_number == 1).unwrap();
    assert_eq!(one.github.as_ref().unwrap().remote_state, ghsync_shared::domain::RemoteState::Deleted);
    assert_eq!(w.threads().await[&2], ["on two"]);
}

async fn a_comment_whose_issue_cannot_be_imported_pins_nothing(store: Store) {
    let w = world(store).await;
    w.gh.upsert(REPO, issue(REPO, 1, "Issue 1", None, "open", &at(1)));
    // Issue 2 GitHub shows malformed (a blank title): its comment cannot be placed.
    let mut blank = issue(REPO, 2, "x", None, "open", &at(2));
    blank["title"] = json!("");
    w.gh.upsert(REPO, blank);
    w.gh.upsert_comment(REPO, comment(REPO, 2, 1, "on a malformed issue", "ana", &at(10), &at(10)));
    for id in 2..=150 {
        w.gh.upsert_comment(REPO, comment(REPO, 1, id, &format!("c{id}"), "ana", &at(10 + id), &at(10 + id)));
    }
    let h = w.run().await;
    assert_eq!(h.comments.created, 149, "{h:?}");
    assert!(h.error_message.as_deref().unwrap_or("").contains("comment 1"), "named: {h:?}");
    // Left out, not holding the watermark: the next run lists only the overlap.
    w.gh.clear_requests();
    w.run().await;
    let pages = w.gh.requests().iter().filter(|r| r.path.ends_with("/issues/comments")).count();
    assert_eq!(pages, 1, "one conditional request: nothing pins the listing");
}

async fn a_same_second_edit_by_delivery_is_left_to_the_next_reconcile(store: Store) {
    let w = world(store).await;
    let the_issue = issue(REPO, 1, "Issue 1", None, "open", &at(1));
    w.gh.upsert(REPO, the_issue.clone());
    w.gh.upsert_comment(REPO, comment(REPO, 1, 11, "a", "ana", &at(10), &at(10)));
    w.gh.upsert_comment(REPO, comment(REPO, 1, 12, "late", "ana", &at(2000), &at(2000)));
    w.run().await;
    // GitHub holds "b" with the same updated_at as the "a" applied; a delivery says so.
    w.gh.upsert_comment(REPO, comment(REPO, 1, 11, "b", "ana", &at(10), &at(10)));
    let h = deliver(
        &w.store,
        "issue_comment",
        "amb-1",
        &comment_event("edited", the_issue, comment(REPO, 1, 11, "b", "ana", &at(10), &at(10))),
    )
    .await;
    assert_eq!(comment_result(&h), CommentOutcome::Ambiguous);
    assert_eq!(w.threads().await[&1], ["a", "late"], "a delivery does not decide at an equal time");
    // The next reconcile lists the comments from just before that time again: GitHub decides.
    w.run().await;
    assert_eq!(w.threads().await[&1], ["b", "late"]);
}

async fn a_run_on_the_old_repository_writes_nothing_after_a_switch(store: Store) {
    let w = world(store).await;
    w.gh.upsert(REPO, issue(REPO, 1, "Issue 1", None, "open", &at(1)));
    w.gh.upsert(REPO, pull_request_issue(REPO, 2, "A fix", &at(2)));
    w.gh.upsert_comment(REPO, comment(REPO, 1, 11, "old", "ana", &at(10), &at(10)));
    // The run has listed the old repository's issues and asks for its comments; meanwhile the
    // config moves to another repository.
    let mut held = w.gh.hold_request("GET", "/issues/comments", HoldWhen::BeforeServing);
    let run = tokio::spawn({
        let rec = w.rec.clone();
        let project = w.project;
        async move { rec.run_project(project).await.unwrap() }
    });
    held.arrived().await;
    testkit::switch_repo(&w.store, w.project, "acme/gadgets").await;
    held.release();
    let report = run.await.unwrap();
    assert!(report.error.as_deref().unwrap_or("").contains("claim"), "{report:?}");
    // Nothing of the old repository's comment listing landed in the new one's state.
    let (watermark, pass_listed): (Option<String>, i64) = sqlx::query_as(
        "SELECT comments_watermark, comments_pass_listed FROM github_sync_config WHERE project_id = $1",
    )
    .bind(w.project.to_string())
    .fetch_one(w.store.pool())
    .await
    .unwrap();
    assert_eq!((watermark, pass_listed), (None, 0));
    assert_eq!(w.store.count_rows(Table::Comments).await.unwrap(), 0);
}

async fn a_rereads_lower_watermark_outlives_a_run_in_progress(store: Store) {
    let w = world(store).await;
    let the_issue = issue(REPO, 1, "Issue 1", None, "open", &at(1));
    w.gh.upsert(REPO, the_issue.clone());
    w.gh.upsert_comment(REPO, comment(REPO, 1, 11, "a", "ana", &at(10), &at(10)));
    w.gh.upsert_comment(REPO, comment(REPO, 1, 12, "late", "ana", &at(2000), &at(2000)));
    w.run().await;
    // Newer comments to list, and no probe: the next run lists a page and checkpoints it.
    w.gh.upsert_comment(REPO, comment(REPO, 1, 13, "newer", "bo", &at(3000), &at(3000)));
    sqlx::query("UPDATE github_sync_config SET comments_probe_url = NULL, comments_probe_etag = NULL")
        .execute(w.store.pool())
        .await
        .unwrap();
    // While that run waits for its page, a delivery of a same-second edit asks for a re-read.
    let mut held = w.gh.hold_request("GET", "/issues/comments", HoldWhen::AfterServing);
    let run = tokio::spawn({
        let rec = w.rec.clone();
        let project = w.project;
        async move { rec.run_project(project).await.unwrap() }
    });
    held.arrived().await;
    w.gh.upsert_comment(REPO, comment(REPO, 1, 11, "b", "ana", &at(10), &at(10)));
    let edited = comment_event("edited", the_issue, comment(REPO, 1, 11, "b", "ana", &at(10), &at(10)));
    assert_eq!(
        comment_result(&deliver(&w.store, "issue_comment", "amb-2", &edited).await),
        CommentOutcome::Ambiguous
    );
    held.release();
    run.await.unwrap();
    // The run's checkpoint did not raise the watermark back over the comment: the next run
    // reads it, and GitHub decides.
    w.run().await;
    assert_eq!(w.threads().await[&1], ["b", "late", "newer"]);
}
