//! The issue fields beyond content and state (labels, assignees, milestone) merged both ways
//! (docs/fields.md). A set merges element by element: what either side added since the base
//! is kept, what either side removed is gone, so both sides' changes survive and nothing is
//! a conflict. One value (the milestone) follows the content rules: the side that changed
//! wins, and both changing it to different values is a conflict.
//!
//! Labels and logins compare without case (GitHub's own comparison of label names, and its
//! logins); the spelling kept is GitHub's when it has the element, else the board's.

use std::collections::HashSet;

use crate::domain::{IssueExtras, Label, ValidationError};

/// The comparison key of a label name or a login: its letters folded, as GitHub compares
/// them.
pub fn element_key(name: &str) -> String {
    name.to_lowercase()
}

/// The comparison keys of a set's elements.
fn keys(set: &[String]) -> HashSet<String> {
    set.iter().map(|e| element_key(e)).collect()
}

/// `names` as labels, each with the colour of the first label of `sources` with its name
/// (none: no colour yet).
fn coloured(names: Vec<String>, sources: [&[Label]; 2]) -> Vec<Label> {
    names
        .into_iter()
        .map(|name| {
            let key = element_key(&name);
            let found = sources.into_iter().flatten().find(|l| element_key(&l.name) == key);
            Label { color: found.map_or_else(String::new, |l| l.color.clone()), name }
        })
        .collect()
}

/// The three-way merge of a set: `base` (the last synced value), `local` (the board's),
/// `remote` (GitHub's). Result = base + additions of either side − removals of either side,
/// in GitHub's order, then the board's additions in its order.
pub fn merge_set(base: &[String], local: &[String], remote: &[String]) -> Vec<String> {
    let (base_keys, local_keys, remote_keys) = (keys(base), keys(local), keys(remote));
    let removed_here = |k: &String| base_keys.contains(k) && !local_keys.contains(k);
    let mut seen = HashSet::new();
    let mut merged = Vec::new();
    for element in remote.iter().chain(local) {
        let key = element_key(element);
        let kept = !removed_here(&key) && (remote_keys.contains(&key) || !base_keys.contains(&key));
        if kept && seen.insert(key) {
            merged.push(element.clone());
        }
    }
    merged
}

/// What turns GitHub's set into `merged`: the elements to add, then those to remove (each
/// in its set's order).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetChange {
    pub add: Vec<String>,
    pub remove: Vec<String>,
}

impl SetChange {
    pub fn between(remote: &[String], merged: &[String]) -> Self {
        let (remote_keys, merged_keys) = (keys(remote), keys(merged));
        Self {
            add: merged.iter().filter(|e| !remote_keys.contains(&element_key(e))).cloned().collect(),
            remove: remote.iter().filter(|e| !merged_keys.contains(&element_key(e))).cloned().collect(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }
}

/// The names of labels, in their order.
pub fn label_names(labels: &[Label]) -> Vec<String> {
    labels.iter().map(|l| l.name.clone()).collect()
}

/// [`merge_set`] over labels: each kept label with GitHub's colour when GitHub has it, else
/// the board's.
pub fn merge_labels(base: &[Label], local: &[Label], remote: &[Label]) -> Vec<Label> {
    let merged = merge_set(&label_names(base), &label_names(local), &label_names(remote));
    coloured(merged, [remote, local])
}

/// The sets of a task as one value: its labels and its assignees.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Sets {
    pub labels: Vec<Label>,
    pub assignees: Vec<String>,
}

impl Sets {
    pub fn of(extras: &IssueExtras) -> Self {
        Self { labels: extras.labels.clone(), assignees: extras.assignees.clone() }
    }

    /// The three-way merge of both sets (what a snapshot does to the task's own sets), in
    /// every mode: one-way configs refuse edits, so there the task holds the base and takes
    /// GitHub's sets, and an edit made while the config was two-way (waiting, parked when it
    /// turned one-way) is kept, as an edit of the content is.
    pub fn merged(base: &Sets, local: &Sets, remote: &Sets) -> Sets {
        Sets {
            labels: merge_labels(&base.labels, &local.labels, &remote.labels),
            assignees: merge_set(&base.assignees, &local.assignees, &remote.assignees),
        }
    }

