//! Start-up: the one place that builds a running ghsync from its configuration (the
//! deployed configuration and secrets, the store, the key provider, the GitHub client and
//! the [`Services`] over them), for the Lambda functions and the `ghsync` CLI alike.

use crate::config::{Config, ConfigError};
use crate::crypto::{CryptoError, KeyProvider};
use crate::github::{GitHub, GitHubError};
use crate::secrets::{SECRET_KEYS, SECRETS_ARN_VAR, Secrets, SecretsError};
use crate::services::Services;
use crate::store::{AtStart, SchemaBehind, Store, StoreError, StoreOptions};

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot open the database")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Secrets(#[from] SecretsError),
    #[error(transparent)]
    SchemaBehind(#[from] SchemaBehind),
}

/// How long a GitHub request may take to connect, and between reads.
pub const GITHUB_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens the configured database and applies its pending migrations, or with
/// [`AtStart::CheckSchema`] refuses a schema older than this build: how every process gets
/// its store at start.
pub async fn open_store(config: &Config, options: &StoreOptions) -> Result<Store, StartupError> {
    let store = Store::connect(&config.database_url, options).await?;
    match options.at_start {
        AtStart::Migrate => store.migrate().await?,
        AtStart::CheckSchema => {
            if let Some(missing) = store.missing_migration().await? {
                return Err(missing.into());
            }
        }
    }
    Ok(store)
}

impl Services {
    /// Connects everything a process needs, as configured: the database (migrated), the key
    /// provider (AWS KMS with `GHSYNC_KMS_KEY_ID`, else the local provider with
    /// `GHSYNC_LOCAL_KEY`, else `fallback_keys`) and the GitHub client. The one place that
    /// builds the services at start, for the Lambda functions and `ghsync` alike.
    pub async fn connect(
        config: &Config,
        store_options: &StoreOptions,
        fallback_keys: Option<KeyProvider>,
    ) -> Result<Self, StartupError> {
        let store = open_store(config, store_options).await?;
        let keys = match (key_provider(config).await, fallback_keys) {
            (Ok(keys), _) => keys,
            (Err(StartupError::Config(ConfigError::Missing(_))), Some(fallback)) => fallback,
            (Err(e), _) => return Err(e),
        };
        let github = GitHub::new(&config.github_api_url, GITHUB_TIMEOUT)?.allowing(&config.github_hosts)?;
        Ok(Self::new(store, keys, github))
    }
}

/// AWS KMS when `GHSYNC_KMS_KEY_ID` is set, else the local provider with `GHSYNC_LOCAL_KEY`.
pub async fn key_provider(config: &Config) -> Result<KeyProvider, StartupError> {
    use secrecy::ExposeSecret;
    if let Some(key_id) = &config.kms_key_id {
        return Ok(KeyProvider::Kms(crate::crypto::KmsKeys::from_env(key_id.clone()).await));
    }
    match &config.local_key_hex {
        Some(hex) => Ok(KeyProvider::Local(crate::crypto::LocalKeys::from_hex(hex.expose_secret())?)),
        None => Err(ConfigError::Missing("GHSYNC_KMS_KEY_ID (or GHSYNC_LOCAL_KEY)").into()),
    }
}

/// A deployed function's configuration: its environment, where `GHSYNC_SECRETS_ARN` names a
/// secret, with the values of [`SECRET_KEYS`] read from it (`loader` builds the SDK's
/// configuration; tests point it at moto), and the secrets the process keeps current.
pub async fn deployed_config(
    get: impl Fn(&str) -> Option<String>,
    loader: impl FnOnce() -> aws_config::ConfigLoader,
) -> Result<(Config, Secrets), StartupError> {
    let set = |name: &str| get(name).filter(|v| !v.trim().is_empty());
    let secrets = match set(SECRETS_ARN_VAR) {
        Some(secret_id) => {
            let env = SECRET_KEYS.iter().filter_map(|(_, var)| set(var).map(|v| (*var, v))).collect();
            Some(Secrets::from_secrets_manager(loader(), secret_id.trim().to_string(), env).await?)
        }
        None => None,
    };
    let config = Config::lambda_from_lookup(|name| {
        secrets.as_ref().and_then(|s| s.lookup(name)).or_else(|| get(name))
    })?;
    let secrets =
        secrets.unwrap_or_else(|| Secrets::fixed(config.webhook_secrets.clone(), config.api_token.clone()));
    Ok((config, secrets))
}

/// [`deployed_config`] from the process environment and the SDK's default configuration.
pub async fn deployed_config_from_env() -> Result<(Config, Secrets), StartupError> {
    deployed_config(|name| std::env::var(name).ok(), crate::crypto::sdk_config).await
}
