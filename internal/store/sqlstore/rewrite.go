package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Dialect is an engine's spelling of the package's SQL conventions.
type Dialect int

const (
	SQLite Dialect = iota
	Postgres
)

var rewritten [2]sync.Map // query text → the dialect's text

var (
	unsetCmp = regexp.MustCompile(`\bIS UNSET\b`)
	setCmp   = regexp.MustCompile(`\bIS SET\b`)
	unsetVal = regexp.MustCompile(`\bUNSET\b`)
	lastSeq  = regexp.MustCompile(`\bLAST_SEQ\((\w+)\)`)
	minTime  = regexp.MustCompile(`\bMIN_TIME\b`)
	rowLock  = regexp.MustCompile(`\s+FOR ((NO KEY )?UPDATE|SHARE)( SKIP LOCKED)?\b`)
)

// Rewrite returns query in the dialect's spelling. The result is kept, so
// each query text is rewritten once per process.
func (d Dialect) Rewrite(query string) string {
	if v, ok := rewritten[d].Load(query); ok {
		return v.(string)
	}
	out := d.rewrite(query)
	rewritten[d].Store(query, out)
	return out
}

func (d Dialect) rewrite(q string) string {
	switch d {
	case SQLite:
		q = unsetCmp.ReplaceAllString(q, "= 0")
		q = setCmp.ReplaceAllString(q, "<> 0")
		q = unsetVal.ReplaceAllString(q, "0")
		q = minTime.ReplaceAllString(q, "0")
		q = lastSeq.ReplaceAllString(q, "(SELECT coalesce(max(seq), 0) FROM events WHERE conversation_id = $1.id)")
		return rowLock.ReplaceAllString(q, "")
	default:
		q = unsetCmp.ReplaceAllString(q, "IS NULL")
		q = setCmp.ReplaceAllString(q, "IS NOT NULL")
		q = unsetVal.ReplaceAllString(q, "NULL")
		q = minTime.ReplaceAllString(q, "'-infinity'")
		q = lastSeq.ReplaceAllString(q, "$1.last_seq")
		return dollars(q)
	}
}

// dollars numbers ? placeholders as $1, $2 … (and ?N as $N), outside
// quoted strings and identifiers.
func dollars(q string) string {
	var b strings.Builder
	n := 0
	var quote byte
	for i := 0; i < len(q); i++ {
		c := q[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			b.WriteByte(c)
		case c == '\'' || c == '"':
			quote = c
			b.WriteByte(c)
		case c == '?':
			j := i + 1
			for j < len(q) && q[j] >= '0' && q[j] <= '9' {
				j++
			}
			if j > i+1 {
				b.WriteString("$" + q[i+1:j])
				i = j - 1
			} else {
				n++
				b.WriteString("$" + strconv.Itoa(n))
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// Args converts arguments for the dialect: times become integer
// microseconds on SQLite (0 for none) and NULL on PostgreSQL when unset.
func (d Dialect) Args(args []any) []any {
	copied := false
	for i, a := range args {
		t, ok := a.(time.Time)
		if !ok {
			continue
		}
		if !copied { // the caller's slice stays as it was
			args, copied = append([]any(nil), args...), true
		}
		if d == SQLite {
			args[i] = Micros(t)
		} else if t.IsZero() {
			args[i] = nil
		}
	}
	return args
}

// Micros is SQLite's spelling of a time: microseconds since the epoch, 0
// for none.
func Micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// FromMicros reads a time written by Micros.
func FromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

// ScanDest wraps *time.Time destinations so either engine's spelling of a
// time (or none) lands in them as UTC, the zero time for none.
func ScanDest(dest []any) []any {
	for i, d := range dest {
		if p, ok := d.(*time.Time); ok {
			dest[i] = timeDest{p}
		}
	}
	return dest
}

type timeDest struct{ p *time.Time }

func (t timeDest) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*t.p = time.Time{}
	case int64:
		*t.p = FromMicros(v)
	case time.Time:
		*t.p = v.UTC()
	default:
		return fmt.Errorf("sqlstore: cannot read %T as a time", src)
	}
	return nil
}

// SQL runs this package's SQL through database/sql (a *sql.DB, *sql.Conn
// or *sql.Tx) in dialect D.
type SQL struct {
	D Dialect
	C interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

func (q SQL) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := q.C.ExecContext(ctx, q.D.Rewrite(query), q.D.Args(args)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (q SQL) Query(ctx context.Context, query string, args ...any) (Rows, error) {
	rows, err := q.C.QueryContext(ctx, q.D.Rewrite(query), q.D.Args(args)...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (q SQL) QueryRow(ctx context.Context, query string, args ...any) Row {
	return sqlRow{q.C.QueryRowContext(ctx, q.D.Rewrite(query), q.D.Args(args)...)}
}

type sqlRow struct{ r *sql.Row }

func (r sqlRow) Scan(dest ...any) error { return r.r.Scan(ScanDest(dest)...) }

type sqlRows struct{ r *sql.Rows }

func (r sqlRows) Next() bool             { return r.r.Next() }
func (r sqlRows) Scan(dest ...any) error { return r.r.Scan(ScanDest(dest)...) }
func (r sqlRows) Err() error             { return r.r.Err() }
func (r sqlRows) Close()                 { r.r.Close() }
