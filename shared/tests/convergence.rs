//! Convergence property test: random histories of GitHub changes interleaved with local
//! edits, their webhook deliveries dropped, duplicated and reordered, then one reconcile.
//! Afterwards the board must equal GitHub wherever nobody edited locally, keep every local
//! edit, hold exactly one pending conflict wherever both sides changed differently, and a
//! second reconcile must change nothing. Runs on both backends; `GHSYNC_CONVERGENCE_CASES`
//! (default 12) sets how many random histories each backend gets.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use ghsync_shared::Store;
use ghsync_shared::config::WebhookSecrets;
use ghsync_shared::crypto::{KeyProvider, LocalKeys, Pat};
use ghsync_shared::domain::{ConflictStatus, Content, RemoteState, TaskPatch, TaskStatus};
use ghsync_shared::github::GitHub;
use ghsync_shared::manage::Services;
use ghsync_shared::reconcile::{ReconcileOptions, Reconciler};
use ghsync_shared::webhook::{Delivery, WebhookConfig, handle, sign};
use serde_json::{Value, json};
use testkit::both_backends;
use testkit::fixtures::{issue, issues_event, repository};
use testkit::github::{FakeGitHub, Mutation};

const REPO: &str = "acme/widgets";
const ELSEWHERE: &str = "acme/elsewhere";
const PAT: &str = "ghp_convergenceToken000000001";
const SECRET: &str = "convergence-secret";

/// A small deterministic generator (xorshift64*), so a failing seed can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

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
        let body = serde_json::to_vec(payload).unwrap();
        let signature = sign(SECRET, &body);
        let secrets = WebhookSecrets::parse(SECRET).unwrap();
        let d = Delivery {
            event: Some("issues"),
            delivery_id: Some(id),
            signature_256: Some(&signature),
            signature_sha1: None,
            body: &body,
        };
        handle(&self.store, &WebhookConfig::github_com(Some(secrets)), d).await.unwrap();
    }

    /// Delivers the queued deliveries with some dropped, some duplicated, all shuffled.
    async fn deliver_chaotically(&mut self, rng: &mut Rng) {
        let mut batch = Vec::new();
        for (id, payload) in self.deliveries.drain(..) {
            if rng.chance(25) {
                continue;
            }
            if rng.chance(20) {
                batch.push((id.clone(), payload.clone()));
            }
            batch.push((id, payload));
        }
        for i in (1..batch.len()).rev() {
            batch.swap(i, rng.below(i as u64 + 1) as usize);
        }
        for (id, payload) in &batch {
            self.deliver(id, payload).await;
        }
    }

    async fn reconcile(&self) -> ghsync_shared::domain::SyncHistory {
        let report = self.reconciler.run_project(self.project).await.unwrap();
        let history = report.history.unwrap();
        assert_eq!(history.status, ghsync_shared::domain::SyncStatus::Success, "{:?}", history.error_message);
        history
    }
}

both_backends!(random_histories_converge);

async fn random_histories_converge(store: Store) {
    let cases: u64 =
        std::env::var("GHSYNC_CONVERGENCE_CASES").ok().and_then(|c| c.parse().ok()).unwrap_or(12);
    for seed in 1..=cases {
        // Each case on a fresh project of the same database.
        one_history(store.clone(), seed).await;
    }
}

async fn one_history(store: Store, seed: u64) {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ seed.wrapping_mul(0x1000_0000_01B3));
    let gh = FakeGitHub::start().await;
    gh.add_repo(REPO, PAT);
    gh.add_repo(ELSEWHERE, PAT);
    let keys = KeyProvider::Local(LocalKeys::from_hex(&"c0".repeat(32)).unwrap());
    let project = testkit::configured_project(&store, REPO, Vec::new()).await;
    let blob = keys.seal(project, &Pat::new(PAT)).await.unwrap();
    sqlx::query("UPDATE github_sync_config SET encrypted_pat = $1 WHERE project_id = $2")
        .bind(blob)
        .bind(project.to_string())
        .execute(store.pool())
        .await
        .unwrap();
    let github = GitHub::new(&gh.url, Duration::from_secs(5)).unwrap();
    // Every run is a full pass, so one reconcile also finds deleted and transferred issues.
    let options = ReconcileOptions {
        full_pass_every: chrono::Duration::zero(),
        retry_base: Duration::from_millis(1),
        ..Default::default()
    };
    let reconciler = Reconciler::new(Services { store: store.clone(), keys, github }, options);
    let mut w =
        World { store, gh, reconciler, project, issues: BTreeMap::new(), clock: 0, deliveries: Vec::new() };

    // Phase 1: some issues, delivered chaotically, then a reconcile: both sides agree.
    let first = 3 + rng.below(5) as i64;
    for n in 1..=first {
        let content = Content::new(format!("Issue {n}"), Some(format!("Body {n}"))).unwrap();
        w.issues.insert(n, Issue { content, state: "open", gone: None, remote_edits: 0 });
        w.publish("opened", n, json!({}));
    }
    w.deliver_chaotically(&mut rng).await;
    w.reconcile().await;
    let base: BTreeMap<i64, Content> = w.issues.iter().map(|(n, i)| (*n, i.content.clone())).collect();
    let tasks: BTreeMap<i64, uuid::Uuid> = w
        .store
        .list_tasks(project)
        .await
        .unwrap()
        .into_iter()
        .map(|t| (t.github.unwrap().issue_number, t.task.id))
        .collect();
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
                    status: None,
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

    // A second reconcile changes nothing.
    let again = w.reconcile().await;
    assert_eq!(
        (again.tasks_created, again.tasks_updated, again.conflicts_detected),
        (0, 0, 0),
        "seed {seed}"
    );
    assert_eq!(w.store.list_tasks(project).await.unwrap(), board, "seed {seed}: second reconcile");
}
