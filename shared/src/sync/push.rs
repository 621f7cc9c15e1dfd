//! Two-way sync's outbox, as rules: what a waiting local edit sends, what a read of the issue
//! means for it, whether GitHub's answer is what was asked, what a failure does to the entry,
//! when a parked entry goes again, and who may claim it and write under the claim.
//!
//! The promise these rules keep: an entry leaves the outbox only when GitHub holds the task
//! (nothing left to send), a conflict holds both sides, or the issue is gone (the task keeps
//! its content and says so). Everything else keeps the entry, with its reason and its next
//! attempt.

use serde::{Deserialize, Serialize};

use crate::domain::{Content, IssueState, Milestone, TaskStatus};
use crate::time::Timestamp;

/// The fields a write sets on an issue; `None` leaves a field as GitHub has it. What a push
/// sends (only what changed locally since the base), and what it recorded as in flight before
/// sending, so that its echo or its answer, however late, is known as its own.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fields {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// `Some(None)` clears the body.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "set_or_clear")]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<IssueState>,
    /// `Some(None)` removes the milestone.
    #[serde(default, skip_serializing_if = "Option::is_none", with = "set_or_clear_milestone")]
    pub milestone: Option<Option<Milestone>>,
}

/// `Option<Option<Milestone>>` as JSON: absent, `null` (remove) or the milestone (set).
mod set_or_clear_milestone {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::domain::Milestone;

    pub fn serialize<S: Serializer>(value: &Option<Option<Milestone>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<Milestone>>, D::Error> {
        Option::<Milestone>::deserialize(d).map(Some)
    }
}

/// `Option<Option<String>>` as JSON: absent, `null` (clear) or a string (set).
mod set_or_clear {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(value: &Option<Option<String>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(inner) => inner.serialize(s),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
        Option::<String>::deserialize(d).map(Some)
    }
}

impl Fields {
    pub fn is_empty(&self) -> bool {
        self.title.is_none() && self.description.is_none() && self.state.is_none() && self.milestone.is_none()
    }

    /// The content and state GitHub holds once it took these fields over `base`.
    pub fn over(&self, base: &Content, base_state: IssueState) -> (Content, IssueState) {
        let content = Content {
            title: self.title.clone().unwrap_or_else(|| base.title.clone()),
            description: self.description.clone().unwrap_or_else(|| base.description.clone()),
            milestone: self.milestone.clone().unwrap_or_else(|| base.milestone.clone()),
        };
        (content, self.state.unwrap_or(base_state))
    }

    /// Whether a snapshot shows every field written: GitHub took the write.
    pub fn landed_in(&self, content: &Content, state: IssueState) -> bool {
        !self.is_empty() && self.differs_in(content, state).is_empty()
    }

    /// The fields of these that a snapshot holds otherwise, with the snapshot's values (titles
    /// compare as GitHub stores them, trimmed).
    pub fn differs_in(&self, content: &Content, state: IssueState) -> Fields {
        Fields {
            title: self.title.as_deref().filter(|t| content.title != t.trim()).map(|_| content.title.clone()),
            description: self
                .description
                .as_ref()
                .filter(|d| content.description != **d)
                .map(|_| content.description.clone()),
            state: self.state.filter(|s| *s != state).map(|_| state),
            milestone: self
                .milestone
                .as_ref()
                .filter(|m| content.milestone != **m)
                .map(|_| content.milestone.clone()),
        }
    }

