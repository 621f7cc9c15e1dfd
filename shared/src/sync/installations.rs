//! What an installation event of the GitHub App may change, and only once GitHub bears it
//! out: a captured delivery replayed under a new `X-GitHub-Delivery` verifies like the
//! original, so the receiver asks GitHub (with the App's JWT) before it believes one
//! (docs/trust.md, "Installation events").

/// What an `installation` or `installation_repositories` delivery says happened, before
/// ghsync believes it: a captured delivery replayed under a new `X-GitHub-Delivery` verifies
/// like the original, so what it says is confirmed with GitHub first (docs/trust.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Said {
    Deleted,
    Suspended,
    Unsuspended,
    /// A repository left the installation.
    Removed,
    /// A repository joined the installation.
    Added,
}

/// What GitHub says now, asked with the App's JWT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GitHubSays {
    /// `GET /app/installations/{id}`: `None` when deleted (404).
    Installation(Option<crate::domain::InstallationState>),
    /// `GET /repos/{o}/{r}/installation`: the installation on the repository (`None`: 404).
    Repo(Option<i64>),
}

impl Said {
    /// Whether GitHub's answer bears out what `installation`'s event said.
    pub fn holds(self, installation: i64, now: GitHubSays) -> bool {
        use crate::domain::InstallationState as State;
        match (self, now) {
            (Said::Deleted, GitHubSays::Installation(found)) => found.is_none(),
            (Said::Suspended, GitHubSays::Installation(found)) => found == Some(State { suspended: true }),
            (Said::Unsuspended, GitHubSays::Installation(found)) => found == Some(State { suspended: false }),
            (Said::Removed, GitHubSays::Repo(found)) => found != Some(installation),
            (Said::Added, GitHubSays::Repo(found)) => found == Some(installation),
            // An answer about something else bears out nothing.
            (_, _) => false,
        }
    }
}

/// Why GitHub's events paused a config (`github_sync_config.paused_by`); only the matching
/// return resumes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PauseCause {
    /// Its repository left the installation.
    Removed,
    /// The installation was suspended.
    Suspended,
    /// The installation was deleted (nothing resumes it: a new installation has a new id).
    Deleted,
}

impl PauseCause {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseCause::Removed => "removed",
            PauseCause::Suspended => "suspended",
            PauseCause::Deleted => "deleted",
        }
    }
}

/// Which of an installation's configs an event concerns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concerns {
    /// Every config of the installation.
    All,
    /// The configs following the repositories GitHub confirmed (they left or joined).
    ConfirmedRepos,
}

/// What an installation event does, once believed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InstallationEffect {
    Pause {
        concerns: Concerns,
        cause: PauseCause,
    },
    /// Only configs paused for `cause` resume.
    Resume {
        concerns: Concerns,
        cause: PauseCause,
    },
    /// The installation's refused pushes go again.
    Rearm(super::Rearm),
    /// Nothing changes; the reason is recorded with the delivery.
    Ignore(&'static str),
}

/// What an App delivery (`event`, `action`) says happened, to be confirmed with GitHub, and
/// what it does once believed.
pub fn installation_event(event: &str, action: &str) -> (Option<Said>, InstallationEffect) {
    use Concerns::{All, ConfirmedRepos};
    use InstallationEffect::{Ignore, Pause, Resume};
    match (event, action) {
        ("installation", "deleted") => {
            (Some(Said::Deleted), Pause { concerns: All, cause: PauseCause::Deleted })
        }
        ("installation", "suspend") => {
            (Some(Said::Suspended), Pause { concerns: All, cause: PauseCause::Suspended })
        }
        ("installation", "unsuspend") => {
            (Some(Said::Unsuspended), Resume { concerns: All, cause: PauseCause::Suspended })
        }
        ("installation_repositories", "removed") => {
            (Some(Said::Removed), Pause { concerns: ConfirmedRepos, cause: PauseCause::Removed })
        }
        ("installation_repositories", "added") => {
            (Some(Said::Added), Resume { concerns: ConfirmedRepos, cause: PauseCause::Removed })
        }
        // The installation may now do what GitHub refused (a replay only makes refused
        // pushes try once more: nothing to confirm).
        ("installation", "new_permissions_accepted") => {
            (None, InstallationEffect::Rearm(super::Rearm::PermissionsAccepted))
        }
        _ => (None, Ignore("event_ignored")),
    }
}

