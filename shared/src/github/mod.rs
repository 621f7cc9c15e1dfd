//! GitHub's REST API: the one place that speaks it. Typed operations (list a page of issues,
//! read one issue, check a repository) over one octocrab client (one connection pool) for
//! every token, the token passed per request.
//!
//! This file owns the protocol: URLs and query strings (built with the `url` crate), status
//! codes, retries of transient failures with backoff and jitter, rate-limit headers, `Link`
//! pagination and the same-origin rule (the token never leaves the configured API, whatever
//! a `Link` or `Location` header says). octocrab's own retries and redirect-following are
//! off: a `301` for a transferred issue must be seen, not followed, and a rate limit is the
//! reconciler's to wait out.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use http_body_util::BodyExt;
use octocrab::Octocrab;
use serde::{Deserialize, Serialize};
use url::Url;

use crate::crypto::Secret;
use crate::domain::{
    Content, IssueExtras, IssueState, IssuesAccess, Label, RemoteIssue, RepoRef, TokenSource,
    ValidationError, WebHost,
};
use crate::time::Timestamp;

mod app;
mod comments;
mod fields;
mod issues;
mod repos;

pub use app::*;
pub use comments::*;
pub use fields::*;
pub use issues::*;
pub use repos::*;

/// What can go wrong talking to GitHub.
#[derive(Debug, thiserror::Error)]
pub enum GitHubError {
    #[error("GitHub refused the token (401 Bad credentials)")]
    BadCredentials,
    #[error("the token cannot access {repo} (GitHub answered {status})")]
    NoAccess { repo: String, status: u16 },
    #[error("GitHub rate limit reached (HTTP {status})")]
    RateLimited { status: u16, retry_after: Option<Duration>, reset_at: Option<Timestamp> },
    #[error("GitHub is unreachable")]
    Unreachable(#[source] octocrab::Error),
    #[error("GitHub answered HTTP {0}")]
    Server(u16),
    #[error("GitHub answered HTTP {0} unexpectedly")]
    Unexpected(u16),
    #[error("GitHub sent a malformed response: {0}")]
    Malformed(String),
    #[error("GitHub sent a malformed response (not the JSON expected)")]
    BadJson(#[source] serde_json::Error),
    /// GitHub answered a write with a refusal (403 not permitted, 404/410 gone, 422 invalid, a
    /// `301` of a transferred issue): not worth retrying.
    #[error("GitHub refused the change (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    #[error("the GitHub API URL {url:?} is not usable: {reason}")]
    BadApiUrl { url: String, reason: String },
    /// A config's API is not one the operator allows (`GITHUB_API_URL`,
    /// `GHSYNC_GITHUB_HOSTS`): nothing is sent there.
    #[error(
        "the GitHub API {url:?} is not among the hosts this deployment allows (GITHUB_API_URL and \
         GHSYNC_GITHUB_HOSTS, set by its operator)"
    )]
    HostNotAllowed { url: String },
    /// The App is not installed there (any more), or may not mint its tokens.
    #[error("the GitHub App has no installation {installation} (GitHub answered {status})")]
    NoInstallation { installation: i64, status: u16 },
}

impl GitHubError {
    /// What a rate limit said of itself, for [`crate::sync::after_rate_limit`].
    pub fn rate_limit(&self) -> Option<crate::sync::RateLimit> {
        match self {
            GitHubError::RateLimited { retry_after, reset_at, .. } => Some(crate::sync::RateLimit {
                retry_after: retry_after.and_then(|d| chrono::Duration::from_std(d).ok()),
                reset_at: *reset_at,
            }),
            _ => None,
        }
    }

    /// A 5xx, a timeout or a lost connection: worth a bounded retry with backoff.
    pub fn is_transient(&self) -> bool {
        matches!(self, GitHubError::Unreachable(_) | GitHubError::Server(_))
    }
}

/// How transient failures are retried: `attempts` in all, the delays doubling from `base`,
/// each with random jitter (between half and all of it) so that many configs failing
/// together do not retry together.
#[derive(Clone, Copy, Debug)]
pub struct Retries {
    pub attempts: u32,
    pub base: Duration,
}

impl Default for Retries {
    fn default() -> Self {
        Self { attempts: 3, base: Duration::from_millis(500) }
    }
}

