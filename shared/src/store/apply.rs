//! Applying what GitHub says: an issue snapshot (one, or a page at once) carried out as the
//! sync rules planned it, in one transaction; a disappearance (deleted, transferred) carried
//! out on its link; and adopting an issue ghsync opened for a task being published.

use std::collections::{HashMap, HashSet};

use sqlx::AnyConnection;
use tracing::instrument;
use uuid::Uuid;

use super::rows::{content, parse, ts};
use super::rows::{multi_row_insert, placeholders};
use super::{Backend, Store, StoreError, new_id};
use crate::domain::{
    ConflictStatus, Content, IssueExtras, IssueState, LocalSnapshot, RemoteIssue, RemoteSnapshot,
    RemoteState, TaskStatus,
};
use crate::sync::fields::Sets;
use crate::sync::{
    self, ApplyOutcome, ConflictWrite, LinkWrite, Linked, NoLink, Plan, Remote, Side, Source, plan,
};
use crate::time::Timestamp;

impl Store {
    /// Applies one remote issue snapshot to a project (docs/sync-rules.md), in one
    /// transaction; run again when a concurrent writer won a race.
    #[instrument(skip(self, issue), fields(issue = issue.number))]
    pub async fn apply_issue(
        &self,
        project_id: Uuid,
        issue: &RemoteIssue,
    ) -> Result<ApplyOutcome, StoreError> {
        let mut outcomes = self.apply_page(project_id, std::slice::from_ref(issue)).await?;
        Ok(outcomes.pop().expect("one outcome per issue"))
    }
}

/// The link and task as one locked read.
#[derive(sqlx::FromRow)]
pub(super) struct LinkRow {
    pub(super) node_id: String,
    pub(super) metadata_id: String,
    pub(super) task_id: String,
    pub(super) remote_updated_at: String,
    pub(super) last_synced_content: String,
    pub(super) sync_conflict_status: Option<String>,
    pub(super) synced_state: String,
    pub(super) remote_state: String,
    pub(super) unlinked_at: Option<String>,
    /// The open conflict's remote snapshot, if one is open.
    pub(super) conflict_remote: Option<String>,
    /// A write of ours whose answer is not recorded (`sync_outbox.in_flight`).
    pub(super) in_flight: Option<String>,
    /// The config's `two_way` (NULL without a config).
    pub(super) two_way: Option<i64>,
    pub(super) title: String,
    pub(super) description: Option<String>,
    pub(super) status: String,
    /// GitHub's sets and milestone as last synced (the sets' base).
    pub(super) base_labels: String,
    pub(super) base_assignees: String,
    pub(super) base_milestone: Option<String>,
    /// The task's own sets.
    pub(super) task_labels: String,
    pub(super) task_assignees: String,
    pub(super) milestone_number: Option<i64>,
    pub(super) milestone_title: Option<String>,
    /// 0 for a link stored before milestones were synced (its base says nothing of them).
    pub(super) milestone_known: i64,
}

impl LinkRow {
    /// The task's own content.
    pub(super) fn local(&self) -> Content {
        Content {
            title: self.title.clone(),
            description: self.description.clone(),
            milestone: super::rows::milestone(self.milestone_number, self.milestone_title.clone()),
        }
    }

    /// (GitHub's extras as last synced, the task's own sets).
    fn extras(&self) -> Result<(IssueExtras, Sets), StoreError> {
        let base = super::rows::extras(
            Some(&self.base_labels),
            Some(&self.base_assignees),
            self.base_milestone.clone(),
        )?;
        let local = super::rows::sets(&self.task_labels, &self.task_assignees)
            .map_err(|_| StoreError::corrupt("tasks.labels", "not JSON labels and logins"))?;
        Ok((base, local))
    }
}

