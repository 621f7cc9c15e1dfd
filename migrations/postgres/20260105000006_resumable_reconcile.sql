-- A reconcile that spans runs (SPEC.md "Reconcile function": resumable).
--
-- github_sync_config.full_pass_started_at: a full listing (the daily pass that finds deleted
--   and transferred issues, or the first import) is in progress since then; each applied
--   page moves list_watermark with it, so a run cut by the deadline continues where it
--   stopped.
-- github_sync_config.full_pass_listed: that pass's listing reached its end; what is left is
--   looking up the links it did not show.
-- task_github_metadata.seen_in_pass_at: the pass (by its start) whose listing showed the
--   issue, written with the page; links not seen by the pass are looked up once it has listed
--   everything.
-- sync_history.pages_fetched / complete: the run's progress while it runs (written with each
--   page), and whether it reached the end of what was due (false: cut by the deadline; the
--   next run continues).
ALTER TABLE github_sync_config ADD COLUMN full_pass_started_at TEXT;
ALTER TABLE github_sync_config ADD COLUMN full_pass_listed BIGINT NOT NULL DEFAULT 0;
ALTER TABLE task_github_metadata ADD COLUMN seen_in_pass_at TEXT;
ALTER TABLE sync_history ADD COLUMN pages_fetched BIGINT NOT NULL DEFAULT 0 CHECK (pages_fetched >= 0);
ALTER TABLE sync_history ADD COLUMN complete BIGINT NOT NULL DEFAULT 1;

-- Keyset pages of a project's tasks (SPEC.md "HTTP surface": bounded lists): oldest first.
CREATE INDEX idx_tasks_project_created ON tasks(project_id, created_at, id);
CREATE INDEX idx_conflict_resolution_detected ON conflict_resolution(detected_at, id);
CREATE INDEX idx_sync_history_project_started ON sync_history(project_id, started_at, id);

-- github_sync_config.requested_run_id: a run asked for through the API ("Sync now"), queued
--   for the reconcile worker with its history row; the worker's run of the config takes it.
ALTER TABLE github_sync_config ADD COLUMN requested_run_id TEXT;
