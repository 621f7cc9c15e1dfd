//! The webhook receiver: `POST /webhooks/github` (single-tenant: the deployment's secret, every
//! config of the repository), `POST /webhooks/github/{config_id}` (one config: its own
//! secret, its project only) and `POST /webhooks/github/app` (the GitHub App's secret, the
//! configs of the delivery's installation) as an axum [`Router`] that `lambda_http` serves behind API
//! Gateway (HTTP API, payload 2.0; base64 bodies arrive decoded) and `ghsync serve` mounts
//! locally. It only translates HTTP to `ghsync_shared::webhook`; a request without a
//! well-formed signature, or form-encoded, is refused before its body is read.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{DefaultBodyLimit, Path, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use ghsync_shared::config::WebhookSecrets;
use ghsync_shared::manage::{StartupError, open_store};
use ghsync_shared::store::StoreOptions;
use ghsync_shared::webhook::{self, Delivery, WebhookConfig, WebhookError};
use ghsync_shared::{Store, StoreError};
use serde_json::json;

/// What the receiver needs.
#[derive(Debug)]
pub struct WebhookState {
    receiver: webhook::Receiver,
}

impl WebhookState {
    /// Needs a Tokio runtime (see [`webhook::Receiver::new`]).
    pub fn new(store: Store, config: WebhookConfig) -> Self {
        Self { receiver: webhook::Receiver::new(store, config) }
    }

    /// For github.com; `secrets` `None`: none configured, every delivery is refused.
    pub fn github_com(store: Store, secrets: Option<WebhookSecrets>) -> Self {
        Self::new(store, WebhookConfig::github_com(secrets))
    }

    /// From the environment, at cold start.
    pub async fn from_env() -> Result<Self, StartupError> {
        let (config, secrets) = ghsync_shared::secrets::deployed_config_from_env().await?;
        let store = open_store(&config, &StoreOptions::deployed(2)).await?;
        secrets.watch_store(&store);
        if secrets.webhook().is_none() {
            tracing::error!("no webhook secret is configured: every delivery will be refused");
        }
        let web_host = config.github_web_host();
        // The GitHub App's webhook secret is kept sealed in the database (KMS opens it).
        // Without a key provider configured, App deliveries are refused; a broken one (a bad
        // local key) stops the start, as in every other function.
        let app_secret = match ghsync_shared::manage::key_provider(&config).await {
            Ok(keys) => ghsync_shared::app::AppSecret::new(store.clone(), keys),
            Err(StartupError::Config(ghsync_shared::config::ConfigError::Missing(_))) => Default::default(),
            Err(e) => return Err(e),
        };
        Ok(Self::new(store, WebhookConfig { secrets, web_host, app_secret }))
    }
}

/// Webhook bodies read at once by one process: each may be up to 25 MiB before its
/// signature can be checked, so this bounds what senders with a well-formed but wrong
/// signature can make a process hold (GitHub's own deliveries are a few KB and quick).
pub const MAX_BODIES_READ: usize = 16;

/// How long a delivery waits for one of the [`MAX_BODIES_READ`] slots before a 503.
const WAIT_FOR_READ: std::time::Duration = std::time::Duration::from_secs(3);

/// `POST /webhooks/github` and `POST /webhooks/github/{config_id}`.
pub fn router(state: WebhookState) -> Router {
    router_with(state, MAX_BODIES_READ)
}

/// [`router`] reading at most `bodies` webhook bodies at once.
pub fn router_with(state: WebhookState, bodies: usize) -> Router {
    let reads = Arc::new(tokio::sync::Semaphore::new(bodies));
    Router::new()
        .route("/webhooks/github", post(receive))
        .route("/webhooks/github/app", post(receive_for_app))
        .route("/webhooks/github/{config_id}", post(receive_for_config))
        // One byte over GitHub's cap still reaches the handler, which answers 413 itself.
        .layer(DefaultBodyLimit::max(webhook::MAX_BODY_BYTES + 1))
        .layer(middleware::from_fn_with_state(reads, before_the_body))
        .with_state(Arc::new(state))
}

