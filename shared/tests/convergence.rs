//! Convergence property tests: random histories of GitHub changes interleaved with local
//! edits, their webhook deliveries dropped, duplicated and reordered, then one reconcile.
//!
//! One-way: afterwards the board must equal GitHub wherever nobody edited locally, keep
//! every local edit, hold exactly one pending conflict wherever both sides changed
//! differently, and a second reconcile must change nothing.
//!
//! Two-way: local edits are pushed as the API does (some at once, some failing transiently,
//! some left in the outbox), and GitHub's echo of each push is delivered with the rest.
//! After the outbox is drained and one reconcile, the board equals GitHub for every task
//! except the pending conflicts, the newest edit of either side is what both hold, a pending
//! conflict keeps the newest edit of each side, and a second reconcile writes nothing.
//!
//! Comments: random histories of GitHub comments (created, edited, deleted, on issues old and
//! new and on a pull request), their `issue_comment` deliveries dropped, duplicated and
//! reordered, then one reconcile: every task's thread holds exactly its issue's comments on
//! GitHub, and a second reconcile changes nothing.
//!
//! All run on both backends; `GHSYNC_CONVERGENCE_CASES` (default 12) sets how many random
//! histories each gets.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ghsync_shared::Store;
use ghsync_shared::crypto::{KeyProvider, LocalKeys, Secret};
use ghsync_shared::domain::{ConflictStatus, Content, RemoteState, TaskPatch, TaskStatus};
use ghsync_shared::github::GitHub;
use ghsync_shared::services::Services;
use ghsync_shared::services::reconcile::{ReconcileOptions, Reconciler};
use serde_json::{Value, json};
use testkit::fixtures::{issue, issues_event, repository};
use testkit::github::{FakeGitHub, Mutation};
use testkit::{Rng, both_backends, cases};

const REPO: &str = "acme/widgets";
const ELSEWHERE: &str = "acme/elsewhere";
const PAT: &str = "ghp_convergenceToken000000001";
const SECRET: &str = "convergence-secret";

#[derive(Clone, Debug, PartialEq)]
enum Gone {
    Deleted,
    Transferred,
}

/// GitHub's side, as the test drives it.
#[derive(Clone, Debug)]
struct Issue {
    content: Content,
    state: &'static str,
    gone: Option<Gone>,
    /// Content changes made on GitHub after the first sync.
    remote_edits: u32,
}

