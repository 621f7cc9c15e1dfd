//! Management operations that span the store, GitHub and the key provider.

use serde::Deserialize;
use tracing::instrument;
use uuid::Uuid;

use crate::crypto::{CryptoError, KeyProvider, Pat};
use crate::domain::{
    GitHubSyncConfig, IssuesAccess, Reach, RepoName, RepoOwner, RepoRef, SyncInterval, TokenPermissions,
    ValidationError,
};
use crate::github::{GitHub, GitHubError, InstallationToken, Probe, TokenReport};
use crate::store::{AtStart, ConfigWrite, Credential, Store, StoreError, TokenChecked};
use crate::time::Timestamp;

/// `PUT /api/projects/{id}/github-sync`: the config as a user sends it.
#[derive(Clone, Debug, Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct PutSyncConfig {
    pub repo_owner: String,
    pub repo_name: String,
    /// A PAT (or `installation_id`) is required to create; neither on an update keeps the
    /// stored credential.
    #[serde(default)]
    pub pat: Option<Pat>,
    /// The GitHub App installation to work through instead of a PAT (the deployment's App
    /// must be set: `PUT /api/github-app`).
    #[serde(default)]
    pub installation_id: Option<i64>,
    #[serde(default)]
    pub sync_enabled: Option<bool>,
    #[serde(default)]
    pub sync_interval_seconds: Option<i64>,
    /// Push local edits of linked tasks to GitHub (absent keeps the stored value; a new
    /// config is one-way). Needs a token that can write issues.
    #[serde(default)]
    pub two_way: Option<bool>,
    /// The REST API of a GitHub Enterprise Server (`https://host/api/v3`); `""` returns to
    /// the deployment's; absent keeps the stored one.
    #[serde(default)]
    pub api_url: Option<String>,
}

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
    /// Installation tokens of the deployment's GitHub App, while they last.
    pub installation_tokens: crate::app::InstallationTokens,
    /// How pushes of two-way sync pace themselves (the worker's; the API passes its own).
    pub push_options: crate::push::PushOptions,
}

/// A config's way in: the client for its API and the token to send.
#[derive(Clone, Debug)]
pub struct Connection {
    pub github: GitHub,
    pub token: Pat,
    /// The installation token's details, for an App config.
    pub installation: Option<InstallationToken>,
}

impl Services {
    pub fn new(store: Store, keys: KeyProvider, github: GitHub) -> Self {
        Self {
            store,
            keys,
            github,
            installation_tokens: Default::default(),
            push_options: Default::default(),
        }
    }

