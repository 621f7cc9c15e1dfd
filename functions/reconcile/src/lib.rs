//! The reconcile function: on each EventBridge tick, sync every due config before the
//! Lambda deadline. A thin adapter over `ghsync_shared::reconcile`.

use std::time::{Duration, Instant, SystemTime};

use aws_lambda_events::eventbridge::EventBridgeEvent;
use ghsync_shared::StoreError;
use ghsync_shared::config::Config;
use ghsync_shared::manage::{Services, StartupError};
use ghsync_shared::reconcile::{ReconcileOptions, Reconciler, RunSummary};
use ghsync_shared::store::StoreOptions;
use lambda_runtime::{Diagnostic, LambdaEvent};

/// Time kept in hand at the deadline: no config is started after `deadline - MARGIN`.
pub const MARGIN: Duration = Duration::from_secs(30);

/// Connects everything at cold start.
pub async fn reconciler_from_env() -> Result<Reconciler, StartupError> {
    let config = Config::from_env()?;
    let services =
        Services::connect(&config, &StoreOptions { max_connections: 4, ..Default::default() }).await?;
    Ok(Reconciler::new(services, ReconcileOptions::default()))
}

/// Why a tick failed, as Lambda reports it: `Retryable` (the database was unavailable;
/// the next tick or the retry will do the work) or `NonRetryable`.
#[derive(Debug)]
pub struct TickError(StoreError);

impl From<TickError> for Diagnostic {
    fn from(e: TickError) -> Self {
        let error_type = if matches!(e.0, StoreError::Unavailable(_)) { "Retryable" } else { "NonRetryable" };
        Diagnostic { error_type: error_type.into(), error_message: e.0.to_string() }
    }
}

/// The instant before which new configs may start, from the invocation's deadline.
pub fn start_deadline(deadline: SystemTime) -> Instant {
    let left = deadline.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO);
    Instant::now() + left.saturating_sub(MARGIN)
}

/// One tick.
pub async fn handle(
    event: LambdaEvent<EventBridgeEvent>,
    reconciler: &Reconciler,
) -> Result<RunSummary, TickError> {
    let deadline = start_deadline(event.context.deadline());
    let summary = reconciler.run_due(Some(deadline)).await.map_err(|e| {
        tracing::error!(error = %e, "reconcile tick failed");
        TickError(e)
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
