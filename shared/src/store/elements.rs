//! The record of a push's element writes (docs/fields.md, "Pushed as elements"): the claim
//! checked to outlast them before they go out, and what GitHub took recorded under the same
//! fence, the base moving by exactly those elements.

use super::push::{PushJob, fenced_in, read_job_in, write_fence_in};
use super::{Store, StoreError};
use crate::sync::Fence;
use crate::sync::fields::{self, Elements, Sets};
use crate::time::Timestamp;

impl Store {
    /// Whether `job`'s claim still holds its entry and outlasts element writes that may take
    /// `write_takes` (checked before they go out, as before a write of the content).
    pub async fn hold_for_elements(
        &self,
        job: &PushJob,
        write_takes: chrono::Duration,
    ) -> Result<Fence, StoreError> {
        let mut tx = self.begin().await?;
        let fence = write_fence_in(&mut tx, self.backend, job, Timestamp::now(), write_takes).await?;
        tx.commit().await?;
        Ok(fence)
    }

    /// Records the element writes GitHub took for `job` (its claim still holding): the base
    /// moves by them ([`fields::moved_base`]). Returns the entry as it then stands; `None`
    /// when the claim was lost (nothing recorded).
    pub async fn record_elements(
        &self,
        job: &PushJob,
        done: &Elements,
    ) -> Result<Option<PushJob>, StoreError> {
        super::retry_races(|| async {
            let mut tx = self.begin().await?;
            if fenced_in(&mut tx, self.backend, job).await?.is_none() {
                return Ok(None);
            }
            let row: Option<(String, String, String, String)> = sqlx::query_as(
                "SELECT m.labels, m.assignees, t.labels, t.assignees FROM task_github_metadata m \
                 JOIN tasks t ON t.id = m.task_id WHERE m.task_id = $1",
            )
            .bind(job.task_id.to_string())
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((base_labels, base_assignees, labels, assignees)) = row {
                let base = Sets::of(&super::rows::extras(Some(&base_labels), Some(&base_assignees), None)?);
                let local = Sets::of(&super::rows::extras(Some(&labels), Some(&assignees), None)?);
                let moved = fields::moved_base(&base, done, &local);
                sqlx::query("UPDATE task_github_metadata SET labels = $2, assignees = $3 WHERE task_id = $1")
                    .bind(job.task_id.to_string())
                    .bind(serde_json::to_string(&moved.labels).expect("labels serialise"))
                    .bind(serde_json::to_string(&moved.assignees).expect("logins serialise"))
                    .execute(&mut *tx)
                    .await?;
            }
            let fresh = read_job_in(&mut tx, job.task_id).await?;
            tx.commit().await?;
            Ok(fresh)
        })
        .await
    }
}
