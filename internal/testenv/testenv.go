// Package testenv gives tests the real services they need, found through
// environment variables. A variable that is unset skips the test (so `go
// test` works on a laptop with nothing running); a variable that is set
// names a service that must answer, or the test fails. .ci/run sets them all.
//
//	OPENTELLER_TEST_POSTGRES  PostgreSQL URL, e.g. postgres://postgres@127.0.0.1:5432/test
//	OPENTELLER_TEST_NATS      NATS URL with JetStream, e.g. nats://127.0.0.1:4222
//	CHROME_BIN                Chromium for browser tests (else chromium on PATH)
package testenv

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/openteller/openteller/internal/store/sqlite"
)

// Postgres returns the PostgreSQL URL, or skips the test when none is set.
func Postgres(t testing.TB) string {
	t.Helper()
	u := os.Getenv("OPENTELLER_TEST_POSTGRES")
	if u == "" {
		t.Skip("OPENTELLER_TEST_POSTGRES not set")
	}
	return u
}

// PostgresSchema creates an empty schema for this test and returns a URL
// whose connections use it; the schema is dropped when the test ends.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	base := Postgres(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, err := connect(ctx, base)
	if err != nil {
		t.Fatalf("OPENTELLER_TEST_POSTGRES is set but PostgreSQL is unreachable: %v", err)
	}
	defer conn.Close(ctx)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "t_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if c, err := connect(ctx, base); err == nil {
			c.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE")
			c.Close(ctx)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatalf("OPENTELLER_TEST_POSTGRES: %v", err)
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}

// connect opens one connection to the database at url, reading the pool's
// settings in it (pool_max_conns) as the node does, not sending them to
// the server. (postgres.Connect does the same; its tests use this package.)
func connect(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, err
	}
	return pgx.ConnectConfig(ctx, cfg.ConnConfig)
}

// NATS returns the NATS URL, or skips the test when none is set; it fails
// the test when the server does not answer.
func NATS(t testing.TB) string {
	t.Helper()
	u := os.Getenv("OPENTELLER_TEST_NATS")
	if u == "" {
		t.Skip("OPENTELLER_TEST_NATS not set")
	}
	parsed, err := url.Parse(u)
	if err != nil {
		t.Fatalf("OPENTELLER_TEST_NATS: %v", err)
	}
	c, err := net.DialTimeout("tcp", parsed.Host, 5*time.Second)
	if err != nil {
		t.Fatalf("OPENTELLER_TEST_NATS is set but NATS is unreachable: %v", err)
	}
	c.Close()
	return u
}

// Chrome returns the path of a Chromium binary: $CHROME_BIN, else chromium or
// google-chrome on PATH. It skips when neither is set nor found, and fails
// when CHROME_BIN names something that is not there.
func Chrome(t testing.TB) string {
	t.Helper()
	if p := os.Getenv("CHROME_BIN"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("CHROME_BIN=%s: %v", p, err)
		}
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium: set CHROME_BIN or install chromium")
	return ""
}

// SQLite opens a real SQLite store in a temporary directory for the test,
// closed when the test ends.
func SQLite(t testing.TB) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "openteller.db"))
	if err != nil {
		t.Fatalf("open sqlite store: %v", err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Fixture returns the path of a file under shared/fixtures, the test data
// nobody here wrote. OPENTELLER_TEST_FIXTURES names the directory, as the
// other OPENTELLER_TEST_ variables name services: when it is set, a missing
// directory or file fails the test (.ci/run sets it). Unset, the directory
// is found by walking up from the working directory; when there is none
// the test skips on a developer's machine and fails where CI is set, so
// nothing skips in CI.
func Fixture(t testing.TB, parts ...string) string {
	t.Helper()
	wd, err := os.Getwd()
	if err != nil {
		t.Fatalf("getwd: %v", err)
	}
	return fixtureFrom(t, wd, "/", parts...)
}

// fixtureFrom is Fixture looking for shared/fixtures in start and the
// directories above it, up to and including top.
func fixtureFrom(t testing.TB, start, top string, parts ...string) string {
	t.Helper()
	if root := os.Getenv("OPENTELLER_TEST_FIXTURES"); root != "" {
		path := filepath.Join(append([]string{root}, parts...)...)
		if _, err := os.Stat(path); err != nil {
			t.Fatalf("fixture (OPENTELLER_TEST_FIXTURES is set): %v", err)
		}
		return path
	}
	for dir := start; ; {
		root := filepath.Join(dir, "shared", "fixtures")
		if info, err := os.Stat(root); err == nil && info.IsDir() {
			path := filepath.Join(append([]string{root}, parts...)...)
			if _, err := os.Stat(path); err != nil {
				t.Fatalf("fixture: %v", err)
			}
			return path
		}
		parent := filepath.Dir(dir)
		if dir == top || parent == dir {
			if os.Getenv("CI") != "" {
				t.Fatalf("CI is set, OPENTELLER_TEST_FIXTURES is not, and there is no shared/fixtures above %s", start)
			}
			t.Skip("no shared/fixtures beside the repository, and OPENTELLER_TEST_FIXTURES is not set")
		}
		dir = parent
	}
}
