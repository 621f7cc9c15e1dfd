//! What saving a project's sync config does (docs/tenants.md, docs/sync-rules.md,
//! "Repository switch"): whether the config moved to another repository or host, and what
//! that, a new credential, or turning it on, off, one-way or two-way means for the config's
//! schedule, its outbox, its links, its secret, its token check and its hook. The store
//! carries the decision out on the locked row; the API and the token check read it.

use super::push::Rearm;
use crate::domain::{GitHubSyncConfig, RepoRef};

/// Where a config's issues live: a repository, on the deployment's GitHub (`api_url` none)
/// or a GitHub Enterprise Server's API.
#[derive(Clone, Copy, Debug)]
pub struct Place<'a> {
    pub repo: &'a RepoRef,
    pub api_url: Option<&'a str>,
}

/// Whether `new` is another tenant than `old`: another repository (names compared as
/// GitHub compares them) or another host, whatever the repository's name.
pub fn moved(old: Place<'_>, new: Place<'_>) -> bool {
    !old.repo.is(new.repo.owner.as_str(), new.repo.name.as_str()) || old.api_url != new.api_url
}

/// The kind of credential a save brings.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    Pat,
    Installation,
}

/// The config as stored before the save.
#[derive(Clone, Copy, Debug)]
pub struct Stored<'a> {
    pub place: Place<'a>,
    pub sync_enabled: bool,
    pub two_way: bool,
    /// GitHub's events paused it (an installation suspended or deleted, a repository removed).
    pub paused_by_github: bool,
    /// Its host left the operator's allowlist.
    pub paused_for_host: bool,
    /// It works through a GitHub App installation.
    pub installation: bool,
}

impl<'a> Stored<'a> {
    /// The stored `config`, following `repo` (its parsed repository).
    pub fn of(config: &'a GitHubSyncConfig, repo: &'a RepoRef) -> Self {
        Stored {
            place: Place { repo, api_url: config.api_url.as_deref() },
            sync_enabled: config.sync_enabled,
            two_way: config.two_way,
            paused_by_github: config.paused_by_github,
            paused_for_host: config.paused_for_host,
            installation: config.installation_id.is_some(),
        }
    }
}

/// What a save asks for: the new place (`api_url` as it will be stored), and the fields the
/// person sent (absent keeps the stored value).
#[derive(Clone, Copy, Debug)]
pub struct Change<'a> {
    pub place: Place<'a>,
    pub credential: Option<CredentialKind>,
    pub sync_enabled: Option<bool>,
    pub two_way: Option<bool>,
}

/// What the save does to the config's outbox.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OutboxOnSave {
    Keep,
    /// Another repository: waiting edits are not sent to it; each task says why.
    End,
    /// Turned one-way: waiting edits wait for two-way.
    ParkOneWay,
    /// Turned two-way: edits parked while it was one-way go.
    Rearm(Rearm),
}

/// The save's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Switch {
    /// Another repository or host: the old links end, the listing and probe start over, the
    /// config takes a new webhook secret, and a pause for the host ends.
    pub moved: bool,
    pub enabled: bool,
    pub two_way: bool,
    /// A person turned the config on or off: their word counts from now on, not GitHub's
    /// events (the pause cause is cleared).
    pub person_decides: bool,
    pub outbox: OutboxOnSave,
    /// A new credential GitHub accepted just now: the last run's error no longer holds, and a
    /// pause by GitHub's events ends with it.
    pub credential_saved: bool,
    /// Edits GitHub refused go again: a new credential for the same repository (a moved
    /// config's edits end instead).
    pub rearm_refused: bool,
    /// Due at once: moved, turned on, or a new credential.
    pub due_now: bool,
    /// The token must be checked with GitHub before the save (it, the repository, or what it
    /// must be able to do changed).
    pub check_token: bool,
    /// A stored PAT would go to another repository or host: refused, the PAT must be sent
    /// again (docs/trust.md).
    pub pat_must_be_resent: bool,
    /// The hook ghsync installed on the old repository goes (another repository or host, or
    /// an App installation now, whose deliveries come to the App's URL).
    pub old_hook_goes: bool,
    /// Two-way sync was turned on by this save (the console offers the edits made while off).
    pub turned_two_way_on: bool,
}

