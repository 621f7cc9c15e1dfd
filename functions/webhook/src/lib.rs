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
use ghsync_shared::startup::{StartupError, open_store};
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
        let (config, secrets) = ghsync_shared::startup::deployed_config_from_env().await?;
        let store = open_store(&config, &StoreOptions::deployed(2)).await?;
        secrets.watch_store(&store);
        if secrets.webhook().is_none() {
            tracing::error!("no webhook secret is configured: every delivery will be refused");
        }
        let web_host = config.github_web_host();
        // The GitHub App's webhook secret is kept sealed in the database (KMS opens it).
        // Without a key provider configured, App deliveries are refused; a broken one (a bad
        // local key) stops the start, as in every other function.
        // The App's JWT goes to the deployment's GitHub only.
        let github = ghsync_shared::github::GitHub::new(
            &config.github_api_url,
            ghsync_shared::startup::GITHUB_TIMEOUT,
        )?;
        let app = match ghsync_shared::startup::key_provider(&config).await {
            Ok(keys) => ghsync_shared::services::app::AppAccess::new(store.clone(), keys, github),
            Err(StartupError::Config(ghsync_shared::config::ConfigError::Missing(_))) => Default::default(),
            Err(e) => return Err(e),
        };
        Ok(Self::new(store, WebhookConfig { secrets, web_host, app }))
    }
}

/// Webhook bodies read at once by one process: each may be up to 25 MiB before its
/// signature can be checked, so this bounds what senders with a well-formed but wrong
/// signature can make a process hold (GitHub's own deliveries are a few KB and quick).
pub const MAX_BODIES_READ: usize = 16;

/// Of those, what one client may hold at once (see [`Client`]): one client holding its
/// maximum leaves the others room.
pub const MAX_BODIES_PER_CLIENT: usize = 4;

/// Once fewer than this many slots are free, a body must arrive at [`MIN_BODY_RATE`] at
/// least: a slot is not held by a slow trickle while others wait.
const NEARLY_FULL: usize = MAX_BODIES_READ / 4;

/// Bytes a second a body must average once the slots are nearly full (after a second's grace).
const MIN_BODY_RATE: u64 = 64 * 1024;

/// How long a delivery waits for one of the [`MAX_BODIES_READ`] slots before a 503.
const WAIT_FOR_READ: std::time::Duration = std::time::Duration::from_secs(3);

/// The client a request came from, as the server in front tells (`ghsync serve`: the peer
/// address, or the address a trusted proxy forwards). Absent, as in Lambda, where an
/// instance serves one request at a time, no per-client cap applies.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Client(pub std::net::IpAddr);

/// What each client holds (body slots here, connections in `ghsync serve`), up to a cap.
#[derive(Clone, Debug, Default)]
pub struct PerClient(Arc<std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>>);

/// One thing a client holds, given back when dropped.
#[derive(Debug)]
pub struct Held {
    counts: PerClient,
    client: std::net::IpAddr,
}

impl PerClient {
    /// One more for `client`, unless it already holds `max`.
    pub fn take(&self, client: std::net::IpAddr, max: usize) -> Option<Held> {
        let mut held = self.0.lock().expect("per-client counts lock");
        let count = held.entry(client).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(Held { counts: self.clone(), client })
    }
}

impl Drop for Held {
    fn drop(&mut self) {
        let mut held = self.counts.0.lock().expect("per-client counts lock");
        if let Some(count) = held.get_mut(&self.client) {
            *count -= 1;
            if *count == 0 {
                held.remove(&self.client);
            }
        }
    }
}

/// The body slots: [`MAX_BODIES_READ`] in all, at most [`MAX_BODIES_PER_CLIENT`] per client.
#[derive(Debug)]
struct Reads {
    slots: Arc<tokio::sync::Semaphore>,
    total: usize,
    by_client: PerClient,
}

/// `POST /webhooks/github` and `POST /webhooks/github/{config_id}`.
pub fn router(state: WebhookState) -> Router {
    router_with(state, MAX_BODIES_READ)
}

