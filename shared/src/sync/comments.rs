//! What a comment GitHub shows does to a task's thread (docs/comments.md): created, edited,
//! deleted, stale, replayed after its deletion, or of an issue ghsync does not know yet; and
//! how far a listing of comments may move its watermark. Webhook deliveries (`issue_comment`)
//! and the reconcile's listing come here alike.
//!
//! The store carries the outcome out (`store/comments.rs`); the webhook and the reconcile
//! only gather what GitHub shows.

use super::Source;
use crate::domain::CommentCounts;
use crate::time::Timestamp;

/// What ghsync knows of the issue a comment belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentIssue {
    /// A task of the project is linked to it.
    Linked,
    /// It is a pull request (its comments are not the board's).
    PullRequest,
    /// It was deleted or moved to another repository: its comments are not the board's.
    Gone,
    /// Not known yet: the issue is imported (or found to be a pull request) first.
    Unknown,
}

/// What GitHub shows of a comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentSeen<'a> {
    /// Its body as of `updated_at` (a `created` or `edited` delivery, or a listing).
    Body { body: &'a str, updated_at: Timestamp, source: Source },
    /// A `deleted` delivery, or a full pass that no longer lists it.
    Deleted,
}

/// The comment as the thread holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StoredComment<'a> {
    pub body: &'a str,
    /// The `updated_at` of the last snapshot applied.
    pub applied_updated_at: Timestamp,
    /// Deleted on GitHub: kept as a tombstone so that no replay revives it.
    pub deleted: bool,
}

/// What applying a comment did (also what the store writes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CommentOutcome {
    /// A new comment on the task's thread.
    Created,
    /// Its body (or only its applied time) moved to the snapshot's.
    Updated,
    /// Deleted: it leaves the thread, a tombstone stays.
    Deleted,
    /// Nothing changed: the same body at the same time, or already deleted.
    Unchanged,
    /// Older than what was applied: ignored.
    Stale,
    /// As old as what was applied but different, from a delivery: the listing (the truth at
    /// an equal time) decides.
    Ambiguous,
    /// A pull request's comment: ignored.
    PullRequest,
    /// A comment of an issue deleted or moved away: ignored.
    IssueGone,
    /// Its issue is not known yet: nothing is written, and a listing's watermark stops before
    /// it, so the comment is listed again once its issue is.
    IssueUnknown,
}

/// Decides what `seen` does to the thread, given the comment's issue and the stored comment.
pub fn comment(
    issue: CommentIssue,
    stored: Option<StoredComment<'_>>,
    seen: CommentSeen<'_>,
) -> CommentOutcome {
    match issue {
        CommentIssue::PullRequest => return CommentOutcome::PullRequest,
        CommentIssue::Gone => return CommentOutcome::IssueGone,
        CommentIssue::Unknown => return CommentOutcome::IssueUnknown,
        CommentIssue::Linked => {}
    }
    match (stored, seen) {
        // GitHub never brings a deleted comment back: whatever comes after is a replay.
        (Some(stored), _) if stored.deleted => CommentOutcome::Unchanged,
        // A deletion is final, whatever time it carries; one of an unseen comment leaves a
        // tombstone, so a late `created` does not bring it in.
        (_, CommentSeen::Deleted) => CommentOutcome::Deleted,
        (None, CommentSeen::Body { .. }) => CommentOutcome::Created,
        (Some(stored), CommentSeen::Body { body, updated_at, source }) => {
            if updated_at < stored.applied_updated_at {
                CommentOutcome::Stale
            } else if updated_at > stored.applied_updated_at {
                CommentOutcome::Updated
            } else if body == stored.body {
                CommentOutcome::Unchanged
            } else if source == Source::Read {
                CommentOutcome::Updated
            } else {
                CommentOutcome::Ambiguous
            }
        }
    }
}

/// Adds what applying comments did to a run's counts.
pub fn count_comments(counts: &mut CommentCounts, outcomes: &[CommentOutcome]) {
    for outcome in outcomes {
        match outcome {
            CommentOutcome::Created => counts.created += 1,
            CommentOutcome::Updated => counts.updated += 1,
            CommentOutcome::Deleted => counts.deleted += 1,
            _ => {}
        }
    }
}

