//! Comments written on the board, on their way to GitHub (docs/comments.md, "From the board"):
//! the body GitHub is sent (an attribution line naming the board's author, and a hidden
//! marker naming the board comment), what comes back (the marker and the attribution taken
//! off again, only when the marker is one of ghsync's own), whether a comment GitHub shows is
//! the echo of a board comment, what a board comment sends next (three ways: the board, the
//! last synced body, GitHub), and the pace of content-creating requests under GitHub's
//! secondary limits.
//!
//! The store carries these decisions out (`store/board_comments.rs`, `store/comment_push.rs`),
//! the pusher (`services/comment_push.rs`) only gathers what GitHub shows.

use uuid::Uuid;

use crate::time::Timestamp;

/// GitHub's limit on a comment's body, in characters.
pub const GITHUB_COMMENT_CHARS: usize = 65_536;
/// The longest board author accepted.
pub const MAX_AUTHOR_CHARS: usize = 100;
/// The longest body a board comment may have: what is left of GitHub's limit once the longest
/// attribution line and the marker are added. Every board author character can grow to two
/// when escaped.
pub const MAX_BOARD_COMMENT_CHARS: usize =
    GITHUB_COMMENT_CHARS - (ATTRIBUTION_CHARS + 2 * MAX_AUTHOR_CHARS) - MARKER_CHARS - 4;

const OPEN: &str = "<!-- ghsync:comment:";
const CLOSE: &str = " -->";
const VIA: &str = "** (via ghsync):";
/// `**` + `** (via ghsync):` + the blank line after it.
const ATTRIBUTION_CHARS: usize = 2 + VIA.len() + 2;
/// The marker with a UUID (36 characters).
const MARKER_CHARS: usize = OPEN.len() + 36 + CLOSE.len();

/// The author's name as Markdown shows it literally, on one line.
fn escaped(author: &str) -> String {
    let mut out = String::with_capacity(author.len());
    for c in author.chars() {
        match c {
            '\\' | '*' | '_' | '`' | '[' | ']' | '<' | '>' | '#' | '~' | '|' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' | '\t' => out.push(' '),
            c => out.push(c),
        }
    }
    out
}

/// What GitHub is sent for board comment `comment` by `author`: the attribution line, the
/// body, and the marker at the end (a hidden HTML comment, invisible on GitHub).
pub fn posted_body(author: &str, body: &str, comment: Uuid) -> String {
    format!("**{}{VIA}\n\n{body}\n\n{OPEN}{comment}{CLOSE}", escaped(author))
}

/// A comment's body as GitHub shows it, read for ghsync's marker.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Posted<'a> {
    /// The body without the marker and the attribution line (when it carries a marker).
    pub text: &'a str,
    /// The board comment the trailing marker names. Anyone can type a marker: it is ghsync's
    /// only when [`echo`] says so, and otherwise the body is kept as written.
    pub marker: Option<Uuid>,
}

/// Reads a body GitHub shows: a well-formed marker at its very end names a board comment, and
/// then an attribution line at its start comes off too. Without a marker nothing comes off:
/// a "(via ghsync)" line anyone typed stays.
pub fn read_posted(body: &str) -> Posted<'_> {
    let none = Posted { text: body, marker: None };
    let trimmed = body.trim_end();
    let Some(rest) = trimmed.strip_suffix(CLOSE) else { return none };
    let Some(at) = rest.rfind(OPEN) else { return none };
    let Ok(comment) = Uuid::parse_str(&rest[at + OPEN.len()..]) else { return none };
    let text = rest[..at].trim_end_matches(['\n', '\r', ' ']);
    // The attribution line: `**NAME** (via ghsync):` and the blank line after it.
    let text = match text.strip_prefix("**").and_then(|t| t.split_once(VIA)) {
        Some((name, after)) if !name.contains('\n') => after.trim_start_matches(['\n', '\r']),
        _ => text,
    };
    Posted { text, marker: Some(comment) }
}

/// The body the board shows for a GitHub comment: without ghsync's attribution and marker when
/// the marker is one of ghsync's own (`ours`), else exactly as written.
pub fn shown_body(raw: &str, ours: bool) -> &str {
    if ours { read_posted(raw).text } else { raw }
}

/// What the board knows of the comment a marker names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Named {
    /// No board comment of that id on the comment's task (a marker typed by someone, or one
    /// copied from another issue).
    Nothing,
    /// A board comment of the task, not yet linked to a GitHub comment.
    Unlinked,
    /// A board comment of the task, linked to GitHub comment `id`.
    Linked(i64),
}

