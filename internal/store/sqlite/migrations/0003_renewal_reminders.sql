-- When the customer was told this term is ending; renewal clears it.
ALTER TABLE links ADD COLUMN reminded_at INTEGER NOT NULL DEFAULT 0;
