// Package sqlite is the embedded Store: one SQLite file in WAL mode through
// the pure-Go driver modernc.org/sqlite.
//
// Durability and throughput come from one rule: every write goes through a
// single writer goroutine that drains the writes waiting for it, runs them in
// one IMMEDIATE transaction (each in its own savepoint), commits with
// synchronous=FULL, and only then answers each caller (group commit). Reads
// use a separate pool of read-only connections and never wait for the writer.
//
// The transaction scripts themselves are written once, in package sqlstore,
// which this store embeds. What is SQLite's own is here: opening and
// migrating the file and its checkpointer (sqlite.go), the writer
// (writer.go), the append hot path (append.go), claiming notices
// (outbox.go), the access log's appends (accesslog.go), the engine the
// shared scripts run on (engine.go), and the VFS that gathers the WAL's
// writes into few system calls (walvfs.go).
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/sqlstore"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite implementation of store.Store.
type Store struct {
	store.Committed
	// DB holds the transaction scripts both stores share.
	*sqlstore.DB
	reads  *sql.DB
	writes *sql.DB
	conn   *sql.Conn // the writer's connection; only the writer goroutine uses it
	queue  chan *write
	done   chan struct{}
	closed chan struct{}
	once   sync.Once
	// checkpointerDone closes when the background checkpointer has stopped.
	checkpointerDone chan struct{}
	// shred counts deletions of customers' data (a cleared history, a
	// revoked or narrowed link): the writer, or failing it the
	// checkpointer, empties the WAL, whose older frames still hold the
	// pages as they were, until it has done so after the latest.
	shred atomic.Int64
	// shredded is the count of deletions the WAL was last emptied after,
	// by the writer or the checkpointer (emptyWAL).
	shredded atomic.Int64
	// shredTries counts the writer's failed tries to empty the WAL since
	// shredded was shredBase; shortBusy says its connection's busy timeout
	// is still the short one of a try. Only the writer goroutine uses them.
	shredBase  int64
	shredTries int
	shortBusy  bool
	// walLong is set by the checkpointer after a pass that copied back
	// all of a WAL longer than maxWAL frames, for the writer to copy what
	// came since, between two groups.
	walLong atomic.Bool
	// maxWAL is maxWALFrames; tests lower it.
	maxWAL atomic.Int64
	now    func() time.Time
	stmts  stmts // prepared on conn; the hot path of the writer
	// prepared keeps the shared scripts' reads prepared on the read pool.
	prepared *preparedReads
	// cache is the writer's memory of links and conversations between
	// appends; only the writer goroutine touches it (see appendCache).
	cache appendCache
	// stats counts the writer's groups and its busy time, for the operator.
	stats store.WriterStats
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and applies
// migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create dir: %w", err)
	}
	if err := registerWALVFS(); err != nil {
		return nil, err
	}
	// Every connection syncs each commit (synchronous=FULL), which the
	// WAL's gathered writes rely on (walvfs.go).
	base := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(" + strconv.Itoa(busyTimeoutMS) + ")&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)" +
		// Deleted rows are overwritten with zeros, in their pages and in
		// freed pages: a cleared history leaves no wrapped key or sealed
		// payload in the file for anyone to find.
		"&_pragma=secure_delete(1)&vfs=" + walVFSName
	w, err := sql.Open("sqlite", base)
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(2) // the writer's connection and the checkpointer's
	conn, err := w.Conn(ctx)
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	s := &Store{
		writes: w, conn: conn,
		queue:  make(chan *write, maxGroup),
		done:   make(chan struct{}),
		closed: make(chan struct{}),
		now:    time.Now,
	}
	s.maxWAL.Store(maxWALFrames)
	s.DB = sqlstore.New(engine{s})
	if err := s.migrate(ctx); err == nil {
		err = s.prepare(ctx)
	}
	if err != nil {
		conn.Close()
		w.Close()
		return nil, wrap("Open", err)
	}
	r, err := sql.Open("sqlite", base+"&_pragma=query_only(1)")
	if err != nil {
		conn.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open read pool: %w", err)
	}
	r.SetMaxOpenConns(8)
	r.SetMaxIdleConns(8)
	s.reads = r
	s.prepared = &preparedReads{db: r}
	// The writer never checkpoints inside a commit (that stalled whichever
	// group crossed the threshold); a background connection does, PASSIVE,
	// which never blocks the writer, and the writer finishes the job
	// between two groups when the WAL grows long (checkpointer).
	_, err = conn.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0")
	if err == nil {
		// The writer's page cache holds a whole group's dirty pages: at
		// SQLite's default of 2 MiB a large group spilled pages into the
		// WAL before its commit and rewrote them (BENCHMARKS.md).
		_, err = conn.ExecContext(ctx, fmt.Sprintf("PRAGMA cache_size = -%d", writerCacheKiB))
	}
	if err != nil {
		r.Close()
		conn.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// A node that stopped without closing (killed, crashed) may have left
	// deleted rows in old WAL frames: empty the WAL before anything else.
	w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	s.checkpointerDone = make(chan struct{})
	store.GoWriter("sqlite", s.writer)
	go s.checkpointer(w)
	return s, nil
}

