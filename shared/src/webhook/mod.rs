//! GitHub webhook deliveries: verification, then `issues` and `issue_comment` events applied
//! through the sync rules, idempotently on `X-GitHub-Delivery`.
//!
//! [`handle`] is the whole behaviour; the Lambda function and `ghsync serve` only translate
//! HTTP to a [`Delivery`] and the result back to a status.
//!
//! Rooms: [`signature`] verifies, [`payload`] parses, [`apply`] records and carries out one
//! delivery in a transaction, [`group_commit`] shares transactions between deliveries on SQLite.

mod apply;
mod group_commit;
mod payload;
mod signature;

use std::time::Instant;

use serde::Serialize;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::config::WebhookSecrets;
use crate::domain::WebHost;
use crate::secrets::Secrets;
use crate::store::{ApplyOutcome, Backend, MayBeRace, Store, StoreError};
use crate::time::Timestamp;
use apply::{Received, apply_alone, record_alone};
use group_commit::{Job, QUEUE_CAPACITY, write_batches};
pub use payload::PayloadError;
use payload::{Change, CommentPayload, Envelope, IssuesPayload, RepositoryRef};
pub use signature::{parse_signature, sign, verify_signature};

/// GitHub's cap on a webhook payload: larger deliveries are refused (413).
pub const MAX_BODY_BYTES: usize = 25 * 1024 * 1024;

/// One delivery as received: the headers that matter and the raw body.
#[derive(Clone, Copy, Debug)]
pub struct Delivery<'a> {
    /// `X-GitHub-Event`.
    pub event: Option<&'a str>,
    /// `X-GitHub-Delivery`.
    pub delivery_id: Option<&'a str>,
    /// `X-Hub-Signature-256`.
    pub signature_256: Option<&'a str>,
    /// `X-Hub-Signature` (SHA-1): never accepted on its own.
    pub signature_sha1: Option<&'a str>,
    pub body: &'a [u8],
    /// The config whose own URL received it (`/webhooks/github/{config_id}`): verified with
    /// that config's secret, applied to its project only. `None`: the deployment-wide route.
    pub tenant: Option<Uuid>,
    /// Received on the GitHub App's URL (`/webhooks/github/app`): verified with the App's
    /// webhook secret, applied to the configs of the delivery's installation.
    pub app: bool,
}

/// Whose configs a verified delivery may touch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Route {
    /// Every enabled config of the repository (the deployment-wide URL).
    Shared,
    /// One config (its own URL).
    Config(Uuid),
    /// The configs working through one installation of the App (the App's URL).
    Installation(i64),
}

/// Why a delivery was refused. Nothing is written for any of them.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No secret configured: every delivery is refused, never accepted (401).
    #[error("no webhook secret is configured")]
    NoSecret,
    #[error("missing X-Hub-Signature-256 (a SHA-1 X-Hub-Signature alone is not accepted)")]
    MissingSignature,
    #[error("malformed X-Hub-Signature-256")]
    MalformedSignature,
    #[error("signature does not match")]
    BadSignature,
    #[error("missing {0} header")]
    MissingHeader(&'static str),
    #[error("invalid payload: {0}")]
    InvalidPayload(#[source] PayloadError),
    #[error("payload larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    /// What an installation event says could not be confirmed with GitHub (unreachable, or
    /// the App's JWT refused): nothing changed, GitHub may redeliver it (503).
    #[error("the installation event could not be confirmed with GitHub")]
    Unconfirmed(#[source] crate::services::ManageError),
    /// The issue's `updated_at` lies more than five minutes ahead of the receiver's clock:
    /// recorded, nothing applied (400). Applied, it would make every real snapshot look older.
    #[error(
        "the issue's updated_at ({updated_at}) lies more than five minutes ahead of this receiver's clock"
    )]
    FromTheFuture { updated_at: Timestamp },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MayBeRace for WebhookError {
    fn is_transient_race(&self) -> bool {
        matches!(self, WebhookError::Store(e) if e.is_transient_race())
    }
}

/// What a verified delivery did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "outcome")]
pub enum Handled {
    /// `ping`: the hook works.
    Pong,
    /// An `issues` event applied to every enabled config of its repository.
    Applied { results: Vec<ProjectResult> },
    /// Seen before (same `X-GitHub-Delivery`): nothing changed.
    Duplicate,
    /// Recorded and ignored: another event, a pull request, or no enabled config.
    Ignored { reason: &'static str },
    /// The App's installation (or some of its repositories) went away: these configs paused.
    Paused { configs: usize },
    /// It came back: these configs, paused by its going, resumed.
    Resumed { configs: usize },
    /// The installation accepted new permissions: pushes GitHub had refused go again.
    Rearmed { entries: u64 },
}

/// What one delivery did to one project. The answer to GitHub leaves the project out (the
/// repository's admins see it in the delivery log): it names no project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProjectResult {
    #[serde(skip)]
    pub project_id: Uuid,
    pub result: IssueResult,
}

/// The effect on one project's task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IssueResult {
    Applied(ApplyOutcome),
    /// The issue was deleted (or transferred away): the task stays, marked.
    MarkedGone,
    /// Transferred into a repository configured for the same project: the task follows it.
    Relinked,
    /// Not linked in this project: nothing to mark.
    NotLinked,
    /// An `issue_comment` event: its issue's snapshot applied, then the comment.
    Comment {
        issue: ApplyOutcome,
        comment: crate::sync::CommentOutcome,
    },
}

