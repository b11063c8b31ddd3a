-- How the bank's people work a conversation: its status (open, pending,
-- snoozed until a time, resolved) and priority; their private notes
-- (sealed, never shown to the customer); the institution's canned
-- responses.
ALTER TABLE conversations ADD COLUMN status text NOT NULL DEFAULT 'open';
ALTER TABLE conversations ADD COLUMN snoozed_until timestamptz;
ALTER TABLE conversations ADD COLUMN priority integer NOT NULL DEFAULT 0;
CREATE TABLE console_notes (
    id              text PRIMARY KEY,
    conversation_id text NOT NULL REFERENCES conversations (id),
    staff_id        text NOT NULL,
    sealed          bytea NOT NULL,
    created_at      timestamptz NOT NULL
);
CREATE INDEX console_notes_conversation ON console_notes (conversation_id, created_at);
CREATE TABLE canned_responses (
    id             text PRIMARY KEY,
    institution_id text NOT NULL REFERENCES institutions (id),
    title          text NOT NULL,
    text           text NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX canned_institution ON canned_responses (institution_id, title);
