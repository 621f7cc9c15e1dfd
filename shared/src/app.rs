//! GitHub App authentication (README.md, "Connecting to GitHub"): the deployment's one App
//! (its id, and its private key and webhook secret sealed under the KMS envelope), the App's
//! JWT (RS256, signed by octocrab's `create_jwt`), and installation tokens minted with it and
//! cached until shortly before they expire.
//!
//! The cache lives in the process: a Lambda instance mints a token per installation at
//! most once an hour (GitHub's tokens last an hour), and every instance may hold its own.

use std::collections::HashMap;
use std::sync::Arc;

use octocrab::models::AppId;
use secrecy::SecretString;
use serde::{Deserialize, Serialize};

use crate::crypto::{KeyProvider, Pat, SealedFor};
use crate::github::{AppInstallation, GitHubError, InstallationToken};
use crate::manage::{ManageError, Services, open_stored};
use crate::store::{Store, StoredApp};
use crate::time::Timestamp;

/// A cached installation token is replaced once it has less than this left.
pub const TOKEN_REFRESH_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// `PUT /api/github-app`: the App as GitHub shows it on its settings page.
#[derive(Clone, Debug, Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutGitHubApp {
    /// The App's id ("App ID" on its settings page).
    pub app_id: i64,
    /// The App's private key: the PEM file GitHub generates (stored sealed, never returned).
    pub private_key: Pat,
    /// The App's webhook secret (stored sealed, never returned).
    pub webhook_secret: Pat,
}

/// `GET /api/github-app`: whether an App is set, and its id (never its secrets).
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ts_rs::TS, utoipa::ToSchema)]
pub struct GitHubAppInfo {
    pub app_id: Option<i64>,
    pub configured: bool,
}

/// Installation tokens by installation id (all on the deployment's GitHub, the only one the
/// App's JWT goes to), each in its own slot: runs of one installation wait for one mint and
/// share its token, other installations mint meanwhile.
#[derive(Clone, Default)]
pub struct InstallationTokens(Arc<std::sync::Mutex<HashMap<i64, Slot>>>);

/// One installation's token, while it lasts.
type Slot = Arc<tokio::sync::Mutex<Option<InstallationToken>>>;

impl InstallationTokens {
    fn slot(&self, installation: i64) -> Slot {
        self.0.lock().expect("token slots lock").entry(installation).or_default().clone()
    }

    fn clear(&self) {
        self.0.lock().expect("token slots lock").clear();
    }

    /// Drops the cached token of `installation` (the next use mints).
    pub(crate) fn forget(&self, installation: i64) {
        self.0.lock().expect("token slots lock").remove(&installation);
    }
}

impl std::fmt::Debug for InstallationTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstallationTokens([redacted])")
    }
}

/// The App's private key as a signing key: a PEM RSA key (PKCS#1, as GitHub gives it, or
/// PKCS#8).
fn signing_key(pem: &str) -> Result<octocrab::auth::EncodingKey, ManageError> {
    octocrab::auth::EncodingKey::from_rsa_pem(pem.trim().as_bytes()).map_err(|_| {
        crate::domain::ValidationError::new(
            "private_key",
            "must be the App's private key as GitHub generates it (a PEM RSA private key)",
        )
        .into()
    })
}

/// A JWT that authenticates as App `app_id` for a few minutes.
fn app_jwt(app_id: i64, key: &octocrab::auth::EncodingKey) -> Result<Pat, ManageError> {
    let id = u64::try_from(app_id)
        .map_err(|_| crate::domain::ValidationError::new("app_id", "must be positive"))?;
    let jwt = octocrab::auth::create_jwt(AppId(id), key)
        .map_err(|_| crate::domain::ValidationError::new("private_key", "cannot sign with this key"))?;
    Ok(Pat::new(jwt))
}

