//! Issue comments on GitHub: the repository-wide listing (pull requests' comments included,
//! each naming its issue only by `issue_url`), reading one comment, and a comment as GitHub
//! shows it turned into the comment rules' snapshot.

use super::*;
use crate::domain::{GHOST, RemoteComment, issue_number_of};

/// A comment as GitHub's REST API and `issue_comment` deliveries show it (the fields ghsync
/// reads).
#[derive(Clone, Debug, Deserialize)]
pub struct GhComment {
    pub id: i64,
    pub node_id: String,
    pub html_url: String,
    /// `…/repos/{owner}/{repo}/issues/{n}`: the listing's only word on the comment's issue.
    pub issue_url: String,
    /// `null` for a deleted account.
    pub user: Option<GhUser>,
    #[serde(default)]
    pub body: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

impl Listed for GhComment {
    const KEY: &'static str = "id";
}

impl GhComment {
    /// The snapshot of a comment of `repo` on `web`: its issue number read from `issue_url`,
    /// its URL checked to be that issue's comment there.
    pub fn into_remote(self, web: &WebHost, repo: &RepoRef) -> Result<RemoteComment, ValidationError> {
        let time = |field: &'static str, s: &str| {
            s.parse::<Timestamp>()
                .map_err(|e| ValidationError::new(field, format!("must be an RFC 3339 time: {e}")))
        };
        let comment = RemoteComment {
            id: self.id,
            node_id: self.node_id,
            issue_number: issue_number_of(&self.issue_url, repo)?,
            html_url: self.html_url,
            author_login: self.user.map_or_else(|| GHOST.to_string(), |u| u.login),
            body: self.body.unwrap_or_default(),
            created_at: time("comment.created_at", &self.created_at)?,
            updated_at: time("comment.updated_at", &self.updated_at)?,
        };
        comment.validate_origin(web, repo)?;
        Ok(comment)
    }
}

/// What reading one comment by id found.
#[derive(Debug)]
pub enum CommentLookup {
    Found(GhComment),
    /// `404` / `410`: deleted, or its issue is (or the repository's issues are off).
    Gone,
    /// A redirect: its issue was transferred to another repository.
    Moved,
}

impl GitHub {
    /// The first page of `repo`'s issue comments (pull requests' too), oldest change first,
    /// changed at or after `since`.
    pub fn comments_listing(&self, repo: &RepoRef, since: Option<Timestamp>) -> Url {
        let mut url = self.repo_url(repo, &["issues", "comments"]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("sort", "updated")
                .append_pair("direction", "asc")
                .append_pair("per_page", &PER_PAGE.to_string());
            if let Some(since) = since {
                q.append_pair("since", &since.as_datetime().format("%Y-%m-%dT%H:%M:%SZ").to_string());
            }
        }
        url
    }

    /// Reads comment `id` of `repo`: found, gone (404/410) or moved (a redirect, not
    /// followed).
    pub async fn get_comment(
        &self,
        repo: &RepoRef,
        id: i64,
        pat: &Secret,
        requests: &mut u32,
    ) -> Result<CommentLookup, GitHubError> {
        let url = self.repo_url(repo, &["issues", "comments", &id.to_string()]);
        let r = self.get(&url, pat, None, requests).await?;
        match r.status {
            s if s.is_success() => Ok(CommentLookup::Found(r.json()?)),
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(CommentLookup::Gone),
            StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::TEMPORARY_REDIRECT => {
                Ok(CommentLookup::Moved)
            }
            s => Err(GitHubError::Unexpected(s.as_u16())),
        }
    }

    /// Posts a comment on issue `number` of `repo` (`POST`, never retried: a failed attempt
    /// may have created it). GitHub answers with the new comment.
    pub async fn create_comment(
        &self,
        repo: &RepoRef,
        number: i64,
        body: &str,
        pat: &Secret,
        requests: &mut u32,
    ) -> Result<GhComment, GitHubError> {
        let url = self.repo_url(repo, &["issues", &number.to_string(), "comments"]);
        let body = serde_json::json!({ "body": body });
        let r = self.send(Method::POST, &url, pat, None, Some(&body), requests).await?;
        expect_success(&r)?;
        r.json()
    }

    /// Replaces comment `id`'s body (`PATCH`); GitHub answers with the comment as it now is.
    pub async fn update_comment(
        &self,
        repo: &RepoRef,
        id: i64,
        body: &str,
        pat: &Secret,
        requests: &mut u32,
    ) -> Result<GhComment, GitHubError> {
        let url = self.repo_url(repo, &["issues", "comments", &id.to_string()]);
        let body = serde_json::json!({ "body": body });
        let r = self.send(Method::PATCH, &url, pat, None, Some(&body), requests).await?;
        expect_success(&r)?;
        r.json()
    }

    /// Deletes comment `id` (`DELETE`): `true` when GitHub deleted it now, `false` when it was
    /// gone already (404/410).
    pub async fn delete_comment(
        &self,
        repo: &RepoRef,
        id: i64,
        pat: &Secret,
        requests: &mut u32,
    ) -> Result<bool, GitHubError> {
        let url = self.repo_url(repo, &["issues", "comments", &id.to_string()]);
        let r = self.send(Method::DELETE, &url, pat, None, None, requests).await?;
        match r.status {
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(false),
            _ => expect_success(&r).map(|()| true),
        }
    }

    /// Issue `number`'s comments changed at or after `since` (one page of 100, oldest first):
    /// where a post whose answer was lost is looked for by its marker.
    pub async fn issue_comments_since(
        &self,
        repo: &RepoRef,
        number: i64,
        since: Timestamp,
        pat: &Secret,
        requests: &mut u32,
    ) -> Result<Vec<GhComment>, GitHubError> {
        let mut url = self.repo_url(repo, &["issues", &number.to_string(), "comments"]);
        url.query_pairs_mut()
            .append_pair("since", &since.as_datetime().format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .append_pair("per_page", &PER_PAGE.to_string());
        let r = self.get(&url, pat, None, requests).await?;
        expect_success(&r)?;
        r.json()
    }
}
