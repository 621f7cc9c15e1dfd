//! How a run a person asks for ("Sync now") reaches a worker, and the worker loop of a
//! long-running process (`ghsync serve`): locally a notification, in AWS the reconcile queue.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Notify;
use uuid::Uuid;

use super::reconcile::Reconciler;

/// How a queued run ("Sync now") reaches the reconcile worker.
#[derive(Clone, Debug, Default)]
pub enum RunQueue {
    /// The worker's next scheduled tick takes it (the config is due at once).
    #[default]
    NextTick,
    /// A worker in this process (`ghsync serve`), woken at once.
    Local(Arc<Notify>),
    /// The reconcile function in AWS, handed the run at once through its queue.
    Queue(crate::services::fanout::Fanout),
}

impl RunQueue {
    /// A queue for a worker in this process, and what wakes the worker.
    pub fn local() -> (Self, Arc<Notify>) {
        let wake = Arc::new(Notify::new());
        (RunQueue::Local(wake.clone()), wake)
    }

    /// Tells the worker a run of the project is waiting. Should that fail, the run still
    /// waits in the store, due at once, for the next tick.
    pub async fn wake(&self, project_id: Uuid) {
        match self {
            RunQueue::NextTick => {}
            RunQueue::Local(wake) => wake.notify_one(),
            RunQueue::Queue(queue) => {
                if let Err(e) = queue.request_run(project_id).await {
                    tracing::warn!(%project_id, error = %e, "the reconcile queue did not take the run; the next tick will");
                }
            }
        }
    }
}

/// The worker of a long-running process: a pass over the due configs every `every`, and at
/// once when woken (a queued run), for ever.
pub async fn work(reconciler: Reconciler, wake: Arc<Notify>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = wake.notified() => {}
        }
        match reconciler.run_due(crate::time::Deadline::NONE).await {
            Ok(summary) if !summary.configs.is_empty() => tracing::info!(
                configs = summary.configs.len(),
                failed = summary.configs.iter().filter(|c| c.error.is_some()).count(),
                complete = summary.complete,
                "reconcile pass"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "reconcile pass failed"),
        }
    }
}
