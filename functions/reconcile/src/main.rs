//! Lambda entry point of the reconciler (EventBridge schedule, and the reconcile queue).

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ghsync_shared::telemetry::init();
    ghsync_shared::metrics::emit_to_stdout("reconcile");
    let worker = ghsync_reconcile::worker_from_env()
        .await
        .unwrap_or_else(|e| ghsync_shared::telemetry::cannot_start(&e));
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| ghsync_reconcile::handle_any(event, &worker)))
        .await
}
