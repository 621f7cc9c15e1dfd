//! Issues on GitHub: listing a repository's issues page by page, reading one, opening and
//! changing one, and the issue as GitHub shows it turned into the sync rules' snapshot.

use super::*;

/// GitHub's page size for the issue listing.
pub const PER_PAGE: usize = 100;

/// One page of a listing (of issues, unless it says otherwise).
#[derive(Debug)]
pub enum Page<T = GhIssue> {
    /// `304`: the page is as it was when its ETag was taken.
    NotModified,
    Listed {
        /// The page's items in order, each parsed on its own: one malformed issue does not
        /// make the page unreadable.
        items: Vec<Result<T, MalformedItem>>,
        /// The `rel="next"` page, on this API.
        next: Option<Url>,
        etag: Option<String>,
    },
}

/// An item of a listing that is not what GitHub documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MalformedItem {
    /// Its number (an issue's) or id (a comment's), when it has one.
    pub number: Option<i64>,
    pub reason: String,
}

/// What reading one issue by number found.
#[derive(Debug)]
pub enum Lookup {
    /// It is there (it may have changed meanwhile).
    Found(GhIssue),
    /// `404` / `410`: deleted (or no longer visible).
    Gone,
    /// `301`: transferred; the new issue when its location could be read on this API.
    Moved(Option<GhIssue>),
}

/// A `301` as the gone rule takes it: a transfer, into the followed `repo` on `web` when the
/// new issue lies there ([`crate::sync::transfer`]), with the new issue's snapshot when it
/// reads as one of `repo`'s.
pub fn moved_to(
    moved: Option<GhIssue>,
    web: &WebHost,
    repo: &RepoRef,
) -> (crate::sync::Disappearance, Option<RemoteIssue>) {
    let new = moved.and_then(|m| m.into_remote(web, repo).ok().flatten());
    (crate::sync::transfer(new.as_ref(), web, repo), new)
}

impl GitHub {
    /// The first page of `repo`'s issues (pull requests included, as GitHub lists them),
    /// oldest change first, changed at or after `since`.
    pub fn issues_listing(&self, repo: &RepoRef, since: Option<Timestamp>) -> Url {
        let mut url = self.repo_url(repo, &["issues"]);
        {
            let mut q = url.query_pairs_mut();
            q.append_pair("state", "all")
                .append_pair("sort", "updated")
                .append_pair("direction", "asc")
                .append_pair("per_page", &PER_PAGE.to_string());
            if let Some(since) = since {
                q.append_pair("since", &since.as_datetime().format("%Y-%m-%dT%H:%M:%SZ").to_string());
            }
        }
        url
    }

    /// `GET` one page of a listing of `T` (issues, or comments); with `etag`, conditionally.
    /// `requests` counts every request made, retries included.
    pub async fn list_page<T: Listed>(
        &self,
        repo: &RepoRef,
        page: &Url,
        pat: &Secret,
        etag: Option<&str>,
        requests: &mut u32,
    ) -> Result<Page<T>, GitHubError> {
        let r = self.get(page, pat, etag, requests).await?;
        if r.status == StatusCode::NOT_MODIFIED {
            return Ok(Page::NotModified);
        }
        expect_readable(&r, repo)?;
        let raw: Vec<serde_json::Value> = r.json()?;
        let items = raw
            .into_iter()
            .map(|item| {
                let number = item.get(T::KEY).and_then(serde_json::Value::as_i64);
                serde_json::from_value::<T>(item).map_err(|e| MalformedItem { number, reason: e.to_string() })
            })
            .collect();
        let next = match next_link(&r.headers) {
            Some(next) => {
                let next = Url::parse(&next).map_err(|e| GitHubError::Malformed(format!("Link: {e}")))?;
                if !self.is_own_url(&next) {
                    return Err(GitHubError::Malformed("a Link header points away from the API".into()));
                }
                Some(next)
            }
            None => None,
        };
        Ok(Page::Listed { items, next, etag: r.header("etag").map(str::to_string) })
    }

