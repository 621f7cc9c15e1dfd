//! What a deleted or transferred issue does to its link: the task keeps its content; a
//! transfer into the repository the project follows relinks it. A delivery's action
//! (`deleted`, `transferred`), a reconcile look-up and a push's read (404/410, 301) all
//! come here, and so does the question every writer asks first: is the link still live?

use crate::domain::{RemoteIssue, RemoteState, RepoRef, SyncCounts, WebHost};
use crate::time::Timestamp;

/// Whether ghsync may still write to, or look up, the issue of a link: the link was not
/// ended by a repository switch (`link_ended`), and the issue is not gone (deleted or
/// transferred away). A snapshot of the issue itself may still revive an ended link
/// ([`super::plan`]); everything else leaves a dead link alone.
pub fn link_live(remote_state: RemoteState, link_ended: bool) -> bool {
    !link_ended && remote_state.issue_state().is_some()
}

/// How an issue left its repository, as a delivery's action (`deleted`, `transferred`) or a
/// look-up's answer (404/410, 301) shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disappearance {
    /// Deleted: the `deleted` action, or 404/410 when looked up.
    Deleted,
    /// Transferred: the `transferred` action, or 301 when looked up. `into_followed` when
    /// its new identity is known and lies in the repository the project follows.
    Transferred { into_followed: bool },
}

/// A transfer as the rule takes it: into the followed repository when the issue's new
/// identity is known and is an issue of `repo` on `web` (names compared as GitHub does).
pub fn transfer(new: Option<&RemoteIssue>, web: &WebHost, repo: &RepoRef) -> Disappearance {
    Disappearance::Transferred { into_followed: new.is_some_and(|n| n.validate_origin(web, repo).is_ok()) }
}

/// The project's link of the issue that left, as the store holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GoneLink {
    pub remote_state: RemoteState,
    /// The `updated_at` of the last snapshot applied (or disappearance seen).
    pub applied_updated_at: Timestamp,
}

/// What the store writes for a disappearance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoneWrite {
    /// Nothing: the project has no link for the issue, or the link says so already.
    Nothing,
    /// Mark the link; the task keeps its content. The applied time moves up to the
    /// disappearance's, so an older snapshot does not revive the link.
    Mark { state: RemoteState, applied_updated_at: Timestamp },
    /// Point the task at the issue's new identity and apply its snapshot; the old node id
    /// stays known (retired), so its old snapshots create nothing.
    Relink,
}

/// Decides what a disappearance does to the project's link `old`. `new_has_link` says,
/// when the issue's new identity is known, whether the project has a link for it already
/// (then this one stays behind, marked transferred); `seen_at` is when GitHub said it
/// (a delivery's `updated_at`; none for a look-up).
pub fn gone(
    how: Disappearance,
    old: Option<GoneLink>,
    new_has_link: Option<bool>,
    seen_at: Option<Timestamp>,
) -> GoneWrite {
    let Some(old) = old else { return GoneWrite::Nothing };
    let state = match (how, new_has_link) {
        (Disappearance::Transferred { into_followed: true }, Some(false)) => return GoneWrite::Relink,
        (Disappearance::Deleted, _) => RemoteState::Deleted,
        (Disappearance::Transferred { .. }, _) => RemoteState::Transferred,
    };
    let applied_updated_at = seen_at.map_or(old.applied_updated_at, |at| at.max(old.applied_updated_at));
    if state == old.remote_state && applied_updated_at == old.applied_updated_at {
        return GoneWrite::Nothing;
    }
    GoneWrite::Mark { state, applied_updated_at }
}

/// What a disappearance did to a project's link.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GoneOutcome {
    /// The link was marked deleted or transferred (the task keeps its content).
    Marked,
    /// The task now follows the issue's new identity.
    Relinked,
    /// Nothing changed: the project had no link for the issue, or it said so already.
    NotLinked,
}

