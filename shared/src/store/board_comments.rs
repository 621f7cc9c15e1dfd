//! Comments written on the board (docs/comments.md, "From the board"): written, edited and
//! deleted by a person, each change queued in its own transaction as the comment's outbox
//! entry; GitHub's side of a board comment applied (its echo linked, an edit on both sides
//! kept as a conflict); and a person's resolution of such a conflict.
//!
//! The rules are `crate::sync::board_comments`; the pusher's side of the outbox is
//! `comment_push.rs`.

use sqlx::AnyConnection;
use uuid::Uuid;

use super::comment_rows::{CommentRow, StoredRow, comment_select, stored_row_in};
use super::outbox::queue_comment_in;
use super::rows::uuid;
use super::{Backend, Store, StoreError, new_id};
use crate::domain::{RemoteComment, TaskComment, ValidationError};
use crate::sync::board_comments::{
    self, CommentPush, Echo, MAX_AUTHOR_CHARS, MAX_BOARD_COMMENT_CHARS, Named, Side, comment_push,
};
use crate::time::Timestamp;

/// The author a board comment is attributed to when none is given.
pub const DEFAULT_AUTHOR: &str = "board";

/// A board comment's text as stored: trailing whitespace and leading blank lines off (GitHub's
/// copy comes back without them), not empty, and short enough that GitHub's limit holds with the attribution and marker.
pub fn comment_body(body: &str) -> Result<String, ValidationError> {
    // Blank lines at either end do not survive the trip (the attribution line's blank line
    // swallows leading ones): the board keeps what GitHub will show.
    let body = body.trim_end().trim_start_matches(['\n', '\r']);
    if body.trim().is_empty() {
        return Err(ValidationError::new("body", "must not be empty"));
    }
    let chars = body.chars().count();
    if chars > MAX_BOARD_COMMENT_CHARS {
        return Err(ValidationError::new(
            "body",
            format!("must be at most {MAX_BOARD_COMMENT_CHARS} characters (it has {chars})"),
        ));
    }
    Ok(body.to_string())
}

/// A board comment's author: trimmed, "board" when absent, at most 100 characters.
pub fn comment_author(author: Option<&str>) -> Result<String, ValidationError> {
    let author = author.map(str::trim).unwrap_or(DEFAULT_AUTHOR);
    if author.is_empty() {
        return Err(ValidationError::new("author", "must not be empty (leave it out for \"board\")"));
    }
    if author.chars().count() > MAX_AUTHOR_CHARS {
        return Err(ValidationError::new("author", format!("must be at most {MAX_AUTHOR_CHARS} characters")));
    }
    Ok(author.to_string())
}

/// A new GitHub comment carrying the marker of one of the task's board comments: the echo of
/// its post (linked to it, perhaps before the post's answer was stored), or a second post of
/// it (not imported). `None`: not ghsync's, an ordinary comment.
pub(crate) async fn echo_in(
    conn: &mut AnyConnection,
    backend: Backend,
    task_id: Option<Uuid>,
    c: &RemoteComment,
    deleted: bool,
    pass: Option<Timestamp>,
) -> Result<Option<Echo>, StoreError> {
    let (Some(task_id), Some(marker)) = (task_id, board_comments::read_posted(&c.body).marker) else {
        return Ok(None);
    };
    type Row = (Option<i64>, Option<String>, Option<String>);
    let row: Option<Row> = sqlx::query_as(locking!(
        backend,
        "SELECT github_comment_id, github_author_login, board_deleted_at FROM task_comments \
         WHERE id = $1 AND task_id = $2 AND origin = 'board'"
    ))
    .bind(marker.to_string())
    .bind(task_id.to_string())
    .fetch_optional(&mut *conn)
    .await?;
    let posted_at: Option<Option<String>> =
        sqlx::query_scalar("SELECT posted_at FROM comment_outbox WHERE comment_id = $1")
            .bind(marker.to_string())
            .fetch_optional(&mut *conn)
            .await?;
    let post_out = posted_at.flatten().is_some();
    let named = match row {
        // Only a post of ours can come back: one is out (its answer not recorded), or the
        // comment was deleted on the board while one may have been.
        Some((None, _, board_deleted)) if post_out || board_deleted.is_some() => Named::Unlinked,
        // A second copy counts only when the account that made the first made it too.
        Some((Some(id), login, _)) if login.as_deref() == Some(c.author_login.as_str()) => Named::Linked(id),
        _ => Named::Nothing,
    };
    match board_comments::echo(Some(marker), named, c.id) {
        Echo::Link => {
            link_in(conn, &marker.to_string(), c, pass).await?;
            Ok(Some(Echo::Link))
        }
        Echo::Duplicate => {
            tracing::warn!(
                comment_id = %marker,
                github_comment_id = c.id,
                "a second GitHub comment carries a board comment's marker: it is deleted, not imported"
            );
            if !deleted {
                remove_duplicate_in(conn, task_id, c, pass).await?;
            }
            Ok(Some(Echo::Duplicate))
        }
        Echo::Known | Echo::NotOurs => Ok(None),
    }
}