    /// The names of the fields, for messages (`title, body and state`).
    pub fn names(&self) -> String {
        let names: Vec<&str> = [
            self.title.as_ref().map(|_| "title"),
            self.description.as_ref().map(|_| "body"),
            self.state.map(|_| "state"),
            self.milestone.as_ref().map(|_| "milestone"),
        ]
        .into_iter()
        .flatten()
        .collect();
        match names.as_slice() {
            [] => "nothing".into(),
            [one] => (*one).into(),
            [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
        }
    }
}

/// The issue state a column stands for: `done` → closed as completed, `cancelled` → closed as
/// not planned, every other column → open.
pub fn state_of(status: TaskStatus) -> IssueState {
    match status {
        TaskStatus::Done => IssueState::Completed,
        TaskStatus::Cancelled => IssueState::NotPlanned,
        TaskStatus::Todo | TaskStatus::InProgress | TaskStatus::InReview => IssueState::Open,
    }
}

/// The issue state a task's column asks for, when the base state is not already that: a move
/// between open columns asks for nothing.
pub fn wanted_state(status: TaskStatus, base_state: IssueState) -> Option<IssueState> {
    let wanted = state_of(status);
    (wanted != base_state).then_some(wanted)
}

/// A linked task with a waiting entry, as the push rules see it.
#[derive(Clone, Copy, Debug)]
pub struct Pushing<'a> {
    /// `last_synced_content`: what GitHub held at the last sync.
    pub base: &'a Content,
    /// The issue state of the last sync.
    pub base_state: IssueState,
    pub local: &'a Content,
    pub local_status: TaskStatus,
    /// A conflict waits for a person: it holds both sides; the resolution pushes.
    pub conflict_pending: bool,
    /// The issue is deleted, transferred away or no longer followed: there is nothing to
    /// write to (the task keeps its content and shows why).
    pub gone: bool,
    /// A write sent earlier whose answer was never recorded: GitHub holds the base, or the
    /// base with this write in it.
    pub in_flight: Option<&'a Fields>,
    /// The task's labels or assignees differ from GitHub's as last synced: element writes
    /// wait (docs/fields.md). They never conflict, so they go even while a conflict of the
    /// content waits for a person.
    pub sets_pending: bool,
}

/// Why an entry has nothing (more) to send: each means it is done with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Idle {
    /// GitHub holds the task's content and state.
    Delivered,
    /// A conflict holds both sides.
    Conflict,
    /// The issue is gone (or the link ended).
    Gone,
}

/// What the task would send if GitHub still holds the base: only the fields changed locally
/// since the base (a title edit never rewrites the body), and the state its column asks for.
/// Decided before GitHub is asked, so an edit that changes nothing costs no request; but while
/// a write of ours may have landed (its answer lost) GitHub may hold something else than the
/// base, and the answer is no fields at all: read first (the entry is not done with).
pub fn outgoing(task: &Pushing<'_>) -> Result<Fields, Idle> {
    if task.gone {
        return Err(Idle::Gone);
    }
    if task.conflict_pending {
        // Only the sets may go: the resolution decides the content.
        return if task.sets_pending { Ok(Fields::default()) } else { Err(Idle::Conflict) };
    }
    let fields = Fields {
        title: (task.local.title != task.base.title).then(|| task.local.title.clone()),
        description: (task.local.description != task.base.description)
            .then(|| task.local.description.clone()),
        state: wanted_state(task.local_status, task.base_state),
        milestone: (task.local.milestone != task.base.milestone).then(|| task.local.milestone.clone()),
    };
    let unsure = task
        .in_flight
        .is_some_and(|f| f.over(task.base, task.base_state) != (task.base.clone(), task.base_state));
    match (fields.is_empty() && !task.sets_pending, unsure) {
        (true, false) => Err(Idle::Delivered),
        _ => Ok(fields),
    }
}

/// The next write for `out` on an issue in `state`. GitHub's REST API ignores `state_reason`
/// unless `state` changes, so a closed issue's close reason changes in two writes: a reopen
/// (with any content fields) first, then, once that is recorded, the close with the new reason.
pub fn next_write(out: &Fields, state: IssueState) -> Fields {
    let closed = |s: IssueState| s != IssueState::Open;
    match out.state {
        Some(wanted) if closed(wanted) && closed(state) && wanted != state => {
            Fields { state: Some(IssueState::Open), ..out.clone() }
        }
        _ => out.clone(),
    }
}

/// An issue as a push read it.
#[derive(Clone, Copy, Debug)]
pub struct Read<'a> {
    pub content: &'a Content,
    pub state: IssueState,
    pub updated_at: Timestamp,
}

/// What a read of the issue means for a waiting entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AfterRead {
    /// Nothing to send (the entry is done with).
    Idle(Idle),
    /// GitHub answered with an older copy than ghsync has applied (a lagging replica): write
    /// nothing, keep the entry, read again later.
    Lagging,
    /// GitHub changed since the base: the read goes through the sync rules first (fast-forward,
    /// converged or one conflict); GitHub is not touched, then the entry is decided again.
    Pull,
    /// GitHub still holds the base: write these fields.
    Write(Fields),
}

