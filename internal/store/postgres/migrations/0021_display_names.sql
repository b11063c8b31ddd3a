-- Names customers show to an institution's people (store.DisplayName):
-- one per link, sealed under the conversation's data key, never in the
-- clear.
CREATE TABLE display_names (
    link_id        text PRIMARY KEY REFERENCES links (id) ON DELETE CASCADE,
    customer_id    text NOT NULL REFERENCES customers (id) ON DELETE CASCADE,
    institution_id text NOT NULL,
    sealed         bytea NOT NULL,
    set_at         timestamptz NOT NULL
);
CREATE INDEX display_names_owner ON display_names (customer_id, institution_id);
-- A name lives only while the bank's people may see the conversation, and
-- only as long as the key that sealed it: whatever transaction ends the
-- link (revocation, expiry), takes support_chat from it, or destroys the
-- conversation's data key (clearing its history) deletes the name with it,
-- whichever code path makes the change.
CREATE FUNCTION display_names_link_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.status <> 'active' OR position(' support_chat ' IN ' ' || NEW.scopes || ' ') = 0 THEN
        DELETE FROM display_names WHERE link_id = NEW.id;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER display_names_link_changed AFTER UPDATE OF status, scopes ON links
    FOR EACH ROW EXECUTE FUNCTION display_names_link_changed();
CREATE FUNCTION display_names_key_destroyed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM display_names WHERE customer_id || '/' || institution_id = OLD.customer_id;
    RETURN NULL;
END
$$;
CREATE TRIGGER display_names_key_destroyed AFTER DELETE ON data_keys
    FOR EACH ROW EXECUTE FUNCTION display_names_key_destroyed();
