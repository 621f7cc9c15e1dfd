//! GitHub webhook deliveries: verification, then `issues` events applied through the sync
//! rules, idempotently on `X-GitHub-Delivery`.
//!
//! [`handle`] is the whole behaviour; the Lambda function and `ghsync serve` only translate
//! HTTP to a [`Delivery`] and the result back to a status.

use std::collections::HashMap;
use std::time::Instant;

use hmac::{Hmac, KeyInit, Mac};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tokio::sync::{mpsc, oneshot};
use uuid::Uuid;

use crate::config::WebhookSecrets;
use crate::domain::{RemoteIssue, RemoteState, ValidationError};
use crate::github::GhIssue;
use crate::store::{self, ApplyOutcome, Backend, Store, StoreError};
use crate::time::Timestamp;

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
    InvalidPayload(String),
    #[error("payload larger than {MAX_BODY_BYTES} bytes")]
    TooLarge,
    #[error(transparent)]
    Store(#[from] StoreError),
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
}

/// What one delivery did to one project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct ProjectResult {
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
}

impl Handled {
    /// The HTTP status GitHub is answered with.
    pub fn status(&self) -> u16 {
        match self {
            Handled::Pong | Handled::Applied { .. } | Handled::Duplicate => 200,
            Handled::Ignored { .. } => 202,
        }
    }

    fn log_outcome(&self) -> &'static str {
        match self {
            Handled::Pong => "pong",
            Handled::Applied { .. } => "applied",
            Handled::Duplicate => "duplicate",
            Handled::Ignored { reason } => reason,
        }
    }
}

/// Checks `X-Hub-Signature-256` against every configured secret, in constant time.
pub fn verify_signature(
    secrets: Option<&WebhookSecrets>,
    signature_256: Option<&str>,
    body: &[u8],
) -> Result<(), WebhookError> {
    let secrets = secrets.ok_or(WebhookError::NoSecret)?;
    let header = signature_256.ok_or(WebhookError::MissingSignature)?;
    let hex_mac = header.trim().strip_prefix("sha256=").ok_or(WebhookError::MalformedSignature)?;
    if hex_mac.len() != 64 {
        return Err(WebhookError::MalformedSignature);
    }
    let mac = hex::decode(hex_mac).map_err(|_| WebhookError::MalformedSignature)?;
    for secret in secrets.iter() {
        let mut h = Hmac::<Sha256>::new_from_slice(secret.expose_secret().as_bytes())
            .expect("HMAC accepts keys of any length");
        h.update(body);
        if h.verify_slice(&mac).is_ok() {
            return Ok(());
        }
    }
    Err(WebhookError::BadSignature)
}

/// `sha256=` + hex HMAC-SHA256 of `body`: what GitHub sends (tests and tools sign with it).
pub fn sign(secret: &str, body: &[u8]) -> String {
    let mut h = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC accepts keys of any length");
    h.update(body);
    format!("sha256={}", hex::encode(h.finalize().into_bytes()))
}

#[derive(Deserialize)]
struct RepositoryRef {
    full_name: String,
}

#[derive(Deserialize)]
struct IssuesPayload {
    action: String,
    issue: GhIssue,
    repository: RepositoryRef,
    #[serde(default)]
    changes: Option<TransferChanges>,
}

#[derive(Deserialize)]
struct TransferChanges {
    new_issue: Option<GhIssue>,
    new_repository: Option<RepositoryRef>,
}

/// Just enough of any payload to log and record it.
#[derive(Deserialize)]
struct Envelope {
    action: Option<String>,
    repository: Option<RepositoryRef>,
}

/// Handles one delivery on its own: verify, then record and apply in one transaction.
/// A long-running receiver uses [`Receiver`], which shares transactions on SQLite.
pub async fn handle(
    store: &Store,
    secrets: Option<&WebhookSecrets>,
    delivery: Delivery<'_>,
) -> Result<Handled, WebhookError> {
    handle_with(store, secrets, None, delivery).await
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
    secrets: Option<WebhookSecrets>,
    queue: Option<mpsc::Sender<Job>>,
}