    /// Reads issue `number` of `repo`: found, gone (404/410) or moved (301, followed once
    /// when the new location is on this API).
    pub async fn get_issue(
        &self,
        repo: &RepoRef,
        number: i64,
        pat: &Secret,
        requests: &mut u32,
    ) -> Result<Lookup, GitHubError> {
        let url = self.repo_url(repo, &["issues", &number.to_string()]);
        let r = self.get(&url, pat, None, requests).await?;
        match r.status {
            s if s.is_success() => Ok(Lookup::Found(r.json()?)),
            StatusCode::NOT_FOUND | StatusCode::GONE => Ok(Lookup::Gone),
            StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::TEMPORARY_REDIRECT => {
                let location = r.header("location").and_then(|l| url.join(l).ok());
                let Some(location) = location.filter(|l| self.is_own_url(l)) else {
                    return Ok(Lookup::Moved(None));
                };
                let moved = self.get(&location, pat, None, requests).await?;
                Ok(Lookup::Moved(if moved.status.is_success() { Some(moved.json()?) } else { None }))
            }
            s => Err(GitHubError::Unexpected(s.as_u16())),
        }
    }

    /// Changes issue `number` of `repo` (`PATCH`): the fields `change` names, nothing else.
    /// GitHub's answer is the issue as it now is. A refusal (403, 404, 410, 422, a `301` of a
    /// transferred issue) is [`GitHubError::Refused`] with GitHub's message.
    pub async fn update_issue(
        &self,
        repo: &RepoRef,
        number: i64,
        pat: &Secret,
        change: &IssueChange<'_>,
        requests: &mut u32,
    ) -> Result<GhIssue, GitHubError> {
        let url = self.repo_url(repo, &["issues", &number.to_string()]);
        let body = serde_json::to_value(change).map_err(GitHubError::BadJson)?;
        let r = self.send(Method::PATCH, &url, pat, None, Some(&body), requests).await?;
        expect_success(&r)?;
        r.json()
    }

    /// Opens a new issue in `repo` with `content`, its body ending with the marker of `task`
    /// (`POST`, never retried: a failed attempt may have created it).
    pub async fn create_issue(
        &self,
        repo: &RepoRef,
        content: &Content,
        task: uuid::Uuid,
        pat: &Secret,
        requests: &mut u32,
    ) -> Result<GhIssue, GitHubError> {
        let url = self.repo_url(repo, &["issues"]);
        let body = serde_json::json!({
            "title": content.title,
            "body": crate::sync::publish::body_with_marker(content.description.as_deref(), Some(task)),
        });
        let r = self.send(Method::POST, &url, pat, None, Some(&body), requests).await?;
        expect_success(&r)?;
        r.json()
    }

    /// The newest issues of `repo` that `login` opened, newest first (`GET …/issues?creator=`,
    /// sorted by creation: the listing is current at once, unlike search, whose index lags).
    pub async fn issues_created_by(
        &self,
        repo: &RepoRef,
        login: &str,
        pat: &Secret,
        requests: &mut u32,
    ) -> Result<Vec<GhIssue>, GitHubError> {
        let mut url = self.repo_url(repo, &["issues"]);
        url.query_pairs_mut()
            .append_pair("creator", login)
            .append_pair("state", "all")
            .append_pair("sort", "created")
            .append_pair("direction", "desc")
            .append_pair("per_page", &PER_PAGE.to_string());
        let r = self.get(&url, pat, None, requests).await?;
        expect_success(&r)?;
        r.json()
    }
}

/// The fields of an issue a push changes (`PATCH /repos/{o}/{r}/issues/{n}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct IssueChange<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<&'a str>,
    /// `""` clears the body (the marker of a published issue is kept).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// `open` or `closed`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<&'static str>,
    /// `completed`, `not_planned` or `reopened`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state_reason: Option<&'static str>,
    /// The milestone's number; `null` removes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub milestone: Option<Option<i64>>,
}