fn at(t: i64) -> String {
    let t =
        chrono::DateTime::parse_from_rfc3339("2026-02-01T00:00:00Z").unwrap() + chrono::Duration::seconds(t);
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn status_of(state: &str) -> TaskStatus {
    match state {
        "completed" => TaskStatus::Done,
        "not_planned" => TaskStatus::Cancelled,
        _ => TaskStatus::Todo,
    }
}

struct World {
    store: Store,
    gh: FakeGitHub,
    reconciler: Reconciler,
    project: uuid::Uuid,
    issues: BTreeMap<i64, Issue>,
    clock: i64,
    deliveries: Vec<(String, Value)>,
}

impl World {
    fn snapshot(&self, n: i64) -> Value {
        let i = &self.issues[&n];
        issue(REPO, n, &i.content.title, i.content.description.as_deref(), i.state, &at(self.clock))
    }

    /// Changes GitHub (issue `n` now as in `self.issues`) and queues the delivery.
    fn publish(&mut self, action: &str, n: i64, extra: Value) {
        self.clock += 1;
        let snapshot = self.snapshot(n);
        self.gh.upsert(REPO, snapshot.clone());
        self.queue(action, snapshot, extra);
    }

    fn queue(&mut self, action: &str, snapshot: Value, extra: Value) {
        let id = format!("d-{}-{}", self.clock, self.deliveries.len());
        self.deliveries.push((id, issues_event(action, snapshot, REPO, extra)));
    }

    async fn deliver(&self, id: &str, payload: &Value) {
        let event = if payload.get("comment").is_some() { "issue_comment" } else { "issues" };
        testkit::deliver(&self.store, SECRET, event, id, payload).await.unwrap();
    }

    /// Delivers the queued deliveries with some dropped, some duplicated, all shuffled.
    async fn deliver_chaotically(&mut self, rng: &mut Rng) {
        let batch = rng.chaotic(self.deliveries.drain(..));
        for (id, payload) in &batch {
            self.deliver(id, payload).await;
        }
    }

    /// Phase 1 of a history: issues 1..=count opened, delivered chaotically, then a
    /// reconcile: both sides agree. The tasks by issue number.
    async fn import(&mut self, count: i64, rng: &mut Rng) -> BTreeMap<i64, uuid::Uuid> {
        for n in 1..=count {
            let content = Content::new(format!("Issue {n}"), Some(format!("Body {n}"))).unwrap();
            self.issues.insert(n, Issue { content, state: "open", gone: None, remote_edits: 0 });
            self.publish("opened", n, json!({}));
        }
        self.deliver_chaotically(rng).await;
        self.reconcile().await;
        let tasks = self.store.list_tasks(self.project).await.unwrap();
        tasks.into_iter().map(|t| (t.github.unwrap().issue_number, t.task.id)).collect()
    }

    /// A second reconcile after convergence changes nothing on the board.
    async fn reconcile_changes_nothing(&self, board: &[ghsync_shared::domain::TaskWithLink], seed: u64) {
        let again = self.reconcile().await;
        let changed = (again.tasks_created, again.tasks_updated, again.conflicts_detected);
        assert_eq!(changed, (0, 0, 0), "seed {seed}");
        assert_eq!(
            self.store.list_tasks(self.project).await.unwrap(),
            board,
            "seed {seed}: second reconcile"
        );
    }

    async fn reconcile(&self) -> ghsync_shared::domain::SyncHistory {
        let report = self.reconciler.run_project(self.project).await.unwrap();
        let history = report.history.unwrap();
        assert_eq!(history.status, ghsync_shared::domain::SyncStatus::Success, "{:?}", history.error_message);
        history
    }
}

both_backends!(
    random_histories_converge,
    random_two_way_histories_converge,
    random_comment_histories_converge
);

/// Every run a full pass, so one reconcile also finds deleted and transferred issues.
fn full_passes() -> ReconcileOptions {
    ReconcileOptions { full_pass_every: chrono::Duration::zero(), ..Default::default() }
}

async fn random_histories_converge(store: Store) {
    for seed in 1..=cases() {
        // Each case on a fresh project of the same database.
        one_history(store.clone(), seed).await;
    }
}

async fn one_history(store: Store, seed: u64) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x1000_0000_01B3));
    let mut w = world_of(store).await;
    let project = w.project;

    // Phase 1: some issues, delivered chaotically, then a reconcile: both sides agree.
    let first = 3 + rng.below(5) as i64;
    let tasks = w.import(first, &mut rng).await;
    let base: BTreeMap<i64, Content> = w.issues.iter().map(|(n, i)| (*n, i.content.clone())).collect();
    assert_eq!(tasks.len() as i64, first, "seed {seed}: phase 1 converged");

    // Phase 2: GitHub changes and local edits interleaved; deliveries held back.
    let mut local: BTreeMap<i64, Content> = BTreeMap::new();
    let steps = 10 + rng.below(20);
    for _ in 0..steps {
        let live: Vec<i64> = w.issues.iter().filter(|(_, i)| i.gone.is_none()).map(|(n, _)| *n).collect();
        let pick = |rng: &mut Rng| live[rng.below(live.len() as u64) as usize];
        match rng.below(8) {
            0 => {
                let n = w.issues.len() as i64 + 1;
                let content = Content::new(format!("New {n}"), None).unwrap();
                w.issues.insert(n, Issue { content, state: "open", gone: None, remote_edits: 0 });
                w.publish("opened", n, json!({}));
            }
            1 | 2 if !live.is_empty() => {
                let n = pick(&mut rng);
                // A locally edited issue changes content on GitHub at most once, so the
                // expected conflict depends only on the final remote content.
                if local.contains_key(&n) && w.issues[&n].remote_edits > 0 {
                    continue;
                }
                let content = match (local.get(&n), rng.below(10)) {
                    (Some(l), 0..=2) => l.clone(), // converges with the local edit
                    (_, 3..=4) if base.contains_key(&n) => base[&n].clone(), // reverts to the base
                    _ => {
                        Content::new(format!("Remote {n} at {}", w.clock), Some(format!("r{}", rng.below(3))))
                            .unwrap()
                    }
                };
                let i = w.issues.get_mut(&n).unwrap();
                i.content = content;
                i.remote_edits += 1;
                w.publish("edited", n, json!({}));
            }
            3 if !live.is_empty() => {
                let n = pick(&mut rng);
                let state = if rng.chance(50) { "completed" } else { "not_planned" };
                w.issues.get_mut(&n).unwrap().state = state;
                w.publish("closed", n, json!({}));
            }
            4 if !live.is_empty() => {
                let n = pick(&mut rng);
                w.issues.get_mut(&n).unwrap().state = "reopened";
                w.publish("reopened", n, json!({}));
            }
            5 if !live.is_empty() && rng.chance(50) => {
                let n = pick(&mut rng);
                w.clock += 1;
                let snapshot = w.snapshot(n);
                w.gh.mutate(Mutation::Delete { repo: REPO.into(), number: n });
                w.issues.get_mut(&n).unwrap().gone = Some(Gone::Deleted);
                w.queue("deleted", snapshot, json!({}));
            }
            6 if !live.is_empty() && rng.chance(50) => {
                let n = pick(&mut rng);
                w.clock += 1;
                let snapshot = w.snapshot(n);
                let to = 100 + n;
                w.gh.mutate(Mutation::Transfer {
                    repo: REPO.into(),
                    number: n,
                    to_repo: ELSEWHERE.into(),
                    to_number: to,
                    updated_at: at(w.clock),
                });
                let i = &w.issues[&n];
                let moved = issue(
                    ELSEWHERE,
                    to,
                    &i.content.title,
                    i.content.description.as_deref(),
                    i.state,
                    &at(w.clock),
                );
                w.issues.get_mut(&n).unwrap().gone = Some(Gone::Transferred);
                w.queue(
                    "transferred",
                    snapshot,
                    json!({"changes": {"new_issue": moved, "new_repository": repository(ELSEWHERE)}}),
                );
            }
            _ => {
                // A local edit of a task from phase 1.
                let candidates: Vec<i64> = tasks.keys().copied().collect();
                let n = candidates[rng.below(candidates.len() as u64) as usize];
                let content = Content::new(
                    format!("Local {n} #{}", w.clock),
                    Some(format!("mine {}", rng.below(1000))),
                )
                .unwrap();
                let patch = TaskPatch {
                    title: Some(content.title.clone()),
                    description: ghsync_shared::domain::Nullable::Set(content.description.clone().unwrap()),
                    ..TaskPatch::default()
                };
                w.store.update_task(tasks[&n], &patch).await.unwrap();
                local.insert(n, content);
            }
        }
    }
    w.deliver_chaotically(&mut rng).await;
    w.reconcile().await;

    // What the board must show.
    let board = w.store.list_tasks(project).await.unwrap();
    let pending = w.store.list_conflicts(project, Some(ConflictStatus::Pending)).await.unwrap();
    let pending_tasks: BTreeSet<uuid::Uuid> = pending.iter().map(|c| c.task_id).collect();
    assert_eq!(pending_tasks.len(), pending.len(), "seed {seed}: at most one pending conflict per task");
    let by_number: BTreeMap<i64, Vec<&ghsync_shared::domain::TaskWithLink>> =
        board.iter().fold(BTreeMap::new(), |mut m, t| {
            m.entry(t.github.as_ref().unwrap().issue_number).or_insert_with(Vec::new).push(t);
            m
        });
    for (n, i) in &w.issues {
        let found = by_number.get(n).map(Vec::as_slice).unwrap_or(&[]);
        assert!(found.len() <= 1, "seed {seed}: issue {n} has {} tasks", found.len());
        let Some(task) = found.first() else {
            assert!(i.gone.is_some(), "seed {seed}: live issue {n} has no task");
            continue;
        };
        let link = task.github.as_ref().unwrap();
        if let Some(gone) = &i.gone {
            let want = if *gone == Gone::Deleted { RemoteState::Deleted } else { RemoteState::Transferred };
            assert_eq!(link.remote_state, want, "seed {seed}: issue {n}");
            continue;
        }
        let conflicted = pending_tasks.contains(&task.task.id);
        match local.get(n) {
            None => {
                assert_eq!(task.task.content(), i.content, "seed {seed}: issue {n} equals GitHub");
                assert_eq!(task.task.status, status_of(i.state), "seed {seed}: issue {n} status");
                assert!(!conflicted, "seed {seed}: issue {n} has no local edit, no conflict");
            }
            Some(l) => {
                assert_eq!(&task.task.content(), l, "seed {seed}: issue {n}: the local edit is kept");
                let both_changed = i.content != base[n] && i.content != *l;
                assert_eq!(
                    conflicted, both_changed,
                    "seed {seed}: issue {n}: a pending conflict iff both sides changed differently"
                );
                if !conflicted {
                    assert_eq!(task.task.status, status_of(i.state), "seed {seed}: issue {n} status");
                }
            }
        }
    }

    w.reconcile_changes_nothing(&board, seed).await;
}

