-- The board (docs/board.md): its columns page newest-updated first, and its filters find a
-- label, an assignee or a milestone through a side table instead of reading every task's JSON.
--
-- task_facets: one row per label name, assignee login and milestone title a task shows, as
--   ASCII lower case (GitHub compares label names case-insensitively; logins and milestone
--   titles are compared the same way here). Rewritten with the link's labels, assignees and
--   milestone in the same transaction, by the one writer (store::facets). kind is 'label',
--   'assignee' or 'milestone'.
CREATE TABLE task_facets (
    task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    kind TEXT NOT NULL CHECK (kind IN ('label', 'assignee', 'milestone')),
    value TEXT NOT NULL,
    PRIMARY KEY (task_id, kind, value)
);
-- A filter's tasks, from the value.
CREATE INDEX idx_task_facets_value ON task_facets(project_id, kind, value, task_id);
-- A column, newest-updated first.
CREATE INDEX idx_tasks_project_status_updated ON tasks(project_id, status, updated_at, id);

-- The links stored before this migration. SQLite's lower() folds ASCII letters only, as the
-- writer does.
INSERT OR IGNORE INTO task_facets (task_id, project_id, kind, value)
SELECT m.task_id, m.project_id, 'label', lower(json_extract(l.value, '$.name'))
FROM task_github_metadata m, json_each(m.labels) l;
INSERT OR IGNORE INTO task_facets (task_id, project_id, kind, value)
SELECT m.task_id, m.project_id, 'assignee', lower(a.value)
FROM task_github_metadata m, json_each(m.assignees) a;
INSERT OR IGNORE INTO task_facets (task_id, project_id, kind, value)
SELECT m.task_id, m.project_id, 'milestone', lower(m.milestone)
FROM task_github_metadata m WHERE m.milestone IS NOT NULL;