/// A second post of a board comment (its answer was lost and a search missed it): kept as a
/// board comment of its own, deleted on the board, so the pusher deletes it from GitHub (after
/// reading that nobody changed it since) and a tombstone stays.
async fn remove_duplicate_in(
    conn: &mut AnyConnection,
    task_id: Uuid,
    c: &RemoteComment,
    pass: Option<Timestamp>,
) -> Result<(), StoreError> {
    let id = new_id();
    // Its marker names the other comment: its text is its whole body.
    sqlx::query(
        "INSERT INTO task_comments (id, task_id, project_id, body, author, created_at, updated_at, origin, \
         board_deleted_at, github_comment_id, github_node_id, github_url, github_author_login, github_updated_at, \
         base_body, seen_in_pass_at) \
         SELECT $1, t.id, t.project_id, $3, $4, $5, $6, 'board', $6, $7, $8, $9, $4, $6, $3, $10 FROM tasks t \
         WHERE t.id = $2",
    )
    .bind(&id)
    .bind(task_id.to_string())
    .bind(&c.body)
    .bind(&c.author_login)
    .bind(c.created_at.to_sql())
    .bind(c.updated_at.to_sql())
    .bind(c.id)
    .bind(&c.node_id)
    .bind(&c.html_url)
    .bind(pass.map(Timestamp::to_sql))
    .execute(&mut *conn)
    .await?;
    queue_comment_in(conn, &id, Timestamp::now()).await?;
    Ok(())
}

/// Links board comment `id` to GitHub comment `c`, its own post (its answer, its echo, or
/// found by its marker). The base is the text that was posted; what GitHub shows now is then
/// GitHub's side (someone may have edited the post before the link), and what the board holds
/// now is the board's (edited, or deleted, while the post was out): each change goes, and a
/// change on both sides is a conflict.
pub(crate) async fn link_in(
    conn: &mut AnyConnection,
    id: &str,
    c: &RemoteComment,
    pass: Option<Timestamp>,
) -> Result<(), StoreError> {
    let shown = board_comments::read_posted(&c.body).text;
    let posted: Option<Option<String>> =
        sqlx::query_scalar("SELECT posted_body FROM comment_outbox WHERE comment_id = $1")
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?;
    let base = posted.flatten().unwrap_or_else(|| shown.to_string());
    let linked = sqlx::query(
        "UPDATE task_comments SET github_comment_id = $2, github_node_id = $3, github_url = $4, \
         github_author_login = $5, github_updated_at = $6, base_body = $7, push_error = NULL, \
         seen_in_pass_at = COALESCE($8, seen_in_pass_at) WHERE id = $1 AND github_comment_id IS NULL",
    )
    .bind(id)
    .bind(c.id)
    .bind(&c.node_id)
    .bind(&c.html_url)
    .bind(&c.author_login)
    .bind(c.updated_at.to_sql())
    .bind(&base)
    .bind(pass.map(Timestamp::to_sql))
    .execute(&mut *conn)
    .await?;
    if linked.rows_affected() == 0 {
        return Ok(());
    }
    sqlx::query("UPDATE comment_outbox SET posted_at = NULL, posted_body = NULL WHERE comment_id = $1")
        .bind(id)
        .execute(&mut *conn)
        .await?;
    if base != shown {
        let row = stored_row_in(conn, id).await?;
        github_changed_in(conn, &row, Side::Body(shown), None, None, Timestamp::now()).await?;
    }
    // Changed on the board since it was posted: that change goes next.
    let changed: Option<i64> = sqlx::query_scalar(
        "SELECT 1 FROM task_comments WHERE id = $1 AND conflict_at IS NULL \
         AND (board_deleted_at IS NOT NULL OR body <> base_body)",
    )
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    if changed.is_some() {
        queue_comment_in(conn, id, Timestamp::now()).await?;
    }
    Ok(())
}

