//! The sync rules: every decision of ghsync, as pure functions over values.
//!
//! - [`plan`]: what a snapshot of an issue does to its task and link (rules 1–6, stale,
//!   replays and ambiguity), as a whole [`Plan`] the store carries out in one transaction;
//! - [`resolve`]: what a person's resolution of a conflict writes;
//! - [`gone`]: what a deleted or transferred issue does to its link;
//! - [`outgoing`] and [`push`]: what a local edit sends to GitHub (two-way configs).
//!
//! Webhook deliveries and reconcile polls translate what they saw (a payload's action, an
//! HTTP 404/410/301) into these inputs and call the same functions. Nothing here reads a
//! clock, a database or the network.

use serde::Serialize;

use crate::domain::{Content, IssueState, RemoteState, Resolution, SyncCounts, TaskStatus};
use crate::time::Timestamp;

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
}

/// What is known of an issue's task when a remote snapshot arrives.
#[derive(Clone, Copy, Debug)]
pub struct Linked<'a> {
    /// `last_synced_content`: what both sides agreed on at the last sync.
    pub base: &'a Content,
    /// The issue state imported at the last sync.
    pub base_state: IssueState,
    /// `remote_updated_at`: the newest GitHub `updated_at` applied (or seen gone) so far.
    pub applied_updated_at: Timestamp,
    /// The remote content applied last: the open conflict's snapshot while one is pending,
    /// else the base.
    pub last_remote: &'a Content,
    /// The newest remote state seen, including the issue's disappearance.
    pub remote_state: RemoteState,
    /// The link ended when its config moved to another repository; a snapshot of the issue
    /// (its config follows the repository again) links it anew.
    pub unlinked: bool,
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
    /// How the snapshot reached us.
    pub source: Source,
}

/// Where a snapshot comes from: it decides who wins a tie of `updated_at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// Read from GitHub's API just now: the newest truth, also at an equal `updated_at`.
    Read,
    /// A webhook delivery: possibly a replay of a captured body, so at an equal `updated_at`
    /// with other content it cannot be told from an older edit of the same second.
    Delivery,
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

/// Which content a write takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The task's own (local) content.
    Local,
    /// The snapshot's content.
    Remote,
}

/// The task's new content and status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TaskWrite {
    pub content: Side,
    pub status: TaskStatus,
}

/// What happens to the link (`task_github_metadata`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkWrite {
    /// Nothing about the link changed.
    Untouched,
    /// The link follows the snapshot: applied `updated_at`, number, URL, synced and remote
    /// state, and the base (`Side::Local` keeps the stored base).
    Advance { base: Side },
    /// A conflict holds the base and the synced state: only the snapshot's `updated_at`,
    /// remote state, number and URL move, and the link is marked `pending`.
    HoldForConflict,
}

/// What happens to the task's open conflict.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConflictWrite {
    /// Record a new pending conflict with both snapshots.
    Open,
    /// Refresh the open conflict's remote snapshot.
    Refresh,
}

/// The whole effect of a snapshot on a linked issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effect {
    pub content: ContentAction,
    pub task: Option<TaskWrite>,
    pub link: LinkWrite,
    pub conflict: Option<ConflictWrite>,
    pub outcome: ApplyOutcome,
}

/// The decision for one snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Rule 1: no task yet: create it with this status; base := remote.
    Create { status: TaskStatus },
    /// Nothing is written: stale (rule 2, or not newer than a disappearance), ambiguous, or
    /// the old identity of a relinked issue.
    Skip(ApplyOutcome),
    /// Rules 3–6 for a linked issue.
    Apply(Effect),
}

impl Plan {
    /// The outcome the plan reports once carried out.
    pub fn outcome(&self) -> ApplyOutcome {
        match self {
            Plan::Create { .. } => ApplyOutcome::Created,
            Plan::Skip(outcome) => *outcome,
            Plan::Apply(effect) => effect.outcome,
        }
    }

    /// Whether carrying out the plan changes the task itself.
    pub fn touches_task(&self) -> bool {
        match self {
            Plan::Create { .. } => true,
            Plan::Skip(_) => false,
            Plan::Apply(effect) => effect.task.is_some(),
        }
    }
}

