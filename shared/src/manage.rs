//! Management operations that span the store, GitHub and the key provider.

use serde::Deserialize;
use tracing::instrument;
use uuid::Uuid;

use crate::crypto::{CryptoError, KeyProvider, Pat};
use crate::domain::{GitHubSyncConfig, RepoName, RepoOwner, RepoRef, SyncInterval, ValidationError};
use crate::github::{GitHub, GitHubError};
use crate::store::{AtStart, ConfigWrite, Store, StoreError};

/// `PUT /api/projects/{id}/github-sync`: the config as a user sends it.
#[derive(Clone, Debug, Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct PutSyncConfig {
    pub repo_owner: String,
    pub repo_name: String,
    /// Required to create; absent on an update keeps the stored PAT.
    #[serde(default)]
    pub pat: Option<Pat>,
    #[serde(default)]
    pub sync_enabled: Option<bool>,
    #[serde(default)]
    pub sync_interval_seconds: Option<i64>,
    /// Push local edits of linked tasks to GitHub (absent keeps the stored value; a new
    /// config is one-way). Needs a token that can write issues.
    #[serde(default)]
    pub two_way: Option<bool>,
}

/// Why a config was not stored. Nothing is written in any case.
#[derive(Debug, thiserror::Error)]
pub enum ManageError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Invalid(#[from] ValidationError),
    /// GitHub answered, and refused the token for the repository (HTTP 422 for the user).
    #[error("GitHub refused the PAT for {repo}: {source}")]
    PatRefused { repo: String, source: GitHubError },
    /// GitHub refused a write (HTTP 422 for the user, with GitHub's message).
    #[error("{0}")]
    GitHubRefused(#[source] GitHubError),
    /// GitHub could not be asked (HTTP 502).
    #[error("cannot check the PAT with GitHub")]
    GitHubUnavailable(#[source] GitHubError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The stored PAT does not open (sealed under another key, or altered): the person must
    /// send it again (HTTP 409).
    #[error(
        "the stored PAT cannot be decrypted (it was sealed with another key, or altered): send the PAT again"
    )]
    StoredPatUnreadable(#[source] CryptoError),
}

/// Everything a management operation needs.
#[derive(Clone, Debug)]
pub struct Services {
    pub store: Store,
    pub keys: KeyProvider,
    pub github: GitHub,
}

impl Services {
    /// Creates or changes a project's sync config: validates it, checks the PAT against
    /// GitHub, encrypts it, proves the blob decrypts, and only then stores it.
    #[instrument(skip(self, request), fields(project_id = %project_id))]
    pub async fn put_sync_config(
        &self,
        project_id: Uuid,
        request: PutSyncConfig,
    ) -> Result<GitHubSyncConfig, ManageError> {
        let repo = RepoRef {
            owner: RepoOwner::parse(request.repo_owner)?,
            name: RepoName::parse(request.repo_name)?,
        };
        let sync_interval = request.sync_interval_seconds.map(SyncInterval::new).transpose()?;
        if request.pat.as_ref().is_some_and(|p| p.expose().trim().is_empty()) {
            return Err(ValidationError::new("pat", "must not be empty").into());
        }
        let existing = self.store.find_config(project_id).await?;
        if existing.is_none() {
            self.store.get_project(project_id).await?;
            if request.pat.is_none() {
                return Err(ValidationError::new("pat", "is required to create a sync config").into());
            }
        }
        let repo_changed = existing.as_ref().is_some_and(|c| !repo.is(&c.repo_owner, &c.repo_name));
        let was_two_way = existing.as_ref().is_some_and(|c| c.two_way);
        let two_way = request.two_way.unwrap_or(was_two_way);

        let encrypted_pat = match (&request.pat, &existing) {
            (Some(pat), _) => {
                self.check_access(&repo, pat, two_way).await?;
                let blob = self.keys.seal(project_id, pat).await?;
                // Prove it before storing it.
                let reopened = self.keys.open(project_id, &blob).await?;
                if reopened.expose() != pat.expose() {
                    return Err(CryptoError::Decrypt.into());
                }
                Some(blob)
            }
            (None, Some(old)) if repo_changed || (two_way && !was_two_way) => {
                let pat = self.open_stored_pat(project_id, &old.encrypted_pat).await?;
                self.check_access(&repo, &pat, two_way).await?;
                None
            }
            (None, _) => None,
        };
        let pat_changed = encrypted_pat.is_some();
        let write = ConfigWrite {
            repo_owner: repo.owner,
            repo_name: repo.name,
            encrypted_pat,
            sync_enabled: request.sync_enabled,
            sync_interval,
            two_way: request.two_way,
        };
        let config = self.store.put_config(project_id, &write).await?;
        tracing::info!(
            repo = %format_args!("{}/{}", config.repo_owner, config.repo_name),
            pat_changed,
            created = existing.is_none(),
            "sync config stored"
        );
        Ok(config)
    }

    /// Opens a config's stored PAT; one that does not open (another key, altered) is
    /// [`ManageError::StoredPatUnreadable`], an unreachable KMS stays a [`CryptoError`].
    pub(crate) async fn open_stored_pat(&self, project_id: Uuid, blob: &[u8]) -> Result<Pat, ManageError> {
        self.keys.open(project_id, blob).await.map_err(|e| match e {
            CryptoError::KmsUnavailable(_) => ManageError::Crypto(e),
            e => ManageError::StoredPatUnreadable(e),
        })
    }

    /// The repository a stored config follows, and its PAT opened (see
    /// [`Services::open_stored_pat`]).
    pub(crate) async fn repo_and_pat(
        &self,
        config: &GitHubSyncConfig,
    ) -> Result<(RepoRef, Pat), ManageError> {
        let repo = RepoRef {
            owner: RepoOwner::parse(config.repo_owner.clone())?,
            name: RepoName::parse(config.repo_name.clone())?,
        };
        let pat = self.open_stored_pat(config.project_id, &config.encrypted_pat).await?;
        Ok((repo, pat))
    }

    /// Checks the token with GitHub: it must read `repo`, and write its issues for two-way sync.
    async fn check_access(&self, repo: &RepoRef, pat: &Pat, two_way: bool) -> Result<(), ManageError> {
        match self.github.check_repo(repo, pat).await {
            Ok(access) if two_way && !access.can_write_issues => Err(ValidationError::new(
                "two_way",
                format!(
                    "the token cannot write the issues of {repo}: two-way sync needs write access \
                     (a classic token with the repo scope on a repository you can push to, or a \
                     fine-grained token with Issues: read and write)"
                ),
            )
            .into()),
            Ok(_) => Ok(()),
            Err(e @ (GitHubError::BadCredentials | GitHubError::NoAccess { .. })) => {
                Err(ManageError::PatRefused { repo: repo.to_string(), source: e })
            }
            Err(e) => Err(ManageError::GitHubUnavailable(e)),
        }
    }
}

/// Why a function could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot open the database")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    GitHub(#[from] GitHubError),
    #[error(transparent)]
    Secrets(#[from] crate::secrets::SecretsError),
    #[error(transparent)]
    SchemaBehind(#[from] crate::store::SchemaBehind),
}

/// How long a GitHub request may take to connect, and between reads.
pub const GITHUB_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// Opens the configured database and applies its pending migrations, or with
/// [`AtStart::CheckSchema`] refuses a schema older than this build: how every process gets
/// its store at start.
pub async fn open_store(
    config: &crate::config::Config,
    options: &crate::store::StoreOptions,
) -> Result<Store, StartupError> {
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
        config: &crate::config::Config,
        store_options: &crate::store::StoreOptions,
        fallback_keys: Option<KeyProvider>,
    ) -> Result<Self, StartupError> {
        let store = open_store(config, store_options).await?;
        let keys = match (key_provider(config).await, fallback_keys) {
            (Ok(keys), _) => keys,
            (Err(StartupError::Config(crate::config::ConfigError::Missing(_))), Some(fallback)) => fallback,
            (Err(e), _) => return Err(e),
        };
        let github = GitHub::new(&config.github_api_url, GITHUB_TIMEOUT)?;
        Ok(Self { store, keys, github })
    }
}

/// AWS KMS when `GHSYNC_KMS_KEY_ID` is set, else the local provider with `GHSYNC_LOCAL_KEY`.
pub async fn key_provider(config: &crate::config::Config) -> Result<KeyProvider, StartupError> {
    use secrecy::ExposeSecret;
    if let Some(key_id) = &config.kms_key_id {
        return Ok(KeyProvider::Kms(crate::crypto::KmsKeys::from_env(key_id.clone()).await));
    }
    match &config.local_key_hex {
        Some(hex) => Ok(KeyProvider::Local(crate::crypto::LocalKeys::from_hex(hex.expose_secret())?)),
        None => Err(crate::config::ConfigError::Missing("GHSYNC_KMS_KEY_ID (or GHSYNC_LOCAL_KEY)").into()),
    }
}
