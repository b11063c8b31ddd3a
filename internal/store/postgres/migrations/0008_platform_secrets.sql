-- Secrets of the platform's own, sealed under the root key (vault
-- SealPlatform): the access log's signing seed. Rewrapped with the data
-- keys when the root key rotates.
CREATE TABLE platform_secrets (
    name       text PRIMARY KEY,
    sealed     bytea NOT NULL,
    created_at timestamptz NOT NULL
);
