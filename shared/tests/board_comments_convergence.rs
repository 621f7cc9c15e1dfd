//! The two-way convergence property with board comments (docs/comments.md, "From the
//! board"): random histories of comments written, edited and deleted on the board (pushed at
//! once, left queued, their answers lost, their requests failing) and on GitHub, GitHub's
//! `issue_comment` deliveries dropped, duplicated and reordered. Once the outbox is drained
//! and one reconcile ran, both sides hold the same comments: no duplicate on GitHub, every
//! GitHub comment on the board with GitHub's text, every board comment on GitHub with the
//! board's text, nothing lost; a comment both sides changed waits as a conflict with the
//! board's text. Both backends; `GHSYNC_CONVERGENCE_CASES` (default 12) histories each.

use std::collections::BTreeMap;
use std::time::Duration;

use ghsync_shared::Store;
use ghsync_shared::domain::{CommentOrigin, TaskComment};
use ghsync_shared::services::reconcile::{ReconcileOptions, Reconciler};
use ghsync_shared::store::Backoff;
use ghsync_shared::sync::board_comments::{Pace, posted_body, read_posted};
use ghsync_shared::time::Deadline;
use serde_json::Value;
use testkit::github::Fault;
use testkit::two_way::{REPO, World};
use testkit::{Rng, both_backends, cases};
use uuid::Uuid;

both_backends!(random_board_comment_histories_converge);

/// GitHub's pace, run fast: the property is about what is sent, not when.
const FAST: Pace = Pace {
    per_minute: 1_000,
    per_hour: 10_000,
    spacing: chrono::Duration::milliseconds(1),
    minute: chrono::Duration::milliseconds(50),
    hour: chrono::Duration::milliseconds(100),
};

const ISSUES: i64 = 3;

async fn random_board_comment_histories_converge(store: Store) {
    for seed in 1..=cases() {
        history(store.clone(), seed).await;
    }
}

/// How a board change's push goes.
async fn push_with_fate(w: &World, id: Uuid, rng: &mut Rng) {
    match rng.below(5) {
        // Left in the outbox (the request's budget ran out, the process died).
        0 => {}
        // GitHub made the change; its answer never came.
        1 => {
            w.gh.lose_write_answers(1);
            w.push_comment(id).await;
            w.gh.clear_faults();
        }
        // The write failed before GitHub made anything.
        2 => {
            w.gh.push_write_fault(Fault::status(502, "Server Error"));
            w.push_comment(id).await;
            w.gh.clear_faults();
        }
        _ => {
            w.push_comment(id).await;
        }
    }
}

