-- Sign-in a bank accepts (issue 12): password resets by email, a second
-- factor (TOTP) with recovery codes, re-authentication before the privacy
-- center's irreversible actions, and an institution's brand.

-- A password reset asked for by email. Only the SHA-256 of the link's token
-- is kept; it is spent once (ResetPassword deletes it) and lapses.
CREATE TABLE password_resets (
    token_hash  BLOB PRIMARY KEY,
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL
);
CREATE INDEX password_resets_customer ON password_resets (customer_id);

-- When a session's customer last proved who they are again; it goes with
-- the session.
CREATE TABLE session_reauth (
    id_hash BLOB PRIMARY KEY REFERENCES sessions (id_hash) ON DELETE CASCADE,
    at      INTEGER NOT NULL
);

-- A customer's second factor: the RFC 6238 secret, sealed by the vault
-- under the customer's sign-in key, never in the clear. confirmed_at is 0
-- while it is being set up; last_step is the newest time step a code was
-- accepted for, so no code is accepted twice.
CREATE TABLE customer_totp (
    customer_id  TEXT PRIMARY KEY REFERENCES customers (id) ON DELETE CASCADE,
    sealed       BLOB NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER NOT NULL DEFAULT 0,
    last_step    INTEGER NOT NULL DEFAULT 0
);

-- Recovery codes: only their SHA-256; each is spent once.
CREATE TABLE recovery_codes (
    customer_id TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    code_hash   BLOB NOT NULL,
    created_at  INTEGER NOT NULL,
    used_at     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (customer_id, code_hash)
);

-- An institution's colour (#rrggbb) and logo (the image's bytes, checked
-- before they are kept), shown on its conversations. Browsers load the logo
-- from the platform, never from the bank.
CREATE TABLE institution_brands (
    institution_id TEXT PRIMARY KEY REFERENCES institutions (id),
    color          TEXT NOT NULL DEFAULT '',
    logo           BLOB,
    logo_type      TEXT NOT NULL DEFAULT '',
    updated_at     INTEGER NOT NULL
);
