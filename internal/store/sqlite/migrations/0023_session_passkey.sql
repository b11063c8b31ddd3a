-- Which passkey, if any, signed a session in (its credential id; NULL for
-- a password): removing that passkey ends the session, in the same
-- transaction (store.DeletePasskey), so a lost phone's passkey taken off
-- the account signs the phone out too. The index holds only the sessions
-- a passkey began.
ALTER TABLE sessions ADD COLUMN passkey_id BLOB;
CREATE INDEX sessions_passkey ON sessions (passkey_id) WHERE passkey_id IS NOT NULL;
