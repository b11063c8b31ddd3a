-- One webhook endpoint per institution; secrets sealed under the root key.
CREATE TABLE webhook_endpoints (
    institution_id  TEXT PRIMARY KEY REFERENCES institutions (id),
    url             TEXT NOT NULL,
    secret          BLOB NOT NULL,
    previous_secret BLOB,
    previous_until  INTEGER NOT NULL DEFAULT 0,
    disabled_at     INTEGER NOT NULL DEFAULT 0,
    disabled_reason TEXT NOT NULL DEFAULT '',
    created_at      INTEGER NOT NULL
);

-- Delivery state of each notice: attempts, when next, who holds it, how it ended.
ALTER TABLE outbox ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN lease_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN delivered_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN dead_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN last_error TEXT NOT NULL DEFAULT '';
CREATE INDEX outbox_pending ON outbox (link_id, created_at, id) WHERE delivered_at = 0 AND dead_at = 0;
