//! `ghsync serve`: one process with every HTTP route and the reconcile loop.

use anyhow::{Context, Result};
use axum::Router;
use axum::routing::get;
use ghsync_api::ApiState;
use ghsync_shared::config::{ApiToken, Config, WebhookSecrets};
use ghsync_shared::reconcile::{ReconcileOptions, Reconciler, RunQueue};
use ghsync_shared::webhook::WebhookConfig;
use ghsync_webhook::WebhookState;

use crate::local;

/// Serves until interrupted (Ctrl-C or SIGTERM).
pub async fn run(config: Config) -> Result<()> {
    let services = local::services(&config).await?;
    let dir = local::state_dir(&config.database_url);
    let secrets = match &config.webhook_secrets {
        Some(secrets) => secrets.clone(),
        None => {
            let secret = kept_and_printed(&dir, "ghsync.webhook-secret", "webhook secret")?;
            WebhookSecrets::parse(&secret).context("empty webhook secret file")?
        }
    };
    let token = match &config.api_token {
        Some(token) => token.clone(),
        None => ApiToken::new(kept_and_printed(&dir, "ghsync.api-token", "API token")?)
            .context("empty API token file")?,
    };
    let webhook = WebhookState::new(
        services.store.clone(),
        WebhookConfig { secrets: Some(secrets), web_host: services.github.web_host().clone() },
    );
    // "Sync now" in the API queues a run and wakes this worker at once.
    let (runs, wake) = RunQueue::local();
    let reconciler = Reconciler::new(services.clone(), ReconcileOptions::for_config(&config));
    let background = tokio::spawn(ghsync_shared::reconcile::work(reconciler, wake, RECONCILE_EVERY));
    let app = router(ApiState { services, token: Some(token), runs }, webhook);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {} (GHSYNC_LISTEN)", config.listen))?;
    println!("ghsync listening on http://{}", listener.local_addr()?);
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    background.abort();
    Ok(())
}

/// How often the local reconcile loop looks for due configs.
const RECONCILE_EVERY: std::time::Duration = std::time::Duration::from_secs(15);

/// Runs a reconcile pass every [`RECONCILE_EVERY`], for ever (`ghsync reconcile` without
/// `--once`).
pub async fn reconcile_loop(reconciler: Reconciler) {
    ghsync_shared::reconcile::work(
        reconciler,
        std::sync::Arc::new(tokio::sync::Notify::new()),
        RECONCILE_EVERY,
    )
    .await
}

/// A secret generated on first start and kept in `dir/file`. Printed once, when it is
/// generated (so the user can paste it); later starts only say where it is kept.
fn kept_and_printed(dir: &std::path::Path, file: &str, what: &str) -> Result<String> {
    let (secret, created) = local::kept_secret(dir, file, 32)?;
    let path = dir.join(file);
    if created {
        println!("{what} (generated in {}, mode 600): {secret}", path.display());
    } else {
        println!("{what}: kept in {}", path.display());
    }
    Ok(secret)
}

/// Every route of the system in one router.
pub fn router(api: ApiState, webhook: WebhookState) -> Router {
    Router::new()
        .route("/healthz", get(|| async { axum::Json(serde_json::json!({ "status": "ok" })) }))
        .merge(ghsync_webhook::router(webhook))
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
