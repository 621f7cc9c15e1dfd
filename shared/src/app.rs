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
use crate::github::{AppInstallation, GitHub, GitHubError, InstallationToken};
use crate::manage::{ManageError, Services, open_stored};
use crate::store::{Store, StoreError, StoredApp};
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
        jwt_of(&self.store, &self.keys).await
    }

    /// Checks with the App's JWT that the App is installed on `repo` as `installation`
    /// (`GET /repos/{o}/{r}/installation`); else the config may not name it (422).
    pub(crate) async fn check_installation_covers(
        &self,
        repo: &crate::domain::RepoRef,
        installation: i64,
    ) -> Result<(), ManageError> {
        let jwt = self.app_jwt().await?;
        let found = self.github.repo_installation(&jwt, repo).await.map_err(app_refusal)?;
        if found == Some(installation) {
            return Ok(());
        }
        let why = match found {
            Some(other) => format!("the App is installed on {repo} as installation {other}"),
            None => format!("the App is not installed on {repo}"),
        };
        Err(crate::domain::ValidationError::new(
            "installation_id",
            format!("the GitHub App's installation {installation} does not cover {repo}: {why}"),
        )
        .into())
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

/// What the webhook receiver needs of the App: its webhook secret, read from the store and
/// opened once, then again after [`AppAccess::MAX_AGE`], or when a delivery's signature
/// matches nothing (at most every [`AppAccess::REREAD_EVERY`]: the secret may have changed);
/// and its JWT, to confirm with GitHub what an installation event says (docs/trust.md).
///
/// A secret that cannot be opened (KMS refusing or unreachable, the key changed) is logged
/// and counted (`AppSecretUnopenable`), and that failure is kept as long as a good secret
/// would be: deliveries meanwhile are refused as unverifiable, and an attacker's requests
/// cost no KMS call each.
#[derive(Clone, Default)]
pub struct AppAccess {
    source: Option<(Store, KeyProvider, GitHub)>,
    cached: Arc<tokio::sync::Mutex<Option<ReadSecret>>>,
}

/// The secret as last read (`None`: no App was set, or it did not open), and when.
type ReadSecret = (Option<SecretString>, std::time::Instant);

impl std::fmt::Debug for AppAccess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppAccess").field("enabled", &self.source.is_some()).finish_non_exhaustive()
    }
}

impl AppAccess {
    pub const MAX_AGE: std::time::Duration = std::time::Duration::from_secs(300);
    pub const REREAD_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

    /// Reads the App from `store`, opened with `keys`; asks the deployment's `github`.
    pub fn new(store: Store, keys: KeyProvider, github: GitHub) -> Self {
        Self { source: Some((store, keys, github)), cached: Arc::default() }
    }

    /// The secret (`None`: no App is set, its secret does not open, or this receiver takes
    /// no App deliveries). With `fresh`, read again unless the last read is younger than
    /// [`AppAccess::REREAD_EVERY`]. Fails only when the database cannot be read.
    pub async fn secret(&self, fresh: bool) -> Result<Option<SecretString>, StoreError> {
        let Some((store, keys, _)) = &self.source else { return Ok(None) };
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
                match open_stored(keys, SealedFor::GitHubAppWebhookSecret, &app.encrypted_webhook_secret)
                    .await
                {
                    Ok(secret) => Some(SecretString::from(secret.expose().to_string())),
                    Err(e) => {
                        tracing::error!(
                            error = %crate::telemetry::ErrorChain(&e),
                            "the GitHub App's webhook secret cannot be opened: App deliveries are refused"
                        );
                        crate::metrics::app_secret_unopenable();
                        None
                    }
                }
            }
            None => None,
        };
        *cached = Some((secret.clone(), std::time::Instant::now()));
        Ok(secret)
    }

    /// The deployment's GitHub and a JWT of its App, to ask GitHub about installations.
    pub(crate) async fn jwt(&self) -> Result<(GitHub, Pat), ManageError> {
        let (store, keys, github) = self.source.as_ref().ok_or(ManageError::NoApp)?;
        Ok((github.clone(), jwt_of(store, keys).await?))
    }
}

