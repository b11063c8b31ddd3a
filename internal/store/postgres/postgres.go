// Package postgres is the production Store, on PostgreSQL through pgx.
//
// Durability is PostgreSQL's own: a commit returns once its WAL record is
// flushed (the default synchronous_commit). Concurrency is row locks: an
// append holds its link and its conversation until it commits, so a
// revocation waits for the appends in flight and every append after it sees
// it, and a conversation's sequence numbers commit in order with no gaps.
//
// The transaction scripts themselves are written once, in package sqlstore,
// which this store embeds. What is PostgreSQL's own is here: connecting and
// migrating (postgres.go), the append group commit (append.go), claiming
// notices (outbox.go), the access log's appends (accesslog.go), and the
// engine the shared scripts run on, with its row locks (engine.go).
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"runtime"
	"sort"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/sqlstore"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	store.Committed
	// DB holds the transaction scripts both stores share.
	*sqlstore.DB
	pool     *pgxpool.Pool
	now      func() time.Time
	appender *appender
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or key=value DSN)
// and applies migrations.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := poolConfig(url, runtime.GOMAXPROCS(0))
	if err != nil {
		return nil, err
	}
	// The writer of events has a connection of its own (append.go): it
	// never waits behind the node's reads for one, and its server process
	// keeps the group's statements prepared. The reads share the others.
	writes := cfg.Copy()
	writes.MaxConns, writes.MinConns, writes.MinIdleConns = 1, 1, 0
	cfg.MaxConns = max(1, cfg.MaxConns-1)
	cfg.MinConns = min(cfg.MinConns, cfg.MaxConns)
	cfg.MinIdleConns = min(cfg.MinIdleConns, cfg.MaxConns)
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{pool: pool, now: time.Now}
	s.DB = sqlstore.New(engine{s})
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, wrap("Open", err)
	}
	writer, err := pgxpool.NewWithConfig(ctx, writes)
	if err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s.appender = newAppender(writer, func() time.Time { return s.now() }, s.Announce)
	return s, nil
}

// poolConfig is the pool a node on procs cores opens for the database at
// url: at most four connections a core and 32 in all, unless the URL (or
// a service file it names) sets pool_max_conns. Appends take one
// connection (one writer, append.go), apart; the rest serve reads, the
// outbox and catch-ups (one at least, so a node with pool_max_conns=1
// opens two). More do not make a node faster on a small machine: the
// server switches between more backends, and each new connection pays for
// its caches and prepared statements on its first requests, under load
// (BENCHMARKS.md, fifth session of 2026-12-05). A fleet's nodes share the
// server's max_connections.
func poolConfig(url string, procs int) (*pgxpool.Config, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	// pgxpool takes its settings out of the connection's parameters as it
	// reads them: a parse of our own says whether one was set.
	conn, err := pgx.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	if _, set := conn.RuntimeParams["pool_max_conns"]; !set {
		cfg.MaxConns = int32(min(32, 4*procs))
	}
	return cfg, nil
}

// Connect opens one connection to the database at url outside any pool,
// for tools and tests. The URL may carry the pool's settings
// (pool_max_conns and the rest), which a node's URL often does: they are
// read as the pool reads them, where pgx's own parser would send them to
// the server as parameters it refuses.
func Connect(ctx context.Context, url string) (*pgx.Conn, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg.ConnConfig)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	return conn, nil
}

// WriterStat reads what the group-commit writer of events counted of
// itself: its groups, their appends, and its busy time. (Other writes go
// straight to the pool.)
func (s *Store) WriterStat() store.WriterStat { return s.appender.stats.Stat() }

// PoolStat is what the node's connections to the database say of
// themselves now: the pool for reads, and the writer's own.
func (s *Store) PoolStat() (reads, writer *pgxpool.Stat) {
	return s.pool.Stat(), s.appender.pool.Stat()
}

// Advice names the server's settings that the operator should change, in
// plain sentences, for the node to log when it starts.
func (s *Store) Advice(ctx context.Context) ([]string, error) {
	var autovacuum string
	if err := s.pool.QueryRow(ctx, `SELECT current_setting('autovacuum')`).Scan(&autovacuum); err != nil {
		return nil, fmt.Errorf("postgres: read settings: %w", err)
	}
	var advice []string
	if autovacuum != "on" {
		// Measured: after an ANALYZE of the tables while they were empty,
		// a conversation's read kept a plan that scanned every
		// conversation and link, 20,000 of each, at every tap (BENCHMARKS.md,
		// fourteenth session). Autovacuum's ANALYZE replaces such plans.
		advice = append(advice, "autovacuum is off: PostgreSQL plans the node's reads from statistics only as fresh as the last ANALYZE, "+
			"and a plan made from statistics taken while the tables were small reads them whole as they grow. Turn autovacuum on, or ANALYZE the database as it grows.")
	}
	return advice, nil
}

// SetClock replaces the store's clock, for tests of expiry.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// migrationLock is the advisory lock key that serialises migrations when
// several nodes start at once.
const migrationLock = 0x6f70656e74656c6c // "opentell"

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		var version int
		if _, err := fmt.Sscanf(filepath.Base(name), "%d_", &version); err != nil {
			return fmt.Errorf("postgres: migration %s: bad name", name)
		}
		body, _ := migrations.ReadFile(name)
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`, version)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", name, err)
		}
	}
	return nil
}

func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

func (s *Store) Close() error {
	s.appender.close()
	s.pool.Close()
	return nil
}

func isUnique(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// nullTime maps the zero time to NULL and back.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// wrap names the store and the operation in an error that comes out of
// one of its methods, keeping what it wraps (errors.Is still finds
// store.ErrNotFound and the rest). nil stays nil.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}
