//! Conflicts: listing them and carrying out a person's resolution.

use tracing::instrument;
use uuid::Uuid;

use super::rows::{ConflictRow, parse};
use super::{Store, StoreError};
use crate::domain::{ConflictResolution, ConflictStatus, Content, Resolution};
use crate::paging::PageRequest;
use crate::sync::{Resolving, resolve};
use crate::time::Timestamp;

#[derive(sqlx::FromRow)]
struct LockedLink {
    remote_state: String,
    synced_state: String,
    title: String,
    description: Option<String>,
    status: String,
    milestone_number: Option<i64>,
    milestone_title: Option<String>,
}

impl Store {
    /// A project's conflicts, newest first; `status` keeps only pending or only resolved ones.
    pub async fn list_conflicts(
        &self,
        project_id: Uuid,
        status: Option<ConflictStatus>,
    ) -> Result<Vec<ConflictResolution>, StoreError> {
        self.list_conflicts_page(project_id, status, &PageRequest::everything()).await
    }

    /// A page of a project's conflicts, newest first; `status` keeps only pending or only
    /// resolved ones. Up to [`PageRequest::fetch`] rows after the request's cursor.
    pub async fn list_conflicts_page(
        &self,
        project_id: Uuid,
        status: Option<ConflictStatus>,
        request: &PageRequest,
    ) -> Result<Vec<ConflictResolution>, StoreError> {
        self.get_project(project_id).await?;
        let filter = status.map_or("all", ConflictStatus::as_str);
        let rows: Vec<ConflictRow> = sqlx::query_as(concat!(
            "SELECT ",
            conflict_columns!(),
            " FROM conflict_resolution c JOIN tasks t ON t.id = c.task_id \
             WHERE t.project_id = $1 AND ($2 = 'all' \
               OR ($2 = 'pending' AND c.resolved_at IS NULL) \
               OR ($2 = 'resolved' AND c.resolved_at IS NOT NULL)) \
             AND ($3 = '' OR c.detected_at < $3 OR (c.detected_at = $3 AND c.id > $4)) \
             ORDER BY c.detected_at DESC, c.id LIMIT $5"
        ))
        .bind(project_id.to_string())
        .bind(filter)
        .bind(request.after.map(|c| c.at.to_sql()).unwrap_or_default())
        .bind(request.after.map(|c| c.id.to_string()).unwrap_or_default())
        .bind(request.fetch())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(ConflictResolution::try_from).collect()
    }

