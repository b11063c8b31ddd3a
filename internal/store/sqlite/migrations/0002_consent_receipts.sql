-- What the customer chose on the disclosure screen travels with the attempt.
ALTER TABLE link_attempts ADD COLUMN duration_days INTEGER NOT NULL DEFAULT 90;
ALTER TABLE link_attempts ADD COLUMN disclosure_digest TEXT NOT NULL DEFAULT '';

-- Consent evidence: kept after the data it covered is deleted; it holds no
-- financial data.
CREATE TABLE consent_receipts (
    id                TEXT PRIMARY KEY,
    customer_id       TEXT NOT NULL,
    institution_id    TEXT NOT NULL,
    link_id           TEXT NOT NULL,
    action            TEXT NOT NULL,
    scopes            TEXT NOT NULL,
    purpose           TEXT NOT NULL,
    collected_at      INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    method            TEXT NOT NULL,
    disclosure_digest TEXT NOT NULL
);
CREATE INDEX consent_receipts_customer ON consent_receipts (customer_id, collected_at);
