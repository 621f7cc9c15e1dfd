//! GitHub's REST API: one octocrab client (one connection pool) for every PAT, the token
//! passed per request, and GitHub's issue JSON parsed into [`RemoteIssue`]s.
//!
//! octocrab's own retries and redirect-following are off: retries and backoff are decided
//! by the reconciler, which has to honour rate limits, and a `301` for a transferred issue
//! must be seen, not followed.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde::Deserialize;

use crate::crypto::Pat;
use crate::domain::{Content, IssueState, RemoteIssue, RepoRef, ValidationError};
use crate::time::Timestamp;

/// What can go wrong talking to GitHub.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("GitHub refused the token (401 Bad credentials)")]
    BadCredentials,
    #[error("the token cannot access {repo} (GitHub answered {status})")]
    NoAccess { repo: String, status: u16 },
    #[error("GitHub rate limit reached (HTTP {status})")]
    RateLimited { status: u16, retry_after: Option<Duration>, reset_at: Option<Timestamp> },
    #[error("GitHub is unreachable: {0}")]
    Unreachable(String),
    #[error("GitHub answered HTTP {0}")]
    Server(u16),
    #[error("GitHub answered HTTP {0} unexpectedly")]
    Unexpected(u16),
    #[error("GitHub sent a malformed response: {0}")]
    Malformed(String),
}

impl GitHubError {
    /// A 5xx, a timeout or a lost connection: worth a bounded retry with backoff.
    pub fn is_transient(&self) -> bool {
        matches!(self, GitHubError::Unreachable(_) | GitHubError::Server(_))
    }
}

/// A GitHub response, read whole.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A GitHub REST client for any number of tokens.
#[derive(Clone, Debug)]
pub struct GitHub {
    octo: Octocrab,
    base: String,
}

impl GitHub {
    /// A client for `base_url` (`https://api.github.com`, a GitHub Enterprise API, or a
    /// local server in tests) with connect and read timeouts of `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, GitHubError> {
        let base = base_url.trim_end_matches('/').to_string();
        let octo = Octocrab::builder()
            .base_uri(base.as_str())
            .map_err(|e| GitHubError::Unreachable(format!("bad GITHUB_API_URL: {e}")))?
            .set_connect_timeout(Some(timeout))
            .set_read_timeout(Some(timeout))
            .build()
            .map_err(|e| GitHubError::Unreachable(format!("cannot build the HTTP client: {e}")))?;
        Ok(Self { octo, base })
    }

    /// The API base URL.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// `GET` a path (or a full URL from a `Link` header) with the token; `etag` makes it
    /// conditional. Rate limits and server errors become errors; every other status is
    /// returned for the caller to interpret.
    pub async fn get(
        &self,
        path_or_url: &str,
        pat: &Pat,
        etag: Option<&str>,
    ) -> Result<Response, GitHubError> {
        let url = if path_or_url.starts_with("http") {
            path_or_url.to_string()
        } else {
            format!("{}{path_or_url}", self.base)
        };
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_static("application/vnd.github+json"));
        headers.insert("x-github-api-version", HeaderValue::from_static("2022-11-28"));
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", pat.expose()))
            .map_err(|_| GitHubError::BadCredentials)?;
        auth.set_sensitive(true);
        headers.insert(header::AUTHORIZATION, auth);
        if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
            headers.insert(header::IF_NONE_MATCH, etag);
        }
        let response = self
            .octo
            ._get_with_headers(url.as_str(), Some(headers))
            .await
            .map_err(|e| GitHubError::Unreachable(describe_octocrab_error(&e)))?;
        let (parts, body) = response.into_parts();
        let body = body
            .collect()
            .await
            .map_err(|e| {
                GitHubError::Unreachable(format!(
                    "reading the response failed: {}",
                    describe_octocrab_error(&e)
                ))
            })?
            .to_bytes();
        let response = Response { status: parts.status, headers: parts.headers, body };
        if let Some(limited) = rate_limit(&response) {
            return Err(limited);
        }
        if response.status.is_server_error() {
            return Err(GitHubError::Server(response.status.as_u16()));
        }
        if response.status == StatusCode::UNAUTHORIZED {
            return Err(GitHubError::BadCredentials);
        }
        Ok(response)
    }

    /// Checks that `pat` can read `repo` (`GET /repos/{owner}/{repo}`).
    #[tracing::instrument(skip(self, pat), fields(repo = %repo))]
    pub async fn check_repo(&self, repo: &RepoRef, pat: &Pat) -> Result<(), GitHubError> {
        let response = self.get(&format!("/repos/{}/{}", repo.owner, repo.name), pat, None).await?;
        match response.status {
            s if s.is_success() => Ok(()),
            StatusCode::FORBIDDEN | StatusCode::NOT_FOUND => {
                Err(GitHubError::NoAccess { repo: repo.to_string(), status: response.status.as_u16() })
            }
            s => Err(GitHubError::Unexpected(s.as_u16())),
        }
    }
}

/// The `rel="next"` URL of a `Link` header.
pub fn next_link(headers: &HeaderMap) -> Option<String> {
    let link = headers.get(header::LINK)?.to_str().ok()?;
    link.split(',').find_map(|part| {
        let (url, params) = part.split_once(';')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p == "rel=\"next\"" || p == "rel=next"
        });
        is_next.then(|| url.trim().trim_start_matches('<').trim_end_matches('>').to_string())
    })
}

