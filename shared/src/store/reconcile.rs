//! What the reconciler needs of the store: claiming due configs, recording how a run ended,
//! applying a page of issues, and pruning history.

use uuid::Uuid;

use super::rows::{ConfigRow, opt_ts};
use super::{
    ApplyOutcome, Checkpoint, GoneOutcome, Scope, Store, StoreError, apply_page_in, carry_out_gone_in,
    claim_held, new_id, retry_races,
};
use crate::domain::{GitHubSyncConfig, RemoteIssue, SyncCounts, SyncHistory};
use crate::sync::{Disappearance, Source, count};
use crate::time::Timestamp;

/// A history row older than this is deleted unless it is among the newest [`HISTORY_KEEP`].
pub const HISTORY_MAX_AGE: chrono::Duration = chrono::Duration::days(30);
/// How many runs per config are kept whatever their age.
pub const HISTORY_KEEP: i64 = 1000;

/// A config claimed by one run, with what the reconciler remembers of it.
#[derive(Clone, Debug)]
pub struct Claimed {
    pub config: GitHubSyncConfig,
    pub list_watermark: Option<Timestamp>,
    pub probe: Option<Probe>,
    pub last_full_pass_at: Option<Timestamp>,
    /// A full pass in progress (spanning runs), by its start.
    pub full_pass_started_at: Option<Timestamp>,
    /// That pass listed everything; the links it did not show remain to be looked up.
    pub full_pass_listed: bool,
    /// The `since` of the next listing of comments.
    pub comments_watermark: Option<Timestamp>,
    /// The last page of the last listing of comments, and its ETag.
    pub comments_probe: Option<Probe>,
    /// The full pass in progress has listed every comment; the comments it did not show
    /// remain to be looked up.
    pub comments_pass_listed: bool,
    /// The hook ghsync installed, when it lacks events ghsync now subscribes to
    /// ([`crate::github::HOOK_EVENTS`]).
    pub hook_missing_events: Option<i64>,
    /// The history row of a run asked for through the API, which this run carries out.
    pub requested_run: Option<Uuid>,
    pub consecutive_failures: i64,
    /// Proves the claim when the run records its end.
    pub lease_token: String,
}

/// The conditional request that tells whether anything changed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Probe {
    pub url: String,
    pub etag: String,
}

/// How a run ends, for the config.
#[derive(Clone, Debug)]
pub struct RunEnd {
    pub last_sync_at: Timestamp,
    pub next_sync_at: Timestamp,
    /// `None` clears it (success).
    pub sync_error: Option<String>,
    /// `None` keeps the stored value.
    pub list_watermark: Option<Timestamp>,
    /// `Some(None)` forgets the probe; `None` keeps it.
    pub probe: Option<Option<Probe>>,
    pub last_full_pass_at: Option<Timestamp>,
    pub consecutive_failures: i64,
}

#[derive(sqlx::FromRow)]
struct ClaimRow {
    #[sqlx(flatten)]
    config: ConfigRow,
    list_watermark: Option<String>,
    probe_url: Option<String>,
    probe_etag: Option<String>,
    last_full_pass_at: Option<String>,
    full_pass_started_at: Option<String>,
    full_pass_listed: i64,
    requested_run_id: Option<String>,
    consecutive_failures: i64,
    comments_watermark: Option<String>,
    comments_probe_url: Option<String>,
    comments_probe_etag: Option<String>,
    comments_pass_listed: i64,
    hook_events: Option<String>,
}

impl Store {
    /// Claims up to `limit` configs that are enabled and due (`next_sync_at <= now`, or never
    /// synced) and not claimed by a live run. Each claim is one conditional `UPDATE`, so two
    /// overlapping runs never claim the same config.
    pub async fn claim_due(
        &self,
        now: Timestamp,
        limit: i64,
        lease: chrono::Duration,
    ) -> Result<Vec<Claimed>, StoreError> {
        // A few spare candidates, for those another run claims first.
        let ids: Vec<String> = sqlx::query_scalar(
            "SELECT id FROM github_sync_config WHERE sync_enabled = 1 \
             AND (next_sync_at IS NULL OR next_sync_at <= $1) \
             AND (lease_until IS NULL OR lease_until < $1) \
             ORDER BY COALESCE(next_sync_at, ''), id LIMIT $2",
        )
        .bind(now.to_sql())
        .bind(limit + 8)
        .fetch_all(&self.pool)
        .await?;
        let mut claimed = Vec::with_capacity(ids.len());
        for id in ids {
            if claimed.len() as i64 >= limit {
                break;
            }
            let token = new_id();
            let taken = sqlx::query(
                "UPDATE github_sync_config SET lease_token = $2, lease_until = $3 \
                 WHERE id = $1 AND sync_enabled = 1 AND (next_sync_at IS NULL OR next_sync_at <= $4) \
                 AND (lease_until IS NULL OR lease_until < $4)",
            )
            .bind(&id)
            .bind(&token)
            .bind(now.plus(lease).to_sql())
            .bind(now.to_sql())
            .execute(&self.pool)
            .await?;
            if taken.rows_affected() == 1 {
                claimed.push(self.load_claim(&id, token).await?);
            }
        }
        Ok(claimed)
    }

