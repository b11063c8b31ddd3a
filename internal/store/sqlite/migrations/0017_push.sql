-- Web Push subscriptions: one row per device of a customer that asked to be
-- told when something waits for it. The endpoint is the device's address
-- at its browser's push service; p256dh and auth are the keys a push is
-- encrypted to (RFC 8291). kinds is a space-separated list.
CREATE TABLE push_subscriptions (
    id          TEXT PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    endpoint    TEXT NOT NULL,
    p256dh      TEXT NOT NULL,
    auth        TEXT NOT NULL,
    kinds       TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
CREATE INDEX push_subscriptions_customer ON push_subscriptions (customer_id);
