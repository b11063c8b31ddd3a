package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"

	"github.com/openteller/openteller/internal/store"
)

// The access log's appends and its tree's nodes: the single writer gives
// gapless indexes.

func (s *Store) AppendLogEntry(ctx context.Context, e store.LogEntry) (uint64, error) {
	var idx uint64
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		// One writer: the next index is the count, read in the same transaction.
		return c.QueryRowContext(ctx, `INSERT INTO access_entries (idx, subject, data, leaf_hash)
			VALUES ((SELECT coalesce(max(idx) + 1, 0) FROM access_entries), ?, ?, ?) RETURNING idx`,
			e.Subject, string(e.Data), e.LeafHash[:]).Scan(&idx)
	})
	return idx, wrap("AppendLogEntry", err)
}

func (s *Store) LogNodes(ctx context.Context, ids []store.LogNodeID) ([][32]byte, error) {
	var leaves, above [][2]uint64
	for _, id := range ids {
		if id.Level == 0 {
			leaves = append(leaves, [2]uint64{0, id.Index})
		} else {
			above = append(above, [2]uint64{uint64(id.Level), id.Index})
		}
	}
	got := make(map[store.LogNodeID][32]byte, len(ids))
	for _, q := range []struct {
		ids   [][2]uint64
		query string
	}{
		{leaves, `SELECT 0, e.idx, e.leaf_hash FROM json_each(?) j JOIN access_entries e ON e.idx = j.value->>1`},
		{above, `SELECT n.level, n.idx, n.hash FROM json_each(?) j JOIN log_nodes n ON n.level = j.value->>0 AND n.idx = j.value->>1`},
	} {
		if len(q.ids) == 0 {
			continue
		}
		list, err := json.Marshal(q.ids)
		if err != nil {
			return nil, wrap("LogNodes", err)
		}
		rows, err := s.reads.QueryContext(ctx, q.query, string(list))
		if err != nil {
			return nil, wrap("LogNodes", err)
		}
		for rows.Next() {
			var id store.LogNodeID
			var hash []byte
			err := rows.Scan(&id.Level, &id.Index, &hash)
			if err == nil {
				got[id], err = store.Hash32(hash)
			}
			if err != nil {
				rows.Close()
				return nil, wrap("LogNodes", err)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, wrap("LogNodes", err)
		}
	}
	return store.InOrder(ids, got)
}

func (s *Store) PutLogNodes(ctx context.Context, nodes []store.LogNode) error {
	return wrap("PutLogNodes", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		// One statement for all: the kept hash comes back, whether this
		// insert kept it or an earlier one did.
		put, err := c.PrepareContext(ctx, `INSERT INTO log_nodes (level, idx, hash) VALUES (?, ?, ?)
			ON CONFLICT (level, idx) DO UPDATE SET hash = hash RETURNING hash`)
		if err != nil {
			return err
		}
		defer put.Close()
		for _, n := range nodes {
			if n.Level == 0 {
				return fmt.Errorf("sqlite: log node %d/%d: leaves are kept with their entries", n.Level, n.Index)
			}
			var kept []byte
			if err := put.QueryRowContext(ctx, n.Level, n.Index, n.Hash[:]).Scan(&kept); err != nil {
				return err
			}
			if !bytes.Equal(kept, n.Hash[:]) {
				return fmt.Errorf("%w: the kept log node %d/%d has another hash", store.ErrCorrupt, n.Level, n.Index)
			}
		}
		return nil
	}))
}
