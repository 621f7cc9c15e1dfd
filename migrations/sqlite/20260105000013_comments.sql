-- Each issue's conversation on its task (docs/comments.md).
--
-- task_comments: a task's thread, oldest first. A comment that came from GitHub keeps its
--   comment id, node id, URL, author login and the `updated_at` applied last
--   (github_updated_at); base_body is the body as GitHub last showed it (the base a later
--   board edit is compared with). deleted_at marks a comment deleted on GitHub: the row stays
--   as a tombstone, out of the thread, so that no replayed delivery brings it back.
--   seen_in_pass_at: the full pass (by its start) whose listing showed the comment; comments
--   it did not show are looked up once it has listed everything.
--   The body has no length check: GitHub caps comments at 65,536 characters, counted its own
--   way, and a listing must never stall on a row the database refuses.
CREATE TABLE task_comments (
    id TEXT PRIMARY KEY NOT NULL,
    task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    body TEXT NOT NULL,
    author TEXT NOT NULL CHECK (length(trim(author)) > 0),
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    deleted_at TEXT,
    github_comment_id BIGINT CHECK (github_comment_id > 0),
    github_node_id TEXT,
    github_url TEXT,
    github_author_login TEXT,
    github_updated_at TEXT,
    base_body TEXT,
    seen_in_pass_at TEXT,
    CHECK ((github_comment_id IS NULL) = (github_updated_at IS NULL)),
    CHECK (deleted_at IS NULL OR github_comment_id IS NOT NULL)
);

-- A GitHub comment is on a project's board once; concurrent deliveries of it collide here.
CREATE UNIQUE INDEX idx_task_comments_project_github
    ON task_comments(project_id, github_comment_id) WHERE github_comment_id IS NOT NULL;
-- A task's thread in pages, oldest first.
CREATE INDEX idx_task_comments_thread ON task_comments(task_id, created_at, id);

-- Issue numbers of the followed repository whose comments are not the board's: pull requests
-- (the comment listing carries theirs too, naming the issue only by number) and issues found
-- deleted or transferred away. GitHub never reuses a number. Emptied when the config moves.
CREATE TABLE not_board_issues (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    github_issue_number BIGINT NOT NULL CHECK (github_issue_number > 0),
    kind TEXT NOT NULL CHECK (kind IN ('pull_request', 'gone')),
    PRIMARY KEY (project_id, github_issue_number)
);

-- The comment listing's own state (like list_watermark, probe_url/probe_etag for issues):
-- comments_watermark: the `since` of the next listing of comments; it never passes a comment
--   whose issue is not known yet.
-- comments_probe_url / comments_probe_etag: the last page of the last listing and its ETag.
-- comments_pass_listed: the full pass in progress has listed every comment; what is left is
--   looking up the comments it did not show.
ALTER TABLE github_sync_config ADD COLUMN comments_watermark TEXT;
ALTER TABLE github_sync_config ADD COLUMN comments_probe_url TEXT;
ALTER TABLE github_sync_config ADD COLUMN comments_probe_etag TEXT;
ALTER TABLE github_sync_config ADD COLUMN comments_pass_listed BIGINT NOT NULL DEFAULT 0;

-- github_sync_config.hook_events: the events the hook ghsync installed was last given
--   (comma-separated). NULL beside a hook_id: installed by an earlier ghsync, which sent
--   `issues` only; the next run adds `issue_comment` to it (a PATCH of its events alone).
ALTER TABLE github_sync_config ADD COLUMN hook_events TEXT;

-- A run's comments: listed, and what they did to the threads.
ALTER TABLE sync_history ADD COLUMN comments_fetched BIGINT NOT NULL DEFAULT 0 CHECK (comments_fetched >= 0);
ALTER TABLE sync_history ADD COLUMN comments_created BIGINT NOT NULL DEFAULT 0 CHECK (comments_created >= 0);
ALTER TABLE sync_history ADD COLUMN comments_updated BIGINT NOT NULL DEFAULT 0 CHECK (comments_updated >= 0);
ALTER TABLE sync_history ADD COLUMN comments_deleted BIGINT NOT NULL DEFAULT 0 CHECK (comments_deleted >= 0);
