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
}
