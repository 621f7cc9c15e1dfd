//! The shapes of the management API's requests and answers that are not domain types.
//! Together with the domain types they are the contract: `generate_types` writes them to
//! `shared/types.ts`, and the API's OpenAPI document is derived from the same definitions.

use serde::{Deserialize, Serialize};

use crate::crypto::Secret;
use crate::github::GhHookResponse;

/// `POST /api/projects`.
#[derive(Clone, Debug, Deserialize, Serialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateProject {
    pub name: String,
}

/// `POST /api/projects/{id}/tasks`: a task made on the board (not linked to an issue; a
/// two-way project can publish it).
#[derive(Clone, Debug, Deserialize, Serialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct CreateTask {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    /// `todo` when absent.
    #[serde(default)]
    pub status: Option<crate::domain::TaskStatus>,
}

/// `POST /api/conflicts/{id}/resolve`.
#[derive(Clone, Debug, Deserialize, Serialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct ResolveRequest {
    pub action: crate::domain::ResolutionAction,
    /// Required with `merge`, refused with the other actions.
    #[serde(default)]
    pub merged_content: Option<MergedContent>,
}

/// `POST /api/tasks/{id}/comments`: a comment written on the board.
#[derive(Clone, Debug, Deserialize, Serialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct NewComment {
    /// Markdown text, at most `MAX_BOARD_COMMENT_CHARS` characters (GitHub's limit less
    /// ghsync's attribution line and marker).
    pub body: String,
    /// Who wrote it, as the attribution line on GitHub names them; "board" when absent.
    #[serde(default)]
    pub author: Option<String>,
}

/// `PATCH /api/comments/{id}`: a board comment's new text.
#[derive(Clone, Debug, Deserialize, Serialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentEdit {
    pub body: String,
}

/// `POST /api/comments/{id}/resolve`: a person's choice for a comment changed on both sides.
#[derive(Clone, Debug, Deserialize, Serialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct ResolveCommentRequest {
    pub action: crate::domain::ResolutionAction,
    /// The merged text: required with `merge`, refused with the other actions.
    #[serde(default)]
    pub body: Option<String>,
}

/// The content a person merged from both sides, and the column when they choose one.
#[derive(Clone, Debug, Deserialize, Serialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct MergedContent {
    pub title: String,
    #[serde(default)]
    pub description: Option<String>,
    /// The task's column after the merge; absent: what only one side changed is kept from it,
    /// and when both changed the state the board's column stays.
    #[serde(default)]
    pub status: Option<crate::domain::TaskStatus>,
    /// The milestone after the merge, by number (`null`: none); absent: the task's stays.
    #[serde(default, skip_serializing_if = "crate::domain::Nullable::is_keep")]
    #[ts(type = "number | null", optional)]
    #[schema(value_type = Option<i64>)]
    pub milestone: crate::domain::Nullable<i64>,
}

impl MergedContent {
    /// The merge as the rules take it (the content checked; `field` names it in errors). A
    /// milestone named by number has its title filled in by the store (from either side of
    /// the conflict, or the repository's milestones).
    pub fn parse(self) -> Result<crate::domain::Merged, crate::domain::ValidationError> {
        use crate::domain::{Milestone, Nullable};
        let content = crate::domain::Content::new(self.title, self.description).map_err(|e| {
            crate::domain::ValidationError::new("merged_content", format!("{}: {}", e.field, e.message))
        })?;
        let (milestone, milestone_named) = match self.milestone {
            Nullable::Keep => (None, false),
            Nullable::Clear => (None, true),
            Nullable::Set(number) => (Some(Milestone { number, title: String::new() }), true),
        };
        Ok(crate::domain::Merged {
            content: content.with_milestone(milestone),
            status: self.status,
            milestone_named,
        })
    }
}

/// The answer to `PUT /api/projects/{id}/github-sync`: the config, and when that `PUT` turned
/// two-way sync on, what it offers to push.
#[derive(Clone, Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
#[ts(optional_fields)]
pub struct SavedSyncConfig {
    #[serde(flatten)]
    #[ts(flatten)]
    pub config: crate::domain::GitHubSyncConfig,
    /// Present when this `PUT` turned two-way sync on: the tasks edited while it was off. The
    /// console asks before it accepts them (`POST …/github-sync/offer`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offer: Option<crate::domain::Offer>,
}

