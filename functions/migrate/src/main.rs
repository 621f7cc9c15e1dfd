//! Lambda entry point of the migration step (a CloudFormation custom resource, or by hand).

use lambda_runtime::{LambdaEvent, service_fn};

async fn settings() -> Result<ghsync_shared::config::Config, ghsync_shared::startup::StartupError> {
    Ok(ghsync_shared::startup::deployed_config_from_env().await?.0)
}

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    ghsync_shared::telemetry::init();
    lambda_runtime::run(service_fn(|event: LambdaEvent<serde_json::Value>| {
        Box::pin(ghsync_migrate::handle(event.payload, settings))
    }))
    .await
}
