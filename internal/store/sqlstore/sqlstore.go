// Package sqlstore is the store's transaction scripts written once, in SQL
// that both the SQLite and the PostgreSQL stores run: creating a link and
// revoking it, narrowing consent, clearing a history, sessions, staff, the
// console's records. Each aggregate has its file (links.go, customers.go,
// console.go …); the two store packages embed a DB and keep only what truly
// differs between the engines: opening, pools, SQLite's group-commit writer,
// the append hot path, bulk writes, the outbox's claim, migrations.
//
// The SQL is written once with three conventions, which Dialect rewrites
// for each engine (once per query text; see rewrite.go):
//
//   - Placeholders are ? (or ?N to repeat one); PostgreSQL gets $N.
//   - A time that may be unset is compared with IS UNSET / IS SET and
//     assigned UNSET: SQLite keeps times as integer microseconds with 0 for
//     none, PostgreSQL as timestamptz with NULL for none. A time that is
//     never unset but may be "before everything" (an outbox lease) is
//     assigned MIN_TIME: 0 on SQLite, '-infinity' on PostgreSQL.
//   - A conversation's last seq is LAST_SEQ(c), for a conversations row c:
//     SQLite reads it from the events' unique index (its single writer
//     keeps no counter row, so appends dirty no conversation pages),
//     PostgreSQL from the conversation's counter, which appends lock.
//   - Row locks (FOR UPDATE, FOR NO KEY UPDATE) are written as PostgreSQL
//     needs them; SQLite, whose one writer already serialises every write,
//     drops them.
//
// Arguments of type time.Time and scan destinations of type *time.Time are
// converted by the engine's Querier, so scripts pass and read times as
// they are.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// Querier runs SQL written in this package's conventions, inside a
// transaction or on a pool.
type Querier interface {
	// Exec runs a statement and returns the number of rows it changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	// QueryRow's Scan returns an error wrapping sql.ErrNoRows when there
	// was no row, on both engines.
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Row is one result row.
type Row interface {
	Scan(dest ...any) error
}

// Rows is a result set; Close may be called more than once.
type Rows interface {
	Next() bool
	Scan(dest ...any) error
	Err() error
	Close()
}

// Engine is what a store gives the shared scripts: where to read, how to
// write, and the few steps whose SQL differs.
type Engine interface {
	// Name prefixes errors: "sqlite" or "postgres".
	Name() string
	// Reads is the pool for reads outside a transaction.
	Reads() Querier
	// Write runs fn in one transaction and returns once it is durable (or
	// has failed and left nothing).
	Write(ctx context.Context, fn func(ctx context.Context, q Querier) error) error
	// Exec runs one statement as a write of its own: on PostgreSQL with
	// no BEGIN and COMMIT around it, on SQLite through the writer.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	// LockLink reads a link and its conversation's last seq inside a
	// write, holding both (in the order appends take them) until it ends.
	LockLink(ctx context.Context, q Querier, id string) (store.Link, int64, error)
	// AppendMarker stores a platform notice placed by store.Marker inside
	// a write that holds its link, if it is sealed under the conversation's
	// data key as the store holds it now.
	AppendMarker(ctx context.Context, q Querier, m *store.NewEvent) error
	// Shredded says a write that deleted customers' data has committed.
	Shredded()
	// IsUnique reports whether err is a unique-constraint violation.
	IsUnique(err error) bool
	// Now is the store's clock.
	Now() time.Time
}

// DB is the shared implementation of the store's roles over an engine.
type DB struct {
	e Engine
}

// New returns the scripts over e.
func New(e Engine) *DB { return &DB{e: e} }

func (db *DB) reads() Querier { return db.e.Reads() }

func (db *DB) write(ctx context.Context, fn func(ctx context.Context, q Querier) error) error {
	return db.e.Write(ctx, fn)
}

// exec runs a write of one statement.
func (db *DB) exec(ctx context.Context, query string, args ...any) (int64, error) {
	return db.e.Exec(ctx, query, args...)
}

// wrap names the store and the operation in an error that comes out of one
// of its methods, keeping what it wraps (errors.Is still finds
// store.ErrNotFound and the rest). nil stays nil.
func (db *DB) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("%s: %s: %w", db.e.Name(), op, err)
}

// unique turns a unique-constraint violation into store.ErrExists.
func (db *DB) unique(err error) error {
	if err != nil && db.e.IsUnique(err) {
		return store.ErrExists
	}
	return err
}

// notFound turns "no row" into store.ErrNotFound.
func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// changed turns an update or delete that touched nothing into
// store.ErrNotFound.
func changed(n int64, err error) error {
	if err == nil && n == 0 {
		return store.ErrNotFound
	}
	return err
}

// in returns a parenthesised list of n placeholders, for IN: both engines
// take it, where PostgreSQL's = ANY(array) would need its own spelling.
func in(n int) string {
	return "(" + strings.TrimSuffix(strings.Repeat("?, ", n), ", ") + ")"
}

// anys returns vs as arguments.
func anys[T any](vs []T) []any {
	out := make([]any, len(vs))
	for i, v := range vs {
		out[i] = v
	}
	return out
}

// inChunk is how many elements of a slice one IN list takes: both engines
// cap a statement's parameters (SQLite at 32766, PostgreSQL at 65535).
const inChunk = 500

// each calls fn with the elements of s as arguments, inChunk at a time,
// for queries with an IN list of them. Each chunk is padded to a power of
// two by repeating its last element (a list matches the same rows with a
// value twice): a query then has a handful of texts, not one per length,
// for the engines' caches of prepared statements.
func each[T any](s []T, fn func(args []any) error) error {
	for len(s) > 0 {
		chunk := s[:min(inChunk, len(s))]
		s = s[len(chunk):]
		args := anys(chunk)
		for n := len(args); n&(n-1) != 0; n++ {
			args = append(args, args[len(args)-1])
		}
		if err := fn(args); err != nil {
			return err
		}
	}
	return nil
}

// all scans every row of a query with scan:
// all(scanLink)(q.Query(ctx, …)).
func all[T any](scan func(Row) (T, error)) func(Rows, error) ([]T, error) {
	return func(rows Rows, err error) ([]T, error) {
		if err != nil {
			return nil, err
		}
		defer rows.Close()
		var out []T
		for rows.Next() {
			v, err := scan(rows)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, rows.Err()
	}
}