/// Refuses, before a byte of the body is read, what can never be accepted: a form-encoded
/// delivery (400: the hook must send JSON) and one without a well-formed
/// `X-Hub-Signature-256` (401). An attacker without the secret cannot make ghsync read,
/// buffer or hash an upload.
async fn before_the_body(
    State(reads): State<Arc<tokio::sync::Semaphore>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let form = header(headers, header::CONTENT_TYPE.as_str()).is_some_and(|t| {
        t.trim_start().to_ascii_lowercase().starts_with("application/x-www-form-urlencoded")
    });
    if form {
        return answer(
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "form_encoded", "message": "this hook sends application/x-www-form-urlencoded; \
                edit the webhook on GitHub and choose Content type: application/json"}}),
        );
    }
    if let Err(e) = webhook::parse_signature(header(headers, "x-hub-signature-256")) {
        return refuse(&e);
    }
    // Over the bound a delivery waits (its body stays unread in the socket) for a while,
    // then is turned away for GitHub to redeliver.
    let Ok(Ok(_reading)) = tokio::time::timeout(WAIT_FOR_READ, reads.acquire_owned()).await else {
        tracing::warn!("webhook refused: too many bodies being read at once");
        return answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": {"code": "busy", "message": "too many deliveries at once; redeliver it later"}}),
        );
    };
    next.run(request).await
}

/// `POST /webhooks/github/{config_id}`: one config's own URL.
async fn receive_for_config(
    State(state): State<Arc<WebhookState>>,
    Path(config_id): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let Ok(config_id) = uuid::Uuid::parse_str(&config_id) else {
        return answer(
            StatusCode::NOT_FOUND,
            json!({"error": {"code": "not_found", "message": "no such webhook"}}),
        );
    };
    deliver(&state, &headers, body, Some(config_id), false).await
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// `POST /webhooks/github`: the deployment-wide route.
async fn receive(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    deliver(&state, &headers, body, None, false).await
}

/// `POST /webhooks/github/app`: the GitHub App's deliveries.
async fn receive_for_app(
    State(state): State<Arc<WebhookState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    deliver(&state, &headers, body, None, true).await
}

async fn deliver(
    state: &WebhookState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    tenant: Option<uuid::Uuid>,
    app: bool,
) -> Response {
    let body = match body {
        Ok(body) => body,
        Err(e) if e.status() == StatusCode::PAYLOAD_TOO_LARGE => return refuse(&WebhookError::TooLarge),
        Err(e) => {
            return answer(
                StatusCode::BAD_REQUEST,
                json!({"error": {"code": "bad_request", "message": e.body_text()}}),
            );
        }
    };
    // HeaderMap lookups are case-insensitive, as GitHub's header names are.
    let delivery = Delivery {
        event: header(headers, "x-github-event"),
        delivery_id: header(headers, "x-github-delivery"),
        signature_256: header(headers, "x-hub-signature-256"),
        signature_sha1: header(headers, "x-hub-signature"),
        body: &body,
        tenant,
        app,
    };
    match state.receiver.handle(delivery).await {
        Ok(handled) => {
            let status = StatusCode::from_u16(handled.status()).unwrap_or(StatusCode::OK);
            answer(status, serde_json::to_value(&handled).unwrap_or_default())
        }
        Err(e) => refuse(&e),
    }
}

fn refuse(e: &WebhookError) -> Response {
    let (status, code) = match e {
        WebhookError::NoSecret
        | WebhookError::MissingSignature
        | WebhookError::MalformedSignature
        | WebhookError::BadSignature => (StatusCode::UNAUTHORIZED, "unauthenticated"),
        WebhookError::MissingHeader(_)
        | WebhookError::InvalidPayload(_)
        | WebhookError::FromTheFuture { .. } => (StatusCode::BAD_REQUEST, "bad_request"),
        WebhookError::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "too_large"),
        WebhookError::Store(StoreError::Unavailable(_)) | WebhookError::AppSecret(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
        WebhookError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    };
    // Store failures stay in the log (already written by `handle`); the answer is opaque.
    let message = match e {
        WebhookError::Store(_) => "the delivery was not applied; redeliver it later".to_string(),
        other => other.to_string(),
    };
    answer(status, json!({"error": {"code": code, "message": message}}))
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}
