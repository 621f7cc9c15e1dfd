//! A task's thread: comments as the board shows them, and a GitHub comment as the sync rules
//! take it (docs/comments.md).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{RepoRef, ValidationError, WebHost};
use crate::time::Timestamp;

/// One comment of a task's thread, as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct TaskComment {
    pub id: Uuid,
    pub task_id: Uuid,
    /// Markdown text, shown as text (never rendered as HTML by the console).
    pub body: String,
    /// Who wrote it: the GitHub login of a GitHub comment.
    pub author: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// Where it lives on GitHub; `null` for a comment not (yet) on GitHub.
    pub github: Option<GitHubComment>,
    /// Where it was written: GitHub comments are read-only on the board.
    pub origin: CommentOrigin,
    /// A post, edit or deletion of it waits to reach GitHub (also while it is paced under
    /// GitHub's limits: waiting is not failing).
    pub push_pending: bool,
    /// Why GitHub refused its last push, or why it will not go (its entry ended).
    pub push_error: Option<String>,
    /// A board comment that stays on the board: its project is one-way (or has no sync
    /// config). Turning two-way on offers it.
    pub local_only: bool,
    /// Changed on both sides since the last sync: GitHub's side, waiting for a person.
    pub conflict: Option<CommentConflict>,
}

text_enum!(
    /// Where a comment was written (`task_comments.origin`).
    CommentOrigin, "origin" {
        Github = "github",
        Board = "board",
    }
);

/// GitHub's side of a board comment changed on both sides.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct CommentConflict {
    /// The text GitHub shows (without ghsync's attribution and marker); `null`: GitHub
    /// deleted the comment.
    pub github_body: Option<String>,
    pub found_at: Timestamp,
}

/// A comment's identity on GitHub.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct GitHubComment {
    pub comment_id: i64,
    /// `https://github.com/{owner}/{repo}/issues/{n}#issuecomment-{id}`.
    pub url: String,
    pub author_login: String,
}

/// What a sync run did to the threads: comments the listing showed, and what the listed and
/// looked-up ones did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct CommentCounts {
    pub fetched: i64,
    pub created: i64,
    pub updated: i64,
    pub deleted: i64,
}

impl CommentCounts {
    /// Comments whose thread changed: created, updated or deleted.
    pub fn changed(&self) -> i64 {
        self.created + self.updated + self.deleted
    }
}

/// A comment as GitHub last showed it: what the comment rules need of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteComment {
    pub id: i64,
    pub node_id: String,
    /// The number of the issue (or pull request) it was written on.
    pub issue_number: i64,
    /// `html_url`, checked to be the issue's comment on the followed repository's host.
    pub html_url: String,
    /// `user.login`; `ghost` when the account is gone (GitHub shows `null` then).
    pub author_login: String,
    pub body: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// The author shown for a comment whose account was deleted (GitHub's own name for it).
pub const GHOST: &str = "ghost";

impl RemoteComment {
    /// Checks that the comment is of issue `issue_number` of `repo` on `web`: its `html_url`
    /// is `https://{web}/{owner}/{repo}/issues/{n}#issuecomment-{id}` (or `/pull/{n}`, for a
    /// pull request's, which the caller leaves out anyway).
    pub fn validate_origin(&self, web: &WebHost, repo: &RepoRef) -> Result<(), ValidationError> {
        let bad = || {
            ValidationError::new(
                "comment.html_url",
                format!(
                    "must be https://{}/{repo}/issues/{}#issuecomment-{}, not {:?}",
                    web.as_str(),
                    self.issue_number,
                    self.id,
                    self.html_url
                ),
            )
        };
        let rest = self.html_url.strip_prefix("https://").ok_or_else(bad)?;
        let (path, fragment) = rest.split_once('#').ok_or_else(bad)?;
        let parts: Vec<&str> = path.split('/').collect();
        let [host, owner, name, "issues" | "pull", n] = parts.as_slice() else {
            return Err(bad());
        };
        let fine = host.eq_ignore_ascii_case(web.as_str())
            && repo.is(owner, name)
            && *n == self.issue_number.to_string()
            && fragment == format!("issuecomment-{}", self.id);
        if !fine || self.id <= 0 || self.node_id.is_empty() {
            return Err(bad());
        }
        Ok(())
    }
}

/// The issue number an API `issue_url` (`…/repos/{owner}/{repo}/issues/{n}`) names; it must
/// be an issue of `repo`.
pub fn issue_number_of(issue_url: &str, repo: &RepoRef) -> Result<i64, ValidationError> {
    let bad = || {
        ValidationError::new(
            "comment.issue_url",
            format!("must end in /repos/{repo}/issues/{{n}}, not {issue_url:?}"),
        )
    };
    let parts: Vec<&str> = issue_url.rsplitn(5, '/').collect();
    let [n, "issues", name, owner, rest] = parts.as_slice() else {
        return Err(bad());
    };
    if !rest.ends_with("/repos") || !repo.is(owner, name) {
        return Err(bad());
    }
    n.parse::<i64>().ok().filter(|n| *n > 0).ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn comment(html_url: &str) -> RemoteComment {
        let at: Timestamp = "2026-01-05T10:00:00Z".parse().unwrap();
        RemoteComment {
            id: 9,
            node_id: "IC_9".into(),
            issue_number: 4,
            html_url: html_url.into(),
            author_login: "ana".into(),
            body: "hi".into(),
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_comment_must_be_of_its_issue_on_the_followed_repository() {
        let (web, repo) = (WebHost::github_com(), RepoRef::parse("o/r").unwrap());
        for good in
            ["https://github.com/o/r/issues/4#issuecomment-9", "https://github.com/O/R/pull/4#issuecomment-9"]
        {
            assert!(comment(good).validate_origin(&web, &repo).is_ok(), "{good}");
        }
        for bad in [
            "http://github.com/o/r/issues/4#issuecomment-9",
            "https://evil.example/o/r/issues/4#issuecomment-9",
            "https://github.com/o/other/issues/4#issuecomment-9",
            "https://github.com/o/r/issues/5#issuecomment-9",
            "https://github.com/o/r/issues/4#issuecomment-10",
            "https://github.com/o/r/issues/4",
            "https://github.com/o/r/issues/4/x#issuecomment-9",
        ] {
            assert_eq!(
                comment(bad).validate_origin(&web, &repo).unwrap_err().field,
                "comment.html_url",
                "{bad}"
            );
        }
    }

    #[test]
    fn the_issue_number_comes_from_the_issue_url_of_the_repository() {
        let repo = RepoRef::parse("o/r").unwrap();
        assert_eq!(issue_number_of("https://api.github.com/repos/o/r/issues/42", &repo).unwrap(), 42);
        assert_eq!(issue_number_of("https://ghe.example/api/v3/repos/O/R/issues/7", &repo).unwrap(), 7);
        for bad in [
            "",
            "https://api.github.com/repos/o/r/pulls/42",
            "https://api.github.com/repos/o/other/issues/42",
            "https://api.github.com/repos/o/r/issues/0",
            "https://api.github.com/repos/o/r/issues/n",
            "https://x/issues/4",
        ] {
            assert!(issue_number_of(bad, &repo).is_err(), "{bad:?}");
        }
    }
}