    /// Creates or changes a project's sync config: validates it, checks the token against
    /// GitHub (what it may do, and until when), seals a PAT and proves the blob opens, and
    /// only then stores it.
    #[instrument(skip(self, request), fields(project_id = %project_id))]
    pub async fn put_sync_config(
        &self,
        project_id: Uuid,
        request: PutSyncConfig,
        installs_hook: bool,
    ) -> Result<GitHubSyncConfig, ManageError> {
        let repo = RepoRef {
            owner: RepoOwner::parse(request.repo_owner)?,
            name: RepoName::parse(request.repo_name)?,
        };
        let sync_interval = request.sync_interval_seconds.map(SyncInterval::new).transpose()?;
        if request.pat.as_ref().is_some_and(|p| p.expose().trim().is_empty()) {
            return Err(ValidationError::new("pat", "must not be empty").into());
        }
        if request.pat.is_some() && request.installation_id.is_some() {
            return Err(ValidationError::new(
                "installation_id",
                "give either a PAT or an installation_id, not both",
            )
            .into());
        }
        if request.installation_id.is_some_and(|id| id <= 0) {
            return Err(ValidationError::new("installation_id", "must be a positive number").into());
        }
        let api_url = match request.api_url.as_deref().map(str::trim) {
            None => None,
            Some("") => Some(None),
            // The deployment's own API is no config's own.
            Some(url) => {
                let url = enterprise_api_url(url)?;
                // Checked before anything is sent: a token goes only to a host the operator named.
                if !self.github.allows(&url) {
                    return Err(invalid_api_url(GitHubError::HostNotAllowed { url }));
                }
                Some(Some(url).filter(|u| u != self.github.base_url()))
            }
        };
        let existing = self.store.find_config(project_id).await?;
        if existing.is_none() {
            self.store.get_project(project_id).await?;
            if request.pat.is_none() && request.installation_id.is_none() {
                return Err(ValidationError::new(
                    "pat",
                    "a PAT or an installation_id is required to create a sync config",
                )
                .into());
            }
        }
        let was_two_way = existing.as_ref().is_some_and(|c| c.two_way);
        let two_way = request.two_way.unwrap_or(was_two_way);
        let old_api_url = existing.as_ref().and_then(|c| c.api_url.clone());
        let new_api_url = api_url.clone().unwrap_or(old_api_url.clone());
        let moved = existing.as_ref().is_some_and(|c| !repo.is(&c.repo_owner, &c.repo_name))
            || new_api_url != old_api_url;
        let credential_changed = request.pat.is_some() || request.installation_id.is_some();
        if moved && !credential_changed && existing.as_ref().is_some_and(|c| c.installation_id.is_none()) {
            // A stored PAT goes only where its owner sent it (docs/trust.md): to another
            // repository or host only when sent again, and nothing is sent before that.
            return Err(ValidationError::new(
                "pat",
                "send the PAT again to move the config to another repository or api_url: a stored PAT goes only \
                 to the repository and host it was given for",
            )
            .into());
        }

        // The token is checked whenever it, the repository, or what it must do changes.
        let must_check = credential_changed || moved || (two_way && !was_two_way) || existing.is_none();
        let mut reach = match &existing {
            Some(old) => old.reach(),
            None => Reach {
                project_id,
                encrypted_pat: Vec::new(),
                installation_id: None,
                api_url: None,
                token_expires_at: None,
            },
        };
        reach.api_url = new_api_url;
        let uses_app =
            request.installation_id.is_some() || (request.pat.is_none() && reach.installation_id.is_some());
        if uses_app && reach.api_url.is_some() {
            // The App's JWT goes to the deployment's GitHub only, never to a config's own API.
            return Err(ValidationError::new(
                "api_url",
                "a GitHub App config works through the deployment's GitHub (GITHUB_API_URL); api_url is for a \
                 PAT on a GitHub Enterprise Server",
            )
            .into());
        }
        let credential = match (&request.pat, request.installation_id) {
            (Some(pat), _) => {
                let blob = self.keys.seal_proven(project_id, pat).await?;
                reach.encrypted_pat = blob.clone();
                reach.installation_id = None;
                reach.token_expires_at = None;
                Some(Credential::Pat(blob))
            }
            (None, Some(id)) => {
                reach.installation_id = Some(id);
                // Checked with a token minted now: a cached one may predate a change of the
                // installation's permissions.
                self.installation_tokens.forget(id);
                Some(Credential::Installation(id))
            }
            (None, None) => None,
        };
        let checked = if must_check {
            let probe = Probe { write: two_way, hooks: installs_hook && reach.installation_id.is_none() };
            let connection = match &request.pat {
                // A new PAT is checked as sent (the sealed copy was proven above).
                Some(pat) => Connection {
                    github: self.github.at(reach.api_url.as_deref()).map_err(invalid_api_url)?,
                    token: pat.clone(),
                    installation: None,
                },
                None => self.reach_github(&reach).await?,
            };
            if let Some(installation) = reach.installation_id {
                // An installation's token can read any public repository: that the App is
                // installed on this one, as this installation, GitHub says to the App itself.
                self.check_installation_covers(&repo, installation).await?;
            }
            let report = self.check_token(&repo, &connection, probe).await?;
            Some(require(&repo, &report, two_way)?)
        } else {
            None
        };
        let credential_kind = if reach.installation_id.is_some() { "installation" } else { "pat" };
        let write = ConfigWrite {
            credential,
            sync_enabled: request.sync_enabled,
            sync_interval,
            two_way: request.two_way,
            api_url,
            checked,
            ..ConfigWrite::new(repo.owner, repo.name)
        };
        let config = self.store.put_config(project_id, &write).await?;
        tracing::info!(
            repo = %format_args!("{}/{}", config.repo_owner, config.repo_name),
            credential = credential_kind,
            credential_changed,
            created = existing.is_none(),
            "sync config stored"
        );
        Ok(config)
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
        let repo = RepoRef {
            owner: RepoOwner::parse(config.repo_owner.clone())?,
            name: RepoName::parse(config.repo_name.clone())?,
        };
        Ok((repo, self.reach_github(&config.reach()).await?))
    }

