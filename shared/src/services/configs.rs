//! Creating and changing a project's sync config: the request checked field by field, the
//! token checked with GitHub (what it may do in the repository, and until when), a PAT sealed
//! and proven to open, and only then one store write.

use tracing::instrument;
use uuid::Uuid;

use super::{Connection, ManageError, Services, invalid_api_url};
use crate::contract::PutSyncConfig;
use crate::crypto::Secret;
use crate::domain::{
    GitHubSyncConfig, IssuesAccess, Reach, RepoName, RepoOwner, RepoRef, SyncInterval, TokenPermissions,
    ValidationError,
};
use crate::github::{GitHubError, TokenCheck, TokenReport};
use crate::store::{ConfigWrite, Credential, Saved, TokenChecked};
use crate::sync;

/// A `PUT` of a sync config, its values checked.
struct Asked {
    repo: RepoRef,
    pat: Option<Secret>,
    installation_id: Option<i64>,
    sync_enabled: Option<bool>,
    sync_interval: Option<SyncInterval>,
    two_way: Option<bool>,
    /// `Some(None)`: back to the deployment's API; absent keeps the stored one.
    api_url: Option<Option<String>>,
}

impl Services {
    /// Creates or changes a project's sync config: validates it, checks the token against
    /// GitHub (what it may do, and until when) when [`sync::switch`] says so, seals a PAT and
    /// proves the blob opens, and only then stores it (the store decides again on the locked
    /// row).
    #[instrument(skip(self, request), fields(project_id = %project_id))]
    pub async fn put_sync_config(
        &self,
        project_id: Uuid,
        request: PutSyncConfig,
        installs_hook: bool,
    ) -> Result<Saved, ManageError> {
        let asked = self.parse_request(request)?;
        let existing = self.store.find_config(project_id).await?;
        if existing.is_none() {
            self.store.get_project(project_id).await?;
            if asked.pat.is_none() && asked.installation_id.is_none() {
                return Err(ValidationError::new(
                    "pat",
                    "a PAT or an installation_id is required to create a sync config",
                )
                .into());
            }
        }
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
        reach.api_url = asked.api_url.clone().unwrap_or(reach.api_url);
        let switch = self.decide(existing.as_ref(), &asked, reach.api_url.as_deref())?;
        let uses_app =
            asked.installation_id.is_some() || (asked.pat.is_none() && reach.installation_id.is_some());
        if uses_app && reach.api_url.is_some() {
            // The App's JWT goes to the deployment's GitHub only, never to a config's own API.
            return Err(ValidationError::new(
                "api_url",
                "a GitHub App config works through the deployment's GitHub (GITHUB_API_URL); api_url is for a \
                 PAT on a GitHub Enterprise Server",
            )
            .into());
        }
        let credential = self.take_credential(&asked, &mut reach).await?;
        let checked = match switch.check_token {
            true => Some(self.check_reach(&asked, &reach, switch.two_way, installs_hook).await?),
            false => None,
        };
        let write = ConfigWrite {
            credential,
            sync_enabled: asked.sync_enabled,
            sync_interval: asked.sync_interval,
            two_way: asked.two_way,
            api_url: asked.api_url,
            checked,
            ..ConfigWrite::new(asked.repo.owner, asked.repo.name)
        };
        let saved = self.store.put_config(project_id, &write).await?;
        tracing::info!(
            repo = %saved.config.full_name(),
            credential = if reach.installation_id.is_some() { "installation" } else { "pat" },
            credential_changed = saved.switch.credential_saved,
            created = saved.before.is_none(),
            "sync config stored"
        );
        Ok(saved)
    }