/// The links (with their tasks) of the issues among `node_ids` that the project has, by
/// node id, locked for the caller's transaction; one statement for a whole page.
async fn find_links(
    conn: &mut AnyConnection,
    backend: Backend,
    project_id: &str,
    node_ids: &[&str],
) -> Result<HashMap<String, LinkRow>, StoreError> {
    if node_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut sql = format!(
        "SELECT m.github_issue_id AS node_id, m.id AS metadata_id, m.task_id, m.remote_updated_at, \
         m.last_synced_content, m.sync_conflict_status, m.synced_state, m.remote_state, m.unlinked_at, \
         (SELECT c.remote_content_snapshot FROM conflict_resolution c \
          WHERE c.task_id = m.task_id AND c.resolved_at IS NULL) AS conflict_remote, \
         (SELECT o.in_flight FROM sync_outbox o WHERE o.task_id = m.task_id) AS in_flight, \
         (SELECT g.two_way FROM github_sync_config g WHERE g.project_id = m.project_id) AS two_way, \
         t.title, t.description, t.status, m.labels AS base_labels, m.assignees AS base_assignees, \
         m.milestone AS base_milestone, t.labels AS task_labels, t.assignees AS task_assignees, \
         t.milestone_number, t.milestone_title, m.milestone_known \
         FROM task_github_metadata m JOIN tasks t ON t.id = m.task_id WHERE m.project_id = $1 AND m.github_issue_id IN ({})",
        placeholders(2, node_ids.len())
    );
    sql.push_str(backend.row_lock());
    let mut query = sqlx::query_as::<_, LinkRow>(sqlx::AssertSqlSafe(sql)).bind(project_id);
    for node_id in node_ids {
        query = query.bind(*node_id);
    }
    let rows = query.fetch_all(conn).await?;
    Ok(rows.into_iter().map(|row| (row.node_id.clone(), row)).collect())
}

/// The link of one issue, locked: [`find_links`] for one.
pub(super) async fn find_link(
    conn: &mut AnyConnection,
    backend: Backend,
    project_id: &str,
    node_id: &str,
) -> Result<Option<LinkRow>, StoreError> {
    Ok(find_links(conn, backend, project_id, &[node_id]).await?.remove(node_id))
}

/// Which of `node_ids` are old identities of relinked issues.
async fn find_retired(
    conn: &mut AnyConnection,
    project_id: &str,
    node_ids: &[&str],
) -> Result<HashSet<String>, StoreError> {
    if node_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let sql = format!(
        "SELECT github_issue_id FROM retired_issue_ids WHERE project_id = $1 AND github_issue_id IN ({})",
        placeholders(2, node_ids.len())
    );
    let mut query = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql)).bind(project_id);
    for node_id in node_ids {
        query = query.bind(*node_id);
    }
    Ok(query.fetch_all(conn).await?.into_iter().collect())
}

/// Creates the tasks and links of issues the project does not have yet, in multi-row
/// inserts (a page of new issues is two statements).
async fn insert_new(
    conn: &mut AnyConnection,
    project_id: &str,
    issues: &[(&RemoteIssue, TaskStatus)],
    now: &str,
) -> Result<(), StoreError> {
    // Well under SQLite's and PostgreSQL's limits on bound values per statement.
    const ROWS_PER_STATEMENT: usize = 100;
    for chunk in issues.chunks(ROWS_PER_STATEMENT) {
        let task_ids: Vec<String> = chunk.iter().map(|_| new_id()).collect();
        let sql = multi_row_insert(
            "INSERT INTO tasks (id, project_id, title, description, status, github_issue_url, \
             created_at, updated_at, labels, assignees, milestone_number, milestone_title) VALUES ",
            chunk.len(),
            12,
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for ((issue, status), task_id) in chunk.iter().zip(&task_ids) {
            query = query
                .bind(task_id.as_str())
                .bind(project_id)
                .bind(issue.content.title.as_str())
                .bind(issue.content.description.as_deref())
                .bind(status.as_str())
                .bind(issue.html_url.as_str())
                .bind(now)
                .bind(now)
                .bind(issue.extras.labels_json())
                .bind(issue.extras.assignees_json())
                .bind(issue.content.milestone.as_ref().map(|m| m.number))
                .bind(issue.content.milestone.as_ref().map(|m| m.title.as_str()));
        }
        query.execute(&mut *conn).await?;

        let sql = multi_row_insert(
            "INSERT INTO task_github_metadata (id, task_id, project_id, github_issue_id, \
             github_issue_number, github_issue_url, last_synced_at, remote_updated_at, \
             last_synced_content, synced_state, remote_state, created_at, updated_at, labels, \
             assignees, milestone) VALUES ",
            chunk.len(),
            16,
        );
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
        for ((issue, _), task_id) in chunk.iter().zip(&task_ids) {
            query = query
                .bind(new_id())
                .bind(task_id.as_str())
                .bind(project_id)
                .bind(issue.node_id.as_str())
                .bind(issue.number)
                .bind(issue.html_url.as_str())
                .bind(now)
                .bind(issue.updated_at.to_sql())
                .bind(issue.content.to_json())
                .bind(issue.state.as_str())
                .bind(issue.state.as_str())
                .bind(now)
                .bind(now)
                .bind(issue.extras.labels_json())
                .bind(issue.extras.assignees_json())
                .bind(issue.extras.milestone.as_deref());
        }
        query.execute(&mut *conn).await?;
        let facets: Vec<(&str, &IssueExtras)> =
            chunk.iter().zip(&task_ids).map(|((issue, _), id)| (id.as_str(), &issue.extras)).collect();
        super::facets::insert_in(conn, project_id, &facets).await?;
    }
    Ok(())
}

/// Where, when and from what a change is applied: one project, in one transaction.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Scope {
    pub backend: Backend,
    pub project_id: Uuid,
    pub source: Source,
    pub now: Timestamp,
}