/// What a GitHub comment carrying a marker is to the board.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Echo {
    /// The board comment's own post, come back (perhaps before the answer to the `POST` was
    /// stored): it is linked to the board comment, no new comment is made.
    Link,
    /// The board comment is linked to this very comment already: an ordinary update.
    Known,
    /// The board comment is linked to another GitHub comment: this one is a second post of
    /// it (an answer lost and a post made again). It is not imported; the pusher deletes it.
    Duplicate,
    /// Not ghsync's: an ordinary GitHub comment, its body kept as written.
    NotOurs,
}

/// Decides what GitHub comment `id`, whose body carries `marker`, is to the board.
pub fn echo(marker: Option<Uuid>, named: Named, id: i64) -> Echo {
    match (marker, named) {
        (None, _) | (_, Named::Nothing) => Echo::NotOurs,
        (Some(_), Named::Unlinked) => Echo::Link,
        (Some(_), Named::Linked(linked)) if linked == id => Echo::Known,
        (Some(_), Named::Linked(_)) => Echo::Duplicate,
    }
}

/// A side of a board comment: its body, or its deletion.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Side<'a> {
    Body(&'a str),
    Deleted,
}

/// What a board comment sends next, or why it sends nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommentPush {
    /// Never on GitHub: post it (`POST …/issues/{n}/comments`).
    Post,
    /// Edited on the board only: send the board's body (`PATCH …/issues/comments/{id}`).
    Edit,
    /// Deleted on the board only: delete it (`DELETE …/issues/comments/{id}`).
    Delete,
    /// Both sides hold the same: the base moves to it, nothing is sent.
    Nothing,
    /// Changed on GitHub only: the board takes GitHub's (the comment rules apply it).
    TakeGitHub,
    /// Changed on both sides, differently (an edit against an edit or a deletion): nothing is
    /// overwritten, a person decides (keep the board's, accept GitHub's, merge).
    Conflict,
}

/// Decides what a board comment sends: `board` as the board holds it, `base` the body both
/// sides last agreed on (`None`: never posted), `github` as GitHub last showed it.
pub fn comment_push(board: Side<'_>, base: Option<&str>, github: Side<'_>) -> CommentPush {
    use CommentPush::*;
    let Some(base) = base else {
        // Never on GitHub: a board comment deleted before it went is simply gone.
        return match board {
            Side::Body(_) => Post,
            Side::Deleted => Nothing,
        };
    };
    let changed = |side: Side<'_>| side != Side::Body(base);
    match (changed(board), changed(github)) {
        (false, false) => Nothing,
        (false, true) => TakeGitHub,
        (true, false) => match board {
            Side::Body(_) => Edit,
            Side::Deleted => Delete,
        },
        // The same change on both sides (the same body, or both deleted) agrees.
        (true, true) if board == github => Nothing,
        (true, true) => Conflict,
    }
}

/// The next step of a board comment that is not linked to a GitHub comment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PostStep {
    /// An earlier post's answer was lost: the issue's recent comments are searched for the
    /// marker first, whatever the board did since (a post found is linked, and a board change
    /// made meanwhile goes after it).
    LookForMarker,
    /// Post it.
    Post,
    /// Deleted on the board before it went: nothing to send.
    Nothing,
}

/// Decides a post's step: `posted_earlier` when a post went out and its answer was never
/// recorded; `board` the board's side now.
pub fn post_step(posted_earlier: bool, board: Side<'_>) -> PostStep {
    match (posted_earlier, board) {
        (true, _) => PostStep::LookForMarker,
        (false, Side::Body(_)) => PostStep::Post,
        (false, Side::Deleted) => PostStep::Nothing,
    }
}

/// GitHub's secondary limits on content-creating requests of one account (or installation),
/// web actions included, as GitHub documents them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pace {
    /// Content-creating requests in any `minute`.
    pub per_minute: usize,
    /// Content-creating requests in any `hour`.
    pub per_hour: usize,
    /// At least this long between mutating requests.
    pub spacing: chrono::Duration,
    /// The windows (a minute and an hour; shorter only where tests run the pace fast).
    pub minute: chrono::Duration,
    pub hour: chrono::Duration,
}

/// What ghsync keeps to: GitHub's 80 a minute and 500 an hour, and a second between writes.
pub const PACE: Pace = Pace {
    per_minute: 80,
    per_hour: 500,
    spacing: chrono::Duration::seconds(1),
    minute: chrono::Duration::minutes(1),
    hour: chrono::Duration::hours(1),
};

