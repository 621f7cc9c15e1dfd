//! GitHub's side: repositories, issues as snapshots, their states, and a task's link to one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{ConflictStatus, Content, TaskStatus, ValidationError};
use crate::time::Timestamp;

text_enum!(
    /// An issue's state as far as the board cares: open, or closed for one of two reasons.
    IssueState, "synced_state" {
        Open = "open",
        /// Closed as completed (or closed with no reason, as older issues are).
        Completed = "completed",
        /// Closed as not planned (or as a duplicate).
        NotPlanned = "not_planned",
    }
);

text_enum!(
    /// The newest state seen of a linked issue, including its disappearance.
    RemoteState, "remote_state" {
        Open = "open",
        Completed = "completed",
        NotPlanned = "not_planned",
        /// Deleted on GitHub; the task keeps its content.
        Deleted = "deleted",
        /// Transferred to a repository not configured for this project.
        Transferred = "transferred",
    }
);

text_enum!(
    /// Why a waiting push is not due (`sync_outbox.parked`).
    Parked, "parked" {
        /// GitHub refused it: it goes again when its cause may have changed.
        Refused = "refused",
        /// Two-way sync is off: it goes again when it is turned on.
        OneWay = "one_way",
    }
);

impl IssueState {
    /// The task status an issue in this state implies.
    pub fn task_status(self) -> TaskStatus {
        match self {
            IssueState::Open => TaskStatus::Todo,
            IssueState::Completed => TaskStatus::Done,
            IssueState::NotPlanned => TaskStatus::Cancelled,
        }
    }

    /// As GitHub names it: `state` and, for a closed issue, `state_reason`.
    pub fn to_github(self) -> (&'static str, Option<&'static str>) {
        match self {
            IssueState::Open => ("open", None),
            IssueState::Completed => ("closed", Some("completed")),
            IssueState::NotPlanned => ("closed", Some("not_planned")),
        }
    }

    /// From GitHub's `state` and `state_reason`.
    pub fn from_github(state: &str, state_reason: Option<&str>) -> Result<Self, ValidationError> {
        match (state, state_reason) {
            ("open", _) => Ok(IssueState::Open),
            ("closed", Some("not_planned" | "duplicate")) => Ok(IssueState::NotPlanned),
            ("closed", _) => Ok(IssueState::Completed),
            (other, _) => {
                Err(ValidationError::new("state", format!("must be open or closed, not {other:?}")))
            }
        }
    }
}

impl From<IssueState> for RemoteState {
    fn from(s: IssueState) -> Self {
        match s {
            IssueState::Open => RemoteState::Open,
            IssueState::Completed => RemoteState::Completed,
            IssueState::NotPlanned => RemoteState::NotPlanned,
        }
    }
}

impl RemoteState {
    /// The issue state, or `None` once the issue is gone from the repository.
    pub fn issue_state(self) -> Option<IssueState> {
        match self {
            RemoteState::Open => Some(IssueState::Open),
            RemoteState::Completed => Some(IssueState::Completed),
            RemoteState::NotPlanned => Some(IssueState::NotPlanned),
            RemoteState::Deleted | RemoteState::Transferred => None,
        }
    }
}

/// A GitHub repository owner (user or organisation login).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepoOwner(String);

/// A GitHub repository name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RepoName(String);

