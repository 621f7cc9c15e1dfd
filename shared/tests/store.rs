//! Store behaviour, every body run on SQLite and on PostgreSQL.

use ghsync_shared::domain::{
    ConflictStatus, Content, LocalSnapshot, Merged, RemoteSnapshot, RemoteState, Resolution,
    ResolutionAction, SyncCounts, SyncStatus, TaskOrder, TaskPatch, TaskStatus,
};
use ghsync_shared::store::Table;
use ghsync_shared::time::Timestamp;
use ghsync_shared::{ApplyOutcome, Store, StoreError};
use testkit::{both_backends, issue, row_counts};
use uuid::Uuid;

both_backends!(
    applying_the_same_snapshot_twice_changes_nothing,
    a_new_issue_becomes_a_task_with_its_status,
    a_stale_snapshot_is_ignored,
    a_remote_edit_fast_forwards_an_untouched_task,
    a_local_edit_survives_a_remote_change_of_state_only,
    both_sides_changed_records_one_pending_conflict_and_leaves_the_task,
    converged_edits_only_move_the_base,
    a_later_remote_change_refreshes_the_open_conflict,
    each_resolution_sets_content_and_base,
    resolving_twice_is_a_state_conflict,
    resolution_imports_the_state_change_the_conflict_held_back,
    a_local_status_stays_while_the_issue_stays_open,
    invalid_snapshots_are_refused_and_write_nothing,
    invalid_local_edits_are_refused_and_write_nothing,
    sync_history_rules_are_enforced,
    history_summary_counts_finished_runs,
    deleting_a_project_cascades_to_everything_of_it,
    the_same_issue_feeds_two_projects_independently,
    stored_timestamps_compare_in_sql_as_instants,
    unknown_ids_are_not_found,
    a_page_mixing_new_and_known_issues_answers_in_order,
    one_issue_twice_in_a_page_applies_in_order,
    a_new_accepted_pat_clears_the_last_sync_error,
    the_task_link_shows_the_seeds_metadata,
);

async fn project(store: &Store) -> Uuid {
    store.create_project("Widgets").await.unwrap().id
}

async fn only_task(store: &Store, project: Uuid) -> ghsync_shared::domain::TaskWithLink {
    let mut tasks = store.list_tasks(project).await.unwrap();
    assert_eq!(tasks.len(), 1, "one task per issue");
    tasks.remove(0)
}

fn content(title: &str, body: &str) -> Content {
    Content::new(title, Some(body.to_string())).unwrap()
}

async fn applying_the_same_snapshot_twice_changes_nothing(store: Store) {
    let p = project(&store).await;
    let i = issue(1, "Fix login", Some("It breaks"), "open", "2026-01-05T10:00:00Z");
    assert_eq!(store.apply_issue(p, &i).await.unwrap(), ApplyOutcome::Created);
    let task = only_task(&store, p).await;
    let meta = store.get_metadata(task.task.id).await.unwrap().unwrap();

    assert_eq!(store.apply_issue(p, &i).await.unwrap(), ApplyOutcome::Unchanged);

    assert_eq!(only_task(&store, p).await, task);
    assert_eq!(store.get_metadata(task.task.id).await.unwrap().unwrap(), meta);
    assert_eq!(store.count_rows(Table::Metadata).await.unwrap(), 1);
}

async fn a_page_mixing_new_and_known_issues_answers_in_order(store: Store) {
    let p = project(&store).await;
    let t0 = "2026-01-05T10:00:00Z";
    store.apply_issue(p, &issue(2, "Two", None, "open", t0)).await.unwrap();
    store.apply_issue(p, &issue(4, "Four", None, "open", t0)).await.unwrap();
    let page: Vec<_> = [(1, "One"), (2, "Two, edited"), (3, "Three"), (4, "Four")]
        .iter()
        .map(|(n, title)| {
            let t = if *n == 2 { "2026-01-05T11:00:00Z" } else { t0 };
            issue(*n, title, None, "open", t)
        })
        .collect();
    let outcomes = store.apply_page(p, &page).await.unwrap();
    assert_eq!(
        outcomes,
        [ApplyOutcome::Created, ApplyOutcome::Updated, ApplyOutcome::Created, ApplyOutcome::Unchanged]
    );
    let mut titles: Vec<String> =
        store.list_tasks(p).await.unwrap().into_iter().map(|t| t.task.title).collect();
    titles.sort();
    assert_eq!(titles, ["Four", "One", "Three", "Two, edited"]);
    assert_eq!(store.count_rows(Table::Metadata).await.unwrap(), 4);
}