impl Retries {
    fn delay(&self, retry: u32) -> Duration {
        let full = self.base * 2u32.saturating_pow(retry);
        let mut byte = [0u8; 1];
        let jitter = if getrandom::fill(&mut byte).is_ok() { f64::from(byte[0]) / 255.0 } else { 1.0 };
        full.mul_f64(0.5 + jitter / 2.0)
    }
}

/// A GitHub response, read whole.
#[derive(Debug)]
struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: Bytes,
}

impl Response {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    fn json<T: serde::de::DeserializeOwned>(&self) -> Result<T, GitHubError> {
        serde_json::from_slice(&self.body).map_err(GitHubError::BadJson)
    }
}

/// What GitHub last said of a token's hourly request budget (`x-ratelimit-*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Budget {
    pub remaining: u32,
    pub reset_at: Timestamp,
    /// When the token expires (`github-authentication-token-expiration`; tokens without an
    /// expiry, and GitHub Apps, send none).
    pub token_expires_at: Option<Timestamp>,
}

/// GitHub's `github-authentication-token-expiration` value: `2026-12-31 00:00:00 UTC` or
/// with a numeric offset (`2026-12-31 09:00:00 +0900`).
pub fn parse_token_expiration(value: &str) -> Option<Timestamp> {
    let value = value.trim();
    let parsed = match value.strip_suffix(" UTC") {
        Some(utc) => {
            chrono::NaiveDateTime::parse_from_str(utc, "%Y-%m-%d %H:%M:%S").ok().map(|t| t.and_utc())
        }
        None => chrono::DateTime::parse_from_str(value, "%Y-%m-%d %H:%M:%S %z").ok().map(|t| t.to_utc()),
    };
    parsed.map(Timestamp::from)
}

/// A REST API base URL, checked: http(s) with a host, https unless on this machine (the
/// token travels with every request), kept with a trailing slash so that `join` keeps the
/// whole path (`/api/v3/` + `repos/…`).
pub fn api_base(url: &str) -> Result<Url, GitHubError> {
    let bad = |reason: String| GitHubError::BadApiUrl { url: url.to_string(), reason };
    let base =
        Url::parse(&format!("{}/", url.trim().trim_end_matches('/'))).map_err(|e| bad(e.to_string()))?;
    if !matches!(base.scheme(), "https" | "http") || base.host_str().is_none() {
        return Err(bad("must be an http(s) URL with a host".into()));
    }
    if !crate::domain::is_https_or_loopback(&base) {
        return Err(bad("must be https (plain http is accepted only for a loopback test server)".into()));
    }
    if base.query().is_some() || base.fragment().is_some() || !base.username().is_empty() {
        return Err(bad("must have no query, fragment or credentials".into()));
    }
    Ok(base)
}

/// An API base as the allowlist compares it: the `url` crate has lower-cased the scheme and
/// host and dropped a default port; the path loses its trailing slashes.
fn normalised_base(base: &Url) -> String {
    let port = base.port().map(|p| format!(":{p}")).unwrap_or_default();
    format!(
        "{}://{}{port}{}",
        base.scheme(),
        base.host_str().unwrap_or_default(),
        base.path().trim_end_matches('/')
    )
}

/// The budgets of the tokens this client has used, by the SHA-256 of the token (the map
/// never holds a token). GitHub's headers are the shared truth: every process that uses a
/// token learns what all of them have left from its own next answer.
type Budgets = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<[u8; 32], Budget>>>;

/// A GitHub REST client for any number of tokens.
#[derive(Clone, Debug)]
pub struct GitHub {
    octo: Octocrab,
    base: Url,
    /// The API bases a config may name (normalised, see [`normalised_base`]): this client's
    /// own and the operator's `GHSYNC_GITHUB_HOSTS`. A token is sent nowhere else.
    allowed: std::sync::Arc<Vec<String>>,
    web: WebHost,
    retries: Retries,
    budgets: Budgets,
    /// Installation tokens of the deployment's GitHub App, while they last (only this
    /// client's own API: a client for another base starts with none).
    installation_tokens: app::InstallationTokens,
}

