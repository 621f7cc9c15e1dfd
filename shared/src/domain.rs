//! Domain types: the board (projects, tasks), the seed's sync models, and their validation.
//!
//! Values from outside (API bodies, GitHub payloads, database rows) are parsed into these
//! types once; a value that breaks a rule of the seed's data model is refused with a
//! [`ValidationError`] naming the field.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::time::Timestamp;

/// A value that breaks one of the data model's rules.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid {field}: {message}")]
pub struct ValidationError {
    /// The field at fault, as named in the API and the schema.
    pub field: &'static str,
    /// What is wrong with it.
    pub message: String,
}

impl ValidationError {
    pub fn new(field: &'static str, message: impl Into<String>) -> Self {
        Self { field, message: message.into() }
    }
}

/// Declares a closed set of names stored as text, with parsing that names its field.
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident, $field:literal { $($(#[$vm:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $text)] $variant),+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The stored and serialised name.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl FromStr for $name {
            type Err = ValidationError;
            fn from_str(s: &str) -> Result<Self, ValidationError> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(ValidationError::new(
                        $field,
                        format!("must be one of {}, not {s:?}", [$($text),+].join(", ")),
                    )),
                }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(
    /// A task's place on the board (the values Vibe Kanban uses).
    TaskStatus, "status" {
        Todo = "todo",
        InProgress = "inprogress",
        InReview = "inreview",
        Done = "done",
        Cancelled = "cancelled",
    }
);

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
    /// `task_github_metadata.sync_conflict_status` (NULL when there never was a conflict).
    ConflictStatus, "sync_conflict_status" {
        Pending = "pending",
        Resolved = "resolved",
    }
);

text_enum!(
    /// `sync_history.status`.
    SyncStatus, "status" {
        Success = "success",
        Failure = "failure",
        InProgress = "in_progress",
    }
);

text_enum!(
    /// How a person resolved a conflict.
    ResolutionAction, "resolution_action" {
        KeepLocal = "keep_local",
        AcceptGithub = "accept_github",
        Merge = "merge",
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

/// The synced part of a task and an issue: `{title, description}` (GitHub's `title`, `body`).
///
/// An empty description and no description are the same content (GitHub sends `null` for an
/// empty body), so the description is normalised to `None` when empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Content {
    pub title: String,
    pub description: Option<String>,
}

/// The longest title accepted (GitHub's own limit is 256 characters).
pub const MAX_TITLE_CHARS: usize = 1024;
/// The longest description accepted (GitHub's issue body limit is 65,536 characters).
pub const MAX_DESCRIPTION_CHARS: usize = 262_144;

impl Content {
    /// Content with a validated title and a normalised description.
    pub fn new(title: impl Into<String>, description: Option<String>) -> Result<Self, ValidationError> {
        let title = title.into();
        if title.trim().is_empty() {
            return Err(ValidationError::new("title", "must not be empty"));
        }
        if title.chars().count() > MAX_TITLE_CHARS {
            return Err(ValidationError::new(
                "title",
                format!("must be at most {MAX_TITLE_CHARS} characters"),
            ));
        }
        let description = description.filter(|d| !d.is_empty());
        if description.as_ref().is_some_and(|d| d.chars().count() > MAX_DESCRIPTION_CHARS) {
            return Err(ValidationError::new(
                "description",
                format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
            ));
        }
        Ok(Self { title, description })
    }

    /// The JSON snapshot stored in `last_synced_content` and the conflict snapshots:
    /// `{"title": "...", "description": "..."}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "title": self.title, "description": self.description }).to_string()
    }

    /// Parses a stored snapshot; `field` names the column for the error.
    pub fn from_json(field: &'static str, json: &str) -> Result<Self, ValidationError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Snapshot {
            title: String,
            description: Option<String>,
        }
        let s: Snapshot = serde_json::from_str(json).map_err(|e| {
            ValidationError::new(field, format!("must be JSON {{\"title\", \"description\"}}: {e}"))
        })?;
        Content::new(s.title, s.description).map_err(|e| ValidationError::new(field, e.message))
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

/// Seconds between scheduled syncs of a config: 30 to 3600.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct SyncInterval(i64);

impl SyncInterval {
    pub const MIN: i64 = 30;
    pub const MAX: i64 = 3600;
    /// The seed's default: five minutes.
    pub const DEFAULT: SyncInterval = SyncInterval(300);
    /// How soon a repository with recent activity is polled again.
    pub const ACTIVE: SyncInterval = SyncInterval(30);

    pub fn new(seconds: i64) -> Result<Self, ValidationError> {
        if (Self::MIN..=Self::MAX).contains(&seconds) {
            Ok(Self(seconds))
        } else {
            Err(ValidationError::new(
                "sync_interval_seconds",
                format!("must be between {} and {} seconds, not {seconds}", Self::MIN, Self::MAX),
            ))
        }
    }

    pub fn seconds(self) -> i64 {
        self.0
    }

    pub fn duration(self) -> chrono::Duration {
        chrono::Duration::seconds(self.0)
    }
}

impl TryFrom<i64> for SyncInterval {
    type Error = ValidationError;
    fn try_from(v: i64) -> Result<Self, ValidationError> {
        Self::new(v)
    }
}

impl From<SyncInterval> for i64 {
    fn from(v: SyncInterval) -> i64 {
        v.0
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
}

impl RemoteIssue {
    /// Checks the seed's rules for the link fields (`github_issue_number` positive,
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
/// Enterprise host, and the number must be the issue's.
pub fn validate_issue_url(url: &str, number: i64) -> Result<(), ValidationError> {
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
            Ok(())
        }
        _ => Err(bad()),
    }
}

/// A board project.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Project {
    pub id: Uuid,
    pub name: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A project name: not blank, at most 200 characters.
pub fn validate_project_name(name: &str) -> Result<(), ValidationError> {
    if name.trim().is_empty() {
        return Err(ValidationError::new("name", "must not be empty"));
    }
    if name.chars().count() > 200 {
        return Err(ValidationError::new("name", "must be at most 200 characters"));
    }
    Ok(())
}

/// A task on the board.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Task {
    pub id: Uuid,
    pub project_id: Uuid,
    pub title: String,
    pub description: Option<String>,
    pub status: TaskStatus,
    /// The linked issue's URL, when the task came from GitHub.
    pub github_issue_url: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Task {
    pub fn content(&self) -> Content {
        Content { title: self.title.clone(), description: self.description.clone() }
    }
}

/// A local edit of a task; absent fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct TaskPatch {
    pub title: Option<String>,
    /// `null` clears the description; an absent field keeps it.
    #[serde(default)]
    #[ts(type = "string | null", optional)]
    #[schema(value_type = Option<String>)]
    pub description: Nullable<String>,
    pub status: Option<TaskStatus>,
}

/// A patch field that can be absent (keep), `null` (clear) or a value (set).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum Nullable<T> {
    #[default]
    Keep,
    Clear,
    Set(T),
}

