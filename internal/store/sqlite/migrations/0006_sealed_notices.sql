-- Notices that carry a customer's words or answers are sealed under that
-- customer's key; payload then holds '{}' and sealed the ciphertext.
ALTER TABLE outbox ADD COLUMN customer_id TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN sealed BLOB;

-- Pending notices oldest first, for ClaimNotices to walk and stop at its limit.
CREATE INDEX outbox_due ON outbox (created_at, id) WHERE delivered_at = 0 AND dead_at = 0;

-- A link's notices go out in the order they were queued: rowid order (one
-- writer), not created_at, which two notices of one instant would share.
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (link_id) WHERE delivered_at = 0 AND dead_at = 0;
