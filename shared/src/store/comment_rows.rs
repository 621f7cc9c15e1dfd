//! A comment's rows as the store reads them: the API's view of a comment (with its outbox
//! entry's state), and a GitHub-linked comment as the comment rules and the board's side see
//! it (`StoredRow`). Shared by the thread (`comments.rs`), the board's writes
//! (`board_comments.rs`) and the pusher's records (`comment_push.rs`).

use sqlx::AnyConnection;
use uuid::Uuid;

use super::rows::{opt_ts, ts, uuid};
use super::{Backend, StoreError};
use crate::domain::{CommentConflict, CommentOrigin, GitHubComment, TaskComment};
use crate::sync::board_comments;
use crate::time::Timestamp;

/// The columns of a comment as the API shows it (`c`: the comment, `o`: its outbox entry).
macro_rules! comment_select {
    () => {
        "SELECT c.id, c.task_id, c.body, c.author, c.created_at, c.updated_at, c.github_comment_id, \
         c.github_url, c.github_author_login, c.origin, c.conflict_at, c.conflict_body, c.push_error, \
         o.comment_id AS entry, o.parked \
         FROM task_comments c LEFT JOIN comment_outbox o ON o.comment_id = c.id"
    };
}
pub(super) use comment_select;

/// A stored GitHub-linked comment, locked, as the comment rules and the board's side see it.
#[derive(Clone, Debug)]
pub(crate) struct StoredRow {
    pub id: String,
    pub origin_board: bool,
    /// The board's side.
    pub body: String,
    pub base_body: Option<String>,
    pub applied_updated_at: Timestamp,
    /// Deleted on GitHub (a tombstone).
    pub deleted: bool,
    pub board_deleted: bool,
}

impl StoredRow {
    /// The text both sides last agreed on (a GitHub comment's is its body).
    pub fn base(&self) -> &str {
        self.base_body.as_deref().unwrap_or(&self.body)
    }

    /// What a body GitHub shows for this comment is, as the board compares it: without the
    /// attribution and marker ghsync added, when it is this board comment's own marker.
    pub fn shown<'a>(&self, raw: &'a str) -> &'a str {
        let posted = board_comments::read_posted(raw);
        let ours = self.origin_board && posted.marker.is_some_and(|m| m.to_string() == self.id);
        board_comments::shown_body(raw, ours)
    }
}

/// Comment `id` as the rules see it (the caller holds its row).
pub(super) async fn stored_row_in(conn: &mut AnyConnection, id: &str) -> Result<StoredRow, StoreError> {
    let row: StoredCols =
        sqlx::query_as(concat!(stored_columns!(), " WHERE id = $1")).bind(id).fetch_one(conn).await?;
    row.stored()?.ok_or(StoreError::NotFound("comment"))
}

/// The project's comment linked to GitHub comment `github_id`, locked.
pub(crate) async fn stored_comment_in(
    conn: &mut AnyConnection,
    backend: Backend,
    project_id: Uuid,
    github_id: i64,
) -> Result<Option<StoredRow>, StoreError> {
    let row: Option<StoredCols> = sqlx::query_as(locking!(
        backend,
        stored_columns!(),
        " WHERE project_id = $1 AND github_comment_id = $2"
    ))
    .bind(project_id.to_string())
    .bind(github_id)
    .fetch_optional(&mut *conn)
    .await?;
    match row {
        Some(row) => row.stored(),
        None => Ok(None),
    }
}

/// The columns of a [`StoredRow`].
macro_rules! stored_columns {
    () => {
        "SELECT id, origin, body, base_body, github_updated_at, deleted_at, board_deleted_at FROM task_comments"
    };
}
use stored_columns;

#[derive(sqlx::FromRow)]
struct StoredCols {
    id: String,
    origin: String,
    body: String,
    base_body: Option<String>,
    github_updated_at: Option<String>,
    deleted_at: Option<String>,
    board_deleted_at: Option<String>,
}

impl StoredCols {
    /// `None` for a comment not linked to GitHub.
    fn stored(self) -> Result<Option<StoredRow>, StoreError> {
        let Some(applied_updated_at) =
            opt_ts("task_comments.github_updated_at", self.github_updated_at.as_deref())?
        else {
            return Ok(None);
        };
        Ok(Some(StoredRow {
            id: self.id,
            origin_board: self.origin == CommentOrigin::Board.as_str(),
            body: self.body,
            base_body: self.base_body,
            applied_updated_at,
            deleted: self.deleted_at.is_some(),
            board_deleted: self.board_deleted_at.is_some(),
        }))
    }
}

#[derive(sqlx::FromRow)]
pub(super) struct CommentRow {
    id: String,
    task_id: String,
    body: String,
    author: String,
    created_at: String,
    updated_at: String,
    github_comment_id: Option<i64>,
    github_url: Option<String>,
    github_author_login: Option<String>,
    origin: String,
    conflict_at: Option<String>,
    conflict_body: Option<String>,
    push_error: Option<String>,
    entry: Option<String>,
    parked: Option<String>,
}

impl TryFrom<CommentRow> for TaskComment {
    type Error = StoreError;
    fn try_from(r: CommentRow) -> Result<Self, StoreError> {
        let github = match (r.github_comment_id, r.github_url, r.github_author_login) {
            (Some(comment_id), Some(url), Some(author_login)) => {
                Some(GitHubComment { comment_id, url, author_login })
            }
            _ => None,
        };
        let origin: CommentOrigin = super::rows::parse("task_comments.origin", &r.origin)?;
        let one_way = r.parked.as_deref() == Some(crate::domain::Parked::OneWay.as_str());
        let conflict = match r.conflict_at {
            Some(at) => Some(CommentConflict {
                github_body: r.conflict_body,
                found_at: ts("task_comments.conflict_at", &at)?,
            }),
            None => None,
        };
        Ok(TaskComment {
            id: uuid("task_comments.id", &r.id)?,
            task_id: uuid("task_comments.task_id", &r.task_id)?,
            body: r.body,
            author: r.author,
            created_at: ts("task_comments.created_at", &r.created_at)?,
            updated_at: ts("task_comments.updated_at", &r.updated_at)?,
            local_only: origin == CommentOrigin::Board && github.is_none() && (r.entry.is_none() || one_way),
            github,
            origin,
            push_pending: r.entry.is_some() && r.parked.is_none(),
            push_error: r.push_error,
            conflict,
        })
    }
}
