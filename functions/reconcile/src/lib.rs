//! The reconcile function. On each EventBridge tick it claims the due configs and, with a
//! reconcile queue configured (AWS), sends each claim to it (`ghsync_shared::fanout`);
//! without one it syncs them itself before the Lambda deadline. As the queue's consumer it
//! syncs the claimed config of each message. A thin adapter over `ghsync_shared`.

use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use ghsync_shared::StoreError;
use ghsync_shared::secrets::Secrets;
use ghsync_shared::services::Services;
use ghsync_shared::services::fanout::{Consumed, Fanout, FanoutError, QueueMessage};
use ghsync_shared::services::reconcile::{ReconcileOptions, Reconciler, RunSummary};
use ghsync_shared::startup::StartupError;
use ghsync_shared::store::StoreOptions;
use ghsync_shared::time::Deadline;
use lambda_runtime::{Diagnostic, LambdaEvent};

/// Time kept in hand at the deadline: no config is started after `deadline - MARGIN`.
pub const MARGIN: Duration = Duration::from_secs(30);

/// What the function holds from its cold start on.
#[derive(Clone, Debug)]
pub struct Worker {
    pub reconciler: Reconciler,
    /// The reconcile queue (AWS); `None`: a tick syncs the due configs itself.
    pub fanout: Option<Fanout>,
    /// Read again when the database stops answering (perhaps a rotated password).
    pub secrets: Secrets,
}

/// Connects everything at cold start.
pub async fn worker_from_env() -> Result<Worker, StartupError> {
    let (config, secrets) = ghsync_shared::startup::deployed_config_from_env().await?;
    let services = Services::connect(&config, &StoreOptions::deployed(4), None).await?;
    secrets.watch_store(&services.store);
    let fanout = match &config.reconcile_queue_url {
        Some(url) => Some(Fanout::from_env(url.clone()).await),
        None => None,
    };
    let reconciler = Reconciler::new(services, ReconcileOptions::for_config(&config));
    Ok(Worker { reconciler, fanout, secrets })
}

/// One invocation: an SQS batch of claimed configs, or a scheduled tick.
pub async fn handle_any(
    event: LambdaEvent<serde_json::Value>,
    worker: &Worker,
) -> Result<serde_json::Value, TickError> {
    let answer = dispatch(event, worker).await;
    let database_failed = match &answer {
        Err(TickError::Store(StoreError::Unavailable(_))) => true,
        Ok(answer) => {
            answer.get("batchItemFailures").and_then(|f| f.as_array()).is_some_and(|f| !f.is_empty())
        }
        Err(_) => false,
    };
    if database_failed {
        worker.secrets.reread().await;
    }
    answer
}

async fn dispatch(
    event: LambdaEvent<serde_json::Value>,
    worker: &Worker,
) -> Result<serde_json::Value, TickError> {
    let (payload, context) = event.into_parts();
    let is_sqs = payload.get("Records").and_then(|r| r.as_array()).is_some_and(|records| {
        records.first().and_then(|r| r.get("eventSource")).and_then(|s| s.as_str()) == Some("aws:sqs")
    });
    if is_sqs {
        let batch: SqsEvent = serde_json::from_value(payload).map_err(TickError::BadEvent)?;
        let response = handle_messages(LambdaEvent::new(batch, context), &worker.reconciler).await;
        return Ok(to_json(&response));
    }
    let tick: EventBridgeEvent = serde_json::from_value(payload).map_err(TickError::BadEvent)?;
    let event = LambdaEvent::new(tick, context);
    ghsync_shared::metrics::failing_configs(&worker.reconciler.services.store).await;
    match &worker.fanout {
        Some(fanout) => Ok(to_json(&handle_fanout(event, &worker.reconciler, fanout).await?)),
        None => Ok(to_json(&handle(event, &worker.reconciler).await?)),
    }
}

/// A scheduled tick with a reconcile queue: claim the due configs and send each claim on.
pub async fn handle_fanout(
    event: LambdaEvent<EventBridgeEvent>,
    reconciler: &Reconciler,
    fanout: &Fanout,
) -> Result<ghsync_shared::services::fanout::FanoutSummary, TickError> {
    let deadline = start_deadline(event.context.deadline);
    let summary = fanout.tick(reconciler, deadline).await.map_err(|e| {
        // Claims SQS did not take were given back: the next tick tries again.
        tracing::error!(error = %e, "reconcile fan-out failed");
        TickError::Queue(e)
    })?;
    tracing::info!(sent = summary.sent, released = summary.released, "reconcile fan-out");
    Ok(summary)
}

