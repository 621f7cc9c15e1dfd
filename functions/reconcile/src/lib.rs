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
    let config = Config::lambda_from_env()?;
    let options = StoreOptions { max_connections: 4, ..Default::default() };
    let services = Services::connect(&config, &options, None).await?;
    Ok(Reconciler::new(services, ReconcileOptions::for_config(&config)))
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

/// Deadlines below this many milliseconds since the epoch (September 2001) are not instants
/// but durations: `cargo lambda watch` sends the function's timeout itself.
const EARLIEST_DEADLINE_MS: u64 = 1_000_000_000_000;

/// The instant before which new configs may start, from the invocation's deadline (Lambda:
/// milliseconds since the epoch). `None` when the runtime gave none (0).
pub fn start_deadline(deadline_ms: u64) -> Option<Instant> {
    let left = match deadline_ms {
        0 => return None,
        ms if ms < EARLIEST_DEADLINE_MS => Duration::from_millis(ms),
        ms => (SystemTime::UNIX_EPOCH + Duration::from_millis(ms))
            .duration_since(SystemTime::now())
            .unwrap_or(Duration::ZERO),
    };
    Some(Instant::now() + left.saturating_sub(MARGIN))
}

/// One tick.
pub async fn handle(
    event: LambdaEvent<EventBridgeEvent>,
    reconciler: &Reconciler,
) -> Result<RunSummary, TickError> {
    let deadline = start_deadline(event.context.deadline);
    let summary = reconciler.run_due(deadline).await.map_err(|e| {
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