/// GitHub shows a linked comment changed (`github`: its text, or its deletion) as of
/// `updated_at`: the board takes it, keeps its own change (GitHub still holds the base), agrees
/// (both made the same change), or keeps both sides as a conflict
/// ([`board_comments::comment_push`]).
pub(crate) async fn github_changed_in(
    conn: &mut AnyConnection,
    row: &StoredRow,
    github: Side<'_>,
    updated_at: Option<Timestamp>,
    url: Option<(&str, &str)>,
    now: Timestamp,
) -> Result<(), StoreError> {
    let board = if row.board_deleted { Side::Deleted } else { Side::Body(&row.body) };
    let at = updated_at.map(Timestamp::to_sql);
    let (html_url, login) = url.unzip();
    let query = match (comment_push(board, Some(row.base()), github), github) {
        (CommentPush::TakeGitHub, Side::Body(text)) => sqlx::query(
            "UPDATE task_comments SET body = $2, base_body = $2, updated_at = COALESCE($3, updated_at), \
             github_updated_at = COALESCE($3, github_updated_at), github_url = COALESCE($4, github_url), \
             github_author_login = COALESCE($5, github_author_login) WHERE id = $1",
        )
        .bind(&row.id)
        .bind(text)
        .bind(at)
        .bind(html_url)
        .bind(login),
        // Deleted on GitHub (and nothing else changed, or the board deleted it too).
        (CommentPush::TakeGitHub | CommentPush::Nothing, Side::Deleted) => {
            sqlx::query("UPDATE task_comments SET deleted_at = $2 WHERE id = $1")
                .bind(&row.id)
                .bind(now.to_sql())
        }
        // Both sides hold the same text: it is the base now.
        (CommentPush::Nothing, Side::Body(text)) => sqlx::query(
            "UPDATE task_comments SET base_body = $2, github_updated_at = COALESCE($3, github_updated_at), \
             github_url = COALESCE($4, github_url) WHERE id = $1",
        )
        .bind(&row.id)
        .bind(text)
        .bind(at)
        .bind(html_url),
        (CommentPush::Conflict, github) => {
            let text = match github {
                Side::Body(text) => Some(text),
                Side::Deleted => None,
            };
            sqlx::query(
                "UPDATE task_comments SET conflict_at = COALESCE(conflict_at, $2), conflict_body = $3, \
                 deleted_at = CASE WHEN $4 = 1 THEN $2 ELSE deleted_at END, \
                 github_updated_at = COALESCE($5, github_updated_at) WHERE id = $1",
            )
            .bind(&row.id)
            .bind(now.to_sql())
            .bind(text)
            .bind(i64::from(text.is_none()))
            .bind(at)
        }
        // Only the board changed it: GitHub still holds the base, the board's change goes.
        (CommentPush::Edit | CommentPush::Delete | CommentPush::Post, _) => sqlx::query(
            "UPDATE task_comments SET github_updated_at = COALESCE($2, github_updated_at) WHERE id = $1",
        )
        .bind(&row.id)
        .bind(at),
    };
    query.execute(conn).await?;
    Ok(())
}