/// A batch of queue messages, each a claimed config, synced side by side. A message whose
/// sync could not use the database is reported as failed, so SQS delivers it again (and
/// after repeated failures moves it to the failure queue); a config's own failure is
/// recorded in its history, and its message is done.
pub async fn handle_messages(event: LambdaEvent<SqsEvent>, reconciler: &Reconciler) -> SqsBatchResponse {
    let deadline = start_deadline(event.context.deadline);
    let runs = event.payload.records.into_iter().map(|record| async move {
        let id = record.message_id.clone().unwrap_or_default();
        let message: QueueMessage = match record.body.as_deref().map(serde_json::from_str) {
            Some(Ok(m)) => m,
            _ => {
                // Not ours: retrying cannot help; log it and let it go.
                tracing::error!(message_id = %id, "a reconcile queue message is neither a claim nor a run");
                return None;
            }
        };
        match reconciler.consume(&message, deadline).await {
            Ok(Consumed::Synced(report)) => {
                tracing::debug!(project_id = %report.project_id, complete = report.complete, "queued config synced");
                None
            }
            Ok(Consumed::Expired) => {
                tracing::info!(?message, "claim expired or config taken before the message arrived");
                None
            }
            Err(e) => {
                tracing::warn!(?message, error = %e, "queued config not synced");
                Some(id)
            }
        }
    });
    let failed = futures::future::join_all(runs).await;
    let mut response = SqsBatchResponse::default();
    response.batch_item_failures = failed
        .into_iter()
        .flatten()
        .map(|id| {
            let mut failure = BatchItemFailure::default();
            failure.item_identifier = id;
            failure
        })
        .collect();
    response
}

/// Why an invocation failed, as Lambda reports it: `Retryable` (the database or the queue
/// was unavailable; the next tick or the retry will do the work) or `NonRetryable`.
#[derive(Debug, thiserror::Error)]
pub enum TickError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Queue(FanoutError),
    #[error("the event is neither a scheduled tick nor an SQS batch")]
    BadEvent(#[source] serde_json::Error),
}

impl From<TickError> for Diagnostic {
    fn from(e: TickError) -> Self {
        let retryable = matches!(
            &e,
            TickError::Store(StoreError::Unavailable(_))
                | TickError::Queue(FanoutError::Send(_) | FanoutError::Store(StoreError::Unavailable(_)))
        );
        let error_type = if retryable { "Retryable" } else { "NonRetryable" };
        Diagnostic { error_type: error_type.into(), error_message: e.to_string() }
    }
}

/// Deadlines below this many milliseconds since the epoch (September 2001) are not instants
/// but durations: `cargo lambda watch` sends the function's timeout itself.
const EARLIEST_DEADLINE_MS: u64 = 1_000_000_000_000;

/// The instant before which new configs may start, from the invocation's deadline (Lambda:
/// milliseconds since the epoch). [`Deadline::NONE`] when the runtime gave none (0).
pub fn start_deadline(deadline_ms: u64) -> Deadline {
    let left = match deadline_ms {
        0 => return Deadline::NONE,
        ms if ms < EARLIEST_DEADLINE_MS => Duration::from_millis(ms),
        ms => (SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    };
    Deadline::at(Instant::now() + left.saturating_sub(MARGIN))
}

/// One tick.
pub async fn handle(
    event: LambdaEvent<EventBridgeEvent>,
    reconciler: &Reconciler,
) -> Result<RunSummary, TickError> {
    let deadline = start_deadline(event.context.deadline);
    let summary = reconciler.run_due(deadline).await.map_err(|e| {
        tracing::error!(error = %e, "reconcile tick failed");
        TickError::Store(e)
    })?;
    tracing::info!(
        configs = summary.configs.len(),
        failed = summary.configs.iter().filter(|c| c.error.is_some()).count(),
        stopped_for_deadline = summary.stopped_for_deadline,
        deliveries_pruned = summary.deliveries_pruned,
        "reconcile tick"
    );
    Ok(summary)
}

fn to_json(value: &impl serde::Serialize) -> serde_json::Value {
    serde_json::to_value(value).expect("a summary serialises")
}
