-- Read-only access an owner grants another customer to one link.
CREATE TABLE delegations (
    id             TEXT PRIMARY KEY,
    link_id        TEXT NOT NULL REFERENCES links (id),
    owner_id       TEXT NOT NULL,
    delegate_id    TEXT NOT NULL,
    scopes         TEXT NOT NULL,
    created_at     INTEGER NOT NULL,
    expires_at     INTEGER NOT NULL,
    revoked_at     INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX delegations_link ON delegations (link_id);
CREATE INDEX delegations_delegate ON delegations (delegate_id);

-- Every read of a customer's data by anyone but their own devices, written
-- before the data is returned. Whose: a per-customer pseudonym. No content.
-- The privacy issue replaces this with a verifiable Merkle log.
CREATE TABLE access_log (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    actor_kind  TEXT NOT NULL,
    actor_id    TEXT NOT NULL,
    action      TEXT NOT NULL,
    record_kind TEXT NOT NULL,
    subject     TEXT NOT NULL,
    at          INTEGER NOT NULL
);
CREATE INDEX access_log_subject ON access_log (subject, id);