impl Receiver {
    /// Starts the writer task when the store is SQLite (so it needs a Tokio runtime).
    pub fn new(store: Store, secrets: Option<WebhookSecrets>) -> Self {
        let queue = (store.backend() == Backend::Sqlite).then(|| {
            let (queue, jobs) = mpsc::channel(QUEUE_CAPACITY);
            tokio::spawn(write_batches(store.clone(), jobs));
            queue
        });
        Self { store, secrets, queue }
    }

    pub async fn handle(&self, delivery: Delivery<'_>) -> Result<Handled, WebhookError> {
        handle_with(&self.store, self.secrets.as_ref(), self.queue.as_ref(), delivery).await
    }
}

impl std::fmt::Debug for Receiver {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Receiver")
            .field("store", &self.store)
            .field("secrets", &self.secrets)
            .field("group_commit", &self.queue.is_some())
            .finish()
    }
}

async fn handle_with(
    store: &Store,
    secrets: Option<&WebhookSecrets>,
    queue: Option<&mpsc::Sender<Job>>,
    delivery: Delivery<'_>,
) -> Result<Handled, WebhookError> {
    let started = Instant::now();
    let result = handle_inner(store, secrets, queue, delivery).await;
    let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
    let event = delivery.event.unwrap_or("-");
    let delivery_id = delivery.delivery_id.unwrap_or("-");
    match &result {
        Ok((handled, meta)) => tracing::info!(
            delivery_id,
            event,
            action = meta.action.as_deref().unwrap_or("-"),
            repo = meta.repo.as_deref().unwrap_or("-"),
            outcome = handled.log_outcome(),
            duration_ms,
            "webhook delivery"
        ),
        Err(e) => {
            tracing::warn!(delivery_id, event, outcome = "refused", error = %e, duration_ms, "webhook delivery")
        }
    }
    result.map(|(handled, _)| handled)
}

#[derive(Clone, Default)]
struct LogMeta {
    action: Option<String>,
    repo: Option<String>,
}

async fn handle_inner(
    store: &Store,
    secrets: Option<&WebhookSecrets>,
    queue: Option<&mpsc::Sender<Job>>,
    delivery: Delivery<'_>,
) -> Result<(Handled, LogMeta), WebhookError> {
    if delivery.body.len() > MAX_BODY_BYTES {
        return Err(WebhookError::TooLarge);
    }
    // Verification comes first: nothing about an unverified body is believed or parsed.
    verify_signature(secrets, delivery.signature_256, delivery.body)?;
    let event =
        delivery.event.filter(|e| !e.is_empty()).ok_or(WebhookError::MissingHeader("X-GitHub-Event"))?;
    let delivery_id = delivery
        .delivery_id
        .filter(|d| !d.is_empty())
        .ok_or(WebhookError::MissingHeader("X-GitHub-Delivery"))?;
    if delivery_id.len() > 200 {
        return Err(WebhookError::InvalidPayload("X-GitHub-Delivery is too long".into()));
    }
    let now = Timestamp::now();
    let parse_error = |e: serde_json::Error| WebhookError::InvalidPayload(e.to_string());

    if event != "issues" {
        let envelope: Envelope = serde_json::from_slice(delivery.body).map_err(parse_error)?;
        let meta = LogMeta { action: envelope.action, repo: envelope.repository.map(|r| r.full_name) };
        let received = Received { id: delivery_id, event, meta: &meta, now };
        let handled =
            if event == "ping" { Handled::Pong } else { Handled::Ignored { reason: "event_ignored" } };
        let fresh = record_alone(store, &received, handled.log_outcome()).await?;
        return Ok((if fresh { handled } else { Handled::Duplicate }, meta));
    }

    // The body is parsed once, straight into what an `issues` event carries.
    let payload: IssuesPayload = serde_json::from_slice(delivery.body).map_err(parse_error)?;
    let meta =
        LogMeta { action: Some(payload.action.clone()), repo: Some(payload.repository.full_name.clone()) };
    let change = Change::from_payload(payload)?;
    let handled = match queue {
        Some(queue) => {
            let (reply, answer) = oneshot::channel();
            let job = Job { delivery_id: delivery_id.to_owned(), meta: meta.clone(), now, change, reply };
            // The writer task only goes away with the runtime: answer as if the database had.
            let gone = || WebhookError::Store(StoreError::Unavailable(sqlx::Error::WorkerCrashed));
            queue.send(job).await.map_err(|_| gone())?;
            answer.await.map_err(|_| gone())?
        }
        None => apply_alone(store, &Received { id: delivery_id, event, meta: &meta, now }, &change).await,
    };
    handled.map(|h| (h, meta))
}