// writerCacheKiB is the writer connection's page cache.
const writerCacheKiB = 32 << 10

// checkpointEvery is how often the WAL is copied back into the database
// (a variable for a test that keeps the checkpointer out of the way);
// past maxWALFrames (64 MiB of 4 KiB pages) the writer checkpoints too.
var checkpointEvery = 500 * time.Millisecond

const maxWALFrames = 16384

// busyTimeoutMS is how long a connection waits for a lock another holds.
const busyTimeoutMS = 10000

func (s *Store) checkpointer(db *sql.DB) {
	defer close(s.checkpointerDone)
	ctx := context.Background()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var pending int64 // the deletions counted at the last turn
	for {
		select {
		case <-s.closed:
			return
		case <-t.C:
			// A busy or partial checkpoint is fine: the next tick goes on.
			var busy, logFrames, done int
			if db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &logFrames, &done) != nil {
				continue
			}
			switch {
			case s.shred.Load() != s.shredded.Load():
				// The writer empties the WAL after its next group
				// (writer.go). This connection, which would wait seconds
				// for the writer's lock under load, does it only for a
				// deletion still waiting a turn later: the writer was
				// idle, or readers kept the WAL; then it tries each turn.
				if pending > s.shredded.Load() {
					s.emptyWAL(ctx, db)
				} else {
					pending = s.shred.Load()
				}
			case int64(logFrames) > s.maxWAL.Load() && done == logFrames:
				// The WAL starts again from its beginning only when a
				// write finds every frame copied back, which a steady
				// stream of writes rarely lets this connection see. The
				// writer copies what came after this pass itself, between
				// two groups, when no other write of this process runs
				// (writer.go). Only after a pass that copied all it saw:
				// a reader still holding old frames would have the
				// writer copy the whole backlog. A RESTART from here
				// waited seconds for the writer's lock under load, while
				// the file grew past a gigabyte, then held the writer
				// while it copied.
				s.walLong.Store(true)
			}
		}
	}
}

// emptyWAL empties the WAL on c (the writer's connection or the
// checkpointer's) and counts the deletions it came after in shredded.
// Customers' data was deleted: its rows are zeroed in the pages copied
// back, but older frames in the WAL still hold them. TRUNCATE takes the
// writer's lock (on the checkpointer's connection it waits for it, which
// under load took seconds), copies every frame back, waits for readers to
// leave the WAL (c's busy timeout), and cuts the file to nothing. A
// deletion during it is left for the next.
func (s *Store) emptyWAL(ctx context.Context, c interface {
	QueryRowContext(context.Context, string, ...any) *sql.Row
}) {
	gen := s.shred.Load()
	var busy, logFrames, done int
	if c.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done) != nil || busy != 0 {
		return
	}
	for { // never lower what the other connection counted meanwhile
		if old := s.shredded.Load(); old >= gen || s.shredded.CompareAndSwap(old, gen) {
			return
		}
	}
}

// shredTriesMax bounds the writer's failed tries to empty the WAL, each
// after a group, until it is emptied: a try may find the checkpointer
// copying, or wait up to 100 ms for readers to leave the WAL.
const shredTriesMax = 3

// SetClock replaces the store's clock, for tests of expiry.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)`); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		var version int
		if _, err := fmt.Sscanf(filepath.Base(name), "%d_", &version); err != nil {
			return fmt.Errorf("sqlite: migration %s: bad name", name)
		}
		body, _ := migrations.ReadFile(name)
		if err := s.tx(ctx, func(c *sql.Conn) error {
			var n int
			if err := c.QueryRowContext(ctx, `SELECT count(*) FROM schema_migrations WHERE version = ?`, version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := c.ExecContext(ctx, string(body)); err != nil {
				return err
			}
			_, err := c.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, version, micros(time.Now()))
			return err
		}); err != nil {
			return fmt.Errorf("sqlite: migration %s: %w", name, err)
		}
	}
	return nil
}

// Close stops the writer after the group it is writing, and closes the
// database. A write still queued is answered that the store closed, and
// was not made.
func (s *Store) Close() error {
	s.once.Do(func() { close(s.closed) })
	<-s.done
	<-s.checkpointerDone
	s.conn.Close()
	s.reads.Close()
	// Copy everything back and empty the WAL, so a stopped node's files are
	// one database file (and nothing cleared lingers in old frames).
	s.writes.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
	return s.writes.Close()
}

func (s *Store) Ping(ctx context.Context) error {
	var one int
	if err := s.reads.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	select {
	case <-s.closed:
		return errors.New("sqlite: store closed")
	default:
		return nil
	}
}

// micros and fromMicros are SQLite's spelling of a time (see sqlstore).
var micros, fromMicros = sqlstore.Micros, sqlstore.FromMicros

func isUnique(err error) bool {
	var e *sqlite3.Error
	return errors.As(err, &e) && (e.Code() == sqlite3lib.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3lib.SQLITE_CONSTRAINT_PRIMARYKEY)
}

func notFound(err error) error {
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// wrap names the store and the operation in an error that comes out of
// one of its methods, keeping what it wraps (errors.Is still finds
// store.ErrNotFound and the rest). nil stays nil.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