    /// Queues a run of the project's config for the reconcile worker ("Sync now"): its
    /// history row (`in_progress`, waiting for the worker) and the config due at once, in one
    /// transaction. `StateConflict` when the config is disabled, or another run holds it or
    /// waits for it.
    pub async fn request_run(&self, project_id: Uuid, now: Timestamp) -> Result<SyncHistory, StoreError> {
        self.get_project(project_id).await?;
        let mut tx = self.begin().await?;
        let row: Option<(String, i64, Option<String>, Option<String>)> = sqlx::query_as(locking!(
            self.backend,
            "SELECT id, sync_enabled, lease_until, requested_run_id FROM github_sync_config WHERE project_id = $1"
        ))
        .bind(project_id.to_string())
        .fetch_optional(&mut *tx)
        .await?;
        let (config_id, enabled, lease_until, requested) = row.ok_or(StoreError::NotFound("sync config"))?;
        if enabled == 0 {
            return Err(StoreError::StateConflict("sync is disabled for this project".into()));
        }
        if requested.is_some() || lease_until.is_some_and(|until| until >= now.to_sql()) {
            return Err(StoreError::StateConflict(
                "a sync of this project is already running or queued".into(),
            ));
        }
        let run = super::history::insert_run_in(&mut tx, project_id, &config_id, now).await?;
        sqlx::query("UPDATE github_sync_config SET requested_run_id = $2, next_sync_at = $3 WHERE id = $1")
            .bind(&config_id)
            .bind(run.id.to_string())
            .bind(now.to_sql())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(run)
    }

    /// Claims the project's config now, due or not (not while another run holds it).
    pub async fn claim_project(
        &self,
        project_id: Uuid,
        now: Timestamp,
        lease: chrono::Duration,
    ) -> Result<Claimed, StoreError> {
        let config = self.get_config(project_id).await?;
        if !config.sync_enabled {
            return Err(StoreError::StateConflict("sync is disabled for this project".into()));
        }
        let token = new_id();
        let taken = sqlx::query(
            "UPDATE github_sync_config SET lease_token = $2, lease_until = $3 \
             WHERE id = $1 AND (lease_until IS NULL OR lease_until < $4)",
        )
        .bind(config.id.to_string())
        .bind(&token)
        .bind(now.plus(lease).to_sql())
        .bind(now.to_sql())
        .execute(&self.pool)
        .await?;
        if taken.rows_affected() == 0 {
            return Err(StoreError::StateConflict("a sync of this project is already running".into()));
        }
        self.load_claim(&config.id.to_string(), token).await
    }

