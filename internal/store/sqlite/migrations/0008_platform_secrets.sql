-- Secrets of the platform's own, sealed under the root key (vault
-- SealPlatform): the access log's signing seed. Rewrapped with the data
-- keys when the root key rotates.
CREATE TABLE platform_secrets (
    name       TEXT PRIMARY KEY,
    sealed     BLOB NOT NULL,
    created_at INTEGER NOT NULL
);
