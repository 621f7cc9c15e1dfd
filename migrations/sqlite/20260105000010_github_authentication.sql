-- GitHub authentication (SPEC.md "GitHub authentication"): what each token may do, GitHub
-- Apps, and GitHub Enterprise Server.
--
-- github_sync_config.installation_id: the GitHub App installation the config reads and writes
--   through, instead of a PAT; an App config keeps an empty encrypted_pat (the column stays
--   NOT NULL, as SQLite cannot relax it without rebuilding the table).
-- github_sync_config.api_url: the config's own REST API base (a GitHub Enterprise Server's
--   https://host/api/v3); NULL: the deployment's (GITHUB_API_URL, github.com by default).
--   Deliveries to the deployment-wide and App URLs concern only configs on the deployment's
--   GitHub (api_url NULL).
-- github_sync_config.token_expires_at: when the PAT expires, as GitHub last said
--   (github-authentication-token-expiration); NULL: it does not, or GitHub has not said.
-- github_sync_config.token_permissions: what the token may do, as checked when it was saved:
--   JSON {"issues": "read"|"write", "hooks": bool, "source": "classic"|"fine_grained"|"app"}.
-- github_sync_config.paused_by: why GitHub turned the config off, while it is off for that:
--   'removed' (its repository left the App's installation), 'suspended' or 'deleted' (the
--   installation). Only the matching return (the repository added back, the installation
--   unsuspended) turns it on again; a person turning it on or off, or giving it a new
--   credential, ends the pause. NULL: not paused by GitHub.
-- github_app: the deployment's one GitHub App: its id, private key and webhook secret, the
--   last two sealed under the KMS envelope (as PATs are).
ALTER TABLE github_sync_config ADD COLUMN installation_id INTEGER;
ALTER TABLE github_sync_config ADD COLUMN api_url TEXT;
ALTER TABLE github_sync_config ADD COLUMN token_expires_at TEXT;
ALTER TABLE github_sync_config ADD COLUMN token_permissions TEXT;
ALTER TABLE github_sync_config ADD COLUMN paused_by TEXT
    CHECK (paused_by IN ('suspended', 'deleted', 'removed'));

CREATE INDEX idx_github_sync_config_installation ON github_sync_config(installation_id)
    WHERE installation_id IS NOT NULL;

CREATE TABLE github_app (
    id INTEGER PRIMARY KEY NOT NULL CHECK (id = 1),
    app_id INTEGER NOT NULL CHECK (app_id > 0),
    encrypted_private_key BLOB NOT NULL,
    encrypted_webhook_secret BLOB NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