/// Decides what saving `change` over `old` (none: a new config) does.
pub fn switch(old: Option<&Stored<'_>>, change: &Change<'_>) -> Switch {
    let credential = change.credential.is_some();
    let Some(old) = old else {
        let two_way = change.two_way.unwrap_or(false);
        return Switch {
            moved: false,
            enabled: change.sync_enabled.unwrap_or(true),
            two_way,
            person_decides: false,
            outbox: OutboxOnSave::Keep,
            credential_saved: credential,
            rearm_refused: false,
            due_now: true,
            check_token: true,
            pat_must_be_resent: false,
            old_hook_goes: false,
            turned_two_way_on: two_way,
        };
    };
    let moved = moved(old.place, change.place);
    // A new credential, checked just now, ends a pause by GitHub; moving off a host the
    // operator no longer allows (to one checked just now) ends that pause. Sending the
    // stored on/off as it was (a form always sends it) is no decision.
    let paused = old.paused_by_github && !old.sync_enabled;
    let host_changed = old.place.api_url != change.place.api_url;
    let enabled = match change.sync_enabled {
        Some(enabled) => enabled,
        None if paused && credential => true,
        None if old.paused_for_host && host_changed => true,
        None => old.sync_enabled,
    };
    let two_way = change.two_way.unwrap_or(old.two_way);
    let outbox = if moved {
        OutboxOnSave::End
    } else if old.two_way && !two_way {
        OutboxOnSave::ParkOneWay
    } else if two_way && !old.two_way {
        OutboxOnSave::Rearm(Rearm::TwoWayOn)
    } else {
        OutboxOnSave::Keep
    };
    Switch {
        moved,
        enabled,
        two_way,
        person_decides: change.sync_enabled.is_some_and(|e| e != old.sync_enabled),
        outbox,
        credential_saved: credential,
        rearm_refused: credential && !moved,
        due_now: moved || (enabled && !old.sync_enabled) || credential,
        check_token: credential || moved || (two_way && !old.two_way),
        pat_must_be_resent: moved && !credential && !old.installation,
        old_hook_goes: moved
            || (!old.installation && change.credential == Some(CredentialKind::Installation)),
        turned_two_way_on: two_way && !old.two_way,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn repo(s: &str) -> RepoRef {
        RepoRef::parse(s).unwrap()
    }

    #[test]
    fn another_repository_or_host_is_another_tenant() {
        let ghe = Some("https://ghe.example.com/api/v3");
        #[rustfmt::skip]
        let rows = [
            ("acme/widgets", None, "acme/widgets", None, false),
            ("acme/widgets", None, "ACME/Widgets", None, false),
            ("acme/widgets", None, "acme/gadgets", None, true),
            ("acme/widgets", None, "octo/widgets", None, true),
            ("acme/widgets", None, "acme/widgets", ghe,  true),
            ("acme/widgets", ghe,  "acme/widgets", ghe,  false),
            ("acme/widgets", ghe,  "acme/widgets", None, true),
        ];
        for (a, a_url, b, b_url, expected) in rows {
            let (a, b) = (repo(a), repo(b));
            let old = Place { repo: &a, api_url: a_url };
            let new = Place { repo: &b, api_url: b_url };
            assert_eq!(moved(old, new), expected, "{a} {a_url:?} → {b} {b_url:?}");
        }
    }

    #[test]
    fn switch_table() {
        let widgets = repo("acme/widgets");
        let gadgets = repo("acme/gadgets");
        let widgets_cased = repo("ACME/Widgets");
        let ghe = Some("https://ghe.example.com/api/v3");
        let at = |r| Place { repo: r, api_url: None };
        let stored = Stored {
            place: at(&widgets),
            sync_enabled: true,
            two_way: false,
            paused_by_github: false,
            paused_for_host: false,
            installation: false,
        };
        let change = Change { place: at(&widgets), credential: None, sync_enabled: None, two_way: None };
        let base = switch(Some(&stored), &change);

        // 1. Nothing changed.
        assert_eq!(
            base,
            Switch {
                moved: false,
                enabled: true,
                two_way: false,
                person_decides: false,
                outbox: OutboxOnSave::Keep,
                credential_saved: false,
                rearm_refused: false,
                due_now: false,
                check_token: false,
                pat_must_be_resent: false,
                old_hook_goes: false,
                turned_two_way_on: false,
            }
        );
        #[rustfmt::skip]
        let rows: [(&str, Stored<'_>, Change<'_>, Switch); 10] = [
            ("another repository, no PAT", stored, Change { place: at(&gadgets), ..change },
             Switch { moved: true, outbox: OutboxOnSave::End, due_now: true, check_token: true,
                      pat_must_be_resent: true, old_hook_goes: true, ..base }),
            ("another repository, a PAT", stored, Change { place: at(&gadgets), credential: Some(CredentialKind::Pat), ..change },
             Switch { moved: true, outbox: OutboxOnSave::End, due_now: true, check_token: true,
                      credential_saved: true, old_hook_goes: true, ..base }),
            ("the same name cased otherwise", stored, Change { place: at(&widgets_cased), ..change }, base),
            ("another host", stored, Change { place: Place { repo: &widgets, api_url: ghe }, ..change },
             Switch { moved: true, outbox: OutboxOnSave::End, due_now: true, check_token: true,
                      pat_must_be_resent: true, old_hook_goes: true, ..base }),
            ("turned one-way", Stored { two_way: true, ..stored }, Change { two_way: Some(false), ..change },
             Switch { outbox: OutboxOnSave::ParkOneWay, ..base }),
            ("turned two-way", stored, Change { two_way: Some(true), ..change },
             Switch { two_way: true, outbox: OutboxOnSave::Rearm(Rearm::TwoWayOn), check_token: true,
                      turned_two_way_on: true, ..base }),
            ("a new credential ends GitHub's pause",
             Stored { sync_enabled: false, paused_by_github: true, ..stored },
             Change { credential: Some(CredentialKind::Pat), ..change },
             Switch { enabled: true, credential_saved: true, rearm_refused: true, due_now: true, check_token: true, ..base }),
            ("moved off a host no longer allowed",
             Stored { sync_enabled: false, paused_for_host: true, place: Place { repo: &widgets, api_url: ghe }, ..stored },
             Change { credential: Some(CredentialKind::Pat), ..change },
             Switch { moved: true, enabled: true, outbox: OutboxOnSave::End, credential_saved: true,
                      due_now: true, check_token: true, old_hook_goes: true, ..base }),
            ("turned on by a person", Stored { sync_enabled: false, ..stored }, Change { sync_enabled: Some(true), ..change },
             Switch { person_decides: true, due_now: true, ..base }),
            ("a PAT config now works through the App", stored,
             Change { credential: Some(CredentialKind::Installation), ..change },
             Switch { credential_saved: true, rearm_refused: true, due_now: true, check_token: true,
                      old_hook_goes: true, ..base }),
        ];
        for (what, old, change, expected) in rows {
            assert_eq!(switch(Some(&old), &change), expected, "{what}");
        }
        // Moving and turning two-way on: the old repository's edits end, they are not rearmed.
        let both = switch(Some(&stored), &Change { place: at(&gadgets), two_way: Some(true), ..change });
        assert_eq!(both.outbox, OutboxOnSave::End);
    }

    #[test]
    fn a_new_config_is_due_checked_and_one_way_unless_asked() {
        let widgets = repo("acme/widgets");
        let change = Change {
            place: Place { repo: &widgets, api_url: None },
            credential: Some(CredentialKind::Pat),
            sync_enabled: None,
            two_way: None,
        };
        let new = switch(None, &change);
        assert!(new.enabled && !new.two_way && new.due_now && new.check_token && !new.moved);
        let two_way = switch(None, &Change { two_way: Some(true), sync_enabled: Some(false), ..change });
        assert!(two_way.two_way && two_way.turned_two_way_on && !two_way.enabled);
    }
}
