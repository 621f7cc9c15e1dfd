//! The shapes of the management API's requests and answers that are not domain types.
//! Together with the domain types they are the contract: `generate_types` writes them to
//! `shared/types.ts`, and the API's OpenAPI document is derived from the same definitions.

use serde::{Deserialize, Serialize};

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
}

impl MergedContent {
    /// The merge as the rules take it (the content checked; `field` names it in errors).
    pub fn parse(self) -> Result<crate::domain::Merged, crate::domain::ValidationError> {
        let content = crate::domain::Content::new(self.title, self.description).map_err(|e| {
            crate::domain::ValidationError::new("merged_content", format!("{}: {}", e.field, e.message))
        })?;
        Ok(crate::domain::Merged { content, status: self.status })
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
    use crate::manage::PutSyncConfig;
    let cfg = ts_rs::Config::new().with_large_int("number");
    let decls = [
        TaskStatus::decl(&cfg),
        ConflictStatus::decl(&cfg),
        RemoteState::decl(&cfg),
        SyncStatus::decl(&cfg),
        ResolutionAction::decl(&cfg),
        Content::decl(&cfg),
        Label::decl(&cfg),
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
        crate::app::PutGitHubApp::decl(&cfg),
        crate::app::GitHubAppInfo::decl(&cfg),
        crate::github::AppInstallation::decl(&cfg),
        crate::github::GhHookResponse::decl(&cfg),
        crate::hooks::WebhookSetup::decl(&cfg),
        SyncHistory::decl(&cfg),
        SyncHistorySummary::decl(&cfg),
        crate::paging::TaskPage::decl(&cfg),
        crate::paging::ConflictPage::decl(&cfg),
        crate::paging::SyncRunPage::decl(&cfg),
        ConflictResolution::decl(&cfg),
        CreateProject::decl(&cfg),
        CreateTask::decl(&cfg),
        ResolveRequest::decl(&cfg),
        RunAccepted::decl(&cfg),
        MergedContent::decl(&cfg),
        Offer::decl(&cfg),
        SavedSyncConfig::decl(&cfg),
        OfferAnswer::decl(&cfg),
        crate::push::Pushed::decl(&cfg),
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
