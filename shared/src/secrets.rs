//! The deployment's secrets as a running process holds them: the webhook secrets, the API
//! token and the database URL.
//!
//! Deployed, they come from one AWS Secrets Manager secret (`GHSYNC_SECRETS_ARN`, a JSON
//! object) read at cold start, so no secret sits in a function's environment, and they are
//! read again when one stops working (a signature or token that matches nothing, the
//! database refusing the credentials), at most every [`REREAD_AFTER`]: a rotation needs no
//! redeploy. Locally and in tests they are fixed values from the environment.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use secrecy::{ExposeSecret, SecretString};
use zeroize::Zeroizing;

use crate::config::{ApiToken, WebhookSecrets};
use crate::store::Store;

/// The variable naming the Secrets Manager secret (ARN or name).
pub const SECRETS_ARN_VAR: &str = "GHSYNC_SECRETS_ARN";

/// The secret's JSON keys and the variables they stand for. A variable set in the
/// environment wins over its key (`sam local invoke` with `events/env.json`).
pub const SECRET_KEYS: [(&str, &str); 4] = [
    ("database_url", "GHSYNC_DATABASE_URL"),
    ("webhook_secret", "GHSYNC_WEBHOOK_SECRET"),
    ("api_token", "GHSYNC_API_TOKEN"),
    // The migration step's own database user (DDL rights); `database_url` when absent.
    ("migrate_database_url", "GHSYNC_MIGRATE_DATABASE_URL"),
];

/// The shortest time between two reads of the secret: a flood of bad signatures costs at
/// most one Secrets Manager call per this interval.
pub const REREAD_AFTER: Duration = Duration::from_secs(30);

/// Why the secret could not be read. Never carries a value of it.
#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read the secret {secret_id} from Secrets Manager")]
    Read {
        secret_id: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "the secret {secret_id} is not a JSON object of strings (keys: database_url, webhook_secret, api_token, migrate_database_url)"
    )]
    Shape { secret_id: String },
}

/// Random secrets (webhook secrets, API tokens, local master keys): `bytes` random bytes
/// from the operating system, hex-encoded.
pub fn random_hex(bytes: usize) -> Zeroizing<String> {
    let mut buf = Zeroizing::new(vec![0u8; bytes]);
    getrandom::fill(&mut buf).expect("the operating system's random source failed");
    Zeroizing::new(hex::encode(&*buf))
}

/// The secrets every part of a process shares (cheap to clone: one `Arc`).
#[derive(Clone)]
pub struct Secrets(Arc<Inner>);

struct Inner {
    current: RwLock<Current>,
    remote: Option<Remote>,
    /// The store whose connections use the database URL, told when it changes.
    store: std::sync::OnceLock<Store>,
}

#[derive(Clone, Default)]
struct Current {
    webhook: Option<WebhookSecrets>,
    api_token: Option<ApiToken>,
    database_url: Option<SecretString>,
}

struct Remote {
    client: aws_sdk_secretsmanager::Client,
    secret_id: String,
    /// The secret's keys as last read.
    values: RwLock<HashMap<String, SecretString>>,
    /// When the secret was last read; held across a read so concurrent failures read once.
    read_at: tokio::sync::Mutex<Instant>,
    reread_after: Duration,
    /// The environment's own values, which win over the secret's.
    env: HashMap<&'static str, String>,
}

impl Secrets {
    /// Fixed values (local runs, tests, a function configured by its environment).
    pub fn fixed(webhook: Option<WebhookSecrets>, api_token: Option<ApiToken>) -> Self {
        Self::holding(Current { webhook, api_token, database_url: None }, None)
    }

    fn holding(current: Current, remote: Option<Remote>) -> Self {
        Self(Arc::new(Inner { current: RwLock::new(current), remote, store: Default::default() }))
    }

    /// Reads `secret_id` once, with `env` (the variables of [`SECRET_KEYS`] the environment
    /// sets) winning over its keys.
    pub async fn from_secrets_manager(
        loader: aws_config::ConfigLoader,
        secret_id: String,
        env: HashMap<&'static str, String>,
    ) -> Result<Self, SecretsError> {
        Self::from_secrets_manager_every(loader, secret_id, env, REREAD_AFTER).await
    }

    /// [`Secrets::from_secrets_manager`] reading again at most every `reread_after` (tests).
    pub async fn from_secrets_manager_every(
        loader: aws_config::ConfigLoader,
        secret_id: String,
        env: HashMap<&'static str, String>,
        reread_after: std::time::Duration,
    ) -> Result<Self, SecretsError> {
        let client = aws_sdk_secretsmanager::Client::new(&loader.load().await);
        let values = read(&client, &secret_id).await?;
        let remote = Remote {
            client,
            secret_id,
            values: RwLock::new(values),
            read_at: tokio::sync::Mutex::new(Instant::now()),
            reread_after,
            env,
        };
        Ok(Self::holding(remote.current(), Some(remote)))
    }

    /// The value standing for `variable` (one of [`SECRET_KEYS`]): the environment's, else
    /// the secret's. `None` for fixed secrets.
    pub fn lookup(&self, variable: &str) -> Option<String> {
        self.0.remote.as_ref().and_then(|r| r.lookup(variable))
    }