/// `POST /api/projects/{id}/github-sync/offer`.
#[derive(Clone, Debug, Deserialize, Serialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OfferAnswer {
    /// `true` queues a push of each offered task; `false` leaves them as they are (a later
    /// GitHub edit of one becomes a conflict).
    pub accept: bool,
}

/// `POST /api/projects/{id}/github-sync/run` (202): the run queued for the reconcile worker.
#[derive(Clone, Debug, Deserialize, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct RunAccepted {
    /// The run's history row: `GET …/sync-history/runs` shows its progress and outcome.
    pub history_id: uuid::Uuid,
    pub status: crate::domain::SyncStatus,
}

/// `PUT /api/projects/{id}/github-sync`: the config as a user sends it.
#[derive(Clone, Debug, Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[ts(optional_fields)]
pub struct PutSyncConfig {
    pub repo_owner: String,
    pub repo_name: String,
    /// A PAT (or `installation_id`) is required to create; neither on an update keeps the
    /// stored credential.
    #[serde(default)]
    pub pat: Option<Secret>,
    /// The GitHub App installation to work through instead of a PAT (the deployment's App
    /// must be set: `PUT /api/github-app`).
    #[serde(default)]
    pub installation_id: Option<i64>,
    #[serde(default)]
    pub sync_enabled: Option<bool>,
    #[serde(default)]
    pub sync_interval_seconds: Option<i64>,
    /// Push local edits of linked tasks to GitHub (absent keeps the stored value; a new
    /// config is one-way). Needs a token that can write issues.
    #[serde(default)]
    pub two_way: Option<bool>,
    /// The REST API of a GitHub Enterprise Server (`https://host/api/v3`); `""` returns to
    /// the deployment's; absent keeps the stored one.
    #[serde(default)]
    pub api_url: Option<String>,
}

/// `PUT /api/github-app`: the App as GitHub shows it on its settings page.
#[derive(Clone, Debug, Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutGitHubApp {
    /// The App's id ("App ID" on its settings page).
    pub app_id: i64,
    /// The App's private key: the PEM file GitHub generates (stored sealed, never returned).
    pub private_key: Secret,
    /// The App's webhook secret (stored sealed, never returned).
    pub webhook_secret: Secret,
}

/// `GET /api/github-app`: whether an App is set, and its id (never its secrets).
#[derive(Clone, Debug, Serialize, PartialEq, Eq, ts_rs::TS, utoipa::ToSchema)]
pub struct GitHubAppInfo {
    pub app_id: Option<i64>,
    pub configured: bool,
    /// What the App's own settings on GitHub lack for ghsync (e.g. not subscribed to "Issue
    /// comment" events), or why they could not be checked. Empty when all is well.
    pub warnings: Vec<String>,
}

/// `GET /api/projects/{id}/github-sync/webhook`: what to give GitHub for the config, and
/// the state of the hook ghsync installed.
#[derive(Clone, Debug, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct WebhookSetup {
    /// Payload URL (a path when ghsync does not know its public URL).
    pub url: String,
    /// The config's own secret: only this config's deliveries verify with it.
    pub secret: String,
    /// The events to send.
    pub events: Vec<String>,
    /// Content type: `json` (GitHub's default, form-encoded, is refused).
    pub content_type: String,
    /// ghsync installed the hook and keeps it (its GitHub id).
    pub hook_id: Option<i64>,
    /// The secret's generation: one more at each rotation and each move to another
    /// repository or host (the secrets of earlier generations are refused).
    pub secret_generation: i64,
    /// When the current secret replaced the one before (`None`: the config's first).
    pub secret_rotated_at: Option<crate::time::Timestamp>,
    /// Why ghsync did not install it (the values above are then added by hand).
    pub message: Option<String>,
    /// GitHub's record of the hook's last delivery, when the token can read it.
    pub last_delivery: Option<GhHookResponse>,
}

/// What one push did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", tag = "pushed", content = "message")]
pub enum Pushed {
    /// GitHub took the change.
    Sent,
    /// Nothing differed from what GitHub holds (or nothing waits for the task).
    Nothing,
    /// A conflict holds both sides: the person's resolution decides.
    Held,
    /// GitHub had changed: its snapshot went through the sync rules instead (converged,
    /// fast-forwarded, or a conflict), and GitHub was not touched.
    Pulled,
    /// The issue is gone (deleted or transferred away): the task keeps its content.
    Gone,
    /// GitHub refused the change; its reason is on the task, and the edit goes again when
    /// that may have changed.
    Refused(String),
    /// A transient failure (or a lagging read, or an answer that never came): tried again later.
    Retrying(String),
    /// The API's budget ran out before the write: the worker pushes it now.
    HandedOver,
    /// Another pusher holds the task's entry (it sends the newest edit, or the worker does
    /// when its claim runs out).
    Busy,
    /// The entry waits: the config is disabled or one-way, or its retry time has not come.
    Waiting,
}

