//! Conflicts and how a person resolves them (table `conflict_resolution`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Content, IssueState, TaskStatus, ValidationError};
use crate::time::Timestamp;

text_enum!(
    /// `task_github_metadata.sync_conflict_status` (NULL when there never was a conflict).
    ConflictStatus, "sync_conflict_status" {
        Pending = "pending",
        Resolved = "resolved",
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

/// A detected conflict and, once a person chose, its resolution (table `conflict_resolution`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct ConflictResolution {
    pub id: Uuid,
    pub task_id: Uuid,
    pub metadata_id: Uuid,
    pub detected_at: Timestamp,
    pub resolved_at: Option<Timestamp>,
    pub resolution_action: Option<ResolutionAction>,
    /// The task when the conflict was detected: its content and column.
    pub local_content_snapshot: LocalSnapshot,
    /// The issue as GitHub last showed it while the conflict waits: content and state.
    pub remote_content_snapshot: RemoteSnapshot,
    pub merged_content: Option<Merged>,
}

/// The board's side of a conflict (stored JSON `{title, description, status}`; conflicts
/// recorded before columns were part of them have no `status`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[ts(optional_fields)]
pub struct LocalSnapshot {
    #[serde(flatten)]
    #[ts(flatten)]
    pub content: Content,
    #[serde(default)]
    pub status: Option<TaskStatus>,
}

/// GitHub's side of a conflict (stored JSON `{title, description, state, state_reason}`, as
/// GitHub names them; older conflicts have no state).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[ts(optional_fields)]
pub struct RemoteSnapshot {
    #[serde(flatten)]
    #[ts(flatten)]
    pub content: Content,
    /// `open` or `closed`.
    #[serde(default)]
    pub state: Option<String>,
    /// `completed` or `not_planned` for a closed issue.
    #[serde(default)]
    pub state_reason: Option<String>,
}

impl LocalSnapshot {
    pub fn new(content: Content, status: TaskStatus) -> Self {
        Self { content, status: Some(status) }
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a snapshot serialises")
    }

    /// Parses a stored snapshot; `field` names the column for the error.
    pub fn from_json(field: &'static str, json: &str) -> Result<Self, ValidationError> {
        let snapshot: Self = parse_snapshot(field, json)?;
        Ok(Self { content: checked(field, snapshot.content)?, ..snapshot })
    }
}

impl RemoteSnapshot {
    pub fn new(content: Content, state: IssueState) -> Self {
        let (state, reason) = state.to_github();
        Self { content, state: Some(state.into()), state_reason: reason.map(str::to_string) }
    }

    /// The issue state it shows (`None` for a snapshot recorded without one).
    pub fn issue_state(&self) -> Option<IssueState> {
        IssueState::from_github(self.state.as_deref()?, self.state_reason.as_deref()).ok()
    }

    /// The stored form.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a snapshot serialises")
    }

    /// Parses a stored snapshot; `field` names the column for the error.
    pub fn from_json(field: &'static str, json: &str) -> Result<Self, ValidationError> {
        let snapshot: Self = parse_snapshot(field, json)?;
        if snapshot.state.is_some() && snapshot.issue_state().is_none() {
            return Err(ValidationError::new(field, "state must be open or closed"));
        }
        Ok(Self { content: checked(field, snapshot.content)?, ..snapshot })
    }
}

/// What a person merged from both sides: content, and the column when they chose one.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema)]
#[ts(optional_fields)]
pub struct Merged {
    #[serde(flatten)]
    #[ts(flatten)]
    pub content: Content,
    #[serde(default)]
    pub status: Option<TaskStatus>,
    /// The merge names the milestone (`content.milestone`, `None` for none); `false`: the
    /// task's own stays (a merge written before milestones were synced says nothing of it).
    #[serde(skip)]
    #[ts(skip)]
    #[schema(ignore)]
    pub milestone_named: bool,
}

impl Merged {
    /// The stored form (`merged_content`).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a merge serialises")
    }

    pub fn from_json(field: &'static str, json: &str) -> Result<Self, ValidationError> {
        let merged: Self = parse_snapshot(field, json)?;
        Ok(Self { content: checked(field, merged.content)?, ..merged })
    }
}

fn parse_snapshot<T: serde::de::DeserializeOwned>(
    field: &'static str,
    json: &str,
) -> Result<T, ValidationError> {
    serde_json::from_str(json).map_err(|e| {
        ValidationError::new(field, format!("must be JSON {{\"title\", \"description\", …}}: {e}"))
    })
}

/// Content read from a snapshot, held to the rules of content.
fn checked(field: &'static str, content: Content) -> Result<Content, ValidationError> {
    Content::new(content.title, content.description)
        .map(|c| c.with_milestone(content.milestone))
        .map_err(|e| ValidationError::new(field, e.message))
}

/// A person's choice for a conflict, as received.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Resolution {
    KeepLocal,
    AcceptGithub,
    Merge(Merged),
}

impl Resolution {
    /// `merged_content` goes with `merge` and only with it (docs/sync-rules.md, "Resolution").
    pub fn new(action: ResolutionAction, merged_content: Option<Merged>) -> Result<Self, ValidationError> {
        match (action, merged_content) {
            (ResolutionAction::Merge, Some(m)) => Ok(Resolution::Merge(m)),
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
