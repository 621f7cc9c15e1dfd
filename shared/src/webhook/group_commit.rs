//! Group commit for SQLite: concurrent deliveries queue for one writer task, which applies
//! everything queued in one transaction.

use tokio::sync::{mpsc, oneshot};

use super::apply::{Received, Routes, apply_alone, apply_in};
use super::payload::Change;
use super::{Handled, LogMeta, WebhookError};
use crate::store::{Store, StoreError};
use crate::time::Timestamp;

/// Bound of the group-commit queue: beyond it, receivers wait to enqueue (back-pressure).
pub(super) const QUEUE_CAPACITY: usize = 1024;
/// Most deliveries one shared transaction takes.
const BATCH_MAX: usize = 128;

/// A verified, parsed `issues` delivery waiting for the writer task.
pub(super) struct Job {
    pub(super) delivery_id: String,
    pub(super) meta: LogMeta,
    pub(super) now: Timestamp,
    pub(super) route: super::Route,
    pub(super) change: Change,
    pub(super) reply: oneshot::Sender<Result<Handled, WebhookError>>,
}

impl Job {
    fn received(&self) -> Received<'_> {
        Received {
            id: &self.delivery_id,
            event: self.change.event(),
            meta: &self.meta,
            now: self.now,
            route: self.route,
        }
    }
}

/// What the writer task did before its queue closed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct Written {
    /// Shared transactions tried (each takes whatever was queued).
    pub(super) batches: usize,
    /// Deliveries applied on their own after their batch failed.
    pub(super) alone: usize,
}

/// The writer task: takes whatever is queued (at least one job) and applies it together.
pub(super) async fn write_batches(store: Store, mut queue: mpsc::Receiver<Job>) -> Written {
    let mut jobs = Vec::with_capacity(BATCH_MAX);
    let mut written = Written::default();
    while queue.recv_many(&mut jobs, BATCH_MAX).await > 0 {
        written.batches += 1;
        tracing::debug!(deliveries = jobs.len(), "group commit");
        match apply_batch(&store, &jobs).await {
            Ok(results) => {
                for (job, result) in jobs.drain(..).zip(results) {
                    let _ = job.reply.send(Ok(result));
                }
            }
            // The shared transaction rolled back whole: nothing of the batch was written.
            Err(e) if jobs.len() == 1 => {
                let job = jobs.pop().expect("one job");
                let _ = job.reply.send(Err(e));
            }
            // One failure must not fail its neighbours: each runs again on its own, so only
            // the deliveries that fail by themselves are answered with an error.
            Err(_) => {
                written.alone += jobs.len();
                for job in jobs.drain(..) {
                    let result = apply_alone(&store, &job.received(), &job.change).await;
                    let _ = job.reply.send(result);
                }
            }
        }
    }
    written
}

