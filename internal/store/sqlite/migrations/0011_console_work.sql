-- How the bank's people work a conversation: its status (open, pending,
-- snoozed until a time, resolved) and priority; their private notes
-- (sealed, never shown to the customer); the institution's canned
-- responses.
ALTER TABLE conversations ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
ALTER TABLE conversations ADD COLUMN snoozed_until INTEGER NOT NULL DEFAULT 0;
ALTER TABLE conversations ADD COLUMN priority INTEGER NOT NULL DEFAULT 0;
CREATE TABLE console_notes (
    id              TEXT PRIMARY KEY,
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    staff_id        TEXT NOT NULL,
    sealed          BLOB NOT NULL,
    created_at      INTEGER NOT NULL
);
CREATE INDEX console_notes_conversation ON console_notes (conversation_id, created_at);
CREATE TABLE canned_responses (
    id             TEXT PRIMARY KEY,
    institution_id TEXT NOT NULL REFERENCES institutions (id),
    title          TEXT NOT NULL,
    text           TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX canned_institution ON canned_responses (institution_id, title);
