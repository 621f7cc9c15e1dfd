-- Two-way sync that never loses an edit (docs/two-way.md).
--
-- sync_outbox.claim_token: the token of the claim that holds the entry (with lease_until, its
--   lifetime). A push records its write and its outcome only while the entry still carries
--   its token, so a push that outlived its claim changes nothing.
-- sync_outbox.parked: 'refused' (GitHub refused the edit: it goes again when its cause may
--   have changed, and hourly) or 'one_way' (two-way sync is off: it goes again when two-way is
--   turned on). NULL: due at next_attempt_at.
-- sync_outbox.in_flight: JSON of the fields of a write sent to GitHub whose answer is not
--   recorded yet; its echo or its answer, however late, is then known as ghsync's own. For a
--   publication, what was posted.
-- sync_outbox.kind: 'push' (a linked task's edit) or 'publish' (an unlinked task being opened
--   as an issue).
ALTER TABLE sync_outbox ADD COLUMN claim_token TEXT;
ALTER TABLE sync_outbox ADD COLUMN parked TEXT CHECK (parked IN ('refused', 'one_way'));
ALTER TABLE sync_outbox ADD COLUMN in_flight TEXT;
ALTER TABLE sync_outbox ADD COLUMN kind TEXT NOT NULL DEFAULT 'push' CHECK (kind IN ('push', 'publish'));
