-- Scopes are space-separated.
CREATE TABLE institutions (
    id            text PRIMARY KEY,
    name          text NOT NULL,
    authorize_url text NOT NULL,
    token_url     text NOT NULL,
    client_id     text NOT NULL,
    client_secret text NOT NULL DEFAULT '',
    created_at    timestamptz NOT NULL
);

CREATE TABLE api_keys (
    id             text PRIMARY KEY,
    institution_id text NOT NULL REFERENCES institutions (id),
    hash           bytea NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz
);
CREATE INDEX api_keys_institution ON api_keys (institution_id);

CREATE TABLE customers (
    id            text PRIMARY KEY,
    email         text NOT NULL UNIQUE,
    password_hash text NOT NULL,
    created_at    timestamptz NOT NULL
);

CREATE TABLE sessions (
    id_hash     bytea PRIMARY KEY,
    customer_id text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    csrf_token  text NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);

CREATE TABLE data_keys (
    customer_id      text PRIMARY KEY,
    version          integer NOT NULL,
    root_key_version integer NOT NULL,
    wrapped          bytea NOT NULL,
    created_at       timestamptz NOT NULL
);

CREATE TABLE link_attempts (
    state_hash     bytea PRIMARY KEY,
    customer_id    text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    institution_id text NOT NULL REFERENCES institutions (id),
    link_id        text NOT NULL,
    code_verifier  text NOT NULL,
    scopes         text NOT NULL,
    expires_at     timestamptz NOT NULL
);

CREATE TABLE conversations (
    id             text PRIMARY KEY,
    customer_id    text NOT NULL REFERENCES customers (id),
    institution_id text NOT NULL REFERENCES institutions (id),
    last_seq       bigint NOT NULL DEFAULT 0,
    created_at     timestamptz NOT NULL,
    UNIQUE (customer_id, institution_id)
);

CREATE TABLE links (
    id              text PRIMARY KEY,
    customer_id     text NOT NULL REFERENCES customers (id),
    institution_id  text NOT NULL REFERENCES institutions (id),
    conversation_id text NOT NULL REFERENCES conversations (id),
    scopes          text NOT NULL,
    status          text NOT NULL,
    created_at      timestamptz NOT NULL,
    expires_at      timestamptz NOT NULL,
    revoked_at      timestamptz
);
CREATE INDEX links_conversation ON links (conversation_id, created_at);

CREATE TABLE events (
    conversation_id text NOT NULL REFERENCES conversations (id),
    seq             bigint NOT NULL,
    id              text NOT NULL,
    customer_id     text NOT NULL,
    institution_id  text NOT NULL,
    link_id         text NOT NULL,
    bank_event_id   text,
    type            text NOT NULL,
    author          text NOT NULL,
    occurred_at     timestamptz NOT NULL,
    received_at     timestamptz NOT NULL,
    fingerprint     bytea,
    pending_ref     bytea,
    replaces_seq    bigint NOT NULL DEFAULT 0,
    sealed          bytea NOT NULL,
    PRIMARY KEY (conversation_id, seq)
);
CREATE UNIQUE INDEX events_bank_id ON events (institution_id, bank_event_id) WHERE bank_event_id IS NOT NULL;
CREATE INDEX events_pending_ref ON events (conversation_id, pending_ref) WHERE pending_ref IS NOT NULL;

-- Notices to institutions, written in the same transaction as their cause;
-- delivered as signed webhooks. Payloads carry ids, never financial data.
CREATE TABLE outbox (
    id             text PRIMARY KEY,
    institution_id text NOT NULL REFERENCES institutions (id),
    link_id        text NOT NULL,
    type           text NOT NULL,
    payload        jsonb NOT NULL,
    created_at     timestamptz NOT NULL
);
CREATE INDEX outbox_institution ON outbox (institution_id, created_at);