    /// The element writes that turn `github` (the base: GitHub's sets as last synced) into
    /// these sets.
    pub fn changes_from(&self, github: &Sets) -> Elements {
        Elements {
            labels: SetChange::between(&label_names(&github.labels), &label_names(&self.labels)),
            assignees: SetChange::between(&github.assignees, &self.assignees),
        }
    }

    /// Whether both hold the same elements (compared without case, in any order).
    pub fn same_elements(&self, other: &Sets) -> bool {
        self.changes_from(other).is_empty()
    }
}

/// Whether a snapshot's labels, assignees or milestone differ from those last applied (names
/// and logins as GitHub spells them; a label's colour alone is no change of the issue).
pub fn extras_differ(applied: &IssueExtras, snapshot: &IssueExtras) -> bool {
    label_names(&applied.labels) != label_names(&snapshot.labels)
        || applied.assignees != snapshot.assignees
        || applied.milestone != snapshot.milestone
}

/// The element writes a push sends: labels and assignees to add and to remove.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Elements {
    pub labels: SetChange,
    pub assignees: SetChange,
}

impl Elements {
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty() && self.assignees.is_empty()
    }

    /// How many requests they take: one for all labels added, one per label removed, one
    /// for the assignees added and one for those removed.
    pub fn requests(&self) -> usize {
        usize::from(!self.labels.add.is_empty())
            + self.labels.remove.len()
            + usize::from(!self.assignees.add.is_empty())
            + usize::from(!self.assignees.remove.is_empty())
    }
}

/// What GitHub holds after it took `done` over `base`: the base moves by exactly the elements
/// written (a change someone made beside them arrives with its own snapshot and merges then).
pub fn moved_base(base: &Sets, done: &Elements, local: &Sets) -> Sets {
    let apply_names = |names: Vec<String>, change: &SetChange| {
        let removed = keys(&change.remove);
        let mut out: Vec<String> = names.into_iter().filter(|n| !removed.contains(&element_key(n))).collect();
        let have = keys(&out);
        out.extend(change.add.iter().filter(|a| !have.contains(&element_key(a))).cloned());
        out
    };
    let names = apply_names(label_names(&base.labels), &done.labels);
    let labels = coloured(names, [&base.labels, &local.labels]);
    Sets { labels, assignees: apply_names(base.assignees.clone(), &done.assignees) }
}

/// The elements asked for that GitHub's answer does not show (it drops an assignee it cannot
/// assign without an error): a refusal shown on the task, never a new base.
pub fn missing_from_answer(asked: &SetChange, answer: &[String]) -> Vec<String> {
    let held = keys(answer);
    let mut missing: Vec<String> =
        asked.add.iter().filter(|a| !held.contains(&element_key(a))).cloned().collect();
    missing.extend(asked.remove.iter().filter(|r| held.contains(&element_key(r))).cloned());
    missing
}

/// The three-way outcome of one value (the milestone).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ValueMerge<T> {
    /// Both sides hold it (neither changed, or both changed it alike).
    Same(T),
    /// Only the board changed it: it goes to GitHub.
    Local(T),
    /// Only GitHub changed it: the board takes it.
    Remote(T),
    /// Both changed it, differently: a person decides.
    Conflict,
}

/// Merges one value three ways, as the content rules do.
pub fn merge_value<T: Clone + PartialEq>(base: &T, local: &T, remote: &T) -> ValueMerge<T> {
    if local == remote {
        ValueMerge::Same(local.clone())
    } else if local == base {
        ValueMerge::Remote(remote.clone())
    } else if remote == base {
        ValueMerge::Local(local.clone())
    } else {
        ValueMerge::Conflict
    }
}