/// Applies one delivery in a transaction of its own, again if it lost a race.
async fn apply_alone(
    store: &Store,
    received: &Received<'_>,
    change: &Change,
) -> Result<Handled, WebhookError> {
    let mut attempt = 0;
    loop {
        let mut tx = store.begin().await?;
        let result = match apply_in(&mut tx, store.backend(), &mut Routes::default(), received, change).await
        {
            Ok(handled) => tx.commit().await.map(|()| handled).map_err(|e| StoreError::from(e).into()),
            Err(e) => Err(e),
        };
        match result {
            Err(WebhookError::Store(e)) if e.is_transient_race() && attempt < store::RACE_RETRIES => {
                attempt += 1
            }
            other => return other,
        }
    }
}

/// Bound of the group-commit queue: beyond it, receivers wait to enqueue (back-pressure).
const QUEUE_CAPACITY: usize = 1024;
/// Most deliveries one shared transaction takes.
const BATCH_MAX: usize = 128;

/// A verified, parsed `issues` delivery waiting for the writer task.
struct Job {
    delivery_id: String,
    meta: LogMeta,
    now: Timestamp,
    change: Change,
    reply: oneshot::Sender<Result<Handled, WebhookError>>,
}

impl Job {
    fn received(&self) -> Received<'_> {
        Received { id: &self.delivery_id, event: "issues", meta: &self.meta, now: self.now }
    }
}

/// The writer task: takes whatever is queued (at least one job) and applies it together.
async fn write_batches(store: Store, mut queue: mpsc::Receiver<Job>) {
    let mut jobs = Vec::with_capacity(BATCH_MAX);
    while queue.recv_many(&mut jobs, BATCH_MAX).await > 0 {
        match apply_batch(&store, &jobs).await {
            Ok(results) => {
                for (job, result) in jobs.drain(..).zip(results) {
                    let _ = job.reply.send(Ok(result));
                }
            }
            // The shared transaction rolled back whole: nothing of the batch was written.
            Err(e) if jobs.len() == 1 => {
                let job = jobs.pop().expect("one job");
                let _ = job.reply.send(Err(e));
            }
            // One failure must not fail its neighbours: each runs again on its own, so only
            // the deliveries that fail by themselves are answered with an error.
            Err(_) => {
                for job in jobs.drain(..) {
                    let result = apply_alone(&store, &job.received(), &job.change).await;
                    let _ = job.reply.send(result);
                }
            }
        }
    }
}

async fn apply_batch(store: &Store, jobs: &[Job]) -> Result<Vec<Handled>, WebhookError> {
    let mut tx = store.begin().await?;
    let mut results = Vec::with_capacity(jobs.len());
    let mut routes = Routes::default();
    for job in jobs {
        results.push(apply_in(&mut tx, store.backend(), &mut routes, &job.received(), &job.change).await?);
    }
    tx.commit().await.map_err(StoreError::from)?;
    Ok(results)
}

/// What an `issues` delivery asks for.
struct Change {
    owner: String,
    name: String,
    kind: ChangeKind,
}