async fn random_comment_histories_converge(store: Store) {
    for seed in 1..=cases() {
        comment_history(store.clone(), seed).await;
    }
}

/// A world whose config every test history syncs: a fresh project on `store`, a fresh
/// GitHub stand-in, every run a full pass.
async fn world_of(store: Store) -> World {
    let gh = FakeGitHub::start().await;
    gh.add_repo(REPO, PAT);
    gh.add_repo(ELSEWHERE, PAT);
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"c0".repeat(32)).unwrap());
    let project = testkit::configured_project(&store, REPO, Vec::new()).await;
    let blob = keys.seal(project, &Secret::new(PAT)).await.unwrap();
    sqlx::query("UPDATE github_sync_config SET encrypted_pat = $1 WHERE project_id = $2")
        .bind(blob)
        .bind(project.to_string())
        .execute(store.pool())
        .await
        .unwrap();
    let github = GitHub::new(&gh.url, Duration::from_secs(5)).unwrap();
    let options = ReconcileOptions { retry_base: Duration::from_millis(1), ..full_passes() };
    let reconciler = Reconciler::new(Services::new(store.clone(), keys, github), options);
    World { store, gh, reconciler, project, issues: BTreeMap::new(), clock: 0, deliveries: Vec::new() }
}

/// The threads as the board holds them, by issue number: (comment id, body), oldest first.
async fn board_threads(w: &World) -> BTreeMap<i64, Vec<(i64, String)>> {
    let mut threads = BTreeMap::new();
    for t in w.store.list_tasks(w.project).await.unwrap() {
        let page = ghsync_shared::paging::PageRequest::everything();
        let thread: Vec<(i64, String)> = w
            .store
            .task_comments(t.task.id, &page)
            .await
            .unwrap()
            .into_iter()
            .map(|c| (c.github.expect("a GitHub comment").comment_id, c.body))
            .collect();
        if !thread.is_empty() {
            threads.insert(t.github.unwrap().issue_number, thread);
        }
    }
    threads
}

