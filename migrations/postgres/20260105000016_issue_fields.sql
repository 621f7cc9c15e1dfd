-- Labels and assignees edited on the board and merged per element both ways (docs/fields.md).
--
-- tasks.labels / tasks.assignees: the task's own sets (JSON [{"name", "color"}] and
--   ["login"]), what the board shows and edits. A snapshot merges GitHub's sets into them
--   element by element; an edit on the board changes them and queues a push.
-- tasks.milestone_number / milestone_title: the task's own milestone, part of its content
--   (the base's is in task_github_metadata.last_synced_content, as "milestone"). Links stored
--   before held the milestone by title only: their tasks show that title, without a number,
--   until the next snapshot of their issue brings GitHub's milestone whole.
-- task_github_metadata.milestone_known: 0 for those links, whose base says nothing of the
--   milestone: their next snapshot takes GitHub's milestone as base (and as the task's, when it
--   has none), never as a change of either side (docs/fields.md).
-- task_github_metadata.labels / assignees keep their meaning, GitHub's sets as last synced,
--   and are now also the base of the merge: an element push moves them by what GitHub took.
-- repository_choices: per config, what the repository offers (its labels, its assignable
--   users, its milestones), listed by the reconcile with the ETag GitHub gave (a 304 costs nothing) and
--   marked stale by `label` and `milestone` deliveries. kind is 'labels', 'assignees' or
--   'milestones'; items is JSON ([{"name", "color"}], ["login"] or [{"number", "title"}]).
ALTER TABLE tasks ADD COLUMN labels TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD COLUMN assignees TEXT NOT NULL DEFAULT '[]';
ALTER TABLE tasks ADD COLUMN milestone_number BIGINT;
ALTER TABLE tasks ADD COLUMN milestone_title TEXT;

UPDATE tasks SET
    labels = (SELECT m.labels FROM task_github_metadata m WHERE m.task_id = tasks.id),
    assignees = (SELECT m.assignees FROM task_github_metadata m WHERE m.task_id = tasks.id),
    milestone_title = (SELECT m.milestone FROM task_github_metadata m WHERE m.task_id = tasks.id)
WHERE id IN (SELECT task_id FROM task_github_metadata);

ALTER TABLE task_github_metadata ADD COLUMN milestone_known BIGINT NOT NULL DEFAULT 1
    CHECK (milestone_known IN (0, 1));
UPDATE task_github_metadata SET milestone_known = 0;

CREATE TABLE repository_choices (
    project_id TEXT NOT NULL REFERENCES github_sync_config(project_id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('labels', 'assignees', 'milestones')),
    items TEXT NOT NULL DEFAULT '[]',
    etag TEXT,
    refreshed_at TEXT NOT NULL,
    stale BIGINT NOT NULL DEFAULT 0 CHECK (stale IN (0, 1)),
    PRIMARY KEY (project_id, kind)
);