impl Handled {
    /// The HTTP status GitHub is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Handled::Pong
            | Handled::Applied { .. }
            | Handled::Duplicate
            | Handled::Paused { .. }
            | Handled::Resumed { .. }
            | Handled::Rearmed { .. } => 200,
            Handled::Ignored { .. } => 202,
        }
    }

    fn log_outcome(&self) -> &'static str {
        match self {
            Handled::Pong => "pong",
            Handled::Applied { .. } => "applied",
            Handled::Duplicate => "duplicate",
            Handled::Ignored { reason } => reason,
            Handled::Paused { .. } => "paused",
            Handled::Resumed { .. } => "resumed",
            Handled::Rearmed { .. } => "rearmed",
        }
    }
}

/// What verifying and applying deliveries needs besides the store.
#[derive(Clone, Debug)]
pub struct WebhookConfig {
    /// The deployment's secrets (no webhook secret: every delivery is refused, never
    /// accepted); read again when a signature matches none of them.
    pub secrets: Secrets,
    /// The GitHub web host every issue URL must be on.
    pub web_host: WebHost,
    /// The GitHub App's webhook secret and JWT (none: App deliveries are refused).
    pub app: crate::services::app::AppAccess,
}

impl WebhookConfig {
    /// For github.com.
    pub fn github_com(secrets: Option<WebhookSecrets>) -> Self {
        Self {
            secrets: Secrets::fixed(secrets, None),
            web_host: WebHost::github_com(),
            app: Default::default(),
        }
    }
}

/// Handles one delivery on its own: verify, then record and apply in one transaction.
/// A long-running receiver uses [`Receiver`], which shares transactions on SQLite.
pub async fn handle(
    store: &Store,
    config: &WebhookConfig,
    delivery: Delivery<'_>,
) -> Result<Handled, WebhookError> {
    handle_with(store, config, None, delivery).await
}

/// A webhook receiver for a process that serves many deliveries.
///
/// On SQLite every write goes through the store's one connection, so concurrent deliveries
/// wait for it one by one anyway. Here they wait in a queue instead, and one writer task
/// applies everything queued in a single transaction (group commit): a delivery still
/// commits with its effects or not at all, and a burst pays for one commit instead of one
/// per delivery. Verification and parsing stay concurrent. On PostgreSQL deliveries run
/// side by side on the pool, each in its own transaction, as [`handle`] does.
pub struct Receiver {
    store: Store,
    config: WebhookConfig,
    queue: Option<mpsc::Sender<Job>>,
}

impl Receiver {
    /// Starts the writer task when the store is SQLite (so it needs a Tokio runtime).
    pub fn new(store: Store, config: WebhookConfig) -> Self {
        let queue = (store.backend() == Backend::Sqlite).then(|| {
            let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
            tokio::spawn(write_batches(store.clone(), jobs));
            queue
        });
        Self { store, config, queue }
    }