async fn comment_history(store: Store, seed: u64) {
    use testkit::fixtures::{comment, pull_request_comment, pull_request_issue};
    let mut rng = Rng(0xC0FF_EE00_1234_5678 ^ seed.wrapping_mul(0x1000_0000_01B3));
    let mut w = world_of(store).await;
    let first = 2 + rng.below(3) as i64;
    w.import(first, &mut rng).await;
    const PR: i64 = 90;
    w.clock += 1;
    w.gh.upsert(REPO, pull_request_issue(REPO, PR, "A change", &at(w.clock)));

    // GitHub's comments as the test drives them: id → (issue, created, the comment JSON).
    let mut comments: BTreeMap<i64, (i64, i64, Value)> = BTreeMap::new();
    let mut next_id = 1000;
    let steps = 15 + rng.below(25);
    for _ in 0..steps {
        w.clock += 1;
        let numbers: Vec<i64> = w.issues.keys().copied().collect();
        match rng.below(10) {
            // A new issue, commented on at once (its comment may arrive before it).
            0 => {
                let n = w.issues.len() as i64 + 1;
                let content = Content::new(format!("New {n}"), None).unwrap();
                w.issues.insert(n, Issue { content, state: "open", gone: None, remote_edits: 0 });
                w.publish("opened", n, json!({}));
            }
            // On the pull request: never the board's.
            1 => {
                next_id += 1;
                let c = pull_request_comment(REPO, PR, next_id, "nit", &at(w.clock));
                w.gh.upsert_comment(REPO, c.clone());
                let pr = w.gh.issue(REPO, PR).unwrap();
                let id = format!("c-{}-{}", w.clock, w.deliveries.len());
                w.deliveries.push((
                    id,
                    json!({"action": "created", "issue": pr, "comment": c, "repository": repository(REPO)}),
                ));
            }
            // Edited or deleted.
            2..=4 if !comments.is_empty() => {
                let ids: Vec<i64> = comments.keys().copied().collect();
                let id = ids[rng.below(ids.len() as u64) as usize];
                let (n, created, _) = comments[&id].clone();
                let (action, c) = if rng.chance(40) {
                    w.gh.delete_comment(REPO, id);
                    let (_, _, c) = comments.remove(&id).unwrap();
                    ("deleted", c)
                } else {
                    let body = format!("edited {id} at {}", w.clock);
                    let c = comment(REPO, n, id, &body, "ana", &at(created), &at(w.clock));
                    w.gh.upsert_comment(REPO, c.clone());
                    comments.insert(id, (n, created, c.clone()));
                    ("edited", c)
                };
                let issue = w.gh.issue(REPO, n).unwrap();
                let did = format!("c-{}-{}", w.clock, w.deliveries.len());
                w.deliveries.push((
                    did,
                    json!({"action": action, "issue": issue, "comment": c, "repository": repository(REPO)}),
                ));
            }
            // Created.
            _ => {
                let n = numbers[rng.below(numbers.len() as u64) as usize];
                next_id += 1;
                let body = format!("comment {next_id} on {n}");
                let c = comment(REPO, n, next_id, &body, "bo", &at(w.clock), &at(w.clock));
                w.gh.upsert_comment(REPO, c.clone());
                comments.insert(next_id, (n, w.clock, c.clone()));
                let issue = w.gh.issue(REPO, n).unwrap();
                let did = format!("c-{}-{}", w.clock, w.deliveries.len());
                w.deliveries.push((did, json!({"action": "created", "issue": issue, "comment": c, "repository": repository(REPO)})));
            }
        }
    }
    w.deliver_chaotically(&mut rng).await;
    w.reconcile().await;

    let mut want: BTreeMap<i64, Vec<(i64, String)>> = BTreeMap::new();
    let mut by_creation: Vec<(i64, i64, i64, String)> = comments
        .iter()
        .map(|(id, (n, created, c))| (*created, *id, *n, c["body"].as_str().unwrap().to_string()))
        .collect();
    by_creation.sort();
    for (_, id, n, body) in by_creation {
        want.entry(n).or_default().push((id, body));
    }
    assert_eq!(board_threads(&w).await, want, "seed {seed}: the threads hold exactly GitHub's comments");
    let again = w.reconcile().await;
    assert_eq!(
        (again.comments.created, again.comments.updated, again.comments.deleted),
        (0, 0, 0),
        "seed {seed}: a second reconcile changes no comment"
    );
    assert_eq!(board_threads(&w).await, want, "seed {seed}: after a second reconcile");
}