/// The most assignees GitHub keeps on one issue (it drops the rest without an error).
pub const MAX_ASSIGNEES: usize = 10;

/// Checks a set of assignees before it goes to GitHub, which drops silently what it cannot
/// assign: each login added (not in `current`) must be one of the repository's assignable
/// users when they are known (`None`: not listed yet; GitHub's answer is checked instead), and
/// there may be at most [`MAX_ASSIGNEES`]. The error names the logins at fault (HTTP 422).
pub fn check_assignees(
    wanted: &[String],
    current: &[String],
    assignable: Option<&[String]>,
) -> Result<(), ValidationError> {
    if let Some(assignable) = assignable {
        let (known, current) = (keys(assignable), keys(current));
        let unknown: Vec<&str> = wanted
            .iter()
            .filter(|w| !known.contains(&element_key(w)) && !current.contains(&element_key(w)))
            .map(String::as_str)
            .collect();
        if !unknown.is_empty() {
            return Err(ValidationError::new(
                "assignees",
                format!("not assignable in this repository: {}", unknown.join(", ")),
            ));
        }
    }
    if wanted.len() > MAX_ASSIGNEES {
        let over: Vec<&str> = wanted[MAX_ASSIGNEES..].iter().map(String::as_str).collect();
        return Err(ValidationError::new(
            "assignees",
            format!("GitHub keeps at most {MAX_ASSIGNEES} assignees; these are over: {}", over.join(", ")),
        ));
    }
    Ok(())
}

/// The longest label name GitHub accepts.
pub const MAX_LABEL_CHARS: usize = 50;

/// The names of a person's label edit, checked (not blank, at most [`MAX_LABEL_CHARS`]) and
/// each once (compared without case, the first spelling kept); `spelled` gives a name the
/// spelling the repository already uses.
pub fn clean_labels(
    wanted: &[String],
    spelled: impl Fn(&str) -> Option<String>,
) -> Result<Vec<String>, ValidationError> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for name in wanted {
        let name = name.trim();
        if name.is_empty() {
            return Err(ValidationError::new("labels", "a label name must not be empty"));
        }
        if name.chars().count() > MAX_LABEL_CHARS {
            return Err(ValidationError::new(
                "labels",
                format!("a label name is at most {MAX_LABEL_CHARS} characters: {name}"),
            ));
        }
        if seen.insert(element_key(name)) {
            out.push(spelled(name).unwrap_or_else(|| name.to_string()));
        }
    }
    Ok(out)
}

