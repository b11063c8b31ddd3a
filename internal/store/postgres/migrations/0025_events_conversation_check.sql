-- An event's conversation is no longer checked by a foreign key. The key
-- ran a query per inserted row (a share lock on the conversation), which
-- made a group of 400 events 2.4 times slower to insert and the node's
-- delivered events a second 20 to 30% fewer (BENCHMARKS.md, 2026-12-05).
-- The check it made is made by the append instead, under a stronger lock:
-- every transaction that stores events first locks each link and its
-- conversation FOR UPDATE, and store.Append refuses a link whose
-- conversation it could not lock (TestAppendNeedsItsConversation).
-- Conversations are never deleted.
ALTER TABLE events DROP CONSTRAINT IF EXISTS events_conversation_id_fkey;
