//! Recording a delivery and carrying out its change, inside one transaction.

use std::collections::HashMap;

use uuid::Uuid;

use super::payload::{Change, ChangeKind, Gone};
use super::payload::{InstallationPayload, PayloadError};
use super::{Handled, IssueResult, LogMeta, ProjectResult, Route, WebhookError};
use crate::domain::{RepoRef, WebHost};
use crate::store::{self, ApplyOutcome, Backend, GoneOutcome, Scope, Store, StoreError};
use crate::sync::{self, Disappearance, Source};
use crate::time::Timestamp;

pub(super) async fn apply_alone(
    store: &Store,
    received: &Received<'_>,
    change: &Change,
) -> Result<Handled, WebhookError> {
    store::retry_races(|| async {
        let mut tx = store.begin().await?;
        let handled = apply_in(&mut tx, store.backend(), &mut Routes::default(), received, change).await?;
        tx.commit().await.map_err(StoreError::from)?;
        Ok(handled)
    })
    .await
}

/// A verified delivery, as the delivery log records it.
#[derive(Clone, Copy)]
pub(super) struct Received<'a> {
    pub(super) id: &'a str,
    pub(super) event: &'a str,
    pub(super) meta: &'a LogMeta,
    pub(super) now: Timestamp,
    /// Whose configs it may touch.
    pub(super) route: Route,
}

impl Received<'_> {
    /// Records the delivery id in the caller's transaction; false when it was seen before.
    pub(super) async fn record(
        &self,
        conn: &mut sqlx::AnyConnection,
        outcome: &str,
    ) -> Result<bool, StoreError> {
        let (action, repo) = (self.meta.action.as_deref(), self.meta.repo.as_deref());
        store::record_delivery_in(conn, self.id, self.event, action, repo, outcome, self.now).await
    }
}

/// Which projects follow a repository, looked up once per transaction (deliveries do not
/// change sync configs, so a shared transaction can reuse the answer).
#[derive(Default)]
pub(super) struct Routes(HashMap<(String, String), Vec<Uuid>>);

impl Routes {
    async fn projects(
        &mut self,
        conn: &mut sqlx::AnyConnection,
        repo: &RepoRef,
    ) -> Result<Vec<Uuid>, StoreError> {
        // Repository names compare case-insensitively, as GitHub's do.
        let key = (repo.owner.as_str().to_lowercase(), repo.name.as_str().to_lowercase());
        if let Some(projects) = self.0.get(&key) {
            return Ok(projects.clone());
        }
        let projects =
            store::enabled_projects_for_repo_in(conn, repo.owner.as_str(), repo.name.as_str()).await?;
        self.0.insert(key, projects.clone());
        Ok(projects)
    }
}

/// Records a delivery that changes nothing else; false when it was recorded before.
pub(super) async fn record_alone(
    store: &Store,
    received: &Received<'_>,
    outcome: &str,
) -> Result<bool, StoreError> {
    let mut tx = store.begin().await?;
    let fresh = received.record(&mut tx, outcome).await?;
    tx.commit().await?;
    Ok(fresh)
}

