-- The writer's append cache (sqlite.go, appendCache) checks itself against
-- this counter: any change to a link, a data key, or a conversation's
-- events other than an append bumps it, whoever makes it (this node's
-- writer, or another process on the same file), and the writer empties its
-- cache when the counter moved. Platform-authored events (markers) are
-- inserted outside the append path, so they bump it too.
CREATE TABLE cache_epoch (n INTEGER NOT NULL);
INSERT INTO cache_epoch (n) VALUES (0);
CREATE TRIGGER cache_epoch_links_insert AFTER INSERT ON links BEGIN UPDATE cache_epoch SET n = n + 1; END;
CREATE TRIGGER cache_epoch_links_update AFTER UPDATE ON links BEGIN UPDATE cache_epoch SET n = n + 1; END;
CREATE TRIGGER cache_epoch_links_delete AFTER DELETE ON links BEGIN UPDATE cache_epoch SET n = n + 1; END;
CREATE TRIGGER cache_epoch_keys_insert AFTER INSERT ON data_keys BEGIN UPDATE cache_epoch SET n = n + 1; END;
CREATE TRIGGER cache_epoch_keys_update AFTER UPDATE ON data_keys BEGIN UPDATE cache_epoch SET n = n + 1; END;
CREATE TRIGGER cache_epoch_keys_delete AFTER DELETE ON data_keys BEGIN UPDATE cache_epoch SET n = n + 1; END;
CREATE TRIGGER cache_epoch_events_delete AFTER DELETE ON events BEGIN UPDATE cache_epoch SET n = n + 1; END;
CREATE TRIGGER cache_epoch_markers AFTER INSERT ON events WHEN NEW.author = 'platform' BEGIN UPDATE cache_epoch SET n = n + 1; END;
