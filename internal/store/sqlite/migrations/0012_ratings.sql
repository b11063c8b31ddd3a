-- Customers' satisfaction with a resolved conversation: the score, for the
-- supervisors' figures (the comment stays sealed in the conversation), and
-- each change of owner, for response and resolution times.
CREATE TABLE ratings (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    request_seq     INTEGER NOT NULL,
    institution_id  TEXT NOT NULL,
    staff_id        TEXT NOT NULL,
    score           INTEGER NOT NULL,
    created_at      INTEGER NOT NULL,
    PRIMARY KEY (conversation_id, request_seq)
);
CREATE INDEX ratings_institution ON ratings (institution_id, staff_id);
CREATE TABLE handovers (
    conversation_id TEXT NOT NULL,
    institution_id  TEXT NOT NULL,
    from_owner      TEXT NOT NULL,
    to_owner        TEXT NOT NULL,
    agent_id        TEXT NOT NULL,
    at              INTEGER NOT NULL
);
CREATE INDEX handovers_institution ON handovers (institution_id, at);