    /// Takes up a claim made elsewhere (the tick that sent it to the queue): the config's
    /// lease must still be `lease_token`'s and live. `None` when it is not (the lease expired
    /// and another run may hold the config).
    pub async fn resume_claim(
        &self,
        config_id: Uuid,
        lease_token: &str,
        now: Timestamp,
    ) -> Result<Option<Claimed>, StoreError> {
        let held: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM github_sync_config WHERE id = $1 AND lease_token = $2 AND lease_until >= $3",
        )
        .bind(config_id.to_string())
        .bind(lease_token)
        .bind(now.to_sql())
        .fetch_one(&self.pool)
        .await?;
        if held == 0 {
            return Ok(None);
        }
        self.load_claim(&config_id.to_string(), lease_token.to_string()).await.map(Some)
    }

    /// Gives a claim back unused (it could not be handed on): the config is due again at once.
    pub async fn release_claim(&self, claimed: &Claimed) -> Result<(), StoreError> {
        sqlx::query(
            "UPDATE github_sync_config SET lease_token = NULL, lease_until = NULL WHERE id = $1 AND lease_token = $2",
        )
        .bind(claimed.config.id.to_string())
        .bind(&claimed.lease_token)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    async fn load_claim(&self, id: &str, lease_token: String) -> Result<Claimed, StoreError> {
        let row: ClaimRow = sqlx::query_as(concat!(
            "SELECT ",
            config_columns!(),
            ", list_watermark, probe_url, probe_etag, last_full_pass_at, full_pass_started_at, \
             full_pass_listed, requested_run_id, consecutive_failures, comments_watermark, comments_probe_url, \
             comments_probe_etag, comments_pass_listed, hook_events FROM github_sync_config WHERE id = $1"
        ))
        .bind(id)
        .fetch_one(&self.pool)
        .await?;
        let probe_of = |url, etag| match (url, etag) {
            (Some(url), Some(etag)) => Some(Probe { url, etag }),
            _ => None,
        };
        let probe = probe_of(row.probe_url, row.probe_etag);
        let comments_probe = probe_of(row.comments_probe_url, row.comments_probe_etag);
        let config: GitHubSyncConfig = row.config.try_into()?;
        // A hook an earlier ghsync installed was not given every event ghsync sends now.
        let current = crate::github::HOOK_EVENTS.join(",");
        let hook_missing_events =
            config.hook_id.filter(|_| row.hook_events.as_deref() != Some(current.as_str()));
        Ok(Claimed {
            config,
            list_watermark: opt_ts("github_sync_config.list_watermark", row.list_watermark.as_deref())?,
            probe,
            last_full_pass_at: opt_ts(
                "github_sync_config.last_full_pass_at",
                row.last_full_pass_at.as_deref(),
            )?,
            full_pass_started_at: opt_ts(
                "github_sync_config.full_pass_started_at",
                row.full_pass_started_at.as_deref(),
            )?,
            full_pass_listed: row.full_pass_listed != 0,
            comments_watermark: opt_ts(
                "github_sync_config.comments_watermark",
                row.comments_watermark.as_deref(),
            )?,
            comments_probe,
            comments_pass_listed: row.comments_pass_listed != 0,
            hook_missing_events,
            requested_run: row
                .requested_run_id
                .as_deref()
                .map(|id| super::rows::uuid("github_sync_config.requested_run_id", id))
                .transpose()?,
            consecutive_failures: row.consecutive_failures,
            lease_token,
        })
    }

    /// Records how a run ended and releases the claim. False when the claim was lost (the
    /// lease expired and another run took the config): nothing is recorded then. The next
    /// run is never later than the earliest waiting push of the project (every writer of
    /// `next_sync_at` keeps the earliest time asked for).
    pub async fn finish_run(&self, claimed: &Claimed, end: &RunEnd) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let next_sync_at = match super::earliest_push_in(&mut tx, claimed.config.project_id).await? {
            Some(push) if push < end.next_sync_at => push,
            _ => end.next_sync_at,
        };
        let (probe_url, probe_etag, keep_probe) = match &end.probe {
            None => (None, None, 1i64),
            Some(None) => (None, None, 0),
            Some(Some(p)) => (Some(p.url.clone()), Some(p.etag.clone()), 0),
        };
        let done = sqlx::query(
            "UPDATE github_sync_config SET last_sync_at = $3, next_sync_at = $4, sync_error = $5, \
             failing_since = CASE WHEN $5 IS NULL THEN NULL ELSE COALESCE(failing_since, $3) END, \
             list_watermark = COALESCE($6, list_watermark), \
             probe_url = CASE WHEN $7 = 1 THEN probe_url ELSE $8 END, \
             probe_etag = CASE WHEN $7 = 1 THEN probe_etag ELSE $9 END, \
             last_full_pass_at = COALESCE($10, last_full_pass_at), consecutive_failures = $11, \
             full_pass_started_at = CASE WHEN $10 IS NULL THEN full_pass_started_at ELSE NULL END, \
             full_pass_listed = CASE WHEN $10 IS NULL THEN full_pass_listed ELSE 0 END, \
             comments_pass_listed = CASE WHEN $10 IS NULL THEN comments_pass_listed ELSE 0 END, \
             requested_run_id = CASE WHEN requested_run_id = $12 THEN NULL ELSE requested_run_id END, \
             lease_token = NULL, lease_until = NULL, updated_at = $3 \
             WHERE id = $1 AND lease_token = $2",
        )
        .bind(claimed.config.id.to_string())
        .bind(&claimed.lease_token)
        .bind(end.last_sync_at.to_sql())
        .bind(next_sync_at.to_sql())
        .bind(&end.sync_error)
        .bind(end.list_watermark.map(Timestamp::to_sql))
        .bind(keep_probe)
        .bind(probe_url)
        .bind(probe_etag)
        .bind(end.last_full_pass_at.map(Timestamp::to_sql))
        .bind(end.consecutive_failures)
        .bind(claimed.requested_run.map(|id| id.to_string()).unwrap_or_default())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Enabled configs whose syncs have failed without a success since `before` or earlier
    /// (the reconcile tick's gauge behind the "config failing for an hour" alarm).
    pub async fn configs_failing_since(&self, before: Timestamp) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT COUNT(*) FROM github_sync_config WHERE sync_enabled = 1 AND failing_since <= $1",
        )
        .bind(before.to_sql())
        .fetch_one(&self.pool)
        .await?)
    }

    /// Closes as failed the runs of a claimed config left `in_progress` by a run that died
    /// (the caller holds the claim, so no live run owns them), except the queued run the
    /// claim carries out. Returns how many.
    pub async fn close_abandoned_runs(&self, claimed: &Claimed, now: Timestamp) -> Result<u64, StoreError> {
        let rows: Vec<(String, String)> = sqlx::query_as(
            "SELECT id, started_at FROM sync_history WHERE sync_config_id = $1 AND status = 'in_progress' \
             AND id <> $2",
        )
        .bind(claimed.config.id.to_string())
        .bind(claimed.requested_run.map(|id| id.to_string()).unwrap_or_default())
        .fetch_all(&self.pool)
        .await?;
        let mut closed = 0;
        for (id, started_at) in rows {
            let started = super::rows::ts("sync_history.started_at", &started_at)?;
            closed += sqlx::query(
                "UPDATE sync_history SET status = 'failure', completed_at = $2, duration_ms = $3, \
                 error_message = 'abandoned: the run stopped before it finished (timeout or crash)' \
                 WHERE id = $1 AND status = 'in_progress'",
            )
            .bind(id)
            .bind(now.to_sql())
            .bind(now.millis_since(started))
            .execute(&self.pool)
            .await?
            .rows_affected();
        }
        Ok(closed)
    }

    /// Deletes the config's history rows older than 30 days that are not among its newest
    /// 1,000 runs. Returns how many.
    pub async fn prune_history(&self, config_id: Uuid, now: Timestamp) -> Result<u64, StoreError> {
        let done = sqlx::query(
            "DELETE FROM sync_history WHERE sync_config_id = $1 AND started_at < $2 AND id NOT IN \
             (SELECT id FROM sync_history WHERE sync_config_id = $1 ORDER BY started_at DESC, id LIMIT $3)",
        )
        .bind(config_id.to_string())
        .bind(now.minus(HISTORY_MAX_AGE).to_sql())
        .bind(HISTORY_KEEP)
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected())
    }

    /// Whether a webhook delivery was applied for `owner/name` since `since`.
    pub async fn webhook_applied_since(&self, full_name: &str, since: Timestamp) -> Result<bool, StoreError> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM webhook_deliveries WHERE lower(repo_full_name) = lower($1) \
             AND received_at >= $2 AND outcome = 'applied'",
        )
        .bind(full_name)
        .bind(since.to_sql())
        .fetch_one(&self.pool)
        .await?;
        Ok(n > 0)
    }

    /// The links a full pass (started at `pass`) has to look up: made before it, still
    /// believed to be on GitHub, and not shown by its listing: (node id, number).
    pub async fn links_unseen_by_pass(
        &self,
        project_id: Uuid,
        pass: Timestamp,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows: Vec<(String, i64, String, Option<String>)> = sqlx::query_as(
            "SELECT github_issue_id, github_issue_number, remote_state, unlinked_at FROM task_github_metadata \
             WHERE project_id = $1 AND created_at <= $2 AND (seen_in_pass_at IS NULL OR seen_in_pass_at <> $2) \
             ORDER BY github_issue_number",
        )
        .bind(project_id.to_string())
        .bind(pass.to_sql())
        .fetch_all(&self.pool)
        .await?;
        let mut unseen = Vec::new();
        // Only a live link's issue is looked up: a dead one's is known gone, or not followed.
        for (node_id, number, state, unlinked_at) in rows {
            if super::rows::stored_link_live(&state, unlinked_at.is_some())? {
                unseen.push((node_id, number));
            }
        }
        Ok(unseen)
    }

    /// Starts a full pass of a claimed config: its listing starts from the beginning.
    pub async fn start_full_pass(&self, claimed: &Claimed, at: Timestamp) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE github_sync_config SET full_pass_started_at = $3, full_pass_listed = 0, \
             list_watermark = NULL, probe_url = NULL, probe_etag = NULL, comments_watermark = NULL, \
             comments_probe_url = NULL, comments_probe_etag = NULL, comments_pass_listed = 0 \
             WHERE id = $1 AND lease_token = $2",
        )
        .bind(claimed.config.id.to_string())
        .bind(&claimed.lease_token)
        .bind(at.to_sql())
        .execute(&self.pool)
        .await?;
        claim_held(done.rows_affected())
    }

    /// Records that the full pass in progress has listed everything, with the listing's
    /// watermark and probe.
    pub async fn full_pass_listed(
        &self,
        claimed: &Claimed,
        watermark: Option<Timestamp>,
        probe: Option<&Probe>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE github_sync_config SET full_pass_listed = 1, \
             list_watermark = COALESCE($3, list_watermark), probe_url = $4, probe_etag = $5 \
             WHERE id = $1 AND lease_token = $2",
        )
        .bind(claimed.config.id.to_string())
        .bind(&claimed.lease_token)
        .bind(watermark.map(Timestamp::to_sql))
        .bind(probe.map(|p| p.url.clone()))
        .bind(probe.map(|p| p.etag.clone()))
        .execute(&self.pool)
        .await?;
        claim_held(done.rows_affected())
    }

    /// Records that a listing of comments reached its end: its probe (`None` forgets the
    /// stored one), and, for a full pass, that every comment was listed. `left` is the
    /// watermark as the listing last left it: found lower, an ambiguous delivery asked for a
    /// re-read meanwhile, and no probe is kept (it would answer 304 over the comment).
    pub async fn comments_listed(
        &self,
        claimed: &Claimed,
        probe: Option<&Probe>,
        pass_listed: bool,
        left: Option<Timestamp>,
    ) -> Result<(), StoreError> {
        let done = sqlx::query(
            "UPDATE github_sync_config SET \
             comments_probe_url = CASE WHEN COALESCE(comments_watermark, '') <> $6 THEN NULL ELSE $3 END, \
             comments_probe_etag = CASE WHEN COALESCE(comments_watermark, '') <> $6 THEN NULL ELSE $4 END, \
             comments_pass_listed = CASE WHEN $5 = 1 THEN 1 ELSE comments_pass_listed END \
             WHERE id = $1 AND lease_token = $2",
        )
        .bind(claimed.config.id.to_string())
        .bind(&claimed.lease_token)
        .bind(probe.map(|p| p.url.clone()))
        .bind(probe.map(|p| p.etag.clone()))
        .bind(i64::from(pass_listed))
        .bind(left.map(Timestamp::to_sql).unwrap_or_default())
        .execute(&self.pool)
        .await?;
        claim_held(done.rows_affected())
    }

    /// Applies a page read from GitHub and records where the run stands, in one transaction:
    /// the page's links are marked as seen by the full pass in progress, the watermark and
    /// the run's counts move with the page. A run that lost its claim writes nothing.
    /// The page's pull requests (`pull_requests`, by number) are remembered: their comments,
    /// which the comment listing carries too, are not the board's.
    pub async fn apply_checkpointed(
        &self,
        project_id: Uuid,
        issues: &[RemoteIssue],
        listed: &[String],
        pull_requests: &[i64],
        checkpoint: &Checkpoint<'_>,
    ) -> Result<Vec<ApplyOutcome>, StoreError> {
        self.apply_read(project_id, issues, Some((listed, pull_requests, checkpoint))).await
    }

    /// Applies a page of snapshots read from GitHub in one transaction (run again when a
    /// concurrent writer won a race): a page is applied whole or not at all.
    pub async fn apply_page(
        &self,
        project_id: Uuid,
        issues: &[RemoteIssue],
    ) -> Result<Vec<ApplyOutcome>, StoreError> {
        self.apply_read(project_id, issues, None).await
    }

    async fn apply_read(
        &self,
        project_id: Uuid,
        issues: &[RemoteIssue],
        checkpoint: Option<(&[String], &[i64], &Checkpoint<'_>)>,
    ) -> Result<Vec<ApplyOutcome>, StoreError> {
        for issue in issues {
            issue.validate()?;
        }
        retry_races(|| async {
            let mut tx = self.begin().await?;
            let outcomes = apply_page_in(&mut tx, self.read_now(project_id), issues).await?;
            if let Some((listed, pull_requests, checkpoint)) = checkpoint {
                for &number in pull_requests {
                    super::note_not_board_in(&mut tx, project_id, number, super::NotBoard::PullRequest)
                        .await?;
                }
                write_checkpoint_in(&mut tx, project_id, issues.len(), listed, checkpoint, &outcomes).await?;
            }
            tx.commit().await?;
            Ok(outcomes)
        })
        .await
    }

    /// Carries out what a deleted or transferred issue does to the project's link, in one
    /// transaction (see [`crate::sync::gone`]).
    pub async fn apply_gone(
        &self,
        project_id: Uuid,
        node_id: &str,
        how: Disappearance,
        new: Option<&RemoteIssue>,
    ) -> Result<GoneOutcome, StoreError> {
        retry_races(|| async {
            let mut tx = self.begin().await?;
            let outcome =
                carry_out_gone_in(&mut tx, self.read_now(project_id), node_id, how, new, None).await?;
            tx.commit().await?;
            Ok(outcome)
        })
        .await
    }

    /// The scope of what the reconciler read from GitHub for a project just now.
    fn read_now(&self, project_id: Uuid) -> Scope {
        Scope { backend: self.backend, project_id, source: Source::Read, now: Timestamp::now() }
    }
}

