//! The webhook-delivery log (idempotency on `X-GitHub-Delivery`) and delivery routing.

use sqlx::AnyConnection;
use uuid::Uuid;

use super::rows::uuid;
use super::{Store, StoreError};
use crate::time::Timestamp;

/// How long a delivery id is remembered: GitHub Enterprise lets a delivery be redelivered for
/// 7 days; one more day covers clock skew and a late prune.
pub const DELIVERY_RETENTION: chrono::Duration = chrono::Duration::days(8);

/// Records a delivery id; false when it was recorded before (a redelivery). Inside the
/// delivery's own transaction, so the record and the effects commit together.
pub(crate) async fn record_delivery_in(
    conn: &mut AnyConnection,
    delivery_id: &str,
    event: &str,
    action: Option<&str>,
    repo: Option<&str>,
    outcome: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let inserted = sqlx::query(
        "INSERT INTO webhook_deliveries (delivery_id, event, action, repo_full_name, outcome, received_at) \
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (delivery_id) DO NOTHING",
    )
    .bind(delivery_id)
    .bind(event)
    .bind(action)
    .bind(repo)
    .bind(outcome)
    .bind(now.to_sql())
    .execute(conn)
    .await?;
    Ok(inserted.rows_affected() == 1)
}

/// The projects whose enabled config follows `owner/name` (compared case-insensitively) on
/// the deployment's GitHub (a GitHub Enterprise Server config's repository is another one).
pub(crate) async fn enabled_projects_for_repo_in(
    conn: &mut AnyConnection,
    owner: &str,
    name: &str,
) -> Result<Vec<Uuid>, StoreError> {
    let ids: Vec<String> = sqlx::query_scalar(
        "SELECT project_id FROM github_sync_config \
         WHERE lower(repo_owner) = lower($1) AND lower(repo_name) = lower($2) AND sync_enabled = 1 \
         AND api_url IS NULL \
         ORDER BY project_id",
    )
    .bind(owner)
    .bind(name)
    .fetch_all(conn)
    .await?;
    ids.iter().map(|id| uuid("github_sync_config.project_id", id)).collect()
}

/// The project of config `config_id` when the config is enabled and follows `repo` (names
/// compared as GitHub does), with the config's own API base: where a delivery on that
/// config's own URL may apply.
pub(crate) async fn tenant_project_in(
    conn: &mut AnyConnection,
    config_id: Uuid,
    repo: &crate::domain::RepoRef,
) -> Result<Option<(Uuid, Option<String>)>, StoreError> {
    let row: Option<(String, Option<String>)> = sqlx::query_as(
        "SELECT project_id, api_url FROM github_sync_config WHERE id = $1 \
         AND lower(repo_owner) = lower($2) AND lower(repo_name) = lower($3) AND sync_enabled = 1",
    )
    .bind(config_id.to_string())
    .bind(repo.owner.as_str())
    .bind(repo.name.as_str())
    .fetch_optional(conn)
    .await?;
    row.map(|(id, api_url)| Ok((uuid("github_sync_config.project_id", &id)?, api_url))).transpose()
}

/// The repository `project_id`'s config follows, if it has a config.
pub(crate) async fn followed_repo_in(
    conn: &mut AnyConnection,
    project_id: Uuid,
) -> Result<Option<crate::domain::RepoRef>, StoreError> {
    let row: Option<(String, String)> =
        sqlx::query_as("SELECT repo_owner, repo_name FROM github_sync_config WHERE project_id = $1")
            .bind(project_id.to_string())
            .fetch_optional(conn)
            .await?;
    row.map(|(owner, name)| {
        Ok(crate::domain::RepoRef {
            owner: crate::domain::RepoOwner::parse(owner)?,
            name: crate::domain::RepoName::parse(name)?,
        })
    })
    .transpose()
}

/// Which listing an ambiguous delivery has the next reconcile read again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Reread {
    /// The issues (an issue's snapshot was ambiguous).
    Issues,
    /// The comments (a comment's).
    Comments,
}

/// Has the next reconcile of the project read what changed at `updated_at` again soon (an
/// ambiguous delivery: GitHub decides): due within [`REREAD_WITHIN`], that listing from just
/// before that time, without its probe's shortcut.
pub(crate) async fn reread_soon_in(
    conn: &mut AnyConnection,
    project_id: Uuid,
    what: Reread,
    updated_at: Timestamp,
    now: Timestamp,
) -> Result<(), StoreError> {
    let due = now.plus(REREAD_WITHIN).to_sql();
    let since = updated_at.minus(chrono::Duration::seconds(1)).to_sql();
    let sql = match what {
        Reread::Issues => {
            "UPDATE github_sync_config SET \
             next_sync_at = CASE WHEN next_sync_at IS NULL OR next_sync_at > $2 THEN $2 ELSE next_sync_at END, \
             list_watermark = CASE WHEN list_watermark > $3 THEN $3 ELSE list_watermark END, \
             probe_url = NULL, probe_etag = NULL WHERE project_id = $1"
        }
        Reread::Comments => {
            "UPDATE github_sync_config SET \
             next_sync_at = CASE WHEN next_sync_at IS NULL OR next_sync_at > $2 THEN $2 ELSE next_sync_at END, \
             comments_watermark = CASE WHEN comments_watermark > $3 THEN $3 ELSE comments_watermark END, \
             comments_probe_url = NULL, comments_probe_etag = NULL WHERE project_id = $1"
        }
    };
    sqlx::query(sql).bind(project_id.to_string()).bind(due).bind(since).execute(conn).await?;
    Ok(())
}

/// How soon an ambiguous delivery's issue is read from GitHub.
pub const REREAD_WITHIN: chrono::Duration = chrono::Duration::seconds(30);

impl Store {
    /// Forgets delivery ids received before `now - DELIVERY_RETENTION`; returns how many.
    pub async fn prune_deliveries(&self, now: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM webhook_deliveries WHERE received_at < $1")
            .bind(now.minus(DELIVERY_RETENTION).to_sql())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }

    /// The outcome recorded for a delivery id, if it was seen (tests).
    #[cfg(any(test, feature = "testing"))]
    pub async fn delivery_outcome(&self, delivery_id: &str) -> Result<Option<String>, StoreError> {
        Ok(sqlx::query_scalar("SELECT outcome FROM webhook_deliveries WHERE delivery_id = $1")
            .bind(delivery_id)
            .fetch_optional(&self.pool)
            .await?)
    }
}
