-- A bank's own people: agents and supervisors, who sign in to the console
-- separately from customers, and their sessions (only a hash of the token).
CREATE TABLE staff (
    id             TEXT PRIMARY KEY,
    institution_id TEXT NOT NULL REFERENCES institutions (id),
    email          TEXT NOT NULL UNIQUE,
    name           TEXT NOT NULL,
    role           TEXT NOT NULL,
    password_hash  TEXT NOT NULL,
    disabled_at    INTEGER NOT NULL DEFAULT 0,
    created_at     INTEGER NOT NULL
);
CREATE INDEX staff_institution ON staff (institution_id);
CREATE TABLE staff_sessions (
    id_hash    BLOB PRIMARY KEY,
    staff_id   TEXT NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);
CREATE INDEX conversations_owner ON conversations (institution_id, owner) WHERE owner <> 'bot';