/// Marks the project's links of `node_ids` as seen by the full pass started at `pass`.
async fn mark_seen_in(
    conn: &mut sqlx::AnyConnection,
    project_id: Uuid,
    node_ids: &[String],
    pass: Timestamp,
) -> Result<(), StoreError> {
    for chunk in node_ids.chunks(100) {
        let sql = format!(
            "UPDATE task_github_metadata SET seen_in_pass_at = $2 WHERE project_id = $1 \
             AND github_issue_id IN ({})",
            super::rows::placeholders(3, chunk.len())
        );
        let mut query =
            sqlx::query(sqlx::AssertSqlSafe(sql)).bind(project_id.to_string()).bind(pass.to_sql());
        for node_id in chunk {
            query = query.bind(node_id.as_str());
        }
        query.execute(&mut *conn).await?;
    }
    Ok(())
}

/// Where a run stands after a page, in the page's transaction (see [`Checkpoint`]).
async fn write_checkpoint_in(
    conn: &mut sqlx::AnyConnection,
    project_id: Uuid,
    fetched: usize,
    listed: &[String],
    checkpoint: &Checkpoint<'_>,
    outcomes: &[ApplyOutcome],
) -> Result<(), StoreError> {
    if let Some(pass) = checkpoint.pass {
        mark_seen_in(conn, project_id, listed, pass).await?;
    }
    let moved = sqlx::query(
        "UPDATE github_sync_config SET list_watermark = COALESCE($3, list_watermark) \
         WHERE id = $1 AND lease_token = $2",
    )
    .bind(checkpoint.claimed.config.id.to_string())
    .bind(&checkpoint.claimed.lease_token)
    .bind(checkpoint.watermark.map(Timestamp::to_sql))
    .execute(&mut *conn)
    .await?;
    claim_held(moved.rows_affected())?;
    let mut counts = SyncCounts::default();
    count(&mut counts, outcomes);
    sqlx::query(
        "UPDATE sync_history SET issues_fetched = issues_fetched + $2, \
         tasks_created = tasks_created + $3, tasks_updated = tasks_updated + $4, \
         conflicts_detected = conflicts_detected + $5, pages_fetched = pages_fetched + $6 \
         WHERE id = $1 AND status = 'in_progress'",
    )
    .bind(checkpoint.run_id.to_string())
    .bind(if checkpoint.list_page { fetched as i64 } else { 0 })
    .bind(counts.tasks_created)
    .bind(counts.tasks_updated)
    .bind(counts.conflicts_detected)
    .bind(i64::from(checkpoint.list_page))
    .execute(conn)
    .await?;
    Ok(())
}
