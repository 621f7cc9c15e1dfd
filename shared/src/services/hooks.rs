//! Each config's own repository webhook (docs/tenants.md, "Hooks ghsync installs"): what to give GitHub (its URL
//! `/webhooks/github/{config_id}` and its own secret), and, with `GHSYNC_PUBLIC_URL` and a
//! token allowed to manage hooks, installing, repairing and removing it on GitHub.

use secrecy::ExposeSecret;
use uuid::Uuid;

use crate::contract::WebhookSetup;
use crate::domain::GitHubSyncConfig;
use crate::github::GitHubError;
use crate::secrets::Secrets;
use crate::services::{ManageError, Services};

/// What ghsync needs to hand out and install hooks.
#[derive(Clone, Debug, Default)]
pub struct HookSettings {
    /// The deployment's secrets (each config's webhook secret derives from the first
    /// webhook secret).
    pub secrets: Secrets,
    /// Where GitHub reaches ghsync; without it ghsync installs nothing.
    pub public_url: Option<url::Url>,
}

impl HookSettings {
    pub fn new(secrets: Secrets, config: &crate::config::Config) -> Self {
        Self { secrets, public_url: config.public_url.clone() }
    }

    /// The hook's URL: absolute with a public URL, else the path on ghsync's host.
    fn url(&self, config_id: Uuid) -> String {
        let path = format!("/webhooks/github/{config_id}");
        match &self.public_url {
            Some(base) => format!("{}{path}", base.as_str().trim_end_matches('/')),
            None => path,
        }
    }
}

/// Why an App config has no repository webhook.
const APP_NEEDS_NO_HOOK: &str = "this config works through the GitHub App: GitHub sends its deliveries to the App's \
     webhook (/webhooks/github/app), so the repository needs no webhook of its own";

/// What a token lacking the right to manage hooks is told.
const NO_HOOK_PERMISSION: &str = "the token may not manage this repository's webhooks (a classic token needs the \
     admin:repo_hook scope, a fine-grained one Webhooks: read and write): add the webhook by hand with these values";

impl Services {
    /// What to give GitHub for the project's config, with the installed hook's last delivery
    /// when the token can read it.
    pub async fn webhook_setup(
        &self,
        settings: &HookSettings,
        project_id: Uuid,
    ) -> Result<WebhookSetup, ManageError> {
        let config = self.store.get_config(project_id).await?;
        let mut setup = setup_of(settings, &config)?;
        if let Some(id) = config.hook_id {
            let (repo, c) = self.repo_and_connection(&config).await?;
            match c.github.list_hooks(&repo, &c.token).await {
                Ok(hooks) => match hooks.into_iter().find(|h| h.id == id) {
                    Some(hook) => {
                        let missing: Vec<&str> = crate::github::HOOK_EVENTS
                            .into_iter()
                            .filter(|e| !hook.events.iter().any(|h| h == e))
                            .collect();
                        if !missing.is_empty() {
                            // Installed by an older ghsync (issues only): repairing adds the rest.
                            setup.message = Some(format!(
                                "the webhook ghsync installed does not send {}: repair it",
                                missing.join(", ")
                            ));
                        }
                        setup.last_delivery = hook.last_response;
                    }
                    None => {
                        setup.message =
                            Some("the webhook ghsync installed is gone from GitHub: repair it".into())
                    }
                },
                Err(e) => {
                    tracing::info!(error = %crate::telemetry::ErrorChain(&e), "cannot read the webhook's state")
                }
            }
        }
        Ok(setup)
    }

    /// Installs the config's webhook on GitHub, or repairs the one ghsync installed (URL,
    /// secret, events, content type, active). Without the right to manage hooks the refusal
    /// is recorded and the answer says what to add by hand. Needs `GHSYNC_PUBLIC_URL`.
    pub async fn install_hook(
        &self,
        settings: &HookSettings,
        project_id: Uuid,
    ) -> Result<WebhookSetup, ManageError> {
        let config = self.store.get_config(project_id).await?;
        if config.installation_id.is_some() {
            return Err(crate::store::StoreError::StateConflict(APP_NEEDS_NO_HOOK.into()).into());
        }
        if settings.public_url.is_none() {
            return Err(crate::store::StoreError::StateConflict(
                "ghsync does not know the address GitHub reaches it at: set GHSYNC_PUBLIC_URL to let it install \
                 webhooks, or add this one by hand"
                    .into(),
            )
            .into());
        }
        let mut setup = setup_of(settings, &config)?;
        let (repo, c) = self.repo_and_connection(&config).await?;
        let result = async {
            let hooks = c.github.list_hooks(&repo, &c.token).await?;
            // The one ghsync installed, or one already pointing at this config's URL.
            let existing = hooks
                .iter()
                .find(|h| Some(h.id) == config.hook_id)
                .or_else(|| hooks.iter().find(|h| h.config.url.as_deref() == Some(setup.url.as_str())));
            let id = existing.map(|h| h.id);
            c.github.put_hook(&repo, &c.token, id, &setup.url, &setup.secret).await
        }
        .await;
        match result {
            Ok(hook) => {
                self.store.set_hook(project_id, Some(hook.id), None).await?;
                setup.hook_id = Some(hook.id);
                // The last attempt's refusal, if any, no longer holds.
                setup.message = None;
                setup.last_delivery = hook.last_response;
                tracing::info!(repo = %repo, hook_id = hook.id, "repository webhook installed");
            }
            Err(GitHubError::Refused { status: 403 | 404, .. }) => {
                self.store.set_hook(project_id, None, Some(NO_HOOK_PERMISSION)).await?;
                setup.hook_id = None;
                setup.message = Some(NO_HOOK_PERMISSION.into());
            }
            Err(e @ (GitHubError::Refused { .. } | GitHubError::BadCredentials)) => {
                let message = format!("GitHub refused the webhook: {e}");
                self.store.set_hook(project_id, None, Some(&message)).await?;
                setup.message = Some(message);
            }
            Err(e) => return Err(ManageError::unavailable("installing the webhook")(e)),
        }
        Ok(setup)
    }