async fn random_two_way_histories_converge(store: Store) {
    // `GHSYNC_CONVERGENCE_SEED` replays one case.
    let only: Option<u64> = std::env::var("GHSYNC_CONVERGENCE_SEED").ok().and_then(|s| s.parse().ok());
    for seed in (1..=cases()).filter(|seed| only.is_none_or(|o| o == *seed)) {
        two_way_history(store.clone(), seed).await;
    }
}

/// The newest change of one side to an issue's content, by step.
#[derive(Clone, Debug)]
struct Edit {
    content: Content,
    step: usize,
}

fn state_of(status: TaskStatus) -> &'static str {
    match status {
        TaskStatus::Done => "completed",
        TaskStatus::Cancelled => "not_planned",
        _ => "open",
    }
}

/// GitHub's state of an issue object as the fixtures name it.
fn fixture_state(issue: &Value) -> &'static str {
    match (issue["state"].as_str(), issue["state_reason"].as_str()) {
        (Some("closed"), Some("not_planned")) => "not_planned",
        (Some("closed"), _) => "completed",
        _ => "open",
    }
}

fn content_of(issue: &Value) -> Content {
    Content::new(issue["title"].as_str().unwrap(), issue["body"].as_str().map(str::to_string)).unwrap()
}

/// The last change of an issue's state by one side, by step.
#[derive(Clone, Copy, Debug)]
struct StateEdit {
    state: &'static str,
    step: usize,
}

/// A push started as the API does, whose read GitHub answers slower than its claim lasts:
/// held until a later step releases it.
struct SlowPush {
    held: testkit::github::Held,
    push: tokio::task::JoinHandle<ghsync_shared::contract::Pushed>,
}

