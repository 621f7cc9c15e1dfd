//! A project's sync config and the history of its runs (table `github_sync_config`
//! and `SyncHistory`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ValidationError;
use crate::time::Timestamp;

text_enum!(
    /// `sync_history.status`.
    SyncStatus, "status" {
        Success = "success",
        Failure = "failure",
        InProgress = "in_progress",
    }
);

/// Seconds between scheduled syncs of a config: 30 to 3600.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct SyncInterval(i64);

impl SyncInterval {
    pub const MIN: i64 = 30;
    pub const MAX: i64 = 3600;
    /// The default: five minutes (docs/sync-rules.md, "When a config syncs").
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

/// A project's GitHub sync configuration (table `github_sync_config`).
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
    /// Local edits of linked tasks are pushed to GitHub (off by default).
    pub two_way: bool,
    /// GitHub's id of the repository webhook ghsync installed for this config, if it did.
    pub hook_id: Option<i64>,
    /// Why installing that webhook failed last (the person adds it by hand then).
    pub hook_error: Option<String>,
    /// The GitHub App installation the config works through instead of a PAT.
    pub installation_id: Option<i64>,
    /// The config's own REST API base (GitHub Enterprise Server); `None`: the deployment's.
    pub api_url: Option<String>,
    /// When the PAT expires, as GitHub last said (`None`: it does not, or GitHub has not said).
    pub token_expires_at: Option<Timestamp>,
    /// What the token may do, as checked when it was saved.
    pub token_permissions: Option<TokenPermissions>,
    /// The token expires within [`TOKEN_WARNING_DAYS`] days, or has expired: what to do.
    pub token_warning: Option<String>,
    /// Off because the repository left the App's installation (or the installation was
    /// deleted or suspended); its return turns the config on again.
    pub paused_by_github: bool,
    /// Which secret the config's own webhook takes (docs/trust.md, "Tenant secrets"): the
    /// generation, one more at each rotation and each move to another repository or host.
    pub secret_generation: i64,
    /// The generation's random salt (never serialised, never shown by `Debug`).
    #[serde(skip)]
    #[schema(ignore)]
    pub secret_salt: Option<String>,
    /// When the current generation began (`None`: the config's first).
    pub secret_rotated_at: Option<Timestamp>,
    /// When a delivery first verified with the current generation (`None`: none yet).
    pub secret_used_at: Option<Timestamp>,
    /// Off because its `api_url` is not among the hosts the operator allows (`sync_error`
    /// says so); on again when it is, or when the config moves to one that is.
    pub paused_for_host: bool,
}

text_enum!(
    /// What kind of token a config uses.
    TokenSource, "token_permissions.source" {
        /// A classic PAT: GitHub lists its scopes (`x-oauth-scopes`).
        Classic = "classic",
        /// A fine-grained PAT: GitHub lists no scopes, each endpoint tells what it needs.
        FineGrained = "fine_grained",
        /// A GitHub App installation token.
        App = "app",
    }
);

text_enum!(
    /// How far a token may go with a repository's issues.
    IssuesAccess, "token_permissions.issues" {
        Read = "read",
        Write = "write",
    }
);

/// What a token may do in its repository, as checked when it was saved.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema)]
pub struct TokenPermissions {
    pub source: TokenSource,
    pub issues: IssuesAccess,
    /// May manage the repository's webhooks.
    pub hooks: bool,
}

/// From how many days before its expiry a token is warned about.
pub const TOKEN_WARNING_DAYS: i64 = 7;

/// What a person is told about a token expiring at `expires_at`, seen at `now`: nothing
/// until [`TOKEN_WARNING_DAYS`] days before, then how soon, then that it has expired.
pub fn token_warning(expires_at: Option<Timestamp>, now: Timestamp) -> Option<String> {
    let expires_at = expires_at?;
    let date = expires_at.as_datetime().format("%Y-%m-%d %H:%M UTC");
    let left = expires_at.as_datetime() - now.as_datetime();
    if left <= chrono::Duration::zero() {
        return Some(format!("the token expired on {date}: send a new one to sync again"));
    }
    if left > chrono::Duration::days(TOKEN_WARNING_DAYS) {
        return None;
    }
    let when = match left.num_days() {
        0 => "within a day".to_string(),
        1 => "in 1 day".to_string(),
        n => format!("in {n} days"),
    };
    Some(format!("the token expires {when} ({date}): send a new one before then"))
}

impl GitHubSyncConfig {
    /// `owner/name` of the repository the config follows, as shown and logged.
    pub fn full_name(&self) -> String {
        format!("{}/{}", self.repo_owner, self.repo_name)
    }

    /// The repository the config follows (its names were checked when it was stored).
    pub fn repo(&self) -> Result<super::RepoRef, ValidationError> {
        Ok(super::RepoRef {
            owner: super::RepoOwner::parse(self.repo_owner.clone())?,
            name: super::RepoName::parse(self.repo_name.clone())?,
        })
    }

    /// Which secret the config's own webhook takes now.
    pub fn tenant_key(&self) -> TenantKey {
        TenantKey { generation: self.secret_generation, salt: self.secret_salt.clone() }
    }
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
            .field("two_way", &self.two_way)
            .field("installation_id", &self.installation_id)
            .field("api_url", &self.api_url)
            .field("next_sync_at", &self.next_sync_at)
            .field("sync_error", &self.sync_error)
            .field("secret_generation", &self.secret_generation)
            .finish_non_exhaustive()
    }
}