/// The columns of a board comment a person changes, locked.
struct Editable {
    task_id: String,
    origin_board: bool,
    linked: bool,
    gone: bool,
    conflict: Option<Option<String>>,
}

async fn lock_comment_in(
    conn: &mut AnyConnection,
    backend: Backend,
    id: Uuid,
) -> Result<Editable, StoreError> {
    type Row = (String, String, Option<i64>, Option<String>, Option<String>, Option<String>, Option<String>);
    let row: Option<Row> = sqlx::query_as(locking!(
        backend,
        "SELECT task_id, origin, github_comment_id, deleted_at, board_deleted_at, conflict_at, conflict_body \
         FROM task_comments WHERE id = $1"
    ))
    .bind(id.to_string())
    .fetch_optional(conn)
    .await?;
    let (task_id, origin, github_id, deleted_at, board_deleted_at, conflict_at, conflict_body) =
        row.ok_or(StoreError::NotFound("comment"))?;
    Ok(Editable {
        task_id,
        origin_board: origin == "board",
        linked: github_id.is_some(),
        gone: deleted_at.is_some() || board_deleted_at.is_some(),
        conflict: conflict_at.map(|_| conflict_body),
    })
}

/// Refuses a change of a comment written on GitHub (read-only on the board) or one that is
/// deleted.
fn editable(e: &Editable, doing: &str) -> Result<(), StoreError> {
    if !e.origin_board {
        return Err(StoreError::StateConflict(format!(
            "the comment was written on GitHub: it is read-only on the board (it cannot be {doing})"
        )));
    }
    if e.gone && e.conflict.is_none() {
        return Err(StoreError::NotFound("comment"));
    }
    Ok(())
}

impl Store {
    /// One comment as the API shows it.
    pub async fn get_comment(&self, id: Uuid) -> Result<TaskComment, StoreError> {
        let row: Option<CommentRow> = sqlx::query_as(concat!(comment_select!(), " WHERE c.id = $1"))
            .bind(id.to_string())
            .fetch_optional(&self.pool)
            .await?;
        row.ok_or(StoreError::NotFound("comment"))?.try_into()
    }

    /// Writes a comment on the board (`POST /api/tasks/{id}/comments`), queued for GitHub in
    /// the same transaction when the project is two-way.
    pub async fn add_comment(
        &self,
        task_id: Uuid,
        body: &str,
        author: Option<&str>,
    ) -> Result<TaskComment, StoreError> {
        let body = comment_body(body)?;
        let author = comment_author(author)?;
        let now = Timestamp::now();
        let id = new_id();
        let mut tx = self.begin().await?;
        let task = super::rows::lock_task(&mut tx, self.backend, task_id).await?;
        sqlx::query(
            "INSERT INTO task_comments (id, task_id, project_id, body, author, created_at, updated_at, origin) \
             VALUES ($1, $2, $3, $4, $5, $6, $6, 'board')",
        )
        .bind(&id)
        .bind(task_id.to_string())
        .bind(task.project_id.to_string())
        .bind(&body)
        .bind(&author)
        .bind(now.to_sql())
        .execute(&mut *tx)
        .await?;
        queue_comment_in(&mut tx, &id, now).await?;
        tx.commit().await?;
        self.get_comment(uuid("task_comments.id", &id)?).await
    }

