//! What a snapshot of an issue does to its task and link: rules 1–6 over the content, the
//! status rule, staleness, replays and ambiguity, times from the future, and a write of
//! ghsync's own that landed before its answer was recorded.

use crate::domain::{Content, IssueState, RemoteState, TaskStatus};
use crate::time::Timestamp;

use super::ApplyOutcome;
use super::push::{Fields, state_of};

/// How far ahead of the receiver's clock a delivered `updated_at` may lie (clocks drift; a
/// body from further ahead is forged or broken, and applied it would make every real
/// snapshot look older).
pub const FUTURE_LEEWAY: chrono::Duration = chrono::Duration::minutes(5);

/// Whether a delivered snapshot's `updated_at` lies more than [`FUTURE_LEEWAY`] ahead of
/// `now`, the receiver's clock: such a delivery is refused and nothing of it applied.
pub fn from_the_future(updated_at: Timestamp, now: Timestamp) -> bool {
    updated_at > now.plus(FUTURE_LEEWAY)
}

/// What is known of an issue's task when a remote snapshot arrives.
#[derive(Clone, Copy, Debug)]
pub struct Linked<'a> {
    /// `last_synced_content`: what both sides agreed on at the last sync.
    pub base: &'a Content,
    /// The issue state imported (or pushed) at the last sync.
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
    pub link_ended: bool,
    /// The task's current content.
    pub local: &'a Content,
    pub local_status: TaskStatus,
    /// A conflict of this task waits for a person.
    pub conflict_pending: bool,
    /// The config pushes local edits: the task's column is then a three-way field like its
    /// content (one-way, GitHub's state decides).
    pub two_way: bool,
    /// A write of ghsync's to this issue whose answer is not recorded yet (sent, perhaps
    /// taken, its answer slow or lost).
    pub in_flight: Option<&'a Fields>,
    /// The snapshot's labels, assignees or milestone differ from GitHub's as last applied: a
    /// change like one of the content (docs/fields.md).
    pub extras_differ: bool,
}

/// A remote snapshot of the issue.
#[derive(Clone, Copy, Debug)]
pub struct Remote<'a> {
    pub content: &'a Content,
    pub state: IssueState,
    pub updated_at: Timestamp,
    /// How the snapshot reached us.
    pub source: Source,
    /// The receiver's clock when it arrived (or was read).
    pub seen_at: Timestamp,
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

/// What to do with the task's column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusAction {
    /// GitHub's state did not change since the last sync: the column stays.
    Keep,
    /// Only GitHub's state changed (or the config is one-way): the task takes this column.
    Import(TaskStatus),
    /// The column already says what GitHub's state says: only the synced state moves.
    Same,
    /// Two-way, and both sides changed the state differently: a conflict.
    Conflict,
}

/// Which content a write takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side {
    /// The task's own (local) content; as a base, the base as it stands.
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
    /// Record a new pending conflict with both snapshots (content and column or state).
    Open,
    /// Refresh the open conflict's remote snapshot.
    Refresh,
}

/// The whole effect of a snapshot on a linked issue.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Effect {
    pub content: ContentAction,
    pub status: StatusAction,
    pub task: Option<TaskWrite>,
    pub link: LinkWrite,
    pub conflict: Option<ConflictWrite>,
    pub outcome: ApplyOutcome,
    /// The snapshot shows ghsync's write in flight: its answer is no longer needed (the
    /// base moved past it, or a conflict holds it).
    pub landed: bool,
}

/// The decision for one snapshot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Plan {
    /// Rule 1: no task yet: create it with this status; base := remote.
    Create { status: TaskStatus },
    /// The issue ghsync opened for a task being published (its marker names the task): link
    /// that task, with what was posted as the base, then apply the snapshot to it.
    Adopt,
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
            Plan::Adopt => ApplyOutcome::Adopted,
            Plan::Skip(outcome) => *outcome,
            Plan::Apply(effect) => effect.outcome,
        }
    }
}

