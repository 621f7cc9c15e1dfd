-- The board (projects, tasks) and the seed's four sync tables.
--
-- Timestamps are TEXT in one fixed-width UTC form, 'YYYY-MM-DDTHH:MM:SS.sssZ', on both
-- backends, so that comparing them as text (`next_sync_at <= $1`) orders them in time.
-- The application always binds them; the defaults below produce the same form.
-- Flags are INTEGER 0/1 and ids are TEXT UUIDs (what passes through sqlx's Any driver).

CREATE TABLE projects (
    id TEXT PRIMARY KEY NOT NULL,
    name TEXT NOT NULL CHECK (length(trim(name)) > 0),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);

CREATE TABLE tasks (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL,
    title TEXT NOT NULL CHECK (length(trim(title)) > 0),
    description TEXT,
    status TEXT NOT NULL DEFAULT 'todo'
        CHECK (status IN ('todo', 'inprogress', 'inreview', 'done', 'cancelled')),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    FOREIGN KEY (project_id) REFERENCES projects(id) ON DELETE CASCADE
);

CREATE INDEX idx_tasks_project_id ON tasks(project_id);

CREATE TABLE github_sync_config (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL UNIQUE,
    repo_owner TEXT NOT NULL CHECK (length(repo_owner) > 0),
    repo_name TEXT NOT NULL CHECK (length(repo_name) > 0),
    encrypted_pat BLOB NOT NULL,
    last_sync_at TEXT,
    next_sync_at TEXT,
    sync_enabled INTEGER NOT NULL DEFAULT 1 CHECK (sync_enabled IN (0, 1)),
    sync_interval_seconds INTEGER NOT NULL DEFAULT 300
        CHECK (sync_interval_seconds BETWEEN 30 AND 3600),
    sync_error TEXT,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    FOREIGN KEY (project_id) REFERENCES projects(id) ON DELETE CASCADE
);

CREATE INDEX idx_github_sync_config_project_id ON github_sync_config(project_id);
CREATE INDEX idx_github_sync_config_next_sync ON github_sync_config(next_sync_at)
    WHERE sync_enabled = 1;

CREATE TABLE task_github_metadata (
    id TEXT PRIMARY KEY NOT NULL,
    task_id TEXT NOT NULL UNIQUE,
    github_issue_id TEXT NOT NULL,
    github_issue_number INTEGER NOT NULL CHECK (github_issue_number > 0),
    github_issue_url TEXT NOT NULL,
    last_synced_at TEXT NOT NULL,
    remote_updated_at TEXT NOT NULL,
    last_synced_content TEXT NOT NULL,
    sync_conflict_status TEXT CHECK (sync_conflict_status IN ('pending', 'resolved')),
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    FOREIGN KEY (task_id) REFERENCES tasks(id) ON DELETE CASCADE
);

CREATE UNIQUE INDEX idx_task_github_metadata_task_id ON task_github_metadata(task_id);
CREATE INDEX idx_task_github_metadata_issue_number ON task_github_metadata(github_issue_number);
CREATE INDEX idx_task_github_metadata_conflict_status ON task_github_metadata(sync_conflict_status)
    WHERE sync_conflict_status = 'pending';

CREATE TABLE sync_history (
    id TEXT PRIMARY KEY NOT NULL,
    project_id TEXT NOT NULL,
    sync_config_id TEXT NOT NULL,
    started_at TEXT NOT NULL,
    completed_at TEXT,
    duration_ms INTEGER CHECK (duration_ms >= 0),
    issues_fetched INTEGER NOT NULL DEFAULT 0 CHECK (issues_fetched >= 0),
    tasks_created INTEGER NOT NULL DEFAULT 0 CHECK (tasks_created >= 0),
    tasks_updated INTEGER NOT NULL DEFAULT 0 CHECK (tasks_updated >= 0),
    conflicts_detected INTEGER NOT NULL DEFAULT 0 CHECK (conflicts_detected >= 0),
    status TEXT NOT NULL CHECK (status IN ('success', 'failure', 'in_progress')),
    error_message TEXT,
    CHECK (status <> 'in_progress' OR (completed_at IS NULL AND duration_ms IS NULL)),
    FOREIGN KEY (project_id) REFERENCES projects(id) ON DELETE CASCADE,
    FOREIGN KEY (sync_config_id) REFERENCES github_sync_config(id) ON DELETE CASCADE
);

CREATE INDEX idx_sync_history_project_id ON sync_history(project_id);
CREATE INDEX idx_sync_history_started_at ON sync_history(started_at DESC);

CREATE TABLE conflict_resolution (
    id TEXT PRIMARY KEY NOT NULL,
    task_id TEXT NOT NULL,
    metadata_id TEXT NOT NULL,
    detected_at TEXT NOT NULL,
    resolved_at TEXT,
    resolution_action TEXT CHECK (resolution_action IN ('keep_local', 'accept_github', 'merge')),
    local_content_snapshot TEXT NOT NULL,
    remote_content_snapshot TEXT NOT NULL,
    merged_content TEXT,
    CHECK (merged_content IS NULL OR resolution_action = 'merge'),
    CHECK ((resolved_at IS NULL) = (resolution_action IS NULL)),
    FOREIGN KEY (task_id) REFERENCES tasks(id) ON DELETE CASCADE,
    FOREIGN KEY (metadata_id) REFERENCES task_github_metadata(id) ON DELETE CASCADE
);

CREATE INDEX idx_conflict_resolution_task_id ON conflict_resolution(task_id);
CREATE INDEX idx_conflict_resolution_resolved_at ON conflict_resolution(resolved_at)
    WHERE resolved_at IS NULL;
