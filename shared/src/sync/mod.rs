//! The sync rules: every decision of ghsync, as pure functions over values, one room per
//! area.
//!
//! - [`snapshot`]: what a snapshot of an issue does to its task and link ([`plan`]: rules 1–6,
//!   the status rule, stale, replays, ambiguity, times from the future, a write of ours that
//!   landed), as a whole [`Plan`] the store carries out in one transaction;
//! - [`resolve`](mod@resolve): what a person's resolution of a conflict writes;
//! - [`gone`](mod@gone): what a deleted or transferred issue does to its link;
//! - [`push`](mod@push): two-way sync's outbox: what a local edit sends, what a read means for
//!   it, whether GitHub took it, how a failure parks or retries it, when a parked entry goes
//!   again, and who may claim it;
//! - [`publish`]: the marker that makes publishing a task idempotent;
//! - [`installations`]: when an installation event of the GitHub App is believed;
//! - [`tenant`](mod@tenant): what saving a config does (moved, due, outbox, token check, hook);
//! - [`scheduling`]: when a config runs next, the wait after a rate limit, full passes, probes;
//! - [`comments`]: what a GitHub comment does to its task's thread, and the comments' watermark;
//! - [`board_comments`]: a board comment on its way to GitHub: the body sent (attribution and
//!   marker), what comes back, echoes, what it sends next, and the pace of content writes;
//! - [`fields`]: labels and assignees merged element by element, the milestone three ways.
//!
//! Webhook deliveries, reconcile polls, the pusher and the API translate what they saw (a
//! payload's action, an HTTP status, a person's choice) into these inputs and call the same
//! functions. Nothing here reads a clock, a database or the network: times come in as values.

pub mod board_comments;
pub mod comments;
pub mod fields;
pub mod gone;
pub mod installations;
pub mod publish;
pub mod push;
pub mod resolve;
pub mod scheduling;
pub mod snapshot;
pub mod tenant;

use serde::Serialize;

use crate::domain::SyncCounts;

pub use comments::{
    CommentIssue, CommentOutcome, CommentSeen, StoredComment, comment, comments_watermark, count_comments,
};
pub use gone::{Disappearance, GoneLink, GoneOutcome, GoneWrite, count_gone, gone, link_live, transfer};
pub use installations::{
    Concerns, GitHubSays, InstallationEffect, PauseCause, Said, believed, installation_event, repos_hold,
};
pub use push::{
    AfterRead, Answer, Backoff, Claim, EntryState, Failure, Fence, Fields, Idle, Parked, Pushing, Read,
    Rearm, Then, after_failure, after_read, backoff, check_answer, claim, fence, next_write, outgoing, rearm,
    state_of, wanted_state,
};
pub use resolve::{Resolved, Resolving, resolve};
pub use scheduling::{FullPass, RateLimit, RunEnded, after_rate_limit, full_pass, keeps_probe, next_sync_at};
pub use snapshot::{
    ConflictWrite, ContentAction, Effect, FUTURE_LEEWAY, LinkWrite, Linked, NoLink, Plan, Remote, Side,
    Source, StatusAction, TaskWrite, decide_content, decide_status, from_the_future, import_status, plan,
};
pub use tenant::{Change, CredentialKind, OutboxOnSave, Place, Stored, Switch, moved, switch};

/// What applying one issue snapshot did.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ApplyOutcome {
    /// A task and its link were created.
    Created,
    /// The task took the remote content and/or status.
    Updated,
    /// Nothing on the task changed (the link may have advanced).
    Unchanged,
    /// Both sides changed: a pending conflict was recorded; the task was left alone.
    Conflict,
    /// A conflict was already pending: its remote snapshot was refreshed.
    ConflictPending,
    /// Older than what was applied, or not newer than the issue's disappearance: ignored.
    Stale,
    /// As old as what was applied but different: nothing changed, and the issue is read
    /// from GitHub by the next reconcile.
    Ambiguous,
    /// The node id of an issue that was transferred away and relinked: creates nothing.
    Retired,
    /// An issue ghsync opened for a task being published: linked to that task.
    Adopted,
}

/// Counts a page's outcomes into a run's figures (`tasks_created`, `tasks_updated`,
/// `conflicts_detected`).
pub fn count(counts: &mut SyncCounts, outcomes: &[ApplyOutcome]) {
    for outcome in outcomes {
        match outcome {
            ApplyOutcome::Created => counts.tasks_created += 1,
            ApplyOutcome::Updated | ApplyOutcome::Adopted => counts.tasks_updated += 1,
            ApplyOutcome::Conflict => counts.conflicts_detected += 1,
            ApplyOutcome::Unchanged
            | ApplyOutcome::ConflictPending
            | ApplyOutcome::Stale
            | ApplyOutcome::Ambiguous
            | ApplyOutcome::Retired => {}
        }
    }
}

/// What the rules' table tests share: content and times as a table writes them.
#[cfg(test)]
mod fixtures {
    use crate::domain::Content;
    use crate::time::Timestamp;

    /// Content titled `title`, with a body derived from it.
    pub fn c(title: &str) -> Content {
        Content::new(title, Some(format!("{title} body"))).unwrap()
    }

    /// An RFC 3339 time.
    pub fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }
}