/// Counts what disappearances did into a run's figures: a marked or relinked task is an
/// updated one.
pub fn count_gone(counts: &mut SyncCounts, outcomes: &[GoneOutcome]) {
    for outcome in outcomes {
        match outcome {
            GoneOutcome::Marked | GoneOutcome::Relinked => counts.tasks_updated += 1,
            GoneOutcome::NotLinked => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{Content, IssueExtras, IssueState};
    use crate::sync::fixtures::t;

    #[test]
    fn a_link_is_live_until_its_issue_goes_or_a_switch_ends_it() {
        #[rustfmt::skip]
        let rows = [
            (RemoteState::Open,        false, true),
            (RemoteState::Completed,   false, true),
            (RemoteState::NotPlanned,  false, true),
            (RemoteState::Deleted,     false, false),
            (RemoteState::Transferred, false, false),
            (RemoteState::Open,        true,  false),
            (RemoteState::Deleted,     true,  false),
        ];
        for (state, unlinked, live) in rows {
            assert_eq!(link_live(state, unlinked), live, "{state:?} unlinked={unlinked}");
        }
    }

    fn issue(url: &str) -> RemoteIssue {
        RemoteIssue {
            node_id: "I_new".into(),
            number: 9,
            html_url: url.into(),
            content: Content::new("t", None).unwrap(),
            state: IssueState::Open,
            updated_at: t("2026-01-05T10:00:00Z"),
            extras: IssueExtras::default(),
            marker: None,
        }
    }

    #[test]
    fn a_transfer_is_into_the_followed_repository_only_on_its_host() {
        let github = WebHost::github_com();
        let ghes = WebHost::of_api(&url::Url::parse("https://ghe.example.com/api/v3").unwrap());
        let repo = RepoRef::parse("acme/widgets").unwrap();
        #[rustfmt::skip]
        let rows = [
            (None,                                                &github, false),
            (Some("https://github.com/acme/widgets/issues/9"),      &github, true),
            (Some("https://github.com/ACME/Widgets/issues/9"),      &github, true),
            (Some("https://github.com/acme/other/issues/9"),        &github, false),
            (Some("https://ghe.example.com/acme/widgets/issues/9"), &github, false),
            (Some("https://ghe.example.com/acme/widgets/issues/9"), &ghes,   true),
        ];
        for (url, web, into_followed) in rows {
            let new = url.map(issue);
            assert_eq!(
                transfer(new.as_ref(), web, &repo),
                Disappearance::Transferred { into_followed },
                "{url:?} on {web:?}"
            );
        }
    }

    #[test]
    fn gone_table() {
        use Disappearance::{Deleted, Transferred};
        use RemoteState::{Deleted as D, Open, Transferred as T};
        let link = |state, at| Some(GoneLink { remote_state: state, applied_updated_at: t(at) });
        let mark = |state, at| GoneWrite::Mark { state, applied_updated_at: t(at) };
        let (t8, t10, t11, t12) =
            ("2026-01-05T10:08:00Z", "2026-01-05T10:10:00Z", "2026-01-05T10:11:00Z", "2026-01-05T10:12:00Z");
        let followed = Transferred { into_followed: true };
        let elsewhere = Transferred { into_followed: false };
        #[rustfmt::skip]
        let rows = [
            // how, the link, the new identity has a link, seen at → what is written
            (Deleted,   None,              None,        Some(t12), GoneWrite::Nothing),
            (Deleted,   link(Open, t10),   None,        Some(t12), mark(D, t12)),
            // an older disappearance marks, and keeps the applied time
            (Deleted,   link(Open, t10),   None,        Some(t8),  mark(D, t10)),
            // a replay of what the link says already
            (Deleted,   link(D, t10),      None,        Some(t10), GoneWrite::Nothing),
            (Deleted,   link(D, t10),      None,        Some(t11), mark(D, t11)),
            (elsewhere, link(Open, t10),   None,        None,      mark(T, t10)),
            (followed,  link(Open, t10),   Some(false), Some(t11), GoneWrite::Relink),
            // the new identity has a task of its own: this one stays behind
            (followed,  link(Open, t10),   Some(true),  Some(t11), mark(T, t11)),
            // into the followed repository, but the new identity is unknown
            (followed,  link(Open, t10),   None,        None,      mark(T, t10)),
            (followed,  None,              Some(false), None,      GoneWrite::Nothing),
        ];
        for (how, old, new_has_link, seen_at, write) in rows {
            let seen_at = seen_at.map(t);
            assert_eq!(
                gone(how, old, new_has_link, seen_at),
                write,
                "{how:?} {old:?} {new_has_link:?} {seen_at:?}"
            );
        }
    }

    #[test]
    fn marked_and_relinked_tasks_count_as_updated() {
        use GoneOutcome::*;
        let rows: [(&[GoneOutcome], i64); 5] = [
            (&[Marked], 1),
            (&[Relinked], 1),
            (&[NotLinked], 0),
            (&[Marked, NotLinked, Relinked], 2),
            (&[], 0),
        ];
        for (outcomes, updated) in rows {
            let mut counts = SyncCounts::default();
            count_gone(&mut counts, outcomes);
            assert_eq!(counts.tasks_updated, updated, "{outcomes:?}");
        }
    }
}
