//! Lambda entry point of the reconciler (EventBridge schedule).

use lambda_runtime::{LambdaEvent, service_fn};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ghsync_shared::telemetry::init();
    let reconciler = ghsync_reconcile::reconciler_from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| ghsync_reconcile::handle(event, &reconciler)))
        .await
}
