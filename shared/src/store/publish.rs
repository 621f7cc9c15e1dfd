//! Publishing an unlinked task as a new issue, through its outbox entry (kind `publish`): the
//! entry is the claim (two clicks open one issue), it records what was posted before the
//! `POST` goes out (a lost answer is looked for by the issue's marker, never posted again
//! blindly), and linking is fenced by the claim like every record of a push.

use sqlx::AnyConnection;
use uuid::Uuid;

use super::apply::{find_link_of, insert_link_in};
use super::push::{
    EntryKind, PushClaim, fenced_in, lock_entry_in, read_job_in, record_in_flight_in, release_in, settle_in,
    take_claim_in, write_fence_in,
};
use super::rows::{content, lock_task, parse, ts};
use super::{Scope, Store, StoreError, apply_issue_in};
use crate::domain::{Content, IssueExtras, IssueState, RemoteIssue, Task, TaskStatus};
use crate::store::PushJob;
use crate::sync::{self, Backoff, Claim, Fence, Fields, Source};
use crate::time::Timestamp;

impl Store {
    /// Claims the publication of unlinked task `task_id` for `lease`: its entry is made when
    /// missing. `StateConflict` when the task is linked already; [`PushClaim::Busy`] while another
    /// request or the worker publishes it.
    pub async fn claim_publish(
        &self,
        task_id: Uuid,
        now: Timestamp,
        lease: chrono::Duration,
    ) -> Result<PushClaim, StoreError> {
        let mut tx = self.begin().await?;
        let task = lock_task(&mut tx, self.backend, task_id).await?;
        if find_link_of(&mut tx, task_id).await?.is_some() {
            return Err(StoreError::StateConflict(format!("task {task_id} is linked to an issue already")));
        }
        let token = super::new_id();
        let claimed = match lock_entry_in(&mut tx, self.backend, task_id).await? {
            None => {
                sqlx::query(
                    "INSERT INTO sync_outbox (task_id, project_id, version, queued_at, next_attempt_at, attempts, \
                     kind, claim_token, lease_until) VALUES ($1, $2, 1, $3, $3, 0, 'publish', $4, $5)",
                )
                .bind(task_id.to_string())
                .bind(task.project_id.to_string())
                .bind(now.to_sql())
                .bind(&token)
                .bind(now.plus(lease).to_sql())
                .execute(&mut *tx)
                .await?;
                true
            }
            // A person asking again does not wait out a backoff.
            Some(entry) => match sync::claim(&entry.state()?, now, Backoff::Ignore) {
                Claim::Take => {
                    take_claim_in(&mut tx, task_id, &token, now.plus(lease)).await?;
                    true
                }
                Claim::Busy { until } => {
                    tx.commit().await?;
                    return Ok(PushClaim::Busy { until });
                }
                Claim::NotDue { .. } => return Ok(PushClaim::NotDue),
                Claim::Parked => return Ok(PushClaim::Parked),
            },
        };
        let job = if claimed { read_job_in(&mut tx, task_id).await? } else { None };
        tx.commit().await?;
        Ok(job.map_or(PushClaim::Nothing, |job| PushClaim::Job(Box::new(job))))
    }

    /// Records what a publication is about to post, while its claim holds and outlasts
    /// `write_takes`.
    pub async fn begin_publish(
        &self,
        job: &PushJob,
        posted: &Fields,
        write_takes: chrono::Duration,
    ) -> Result<Fence, StoreError> {
        let mut tx = self.begin().await?;
        let fence = write_fence_in(&mut tx, self.backend, job, Timestamp::now(), write_takes).await?;
        if fence == Fence::Held {
            record_in_flight_in(&mut tx, job.task_id, posted).await?;
            tx.commit().await?;
        }
        Ok(fence)
    }

