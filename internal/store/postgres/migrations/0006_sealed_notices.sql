-- Notices that carry a customer's words or answers are sealed under that
-- customer's key; payload then holds '{}' and sealed the ciphertext.
ALTER TABLE outbox ADD COLUMN customer_id text NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN sealed bytea;

-- Pending notices oldest first, for ClaimNotices to walk and stop at its limit.
CREATE INDEX outbox_due ON outbox (created_at, id) WHERE delivered_at IS NULL AND dead_at IS NULL;