async fn one_issue_twice_in_a_page_applies_in_order(store: Store) {
    let p = project(&store).await;
    let page = [
        issue(1, "First", None, "open", "2026-01-05T10:00:00Z"),
        issue(1, "Second", None, "open", "2026-01-05T11:00:00Z"),
    ];
    let outcomes = store.apply_page(p, &page).await.unwrap();
    assert_eq!(outcomes, [ApplyOutcome::Created, ApplyOutcome::Updated]);
    assert_eq!(only_task(&store, p).await.task.title, "Second");
}

async fn a_new_issue_becomes_a_task_with_its_status(store: Store) {
    let p = project(&store).await;
    for (n, state, status) in [
        (1, "open", TaskStatus::Todo),
        (2, "completed", TaskStatus::Done),
        (3, "not_planned", TaskStatus::Cancelled),
    ] {
        let i = issue(n, &format!("Issue {n}"), None, state, "2026-01-05T10:00:00Z");
        assert_eq!(store.apply_issue(p, &i).await.unwrap(), ApplyOutcome::Created);
        let task = store.list_tasks(p).await.unwrap().pop().unwrap();
        assert_eq!(task.task.status, status);
        assert_eq!(task.task.github_issue_url.as_deref(), Some(i.html_url.as_str()));
        let link = task.github.unwrap();
        assert_eq!(link.issue_number, n);
        assert_eq!(link.sync_conflict_status, None);
        let meta = store.get_metadata(task.task.id).await.unwrap().unwrap();
        assert_eq!(Content::from_json("base", &meta.last_synced_content).unwrap(), i.content);
        assert_eq!(meta.remote_updated_at, i.updated_at);
        assert_eq!(meta.github_issue_id, i.node_id);
    }
}

async fn a_stale_snapshot_is_ignored(store: Store) {
    let p = project(&store).await;
    store.apply_issue(p, &issue(1, "New title", None, "completed", "2026-01-05T10:00:05Z")).await.unwrap();
    let before = row_counts(&store).await;
    let task = only_task(&store, p).await;

    let older = issue(1, "Old title", None, "open", "2026-01-05T10:00:04Z");
    assert_eq!(store.apply_issue(p, &older).await.unwrap(), ApplyOutcome::Stale);

    assert_eq!(only_task(&store, p).await, task);
    assert_eq!(row_counts(&store).await, before);
}

async fn a_remote_edit_fast_forwards_an_untouched_task(store: Store) {
    let p = project(&store).await;
    store.apply_issue(p, &issue(1, "A", Some("a"), "open", "2026-01-05T10:00:00Z")).await.unwrap();
    let edited = issue(1, "B", Some("b"), "completed", "2026-01-05T11:00:00Z");
    assert_eq!(store.apply_issue(p, &edited).await.unwrap(), ApplyOutcome::Updated);
    let task = only_task(&store, p).await;
    assert_eq!(task.task.content(), edited.content);
    assert_eq!(task.task.status, TaskStatus::Done);
    let meta = store.get_metadata(task.task.id).await.unwrap().unwrap();
    assert_eq!(Content::from_json("base", &meta.last_synced_content).unwrap(), edited.content);
    assert_eq!(meta.remote_state, RemoteState::Completed);
}

async fn a_local_edit_survives_a_remote_change_of_state_only(store: Store) {
    let p = project(&store).await;
    store.apply_issue(p, &issue(1, "A", Some("a"), "open", "2026-01-05T10:00:00Z")).await.unwrap();
    let id = only_task(&store, p).await.task.id;
    let patch = TaskPatch { title: Some("A, locally".into()), ..Default::default() };
    store.update_task(id, &patch).await.unwrap();

    let closed = issue(1, "A", Some("a"), "completed", "2026-01-05T11:00:00Z");
    assert_eq!(store.apply_issue(p, &closed).await.unwrap(), ApplyOutcome::Updated);

    let task = store.get_task(id).await.unwrap();
    assert_eq!(task.title, "A, locally", "rule 3: the local edit stays");
    assert_eq!(task.status, TaskStatus::Done, "the state change is imported");
    assert_eq!(store.count_rows(Table::Conflicts).await.unwrap(), 0);
}