/// Records and applies one delivery inside the caller's transaction. The delivery names
/// what happened; the sync rules decide what it does to each project that follows the
/// repository.
pub(super) async fn apply_in(
    tx: &mut sqlx::AnyConnection,
    backend: Backend,
    routes: &mut Routes,
    received: &Received<'_>,
    change: &Change,
) -> Result<Handled, WebhookError> {
    let mut projects = match received.route {
        // A config's own URL: its project, and only when the body is of its repository.
        Route::Config(config_id) => {
            let tenant = store::tenant_project_in(tx, config_id, &change.repo).await?;
            // Its issues must be on the config's own GitHub.
            tenant
                .filter(|(_, api_url)| {
                    let host =
                        api_url.as_deref().and_then(|u| url::Url::parse(u).ok()).map(|u| WebHost::of_api(&u));
                    host == change.foreign_host
                })
                .map(|(project, _)| project)
                .into_iter()
                .collect()
        }
        // The App's URL: the configs of the delivery's installation that follow the repository.
        Route::Installation(id) => store::installation_projects_in(tx, id, &change.repo).await?,
        Route::Shared => routes.projects(tx, &change.repo).await?,
    };
    // A transfer also concerns projects that follow the issue's new repository: their task
    // of the old issue follows it there.
    if let (Route::Shared, ChangeKind::Gone { how: Gone::Transferred { new_repo: Some(new_repo), .. }, .. }) =
        (received.route, &change.kind)
    {
        for p in routes.projects(tx, new_repo).await? {
            if !projects.contains(&p) {
                projects.push(p);
            }
        }
    }
    let handled_if_fresh = if matches!(change.kind, ChangeKind::PullRequest) {
        Handled::Ignored { reason: "pull_request" }
    } else if projects.is_empty() {
        // The repository is followed by no enabled config, or (on a config's own URL) the
        // config is disabled, gone, or follows another repository.
        Handled::Ignored {
            reason: match received.route {
                Route::Config(_) => "not_this_config",
                Route::Installation(_) => "not_this_installation",
                Route::Shared => "no_enabled_config",
            },
        }
    } else {
        Handled::Applied { results: Vec::new() }
    };
    let fresh = received.record(&mut *tx, handled_if_fresh.log_outcome()).await?;
    if !fresh {
        return Ok(Handled::Duplicate);
    }
    let Handled::Applied { .. } = handled_if_fresh else {
        return Ok(handled_if_fresh);
    };
    let mut results = Vec::with_capacity(projects.len());
    for project_id in projects {
        let scope = Scope { backend, project_id, source: Source::Delivery, now: received.now };
        let result = match &change.kind {
            ChangeKind::Snapshot(issue) => {
                let outcome = store::apply_issue_in(&mut *tx, scope, issue).await?;
                if outcome == ApplyOutcome::Ambiguous {
                    // GitHub decides: the next reconcile reads the issue again, soon.
                    store::reread_soon_in(
                        &mut *tx,
                        project_id,
                        store::Reread::Issues,
                        issue.updated_at,
                        received.now,
                    )
                    .await?;
                }
                IssueResult::Applied(outcome)
            }
            ChangeKind::Gone { node_id, seen_at, how } => {
                let (disappearance, new_issue) = match how {
                    Gone::Deleted => (Disappearance::Deleted, None),
                    Gone::Transferred { new_issue, .. } => {
                        // Into the repository this project follows (on the host the
                        // delivery's issues were checked on): the task follows it there.
                        let how = match store::followed_repo_in(tx, project_id).await? {
                            Some(repo) => sync::transfer(new_issue.as_deref(), &change.web, &repo),
                            None => Disappearance::Transferred { into_followed: false },
                        };
                        (how, new_issue.as_deref())
                    }
                };
                let outcome = store::carry_out_gone_in(
                    &mut *tx,
                    scope,
                    node_id,
                    disappearance,
                    new_issue,
                    Some(*seen_at),
                )
                .await?;
                match outcome {
                    GoneOutcome::Marked => IssueResult::MarkedGone,
                    GoneOutcome::Relinked => IssueResult::Relinked,
                    GoneOutcome::NotLinked => IssueResult::NotLinked,
                }
            }
            ChangeKind::Comment(c) => {
                // The issue as the delivery shows it first: a comment that arrives before its
                // issue's own delivery finds the task there.
                let issue = store::apply_issue_in(&mut *tx, scope, &c.issue).await?;
                if issue == ApplyOutcome::Ambiguous {
                    store::reread_soon_in(
                        &mut *tx,
                        project_id,
                        store::Reread::Issues,
                        c.issue.updated_at,
                        received.now,
                    )
                    .await?;
                }
                let of =
                    store::issue_of_comment_in(&mut *tx, project_id, store::IssueKey::Node(&c.issue.node_id))
                        .await?;
                let seen = store::SeenComment {
                    comment: &c.comment,
                    deleted: c.deleted,
                    source: Source::Delivery,
                    pass: None,
                };
                let comment =
                    store::apply_comment_in(&mut *tx, backend, project_id, of, seen, received.now).await?;
                if comment == sync::CommentOutcome::Ambiguous {
                    let at = c.comment.updated_at;
                    store::reread_soon_in(&mut *tx, project_id, store::Reread::Comments, at, received.now)
                        .await?;
                }
                IssueResult::Comment { issue, comment }
            }
            ChangeKind::PullRequest => unreachable!("pull requests are ignored above"),
        };
        results.push(ProjectResult { project_id, result });
    }
    Ok(Handled::Applied { results })
}

/// What a config paused by an installation event shows as its error: why, and what resumes it.
fn pause_reason(cause: sync::PauseCause, installation: i64, repo: Option<&RepoRef>) -> String {
    match cause {
        sync::PauseCause::Deleted => format!(
            "the GitHub App installation {installation} was deleted: install the App again and give this config \
             the new installation"
        ),
        sync::PauseCause::Suspended => format!(
            "the GitHub App installation {installation} is suspended: syncing resumes when it is unsuspended"
        ),
        sync::PauseCause::Removed => format!(
            "{} was removed from the GitHub App installation {installation}: add it to the installation again \
             to resume syncing",
            repo.map_or_else(|| "a repository".to_string(), RepoRef::to_string)
        ),
    }
}

