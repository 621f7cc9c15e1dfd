-- How a link ends, and what stays known after it moved (SPEC.md "Replays and ambiguity",
-- "Repository switch").
--
-- task_github_metadata.unlinked_at: set when the link's config moved to another repository.
--   The task stays with its content; the link is no longer looked up or marked deleted. A
--   snapshot of the issue (its config follows the repository again) links it anew.
-- retired_issue_ids: the node ids an issue had before it was transferred and its task
--   relinked to the new identity. A replayed snapshot of the old identity creates nothing.
ALTER TABLE task_github_metadata ADD COLUMN unlinked_at TEXT;

CREATE TABLE retired_issue_ids (
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    github_issue_id TEXT NOT NULL,
    metadata_id TEXT NOT NULL REFERENCES task_github_metadata(id) ON DELETE CASCADE,
    retired_at TEXT NOT NULL,
    PRIMARY KEY (project_id, github_issue_id)
);

-- sync_history.issues_skipped: issues a run left out because GitHub listed them malformed
--   (a blank title, a URL not of the repository); the run's message names them.
ALTER TABLE sync_history ADD COLUMN issues_skipped INTEGER NOT NULL DEFAULT 0 CHECK (issues_skipped >= 0);
