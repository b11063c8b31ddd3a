-- One webhook endpoint per institution; secrets sealed under the root key.
CREATE TABLE webhook_endpoints (
    institution_id  text PRIMARY KEY REFERENCES institutions (id),
    url             text NOT NULL,
    secret          bytea NOT NULL,
    previous_secret bytea,
    previous_until  timestamptz,
    disabled_at     timestamptz,
    disabled_reason text NOT NULL DEFAULT '',
    created_at      timestamptz NOT NULL
);

-- Delivery state of each notice: attempts, when next, who holds it, how it ended.
ALTER TABLE outbox ADD COLUMN attempts integer NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN next_at timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE outbox ADD COLUMN lease_until timestamptz NOT NULL DEFAULT '-infinity';
ALTER TABLE outbox ADD COLUMN delivered_at timestamptz;
ALTER TABLE outbox ADD COLUMN dead_at timestamptz;
ALTER TABLE outbox ADD COLUMN last_error text NOT NULL DEFAULT '';
CREATE INDEX outbox_pending ON outbox (link_id, created_at, id) WHERE delivered_at IS NULL AND dead_at IS NULL;
