//! Conflicts and how a person resolves them (the seed's `ConflictResolution`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Content, ValidationError};
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
