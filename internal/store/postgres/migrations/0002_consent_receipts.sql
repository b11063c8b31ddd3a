-- What the customer chose on the disclosure screen travels with the attempt.
ALTER TABLE link_attempts ADD COLUMN duration_days integer NOT NULL DEFAULT 90;
ALTER TABLE link_attempts ADD COLUMN disclosure_digest text NOT NULL DEFAULT '';

-- Consent evidence: kept after the data it covered is deleted; it holds no
-- financial data.
CREATE TABLE consent_receipts (
    id                text PRIMARY KEY,
    customer_id       text NOT NULL,
    institution_id    text NOT NULL,
    link_id           text NOT NULL,
    action            text NOT NULL,
    scopes            text NOT NULL,
    purpose           text NOT NULL,
    collected_at      timestamptz NOT NULL,
    expires_at        timestamptz NOT NULL,
    method            text NOT NULL,
    disclosure_digest text NOT NULL
);
CREATE INDEX consent_receipts_customer ON consent_receipts (customer_id, collected_at);
