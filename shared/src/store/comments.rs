//! Tasks' threads: GitHub comments applied as the comment rules decide (`sync::comment`),
//! in the caller's transaction or as a checkpointed page of the reconcile's listing; what a
//! comment's issue is to the project; and a thread read in pages.

use std::collections::HashMap;

use sqlx::AnyConnection;
use uuid::Uuid;

use super::comment_rows::{CommentRow, comment_select, stored_comment_in};
use super::rows::uuid;
use super::{Backend, Checkpoint, Store, StoreError, new_id, retry_races};
use crate::domain::{CommentCounts, RemoteComment, TaskComment};
use crate::paging::PageRequest;
use crate::sync::board_comments::{Echo, Side};
use crate::sync::{self, CommentIssue, CommentOutcome, CommentSeen, Source, StoredComment};
use crate::time::Timestamp;

/// Why an issue number's comments are not the board's (table `not_board_issues`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotBoard {
    PullRequest,
    /// Deleted, or transferred to another repository.
    Gone,
}

impl NotBoard {
    fn as_str(self) -> &'static str {
        match self {
            NotBoard::PullRequest => "pull_request",
            NotBoard::Gone => "gone",
        }
    }
}

/// What a comment's issue is to a project, and the task whose thread holds its comments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IssueOfComment {
    pub issue: CommentIssue,
    /// The task of a [`CommentIssue::Linked`] issue.
    pub task_id: Option<Uuid>,
}

/// How a comment's issue is named: by number (the listing) or node id (a delivery).
#[derive(Clone, Copy, Debug)]
pub(crate) enum IssueKey<'a> {
    Number(i64),
    Node(&'a str),
}

/// What the project knows of the issue `key` names: a live link's task, a number known not to
/// be the board's, or nothing yet.
pub(crate) async fn issue_of_comment_in(
    conn: &mut AnyConnection,
    project_id: Uuid,
    key: IssueKey<'_>,
) -> Result<IssueOfComment, StoreError> {
    let links: Vec<(String, String, Option<String>)> = match key {
        IssueKey::Number(n) => {
            sqlx::query_as(
                "SELECT task_id, remote_state, unlinked_at FROM task_github_metadata \
                 WHERE project_id = $1 AND github_issue_number = $2",
            )
            .bind(project_id.to_string())
            .bind(n)
            .fetch_all(&mut *conn)
            .await?
        }
        IssueKey::Node(node) => {
            sqlx::query_as(
                "SELECT task_id, remote_state, unlinked_at FROM task_github_metadata \
                 WHERE project_id = $1 AND github_issue_id = $2",
            )
            .bind(project_id.to_string())
            .bind(node)
            .fetch_all(&mut *conn)
            .await?
        }
    };
    for (task_id, state, unlinked_at) in links {
        if super::rows::stored_link_live(&state, unlinked_at.is_some())? {
            let task_id = uuid("task_github_metadata.task_id", &task_id)?;
            return Ok(IssueOfComment { issue: CommentIssue::Linked, task_id: Some(task_id) });
        }
    }
    let IssueKey::Number(number) = key else {
        return Ok(IssueOfComment { issue: CommentIssue::Unknown, task_id: None });
    };
    let kind: Option<String> = sqlx::query_scalar(
        "SELECT kind FROM not_board_issues WHERE project_id = $1 AND github_issue_number = $2",
    )
    .bind(project_id.to_string())
    .bind(number)
    .fetch_optional(&mut *conn)
    .await?;
    let issue = match kind.as_deref() {
        Some("pull_request") => CommentIssue::PullRequest,
        Some(_) => CommentIssue::Gone,
        None => CommentIssue::Unknown,
    };
    Ok(IssueOfComment { issue, task_id: None })
}

/// Remembers that issue `number`'s comments are not the board's.
pub(crate) async fn note_not_board_in(
    conn: &mut AnyConnection,
    project_id: Uuid,
    number: i64,
    kind: NotBoard,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO not_board_issues (project_id, github_issue_number, kind) VALUES ($1, $2, $3) \
         ON CONFLICT (project_id, github_issue_number) DO NOTHING",
    )
    .bind(project_id.to_string())
    .bind(number)
    .bind(kind.as_str())
    .execute(conn)
    .await?;
    Ok(())
}

/// A comment as GitHub shows it, to apply: its body, or its deletion.
#[derive(Clone, Copy, Debug)]
pub(crate) struct SeenComment<'a> {
    pub comment: &'a RemoteComment,
    pub deleted: bool,
    pub source: Source,
    /// The full pass in progress whose listing (or look-up) showed it.
    pub pass: Option<Timestamp>,
}