/// The labels of `wanted` the repository does not have yet (created before they are added),
/// compared without case, each once.
pub fn labels_to_create(wanted: &[String], repository: &[String]) -> Vec<String> {
    let mut known = keys(repository);
    wanted.iter().filter(|w| known.insert(element_key(w))).cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A table row: what it shows, then base, board, GitHub and the merged set.
    type Row = (
        &'static str,
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
        &'static [&'static str],
    );

    fn set(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_set_keeps_both_sides_additions_and_removals() {
        #[rustfmt::skip]
        let cases: [Row; 11] = [
            // (case, base, local, remote, merged)
            ("nothing changed", &["a", "b"], &["a", "b"], &["a", "b"], &["a", "b"]),
            ("the board adds", &["a"], &["a", "x"], &["a"], &["a", "x"]),
            ("GitHub adds", &["a"], &["a"], &["a", "y"], &["a", "y"]),
            ("each side adds one", &["a"], &["a", "x"], &["a", "y"], &["a", "y", "x"]),
            ("both add the same", &["a"], &["a", "x"], &["a", "x"], &["a", "x"]),
            ("both add it, cased apart", &["a"], &["a", "Bug"], &["a", "bug"], &["a", "bug"]),
            ("both remove the same", &["a", "b"], &["a"], &["a"], &["a"]),
            ("one adds x, the other removes b", &["a", "b"], &["a", "b", "x"], &["a"], &["a", "x"]),
            ("GitHub removes what the board keeps", &["a", "b"], &["a", "b"], &["b"], &["b"]),
            ("the board removes, GitHub adds", &["a"], &[], &["a", "y"], &["y"]),
            ("a removal in another case", &["Bug"], &[], &["bug"], &[]),
        ];
        for (case, base, local, remote, merged) in cases {
            assert_eq!(merge_set(&set(base), &set(local), &set(remote)), set(merged), "{case}");
        }
    }

    #[test]
    fn what_goes_to_github_is_the_difference_from_its_set() {
        let change = SetChange::between(&set(&["a", "b", "Bug"]), &set(&["bug", "a", "x", "y"]));
        assert_eq!(change, SetChange { add: set(&["x", "y"]), remove: set(&["b"]) });
        assert!(SetChange::between(&set(&["a"]), &set(&["A"])).is_empty());
    }

    #[test]
    fn assignees_are_checked_before_github_drops_them() {
        let assignable = set(&["ana", "Bo", "cy", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"]);
        let known = Some(assignable.as_slice());
        assert!(check_assignees(&set(&["ANA", "bo"]), &[], known).is_ok());
        assert!(check_assignees(&[], &[], known).is_ok());
        let e = check_assignees(&set(&["ana", "mallory", "eve"]), &[], known).unwrap_err();
        assert_eq!(e.field, "assignees");
        assert!(e.message.ends_with("mallory, eve"), "{}", e.message);
        // One assigned already (GitHub shows them) is kept even when no longer assignable.
        assert!(check_assignees(&set(&["ana", "gone-user"]), &set(&["Gone-User"]), known).is_ok());
        // Not listed yet: only the count is checked here, GitHub's answer the rest.
        assert!(check_assignees(&set(&["mallory"]), &[], None).is_ok());
        let eleven = set(&["ana", "bo", "cy", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"]);
        let e = check_assignees(&eleven, &[], known).unwrap_err();
        assert!(e.message.contains("at most 10") && e.message.ends_with("d8"), "{}", e.message);
        assert!(check_assignees(&eleven, &[], None).is_err());
    }

    #[test]
    fn a_label_edit_is_checked_each_name_once_in_the_repository_s_spelling() {
        let spelled = |n: &str| (n.eq_ignore_ascii_case("bug")).then(|| "Bug".to_string());
        assert_eq!(clean_labels(&set(&[" bug ", "UI", "ui", "BUG"]), spelled).unwrap(), set(&["Bug", "UI"]));
        assert_eq!(clean_labels(&set(&["  "]), spelled).unwrap_err().field, "labels");
        let long = "x".repeat(MAX_LABEL_CHARS + 1);
        assert!(clean_labels(&[long], spelled).unwrap_err().message.contains("at most 50"));
        assert!(clean_labels(&["x".repeat(MAX_LABEL_CHARS)], spelled).is_ok());
    }

    #[test]
    fn only_labels_new_to_the_repository_are_created_each_once() {
        let repository = set(&["bug", "Needs Design"]);
        assert_eq!(labels_to_create(&set(&["BUG", "needs design"]), &repository), Vec::<String>::new());
        assert_eq!(labels_to_create(&set(&["bug", "UI", "ui", "perf"]), &repository), set(&["UI", "perf"]));
    }

    fn labels(names: &[(&str, &str)]) -> Vec<Label> {
        names.iter().map(|(n, c)| Label { name: n.to_string(), color: c.to_string() }).collect()
    }

    #[test]
    fn merged_labels_keep_github_s_colour_and_the_board_s_for_its_additions() {
        let base = labels(&[("a", "111111")]);
        let local = labels(&[("a", "111111"), ("x", "")]);
        let remote = labels(&[("A", "222222"), ("y", "333333")]);
        assert_eq!(
            merge_labels(&base, &local, &remote),
            labels(&[("A", "222222"), ("y", "333333"), ("x", "")])
        );
    }

    #[test]
    fn the_sets_merge_keeping_the_board_s_edits_and_github_s() {
        let sets = |l: &[&str], a: &[&str]| Sets {
            labels: l.iter().map(|n| Label { name: n.to_string(), color: String::new() }).collect(),
            assignees: set(a),
        };
        let (base, local, remote) =
            (sets(&["a"], &["ana"]), sets(&["a", "x"], &["ana", "bo"]), sets(&["a"], &[]));
        // Nothing edited on the board (always so one-way): GitHub's sets.
        assert_eq!(Sets::merged(&base, &base, &remote), remote);
        let merged = Sets::merged(&base, &local, &remote);
        assert_eq!(merged, sets(&["a", "x"], &["bo"]), "the board's additions and GitHub's removal");
        let elements = merged.changes_from(&remote);
        assert_eq!(elements.labels, SetChange { add: set(&["x"]), remove: vec![] });
        assert_eq!(elements.assignees, SetChange { add: set(&["bo"]), remove: vec![] });
        assert_eq!(elements.requests(), 2);
        assert!(merged.same_elements(&sets(&["X", "a"], &["BO"])));
    }

    #[test]
    fn requests_one_for_all_additions_and_one_per_removed_label() {
        let change = |add: &[&str], remove: &[&str]| SetChange { add: set(add), remove: set(remove) };
        let table = [
            (change(&["a"], &[]), change(&[], &[]), 1),
            (change(&["a", "b", "c"], &[]), change(&[], &[]), 1),
            (change(&[], &["a", "b", "c"]), change(&[], &[]), 3),
            (change(&["x"], &["a", "b"]), change(&["ana"], &["bo", "cy"]), 5),
            (change(&[], &[]), change(&[], &[]), 0),
        ];
        for (labels, assignees, requests) in table {
            assert_eq!(Elements { labels: labels.clone(), assignees }.requests(), requests, "{labels:?}");
        }
    }

    #[test]
    fn the_base_moves_by_what_was_written_only() {
        let base = Sets { labels: labels(&[("a", "111111"), ("b", "222222")]), assignees: set(&["ana"]) };
        let local = Sets { labels: labels(&[("a", "111111"), ("x", "")]), assignees: set(&["ana", "bo"]) };
        let done = Elements {
            labels: SetChange { add: set(&["x"]), remove: set(&["b"]) },
            assignees: SetChange { add: set(&["bo"]), remove: vec![] },
        };
        let moved = moved_base(&base, &done, &local);
        assert_eq!(moved, local);
        // Written twice (a lost answer, sent again): the same base.
        assert_eq!(moved_base(&moved, &done, &local), local);
    }

    #[test]
    fn an_answer_without_what_was_asked_names_it() {
        let asked = SetChange { add: set(&["ana", "mallory"]), remove: set(&["bo"]) };
        assert_eq!(missing_from_answer(&asked, &set(&["ANA"])), set(&["mallory"]));
        assert_eq!(missing_from_answer(&asked, &set(&["ana", "mallory", "bo"])), set(&["bo"]));
        assert!(missing_from_answer(&asked, &set(&["ana", "mallory"])).is_empty());
    }

    #[test]
    fn one_value_follows_the_content_rules() {
        let m = |b: Option<i64>, l: Option<i64>, r: Option<i64>| merge_value(&b, &l, &r);
        assert_eq!(m(Some(1), Some(1), Some(1)), ValueMerge::Same(Some(1)));
        assert_eq!(m(Some(1), Some(2), Some(1)), ValueMerge::Local(Some(2)));
        assert_eq!(m(Some(1), None, Some(1)), ValueMerge::Local(None));
        assert_eq!(m(None, None, Some(3)), ValueMerge::Remote(Some(3)));
        assert_eq!(m(Some(1), Some(2), Some(2)), ValueMerge::Same(Some(2)));
        assert_eq!(m(Some(1), Some(2), Some(3)), ValueMerge::Conflict);
        assert_eq!(m(Some(1), None, Some(3)), ValueMerge::Conflict);
    }
}
