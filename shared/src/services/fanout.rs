//! Fan-out in AWS: the scheduled tick claims the due configs (oldest due first) and sends
//! each claim to an SQS queue; the reconcile function consumes that queue with a bounded
//! maximum concurrency (which bounds database connections too) and syncs one claimed config
//! per message. The claim (its lease) travels with the message, so a config is never synced
//! twice, and a message that arrives after its lease expired is dropped: the next tick claims
//! the config again.

use std::time::Duration;

use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::services::reconcile::{ConfigReport, Reconciler};
use crate::store::{Claimed, StoreError};
use crate::time::Timestamp;

/// SQS takes at most ten messages a batch.
const BATCH: i64 = 10;

/// One claimed config, as the queue carries it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimMessage {
    pub config_id: Uuid,
    pub lease_token: String,
}

/// What the reconcile queue carries: a config the tick claimed, or a run a person asked for
/// ("Sync now": the API queued its history row; the consumer claims the config itself).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum QueueMessage {
    Claim(ClaimMessage),
    Run { run_project: Uuid },
}

/// Why a tick could not hand its claims on (they were given back: due again at once).
#[derive(Debug, thiserror::Error)]
pub enum FanoutError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot send to the reconcile queue")]
    Send(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// What a tick did.
#[derive(Clone, Debug, Default, Serialize)]
pub struct FanoutSummary {
    /// Claims sent to the queue.
    pub sent: usize,
    /// Claims given back because SQS refused them.
    pub released: usize,
    pub deliveries_pruned: u64,
    /// Due configs left for the next tick because the deadline was near.
    pub stopped_for_deadline: bool,
}

/// The reconcile queue.
#[derive(Clone, Debug)]
pub struct Fanout {
    client: aws_sdk_sqs::Client,
    queue_url: String,
}

impl Fanout {
    /// The queue at `queue_url`, with the SDK's configuration from the environment.
    pub async fn from_env(queue_url: impl Into<String>) -> Self {
        Self::from_loader(crate::crypto::sdk_config(), queue_url).await
    }

    /// The queue at `queue_url` through `loader` (tests set the endpoint on it), with bounded
    /// retries and timeouts.
    pub async fn from_loader(loader: aws_config::ConfigLoader, queue_url: impl Into<String>) -> Self {
        let shared = loader
            .retry_config(aws_config::retry::RetryConfig::standard().with_max_attempts(3))
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_timeout(Duration::from_secs(10))
                    .build(),
            )
            .load()
            .await;
        Self { client: aws_sdk_sqs::Client::new(&shared), queue_url: queue_url.into() }
    }

    /// Claims every due config (oldest due first, ten at a time, none once `deadline` has
    /// passed) and sends each claim to the queue. Claims SQS refuses are given back.
    pub async fn tick(
        &self,
        reconciler: &Reconciler,
        deadline: crate::time::Deadline,
    ) -> Result<FanoutSummary, FanoutError> {
        let store = &reconciler.services.store;
        let mut summary =
            FanoutSummary { deliveries_pruned: reconciler.before_claiming().await?, ..Default::default() };
        loop {
            if deadline.passed() {
                summary.stopped_for_deadline = true;
                return Ok(summary);
            }
            let claims = store.claim_due(Timestamp::now(), BATCH, reconciler.options.lease).await?;
            if claims.is_empty() {
                return Ok(summary);
            }
            let (sent, refused) = match self.send(&claims).await {
                Ok(refused) => (claims.len() - refused.len(), refused),
                Err(e) => {
                    for claim in &claims {
                        store.release_claim(claim).await?;
                    }
                    return Err(e);
                }
            };
            for i in &refused {
                store.release_claim(&claims[*i]).await?;
            }
            summary.sent += sent;
            summary.released += refused.len();
            if !refused.is_empty() {
                tracing::warn!(refused = refused.len(), "SQS refused some claims; they are due again");
                return Ok(summary);
            }
        }
    }

    /// Hands a queued run of the project to the reconcile function at once. When this
    /// fails the run still waits in the store, due now: the next tick takes it.
    pub async fn request_run(&self, project_id: Uuid) -> Result<(), FanoutError> {
        let body = serde_json::to_string(&QueueMessage::Run { run_project: project_id })
            .expect("a run message serialises");
        self.client
            .send_message()
            .queue_url(&self.queue_url)
            .message_body(body)
            .send()
            .await
            .map_err(|e| FanoutError::Send(e.into()))?;
        Ok(())
    }

    /// Sends one batch; returns the indexes of the entries SQS refused.
    async fn send(&self, claims: &[Claimed]) -> Result<Vec<usize>, FanoutError> {
        let mut entries = Vec::with_capacity(claims.len());
        for (i, claim) in claims.iter().enumerate() {
            let message = ClaimMessage { config_id: claim.config.id, lease_token: claim.lease_token.clone() };
            let body = serde_json::to_string(&message).expect("a claim message serialises");
            let entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body)
                .build()
                .map_err(|e| FanoutError::Send(e.into()))?;
            entries.push(entry);
        }
        let out = self
            .client
            .send_message_batch()
            .queue_url(&self.queue_url)
            .set_entries(Some(entries))
            .send()
            .await
            .map_err(|e| FanoutError::Send(e.into()))?;
        Ok(out.failed().iter().filter_map(|f| f.id().parse().ok()).collect())
    }
}

/// What became of one message.
#[derive(Debug)]
pub enum Consumed {
    /// The claimed config was synced (its outcome is in its history).
    Synced(Box<ConfigReport>),
    /// The claim had expired, or another run holds the config: nothing to do.
    Expired,
}

impl Reconciler {
    /// Syncs the config a queue message names, under the claim it carries; stops (to
    /// continue next run) once `deadline` has passed. An error means the database could not
    /// be used: the message is worth another delivery.
    pub async fn consume(
        &self,
        message: &QueueMessage,
        deadline: crate::time::Deadline,
    ) -> Result<Consumed, StoreError> {
        let store = &self.services.store;
        match message {
            QueueMessage::Claim(claim) => {
                let claimed =
                    store.resume_claim(claim.config_id, &claim.lease_token, Timestamp::now()).await?;
                Ok(match claimed {
                    Some(claimed) => Consumed::Synced(Box::new(self.run_claimed(claimed, deadline).await)),
                    None => Consumed::Expired,
                })
            }
            QueueMessage::Run { run_project } => match self.run_project_until(*run_project, deadline).await {
                Ok(report) => Ok(Consumed::Synced(Box::new(report))),
                // Taken meanwhile (the tick claimed it, with the queued run), disabled, or
                // gone: nothing is left for this message.
                Err(StoreError::StateConflict(_) | StoreError::NotFound(_)) => Ok(Consumed::Expired),
                Err(e) => Err(e),
            },
        }
    }
}