/// When the account's next mutating request may go: `recent` holds the times of its
/// content-creating requests in the last hour, oldest first; `last_write` its last mutating
/// request of any kind; `creates` whether this one creates content (only those count against
/// the minute and the hour). Never before `now`.
pub fn next_write(
    pace: Pace,
    recent: &[Timestamp],
    last_write: Option<Timestamp>,
    creates: bool,
    now: Timestamp,
) -> Timestamp {
    let mut at = now;
    if let Some(last) = last_write {
        at = at.max(last.plus(pace.spacing));
    }
    if !creates {
        return at;
    }
    // A window is full while it holds `size` requests: the next may go once the oldest of the
    // newest `size` has aged out of it.
    let window = |size: usize, span: chrono::Duration| {
        let start = now.minus(span);
        let inside: Vec<&Timestamp> = recent.iter().filter(|t| **t > start).collect();
        (size > 0 && inside.len() >= size).then(|| inside[inside.len() - size].plus(span))
    };
    if let Some(free) = window(pace.per_minute, pace.minute) {
        at = at.max(free);
    }
    if let Some(free) = window(pace.per_hour, pace.hour) {
        at = at.max(free);
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::fixtures::t;

    fn id() -> Uuid {
        Uuid::parse_str("0190a0e4-8c7b-7cc0-9a4e-3b1f6d2e5a10").unwrap()
    }

    #[test]
    fn a_posted_body_comes_back_as_written_on_the_board() {
        #[rustfmt::skip]
        let rows = [
            // author, body
            ("Ana", "Looks good."),
            ("Ana", ""),
            ("Bo *the* [admin]", "Line one\n\nLine two\n"),
            ("Cy\nNewline", "**bold** (via ghsync): inside"),
        ];
        for (author, body) in rows {
            let posted = posted_body(author, body, id());
            let back = read_posted(&posted);
            assert_eq!(back, Posted { text: body.trim_end(), marker: Some(id()) }, "{posted:?}");
            assert!(
                posted.chars().count()
                    <= body.chars().count() + ATTRIBUTION_CHARS + 2 * author.len() + MARKER_CHARS + 4
            );
        }
        assert_eq!(
            posted_body("Ana", "Hi", id()),
            format!("**Ana** (via ghsync):\n\nHi\n\n<!-- ghsync:comment:{} -->", id())
        );
        assert_eq!(posted_body("a*b_c", "x", id()).lines().next(), Some(r"**a\*b\_c** (via ghsync):"));
    }

    #[test]
    fn only_a_trailing_marker_takes_the_attribution_off() {
        let forged = "**Mallory** (via ghsync):\n\nTrust me";
        #[rustfmt::skip]
        let rows: [(&str, Posted<'_>); 5] = [
            // typed by hand: kept as written
            (forged, Posted { text: forged, marker: None }),
            // a marker that is not at the end is text
            ("<!-- ghsync:comment:0190a0e4-8c7b-7cc0-9a4e-3b1f6d2e5a10 --> then more",
             Posted { text: "<!-- ghsync:comment:0190a0e4-8c7b-7cc0-9a4e-3b1f6d2e5a10 --> then more", marker: None }),
            // a malformed id is no marker
            ("hi\n\n<!-- ghsync:comment:not-a-uuid -->", Posted { text: "hi\n\n<!-- ghsync:comment:not-a-uuid -->", marker: None }),
            // the attribution line edited away on GitHub: only the marker comes off
            ("just text\n\n<!-- ghsync:comment:0190a0e4-8c7b-7cc0-9a4e-3b1f6d2e5a10 -->", Posted { text: "just text", marker: Some(id()) }),
            // trailing whitespace after the marker
            ("**Ana** (via ghsync):\n\nok\n\n<!-- ghsync:comment:0190a0e4-8c7b-7cc0-9a4e-3b1f6d2e5a10 -->\n ", Posted { text: "ok", marker: Some(id()) }),
        ];
        for (body, posted) in rows {
            assert_eq!(read_posted(body), posted, "{body:?}");
        }
        // A marker that is not ghsync's keeps the whole body.
        let raw = posted_body("Ana", "copied", id());
        assert_eq!(shown_body(&raw, false), raw);
        assert_eq!(shown_body(&raw, true), "copied");
    }

    #[test]
    fn echo_table() {
        #[rustfmt::skip]
        let rows = [
            // marker, the board comment it names, this comment's id → what it is
            (None,       Named::Nothing,    7, Echo::NotOurs),
            (None,       Named::Unlinked,   7, Echo::NotOurs),
            (Some(id()), Named::Nothing,    7, Echo::NotOurs),
            // the echo before (or after) the POST's answer was stored
            (Some(id()), Named::Unlinked,   7, Echo::Link),
            (Some(id()), Named::Linked(7),  7, Echo::Known),
            // a second post of the same board comment
            (Some(id()), Named::Linked(6),  7, Echo::Duplicate),
        ];
        for (marker, named, id, want) in rows {
            assert_eq!(echo(marker, named, id), want, "{marker:?} {named:?} {id}");
        }
    }

    #[test]
    fn comment_push_table() {
        use CommentPush::*;
        use Side::{Body, Deleted};
        #[rustfmt::skip]
        let rows = [
            // board, base, GitHub → what is sent
            (Body("new"),   None,         Deleted,        Post),
            (Deleted,       None,         Deleted,        Nothing),
            (Body("b"),     Some("b"),    Body("b"),      Nothing),
            (Body("b2"),    Some("b"),    Body("b"),      Edit),
            (Deleted,       Some("b"),    Body("b"),      Delete),
            (Body("b"),     Some("b"),    Body("g"),      TakeGitHub),
            (Body("b"),     Some("b"),    Deleted,        TakeGitHub),
            // both sides edited
            (Body("b2"),    Some("b"),    Body("g"),      Conflict),
            (Body("same"),  Some("b"),    Body("same"),   Nothing),
            // edited against deleted, either way round
            (Body("b2"),    Some("b"),    Deleted,        Conflict),
            (Deleted,       Some("b"),    Body("g"),      Conflict),
            (Deleted,       Some("b"),    Deleted,        Nothing),
        ];
        for (board, base, github, want) in rows {
            assert_eq!(comment_push(board, base, github), want, "{board:?} {base:?} {github:?}");
        }
    }

    #[test]
    fn a_lost_post_is_looked_for_before_anything_else() {
        use Side::{Body, Deleted};
        #[rustfmt::skip]
        let rows = [
            // posted earlier, the board now → the step
            (false, Body("hi"), PostStep::Post),
            (false, Deleted,    PostStep::Nothing),
            // the answer was lost: found or not, before posting again or giving up
            (true,  Body("hi"), PostStep::LookForMarker),
            (true,  Deleted,    PostStep::LookForMarker),
        ];
        for (posted, board, want) in rows {
            assert_eq!(post_step(posted, board), want, "{posted} {board:?}");
        }
    }

    #[test]
    fn content_writes_are_paced_under_the_secondary_limits() {
        let now = t("2026-01-05T10:00:00Z");
        let ago = |s: i64| now.minus(chrono::Duration::seconds(s));
        let every = |n: usize, step: i64, from: i64| -> Vec<Timestamp> {
            (0..n as i64).map(|i| ago(from - i * step)).collect()
        };
        // 80 in the last minute, the oldest 59 s ago: the 81st waits for it to age out.
        let minute_full = every(80, 0, 59);
        // 500 in the last hour, spread so no minute holds 80: the oldest 3,000 s ago.
        let hour_full = every(500, 6, 3000);
        #[rustfmt::skip]
        let rows: [(&[Timestamp], Option<Timestamp>, bool, Timestamp); 8] = [
            (&[],           None,           true,  now),
            // a second after the last mutating request, creating or not
            (&[],           Some(ago(0)),   true,  now.plus(chrono::Duration::seconds(1))),
            (&[],           Some(ago(0)),   false, now.plus(chrono::Duration::seconds(1))),
            (&[],           Some(ago(5)),   true,  now),
            (&minute_full,  None,           true,  ago(59).plus(chrono::Duration::minutes(1))),
            // an edit or a deletion creates nothing: the full minute does not hold it
            (&minute_full,  None,           false, now),
            // 79 leave room
            (&minute_full[1..], None,       true,  now),
            (&hour_full,    None,           true,  ago(3000).plus(chrono::Duration::hours(1))),
        ];
        for (recent, last, creates, want) in rows {
            assert_eq!(
                next_write(PACE, recent, last, creates, now),
                want,
                "{} recent, last {last:?}, creates {creates}",
                recent.len()
            );
        }
    }

    #[test]
    fn the_longest_board_comment_fits_githubs_limit() {
        let author = "*".repeat(MAX_AUTHOR_CHARS);
        let body = "x".repeat(MAX_BOARD_COMMENT_CHARS);
        assert!(posted_body(&author, &body, id()).chars().count() <= GITHUB_COMMENT_CHARS);
    }
}
