//! The convergence property for labels and assignees (docs/fields.md): random histories of
//! both sides adding and removing elements, the board's pushes made at once, failing
//! transiently or left in the outbox, GitHub's deliveries (and the echoes of the pushes)
//! dropped, duplicated and reordered; then the outbox drained and one reconcile. Afterwards
//! both sides hold the same sets, every element only one side touched is as that side last
//! left it (no edit lost, none reverted), and another reconcile writes nothing.
//!
//! On both backends; `GHSYNC_CONVERGENCE_CASES` (default 12) sets how many histories each gets.

use std::collections::{BTreeMap, BTreeSet};

use ghsync_shared::Store;
use ghsync_shared::domain::TaskPatch;
use serde_json::{Value, json};
use testkit::github::Fault;
use testkit::two_way::{REPO, World};
use testkit::{Rng, both_backends, cases};

both_backends!(random_label_and_assignee_histories_converge);

const LABELS: [&str; 4] = ["bug", "ui", "docs", "perf"];
const USERS: [&str; 3] = ["ana", "bo", "cy"];
const ISSUES: i64 = 2;

/// An element of a set: (is it a label, its name).
type Element = (bool, &'static str);

/// Who touched each element of each issue, and how the last touch left it.
#[derive(Default)]
struct Touched {
    board: BTreeMap<(i64, Element), bool>,
    github: BTreeMap<(i64, Element), bool>,
}

fn names(list: &Value, key: &str) -> BTreeSet<String> {
    list.as_array().into_iter().flatten().filter_map(|v| v[key].as_str().map(str::to_string)).collect()
}

/// (labels, assignees) of issue `n` on GitHub.
fn on_github(w: &World, n: i64) -> (BTreeSet<String>, BTreeSet<String>) {
    let issue = w.github(n);
    (names(&issue["labels"], "name"), names(&issue["assignees"], "login"))
}

async fn on_board(w: &World, n: i64) -> (BTreeSet<String>, BTreeSet<String>) {
    let link = w.task(n).await.github.unwrap();
    (link.extras.labels.into_iter().map(|l| l.name).collect(), link.extras.assignees.into_iter().collect())
}

fn pick(rng: &mut Rng) -> (i64, Element) {
    let n = 1 + rng.below(ISSUES as u64) as i64;
    let element = if rng.chance(55) {
        (true, LABELS[rng.below(LABELS.len() as u64) as usize])
    } else {
        (false, USERS[rng.below(USERS.len() as u64) as usize])
    };
    (n, element)
}

/// `set` with `name` present or not.
fn toggled(set: &BTreeSet<String>, name: &str, present: bool) -> Vec<String> {
    let mut set = set.clone();
    if present {
        set.insert(name.to_string());
    } else {
        set.remove(name);
    }
    set.into_iter().collect()
}

async fn random_label_and_assignee_histories_converge(store: Store) {
    for seed in 1..=cases() {
        history(store.clone(), seed).await;
    }
}

async fn history(store: Store, seed: u64) {
    let mut rng = Rng(0xA076_1D64_78BD_642F ^ seed.wrapping_mul(0x1000_0000_01B3));
    let mut w = World::new(store, ISSUES, true).await;
    w.gh.add_repo_labels(REPO, &LABELS);
    w.gh.set_assignable(REPO, &USERS);
    for n in 1..=ISSUES {
        let mut issue = w.github(n);
        issue["labels"] = json!([]);
        issue["assignees"] = json!([]);
        issue["updated_at"] = json!(w.gh.next_write_time(REPO));
        w.gh.upsert(REPO, issue);
    }
    w.rec.run_project(w.project).await.unwrap();

    let mut touched = Touched::default();
    let mut deliveries: Vec<Value> = Vec::new();
    for _ in 0..24 {
        let (n, (label, name)) = pick(&mut rng);
        if rng.chance(50) {
            // Someone on GitHub toggles the element; its delivery waits.
            let (labels, users) = on_github(&w, n);
            let present = !(if label { &labels } else { &users }).contains(name);
            let mut issue = w.github(n);
            if label {
                let set = toggled(&labels, name, present);
                issue["labels"] = set.iter().map(|l| json!({"name": l, "color": "ededed"})).collect();
            } else {
                let set = toggled(&users, name, present);
                issue["assignees"] = set.iter().map(|l| json!({"login": l})).collect();
            }
            issue["updated_at"] = json!(w.gh.next_write_time(REPO));
            w.gh.upsert(REPO, issue);
            deliveries.push(w.github(n));
            touched.github.insert((n, (label, name)), present);
        } else {
            // The board toggles it; pushed at once, failing once, or left in the outbox.
            let (labels, users) = on_board(&w, n).await;
            let present = !(if label { &labels } else { &users }).contains(name);
            let patch = if label {
                TaskPatch { labels: Some(toggled(&labels, name, present)), ..Default::default() }
            } else {
                TaskPatch { assignees: Some(toggled(&users, name, present)), ..Default::default() }
            };
            let task = w.task_id(n).await;
            w.store.update_task(task, &patch).await.unwrap();
            touched.board.insert((n, (label, name)), present);
            match rng.below(3) {
                0 => {
                    w.services.push_task(task).await.unwrap();
                    // Its echo, delivered with the rest.
                    deliveries.push(w.github(n));
                }
                1 => {
                    w.gh.push_write_fault(Fault::status(502, r#"{"message":"Bad Gateway"}"#));
                    w.services.push_task(task).await.unwrap();
                    w.gh.clear_faults();
                }
                _ => {}
            }
        }
        if rng.chance(20) {
            // Some deliveries arrive meanwhile, in any order, some twice, some never.
            deliver_chaotically(&mut w, &mut deliveries, &mut rng).await;
        }
    }
    deliver_chaotically(&mut w, &mut deliveries, &mut rng).await;
    w.rec.run_project(w.project).await.unwrap();

    for n in 1..=ISSUES {
        let (board, github) = (on_board(&w, n).await, on_github(&w, n));
        assert_eq!(board, github, "seed {seed}: issue {n}: both sides hold the same sets");
        for (label, name) in LABELS.iter().map(|l| (true, *l)).chain(USERS.iter().map(|u| (false, *u))) {
            let key = (n, (label, name));
            let held = if label { &github.0 } else { &github.1 }.contains(name);
            let want = match (touched.board.get(&key), touched.github.get(&key)) {
                (Some(b), None) => Some(*b),
                (None, Some(g)) => Some(*g),
                _ => None,
            };
            if let Some(want) = want {
                assert_eq!(held, want, "seed {seed}: issue {n}: {name} as its only editor left it");
            }
        }
    }
    assert_eq!(w.pending_pushes().await, 0, "seed {seed}: nothing left to send");
    w.gh.clear_requests();
    w.rec.run_project(w.project).await.unwrap();
    assert!(w.gh.writes().is_empty(), "seed {seed}: a second reconcile writes nothing: {:?}", w.methods());
}

async fn deliver_chaotically(w: &mut World, deliveries: &mut Vec<Value>, rng: &mut Rng) {
    let batch = rng.chaotic(deliveries.drain(..));
    for snapshot in batch {
        w.deliver_snapshot("edited", snapshot).await.unwrap();
    }
}