    /// Links the task being published to the issue GitHub opened for it (the `POST`'s answer,
    /// or the issue its marker was found on), while the claim holds; `None` when the claim was
    /// lost (someone else finishes the publication). The base is the issue as GitHub opened it;
    /// a task a delivery or a poll made of the same issue meanwhile (one without the marker)
    /// gives way, its newer snapshot applied to this task; a column asking for a closed issue,
    /// or an edit made while the issue was being opened, then goes out as an ordinary push.
    pub async fn link_published(
        &self,
        job: &PushJob,
        issue: &RemoteIssue,
    ) -> Result<Option<Task>, StoreError> {
        issue.validate()?;
        super::retry_races(|| async {
            let now = Timestamp::now();
            let mut tx = self.begin().await?;
            if fenced_in(&mut tx, self.backend, job).await?.is_none() {
                return Ok(None);
            }
            let scope =
                Scope { backend: self.backend, project_id: job.project_id, source: Source::Read, now };
            match find_link_of(&mut tx, job.task_id).await? {
                // The issue's own delivery (or a poll) linked it by its marker already.
                Some(node_id) if node_id == issue.node_id => {
                    apply_issue_in(&mut tx, scope, issue).await?;
                }
                Some(_) => {
                    return Err(StoreError::StateConflict(format!(
                        "task {} is linked to another issue already",
                        job.task_id
                    )));
                }
                None => {
                    let echo = take_echo_in(&mut tx, scope, &issue.node_id).await?;
                    insert_link_in(&mut tx, scope, job.task_id, issue, &issue.content, issue.state, None)
                        .await?;
                    if let Some(newer) = echo {
                        apply_issue_in(&mut tx, scope, &newer).await?;
                    }
                }
            }
            sqlx::query("UPDATE sync_outbox SET kind = 'push', in_flight = NULL WHERE task_id = $1")
                .bind(job.task_id.to_string())
                .execute(&mut *tx)
                .await?;
            settle_in(&mut tx, job.task_id, now).await?;
            release_in(&mut tx, job.task_id).await?;
            let task = lock_task(&mut tx, self.backend, job.task_id).await?;
            tx.commit().await?;
            Ok(Some(task))
        })
        .await
    }

    /// Ends a publication GitHub refused (nothing was created), while the claim holds.
    pub async fn release_publish(&self, job: &PushJob) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        if fenced_in(&mut tx, self.backend, job).await?.is_some() {
            sqlx::query("DELETE FROM sync_outbox WHERE task_id = $1 AND kind = 'publish'")
                .bind(job.task_id.to_string())
                .execute(&mut *tx)
                .await?;
            release_in(&mut tx, job.task_id).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

impl PushJob {
    /// What a publication posts: the task's content (its marker is added to the body).
    pub fn posted(&self) -> Fields {
        let Content { title, description, .. } = self.local.clone();
        Fields { title: Some(title), description: Some(description), ..Fields::default() }
    }

    /// Whether the entry is a publication not linked yet.
    pub fn publishing(&self) -> bool {
        self.kind == EntryKind::Publish && self.link.is_none()
    }
}

/// Removes the task a delivery or a poll made of issue `node_id` while it was being published
/// (an echo that carried no marker): the published task is the issue's. Returns the newest
/// snapshot that echo applied, for the published task to take. An echo someone edited on the
/// board keeps its task (unlinked): nothing written there is lost.
pub(super) async fn take_echo_in(
    conn: &mut AnyConnection,
    scope: Scope,
    node_id: &str,
) -> Result<Option<RemoteIssue>, StoreError> {
    let project = scope.project_id.to_string();
    let Some(echo) = super::apply::find_link(conn, scope.backend, &project, node_id).await? else {
        return Ok(None);
    };
    let base = content("task_github_metadata.last_synced_content", &echo.last_synced_content)?;
    let state: IssueState = parse("task_github_metadata.synced_state", &echo.synced_state)?;
    let row: (i64, String, String, String, Option<String>) = sqlx::query_as(
        "SELECT github_issue_number, github_issue_url, labels, assignees, milestone \
         FROM task_github_metadata WHERE id = $1",
    )
    .bind(&echo.metadata_id)
    .fetch_one(&mut *conn)
    .await?;
    let (number, html_url, labels, assignees, milestone) = row;
    let snapshot = RemoteIssue {
        node_id: node_id.to_string(),
        number,
        html_url,
        content: base.clone(),
        state,
        updated_at: ts("task_github_metadata.remote_updated_at", &echo.remote_updated_at)?,
        extras: super::rows::extras(Some(&labels), Some(&assignees), milestone)?,
        marker: None,
    };
    let untouched =
        echo.local() == base && parse::<TaskStatus>("tasks.status", &echo.status)? == state.task_status();
    if untouched {
        sqlx::query("DELETE FROM tasks WHERE id = $1").bind(&echo.task_id).execute(&mut *conn).await?;
    } else {
        sqlx::query("DELETE FROM task_github_metadata WHERE task_id = $1")
            .bind(&echo.task_id)
            .execute(&mut *conn)
            .await?;
        sqlx::query(
            "UPDATE tasks SET github_issue_url = NULL, labels = '[]', assignees = '[]', milestone_number = NULL, \
             milestone_title = NULL WHERE id = $1",
        )
        .bind(&echo.task_id)
        .execute(&mut *conn)
        .await?;
        // Unlinked, it shows no labels, assignees or milestone: the filters find it by none.
        super::facets::replace_in(conn, &project, &[(&echo.task_id, &IssueExtras::default())]).await?;
    }
    Ok(Some(snapshot))
}