impl GitHub {
    /// Whether `url` points at this client's API (scheme, host and port): the token is
    /// never sent anywhere else, whatever a `Link` or `Location` header says.
    pub fn is_own_url(&self, url: &str) -> bool {
        fn origin(u: &str) -> Option<(&str, &str)> {
            let (scheme, rest) = u.split_once("://")?;
            Some((scheme, rest.split('/').next().unwrap_or(rest)))
        }
        matches!((origin(url), origin(&self.base)), (Some(a), Some(b)) if a.0.eq_ignore_ascii_case(b.0) && a.1.eq_ignore_ascii_case(b.1))
    }
}

/// octocrab's error text without anything request-specific beyond the URL.
fn describe_octocrab_error(e: &octocrab::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// A 429, or a 403 that is a rate limit (primary: `x-ratelimit-remaining: 0`; secondary:
/// `retry-after`), with when to try again.
fn rate_limit(r: &Response) -> Option<GitHubError> {
    let status = r.status.as_u16();
    let retry_after =
        r.header("retry-after").and_then(|v| v.trim().parse::<u64>().ok()).map(Duration::from_secs);
    let reset_at = r
        .header("x-ratelimit-reset")
        .and_then(|v| v.trim().parse::<i64>().ok())
        .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
        .map(Timestamp::from);
    let exhausted = r.header("x-ratelimit-remaining").is_some_and(|v| v.trim() == "0");
    let limited = status == 429 || (status == 403 && (exhausted || retry_after.is_some()));
    limited.then_some(GitHubError::RateLimited { status, retry_after, reset_at })
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
}

impl GhIssue {
    /// The snapshot, or `None` for a pull request (never imported).
    pub fn into_remote(self) -> Result<Option<RemoteIssue>, ValidationError> {
        if self.pull_request.is_some() {
            return Ok(None);
        }
        let updated_at = self
            .updated_at
            .parse()
            .map_err(|e| ValidationError::new("updated_at", format!("must be an RFC 3339 time: {e}")))?;
        let issue = RemoteIssue {
            node_id: self.node_id,
            number: self.number,
            html_url: self.html_url,
            content: Content::new(self.title, self.body)?,
            state: IssueState::from_github(&self.state, self.state_reason.as_deref())?,
            updated_at,
        };
        issue.validate()?;
        Ok(Some(issue))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&'static str, &str)]) -> Response {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        Response { status: StatusCode::from_u16(status).unwrap(), headers: map, body: Bytes::new() }
    }

    #[test]
    fn rate_limits_are_told_from_other_refusals() {
        assert!(rate_limit(&response(429, &[])).is_some());
        let primary = rate_limit(&response(
            403,
            &[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "1767607200")],
        ));
        match primary {
            Some(GitHubError::RateLimited { reset_at: Some(t), .. }) => {
                assert_eq!(t.to_sql(), "2026-01-05T10:00:00.000Z")
            }
            other => panic!("{other:?}"),
        }
        let secondary = rate_limit(&response(403, &[("retry-after", "60")]));
        assert!(
            matches!(secondary, Some(GitHubError::RateLimited { retry_after: Some(d), .. }) if d.as_secs() == 60)
        );
        assert!(rate_limit(&response(403, &[("x-ratelimit-remaining", "4999")])).is_none());
        assert!(rate_limit(&response(404, &[])).is_none());
    }

    #[test]
    fn the_next_link_is_found_among_the_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::LINK,
            HeaderValue::from_static(
                "<https://api.github.com/repositories/1/issues?page=3>; rel=\"next\", \
                 <https://api.github.com/repositories/1/issues?page=9>; rel=\"last\"",
            ),
        );
        assert_eq!(next_link(&h).as_deref(), Some("https://api.github.com/repositories/1/issues?page=3"));
        h.insert(header::LINK, HeaderValue::from_static("<https://x/?page=1>; rel=\"prev\""));
        assert_eq!(next_link(&h), None);
    }

    #[tokio::test]
    async fn the_token_only_goes_to_the_configured_api() {
        let gh = GitHub::new("https://api.github.com/", Duration::from_secs(1)).unwrap();
        assert!(gh.is_own_url("https://api.github.com/repositories/1/issues?page=2"));
        assert!(!gh.is_own_url("https://api.github.com.evil.example/x"));
        assert!(!gh.is_own_url("http://api.github.com/x"));
        assert!(!gh.is_own_url("https://evil.example/https://api.github.com/"));
    }

    #[test]
    fn pull_requests_are_not_issues() {
        let json = r#"{"node_id":"PR_1","number":3,"html_url":"https://github.com/o/r/pull/3","title":"t",
            "body":null,"state":"open","state_reason":null,"updated_at":"2026-01-05T10:00:00Z",
            "pull_request":{"url":"https://api.github.com/repos/o/r/pulls/3"}}"#;
        let issue: GhIssue = serde_json::from_str(json).unwrap();
        assert_eq!(issue.into_remote().unwrap(), None);
    }
}
