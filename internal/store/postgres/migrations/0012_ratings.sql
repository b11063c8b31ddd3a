-- Customers' satisfaction with a resolved conversation: the score, for the
-- supervisors' figures (the comment stays sealed in the conversation), and
-- each change of owner, for response and resolution times.
CREATE TABLE ratings (
    conversation_id text NOT NULL REFERENCES conversations (id),
    request_seq     bigint NOT NULL,
    institution_id  text NOT NULL,
    staff_id        text NOT NULL,
    score           integer NOT NULL,
    created_at      timestamptz NOT NULL,
    PRIMARY KEY (conversation_id, request_seq)
);
CREATE INDEX ratings_institution ON ratings (institution_id, staff_id);
CREATE TABLE handovers (
    conversation_id text NOT NULL,
    institution_id  text NOT NULL,
    from_owner      text NOT NULL,
    to_owner        text NOT NULL,
    agent_id        text NOT NULL,
    at              timestamptz NOT NULL
);
CREATE INDEX handovers_institution ON handovers (institution_id, at);
