//! The issue fields beyond content and state (labels, assignees, milestone) merged both ways
//! (docs/fields.md). A set merges element by element: what either side added since the base
//! is kept, what either side removed is gone, so both sides' changes survive and nothing is
//! a conflict. One value (the milestone) follows the content rules: the side that changed
//! wins, and both changing it to different values is a conflict.
//!
//! Labels and logins compare without case (GitHub's own comparison of label names, and its
//! logins); the spelling kept is GitHub's when it has the element, else the board's.

use std::collections::HashSet;

use crate::domain::ValidationError;

/// The comparison key of a label name or a login: its letters folded, as GitHub compares
/// them.
pub fn element_key(name: &str) -> String {
    name.to_lowercase()
}

/// The three-way merge of a set: `base` (the last synced value), `local` (the board's),
/// `remote` (GitHub's). Result = base + additions of either side − removals of either side,
/// in GitHub's order, then the board's additions in its order.
pub fn merge_set(base: &[String], local: &[String], remote: &[String]) -> Vec<String> {
    let keys = |set: &[String]| set.iter().map(|e| element_key(e)).collect::<HashSet<_>>();
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
        let keys = |set: &[String]| set.iter().map(|e| element_key(e)).collect::<HashSet<_>>();
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
/// assign: each login must be one of the repository's assignable users, and there may be at
/// most [`MAX_ASSIGNEES`]. The error names the logins at fault (HTTP 422).
pub fn check_assignees(wanted: &[String], assignable: &[String]) -> Result<(), ValidationError> {
    let known: HashSet<String> = assignable.iter().map(|a| element_key(a)).collect();
    let unknown: Vec<&str> =
        wanted.iter().filter(|w| !known.contains(&element_key(w))).map(String::as_str).collect();
    if !unknown.is_empty() {
        return Err(ValidationError::new(
            "assignees",
            format!("not assignable in this repository: {}", unknown.join(", ")),
        ));
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

/// The labels of `wanted` the repository does not have yet (created before they are added),
/// compared without case, each once.
pub fn labels_to_create(wanted: &[String], repository: &[String]) -> Vec<String> {
    let mut known: HashSet<String> = repository.iter().map(|l| element_key(l)).collect();
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
        assert!(check_assignees(&set(&["ANA", "bo"]), &assignable).is_ok());
        assert!(check_assignees(&[], &assignable).is_ok());
        let e = check_assignees(&set(&["ana", "mallory", "eve"]), &assignable).unwrap_err();
        assert_eq!(e.field, "assignees");
        assert!(e.message.ends_with("mallory, eve"), "{}", e.message);
        let eleven = set(&["ana", "bo", "cy", "d1", "d2", "d3", "d4", "d5", "d6", "d7", "d8"]);
        let e = check_assignees(&eleven, &assignable).unwrap_err();
        assert!(e.message.contains("at most 10") && e.message.ends_with("d8"), "{}", e.message);
    }

    #[test]
    fn only_labels_new_to_the_repository_are_created_each_once() {
        let repository = set(&["bug", "Needs Design"]);
        assert_eq!(labels_to_create(&set(&["BUG", "needs design"]), &repository), Vec::<String>::new());
        assert_eq!(labels_to_create(&set(&["bug", "UI", "ui", "perf"]), &repository), set(&["UI", "perf"]));
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
