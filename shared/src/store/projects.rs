//! Projects of the board.

use tracing::instrument;
use uuid::Uuid;

use super::rows::ProjectRow;
use super::{Store, StoreError, new_id};
use crate::domain::{Project, validate_project_name};
use crate::time::Timestamp;

impl Store {
    /// Creates a project.
    #[instrument(skip(self))]
    pub async fn create_project(&self, name: &str) -> Result<Project, StoreError> {
        validate_project_name(name)?;
        let now = Timestamp::now().to_sql();
        let row: ProjectRow = sqlx::query_as(
            "INSERT INTO projects (id, name, created_at, updated_at) VALUES ($1, $2, $3, $3) \
             RETURNING id, name, created_at, updated_at",
        )
        .bind(new_id())
        .bind(name.trim())
        .bind(now)
        .fetch_one(&self.pool)
        .await?;
        row.try_into()
    }

    /// Every project, oldest first.
    pub async fn list_projects(&self) -> Result<Vec<Project>, StoreError> {
        let rows: Vec<ProjectRow> =
            sqlx::query_as("SELECT id, name, created_at, updated_at FROM projects ORDER BY created_at, id")
                .fetch_all(&self.pool)
                .await?;
        rows.into_iter().map(Project::try_from).collect()
    }

    /// One project, or `NotFound`.
    pub async fn get_project(&self, id: Uuid) -> Result<Project, StoreError> {
        let row: Option<ProjectRow> =
            sqlx::query_as("SELECT id, name, created_at, updated_at FROM projects WHERE id = $1")
                .bind(id.to_string())
                .fetch_optional(&self.pool)
                .await?;
        row.ok_or(StoreError::NotFound("project"))?.try_into()
    }

    /// Deletes a project; its tasks, config, links, history and conflicts go with it.
    #[instrument(skip(self))]
    pub async fn delete_project(&self, id: Uuid) -> Result<(), StoreError> {
        let done = sqlx::query("DELETE FROM projects WHERE id = $1")
            .bind(id.to_string())
            .execute(&self.pool)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound("project"));
        }
        Ok(())
    }
}
