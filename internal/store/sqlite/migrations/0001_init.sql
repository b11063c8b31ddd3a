-- Times are Unix microseconds (INTEGER). Scopes are space-separated.
CREATE TABLE institutions (
    id            TEXT PRIMARY KEY,
    name          TEXT NOT NULL,
    authorize_url TEXT NOT NULL,
    token_url     TEXT NOT NULL,
    client_id     TEXT NOT NULL,
    client_secret TEXT NOT NULL DEFAULT '',
    created_at    INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id             TEXT PRIMARY KEY,
    institution_id TEXT NOT NULL REFERENCES institutions (id),
    hash           BLOB NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX api_keys_institution ON api_keys (institution_id);

CREATE TABLE customers (
    id            TEXT PRIMARY KEY,
    email         TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    created_at    INTEGER NOT NULL
);

CREATE TABLE sessions (
    id_hash     BLOB PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    csrf_token  TEXT NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);

CREATE TABLE data_keys (
    customer_id      TEXT PRIMARY KEY,
    version          INTEGER NOT NULL,
    root_key_version INTEGER NOT NULL,
    wrapped          BLOB NOT NULL,
    created_at       INTEGER NOT NULL
);

CREATE TABLE link_attempts (
    state_hash     BLOB PRIMARY KEY,
    customer_id    TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    institution_id TEXT NOT NULL REFERENCES institutions (id),
    link_id        TEXT NOT NULL,
    code_verifier  TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    expires_at     INTEGER NOT NULL
);

CREATE TABLE conversations (
    id             TEXT PRIMARY KEY,
    customer_id    TEXT NOT NULL REFERENCES customers (id),
    institution_id TEXT NOT NULL REFERENCES institutions (id),
    created_at     INTEGER NOT NULL,
    UNIQUE (customer_id, institution_id)
);

CREATE TABLE links (
    id              TEXT PRIMARY KEY,
    customer_id     TEXT NOT NULL REFERENCES customers (id),
    institution_id  TEXT NOT NULL REFERENCES institutions (id),
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    scopes          TEXT NOT NULL,
    status          TEXT NOT NULL,
    created_at      INTEGER NOT NULL,
    expires_at      INTEGER NOT NULL,
    revoked_at      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX links_conversation ON links (conversation_id, created_at);

-- A rowid table: rows arrive in commit order and append at the B-tree's right
-- edge; the slim unique index keeps each conversation's sequence.
CREATE TABLE events (
    conversation_id TEXT NOT NULL REFERENCES conversations (id),
    seq             INTEGER NOT NULL,
    id              TEXT NOT NULL,
    customer_id     TEXT NOT NULL,
    institution_id  TEXT NOT NULL,
    link_id         TEXT NOT NULL,
    bank_event_id   TEXT,
    type            TEXT NOT NULL,
    author          TEXT NOT NULL,
    occurred_at     INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    fingerprint     BLOB,
    pending_ref     BLOB,
    replaces_seq    INTEGER NOT NULL DEFAULT 0,
    sealed          BLOB NOT NULL
);
CREATE UNIQUE INDEX events_conversation_seq ON events (conversation_id, seq);
CREATE UNIQUE INDEX events_bank_id ON events (institution_id, bank_event_id) WHERE bank_event_id IS NOT NULL;
CREATE INDEX events_pending_ref ON events (conversation_id, pending_ref) WHERE pending_ref IS NOT NULL;

-- Notices to institutions, written in the same transaction as their cause;
-- delivered as signed webhooks. Payloads carry ids, never financial data.
CREATE TABLE outbox (
    id             TEXT PRIMARY KEY,
    institution_id TEXT NOT NULL REFERENCES institutions (id),
    link_id        TEXT NOT NULL,
    type           TEXT NOT NULL,
    payload        TEXT NOT NULL,
    created_at     INTEGER NOT NULL
);
CREATE INDEX outbox_institution ON outbox (institution_id, created_at);
