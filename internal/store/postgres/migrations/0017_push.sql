-- Web Push subscriptions: one row per device of a customer that asked to be
-- told when something waits for it. The endpoint is the device's address
-- at its browser's push service; p256dh and auth are the keys a push is
-- encrypted to (RFC 8291). kinds is a space-separated list.
CREATE TABLE push_subscriptions (
    id          text PRIMARY KEY,
    customer_id text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    endpoint    text NOT NULL,
    p256dh      text NOT NULL,
    auth        text NOT NULL,
    kinds       text NOT NULL,
    created_at  timestamptz NOT NULL
);
CREATE INDEX push_subscriptions_customer ON push_subscriptions (customer_id);
