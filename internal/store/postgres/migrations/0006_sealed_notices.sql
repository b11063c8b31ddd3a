-- Notices that carry a customer's words or answers are sealed under that
-- customer's key; payload then holds '{}' and sealed the ciphertext.
ALTER TABLE outbox ADD COLUMN customer_id text NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN sealed bytea;

-- Pending notices oldest first, for ClaimNotices to walk and stop at its limit.
CREATE INDEX outbox_due ON outbox (created_at, id) WHERE delivered_at IS NULL AND dead_at IS NULL;

-- A link's notices go out in the order they were queued. seq is taken
-- after the link is locked, so for one link it follows commit order even
-- across nodes whose clocks disagree; created_at would not.
ALTER TABLE outbox ADD COLUMN seq bigserial;
DROP INDEX outbox_pending;
CREATE INDEX outbox_pending ON outbox (link_id, seq) WHERE delivered_at IS NULL AND dead_at IS NULL;