    pub async fn handle(&self, delivery: Delivery<'_>) -> Result<Handled, WebhookError> {
        handle_with(&self.store, &self.config, self.queue.as_ref(), delivery).await
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("store", &self.store)
            .field("config", &self.config)
            .field("group_commit", &self.queue.is_some())
            .finish()
    }
}

async fn handle_with(
    store: &Store,
    config: &WebhookConfig,
    queue: Option<&mpsc::Sender<Job>>,
    delivery: Delivery<'_>,
) -> Result<Handled, WebhookError> {
    let started = Instant::now();
    let result = handle_inner(store, config, queue, delivery).await;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    // What the sender says, capped and cleaned before it reaches a log line or a metric: the
    // request may be unverified.
    let event = shown(delivery.event);
    let delivery_id = shown(delivery.delivery_id);
    let outcome = match &result {
        Ok((handled, meta)) => {
            tracing::info!(
                delivery_id,
                event,
                action = meta.action.as_deref().unwrap_or("-"),
                repo = meta.repo.as_deref().unwrap_or("-"),
                outcome = handled.log_outcome(),
                duration_ms,
                "webhook delivery"
            );
            handled.log_outcome()
        }
        Err(e) => {
            tracing::warn!(delivery_id, event, outcome = "refused", error = %e, duration_ms, "webhook delivery");
            match e {
                WebhookError::Store(StoreError::Unavailable(_)) => "unavailable",
                WebhookError::Store(_) => "error",
                _ => "refused",
            }
        }
    };
    crate::metrics::delivery(outcome, duration_ms, event, delivery_id);
    if outcome == "unavailable" {
        // Perhaps the database credentials were rotated: the next delivery uses new ones.
        config.secrets.reread().await;
    }
    result.map(|(handled, _)| handled)
}

/// A header's value as logs and metrics show it: `-` when absent, `invalid` unless it is at
/// most [`MAX_DELIVERY_ID`] characters of letters, digits and `-_.:` (GitHub's delivery ids
/// are UUIDs, its event names lower-case words).
fn shown(value: Option<&str>) -> &str {
    match value {
        None => "-",
        Some(v)
            if !v.is_empty()
                && v.len() <= MAX_DELIVERY_ID
                && v.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b)) =>
        {
            v
        }
        Some(_) => "invalid",
    }
}

/// The longest `X-GitHub-Delivery` accepted (and shown).
const MAX_DELIVERY_ID: usize = 200;

#[derive(Clone, Default)]
pub(super) struct LogMeta {
    pub(super) action: Option<String>,
    pub(super) repo: Option<String>,
}

async fn handle_inner(
    store: &Store,
    config: &WebhookConfig,
    queue: Option<&mpsc::Sender<Job>>,
    delivery: Delivery<'_>,
) -> Result<(Handled, LogMeta), WebhookError> {
    if delivery.body.len() > MAX_BODY_BYTES {
        return Err(WebhookError::TooLarge);
    }
    // Verification comes first: nothing about an unverified body is believed or parsed. A
    // config's own URL takes only that config's secret, the App's URL only the App's.
    if delivery.app {
        // Boxed: reading the App's secret (the store, KMS) makes a future deep enough for
        // callers' own futures to hit the type-depth limit.
        Box::pin(verify_app(config, delivery)).await?;
        return handle_verified(store, config, queue, delivery).await;
    }
    // A config's own URL: the secret of the config's current generation (an unknown config
    // verifies nothing, and is told no more than a wrong signature is).
    let tenant = match delivery.tenant {
        Some(config_id) => {
            let key = Box::pin(store.tenant_key(config_id)).await?;
            Some((config_id, key.ok_or(WebhookError::BadSignature)?))
        }
        None => None,
    };
    let verify = |secrets: Option<WebhookSecrets>| {
        let secrets = match &tenant {
            Some((config_id, (key, _))) => secrets.map(|s| s.for_config(*config_id, key)),
            None => secrets,
        };
        verify_signature(secrets.as_ref(), delivery.signature_256, delivery.body)
    };
    match verify(config.secrets.webhook()) {
        // Perhaps the secret was rotated since this process read it.
        Err(WebhookError::BadSignature) if config.secrets.reread().await => verify(config.secrets.webhook())?,
        other => other?,
    }
    if let Some((config_id, (key, false))) = &tenant {
        // The first delivery signed with this generation: the hook has the new secret.
        if let Err(e) = store.note_secret_used(*config_id, key.generation).await {
            tracing::warn!(error = %crate::telemetry::ErrorChain(&e), "cannot record the secret's first use");
        }
    }
    handle_verified(store, config, queue, delivery).await
}

