-- Markers (platform-authored events placed by the shared link scripts)
-- now bump cache_epoch from the one place that inserts them, insertMarker
-- (append.go), instead of from a trigger on every insert into events. Any
-- trigger on an insert makes SQLite give each insert a statement journal,
-- which copied every page an event touched once more: a fifth of the
-- writer's time on the append path.
DROP TRIGGER cache_epoch_markers;
