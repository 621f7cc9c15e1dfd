-- Columns and tables the sync rules need beyond the seed (documented in README.md, "Schema").
--
-- task_github_metadata.project_id: an issue is linked at most once per project (a repository
--   may feed several projects). The unique index is what makes concurrent creators of the
--   same issue's task collide instead of duplicating it. (SQLite cannot add a NOT NULL
--   column with a foreign key, hence the CHECK.)
-- task_github_metadata.synced_state: the issue state imported at the last sync, the base of
--   the status rule ("a status is imported only when the issue's state changed").
-- task_github_metadata.remote_state: the newest issue state seen, including 'deleted' and
--   'transferred' for issues no longer on GitHub in this repository.
ALTER TABLE task_github_metadata ADD COLUMN project_id TEXT
    REFERENCES projects(id) ON DELETE CASCADE CHECK (project_id IS NOT NULL);
ALTER TABLE task_github_metadata ADD COLUMN synced_state TEXT NOT NULL DEFAULT 'open'
    CHECK (synced_state IN ('open', 'completed', 'not_planned'));
ALTER TABLE task_github_metadata ADD COLUMN remote_state TEXT NOT NULL DEFAULT 'open'
    CHECK (remote_state IN ('open', 'completed', 'not_planned', 'deleted', 'transferred'));

CREATE UNIQUE INDEX idx_task_github_metadata_project_issue
    ON task_github_metadata(project_id, github_issue_id);

-- At most one open conflict per task; a later remote change refreshes it instead.
CREATE UNIQUE INDEX idx_conflict_resolution_open_per_task ON conflict_resolution(task_id)
    WHERE resolved_at IS NULL;

-- Webhook deliveries are routed by repository; GitHub names are case-insensitive.
CREATE INDEX idx_github_sync_config_repo
    ON github_sync_config(lower(repo_owner), lower(repo_name));

-- The webhook-delivery log: idempotency on X-GitHub-Delivery, and an audit trail.
-- Kept at least 7 days (GitHub Enterprise's redelivery window), then pruned.
CREATE TABLE webhook_deliveries (
    delivery_id TEXT PRIMARY KEY NOT NULL,
    event TEXT NOT NULL,
    action TEXT,
    repo_full_name TEXT,
    outcome TEXT NOT NULL,
    received_at TEXT NOT NULL
);

CREATE INDEX idx_webhook_deliveries_received_at ON webhook_deliveries(received_at);