fn remote_of(issue: &RemoteIssue, scope: Scope) -> Remote<'_> {
    Remote {
        content: &issue.content,
        state: issue.state,
        updated_at: issue.updated_at,
        source: scope.source,
        seen_at: scope.now,
    }
}

/// Applies a page of validated snapshots inside the caller's transaction: one locked read
/// of the page's links, the linked issues one by one through the sync rules, the new ones
/// in multi-row inserts. Outcomes are in the order of `issues`.
pub(crate) async fn apply_page_in(
    conn: &mut AnyConnection,
    scope: Scope,
    issues: &[RemoteIssue],
) -> Result<Vec<ApplyOutcome>, StoreError> {
    let distinct = issues.iter().map(|i| i.node_id.as_str()).collect::<HashSet<_>>().len();
    if distinct == issues.len() {
        return apply_distinct_in(conn, scope, issues).await;
    }
    // One issue twice in a page (it moved while the pages were fetched): in order, one by
    // one, so the second snapshot meets what the first one wrote.
    let mut outcomes = Vec::with_capacity(issues.len());
    for issue in issues {
        outcomes.extend(apply_distinct_in(conn, scope, std::slice::from_ref(issue)).await?);
    }
    Ok(outcomes)
}

/// [`apply_page_in`] for a page in which no issue appears twice.
async fn apply_distinct_in(
    conn: &mut AnyConnection,
    scope: Scope,
    issues: &[RemoteIssue],
) -> Result<Vec<ApplyOutcome>, StoreError> {
    let Scope { backend, project_id, .. } = scope;
    let node_ids: Vec<&str> = issues.iter().map(|i| i.node_id.as_str()).collect();
    let project = project_id.to_string();
    let mut links = find_links(conn, backend, &project, &node_ids).await?;
    let unknown: Vec<&str> = node_ids.iter().copied().filter(|id| !links.contains_key(*id)).collect();
    let retired = find_retired(conn, &project, &unknown).await?;
    let marked: Vec<Uuid> =
        issues.iter().filter(|i| !links.contains_key(&i.node_id)).filter_map(|i| i.marker).collect();
    let mut publishing = find_publishing(conn, &project, &marked).await?;
    let mut outcomes = Vec::with_capacity(issues.len());
    let mut new = Vec::new();
    for issue in issues {
        let outcome = match links.remove(&issue.node_id) {
            Some(link) => apply_linked(conn, link, issue, scope).await?,
            None => {
                let posted = issue.marker.and_then(|task| publishing.remove(&task).map(|p| (task, p)));
                let no_link = if retired.contains(&issue.node_id) {
                    NoLink::Retired
                } else if posted.is_some() {
                    NoLink::Publishing
                } else {
                    NoLink::New
                };
                match (plan(Err(no_link), &remote_of(issue, scope)), posted) {
                    (Plan::Create { status }, _) => {
                        new.push((issue, status));
                        ApplyOutcome::Created
                    }
                    (Plan::Adopt, Some((task, posted))) => {
                        adopt_in(conn, scope, task, posted.as_ref(), issue).await?;
                        ApplyOutcome::Adopted
                    }
                    (decision, _) => decision.outcome(),
                }
            }
        };
        outcomes.push(outcome);
    }
    insert_new(conn, &project, &new, &scope.now.to_sql()).await?;
    Ok(outcomes)
}

