//! GitHub sync configs: one per project.

use tracing::instrument;
use uuid::Uuid;

use super::rows::ConfigRow;
use super::{Store, StoreError, new_id};
use crate::domain::{GitHubSyncConfig, RepoName, RepoOwner, SyncInterval, ValidationError};
use crate::time::Timestamp;

/// A validated config write. Absent fields keep their stored value (or take the default
/// when the config is new); a new config needs `encrypted_pat`.
#[derive(Clone, Debug)]
pub struct ConfigWrite {
    pub repo_owner: RepoOwner,
    pub repo_name: RepoName,
    pub encrypted_pat: Option<Vec<u8>>,
    pub sync_enabled: Option<bool>,
    pub sync_interval: Option<SyncInterval>,
    /// Push local edits to GitHub; absent keeps the stored value (off for a new config).
    pub two_way: Option<bool>,
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

    /// Creates or changes the project's config in one transaction. A new or re-enabled
    /// config, or one pointed at another repository, is due at once.
    #[instrument(skip(self, write), fields(repo = %format_args!("{}/{}", write.repo_owner, write.repo_name)))]
    pub async fn put_config(
        &self,
        project_id: Uuid,
        write: &ConfigWrite,
    ) -> Result<GitHubSyncConfig, StoreError> {
        self.get_project(project_id).await?;
        let now = Timestamp::now().to_sql();
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
        let row: ConfigRow = match existing.map(GitHubSyncConfig::try_from).transpose()? {
            None => {
                let pat = write
                    .encrypted_pat
                    .as_ref()
                    .ok_or_else(|| ValidationError::new("pat", "is required to create a sync config"))?;
                sqlx::query_as(concat!(
                    "INSERT INTO github_sync_config (id, project_id, repo_owner, repo_name, encrypted_pat, \
                     next_sync_at, sync_enabled, sync_interval_seconds, created_at, updated_at, two_way) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $6, $6, $9) RETURNING ",
                    config_columns!()
                ))
                .bind(new_id())
                .bind(project_id.to_string())
                .bind(write.repo_owner.as_str())
                .bind(write.repo_name.as_str())
                .bind(pat.clone())
                .bind(&now)
                .bind(i64::from(write.sync_enabled.unwrap_or(true)))
                .bind(write.sync_interval.unwrap_or(SyncInterval::DEFAULT).seconds())
                .bind(i64::from(write.two_way.unwrap_or(false)))
                .fetch_one(&mut *tx)
                .await?
            }
            Some(old) => {
                let enabled = write.sync_enabled.unwrap_or(old.sync_enabled);
                let two_way = write.two_way.unwrap_or(old.two_way);
                let repo_changed = !old.follows(write.repo_owner.as_str(), write.repo_name.as_str());
                if !two_way || repo_changed {
                    // A one-way config never writes to GitHub, and edits meant for the old
                    // repository's issues are not sent to the new one.
                    sqlx::query("DELETE FROM sync_outbox WHERE project_id = $1")
                        .bind(project_id.to_string())
                        .execute(&mut *tx)
                        .await?;
                }
                let due_now = repo_changed || (enabled && !old.sync_enabled) || write.encrypted_pat.is_some();
                let next_sync_at =
                    if due_now { Some(now.clone()) } else { old.next_sync_at.map(|t| t.to_sql()) };
                if repo_changed {
                    // SPEC.md "Repository switch": the old links end (their tasks stay), so no
                    // full pass looks their numbers up in the new repository.
                    sqlx::query(
                        "UPDATE task_github_metadata SET unlinked_at = $2, updated_at = $2 \
                         WHERE project_id = $1 AND unlinked_at IS NULL",
                    )
                    .bind(project_id.to_string())
                    .bind(&now)
                    .execute(&mut *tx)
                    .await?;
                }
                // Another repository starts from scratch: its own listing and probe. A new
                // PAT was just accepted by GitHub: the last run's error no longer holds.
                sqlx::query_as(concat!(
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
                     hook_id = CASE WHEN $9 = 1 THEN NULL ELSE hook_id END, \
                     hook_error = CASE WHEN $9 = 1 THEN NULL ELSE hook_error END, \
                     two_way = $11 WHERE project_id = $1 RETURNING ",
                    config_columns!()
                ))
                .bind(project_id.to_string())
                .bind(write.repo_owner.as_str())
                .bind(write.repo_name.as_str())
                .bind(write.encrypted_pat.clone().unwrap_or(old.encrypted_pat))
                .bind(i64::from(enabled))
                .bind(write.sync_interval.map_or(old.sync_interval_seconds, SyncInterval::seconds))
                .bind(next_sync_at)
                .bind(&now)
                .bind(i64::from(repo_changed))
                .bind(i64::from(write.encrypted_pat.is_some()))
                .bind(i64::from(two_way))
                .fetch_one(&mut *tx)
                .await?
            }
        };
        tx.commit().await?;
        row.try_into()
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
            "UPDATE github_sync_config SET sync_enabled = $2, updated_at = $3, \
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

    /// Records the repository webhook ghsync installed for the project's config (`hook_id`),
    /// or why it could not (`error`).
    pub async fn set_hook(
        &self,
        project_id: Uuid,
        hook_id: Option<i64>,
        error: Option<&str>,
    ) -> Result<GitHubSyncConfig, StoreError> {
        let row: Option<ConfigRow> = sqlx::query_as(concat!(
            "UPDATE github_sync_config SET hook_id = $2, hook_error = $3, updated_at = $4 \
             WHERE project_id = $1 RETURNING ",
            config_columns!()
        ))
        .bind(project_id.to_string())
        .bind(hook_id)
        .bind(error)
        .bind(Timestamp::now().to_sql())
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(StoreError::NotFound("sync config"))?.try_into()
    }

    /// Removes the project's config (its history goes with it; tasks stay).
    #[instrument(skip(self))]
    pub async fn delete_config(&self, project_id: Uuid) -> Result<(), StoreError> {
        self.get_project(project_id).await?;
        let done = sqlx::query("DELETE FROM github_sync_config WHERE project_id = $1")
            .bind(project_id.to_string())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("sync config"));
        }
        Ok(())
    }
}