async fn both_sides_changed_records_one_pending_conflict_and_leaves_the_task(store: Store) {
    let p = project(&store).await;
    store.apply_issue(p, &issue(1, "A", Some("a"), "open", "2026-01-05T10:00:00Z")).await.unwrap();
    let id = only_task(&store, p).await.task.id;
    let local = store
        .update_task(
            id,
            &TaskPatch {
                description: ghsync_shared::domain::Nullable::Set("local".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap();

    let remote = issue(1, "A", Some("remote"), "completed", "2026-01-05T11:00:00Z");
    assert_eq!(store.apply_issue(p, &remote).await.unwrap(), ApplyOutcome::Conflict);

    assert_eq!(store.get_task(id).await.unwrap(), local, "the task is not touched");
    let conflicts = store.list_conflicts(p, Some(ConflictStatus::Pending)).await.unwrap();
    assert_eq!(conflicts.len(), 1);
    assert_eq!(conflicts[0].local_content_snapshot, LocalSnapshot::new(local.content(), local.status));
    assert_eq!(
        conflicts[0].remote_content_snapshot,
        RemoteSnapshot::new(remote.content.clone(), remote.state)
    );
    assert_eq!(conflicts[0].resolved_at, None);
    let meta = store.get_metadata(id).await.unwrap().unwrap();
    assert_eq!(meta.sync_conflict_status, Some(ConflictStatus::Pending));
    assert_eq!(Content::from_json("base", &meta.last_synced_content).unwrap(), content("A", "a"));

    // The same snapshot again: still exactly one conflict.
    store.apply_issue(p, &remote).await.unwrap();
    assert_eq!(store.count_rows(Table::Conflicts).await.unwrap(), 1);
    assert_eq!(store.get_task(id).await.unwrap(), local);
}

async fn converged_edits_only_move_the_base(store: Store) {
    let p = project(&store).await;
    store.apply_issue(p, &issue(1, "A", Some("a"), "open", "2026-01-05T10:00:00Z")).await.unwrap();
    let id = only_task(&store, p).await.task.id;
    store.update_task(id, &TaskPatch { title: Some("B".into()), ..Default::default() }).await.unwrap();
    let local = store.get_task(id).await.unwrap();

    let same = issue(1, "B", Some("a"), "open", "2026-01-05T11:00:00Z");
    assert_eq!(store.apply_issue(p, &same).await.unwrap(), ApplyOutcome::Unchanged);

    assert_eq!(store.get_task(id).await.unwrap(), local);
    let meta = store.get_metadata(id).await.unwrap().unwrap();
    assert_eq!(Content::from_json("base", &meta.last_synced_content).unwrap(), same.content);
    assert_eq!(store.count_rows(Table::Conflicts).await.unwrap(), 0);
}

async fn a_later_remote_change_refreshes_the_open_conflict(store: Store) {
    let p = project(&store).await;
    store.apply_issue(p, &issue(1, "A", None, "open", "2026-01-05T10:00:00Z")).await.unwrap();
    let id = only_task(&store, p).await.task.id;
    store.update_task(id, &TaskPatch { title: Some("L".into()), ..Default::default() }).await.unwrap();
    store.apply_issue(p, &issue(1, "R1", None, "open", "2026-01-05T11:00:00Z")).await.unwrap();

    let newer = issue(1, "R2", None, "open", "2026-01-05T12:00:00Z");
    assert_eq!(store.apply_issue(p, &newer).await.unwrap(), ApplyOutcome::ConflictPending);

    let conflicts = store.list_conflicts(p, None).await.unwrap();
    assert_eq!(conflicts.len(), 1, "no second row");
    assert_eq!(conflicts[0].remote_content_snapshot, RemoteSnapshot::new(newer.content.clone(), newer.state));
    assert_eq!(store.get_task(id).await.unwrap().title, "L");
}

async fn conflicted(store: &Store) -> (Uuid, Uuid, Uuid) {
    let p = project(store).await;
    store.apply_issue(p, &issue(7, "A", Some("a"), "open", "2026-01-05T10:00:00Z")).await.unwrap();
    let id = only_task(store, p).await.task.id;
    store.update_task(id, &TaskPatch { title: Some("Local".into()), ..Default::default() }).await.unwrap();
    store.apply_issue(p, &issue(7, "Remote", Some("a"), "open", "2026-01-05T11:00:00Z")).await.unwrap();
    let conflict = store.list_conflicts(p, Some(ConflictStatus::Pending)).await.unwrap()[0].id;
    (p, id, conflict)
}

async fn each_resolution_sets_content_and_base(store: Store) {
    let merged = content("Merged", "both");
    for (resolution, want) in [
        (Resolution::KeepLocal, content("Local", "a")),
        (Resolution::AcceptGithub, content("Remote", "a")),
        (
            Resolution::Merge(Merged { content: merged.clone(), status: None, milestone_named: false }),
            merged.clone(),
        ),
    ] {
        let (p, task_id, conflict_id) = conflicted(&store).await;
        let resolved = store.resolve_conflict(conflict_id, &resolution).await.unwrap();

        assert_eq!(resolved.resolution_action, Some(resolution.action()));
        assert!(resolved.resolved_at.is_some());
        assert_eq!(resolved.merged_content.is_some(), resolution.action() == ResolutionAction::Merge);
        assert_eq!(store.get_task(task_id).await.unwrap().content(), want);
        let meta = store.get_metadata(task_id).await.unwrap().unwrap();
        assert_eq!(meta.sync_conflict_status, Some(ConflictStatus::Resolved));
        assert_eq!(Content::from_json("base", &meta.last_synced_content).unwrap(), content("Remote", "a"));

        // The next sync of the same issue does not raise the conflict again.
        let again = issue(7, "Remote", Some("a"), "open", "2026-01-05T11:00:00Z");
        assert_eq!(store.apply_issue(p, &again).await.unwrap(), ApplyOutcome::Unchanged);
        assert!(store.list_conflicts(p, Some(ConflictStatus::Pending)).await.unwrap().is_empty());
        assert_eq!(store.get_task(task_id).await.unwrap().content(), want);
    }
}

async fn resolving_twice_is_a_state_conflict(store: Store) {
    let (_, task_id, conflict_id) = conflicted(&store).await;
    store.resolve_conflict(conflict_id, &Resolution::AcceptGithub).await.unwrap();
    let task = store.get_task(task_id).await.unwrap();
    let before = row_counts(&store).await;

    let err = store.resolve_conflict(conflict_id, &Resolution::KeepLocal).await.unwrap_err();

    assert!(matches!(err, StoreError::StateConflict(_)), "{err:?}");
    assert_eq!(store.get_task(task_id).await.unwrap(), task);
    assert_eq!(row_counts(&store).await, before);
    let c = store.get_conflict(conflict_id).await.unwrap();
    assert_eq!(c.resolution_action, Some(ResolutionAction::AcceptGithub));
}

async fn resolution_imports_the_state_change_the_conflict_held_back(store: Store) {
    let (p, task_id, conflict_id) = conflicted(&store).await;
    let closed = issue(7, "Remote 2", Some("a"), "completed", "2026-01-05T12:00:00Z");
    store.apply_issue(p, &closed).await.unwrap();
    assert_eq!(store.get_task(task_id).await.unwrap().status, TaskStatus::Todo);

    store.resolve_conflict(conflict_id, &Resolution::KeepLocal).await.unwrap();

    let task = store.get_task(task_id).await.unwrap();
    assert_eq!(task.title, "Local");
    assert_eq!(task.status, TaskStatus::Done);
    let meta = store.get_metadata(task_id).await.unwrap().unwrap();
    assert_eq!(Content::from_json("base", &meta.last_synced_content).unwrap(), closed.content);
}

async fn a_local_status_stays_while_the_issue_stays_open(store: Store) {
    let p = project(&store).await;
    store.apply_issue(p, &issue(1, "A", None, "open", "2026-01-05T10:00:00Z")).await.unwrap();
    let id = only_task(&store, p).await.task.id;
    store
        .update_task(id, &TaskPatch { status: Some(TaskStatus::InProgress), ..Default::default() })
        .await
        .unwrap();

    store.apply_issue(p, &issue(1, "A2", None, "open", "2026-01-05T11:00:00Z")).await.unwrap();
    assert_eq!(store.get_task(id).await.unwrap().status, TaskStatus::InProgress);

    store.apply_issue(p, &issue(1, "A2", None, "completed", "2026-01-05T12:00:00Z")).await.unwrap();
    assert_eq!(store.get_task(id).await.unwrap().status, TaskStatus::Done);
    store.apply_issue(p, &issue(1, "A2", None, "open", "2026-01-05T13:00:00Z")).await.unwrap();
    assert_eq!(store.get_task(id).await.unwrap().status, TaskStatus::Todo, "reopened");
}

async fn invalid_snapshots_are_refused_and_write_nothing(store: Store) {
    let p = project(&store).await;
    let before = row_counts(&store).await;
    let good = issue(5, "A", None, "open", "2026-01-05T10:00:00Z");
    let cases = [
        ("github_issue_number", ghsync_shared::domain::RemoteIssue { number: 0, ..good.clone() }),
        (
            "github_issue_url",
            ghsync_shared::domain::RemoteIssue {
                html_url: "https://github.com/acme/widgets/pull/5".into(),
                ..good.clone()
            },
        ),
        (
            "github_issue_url",
            ghsync_shared::domain::RemoteIssue {
                html_url: "https://github.com/acme/widgets/issues/6".into(),
                ..good.clone()
            },
        ),
        ("github_issue_id", ghsync_shared::domain::RemoteIssue { node_id: " ".into(), ..good.clone() }),
    ];
    for (field, bad) in cases {
        match store.apply_issue(p, &bad).await {
            Err(StoreError::Invalid(e)) => assert_eq!(e.field, field, "{e}"),
            other => panic!("{field}: expected a validation error, got {other:?}"),
        }
    }
    assert_eq!(row_counts(&store).await, before);
    // An issue of a project that does not exist is refused by the foreign key.
    assert!(store.apply_issue(Uuid::new_v4(), &good).await.is_err());
    assert_eq!(row_counts(&store).await, before);
}

async fn invalid_local_edits_are_refused_and_write_nothing(store: Store) {
    let p = project(&store).await;
    store.apply_issue(p, &issue(1, "A", None, "open", "2026-01-05T10:00:00Z")).await.unwrap();
    let task = only_task(&store, p).await.task;
    for (patch, field) in [
        (TaskPatch { title: Some("  ".into()), ..Default::default() }, "title"),
        (TaskPatch { title: Some("x".repeat(2000)), ..Default::default() }, "title"),
    ] {
        match store.update_task(task.id, &patch).await {
            Err(StoreError::Invalid(e)) => assert_eq!(e.field, field),
            other => panic!("expected a validation error, got {other:?}"),
        }
    }
    assert_eq!(store.get_task(task.id).await.unwrap(), task);
    assert!(matches!(store.create_project(" ").await, Err(StoreError::Invalid(e)) if e.field == "name"));
    assert_eq!(store.count_rows(Table::Projects).await.unwrap(), 1);
}

async fn sync_history_rules_are_enforced(store: Store) {
    let p = project(&store).await;
    let config = insert_config(&store, p).await;
    let run = store.start_sync(p, config, Timestamp::now()).await.unwrap();
    assert_eq!(run.status, SyncStatus::InProgress);
    assert_eq!((run.completed_at, run.duration_ms), (None, None));
    let ok = SyncCounts {
        issues_fetched: 3,
        tasks_created: 2,
        tasks_updated: 1,
        conflicts_detected: 0,
        ..Default::default()
    };
    let negative = SyncCounts { tasks_updated: -1, ..ok.clone() };
    let cases: [(SyncStatus, &SyncCounts, Option<&str>, &str); 4] = [
        (SyncStatus::InProgress, &ok, None, "status"),
        (SyncStatus::Success, &negative, None, "tasks_updated"),
        (SyncStatus::Success, &ok, Some("boom"), "error_message"),
        (SyncStatus::Failure, &ok, None, "error_message"),
    ];
    for (status, counts, error, field) in cases {
        match store.complete_sync(run.id, status, counts, error, Timestamp::now()).await {
            Err(StoreError::Invalid(e)) => assert_eq!(e.field, field),
            other => panic!("{field}: expected a validation error, got {other:?}"),
        }
    }
    assert_eq!(store.list_history(p, 10).await.unwrap(), vec![run.clone()], "nothing written");

    let done = run.started_at.plus(chrono::Duration::milliseconds(1500));
    let finished = store.complete_sync(run.id, SyncStatus::Success, &ok, None, done).await.unwrap();
    assert_eq!(finished.duration_ms, Some(1500));
    assert_eq!(finished.completed_at, Some(done));
    let again = store.complete_sync(run.id, SyncStatus::Failure, &ok, Some("late"), done).await;
    assert!(matches!(again, Err(StoreError::StateConflict(_))), "{again:?}");
}

async fn history_summary_counts_finished_runs(store: Store) {
    let p = project(&store).await;
    let config = insert_config(&store, p).await;
    let t0: Timestamp = "2026-01-05T10:00:00Z".parse().unwrap();
    for (i, ok) in [true, true, false].into_iter().enumerate() {
        let start = t0.plus(chrono::Duration::minutes(i as i64));
        let run = store.start_sync(p, config, start).await.unwrap();
        let counts = SyncCounts {
            issues_fetched: 10,
            tasks_created: 4,
            tasks_updated: 1,
            conflicts_detected: 1,
            ..Default::default()
        };
        let (status, error) =
            if ok { (SyncStatus::Success, None) } else { (SyncStatus::Failure, Some("GitHub 502")) };
        let end = start.plus(chrono::Duration::milliseconds(100 * (i as i64 + 1)));
        store.complete_sync(run.id, status, &counts, error, end).await.unwrap();
    }
    store.start_sync(p, config, t0.plus(chrono::Duration::minutes(10))).await.unwrap();

    let s = store.history_summary(p).await.unwrap();

    assert_eq!(s.last_100_syncs.len(), 4);
    assert_eq!(s.last_100_syncs[0].status, SyncStatus::InProgress, "newest first");
    assert_eq!(s.total_issues_imported, 12);
    assert_eq!(s.total_conflicts, 3);
    assert!((s.avg_duration_ms - 200.0).abs() < 1e-9, "{}", s.avg_duration_ms);
    assert!((s.success_rate - 200.0 / 3.0).abs() < 1e-9, "{}", s.success_rate);
}

async fn deleting_a_project_cascades_to_everything_of_it(store: Store) {
    let keep = store.create_project("Other").await.unwrap().id;
    store.apply_issue(keep, &issue(1, "Kept", None, "open", "2026-01-05T10:00:00Z")).await.unwrap();
    let before = row_counts(&store).await;
    let (p, _, _) = conflicted(&store).await;
    let config = insert_config(&store, p).await;
    store.start_sync(p, config, Timestamp::now()).await.unwrap();

    store.delete_project(p).await.unwrap();

    let after: Vec<(Table, i64)> = row_counts(&store).await;
    assert_eq!(after, before, "tasks, links, conflicts, config and history went with the project");
    assert_eq!(store.list_tasks(keep).await.unwrap().len(), 1);
}

async fn the_same_issue_feeds_two_projects_independently(store: Store) {
    let (a, b) = (project(&store).await, project(&store).await);
    let i = issue(1, "Shared", None, "open", "2026-01-05T10:00:00Z");
    assert_eq!(store.apply_issue(a, &i).await.unwrap(), ApplyOutcome::Created);
    assert_eq!(store.apply_issue(b, &i).await.unwrap(), ApplyOutcome::Created);
    let ta = only_task(&store, a).await.task.id;
    store
        .update_task(ta, &TaskPatch { title: Some("Local in A".into()), ..Default::default() })
        .await
        .unwrap();

    let edited = issue(1, "Edited", None, "open", "2026-01-05T11:00:00Z");
    assert_eq!(store.apply_issue(a, &edited).await.unwrap(), ApplyOutcome::Conflict);
    assert_eq!(store.apply_issue(b, &edited).await.unwrap(), ApplyOutcome::Updated);
    assert_eq!(only_task(&store, b).await.task.title, "Edited");
}

async fn stored_timestamps_compare_in_sql_as_instants(store: Store) {
    // Written from different offsets and precisions, compared as stored text in SQL.
    let early: Timestamp = "2026-01-05T10:59:59.999+00:00".parse().unwrap();
    let late: Timestamp = "2026-01-05T12:00:00+01:00".parse().unwrap(); // 11:00:00.000Z
    let now: Timestamp = "2026-01-05T11:00:00Z".parse().unwrap();
    let p = project(&store).await;
    let config = insert_config(&store, p).await;
    for t in [early, late] {
        store.start_sync(p, config, t).await.unwrap();
    }
    let due: Vec<String> =
        sqlx::query_scalar("SELECT started_at FROM sync_history WHERE started_at <= $1 ORDER BY started_at")
            .bind(now.to_sql())
            .fetch_all(store.pool())
            .await
            .unwrap();
    assert_eq!(due, vec![early.to_sql(), late.to_sql()]);
    let strictly: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM sync_history WHERE started_at < $1")
        .bind(now.to_sql())
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(strictly, 1);
    // The schema's own default is in the same form.
    let default: String = sqlx::query_scalar("SELECT created_at FROM projects WHERE id = $1")
        .bind(p.to_string())
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(default.parse::<Timestamp>().unwrap().to_sql(), default);
}

async fn unknown_ids_are_not_found(store: Store) {
    let nobody = Uuid::new_v4();
    assert!(matches!(store.get_project(nobody).await, Err(StoreError::NotFound("project"))));
    assert!(matches!(store.get_task(nobody).await, Err(StoreError::NotFound("task"))));
    assert!(matches!(store.list_tasks(nobody).await, Err(StoreError::NotFound("project"))));
    assert!(matches!(
        store.update_task(nobody, &TaskPatch::default()).await,
        Err(StoreError::NotFound("task"))
    ));
    assert!(matches!(
        store.resolve_conflict(nobody, &Resolution::KeepLocal).await,
        Err(StoreError::NotFound("conflict"))
    ));
    assert!(matches!(store.delete_project(nobody).await, Err(StoreError::NotFound("project"))));
}

/// A config row written directly (the config API is tested on its own).
async fn insert_config(store: &Store, project: Uuid) -> Uuid {
    let id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO github_sync_config (id, project_id, repo_owner, repo_name, encrypted_pat, \
         created_at, updated_at) VALUES ($1, $2, 'acme', 'widgets', $3, $4, $4)",
    )
    .bind(id.to_string())
    .bind(project.to_string())
    .bind(vec![1u8, 2, 3])
    .bind(Timestamp::now().to_sql())
    .execute(store.pool())
    .await
    .unwrap();
    id
}

async fn a_new_accepted_pat_clears_the_last_sync_error(store: Store) {
    let p = testkit::configured_project(&store, "acme/widgets", vec![2, 0, 0]).await;
    let failed = || async {
        sqlx::query(
            "UPDATE github_sync_config SET sync_error = 'GitHub refused the token', consecutive_failures = 3",
        )
        .execute(store.pool())
        .await
        .unwrap();
    };
    let write = |pat: Option<Vec<u8>>| ghsync_shared::store::ConfigWrite {
        credential: pat.map(ghsync_shared::store::Credential::Pat),
        ..ghsync_shared::store::ConfigWrite::new(
            ghsync_shared::domain::RepoOwner::parse("acme").unwrap(),
            ghsync_shared::domain::RepoName::parse("widgets").unwrap(),
        )
    };
    failed().await;
    // A change that does not touch the PAT leaves the last run's error as it was.
    let kept = store.put_config(p, &write(None)).await.unwrap();
    assert_eq!(kept.config.sync_error.as_deref(), Some("GitHub refused the token"));
    // The caller stores a new PAT only after GitHub accepted it: the error no longer holds.
    let fresh = store.put_config(p, &write(Some(vec![2, 1, 1]))).await.unwrap();
    assert_eq!(fresh.config.sync_error, None);
    let failures: i64 = sqlx::query_scalar("SELECT consecutive_failures FROM github_sync_config")
        .fetch_one(store.pool())
        .await
        .unwrap();
    assert_eq!(failures, 0, "the backoff starts over");
}

async fn the_task_link_shows_the_seeds_metadata(store: Store) {
    let p = project(&store).await;
    let i = issue(7, "Linked", None, "completed", "2026-01-05T10:00:00Z");
    store.apply_issue(p, &i).await.unwrap();
    let link = only_task(&store, p).await.github.unwrap();
    assert_eq!(link.node_id, i.node_id);
    assert_eq!(link.issue_number, 7);
    assert_eq!(link.issue_url, i.html_url);
    assert_eq!(link.remote_updated_at, i.updated_at);
    assert_eq!(link.remote_state, ghsync_shared::domain::RemoteState::Completed);
    assert_eq!(link.sync_conflict_status, None);
    assert_eq!(link.unlinked_at, None);
    let json = serde_json::to_value(&link).unwrap();
    for field in [
        "node_id",
        "issue_number",
        "issue_url",
        "remote_updated_at",
        "last_synced_at",
        "sync_conflict_status",
        "remote_state",
    ] {
        assert!(json.get(field).is_some(), "{field} in {json}");
    }
}

/// The board's migration indexes the labels, assignees and milestones of the links stored
/// before it (ASCII letters folded, as the store writes them), so the filters find them; the
/// issue fields' migration gives each task its link's sets as its own.
#[tokio::test]
async fn the_board_migration_indexes_the_links_stored_before_it() {
    use ghsync_shared::store::TaskFilter;
    for backend in ["sqlite", "postgres"] {
        let (url, _) = testkit::schema::migrated_before(backend, 20260105000015).await;
        let store = Store::connect(&url, &ghsync_shared::StoreOptions::default()).await.unwrap();
        let (project, task) = (Uuid::now_v7(), Uuid::now_v7());
        let at = "2026-01-05T10:00:00.000Z";
        let statements = [
            "INSERT INTO projects (id, name, created_at, updated_at) VALUES ($1, 'Old', $3, $3)",
            "INSERT INTO tasks (id, project_id, title, status, created_at, updated_at) VALUES ($2, $1, 'Old task', 'todo', $3, $3)",
            "INSERT INTO task_github_metadata (id, task_id, project_id, github_issue_id, github_issue_number, \
             github_issue_url, last_synced_at, remote_updated_at, last_synced_content, labels, assignees, milestone) \
             VALUES ($2, $2, $1, 'I_1', 1, 'https://github.com/acme/widgets/issues/1', $3, $3, '{\"title\":\"Old task\"}', \
             '[{\"name\":\"Needs Design\",\"color\":\"ededed\"}]', '[\"OctoCat\"]', 'V1')",
        ];
        for sql in statements {
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(project.to_string())
                .bind(task.to_string())
                .bind(at)
                .execute(store.pool())
                .await
                .unwrap_or_else(|e| panic!("{backend}: {sql}: {e}"));
        }
        store.migrate().await.unwrap();
        let filters = [
            TaskFilter { label: Some("needs design".into()), ..Default::default() },
            TaskFilter { assignee: Some("octocat".into()), ..Default::default() },
            TaskFilter { milestone: Some("v1".into()), ..Default::default() },
        ];
        for filter in filters {
            let found = store
                .list_tasks_page(
                    project,
                    &filter,
                    TaskOrder::Created,
                    &ghsync_shared::paging::PageRequest::everything(),
                )
                .await
                .unwrap();
            assert_eq!(found.len(), 1, "{backend}: {filter:?}");
        }
        let own = store.list_tasks(project).await.unwrap().remove(0).github.unwrap().extras;
        assert_eq!(
            (own.labels[0].name.as_str(), own.assignees.as_slice()),
            ("Needs Design", ["OctoCat".to_string()].as_slice()),
            "{backend}"
        );
        store.close().await;
    }
}
