//! `ghsync serve`: one process with every HTTP route and the reconcile loop.

use anyhow::{Context, Result};
use axum::Router;
use axum::routing::get;
use ghsync_api::ApiState;
use ghsync_shared::config::{ApiToken, Config};

use crate::local;

/// Serves until interrupted (Ctrl-C or SIGTERM).
pub async fn run(config: Config) -> Result<()> {
    let services = local::services(&config).await?;
    let dir = local::state_dir(&config.database_url);
    if config.webhook_secrets.is_none() {
        let (secret, created) = local::kept_secret(&dir, "ghsync.webhook-secret", 32)?;
        let verb = if created { "generated" } else { "kept" };
        println!("webhook secret ({verb} in {}): {secret}", dir.join("ghsync.webhook-secret").display());
    }
    let token = match &config.api_token {
        Some(token) => token.clone(),
        None => {
            let (token, created) = local::kept_secret(&dir, "ghsync.api-token", 32)?;
            let verb = if created { "generated" } else { "kept" };
            println!("API token ({verb} in {}): {token}", dir.join("ghsync.api-token").display());
            ApiToken::new(token).context("empty API token file")?
        }
    };
    let app = router(ApiState { services, token: Some(token) });
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (GHSYNC_LISTEN)", config.listen))?;
    println!("ghsync listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    Ok(())
}

/// Every route of the system in one router.
pub fn router(api: ApiState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }))
        .merge(ghsync_api::router(api))
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            s.recv().await;
        }
    };
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}
