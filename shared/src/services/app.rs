//! The deployment's GitHub App (docs/credentials.md, "The GitHub App"): setting it (its id,
//! and its private key and webhook secret sealed under the KMS envelope), its JWT (RS256,
//! signed by octocrab's `create_jwt`), its installations and their tokens (cached by the
//! GitHub client, [`crate::github::GitHub::installation_token`]), and [`AppAccess`], what the
//! webhook receiver needs of it.

use std::sync::Arc;

use octocrab::models::AppId;
use secrecy::SecretString;

use crate::contract::{GitHubAppInfo, PutGitHubApp};
use crate::crypto::{KeyProvider, SealedFor, Secret};
use crate::github::{AppInstallation, GitHub, GitHubError, InstallationToken};
use crate::services::{ManageError, Services, open_stored};
use crate::store::{Store, StoreError, StoredApp};
use crate::sync::GitHubSays;

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

/// The events whose deliveries ghsync applies, with their names on the App's settings page.
const APP_EVENTS: [(&str, &str); 2] = [("issues", "Issues"), ("issue_comment", "Issue comment")];

/// A JWT that authenticates as App `app_id` for a few minutes.
fn app_jwt(app_id: i64, key: &octocrab::auth::EncodingKey) -> Result<Secret, ManageError> {
    let id = u64::try_from(app_id)
        .map_err(|_| crate::domain::ValidationError::new("app_id", "must be positive"))?;
    let jwt = octocrab::auth::create_jwt(AppId(id), key)
        .map_err(|_| crate::domain::ValidationError::new("private_key", "cannot sign with this key"))?;
    Ok(Secret::new(jwt))
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
        self.github.forget_installation_tokens();
        tracing::info!(app_id = app.app_id, "GitHub App stored");
        let warnings = self.app_warnings().await;
        Ok(GitHubAppInfo { app_id: Some(app.app_id), configured: true, warnings })
    }

    /// Whether an App is set, its id, and what its settings on GitHub lack.
    pub async fn github_app_info(&self) -> Result<GitHubAppInfo, ManageError> {
        let app = self.store.github_app().await?;
        let warnings = if app.is_some() { self.app_warnings().await } else { Vec::new() };
        Ok(GitHubAppInfo { app_id: app.as_ref().map(|a| a.app_id), configured: app.is_some(), warnings })
    }

    /// What the App's settings on GitHub (`GET /app`) lack: the events whose deliveries
    /// ghsync applies ("Issues", "Issue comment"). Deliveries of an event the App does not
    /// subscribe to never come, and only the reconcile would bring their changes.
    async fn app_warnings(&self) -> Vec<String> {
        let settings = match self.app_jwt().await {
            Ok(jwt) => self.github.app_settings(&jwt, &mut 0).await.map_err(|e| e.to_string()),
            Err(e) => Err(e.to_string()),
        };
        match settings {
            Ok(settings) => APP_EVENTS
                .iter()
                .filter(|(event, _)| !settings.events.iter().any(|e| e == event))
                .map(|(_, name)| {
                    format!(
                        "the App is not subscribed to \"{name}\" events: tick it in the App's settings \
                         (Permissions & events), or its changes arrive only with the reconcile"
                    )
                })
                .collect(),
            Err(e) => vec![format!("the App's settings could not be read from GitHub: {e}")],
        }
    }

    /// Removes the deployment's App (`NotFound` when none is set).
    pub async fn delete_github_app(&self) -> Result<(), ManageError> {
        if !self.store.delete_github_app().await? {
            return Err(crate::store::StoreError::NotFound("GitHub App").into());
        }
        self.github.forget_installation_tokens();
        Ok(())
    }

    /// The App's installations on the deployment's GitHub (to pick one for a config).
    pub async fn app_installations(&self) -> Result<Vec<AppInstallation>, ManageError> {
        let jwt = self.app_jwt().await?;
        self.github.list_installations(&jwt).await.map_err(app_refusal)
    }

    /// A JWT of the deployment's App, signed with its key (opened from its seal).
    pub(crate) async fn app_jwt(&self) -> Result<Secret, ManageError> {
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

    /// A token for `installation` on the deployment's GitHub (cached by the client, see
    /// [`GitHub::installation_token`]).
    pub async fn installation_token(&self, installation: i64) -> Result<InstallationToken, ManageError> {
        self.github.installation_token(installation, self.app_jwt(), app_refusal).await
    }
}