/// Applies what GitHub shows of a comment to the project's threads, as [`sync::comment`]
/// decides (and, for a comment the board changed too, [`board_comments::comment_push`]), in
/// the caller's transaction. The comment's row is locked first, so concurrent deliveries of
/// one comment apply one after the other. A new comment carrying the marker of one of the
/// task's board comments is that comment's echo: it links to it instead of being added.
pub(crate) async fn apply_comment_in(
    conn: &mut AnyConnection,
    backend: Backend,
    project_id: Uuid,
    of: IssueOfComment,
    seen: SeenComment<'_>,
    now: Timestamp,
) -> Result<CommentOutcome, StoreError> {
    let c = seen.comment;
    let row = match stored_comment_in(conn, backend, project_id, c.id).await? {
        Some(row) => Some(row),
        None if of.issue == CommentIssue::Linked => {
            match super::board_comments::echo_in(conn, backend, of.task_id, c, seen.deleted, seen.pass)
                .await?
            {
                // A board comment's own post, linked now: what this snapshot shows applies to it.
                Some(Echo::Link) => stored_comment_in(conn, backend, project_id, c.id).await?,
                // A second post of a board comment: not imported.
                Some(_) => return Ok(CommentOutcome::Unchanged),
                None => None,
            }
        }
        None => None,
    };
    // What GitHub shows, as the board compares it: without ghsync's attribution and marker
    // on a board comment's own post.
    let shown = match &row {
        Some(row) => row.shown(&c.body),
        None => c.body.as_str(),
    };
    let stored = row.as_ref().map(|r| StoredComment {
        body: r.base(),
        applied_updated_at: r.applied_updated_at,
        deleted: r.deleted,
    });
    let github_side = if seen.deleted {
        CommentSeen::Deleted
    } else {
        CommentSeen::Body { body: shown, updated_at: c.updated_at, source: seen.source }
    };
    let outcome = sync::comment(of.issue, stored, github_side);
    let pass = seen.pass.map(Timestamp::to_sql);
    match (outcome, &row, of.task_id) {
        (CommentOutcome::Created | CommentOutcome::Deleted, None, Some(task_id)) => {
            // A deletion never seen before leaves its tombstone.
            let deleted_at = (outcome == CommentOutcome::Deleted).then(|| now.to_sql());
            sqlx::query(
                "INSERT INTO task_comments (id, task_id, project_id, body, author, created_at, updated_at, \
                 deleted_at, github_comment_id, github_node_id, github_url, github_author_login, \
                 github_updated_at, base_body, seen_in_pass_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $5, $7, $4, $12)",
            )
            .bind(new_id())
            .bind(task_id.to_string())
            .bind(project_id.to_string())
            .bind(&c.body)
            .bind(&c.author_login)
            .bind(c.created_at.to_sql())
            .bind(c.updated_at.to_sql())
            .bind(deleted_at)
            .bind(c.id)
            .bind(&c.node_id)
            .bind(&c.html_url)
            .bind(pass)
            .execute(&mut *conn)
            .await?;
        }
        (CommentOutcome::Updated | CommentOutcome::Deleted, Some(row), _) => {
            let github = if outcome == CommentOutcome::Deleted { Side::Deleted } else { Side::Body(shown) };
            let url = Some((c.html_url.as_str(), c.author_login.as_str()));
            super::board_comments::github_changed_in(conn, row, github, Some(c.updated_at), url, now).await?;
            if let Some(pass) = &pass {
                seen_by_pass_in(conn, &row.id, pass).await?;
            }
        }
        (_, Some(row), _) if pass.is_some() => {
            // Unchanged (or stale) but shown by the full pass: it is still there.
            seen_by_pass_in(conn, &row.id, pass.as_deref().unwrap_or_default()).await?;
        }
        _ => {}
    }
    Ok(outcome)
}

async fn seen_by_pass_in(conn: &mut AnyConnection, id: &str, pass: &str) -> Result<(), StoreError> {
    sqlx::query("UPDATE task_comments SET seen_in_pass_at = $2 WHERE id = $1")
        .bind(id)
        .bind(pass)
        .execute(conn)
        .await?;
    Ok(())
}

/// A page of the reconcile's comment listing.
#[derive(Clone, Copy, Debug)]
pub struct CommentPage<'a> {
    /// The page's comments, in listing order.
    pub comments: &'a [RemoteComment],
    /// How many items the page listed (malformed ones included).
    pub listed: usize,
    /// How far the listing lets the watermark move (see [`sync::comments_watermark`]): never
    /// past a comment an earlier page held it at.
    pub reach: Option<Timestamp>,
    /// The listing's `since`.
    pub since: Option<Timestamp>,
    /// The comments' watermark as this run last left it (its `since` before its first page).
    /// Found otherwise, someone lowered it meanwhile (an ambiguous delivery asking for a
    /// re-read), and the page does not raise it again.
    pub left: Option<Timestamp>,
}