impl<T> Nullable<T> {
    /// The value after the patch, given the current one.
    pub fn apply(self, current: Option<T>) -> Option<T> {
        match self {
            Nullable::Keep => current,
            Nullable::Clear => None,
            Nullable::Set(v) => Some(v),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    /// Called only for a present field (absent ones take the default, `Keep`).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(d)?.map_or(Nullable::Clear, Nullable::Set))
    }
}

/// The link between a task and its issue (the seed's `TaskGitHubMetadata`).
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
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A task together with its GitHub link, as the board lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct TaskWithLink {
    #[serde(flatten)]
    pub task: Task,
    pub github: Option<GitHubLink>,
}

/// What the board shows of a task's issue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct GitHubLink {
    pub issue_number: i64,
    pub issue_url: String,
    pub sync_conflict_status: Option<ConflictStatus>,
    pub remote_state: RemoteState,
    pub last_synced_at: Timestamp,
}

/// A project's GitHub sync configuration (the seed's `GitHubSyncConfig`).
#[derive(Clone, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct GitHubSyncConfig {
    pub id: Uuid,
    pub project_id: Uuid,
    pub repo_owner: String,
    pub repo_name: String,
    /// The envelope-encrypted PAT: never serialised, never shown by `Debug`.
    #[serde(skip)]
    #[schema(ignore)]
    pub encrypted_pat: Vec<u8>,
    pub last_sync_at: Option<Timestamp>,
    pub next_sync_at: Option<Timestamp>,
    pub sync_enabled: bool,
    pub sync_interval_seconds: i64,
    pub sync_error: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl fmt::Debug for GitHubSyncConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GitHubSyncConfig")
            .field("id", &self.id)
            .field("project_id", &self.project_id)
            .field("repo", &format_args!("{}/{}", self.repo_owner, self.repo_name))
            .field("encrypted_pat", &format_args!("[{} bytes]", self.encrypted_pat.len()))
            .field("sync_enabled", &self.sync_enabled)
            .field("sync_interval_seconds", &self.sync_interval_seconds)
            .field("next_sync_at", &self.next_sync_at)
            .field("sync_error", &self.sync_error)
            .finish_non_exhaustive()
    }
}

