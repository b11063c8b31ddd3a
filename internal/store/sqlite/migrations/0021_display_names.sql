-- Names customers show to an institution's people (store.DisplayName):
-- one per link, sealed under the conversation's data key, never in the
-- clear.
CREATE TABLE display_names (
    link_id        TEXT PRIMARY KEY REFERENCES links (id) ON DELETE CASCADE,
    customer_id    TEXT NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    institution_id TEXT NOT NULL,
    sealed         BLOB NOT NULL,
    set_at         INTEGER NOT NULL
);
CREATE INDEX display_names_owner ON display_names (customer_id, institution_id);
-- A name lives only while the bank's people may see the conversation, and
-- only as long as the key that sealed it: whatever transaction ends the
-- link (revocation, expiry), takes support_chat from it, or destroys the
-- conversation's data key (clearing its history) deletes the name with it,
-- whichever code path makes the change.
CREATE TRIGGER display_names_link_changed AFTER UPDATE OF status, scopes ON links
    WHEN NEW.status <> 'active' OR instr(' ' || NEW.scopes || ' ', ' support_chat ') = 0
BEGIN
    DELETE FROM display_names WHERE link_id = NEW.id;
END;
CREATE TRIGGER display_names_key_destroyed AFTER DELETE ON data_keys
BEGIN
    DELETE FROM display_names WHERE customer_id || '/' || institution_id = OLD.customer_id;
END;
