-- A bank's own people: agents and supervisors, who sign in to the console
-- separately from customers, and their sessions (only a hash of the token).
CREATE TABLE staff (
    id             text PRIMARY KEY,
    institution_id text NOT NULL REFERENCES institutions (id),
    email          text NOT NULL UNIQUE,
    name           text NOT NULL,
    role           text NOT NULL,
    password_hash  text NOT NULL,
    disabled_at    timestamptz,
    created_at     timestamptz NOT NULL
);
CREATE INDEX staff_institution ON staff (institution_id);
CREATE TABLE staff_sessions (
    id_hash    bytea PRIMARY KEY,
    staff_id   text NOT NULL REFERENCES staff (id) ON DELETE CASCADE,
    csrf_token text NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX staff_sessions_staff ON staff_sessions (staff_id);
CREATE INDEX conversations_owner ON conversations (institution_id, owner) WHERE owner <> 'bot';
