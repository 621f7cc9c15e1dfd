-- When a config's syncs started failing (operations: the "config failing for an hour" alarm).
--
-- github_sync_config.failing_since: the end of the first failed run of the current streak
--   (an RFC 3339 text timestamp like every other); NULL while the last run succeeded.
ALTER TABLE github_sync_config ADD COLUMN failing_since TEXT;