/// A comment a full pass did not list, with its task's issue.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnseenComment {
    pub id: i64,
    pub issue_node_id: String,
    pub issue_number: i64,
}

/// What applying a page of comments did.
#[derive(Clone, Debug, Default)]
pub struct CommentsApplied {
    pub outcomes: Vec<CommentOutcome>,
    /// The comments' watermark the page left (`None`: unchanged).
    pub watermark: Option<Timestamp>,
    /// The time of the page's first comment whose issue is not known: the listing's later
    /// pages must not move the watermark past it either.
    pub held: Option<Timestamp>,
}

impl Store {
    /// What the project knows of each of these issue numbers (before a page is applied, so
    /// that the issues not known yet can be read from GitHub first).
    pub async fn issues_of_comments(
        &self,
        project_id: Uuid,
        numbers: &[i64],
    ) -> Result<HashMap<i64, CommentIssue>, StoreError> {
        let mut conn = self.pool.acquire().await?;
        let mut known = HashMap::new();
        for &n in numbers {
            if let std::collections::hash_map::Entry::Vacant(v) = known.entry(n) {
                v.insert(issue_of_comment_in(&mut conn, project_id, IssueKey::Number(n)).await?.issue);
            }
        }
        Ok(known)
    }

    /// Remembers that issue `number`'s comments are not the board's (a pull request, or an
    /// issue that is gone).
    pub async fn note_not_board(
        &self,
        project_id: Uuid,
        number: i64,
        kind: NotBoard,
    ) -> Result<(), StoreError> {
        let mut conn = self.pool.acquire().await?;
        note_not_board_in(&mut conn, project_id, number, kind).await
    }

    /// Applies a page of the comment listing and records where the run stands, in one
    /// transaction: each comment as its issue allows, the comments' watermark (held before
    /// the first comment whose issue is not known), the full pass's sightings and the run's
    /// counts. A run that lost its claim writes nothing.
    pub async fn apply_comment_page(
        &self,
        project_id: Uuid,
        page: CommentPage<'_>,
        checkpoint: &Checkpoint<'_>,
    ) -> Result<CommentsApplied, StoreError> {
        retry_races(|| async {
            let mut tx = self.begin().await?;
            let now = Timestamp::now();
            let mut applied = CommentsApplied::default();
            let mut positions = Vec::with_capacity(page.comments.len());
            // A page's comments gather on a few issues: each is looked up once.
            let mut issues: HashMap<i64, IssueOfComment> = HashMap::new();
            for comment in page.comments {
                let of = match issues.get(&comment.issue_number) {
                    Some(of) => *of,
                    None => {
                        let key = IssueKey::Number(comment.issue_number);
                        let of = issue_of_comment_in(&mut tx, project_id, key).await?;
                        issues.insert(comment.issue_number, of);
                        of
                    }
                };
                let seen =
                    SeenComment { comment, deleted: false, source: Source::Read, pass: checkpoint.pass };
                applied
                    .outcomes
                    .push(apply_comment_in(&mut tx, self.backend, project_id, of, seen, now).await?);
                positions.push((comment.updated_at, of.issue));
            }
            applied.watermark = sync::comments_watermark(&positions, page.reach, page.since);
            applied.held =
                positions.iter().find(|(_, issue)| *issue == CommentIssue::Unknown).map(|(at, _)| *at);
            let moved = sqlx::query(
                "UPDATE github_sync_config SET comments_watermark = CASE \
                 WHEN COALESCE(comments_watermark, '') <> $4 AND comments_watermark < $3 THEN comments_watermark \
                 ELSE COALESCE($3, comments_watermark) END WHERE id = $1 AND lease_token = $2",
            )
            .bind(checkpoint.claimed.config.id.to_string())
            .bind(&checkpoint.claimed.lease_token)
            .bind(applied.watermark.map(Timestamp::to_sql))
            .bind(page.left.map(Timestamp::to_sql).unwrap_or_default())
            .execute(&mut *tx)
            .await?;
            super::claim_held(moved.rows_affected())?;
            let mut counts = CommentCounts { fetched: page.listed as i64, ..Default::default() };
            sync::count_comments(&mut counts, &applied.outcomes);
            add_comment_counts_in(&mut tx, checkpoint.run_id, &counts, checkpoint.list_page).await?;
            tx.commit().await?;
            Ok(applied)
        })
        .await
    }