/// Verifies a delivery to the App's URL with the App's webhook secret (read again once when
/// it matches nothing: it may have been changed since). A secret that does not open verifies
/// nothing, like a wrong one (see [`crate::services::app::AppAccess`]).
async fn verify_app(config: &WebhookConfig, delivery: Delivery<'_>) -> Result<(), WebhookError> {
    let secret = |fresh: bool| async move {
        Ok::<_, WebhookError>(config.app.secret(fresh).await?.map(WebhookSecrets::one))
    };
    match verify_signature(secret(false).await?.as_ref(), delivery.signature_256, delivery.body) {
        // Perhaps the App was set, or its secret changed, since this process read it.
        Err(WebhookError::BadSignature | WebhookError::NoSecret) => {
            verify_signature(secret(true).await?.as_ref(), delivery.signature_256, delivery.body)
        }
        other => other,
    }
}

/// Handles a verified delivery.
async fn handle_verified(
    store: &Store,
    config: &WebhookConfig,
    queue: Option<&mpsc::Sender<Job>>,
    delivery: Delivery<'_>,
) -> Result<(Handled, LogMeta), WebhookError> {
    let event =
        delivery.event.filter(|e| !e.is_empty()).ok_or(WebhookError::MissingHeader("X-GitHub-Event"))?;
    let delivery_id = delivery
        .delivery_id
        .filter(|d| !d.is_empty())
        .ok_or(WebhookError::MissingHeader("X-GitHub-Delivery"))?;
    if delivery_id.len() > MAX_DELIVERY_ID {
        return Err(WebhookError::InvalidPayload(PayloadError::Shape("X-GitHub-Delivery is too long")));
    }
    let now = Timestamp::now();
    let parse_error = |e: serde_json::Error| WebhookError::InvalidPayload(PayloadError::Json(e));

    let route = match (delivery.tenant, delivery.app) {
        (Some(config_id), _) => Route::Config(config_id),
        (None, false) => Route::Shared,
        // An App delivery names its installation; only the App's own `ping` (sent when its
        // webhook is set up) has none, and it is only recorded.
        (None, true) => {
            let envelope: Envelope = serde_json::from_slice(delivery.body).map_err(parse_error)?;
            match envelope.installation {
                Some(installation) => Route::Installation(installation.id),
                None if event == "ping" => Route::Shared,
                None => {
                    let shape = PayloadError::Shape("an App delivery must name its installation");
                    return Err(WebhookError::InvalidPayload(shape));
                }
            }
        }
    };
    if let (Route::Installation(_), "installation" | "installation_repositories") = (route, event) {
        let received = Received { id: delivery_id, event, meta: &LogMeta::default(), now, route };
        let (handled, meta) =
            Box::pin(apply::installation_event(store, &config.app, &received, delivery.body)).await?;
        return Ok((handled, meta));
    }
    if event != "issues" && event != "issue_comment" {
        let envelope: Envelope = serde_json::from_slice(delivery.body).map_err(parse_error)?;
        let meta = LogMeta { action: envelope.action, repo: envelope.repository.map(|r| r.full_name) };
        let received = Received { id: delivery_id, event, meta: &meta, now, route };
        let handled = match event {
            "ping" => Handled::Pong,
            // A label renamed, recoloured or deleted, a milestone changed: no issue event says
            // so, and the board's choices would go stale (docs/fields.md, "Choices"). The next
            // run lists them in full; the delivery changes nothing else.
            "label" | "milestone" => match &meta.repo {
                Some(repo) => {
                    store.choices_stale_for_repo(repo).await?;
                    Handled::Ignored { reason: "choices_stale" }
                }
                None => Handled::Ignored { reason: "event_ignored" },
            },
            _ => Handled::Ignored { reason: "event_ignored" },
        };
        let fresh = record_alone(store, &received, handled.log_outcome()).await?;
        return Ok((if fresh { handled } else { Handled::Duplicate }, meta));
    }

    // The body is parsed once, straight into what an `issues` or `issue_comment` event carries.
    let (payload, meta) = if event == "issues" {
        let payload: IssuesPayload = serde_json::from_slice(delivery.body).map_err(parse_error)?;
        let meta = LogMeta {
            action: Some(payload.action.clone()),
            repo: Some(payload.repository.full_name.clone()),
        };
        (Parsed::Issue(payload), meta)
    } else {
        let payload: CommentPayload = serde_json::from_slice(delivery.body).map_err(parse_error)?;
        let meta = LogMeta {
            action: Some(payload.action.clone()),
            repo: Some(payload.repository.full_name.clone()),
        };
        (Parsed::Comment(payload), meta)
    };
    // A config's own URL may be a GitHub Enterprise Server's: its issues are on the host its
    // signed payload names, which the config's own API must match (checked when applied).
    let foreign_host = match route {
        Route::Config(_) => payload
            .repository()
            .html_url
            .as_deref()
            .and_then(WebHost::of_web_url)
            .filter(|host| *host != config.web_host),
        _ => None,
    };
    let web = foreign_host.as_ref().unwrap_or(&config.web_host);
    let mut change = match payload {
        Parsed::Issue(payload) => Change::from_payload(payload, web)?,
        Parsed::Comment(payload) => Change::from_comment(payload, web)?,
    };
    change.foreign_host = foreign_host;
    if let Some(updated_at) = change.updated_at().filter(|at| crate::sync::from_the_future(*at, now)) {
        // Recorded (its id is kept like any other), applied nowhere.
        let received = Received { id: delivery_id, event, meta: &meta, now, route };
        record_alone(store, &received, "from_the_future").await?;
        return Err(WebhookError::FromTheFuture { updated_at });
    }
    let handled = match queue {
        Some(queue) => {
            let (reply, answer) = oneshot::channel();
            let job =
                Job { delivery_id: delivery_id.to_owned(), meta: meta.clone(), now, route, change, reply };
            // The writer task only goes away with the runtime: answer as if the database had.
            let gone = || WebhookError::Store(StoreError::Unavailable(sqlx::Error::WorkerCrashed));
            queue.send(job).await.map_err(|_| gone())?;
            answer.await.map_err(|_| gone())?
        }
        None => {
            let received = Received { id: delivery_id, event, meta: &meta, now, route };
            apply_alone(store, &received, &change).await
        }
    };
    handled.map(|h| (h, meta))
}

/// A verified body of one of the events that change the board.
enum Parsed {
    Issue(IssuesPayload),
    Comment(CommentPayload),
}

impl Parsed {
    fn repository(&self) -> &RepositoryRef {
        match self {
            Parsed::Issue(p) => &p.repository,
            Parsed::Comment(p) => &p.repository,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_senders_header_reaches_logs_only_capped_and_clean() {
        let long = "a".repeat(MAX_DELIVERY_ID + 1);
        let at_most = "a".repeat(MAX_DELIVERY_ID);
        #[rustfmt::skip]
        let rows = [
            (None,                                          "-"),
            (Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"),  "72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            (Some("issues"),                                "issues"),
            (Some(at_most.as_str()),                        at_most.as_str()),
            (Some(long.as_str()),                           "invalid"),
            (Some(""),                                      "invalid"),
            (Some("id\nforged log line"),                   "invalid"),
            (Some("id\" outcome=\"applied"),                "invalid"),
            (Some("\u{1b}[31mred"),                         "invalid"),
        ];
        for (value, logged) in rows {
            assert_eq!(shown(value), logged, "{value:?}");
        }
    }
}
