//! What a deleted or transferred issue does to its link: the task keeps its content; a
//! transfer into a repository the project follows relinks it. A delivery's action
//! (`deleted`, `transferred`), a reconcile look-up and a push's read (404/410, 301) all
//! come here.

use crate::domain::RemoteState;

/// How an issue left its repository, as a delivery's action (`deleted`, `transferred`) or a
/// lookup's answer (404/410, 301) shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Disappearance {
    /// Deleted: the `deleted` action, or 404/410 when looked up.
    Deleted,
    /// Transferred: the `transferred` action, or 301 when looked up. `into_followed` when
    /// its new identity is known and lies in a repository the project follows.
    Transferred { into_followed: bool },
}

/// What a disappearance does to the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GoneAction {
    /// Mark the link (deleted or transferred); the task keeps its content, and the applied
    /// `updated_at` moves up to the last one seen, so an older snapshot does not revive it.
    Mark(RemoteState),
    /// Point the task at the new identity and apply its snapshot; the old node id
    /// stays known (retired), so its old snapshots create nothing. Where the new identity
    /// already has a task of its own, the old link is marked transferred instead.
    Relink,
}

/// Decides what a deleted or transferred issue does to its link (`docs/sync-rules.md`).
pub fn gone(disappearance: Disappearance) -> GoneAction {
    match disappearance {
        Disappearance::Deleted => GoneAction::Mark(RemoteState::Deleted),
        Disappearance::Transferred { into_followed: true } => GoneAction::Relink,
        Disappearance::Transferred { into_followed: false } => GoneAction::Mark(RemoteState::Transferred),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gone_table() {
        let table = [
            (Disappearance::Deleted, GoneAction::Mark(RemoteState::Deleted)),
            (Disappearance::Transferred { into_followed: false }, GoneAction::Mark(RemoteState::Transferred)),
            (Disappearance::Transferred { into_followed: true }, GoneAction::Relink),
        ];
        for (disappearance, action) in table {
            assert_eq!(gone(disappearance), action, "{disappearance:?}");
        }
    }
}
