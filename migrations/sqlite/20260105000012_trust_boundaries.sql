-- A webhook secret per config and repository, rotatable (docs/trust.md, "Tenant secrets").
--
-- github_sync_config.secret_generation: which secret the config's own webhook URL takes.
--   0 is the first derivation (from the deployment secret and the config id alone), kept so
--   that no hook installed before this migration breaks; every later generation also mixes
--   in secret_salt. A new config starts at 1; a repository or host change and a rotation
--   add one.
-- github_sync_config.secret_salt: 32 hex digits drawn at random for the generation (NULL
--   for generation 0).
-- github_sync_config.secret_rotated_at: when the current generation began (NULL: the
--   config's first).
-- github_sync_config.secret_used_at: when a delivery first verified with the current
--   generation (NULL: none yet; the webhook panel then says a hook added by hand needs it).
ALTER TABLE github_sync_config ADD COLUMN secret_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE github_sync_config ADD COLUMN secret_salt TEXT;
ALTER TABLE github_sync_config ADD COLUMN secret_rotated_at TEXT;
ALTER TABLE github_sync_config ADD COLUMN secret_used_at TEXT;

-- An operator's list of GitHub hosts (docs/trust.md, "Where a token goes").
--
-- github_sync_config.host_paused: 1 while the config is off because its api_url is not among
--   the hosts the operator allows (sync_error says so); nothing is sent to it. It turns on
--   again when the host is allowed again, or the config moves to an allowed one.
ALTER TABLE github_sync_config ADD COLUMN host_paused BIGINT NOT NULL DEFAULT 0;