/// What a refusal of the App's own requests means.
fn app_refusal(e: GitHubError) -> ManageError {
    match e {
        GitHubError::BadCredentials => ManageError::AppRefused,
        e @ GitHubError::NoInstallation { .. } => ManageError::GitHubRefused(e),
        e => ManageError::unavailable("asking GitHub as the GitHub App")(e),
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
    pub(crate) async fn jwt(&self) -> Result<(GitHub, Secret), ManageError> {
        let (store, keys, github) = self.source.as_ref().ok_or(ManageError::NoApp)?;
        Ok((github.clone(), jwt_of(store, keys).await?))
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
async fn jwt_of(store: &Store, keys: &KeyProvider) -> Result<Secret, ManageError> {
    let app = store.github_app().await?.ok_or(ManageError::NoApp)?;
    let pem = open_stored(keys, SealedFor::GitHubAppKey, &app.encrypted_private_key).await?;
    app_jwt(app.app_id, &signing_key(pem.expose())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn debug_never_shows_the_apps_secrets() {
        let request = PutGitHubApp {
            app_id: 7,
            private_key: Secret::new("-----BEGIN RSA PRIVATE KEY-----\nMIIsecret"),
            webhook_secret: Secret::new("hook-secret"),
        };
        let stored =
            StoredApp { app_id: 7, encrypted_private_key: vec![1, 2], encrypted_webhook_secret: vec![3] };
        let token = InstallationToken {
            token: Secret::new("ghs_installationToken"),
            expires_at: crate::time::Timestamp::now(),
            permissions: Default::default(),
        };
        let shown = format!(
            "{request:?} {stored:?} {token:?} {:?} {:?}",
            AppAccess::default(),
            crate::github::GitHub::new("https://api.github.com", std::time::Duration::from_secs(1)).unwrap(),
        );
        for secret in ["MIIsecret", "hook-secret", "ghs_installationToken"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
        assert!(shown.contains("app_id: 7"), "{shown}");
    }

    #[test]
    fn the_app_jwt_is_signed_with_the_apps_key() {
        use jsonwebtoken::{Algorithm, DecodingKey, Validation};
        let key = signing_key(include_str!("../../../testkit/fixtures/github-app.pem")).unwrap();
        let jwt = app_jwt(42, &key).unwrap();
        // GitHub checks the signature with the App's public key, and the issuer and the
        // lifetime (at most ten minutes) in the claims.
        let public = include_str!("../../../testkit/fixtures/github-app.pub.pem");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_required_spec_claims(&["exp", "iat"]);
        let claims = jsonwebtoken::decode::<serde_json::Value>(
            jwt.expose(),
            &DecodingKey::from_rsa_pem(public.as_bytes()).unwrap(),
            &validation,
        )
        .unwrap()
        .claims;
        assert_eq!(claims["iss"].to_string().trim_matches('"'), "42");
        let lifetime = claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
        assert!(lifetime > 0 && lifetime <= 600, "{lifetime}");
        // A JWT signed with another key is refused by that check.
        let forged = signing_key(include_str!("../../../testkit/fixtures/forged-app.pem")).unwrap();
        let forged = app_jwt(42, &forged).unwrap();
        let public = DecodingKey::from_rsa_pem(public.as_bytes()).unwrap();
        assert!(jsonwebtoken::decode::<serde_json::Value>(forged.expose(), &public, &validation).is_err());
        assert!(matches!(signing_key("not a key"), Err(ManageError::Invalid(e)) if e.field == "private_key"));
        assert!(matches!(app_jwt(-1, &key), Err(ManageError::Invalid(e)) if e.field == "app_id"));
    }
}