impl GitHub {
    /// A client for `base_url` (`https://api.github.com`, a GitHub Enterprise API, or a
    /// local server in tests) with connect and read timeouts of `timeout`.
    pub fn new(base_url: &str, timeout: Duration) -> Result<Self, GitHubError> {
        let bad = |reason: String| GitHubError::BadApiUrl { url: base_url.to_string(), reason };
        let base = api_base(base_url)?;
        let trimmed = base_url.trim_end_matches('/');
        let octo = Octocrab::builder()
            .base_uri(trimmed)
            .map_err(|e| bad(e.to_string()))?
            .set_connect_timeout(Some(timeout))
            .set_read_timeout(Some(timeout))
            .build()
            .map_err(|e| bad(format!("cannot build the HTTP client: {e}")))?;
        let web = WebHost::of_api(&base);
        let allowed = std::sync::Arc::new(vec![normalised_base(&base)]);
        Ok(Self {
            octo,
            base,
            allowed,
            web,
            retries: Retries::default(),
            budgets: Budgets::default(),
            installation_tokens: Default::default(),
        })
    }

    /// The same client, also allowing configs to name the API bases `hosts` (the operator's
    /// `GHSYNC_GITHUB_HOSTS`).
    pub fn allowing<S: AsRef<str>>(mut self, hosts: &[S]) -> Result<Self, GitHubError> {
        let mut allowed = (*self.allowed).clone();
        for host in hosts {
            allowed.push(normalised_base(&api_base(host.as_ref())?));
        }
        self.allowed = std::sync::Arc::new(allowed);
        Ok(self)
    }

    /// Whether a config may name `api_url` as its API: one the operator allows, compared
    /// after normalising scheme, host, port and path.
    pub fn allows(&self, api_url: &str) -> bool {
        self.at(Some(api_url)).is_ok()
    }

    /// The same client (connections, budgets, retries) for another API base: a config's own
    /// GitHub Enterprise Server, which must be one the operator allows (else
    /// [`GitHubError::HostNotAllowed`], and nothing is sent). `None` or the same base: this
    /// client.
    pub fn at(&self, api_url: Option<&str>) -> Result<Self, GitHubError> {
        let Some(api_url) = api_url else { return Ok(self.clone()) };
        let base = api_base(api_url)?;
        let normalised = normalised_base(&base);
        if normalised == normalised_base(&self.base) {
            return Ok(self.clone());
        }
        if !self.allowed.contains(&normalised) {
            return Err(GitHubError::HostNotAllowed { url: api_url.to_string() });
        }
        Ok(Self {
            octo: self.octo.clone(),
            web: WebHost::of_api(&base),
            base,
            installation_tokens: Default::default(),
            ..self.clone()
        })
    }

    /// The same client with another retry policy.
    pub fn with_retries(mut self, retries: Retries) -> Self {
        self.retries = retries;
        self
    }

