//! The record of a push's element writes (docs/fields.md, "Pushed as elements"): the claim
//! checked to outlast them before they go out, and what GitHub took recorded under the same
//! fence, the base moving by exactly those elements.

use super::push::{PushJob, fenced_in, read_job_in, write_fence_in};
use super::{Store, StoreError};
use crate::sync::Fence;
use crate::sync::fields::{self, Elements};
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
            // The entry as it stands under the fence: its base and the task's sets now.
            let Some(mut fresh) = read_job_in(&mut tx, job.task_id).await? else {
                return Ok(None);
            };
            if let Some(link) = fresh.link.as_mut() {
                link.base_sets = fields::moved_base(&link.base_sets, done, &fresh.local_sets);
                sqlx::query("UPDATE task_github_metadata SET labels = $2, assignees = $3 WHERE task_id = $1")
                    .bind(job.task_id.to_string())
                    .bind(serde_json::to_string(&link.base_sets.labels).expect("labels serialise"))
                    .bind(serde_json::to_string(&link.base_sets.assignees).expect("logins serialise"))
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(Some(fresh))
        })
        .await
    }
}