enum ChangeKind {
    /// Any action that carries the issue's current state (opened, edited, closed, labeled,
    /// and actions GitHub adds later).
    Snapshot(RemoteIssue),
    Deleted {
        node_id: String,
    },
    Transferred {
        node_id: String,
        new_issue: Option<RemoteIssue>,
        new_repo: Option<String>,
    },
    /// A pull request: never imported.
    PullRequest,
}

impl Change {
    fn from_payload(p: IssuesPayload) -> Result<Self, WebhookError> {
        let invalid = |e: ValidationError| WebhookError::InvalidPayload(e.to_string());
        let node_id = p.issue.node_id.clone();
        let kind = match p.action.as_str() {
            "deleted" => ChangeKind::Deleted { node_id },
            "transferred" => {
                let changes = p.changes.unwrap_or(TransferChanges { new_issue: None, new_repository: None });
                let new_issue =
                    changes.new_issue.map(GhIssue::into_remote).transpose().map_err(invalid)?.flatten();
                ChangeKind::Transferred {
                    node_id,
                    new_issue,
                    new_repo: changes.new_repository.map(|r| r.full_name),
                }
            }
            _ => match p.issue.into_remote().map_err(invalid)? {
                Some(issue) => ChangeKind::Snapshot(issue),
                None => ChangeKind::PullRequest,
            },
        };
        let (owner, name) =
            p.repository.full_name.split_once('/').ok_or_else(|| {
                WebhookError::InvalidPayload("repository.full_name is not owner/name".into())
            })?;
        Ok(Self { owner: owner.to_owned(), name: name.to_owned(), kind })
    }
}

/// A verified delivery, as the delivery log records it.
struct Received<'a> {
    id: &'a str,
    event: &'a str,
    meta: &'a LogMeta,
    now: Timestamp,
}

impl Received<'_> {
    /// Records the delivery id in the caller's transaction; false when it was seen before.
    async fn record(&self, conn: &mut sqlx::AnyConnection, outcome: &str) -> Result<bool, StoreError> {
        let (action, repo) = (self.meta.action.as_deref(), self.meta.repo.as_deref());
        store::record_delivery_in(conn, self.id, self.event, action, repo, outcome, self.now).await
    }
}

/// Which projects follow a repository, looked up once per transaction (deliveries do not
/// change sync configs, so a shared transaction can reuse the answer).
#[derive(Default)]
struct Routes(HashMap<(String, String), Vec<Uuid>>);

impl Routes {
    async fn projects(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        owner: &str,
        name: &str,
    ) -> Result<Vec<Uuid>, StoreError> {
        // Repository names compare case-insensitively, as GitHub's do.
        let key = (owner.to_lowercase(), name.to_lowercase());
        if let Some(projects) = self.0.get(&key) {
            return Ok(projects.clone());
        }
        let projects = store::enabled_projects_for_repo_in(conn, owner, name).await?;
        self.0.insert(key, projects.clone());
        Ok(projects)
    }
}

/// Records a delivery that changes nothing else; false when it was recorded before.
async fn record_alone(store: &Store, received: &Received<'_>, outcome: &str) -> Result<bool, StoreError> {
    let mut tx = store.begin().await?;
    let fresh = received.record(&mut tx, outcome).await?;
    tx.commit().await?;
    Ok(fresh)
}