/// [`router`] reading at most `bodies` webhook bodies at once.
pub fn router_with(state: WebhookState, bodies: usize) -> Router {
    let reads = Arc::new(Reads {
        slots: Arc::new(tokio::sync::Semaphore::new(bodies)),
        total: bodies,
        by_client: PerClient::default(),
    });
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
/// buffer or hash an upload. Then waits for a body slot (within the client's share), and once
/// the slots are nearly full reads the body at a minimum rate.
async fn before_the_body(State(reads): State<Arc<Reads>>, request: Request, next: Next) -> Response {
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
    let busy = || {
        answer(
            StatusCode::SERVICE_UNAVAILABLE,
            json!({"error": {"code": "busy", "message": "too many deliveries at once; redeliver it later"}}),
        )
    };
    let _client_hold = match request.extensions().get::<Client>() {
        Some(Client(client)) => match reads.by_client.take(*client, MAX_BODIES_PER_CLIENT.min(reads.total)) {
            Some(hold) => Some(hold),
            None => {
                tracing::warn!(%client, "webhook refused: the client holds its share of body slots");
                return busy();
            }
        },
        None => None,
    };
    // Over the bound a delivery waits (its body stays unread in the socket) for a while,
    // then is turned away for GitHub to redeliver.
    let Ok(Ok(_reading)) = tokio::time::timeout(WAIT_FOR_READ, reads.slots.clone().acquire_owned()).await
    else {
        tracing::warn!("webhook refused: too many bodies being read at once");
        return busy();
    };
    if reads.slots.available_permits() >= NEARLY_FULL.min(reads.total.saturating_sub(1)) {
        return next.run(request).await;
    }
    // Nearly full: the body arrives at the minimum rate, or the slot goes to someone else.
    let (parts, body) = request.into_parts();
    let expected = header(&parts.headers, header::CONTENT_LENGTH.as_str())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(webhook::MAX_BODY_BYTES as u64)
        .min(webhook::MAX_BODY_BYTES as u64 + 1);
    let allowed =
        std::time::Duration::from_secs(1) + std::time::Duration::from_secs(expected / MIN_BODY_RATE);
    match tokio::time::timeout(allowed, axum::body::to_bytes(body, webhook::MAX_BODY_BYTES + 1)).await {
        Ok(Ok(bytes)) => next.run(Request::from_parts(parts, axum::body::Body::from(bytes))).await,
        Ok(Err(_)) if expected > webhook::MAX_BODY_BYTES as u64 => refuse(&WebhookError::TooLarge),
        Ok(Err(e)) => answer(
            StatusCode::BAD_REQUEST,
            json!({"error": {"code": "bad_request", "message": format!("the body could not be read: {e}")}}),
        ),
        Err(_) => {
            tracing::warn!("webhook refused: a body arrived too slowly while the slots were nearly full");
            answer(
                StatusCode::REQUEST_TIMEOUT,
                json!({"error": {"code": "too_slow", "message": "the body arrived too slowly"}}),
            )
        }
    }
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
        WebhookError::Store(StoreError::Unavailable(_)) | WebhookError::Unconfirmed(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
        WebhookError::Store(_) => (StatusCode::INTERNAL_SERVER_ERROR, "internal"),
    };
    // Store failures stay in the log (already written by `handle`); the answer is opaque. An
    // unverifiable delivery learns nothing of why: whether a secret is configured, opens, or
    // the config exists all answer alike.
    let message = match e {
        WebhookError::Store(_) | WebhookError::Unconfirmed(_) => {
            "the delivery was not applied; redeliver it later".to_string()
        }
        WebhookError::NoSecret | WebhookError::BadSignature => WebhookError::BadSignature.to_string(),
        other => other.to_string(),
    };
    answer(status, json!({"error": {"code": code, "message": message}}))
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, axum::Json(body)).into_response()
}
