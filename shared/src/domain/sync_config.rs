//! A project's sync config and the history of its runs (the seed's `GitHubSyncConfig`
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
    /// Local edits of linked tasks are pushed to GitHub (off by default).
    pub two_way: bool,
    /// GitHub's id of the repository webhook ghsync installed for this config, if it did.
    pub hook_id: Option<i64>,
    /// Why installing that webhook failed last (the person adds it by hand then).
    pub hook_error: Option<String>,
}

impl GitHubSyncConfig {
    /// Whether the config follows `owner/name`, compared as GitHub compares names.
    pub fn follows(&self, owner: &str, name: &str) -> bool {
        self.repo_owner.eq_ignore_ascii_case(owner) && self.repo_name.eq_ignore_ascii_case(name)
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
    /// Issues left out as malformed (named in `error_message`).
    pub issues_skipped: i64,
    /// List pages applied so far (a running sync's progress).
    pub pages_fetched: i64,
    /// Whether the run reached the end of what was due; `false`: the deadline cut it and
    /// the next run continues where it stopped.
    pub complete: bool,
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