    pub fn webhook(&self) -> Option<WebhookSecrets> {
        self.0.current.read().expect("secrets lock").webhook.clone()
    }

    pub fn api_token(&self) -> Option<ApiToken> {
        self.0.current.read().expect("secrets lock").api_token.clone()
    }

    /// Whether the values come from Secrets Manager (and so may change).
    pub fn rotates(&self) -> bool {
        self.0.remote.is_some()
    }

    /// Points a changed database URL at `store`'s new connections.
    pub fn watch_store(&self, store: &Store) {
        let _ = self.0.store.set(store.clone());
    }

    /// A value stopped working: reads the secret again unless it was read less than
    /// [`REREAD_AFTER`] ago, and takes what changed. True when something changed (the
    /// caller may try once more). A failed read keeps the values held and is logged.
    pub async fn reread(&self) -> bool {
        let Some(remote) = &self.0.remote else { return false };
        let mut read_at = remote.read_at.lock().await;
        if read_at.elapsed() < remote.reread_after {
            return false;
        }
        *read_at = Instant::now();
        let values = match read(&remote.client, &remote.secret_id).await {
            Ok(values) => values,
            Err(e) => {
                tracing::error!(error = %crate::telemetry::ErrorChain(&e), "re-reading the secrets failed");
                return false;
            }
        };
        *remote.values.write().expect("secrets lock") = values;
        let fresh = remote.current();
        let mut current = self.0.current.write().expect("secrets lock");
        let webhook_changed = exposed(&current.webhook) != exposed(&fresh.webhook);
        let token_changed = current.api_token.as_ref().map(ApiToken::expose)
            != fresh.api_token.as_ref().map(ApiToken::expose);
        let database_changed = current.database_url.as_ref().map(ExposeSecret::expose_secret)
            != fresh.database_url.as_ref().map(ExposeSecret::expose_secret);
        if database_changed
            && let (Some(store), Some(url)) = (self.0.store.get(), &fresh.database_url)
            && let Err(e) = store.set_database_url(url.expose_secret())
        {
            tracing::error!(error = %crate::telemetry::ErrorChain(&e), "the re-read database URL is invalid");
        }
        *current = fresh;
        tracing::info!(webhook_changed, token_changed, database_changed, "secrets re-read");
        webhook_changed || token_changed || database_changed
    }
}

impl Remote {
    fn lookup(&self, variable: &str) -> Option<String> {
        if let Some(value) = self.env.get(variable) {
            return Some(value.clone());
        }
        let key = SECRET_KEYS.iter().find(|(_, v)| *v == variable)?.0;
        self.values.read().expect("secrets lock").get(key).map(|s| s.expose_secret().to_string())
    }

    fn current(&self) -> Current {
        Current {
            webhook: self.lookup("GHSYNC_WEBHOOK_SECRET").and_then(|s| WebhookSecrets::parse(&s)),
            api_token: self.lookup("GHSYNC_API_TOKEN").and_then(ApiToken::new),
            database_url: self.lookup("GHSYNC_DATABASE_URL").map(SecretString::from),
        }
    }
}

/// The webhook secrets' values, for comparing two reads.
fn exposed(secrets: &Option<WebhookSecrets>) -> Vec<&str> {
    secrets.iter().flat_map(|s| s.iter().map(|v| v.expose_secret())).collect()
}

/// One `GetSecretValue`: the secret's string keys.
async fn read(
    client: &aws_sdk_secretsmanager::Client,
    secret_id: &str,
) -> Result<HashMap<String, SecretString>, SecretsError> {
    let output =
        client.get_secret_value().secret_id(secret_id).send().await.map_err(|e| SecretsError::Read {
            secret_id: secret_id.to_string(),
            source: aws_sdk_secretsmanager::error::DisplayErrorContext(e).to_string().into(),
        })?;
    let shape = || SecretsError::Shape { secret_id: secret_id.to_string() };
    let text = Zeroizing::new(output.secret_string().ok_or_else(shape)?.to_string());
    let object: HashMap<String, serde_json::Value> = serde_json::from_str(&text).map_err(|_| shape())?;
    object
        .into_iter()
        .map(|(key, value)| match value {
            serde_json::Value::String(s) => Ok((key, SecretString::from(s))),
            _ => Err(shape()),
        })
        .collect()
}

/// No secrets at all: every delivery and request is refused.
impl Default for Secrets {
    fn default() -> Self {
        Self::fixed(None, None)
    }
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let current = self.0.current.read().expect("secrets lock");
        f.debug_struct("Secrets")
            .field("source", &self.0.remote.as_ref().map_or("fixed", |_| "secrets manager"))
            .field("webhook", &current.webhook)
            .field("api_token", &current.api_token)
            .field("database_url", &current.database_url.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn random_hex_has_the_asked_length_and_differs() {
        let (a, b) = (super::random_hex(32), super::random_hex(32));
        assert_eq!(a.len(), 64);
        assert_ne!(*a, *b);
    }
}
