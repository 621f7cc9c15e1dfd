//! The sync rules: pure decisions over (base, local, remote) values.
//!
//! Webhook deliveries and reconcile polls both call [`plan`]; the store carries out the plan
//! inside one transaction. Nothing here reads a clock, a database or the network.

use crate::domain::{Content, IssueState, TaskStatus};
use crate::time::Timestamp;

/// What is known of an issue's task when a remote snapshot arrives.
#[derive(Clone, Copy, Debug)]
pub struct Linked<'a> {
    /// `last_synced_content`: what both sides agreed on at the last sync.
    pub base: &'a Content,
    /// The issue state imported at the last sync.
    pub base_state: IssueState,
    /// `remote_updated_at`: the newest GitHub `updated_at` applied so far.
    pub applied_updated_at: Timestamp,
    /// The task's current content.
    pub local: &'a Content,
    pub local_status: TaskStatus,
    /// A conflict of this task waits for a person.
    pub conflict_pending: bool,
}

/// A remote snapshot of the issue.
#[derive(Clone, Copy, Debug)]
pub struct Remote<'a> {
    pub content: &'a Content,
    pub state: IssueState,
    pub updated_at: Timestamp,
}

/// What to do with the content.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ContentAction {
    /// Rule 3: the remote content is the base: nothing to import (local edits stay).
    Keep,
    /// Rule 4: only the remote changed: task := remote; base := remote.
    FastForward,
    /// Rule 5: both changed to the same content: base := remote.
    Converged,
    /// Rule 6: both changed differently: record a conflict, leave the task alone.
    Conflict,
    /// A conflict is already pending: refresh its remote snapshot, leave the task alone.
    RefreshConflict,
}

/// The decision for one snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Rule 1: no task yet: create it with this status; base := remote.
    Create { status: TaskStatus },
    /// Rule 2: older than what was applied: ignore.
    Stale,
    /// Rules 3–6 for the content, and the status to import (if any).
    Apply { content: ContentAction, status: Option<TaskStatus> },
}

impl Plan {
    /// Whether carrying out the plan changes the task itself.
    pub fn touches_task(&self) -> bool {
        match self {
            Plan::Create { .. } => true,
            Plan::Stale => false,
            Plan::Apply { content, status } => *content == ContentAction::FastForward || status.is_some(),
        }
    }
}

/// Decides what a remote snapshot does to its task (SPEC.md, "Sync rules").
pub fn plan(linked: Option<&Linked<'_>>, remote: &Remote<'_>) -> Plan {
    let Some(linked) = linked else {
        return Plan::Create { status: remote.state.task_status() };
    };
    if remote.updated_at < linked.applied_updated_at {
        return Plan::Stale;
    }
    if linked.conflict_pending {
        // The person resolving it decides; meanwhile the conflict shows the newest remote.
        return Plan::Apply { content: ContentAction::RefreshConflict, status: None };
    }
    let content = decide_content(linked.base, linked.local, remote.content);
    let status = match content {
        // "The task is not touched": the state change is imported after the resolution.
        ContentAction::Conflict => None,
        _ => import_status(linked.base_state, remote.state, linked.local_status),
    };
    Plan::Apply { content, status }
}

/// Rules 3–6: the three-way comparison of the content.
pub fn decide_content(base: &Content, local: &Content, remote: &Content) -> ContentAction {
    if remote == base {
        ContentAction::Keep
    } else if local == base {
        ContentAction::FastForward
    } else if local == remote {
        ContentAction::Converged
    } else {
        ContentAction::Conflict
    }
}

