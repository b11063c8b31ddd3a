package postgres

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/openteller/openteller/internal/store"
)

// The access log's appends and its tree's nodes, in bulk (unnest).

// AppendLogEntry takes a transaction-scoped advisory lock so that nodes
// append one at a time: indexes are gapless, the tree has no holes.
func (s *Store) AppendLogEntry(ctx context.Context, e store.LogEntry) (uint64, error) {
	var idx uint64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('openteller.access_entries'))`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO access_entries (idx, subject, data, leaf_hash)
			VALUES ((SELECT coalesce(max(idx) + 1, 0) FROM access_entries), $1, $2, $3) RETURNING idx`,
			e.Subject, string(e.Data), e.LeafHash[:]).Scan(&idx)
	})
	return idx, wrap("AppendLogEntry", err)
}

func (s *Store) LogNodes(ctx context.Context, ids []store.LogNodeID) ([][32]byte, error) {
	var leaves []int64
	var levels []int16
	var indexes []int64
	for _, id := range ids {
		if id.Level == 0 {
			leaves = append(leaves, int64(id.Index))
		} else {
			levels, indexes = append(levels, int16(id.Level)), append(indexes, int64(id.Index))
		}
	}
	rows, err := s.pool.Query(ctx, `
		SELECT 0::smallint, idx, leaf_hash FROM access_entries WHERE idx = ANY($1)
		UNION ALL
		SELECT n.level, n.idx, n.hash FROM unnest($2::smallint[], $3::bigint[]) AS j(level, idx)
			JOIN log_nodes n ON n.level = j.level AND n.idx = j.idx`, leaves, levels, indexes)
	if err != nil {
		return nil, wrap("LogNodes", err)
	}
	defer rows.Close()
	got := make(map[store.LogNodeID][32]byte, len(ids))
	for rows.Next() {
		var level int16
		var idx int64
		var hash []byte
		if err := rows.Scan(&level, &idx, &hash); err != nil {
			return nil, wrap("LogNodes", err)
		}
		h, err := store.Hash32(hash)
		if err != nil {
			return nil, wrap("LogNodes", err)
		}
		got[store.LogNodeID{Level: uint8(level), Index: uint64(idx)}] = h
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("LogNodes", err)
	}
	return store.InOrder(ids, got)
}

func (s *Store) PutLogNodes(ctx context.Context, nodes []store.LogNode) error {
	levels, indexes, hashes := make([]int16, len(nodes)), make([]int64, len(nodes)), make([][]byte, len(nodes))
	for i, n := range nodes {
		if n.Level == 0 {
			return fmt.Errorf("postgres: log node %d/%d: leaves are kept with their entries", n.Level, n.Index)
		}
		levels[i], indexes[i], hashes[i] = int16(n.Level), int64(n.Index), n.Hash[:]
	}
	// Kept hashes are never replaced: one that disagrees is damage, and
	// then nothing is kept.
	return wrap("PutLogNodes", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The CTE's rows are not visible to the SELECT: it compares with
		// what was kept before, and an error rolls the insert back.
		var disagree int
		err := tx.QueryRow(ctx, `
			WITH put AS (
				INSERT INTO log_nodes (level, idx, hash)
				SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[]) ON CONFLICT DO NOTHING
			)
			SELECT count(*) FROM unnest($1::smallint[], $2::bigint[], $3::bytea[]) AS j(level, idx, hash)
				JOIN log_nodes n ON n.level = j.level AND n.idx = j.idx AND n.hash <> j.hash`, levels, indexes, hashes).Scan(&disagree)
		if err != nil {
			return err
		}
		if disagree > 0 {
			return fmt.Errorf("%w: %d kept log nodes have another hash", store.ErrCorrupt, disagree)
		}
		return nil
	}))
}
