//! GitHub sync configs: one per project.

use sqlx::AnyConnection;
use tracing::instrument;
use uuid::Uuid;

use super::rows::ConfigRow;
use super::{Store, StoreError, new_id};
use crate::domain::TenantKey;
use crate::domain::{
    GitHubSyncConfig, RepoName, RepoOwner, RepoRef, SyncInterval, TokenPermissions, ValidationError,
};
use crate::sync::{self, Rearm};
use crate::time::Timestamp;

/// How a config reaches GitHub.
#[derive(Clone, Debug)]
pub enum Credential {
    /// A PAT, sealed.
    Pat(Vec<u8>),
    /// A GitHub App installation.
    Installation(i64),
}

/// What GitHub said of a token when it was checked.
#[derive(Clone, Copy, Debug)]
pub struct TokenChecked {
    pub expires_at: Option<Timestamp>,
    pub permissions: TokenPermissions,
}

/// A validated config write. Absent fields keep their stored value (or take the default
/// when the config is new); a new config needs a `credential`.
#[derive(Clone, Debug)]
pub struct ConfigWrite {
    pub repo_owner: RepoOwner,
    pub repo_name: RepoName,
    pub credential: Option<Credential>,
    pub sync_enabled: Option<bool>,
    pub sync_interval: Option<SyncInterval>,
    /// Push local edits to GitHub; absent keeps the stored value (off for a new config).
    pub two_way: Option<bool>,
    /// The config's own API base: `Some(None)` returns to the deployment's; absent keeps it.
    pub api_url: Option<Option<String>>,
    /// The token was checked just now (it, the repository or what it must do changed).
    pub checked: Option<TokenChecked>,
}

impl ConfigWrite {
    /// A write for `owner/name` that keeps everything else as stored.
    pub fn new(repo_owner: RepoOwner, repo_name: RepoName) -> Self {
        Self {
            repo_owner,
            repo_name,
            credential: None,
            sync_enabled: None,
            sync_interval: None,
            two_way: None,
            api_url: None,
            checked: None,
        }
    }
}

impl Credential {
    /// Which kind it is, for the rules.
    pub fn kind(&self) -> sync::CredentialKind {
        match self {
            Credential::Pat(_) => sync::CredentialKind::Pat,
            Credential::Installation(_) => sync::CredentialKind::Installation,
        }
    }

    /// The columns `encrypted_pat` and `installation_id` (an App config keeps an empty blob).
    fn columns(&self) -> (Vec<u8>, Option<i64>) {
        match self {
            Credential::Pat(blob) => (blob.clone(), None),
            Credential::Installation(id) => (Vec::new(), Some(*id)),
        }
    }
}

impl TokenChecked {
    fn permissions_json(&self) -> String {
        serde_json::to_string(&self.permissions).expect("permissions serialise")
    }
}