/// What is known of an issue the project has no link for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unlinked {
    /// Never seen: a new issue.
    New,
    /// The old node id of an issue that was transferred and relinked to its new identity.
    Retired,
}

/// Decides what a remote snapshot does to its task (SPEC.md, "Sync rules" and "Replays and
/// ambiguity"). `linked` is `Err` when the project has no link for the issue.
pub fn plan(linked: Result<&Linked<'_>, Unlinked>, remote: &Remote<'_>) -> Plan {
    let linked = match linked {
        Ok(linked) => linked,
        Err(Unlinked::New) => return Plan::Create { status: remote.state.task_status() },
        Err(Unlinked::Retired) => return Plan::Skip(ApplyOutcome::Retired),
    };
    if remote.updated_at < linked.applied_updated_at {
        return Plan::Skip(ApplyOutcome::Stale);
    }
    let gone = linked.remote_state.issue_state().is_none();
    if gone && remote.updated_at <= linked.applied_updated_at {
        // A snapshot from before the deletion or transfer (a replay) does not revive it.
        return Plan::Skip(ApplyOutcome::Stale);
    }
    let same_second = remote.updated_at == linked.applied_updated_at;
    let differs =
        remote.content != linked.last_remote || RemoteState::from(remote.state) != linked.remote_state;
    if same_second && differs && remote.source == Source::Delivery && !linked.unlinked {
        return Plan::Skip(ApplyOutcome::Ambiguous);
    }
    if linked.conflict_pending {
        // The person resolving it decides; meanwhile the conflict shows the newest remote.
        return Plan::Apply(Effect {
            content: ContentAction::RefreshConflict,
            task: None,
            link: LinkWrite::HoldForConflict,
            conflict: Some(ConflictWrite::Refresh),
            outcome: ApplyOutcome::ConflictPending,
        });
    }
    let content = decide_content(linked.base, linked.local, remote.content);
    if content == ContentAction::Conflict {
        // "The task is not touched": the state change is imported after the resolution.
        return Plan::Apply(Effect {
            content,
            task: None,
            link: LinkWrite::HoldForConflict,
            conflict: Some(ConflictWrite::Open),
            outcome: ApplyOutcome::Conflict,
        });
    }
    let status = import_status(linked.base_state, remote.state, linked.local_status);
    let task = (content == ContentAction::FastForward || status.is_some()).then(|| TaskWrite {
        content: if content == ContentAction::FastForward { Side::Remote } else { Side::Local },
        status: status.unwrap_or(linked.local_status),
    });
    // Keep leaves the base as it was; fast-forward and converged move it to the remote.
    let base = if content == ContentAction::Keep { Side::Local } else { Side::Remote };
    let link_moved = remote.updated_at != linked.applied_updated_at
        || (base == Side::Remote && remote.content != linked.base)
        || remote.state != linked.base_state
        || RemoteState::from(remote.state) != linked.remote_state
        || linked.unlinked;
    Plan::Apply(Effect {
        content,
        task,
        link: if link_moved { LinkWrite::Advance { base } } else { LinkWrite::Untouched },
        conflict: None,
        outcome: if task.is_some() { ApplyOutcome::Updated } else { ApplyOutcome::Unchanged },
    })
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

/// Counts a page's outcomes into a run's figures (`tasks_created`, `tasks_updated`,
/// `conflicts_detected`).
pub fn count(counts: &mut SyncCounts, outcomes: &[ApplyOutcome]) {
    for outcome in outcomes {
        match outcome {
            ApplyOutcome::Created => counts.tasks_created += 1,
            ApplyOutcome::Updated => counts.tasks_updated += 1,
            ApplyOutcome::Conflict => counts.conflicts_detected += 1,
            ApplyOutcome::Unchanged
            | ApplyOutcome::ConflictPending
            | ApplyOutcome::Stale
            | ApplyOutcome::Ambiguous
            | ApplyOutcome::Retired => {}
        }
    }
}

/// A pending conflict as a person resolves it.
#[derive(Clone, Copy, Debug)]
pub struct Resolving<'a> {
    /// The task's current content.
    pub local: &'a Content,
    pub local_status: TaskStatus,
    /// The newest remote snapshot the conflict holds.
    pub remote: &'a Content,
    /// The issue state imported at the last sync.
    pub synced_state: IssueState,
    /// The newest remote state seen (the conflict held back its import).
    pub remote_state: RemoteState,
}