/// Decides what a read means for the entry of `task` whose link has applied GitHub's
/// `applied_updated_at` so far; `now` is the reader's clock. A write goes out only while
/// GitHub holds the base, so a GitHub change nobody here has seen is never overwritten.
pub fn after_read(
    task: &Pushing<'_>,
    read: &Read<'_>,
    applied_updated_at: Timestamp,
    now: Timestamp,
) -> AfterRead {
    let out = match outgoing(task) {
        Ok(out) => out,
        Err(idle) => return AfterRead::Idle(idle),
    };
    // A link whose applied time lies ahead of the clock is replaced by a read, not waited for.
    if read.updated_at < applied_updated_at && applied_updated_at <= now {
        return AfterRead::Lagging;
    }
    if read.content != task.base || read.state != task.base_state {
        return AfterRead::Pull;
    }
    // GitHub holds the base: a write in flight did not land, or was overwritten since.
    if out.is_empty() {
        return AfterRead::Idle(Idle::Delivered);
    }
    AfterRead::Write(next_write(&out, read.state))
}

/// Whether GitHub's answer to a write is what was asked. A difference (GitHub ignored a field,
/// or stored something else) is a refusal shown on the task, never a new base.
pub fn check_answer(asked: &Fields, content: &Content, state: IssueState) -> Result<(), Box<Answer>> {
    if asked.landed_in(content, state) {
        return Ok(());
    }
    Err(Box::new(Answer { asked: asked.clone(), differs: asked.differs_in(content, state) }))
}

/// An answer that is not what was asked: the fields GitHub holds otherwise.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Answer {
    pub asked: Fields,
    pub differs: Fields,
}

impl std::fmt::Display for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GitHub did not take the {} as sent", self.differs.names())?;
        if let (Some(asked), Some(held)) = (self.asked.state, self.differs.state) {
            write!(f, " (asked {asked}, it holds {held})")?;
        }
        Ok(())
    }
}

/// How an attempt failed, as far as the outbox cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// A 5xx, a timeout, a lost connection, an answer that does not parse: a write may have
    /// landed (its record stays in flight) and is worth trying again.
    Transient,
    /// A rate limit, with what GitHub said of it ([`super::scheduling::after_rate_limit`]).
    RateLimited(super::scheduling::RateLimit),
    /// GitHub refused (401 for a PAT, 403, 422, another 4xx), or the config cannot reach
    /// GitHub (an expired or unreadable token, no App): waits for its cause to change.
    Refused,
    /// 404, 410 or 301 for the issue: the "gone" rule decides, as for the reconcile.
    Missing,
    /// GitHub answered with an older copy than ghsync has applied.
    Lagging,
    /// The attempt's time ran out before it wrote (the API's budget): the worker takes it now.
    HandedOver,
    /// Another pusher holds the entry until the given time: it will see this edit, or its
    /// claim runs out and the worker takes the entry then.
    Busy { until: Timestamp },
}

/// What a failure does to the entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Then {
    /// It stays due, tried again at `at`.
    Retry { at: Timestamp },
    /// It is parked with GitHub's reason (shown on the task) and goes again when its cause
    /// may have changed, or at `at` (the slow periodic retry).
    Park { at: Timestamp },
    /// The issue is looked up and the gone rule decides.
    LookUp,
}

/// The slow retry of a parked refusal.
pub const PARKED_RETRY: chrono::Duration = chrono::Duration::hours(1);

/// When an entry that failed `attempts` times before is tried again: 30 s, doubling, at most
/// an hour.
pub fn backoff(attempts: i64, now: Timestamp) -> Timestamp {
    use super::scheduling::{FAILURE_BACKOFF, doubled};
    now.plus(doubled(FAILURE_BACKOFF, attempts).min(chrono::Duration::hours(1)))
}

/// Decides what a failed attempt does to its entry (`attempts`: failures before this one).
pub fn after_failure(failure: Failure, attempts: i64, now: Timestamp) -> Then {
    match failure {
        Failure::Transient | Failure::Lagging => Then::Retry { at: backoff(attempts, now) },
        // The same rule as a run's: GitHub's time, else a minute doubling with each failure.
        Failure::RateLimited(limit) => {
            Then::Retry { at: super::scheduling::after_rate_limit(limit, attempts, now) }
        }
        Failure::HandedOver => Then::Retry { at: now },
        Failure::Busy { until } => Then::Retry { at: until },
        Failure::Refused => Then::Park { at: now.plus(PARKED_RETRY) },
        Failure::Missing => Then::LookUp,
    }
}