impl Store {
    /// The project's config, or `None`.
    pub async fn find_config(&self, project_id: Uuid) -> Result<Option<GitHubSyncConfig>, StoreError> {
        let row: Option<ConfigRow> = sqlx::query_as(concat!(
            "SELECT ",
            config_columns!(),
            " FROM github_sync_config WHERE project_id = $1"
        ))
        .bind(project_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.map(GitHubSyncConfig::try_from).transpose()
    }

    /// The project's config, or `NotFound` (for the project or its config).
    pub async fn get_config(&self, project_id: Uuid) -> Result<GitHubSyncConfig, StoreError> {
        self.get_project(project_id).await?;
        self.find_config(project_id).await?.ok_or(StoreError::NotFound("sync config"))
    }

    /// Creates or changes the project's config in one transaction, as [`sync::switch`]
    /// decides on the locked row; answers the config before and after, and the decision.
    #[instrument(skip(self, write), fields(repo = %format_args!("{}/{}", write.repo_owner, write.repo_name)))]
    pub async fn put_config(&self, project_id: Uuid, write: &ConfigWrite) -> Result<Saved, StoreError> {
        self.get_project(project_id).await?;
        let mut tx = self.begin().await?;
        let existing: Option<ConfigRow> = sqlx::query_as(locking!(
            self.backend,
            "SELECT ",
            config_columns!(),
            " FROM github_sync_config WHERE project_id = $1"
        ))
        .bind(project_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let before = existing.map(GitHubSyncConfig::try_from).transpose()?;
        let repo = RepoRef { owner: write.repo_owner.clone(), name: write.repo_name.clone() };
        let old_repo = before.as_ref().map(GitHubSyncConfig::repo).transpose()?;
        let api_url = match (&write.api_url, &before) {
            (Some(url), _) => url.clone(),
            (None, Some(old)) => old.api_url.clone(),
            (None, None) => None,
        };
        let stored = before.as_ref().zip(old_repo.as_ref()).map(|(old, repo)| sync::Stored::of(old, repo));
        let switch = sync::switch(
            stored.as_ref(),
            &sync::Change {
                place: sync::Place { repo: &repo, api_url: api_url.as_deref() },
                credential: write.credential.as_ref().map(Credential::kind),
                sync_enabled: write.sync_enabled,
                two_way: write.two_way,
            },
        );
        let row = match &before {
            None => insert_config_in(&mut tx, project_id, write, &switch).await?,
            Some(old) => update_config_in(&mut tx, old, write, api_url, &switch).await?,
        };
        tx.commit().await?;
        Ok(Saved { config: row.try_into()?, before, switch })
    }

    /// Turns syncing of the project on or off (a re-enabled config is due at once).
    #[instrument(skip(self))]
    pub async fn set_sync_enabled(
        &self,
        project_id: Uuid,
        enabled: bool,
    ) -> Result<GitHubSyncConfig, StoreError> {
        self.get_project(project_id).await?;
        let row: Option<ConfigRow> = sqlx::query_as(concat!(
            "UPDATE github_sync_config SET sync_enabled = $2, updated_at = $3, paused_by = NULL, \
             next_sync_at = CASE WHEN $2 = 1 AND sync_enabled = 0 THEN $3 ELSE next_sync_at END \
             WHERE project_id = $1 RETURNING ",
            config_columns!()
        ))
        .bind(project_id.to_string())
        .bind(i64::from(enabled))
        .bind(Timestamp::now().to_sql())
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(StoreError::NotFound("sync config"))?.try_into()
    }

    /// Keeps configs within the hosts the operator allows (`allowed`, see
    /// [`crate::github::GitHub::allows`]): an enabled config whose `api_url` is off the list is
    /// turned off with `sync_error` saying why, so nothing is sent to it; one turned off so
    /// whose host is allowed again turns on, due at once. Returns how many of each.
    pub async fn keep_to_allowed_hosts(
        &self,
        allowed: impl Fn(&str) -> bool,
    ) -> Result<(usize, usize), StoreError> {
        let rows: Vec<(String, String, i64, i64)> = sqlx::query_as(
            "SELECT project_id, api_url, sync_enabled, host_paused FROM github_sync_config \
             WHERE api_url IS NOT NULL AND (sync_enabled = 1 OR host_paused = 1)",
        )
        .fetch_all(&self.pool)
        .await?;
        let now = Timestamp::now().to_sql();
        let (mut paused, mut resumed) = (0, 0);
        for (project_id, api_url, enabled, host_paused) in rows {
            if enabled == 1 && !allowed(&api_url) {
                let reason = format!(
                    "paused: the GitHub API {api_url} is not among the hosts this deployment allows \
                     (GHSYNC_GITHUB_HOSTS, set by its operator); nothing is sent there. Ask the operator to \
                     allow it, or move the config to an allowed host"
                );
                let done = sqlx::query(
                    "UPDATE github_sync_config SET sync_enabled = 0, host_paused = 1, sync_error = $3, \
                     updated_at = $2 WHERE project_id = $1 AND api_url = $4 AND sync_enabled = 1",
                )
                .bind(&project_id)
                .bind(&now)
                .bind(reason)
                .bind(&api_url)
                .execute(&self.pool)
                .await?;
                paused += done.rows_affected() as usize;
            } else if host_paused == 1 && allowed(&api_url) {
                let done = sqlx::query(
                    "UPDATE github_sync_config SET sync_enabled = 1, host_paused = 0, sync_error = NULL, \
                     next_sync_at = $2, updated_at = $2 WHERE project_id = $1 AND api_url = $3 AND host_paused = 1",
                )
                .bind(&project_id)
                .bind(&now)
                .bind(&api_url)
                .execute(&self.pool)
                .await?;
                resumed += done.rows_affected() as usize;
            }
        }
        Ok((paused, resumed))
    }

    /// Starts a new generation of the project's webhook secret (docs/trust.md): from now on
    /// only the new secret verifies on the config's own URL.
    pub async fn rotate_webhook_secret(&self, project_id: Uuid) -> Result<GitHubSyncConfig, StoreError> {
        // The generation number only needs to grow; the salt makes the secret new.
        let salt = TenantKey::after(0).salt;
        let row: Option<ConfigRow> = sqlx::query_as(concat!(
            "UPDATE github_sync_config SET secret_generation = secret_generation + 1, secret_salt = $2, \
             secret_rotated_at = $3, secret_used_at = NULL, updated_at = $3 WHERE project_id = $1 RETURNING ",
            config_columns!()
        ))
        .bind(project_id.to_string())
        .bind(salt)
        .bind(Timestamp::now().to_sql())
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(StoreError::NotFound("sync config"))?.try_into()
    }

    /// Which secret config `config_id`'s own webhook takes now, and whether a delivery has
    /// verified with it yet; `None`: no such config.
    pub async fn tenant_key(&self, config_id: Uuid) -> Result<Option<(TenantKey, bool)>, StoreError> {
        let row: Option<(i64, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT secret_generation, secret_salt, secret_used_at FROM github_sync_config WHERE id = $1",
        )
        .bind(config_id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(generation, salt, used)| (TenantKey { generation, salt }, used.is_some())))
    }

    /// Records that a delivery verified with `generation` of config `config_id`'s secret
    /// (once per generation: the webhook panel stops asking for the hook to be updated).
    pub async fn note_secret_used(&self, config_id: Uuid, generation: i64) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE github_sync_config SET secret_used_at = $3 \
             WHERE id = $1 AND secret_generation = $2 AND secret_used_at IS NULL",
        )
        .bind(config_id.to_string())
        .bind(generation)
        .bind(Timestamp::now().to_sql())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records the repository webhook ghsync installed for the project's config (`hook_id`),
    /// or why it could not (`error`).
    pub async fn set_hook(
        &self,
        project_id: Uuid,
        hook_id: Option<i64>,
        error: Option<&str>,
    ) -> Result<GitHubSyncConfig, StoreError> {
        let row: Option<ConfigRow> = sqlx::query_as(concat!(
            "UPDATE github_sync_config SET hook_id = $2, hook_error = $3, updated_at = $4, \
             hook_events = CASE WHEN $2 IS NULL THEN NULL ELSE $5 END WHERE project_id = $1 RETURNING ",
            config_columns!()
        ))
        .bind(project_id.to_string())
        .bind(hook_id)
        .bind(error)
        .bind(Timestamp::now().to_sql())
        .bind(crate::github::HOOK_EVENTS.join(","))
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(StoreError::NotFound("sync config"))?.try_into()
    }