/// How a config reaches GitHub: its credential and its API.
#[derive(Clone)]
pub struct Reach {
    pub project_id: Uuid,
    /// The sealed PAT (empty for an App config).
    pub encrypted_pat: Vec<u8>,
    pub installation_id: Option<i64>,
    pub api_url: Option<String>,
    pub token_expires_at: Option<Timestamp>,
}

impl std::fmt::Debug for Reach {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reach")
            .field("project_id", &self.project_id)
            .field("installation_id", &self.installation_id)
            .field("api_url", &self.api_url)
            .finish_non_exhaustive()
    }
}

impl GitHubSyncConfig {
    /// How the config reaches GitHub.
    pub fn reach(&self) -> Reach {
        Reach {
            project_id: self.project_id,
            encrypted_pat: self.encrypted_pat.clone(),
            installation_id: self.installation_id,
            api_url: self.api_url.clone(),
            token_expires_at: self.token_expires_at,
        }
    }
}

/// One sync run of a config (table `sync_history`).
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
    /// Issues left out as malformed (named in `error_message`).
    pub issues_skipped: i64,
    /// List pages applied so far (a running sync's progress).
    pub pages_fetched: i64,
    /// Whether the run reached the end of what was due; `false`: the deadline cut it and
    /// the next run continues where it stopped.
    pub complete: bool,
    /// What the run's comments did (docs/comments.md).
    pub comments: super::CommentCounts,
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
    /// Issues GitHub listed that are not valid snapshots, left out (the run goes on).
    pub issues_skipped: i64,
    /// List pages applied.
    pub pages_fetched: i64,
    /// The deadline stopped the run before the end of what was due.
    pub cut_short: bool,
    /// Comments listed or looked up, and what they did to the threads.
    pub comments: super::CommentCounts,
}

impl SyncCounts {
    /// All counts must be `>= 0`.
    pub fn validate(&self) -> Result<(), ValidationError> {
        for (field, v) in [
            ("issues_fetched", self.issues_fetched),
            ("tasks_created", self.tasks_created),
            ("tasks_updated", self.tasks_updated),
            ("conflicts_detected", self.conflicts_detected),
            ("issues_skipped", self.issues_skipped),
            ("pages_fetched", self.pages_fetched),
            ("comments_fetched", self.comments.fetched),
            ("comments_created", self.comments.created),
            ("comments_updated", self.comments.updated),
            ("comments_deleted", self.comments.deleted),
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

/// Which secret a config's own webhook takes: its generation and, from generation 1, the
/// random salt drawn for it (see `config::WebhookSecrets::for_config`). `Debug` hides the salt.
#[derive(Clone, PartialEq, Eq)]
pub struct TenantKey {
    pub generation: i64,
    /// 32 hex digits; `None` for generation 0.
    pub salt: Option<String>,
}

impl TenantKey {
    /// The first derivation, of configs made before generations existed.
    pub const FIRST: TenantKey = TenantKey { generation: 0, salt: None };

    /// The generation after `generation`, with a fresh random salt.
    pub fn after(generation: i64) -> TenantKey {
        let mut salt = [0u8; 16];
        getrandom::fill(&mut salt).expect("the operating system's random source works");
        TenantKey { generation: generation + 1, salt: Some(hex::encode(salt)) }
    }
}

impl std::fmt::Debug for TenantKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TenantKey {{ generation: {}, salt: [redacted] }}", self.generation)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_is_warned_about_from_seven_days_before_it_expires() {
        let now: Timestamp = "2026-12-01T12:00:00Z".parse().unwrap();
        let at = |s: &str| Some(s.parse::<Timestamp>().unwrap());
        for (expires, expected) in [
            (None, None),
            (at("2026-12-31T00:00:00Z"), None),
            (at("2026-12-08T12:00:01Z"), None),
            (at("2026-12-08T12:00:00Z"), Some("the token expires in 7 days (2026-12-08 12:00 UTC)")),
            (at("2026-12-03T00:00:00Z"), Some("the token expires in 1 day (2026-12-03 00:00 UTC)")),
            (at("2026-12-01T18:00:00Z"), Some("the token expires within a day (2026-12-01 18:00 UTC)")),
            (at("2026-12-01T12:00:00Z"), Some("the token expired on 2026-12-01 12:00 UTC")),
            (at("2026-11-01T00:00:00Z"), Some("the token expired on 2026-11-01 00:00 UTC")),
        ] {
            let warning = token_warning(expires, now);
            match expected {
                None => assert_eq!(warning, None, "{expires:?}"),
                Some(start) => {
                    let warning = warning.unwrap_or_default();
                    assert!(warning.starts_with(start), "{expires:?}: {warning}");
                }
            }
        }
    }
}

/// What turning two-way sync on offers to push (`offer` in the answer to the `PUT` that
/// turned it on; `POST /api/projects/{id}/github-sync/offer` accepts it).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Offer {
    /// Linked tasks whose content or column differs from what GitHub held at their last sync
    /// (edited while the config was one-way), with nothing queued for them.
    pub tasks: i64,
    /// Board comments written, edited or deleted while the config was one-way.
    pub comments: i64,
}
