package sqlstore

import (
	"context"

	"github.com/openteller/openteller/internal/store"
)

// The verifiable access log's reads, and its checkpoints. Appending an
// entry and the Merkle tree's kept nodes stay with each store: they take an
// advisory lock on PostgreSQL and write in bulk.

func (db *DB) LogEntries(ctx context.Context, subject string) ([]store.LogEntry, error) {
	out, err := db.logEntries(ctx, `SELECT idx, subject, data, leaf_hash FROM access_entries WHERE subject = ? ORDER BY idx`, subject)
	return out, db.wrap("LogEntries", err)
}

func (db *DB) LogRange(ctx context.Context, from, to uint64) ([]store.LogEntry, error) {
	out, err := db.logEntries(ctx, `SELECT idx, subject, data, leaf_hash FROM access_entries WHERE idx >= ? AND idx < ? ORDER BY idx`, from, to)
	return out, db.wrap("LogRange", err)
}

func (db *DB) logEntries(ctx context.Context, query string, args ...any) ([]store.LogEntry, error) {
	return all(func(row Row) (store.LogEntry, error) {
		var e store.LogEntry
		var data string
		var leaf []byte
		err := row.Scan(&e.Index, &e.Subject, &data, &leaf)
		e.Data = []byte(data)
		copy(e.LeafHash[:], leaf)
		return e, err
	})(db.reads().Query(ctx, query, args...))
}

func (db *DB) LeafHashes(ctx context.Context, from, to uint64) ([][32]byte, error) {
	rows, err := db.reads().Query(ctx, `SELECT leaf_hash FROM access_entries WHERE idx >= ? AND idx < ? ORDER BY idx`, from, to)
	if err != nil {
		return nil, db.wrap("LeafHashes", err)
	}
	defer rows.Close()
	out := make([][32]byte, 0, to-min(from, to))
	for rows.Next() {
		var leaf []byte
		if err := rows.Scan(&leaf); err != nil {
			return nil, db.wrap("LeafHashes", err)
		}
		h, err := store.Hash32(leaf)
		if err != nil {
			return nil, db.wrap("LeafHashes", err)
		}
		out = append(out, h)
	}
	return out, db.wrap("LeafHashes", rows.Err())
}

func (db *DB) LogNodesCover(ctx context.Context) (cover, kept uint64, err error) {
	err = db.reads().QueryRow(ctx, `SELECT coalesce(max(idx) FILTER (WHERE level = 1) + 1, 0) * 2, count(*) FROM log_nodes`).Scan(&cover, &kept)
	return cover, kept, db.wrap("LogNodesCover", err)
}

func (db *DB) LogSize(ctx context.Context) (uint64, error) {
	var n uint64
	err := db.reads().QueryRow(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM access_entries`).Scan(&n)
	return n, db.wrap("LogSize", err)
}

func (db *DB) PutCheckpoint(ctx context.Context, c store.StoredCheckpoint) error {
	_, err := db.exec(ctx, `INSERT INTO log_checkpoints (size, note, created_at) VALUES (?, ?, ?) ON CONFLICT (size) DO NOTHING`,
		c.Size, c.Note, c.CreatedAt)
	return db.wrap("PutCheckpoint", err)
}

func (db *DB) Checkpoints(ctx context.Context) ([]store.StoredCheckpoint, error) {
	out, err := all(func(row Row) (store.StoredCheckpoint, error) {
		var c store.StoredCheckpoint
		return c, row.Scan(&c.Size, &c.Note, &c.CreatedAt)
	})(db.reads().Query(ctx, `SELECT size, note, created_at FROM log_checkpoints ORDER BY size`))
	return out, db.wrap("Checkpoints", err)
}
