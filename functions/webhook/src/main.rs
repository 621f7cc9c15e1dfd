//! Lambda entry point of the webhook receiver (API Gateway HTTP API).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    ghsync_shared::telemetry::init();
    ghsync_shared::metrics::emit_to_stdout("webhook");
    let state = ghsync_webhook::WebhookState::from_env()
        .await
        .unwrap_or_else(|e| ghsync_shared::telemetry::cannot_start(&e));
    lambda_http::run(ghsync_webhook::router(state)).await
}
