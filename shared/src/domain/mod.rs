//! Domain types: the board (projects, tasks), the sync models, and their validation.
//!
//! Values from outside (API bodies, GitHub payloads, database rows) are parsed into these
//! types once; a value that breaks a rule of docs/sync-rules.md, "What is accepted", is refused with a
//! [`ValidationError`] naming the field.

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

/// Declares a closed set of names stored as text, with parsing that names its field. Each
/// name is taken as a plain token (`tt`), so the derives read the `serde(rename)` it gets: the
/// OpenAPI document shows the wire names (a `literal` fragment reached utoipa wrapped, and it
/// fell back to the variants' Rust names).
macro_rules! text_enum {
    ($(#[$m:meta])* $name:ident, $field:literal { $($(#[$vm:meta])* $variant:ident = $text:tt),+ $(,)? }) => {
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

mod board;
mod comments;
mod conflicts;
mod github;
mod sync_config;

pub use board::*;
pub use comments::*;
pub use conflicts::*;
pub use github::*;
pub use sync_config::*;

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
        let merged = Merged { content: c, status: None, milestone_named: false };
        assert!(Resolution::new(ResolutionAction::Merge, Some(merged.clone())).is_ok());
        assert_eq!(Resolution::new(ResolutionAction::Merge, None).unwrap_err().field, "merged_content");
        assert_eq!(
            Resolution::new(ResolutionAction::KeepLocal, Some(merged)).unwrap_err().field,
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
        for state in [IssueState::Open, IssueState::Completed, IssueState::NotPlanned] {
            let (name, reason) = state.to_github();
            assert_eq!(IssueState::from_github(name, reason).unwrap(), state, "{state}");
        }
    }
}