impl RepoOwner {
    /// GitHub logins: 1–39 ASCII letters, digits or single hyphens, not at either end.
    pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
        let s = s.into();
        let field = "repo_owner";
        if s.is_empty() {
            return Err(ValidationError::new(field, "must not be empty"));
        }
        let ok = s.len() <= 39
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
            && !s.starts_with('-')
            && !s.ends_with('-')
            && !s.contains("--");
        if !ok {
            return Err(ValidationError::new(
                field,
                "must be a GitHub login: up to 39 letters, digits or single inner hyphens",
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl RepoName {
    /// GitHub repository names: 1–100 ASCII letters, digits, `.`, `-` or `_`; not `.` or `..`.
    pub fn parse(s: impl Into<String>) -> Result<Self, ValidationError> {
        let s = s.into();
        let field = "repo_name";
        if s.is_empty() {
            return Err(ValidationError::new(field, "must not be empty"));
        }
        let ok = s.len() <= 100
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
            && s != "."
            && s != "..";
        if !ok {
            return Err(ValidationError::new(
                field,
                "must be a GitHub repository name: up to 100 letters, digits, '.', '-' or '_'",
            ));
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

macro_rules! string_newtype_conversions {
    ($($t:ident),+) => {$(
        impl TryFrom<String> for $t {
            type Error = ValidationError;
            fn try_from(s: String) -> Result<Self, ValidationError> {
                $t::parse(s)
            }
        }
        impl From<$t> for String {
            fn from(v: $t) -> String {
                v.0
            }
        }
        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    )+};
}
string_newtype_conversions!(RepoOwner, RepoName);

/// A repository as `owner/name`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RepoRef {
    pub owner: RepoOwner,
    pub name: RepoName,
}

impl RepoRef {
    /// Parses `owner/name`.
    pub fn parse(s: &str) -> Result<Self, ValidationError> {
        let (owner, name) =
            s.split_once('/').ok_or_else(|| ValidationError::new("repo", "must be owner/name"))?;
        Ok(Self { owner: RepoOwner::parse(owner)?, name: RepoName::parse(name)? })
    }

    /// Whether this is `owner/name`, compared as GitHub does (case-insensitively).
    pub fn is(&self, owner: &str, name: &str) -> bool {
        self.owner.as_str().eq_ignore_ascii_case(owner) && self.name.as_str().eq_ignore_ascii_case(name)
    }
}

impl fmt::Display for RepoRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.owner, self.name)
    }
}

/// One issue as GitHub last showed it: what the sync rules need of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RemoteIssue {
    /// GraphQL node id (`I_kwDO…`): stable for the issue's life in one repository.
    pub node_id: String,
    pub number: i64,
    /// `html_url`: `https://github.com/{owner}/{repo}/issues/{number}`.
    pub html_url: String,
    pub content: Content,
    pub state: IssueState,
    pub updated_at: Timestamp,
    /// Labels, assignees and milestone: imported with the snapshot, never pushed.
    pub extras: IssueExtras,
    /// The task this issue was opened for, when ghsync published it (the marker at the end of
    /// its body, which `content` never shows).
    pub marker: Option<Uuid>,
}

/// A label of an issue, as the board shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Label {
    pub name: String,
    /// GitHub's colour: six hex digits, without `#`.
    pub color: String,
}

/// What the board shows of an issue beyond its content and state (read-only: imported with
/// each snapshot, never pushed).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema)]
pub struct IssueExtras {
    pub labels: Vec<Label>,
    /// The assignees' logins.
    pub assignees: Vec<String>,
    /// The milestone's title.
    pub milestone: Option<String>,
}

/// What a repository offers a task's labels and assignees, as ghsync last listed it for the
/// config (`GET /api/projects/{id}/github-sync/choices`; docs/fields.md).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct RepositoryChoices {
    /// The repository's labels (`null` until listed once).
    pub labels: Option<Vec<Label>>,
    /// The logins the repository can assign (`null` until listed once).
    pub assignees: Option<Vec<String>>,
    /// The repository's milestones, open and closed (`null` until listed once).
    pub milestones: Option<Vec<super::Milestone>>,
    /// The older of the two lists' last refresh.
    pub refreshed_at: Option<Timestamp>,
}

impl IssueExtras {
    /// The stored form of the labels: JSON `[{"name", "color"}]`.
    pub fn labels_json(&self) -> String {
        serde_json::to_string(&self.labels).expect("labels serialise")
    }

    /// The stored form of the assignees: JSON `["login"]`.
    pub fn assignees_json(&self) -> String {
        serde_json::to_string(&self.assignees).expect("logins serialise")
    }
}

impl RemoteIssue {
    /// Checks the link fields (docs/sync-rules.md, "What is accepted") (`github_issue_number` positive,
    /// `github_issue_url` of the form `https://{host}/{owner}/{repo}/issues/{number}`).
    pub fn validate(&self) -> Result<(), ValidationError> {
        if self.node_id.trim().is_empty() {
            return Err(ValidationError::new("github_issue_id", "must not be empty"));
        }
        if self.number <= 0 {
            return Err(ValidationError::new("github_issue_number", "must be a positive integer"));
        }
        validate_issue_url(&self.html_url, self.number)
    }
}

/// `https://{host}/{owner}/{repo}/issues/{number}`; the host is `github.com` or a GitHub
/// Enterprise host, and the number must be the issue's (docs/sync-rules.md, "What is accepted").
pub fn validate_issue_url(url: &str, number: i64) -> Result<(), ValidationError> {
    issue_url_parts(url, number).map(|_| ())
}

/// The host, owner and repository of a well-formed issue URL of issue `number`.
fn issue_url_parts(url: &str, number: i64) -> Result<(&str, &str, &str), ValidationError> {
    let bad = || {
        ValidationError::new(
            "github_issue_url",
            format!("must be https://github.com/{{owner}}/{{repo}}/issues/{number}, not {url:?}"),
        )
    };
    let rest = url.strip_prefix("https://").ok_or_else(bad)?;
    let parts: Vec<&str> = rest.split('/').collect();
    match parts.as_slice() {
        [host, owner, repo, "issues", n]
            if !host.is_empty()
                && RepoOwner::parse(*owner).is_ok()
                && RepoName::parse(*repo).is_ok()
                && *n == number.to_string() =>
        {
            Ok((host, owner, repo))
        }
        _ => Err(bad()),
    }
}

/// Whether `url` names this machine (`localhost`, 127.0.0.0/8, `::1`): where a test server
/// may speak plain HTTP.
pub fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Whether a secret may travel to `url`: https, or plain http to this machine (tests).
pub fn is_https_or_loopback(url: &url::Url) -> bool {
    url.host().is_some() && (url.scheme() == "https" || (url.scheme() == "http" && is_loopback(url)))
}

