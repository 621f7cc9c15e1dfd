//! Sync history: one row per sync run of a config.

use tracing::instrument;
use uuid::Uuid;

use super::rows::HistoryRow;
use super::{Store, StoreError, new_id};
use crate::domain::{SyncCounts, SyncHistory, SyncHistorySummary, SyncStatus, ValidationError};
use crate::paging::PageRequest;
use crate::time::Timestamp;

/// How many runs the summary lists.
pub const SUMMARY_RUNS: i64 = 100;

#[derive(sqlx::FromRow)]
struct Totals {
    imported: i64,
    conflicts: i64,
    avg_duration: f64,
    finished: i64,
    succeeded: i64,
}

impl Store {
    /// Records the start of a run (`in_progress`).
    #[instrument(skip(self))]
    pub async fn start_sync(
        &self,
        project_id: Uuid,
        sync_config_id: Uuid,
        started_at: Timestamp,
    ) -> Result<SyncHistory, StoreError> {
        let mut conn = self.pool.acquire().await?;
        insert_run_in(&mut conn, project_id, &sync_config_id.to_string(), started_at).await
    }

    /// One run, or `NotFound`.
    pub async fn get_run(&self, id: Uuid) -> Result<SyncHistory, StoreError> {
        let row: Option<HistoryRow> =
            sqlx::query_as(concat!("SELECT ", history_columns!(), " FROM sync_history WHERE id = $1"))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.ok_or(StoreError::NotFound("sync history row"))?.try_into()
    }

    /// Records how a run ended. `status` is `success` (no error message) or `failure`
    /// (with one); counts are `>= 0`. A run can be completed once.
    #[instrument(skip(self, counts, error_message))]
    pub async fn complete_sync(
        &self,
        id: Uuid,
        status: SyncStatus,
        counts: &SyncCounts,
        error_message: Option<&str>,
        completed_at: Timestamp,
    ) -> Result<SyncHistory, StoreError> {
        validate_completion(status, counts, error_message)?;
        let current: HistoryRow =
            sqlx::query_as(concat!("SELECT ", history_columns!(), " FROM sync_history WHERE id = $1"))
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?
                .ok_or(StoreError::NotFound("sync history row"))?;
        let current: SyncHistory = current.try_into()?;
        let duration_ms = completed_at.millis_since(current.started_at);
        let row: Option<HistoryRow> = sqlx::query_as(concat!(
            "UPDATE sync_history SET completed_at = $2, duration_ms = $3, status = $4, \
             issues_fetched = $5, tasks_created = $6, tasks_updated = $7, conflicts_detected = $8, \
             error_message = $9, issues_skipped = $10, pages_fetched = $11, complete = $12, \
             comments_fetched = $13, comments_created = $14, comments_updated = $15, comments_deleted = $16 \
             WHERE id = $1 AND status = 'in_progress' RETURNING ",
            history_columns!()
        ))
        .bind(id.to_string())
        .bind(completed_at.to_sql())
        .bind(duration_ms)
        .bind(status.as_str())
        .bind(counts.issues_fetched)
        .bind(counts.tasks_created)
        .bind(counts.tasks_updated)
        .bind(counts.conflicts_detected)
        .bind(error_message)
        .bind(counts.issues_skipped)
        .bind(counts.pages_fetched)
        .bind(i64::from(!counts.cut_short))
        .bind(counts.comments.fetched)
        .bind(counts.comments.created)
        .bind(counts.comments.updated)
        .bind(counts.comments.deleted)
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or_else(|| StoreError::StateConflict(format!("sync run {id} is already completed")))?
            .try_into()
    }

    /// The newest `limit` runs of a project.
    pub async fn list_history(&self, project_id: Uuid, limit: i64) -> Result<Vec<SyncHistory>, StoreError> {
        let limit = usize::try_from(limit).unwrap_or(0);
        let mut runs = self.runs_after(project_id, &PageRequest { limit, after: None }).await?;
        runs.truncate(limit);
        Ok(runs)
    }

    /// A page of a project's runs, newest first: up to [`PageRequest::fetch`] rows after the
    /// request's cursor.
    pub async fn list_history_page(
        &self,
        project_id: Uuid,
        request: &PageRequest,
    ) -> Result<Vec<SyncHistory>, StoreError> {
        self.get_project(project_id).await?;
        self.runs_after(project_id, request).await
    }

