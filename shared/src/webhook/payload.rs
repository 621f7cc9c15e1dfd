//! What an `issues` or `issue_comment` delivery says, parsed once from the verified body into
//! a [`Change`].

use serde::Deserialize;

use super::WebhookError;
use crate::domain::{RemoteComment, RemoteIssue, RepoRef, ValidationError, WebHost};
use crate::github::{GhComment, GhIssue};
use crate::time::Timestamp;

#[derive(Deserialize)]
pub(super) struct RepositoryRef {
    pub(super) full_name: String,
    #[serde(default)]
    pub(super) html_url: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct IssuesPayload {
    pub(super) action: String,
    pub(super) issue: GhIssue,
    pub(super) repository: RepositoryRef,
    #[serde(default)]
    pub(super) changes: Option<TransferChanges>,
}

/// An `issue_comment` delivery: the comment, and its issue as it now is.
#[derive(Deserialize)]
pub(super) struct CommentPayload {
    pub(super) action: String,
    pub(super) issue: GhIssue,
    pub(super) comment: GhComment,
    pub(super) repository: RepositoryRef,
}

#[derive(Deserialize)]
pub(super) struct TransferChanges {
    pub(super) new_issue: Option<GhIssue>,
    pub(super) new_repository: Option<RepositoryRef>,
}

/// Just enough of any payload to log, record and route it.
#[derive(Deserialize)]
pub(super) struct Envelope {
    pub(super) action: Option<String>,
    pub(super) repository: Option<RepositoryRef>,
    /// On deliveries to a GitHub App.
    pub(super) installation: Option<InstallationRef>,
}

#[derive(Deserialize)]
pub(super) struct InstallationRef {
    pub(super) id: i64,
}

/// An `installation` or `installation_repositories` delivery (to the App's URL).
#[derive(Deserialize)]
pub(super) struct InstallationPayload {
    pub(super) action: String,
    pub(super) installation: InstallationRef,
    #[serde(default)]
    pub(super) repositories_added: Vec<RepositoryRef>,
    #[serde(default)]
    pub(super) repositories_removed: Vec<RepositoryRef>,
}

/// Why a verified body is not a usable `issues` delivery.
#[derive(Debug, thiserror::Error)]
pub enum PayloadError {
    #[error("{0}")]
    Json(serde_json::Error),
    #[error("{0}")]
    Value(ValidationError),
    #[error("{0}")]
    Shape(&'static str),
}

/// What an `issues` delivery asks for.
pub(super) struct Change {
    /// The repository the delivery is about.
    pub(super) repo: RepoRef,
    pub(super) kind: ChangeKind,
    /// The GitHub web host its issues are on, when it is not the deployment's (a delivery
    /// to a GitHub Enterprise Server config's own URL): only a config on that host takes it.
    pub(super) foreign_host: Option<WebHost>,
    /// The web host its issues were checked on (the deployment's, or `foreign_host`).
    pub(super) web: WebHost,
    /// An `issue_comment` delivery (of an issue or of a pull request).
    pub(super) comment: bool,
}

pub(super) enum ChangeKind {
    /// Any action that carries the issue's current state (opened, edited, closed, labeled,
    /// and actions GitHub adds later).
    Snapshot(RemoteIssue),
    Gone {
        node_id: String,
        /// The issue's last `updated_at`: no older snapshot revives it.
        seen_at: Timestamp,
        how: Gone,
    },
    /// A comment created, edited or deleted, with its issue's snapshot (applied first, so
    /// a comment that arrives before its issue's own delivery is not lost).
    Comment(Box<CommentChange>),
    /// A pull request (or a comment of one): never imported.
    PullRequest,
}

pub(super) struct CommentChange {
    pub(super) issue: RemoteIssue,
    pub(super) comment: RemoteComment,
    /// A `deleted` delivery.
    pub(super) deleted: bool,
}

/// How an issue left: deleted, or transferred (with its new identity and repository when
/// the payload names them).
pub(super) enum Gone {
    Deleted,
    Transferred { new_issue: Option<Box<RemoteIssue>>, new_repo: Option<RepoRef> },
}

impl Change {
    /// The event that asked for it, as the delivery log records it.
    pub(super) fn event(&self) -> &'static str {
        if self.comment { "issue_comment" } else { "issues" }
    }

    /// The issue's `updated_at` the change carries (none for a pull request).
    pub(super) fn updated_at(&self) -> Option<Timestamp> {
        match &self.kind {
            ChangeKind::Snapshot(issue) => Some(issue.updated_at),
            ChangeKind::Gone { seen_at, .. } => Some(*seen_at),
            ChangeKind::Comment(c) => Some(c.issue.updated_at.max(c.comment.updated_at)),
            ChangeKind::PullRequest => None,
        }
    }

    /// The change an `issue_comment` payload asks for; its issue and comment must be on `web`
    /// and of the payload's own repository.
    pub(super) fn from_comment(p: CommentPayload, web: &WebHost) -> Result<Self, WebhookError> {
        let invalid = |e: ValidationError| WebhookError::InvalidPayload(PayloadError::Value(e));
        let repo = repo_of(&p.repository)?;
        let kind = match p.issue.into_remote(web, &repo).map_err(invalid)? {
            Some(issue) => {
                let comment = p.comment.into_remote(web, &repo).map_err(invalid)?;
                if comment.issue_number != issue.number {
                    return Err(WebhookError::InvalidPayload(PayloadError::Shape(
                        "the comment's issue_url names another issue than the payload's",
                    )));
                }
                ChangeKind::Comment(Box::new(CommentChange {
                    issue,
                    comment,
                    deleted: p.action == "deleted",
                }))
            }
            None => ChangeKind::PullRequest,
        };
        Ok(Self { repo, kind, foreign_host: None, web: web.clone(), comment: true })
    }

    /// The change a payload asks for; its issues must be on `web` and name the payload's
    /// own repository.
    pub(super) fn from_payload(p: IssuesPayload, web: &WebHost) -> Result<Self, WebhookError> {
        let invalid = |e: ValidationError| WebhookError::InvalidPayload(PayloadError::Value(e));
        let repo = repo_of(&p.repository)?;
        let node_id = p.issue.node_id.clone();
        let kind = match p.action.as_str() {
            "deleted" | "transferred" => {
                let seen_at = p.issue.updated_at().map_err(invalid)?;
                let how = if p.action == "deleted" {
                    Gone::Deleted
                } else {
                    let changes =
                        p.changes.unwrap_or(TransferChanges { new_issue: None, new_repository: None });
                    let new_repo = changes.new_repository.and_then(|r| RepoRef::parse(&r.full_name).ok());
                    let new_issue = match (changes.new_issue, &new_repo) {
                        (Some(issue), Some(new_repo)) => {
                            issue.into_remote(web, new_repo).map_err(invalid)?.map(Box::new)
                        }
                        _ => None,
                    };
                    Gone::Transferred { new_issue, new_repo }
                };
                ChangeKind::Gone { node_id, seen_at, how }
            }
            _ => match p.issue.into_remote(web, &repo).map_err(invalid)? {
                Some(issue) => ChangeKind::Snapshot(issue),
                None => ChangeKind::PullRequest,
            },
        };
        Ok(Self { repo, kind, foreign_host: None, web: web.clone(), comment: false })
    }
}

fn repo_of(repository: &RepositoryRef) -> Result<RepoRef, WebhookError> {
    RepoRef::parse(&repository.full_name).map_err(|_| {
        WebhookError::InvalidPayload(PayloadError::Shape("repository.full_name is not owner/name"))
    })
}