    /// Records that hook `hook_id` now sends every event ghsync subscribes to (only while it
    /// is still the project's hook).
    pub async fn hook_events_given(&self, project_id: Uuid, hook_id: i64) -> Result<(), StoreError> {
        sqlx::query("UPDATE github_sync_config SET hook_events = $3 WHERE project_id = $1 AND hook_id = $2")
            .bind(project_id.to_string())
            .bind(hook_id)
            .bind(crate::github::HOOK_EVENTS.join(","))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Records when the project's PAT expires, as GitHub last said.
    /// Only while the config still holds the PAT (`encrypted_pat`) GitHub spoke of: a run
    /// that used a PAT replaced meanwhile does not give the new one the old one's expiry.
    pub async fn set_token_expiry(
        &self,
        project_id: Uuid,
        encrypted_pat: &[u8],
        expires_at: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE github_sync_config SET token_expires_at = $2 \
             WHERE project_id = $1 AND installation_id IS NULL AND encrypted_pat = $3",
        )
        .bind(project_id.to_string())
        .bind(expires_at.map(Timestamp::to_sql))
        .bind(encrypted_pat.to_vec())
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Removes the project's config (its history goes with it; tasks stay, and their waiting
    /// edits end with the reason on each).
    #[instrument(skip(self))]
    pub async fn delete_config(&self, project_id: Uuid) -> Result<(), StoreError> {
        self.get_project(project_id).await?;
        let mut tx = self.begin().await?;
        let done = sqlx::query("DELETE FROM github_sync_config WHERE project_id = $1")
            .bind(project_id.to_string())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("sync config"));
        }
        // Nothing can reach GitHub without a config: waiting edits end, each task saying so.
        let reason = "not sent to GitHub: the sync config was removed before this edit was pushed";
        super::end_entries_in(&mut tx, project_id, reason, Timestamp::now()).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// A save's result: the config as stored now, as it was before (none: created), and what
/// the save decided ([`sync::switch`]).
#[derive(Clone, Debug)]
pub struct Saved {
    pub config: GitHubSyncConfig,
    pub before: Option<GitHubSyncConfig>,
    pub switch: sync::Switch,
}

/// A new config (a credential is required).
async fn insert_config_in(
    tx: &mut AnyConnection,
    project_id: Uuid,
    write: &ConfigWrite,
    switch: &sync::Switch,
) -> Result<ConfigRow, StoreError> {
    let (pat, installation_id) = write
        .credential
        .as_ref()
        .ok_or_else(|| {
            ValidationError::new("pat", "a PAT or an installation_id is required to create a sync config")
        })?
        .columns();
    let now = Timestamp::now().to_sql();
    // A new config's secret is of the current derivation (docs/tenants.md).
    let first = TenantKey::after(0);
    Ok(sqlx::query_as(concat!(
        "INSERT INTO github_sync_config (id, project_id, repo_owner, repo_name, encrypted_pat, \
         next_sync_at, sync_enabled, sync_interval_seconds, created_at, updated_at, two_way, \
         installation_id, api_url, token_expires_at, token_permissions, secret_generation, \
         secret_salt) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6, $6, $9, $10, $11, $12, $13, $14, $15) \
         RETURNING ",
        config_columns!()
    ))
    .bind(new_id())
    .bind(project_id.to_string())
    .bind(write.repo_owner.as_str())
    .bind(write.repo_name.as_str())
    .bind(pat)
    .bind(&now)
    .bind(i64::from(switch.enabled))
    .bind(write.sync_interval.unwrap_or(SyncInterval::DEFAULT).seconds())
    .bind(i64::from(switch.two_way))
    .bind(installation_id)
    .bind(write.api_url.clone().flatten())
    .bind(write.checked.and_then(|c| c.expires_at).map(Timestamp::to_sql))
    .bind(write.checked.map(|c| c.permissions_json()))
    .bind(first.generation)
    .bind(first.salt)
    .fetch_one(&mut *tx)
    .await?)
}

/// A change of the config `old`, carrying out `switch` (the row is locked by the caller).
async fn update_config_in(
    tx: &mut AnyConnection,
    old: &GitHubSyncConfig,
    write: &ConfigWrite,
    api_url: Option<String>,
    switch: &sync::Switch,
) -> Result<ConfigRow, StoreError> {
    let project_id = old.project_id;
    let at = Timestamp::now();
    let now = at.to_sql();
    match switch.outbox {
        sync::OutboxOnSave::End => {
            // Edits meant for the old repository's issues are not sent to the new one; each
            // task says why its edit did not go (a retry sends it once the task is linked again).
            let reason = format!(
                "not sent to GitHub: the sync config moved from {}/{} to {}/{} before this edit was \
                 pushed; retry the push once the task is linked again",
                old.repo_owner, old.repo_name, write.repo_owner, write.repo_name
            );
            super::end_entries_in(tx, project_id, &reason, at).await?;
        }
        // A one-way config never writes to GitHub: waiting edits wait for two-way.
        sync::OutboxOnSave::ParkOneWay => {
            super::park_one_way_in(tx, project_id).await?;
        }
        sync::OutboxOnSave::Rearm(cause) => {
            super::rearm_in(tx, project_id, cause, at).await?;
        }
        sync::OutboxOnSave::Keep => {}
    }
    if switch.rearm_refused {
        // GitHub accepted the new credential just now: refused edits go again.
        super::rearm_in(tx, project_id, Rearm::CredentialSaved, at).await?;
    }
    let next_sync_at = if switch.due_now { Some(now.clone()) } else { old.next_sync_at.map(|t| t.to_sql()) };
    if switch.moved {
        // docs/sync-rules.md, "Repository switch": the old links end (their tasks stay), so no
        // full pass looks their numbers up in the new repository.
        sqlx::query(
            "UPDATE task_github_metadata SET unlinked_at = $2, updated_at = $2 \
             WHERE project_id = $1 AND unlinked_at IS NULL",
        )
        .bind(project_id.to_string())
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        // Its numbers meant the old repository's pull requests and gone issues, and its
        // choices the old repository's labels and users.
        for table in ["not_board_issues", "repository_choices"] {
            // Only the table's name is formatted in; the value is bound.
            let sql = format!("DELETE FROM {table} WHERE project_id = $1");
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(project_id.to_string()).execute(&mut *tx).await?;
        }
    }
    // Another repository starts from scratch: its own listing, probe and webhook secret (the
    // old one's holders, that repository's admins, can no longer sign for this config), and
    // the claim of a run still syncing the old one ends, so none of its checkpoints lands in
    // the new repository's state. A
    // new credential was just accepted by GitHub: the last run's error no longer holds, and
    // a pause for a repository gone from the App's installation ends with it.
    let next_key = TenantKey::after(old.secret_generation);
    let (pat, installation_id) = match &write.credential {
        Some(credential) => credential.columns(),
        None => (old.encrypted_pat.clone(), old.installation_id),
    };
    let (expires_at, permissions) = match write.checked {
        Some(checked) => (checked.expires_at, Some(checked.permissions_json())),
        None => (
            old.token_expires_at,
            old.token_permissions.map(|p| serde_json::to_string(&p).expect("permissions serialise")),
        ),
    };
    Ok(sqlx::query_as(concat!(
        "UPDATE github_sync_config SET repo_owner = $2, repo_name = $3, encrypted_pat = $4, \
         sync_enabled = $5, sync_interval_seconds = $6, next_sync_at = $7, updated_at = $8, \
         sync_error = CASE WHEN $10 = 1 THEN NULL ELSE sync_error END, \
         consecutive_failures = CASE WHEN $10 = 1 THEN 0 ELSE consecutive_failures END, \
         list_watermark = CASE WHEN $9 = 1 THEN NULL ELSE list_watermark END, \
         probe_url = CASE WHEN $9 = 1 THEN NULL ELSE probe_url END, \
         probe_etag = CASE WHEN $9 = 1 THEN NULL ELSE probe_etag END, \
         last_full_pass_at = CASE WHEN $9 = 1 THEN NULL ELSE last_full_pass_at END, \
         full_pass_started_at = CASE WHEN $9 = 1 THEN NULL ELSE full_pass_started_at END, \
         full_pass_listed = CASE WHEN $9 = 1 THEN 0 ELSE full_pass_listed END, \
         comments_watermark = CASE WHEN $9 = 1 THEN NULL ELSE comments_watermark END, \
         comments_probe_url = CASE WHEN $9 = 1 THEN NULL ELSE comments_probe_url END, \
         comments_probe_etag = CASE WHEN $9 = 1 THEN NULL ELSE comments_probe_etag END, \
         comments_pass_listed = CASE WHEN $9 = 1 THEN 0 ELSE comments_pass_listed END, \
         hook_id = CASE WHEN $9 = 1 THEN NULL ELSE hook_id END, \
         hook_error = CASE WHEN $9 = 1 THEN NULL ELSE hook_error END, \
         paused_by = CASE WHEN $10 = 1 OR $16 = 1 THEN NULL ELSE paused_by END, \
         two_way = $11, installation_id = $12, api_url = $13, token_expires_at = $14, \
         token_permissions = $15, \
         secret_generation = CASE WHEN $9 = 1 THEN $17 ELSE secret_generation END, \
         secret_salt = CASE WHEN $9 = 1 THEN $18 ELSE secret_salt END, \
         secret_rotated_at = CASE WHEN $9 = 1 THEN $8 ELSE secret_rotated_at END, \
         secret_used_at = CASE WHEN $9 = 1 THEN NULL ELSE secret_used_at END, \
         host_paused = CASE WHEN $9 = 1 THEN 0 ELSE host_paused END, \
         lease_token = CASE WHEN $9 = 1 THEN NULL ELSE lease_token END, \
         lease_until = CASE WHEN $9 = 1 THEN NULL ELSE lease_until END \
         WHERE project_id = $1 RETURNING ",
        config_columns!()
    ))
    .bind(project_id.to_string())
    .bind(write.repo_owner.as_str())
    .bind(write.repo_name.as_str())
    .bind(pat)
    .bind(i64::from(switch.enabled))
    .bind(write.sync_interval.map_or(old.sync_interval_seconds, SyncInterval::seconds))
    .bind(next_sync_at)
    .bind(&now)
    .bind(i64::from(switch.moved))
    .bind(i64::from(switch.credential_saved))
    .bind(i64::from(switch.two_way))
    .bind(installation_id)
    .bind(api_url)
    .bind(expires_at.map(Timestamp::to_sql))
    .bind(permissions)
    .bind(i64::from(switch.person_decides))
    .bind(next_key.generation)
    .bind(next_key.salt)
    .fetch_one(&mut *tx)
    .await?)
}
