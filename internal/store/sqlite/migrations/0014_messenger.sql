-- What an institution's endpoint expects (issue 13): '' for Standard
-- Webhooks, 'messenger' for the Messenger Platform's shape and signatures.
-- The same outbox feeds both; only the request differs.
ALTER TABLE webhook_endpoints ADD COLUMN format TEXT NOT NULL DEFAULT '';

-- The bank's menu in its conversations (the messenger's ☰) and the payload
-- of the first tap of a new conversation ("Get started"): set through the
-- Messenger Platform's messenger_profile. Items are JSON
-- ([{"title","payload","url"}]); nothing here is a customer's.
CREATE TABLE institution_menus (
    institution_id TEXT PRIMARY KEY REFERENCES institutions (id),
    get_started    TEXT NOT NULL DEFAULT '',
    items          TEXT NOT NULL DEFAULT '[]',
    updated_at     INTEGER NOT NULL
);