async fn history(store: Store, seed: u64) {
    let mut rng = Rng(0xB0A2_D0C0_5EED_0001 ^ seed.wrapping_mul(0x1000_0000_01B3));
    let mut w = World::new(store, ISSUES, true).await;
    w.services.push_options.pace = FAST;
    w.services.push_options.pace_wait = Duration::from_millis(200);
    let mut board: Vec<Uuid> = Vec::new();
    let mut deliveries: Vec<(&'static str, Value)> = Vec::new();
    let mut next_id = 50_000;
    let steps = 15 + rng.below(20);
    for step in 0..steps {
        let n = 1 + rng.below(ISSUES as u64) as i64;
        match rng.below(10) {
            0..=2 => {
                let task = w.task_id(n).await;
                let c = w.store.add_comment(task, &format!("board {step}"), Some("Ana")).await.unwrap();
                board.push(c.id);
                push_with_fate(&w, c.id, &mut rng).await;
            }
            3 | 4 if !board.is_empty() => {
                let id = board[rng.below(board.len() as u64) as usize];
                let changed = if rng.chance(70) {
                    w.store.edit_comment(id, &format!("board edit {step}")).await.is_ok()
                } else {
                    w.store.delete_comment(id).await.is_ok()
                };
                if changed {
                    push_with_fate(&w, id, &mut rng).await;
                }
            }
            5 | 6 => {
                next_id += 1;
                let at = w.gh.next_write_time(REPO);
                let c =
                    testkit::fixtures::comment(REPO, n, next_id, &format!("github {step}"), "mona", &at, &at);
                w.gh.upsert_comment(REPO, c.clone());
                deliveries.push(("created", c));
            }
            7 | 8 => {
                let on_github = w.gh.comments(REPO);
                if on_github.is_empty() {
                    continue;
                }
                let c = on_github[rng.below(on_github.len() as u64) as usize].clone();
                let id = c["id"].as_i64().unwrap();
                if rng.chance(70) {
                    // Edited in GitHub's editor, which shows ghsync's marker and keeps it.
                    let raw = c["body"].as_str().unwrap();
                    let text = format!("github edit {step}");
                    let body = match read_posted(raw).marker {
                        Some(marker) => posted_body("Ana", &text, marker),
                        None => text,
                    };
                    deliveries.push(("edited", w.edit_comment_on_github(id, &body)));
                } else {
                    w.gh.delete_comment(REPO, id);
                    deliveries.push(("deleted", c));
                }
            }
            _ => deliver_chaotically(&mut w, &mut deliveries, &mut rng).await,
        }
    }
    deliver_chaotically(&mut w, &mut deliveries, &mut rng).await;

    // The worker drains what waits (retry times passed), then one reconcile.
    for _ in 0..6 {
        if w.store.pending_comment_pushes(w.project).await.unwrap() == 0 {
            break;
        }
        sqlx::query("UPDATE comment_outbox SET next_attempt_at = $1")
            .bind("2000-01-01T00:00:00.000Z")
            .execute(w.store.pool())
            .await
            .unwrap();
        w.services.drain_comment_pushes(w.project, Backoff::Ignore, Deadline::NONE).await.unwrap();
    }
    // One reconcile, a full pass: it also finds what GitHub deleted without a delivery.
    w.rec = Reconciler::new(
        w.services.clone(),
        ReconcileOptions { full_pass_every: chrono::Duration::zero(), ..Default::default() },
    );
    w.rec.run_project(w.project).await.unwrap();
    assert_eq!(
        w.store.pending_comment_pushes(w.project).await.unwrap(),
        0,
        "seed {seed}: the outbox drained"
    );
    check(&w, &board, seed).await;
}

/// Delivers the waiting deliveries: some dropped, some twice, in a shuffled order.
async fn deliver_chaotically(w: &mut World, deliveries: &mut Vec<(&'static str, Value)>, rng: &mut Rng) {
    let batch = rng.chaotic(deliveries.drain(..));
    for (action, comment) in batch {
        w.deliver_comment(action, comment).await;
    }
}

async fn check(w: &World, board_ids: &[Uuid], seed: u64) {
    let on_github: Vec<Value> = (1..=ISSUES).flat_map(|n| w.github_comments(n)).collect();
    // No board comment is on GitHub twice.
    let mut markers: BTreeMap<Uuid, usize> = BTreeMap::new();
    for c in &on_github {
        if let Some(m) = read_posted(c["body"].as_str().unwrap()).marker {
            *markers.entry(m).or_default() += 1;
        }
    }
    assert!(markers.values().all(|n| *n == 1), "seed {seed}: a board comment posted twice: {markers:?}");

    let mut threads: Vec<TaskComment> = Vec::new();
    for n in 1..=ISSUES {
        threads.extend(w.thread(n).await);
    }
    let by_github: BTreeMap<i64, &TaskComment> =
        threads.iter().filter_map(|c| c.github.as_ref().map(|g| (g.comment_id, c))).collect();
    // Every GitHub comment is on the board once, with GitHub's text unless a conflict holds both.
    for c in &on_github {
        let id = c["id"].as_i64().unwrap();
        let on_board = by_github
            .get(&id)
            .unwrap_or_else(|| panic!("seed {seed}: GitHub comment {id} is not on the board"));
        if on_board.conflict.is_none() {
            let raw = c["body"].as_str().unwrap();
            let shown = if on_board.origin == CommentOrigin::Board { read_posted(raw).text } else { raw };
            assert_eq!(on_board.body, shown, "seed {seed}: comment {id}");
        }
    }
    assert_eq!(by_github.len(), threads.iter().filter(|c| c.github.is_some()).count());
    // Every board comment still on the board is on GitHub (or waits as a conflict); none lost.
    let github_ids: Vec<i64> = on_github.iter().filter_map(|c| c["id"].as_i64()).collect();
    for c in threads.iter().filter(|c| c.origin == CommentOrigin::Board) {
        assert!(!c.push_pending, "seed {seed}: {c:?}");
        if c.conflict.is_none() {
            let linked = c.github.as_ref().unwrap_or_else(|| panic!("seed {seed}: never posted: {c:?}"));
            assert!(github_ids.contains(&linked.comment_id), "seed {seed}: not on GitHub: {c:?}");
        }
    }
    for id in board_ids {
        if let Ok(c) = w.store.get_comment(*id).await
            && threads.iter().all(|t| t.id != *id)
        {
            // Off the thread: deleted on one side, and gone from GitHub too.
            let on = c.github.as_ref().is_some_and(|g| github_ids.contains(&g.comment_id));
            assert!(!on, "seed {seed}: deleted on the board but still on GitHub: {c:?}");
        }
    }
    let count = threads.len();
    w.rec.run_project(w.project).await.unwrap();
    let mut again = 0;
    for n in 1..=ISSUES {
        again += w.thread(n).await.len();
    }
    assert_eq!(again, count, "seed {seed}: a second reconcile changes no thread");
}