/// The tasks among `markers` that this project is publishing (unlinked, with a publication
/// entry), with what was posted for each: the issues carrying their markers are theirs
/// ([`crate::sync::publish::may_adopt`]).
async fn find_publishing(
    conn: &mut AnyConnection,
    project_id: &str,
    markers: &[Uuid],
) -> Result<HashMap<Uuid, Option<crate::sync::Fields>>, StoreError> {
    if markers.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT t.id, t.project_id, o.in_flight, o.kind, \
         (SELECT COUNT(*) FROM task_github_metadata m WHERE m.task_id = t.id) AS linked \
         FROM tasks t LEFT JOIN sync_outbox o ON o.task_id = t.id WHERE t.id IN ({})",
        placeholders(1, markers.len())
    );
    let mut query =
        sqlx::query_as::<_, (String, String, Option<String>, Option<String>, i64)>(sqlx::AssertSqlSafe(sql));
    for marker in markers {
        query = query.bind(marker.to_string());
    }
    let mut found = HashMap::new();
    for (id, project, posted, kind, linked) in query.fetch_all(conn).await? {
        let publishing = kind.as_deref() == Some("publish");
        if crate::sync::publish::may_adopt(project == project_id, linked > 0, publishing) {
            found.insert(super::rows::uuid("tasks.id", &id)?, super::rows::in_flight(posted.as_deref())?);
        }
    }
    Ok(found)
}

/// Links the task being published to the issue its marker names: the base is what was posted
/// (GitHub's copy at creation), then the snapshot goes through the sync rules like any other,
/// so an edit made on GitHub before the link is kept, and one made on the board meanwhile is
/// pushed (or meets GitHub's in a conflict). The publication entry becomes an ordinary push
/// entry (its claim, if a publisher holds one, stays theirs).
async fn adopt_in(
    conn: &mut AnyConnection,
    scope: Scope,
    task_id: Uuid,
    posted: Option<&crate::sync::Fields>,
    issue: &RemoteIssue,
) -> Result<(), StoreError> {
    let base = match posted {
        Some(posted) => posted.over(&issue.content, IssueState::Open).0,
        None => issue.content.clone(),
    };
    insert_link_in(
        conn,
        scope,
        task_id,
        issue,
        &base,
        IssueState::Open,
        Some(issue.updated_at.minus(chrono::Duration::seconds(1))),
    )
    .await?;
    sqlx::query(
        "UPDATE sync_outbox SET kind = 'push', in_flight = NULL, next_attempt_at = $2 WHERE task_id = $1",
    )
    .bind(task_id.to_string())
    .bind(scope.now.to_sql())
    .execute(&mut *conn)
    .await?;
    let project = scope.project_id.to_string();
    let link = find_link(conn, scope.backend, &project, &issue.node_id)
        .await?
        .ok_or(StoreError::NotFound("the link just made"))?;
    apply_linked(conn, link, issue, scope).await?;
    Ok(())
}

/// Creates the link of `task_id` to `issue` with `base` / `state` as the last sync, applied up
/// to `applied_at` (the issue's own time when `None`).
pub(super) async fn insert_link_in(
    conn: &mut AnyConnection,
    scope: Scope,
    task_id: Uuid,
    issue: &RemoteIssue,
    base: &Content,
    state: IssueState,
    applied_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    let now = scope.now.to_sql();
    sqlx::query(
        "INSERT INTO task_github_metadata (id, task_id, project_id, github_issue_id, \
         github_issue_number, github_issue_url, last_synced_at, remote_updated_at, \
         last_synced_content, synced_state, remote_state, created_at, updated_at, labels, \
         assignees, milestone) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10, $7, $7, $11, $12, $13)",
    )
    .bind(new_id())
    .bind(task_id.to_string())
    .bind(scope.project_id.to_string())
    .bind(&issue.node_id)
    .bind(issue.number)
    .bind(&issue.html_url)
    .bind(&now)
    .bind(applied_at.unwrap_or(issue.updated_at).to_sql())
    .bind(base.to_json())
    .bind(state.as_str())
    .bind(issue.extras.labels_json())
    .bind(issue.extras.assignees_json())
    .bind(issue.extras.milestone.as_deref())
    .execute(&mut *conn)
    .await?;
    let task = task_id.to_string();
    super::facets::replace_in(conn, &scope.project_id.to_string(), &[(&task, &issue.extras)]).await?;
    // A new link starts from the issue's sets: the base and the task's own agree.
    // The task's milestone is the base's: the one posted, or GitHub's when it had one already.
    sqlx::query(
        "UPDATE tasks SET github_issue_url = $2, updated_at = $3, labels = $4, assignees = $5, \
         milestone_number = $6, milestone_title = $7 WHERE id = $1",
    )
    .bind(task_id.to_string())
    .bind(&issue.html_url)
    .bind(&now)
    .bind(issue.extras.labels_json())
    .bind(issue.extras.assignees_json())
    .bind(base.milestone.as_ref().map(|m| m.number))
    .bind(base.milestone.as_ref().map(|m| m.title.as_str()))
    .execute(conn)
    .await?;
    Ok(())
}

