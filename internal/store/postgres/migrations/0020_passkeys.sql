-- Passkeys (issue 12): WebAuthn credentials a customer signs in with,
-- instead of a password and a code. Nothing here is a secret: the private
-- keys never leave the customers' authenticators.

-- A customer's passkey. id is the credential id the authenticator chose:
-- unique across every account, since it alone names the account at a
-- usernameless sign-in. public_key is the COSE key its signatures are
-- checked with; sign_count the authenticator's counter at the last use (a
-- lower one later means a copied authenticator); flags the authenticator
-- data flags of the last use (user present, user verified, backup
-- eligible, backed up). transports is space-separated. last_used_at is
-- NULL until it signs in.
CREATE TABLE passkeys (
    id                 bytea PRIMARY KEY,
    customer_id        text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    name               text NOT NULL,
    public_key         bytea NOT NULL,
    sign_count         bigint NOT NULL DEFAULT 0,
    transports         text NOT NULL DEFAULT '',
    aaguid             bytea NOT NULL,
    flags              smallint NOT NULL DEFAULT 0,
    attestation_format text NOT NULL DEFAULT '',
    created_at         timestamptz NOT NULL,
    last_used_at       timestamptz
);
CREATE INDEX passkeys_customer ON passkeys (customer_id);

-- A passkey ceremony begun and not yet finished: the challenge the browser
-- was given and what finishing it must check (data: the WebAuthn library's
-- session data, JSON). hash is the SHA-256 of the ceremony's token, held by
-- the browser in a short-lived cookie (sign-in) or derived from its session
-- (registration), so any node can finish what another began. Taking one
-- deletes it: a challenge answers once, and lapses at expires_at.
CREATE TABLE passkey_ceremonies (
    hash         bytea PRIMARY KEY,
    kind         text NOT NULL,
    customer_id  text NOT NULL DEFAULT '',
    email        text NOT NULL DEFAULT '',
    session_hash bytea,
    data         bytea NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX passkey_ceremonies_expiry ON passkey_ceremonies (expires_at);
