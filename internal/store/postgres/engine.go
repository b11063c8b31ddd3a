package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/sqlstore"
)

// engine gives the shared scripts (package sqlstore) PostgreSQL: the pool
// for reads, a transaction per write, row locks.
type engine struct{ s *Store }

func (e engine) Name() string            { return "postgres" }
func (e engine) Reads() sqlstore.Querier { return pgq{e.s.pool} }
func (e engine) IsUnique(err error) bool { return isUnique(err) }
func (e engine) Now() time.Time          { return e.s.now() }
func (e engine) Shredded()               {}

func (e engine) Write(ctx context.Context, fn func(ctx context.Context, q sqlstore.Querier) error) error {
	return pgx.BeginFunc(ctx, e.s.pool, func(tx pgx.Tx) error { return fn(ctx, pgq{tx}) })
}

func (e engine) LockLink(ctx context.Context, q sqlstore.Querier, id string) (store.Link, int64, error) {
	return lockLink(ctx, q.(pgq).c.(pgx.Tx), id)
}

func (e engine) AppendMarker(ctx context.Context, q sqlstore.Querier, m *store.NewEvent) error {
	return appendMarker(ctx, q.(pgq).c.(pgx.Tx), m)
}

// pgq runs the shared scripts' SQL on a pool or in a transaction.
type pgq struct {
	c interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (q pgq) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := q.c.Exec(ctx, sqlstore.Postgres.Rewrite(query), sqlstore.Postgres.Args(args)...)
	return tag.RowsAffected(), err
}

func (q pgq) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := q.c.Query(ctx, sqlstore.Postgres.Rewrite(query), sqlstore.Postgres.Args(args)...)
	if err != nil {
		return nil, err
	}
	return pgRows{rows}, nil
}

func (q pgq) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return pgRow{q.c.QueryRow(ctx, sqlstore.Postgres.Rewrite(query), sqlstore.Postgres.Args(args)...)}
}

type pgRow struct{ r pgx.Row }

func (r pgRow) Scan(dest ...any) error { return r.r.Scan(sqlstore.ScanDest(dest)...) }

type pgRows struct{ r pgx.Rows }

func (r pgRows) Next() bool             { return r.r.Next() }
func (r pgRows) Scan(dest ...any) error { return r.r.Scan(sqlstore.ScanDest(dest)...) }
func (r pgRows) Err() error             { return r.r.Err() }
func (r pgRows) Close()                 { r.r.Close() }

// Exec runs one statement on the pool: PostgreSQL commits it on its own.
func (e engine) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	return pgq{e.s.pool}.Exec(ctx, query, args...)
}