impl<'a> IssueChange<'a> {
    /// What GitHub is sent for a push: the fields it writes, nothing else; a body keeps the
    /// marker of the task the issue was published for (`marker`).
    pub fn of(fields: &'a crate::sync::Fields, marker: Option<uuid::Uuid>) -> Self {
        // An issue opened again says so: GitHub's reason for that is `reopened`.
        let (state, state_reason) = match fields.state.map(IssueState::to_github) {
            None => (None, None),
            Some((state, reason)) => (Some(state), Some(reason.unwrap_or("reopened"))),
        };
        Self {
            title: fields.title.as_deref(),
            body: fields
                .description
                .as_ref()
                .map(|d| crate::sync::publish::body_with_marker(d.as_deref(), marker)),
            state,
            state_reason,
            milestone: fields.milestone.as_ref().map(|m| m.as_ref().map(|m| m.number)),
        }
    }
}

/// An item of a listing: parsed on its own, named by its `KEY` field when it is malformed.
pub trait Listed: serde::de::DeserializeOwned {
    const KEY: &'static str;
}

impl Listed for GhIssue {
    const KEY: &'static str = "number";
}

/// An issue as GitHub's REST API and webhooks show it (the fields ghsync reads).
#[derive(Clone, Debug, Deserialize)]
pub struct GhIssue {
    pub node_id: String,
    pub number: i64,
    pub html_url: String,
    pub title: String,
    pub body: Option<String>,
    pub state: String,
    pub state_reason: Option<String>,
    pub updated_at: String,
    /// Present on pull requests, which the issues API lists too.
    pub pull_request: Option<serde::de::IgnoredAny>,
    #[serde(default)]
    pub labels: Vec<GhLabel>,
    #[serde(default)]
    pub assignees: Vec<GhUser>,
    pub milestone: Option<GhMilestone>,
}

/// A label as an issue shows it.
#[derive(Clone, Debug, Deserialize)]
pub struct GhLabel {
    pub name: String,
    #[serde(default)]
    pub color: Option<String>,
}

/// A user as an issue shows it (the login is all ghsync reads).
#[derive(Clone, Debug, Deserialize)]
pub struct GhUser {
    pub login: String,
}

/// A milestone as an issue shows it.
#[derive(Clone, Debug, Deserialize)]
pub struct GhMilestone {
    pub number: i64,
    pub title: String,
}

impl GhIssue {
    /// The snapshot of an issue of `repo` on `web`, or `None` for a pull request (never
    /// imported). The issue must name its own repository and number on that host.
    pub fn into_remote(self, web: &WebHost, repo: &RepoRef) -> Result<Option<RemoteIssue>, ValidationError> {
        if self.pull_request.is_some() {
            return Ok(None);
        }
        // ghsync's marker (an issue it published) is not content: it is stripped here, before
        // anything compares or shows the body.
        let (body, marker) = match self.body.as_deref() {
            Some(body) => {
                let (text, marker) = crate::sync::publish::strip_marker(body);
                (Some(text.to_string()), marker)
            }
            None => (None, None),
        };
        let issue = RemoteIssue {
            node_id: self.node_id,
            number: self.number,
            html_url: self.html_url,
            content: Content::new(self.title, body)?.with_milestone(
                self.milestone
                    .as_ref()
                    .map(|m| crate::domain::Milestone { number: m.number, title: m.title.clone() }),
            ),
            state: IssueState::from_github(&self.state, self.state_reason.as_deref())?,
            updated_at: parse_updated_at(&self.updated_at)?,
            extras: IssueExtras {
                labels: self
                    .labels
                    .into_iter()
                    .map(|l| Label { name: l.name, color: l.color.unwrap_or_default() })
                    .collect(),
                assignees: self.assignees.into_iter().map(|u| u.login).collect(),
                milestone: self.milestone.map(|m| m.title),
            },
            marker,
        };
        issue.validate_origin(web, repo)?;
        Ok(Some(issue))
    }

    /// The issue's `updated_at`.
    pub fn updated_at(&self) -> Result<Timestamp, ValidationError> {
        parse_updated_at(&self.updated_at)
    }
}

fn parse_updated_at(s: &str) -> Result<Timestamp, ValidationError> {
    s.parse().map_err(|e| ValidationError::new("updated_at", format!("must be an RFC 3339 time: {e}")))
}