/// What is known of an issue the project has no link for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NoLink {
    /// Never seen: a new issue.
    New,
    /// The old node id of an issue that was transferred and relinked to its new identity.
    Retired,
    /// Its body carries the marker of a task of this project that is being published.
    Publishing,
}

/// Decides what a remote snapshot does to its task (the "Sync rules" of `docs/sync-rules.md`,
/// with replays, ambiguity and times from the future). `linked` is `Err` when the project has
/// no link for the issue.
pub fn plan(linked: Result<&Linked<'_>, NoLink>, remote: &Remote<'_>) -> Plan {
    let linked = match linked {
        Ok(linked) => linked,
        Err(NoLink::New) => return Plan::Create { status: remote.state.task_status() },
        Err(NoLink::Retired) => return Plan::Skip(ApplyOutcome::Retired),
        Err(NoLink::Publishing) => return Plan::Adopt,
    };
    // A link whose applied time lies ahead of the clock holds a time nobody can trust (a
    // body from the future applied before the rule refused them): what GitHub's API says now
    // replaces it, whatever its `updated_at`.
    let replaces_future = remote.source == Source::Read && linked.applied_updated_at > remote.seen_at;
    if !replaces_future {
        if remote.updated_at < linked.applied_updated_at {
            return Plan::Skip(ApplyOutcome::Stale);
        }
        let gone = linked.remote_state.issue_state().is_none();
        if gone && remote.updated_at <= linked.applied_updated_at {
            // A snapshot from before the deletion or transfer (a replay) does not revive it.
            return Plan::Skip(ApplyOutcome::Stale);
        }
        let same_second = remote.updated_at == linked.applied_updated_at;
        let differs = remote.content != linked.last_remote
            || RemoteState::from(remote.state) != linked.remote_state
            || linked.extras_differ;
        if same_second && differs && remote.source == Source::Delivery && !linked.link_ended {
            return Plan::Skip(ApplyOutcome::Ambiguous);
        }
    }
    // A write of ours that the snapshot shows taken: the base is what GitHub held once it
    // took it, so the snapshot is compared with that (our own echo is nothing new).
    let landed = linked.in_flight.filter(|f| f.landed_in(remote.content, remote.state));
    if linked.conflict_pending {
        // The person resolving it decides; meanwhile the conflict shows the newest remote.
        return Plan::Apply(Effect {
            content: ContentAction::RefreshConflict,
            status: StatusAction::Keep,
            task: None,
            link: LinkWrite::HoldForConflict,
            conflict: Some(ConflictWrite::Refresh),
            outcome: ApplyOutcome::ConflictPending,
            landed: landed.is_some(),
        });
    }
    let (base, base_state) = match landed {
        Some(written) => written.over(linked.base, linked.base_state),
        None => (linked.base.clone(), linked.base_state),
    };
    let content = decide_content(&base, linked.local, remote.content);
    let status = decide_status(base_state, linked.local_status, remote.state, linked.two_way);
    if content == ContentAction::Conflict || status == StatusAction::Conflict {
        // "The task is not touched": content and column wait for the resolution together.
        return Plan::Apply(Effect {
            content: ContentAction::Conflict,
            status,
            task: None,
            link: LinkWrite::HoldForConflict,
            conflict: Some(ConflictWrite::Open),
            outcome: ApplyOutcome::Conflict,
            landed: landed.is_some(),
        });
    }
    let imported = match status {
        StatusAction::Import(status) => Some(status),
        _ => None,
    };
    let task = (content == ContentAction::FastForward || imported.is_some()).then(|| TaskWrite {
        content: if content == ContentAction::FastForward { Side::Remote } else { Side::Local },
        status: imported.unwrap_or(linked.local_status),
    });
    // Keep leaves the base as it was (or, when our write landed, the snapshot: it equals the
    // base with our write in it); fast-forward and converged move it to the remote.
    let base_side =
        if content == ContentAction::Keep && landed.is_none() { Side::Local } else { Side::Remote };
    let link_moved = remote.updated_at != linked.applied_updated_at
        || (base_side == Side::Remote && remote.content != linked.base)
        || remote.state != linked.base_state
        || RemoteState::from(remote.state) != linked.remote_state
        || linked.link_ended
        || linked.extras_differ
        || landed.is_some();
    Plan::Apply(Effect {
        content,
        status,
        task,
        link: if link_moved { LinkWrite::Advance { base: base_side } } else { LinkWrite::Untouched },
        conflict: None,
        outcome: if task.is_some() { ApplyOutcome::Updated } else { ApplyOutcome::Unchanged },
        landed: landed.is_some(),
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

/// The status rule. A column says an issue state (`done` closed as completed, `cancelled`
/// closed as not planned, any other column open). Nothing is imported while GitHub's state is
/// the one of the last sync, so a task moved between open columns stays where it is. With
/// two-way sync the column is three-way like the content: a local change of state and a
/// GitHub change to another state since the last sync are a conflict, never an overwrite.
/// One-way, GitHub's new state is imported whatever the column says.
pub fn decide_status(base: IssueState, local: TaskStatus, remote: IssueState, two_way: bool) -> StatusAction {
    if remote == base {
        return StatusAction::Keep;
    }
    let local_state = state_of(local);
    if !two_way || local_state == base {
        return import_status(base, remote, local).map_or(StatusAction::Same, StatusAction::Import);
    }
    if local_state == remote { StatusAction::Same } else { StatusAction::Conflict }
}

/// The column GitHub's change of state asks for (`None`: the task already says it). Closed as
/// completed → `done`, as not planned → `cancelled`; reopened → `todo` from a closed column
/// only (a task moved on locally stays).
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
    use super::super::fixtures::{c, t};
    use super::*;
    use ContentAction::*;
    use IssueState::{Completed, NotPlanned, Open};
    use TaskStatus::*;

    /// The receiver's clock in these tests: well after every snapshot's time.
    const NOW: &str = "2026-06-01T00:00:00Z";

    fn linked<'a>(base: &'a Content, local: &'a Content, at: &str) -> Linked<'a> {
        Linked {
            base,
            base_state: Open,
            applied_updated_at: t(at),
            last_remote: base,
            remote_state: RemoteState::Open,
            link_ended: false,
            local,
            local_status: Todo,
            conflict_pending: false,
            two_way: false,
            in_flight: None,
            extras_differ: false,
        }
    }

    fn remote<'a>(content: &'a Content, state: IssueState, at: &str) -> Remote<'a> {
        Remote { content, state, updated_at: t(at), source: Source::Delivery, seen_at: t(NOW) }
    }

    fn apply(
        content: ContentAction,
        task: Option<TaskWrite>,
        link: LinkWrite,
        outcome: ApplyOutcome,
    ) -> Plan {
        let status = match task {
            Some(w) if w.status != Todo => StatusAction::Import(w.status),
            _ => StatusAction::Keep,
        };
        Plan::Apply(Effect { content, status, task, link, conflict: None, outcome, landed: false })
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
    fn import_status_table() {
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

    #[test]
    fn status_is_three_way_with_two_way_sync() {
        use StatusAction as S;
        // (base state, local column, remote state) -> (two-way, one-way)
        let table = [
            (Open, InProgress, Open, S::Keep, S::Keep), // nothing changed on GitHub
            (Open, Done, Open, S::Keep, S::Keep),       // only the column moved: it stays (and is pushed)
            (Open, Todo, Completed, S::Import(Done), S::Import(Done)), // only GitHub changed
            (Completed, Done, Open, S::Import(Todo), S::Import(Todo)), // reopened on GitHub
            (Completed, InReview, Open, S::Same, S::Same), // both reopened (the column moved on)
            (Open, Done, Completed, S::Same, S::Same),  // both closed as completed
            // GitHub closed as not planned (unseen) while the task was moved to done
            (Open, Done, NotPlanned, S::Conflict, S::Import(Cancelled)),
            // moved to cancelled while GitHub reopened
            (Completed, Cancelled, Open, S::Conflict, S::Import(Todo)),
            // moved back to an open column while GitHub changed the close reason
            (Completed, Todo, NotPlanned, S::Conflict, S::Import(Cancelled)),
            (NotPlanned, Done, Completed, S::Same, S::Same),
        ];
        for (base, local, remote, two_way, one_way) in table {
            assert_eq!(decide_status(base, local, remote, true), two_way, "two-way {base} {local} {remote}");
            assert_eq!(decide_status(base, local, remote, false), one_way, "one-way {base} {local} {remote}");
        }
    }

    #[test]
    fn unlinked_issue_creates_a_task_with_its_state_unless_retired_or_being_published() {
        let r = c("r");
        for (state, status) in [(Open, Todo), (Completed, Done), (NotPlanned, Cancelled)] {
            let remote = remote(&r, state, "2026-01-01T00:00:00Z");
            assert_eq!(plan(Err(NoLink::New), &remote), Plan::Create { status });
            assert_eq!(plan(Err(NoLink::Retired), &remote), Plan::Skip(ApplyOutcome::Retired));
            assert_eq!(plan(Err(NoLink::Publishing), &remote), Plan::Adopt);
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
    fn a_read_replaces_a_link_whose_applied_time_lies_ahead_of_the_clock() {
        // A delivery from 2099 was applied before such deliveries were refused.
        let (base, r) = (c("a"), c("b"));
        let l = linked(&base, &base, "2099-01-01T00:00:00Z");
        let read = Remote { source: Source::Read, ..remote(&r, Open, "2026-01-01T00:00:10Z") };
        assert_eq!(
            plan(Ok(&l), &read).outcome(),
            ApplyOutcome::Updated,
            "GitHub's API says what is true now"
        );
        let delivered = remote(&r, Open, "2026-01-01T00:00:10Z");
        assert_eq!(plan(Ok(&l), &delivered), Plan::Skip(ApplyOutcome::Stale), "a delivery proves nothing");
        // Also over a disappearance marked with such a time.
        let gone = Linked { remote_state: RemoteState::Deleted, ..l };
        assert_eq!(plan(Ok(&gone), &read).outcome(), ApplyOutcome::Updated);
    }

    #[test]
    fn a_time_more_than_five_minutes_ahead_is_from_the_future() {
        let now = t("2026-01-01T12:00:00Z");
        let table = [
            ("2026-01-01T11:00:00Z", false),
            ("2026-01-01T12:00:00Z", false),
            ("2026-01-01T12:05:00Z", false), // clocks drift: within the leeway
            ("2026-01-01T12:05:01Z", true),
            ("2099-01-01T00:00:00Z", true),
        ];
        for (at, future) in table {
            assert_eq!(from_the_future(t(at), now), future, "{at}");
        }
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
            let l = Linked { link_ended: unlinked, ..linked(&base, &base, "2026-01-01T00:00:10Z") };
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
        let l = Linked { link_ended: true, ..linked(&base, &base, "2026-01-01T00:00:10Z") };
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
                status: StatusAction::Import(Done),
                task: None,
                link: LinkWrite::HoldForConflict,
                conflict: Some(ConflictWrite::Open),
                outcome: ApplyOutcome::Conflict,
                landed: false,
            })
        );
        // The task keeps everything: the conflict holds both sides.
        assert!(matches!(p, Plan::Apply(Effect { task: None, .. })));
    }

    #[test]
    fn a_column_and_a_state_changed_differently_are_one_conflict() {
        // Finding: GitHub closed as not planned (unseen) while the task was moved to done;
        // before, the close was imported over the move (cancelled).
        let base = c("a");
        let table = [(Open, Done, NotPlanned), (Completed, Cancelled, Open), (Completed, Todo, NotPlanned)];
        for (base_state, column, state) in table {
            let l = Linked {
                base_state,
                local_status: column,
                two_way: true,
                ..linked(&base, &base, "2026-01-01T00:00:00Z")
            };
            let p = plan(Ok(&l), &remote(&base, state, "2026-01-02T00:00:00Z"));
            let Plan::Apply(effect) = p else { panic!("{p:?}") };
            assert_eq!(
                (effect.status, effect.conflict, effect.task, effect.outcome),
                (StatusAction::Conflict, Some(ConflictWrite::Open), None, ApplyOutcome::Conflict),
                "{base_state} {column} {state}"
            );
        }
        // One-way, GitHub's state is imported as before.
        let l = Linked { local_status: Done, ..linked(&base, &base, "2026-01-01T00:00:00Z") };
        let p = plan(Ok(&l), &remote(&base, NotPlanned, "2026-01-02T00:00:00Z"));
        assert!(
            matches!(p, Plan::Apply(Effect { task: Some(TaskWrite { status: Cancelled, .. }), .. })),
            "{p:?}"
        );
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
                    status: StatusAction::Keep,
                    task: None,
                    link: LinkWrite::HoldForConflict,
                    conflict: Some(ConflictWrite::Refresh),
                    outcome: ApplyOutcome::ConflictPending,
                    landed: false,
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
        assert!(matches!(p, Plan::Apply(Effect { task: Some(_), .. })));
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
    fn a_write_of_ours_that_landed_is_compared_as_the_base() {
        // We sent title "L" (the task's) and its answer is not recorded yet.
        let base = c("a");
        let sent = Fields { title: Some("L".into()), ..Fields::default() };
        let ours = Content { title: "L".into(), description: base.description.clone(), milestone: None };
        let at = "2026-01-01T00:00:00Z";
        let later = "2026-01-02T00:00:00Z";
        let l = Linked { two_way: true, in_flight: Some(&sent), ..linked(&base, &ours, at) };

        // Its echo, before the answer is recorded: nothing new, and the base moves to it.
        let p = plan(Ok(&l), &remote(&ours, Open, later));
        let Plan::Apply(e) = p else { panic!("{p:?}") };
        assert_eq!(
            (e.task, e.conflict, e.link, e.landed),
            (None, None, LinkWrite::Advance { base: Side::Remote }, true)
        );

        // Finding: someone edits the body on GitHub right after our write, and that delivery
        // lands before our answer is recorded: not a conflict, their body is taken.
        let theirs = Content { title: "L".into(), description: Some("their body".into()), milestone: None };
        let p = plan(Ok(&l), &remote(&theirs, Open, later));
        let Plan::Apply(e) = p else { panic!("{p:?}") };
        assert_eq!(
            (e.content, e.task, e.conflict, e.landed),
            (FastForward, Some(TaskWrite { content: Side::Remote, status: Todo }), None, true)
        );

        // A snapshot that does not show our write is compared with the stored base.
        let other = c("x");
        let p = plan(Ok(&l), &remote(&other, Open, later));
        let Plan::Apply(e) = p else { panic!("{p:?}") };
        assert_eq!((e.content, e.landed), (Conflict, false));

        // A move made after a close we sent, before its early echo: the move stays.
        let closing = Fields { state: Some(Completed), ..Fields::default() };
        let l = Linked {
            two_way: true,
            in_flight: Some(&closing),
            local_status: Todo,
            ..linked(&base, &base, at)
        };
        let p = plan(Ok(&l), &remote(&base, Completed, later));
        let Plan::Apply(e) = p else { panic!("{p:?}") };
        assert_eq!(
            (e.status, e.task, e.landed),
            (StatusAction::Keep, None, true),
            "the move is kept, to be pushed"
        );
    }

    #[test]
    fn the_reopen_step_of_a_close_reason_change_never_moves_the_task() {
        // done -> cancelled goes out as a reopen, then a close as not planned. The reopen's echo
        // may arrive before its answer is recorded.
        let base = c("a");
        let reopen = Fields { state: Some(Open), ..Fields::default() };
        let l = Linked {
            base_state: Completed,
            remote_state: RemoteState::Completed,
            local_status: Cancelled,
            two_way: true,
            in_flight: Some(&reopen),
            ..linked(&base, &base, "2026-01-01T00:00:00Z")
        };
        let p = plan(Ok(&l), &remote(&base, Open, "2026-01-02T00:00:00Z"));
        let Plan::Apply(e) = p else { panic!("{p:?}") };
        assert_eq!((e.task, e.conflict), (None, None), "{e:?}");
    }
}