    /// The API base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        self.base.as_str().trim_end_matches('/')
    }

    /// The web host issue URLs must be on.
    pub fn web_host(&self) -> &WebHost {
        &self.web
    }

    /// The token's budget as GitHub last told it, if it has told.
    pub fn budget(&self, pat: &Secret) -> Option<Budget> {
        self.budgets.lock().expect("budgets lock").get(&token_key(pat)).copied()
    }

    fn note_budget(&self, pat: &Secret, r: &Response) {
        let remaining = r.header("x-ratelimit-remaining").and_then(|v| v.trim().parse::<u32>().ok());
        let reset_at = r
            .header("x-ratelimit-reset")
            .and_then(|v| v.trim().parse::<i64>().ok())
            .and_then(|secs| chrono::DateTime::from_timestamp(secs, 0))
            .map(Timestamp::from);
        let token_expires_at =
            r.header("github-authentication-token-expiration").and_then(parse_token_expiration);
        if let (Some(remaining), Some(reset_at)) = (remaining, reset_at) {
            let budget = Budget { remaining, reset_at, token_expires_at };
            self.budgets.lock().expect("budgets lock").insert(token_key(pat), budget);
        }
    }

    /// Whether `url` is on this client's API (same scheme, host and port): the token is
    /// never sent anywhere else.
    pub fn is_own_url(&self, url: &Url) -> bool {
        url.origin() == self.base.origin()
    }

    /// `{base}/repos/{owner}/{name}/{segments…}`, each segment escaped.
    fn repo_url(&self, repo: &RepoRef, segments: &[&str]) -> Url {
        let mut url = self.api_url(&["repos", repo.owner.as_str(), repo.name.as_str()]);
        url.path_segments_mut().expect("an http(s) base URL has a path").extend(segments);
        url
    }

    /// `{base}/{segments…}`, each segment escaped.
    fn api_url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut().expect("an http(s) base URL has a path").pop_if_empty().extend(segments);
        url
    }

    /// A `GET` with the token, retried on transient failures. Rate limits, 401 and server
    /// errors become errors; every other status is the caller's to read.
    async fn get(
        &self,
        url: &Url,
        pat: &Secret,
        etag: Option<&str>,
        requests: &mut u32,
    ) -> Result<Response, GitHubError> {
        self.send(Method::GET, url, pat, etag, None, requests).await
    }

    /// A request with the token; retried on transient failures unless it is a `POST` (which
    /// may have created something before the failure).
    async fn send(
        &self,
        method: Method,
        url: &Url,
        pat: &Secret,
        etag: Option<&str>,
        body: Option<&serde_json::Value>,
        requests: &mut u32,
    ) -> Result<Response, GitHubError> {
        debug_assert!(self.is_own_url(url), "the token only goes to the configured API");
        let attempts = if method == Method::POST { 1 } else { self.retries.attempts };
        let mut retry = 0;
        loop {
            *requests += 1;
            match self.send_once(method.clone(), url, pat, etag, body).await {
                Err(e) if e.is_transient() && retry + 1 < attempts => {
                    let delay = self.retries.delay(retry);
                    tracing::debug!(error = %e, ?delay, "retrying a GitHub request");
                    tokio::time::sleep(delay).await;
                    retry += 1;
                }
                other => return other,
            }
        }
    }

    async fn send_once(
        &self,
        method: Method,
        url: &Url,
        pat: &Secret,
        etag: Option<&str>,
        body: Option<&serde_json::Value>,
    ) -> Result<Response, GitHubError> {
        let mut request = http::Request::builder()
            .method(method)
            .uri(url.as_str())
            .header(header::ACCEPT, "application/vnd.github+json")
            .header("x-github-api-version", "2022-11-28");
        let mut auth = HeaderValue::from_str(&format!("Bearer {}", pat.expose()))
            .map_err(|_| GitHubError::BadCredentials)?;
        auth.set_sensitive(true);
        request = request.header(header::AUTHORIZATION, auth);
        if let Some(etag) = etag.and_then(|e| HeaderValue::from_str(e).ok()) {
            request = request.header(header::IF_NONE_MATCH, etag);
        }
        let request = self.octo.build_request(request, body).map_err(GitHubError::Unreachable)?;
        let response = self.octo.execute(request).await.map_err(GitHubError::Unreachable)?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await.map_err(GitHubError::Unreachable)?.to_bytes();
        let response = Response { status: parts.status, headers: parts.headers, body };
        self.note_budget(pat, &response);
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
}

/// A success, or GitHub's refusal with its message (writes, and reads of what only a token
/// with the right may see, such as hooks).
fn expect_success(r: &Response) -> Result<(), GitHubError> {
    if r.status.is_success() {
        return Ok(());
    }
    let message = serde_json::from_slice::<serde_json::Value>(&r.body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(|m| truncate(m, 300)))
        .unwrap_or_else(|| r.status.canonical_reason().unwrap_or("refused").to_string());
    Err(GitHubError::Refused { status: r.status.as_u16(), message })
}

/// At most `max` characters of `s`.
fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

fn token_key(pat: &Secret) -> [u8; 32] {
    use sha2::Digest;
    sha2::Sha256::digest(pat.expose().as_bytes()).into()
}

/// A success, or why the repository cannot be read.
fn expect_readable(r: &Response, repo: &RepoRef) -> Result<(), GitHubError> {
    match r.status {
        s if s.is_success() => Ok(()),
        StatusCode::NOT_FOUND | StatusCode::FORBIDDEN | StatusCode::GONE => {
            Err(GitHubError::NoAccess { repo: repo.to_string(), status: r.status.as_u16() })
        }
        s => Err(GitHubError::Unexpected(s.as_u16())),
    }
}

