package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/sqlstore"
)

// engine gives the shared scripts (package sqlstore) SQLite: the read pool,
// the writer's group commit, and the writer's cached statements for links
// and markers.
type engine struct{ s *Store }

func (e engine) Name() string            { return "sqlite" }
func (e engine) Reads() sqlstore.Querier { return sqlstore.SQL{D: sqlstore.SQLite, C: e.s.prepared} }
func (e engine) IsUnique(err error) bool { return isUnique(err) }
func (e engine) Now() time.Time          { return e.s.now() }

// Shredded makes the writer (or failing it the checkpointer) empty the
// WAL, whose older frames still hold the deleted rows.
func (e engine) Shredded() { e.s.shred.Add(1) }

func (e engine) Write(ctx context.Context, fn func(ctx context.Context, q sqlstore.Querier) error) error {
	return e.s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		return fn(ctx, sqlstore.SQL{D: sqlstore.SQLite, C: c})
	})
}

// LockLink needs no lock: the writer is the only one.
func (e engine) LockLink(ctx context.Context, _ sqlstore.Querier, id string) (store.Link, int64, error) {
	var last int64
	l, err := scanLink(e.s.stmts.link.QueryRowContext(ctx, id), &last)
	return l, last, err
}

func (e engine) AppendMarker(ctx context.Context, _ sqlstore.Querier, m *store.NewEvent) error {
	return e.s.insertMarker(ctx, m)
}

// preparedReads prepares each read's SQL once on the read pool
// (database/sql keeps a copy per pooled connection): parsing a statement
// costs SQLite more than running these small reads. Past maxPrepared
// texts (IN lists of every length, say) reads are parsed each time.
type preparedReads struct {
	db    *sql.DB
	stmts sync.Map // query text → *sql.Stmt
	n     atomic.Int64
}

const maxPrepared = 512

func (p *preparedReads) stmt(ctx context.Context, query string) (*sql.Stmt, bool) {
	if st, ok := p.stmts.Load(query); ok {
		return st.(*sql.Stmt), true
	}
	if p.n.Load() >= maxPrepared {
		return nil, false
	}
	st, err := p.db.PrepareContext(ctx, query)
	if err != nil {
		return nil, false // the unprepared call reports the error
	}
	if prev, loaded := p.stmts.LoadOrStore(query, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), true
	}
	p.n.Add(1)
	return st, true
}

func (p *preparedReads) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	return p.db.ExecContext(ctx, query, args...) // the read pool is query_only: nothing to prepare for
}

func (p *preparedReads) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st, ok := p.stmt(ctx, query); ok {
		return st.QueryContext(ctx, args...)
	}
	return p.db.QueryContext(ctx, query, args...)
}

func (p *preparedReads) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st, ok := p.stmt(ctx, query); ok {
		return st.QueryRowContext(ctx, args...)
	}
	return p.db.QueryRowContext(ctx, query, args...)
}

// Exec runs one statement through the writer, committed with the writes
// waiting with it.
func (e engine) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	var n int64
	err := e.s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		var err error
		n, err = sqlstore.SQL{D: sqlstore.SQLite, C: c}.Exec(ctx, query, args...)
		return err
	})
	return n, err
}
