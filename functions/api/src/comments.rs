//! The board's side of a task's thread (docs/comments.md, "From the board"): a comment
//! written, edited, deleted or its conflict resolved on the board, and its push to GitHub
//! right after, as an edit of a task is pushed (what the request's budget does not finish,
//! the worker does; the answer shows the comment pending).

use axum::Json;
use axum::http::StatusCode;
use ghsync_shared::contract::{CommentEdit, ErrorBody, NewComment, ResolveCommentRequest};
use ghsync_shared::domain::TaskComment;
use ghsync_shared::services::comment_push::CommentPushed;
use ghsync_shared::store::{Backoff, CommentResolution};
use ghsync_shared::telemetry::ErrorChain;
use uuid::Uuid;

use crate::extract::{Body, Id};
use crate::{ApiError, ApiState, AppState};

/// Pushes the comment's waiting change now, within the API's budget; what it does not finish
/// goes to the worker (the queue in AWS, the local worker in `serve`).
async fn push_comment_soon(state: &ApiState, comment_id: Uuid, project_id: Uuid) {
    match state.services.push_comment(comment_id, &state.push, Backoff::Respect, &mut 0).await {
        Ok(pushed) => {
            tracing::debug!(comment_id = %comment_id, ?pushed, "pushed the board comment");
            if matches!(pushed, CommentPushed::Paced(_) | CommentPushed::Retrying(_)) {
                state.runs.wake(project_id).await;
            }
        }
        Err(e) => {
            tracing::warn!(comment_id = %comment_id, error = %ErrorChain(&e), "pushing a board comment failed; the worker retries")
        }
    }
}

/// The comment as it stands after its push (`written`: as the change left it).
async fn pushed(state: &ApiState, written: &TaskComment) -> Result<TaskComment, ApiError> {
    let task = state.services.store.get_task(written.task_id).await?;
    push_comment_soon(state, written.id, task.project_id).await;
    Ok(state.services.store.get_comment(written.id).await?)
}

/// Writes a comment on the task's thread; with two-way sync it is posted to the issue (with an
/// attribution line naming `author` and a hidden marker), now or by the worker.
#[utoipa::path(post, path = "/api/tasks/{id}/comments", tag = "comments", params(("id" = Uuid, Path, description = "task id")),
    request_body = NewComment,
    responses((status = 201, body = TaskComment), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody),
        (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
pub(crate) async fn add_comment(
    axum::extract::State(state): AppState,
    Id(task_id): Id,
    Body(body): Body<NewComment>,
) -> Result<(StatusCode, Json<TaskComment>), ApiError> {
    let comment = state.services.store.add_comment(task_id, &body.body, body.author.as_deref()).await?;
    Ok((StatusCode::CREATED, Json(pushed(&state, &comment).await?)))
}

/// Edits a board comment; the edit goes to GitHub unless GitHub changed the comment too (then
/// a conflict waits for a person).
#[utoipa::path(patch, path = "/api/comments/{id}", tag = "comments", params(("id" = Uuid, Path, description = "comment id")),
    request_body = CommentEdit,
    responses((status = 200, body = TaskComment), (status = 404, body = ErrorBody),
        (status = 409, description = "written on GitHub (read-only on the board), or a conflict waits", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
pub(crate) async fn edit_comment(
    axum::extract::State(state): AppState,
    Id(comment_id): Id,
    Body(body): Body<CommentEdit>,
) -> Result<Json<TaskComment>, ApiError> {
    let edited = state.services.store.edit_comment(comment_id, &body.body).await?;
    Ok(Json(pushed(&state, &edited).await?))
}

/// Deletes a board comment, on GitHub too once it was posted.
#[utoipa::path(delete, path = "/api/comments/{id}", tag = "comments", params(("id" = Uuid, Path, description = "comment id")),
    responses((status = 204, description = "deleted"), (status = 404, body = ErrorBody),
        (status = 409, description = "written on GitHub (read-only on the board), or a conflict waits", body = ErrorBody),
        (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
pub(crate) async fn delete_comment(
    axum::extract::State(state): AppState,
    Id(comment_id): Id,
) -> Result<StatusCode, ApiError> {
    let comment = state.services.store.get_comment(comment_id).await?;
    state.services.store.delete_comment(comment_id).await?;
    let task = state.services.store.get_task(comment.task_id).await?;
    push_comment_soon(&state, comment_id, task.project_id).await;
    Ok(StatusCode::NO_CONTENT)
}

/// Resolves a board comment changed on both sides: keep the board's, accept GitHub's, or a
/// merged text (`body`).
#[utoipa::path(post, path = "/api/comments/{id}/resolve", tag = "comments", params(("id" = Uuid, Path, description = "comment id")),
    request_body = ResolveCommentRequest,
    responses((status = 200, body = TaskComment), (status = 404, body = ErrorBody),
        (status = 409, description = "the comment has no conflict", body = ErrorBody),
        (status = 422, body = ErrorBody), (status = 401, description = "missing or wrong bearer token", body = ErrorBody)))]
pub(crate) async fn resolve_comment(
    axum::extract::State(state): AppState,
    Id(comment_id): Id,
    Body(body): Body<ResolveCommentRequest>,
) -> Result<Json<TaskComment>, ApiError> {
    let resolution = CommentResolution::new(body.action, body.body)?;
    let resolved = state.services.store.resolve_comment(comment_id, &resolution).await?;
    Ok(Json(pushed(&state, &resolved).await?))
}