    /// Up to [`PageRequest::fetch`] runs of a project after the request's cursor, newest first.
    async fn runs_after(
        &self,
        project_id: Uuid,
        request: &PageRequest,
    ) -> Result<Vec<SyncHistory>, StoreError> {
        let rows: Vec<HistoryRow> = sqlx::query_as(concat!(
            "SELECT ",
            history_columns!(),
            " FROM sync_history WHERE project_id = $1 \
             AND ($2 = '' OR started_at < $2 OR (started_at = $2 AND id > $3)) \
             ORDER BY started_at DESC, id LIMIT $4"
        ))
        .bind(project_id.to_string())
        .bind(request.after.map(|c| c.at.to_sql()).unwrap_or_default())
        .bind(request.after.map(|c| c.id.to_string()).unwrap_or_default())
        .bind(request.fetch())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(SyncHistory::try_from).collect()
    }

    /// The history summary (docs/sync-rules.md, "History"): the last 100 runs, and figures over the kept history
    /// (average duration and success rate over finished runs).
    pub async fn history_summary(&self, project_id: Uuid) -> Result<SyncHistorySummary, StoreError> {
        self.get_project(project_id).await?;
        let last_100_syncs = self.list_history(project_id, SUMMARY_RUNS).await?;
        let t: Totals = sqlx::query_as(
            "SELECT CAST(COALESCE(SUM(tasks_created), 0) AS BIGINT) AS imported, \
             CAST(COALESCE(SUM(conflicts_detected), 0) AS BIGINT) AS conflicts, \
             CAST(COALESCE(AVG(duration_ms), 0) AS DOUBLE PRECISION) AS avg_duration, \
             CAST(COUNT(completed_at) AS BIGINT) AS finished, \
             CAST(COALESCE(SUM(CASE WHEN status = 'success' THEN 1 ELSE 0 END), 0) AS BIGINT) AS succeeded \
             FROM sync_history WHERE project_id = $1",
        )
        .bind(project_id.to_string())
        .fetch_one(&self.pool)
        .await?;
        let success_rate = if t.finished == 0 { 0.0 } else { 100.0 * t.succeeded as f64 / t.finished as f64 };
        Ok(SyncHistorySummary {
            last_100_syncs,
            total_issues_imported: t.imported,
            total_conflicts: t.conflicts,
            avg_duration_ms: t.avg_duration,
            success_rate,
        })
    }
}

/// The rules for a finished run (docs/sync-rules.md, "History").
fn validate_completion(
    status: SyncStatus,
    counts: &SyncCounts,
    error_message: Option<&str>,
) -> Result<(), ValidationError> {
    counts.validate()?;
    match (status, error_message) {
        (SyncStatus::InProgress, _) => {
            Err(ValidationError::new("status", "a completed run is success or failure, not in_progress"))
        }
        // A successful run's message only names the issues it skipped.
        (SyncStatus::Success, Some(_)) if counts.issues_skipped == 0 => Err(ValidationError::new(
            "error_message",
            "must be absent when the run succeeded (unless it names skipped issues)",
        )),
        (SyncStatus::Failure, None) => {
            Err(ValidationError::new("error_message", "is required when the run failed"))
        }
        _ => Ok(()),
    }
}

/// Inserts a run's history row (`in_progress`) on the caller's connection.
pub(crate) async fn insert_run_in(
    conn: &mut sqlx::AnyConnection,
    project_id: Uuid,
    sync_config_id: &str,
    started_at: Timestamp,
) -> Result<SyncHistory, StoreError> {
    let row: HistoryRow = sqlx::query_as(concat!(
        "INSERT INTO sync_history (id, project_id, sync_config_id, started_at, status) \
         VALUES ($1, $2, $3, $4, 'in_progress') RETURNING ",
        history_columns!()
    ))
    .bind(new_id())
    .bind(project_id.to_string())
    .bind(sync_config_id)
    .bind(started_at.to_sql())
    .fetch_one(conn)
    .await?;
    row.try_into()
}
