-- Sign-in a bank accepts (issue 12): password resets by email, a second
-- factor (TOTP) with recovery codes, re-authentication before the privacy
-- center's irreversible actions, and an institution's brand.

-- A password reset asked for by email. Only the SHA-256 of the link's token
-- is kept; it is spent once (ResetPassword deletes it) and lapses.
CREATE TABLE password_resets (
    token_hash  bytea PRIMARY KEY,
    customer_id text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL
);
CREATE INDEX password_resets_customer ON password_resets (customer_id);

-- When a session's customer last proved who they are again; it goes with
-- the session.
CREATE TABLE session_reauth (
    id_hash bytea PRIMARY KEY REFERENCES sessions (id_hash) ON DELETE CASCADE,
    at      timestamptz NOT NULL
);

-- A customer's second factor: the RFC 6238 secret, sealed by the vault
-- under the customer's sign-in key, never in the clear. confirmed_at is
-- NULL while it is being set up; last_step is the newest time step a code
-- was accepted for, so no code is accepted twice.
CREATE TABLE customer_totp (
    customer_id  text PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    sealed       bytea NOT NULL,
    created_at   timestamptz NOT NULL,
    confirmed_at timestamptz,
    last_step    bigint NOT NULL DEFAULT 0
);

-- Recovery codes: only their SHA-256; each is spent once.
CREATE TABLE recovery_codes (
    customer_id text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    code_hash   bytea NOT NULL,
    created_at  timestamptz NOT NULL,
    used_at     timestamptz,
    PRIMARY KEY (customer_id, code_hash)
);

-- An institution's colour (#rrggbb) and logo (the image's bytes, checked
-- before they are kept), shown on its conversations. Browsers load the logo
-- from the platform, never from the bank.
CREATE TABLE institution_brands (
    institution_id text PRIMARY KEY REFERENCES institutions (id),
    color          text NOT NULL DEFAULT '',
    logo           bytea,
    logo_type      text NOT NULL DEFAULT '',
    updated_at     timestamptz NOT NULL
);
