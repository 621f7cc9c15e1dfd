-- Comments written on the board, on their way to GitHub (docs/comments.md, "From the board").
--
-- task_comments.origin: 'github' (came from GitHub: read-only on the board) or 'board'
--   (written on the board; posted to the issue while the config is two-way). A board
--   comment has no github_comment_id until GitHub answered its post or its echo arrived;
--   base_body is then the text both sides last agreed on (without ghsync's attribution line
--   and marker), the base a later edit on either side is compared with.
-- task_comments.board_deleted_at: deleted on the board; out of the thread at once, and its
--   deletion waits in the outbox to reach GitHub (the row becomes a tombstone once it has).
-- task_comments.conflict_at / conflict_body: the comment was changed on both sides since the
--   last sync: GitHub's side (NULL: GitHub deleted it) waits beside the board's for a person.
-- task_comments.push_error: why GitHub refused the comment's last push, or why its entry ended
--   (a repository switch); cleared once GitHub holds it.
ALTER TABLE task_comments ADD COLUMN origin TEXT NOT NULL DEFAULT 'github' CHECK (origin IN ('github', 'board'));
ALTER TABLE task_comments ADD COLUMN board_deleted_at TEXT;
ALTER TABLE task_comments ADD COLUMN conflict_at TEXT;
ALTER TABLE task_comments ADD COLUMN conflict_body TEXT;
ALTER TABLE task_comments ADD COLUMN push_error TEXT;

-- comment_outbox: one row per board comment whose post, edit or deletion waits to reach
--   GitHub, written in the transaction of the change; a later change bumps `version`. It is
--   fenced like sync_outbox: claim_token and lease_until name the one pusher holding it, and
--   every record a push makes is conditional on its token. posted_at / posted_body: a POST
--   went out at that time with that text and its answer was never recorded; before anything
--   is posted again the issue's comments since then are searched for the comment's marker,
--   and a comment found is linked with the text posted as its base (what GitHub or the board
--   changed since then is each side's change).
CREATE TABLE comment_outbox (
    comment_id TEXT PRIMARY KEY NOT NULL REFERENCES task_comments(id) ON DELETE CASCADE,
    task_id TEXT NOT NULL REFERENCES tasks(id) ON DELETE CASCADE,
    project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
    version BIGINT NOT NULL DEFAULT 1,
    queued_at TEXT NOT NULL,
    next_attempt_at TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error TEXT,
    claim_token TEXT,
    lease_until TEXT,
    parked TEXT CHECK (parked IN ('refused', 'one_way')),
    posted_at TEXT,
    posted_body TEXT
);

CREATE INDEX idx_comment_outbox_project_due ON comment_outbox(project_id, next_attempt_at);

-- github_writes: the mutating requests ghsync sent through each GitHub account (a token's
--   hash, or an App installation) in the last hour; creates = 1 for content-creating ones
--   (a new issue or comment). GitHub's secondary limits count them per account.
-- github_write_holds: an account GitHub asked to wait (a secondary-limit answer), until when.
CREATE TABLE github_writes (
    account TEXT NOT NULL,
    at TEXT NOT NULL,
    creates BIGINT NOT NULL CHECK (creates IN (0, 1))
);

CREATE INDEX idx_github_writes_account ON github_writes(account, at);

CREATE TABLE github_write_holds (
    account TEXT PRIMARY KEY NOT NULL,
    hold_until TEXT NOT NULL
);
