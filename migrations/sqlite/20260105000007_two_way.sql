-- Two-way sync (SPEC.md "Two-way sync") and the read-only parts of an issue beyond its
-- content.
--
-- github_sync_config.two_way: local edits of linked tasks are pushed to GitHub (off by
--   default).
-- sync_outbox: one row per task whose local edit waits to reach GitHub, written in the
--   transaction of the edit. A later edit of the same task bumps `version` (entries coalesce
--   to the newest: the pusher sends the task as it is then); a push removes the row only if
--   its version is still the one it sent. `lease_until` claims the row for one pusher at a
--   time (pushes of one task go in order); `next_attempt_at` / `attempts` back off after
--   transient failures.
-- task_github_metadata.push_error / push_error_at: why GitHub refused the last push (403,
--   404/410, 422), with GitHub's message; cleared by the next successful push.
-- task_github_metadata.labels / assignees / milestone: imported with each snapshot, shown
--   with the task. labels is JSON [{"name", "color"}], assignees JSON ["login"].
ALTER TABLE github_sync_config ADD COLUMN two_way INTEGER NOT NULL DEFAULT 0 CHECK (two_way IN (0, 1));

CREATE TABLE sync_outbox (
    task_id TEXT PRIMARY KEY NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    version INTEGER NOT NULL DEFAULT 1,
    queued_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error TEXT,
    lease_until TEXT
);

CREATE INDEX idx_sync_outbox_project_due ON sync_outbox(project_id, next_attempt_at);

ALTER TABLE task_github_metadata ADD COLUMN push_error TEXT;
ALTER TABLE task_github_metadata ADD COLUMN push_error_at TEXT;
ALTER TABLE task_github_metadata ADD COLUMN labels TEXT NOT NULL DEFAULT '[]';
ALTER TABLE task_github_metadata ADD COLUMN assignees TEXT NOT NULL DEFAULT '[]';
ALTER TABLE task_github_metadata ADD COLUMN milestone TEXT;
