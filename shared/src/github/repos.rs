//! Repositories on GitHub: what a token may do in one (read or write its issues, manage
//! its hooks, until when), and its webhooks.

use super::*;

/// What GitHub says a token may do in a repository: from `GET /repos/{owner}/{repo}` and
/// its headers (`x-oauth-scopes` lists a classic token's scopes), and for a fine-grained or
/// installation token from probes of the endpoints themselves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenReport {
    pub source: TokenSource,
    /// `None`: the token cannot read the repository's issues.
    pub issues: Option<IssuesAccess>,
    /// May manage the repository's webhooks.
    pub hooks: bool,
    /// `github-authentication-token-expiration`, when the token expires.
    pub expires_at: Option<Timestamp>,
    /// What GitHub said a refused probe needs (`x-accepted-github-permissions`, such as
    /// `issues=read`).
    pub refused: Option<String>,
}

/// What a token check must find out (each probe costs a request).
#[derive(Clone, Copy, Debug, Default)]
pub struct TokenCheck {
    /// Whether the token may write issues (two-way sync).
    pub write: bool,
    /// Whether the token may manage hooks (ghsync is to install the hook).
    pub hooks: bool,
}

/// A classic token's scopes, as `x-oauth-scopes` lists them, and what they allow in a
/// repository that is `private` or not, where the person's role allows `push` and `admin`.
pub(super) fn classic_report(scopes: &str, private: bool, push: bool, admin: bool) -> (IssuesAccess, bool) {
    let has = |scope: &str| scopes.split(',').any(|s| s.trim() == scope);
    let repo_write = has("repo") || (!private && has("public_repo"));
    let issues = if push && repo_write { IssuesAccess::Write } else { IssuesAccess::Read };
    let hooks = admin && (has("repo") || has("admin:repo_hook") || has("write:repo_hook"));
    (issues, hooks)
}

impl GitHub {
    /// What `token` may do in `repo`: it must read the repository (else an error); the rest
    /// is reported. A classic token's scopes come with any answer (`x-oauth-scopes`); a
    /// fine-grained or installation token lists none, so its access to issues (and, when
    /// `check` asks, to write them and to manage hooks) is tried on the endpoints themselves:
    /// a listing of one issue, an issue creation without a title (which GitHub refuses with
    /// 422 to a token that may write, 403 to one that may not; nothing is created) and the
    /// hooks listing. Installation tokens (`installation`) are reported from their
    /// permissions instead.
    #[tracing::instrument(skip(self, token, installation), fields(repo = %repo))]
    pub async fn check_token(
        &self,
        repo: &RepoRef,
        token: &Secret,
        check: TokenCheck,
        installation: Option<&InstallationToken>,
    ) -> Result<TokenReport, GitHubError> {
        let response = self.get(&self.repo_url(repo, &[]), token, None, &mut 0).await?;
        expect_readable(&response, repo)?;
        #[derive(Deserialize)]
        struct Permissions {
            #[serde(default)]
            push: bool,
            #[serde(default)]
            admin: bool,
        }
        #[derive(Deserialize)]
        struct Repository {
            #[serde(default)]
            private: bool,
            permissions: Option<Permissions>,
        }
        let repository: Repository = response.json()?;
        let (push, admin) = repository.permissions.map_or((false, false), |p| (p.push, p.admin));
        let expires_at =
            response.header("github-authentication-token-expiration").and_then(parse_token_expiration);
        if let Some(installation) = installation {
            let level = |name: &str| installation.permissions.get(name).map(String::as_str);
            let issues = match level("issues") {
                Some("write") => Some(IssuesAccess::Write),
                Some("read") => Some(IssuesAccess::Read),
                _ => None,
            };
            let hooks = level("repository_hooks") == Some("write");
            return Ok(TokenReport {
                source: TokenSource::App,
                issues,
                hooks,
                expires_at: None,
                refused: None,
            });
        }
        if let Some(scopes) = response.header("x-oauth-scopes") {
            let (issues, hooks) = classic_report(scopes, repository.private, push, admin);
            return Ok(TokenReport {
                source: TokenSource::Classic,
                issues: Some(issues),
                hooks,
                expires_at,
                refused: None,
            });
        }
        // Fine-grained: ask the endpoints. A refusal names what the endpoint needs
        // (`x-accepted-github-permissions`), which the person is told.
        let issues_url = self.repo_url(repo, &["issues"]);
        let mut listing = issues_url.clone();
        listing.query_pairs_mut().append_pair("per_page", "1");
        let read = self.get(&listing, token, None, &mut 0).await?;
        let accepted = |r: &Response| r.header("x-accepted-github-permissions").map(str::to_string);
        let mut issues = read.status.is_success().then_some(IssuesAccess::Read);
        let mut refused = if issues.is_none() { accepted(&read) } else { None };
        if issues.is_some() && check.write {
            let body = serde_json::json!({});
            let tried = self.send(Method::POST, &issues_url, token, None, Some(&body), &mut 0).await?;
            if tried.status == StatusCode::UNPROCESSABLE_ENTITY {
                issues = Some(IssuesAccess::Write);
            } else {
                refused = accepted(&tried);
            }
        }
        let hooks = check.hooks
            && self.get(&self.repo_url(repo, &["hooks"]), token, None, &mut 0).await?.status.is_success();
        Ok(TokenReport { source: TokenSource::FineGrained, issues, hooks, expires_at, refused })
    }
}