/// Whether GitHub bore out a repository event: some of the `concerned` repositories (those a
/// config of the installation follows) were `confirmed`, or none was concerned.
pub fn repos_hold(concerned: usize, confirmed: usize) -> bool {
    concerned == 0 || confirmed > 0
}

/// The effect of an event as believed: what GitHub did not bear out changes nothing.
pub fn believed(effect: InstallationEffect, said: Option<Said>, holds: bool) -> InstallationEffect {
    match said {
        Some(_) if !holds => InstallationEffect::Ignore("not_confirmed"),
        _ => effect,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_installation_event_holds_only_when_github_bears_it_out() {
        use crate::domain::InstallationState as State;
        let (active, suspended) = (Some(State { suspended: false }), Some(State { suspended: true }));
        let i = GitHubSays::Installation;
        let r = GitHubSays::Repo;
        #[rustfmt::skip]
        let rows = [
            // what the event said, what GitHub says now, believed
            (Said::Deleted,     i(None),      true),
            (Said::Deleted,     i(active),    false), // a replay: the installation is there
            (Said::Deleted,     i(suspended), false),
            (Said::Suspended,   i(suspended), true),
            (Said::Suspended,   i(active),    false), // a replay after the unsuspension
            (Said::Suspended,   i(None),      false),
            (Said::Unsuspended, i(active),    true),
            (Said::Unsuspended, i(suspended), false),
            (Said::Removed,     r(None),      true),
            (Said::Removed,     r(Some(8)),   true),  // another installation has it now
            (Said::Removed,     r(Some(7)),   false), // a replay: still installed
            (Said::Added,       r(Some(7)),   true),
            (Said::Added,       r(None),      false),
            (Said::Added,       r(Some(8)),   false),
            (Said::Deleted,     r(None),      false), // an answer about something else
            (Said::Removed,     i(None),      false),
        ];
        for (said, now, believed) in rows {
            assert_eq!(said.holds(7, now), believed, "{said:?} {now:?}");
        }
    }

    #[test]
    fn installation_events_table() {
        use Concerns::{All, ConfirmedRepos};
        use InstallationEffect::{Ignore, Pause, Resume};
        #[rustfmt::skip]
        let rows = [
            ("installation", "deleted", Some(Said::Deleted), Pause { concerns: All, cause: PauseCause::Deleted }),
            ("installation", "suspend", Some(Said::Suspended), Pause { concerns: All, cause: PauseCause::Suspended }),
            ("installation", "unsuspend", Some(Said::Unsuspended), Resume { concerns: All, cause: PauseCause::Suspended }),
            ("installation_repositories", "removed", Some(Said::Removed), Pause { concerns: ConfirmedRepos, cause: PauseCause::Removed }),
            ("installation_repositories", "added", Some(Said::Added), Resume { concerns: ConfirmedRepos, cause: PauseCause::Removed }),
            ("installation", "new_permissions_accepted", None, InstallationEffect::Rearm(crate::sync::Rearm::PermissionsAccepted)),
            ("installation", "created", None, Ignore("event_ignored")),
            ("installation_repositories", "deleted", None, Ignore("event_ignored")),
        ];
        for (event, action, said, effect) in rows {
            assert_eq!(installation_event(event, action), (said, effect), "{event} {action}");
        }
        let pause = Pause { concerns: All, cause: PauseCause::Deleted };
        assert_eq!(believed(pause, Some(Said::Deleted), false), Ignore("not_confirmed"));
        assert_eq!(believed(pause, Some(Said::Deleted), true), pause);
        let rearm = InstallationEffect::Rearm(crate::sync::Rearm::PermissionsAccepted);
        assert_eq!(believed(rearm, None, false), rearm);
        assert!(repos_hold(0, 0));
        assert!(!repos_hold(2, 0));
        assert!(repos_hold(2, 1));
    }
}