    /// A person's edit of a board comment (`PATCH /api/comments/{id}`), queued with it.
    pub async fn edit_comment(&self, id: Uuid, body: &str) -> Result<TaskComment, StoreError> {
        let body = comment_body(body)?;
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        let e = lock_comment_in(&mut tx, self.backend, id).await?;
        editable(&e, "edited")?;
        if e.conflict.is_some() {
            return Err(StoreError::StateConflict(
                "the comment was changed on GitHub too: resolve its conflict first".into(),
            ));
        }
        sqlx::query("UPDATE task_comments SET body = $2, updated_at = $3 WHERE id = $1")
            .bind(id.to_string())
            .bind(&body)
            .bind(now.to_sql())
            .execute(&mut *tx)
            .await?;
        queue_comment_in(&mut tx, &id.to_string(), now).await?;
        tx.commit().await?;
        self.get_comment(id).await
    }

    /// A person's deletion of a board comment (`DELETE /api/comments/{id}`). One that never
    /// reached GitHub is simply removed, unless its post may be under way (then, like one that
    /// is on GitHub, it leaves the thread and its deletion is queued).
    pub async fn delete_comment(&self, id: Uuid) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        let e = lock_comment_in(&mut tx, self.backend, id).await?;
        editable(&e, "deleted")?;
        if e.gone {
            return Err(StoreError::StateConflict(
                "the comment was changed on GitHub too: resolve its conflict first".into(),
            ));
        }
        let posting: Option<(Option<String>, Option<String>)> =
            sqlx::query_as("SELECT posted_at, lease_until FROM comment_outbox WHERE comment_id = $1")
                .bind(id.to_string())
                .fetch_optional(&mut *tx)
                .await?;
        let post_under_way = posting.is_some_and(|(posted_at, lease)| {
            posted_at.is_some() || lease.is_some_and(|l| l.as_str() >= now.to_sql().as_str())
        });
        if !e.linked && !post_under_way {
            sqlx::query("DELETE FROM task_comments WHERE id = $1")
                .bind(id.to_string())
                .execute(&mut *tx)
                .await?;
        } else {
            sqlx::query("UPDATE task_comments SET board_deleted_at = $2, updated_at = $2 WHERE id = $1")
                .bind(id.to_string())
                .bind(now.to_sql())
                .execute(&mut *tx)
                .await?;
            queue_comment_in(&mut tx, &id.to_string(), now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// A person's resolution of a comment changed on both sides (`POST
    /// /api/comments/{id}/resolve`): keep the board's (sent to GitHub), accept GitHub's, or a
    /// merged text (sent). When GitHub had deleted it, keeping or merging posts it anew.
    pub async fn resolve_comment(
        &self,
        id: Uuid,
        resolution: &CommentResolution,
    ) -> Result<TaskComment, StoreError> {
        let now = Timestamp::now();
        let mut tx = self.begin().await?;
        let e = lock_comment_in(&mut tx, self.backend, id).await?;
        let Some(github) = e.conflict.clone() else {
            return Err(StoreError::StateConflict("the comment has no conflict to resolve".into()));
        };
        let key = id.to_string();
        let board_text = match resolution {
            CommentResolution::Merge(text) => Some(comment_body(text)?),
            _ => None,
        };
        match (resolution, github) {
            (CommentResolution::AcceptGithub, Some(text)) => {
                sqlx::query(
                    "UPDATE task_comments SET body = $2, base_body = $2, board_deleted_at = NULL, updated_at = $3 \
                     WHERE id = $1",
                )
                .bind(&key)
                .bind(text)
                .bind(now.to_sql())
                .execute(&mut *tx)
                .await?;
            }
            // GitHub deleted it: so does the board (the tombstone stays).
            (CommentResolution::AcceptGithub, None) => {
                sqlx::query("UPDATE task_comments SET board_deleted_at = COALESCE(board_deleted_at, $2) WHERE id = $1")
                    .bind(&key)
                    .bind(now.to_sql())
                    .execute(&mut *tx)
                    .await?;
            }
            (_, Some(text)) => {
                // GitHub's text becomes the base: the board's side (kept, or merged) goes as an edit.
                sqlx::query(
                    "UPDATE task_comments SET base_body = $2, body = COALESCE($3, body), \
                     board_deleted_at = CASE WHEN $3 IS NULL THEN board_deleted_at ELSE NULL END, updated_at = $4 \
                     WHERE id = $1",
                )
                .bind(&key)
                .bind(text)
                .bind(board_text.as_deref())
                .bind(now.to_sql())
                .execute(&mut *tx)
                .await?;
            }
            (_, None) => {
                // Deleted on GitHub, kept (or merged) on the board: posted anew. Its old GitHub
                // comment stays a tombstone, so no replay of it comes back.
                repost_in(&mut tx, &key, e.task_id.as_str(), board_text.as_deref(), now).await?;
            }
        }
        sqlx::query("UPDATE task_comments SET conflict_at = NULL, conflict_body = NULL WHERE id = $1")
            .bind(&key)
            .execute(&mut *tx)
            .await?;
        if matches!(resolution, CommentResolution::AcceptGithub) {
            sqlx::query("DELETE FROM comment_outbox WHERE comment_id = $1")
                .bind(&key)
                .execute(&mut *tx)
                .await?;
        } else {
            queue_comment_in(&mut tx, &key, now).await?;
        }
        tx.commit().await?;
        self.get_comment(id).await
    }
}

/// A person's choice for a board comment changed on both sides.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CommentResolution {
    KeepLocal,
    AcceptGithub,
    Merge(String),
}

impl CommentResolution {
    /// `body` goes with `merge` and only with it.
    pub fn new(
        action: crate::domain::ResolutionAction,
        body: Option<String>,
    ) -> Result<Self, ValidationError> {
        use crate::domain::ResolutionAction as A;
        match (action, body) {
            (A::Merge, Some(body)) => Ok(Self::Merge(body)),
            (A::Merge, None) => Err(ValidationError::new("body", "is required with the merge action")),
            (_, Some(_)) => Err(ValidationError::new("body", "must be absent unless the action is merge")),
            (A::KeepLocal, None) => Ok(Self::KeepLocal),
            (A::AcceptGithub, None) => Ok(Self::AcceptGithub),
        }
    }
}

/// Board comment `id`, deleted on GitHub while the board changed it, is to be posted again:
/// a tombstone keeps its old GitHub identity, and the comment itself is unposted (with
/// `body`, when merged).
async fn repost_in(
    conn: &mut AnyConnection,
    id: &str,
    task_id: &str,
    body: Option<&str>,
    now: Timestamp,
) -> Result<(), StoreError> {
    type Row = (String, String, i64, Option<String>, Option<String>, Option<String>, String);
    let (project_id, author, github_id, node, url, login, github_updated_at): Row = sqlx::query_as(
        "SELECT project_id, author, github_comment_id, github_node_id, github_url, github_author_login, \
         github_updated_at FROM task_comments WHERE id = $1",
    )
    .bind(id)
    .fetch_one(&mut *conn)
    .await?;
    sqlx::query(
        "UPDATE task_comments SET github_comment_id = NULL, github_node_id = NULL, github_url = NULL, \
         github_author_login = NULL, github_updated_at = NULL, base_body = NULL, deleted_at = NULL, \
         board_deleted_at = NULL, body = COALESCE($2, body), updated_at = $3 WHERE id = $1",
    )
    .bind(id)
    .bind(body)
    .bind(now.to_sql())
    .execute(&mut *conn)
    .await?;
    sqlx::query(
        "INSERT INTO task_comments (id, task_id, project_id, body, author, created_at, updated_at, deleted_at, \
         github_comment_id, github_node_id, github_url, github_author_login, github_updated_at, base_body) \
         VALUES ($1, $2, $3, '', $4, $5, $5, $5, $6, $7, $8, $9, $10, '')",
    )
    .bind(new_id())
    .bind(task_id)
    .bind(project_id)
    .bind(author)
    .bind(now.to_sql())
    .bind(github_id)
    .bind(node)
    .bind(url)
    .bind(login)
    .bind(github_updated_at)
    .execute(conn)
    .await?;
    Ok(())
}