    /// Starts a new generation of the config's webhook secret, and gives it to the hook
    /// ghsync installed (when it knows its public URL); a hook added by hand needs it by hand,
    /// as the answer's `message` says. The old secret is refused from now on.
    pub async fn rotate_webhook_secret(
        &self,
        settings: &HookSettings,
        project_id: Uuid,
    ) -> Result<WebhookSetup, ManageError> {
        let config = self.store.rotate_webhook_secret(project_id).await?;
        tracing::info!(generation = config.secret_generation, "config webhook secret rotated");
        if config.hook_id.is_some() && settings.public_url.is_some() && config.installation_id.is_none() {
            match self.install_hook(settings, project_id).await {
                Ok(setup) => return Ok(setup),
                // The rotation stands: the installed hook is repaired later.
                Err(e) => {
                    tracing::warn!(error = %crate::telemetry::ErrorChain(&e), "giving the hook its new secret failed");
                    let mut setup = setup_of(settings, &config)?;
                    setup.message = Some(format!(
                        "the hook ghsync installed still has the old secret ({e}): repair it \
                         (POST /api/projects/{project_id}/github-sync/webhook)"
                    ));
                    return Ok(setup);
                }
            }
        }
        setup_of(settings, &config)
    }

    /// Removes the webhook ghsync installed for the project's config (before the config is
    /// deleted or moved to another repository). Best effort: a failure is logged, and the
    /// hook then only delivers to a URL that refuses it.
    pub async fn remove_hook(&self, config: &GitHubSyncConfig) {
        let Some(id) = config.hook_id else { return };
        let removed = async {
            let (repo, c) = self.repo_and_connection(config).await?;
            c.github
                .delete_hook(&repo, &c.token, id)
                .await
                .map_err(ManageError::unavailable("removing the webhook"))
        }
        .await;
        match removed {
            Ok(()) => tracing::info!(hook_id = id, "repository webhook removed"),
            Err(e) => {
                tracing::warn!(hook_id = id, error = %crate::telemetry::ErrorChain(&e), "removing the webhook failed")
            }
        }
    }
}

/// The values to give GitHub for `config`.
fn setup_of(settings: &HookSettings, config: &GitHubSyncConfig) -> Result<WebhookSetup, ManageError> {
    let secrets = settings.secrets.webhook().ok_or_else(|| {
        crate::store::StoreError::StateConflict(
            "no webhook secret is configured (GHSYNC_WEBHOOK_SECRET): every delivery would be refused".into(),
        )
    })?;
    let secret = secrets.for_config(config.id, &config.tenant_key()).current().expose_secret().to_string();
    let message = match (&settings.public_url, config.hook_id, &config.hook_error) {
        _ if config.installation_id.is_some() => Some(APP_NEEDS_NO_HOOK.into()),
        (_, None, _) if config.secret_used_at.is_none() && config.secret_rotated_at.is_some() => {
            Some(format!(
                "the secret was renewed at {}: a webhook added by hand still signs with the old one, which is \
                 refused; give it this secret",
                config.secret_rotated_at.map(|at| at.to_string()).unwrap_or_default()
            ))
        }
        (_, None, Some(error)) => Some(error.clone()),
        (None, _, _) => Some(
            "ghsync does not know the address GitHub reaches it at (GHSYNC_PUBLIC_URL): put it before this path".into(),
        ),
        _ => None,
    };
    Ok(WebhookSetup {
        url: settings.url(config.id),
        secret,
        events: crate::github::HOOK_EVENTS.iter().map(|e| e.to_string()).collect(),
        content_type: "json".into(),
        hook_id: config.hook_id,
        secret_generation: config.secret_generation,
        secret_rotated_at: config.secret_rotated_at,
        message,
        last_delivery: None,
    })
}