async fn apply_batch(store: &Store, jobs: &[Job]) -> Result<Vec<Handled>, WebhookError> {
    let mut tx = store.begin().await?;
    let mut results = Vec::with_capacity(jobs.len());
    let mut routes = Routes::default();
    for job in jobs {
        results.push(apply_in(&mut tx, store.backend(), &mut routes, &job.received(), &job.change).await?);
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(results)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ConfigWrite, Credential, StoreOptions, Table};

    /// A store following acme/widgets, where the database refuses any task titled "poison".
    async fn store_with_poison() -> Store {
        let store = Store::connect("sqlite::memory:", &StoreOptions::default()).await.unwrap();
        store.migrate().await.unwrap();
        let project = store.create_project("Widgets").await.unwrap();
        let write = ConfigWrite {
            credential: Some(Credential::Pat(vec![2, 0, 0])),
            sync_enabled: Some(true),
            ..ConfigWrite::new(
                crate::domain::RepoOwner::parse("acme").unwrap(),
                crate::domain::RepoName::parse("widgets").unwrap(),
            )
        };
        store.put_config(project.id, &write).await.unwrap();
        sqlx::query(
            "CREATE TRIGGER poison BEFORE INSERT ON tasks WHEN NEW.title = 'poison' \
             BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
        )
        .execute(store.pool())
        .await
        .unwrap();
        store
    }

    fn job(n: i64, title: &str) -> (Job, oneshot::Receiver<Result<Handled, WebhookError>>) {
        let issue = testkit::fixtures::issue("acme/widgets", n, title, None, "open", "2026-01-05T10:00:00Z");
        let body = testkit::fixtures::issues_event("opened", issue, "acme/widgets", serde_json::json!({}));
        let change = Change::from_payload(
            serde_json::from_value(body).unwrap(),
            &crate::domain::WebHost::github_com(),
        )
        .unwrap();
        let (reply, answer) = oneshot::channel();
        let meta = LogMeta { action: Some("opened".into()), repo: Some("acme/widgets".into()) };
        (
            Job {
                delivery_id: format!("d-{n}"),
                meta,
                now: Timestamp::now(),
                route: crate::webhook::Route::Shared,
                change,
                reply,
            },
            answer,
        )
    }

    #[tokio::test]
    async fn a_delivery_failing_in_a_shared_transaction_fails_alone() {
        let store = store_with_poison().await;
        let (queue, jobs) = mpsc::channel(8);
        let mut answers = Vec::new();
        for (n, title) in [(1, "one"), (2, "two"), (3, "poison"), (4, "four")] {
            let (job, answer) = job(n, title);
            queue.send(job).await.unwrap();
            answers.push(answer);
        }
        drop(queue);
        // All four are queued before the writer starts, so they are taken as one batch; it
        // fails whole, and each runs again on its own.
        assert_eq!(write_batches(store.clone(), jobs).await, Written { batches: 1, alone: 4 });

        let mut outcomes = Vec::new();
        for answer in answers {
            outcomes.push(answer.await.unwrap().map(|h| h.status()).map_err(|e| e.to_string()));
        }
        assert_eq!(outcomes[0], Ok(200));
        assert_eq!(outcomes[1], Ok(200));
        assert!(outcomes[2].is_err(), "{:?}", outcomes[2]);
        assert_eq!(outcomes[3], Ok(200));
        // The neighbours are applied and recorded; the failed delivery left nothing behind,
        // so its redelivery will be applied rather than taken for a duplicate.
        assert_eq!(store.count_rows(Table::Tasks).await.unwrap(), 3);
        assert_eq!(store.count_rows(Table::Deliveries).await.unwrap(), 3);
        assert_eq!(store.delivery_outcome("d-3").await.unwrap(), None);
    }

    #[tokio::test]
    async fn deliveries_queued_together_commit_together() {
        let store = store_with_poison().await;
        let (queue, jobs) = mpsc::channel(8);
        let mut answers = Vec::new();
        for n in 1..=5 {
            let (job, answer) = job(n, &format!("issue {n}"));
            queue.send(job).await.unwrap();
            answers.push(answer);
        }
        drop(queue);
        assert_eq!(write_batches(store.clone(), jobs).await, Written { batches: 1, alone: 0 });
        for answer in answers {
            assert_eq!(answer.await.unwrap().map(|h| h.status()).ok(), Some(200));
        }
        assert_eq!(store.count_rows(Table::Tasks).await.unwrap(), 5);
    }

    #[tokio::test]
    async fn a_batch_of_one_answers_its_own_error() {
        let store = store_with_poison().await;
        let (queue, jobs) = mpsc::channel(1);
        let (job, answer) = job(1, "poison");
        queue.send(job).await.unwrap();
        drop(queue);
        write_batches(store.clone(), jobs).await;
        assert!(matches!(answer.await.unwrap(), Err(WebhookError::Store(_))));
        assert_eq!(store.count_rows(Table::Deliveries).await.unwrap(), 0);
    }
}