    /// Applies one comment a full pass looked up (`None`: GitHub says comment `id` is gone).
    pub async fn apply_comment_lookup(
        &self,
        project_id: Uuid,
        id: i64,
        found: Option<&RemoteComment>,
        pass: Timestamp,
    ) -> Result<CommentOutcome, StoreError> {
        retry_races(|| async {
            let mut tx = self.begin().await?;
            let now = Timestamp::now();
            let outcome = match found {
                Some(comment) => {
                    let of = issue_of_comment_in(&mut tx, project_id, IssueKey::Number(comment.issue_number))
                        .await?;
                    let seen =
                        SeenComment { comment, deleted: false, source: Source::Read, pass: Some(pass) };
                    apply_comment_in(&mut tx, self.backend, project_id, of, seen, now).await?
                }
                None => match stored_comment_in(&mut tx, self.backend, project_id, id).await? {
                    Some(row) if !row.deleted => {
                        // Deleted on GitHub: a board edit waiting for it makes a conflict.
                        super::board_comments::github_changed_in(
                            &mut tx,
                            &row,
                            Side::Deleted,
                            None,
                            None,
                            now,
                        )
                        .await?;
                        CommentOutcome::Deleted
                    }
                    _ => CommentOutcome::Unchanged,
                },
            };
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }

    /// The GitHub comments a full pass (started at `pass`) has to look up: on a task whose
    /// link is live, not deleted, and not shown by the pass's listing.
    pub async fn comments_unseen_by_pass(
        &self,
        project_id: Uuid,
        pass: Timestamp,
    ) -> Result<Vec<UnseenComment>, StoreError> {
        let rows: Vec<(i64, String, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT c.github_comment_id, m.github_issue_id, m.github_issue_number, m.remote_state, m.unlinked_at \
             FROM task_comments c \
             JOIN task_github_metadata m ON m.task_id = c.task_id \
             WHERE c.project_id = $1 AND c.github_comment_id IS NOT NULL AND c.deleted_at IS NULL \
             AND (c.seen_in_pass_at IS NULL OR c.seen_in_pass_at <> $2) ORDER BY c.github_comment_id",
        )
        .bind(project_id.to_string())
        .bind(pass.to_sql())
        .fetch_all(&self.pool)
        .await?;
        let mut unseen = Vec::new();
        for (id, issue_node_id, issue_number, state, unlinked_at) in rows {
            if super::rows::stored_link_live(&state, unlinked_at.is_some())? {
                unseen.push(UnseenComment { id, issue_node_id, issue_number });
            }
        }
        Ok(unseen)
    }

    /// A page of a task's thread, oldest first (comments deleted on either side left out,
    /// unless a conflict keeps them for a person): up to
    /// [`PageRequest::fetch`] rows after the request's cursor.
    pub async fn task_comments(
        &self,
        task_id: Uuid,
        request: &PageRequest,
    ) -> Result<Vec<TaskComment>, StoreError> {
        self.get_task(task_id).await?;
        let rows: Vec<CommentRow> = sqlx::query_as(concat!(
            comment_select!(),
            " WHERE c.task_id = $1 AND ",
            shown_in_thread!(),
            " AND ($2 = '' OR c.created_at > $2 OR (c.created_at = $2 AND c.id > $3)) \
             ORDER BY c.created_at, c.id LIMIT $4"
        ))
        .bind(task_id.to_string())
        .bind(request.after.map(|c| c.at.to_sql()).unwrap_or_default())
        .bind(request.after.map(|c| c.id.to_string()).unwrap_or_default())
        .bind(request.fetch())
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }
}

/// Adds a page's comment counts to the run's history row (its progress while it runs).
async fn add_comment_counts_in(
    conn: &mut AnyConnection,
    run_id: Uuid,
    counts: &CommentCounts,
    list_page: bool,
) -> Result<(), StoreError> {
    sqlx::query(
        "UPDATE sync_history SET comments_fetched = comments_fetched + $2, \
         comments_created = comments_created + $3, comments_updated = comments_updated + $4, \
         comments_deleted = comments_deleted + $5, pages_fetched = pages_fetched + $6 \
         WHERE id = $1 AND status = 'in_progress'",
    )
    .bind(run_id.to_string())
    .bind(counts.fetched)
    .bind(counts.created)
    .bind(counts.updated)
    .bind(counts.deleted)
    .bind(i64::from(list_page))
    .execute(conn)
    .await?;
    Ok(())
}