    /// The request's values checked one by one (nothing is asked of GitHub yet); `api_url`
    /// only a host the operator allows.
    fn parse_request(&self, request: PutSyncConfig) -> Result<Asked, ManageError> {
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
            Some(url) => {
                let url = enterprise_api_url(url)?;
                // Checked before anything is sent: a token goes only to a host the operator named.
                if !self.github.allows(&url) {
                    return Err(invalid_api_url(GitHubError::HostNotAllowed { url }));
                }
                // The deployment's own API is no config's own.
                Some(Some(url).filter(|u| u != self.github.base_url()))
            }
        };
        Ok(Asked {
            repo,
            pat: request.pat,
            installation_id: request.installation_id,
            sync_enabled: request.sync_enabled,
            sync_interval,
            two_way: request.two_way,
            api_url,
        })
    }

    /// What the save will do, decided on the config as read now (the store decides again
    /// under its lock); refuses to send a stored PAT to another repository or host.
    fn decide(
        &self,
        existing: Option<&GitHubSyncConfig>,
        asked: &Asked,
        api_url: Option<&str>,
    ) -> Result<sync::Switch, ManageError> {
        let old_repo = existing.map(GitHubSyncConfig::repo).transpose()?;
        let stored = existing.zip(old_repo.as_ref()).map(|(old, repo)| sync::Stored::of(old, repo));
        let credential = match (&asked.pat, asked.installation_id) {
            (Some(_), _) => Some(sync::CredentialKind::Pat),
            (None, Some(_)) => Some(sync::CredentialKind::Installation),
            (None, None) => None,
        };
        let change = sync::Change {
            place: sync::Place { repo: &asked.repo, api_url },
            credential,
            sync_enabled: asked.sync_enabled,
            two_way: asked.two_way,
        };
        let switch = sync::switch(stored.as_ref(), &change);
        if switch.pat_must_be_resent {
            // A stored PAT goes only where its owner sent it (docs/trust.md): to another
            // repository or host only when sent again, and nothing is sent before that.
            return Err(ValidationError::new(
                "pat",
                "send the PAT again to move the config to another repository or api_url: a stored PAT goes only \
                 to the repository and host it was given for",
            )
            .into());
        }
        Ok(switch)
    }

    /// The credential the request brings, ready to store: a PAT sealed (and proven to open),
    /// or an installation (its cached token forgotten: the check must not trust a token
    /// minted before a change of the installation's permissions).
    async fn take_credential(
        &self,
        asked: &Asked,
        reach: &mut Reach,
    ) -> Result<Option<Credential>, ManageError> {
        Ok(match (&asked.pat, asked.installation_id) {
            (Some(pat), _) => {
                let blob = self.keys.seal_proven(reach.project_id, pat).await?;
                reach.encrypted_pat = blob.clone();
                reach.installation_id = None;
                reach.token_expires_at = None;
                Some(Credential::Pat(blob))
            }
            (None, Some(id)) => {
                reach.installation_id = Some(id);
                self.github.forget_cached_token(id);
                Some(Credential::Installation(id))
            }
            (None, None) => None,
        })
    }

    /// Checks with GitHub what the config's token may do in its repository (and, for an App
    /// installation, that it covers the repository).
    async fn check_reach(
        &self,
        asked: &Asked,
        reach: &Reach,
        two_way: bool,
        installs_hook: bool,
    ) -> Result<TokenChecked, ManageError> {
        let check = TokenCheck { write: two_way, hooks: installs_hook && reach.installation_id.is_none() };
        let connection = match &asked.pat {
            // A new PAT is checked as sent (the sealed copy was proven).
            Some(pat) => Connection {
                github: self.github.at(reach.api_url.as_deref()).map_err(invalid_api_url)?,
                token: pat.clone(),
                installation: None,
            },
            None => self.reach_github(reach).await?,
        };
        if let Some(installation) = reach.installation_id {
            // An installation's token can read any public repository: that the App is
            // installed on this one, as this installation, GitHub says to the App itself.
            self.check_installation_covers(&asked.repo, installation).await?;
        }
        let report = self.check_token(&asked.repo, &connection, check).await?;
        Ok(require(&asked.repo, &report, two_way)?)
    }

    /// Asks GitHub what the token may do in `repo`.
    async fn check_token(
        &self,
        repo: &RepoRef,
        c: &Connection,
        check: TokenCheck,
    ) -> Result<TokenReport, ManageError> {
        match c.github.check_token(repo, &c.token, check, c.installation.as_ref()).await {
            Ok(report) => Ok(report),
            Err(e @ (GitHubError::BadCredentials | GitHubError::NoAccess { .. })) => {
                let field = if c.installation.is_some() { "installation_id" } else { "pat" };
                Err(ManageError::PatRefused { repo: repo.to_string(), field, source: Box::new(e) })
            }
            Err(e) => Err(ManageError::unavailable("checking the token")(e)),
        }
    }
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
