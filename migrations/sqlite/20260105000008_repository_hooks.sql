-- The repository webhook ghsync installs for a config (SPEC.md "Tenants").
--
-- github_sync_config.hook_id: GitHub's id of the hook ghsync installed (or repaired) for the
--   config's own URL; NULL when none is installed (no GHSYNC_PUBLIC_URL, or the token may not
--   manage hooks: the person adds it by hand).
-- github_sync_config.hook_error: why the last installation failed, in words for the person.
ALTER TABLE github_sync_config ADD COLUMN hook_id INTEGER;
ALTER TABLE github_sync_config ADD COLUMN hook_error TEXT;
