-- What the reconciler keeps per config (documented in README.md, "Reconcile").
--
-- list_watermark: the `since` of the next catch-up listing: the newest GitHub `updated_at`
--   seen, minus a safety overlap (never past an issue that moved during a listing).
-- probe_url / probe_etag: the last (partial) page of the last listing and its ETag. With
--   `sort=updated&direction=asc` every change lands on that page, so a 304 for it means
--   nothing changed: an unchanged repository costs one conditional request.
-- last_full_pass_at: when the whole repository was last listed (to find deleted and
--   transferred issues).
-- consecutive_failures: the exponent of the backoff after failed runs.
-- lease_token / lease_until: the claim of the run that is syncing the config; an expired
--   lease (a run that died) can be claimed again.
ALTER TABLE github_sync_config ADD COLUMN list_watermark TEXT;
ALTER TABLE github_sync_config ADD COLUMN probe_url TEXT;
ALTER TABLE github_sync_config ADD COLUMN probe_etag TEXT;
ALTER TABLE github_sync_config ADD COLUMN last_full_pass_at TEXT;
ALTER TABLE github_sync_config ADD COLUMN consecutive_failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE github_sync_config ADD COLUMN lease_token TEXT;
ALTER TABLE github_sync_config ADD COLUMN lease_until TEXT;

-- Recent webhook activity of a repository (a reason to poll it every 30 s).
CREATE INDEX idx_webhook_deliveries_repo ON webhook_deliveries(lower(repo_full_name), received_at);
-- History pruning and the abandoned-run check, per config.
CREATE INDEX idx_sync_history_config_started ON sync_history(sync_config_id, started_at);