/// Records and applies one delivery inside the caller's transaction.
async fn apply_in(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    routes: &mut Routes,
    received: &Received<'_>,
    change: &Change,
) -> Result<Handled, WebhookError> {
    let mut projects = routes.projects(tx, &change.owner, &change.name).await?;
    // A transfer also concerns projects that follow the issue's new repository: their task
    // of the old issue follows it there.
    if let ChangeKind::Transferred { new_repo: Some(new_repo), .. } = &change.kind
        && let Some((new_owner, new_name)) = new_repo.split_once('/')
    {
        for p in routes.projects(tx, new_owner, new_name).await? {
            if !projects.contains(&p) {
                projects.push(p);
            }
        }
    }
    let handled_if_fresh = if matches!(change.kind, ChangeKind::PullRequest) {
        Handled::Ignored { reason: "pull_request" }
    } else if projects.is_empty() {
        Handled::Ignored { reason: "no_enabled_config" }
    } else {
        Handled::Applied { results: Vec::new() }
    };
    let fresh = received.record(&mut *tx, handled_if_fresh.log_outcome()).await?;
    if !fresh {
        return Ok(Handled::Duplicate);
    }
    let Handled::Applied { .. } = handled_if_fresh else {
        return Ok(handled_if_fresh);
    };
    let mut results = Vec::with_capacity(projects.len());
    for project_id in projects {
        let result = match &change.kind {
            ChangeKind::Snapshot(issue) => IssueResult::Applied(
                store::apply_issue_in(&mut *tx, backend, project_id, issue, received.now).await?,
            ),
            ChangeKind::Deleted { node_id } => gone(
                store::mark_issue_gone_in(&mut *tx, project_id, node_id, RemoteState::Deleted, received.now)
                    .await?,
            ),
            ChangeKind::Transferred { node_id, new_issue, new_repo } => {
                let same_project = match (new_issue, new_repo) {
                    (Some(_), Some(repo)) => {
                        store::project_follows_repo_in(&mut *tx, project_id, repo).await?
                    }
                    _ => false,
                };
                match new_issue {
                    Some(new) if same_project => {
                        if store::relink_issue_in(&mut *tx, backend, project_id, node_id, new, received.now)
                            .await?
                        {
                            store::apply_issue_in(&mut *tx, backend, project_id, new, received.now).await?;
                            IssueResult::Relinked
                        } else {
                            IssueResult::NotLinked
                        }
                    }
                    _ => gone(
                        store::mark_issue_gone_in(
                            &mut *tx,
                            project_id,
                            node_id,
                            RemoteState::Transferred,
                            received.now,
                        )
                        .await?,
                    ),
                }
            }
            ChangeKind::PullRequest => unreachable!("pull requests are ignored above"),
        };
        results.push(ProjectResult { project_id, result });
    }
    Ok(Handled::Applied { results })
}