/// The events a repository webhook ghsync installs sends: issues, and their comments.
pub const HOOK_EVENTS: [&str; 2] = ["issues", "issue_comment"];

/// A repository webhook as GitHub shows it (the fields ghsync reads).
#[derive(Clone, Debug, Deserialize)]
pub struct GhHook {
    pub id: i64,
    pub config: GhHookConfig,
    /// The events it sends.
    #[serde(default)]
    pub events: Vec<String>,
    pub last_response: Option<GhHookResponse>,
}

/// A hook's delivery settings (GitHub never shows the secret back).
#[derive(Clone, Debug, Deserialize)]
pub struct GhHookConfig {
    pub url: Option<String>,
}

/// GitHub's record of a hook's last delivery.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq, ts_rs::TS, utoipa::ToSchema)]
pub struct GhHookResponse {
    /// The HTTP status the receiver answered (none before the first delivery).
    pub code: Option<i64>,
    /// `active`, `unused`, or what went wrong.
    pub status: Option<String>,
    pub message: Option<String>,
}

impl GitHub {
    /// The repository's webhooks (`GET /repos/{o}/{r}/hooks`; needs the right to manage them).
    pub async fn list_hooks(&self, repo: &RepoRef, pat: &Secret) -> Result<Vec<GhHook>, GitHubError> {
        let r = self.get(&self.repo_url(repo, &["hooks"]), pat, None, &mut 0).await?;
        expect_success(&r)?;
        r.json()
    }

    /// Creates (`id` `None`) or repairs a hook delivering [`HOOK_EVENTS`] as JSON to `url`,
    /// signed with `secret`, and makes it active.
    pub async fn put_hook(
        &self,
        repo: &RepoRef,
        pat: &Secret,
        id: Option<i64>,
        url: &str,
        secret: &str,
    ) -> Result<GhHook, GitHubError> {
        let body = serde_json::json!({
            "name": "web",
            "active": true,
            "events": HOOK_EVENTS,
            "config": { "url": url, "content_type": "json", "secret": secret, "insecure_ssl": "0" },
        });
        let r = match id {
            Some(id) => {
                let url = self.repo_url(repo, &["hooks", &id.to_string()]);
                self.send(Method::PATCH, &url, pat, None, Some(&body), &mut 0).await?
            }
            None => {
                self.send(Method::POST, &self.repo_url(repo, &["hooks"]), pat, None, Some(&body), &mut 0)
                    .await?
            }
        };
        expect_success(&r)?;
        r.json()
    }

    /// Gives hook `id` the events ghsync subscribes to ([`HOOK_EVENTS`]), nothing else about
    /// it changed (its URL and secret stay). `Ok(false)`: the hook is gone.
    pub async fn set_hook_events(
        &self,
        repo: &RepoRef,
        pat: &Secret,
        id: i64,
        requests: &mut u32,
    ) -> Result<bool, GitHubError> {
        let url = self.repo_url(repo, &["hooks", &id.to_string()]);
        let body = serde_json::json!({ "events": HOOK_EVENTS });
        let r = self.send(Method::PATCH, &url, pat, None, Some(&body), requests).await?;
        if r.status == StatusCode::NOT_FOUND {
            return Ok(false);
        }
        expect_success(&r)?;
        Ok(true)
    }

    /// Removes hook `id` (one already gone counts as removed).
    pub async fn delete_hook(&self, repo: &RepoRef, pat: &Secret, id: i64) -> Result<(), GitHubError> {
        let url = self.repo_url(repo, &["hooks", &id.to_string()]);
        let r = self.send(Method::DELETE, &url, pat, None, None, &mut 0).await?;
        if r.status == StatusCode::NOT_FOUND {
            return Ok(());
        }
        expect_success(&r)
    }
}