/// Applies one validated snapshot inside the caller's transaction.
pub(crate) async fn apply_issue_in(
    conn: &mut AnyConnection,
    scope: Scope,
    issue: &RemoteIssue,
) -> Result<ApplyOutcome, StoreError> {
    let mut outcomes = apply_distinct_in(conn, scope, std::slice::from_ref(issue)).await?;
    Ok(outcomes.pop().expect("one outcome per issue"))
}

/// Applies a snapshot of an issue the project has: the sync rules decide, this carries
/// the decision out.
async fn apply_linked(
    conn: &mut AnyConnection,
    link: LinkRow,
    issue: &RemoteIssue,
    scope: Scope,
) -> Result<ApplyOutcome, StoreError> {
    let now_sql = scope.now.to_sql();
    let mut base = content("task_github_metadata.last_synced_content", &link.last_synced_content)?;
    let (synced_extras, local_sets) = link.extras()?;
    let mut local = link.local();
    let current = issue.updated_at >= ts("task_github_metadata.remote_updated_at", &link.remote_updated_at)?;
    if link.milestone_known == 0 && current {
        let adopting = super::fields::Adopting {
            metadata_id: &link.metadata_id,
            task_id: &link.task_id,
            task_has_number: link.milestone_number.is_some(),
        };
        super::fields::adopt_milestone_in(conn, adopting, issue, (&mut base, &mut local)).await?;
    }
    let local_status: TaskStatus = parse("tasks.status", &link.status)?;
    let conflict_pending = link.sync_conflict_status.as_deref() == Some(ConflictStatus::Pending.as_str());
    let conflict_remote = match (&link.conflict_remote, conflict_pending) {
        (Some(json), true) => Some(
            RemoteSnapshot::from_json("conflict_resolution.remote_content_snapshot", json)
                .map_err(|e| StoreError::corrupt("conflict_resolution.remote_content_snapshot", e))?
                .content,
        ),
        _ => None,
    };
    let in_flight = super::rows::in_flight(link.in_flight.as_deref())?;
    let linked = Linked {
        base: &base,
        base_state: parse("task_github_metadata.synced_state", &link.synced_state)?,
        applied_updated_at: ts("task_github_metadata.remote_updated_at", &link.remote_updated_at)?,
        last_remote: conflict_remote.as_ref().unwrap_or(&base),
        remote_state: parse("task_github_metadata.remote_state", &link.remote_state)?,
        link_ended: link.unlinked_at.is_some(),
        local: &local,
        local_status,
        conflict_pending,
        two_way: link.two_way == Some(1),
        in_flight: in_flight.as_ref(),
        extras_differ: sync::fields::extras_differ(&synced_extras, &issue.extras),
    };
    let effect = match plan(Ok(&linked), &remote_of(issue, scope)) {
        Plan::Apply(effect) => effect,
        Plan::Skip(outcome) => return Ok(outcome),
        Plan::Create { .. } | Plan::Adopt => unreachable!("a linked issue is never created or adopted"),
    };
    let side = |side: Side| match side {
        Side::Local => &local,
        Side::Remote => &issue.content,
    };
    let remote_snapshot = RemoteSnapshot::new(issue.content.clone(), issue.state).to_json();

    match effect.conflict {
        Some(ConflictWrite::Open) => {
            sqlx::query(
                "INSERT INTO conflict_resolution (id, task_id, metadata_id, detected_at, \
                 local_content_snapshot, remote_content_snapshot) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(new_id())
            .bind(&link.task_id)
            .bind(&link.metadata_id)
            .bind(&now_sql)
            .bind(LocalSnapshot::new(local.clone(), local_status).to_json())
            .bind(&remote_snapshot)
            .execute(&mut *conn)
            .await?;
        }
        Some(ConflictWrite::Refresh) => {
            sqlx::query(
                "UPDATE conflict_resolution SET remote_content_snapshot = $2 \
                 WHERE task_id = $1 AND resolved_at IS NULL",
            )
            .bind(&link.task_id)
            .bind(&remote_snapshot)
            .execute(&mut *conn)
            .await?;
        }
        None => {}
    }
    if effect.conflict.is_some() {
        // A conflict holds both sides: a waiting edit no pusher holds is done with (the
        // resolution pushes what it decides); one a pusher holds is settled by its finish.
        sqlx::query("DELETE FROM sync_outbox WHERE task_id = $1 AND kind = 'push' AND claim_token IS NULL")
            .bind(&link.task_id)
            .execute(&mut *conn)
            .await?;
    }
    if effect.landed {
        // The write in flight is on GitHub: its answer, when it comes, is nothing new.
        sqlx::query("UPDATE sync_outbox SET in_flight = NULL WHERE task_id = $1")
            .bind(&link.task_id)
            .execute(&mut *conn)
            .await?;
    }

    if let Some(write) = effect.task {
        let task_content = side(write.content);
        sqlx::query(
            "UPDATE tasks SET title = $2, description = $3, status = $4, github_issue_url = $5, \
             updated_at = $6, milestone_number = $7, milestone_title = $8 WHERE id = $1",
        )
        .bind(&link.task_id)
        .bind(&task_content.title)
        .bind(&task_content.description)
        .bind(write.status.as_str())
        .bind(&issue.html_url)
        .bind(&now_sql)
        .bind(task_content.milestone.as_ref().map(|m| m.number))
        .bind(task_content.milestone.as_ref().map(|m| m.title.as_str()))
        .execute(&mut *conn)
        .await?;
    }

    match effect.link {
        LinkWrite::Untouched => {}
        LinkWrite::HoldForConflict => {
            // The base stays: it is what the resolution compares against.
            sqlx::query(
                "UPDATE task_github_metadata SET sync_conflict_status = 'pending', \
                 remote_updated_at = $2, remote_state = $3, github_issue_number = $4, \
                 github_issue_url = $5, unlinked_at = NULL, updated_at = $6, labels = $7, \
                 assignees = $8, milestone = $9 WHERE id = $1",
            )
            .bind(&link.metadata_id)
            .bind(issue.updated_at.to_sql())
            .bind(RemoteState::from(issue.state).as_str())
            .bind(issue.number)
            .bind(&issue.html_url)
            .bind(&now_sql)
            .bind(issue.extras.labels_json())
            .bind(issue.extras.assignees_json())
            .bind(issue.extras.milestone.as_deref())
            .execute(&mut *conn)
            .await?;
        }
        LinkWrite::Advance { base: new_base } => {
            let new_base = match new_base {
                Side::Local => &base,
                Side::Remote => &issue.content,
            };
            sqlx::query(
                "UPDATE task_github_metadata SET github_issue_number = $2, github_issue_url = $3, \
                 last_synced_at = $4, remote_updated_at = $5, last_synced_content = $6, \
                 synced_state = $7, remote_state = $7, unlinked_at = NULL, updated_at = $4, labels = $8, \
                 assignees = $9, milestone = $10 WHERE id = $1",
            )
            .bind(&link.metadata_id)
            .bind(issue.number)
            .bind(&issue.html_url)
            .bind(&now_sql)
            .bind(issue.updated_at.to_sql())
            .bind(new_base.to_json())
            .bind(issue.state.as_str())
            .bind(issue.extras.labels_json())
            .bind(issue.extras.assignees_json())
            .bind(issue.extras.milestone.as_deref())
            .execute(&mut *conn)
            .await?;
        }
    }
    let written = effect.link != LinkWrite::Untouched;
    // The task's milestone now: GitHub's when the task took the snapshot's content, else its own.
    let milestone = match effect.task {
        Some(w) if w.content == Side::Remote => issue.content.milestone.as_ref(),
        _ => local.milestone.as_ref(),
    };
    let two_way = link.two_way == Some(1);
    let sets = super::fields::SnapshotSets { synced: &synced_extras, local: &local_sets, two_way, milestone };
    let at = (scope.project_id, scope.now);
    super::fields::merge_snapshot_sets_in(conn, at, &link.task_id, sets, issue, written).await?;
    Ok(effect.outcome)
}

/// The node id of the issue `task_id` is linked to, if any.
pub(super) async fn find_link_of(
    conn: &mut AnyConnection,
    task_id: Uuid,
) -> Result<Option<String>, StoreError> {
    Ok(sqlx::query_scalar("SELECT github_issue_id FROM task_github_metadata WHERE task_id = $1")
        .bind(task_id.to_string())
        .fetch_optional(conn)
        .await?)
}