pub use crate::domain::Parked;

/// What may have fixed the cause of a parked entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rearm {
    /// A new local edit of the task (it may fix what GitHub refused).
    Edited,
    /// A credential was saved for the config (checked by GitHub just then).
    CredentialSaved,
    /// The App's installation accepted new permissions (`new_permissions_accepted`).
    PermissionsAccepted,
    /// A person asked to try again (`POST /api/tasks/{id}/push/retry`).
    PersonRetry,
    /// Two-way sync was turned on.
    TwoWayOn,
}

/// Whether `cause` sends a parked entry again (due at once).
pub fn rearm(parked: Parked, cause: Rearm) -> bool {
    match parked {
        // Any of them may have fixed a refusal (the token, its permissions, the content).
        Parked::Refused => true,
        // Nothing goes to GitHub while the config is one-way.
        Parked::OneWay => cause == Rearm::TwoWayOn,
    }
}

/// Whether a pass takes entries whose retry time has not come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backoff {
    /// Only entries whose retry time has come (the API, a retry loop).
    Respect,
    /// Every waiting entry but the parked ones: a reconcile run that just reached GitHub
    /// takes them all along.
    Ignore,
}

/// An outbox entry as a claim sees it.
#[derive(Clone, Copy, Debug)]
pub struct EntryState {
    pub parked: Option<Parked>,
    pub next_attempt_at: Timestamp,
    /// Until when another pusher's claim holds it.
    pub lease_until: Option<Timestamp>,
    /// A publication whose `POST` went out and whose answer was lost. GitHub's listing, where
    /// the issue is looked for, may lag behind the post (a replica that has not seen it yet):
    /// the look-up waits for the entry's retry time whatever the pass, so a lagging listing
    /// never makes ghsync post the issue twice.
    pub post_unanswered: bool,
}

/// Whether an entry may be claimed now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Claim {
    Take,
    /// Another pusher holds it until then.
    Busy {
        until: Timestamp,
    },
    /// Its retry time (backoff, or a parked refusal's slow retry) has not come.
    NotDue {
        at: Timestamp,
    },
    /// Parked until two-way sync is turned on.
    Parked,
}

/// Decides whether a pusher may claim an entry at `now`.
pub fn claim(entry: &EntryState, now: Timestamp, backoff: Backoff) -> Claim {
    if let Some(until) = entry.lease_until.filter(|u| *u >= now) {
        return Claim::Busy { until };
    }
    let respect = match entry.parked {
        Some(Parked::OneWay) => return Claim::Parked,
        // A refusal's slow retry holds whatever the pass.
        Some(Parked::Refused) => true,
        None => entry.post_unanswered || backoff == Backoff::Respect,
    };
    if respect && entry.next_attempt_at > now {
        return Claim::NotDue { at: entry.next_attempt_at };
    }
    Claim::Take
}

/// Whether a claimed push may (still) write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fence {
    Held,
    /// Another pusher claimed the entry since: this push changes nothing more.
    Lost,
    /// The claim would run out before the write's time is up: release it rather than write.
    TooLate,
}

