-- Read-only access an owner grants another customer to one link.
CREATE TABLE delegations (
    id             text PRIMARY KEY,
    link_id        text NOT NULL REFERENCES links (id),
    owner_id       text NOT NULL,
    delegate_id    text NOT NULL,
    scopes         text NOT NULL,
    created_at     timestamptz NOT NULL,
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz
);
CREATE INDEX delegations_link ON delegations (link_id);
CREATE INDEX delegations_delegate ON delegations (delegate_id);

-- Every read of a customer's data by anyone but their own devices, written
-- before the data is returned. Whose: a per-customer pseudonym. No content.
-- The privacy issue replaces this with a verifiable Merkle log.
CREATE TABLE access_log (
    id          bigserial PRIMARY KEY,
    actor_kind  text NOT NULL,
    actor_id    text NOT NULL,
    action      text NOT NULL,
    record_kind text NOT NULL,
    subject     text NOT NULL,
    at          timestamptz NOT NULL
);
CREATE INDEX access_log_subject ON access_log (subject, id);
