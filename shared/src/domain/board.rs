//! The board: projects, tasks, their content and local edits.

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{GitHubLink, ValidationError};
use crate::time::Timestamp;
use std::fmt;
use std::str::FromStr;

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
    /// The order of a task list (`?sort=`): `created`, oldest first (the default), or
    /// `updated`, newest-updated first (the board's columns).
    TaskOrder, "sort" {
        Created = "created",
        Updated = "updated",
    }
);

impl TaskOrder {
    /// What its cursors carry to name it: nothing for the default order (so the cursors
    /// given out before there was a choice stay valid).
    pub fn cursor_tag(self) -> Option<&'static str> {
        match self {
            TaskOrder::Created => None,
            TaskOrder::Updated => Some(self.as_str()),
        }
    }
}

/// The synced part of a task and an issue: `{title, description, milestone}` (GitHub's
/// `title`, `body`, `milestone`). The milestone is one value and follows the content's rules
/// with it (docs/fields.md, "One value: the milestone").
///
/// An empty description and no description are the same content (GitHub sends `null` for an
/// empty body), so the description is normalised to `None` when empty.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Content {
    pub title: String,
    pub description: Option<String>,
    /// Absent in snapshots stored before milestones were synced (read as none).
    #[serde(default)]
    #[ts(optional)]
    pub milestone: Option<Milestone>,
}

/// A milestone of the repository: its number is its identity (a renamed milestone is the same
/// one), its title what the board shows.
#[derive(Clone, Debug, Serialize, Deserialize, ts_rs::TS, utoipa::ToSchema)]
pub struct Milestone {
    pub number: i64,
    pub title: String,
}

impl PartialEq for Milestone {
    fn eq(&self, other: &Self) -> bool {
        self.number == other.number
    }
}

impl Eq for Milestone {}

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
        Ok(Self { title, description, milestone: None })
    }

    /// The same content with `milestone`.
    pub fn with_milestone(self, milestone: Option<Milestone>) -> Self {
        Self { milestone, ..self }
    }

    /// The JSON snapshot stored in `last_synced_content` and the conflict snapshots:
    /// `{"title": "...", "description": "...", "milestone": {"number", "title"} | null}`.
    pub fn to_json(&self) -> String {
        serde_json::json!({ "title": self.title, "description": self.description, "milestone": self.milestone })
            .to_string()
    }

    /// Parses a stored snapshot; `field` names the column for the error.
    pub fn from_json(field: &'static str, json: &str) -> Result<Self, ValidationError> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Snapshot {
            title: String,
            description: Option<String>,
            #[serde(default)]
            milestone: Option<Milestone>,
        }
        let s: Snapshot = serde_json::from_str(json).map_err(|e| {
            ValidationError::new(
                field,
                format!("must be JSON {{\"title\", \"description\", \"milestone\"}}: {e}"),
            )
        })?;
        Content::new(s.title, s.description)
            .map(|c| c.with_milestone(s.milestone))
            .map_err(|e| ValidationError::new(field, e.message))
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
    /// The task's milestone (a linked task's; docs/fields.md).
    pub milestone: Option<Milestone>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Task {
    pub fn content(&self) -> Content {
        Content {
            title: self.title.clone(),
            description: self.description.clone(),
            milestone: self.milestone.clone(),
        }
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
    /// The task's labels, by name (a linked task of a two-way config; docs/fields.md). A
    /// name the repository lacks is created on GitHub before it is added.
    pub labels: Option<Vec<String>>,
    /// The task's assignees, by login (a linked task of a two-way config): at most ten, each
    /// one the repository can assign.
    pub assignees: Option<Vec<String>>,
    /// The task's milestone by number, `null` for none (a linked task of a two-way config);
    /// one of the repository's milestones.
    #[serde(default)]
    #[ts(type = "number | null", optional)]
    #[schema(value_type = Option<i64>)]
    pub milestone: Nullable<i64>,
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

impl<T> Nullable<T> {
    /// Absent: the field stays (for `skip_serializing_if`).
    pub fn is_keep(&self) -> bool {
        matches!(self, Nullable::Keep)
    }
}

impl<T: Serialize> Serialize for Nullable<T> {
    /// A value, or `null` (skip `Keep` with [`Nullable::is_keep`]).
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Nullable::Set(v) => v.serialize(s),
            Nullable::Keep | Nullable::Clear => s.serialize_none(),
        }
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Nullable<T> {
    /// Called only for a present field (absent ones take the default, `Keep`).
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(Option::<T>::deserialize(d)?.map_or(Nullable::Clear, Nullable::Set))
    }
}

/// A task together with its GitHub link, as the board lists it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ts_rs::TS, utoipa::ToSchema)]
pub struct TaskWithLink {
    #[serde(flatten)]
    pub task: Task,
    pub github: Option<GitHubLink>,
    /// The comments its thread shows (GitHub's and the board's).
    pub comment_count: i64,
}