async fn two_way_history(store: Store, seed: u64) {
    use ghsync_shared::contract::Pushed;
    use testkit::github::{Fault, HoldWhen};

    let mut rng = Rng(0xD1B5_4A32_D192_ED03 ^ seed.wrapping_mul(0x1000_0000_01B3));
    let gh = FakeGitHub::start().await;
    gh.add_repo(REPO, PAT);
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"c1".repeat(32)).unwrap());
    let project = testkit::project_with_pat(&store, REPO, &keys, PAT).await;
    // One attempt per request: a queued fault is a failed push.
    let github = GitHub::new(&gh.url, Duration::from_secs(5))
        .unwrap()
        .with_retries(ghsync_shared::github::Retries { attempts: 1, base: Duration::from_millis(1) });
    let services = Services::new(store.clone(), keys.clone(), github);
    let options = ReconcileOptions { attempts: 1, retry_base: Duration::from_millis(1), ..full_passes() };
    let reconciler = Reconciler::new(services.clone(), options);
    let mut w =
        World { store, gh, reconciler, project, issues: BTreeMap::new(), clock: 0, deliveries: Vec::new() };

    // Phase 1: issues imported, then two-way sync on.
    let first = 3 + rng.below(4) as i64;
    let tasks = w.import(first, &mut rng).await;
    testkit::set_two_way(&w.store, project, true).await;

    // Phase 2: edits of both sides (content, column, state, close reason); pushes as the API
    // makes them, meeting a GitHub that fails, lags, loses answers and answers slower than a
    // claim; two-way turned off and on; the token revoked and restored.
    let mut local: BTreeMap<i64, Edit> = BTreeMap::new();
    let mut remote: BTreeMap<i64, Edit> = BTreeMap::new();
    let mut local_state: BTreeMap<i64, StateEdit> = BTreeMap::new();
    // Every state the board moved each task to.
    let mut moved_to: BTreeMap<i64, BTreeSet<&'static str>> = BTreeMap::new();
    let mut remote_state: BTreeMap<i64, StateEdit> = BTreeMap::new();
    let mut edited_local: BTreeSet<i64> = BTreeSet::new();
    let mut edited_remote: BTreeSet<i64> = BTreeSet::new();
    let mut gone: BTreeSet<i64> = BTreeSet::new();
    let mut slow: Option<SlowPush> = None;
    let (mut two_way, mut revoked) = (true, false);
    let steps = 12 + rng.below(24) as usize;
    for step in 0..steps {
        let n = 1 + rng.below(first as u64) as i64;
        if rng.chance(6) {
            // Two-way off (waiting edits park), or on again (the offer accepted).
            two_way = !two_way;
            testkit::set_two_way(&w.store, project, two_way).await;
            if two_way {
                w.store.accept_offer(project).await.unwrap();
            }
            continue;
        }
        if rng.chance(5) {
            // The token loses the right to write, or gets it back and is saved again.
            revoked = !revoked;
            if revoked {
                w.gh.set_read_only(PAT);
            } else {
                w.gh.set_writable(PAT);
                testkit::save_pat(&w.store, project, REPO, &keys, PAT).await;
            }
            continue;
        }
        if let Some(s) = slow.take_if(|_| rng.chance(30)) {
            s.held.release();
            s.push.await.unwrap();
        }
        if gone.contains(&n) {
            continue;
        }
        let on_github = w.gh.issue(REPO, n).expect("a live issue");
        match rng.below(10) {
            // Someone edits the issue on GitHub: its content, or its state (close, reopen, or
            // another close reason).
            0..=2 => {
                let mut edited = on_github.clone();
                if rng.chance(60) {
                    let content =
                        Content::new(format!("Remote {n} @{step}"), Some(format!("r{}", rng.below(3))))
                            .unwrap();
                    edited["title"] = json!(content.title);
                    edited["body"] = json!(content.description);
                    remote.insert(n, Edit { content, step });
                } else {
                    let state = match (fixture_state(&on_github), rng.below(3)) {
                        ("open", 0) => "not_planned",
                        ("open", _) => "completed",
                        (closed, 0) => {
                            if closed == "completed" {
                                "not_planned"
                            } else {
                                "completed"
                            }
                        }
                        _ => "open",
                    };
                    let (gh_state, reason) = match state {
                        "open" => ("open", json!("reopened")),
                        closed => ("closed", json!(closed)),
                    };
                    edited["state"] = json!(gh_state);
                    edited["state_reason"] = reason;
                    remote_state.insert(n, StateEdit { state, step });
                }
                edited_remote.insert(n);
                edited["updated_at"] = json!(w.gh.next_write_time(REPO));
                w.gh.upsert(REPO, edited.clone());
                w.queue(if edited["state"] == "open" { "edited" } else { "closed" }, edited, json!({}));
            }
            3 if rng.chance(25) => {
                w.gh.mutate(Mutation::Delete { repo: REPO.into(), number: n });
                gone.insert(n);
                w.queue("deleted", on_github, json!({}));
            }
            // A local edit of content or column, pushed as the API does.
            _ => {
                let before = w.store.get_task(tasks[&n]).await.unwrap();
                let patch = if rng.chance(60) {
                    let content =
                        Content::new(format!("Local {n} @{step}"), Some(format!("mine {}", rng.below(1000))))
                            .unwrap();
                    local.insert(n, Edit { content: content.clone(), step });
                    TaskPatch {
                        title: Some(content.title),
                        description: ghsync_shared::domain::Nullable::Set(content.description.unwrap()),
                        ..TaskPatch::default()
                    }
                } else {
                    let status = TaskStatus::ALL[rng.below(TaskStatus::ALL.len() as u64) as usize];
                    if state_of(status) != state_of(before.status) {
                        local_state.insert(n, StateEdit { state: state_of(status), step });
                        moved_to.entry(n).or_default().insert(state_of(status));
                    }
                    TaskPatch { status: Some(status), ..Default::default() }
                };
                edited_local.insert(n);
                w.store.update_task(tasks[&n], &patch).await.unwrap();
                if !two_way {
                    continue;
                }
                match rng.below(12) {
                    0..=4 => {}
                    // GitHub fails the read: the edit stays in the outbox.
                    5 => w.gh.push_read_fault(Fault::status(502, r#"{"message":"Bad Gateway"}"#)),
                    // GitHub takes the write and its answer is lost.
                    6 => w.gh.lose_write_answers(1),
                    // The board has GitHub's newest (its webhook came), and a lagging replica
                    // answers the read with the version before it. (A replica that answers
                    // the very version the board has, while GitHub has a newer one, cannot be
                    // told from a current answer: docs/two-way.md, "The window left".)
                    7 => {
                        let current = w.gh.issue(REPO, n).unwrap();
                        let id = format!("lag-{project}-{step}");
                        w.deliver(&id, &issues_event("edited", current, REPO, json!({}))).await;
                        w.gh.lag_reads(REPO, n, 1);
                    }
                    // The read is answered slower than the claim lasts (one at a time).
                    8 if slow.is_none() => {
                        let mut held =
                            w.gh.hold_request("GET", &format!("/issues/{n}"), HoldWhen::AfterServing);
                        let (pusher, task) = (services.clone(), tasks[&n]);
                        let mut push = tokio::spawn(async move { pusher.push_task(task).await.unwrap() });
                        tokio::select! {
                            () = held.arrived() => {
                                expire_claims(&w.store).await;
                                slow = Some(SlowPush { held, push });
                            }
                            // Nothing to read (nothing to send, or parked): no hold is left behind.
                            done = &mut push => {
                                done.unwrap();
                                w.gh.clear_holds();
                            }
                        }
                        continue;
                    }
                    // The request's budget ran out before the push.
                    _ => continue,
                }
                let pushed = services.push_task(tasks[&n]).await.unwrap();
                // A push with nothing to send asks nothing: its fault is not left for later.
                w.gh.clear_faults();
                if pushed == Pushed::Sent {
                    // GitHub's webhook for ghsync's own edit.
                    let echo = w.gh.issue(REPO, n).unwrap();
                    w.queue("edited", echo, json!({}));
                }
            }
        }
    }

    // The faults stop: the slow push answers, the token is good, two-way is on (the offer
    // accepted), the deliveries arrive (dropped, doubled, shuffled); then one reconcile.
    if let Some(s) = slow.take() {
        s.held.release();
        s.push.await.unwrap();
    }
    w.gh.clear_faults();
    if revoked {
        w.gh.set_writable(PAT);
        testkit::save_pat(&w.store, project, REPO, &keys, PAT).await;
    }
    if !two_way {
        testkit::set_two_way(&w.store, project, true).await;
        w.store.accept_offer(project).await.unwrap();
    }
    w.deliver_chaotically(&mut rng).await;
    w.reconcile().await;
    assert_eq!(w.store.pending_pushes(project).await.unwrap(), 0, "seed {seed}: nothing is pending");

    let pending = w.store.list_conflicts(project, Some(ConflictStatus::Pending)).await.unwrap();
    let conflicted: BTreeSet<uuid::Uuid> = pending.iter().map(|c| c.task_id).collect();
    assert_eq!(conflicted.len(), pending.len(), "seed {seed}: at most one pending conflict per task");
    let board = w.store.list_tasks(project).await.unwrap();
    for (n, task_id) in &tasks {
        let task = board.iter().find(|t| t.task.id == *task_id).unwrap();
        let link = task.github.as_ref().unwrap();
        let base = w.issues[n].content.clone();
        if gone.contains(n) {
            assert_eq!(link.remote_state, RemoteState::Deleted, "seed {seed}: issue {n}");
            // The task keeps what it had: its own edit, or the last GitHub text it saw.
            let held = task.task.content();
            let known = [
                Some(base),
                local.get(n).map(|e| e.content.clone()),
                remote.get(n).map(|e| e.content.clone()),
            ];
            assert!(known.contains(&Some(held)), "seed {seed}: issue {n}: {:?}", task.task);
            continue;
        }
        let on_github = w.gh.issue(REPO, *n).unwrap();
        let github_content = content_of(&on_github);
        let github_state = fixture_state(&on_github);
        let task_state = state_of(task.task.status);
        // The newest content edit of either side is on the board or on GitHub.
        let newest = match (local.get(n), remote.get(n)) {
            (Some(l), Some(r)) if r.step > l.step => r.content.clone(),
            (Some(l), _) => l.content.clone(),
            (None, Some(r)) => r.content.clone(),
            (None, None) => base.clone(),
        };
        assert!(
            task.task.content() == newest || github_content == newest,
            "seed {seed}: issue {n}: the newest edit {newest:?} is lost"
        );
        // The state: GitHub holds the newest state one side gave it (a push never overwrites a
        // change it has not seen; a side that changed the state back since the last sync
        // changed nothing, and the other side's newest wins). The board's newest move, when
        // GitHub does not hold it, waits on the task beside a pending conflict, or changed
        // nothing since the last sync.
        // (With a conflict pending, an older move of the board may be what GitHub holds: the
        // conflict stopped the newer one.)
        let theirs = remote_state.get(n).map_or("open", |r| r.state);
        let mine = local_state.get(n).map(|l| l.state);
        let pushed_before =
            conflicted.contains(task_id) && moved_to.get(n).is_some_and(|m| m.contains(github_state));
        assert!(
            github_state == theirs || Some(github_state) == mine || pushed_before,
            "seed {seed}: issue {n}: GitHub holds {github_state}, neither its own {theirs} nor the board's {mine:?}"
        );
        let board_last = local_state.get(n).filter(|l| remote_state.get(n).is_none_or(|r| l.step > r.step));
        if let Some(l) = board_last
            && github_state != l.state
            && conflicted.contains(task_id)
        {
            assert_eq!(task_state, l.state, "seed {seed}: issue {n}: the board's move waits in the conflict");
        }
        match pending.iter().find(|c| c.task_id == *task_id) {
            Some(conflict) => {
                assert!(
                    edited_local.contains(n) && edited_remote.contains(n),
                    "seed {seed}: issue {n}: a conflict needs both sides to have changed"
                );
                assert_eq!(
                    conflict.remote_content_snapshot.content, github_content,
                    "seed {seed}: issue {n}"
                );
                let held = conflict.remote_content_snapshot.issue_state().map(|s| s.as_str());
                assert_eq!(
                    held,
                    Some(github_state),
                    "seed {seed}: issue {n}: the conflict shows GitHub's state"
                );
            }
            None => {
                assert_eq!(task.task.content(), github_content, "seed {seed}: issue {n}: board == GitHub");
                assert_eq!(newest, github_content, "seed {seed}: issue {n}: the newest edit won");
                assert_eq!(task_state, github_state, "seed {seed}: issue {n}: column and state agree");
                assert_eq!(link.push_error, None, "seed {seed}: issue {n}");
            }
        }
    }

    // Nothing is left to do: a second reconcile changes and writes nothing.
    w.gh.clear_requests();
    w.reconcile_changes_nothing(&board, seed).await;
    assert!(w.gh.writes().is_empty(), "seed {seed}: no write after convergence");
}

/// Every claim on an outbox entry runs out now (its pusher stalled past it).
async fn expire_claims(store: &Store) {
    sqlx::query(
        "UPDATE sync_outbox SET lease_until = '2000-01-01T00:00:00.000Z' WHERE lease_until IS NOT NULL",
    )
    .execute(store.pool())
    .await
    .unwrap();
}