/// What a resolution writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Resolved<'a> {
    /// The task's content: local, GitHub's or the merged one.
    pub content: &'a Content,
    /// The task's status, with the state change the conflict held back imported.
    pub status: TaskStatus,
    /// The new base: the newest remote snapshot, so the same snapshot arriving again raises
    /// nothing.
    pub base: &'a Content,
    /// The new synced state.
    pub synced_state: IssueState,
    /// In a two-way config the resolved content is pushed (keep local, merge), so the next
    /// GitHub edit is not a conflict again; accepting GitHub's has nothing to push.
    pub push: bool,
}

/// Decides what resolving a conflict writes (SPEC.md, "Resolution").
pub fn resolve<'a>(conflict: &Resolving<'a>, resolution: &'a Resolution) -> Resolved<'a> {
    let content = match resolution {
        Resolution::KeepLocal => conflict.local,
        Resolution::AcceptGithub => conflict.remote,
        Resolution::Merge(merged) => merged,
    };
    // A deleted or transferred issue has no state to import; its synced state stays.
    let state = conflict.remote_state.issue_state().unwrap_or(conflict.synced_state);
    let status =
        import_status(conflict.synced_state, state, conflict.local_status).unwrap_or(conflict.local_status);
    let push = !matches!(resolution, Resolution::AcceptGithub);
    Resolved { content, status, base: conflict.remote, synced_state: state, push }
}

/// How an issue left its repository, as a delivery's action (`deleted`, `transferred`) or a
/// lookup's answer (404/410, 301) shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disappearance {
    /// Deleted: the `deleted` action, or 404/410 when looked up.
    Deleted,
    /// Transferred: the `transferred` action, or 301 when looked up. `into_followed` when
    /// its new identity is known and lies in a repository the project follows.
    Transferred { into_followed: bool },
}

/// What a disappearance does to the issue's link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoneAction {
    /// Mark the link (deleted or transferred); the task keeps its content, and the applied
    /// `updated_at` moves up to the last one seen, so an older snapshot does not revive it.
    Mark(RemoteState),
    /// Point the task at the issue's new identity and apply its snapshot; the old node id
    /// stays known (retired), so its old snapshots create nothing. Where the new identity
    /// already has a task of its own, the old link is marked transferred instead.
    Relink,
}

/// Decides what a deleted or transferred issue does to its link (SPEC.md, "Sync rules").
pub fn gone(disappearance: Disappearance) -> GoneAction {
    match disappearance {
        Disappearance::Deleted => GoneAction::Mark(RemoteState::Deleted),
        Disappearance::Transferred { into_followed: true } => GoneAction::Relink,
        Disappearance::Transferred { into_followed: false } => GoneAction::Mark(RemoteState::Transferred),
    }
}

/// A linked task whose local edit waits to be pushed (two-way configs).
#[derive(Clone, Copy, Debug)]
pub struct Pushing<'a> {
    /// `last_synced_content`: what GitHub held at the last sync.
    pub base: &'a Content,
    /// The issue state imported (or pushed) at the last sync.
    pub base_state: IssueState,
    pub local: &'a Content,
    pub local_status: TaskStatus,
    /// A conflict waits for a person: the resolution pushes, not the edit.
    pub conflict_pending: bool,
    /// The issue is deleted, transferred away or no longer followed: there is nothing to
    /// write to.
    pub gone: bool,
}

/// What a push sends: only what differs from the base.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Push<'a> {
    /// The task's content, when it differs from the base.
    pub content: Option<&'a Content>,
    /// The issue state the task's status asks for, when it differs from the base state.
    pub state: Option<IssueState>,
}

/// Why a push sends nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idle {
    /// The task holds the base (its edit was undone, or only moved between open columns).
    Nothing,
    /// A conflict waits for a person, or the issue is gone: the entry is dropped (the
    /// resolution pushes what it decides).
    Hold,
}

/// The issue state a task's status asks for: `done` → completed, `cancelled` → not planned,
/// any open column → open. `None` when the base state already is that.
pub fn wanted_state(status: TaskStatus, base_state: IssueState) -> Option<IssueState> {
    let wanted = match status {
        TaskStatus::Done => IssueState::Completed,
        TaskStatus::Cancelled => IssueState::NotPlanned,
        TaskStatus::Todo | TaskStatus::InProgress | TaskStatus::InReview => IssueState::Open,
    };
    (wanted != base_state).then_some(wanted)
}

