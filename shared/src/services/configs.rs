//! Creating and changing a project's sync config: the request checked field by field, the
//! token checked with GitHub (what it may do in the repository, and until when), a PAT sealed
//! and proven to open, and only then one store write.

use tracing::instrument;
use uuid::Uuid;

use super::{Connection, ManageError, Services, invalid_api_url};
use crate::contract::PutSyncConfig;
use crate::domain::{
    GitHubSyncConfig, IssuesAccess, Reach, RepoName, RepoOwner, RepoRef, SyncInterval, TokenPermissions,
    ValidationError,
};
use crate::github::{GitHubError, Probe, TokenReport};
use crate::store::{ConfigWrite, Credential, TokenChecked};

impl Services {
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
                self.github.forget_cached_token(id);
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
