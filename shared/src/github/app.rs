//! The GitHub App and accounts: the App's installations, the installation tokens minted
//! with its JWT, and the logins tokens act as.

use std::collections::HashMap;
use std::sync::Arc;

use super::*;

/// A cached installation token is replaced once it has less than this left.
pub const TOKEN_REFRESH_MARGIN: chrono::Duration = chrono::Duration::minutes(5);

/// An installation of the GitHub App, as `GET /app/installations` lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct AppInstallation {
    pub id: i64,
    /// The account (organisation or user) it is installed on.
    pub account: String,
    /// `all` or `selected` repositories.
    pub repository_selection: String,
    pub suspended: bool,
}

/// An installation token GitHub minted for a GitHub App installation.
#[derive(Clone, Debug)]
pub struct InstallationToken {
    pub token: Secret,
    pub expires_at: Timestamp,
    /// What the installation may do (`{"issues": "write", …}`).
    pub permissions: std::collections::BTreeMap<String, String>,
}

impl GitHub {
    /// The App's installations (`GET /app/installations`, the first 100), authenticated by
    /// the App's `jwt`.
    pub async fn list_installations(&self, jwt: &Secret) -> Result<Vec<AppInstallation>, GitHubError> {
        let mut url = self.api_url(&["app", "installations"]);
        url.query_pairs_mut().append_pair("per_page", "100");
        let r = self.get(&url, jwt, None, &mut 0).await?;
        expect_success(&r)?;
        #[derive(Deserialize)]
        struct Account {
            login: String,
        }
        #[derive(Deserialize)]
        struct Listed {
            id: i64,
            account: Option<Account>,
            #[serde(default)]
            repository_selection: String,
            suspended_at: Option<String>,
        }
        let listed: Vec<Listed> = r.json()?;
        Ok(listed
            .into_iter()
            .map(|i| AppInstallation {
                id: i.id,
                account: i.account.map(|a| a.login).unwrap_or_default(),
                repository_selection: i.repository_selection,
                suspended: i.suspended_at.is_some(),
            })
            .collect())
    }

    /// The id of the App's installation on `repo` (`GET /repos/{o}/{r}/installation`, the
    /// App's `jwt`); `None`: the App is not installed there.
    pub async fn repo_installation(&self, jwt: &Secret, repo: &RepoRef) -> Result<Option<i64>, GitHubError> {
        let r = self.get(&self.repo_url(repo, &["installation"]), jwt, None, &mut 0).await?;
        if r.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        expect_success(&r)?;
        #[derive(Deserialize)]
        struct Found {
            id: i64,
        }
        Ok(Some(r.json::<Found>()?.id))
    }

    /// The App's installation `installation` as GitHub knows it now (`GET
    /// /app/installations/{id}`, the App's `jwt`); `None`: deleted.
    pub async fn installation_state(
        &self,
        jwt: &Secret,
        installation: i64,
    ) -> Result<Option<crate::domain::InstallationState>, GitHubError> {
        let url = self.api_url(&["app", "installations", &installation.to_string()]);
        let r = self.get(&url, jwt, None, &mut 0).await?;
        if r.status == StatusCode::NOT_FOUND {
            return Ok(None);
        }
        expect_success(&r)?;
        #[derive(Deserialize)]
        struct Found {
            suspended_at: Option<String>,
        }
        Ok(Some(crate::domain::InstallationState { suspended: r.json::<Found>()?.suspended_at.is_some() }))
    }

    /// Mints an installation token for GitHub App installation `installation`
    /// (`POST /app/installations/{id}/access_tokens`), authenticated by the App's `jwt`.
    pub async fn mint_installation_token(
        &self,
        jwt: &Secret,
        installation: i64,
    ) -> Result<InstallationToken, GitHubError> {
        let url = self.api_url(&["app", "installations", &installation.to_string(), "access_tokens"]);
        let r = self.send(Method::POST, &url, jwt, None, None, &mut 0).await?;
        if matches!(r.status, StatusCode::NOT_FOUND | StatusCode::FORBIDDEN) {
            return Err(GitHubError::NoInstallation { installation, status: r.status.as_u16() });
        }
        expect_success(&r)?;
        #[derive(Deserialize)]
        struct Minted {
            token: String,
            expires_at: String,
            #[serde(default)]
            permissions: std::collections::BTreeMap<String, String>,
        }
        let minted: Minted = r.json()?;
        let expires_at = minted
            .expires_at
            .parse()
            .map_err(|_| GitHubError::Malformed("an installation token's expires_at is not a time".into()))?;
        Ok(InstallationToken {
            token: Secret::new(minted.token),
            expires_at,
            permissions: minted.permissions,
        })
    }

