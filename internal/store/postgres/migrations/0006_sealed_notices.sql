-- Notices that carry a customer's words or answers are sealed under that
-- customer's key; payload then holds '{}' and sealed the ciphertext.
ALTER TABLE outbox ADD COLUMN customer_id text NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN sealed bytea;