/// The status rule: a status is imported only when the issue's state changed since the last
/// sync, so a task moved locally (to `inprogress`, say) stays there while the issue is open.
pub fn import_status(base: IssueState, remote: IssueState, local: TaskStatus) -> Option<TaskStatus> {
    if base == remote {
        return None;
    }
    let wanted = match remote {
        IssueState::Completed => TaskStatus::Done,
        IssueState::NotPlanned => TaskStatus::Cancelled,
        // Reopened: back to the board only from a closed column.
        IssueState::Open => match local {
            TaskStatus::Done | TaskStatus::Cancelled => TaskStatus::Todo,
            _ => return None,
        },
    };
    (wanted != local).then_some(wanted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ContentAction::*;
    use IssueState::{Completed, NotPlanned, Open};
    use TaskStatus::*;

    fn c(title: &str) -> Content {
        Content::new(title, Some(format!("{title} body"))).unwrap()
    }

    fn t(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn content_table() {
        // (base, local, remote) -> action: every equality pattern of three values.
        let table = [
            ("a", "a", "a", Keep),        // nothing changed
            ("a", "b", "a", Keep),        // only local changed: local edit stays
            ("a", "a", "b", FastForward), // only remote changed
            ("a", "b", "b", Converged),   // both changed the same way
            ("a", "b", "c", Conflict),    // both changed differently
        ];
        for (base, local, remote, want) in table {
            assert_eq!(decide_content(&c(base), &c(local), &c(remote)), want, "{base} {local} {remote}");
        }
    }

    #[test]
    fn description_counts_as_content() {
        let base = Content::new("t", Some("one".into())).unwrap();
        let remote = Content::new("t", Some("two".into())).unwrap();
        let local = Content::new("t", None).unwrap();
        assert_eq!(decide_content(&base, &base, &remote), FastForward);
        assert_eq!(decide_content(&base, &local, &remote), Conflict);
    }

    #[test]
    fn status_table() {
        // (base state, remote state, local status) -> imported status
        let table = [
            (Open, Open, InProgress, None),
            (Open, Open, Done, None), // state unchanged: a local move stays
            (Completed, Completed, Todo, None),
            (Open, Completed, InProgress, Some(Done)),
            (Open, Completed, Done, None), // already there
            (Open, NotPlanned, Todo, Some(Cancelled)),
            (Completed, NotPlanned, Done, Some(Cancelled)),
            (NotPlanned, Completed, Cancelled, Some(Done)),
            (Completed, Open, Done, Some(Todo)), // reopened
            (NotPlanned, Open, Cancelled, Some(Todo)),
            (Completed, Open, InReview, None), // reopened, but the task was moved on locally
            (Completed, Open, Todo, None),
        ];
        for (base, remote, local, want) in table {
            assert_eq!(import_status(base, remote, local), want, "{base} {remote} {local}");
        }
    }

    fn linked<'a>(base: &'a Content, local: &'a Content, at: &str) -> Linked<'a> {
        Linked {
            base,
            base_state: Open,
            applied_updated_at: t(at),
            local,
            local_status: Todo,
            conflict_pending: false,
        }
    }

    #[test]
    fn unlinked_issue_creates_a_task_with_its_state() {
        let r = c("r");
        for (state, status) in [(Open, Todo), (Completed, Done), (NotPlanned, Cancelled)] {
            let remote = Remote { content: &r, state, updated_at: t("2026-01-01T00:00:00Z") };
            assert_eq!(plan(None, &remote), Plan::Create { status });
        }
    }

    #[test]
    fn older_snapshot_is_stale_and_equal_time_is_not() {
        let (base, r) = (c("a"), c("b"));
        let l = linked(&base, &base, "2026-01-01T00:00:10Z");
        let older = Remote { content: &r, state: Completed, updated_at: t("2026-01-01T00:00:09Z") };
        assert_eq!(plan(Some(&l), &older), Plan::Stale);
        let same = Remote { updated_at: t("2026-01-01T00:00:10Z"), ..older };
        assert_eq!(plan(Some(&l), &same), Plan::Apply { content: FastForward, status: Some(Done) });
    }

    #[test]
    fn conflict_leaves_the_task_alone_status_included() {
        let (base, local, r) = (c("a"), c("b"), c("c"));
        let l = linked(&base, &local, "2026-01-01T00:00:00Z");
        let remote = Remote { content: &r, state: Completed, updated_at: t("2026-01-02T00:00:00Z") };
        let p = plan(Some(&l), &remote);
        assert_eq!(p, Plan::Apply { content: Conflict, status: None });
        assert!(!p.touches_task());
    }

    #[test]
    fn pending_conflict_only_refreshes_its_snapshot() {
        let (base, local) = (c("a"), c("b"));
        let l = Linked { conflict_pending: true, ..linked(&base, &local, "2026-01-01T00:00:00Z") };
        for r in [c("a"), c("b"), c("z")] {
            let remote = Remote { content: &r, state: Completed, updated_at: t("2026-01-02T00:00:00Z") };
            assert_eq!(plan(Some(&l), &remote), Plan::Apply { content: RefreshConflict, status: None });
        }
    }

    #[test]
    fn status_is_imported_beside_a_kept_local_edit() {
        let (base, local) = (c("a"), c("b"));
        let l = linked(&base, &local, "2026-01-01T00:00:00Z");
        let remote = Remote { content: &base, state: NotPlanned, updated_at: t("2026-01-02T00:00:00Z") };
        let p = plan(Some(&l), &remote);
        assert_eq!(p, Plan::Apply { content: Keep, status: Some(Cancelled) });
        assert!(p.touches_task());
    }
}
