//! The deployment's GitHub App (its id and sealed secrets) and what its installation events
//! do to the configs that work through it: a repository leaving the installation pauses its
//! configs, its return resumes them.

use sqlx::AnyConnection;
use uuid::Uuid;

use super::rows::uuid;
use super::{Store, StoreError};
use crate::domain::RepoRef;
pub use crate::sync::PauseCause;
use crate::time::Timestamp;

/// The stored App: its id and its private key and webhook secret, both sealed.
#[derive(Clone)]
pub struct StoredApp {
    pub app_id: i64,
    pub encrypted_private_key: Vec<u8>,
    pub encrypted_webhook_secret: Vec<u8>,
}

impl std::fmt::Debug for StoredApp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoredApp").field("app_id", &self.app_id).finish_non_exhaustive()
    }
}

/// Which of an installation's configs an event concerns.
#[derive(Clone, Copy, Debug)]
pub enum InstallationScope<'a> {
    /// Every config of the installation (it was deleted, suspended or unsuspended).
    All,
    /// The configs following these repositories (they left or joined the installation).
    Repos(&'a [RepoRef]),
}

impl Store {
    /// The deployment's App, if one is set.
    pub async fn github_app(&self) -> Result<Option<StoredApp>, StoreError> {
        let row: Option<(i64, Vec<u8>, Vec<u8>)> = sqlx::query_as(
            "SELECT app_id, encrypted_private_key, encrypted_webhook_secret FROM github_app WHERE id = 1",
        )
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(app_id, encrypted_private_key, encrypted_webhook_secret)| StoredApp {
            app_id,
            encrypted_private_key,
            encrypted_webhook_secret,
        }))
    }

    /// Sets (or replaces) the deployment's App.
    pub async fn put_github_app(&self, app: &StoredApp) -> Result<(), StoreError> {
        let now = Timestamp::now().to_sql();
        sqlx::query(
            "INSERT INTO github_app (id, app_id, encrypted_private_key, encrypted_webhook_secret, created_at, \
             updated_at) VALUES (1, $1, $2, $3, $4, $4) ON CONFLICT (id) DO UPDATE SET app_id = excluded.app_id, \
             encrypted_private_key = excluded.encrypted_private_key, \
             encrypted_webhook_secret = excluded.encrypted_webhook_secret, updated_at = excluded.updated_at",
        )
        .bind(app.app_id)
        .bind(app.encrypted_private_key.clone())
        .bind(app.encrypted_webhook_secret.clone())
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The repositories the configs of `installation` follow (each once, as stored).
    pub async fn installation_repos(&self, installation: i64) -> Result<Vec<RepoRef>, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT DISTINCT repo_owner, repo_name FROM github_sync_config \
             WHERE installation_id = $1 AND api_url IS NULL ORDER BY repo_owner, repo_name",
        )
        .bind(installation)
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .filter_map(|(owner, name)| RepoRef::parse(&format!("{owner}/{name}")).ok())
            .collect())
    }

    /// Removes the deployment's App; false when none was set. Configs that name an
    /// installation stay, and fail their runs until an App is set again.
    pub async fn delete_github_app(&self) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM github_app WHERE id = 1").execute(&self.pool).await?;
        Ok(done.rows_affected() == 1)
    }
}

/// Pauses the enabled configs of `installation` in `scope`, with `reason` as their
/// `sync_error`, in the caller's transaction; returns their projects.
pub(crate) async fn pause_installation_in(
    conn: &mut AnyConnection,
    installation: i64,
    scope: InstallationScope<'_>,
    cause: PauseCause,
    reason: &str,
    now: Timestamp,
) -> Result<Vec<Uuid>, StoreError> {
    let update = format!(
        "UPDATE github_sync_config SET sync_enabled = 0, paused_by = '{}', sync_error = $3, updated_at = $2 \
         WHERE installation_id = $1 AND api_url IS NULL AND sync_enabled = 1",
        cause.as_str()
    );
    in_scope(conn, installation, scope, &update, Some(reason), now).await
}

/// Turns back on the configs of `installation` in `scope` that its events paused for `cause`
/// (not those a person turned off, nor those paused for another cause), due at once, in the
/// caller's transaction; returns their projects.
pub(crate) async fn resume_installation_in(
    conn: &mut AnyConnection,
    installation: i64,
    scope: InstallationScope<'_>,
    cause: PauseCause,
    now: Timestamp,
) -> Result<Vec<Uuid>, StoreError> {
    let update = format!(
        "UPDATE github_sync_config SET sync_enabled = 1, paused_by = NULL, sync_error = NULL, \
         failing_since = NULL, consecutive_failures = 0, next_sync_at = $2, updated_at = $2 \
         WHERE installation_id = $1 AND api_url IS NULL AND paused_by = '{}'",
        cause.as_str()
    );
    in_scope(conn, installation, scope, &update, None, now).await
}

/// Runs `update` (`$1` the installation, `$2` now, `$3` the `reason` when given) over the
/// configs of `installation` in `scope`, one statement per repository.
async fn in_scope(
    conn: &mut AnyConnection,
    installation: i64,
    scope: InstallationScope<'_>,
    update: &str,
    reason: Option<&str>,
    now: Timestamp,
) -> Result<Vec<Uuid>, StoreError> {
    let now = now.to_sql();
    let repos: Vec<Option<&RepoRef>> = match scope {
        InstallationScope::All => vec![None],
        InstallationScope::Repos(repos) => repos.iter().map(Some).collect(),
    };
    let next = if reason.is_some() { 4 } else { 3 };
    let mut projects = Vec::new();
    for repo in repos {
        let filter = match repo {
            Some(_) => {
                format!(" AND lower(repo_owner) = lower(${next}) AND lower(repo_name) = lower(${})", next + 1)
            }
            None => String::new(),
        };
        let sql = format!("{update}{filter} RETURNING project_id");
        let mut query =
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(installation).bind(&now);
        if let Some(reason) = reason {
            query = query.bind(reason);
        }
        if let Some(repo) = repo {
            query = query.bind(repo.owner.as_str()).bind(repo.name.as_str());
        }
        for id in query.fetch_all(&mut *conn).await? {
            projects.push(uuid("github_sync_config.project_id", &id)?);
        }
    }
    Ok(projects)
}

/// The projects whose enabled config works through `installation` on the deployment's GitHub
/// and follows `repo`: where an App delivery of that repository applies.
pub(crate) async fn installation_projects_in(
    conn: &mut AnyConnection,
    installation: i64,
    repo: &RepoRef,
) -> Result<Vec<Uuid>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT project_id FROM github_sync_config WHERE installation_id = $1 AND api_url IS NULL \
         AND lower(repo_owner) = lower($2) AND lower(repo_name) = lower($3) AND sync_enabled = 1 \
         ORDER BY project_id",
    )
    .bind(installation)
    .bind(repo.owner.as_str())
    .bind(repo.name.as_str())
    .fetch_all(conn)
    .await?;
    ids.iter().map(|id| uuid("github_sync_config.project_id", id)).collect()
}

/// The projects whose configs work through `installation` (any repository, enabled or not).
pub(crate) async fn installation_configs_in(
    conn: &mut AnyConnection,
    installation: i64,
) -> Result<Vec<Uuid>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT project_id FROM github_sync_config WHERE installation_id = $1 ORDER BY project_id",
    )
    .bind(installation)
    .fetch_all(conn)
    .await?;
    ids.iter().map(|id| uuid("github_sync_config.project_id", id)).collect()
}