/// The `rel="next"` URL of a `Link` header.
fn next_link(headers: &HeaderMap) -> Option<String> {
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

/// A 429, or a 403 that is a rate limit (primary: `x-ratelimit-remaining: 0`; secondary:
/// `retry-after`, or GitHub's message naming a secondary rate limit when it sends neither
/// header), with when to try again (nothing said: the caller waits at least a minute).
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
    let secondary = status == 403
        && String::from_utf8_lossy(&r.body).to_ascii_lowercase().contains("secondary rate limit");
    let limited = status == 429 || (status == 403 && (exhausted || retry_after.is_some() || secondary));
    limited.then_some(GitHubError::RateLimited { status, retry_after, reset_at })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn response(status: u16, headers: &[(&'static str, &str)]) -> Response {
        let mut map = HeaderMap::new();
        for (k, v) in headers {
            map.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        Response { status: StatusCode::from_u16(status).unwrap(), headers: map, body: Bytes::new() }
    }

    #[test]
    fn a_push_sends_only_its_fields_with_the_state_as_github_names_it() {
        use crate::sync::Fields;
        let task = uuid::Uuid::nil();
        // (fields, marker) -> the PATCH body
        let table = [
            (Fields { title: Some("T".into()), ..Fields::default() }, None, json!({"title": "T"})),
            (
                Fields { state: Some(IssueState::NotPlanned), ..Fields::default() },
                None,
                json!({"state": "closed", "state_reason": "not_planned"}),
            ),
            (
                Fields { state: Some(IssueState::Open), ..Fields::default() },
                None,
                json!({"state": "open", "state_reason": "reopened"}),
            ),
            (
                Fields { description: Some(None), state: Some(IssueState::Completed), ..Fields::default() },
                Some(task),
                json!({"body": crate::sync::publish::body_with_marker(None, Some(task)),
                    "state": "closed", "state_reason": "completed"}),
            ),
        ];
        for (fields, marker, body) in table {
            assert_eq!(serde_json::to_value(IssueChange::of(&fields, marker)).unwrap(), body, "{fields:?}");
        }
    }

    #[test]
    fn a_classic_tokens_scopes_say_what_it_may_do() {
        use IssuesAccess::{Read, Write};
        // (scopes, private, push, admin) → (issues, hooks)
        for (scopes, private, push, admin, expected) in [
            ("repo", true, true, true, (Write, true)),
            ("repo, admin:repo_hook", false, true, false, (Write, false)),
            ("public_repo", false, true, true, (Write, false)),
            ("public_repo", true, true, true, (Read, false)),
            ("public_repo, write:repo_hook", false, true, true, (Write, true)),
            ("repo", false, false, false, (Read, false)),
            ("read:user", false, true, true, (Read, false)),
            ("", false, true, true, (Read, false)),
            ("repository", false, true, true, (Read, false)),
        ] {
            assert_eq!(
                repos::classic_report(scopes, private, push, admin),
                expected,
                "{scopes:?} {private} {push} {admin}"
            );
        }
    }

    #[test]
    fn token_expirations_parse_in_both_of_githubs_forms() {
        for (text, expected) in [
            ("2026-12-31 00:00:00 UTC", Some("2026-12-31T00:00:00Z")),
            ("2026-12-31 09:00:00 +0900", Some("2026-12-31T00:00:00Z")),
            (" 2026-12-30 17:00:00 -0700 ", Some("2026-12-31T00:00:00Z")),
            ("2026-12-31", None),
            ("never", None),
        ] {
            let parsed = parse_token_expiration(text);
            assert_eq!(parsed, expected.map(|e| e.parse().unwrap()), "{text}");
        }
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
        // A secondary limit that names itself only in its message.
        let mut told = response(403, &[("x-ratelimit-remaining", "4999")]);
        told.body = Bytes::from_static(b"{\"message\":\"You have exceeded a secondary rate limit.\"}");
        assert!(matches!(
            rate_limit(&told),
            Some(GitHubError::RateLimited { retry_after: None, reset_at: None, .. })
        ));
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
        let own = |u: &str| gh.is_own_url(&Url::parse(u).unwrap());
        assert!(own("https://api.github.com/repositories/1/issues?page=2"));
        assert!(own("https://API.github.com:443/x"));
        assert!(!own("https://api.github.com.evil.example/x"));
        assert!(!own("http://api.github.com/x"));
        assert!(!own("https://api.github.com:8443/x"));
        assert!(!own("https://evil.example/https://api.github.com/"));
    }

    #[tokio::test]
    async fn urls_are_built_under_the_base_path_with_their_query() {
        let repo = RepoRef::parse("acme/widgets").unwrap();
        let ghes = GitHub::new("https://ghe.example/api/v3", Duration::from_secs(1)).unwrap();
        let since: Timestamp = "2026-01-05T10:00:00.123Z".parse().unwrap();
        assert_eq!(
            ghes.issues_listing(&repo, Some(since)).as_str(),
            "https://ghe.example/api/v3/repos/acme/widgets/issues?state=all&sort=updated&direction=asc\
             &per_page=100&since=2026-01-05T10%3A00%3A00Z"
        );
        assert_eq!(
            ghes.repo_url(&repo, &["issues", "7"]).as_str(),
            "https://ghe.example/api/v3/repos/acme/widgets/issues/7"
        );
        assert_eq!(ghes.web_host().as_str(), "ghe.example");
        let dotcom = GitHub::new("https://api.github.com", Duration::from_secs(1)).unwrap();
        assert_eq!(
            dotcom.issues_listing(&repo, None).query(),
            Some("state=all&sort=updated&direction=asc&per_page=100")
        );
        assert_eq!(dotcom.web_host().as_str(), "github.com");
        assert!(GitHub::new("ftp://x", Duration::from_secs(1)).is_err());
        // The token never travels in the clear, except to a test server on this machine.
        for refused in ["http://api.github.com", "http://ghe.example/api/v3", "http://10.0.0.1:8080"] {
            let e = GitHub::new(refused, Duration::from_secs(1)).unwrap_err();
            assert!(e.to_string().contains("not usable"), "{refused}: {e}");
        }
        for loopback in ["http://127.0.0.1:9", "http://localhost:7100", "http://[::1]:80"] {
            assert!(GitHub::new(loopback, Duration::from_secs(1)).is_ok(), "{loopback}");
        }
    }

    #[test]
    fn retry_delays_double_with_jitter() {
        let r = Retries { attempts: 3, base: Duration::from_millis(100) };
        for retry in 0..3 {
            let full = Duration::from_millis(100 * 2u64.pow(retry));
            let d = r.delay(retry);
            assert!(d >= full / 2 && d <= full, "{retry}: {d:?}");
        }
    }

    fn gh_issue(json: &str) -> GhIssue {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn pull_requests_are_not_issues() {
        let issue = gh_issue(
            r#"{"node_id":"PR_1","number":3,"html_url":"https://github.com/o/r/pull/3","title":"t",
            "body":null,"state":"open","state_reason":null,"updated_at":"2026-01-05T10:00:00Z",
            "pull_request":{"url":"https://api.github.com/repos/o/r/pulls/3"}}"#,
        );
        assert_eq!(issue.into_remote(&WebHost::github_com(), &RepoRef::parse("o/r").unwrap()).unwrap(), None);
    }

    #[test]
    fn an_issue_must_be_of_its_own_repository_and_host() {
        let repo = RepoRef::parse("acme/widgets").unwrap();
        let with_url = |url: &str| {
            gh_issue(&format!(
                r#"{{"node_id":"I_1","number":42,"html_url":"{url}","title":"t","body":null,
                "state":"open","state_reason":null,"updated_at":"2026-01-05T10:00:00Z"}}"#
            ))
            .into_remote(&WebHost::github_com(), &repo)
        };
        assert!(with_url("https://github.com/acme/widgets/issues/42").unwrap().is_some());
        assert!(with_url("https://github.com/ACME/Widgets/issues/42").unwrap().is_some());
        for bad in [
            "https://evil.example/acme/widgets/issues/42",
            "https://github.com/other/widgets/issues/42",
            "https://github.com/acme/gadgets/issues/42",
            "https://github.com/acme/widgets/issues/43",
            "http://github.com/acme/widgets/issues/42",
        ] {
            assert_eq!(with_url(bad).unwrap_err().field, "github_issue_url", "{bad}");
        }
    }
}