/// One sync run of a config (the seed's `SyncHistory`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct SyncHistory {
    pub id: Uuid,
    pub project_id: Uuid,
    pub sync_config_id: Uuid,
    pub started_at: Timestamp,
    pub completed_at: Option<Timestamp>,
    pub duration_ms: Option<i64>,
    pub issues_fetched: i64,
    pub tasks_created: i64,
    pub tasks_updated: i64,
    pub conflicts_detected: i64,
    pub status: SyncStatus,
    pub error_message: Option<String>,
}

/// How a sync run ended: what `complete_sync` records.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct SyncCounts {
    pub issues_fetched: i64,
    pub tasks_created: i64,
    pub tasks_updated: i64,
    pub conflicts_detected: i64,
}

impl SyncCounts {
    /// All counts must be `>= 0`.
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (field, v) in [
            ("issues_fetched", self.issues_fetched),
            ("tasks_created", self.tasks_created),
            ("tasks_updated", self.tasks_updated),
            ("conflicts_detected", self.conflicts_detected),
        ] {
            if v < 0 {
                return Err(ValidationError::new(field, format!("must be >= 0, not {v}")));
            }
        }
        Ok(())
    }
}

/// The last 100 runs of a project and figures over its kept history.
#[derive(Clone, Debug, PartialEq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct SyncHistorySummary {
    /// Newest first.
    pub last_100_syncs: Vec<SyncHistory>,
    /// Tasks created from issues, over the kept history.
    pub total_issues_imported: i64,
    pub total_conflicts: i64,
    /// Mean duration of finished runs (0 when none finished).
    pub avg_duration_ms: f64,
    /// Successful runs among finished runs, in percent (0–100; 0 when none finished).
    pub success_rate: f64,
}

/// A detected conflict and, once a person chose, its resolution (the seed's `ConflictResolution`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct ConflictResolution {
    pub id: Uuid,
    pub task_id: Uuid,
    pub metadata_id: Uuid,
    pub detected_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub resolution_action: Option<ResolutionAction>,
    pub local_content_snapshot: Content,
    pub remote_content_snapshot: Content,
    pub merged_content: Option<Content>,
}

/// A person's choice for a conflict, as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    KeepLocal,
    AcceptGithub,
    Merge(Content),
}

impl Resolution {
    /// Applies the seed's rules: `merged_content` goes with `merge` and only with it.
    pub fn new(action: ResolutionAction, merged_content: Option<Content>) -> Result<Self, ValidationError> {
        match (action, merged_content) {
            (ResolutionAction::Merge, Some(c)) => Ok(Resolution::Merge(c)),
            (ResolutionAction::Merge, None) => {
                Err(ValidationError::new("merged_content", "is required with the merge action"))
            }
            (_, Some(_)) => {
                Err(ValidationError::new("merged_content", "must be absent unless the action is merge"))
            }
            (ResolutionAction::KeepLocal, None) => Ok(Resolution::KeepLocal),
            (ResolutionAction::AcceptGithub, None) => Ok(Resolution::AcceptGithub),
        }
    }