    /// Asks GitHub what the token may do in `repo`.
    async fn check_token(
        &self,
        repo: &RepoRef,
        c: &Connection,
        probe: Probe,
    ) -> Result<TokenReport, ManageError> {
        match c.github.check_token(repo, &c.token, probe, c.installation.as_ref()).await {
            Ok(report) => Ok(report),
            Err(e @ (GitHubError::BadCredentials | GitHubError::NoAccess { .. })) => {
                let field = if c.installation.is_some() { "installation_id" } else { "pat" };
                Err(ManageError::PatRefused { repo: repo.to_string(), field, source: Box::new(e) })
            }
            Err(e) => Err(ManageError::GitHubUnavailable(e)),
        }
    }
}

/// Opens a stored secret (a config's PAT, the App's key or webhook secret); one that does not
/// open (another key, altered) is [`ManageError::StoredPatUnreadable`], an unreachable KMS
/// stays a [`CryptoError`].
pub(crate) async fn open_stored(
    keys: &KeyProvider,
    owner: impl Into<crate::crypto::SealedFor>,
    blob: &[u8],
) -> Result<Pat, ManageError> {
    keys.open(owner, blob).await.map_err(|e| match e {
        CryptoError::KmsUnavailable(_) => ManageError::Crypto(e),
        e => ManageError::StoredPatUnreadable(e),
    })
}

/// A config's own API base: https (or a loopback test server), GitHub Enterprise Server's
/// `/api/v3` form.
fn enterprise_api_url(url: &str) -> Result<String, ValidationError> {
    let base = crate::github::api_base(url).map_err(|e| ValidationError::new("api_url", e.to_string()))?;
    if !base.path().trim_end_matches('/').ends_with("/api/v3") {
        return Err(ValidationError::new(
            "api_url",
            "must be a GitHub Enterprise Server's REST API, https://HOST/api/v3",
        ));
    }
    Ok(base.as_str().trim_end_matches('/').to_string())
}

fn invalid_api_url(e: GitHubError) -> ManageError {
    ValidationError::new("api_url", e.to_string()).into()
}

/// What the config needs of the token, from what GitHub said: to read the issues, and for
/// two-way sync to write them. Hooks are reported, not required (without them the person
/// adds the webhook by hand, README.md, "Webhook").
fn require(repo: &RepoRef, report: &TokenReport, two_way: bool) -> Result<TokenChecked, ValidationError> {
    use crate::domain::TokenSource;
    let field = if report.source == TokenSource::App { "installation_id" } else { "pat" };
    // GitHub's own words for what the refused request needed, when it said.
    let said = report.refused.as_deref().map(|p| format!(" (GitHub: this needs {p})")).unwrap_or_default();
    let needs = |access: &str| match report.source {
        TokenSource::Classic => format!(
            "a classic token needs the repo scope (public_repo for a public repository) and {access} access to {repo}"
        ),
        TokenSource::FineGrained => {
            format!("a fine-grained token needs the repository permission Issues: {access}{said}")
        }
        TokenSource::App => format!(
            "the GitHub App needs the repository permission Issues: {access}, and {repo} among its installation's repositories"
        ),
    };
    let Some(issues) = report.issues else {
        return Err(ValidationError::new(
            field,
            format!("the token cannot read the issues of {repo}: {}", needs("read-only")),
        ));
    };
    if two_way && issues != IssuesAccess::Write {
        return Err(ValidationError::new(
            "two_way",
            format!(
                "the token cannot write the issues of {repo}, and two-way sync must: {}",
                needs("read and write")
            ),
        ));
    }
    Ok(TokenChecked {
        expires_at: report.expires_at,
        permissions: TokenPermissions { source: report.source, issues, hooks: report.hooks },
    })
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
        let github = GitHub::new(&config.github_api_url, GITHUB_TIMEOUT)?.allowing(&config.github_hosts)?;
        Ok(Self::new(store, keys, github))
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
