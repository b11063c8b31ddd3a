package sqlstore

import (
	"testing"
	"time"
)

func TestRewrite(t *testing.T) {
	for _, c := range []struct{ in, sqlite, postgres string }{
		{`SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = ? AND c = ?`, `SELECT a FROM t WHERE b = $1 AND c = $2`},
		{`UPDATE t SET a = ?1 WHERE b = ?2 OR c = ?1`, `UPDATE t SET a = ?1 WHERE b = ?2 OR c = ?1`, `UPDATE t SET a = $1 WHERE b = $2 OR c = $1`},
		{`SELECT '?' FROM t WHERE "a?" = ?`, `SELECT '?' FROM t WHERE "a?" = ?`, `SELECT '?' FROM t WHERE "a?" = $1`},
		{`SELECT 1 FROM t WHERE revoked_at IS UNSET AND dead_at IS SET`, `SELECT 1 FROM t WHERE revoked_at = 0 AND dead_at <> 0`, `SELECT 1 FROM t WHERE revoked_at IS NULL AND dead_at IS NOT NULL`},
		{`UPDATE t SET revoked_at = UNSET, lease_until = MIN_TIME`, `UPDATE t SET revoked_at = 0, lease_until = 0`, `UPDATE t SET revoked_at = NULL, lease_until = '-infinity'`},
		{`SELECT a FROM t WHERE id = ? FOR NO KEY UPDATE`, `SELECT a FROM t WHERE id = ?`, `SELECT a FROM t WHERE id = $1 FOR NO KEY UPDATE`},
		{"SELECT a FROM t WHERE id = ?\n\t\tFOR UPDATE SKIP LOCKED", `SELECT a FROM t WHERE id = ?`, "SELECT a FROM t WHERE id = $1\n\t\tFOR UPDATE SKIP LOCKED"},
		{`SELECT 1 WHERE EXISTS (SELECT 1 FROM c WHERE id = ? FOR SHARE)`, `SELECT 1 WHERE EXISTS (SELECT 1 FROM c WHERE id = ?)`, `SELECT 1 WHERE EXISTS (SELECT 1 FROM c WHERE id = $1 FOR SHARE)`},
		{`SELECT unsettled, unset_count FROM t`, `SELECT unsettled, unset_count FROM t`, `SELECT unsettled, unset_count FROM t`},
	} {
		if got := SQLite.Rewrite(c.in); got != c.sqlite {
			t.Errorf("SQLite.Rewrite(%q) = %q, want %q", c.in, got, c.sqlite)
		}
		if got := Postgres.Rewrite(c.in); got != c.postgres {
			t.Errorf("Postgres.Rewrite(%q) = %q, want %q", c.in, got, c.postgres)
		}
	}
}

func TestArgsConvertTimesAndKeepTheCallersSlice(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 123456789, time.UTC)
	args := []any{"x", at, time.Time{}, 7}
	lite := SQLite.Args(args)
	if lite[1] != at.UnixMicro() || lite[2] != int64(0) || lite[0] != "x" || lite[3] != 7 {
		t.Errorf("SQLite.Args = %v", lite)
	}
	pg := Postgres.Args(args)
	if pg[1] != at || pg[2] != nil {
		t.Errorf("Postgres.Args = %v", pg)
	}
	if args[1] != at || args[2] != (time.Time{}) {
		t.Errorf("Args changed the caller's slice: %v", args)
	}
}

func TestTimeDestReadsBothSpellings(t *testing.T) {
	at := time.Date(2026, 12, 4, 10, 0, 0, 123456000, time.UTC)
	for _, src := range []any{at.UnixMicro(), at.In(time.FixedZone("X", 3600))} {
		var got time.Time
		if err := (timeDest{&got}).Scan(src); err != nil || !got.Equal(at) || got.Location() != time.UTC {
			t.Errorf("Scan(%v) = %v, %v; want %v in UTC", src, got, err, at)
		}
	}
	for _, src := range []any{nil, int64(0)} {
		got := at
		if err := (timeDest{&got}).Scan(src); err != nil || !got.IsZero() {
			t.Errorf("Scan(%v) = %v, %v; want the zero time", src, got, err)
		}
	}
	var got time.Time
	if err := (timeDest{&got}).Scan("yesterday"); err == nil {
		t.Error("Scan of a string: no error")
	}
}

func TestIn(t *testing.T) {
	if got := in(3); got != "(?, ?, ?)" {
		t.Errorf("in(3) = %q", got)
	}
	if got := in(1); got != "(?)" {
		t.Errorf("in(1) = %q", got)
	}
}
