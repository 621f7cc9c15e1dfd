-- Labels and assignees edited on the board and merged per element both ways (docs/fields.md).
--
-- tasks.labels / tasks.assignees: the task's own sets (JSON [{"name", "color"}] and
--   ["login"]), what the board shows and edits. A snapshot merges GitHub's sets into them
--   element by element; an edit on the board changes them and queues a push.
-- task_github_metadata.labels / assignees keep their meaning, GitHub's sets as last synced,
--   and are now also the base of the merge: an element push moves them by what GitHub took.
-- repository_choices: per config, what the repository offers (its labels, its assignable
--   users), listed by the reconcile with the ETag GitHub gave (a 304 costs nothing) and
--   marked stale by `label` deliveries. kind is 'labels' or 'assignees'; items is JSON
--   ([{"name", "color"}] or ["login"]).
ALTER TABLE tasks ADD COLUMN labels TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD COLUMN assignees TEXT NOT NULL DEFAULT '[]';

UPDATE tasks SET
    labels = (SELECT m.labels FROM task_github_metadata m WHERE m.task_id = tasks.id),
    assignees = (SELECT m.assignees FROM task_github_metadata m WHERE m.task_id = tasks.id)
WHERE id IN (SELECT task_id FROM task_github_metadata);

CREATE TABLE repository_choices (
    project_id TEXT NOT NULL REFERENCES github_sync_config(project_id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('labels', 'assignees')),
    items TEXT NOT NULL DEFAULT '[]',
    etag TEXT,
    refreshed_at TEXT NOT NULL,
    stale INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (project_id, kind)
);
