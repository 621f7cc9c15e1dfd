//! Publishing a task as a new issue, made idempotent by a marker: the issue's body ends with a
//! hidden HTML comment naming the task (`<!-- ghsync:task:UUID -->`, invisible on GitHub).
//! It is stripped from every snapshot before anything compares or shows the body, and every
//! later body write puts it back. When the answer to the `POST` is lost, the issue is looked
//! for by its marker among the newest issues the token's account opened before anything is
//! posted again; the webhook and the reconcile link a marked issue to its task.

use uuid::Uuid;

const OPEN: &str = "<!-- ghsync:task:";
const CLOSE: &str = " -->";

/// The marker naming `task`.
pub fn marker(task: Uuid) -> String {
    format!("{OPEN}{task}{CLOSE}")
}

/// The body a write sends for `description` on an issue that carries `marker_of` (its task's
/// marker, kept at the end).
pub fn body_with_marker(description: Option<&str>, marker_of: Option<Uuid>) -> String {
    match (description.filter(|d| !d.is_empty()), marker_of) {
        (Some(text), Some(task)) => format!("{text}\n\n{}", marker(task)),
        (None, Some(task)) => marker(task),
        (text, None) => text.unwrap_or_default().to_string(),
    }
}

/// A body without its trailing marker (and the blank line before it), and the task the
/// marker names. A marker elsewhere in the body is text like any other.
pub fn strip_marker(body: &str) -> (&str, Option<Uuid>) {
    let trimmed = body.trim_end();
    let Some(rest) = trimmed.strip_suffix(CLOSE) else { return (body, None) };
    let Some(at) = rest.rfind(OPEN) else { return (body, None) };
    let Ok(task) = Uuid::parse_str(&rest[at + OPEN.len()..]) else { return (body, None) };
    (rest[..at].trim_end_matches(['\n', '\r', ' ']), Some(task))
}

/// What a publication does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PublishStep {
    /// Nothing was posted yet (or what was posted was refused): post the issue.
    Post,
    /// A post went out and its answer was lost: look for the marker before posting again.
    LookForMarker,
}

/// Decides the next step of a publication: `posted` when an earlier attempt sent its `POST`
/// without learning the answer.
pub fn publish_step(posted: bool) -> PublishStep {
    if posted { PublishStep::LookForMarker } else { PublishStep::Post }
}

/// Whether an issue carrying the marker of a task may be linked to it: the task must be of
/// the same project, unlinked, and being published (anyone can type a marker into a body; only
/// a publication in progress makes it ghsync's).
pub fn may_adopt(same_project: bool, linked: bool, publishing: bool) -> bool {
    same_project && !linked && publishing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marker_goes_at_the_end_and_comes_off_again() {
        let task = Uuid::parse_str("0190a0e4-8c7b-7cc0-9a4e-3b1f6d2e5a10").unwrap();
        let table = [
            (Some("Do it"), "Do it\n\n<!-- ghsync:task:0190a0e4-8c7b-7cc0-9a4e-3b1f6d2e5a10 -->"),
            (None, "<!-- ghsync:task:0190a0e4-8c7b-7cc0-9a4e-3b1f6d2e5a10 -->"),
            (Some(""), "<!-- ghsync:task:0190a0e4-8c7b-7cc0-9a4e-3b1f6d2e5a10 -->"),
        ];
        for (description, body) in table {
            assert_eq!(body_with_marker(description, Some(task)), body);
            assert_eq!(strip_marker(body), (description.unwrap_or(""), Some(task)));
        }
        assert_eq!(body_with_marker(Some("plain"), None), "plain");
    }

    #[test]
    fn only_a_well_formed_trailing_marker_is_one() {
        let table = [
            ("no marker", ("no marker", None)),
            ("<!-- ghsync:task:not-a-uuid -->", ("<!-- ghsync:task:not-a-uuid -->", None)),
            (
                "<!-- ghsync:task:0190a0e4-8c7b-7cc0-9a4e-3b1f6d2e5a10 --> then text",
                ("<!-- ghsync:task:0190a0e4-8c7b-7cc0-9a4e-3b1f6d2e5a10 --> then text", None),
            ),
        ];
        for (body, want) in table {
            assert_eq!(strip_marker(body), want, "{body}");
        }
        // GitHub may add a newline at the end; Windows line ends before the marker go with it.
        let body = "text\r\n\r\n<!-- ghsync:task:0190a0e4-8c7b-7cc0-9a4e-3b1f6d2e5a10 -->\n";
        assert_eq!(strip_marker(body).0, "text");
    }

    #[test]
    fn a_lost_answer_is_looked_for_before_anything_is_posted_again() {
        assert_eq!(publish_step(false), PublishStep::Post);
        assert_eq!(publish_step(true), PublishStep::LookForMarker);
    }

    #[test]
    fn only_a_publication_in_progress_adopts_a_marked_issue() {
        // (same project, linked already, being published) -> adopted
        let table = [
            (true, false, true, true),
            (false, false, true, false), // another project's task
            (true, true, true, false),   // linked already
            (true, false, false, false), // a marker someone typed
        ];
        for (same, linked, publishing, want) in table {
            assert_eq!(may_adopt(same, linked, publishing), want, "{same} {linked} {publishing}");
        }
    }
}