    pub fn action(&self) -> ResolutionAction {
        match self {
            Resolution::KeepLocal => ResolutionAction::KeepLocal,
            Resolution::AcceptGithub => ResolutionAction::AcceptGithub,
            Resolution::Merge(_) => ResolutionAction::Merge,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repo_names_follow_github_rules() {
        assert!(RepoOwner::parse("octo-org").is_ok());
        assert!(RepoName::parse("hello_world.rs").is_ok());
        for bad in ["", "-lead", "trail-", "dou--ble", "sp ace", "a/b", &"x".repeat(40)] {
            assert_eq!(RepoOwner::parse(bad).unwrap_err().field, "repo_owner", "{bad:?}");
        }
        for bad in ["", ".", "..", "sp ace", "a/b", &"x".repeat(101)] {
            assert_eq!(RepoName::parse(bad).unwrap_err().field, "repo_name", "{bad:?}");
        }
        assert!(RepoRef::parse("octo/hello").unwrap().is("OCTO", "Hello"));
        assert_eq!(RepoRef::parse("nohyphen").unwrap_err().field, "repo");
    }

    #[test]
    fn interval_is_between_30_seconds_and_an_hour() {
        assert!(SyncInterval::new(30).is_ok());
        assert!(SyncInterval::new(3600).is_ok());
        assert_eq!(SyncInterval::new(29).unwrap_err().field, "sync_interval_seconds");
        assert_eq!(SyncInterval::new(3601).unwrap_err().field, "sync_interval_seconds");
    }

    #[test]
    fn issue_url_must_name_the_issue() {
        assert!(validate_issue_url("https://github.com/o/r/issues/42", 42).is_ok());
        for bad in [
            "http://github.com/o/r/issues/42",
            "https://github.com/o/r/pull/42",
            "https://github.com/o/r/issues/43",
            "https://github.com/o/issues/42",
            "https://github.com/o/r/issues/42/x",
        ] {
            assert_eq!(validate_issue_url(bad, 42).unwrap_err().field, "github_issue_url", "{bad}");
        }
    }

    #[test]
    fn content_snapshots_must_be_title_and_description_json() {
        let c = Content::new("T", Some(String::new())).unwrap();
        assert_eq!(c.description, None, "an empty description is no description");
        assert_eq!(Content::from_json("f", &c.to_json()).unwrap(), c);
        for bad in ["", "[]", r#"{"title": "x"}x"#, r#"{"title": ""}"#, r#"{"title":"t","x":1}"#] {
            assert_eq!(
                Content::from_json("last_synced_content", bad).unwrap_err().field,
                "last_synced_content"
            );
        }
    }

    #[test]
    fn enums_parse_only_their_names() {
        for s in TaskStatus::ALL {
            assert_eq!(s.as_str().parse::<TaskStatus>().unwrap(), *s);
        }
        assert_eq!("in_progress".parse::<TaskStatus>().unwrap_err().field, "status");
        assert_eq!("open".parse::<ConflictStatus>().unwrap_err().field, "sync_conflict_status");
        assert_eq!("done".parse::<SyncStatus>().unwrap_err().field, "status");
        assert_eq!("discard".parse::<ResolutionAction>().unwrap_err().field, "resolution_action");
    }

    #[test]
    fn merged_content_goes_with_merge_only() {
        let c = Content::new("T", None).unwrap();
        assert!(Resolution::new(ResolutionAction::Merge, Some(c.clone())).is_ok());
        assert_eq!(Resolution::new(ResolutionAction::Merge, None).unwrap_err().field, "merged_content");
        assert_eq!(
            Resolution::new(ResolutionAction::KeepLocal, Some(c)).unwrap_err().field,
            "merged_content"
        );
    }

    #[test]
    fn github_states_map_to_issue_states() {
        assert_eq!(IssueState::from_github("open", Some("reopened")).unwrap(), IssueState::Open);
        assert_eq!(IssueState::from_github("closed", None).unwrap(), IssueState::Completed);
        assert_eq!(IssueState::from_github("closed", Some("completed")).unwrap(), IssueState::Completed);
        assert_eq!(IssueState::from_github("closed", Some("not_planned")).unwrap(), IssueState::NotPlanned);
        assert!(IssueState::from_github("merged", None).is_err());
    }
}