/// The web host of the GitHub ghsync talks to: every issue URL must be on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebHost(String);

impl WebHost {
    /// github.com's.
    pub fn github_com() -> Self {
        Self("github.com".into())
    }

    /// The web host that goes with a REST API base URL: `api.github.com` → `github.com`
    /// (and `api.X` → `X`, as on GHE.com); a GitHub Enterprise Server's `https://host/api/v3`
    /// → `host`. A loopback API without that path is the test stand-in, which speaks for
    /// github.com.
    pub fn of_api(api: &url::Url) -> Self {
        let host = api.host_str().unwrap_or_default().to_ascii_lowercase();
        let with_port = match api.port() {
            Some(port) => format!("{host}:{port}"),
            None => host.clone(),
        };
        if api.path().trim_end_matches('/').ends_with("/api/v3") {
            return Self(with_port);
        }
        if let Some(web) = host.strip_prefix("api.") {
            return Self(web.to_string());
        }
        if is_loopback(api) { Self::github_com() } else { Self(with_port) }
    }

    /// The host (and port) of an https web URL such as a repository's `html_url`.
    pub fn of_web_url(url: &str) -> Option<Self> {
        let url = url::Url::parse(url).ok().filter(|u| u.scheme() == "https")?;
        let host = url.host_str()?.to_ascii_lowercase();
        Some(Self(match url.port() {
            Some(port) => format!("{host}:{port}"),
            None => host,
        }))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl RemoteIssue {
    /// Checks that the issue is `repo`'s, on `web`: its URL is
    /// `https://{web}/{owner}/{repo}/issues/{number}` (owner and name compared as GitHub
    /// does), besides the rules of [`RemoteIssue::validate`].
    pub fn validate_origin(&self, web: &WebHost, repo: &RepoRef) -> Result<(), ValidationError> {
        self.validate()?;
        let (host, owner, name) = issue_url_parts(&self.html_url, self.number)?;
        if !host.eq_ignore_ascii_case(web.as_str()) || !repo.is(owner, name) {
            return Err(ValidationError::new(
                "github_issue_url",
                format!(
                    "must be https://{}/{repo}/issues/{}, not {:?}",
                    web.as_str(),
                    self.number,
                    self.html_url
                ),
            ));
        }
        Ok(())
    }
}

/// The link between a task and its issue (table `task_github_metadata`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct TaskGitHubMetadata {
    pub id: Uuid,
    pub task_id: Uuid,
    pub project_id: Uuid,
    pub github_issue_id: String,
    pub github_issue_number: i64,
    pub github_issue_url: String,
    pub last_synced_at: Timestamp,
    pub remote_updated_at: Timestamp,
    /// JSON `{"title", "description"}`: the base of the three-way comparison.
    pub last_synced_content: String,
    pub sync_conflict_status: Option<ConflictStatus>,
    /// The issue state imported at the last sync (the base of the status rule).
    pub synced_state: IssueState,
    /// The newest issue state seen, or its disappearance.
    pub remote_state: RemoteState,
    /// When the link ended because its config moved to another repository.
    pub unlinked_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A task's link to its issue, as the API shows it (table `task_github_metadata`,
/// without the sync rules' private state).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct GitHubLink {
    /// The issue's GraphQL node id (`github_issue_id`).
    pub node_id: String,
    pub issue_number: i64,
    pub issue_url: String,
    pub sync_conflict_status: Option<ConflictStatus>,
    /// The newest state seen, or the issue's disappearance (`deleted`, `transferred`).
    pub remote_state: RemoteState,
    /// GitHub's `updated_at` of the newest snapshot applied.
    pub remote_updated_at: Timestamp,
    pub last_synced_at: Timestamp,
    /// When the link ended because its config moved to another repository (the task stays).
    pub unlinked_at: Option<Timestamp>,
    /// The task's own labels and assignees (GitHub's merged with the board's edits,
    /// docs/fields.md), and the milestone as GitHub last showed it.
    #[serde(flatten)]
    pub extras: IssueExtras,
    /// A local edit waits to be pushed to GitHub (two-way configs).
    pub push_pending: bool,
    /// Why GitHub refused the last push (its status and message), or why a waiting edit was
    /// ended (a repository switch), until GitHub holds the task again.
    pub push_error: Option<String>,
    /// The waiting edit's state: when it goes next, and why it has not gone yet.
    pub push_waiting: Option<PushWaiting>,
}

/// A waiting edit of a task, as the outbox holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct PushWaiting {
    /// When it is tried next (a parked refusal: its hourly retry; one-way: whenever two-way
    /// sync is turned on again).
    pub next_attempt_at: Option<Timestamp>,
    /// Why the last attempt did not deliver it (a transient failure, a lagging read, GitHub's
    /// refusal).
    pub reason: Option<String>,
    /// Parked: `refused` (waits for its cause to change) or `one_way` (waits for two-way sync).
    pub parked: Option<Parked>,
}

/// What GitHub says of one of the App's installations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InstallationState {
    pub suspended: bool,
}