/// Every error answer: `{"error": {"code", "message", "field"?}}`.
#[derive(Clone, Debug, Deserialize, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Clone, Debug, Deserialize, Serialize, ts_rs::TS, utoipa::ToSchema)]
#[ts(optional_fields)]
pub struct ErrorDetail {
    /// `bad_request`, `unauthenticated`, `not_found`, `conflict`, `too_large`, `invalid`,
    /// `pat_refused`, `github_unavailable`, `kms_unavailable`, `unavailable`, `internal`.
    pub code: String,
    pub message: String,
    /// The field at fault, for `invalid` and `pat_refused`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

/// The TypeScript declarations of the contract, in dependency order (what
/// `cargo run --bin generate_types` writes to `shared/types.ts`).
pub fn typescript() -> String {
    use ts_rs::TS;

    use crate::domain::*;
    let cfg = ts_rs::Config::new().with_large_int("number");
    let decls = [
        TaskStatus::decl(&cfg),
        TaskOrder::decl(&cfg),
        ConflictStatus::decl(&cfg),
        RemoteState::decl(&cfg),
        SyncStatus::decl(&cfg),
        ResolutionAction::decl(&cfg),
        Milestone::decl(&cfg),
        Content::decl(&cfg),
        Label::decl(&cfg),
        RepositoryChoices::decl(&cfg),
        Project::decl(&cfg),
        Task::decl(&cfg),
        Parked::decl(&cfg),
        PushWaiting::decl(&cfg),
        GitHubLink::decl(&cfg),
        TaskWithLink::decl(&cfg),
        TaskPatch::decl(&cfg),
        TokenSource::decl(&cfg),
        IssuesAccess::decl(&cfg),
        TokenPermissions::decl(&cfg),
        GitHubSyncConfig::decl(&cfg),
        PutSyncConfig::decl(&cfg),
        PutGitHubApp::decl(&cfg),
        GitHubAppInfo::decl(&cfg),
        crate::github::AppInstallation::decl(&cfg),
        crate::github::GhHookResponse::decl(&cfg),
        WebhookSetup::decl(&cfg),
        CommentCounts::decl(&cfg),
        SyncHistory::decl(&cfg),
        GitHubComment::decl(&cfg),
        CommentOrigin::decl(&cfg),
        CommentConflict::decl(&cfg),
        TaskComment::decl(&cfg),
        crate::paging::TaskCommentPage::decl(&cfg),
        SyncHistorySummary::decl(&cfg),
        crate::paging::TaskPage::decl(&cfg),
        crate::paging::ConflictPage::decl(&cfg),
        crate::paging::SyncRunPage::decl(&cfg),
        ConflictResolution::decl(&cfg),
        CreateProject::decl(&cfg),
        CreateTask::decl(&cfg),
        ResolveRequest::decl(&cfg),
        NewComment::decl(&cfg),
        CommentEdit::decl(&cfg),
        ResolveCommentRequest::decl(&cfg),
        RunAccepted::decl(&cfg),
        MergedContent::decl(&cfg),
        Offer::decl(&cfg),
        SavedSyncConfig::decl(&cfg),
        OfferAnswer::decl(&cfg),
        Pushed::decl(&cfg),
        LocalSnapshot::decl(&cfg),
        RemoteSnapshot::decl(&cfg),
        Merged::decl(&cfg),
        ErrorBody::decl(&cfg),
        ErrorDetail::decl(&cfg),
    ];
    let mut out = String::from(
        "// The management API's JSON types, generated from the Rust definitions by\n\
         // `cargo run --bin generate_types`. Do not edit: CI fails when this file is stale.\n\n",
    );
    for decl in decls {
        out.push_str("export ");
        out.push_str(decl.trim());
        out.push_str("\n\n");
    }
    out.truncate(out.trim_end().len());
    out.push('\n');
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_committed_types_are_current() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/types.ts");
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == super::typescript(),
            "shared/types.ts is stale: run `cargo run --bin generate_types`"
        );
    }
}