/// What a task would send if GitHub still holds the base; decided before GitHub is asked,
/// so an edit that changes nothing costs no request.
pub fn outgoing<'a>(task: &Pushing<'a>) -> Result<Push<'a>, Idle> {
    if task.conflict_pending || task.gone {
        return Err(Idle::Hold);
    }
    let push = Push {
        content: (task.local != task.base).then_some(task.local),
        state: wanted_state(task.local_status, task.base_state),
    };
    if push.content.is_none() && push.state.is_none() { Err(Idle::Nothing) } else { Ok(push) }
}

/// The decision for a push once the issue was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PushPlan<'a> {
    /// Nothing to send.
    Idle(Idle),
    /// GitHub changed since the last sync: the snapshot read goes through [`plan`] first
    /// (converged, fast-forward or one conflict); GitHub is not touched.
    Pull,
    /// GitHub still holds the base: send this; then base := what was sent.
    Send(Push<'a>),
}

/// Decides a push (SPEC.md "Two-way sync"): only when GitHub still holds the base (its
/// content and state as of the last sync) is anything written, so a GitHub change nobody
/// here has seen is never overwritten.
pub fn push<'a>(task: &Pushing<'a>, remote: &Content, remote_state: IssueState) -> PushPlan<'a> {
    let out = match outgoing(task) {
        Ok(out) => out,
        Err(idle) => return PushPlan::Idle(idle),
    };
    if remote != task.base || remote_state != task.base_state {
        return PushPlan::Pull;
    }
    PushPlan::Send(out)
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
            last_remote: base,
            remote_state: RemoteState::Open,
            unlinked: false,
            local,
            local_status: Todo,
            conflict_pending: false,
        }
    }

    fn remote<'a>(content: &'a Content, state: IssueState, at: &str) -> Remote<'a> {
        Remote { content, state, updated_at: t(at), source: Source::Delivery }
    }

    fn apply(
        content: ContentAction,
        task: Option<TaskWrite>,
        link: LinkWrite,
        outcome: ApplyOutcome,
    ) -> Plan {
        Plan::Apply(Effect { content, task, link, conflict: None, outcome })
    }

    #[test]
    fn unlinked_issue_creates_a_task_with_its_state_unless_retired() {
        let r = c("r");
        for (state, status) in [(Open, Todo), (Completed, Done), (NotPlanned, Cancelled)] {
            let remote = remote(&r, state, "2026-01-01T00:00:00Z");
            assert_eq!(plan(Err(Unlinked::New), &remote), Plan::Create { status });
            assert_eq!(plan(Err(Unlinked::Retired), &remote), Plan::Skip(ApplyOutcome::Retired));
        }
    }

    #[test]
    fn older_snapshot_is_stale_and_equal_time_is_not() {
        let (base, r) = (c("a"), c("b"));
        let l = linked(&base, &base, "2026-01-01T00:00:10Z");
        let older = remote(&r, Completed, "2026-01-01T00:00:09Z");
        assert_eq!(plan(Ok(&l), &older), Plan::Skip(ApplyOutcome::Stale));
        let same = Remote { updated_at: t("2026-01-01T00:00:10Z"), source: Source::Read, ..older };
        let ff = TaskWrite { content: Side::Remote, status: Done };
        assert_eq!(
            plan(Ok(&l), &same),
            apply(FastForward, Some(ff), LinkWrite::Advance { base: Side::Remote }, ApplyOutcome::Updated)
        );
    }

    #[test]
    fn an_equal_time_delivery_with_other_content_is_ambiguous() {
        // (snapshot content, state, source, unlinked) -> skipped as ambiguous?
        let (base, other) = (c("a"), c("b"));
        let table = [
            (&other, Open, Source::Delivery, false, true), // other content: a replay of an older edit?
            (&base, Completed, Source::Delivery, false, true), // other state in the same second
            (&base, Open, Source::Delivery, false, false), // the same snapshot again: nothing to decide
            (&other, Open, Source::Read, false, false),    // read from GitHub now: the truth
            (&other, Open, Source::Delivery, true, false), // an ended link is linked anew
        ];
        for (content, state, source, unlinked, ambiguous) in table {
            let l = Linked { unlinked, ..linked(&base, &base, "2026-01-01T00:00:10Z") };
            let r = Remote { source, ..remote(content, state, "2026-01-01T00:00:10Z") };
            let skipped = plan(Ok(&l), &r) == Plan::Skip(ApplyOutcome::Ambiguous);
            assert_eq!(skipped, ambiguous, "{content:?} {state} {source:?} unlinked={unlinked}");
        }
        // With a conflict pending, the last remote is the conflict's snapshot, not the base.
        let (local, held) = (c("l"), c("h"));
        let l = Linked {
            conflict_pending: true,
            last_remote: &held,
            ..linked(&base, &local, "2026-01-01T00:00:10Z")
        };
        assert_eq!(
            plan(Ok(&l), &remote(&base, Open, "2026-01-01T00:00:10Z")),
            Plan::Skip(ApplyOutcome::Ambiguous)
        );
        assert_eq!(
            plan(Ok(&l), &remote(&held, Open, "2026-01-01T00:00:10Z")).outcome(),
            ApplyOutcome::ConflictPending
        );
    }

    #[test]
    fn a_gone_issue_is_revived_only_by_a_newer_snapshot() {
        let (base, r) = (c("a"), c("b"));
        for gone in [RemoteState::Deleted, RemoteState::Transferred] {
            let l = Linked { remote_state: gone, ..linked(&base, &base, "2026-01-01T00:00:10Z") };
            for source in [Source::Delivery, Source::Read] {
                let same = Remote { source, ..remote(&r, Open, "2026-01-01T00:00:10Z") };
                assert_eq!(plan(Ok(&l), &same), Plan::Skip(ApplyOutcome::Stale), "{gone} {source:?}");
            }
            let newer = remote(&r, Open, "2026-01-01T00:00:11Z");
            assert_eq!(plan(Ok(&l), &newer).outcome(), ApplyOutcome::Updated, "{gone}");
        }
    }

    #[test]
    fn an_ended_link_is_linked_anew_by_any_current_snapshot() {
        let base = c("a");
        let l = Linked { unlinked: true, ..linked(&base, &base, "2026-01-01T00:00:10Z") };
        let same = remote(&base, Open, "2026-01-01T00:00:10Z");
        assert_eq!(
            plan(Ok(&l), &same),
            apply(Keep, None, LinkWrite::Advance { base: Side::Local }, ApplyOutcome::Unchanged)
        );
    }

    #[test]
    fn conflict_leaves_the_task_alone_status_included() {
        let (base, local, r) = (c("a"), c("b"), c("c"));
        let l = linked(&base, &local, "2026-01-01T00:00:00Z");
        let p = plan(Ok(&l), &remote(&r, Completed, "2026-01-02T00:00:00Z"));
        assert_eq!(
            p,
            Plan::Apply(Effect {
                content: Conflict,
                task: None,
                link: LinkWrite::HoldForConflict,
                conflict: Some(ConflictWrite::Open),
                outcome: ApplyOutcome::Conflict,
            })
        );
        assert!(!p.touches_task());
    }

    #[test]
    fn pending_conflict_only_refreshes_its_snapshot() {
        let (base, local) = (c("a"), c("b"));
        let l = Linked { conflict_pending: true, ..linked(&base, &local, "2026-01-01T00:00:00Z") };
        for r in [c("a"), c("b"), c("z")] {
            assert_eq!(
                plan(Ok(&l), &remote(&r, Completed, "2026-01-02T00:00:00Z")),
                Plan::Apply(Effect {
                    content: RefreshConflict,
                    task: None,
                    link: LinkWrite::HoldForConflict,
                    conflict: Some(ConflictWrite::Refresh),
                    outcome: ApplyOutcome::ConflictPending,
                })
            );
        }
    }

    #[test]
    fn status_is_imported_beside_a_kept_local_edit() {
        let (base, local) = (c("a"), c("b"));
        let l = linked(&base, &local, "2026-01-01T00:00:00Z");
        let p = plan(Ok(&l), &remote(&base, NotPlanned, "2026-01-02T00:00:00Z"));
        let write = TaskWrite { content: Side::Local, status: Cancelled };
        assert_eq!(
            p,
            apply(Keep, Some(write), LinkWrite::Advance { base: Side::Local }, ApplyOutcome::Updated)
        );
        assert!(p.touches_task());
    }

    #[test]
    fn effect_table() {
        // (local, remote, remote state, applied at, snapshot at) -> task write, link write, outcome
        let base = c("a");
        let (b, x) = (c("b"), c("x"));
        let at = "2026-01-01T00:00:00Z";
        let later = "2026-01-02T00:00:00Z";
        let table = [
            // nothing new at all: the link stays as it is
            (&base, &base, Open, at, None, LinkWrite::Untouched, ApplyOutcome::Unchanged),
            // a newer snapshot of the same content: the link follows its time
            (
                &base,
                &base,
                Open,
                later,
                None,
                LinkWrite::Advance { base: Side::Local },
                ApplyOutcome::Unchanged,
            ),
            // only the remote changed: fast-forward
            (
                &base,
                &x,
                Open,
                later,
                Some(TaskWrite { content: Side::Remote, status: Todo }),
                LinkWrite::Advance { base: Side::Remote },
                ApplyOutcome::Updated,
            ),
            // both changed alike: only the base moves
            (&b, &b, Open, later, None, LinkWrite::Advance { base: Side::Remote }, ApplyOutcome::Unchanged),
            // only local changed, the issue closed: status imported, local content kept
            (
                &b,
                &base,
                Completed,
                later,
                Some(TaskWrite { content: Side::Local, status: Done }),
                LinkWrite::Advance { base: Side::Local },
                ApplyOutcome::Updated,
            ),
        ];
        for (local, r, state, when, task, link, outcome) in table {
            let l = linked(&base, local, at);
            let p = plan(Ok(&l), &remote(r, state, when));
            let Plan::Apply(effect) = p else { panic!("{p:?}") };
            assert_eq!(
                (effect.task, effect.link, effect.outcome, effect.conflict),
                (task, link, outcome, None),
                "{local:?} {r:?} {state} {when}"
            );
        }
    }

    #[test]
    fn resolution_table() {
        // (action, state imported at the last sync, newest remote state, local status)
        //   -> task content, status, synced state; the base is always the newest remote.
        let (local, remote, merged) = (c("l"), c("r"), c("m"));
        let merge = Resolution::Merge(merged.clone());
        let table = [
            (Resolution::KeepLocal, Open, RemoteState::Open, InProgress, &local, InProgress, Open),
            (Resolution::AcceptGithub, Open, RemoteState::Open, InProgress, &remote, InProgress, Open),
            (merge.clone(), Open, RemoteState::Open, Todo, &merged, Todo, Open),
            // a close held back by the conflict is imported with the resolution
            (Resolution::KeepLocal, Open, RemoteState::Completed, InProgress, &local, Done, Completed),
            (Resolution::AcceptGithub, Completed, RemoteState::Open, Done, &remote, Todo, Open),
            (merge, Open, RemoteState::NotPlanned, Todo, &merged, Cancelled, NotPlanned),
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
                Resolved { content, status: *status, base: &remote, synced_state: *state, push: r.push },
                "{resolution:?} {synced_state} {remote_state} {local_status}"
            );
        }
    }

    #[test]
    fn keep_local_and_merge_push_accepting_github_does_not() {
        let (local, remote) = (c("l"), c("r"));
        let table = [
            (Resolution::KeepLocal, true),
            (Resolution::AcceptGithub, false),
            (Resolution::Merge(c("m")), true),
        ];
        for (resolution, push) in table {
            let conflict = Resolving {
                local: &local,
                local_status: Todo,
                remote: &remote,
                synced_state: Open,
                remote_state: RemoteState::Open,
            };
            assert_eq!(resolve(&conflict, &resolution).push, push, "{resolution:?}");
        }
    }

    #[test]
    fn gone_table() {
        let table = [
            (Disappearance::Deleted, GoneAction::Mark(RemoteState::Deleted)),
            (Disappearance::Transferred { into_followed: false }, GoneAction::Mark(RemoteState::Transferred)),
            (Disappearance::Transferred { into_followed: true }, GoneAction::Relink),
        ];
        for (disappearance, action) in table {
            assert_eq!(gone(disappearance), action, "{disappearance:?}");
        }
    }

    #[test]
    fn wanted_state_table() {
        // (status, base state) -> state to push
        let table = [
            (Done, Open, Some(Completed)),
            (Done, Completed, None),
            (Done, NotPlanned, Some(Completed)),
            (Cancelled, Open, Some(NotPlanned)),
            (Cancelled, Completed, Some(NotPlanned)),
            (Cancelled, NotPlanned, None),
            (Todo, Completed, Some(Open)), // an open column from a closed issue: reopen
            (InReview, NotPlanned, Some(Open)),
            (InProgress, Open, None), // moves between open columns push nothing
            (Todo, Open, None),
        ];
        for (status, base, want) in table {
            assert_eq!(wanted_state(status, base), want, "{status} {base}");
        }
    }

    #[test]
    fn push_table() {
        // (local, status, remote, remote state, conflict pending, gone) -> plan
        let (base, local, other) = (c("a"), c("b"), c("x"));
        let send = |content: Option<&'static str>, state: Option<IssueState>| (content, state);
        type Want = Result<(Option<&'static str>, Option<IssueState>), PushPlan<'static>>;
        let table: [(&Content, TaskStatus, &Content, IssueState, bool, bool, Want); 9] = [
            // GitHub holds the base: the local content goes out
            (&local, Todo, &base, Open, false, false, Ok(send(Some("b"), None))),
            // content and state together
            (&local, Done, &base, Open, false, false, Ok(send(Some("b"), Some(Completed)))),
            // a status move alone
            (&base, Cancelled, &base, Open, false, false, Ok(send(None, Some(NotPlanned)))),
            // nothing differs from the base
            (&base, InProgress, &base, Open, false, false, Err(PushPlan::Idle(Idle::Nothing))),
            // GitHub's content changed meanwhile: pull first, write nothing
            (&local, Todo, &other, Open, false, false, Err(PushPlan::Pull)),
            // GitHub's state changed meanwhile: pull first
            (&local, Todo, &base, Completed, false, false, Err(PushPlan::Pull)),
            // GitHub already holds what the task holds: still a pull (rule 5 converges)
            (&local, Todo, &local, Open, false, false, Err(PushPlan::Pull)),
            // a conflict waits for a person
            (&local, Todo, &base, Open, true, false, Err(PushPlan::Idle(Idle::Hold))),
            // the issue is gone
            (&local, Todo, &base, Open, false, true, Err(PushPlan::Idle(Idle::Hold))),
        ];
        for (l, status, remote, state, conflict_pending, gone, want) in table {
            let task = Pushing {
                base: &base,
                base_state: Open,
                local: l,
                local_status: status,
                conflict_pending,
                gone,
            };
            let got = push(&task, remote, state);
            match (got, want) {
                (PushPlan::Send(p), Ok((content, state))) => {
                    assert_eq!(p.content.map(|c| c.title.as_str()), content, "{l:?} {status}");
                    assert_eq!(p.state, state, "{l:?} {status}");
                }
                (got, Err(want)) => assert_eq!(got, want, "{l:?} {status} {remote:?} {state}"),
                (got, want) => panic!("{got:?} != {want:?}"),
            }
        }
    }

    #[test]
    fn a_pushed_edit_echoes_as_nothing_new() {
        // After a push, base := pushed content and state; GitHub's webhook for that edit
        // then matches the base (rule 3): no conflict, no task write, no second push.
        let (pushed, local) = (c("b"), c("b"));
        let l = Linked {
            base_state: Completed,
            remote_state: RemoteState::Completed,
            local_status: Done,
            ..linked(&pushed, &local, "2026-01-01T00:00:05Z")
        };
        let echo = Remote { source: Source::Delivery, ..remote(&pushed, Completed, "2026-01-01T00:00:05Z") };
        let Plan::Apply(effect) = plan(Ok(&l), &echo) else { panic!() };
        assert_eq!((effect.task, effect.link, effect.conflict), (None, LinkWrite::Untouched, None));
        let task = Pushing {
            base: &pushed,
            base_state: Completed,
            local: &local,
            local_status: Done,
            conflict_pending: false,
            gone: false,
        };
        assert_eq!(outgoing(&task), Err(Idle::Nothing));
    }
}
