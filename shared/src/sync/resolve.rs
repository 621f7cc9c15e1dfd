//! What a person's resolution of a conflict writes. A conflict holds the content and the
//! column (or issue state) of both sides; the choice decides what is in conflict, and what
//! only one side changed is kept from that side, so a move waiting behind a content conflict
//! survives every resolution (and is pushed after it, with two-way sync).

use crate::domain::{Content, IssueState, Merged, RemoteState, Resolution, TaskStatus};

use super::push::state_of;

/// A pending conflict as a person resolves it.
#[derive(Clone, Copy, Debug)]
pub struct Resolving<'a> {
    /// The task's current content.
    pub local: &'a Content,
    /// The task's current column (a move made after the conflict was detected included).
    pub local_status: TaskStatus,
    /// The newest remote snapshot the conflict holds.
    pub remote: &'a Content,
    /// The issue state of the last sync.
    pub synced_state: IssueState,
    /// The newest remote state seen (the conflict held back its import).
    pub remote_state: RemoteState,
}

/// What a resolution writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// The task's content: local, GitHub's or the merged one.
    pub content: &'a Content,
    /// The task's column.
    pub status: TaskStatus,
    /// The new base: the newest remote snapshot, so the same snapshot arriving again raises
    /// nothing.
    pub base: &'a Content,
    /// The new synced state: GitHub's newest (a gone issue keeps the last one).
    pub synced_state: IssueState,
}

impl Resolved<'_> {
    /// Whether the task then differs from what GitHub holds: with two-way sync it is pushed
    /// (keep local and merge send the chosen content; any resolution sends a column that only
    /// this side changed).
    pub fn differs_from_github(&self) -> bool {
        self.content != self.base || state_of(self.status) != self.synced_state
    }
}

/// Decides what resolving a conflict writes (`docs/sync-rules.md`, "Resolution").
///
/// Content: keep local → the task's; accept GitHub → the snapshot's; merge → the merged one.
/// Column: what only one side changed comes from that side; when both changed the state,
/// keep local keeps the column, accept GitHub takes the state's column, merge takes the
/// merged column (or keeps the task's when none is given).
pub fn resolve<'a>(conflict: &Resolving<'a>, resolution: &'a Resolution) -> Resolved<'a> {
    let content = match resolution {
        Resolution::KeepLocal => conflict.local,
        Resolution::AcceptGithub => conflict.remote,
        Resolution::Merge(merged) => &merged.content,
    };
    let local = conflict.local_status;
    // A deleted or transferred issue has no state to import; its synced state stays.
    let state = conflict.remote_state.issue_state().unwrap_or(conflict.synced_state);
    let github_changed = state != conflict.synced_state;
    let local_changed = state_of(local) != conflict.synced_state;
    // GitHub's state as a column: the task's own when it already says that state.
    let github_column = if state_of(local) == state { local } else { state.task_status() };
    let status = match resolution {
        Resolution::Merge(Merged { status: Some(chosen), .. }) => *chosen,
        _ if !github_changed => local,
        _ if !local_changed => github_column,
        Resolution::AcceptGithub => github_column,
        Resolution::KeepLocal | Resolution::Merge(_) => local,
    };
    Resolved { content, status, base: conflict.remote, synced_state: state }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::c;
    use super::*;
    use crate::domain::Merged;
    use IssueState::{Completed, NotPlanned, Open};
    use TaskStatus::*;

    #[test]
    fn resolution_table() {
        // (action, state of the last sync, newest remote state, task's column)
        //   -> task content, column, synced state; the base is always the newest remote.
        let (local, remote, merged) = (c("l"), c("r"), c("m"));
        let merge =
            Resolution::Merge(Merged { content: merged.clone(), status: None, milestone_named: true });
        let table = [
            (Resolution::KeepLocal, Open, RemoteState::Open, InProgress, &local, InProgress, Open),
            (Resolution::AcceptGithub, Open, RemoteState::Open, InProgress, &remote, InProgress, Open),
            (merge.clone(), Open, RemoteState::Open, Todo, &merged, Todo, Open),
            // a close only GitHub made is imported with any resolution
            (Resolution::KeepLocal, Open, RemoteState::Completed, InProgress, &local, Done, Completed),
            (Resolution::AcceptGithub, Completed, RemoteState::Open, Done, &remote, Todo, Open),
            (merge.clone(), Open, RemoteState::NotPlanned, Todo, &merged, Cancelled, NotPlanned),
            // a move only the board made survives any resolution (it is pushed after it)
            (Resolution::AcceptGithub, Open, RemoteState::Open, Done, &remote, Done, Open),
            (Resolution::KeepLocal, Open, RemoteState::Open, Cancelled, &local, Cancelled, Open),
            (merge.clone(), Completed, RemoteState::Completed, Todo, &merged, Todo, Completed),
            // both changed the state: the choice decides
            (Resolution::KeepLocal, Open, RemoteState::NotPlanned, Done, &local, Done, NotPlanned),
            (Resolution::AcceptGithub, Open, RemoteState::NotPlanned, Done, &remote, Cancelled, NotPlanned),
            (merge, Completed, RemoteState::Open, Cancelled, &merged, Cancelled, Open),
            // a gone issue has no state to import: the synced state stays
            (Resolution::AcceptGithub, Completed, RemoteState::Deleted, Done, &remote, Done, Completed),
            (Resolution::KeepLocal, Open, RemoteState::Transferred, InReview, &local, InReview, Open),
        ];
        for (resolution, synced_state, remote_state, local_status, content, status, state) in &table {
            let conflict = Resolving {
                local: &local,
                local_status: *local_status,
                remote: &remote,
                synced_state: *synced_state,
                remote_state: *remote_state,
            };
            let r = resolve(&conflict, resolution);
            assert_eq!(
                r,
                Resolved { content, status: *status, base: &remote, synced_state: *state },
                "{resolution:?} {synced_state} {remote_state} {local_status}"
            );
        }
    }

    #[test]
    fn a_merge_may_name_the_column() {
        let (local, remote) = (c("l"), c("r"));
        let merge =
            Resolution::Merge(Merged { content: c("m"), status: Some(InReview), milestone_named: true });
        let conflict = Resolving {
            local: &local,
            local_status: Done,
            remote: &remote,
            synced_state: Open,
            remote_state: RemoteState::NotPlanned,
        };
        assert_eq!(resolve(&conflict, &merge).status, InReview);
    }

    #[test]
    fn what_differs_from_github_after_a_resolution_is_pushed() {
        // (action, column, GitHub's state) -> pushed
        let (local, remote) = (c("l"), c("r"));
        let table = [
            (Resolution::KeepLocal, Todo, true),     // the local content goes out
            (Resolution::AcceptGithub, Todo, false), // GitHub's content and state: nothing
            (Resolution::AcceptGithub, Done, true),  // a move waiting behind the conflict
            (
                Resolution::Merge(Merged { content: remote.clone(), status: None, milestone_named: true }),
                InProgress,
                false,
            ),
            (Resolution::Merge(Merged { content: c("m"), status: None, milestone_named: true }), Todo, true),
        ];
        for (resolution, column, pushed) in table {
            let conflict = Resolving {
                local: &local,
                local_status: column,
                remote: &remote,
                synced_state: Open,
                remote_state: RemoteState::Open,
            };
            assert_eq!(
                resolve(&conflict, &resolution).differs_from_github(),
                pushed,
                "{resolution:?} {column}"
            );
        }
    }
}