/// How far a listing of comments (sorted by `updated_at`, ascending, from `since`) may move
/// the comments' watermark: to `reach` (what the listing alone allows: its newest comment less
/// the overlap, never past a comment that moved during it), but never past a comment whose
/// issue is not known yet: the next listing starts at that comment again. Never backwards;
/// `None` keeps `since`.
pub fn comments_watermark(
    listed: &[(Timestamp, CommentIssue)],
    reach: Option<Timestamp>,
    since: Option<Timestamp>,
) -> Option<Timestamp> {
    let held = listed.iter().find(|(_, issue)| *issue == CommentIssue::Unknown).map(|(at, _)| *at);
    let reached = Timestamp::earliest(reach, held);
    match (reached, since) {
        (Some(reached), Some(since)) => Some(reached.max(since)),
        (reached, since) => reached.or(since),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::fixtures::t;

    #[test]
    fn comment_table() {
        use CommentIssue::{Linked, PullRequest, Unknown};
        use CommentOutcome::*;
        let t10 = t("2026-01-05T10:10:00Z");
        let (t9, t11) = (t("2026-01-05T10:09:00Z"), t("2026-01-05T10:11:00Z"));
        let stored = Some(StoredComment { body: "ship it", applied_updated_at: t10, deleted: false });
        let gone = Some(StoredComment { body: "ship it", applied_updated_at: t10, deleted: true });
        let body = |body, updated_at, source| CommentSeen::Body { body, updated_at, source };
        let (d, r) = (Source::Delivery, Source::Read);
        #[rustfmt::skip]
        let rows = [
            // the issue, the stored comment, what GitHub shows → outcome
            (Linked,      None,   body("ship it", t10, d),  Created),
            (Linked,      stored, body("ship it!", t11, d), Updated),
            // a newer time alone moves the applied time
            (Linked,      stored, body("ship it", t11, r),  Updated),
            (Linked,      stored, body("old", t9, d),       Stale),
            (Linked,      stored, body("ship it", t10, d),  Unchanged),
            (Linked,      stored, body("other", t10, d),    Ambiguous),
            (Linked,      stored, body("other", t10, r),    Updated),
            (Linked,      stored, CommentSeen::Deleted,     Deleted),
            // a deletion never seen before leaves a tombstone
            (Linked,      None,   CommentSeen::Deleted,     Deleted),
            // replays after a deletion revive nothing
            (Linked,      gone,   body("ship it", t11, d),  Unchanged),
            (Linked,      gone,   body("ship it", t11, r),  Unchanged),
            (Linked,      gone,   CommentSeen::Deleted,     Unchanged),
            (PullRequest, None,   body("lgtm", t10, d),     CommentOutcome::PullRequest),
            (CommentIssue::Gone, None, body("late", t10, r), IssueGone),
            (PullRequest, stored, CommentSeen::Deleted,     CommentOutcome::PullRequest),
            (Unknown,     None,   body("first!", t10, r),   IssueUnknown),
        ];
        for (issue, stored, seen, outcome) in rows {
            assert_eq!(comment(issue, stored, seen), outcome, "{issue:?} {stored:?} {seen:?}");
        }
    }

    #[test]
    fn the_watermark_stops_at_a_comment_of_an_unknown_issue() {
        use CommentIssue::{Linked, PullRequest, Unknown};
        let (t1, t2, t3) = (t("2026-01-05T10:01:00Z"), t("2026-01-05T10:02:00Z"), t("2026-01-05T10:03:00Z"));
        let t0 = t("2026-01-05T10:00:00Z");
        type Row<'a> =
            (&'a [(Timestamp, CommentIssue)], Option<Timestamp>, Option<Timestamp>, Option<Timestamp>);
        #[rustfmt::skip]
        let rows: [Row<'_>; 8] = [
            // listed, what the listing reaches, since → the new watermark
            (&[(t1, Linked), (t2, PullRequest), (t3, Linked)], Some(t3), Some(t0), Some(t3)),
            (&[(t1, Linked), (t2, CommentIssue::Gone)],        Some(t2), Some(t0), Some(t2)),
            (&[(t1, Linked), (t2, Unknown), (t3, Linked)],     Some(t3), Some(t0), Some(t2)),
            (&[(t1, Unknown), (t2, Linked)],                   Some(t2), None,     Some(t1)),
            // a comment that moved during the listing holds it lower still
            (&[(t2, Linked), (t3, Unknown)],                   Some(t1), Some(t0), Some(t1)),
            (&[],                                              None,     Some(t0), Some(t0)),
            (&[],                                              None,     None,     None),
            // never backwards
            (&[(t0, Unknown)],                                 Some(t0), Some(t1), Some(t1)),
        ];
        for (listed, reach, since, expected) in rows {
            assert_eq!(
                comments_watermark(listed, reach, since),
                expected,
                "{listed:?} to {reach:?} from {since:?}"
            );
        }
    }
}
