//! Operations that span the store, GitHub and the key provider, one file per family:
//! [`configs`] (saving a sync config), [`app`] (the GitHub App), [`hooks`] (repository
//! webhooks), [`push`] (two-way sync's pusher and publishing), [`reconcile`] (a sync run),
//! [`fanout`] (the tick and queue in AWS), [`runs`] (how a requested run reaches a worker).
//! [`Services`] holds what they share, and here is how a config reaches GitHub.

pub mod app;
pub mod comment_push;
pub mod configs;
pub mod fanout;
pub mod hooks;
pub mod publish;
pub mod push;
mod push_fields;
pub mod reconcile;
pub mod runs;

use crate::crypto::{CryptoError, KeyProvider, SealedFor, Secret};
use crate::domain::{GitHubSyncConfig, Reach, RepoRef, ValidationError};
use crate::github::{GitHub, GitHubError, InstallationToken};
use crate::store::{Store, StoreError};
use crate::time::Timestamp;

/// Why a config was not stored, or a config cannot reach GitHub. Nothing is written in any
/// case.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// GitHub answered, and refused the token for the repository (HTTP 422 for the user,
    /// naming `field`: `pat`, or `installation_id` for an App installation's token).
    #[error("GitHub refused the {} for {repo}: {source}", if *field == "pat" { "PAT" } else { "GitHub App installation's token" })]
    PatRefused { repo: String, field: &'static str, source: Box<GitHubError> },
    /// GitHub refused a write (HTTP 422 for the user, with GitHub's message).
    #[error("{0}")]
    GitHubRefused(#[source] GitHubError),
    /// GitHub could not be asked (HTTP 502).
    #[error("GitHub did not answer while {doing}")]
    GitHubUnavailable { doing: &'static str, source: GitHubError },
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// A stored secret does not open (sealed under another key, or altered): the person must
    /// send it again, as `remedy` says (HTTP 409).
    #[error("the stored {what} cannot be decrypted (it was sealed with another key, or altered): {remedy}")]
    StoredSecretUnreadable { what: &'static str, remedy: &'static str, source: CryptoError },
    /// The config's PAT has expired (GitHub said when): nothing is sent with it (HTTP 409).
    #[error("{0}")]
    TokenExpired(String),
    /// A config names an installation, and no App is set (HTTP 409).
    #[error(
        "no GitHub App is set for this deployment: set it first (PUT /api/github-app, or `ghsync app set`)"
    )]
    NoApp,
    /// GitHub refused the App's JWT: the App id and the private key do not go together (HTTP 422).
    #[error("GitHub refused the GitHub App's credentials: check the App id and its private key")]
    AppRefused,
}

/// Everything a management operation needs.
#[derive(Clone, Debug)]
pub struct Services {
    pub store: Store,
    pub keys: KeyProvider,
    /// The deployment's GitHub client (a config's own API: [`GitHub::at`]).
    pub github: GitHub,
    /// How pushes of two-way sync pace themselves (the worker's; the API passes its own).
    pub push_options: crate::services::push::PushOptions,
}

/// A config's way in: the client for its API and the token to send.
#[derive(Clone, Debug)]
pub struct Connection {
    pub github: GitHub,
    pub token: Secret,
    /// The installation token's details, for an App config.
    pub installation: Option<InstallationToken>,
}

impl ManageError {
    /// GitHub did not answer while ghsync was `doing` something (HTTP 502).
    pub(crate) fn unavailable(doing: &'static str) -> impl FnOnce(GitHubError) -> ManageError {
        move |source| ManageError::GitHubUnavailable { doing, source }
    }
}

impl Services {
    pub fn new(store: Store, keys: KeyProvider, github: GitHub) -> Self {
        Self { store, keys, github, push_options: Default::default() }
    }

    /// The client and token a config reaches GitHub with: its App installation's token
    /// (minted or cached), or its PAT opened, unless GitHub said the PAT has expired.
    pub async fn reach_github(&self, reach: &Reach) -> Result<Connection, ManageError> {
        if let Some(installation) = reach.installation_id {
            // Only on the deployment's GitHub: the App's JWT never goes to a config's own API.
            let minted = self.installation_token(installation).await?;
            let token = minted.token.clone();
            return Ok(Connection { github: self.github.clone(), token, installation: Some(minted) });
        }
        let github = self.github.at(reach.api_url.as_deref()).map_err(invalid_api_url)?;
        let now = Timestamp::now();
        if reach.token_expires_at.is_some_and(|at| at <= now) {
            let warning = crate::domain::token_warning(reach.token_expires_at, now).unwrap_or_default();
            return Err(ManageError::TokenExpired(warning));
        }
        let token = open_stored(&self.keys, reach.project_id, &reach.encrypted_pat).await?;
        Ok(Connection { github, token, installation: None })
    }

    /// The repository a stored config follows, and its connection (see
    /// [`Services::reach_github`]).
    pub(crate) async fn repo_and_connection(
        &self,
        config: &GitHubSyncConfig,
    ) -> Result<(RepoRef, Connection), ManageError> {
        Ok((config.repo()?, self.reach_github(&config.reach()).await?))
    }
}

/// Opens a stored secret (a config's PAT, the App's key or webhook secret); one that does not
/// open (another key, altered) is [`ManageError::StoredSecretUnreadable`], an unreachable KMS
/// stays a [`CryptoError`].
pub(crate) async fn open_stored(
    keys: &KeyProvider,
    owner: impl Into<SealedFor>,
    blob: &[u8],
) -> Result<Secret, ManageError> {
    let owner = owner.into();
    keys.open(owner, blob).await.map_err(|e| match e {
        CryptoError::KmsUnavailable(_) => ManageError::Crypto(e),
        source => {
            let (what, remedy) = match owner {
                SealedFor::Project(_) => ("PAT", "send the PAT again"),
                SealedFor::GitHubAppKey => {
                    ("GitHub App private key", "set the App again (PUT /api/github-app, or `ghsync app set`)")
                }
                SealedFor::GitHubAppWebhookSecret => (
                    "GitHub App webhook secret",
                    "set the App again (PUT /api/github-app, or `ghsync app set`)",
                ),
            };
            ManageError::StoredSecretUnreadable { what, remedy, source }
        }
    })
}

/// A config's `api_url` refused (not an API base, or a host the operator did not allow).
pub(crate) fn invalid_api_url(e: GitHubError) -> ManageError {
    ValidationError::new("api_url", e.to_string()).into()
}