impl Services {
    /// Sets the deployment's App: checks the key signs, seals key and secret, proves both
    /// open, then stores them.
    pub async fn put_github_app(&self, request: PutGitHubApp) -> Result<GitHubAppInfo, ManageError> {
        if request.app_id <= 0 {
            return Err(crate::domain::ValidationError::new("app_id", "must be a positive number").into());
        }
        if request.webhook_secret.expose().trim().is_empty() {
            return Err(crate::domain::ValidationError::new("webhook_secret", "must not be empty").into());
        }
        app_jwt(request.app_id, &signing_key(request.private_key.expose())?)?;
        let encrypted_private_key =
            self.keys.seal_proven(SealedFor::GitHubAppKey, &request.private_key).await?;
        let encrypted_webhook_secret =
            self.keys.seal_proven(SealedFor::GitHubAppWebhookSecret, &request.webhook_secret).await?;
        let app = StoredApp { app_id: request.app_id, encrypted_private_key, encrypted_webhook_secret };
        self.store.put_github_app(&app).await?;
        // Tokens minted for another App (or key) are not this one's.
        self.installation_tokens.clear();
        tracing::info!(app_id = app.app_id, "GitHub App stored");
        Ok(GitHubAppInfo { app_id: Some(app.app_id), configured: true })
    }

    /// Whether an App is set, and its id.
    pub async fn github_app_info(&self) -> Result<GitHubAppInfo, ManageError> {
        let app = self.store.github_app().await?;
        Ok(GitHubAppInfo { app_id: app.as_ref().map(|a| a.app_id), configured: app.is_some() })
    }

    /// Removes the deployment's App (`NotFound` when none is set).
    pub async fn delete_github_app(&self) -> Result<(), ManageError> {
        if !self.store.delete_github_app().await? {
            return Err(crate::store::StoreError::NotFound("GitHub App").into());
        }
        self.installation_tokens.clear();
        Ok(())
    }

    /// The App's installations on the deployment's GitHub (to pick one for a config).
    pub async fn app_installations(&self) -> Result<Vec<AppInstallation>, ManageError> {
        let jwt = self.app_jwt().await?;
        self.github.list_installations(&jwt).await.map_err(app_refusal)
    }

    /// A JWT of the deployment's App, signed with its key (opened from its seal).
    pub(crate) async fn app_jwt(&self) -> Result<Pat, ManageError> {
        let app = self.store.github_app().await?.ok_or(ManageError::NoApp)?;
        let pem = open_stored(&self.keys, SealedFor::GitHubAppKey, &app.encrypted_private_key).await?;
        app_jwt(app.app_id, &signing_key(pem.expose())?)
    }

    /// A token for `installation` on the deployment's GitHub: the cached one while it has
    /// more than [`TOKEN_REFRESH_MARGIN`] left, else a new one minted with the App's JWT.
    pub async fn installation_token(&self, installation: i64) -> Result<InstallationToken, ManageError> {
        let slot = self.installation_tokens.slot(installation);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref()
            && token.expires_at > Timestamp::now().plus(TOKEN_REFRESH_MARGIN)
        {
            return Ok(token.clone());
        }
        let jwt = self.app_jwt().await?;
        let minted = self.github.mint_installation_token(&jwt, installation).await.map_err(app_refusal)?;
        tracing::info!(installation, expires_at = %minted.expires_at, "installation token minted");
        *cached = Some(minted.clone());
        Ok(minted)
    }

    /// Forgets `token` of `installation` when GitHub refused it (revoked, or the
    /// installation's permissions changed): the next use mints a new one. True when it was
    /// the cached token.
    pub async fn forget_installation_token(&self, installation: i64, token: &Pat) -> bool {
        let slot = self.installation_tokens.slot(installation);
        let mut cached = slot.lock().await;
        let forget = cached.as_ref().is_some_and(|t| t.token.expose() == token.expose());
        if forget {
            *cached = None;
        }
        forget
    }
}