    /// One conflict, or `NotFound`.
    pub async fn get_conflict(&self, id: Uuid) -> Result<ConflictResolution, StoreError> {
        let row: Option<ConflictRow> = sqlx::query_as(concat!(
            "SELECT ",
            conflict_columns!(),
            " FROM conflict_resolution c WHERE c.id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&self.pool)
        .await?;
        row.ok_or(StoreError::NotFound("conflict"))?.try_into()
    }

    /// Carries out a person's resolution of a pending conflict in one transaction, as
    /// [`crate::sync::resolve`] decides it, and marks the conflict and its link resolved.
    /// Resolving a resolved conflict is a `StateConflict`.
    #[instrument(skip(self, resolution), fields(action = %resolution.action()))]
    pub async fn resolve_conflict(
        &self,
        id: Uuid,
        resolution: &Resolution,
    ) -> Result<ConflictResolution, StoreError> {
        let now = Timestamp::now().to_sql();
        let mut tx = self.begin().await?;
        let row: Option<ConflictRow> = sqlx::query_as(locking!(
            self.backend,
            "SELECT ",
            conflict_columns!(),
            " FROM conflict_resolution c WHERE c.id = $1"
        ))
        .bind(id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let conflict: ConflictResolution = row.ok_or(StoreError::NotFound("conflict"))?.try_into()?;
        if conflict.resolved_at.is_some() {
            return Err(StoreError::StateConflict(format!(
                "conflict {id} is already resolved ({})",
                conflict.resolution_action.map_or("?", |a| a.as_str())
            )));
        }
        let link: LockedLink = sqlx::query_as(locking!(
            self.backend,
            "SELECT m.remote_state, m.synced_state, t.title, t.description, t.status, t.milestone_number, \
             t.milestone_title \
             FROM task_github_metadata m JOIN tasks t ON t.id = m.task_id WHERE m.id = $1"
        ))
        .bind(conflict.metadata_id.to_string())
        .fetch_one(&mut *tx)
        .await?;

        let local = Content {
            title: link.title,
            description: link.description,
            milestone: super::rows::milestone(link.milestone_number, link.milestone_title),
        };
        // A merge that names no milestone keeps the task's; one named by number takes its title
        // from either side of the conflict, else from the repository's milestones.
        let resolution = match resolution {
            Resolution::Merge(merged) => {
                let mut merged = merged.clone();
                merged.content.milestone = match (&merged.content.milestone, merged.milestone_named) {
                    (_, false) => local.milestone.clone(),
                    (None, true) => None,
                    (Some(named), true) => {
                        let sides = [
                            local.milestone.as_ref(),
                            conflict.remote_content_snapshot.content.milestone.as_ref(),
                        ];
                        let listed = super::fields::listed_milestones_in(&mut tx, conflict.task_id).await?;
                        Some(super::fields::milestone_of(
                            named.number,
                            &sides,
                            listed.as_deref(),
                            "merged_content",
                        )?)
                    }
                };
                Resolution::Merge(merged)
            }
            other => other.clone(),
        };
        let resolved = resolve(
            &Resolving {
                local: &local,
                local_status: parse("tasks.status", &link.status)?,
                remote: &conflict.remote_content_snapshot.content,
                synced_state: parse("task_github_metadata.synced_state", &link.synced_state)?,
                remote_state: parse("task_github_metadata.remote_state", &link.remote_state)?,
            },
            &resolution,
        );

        sqlx::query(
            "UPDATE tasks SET title = $2, description = $3, status = $4, updated_at = $5, milestone_number = $6, \
             milestone_title = $7 WHERE id = $1",
        )
        .bind(conflict.task_id.to_string())
        .bind(&resolved.content.title)
        .bind(&resolved.content.description)
        .bind(resolved.status.as_str())
        .bind(&now)
        .bind(resolved.content.milestone.as_ref().map(|m| m.number))
        .bind(resolved.content.milestone.as_ref().map(|m| m.title.as_str()))
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE task_github_metadata SET last_synced_content = $2, synced_state = $3, \
             sync_conflict_status = 'resolved', last_synced_at = $4, updated_at = $4 WHERE id = $1",
        )
        .bind(conflict.metadata_id.to_string())
        .bind(resolved.base.to_json())
        .bind(resolved.synced_state.as_str())
        .bind(&now)
        .execute(&mut *tx)
        .await?;
        let merged = match resolution {
            Resolution::Merge(ref m) => Some(m.to_json()),
            _ => None,
        };
        let row: ConflictRow = sqlx::query_as(
            "UPDATE conflict_resolution SET resolved_at = $2, resolution_action = $3, merged_content = $4 \
             WHERE id = $1 RETURNING id, task_id, metadata_id, detected_at, resolved_at, \
             resolution_action, local_content_snapshot, remote_content_snapshot, merged_content",
        )
        .bind(id.to_string())
        .bind(&now)
        .bind(resolution.action().as_str())
        .bind(merged)
        .fetch_one(&mut *tx)
        .await?;
        if resolved.differs_from_github() {
            // Two-way: what the task holds and GitHub does not (the chosen content, a column
            // only the board changed) goes to GitHub, so both sides agree.
            super::outbox::queue_push_in(&mut tx, conflict.task_id, Timestamp::now()).await?;
        }
        tx.commit().await?;
        row.try_into()
    }
}