    /// The login of the account a personal access token acts as (`GET /user`).
    pub async fn token_login(&self, pat: &Secret, requests: &mut u32) -> Result<String, GitHubError> {
        let r = self.get(&self.api_url(&["user"]), pat, None, requests).await?;
        expect_success(&r)?;
        #[derive(Deserialize)]
        struct User {
            login: String,
        }
        Ok(r.json::<User>()?.login)
    }

    /// The login a GitHub App's installation tokens act as, `{slug}[bot]` (`GET /app`, with the
    /// App's `jwt`).
    pub async fn app_bot_login(&self, jwt: &Secret, requests: &mut u32) -> Result<String, GitHubError> {
        Ok(format!("{}[bot]", self.app_settings(jwt, requests).await?.slug))
    }

    /// The App's own settings (`GET /app`, with its `jwt`): its slug and the events it
    /// subscribes to.
    pub async fn app_settings(&self, jwt: &Secret, requests: &mut u32) -> Result<AppSettings, GitHubError> {
        let r = self.get(&self.api_url(&["app"]), jwt, None, requests).await?;
        expect_success(&r)?;
        r.json()
    }
}

/// What `GET /app` shows of the App (the fields ghsync reads).
#[derive(Clone, Debug, Deserialize)]
pub struct AppSettings {
    pub slug: String,
    /// The webhook events the App subscribes to.
    #[serde(default)]
    pub events: Vec<String>,
}

/// Installation tokens by installation id (all on the deployment's GitHub, the only one the
/// App's JWT goes to), each in its own slot: runs of one installation wait for one mint and
/// share its token, other installations mint meanwhile.
#[derive(Clone, Default)]
pub(super) struct InstallationTokens(Arc<std::sync::Mutex<HashMap<i64, Slot>>>);

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
    fn forget(&self, installation: i64) {
        self.0.lock().expect("token slots lock").remove(&installation);
    }
}

impl std::fmt::Debug for InstallationTokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstallationTokens([redacted])")
    }
}

impl GitHub {
    /// A token for `installation`: the cached one while it has more than
    /// [`TOKEN_REFRESH_MARGIN`] left, else one minted with the App's JWT (`jwt`, awaited only
    /// then; a refusal of the mint is `refused`'s to name). Runs for one installation wait
    /// for one mint and share its token, as octocrab's own installation client does.
    pub async fn installation_token<E>(
        &self,
        installation: i64,
        jwt: impl Future<Output = Result<Secret, E>>,
        refused: impl FnOnce(GitHubError) -> E,
    ) -> Result<InstallationToken, E> {
        let slot = self.installation_tokens.slot(installation);
        let mut cached = slot.lock().await;
        if let Some(token) = cached.as_ref()
            && token.expires_at > Timestamp::now().plus(TOKEN_REFRESH_MARGIN)
        {
            return Ok(token.clone());
        }
        let jwt = jwt.await?;
        let minted = self.mint_installation_token(&jwt, installation).await.map_err(refused)?;
        tracing::info!(installation, expires_at = %minted.expires_at, "installation token minted");
        *cached = Some(minted.clone());
        Ok(minted)
    }

    /// Forgets `token` of `installation` when GitHub refused it (revoked, or the
    /// installation's permissions changed): the next use mints a new one. True when it was
    /// the cached token.
    pub async fn forget_installation_token(&self, installation: i64, token: &Secret) -> bool {
        let slot = self.installation_tokens.slot(installation);
        let mut cached = slot.lock().await;
        let forget = cached.as_ref().is_some_and(|t| t.token.expose() == token.expose());
        if forget {
            *cached = None;
        }
        forget
    }

    /// Drops the cached token of `installation`: the next use mints (a check must not trust
    /// a token minted before a change of the installation's permissions).
    pub fn forget_cached_token(&self, installation: i64) {
        self.installation_tokens.forget(installation);
    }

    /// Drops every cached token (the App or its key changed).
    pub fn forget_installation_tokens(&self) {
        self.installation_tokens.clear();
    }
}