fn gone(marked: bool) -> IssueResult {
    if marked { IssueResult::MarkedGone } else { IssueResult::NotLinked }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{ConfigWrite, StoreOptions, Table};

    fn secrets(list: &str) -> WebhookSecrets {
        WebhookSecrets::parse(list).unwrap()
    }

    #[test]
    fn githubs_documented_test_vector_verifies() {
        // From GitHub's "Validating webhook deliveries".
        let s = secrets("It's a Secret to Everybody");
        let header = "sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert!(verify_signature(Some(&s), Some(header), b"Hello, World!").is_ok());
        assert_eq!(sign("It's a Secret to Everybody", b"Hello, World!"), header);
        assert!(matches!(
            verify_signature(Some(&s), Some(header), b"Hello, World?"),
            Err(WebhookError::BadSignature)
        ));
    }

    #[test]
    fn the_mac_is_over_the_raw_bytes() {
        let s = secrets("k");
        let raw = r#"{"title": "Caf\u00e9 — naïve ✓", "n": 1.0}"#.as_bytes();
        let header = sign("k", raw);
        assert!(verify_signature(Some(&s), Some(&header), raw).is_ok());
        let reserialised =
            serde_json::to_vec(&serde_json::from_slice::<serde_json::Value>(raw).unwrap()).unwrap();
        assert_ne!(reserialised, raw);
        assert!(verify_signature(Some(&s), Some(&header), &reserialised).is_err());
    }

    #[test]
    fn any_configured_secret_verifies_during_rotation() {
        let s = secrets("old,new");
        assert!(verify_signature(Some(&s), Some(&sign("old", b"x")), b"x").is_ok());
        assert!(verify_signature(Some(&s), Some(&sign("new", b"x")), b"x").is_ok());
        assert!(verify_signature(Some(&s), Some(&sign("other", b"x")), b"x").is_err());
    }

    #[test]
    fn missing_malformed_or_unconfigured_is_refused() {
        let s = secrets("k");
        let good = sign("k", b"x");
        assert!(matches!(verify_signature(None, Some(&good), b"x"), Err(WebhookError::NoSecret)));
        assert!(matches!(verify_signature(Some(&s), None, b"x"), Err(WebhookError::MissingSignature)));
        for bad in ["", "sha256=", "sha1=abcd", &good[7..], &format!("{}0", &good), "sha256=zz"] {
            assert!(verify_signature(Some(&s), Some(bad), b"x").is_err(), "{bad:?}");
        }
    }

    /// A store following acme/widgets, where the database refuses any task titled "poison".
    async fn store_with_poison() -> Store {
        let store = Store::connect("sqlite::memory:", &StoreOptions::default()).await.unwrap();
        store.migrate().await.unwrap();
        let project = store.create_project("Widgets").await.unwrap();
        let write = ConfigWrite {
            repo_owner: crate::domain::RepoOwner::parse("acme").unwrap(),
            repo_name: crate::domain::RepoName::parse("widgets").unwrap(),
            encrypted_pat: Some(vec![2, 0, 0]),
            sync_enabled: Some(true),
            sync_interval: None,
        };
        store.put_config(project.id, &write).await.unwrap();
        sqlx::query(
            "CREATE TRIGGER poison BEFORE INSERT ON tasks WHEN NEW.title = 'poison' \
             BEGIN SELECT RAISE(ABORT, 'poisoned'); END",
        )
        .execute(store.pool())
        .await
        .unwrap();
        store
    }

    fn job(n: i64, title: &str) -> (Job, oneshot::Receiver<Result<Handled, WebhookError>>) {
        let issue = testkit::fixtures::issue("acme/widgets", n, title, None, "open", "2026-01-05T10:00:00Z");
        let body = testkit::fixtures::issues_event("opened", issue, "acme/widgets", serde_json::json!({}));
        let change = Change::from_payload(serde_json::from_value(body).unwrap()).unwrap();
        let (reply, answer) = oneshot::channel();
        let meta = LogMeta { action: Some("opened".into()), repo: Some("acme/widgets".into()) };
        (Job { delivery_id: format!("d-{n}"), meta, now: Timestamp::now(), change, reply }, answer)
    }

    #[tokio::test]
    async fn a_delivery_failing_in_a_shared_transaction_fails_alone() {
        let store = store_with_poison().await;
        let (queue, jobs) = mpsc::channel(8);
        let mut answers = Vec::new();
        for (n, title) in [(1, "one"), (2, "two"), (3, "poison"), (4, "four")] {
            let (job, answer) = job(n, title);
            queue.send(job).await.unwrap();
            answers.push(answer);
        }
        drop(queue);
        // All four are queued before the writer starts, so they are taken as one batch.
        write_batches(store.clone(), jobs).await;

        let mut outcomes = Vec::new();
        for answer in answers {
            outcomes.push(answer.await.unwrap().map(|h| h.status()).map_err(|e| e.to_string()));
        }
        assert_eq!(outcomes[0], Ok(200));
        assert_eq!(outcomes[1], Ok(200));
        assert!(outcomes[2].is_err(), "{:?}", outcomes[2]);
        assert_eq!(outcomes[3], Ok(200));
        // The neighbours are applied and recorded; the failed delivery left nothing behind,
        // so its redelivery will be applied rather than taken for a duplicate.
        assert_eq!(store.count_rows(Table::Tasks).await.unwrap(), 3);
        assert_eq!(store.count_rows(Table::Deliveries).await.unwrap(), 3);
        assert_eq!(store.delivery_outcome("d-3").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_batch_of_one_answers_its_own_error() {
        let store = store_with_poison().await;
        let (queue, jobs) = mpsc::channel(1);
        let (job, answer) = job(1, "poison");
        queue.send(job).await.unwrap();
        drop(queue);
        write_batches(store.clone(), jobs).await;
        assert!(matches!(answer.await.unwrap(), Err(WebhookError::Store(_))));
        assert_eq!(store.count_rows(Table::Deliveries).await.unwrap(), 0);
    }
}