/// An `installation` or `installation_repositories` delivery of the App: what it says is
/// confirmed with GitHub first (a captured delivery replayed under a new id verifies like the
/// original), then the configs it concerns pause or resume in one transaction with its record.
/// What GitHub does not bear out changes nothing, and is logged.
pub(super) async fn installation_event(
    store: &Store,
    app: &crate::services::app::AppAccess,
    received: &Received<'_>,
    body: &[u8],
) -> Result<(Handled, LogMeta), WebhookError> {
    use crate::sync::Said;
    let payload: InstallationPayload =
        serde_json::from_slice(body).map_err(|e| WebhookError::InvalidPayload(PayloadError::Json(e)))?;
    let id = payload.installation.id;
    let meta = LogMeta { action: Some(payload.action.clone()), repo: None };
    let received = Received { meta: &meta, ..*received };
    let (said, effect) = sync::installation_event(received.event, &payload.action);
    // Asked before the transaction: no database connection waits on GitHub.
    let unconfirmed = |e| WebhookError::Unconfirmed(e);
    let (holds, repos) = match said {
        Some(said @ (Said::Deleted | Said::Suspended | Said::Unsuspended)) => {
            (said.holds(id, app.ask(id, None).await.map_err(unconfirmed)?), Vec::new())
        }
        Some(said @ (Said::Removed | Said::Added)) => {
            let listed = if said == Said::Removed {
                &payload.repositories_removed
            } else {
                &payload.repositories_added
            };
            // Only repositories a config of the installation follows are asked about.
            let followed = store.installation_repos(id).await?;
            let mut concerned = Vec::new();
            for repo in listed.iter().filter_map(|r| RepoRef::parse(&r.full_name).ok()) {
                if followed.iter().any(|f| f.is(repo.owner.as_str(), repo.name.as_str())) {
                    concerned.push(repo);
                }
            }
            let mut confirmed = Vec::new();
            for repo in &concerned {
                if said.holds(id, app.ask(id, Some(repo)).await.map_err(unconfirmed)?) {
                    confirmed.push(repo.clone());
                }
            }
            (sync::repos_hold(concerned.len(), confirmed.len()), confirmed)
        }
        None => (true, Vec::new()),
    };
    let result = store::retry_races(|| async {
        let mut tx = store.begin().await?;
        let now = received.now;
        use sync::{Concerns, InstallationEffect as Effect};
        let scope = |concerns| match concerns {
            Concerns::All => store::InstallationScope::All,
            Concerns::ConfirmedRepos => store::InstallationScope::Repos(&repos),
        };
        let handled = match sync::believed(effect, said, holds) {
            Effect::Ignore(reason) => Handled::Ignored { reason },
            Effect::Pause { concerns, cause } => {
                // Each repository's configs are told which repository left.
                let targets: Vec<Option<&RepoRef>> = match concerns {
                    Concerns::All => vec![None],
                    Concerns::ConfirmedRepos => repos.iter().map(Some).collect(),
                };
                let mut paused = 0;
                for repo in targets {
                    let one = match repo {
                        Some(repo) => store::InstallationScope::Repos(std::slice::from_ref(repo)),
                        None => store::InstallationScope::All,
                    };
                    let reason = pause_reason(cause, id, repo);
                    paused +=
                        store::pause_installation_in(&mut tx, id, one, cause, &reason, now).await?.len();
                }
                Handled::Paused { configs: paused }
            }
            Effect::Resume { concerns, cause } => {
                let resumed = store::resume_installation_in(&mut tx, id, scope(concerns), cause, now).await?;
                Handled::Resumed { configs: resumed.len() }
            }
            Effect::Rearm(cause) => {
                let mut entries = 0;
                for project in store::installation_configs_in(&mut tx, id).await? {
                    entries += store::rearm_in(&mut tx, project, cause, now).await?;
                }
                Handled::Rearmed { entries }
            }
        };
        if !received.record(&mut tx, handled.log_outcome()).await? {
            // Seen before: what it did then stands (this transaction's changes roll back).
            return Ok(Handled::Duplicate);
        }
        tx.commit().await.map_err(StoreError::from)?;
        Ok::<_, WebhookError>(handled)
    })
    .await?;
    match result {
        Handled::Paused { configs } | Handled::Resumed { configs } => {
            tracing::info!(installation = id, action = %payload.action, configs, "installation event")
        }
        Handled::Ignored { reason: "not_confirmed" } => tracing::warn!(
            installation = id,
            action = %payload.action,
            "installation event not borne out by GitHub (a replay?): nothing changed"
        ),
        _ => {}
    }
    Ok((result, meta))
}
