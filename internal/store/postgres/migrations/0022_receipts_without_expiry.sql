-- A receipt for a change that has no end of its own (a name shown to an
-- institution's people, say) has no expiry: NULL, as every unset time in
-- this schema, and as the shared scripts (package sqlstore) write it.
-- Receipts written before kept '0001-01-01' for none; they read the same.
ALTER TABLE consent_receipts ALTER COLUMN expires_at DROP NOT NULL;