/// What an `installation` or `installation_repositories` delivery says happened, before
/// ghsync believes it: a captured delivery replayed under a new `X-GitHub-Delivery` verifies
/// like the original, so what it says is confirmed with GitHub first (docs/trust.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Said {
    Deleted,
    Suspended,
    Unsuspended,
    /// A repository left the installation.
    Removed,
    /// A repository joined the installation.
    Added,
}

/// What GitHub says now, asked with the App's JWT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GitHubSays {
    /// `GET /app/installations/{id}`: `None` when deleted (404).
    Installation(Option<crate::github::InstallationState>),
    /// `GET /repos/{o}/{r}/installation`: the installation on the repository (`None`: 404).
    Repo(Option<i64>),
}

impl Said {
    /// Whether GitHub's answer bears out what `installation`'s event said.
    pub fn holds(self, installation: i64, now: GitHubSays) -> bool {
        use crate::github::InstallationState as State;
        match (self, now) {
            (Said::Deleted, GitHubSays::Installation(found)) => found.is_none(),
            (Said::Suspended, GitHubSays::Installation(found)) => found == Some(State { suspended: true }),
            (Said::Unsuspended, GitHubSays::Installation(found)) => found == Some(State { suspended: false }),
            (Said::Removed, GitHubSays::Repo(found)) => found != Some(installation),
            (Said::Added, GitHubSays::Repo(found)) => found == Some(installation),
            // An answer about something else bears out nothing.
            (_, _) => false,
        }
    }
}

impl AppAccess {
    /// What GitHub says now of `installation` (`repo`: of its installation on that repository).
    pub(crate) async fn ask(
        &self,
        installation: i64,
        repo: Option<&crate::domain::RepoRef>,
    ) -> Result<GitHubSays, ManageError> {
        let (github, jwt) = self.jwt().await?;
        let asked = match repo {
            Some(repo) => github.repo_installation(&jwt, repo).await.map(GitHubSays::Repo),
            None => github.installation_state(&jwt, installation).await.map(GitHubSays::Installation),
        };
        asked.map_err(app_refusal)
    }
}

/// A JWT of the deployment's App in `store`, signed with its key (opened with `keys`).
async fn jwt_of(store: &Store, keys: &KeyProvider) -> Result<Pat, ManageError> {
    let app = store.github_app().await?.ok_or(ManageError::NoApp)?;
    let pem = open_stored(keys, SealedFor::GitHubAppKey, &app.encrypted_private_key).await?;
    app_jwt(app.app_id, &signing_key(pem.expose())?)
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
            AppAccess::default()
        );
        for secret in ["MIIsecret", "hook-secret", "ghs_installationToken"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("app_id: 7"), "{shown}");
    }

    #[test]
    fn an_installation_event_holds_only_when_github_bears_it_out() {
        use crate::github::InstallationState as State;
        let (active, suspended) = (Some(State { suspended: false }), Some(State { suspended: true }));
        let i = GitHubSays::Installation;
        let r = GitHubSays::Repo;
        #[rustfmt::skip]
        let rows = [
            // what the event said, what GitHub says now, believed
            (Said::Deleted,     i(None),      true),
            (Said::Deleted,     i(active),    false), // a replay: the installation is there
            (Said::Deleted,     i(suspended), false),
            (Said::Suspended,   i(suspended), true),
            (Said::Suspended,   i(active),    false), // a replay after the unsuspension
            (Said::Suspended,   i(None),      false),
            (Said::Unsuspended, i(active),    true),
            (Said::Unsuspended, i(suspended), false),
            (Said::Removed,     r(None),      true),
            (Said::Removed,     r(Some(8)),   true),  // another installation has it now
            (Said::Removed,     r(Some(7)),   false), // a replay: still installed
            (Said::Added,       r(Some(7)),   true),
            (Said::Added,       r(None),      false),
            (Said::Added,       r(Some(8)),   false),
            (Said::Deleted,     r(None),      false), // an answer about something else
            (Said::Removed,     i(None),      false),
        ];
        for (said, now, believed) in rows {
            assert_eq!(said.holds(7, now), believed, "{said:?} {now:?}");
        }
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
