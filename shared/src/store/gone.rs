//! A disappearance carried out on its link (docs/sync-rules.md, "New issues, deleted ones,
//! transferred ones"): a deleted or transferred issue marked as such, or a transfer within
//! what the project follows relinked to the issue's new identity, as `sync::gone` decides.

use sqlx::AnyConnection;

use super::StoreError;
use super::apply::{Scope, apply_issue_in, find_link};
use super::rows::{parse, ts};
use crate::domain::RemoteIssue;
use crate::sync::{self, Disappearance, GoneLink, GoneOutcome, GoneWrite, Source};
use crate::time::Timestamp;

/// Carries out a disappearance of issue `node_id` (seen by GitHub at `seen_at`, when it
/// said) on the project's link, as [`sync::gone`] decides.
pub(crate) async fn carry_out_gone_in(
    conn: &mut AnyConnection,
    scope: Scope,
    node_id: &str,
    how: Disappearance,
    new: Option<&RemoteIssue>,
    seen_at: Option<Timestamp>,
) -> Result<GoneOutcome, StoreError> {
    let Scope { backend, project_id, now, .. } = scope;
    let project = project_id.to_string();
    let old = find_link(conn, backend, &project, node_id).await?;
    let new_has_link = match new {
        Some(new) => Some(find_link(conn, backend, &project, &new.node_id).await?.is_some()),
        None => None,
    };
    let link = match &old {
        Some(old) => Some(GoneLink {
            remote_state: parse("task_github_metadata.remote_state", &old.remote_state)?,
            applied_updated_at: ts("task_github_metadata.remote_updated_at", &old.remote_updated_at)?,
        }),
        None => None,
    };
    let (old, new) = match (sync::gone(how, link, new_has_link, seen_at), old, new) {
        (GoneWrite::Mark { state, applied_updated_at }, Some(old), _) => {
            sqlx::query(
                "UPDATE task_github_metadata SET remote_state = $2, remote_updated_at = $3, updated_at = $4 \
                 WHERE id = $1",
            )
            .bind(&old.metadata_id)
            .bind(state.as_str())
            .bind(applied_updated_at.to_sql())
            .bind(now.to_sql())
            .execute(conn)
            .await?;
            return Ok(GoneOutcome::Marked);
        }
        (GoneWrite::Relink, Some(old), Some(new)) => (old, new),
        _ => return Ok(GoneOutcome::NotLinked),
    };
    sqlx::query(
        "UPDATE task_github_metadata SET github_issue_id = $2, github_issue_number = $3, \
         github_issue_url = $4, updated_at = $5 WHERE id = $1",
    )
    .bind(&old.metadata_id)
    .bind(&new.node_id)
    .bind(new.number)
    .bind(&new.html_url)
    .bind(now.to_sql())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO retired_issue_ids (project_id, github_issue_id, metadata_id, retired_at) \
         VALUES ($1, $2, $3, $4) ON CONFLICT (project_id, github_issue_id) DO NOTHING",
    )
    .bind(&project)
    .bind(node_id)
    .bind(&old.metadata_id)
    .bind(now.to_sql())
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE tasks SET github_issue_url = $2, updated_at = $3 WHERE id = $1")
        .bind(&old.task_id)
        .bind(&new.html_url)
        .bind(now.to_sql())
        .execute(&mut *conn)
        .await?;
    // The new identity's snapshot was read or delivered just now: it is the truth.
    apply_issue_in(conn, Scope { source: Source::Read, ..scope }, new).await?;
    Ok(GoneOutcome::Relinked)
}
