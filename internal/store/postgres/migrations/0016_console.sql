-- The agent console for a busy shift (issue 12). Presence: each open
-- console holds a lease, renewed while its stream lives and deleted when
-- it closes, so work goes only to agents who are there. Labels the bank's
-- people put on conversations. Partial indexes for the queue's metadata
-- (the customer's and the agents' newest events, fraud alerts): they hold
-- only those rows, so the bank's own events cost nothing more to append.
CREATE TABLE staff_presence (
    stream_id    text PRIMARY KEY,
    staff_id     text NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    session_hash bytea NOT NULL,
    status       text NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX staff_presence_staff ON staff_presence (staff_id);
CREATE TABLE conversation_labels (
    conversation_id text NOT NULL REFERENCES conversations (id),
    label           text NOT NULL,
    staff_id        text NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, label)
);
CREATE INDEX events_by_customer ON events (conversation_id, seq) WHERE author = 'customer';
CREATE INDEX events_by_agent ON events (conversation_id, seq) WHERE author = 'agent';
CREATE INDEX events_fraud ON events (conversation_id, seq) WHERE type IN ('fraud.alert', 'fraud.response');
CREATE INDEX handovers_conversation ON handovers (conversation_id, at);