/// Whether the push holding `mine` may write now: the entry must still carry its token, and
/// its lease must outlast the longest a write may take, so a write always ends inside its
/// claim and no second pusher can start meanwhile.
pub fn fence(
    holder: Option<&str>,
    mine: &str,
    lease_until: Option<Timestamp>,
    now: Timestamp,
    write_takes: chrono::Duration,
) -> Fence {
    if holder != Some(mine) {
        return Fence::Lost;
    }
    match lease_until {
        Some(until) if until >= now.plus(write_takes) => Fence::Held,
        _ => Fence::TooLate,
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{c, t};
    use super::*;
    use IssueState::{Completed, NotPlanned, Open};
    use TaskStatus::*;

    fn pushing<'a>(base: &'a Content, local: &'a Content, status: TaskStatus) -> Pushing<'a> {
        Pushing {
            base,
            base_state: Open,
            local,
            local_status: status,
            conflict_pending: false,
            gone: false,
            in_flight: None,
            sets_pending: false,
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
    fn only_the_fields_changed_since_the_base_are_sent() {
        let base = Content::new("T", Some("B".into())).unwrap();
        let title = Content::new("T2", Some("B".into())).unwrap();
        let body = Content::new("T", Some("B2".into())).unwrap();
        let cleared = Content::new("T", None).unwrap();
        let both = Content::new("T2", Some("B2".into())).unwrap();
        let f = |title: Option<&str>, description: Option<Option<&str>>, state: Option<IssueState>| Fields {
            title: title.map(str::to_string),
            description: description.map(|d| d.map(str::to_string)),
            state,
            milestone: None,
        };
        let table = [
            (&title, Todo, Ok(f(Some("T2"), None, None))),
            (&body, Todo, Ok(f(None, Some(Some("B2")), None))),
            (&cleared, Todo, Ok(f(None, Some(None), None))),
            (&both, Done, Ok(f(Some("T2"), Some(Some("B2")), Some(Completed)))),
            (&base, Cancelled, Ok(f(None, None, Some(NotPlanned)))),
            (&base, InProgress, Err(Idle::Delivered)),
        ];
        for (local, status, want) in table {
            assert_eq!(outgoing(&pushing(&base, local, status)), want, "{local:?} {status}");
        }
        let held = Pushing { conflict_pending: true, ..pushing(&base, &title, Todo) };
        assert_eq!(outgoing(&held), Err(Idle::Conflict));
        let gone = Pushing { gone: true, ..pushing(&base, &title, Todo) };
        assert_eq!(outgoing(&gone), Err(Idle::Gone));
    }

    #[test]
    fn waiting_sets_keep_the_entry_and_go_even_beside_a_conflict() {
        fn sets(p: Pushing<'_>) -> Pushing<'_> {
            Pushing { sets_pending: true, ..p }
        }
        let (base, title) = (&Content::new("T", None).unwrap(), &Content::new("T2", None).unwrap());
        // (task, what it sends: the content fields; the sets go as elements beside them)
        let table = [
            (sets(pushing(base, base, Todo)), Ok(Fields::default())),
            (sets(pushing(base, title, Todo)), Ok(Fields { title: Some("T2".into()), ..Fields::default() })),
            (sets(Pushing { conflict_pending: true, ..pushing(base, title, Todo) }), Ok(Fields::default())),
            (sets(Pushing { gone: true, ..pushing(base, base, Todo) }), Err(Idle::Gone)),
            (pushing(base, base, Todo), Err(Idle::Delivered)),
        ];
        for (task, want) in table {
            assert_eq!(outgoing(&task), want, "{task:?}");
        }
    }

    #[test]
    fn a_write_whose_answer_was_lost_keeps_the_entry_until_a_read_tells() {
        // A close went out, its answer was lost; the task was moved back to an open column, so
        // it holds the base again. GitHub may hold the close: the entry is not done with.
        let base = c("a");
        let closing = Fields { state: Some(Completed), ..Fields::default() };
        let task = Pushing { in_flight: Some(&closing), ..pushing(&base, &base, Todo) };
        assert_eq!(outgoing(&task), Ok(Fields::default()), "read first");
        let now = t("2026-01-02T00:00:00Z");
        let applied = t("2026-01-01T00:00:10Z");
        // The read shows the close landed: the rules apply it first (then the reopen goes).
        let landed = Read { content: &base, state: Completed, updated_at: t("2026-01-01T00:00:11Z") };
        assert_eq!(after_read(&task, &landed, applied, now), AfterRead::Pull);
        // The read shows the base: the close did not land; nothing to send.
        let not = Read { content: &base, state: Open, updated_at: applied };
        assert_eq!(after_read(&task, &not, applied, now), AfterRead::Idle(Idle::Delivered));
        // A write in flight that would change nothing leaves no doubt.
        let same = Fields { state: Some(Open), ..Fields::default() };
        assert_eq!(outgoing(&Pushing { in_flight: Some(&same), ..task }), Err(Idle::Delivered));
    }

    #[test]
    fn a_close_reason_changes_in_two_writes() {
        // (wanted, GitHub's state) -> the state of the next write
        let table = [
            (Some(NotPlanned), Completed, Some(Open)), // reopen first: the reason alone is ignored
            (Some(Completed), NotPlanned, Some(Open)),
            (Some(NotPlanned), Open, Some(NotPlanned)), // then (or from open) close with it
            (Some(Completed), Open, Some(Completed)),
            (Some(Open), Completed, Some(Open)),
            (None, Completed, None),
        ];
        for (wanted, state, step) in table {
            let out = Fields { title: Some("T".into()), state: wanted, ..Fields::default() };
            let write = next_write(&out, state);
            assert_eq!(write.state, step, "{wanted:?} on {state}");
            assert_eq!(write.title.as_deref(), Some("T"), "content goes with the first write");
        }
    }

    #[test]
    fn what_a_read_means_for_a_waiting_edit() {
        let (base, local, other) = (c("a"), c("b"), c("x"));
        let applied = t("2026-01-01T00:00:10Z");
        let now = t("2026-01-02T00:00:00Z");
        let write = AfterRead::Write(Fields {
            title: Some("b".into()),
            description: Some(Some("b body".into())),
            state: None,
            milestone: None,
        });
        // (task's local content, column, read content, read state, read at) -> verdict
        let table = [
            // GitHub holds the base: the edit goes out
            (&local, Todo, &base, Open, "2026-01-01T00:00:10Z", write.clone()),
            // a lagging replica answered an older copy: nothing is written, the entry stays
            (&local, Todo, &base, Open, "2026-01-01T00:00:09Z", AfterRead::Lagging),
            // GitHub's content changed meanwhile: the sync rules first
            (&local, Todo, &other, Open, "2026-01-01T00:00:11Z", AfterRead::Pull),
            // GitHub's state changed meanwhile
            (&local, Todo, &base, Completed, "2026-01-01T00:00:11Z", AfterRead::Pull),
            // GitHub already holds the task's text: still the rules (converged)
            (&local, Todo, &local, Open, "2026-01-01T00:00:11Z", AfterRead::Pull),
            // nothing to send
            (&base, InProgress, &other, Open, "2026-01-01T00:00:11Z", AfterRead::Idle(Idle::Delivered)),
        ];
        for (l, status, content, state, at, want) in table {
            let read = Read { content, state, updated_at: t(at) };
            assert_eq!(
                after_read(&pushing(&base, l, status), &read, applied, now),
                want,
                "{l:?} {content:?} {state} {at}"
            );
        }
        // A link whose applied time lies ahead of the clock does not make every read "lagging".
        let future = t("2099-01-01T00:00:00Z");
        let read = Read { content: &base, state: Open, updated_at: t("2026-01-01T00:00:09Z") };
        assert_eq!(after_read(&pushing(&base, &local, Todo), &read, future, now), write);
    }

    #[test]
    fn an_answer_is_compared_with_what_was_asked() {
        let asked = Fields { title: Some("  Padded ".into()), state: Some(NotPlanned), ..Fields::default() };
        let stored = Content::new("Padded", None).unwrap();
        assert_eq!(check_answer(&asked, &stored, NotPlanned), Ok(()), "GitHub trims titles");
        // Finding: GitHub ignored the reason of an already closed issue.
        let err = check_answer(&asked, &stored, Completed).unwrap_err();
        assert_eq!(err.differs, Fields { state: Some(Completed), ..Fields::default() });
        assert_eq!(
            err.to_string(),
            "GitHub did not take the state as sent (asked not_planned, it holds completed)"
        );
        let body = Fields { description: Some(Some("mine".into())), ..Fields::default() };
        assert!(check_answer(&body, &stored, Open).is_err());
    }

    #[test]
    fn failures_park_retry_or_look_up() {
        let now = t("2026-01-01T00:00:00Z");
        let limit = t("2026-01-01T00:10:00Z");
        let limited = |retry: Option<i64>, reset: Option<Timestamp>| {
            Failure::RateLimited(crate::sync::scheduling::RateLimit {
                retry_after: retry.map(chrono::Duration::seconds),
                reset_at: reset,
            })
        };
        let table = [
            (Failure::Transient, 0, Then::Retry { at: t("2026-01-01T00:00:30Z") }),
            (Failure::Transient, 3, Then::Retry { at: t("2026-01-01T00:04:00Z") }),
            (Failure::Transient, 40, Then::Retry { at: t("2026-01-01T01:00:00Z") }),
            (Failure::Lagging, 1, Then::Retry { at: t("2026-01-01T00:01:00Z") }),
            // a second after the budget's reset, as for a run
            (limited(None, Some(limit)), 0, Then::Retry { at: t("2026-01-01T00:10:01Z") }),
            (limited(Some(90), Some(limit)), 0, Then::Retry { at: t("2026-01-01T00:01:30Z") }),
            (limited(None, None), 0, Then::Retry { at: t("2026-01-01T00:01:00Z") }),
            // a reset GitHub names in the past: still at least a minute
            (
                limited(None, Some(t("2025-12-31T23:00:00Z"))),
                0,
                Then::Retry { at: t("2026-01-01T00:01:00Z") },
            ),
            (Failure::HandedOver, 5, Then::Retry { at: now }),
            (Failure::Busy { until: limit }, 0, Then::Retry { at: limit }),
            (Failure::Refused, 0, Then::Park { at: t("2026-01-01T01:00:00Z") }),
            (Failure::Missing, 0, Then::LookUp),
        ];
        for (failure, attempts, want) in table {
            assert_eq!(after_failure(failure, attempts, now), want, "{failure:?} after {attempts}");
        }
    }

    #[test]
    fn parked_entries_go_again_when_their_cause_may_have_changed() {
        use Rearm::*;
        for cause in [Edited, CredentialSaved, PermissionsAccepted, PersonRetry, TwoWayOn] {
            assert!(rearm(Parked::Refused, cause), "{cause:?}");
            assert_eq!(rearm(Parked::OneWay, cause), cause == TwoWayOn, "{cause:?}");
        }
    }

    #[test]
    fn claim_table() {
        let now = t("2026-01-01T00:00:00Z");
        let (past, future) = (t("2025-12-31T23:59:00Z"), t("2026-01-01T00:01:00Z"));
        let e = |parked, next, lease| EntryState {
            parked,
            next_attempt_at: next,
            lease_until: lease,
            post_unanswered: false,
        };
        let posted = |next| EntryState { post_unanswered: true, ..e(None, next, None) };
        let table = [
            (e(None, past, None), Backoff::Respect, Claim::Take),
            (e(None, future, None), Backoff::Respect, Claim::NotDue { at: future }),
            (e(None, future, None), Backoff::Ignore, Claim::Take), // a run that reached GitHub takes it
            (e(None, past, Some(future)), Backoff::Ignore, Claim::Busy { until: future }),
            (e(None, past, Some(past)), Backoff::Respect, Claim::Take), // a claim that ran out
            (e(Some(Parked::Refused), future, None), Backoff::Ignore, Claim::NotDue { at: future }),
            (e(Some(Parked::Refused), past, None), Backoff::Respect, Claim::Take), // the hourly retry
            (e(Some(Parked::OneWay), past, None), Backoff::Ignore, Claim::Parked),
            // a lost post is looked for no sooner than its retry time, whoever asks
            (posted(future), Backoff::Ignore, Claim::NotDue { at: future }),
            (posted(past), Backoff::Ignore, Claim::Take),
        ];
        for (entry, backoff, want) in table {
            assert_eq!(claim(&entry, now, backoff), want, "{entry:?} {backoff:?}");
        }
    }

    #[test]
    fn a_write_happens_only_under_a_claim_that_outlasts_it() {
        let now = t("2026-01-01T00:00:00Z");
        let takes = chrono::Duration::seconds(30);
        let table = [
            (Some("mine"), Some(t("2026-01-01T00:02:00Z")), Fence::Held),
            (Some("theirs"), Some(t("2026-01-01T00:02:00Z")), Fence::Lost), // claimed again since
            (None, None, Fence::Lost),                                      // released by someone
            (Some("mine"), Some(t("2026-01-01T00:00:20Z")), Fence::TooLate), // would end outside it
        ];
        for (holder, lease, want) in table {
            assert_eq!(fence(holder, "mine", lease, now, takes), want, "{holder:?} {lease:?}");
        }
    }

    #[test]
    fn fields_travel_as_json_with_a_cleared_body() {
        let f = Fields {
            title: Some("T".into()),
            description: Some(None),
            state: Some(NotPlanned),
            milestone: None,
        };
        let json = serde_json::to_string(&f).unwrap();
        assert_eq!(json, r#"{"title":"T","description":null,"state":"not_planned"}"#);
        assert_eq!(serde_json::from_str::<Fields>(&json).unwrap(), f);
        assert_eq!(serde_json::from_str::<Fields>("{}").unwrap(), Fields::default());
        assert_eq!(f.names(), "title, body and state");
    }
}