/// What a refusal of the App's own requests means.
fn app_refusal(e: GitHubError) -> ManageError {
    match e {
        GitHubError::BadCredentials => ManageError::AppRefused,
        e @ GitHubError::NoInstallation { .. } => ManageError::GitHubRefused(e),
        e => ManageError::GitHubUnavailable(e),
    }
}

/// The App's webhook secret as the webhook receiver keeps it: read from the store and opened
/// once, then again after [`AppSecret::MAX_AGE`], or when a delivery's signature matches
/// nothing (at most every [`AppSecret::REREAD_EVERY`]: the secret may have changed).
#[derive(Clone, Default)]
pub struct AppSecret {
    source: Option<(Store, KeyProvider)>,
    cached: Arc<tokio::sync::Mutex<Option<ReadSecret>>>,
}

/// The secret as last read (`None`: no App was set), and when.
type ReadSecret = (Option<SecretString>, std::time::Instant);

impl std::fmt::Debug for AppSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppSecret").field("enabled", &self.source.is_some()).finish_non_exhaustive()
    }
}

impl AppSecret {
    pub const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(300);
    pub const REREAD_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

    /// Reads the App's secret from `store`, opened with `keys`.
    pub fn new(store: Store, keys: KeyProvider) -> Self {
        Self { source: Some((store, keys)), cached: Arc::default() }
    }

    /// The secret (`None`: no App is set, or this receiver takes no App deliveries). With
    /// `fresh`, read again unless the last read is younger than [`AppSecret::REREAD_EVERY`].
    pub async fn get(&self, fresh: bool) -> Result<Option<SecretString>, ManageError> {
        let Some((store, keys)) = &self.source else { return Ok(None) };
        let mut cached = self.cached.lock().await;
        // "No App" is believed only briefly: the App may be set at any moment, and its first
        // deliveries (installation events) are not redelivered by GitHub on their own.
        if let Some((secret, at)) = cached.as_ref()
            && at.elapsed() < if fresh || secret.is_none() { Self::REREAD_EVERY } else { Self::MAX_AGE }
        {
            return Ok(secret.clone());
        }
        let secret = match store.github_app().await? {
            Some(app) => {
                let secret =
                    open_stored(keys, SealedFor::GitHubAppWebhookSecret, &app.encrypted_webhook_secret)
                        .await?;
                Some(SecretString::from(secret.expose().to_string()))
            }
            None => None,
        };
        *cached = Some((secret.clone(), std::time::Instant::now()));
        Ok(secret)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_the_apps_secrets() {
        let request = PutGitHubApp {
            app_id: 7,
            private_key: Pat::new("-----BEGIN RSA PRIVATE KEY-----\nMIIsecret"),
            webhook_secret: Pat::new("hook-secret"),
        };
        let stored =
            StoredApp { app_id: 7, encrypted_private_key: vec![1, 2], encrypted_webhook_secret: vec![3] };
        let token = InstallationToken {
            token: Pat::new("ghs_installationToken"),
            expires_at: Timestamp::now(),
            permissions: Default::default(),
        };
        let shown = format!(
            "{request:?} {stored:?} {token:?} {:?} {:?}",
            InstallationTokens::default(),
            AppSecret::default()
        );
        for secret in ["MIIsecret", "hook-secret", "ghs_installationToken"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("app_id: 7"), "{shown}");
    }

    #[test]
    fn the_app_jwt_is_signed_with_the_apps_key() {
        let key = signing_key(include_str!("../../testkit/fixtures/github-app.pem")).unwrap();
        let jwt = app_jwt(42, &key).unwrap();
        let header = jwt.expose().split('.').next().unwrap().to_string();
        assert!(!header.is_empty());
        assert!(matches!(signing_key("not a key"), Err(ManageError::Invalid(e)) if e.field == "private_key"));
        assert!(matches!(app_jwt(-1, &key), Err(ManageError::Invalid(e)) if e.field == "app_id"));
    }
}
