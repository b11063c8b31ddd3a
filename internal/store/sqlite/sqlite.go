// Package sqlite is the embedded Store: one SQLite file in WAL mode through
// the pure-Go driver modernc.org/sqlite.
//
// Durability and throughput come from one rule: every write goes through a
// single writer goroutine that drains the writes waiting for it, runs them in
// one IMMEDIATE transaction (each in its own savepoint), commits with
// synchronous=FULL, and only then answers each caller (group commit). Reads
// use a separate pool of read-only connections and never wait for the writer.
package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	sqlite3 "modernc.org/sqlite"
	sqlite3lib "modernc.org/sqlite/lib"
)

//go:embed migrations/*.sql
var migrations embed.FS

// maxGroup bounds how many waiting writes one transaction takes.
const maxGroup = 512

// Store is the SQLite implementation of store.Store.
type Store struct {
	store.Committed
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
	// revoked or narrowed link): the checkpointer empties the WAL, whose
	// older frames still hold the pages as they were, until it has done so
	// after the latest.
	shred  atomic.Int64
	now    func() time.Time
	stmts  stmts // prepared on conn; the hot path of the writer
	rstmts readStmts
	// cache is the writer's memory of links and conversations between
	// appends; only the writer goroutine touches it (see appendCache).
	cache appendCache
}

// appendCache spares the writer a query per link and per conversation on
// every append: each link as last read (with its data key's version) and
// each conversation's last seq. It checks itself rather than trusting each
// write to say what it touched: triggers count every change to a link, a
// data key or a conversation's events that is not an append (a revocation,
// a narrowing, a cleared history, a new data key; made by this writer or by
// another process on the file) in cache_epoch, and the writer reads that
// count in the same transaction, when it begins and after each write,
// emptying the cache when it moved. It also empties it after any write that
// failed (its savepoint rolled back) and after a commit that failed.
type appendCache struct {
	links map[string]cachedLink
	seqs  map[string]int64 // conversation → last seq
	epoch int64            // cache_epoch when links and seqs were last known good
}

type cachedLink struct {
	link store.Link
	seq  int64 // the conversation's last seq when the link was read
}

func (c *appendCache) clear() {
	c.links, c.seqs = nil, nil
}

// checkEpoch empties the cache if cache_epoch moved since it was last
// read (or cannot be read), inside the writer's transaction.
func (s *Store) checkEpoch(ctx context.Context) {
	var n int64
	if err := s.stmts.epoch.QueryRowContext(ctx).Scan(&n); err != nil {
		n = -1 // unknown: empty now, and again next time
	}
	if n != s.cache.epoch || n < 0 {
		s.cache.clear()
		s.cache.epoch = n
	}
}

// readStmts are the frequent reads, prepared on the read pool (database/sql
// keeps one prepared copy per pooled connection).
type readStmts struct {
	eventsAfter, link, apiKey, session, dataKey, conversations, conversation *sql.Stmt
}

func (s *Store) prepareReads(ctx context.Context) error {
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&s.rstmts.eventsAfter, `SELECT conversation_id, seq, id, customer_id, institution_id, link_id, coalesce(bank_event_id, ''), type, author, occurred_at, received_at, replaces_seq, sealed
		FROM events WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?`},
		{&s.rstmts.link, `SELECT ` + linkCols + ` FROM links WHERE id = ?`},
		{&s.rstmts.apiKey, `SELECT id, institution_id, hash, created_at, expires_at FROM api_keys WHERE id = ?`},
		{&s.rstmts.session, `SELECT id_hash, customer_id, csrf_token, created_at, expires_at FROM sessions WHERE id_hash = ? AND expires_at > ?`},
		{&s.rstmts.dataKey, `SELECT version, root_key_version, wrapped FROM data_keys WHERE customer_id = ?`},
		{&s.rstmts.conversations, conversationQuery + ` WHERE c.customer_id = ? ORDER BY i.name, c.id`},
		{&s.rstmts.conversation, conversationQuery + ` WHERE c.id = ?`},
	} {
		st, err := s.reads.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("sqlite: prepare %q: %w", p.sql, err)
		}
		*p.dst = st
	}
	return nil
}

// stmts are the writer's frequent statements, prepared once: parsing SQL
// was a quarter of ingest's CPU before.
type stmts struct {
	begin, commit, rollback, savepoint, rollbackTo, release *sql.Stmt
	existing, link, pendingSeq, insert, busyLink            *sql.Stmt
	keyVersion, appendLink, epoch                           *sql.Stmt
}

func (s *Store) prepare(ctx context.Context) error {
	for _, p := range []struct {
		dst **sql.Stmt
		sql string
	}{
		{&s.stmts.begin, "BEGIN IMMEDIATE"},
		{&s.stmts.commit, "COMMIT"},
		{&s.stmts.rollback, "ROLLBACK"},
		{&s.stmts.savepoint, "SAVEPOINT w"},
		{&s.stmts.rollbackTo, "ROLLBACK TO w"},
		{&s.stmts.release, "RELEASE w"},
		{&s.stmts.existing, `SELECT fingerprint, conversation_id, seq FROM events WHERE institution_id = ? AND bank_event_id = ?`},
		{&s.stmts.link, `SELECT ` + linkCols + `, (SELECT coalesce(max(seq), 0) FROM events WHERE conversation_id = links.conversation_id) FROM links WHERE id = ?`},
		{&s.stmts.keyVersion, `SELECT coalesce((SELECT version FROM data_keys WHERE customer_id = ?), 0)`},
		{&s.stmts.epoch, `SELECT n FROM cache_epoch`},
		// An append reads each link with its conversation's last seq and its
		// data key's version in one statement: this runs once per link per
		// batch, on the writer.
		{&s.stmts.appendLink, `SELECT ` + linkCols + `, (SELECT coalesce(max(seq), 0) FROM events WHERE conversation_id = links.conversation_id),
			coalesce((SELECT version FROM data_keys WHERE data_keys.customer_id = links.customer_id || '/' || links.institution_id), 0) FROM links WHERE id = ?`},
		{&s.stmts.pendingSeq, `SELECT seq FROM events WHERE conversation_id = ? AND pending_ref = ? ORDER BY seq DESC LIMIT 1`},
		{&s.stmts.busyLink, `SELECT 1 FROM outbox WHERE link_id = ? AND delivered_at = 0 AND dead_at = 0 LIMIT 1`},
		{&s.stmts.insert, `INSERT INTO events (conversation_id, seq, id, customer_id, institution_id, link_id, bank_event_id, type, author, occurred_at, received_at, fingerprint, pending_ref, replaces_seq, sealed)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`},
	} {
		st, err := s.conn.PrepareContext(ctx, p.sql)
		if err != nil {
			return fmt.Errorf("sqlite: prepare %q: %w", p.sql, err)
		}
		*p.dst = st
	}
	return nil
}

type write struct {
	fn  func(ctx context.Context, c *sql.Conn) error
	err chan error
	// stored is what an append stored, announced once it commits.
	stored []store.Event
}

var _ store.Store = (*Store)(nil)

// Open opens (creating if needed) the database file at path and applies
// migrations.
func Open(ctx context.Context, path string) (*Store, error) {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("sqlite: create dir: %w", err)
	}
	base := "file:" + (&url.URL{Path: path}).EscapedPath() +
		"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_pragma=temp_store(MEMORY)" +
		// Deleted rows are overwritten with zeros, in their pages and in
		// freed pages: a cleared history leaves no wrapped key or sealed
		// payload in the file for anyone to find.
		"&_pragma=secure_delete(1)"
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
	if err := s.prepareReads(ctx); err != nil {
		r.Close()
		conn.Close()
		w.Close()
		return nil, wrap("Open", err)
	}
	// The writer never checkpoints inside a commit (that stalled whichever
	// group crossed the threshold); a background connection does, PASSIVE,
	// which never blocks the writer.
	if _, err := conn.ExecContext(ctx, "PRAGMA wal_autocheckpoint = 0"); err != nil {
		r.Close()
		conn.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// A node that stopped without closing (killed, crashed) may have left
	// deleted rows in old WAL frames: empty the WAL before anything else.
	w.ExecContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)")
	s.checkpointerDone = make(chan struct{})
	go s.writer()
	go s.checkpointer(w)
	return s, nil
}

// checkpointEvery is how often the WAL is copied back into the database;
// past maxWALFrames (64 MiB of 4 KiB pages) the checkpointer insists.
const (
	checkpointEvery = 500 * time.Millisecond
	maxWALFrames    = 16384
)

func (s *Store) checkpointer(db *sql.DB) {
	defer close(s.checkpointerDone)
	ctx := context.Background()
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	var shredded int64 // the last deletion the WAL was emptied after
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
			case s.shred.Load() != shredded:
				// Customers' data was deleted: its rows are zeroed in the
				// pages now copied back, but older frames in the WAL still
				// hold them. Truncate it; while readers keep it, try again.
				// A deletion during the truncation is left for the next.
				gen := s.shred.Load()
				if db.QueryRowContext(ctx, "PRAGMA wal_checkpoint(TRUNCATE)").Scan(&busy, &logFrames, &done) == nil && busy == 0 {
					shredded = gen
				}
			case logFrames > maxWALFrames:
				// Readers kept the WAL from restarting; make it, briefly
				// holding the writer, so the file cannot grow without bound.
				db.ExecContext(ctx, "PRAGMA wal_checkpoint(RESTART)")
			}
		}
	}
}

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

// tx runs fn in an IMMEDIATE transaction on the writer connection. Only for
// use before the writer goroutine starts.
func (s *Store) tx(ctx context.Context, fn func(c *sql.Conn) error) error {
	if _, err := s.conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	if err := fn(s.conn); err != nil {
		s.conn.ExecContext(ctx, "ROLLBACK")
		return err
	}
	_, err := s.conn.ExecContext(ctx, "COMMIT")
	return err
}

// do hands fn to the writer and waits for its commit. It waits even if ctx
// ends once fn is queued: the answer must say whether fn's writes are on disk.
func (s *Store) do(ctx context.Context, fn func(ctx context.Context, c *sql.Conn) error) error {
	return s.submit(ctx, &write{fn: fn, err: make(chan error, 1)})
}

// submit hands w to the writer and waits for its commit.
func (s *Store) submit(ctx context.Context, w *write) error {
	select {
	case s.queue <- w:
	case <-s.closed:
		return errors.New("sqlite: store closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	return <-w.err
}

func (s *Store) writer() {
	defer close(s.done)
	ctx := context.Background()
	batch := make([]*write, 0, maxGroup)
	errs := make([]error, 0, maxGroup)
	for {
		var first *write
		select {
		case first = <-s.queue:
		case <-s.closed:
			return
		}
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxGroup {
			select {
			case w := <-s.queue:
				batch = append(batch, w)
			default:
				break drain
			}
		}
		errs = errs[:0]
		_, err := s.stmts.begin.ExecContext(ctx)
		if err == nil {
			s.checkEpoch(ctx) // another process may have written
			for _, w := range batch {
				werr := s.runSavepoint(ctx, w)
				if werr != nil {
					s.cache.clear()
				}
				s.checkEpoch(ctx)
				errs = append(errs, werr)
			}
			if _, err = s.stmts.commit.ExecContext(ctx); err != nil {
				s.stmts.rollback.ExecContext(ctx)
			}
		}
		if err != nil {
			s.cache.clear()
		} else {
			var stored []store.Event
			for i, w := range batch {
				if errs[i] == nil {
					stored = append(stored, w.stored...)
				}
			}
			s.Announce(stored)
		}
		for i, w := range batch {
			if err != nil {
				w.err <- fmt.Errorf("sqlite: commit: %w", err)
			} else {
				w.err <- errs[i]
			}
		}
	}
}

func (s *Store) runSavepoint(ctx context.Context, w *write) error {
	if _, err := s.stmts.savepoint.ExecContext(ctx); err != nil {
		return err
	}
	err := w.fn(ctx, s.conn)
	if err != nil {
		s.stmts.rollbackTo.ExecContext(ctx)
	}
	if _, rerr := s.stmts.release.ExecContext(ctx); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// Close stops the writer after the writes already queued, and closes the
// database.
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

func micros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

func fromMicros(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMicro(v).UTC()
}

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

// Institutions and keys.

func (s *Store) CreateInstitution(ctx context.Context, in store.Institution) error {
	return wrap("CreateInstitution", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO institutions (id, name, authorize_url, token_url, client_id, client_secret, created_at, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			in.ID, in.Name, in.AuthorizeURL, in.TokenURL, in.ClientID, in.ClientSecret, micros(in.CreatedAt), store.KindOf(in.Kind))
		if isUnique(err) {
			return store.ErrExists
		}
		return err
	}))
}

const institutionCols = `id, name, authorize_url, token_url, client_id, client_secret, created_at, kind`

func scanInstitution(row interface{ Scan(...any) error }) (store.Institution, error) {
	var in store.Institution
	var created int64
	err := row.Scan(&in.ID, &in.Name, &in.AuthorizeURL, &in.TokenURL, &in.ClientID, &in.ClientSecret, &created, &in.Kind)
	in.CreatedAt = fromMicros(created)
	return in, notFound(err)
}

func (s *Store) Institution(ctx context.Context, id string) (store.Institution, error) {
	return scanInstitution(s.reads.QueryRowContext(ctx, `SELECT `+institutionCols+` FROM institutions WHERE id = ?`, id))
}

func (s *Store) Institutions(ctx context.Context) ([]store.Institution, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT `+institutionCols+` FROM institutions ORDER BY name, id`)
	if err != nil {
		return nil, wrap("Institutions", err)
	}
	defer rows.Close()
	var out []store.Institution
	for rows.Next() {
		in, err := scanInstitution(rows)
		if err != nil {
			return nil, wrap("Institutions", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

func (s *Store) SetInstitutionEndpoints(ctx context.Context, id, authorizeURL, tokenURL string) error {
	return wrap("SetInstitutionEndpoints", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		res, err := c.ExecContext(ctx, `UPDATE institutions SET authorize_url = ?, token_url = ? WHERE id = ?`, authorizeURL, tokenURL, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	}))
}

func (s *Store) RotateAPIKey(ctx context.Context, k store.APIKey, oldKeysUntil time.Time) error {
	return wrap("RotateAPIKey", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		until := micros(oldKeysUntil)
		if now := micros(s.now()); until < now {
			until = now
		}
		if _, err := c.ExecContext(ctx, `UPDATE api_keys SET expires_at = ? WHERE institution_id = ? AND (expires_at = 0 OR expires_at > ?)`, until, k.InstitutionID, until); err != nil {
			return err
		}
		_, err := c.ExecContext(ctx, `INSERT INTO api_keys (id, institution_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			k.ID, k.InstitutionID, k.Hash, micros(k.CreatedAt), micros(k.ExpiresAt))
		if isUnique(err) {
			return store.ErrExists
		}
		return err
	}))
}

func (s *Store) APIKey(ctx context.Context, id string) (store.APIKey, error) {
	var k store.APIKey
	var created, expires int64
	err := s.rstmts.apiKey.QueryRowContext(ctx, id).
		Scan(&k.ID, &k.InstitutionID, &k.Hash, &created, &expires)
	k.CreatedAt, k.ExpiresAt = fromMicros(created), fromMicros(expires)
	return k, wrap("APIKey", notFound(err))
}

// Customers and sessions.

func (s *Store) CreateCustomer(ctx context.Context, cu store.Customer) error {
	return wrap("CreateCustomer", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO customers (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)`,
			cu.ID, cu.Email, cu.PasswordHash, micros(cu.CreatedAt))
		if isUnique(err) {
			return store.ErrExists
		}
		return err
	}))
}

func (s *Store) customer(ctx context.Context, where string, arg string) (store.Customer, error) {
	var cu store.Customer
	var created int64
	err := s.reads.QueryRowContext(ctx, `SELECT id, email, password_hash, created_at FROM customers WHERE `+where+` = ?`, arg).
		Scan(&cu.ID, &cu.Email, &cu.PasswordHash, &created)
	cu.CreatedAt = fromMicros(created)
	return cu, notFound(err)
}

func (s *Store) CustomerByEmail(ctx context.Context, email string) (store.Customer, error) {
	return s.customer(ctx, "email", email)
}

func (s *Store) Customer(ctx context.Context, id string) (store.Customer, error) {
	return s.customer(ctx, "id", id)
}

func (s *Store) CreateSession(ctx context.Context, se store.Session, checked string) error {
	return wrap("CreateSession", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		res, err := c.ExecContext(ctx, `INSERT INTO sessions (id_hash, customer_id, csrf_token, created_at, expires_at)
			SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM customers WHERE id = ? AND password_hash = ?)`,
			se.IDHash, se.CustomerID, se.CSRFToken, micros(se.CreatedAt), micros(se.ExpiresAt), se.CustomerID, checked)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrPasswordChanged
		}
		return nil
	}))
}

func (s *Store) Session(ctx context.Context, idHash []byte) (store.Session, error) {
	var se store.Session
	var created, expires int64
	err := s.rstmts.session.QueryRowContext(ctx, idHash, micros(s.now())).
		Scan(&se.IDHash, &se.CustomerID, &se.CSRFToken, &created, &expires)
	se.CreatedAt, se.ExpiresAt = fromMicros(created), fromMicros(expires)
	return se, wrap("Session", notFound(err))
}

func (s *Store) DeleteSession(ctx context.Context, idHash []byte) error {
	return wrap("DeleteSession", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
		return err
	}))
}

func (s *Store) SetPassword(ctx context.Context, customerID, hash string, keep []byte) error {
	return s.setPassword(ctx, "customers", "sessions", "customer_id", customerID, hash, keep)
}

func (s *Store) SetStaffPassword(ctx context.Context, staffID, hash string, keep []byte) error {
	return s.setPassword(ctx, "staff", "staff_sessions", "staff_id", staffID, hash, keep)
}

// setPassword serves both kinds of account: the table of accounts, and of
// their sessions, which name their account in column owner.
func (s *Store) setPassword(ctx context.Context, accounts, sessions, owner, id, hash string, keep []byte) error {
	return s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		res, err := c.ExecContext(ctx, `UPDATE `+accounts+` SET password_hash = ? WHERE id = ?`, hash, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		if _, err = c.ExecContext(ctx, `DELETE FROM `+sessions+` WHERE `+owner+` = ? AND id_hash IS NOT ?`, id, keep); err != nil || accounts != "customers" {
			return err
		}
		// A reset link asked for before the new password must not undo it.
		_, err = c.ExecContext(ctx, `DELETE FROM password_resets WHERE customer_id = ?`, id)
		return err
	})
}

func (s *Store) SweepExpired(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		for _, q := range []string{`DELETE FROM sessions WHERE expires_at <= ?`, `DELETE FROM link_attempts WHERE expires_at <= ?`, `DELETE FROM password_resets WHERE expires_at <= ?`} {
			res, err := c.ExecContext(ctx, q, micros(now))
			if err != nil {
				return err
			}
			k, _ := res.RowsAffected()
			n += k
		}
		return nil
	})
	return n, wrap("SweepExpired", err)
}

// Data keys.

func (s *Store) DataKey(ctx context.Context, customerID string) (vault.WrappedKey, error) {
	k := vault.WrappedKey{CustomerID: customerID}
	err := s.rstmts.dataKey.QueryRowContext(ctx, customerID).
		Scan(&k.Version, &k.RootKeyVersion, &k.Wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return k, vault.ErrNoKey
	}
	return k, wrap("DataKey", err)
}

func (s *Store) PutDataKey(ctx context.Context, k vault.WrappedKey) (vault.WrappedKey, error) {
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO data_keys (customer_id, version, root_key_version, wrapped, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (customer_id) DO NOTHING`,
			k.CustomerID, k.Version, k.RootKeyVersion, k.Wrapped, micros(s.now()))
		return err
	})
	if err != nil {
		return vault.WrappedKey{}, wrap("PutDataKey", err)
	}
	return s.DataKey(ctx, k.CustomerID)
}

func (s *Store) DataKeysWrappedBelow(ctx context.Context, version, limit int) ([]vault.WrappedKey, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT customer_id, version, root_key_version, wrapped FROM data_keys WHERE root_key_version < ? ORDER BY customer_id LIMIT ?`, version, limit)
	if err != nil {
		return nil, wrap("DataKeysWrappedBelow", err)
	}
	defer rows.Close()
	var out []vault.WrappedKey
	for rows.Next() {
		var k vault.WrappedKey
		if err := rows.Scan(&k.CustomerID, &k.Version, &k.RootKeyVersion, &k.Wrapped); err != nil {
			return nil, wrap("DataKeysWrappedBelow", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (s *Store) RewrapDataKey(ctx context.Context, w vault.WrappedKey, oldRoot int) error {
	return wrap("RewrapDataKey", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `UPDATE data_keys SET wrapped = ?, root_key_version = ? WHERE customer_id = ? AND version = ? AND root_key_version = ?`,
			w.Wrapped, w.RootKeyVersion, w.CustomerID, w.Version, oldRoot)
		return err
	}))
}

func (s *Store) RootKeyUsage(ctx context.Context) (map[int]int, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT root_key_version, count(*) FROM data_keys GROUP BY root_key_version`)
	if err != nil {
		return nil, wrap("RootKeyUsage", err)
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var v, n int
		if err := rows.Scan(&v, &n); err != nil {
			return nil, wrap("RootKeyUsage", err)
		}
		out[v] = n
	}
	return out, rows.Err()
}

func (s *Store) PlatformSecret(ctx context.Context, name string) ([]byte, error) {
	var sealed []byte
	err := s.reads.QueryRowContext(ctx, `SELECT sealed FROM platform_secrets WHERE name = ?`, name).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vault.ErrNoKey
	}
	return sealed, wrap("PlatformSecret", err)
}

func (s *Store) PutPlatformSecret(ctx context.Context, name string, sealed []byte) ([]byte, error) {
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO platform_secrets (name, sealed, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`, name, sealed, micros(s.now()))
		return err
	})
	if err != nil {
		return nil, wrap("PutPlatformSecret", err)
	}
	return s.PlatformSecret(ctx, name)
}

func (s *Store) PlatformSecrets(ctx context.Context) (map[string][]byte, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT name, sealed FROM platform_secrets`)
	if err != nil {
		return nil, wrap("PlatformSecrets", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var name string
		var sealed []byte
		if err := rows.Scan(&name, &sealed); err != nil {
			return nil, wrap("PlatformSecrets", err)
		}
		out[name] = sealed
	}
	return out, rows.Err()
}

func (s *Store) ReplacePlatformSecret(ctx context.Context, name string, old, sealed []byte) error {
	return wrap("ReplacePlatformSecret", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `UPDATE platform_secrets SET sealed = ? WHERE name = ? AND sealed = ?`, sealed, name, old)
		return err
	}))
}

func (s *Store) SetWebhookSecrets(ctx context.Context, institutionID string, secret, previous []byte) error {
	return wrap("SetWebhookSecrets", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `UPDATE webhook_endpoints SET secret = ?, previous_secret = ? WHERE institution_id = ?`, secret, previous, institutionID)
		return err
	}))
}

// Links.

func (s *Store) CreateLinkAttempt(ctx context.Context, a store.LinkAttempt) error {
	return wrap("CreateLinkAttempt", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO link_attempts (state_hash, customer_id, institution_id, link_id, code_verifier, scopes, expires_at, duration_days, disclosure_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			a.StateHash, a.CustomerID, a.InstitutionID, a.LinkID, a.CodeVerifier, strings.Join(a.Scopes, " "), micros(a.ExpiresAt), a.DurationDays, a.DisclosureDigest)
		return err
	}))
}

func (s *Store) TakeLinkAttempt(ctx context.Context, stateHash []byte) (store.LinkAttempt, error) {
	var a store.LinkAttempt
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		var scopes string
		var expires int64
		err := c.QueryRowContext(ctx, `DELETE FROM link_attempts WHERE state_hash = ? RETURNING state_hash, customer_id, institution_id, link_id, code_verifier, scopes, expires_at, duration_days, disclosure_digest`, stateHash).
			Scan(&a.StateHash, &a.CustomerID, &a.InstitutionID, &a.LinkID, &a.CodeVerifier, &scopes, &expires, &a.DurationDays, &a.DisclosureDigest)
		if err != nil {
			return notFound(err)
		}
		a.Scopes, a.ExpiresAt = strings.Fields(scopes), fromMicros(expires)
		// Expired attempts are gone either way; sweep the others while here.
		if _, err := c.ExecContext(ctx, `DELETE FROM link_attempts WHERE expires_at <= ?`, micros(s.now())); err != nil {
			return err
		}
		if !s.now().Before(a.ExpiresAt) {
			return store.ErrNotFound
		}
		return nil
	})
	if errors.Is(err, store.ErrNotFound) {
		// The delete committed: the state cannot be replayed.
		return store.LinkAttempt{}, store.ErrNotFound
	}
	return a, wrap("TakeLinkAttempt", err)
}

func (s *Store) CreateLink(ctx context.Context, l store.Link, grant store.Receipt) (store.Link, error) {
	if err := store.CheckReceipt(grant); err != nil {
		return l, wrap("CreateLink", err)
	}
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		err := c.QueryRowContext(ctx, `SELECT id FROM conversations WHERE customer_id = ? AND institution_id = ?`, l.CustomerID, l.InstitutionID).Scan(&l.ConversationID)
		if errors.Is(err, sql.ErrNoRows) {
			if l.ConversationID == "" {
				return errors.New("sqlite: create link: no conversation id given for a new conversation")
			}
			_, err = c.ExecContext(ctx, `INSERT INTO conversations (id, customer_id, institution_id, created_at) VALUES (?, ?, ?, ?)`,
				l.ConversationID, l.CustomerID, l.InstitutionID, micros(l.CreatedAt))
		}
		if err != nil {
			return err
		}
		_, err = c.ExecContext(ctx, `INSERT INTO links (id, customer_id, institution_id, conversation_id, scopes, status, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			l.ID, l.CustomerID, l.InstitutionID, l.ConversationID, strings.Join(l.Scopes, " "), l.Status, micros(l.CreatedAt), micros(l.ExpiresAt), micros(l.RevokedAt))
		if isUnique(err) {
			return store.ErrExists
		}
		if err != nil {
			return err
		}
		grant.CustomerID, grant.InstitutionID, grant.LinkID = l.CustomerID, l.InstitutionID, l.ID
		if err := insertReceipt(ctx, c, grant); err != nil {
			return err
		}
		return insertNotice(ctx, c, store.CreatedNotice(l))
	})
	return l, wrap("CreateLink", err)
}

func insertNotice(ctx context.Context, c *sql.Conn, n store.Notice) error {
	_, err := c.ExecContext(ctx, `INSERT INTO outbox (id, institution_id, link_id, type, payload, created_at, customer_id, sealed, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.InstitutionID, n.LinkID, n.Type, noticePayload(n), micros(n.CreatedAt), n.CustomerID, n.Sealed, micros(n.LeaseUntil))
	return err
}

// noticePayload is what the payload column holds: '{}' for a sealed notice.
func noticePayload(n store.Notice) string {
	if n.Sealed != nil {
		return "{}"
	}
	return string(n.Payload)
}

func (s *Store) Redeliver(ctx context.Context, institutionID, noticeID string, now time.Time) error {
	return wrap("Redeliver", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		res, err := c.ExecContext(ctx, `UPDATE outbox SET dead_at = 0, attempts = 0, next_at = ?, lease_until = 0 WHERE id = ? AND institution_id = ? AND dead_at <> 0`,
			micros(now), noticeID, institutionID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	}))
}

func insertReceipt(ctx context.Context, c *sql.Conn, r store.Receipt) error {
	_, err := c.ExecContext(ctx, `INSERT INTO consent_receipts (id, customer_id, institution_id, link_id, action, scopes, purpose, collected_at, expires_at, method, disclosure_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.CustomerID, r.InstitutionID, r.LinkID, r.Action, strings.Join(r.Scopes, " "), r.Purpose, micros(r.CollectedAt), micros(r.ExpiresAt), r.Method, r.DisclosureDigest)
	return err
}

func (s *Store) PurgeReceipts(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		res, err := c.ExecContext(ctx, `DELETE FROM consent_receipts WHERE collected_at < ? AND link_id IN (SELECT id FROM links WHERE status <> ?)`, micros(cutoff), store.LinkActive)
		if err == nil {
			n, err = res.RowsAffected()
		}
		return err
	})
	return n, wrap("PurgeReceipts", err)
}

func (s *Store) Receipts(ctx context.Context, customerID string) ([]store.Receipt, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT id, customer_id, institution_id, link_id, action, scopes, purpose, collected_at, expires_at, method, disclosure_digest
		FROM consent_receipts WHERE customer_id = ? ORDER BY collected_at, id`, customerID)
	if err != nil {
		return nil, wrap("Receipts", err)
	}
	defer rows.Close()
	var out []store.Receipt
	for rows.Next() {
		var r store.Receipt
		var scopes string
		var collected, expires int64
		if err := rows.Scan(&r.ID, &r.CustomerID, &r.InstitutionID, &r.LinkID, &r.Action, &scopes, &r.Purpose, &collected, &expires, &r.Method, &r.DisclosureDigest); err != nil {
			return nil, wrap("Receipts", err)
		}
		r.Scopes, r.CollectedAt, r.ExpiresAt = strings.Fields(scopes), fromMicros(collected), fromMicros(expires)
		out = append(out, r)
	}
	return out, rows.Err()
}

const linkCols = `id, customer_id, institution_id, conversation_id, scopes, status, created_at, expires_at, revoked_at`

// scanLink reads linkCols, then any extra columns into extra.
func scanLink(row interface{ Scan(...any) error }, extra ...any) (store.Link, error) {
	var l store.Link
	var scopes string
	var created, expires, revoked int64
	err := row.Scan(append([]any{&l.ID, &l.CustomerID, &l.InstitutionID, &l.ConversationID, &scopes, &l.Status, &created, &expires, &revoked}, extra...)...)
	l.Scopes = strings.Fields(scopes)
	l.CreatedAt, l.ExpiresAt, l.RevokedAt = fromMicros(created), fromMicros(expires), fromMicros(revoked)
	return l, notFound(err)
}

func (s *Store) Link(ctx context.Context, id string) (store.Link, error) {
	return scanLink(s.rstmts.link.QueryRowContext(ctx, id))
}

func (s *Store) RevokeLink(ctx context.Context, r store.Revocation) (store.Revoked, error) {
	var out store.Revoked
	if err := store.CheckReceipt(r.Receipt); err != nil {
		if err == nil {
			s.shred.Add(1)
		}
		return out, wrap("RevokeLink", err)
	}
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		var last int64
		l, err := scanLink(s.stmts.link.QueryRowContext(ctx, r.LinkID), &last)
		if err != nil {
			return err
		}
		if err := store.CheckRevoker(r, l); err != nil {
			return err
		}
		l.Status, l.RevokedAt = store.EndedStatus(r), r.At.UTC()
		if _, err := c.ExecContext(ctx, `UPDATE links SET status = ?, revoked_at = ? WHERE id = ?`, l.Status, micros(r.At), l.ID); err != nil {
			return err
		}
		res, err := c.ExecContext(ctx, `DELETE FROM events WHERE conversation_id = ? AND link_id = ?`, l.ConversationID, l.ID)
		if err != nil {
			return err
		}
		out.Deleted, _ = res.RowsAffected()
		// The marker takes the next seq, read before the delete: the events'
		// index is this store's counter.
		m := store.Marker(r.Marker, l, last)
		if err := s.insertMarker(ctx, &m); err != nil {
			return err
		}
		rc := r.Receipt
		rc.CustomerID, rc.InstitutionID, rc.LinkID, rc.Scopes = l.CustomerID, l.InstitutionID, l.ID, l.Scopes // the scopes as locked, not as read before
		if err := insertReceipt(ctx, c, rc); err != nil {
			return err
		}
		if n, ok := store.EndedNotice(r, l); ok {
			if err := insertNotice(ctx, c, n); err != nil {
				return err
			}
		}
		out.Link, out.Seq = l, m.Seq
		return nil
	})
	return out, wrap("RevokeLink", err)
}

func (s *Store) DueLinks(ctx context.Context, now time.Time, limit int) ([]store.Link, error) {
	return s.queryLinks(ctx, `SELECT `+linkCols+` FROM links WHERE status = ? AND expires_at <= ? ORDER BY expires_at LIMIT ?`, store.LinkActive, micros(now), limit)
}

func (s *Store) Links(ctx context.Context, customerID string) ([]store.Link, error) {
	return s.queryLinks(ctx, `SELECT `+linkCols+` FROM links WHERE customer_id = ? ORDER BY created_at DESC, id`, customerID)
}

func (s *Store) queryLinks(ctx context.Context, query string, args ...any) ([]store.Link, error) {
	rows, err := s.reads.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Link
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func (s *Store) DueReminders(ctx context.Context, now, before time.Time, limit int) ([]store.Link, error) {
	return s.queryLinks(ctx, `SELECT `+linkCols+` FROM links WHERE status = ? AND expires_at > ? AND expires_at <= ? AND reminded_at = 0 ORDER BY expires_at LIMIT ?`,
		store.LinkActive, micros(now), micros(before), limit)
}

func (s *Store) Remind(ctx context.Context, linkID string, at time.Time, marker store.NewEvent) (int64, error) {
	var seq int64
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		var last, reminded int64
		l, err := scanLink(s.stmts.link.QueryRowContext(ctx, linkID), &last)
		if err != nil {
			return err
		}
		if err := c.QueryRowContext(ctx, `SELECT reminded_at FROM links WHERE id = ?`, linkID).Scan(&reminded); err != nil {
			return err
		}
		if l.Status != store.LinkActive || reminded != 0 || !at.Before(l.ExpiresAt) {
			return store.ErrAlreadyRevoked
		}
		if _, err := c.ExecContext(ctx, `UPDATE links SET reminded_at = ? WHERE id = ?`, micros(at), linkID); err != nil {
			return err
		}
		m := store.Marker(marker, l, last)
		seq = m.Seq
		return s.insertMarker(ctx, &m)
	})
	return seq, wrap("Remind", err)
}

func (s *Store) NarrowLink(ctx context.Context, n store.Narrowing) (store.Link, error) {
	var l store.Link
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		var err error
		var last int64
		if l, err = scanLink(s.stmts.link.QueryRowContext(ctx, n.LinkID), &last); err != nil {
			return err
		}
		if err := store.CheckNarrowing(n, l); err != nil {
			return err
		}
		l.Scopes = n.Scopes
		if _, err := c.ExecContext(ctx, `UPDATE links SET scopes = ? WHERE id = ?`, strings.Join(n.Scopes, " "), l.ID); err != nil {
			return err
		}
		for _, typ := range n.DeleteTypes {
			if _, err := c.ExecContext(ctx, `DELETE FROM events WHERE conversation_id = ? AND link_id = ? AND type = ?`, l.ConversationID, l.ID, typ); err != nil {
				return err
			}
		}
		m := store.Marker(n.Marker, l, last)
		if err := s.insertMarker(ctx, &m); err != nil {
			return err
		}
		rc := n.Receipt
		rc.CustomerID, rc.InstitutionID, rc.LinkID, rc.Scopes, rc.ExpiresAt = l.CustomerID, l.InstitutionID, l.ID, n.Scopes, l.ExpiresAt
		return insertReceipt(ctx, c, rc)
	})
	if err == nil {
		s.shred.Add(1)
	}
	return l, wrap("NarrowLink", err)
}

func (s *Store) RenewLink(ctx context.Context, r store.Renewal) (store.Link, error) {
	var l store.Link
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		var err error
		var last int64
		if l, err = scanLink(s.stmts.link.QueryRowContext(ctx, r.LinkID), &last); err != nil {
			return err
		}
		if err := store.CheckRenewal(r, l); err != nil {
			return err
		}
		if r.ExpiresAt.After(l.ExpiresAt) {
			l.ExpiresAt = r.ExpiresAt.UTC().Truncate(time.Microsecond) // what both stores keep
		}
		l.Status, l.RevokedAt = store.LinkActive, time.Time{}
		if _, err := c.ExecContext(ctx, `UPDATE links SET status = ?, expires_at = ?, revoked_at = 0, reminded_at = 0 WHERE id = ?`, l.Status, micros(l.ExpiresAt), l.ID); err != nil {
			return err
		}
		rc := r.Receipt
		rc.CustomerID, rc.InstitutionID, rc.LinkID, rc.Scopes, rc.ExpiresAt = l.CustomerID, l.InstitutionID, l.ID, l.Scopes, l.ExpiresAt
		return insertReceipt(ctx, c, rc)
	})
	return l, wrap("RenewLink", err)
}

func (s *Store) CreateDelegation(ctx context.Context, d store.Delegation, grant store.Receipt) error {
	if err := store.CheckReceipt(grant); err != nil {
		return wrap("CreateDelegation", err)
	}
	return wrap("CreateDelegation", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		if _, err := c.ExecContext(ctx, `INSERT INTO delegations (id, link_id, owner_id, delegate_id, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.LinkID, d.OwnerID, d.DelegateID, strings.Join(d.Scopes, " "), micros(d.CreatedAt), micros(d.ExpiresAt)); err != nil {
			return err
		}
		return insertReceipt(ctx, c, grant)
	}))
}

const delegationCols = `id, link_id, owner_id, delegate_id, scopes, created_at, expires_at, revoked_at`

func scanDelegation(row interface{ Scan(...any) error }) (store.Delegation, error) {
	var d store.Delegation
	var scopes string
	var created, expires, revoked int64
	err := row.Scan(&d.ID, &d.LinkID, &d.OwnerID, &d.DelegateID, &scopes, &created, &expires, &revoked)
	d.Scopes, d.CreatedAt, d.ExpiresAt, d.RevokedAt = strings.Fields(scopes), fromMicros(created), fromMicros(expires), fromMicros(revoked)
	return d, notFound(err)
}

func (s *Store) Delegation(ctx context.Context, id string) (store.Delegation, error) {
	return scanDelegation(s.reads.QueryRowContext(ctx, `SELECT `+delegationCols+` FROM delegations WHERE id = ?`, id))
}

func (s *Store) Delegations(ctx context.Context, linkID, delegateID string) ([]store.Delegation, error) {
	q, arg := `SELECT `+delegationCols+` FROM delegations WHERE delegate_id = ? ORDER BY created_at`, delegateID
	if linkID != "" {
		q, arg = `SELECT `+delegationCols+` FROM delegations WHERE link_id = ? ORDER BY created_at`, linkID
	}
	rows, err := s.reads.QueryContext(ctx, q, arg)
	if err != nil {
		return nil, wrap("Delegations", err)
	}
	defer rows.Close()
	var out []store.Delegation
	for rows.Next() {
		d, err := scanDelegation(rows)
		if err != nil {
			return nil, wrap("Delegations", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *Store) RevokeDelegation(ctx context.Context, id, ownerID string, at time.Time, r store.Receipt) error {
	if err := store.CheckReceipt(r); err != nil {
		return wrap("RevokeDelegation", err)
	}
	return wrap("RevokeDelegation", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		var linkID, institutionID, scopes string
		err := c.QueryRowContext(ctx, `UPDATE delegations SET revoked_at = ? WHERE id = ? AND owner_id = ? AND revoked_at = 0
			RETURNING link_id, (SELECT institution_id FROM links WHERE links.id = delegations.link_id), scopes`, micros(at), id, ownerID).Scan(&linkID, &institutionID, &scopes)
		if errors.Is(err, sql.ErrNoRows) {
			var one int
			return notFound(c.QueryRowContext(ctx, `SELECT 1 FROM delegations WHERE id = ? AND owner_id = ?`, id, ownerID).Scan(&one))
		}
		if err != nil {
			return err
		}
		r.CustomerID, r.LinkID, r.InstitutionID, r.Scopes = ownerID, linkID, institutionID, strings.Fields(scopes)
		return insertReceipt(ctx, c, r)
	}))
}

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

func (s *Store) SetOwner(ctx context.Context, conversationID, fromOwner, fromAgent, toOwner, toAgent string, n store.Notice) error {
	return wrap("SetOwner", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		// A new wait for a person starts afresh: open, normal priority.
		res, err := c.ExecContext(ctx, `UPDATE conversations SET owner = ?1, agent_id = ?2,
				status = CASE WHEN ?1 = 'queue' THEN 'open' ELSE status END,
				priority = CASE WHEN ?1 = 'queue' THEN 0 ELSE priority END,
				snoozed_until = CASE WHEN ?1 = 'queue' THEN 0 ELSE snoozed_until END
			WHERE id = ?3 AND owner = ?4 AND agent_id = ?5`,
			toOwner, toAgent, conversationID, fromOwner, fromAgent)
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return store.ErrOwnerChanged
		}
		agent := toAgent
		if agent == "" {
			agent = fromAgent
		}
		if _, err := c.ExecContext(ctx, `INSERT INTO handovers (conversation_id, institution_id, from_owner, to_owner, agent_id, at) VALUES (?, ?, ?, ?, ?, ?)`,
			conversationID, n.InstitutionID, fromOwner, toOwner, agent, micros(n.CreatedAt)); err != nil {
			return err
		}
		return insertNotice(ctx, c, n)
	}))
}

// insertMarker stores a platform notice placed by store.Marker, if it is
// sealed under its conversation's data key as the store holds it now.
func (s *Store) insertMarker(ctx context.Context, m *store.NewEvent) error {
	var version int
	if err := s.stmts.keyVersion.QueryRowContext(ctx, vault.ConversationKey(m.CustomerID, m.InstitutionID)).Scan(&version); err != nil {
		return err
	}
	if err := store.CheckMarkerKey(*m, version); err != nil {
		return err
	}
	return (&appendTx{st: &s.stmts, cache: &appendCache{}}).Write(ctx, store.AppendWrite{Events: []*store.NewEvent{m}})
}

func (s *Store) ClearHistory(ctx context.Context, c store.Clearing) (store.Cleared, error) {
	var out store.Cleared
	owner := vault.ConversationKey(c.CustomerID, c.InstitutionID)
	err := s.do(ctx, func(ctx context.Context, conn *sql.Conn) error {
		var version int
		if err := s.stmts.keyVersion.QueryRowContext(ctx, owner).Scan(&version); err != nil {
			return err
		}
		if version != c.OldKeyVersion || c.NewKey.CustomerID != owner || c.NewKey.Version <= version {
			return store.ErrKeyChanged
		}
		var linkID string
		err := conn.QueryRowContext(ctx, `SELECT id FROM links WHERE customer_id = ? AND institution_id = ? ORDER BY created_at DESC, id DESC LIMIT 1`,
			c.CustomerID, c.InstitutionID).Scan(&linkID)
		if errors.Is(err, sql.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		var last int64
		l, err := scanLink(s.stmts.link.QueryRowContext(ctx, linkID), &last)
		if err != nil {
			return err
		}
		res, err := conn.ExecContext(ctx, `DELETE FROM events WHERE conversation_id = ?`, l.ConversationID)
		if err != nil {
			return err
		}
		out.Deleted, _ = res.RowsAffected()
		if _, err := conn.ExecContext(ctx, `DELETE FROM outbox WHERE customer_id = ? AND institution_id = ? AND sealed IS NOT NULL`, c.CustomerID, c.InstitutionID); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, `DELETE FROM console_notes WHERE conversation_id = ?`, l.ConversationID); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, `DELETE FROM conversation_labels WHERE conversation_id = ?`, l.ConversationID); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, `DELETE FROM data_keys WHERE customer_id = ?`, owner); err != nil {
			return err
		}
		if _, err := conn.ExecContext(ctx, `INSERT INTO data_keys (customer_id, version, root_key_version, wrapped, created_at) VALUES (?, ?, ?, ?, ?)`,
			owner, c.NewKey.Version, c.NewKey.RootKeyVersion, c.NewKey.Wrapped, micros(c.At)); err != nil {
			return err
		}
		if c.DropCustomerKey {
			if _, err := conn.ExecContext(ctx, `DELETE FROM data_keys WHERE customer_id = ?`, c.CustomerID); err != nil {
				return err
			}
		}
		// The marker takes the next seq, read before the delete: the events'
		// index is this store's counter.
		m := store.Marker(c.Marker, l, last)
		if err := s.insertMarker(ctx, &m); err != nil {
			return err
		}
		out.ConversationID, out.Seq = l.ConversationID, m.Seq
		return nil
	})
	if err == nil {
		s.shred.Add(1)
	}
	return out, wrap("ClearHistory", err)
}

func (s *Store) LogEntries(ctx context.Context, subject string) ([]store.LogEntry, error) {
	return s.logEntries(ctx, `SELECT idx, subject, data, leaf_hash FROM access_entries WHERE subject = ? ORDER BY idx`, subject)
}

func (s *Store) LogRange(ctx context.Context, from, to uint64) ([]store.LogEntry, error) {
	return s.logEntries(ctx, `SELECT idx, subject, data, leaf_hash FROM access_entries WHERE idx >= ? AND idx < ? ORDER BY idx`, from, to)
}

func (s *Store) logEntries(ctx context.Context, query string, args ...any) ([]store.LogEntry, error) {
	rows, err := s.reads.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.LogEntry
	for rows.Next() {
		var e store.LogEntry
		var data string
		var leaf []byte
		if err := rows.Scan(&e.Index, &e.Subject, &data, &leaf); err != nil {
			return nil, err
		}
		e.Data = []byte(data)
		copy(e.LeafHash[:], leaf)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *Store) LeafHashes(ctx context.Context, from, to uint64) ([][32]byte, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT leaf_hash FROM access_entries WHERE idx >= ? AND idx < ? ORDER BY idx`, from, to)
	if err != nil {
		return nil, wrap("LeafHashes", err)
	}
	defer rows.Close()
	out := make([][32]byte, 0, to-min(from, to))
	for rows.Next() {
		var leaf []byte
		if err := rows.Scan(&leaf); err != nil {
			return nil, wrap("LeafHashes", err)
		}
		h, err := store.Hash32(leaf)
		if err != nil {
			return nil, wrap("LeafHashes", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
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

func (s *Store) LogNodesCover(ctx context.Context) (cover, kept uint64, err error) {
	err = s.reads.QueryRowContext(ctx, `SELECT coalesce(max(idx) FILTER (WHERE level = 1) + 1, 0) * 2, count(*) FROM log_nodes`).Scan(&cover, &kept)
	return cover, kept, wrap("LogNodesCover", err)
}

func (s *Store) LogSize(ctx context.Context) (uint64, error) {
	var n uint64
	err := s.reads.QueryRowContext(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM access_entries`).Scan(&n)
	return n, wrap("LogSize", err)
}

func (s *Store) PutCheckpoint(ctx context.Context, c store.StoredCheckpoint) error {
	return wrap("PutCheckpoint", s.do(ctx, func(ctx context.Context, conn *sql.Conn) error {
		_, err := conn.ExecContext(ctx, `INSERT INTO log_checkpoints (size, note, created_at) VALUES (?, ?, ?) ON CONFLICT (size) DO NOTHING`,
			c.Size, c.Note, micros(c.CreatedAt))
		return err
	}))
}

func (s *Store) Checkpoints(ctx context.Context) ([]store.StoredCheckpoint, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT size, note, created_at FROM log_checkpoints ORDER BY size`)
	if err != nil {
		return nil, wrap("Checkpoints", err)
	}
	defer rows.Close()
	var out []store.StoredCheckpoint
	for rows.Next() {
		var c store.StoredCheckpoint
		var at int64
		if err := rows.Scan(&c.Size, &c.Note, &at); err != nil {
			return nil, wrap("Checkpoints", err)
		}
		c.CreatedAt = fromMicros(at)
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Store) PutWebhookEndpoint(ctx context.Context, e store.WebhookEndpoint) error {
	return wrap("PutWebhookEndpoint", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO webhook_endpoints (institution_id, url, secret, previous_secret, previous_until, disabled_at, disabled_reason, created_at, format)
			VALUES (?, ?, ?, ?, ?, 0, '', ?, ?)
			ON CONFLICT (institution_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, previous_secret = excluded.previous_secret,
				previous_until = excluded.previous_until, disabled_at = 0, disabled_reason = '', format = excluded.format`,
			e.InstitutionID, e.URL, e.Secret, e.PreviousSecret, micros(e.PreviousUntil), micros(e.CreatedAt), e.Format)
		if err != nil {
			return err
		}
		// Notices held for want of an endpoint are due now.
		_, err = c.ExecContext(ctx, `UPDATE outbox SET next_at = 0 WHERE institution_id = ? AND delivered_at = 0 AND dead_at = 0`, e.InstitutionID)
		return err
	}))
}

func (s *Store) WebhookEndpoint(ctx context.Context, institutionID string) (store.WebhookEndpoint, error) {
	var e store.WebhookEndpoint
	var until, disabled, created int64
	err := s.reads.QueryRowContext(ctx, `SELECT institution_id, url, secret, previous_secret, previous_until, disabled_at, disabled_reason, created_at, format FROM webhook_endpoints WHERE institution_id = ?`, institutionID).
		Scan(&e.InstitutionID, &e.URL, &e.Secret, &e.PreviousSecret, &until, &disabled, &e.DisabledReason, &created, &e.Format)
	e.PreviousUntil, e.DisabledAt, e.CreatedAt = fromMicros(until), fromMicros(disabled), fromMicros(created)
	return e, wrap("WebhookEndpoint", notFound(err))
}

func (s *Store) PutMenu(ctx context.Context, m store.Menu) error {
	items, err := json.Marshal(m.Items)
	if err != nil {
		return fmt.Errorf("sqlite: encode menu: %w", err)
	}
	return wrap("PutMenu", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO institution_menus (institution_id, get_started, items, updated_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (institution_id) DO UPDATE SET get_started = excluded.get_started, items = excluded.items, updated_at = excluded.updated_at`,
			m.InstitutionID, m.GetStarted, string(items), micros(m.UpdatedAt))
		return err
	}))
}

func (s *Store) Menu(ctx context.Context, institutionID string) (store.Menu, error) {
	m := store.Menu{InstitutionID: institutionID}
	var items string
	var updated int64
	err := s.reads.QueryRowContext(ctx, `SELECT get_started, items, updated_at FROM institution_menus WHERE institution_id = ?`, institutionID).
		Scan(&m.GetStarted, &items, &updated)
	if err != nil {
		return m, wrap("Menu", notFound(err))
	}
	m.UpdatedAt = fromMicros(updated)
	if err := json.Unmarshal([]byte(items), &m.Items); err != nil {
		return m, fmt.Errorf("%w: menu of %s: %v", store.ErrCorrupt, institutionID, err)
	}
	return m, nil
}

func (s *Store) DisableWebhookEndpoint(ctx context.Context, institutionID, reason string, at time.Time) error {
	return wrap("DisableWebhookEndpoint", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ? WHERE institution_id = ?`, micros(at), reason, institutionID)
		return err
	}))
}

const noticeCols = `id, institution_id, link_id, type, payload, created_at, attempts, delivered_at, dead_at, last_error, customer_id, sealed`

func scanNotice(row interface{ Scan(...any) error }) (store.Notice, error) {
	var n store.Notice
	var payload string
	var created, delivered, dead int64
	err := row.Scan(&n.ID, &n.InstitutionID, &n.LinkID, &n.Type, &payload, &created, &n.Attempts, &delivered, &dead, &n.LastError, &n.CustomerID, &n.Sealed)
	n.Payload, n.CreatedAt, n.DeliveredAt, n.DeadAt = []byte(payload), fromMicros(created), fromMicros(delivered), fromMicros(dead)
	if n.Sealed != nil {
		n.Payload = nil
	}
	return n, err
}

func (s *Store) ClaimNotices(ctx context.Context, now, leaseUntil time.Time, limit int) ([]store.Notice, error) {
	var out []store.Notice
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		rows, err := c.QueryContext(ctx, `UPDATE outbox SET lease_until = ? WHERE id IN (
			SELECT o.id FROM outbox o WHERE o.delivered_at = 0 AND o.dead_at = 0 AND o.next_at <= ? AND o.lease_until <= ?
			AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.institution_id = o.institution_id AND w.disabled_at = 0)
			AND o.id = (SELECT p.id FROM outbox p WHERE p.link_id = o.link_id AND p.delivered_at = 0 AND p.dead_at = 0 ORDER BY p.rowid LIMIT 1)
			ORDER BY o.created_at, o.id LIMIT ?) RETURNING `+noticeCols, micros(leaseUntil), micros(now), micros(now), limit)
		if err != nil {
			return err
		}
		out, err = scanNotices(rows)
		return err
	})
	store.SortNotices(out)
	return out, wrap("ClaimNotices", err)
}

func (s *Store) SettleNotices(ctx context.Context, os []store.Outcome) error {
	if len(os) == 0 {
		return nil
	}
	return wrap("SettleNotices", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		for _, o := range os {
			if _, err := c.ExecContext(ctx, `UPDATE outbox SET attempts = ?, delivered_at = ?, dead_at = ?, next_at = ?, lease_until = 0, last_error = ? WHERE id = ? AND lease_until = ?`,
				o.Attempts, micros(o.DeliveredAt), micros(o.DeadAt), micros(o.NextAt), o.Error, o.NoticeID, micros(o.LeaseUntil)); err != nil {
				return err
			}
		}
		return nil
	}))
}

func (s *Store) Notices(ctx context.Context, institutionID string) ([]store.Notice, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT `+noticeCols+` FROM outbox WHERE institution_id = ? ORDER BY rowid`, institutionID)
	if err != nil {
		return nil, wrap("Notices", err)
	}
	return scanNotices(rows)
}

func scanNotices(rows *sql.Rows) ([]store.Notice, error) {
	defer rows.Close()
	var out []store.Notice
	for rows.Next() {
		n, err := scanNotice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}

// A conversation's last seq is read from its events' unique index: the
// single writer needs no counter row, so appends dirty no conversation pages.
const conversationQuery = `SELECT c.id, c.customer_id, c.institution_id, i.name, (SELECT coalesce(max(seq), 0) FROM events WHERE conversation_id = c.id),
	l.id, l.customer_id, l.institution_id, l.conversation_id, l.scopes, l.status, l.created_at, l.expires_at, l.revoked_at, c.owner, c.agent_id,
	c.status, c.snoozed_until, c.priority
	FROM conversations c JOIN institutions i ON i.id = c.institution_id
	JOIN links l ON l.id = (SELECT id FROM links WHERE conversation_id = c.id ORDER BY created_at DESC, id DESC LIMIT 1)`

func scanConversation(row interface{ Scan(...any) error }) (store.Conversation, error) {
	var cv store.Conversation
	var l store.Link
	var scopes string
	var created, expires, revoked, snoozed int64
	err := row.Scan(&cv.ID, &cv.CustomerID, &cv.InstitutionID, &cv.InstitutionName, &cv.LastSeq,
		&l.ID, &l.CustomerID, &l.InstitutionID, &l.ConversationID, &scopes, &l.Status, &created, &expires, &revoked, &cv.Owner, &cv.AgentID,
		&cv.Status, &snoozed, &cv.Priority)
	cv.SnoozedUntil = fromMicros(snoozed)
	l.Scopes = strings.Fields(scopes)
	l.CreatedAt, l.ExpiresAt, l.RevokedAt = fromMicros(created), fromMicros(expires), fromMicros(revoked)
	cv.Link = l
	return cv, notFound(err)
}

func (s *Store) Conversations(ctx context.Context, customerID string) ([]store.Conversation, error) {
	rows, err := s.rstmts.conversations.QueryContext(ctx, customerID)
	if err != nil {
		return nil, wrap("Conversations", err)
	}
	defer rows.Close()
	var out []store.Conversation
	for rows.Next() {
		cv, err := scanConversation(rows)
		if err != nil {
			return nil, wrap("Conversations", err)
		}
		out = append(out, cv)
	}
	return out, rows.Err()
}

func (s *Store) Conversation(ctx context.Context, id string) (store.Conversation, error) {
	return scanConversation(s.rstmts.conversation.QueryRowContext(ctx, id))
}

func (s *Store) ConversationHeads(ctx context.Context, customerIDs []string) ([]store.ConversationHead, error) {
	if len(customerIDs) == 0 {
		return nil, nil
	}
	ids, _ := json.Marshal(customerIDs)
	rows, err := s.reads.QueryContext(ctx, `SELECT c.id, c.customer_id, (SELECT coalesce(max(seq), 0) FROM events WHERE conversation_id = c.id)
		FROM conversations c WHERE c.customer_id IN (SELECT value FROM json_each(?))`, string(ids))
	out, err := collect(rows, err, func(rows *sql.Rows) (store.ConversationHead, error) {
		var h store.ConversationHead
		return h, rows.Scan(&h.ConversationID, &h.CustomerID, &h.LastSeq)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: conversation heads: %w", err)
	}
	return out, nil
}

func (s *Store) LiveSessions(ctx context.Context, idHashes [][]byte, now time.Time) (map[string]bool, error) {
	out := make(map[string]bool, len(idHashes))
	if len(idHashes) == 0 {
		return out, nil
	}
	hexes := make([]string, len(idHashes))
	for i, h := range idHashes {
		hexes[i] = fmt.Sprintf("%x", h)
	}
	list, _ := json.Marshal(hexes)
	rows, err := s.reads.QueryContext(ctx, `SELECT id_hash FROM sessions WHERE id_hash IN (SELECT unhex(value) FROM json_each(?)) AND expires_at > ?`, string(list), micros(now))
	live, err := collect(rows, err, func(rows *sql.Rows) ([]byte, error) {
		var h []byte
		return h, rows.Scan(&h)
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: live sessions: %w", err)
	}
	for _, h := range live {
		out[string(h)] = true
	}
	return out, nil
}

// Events.

func (s *Store) AppendEvents(ctx context.Context, evs []store.NewEvent) ([]store.AppendResult, error) {
	evs = slices.Clone(evs) // Append fills them in; the caller's stay as they were
	var results []store.AppendResult
	w := &write{err: make(chan error, 1)}
	w.fn = func(ctx context.Context, c *sql.Conn) error {
		var err error
		results, err = store.Append(ctx, &appendTx{c: c, st: &s.stmts, cache: &s.cache}, evs, s.now())
		if err == nil {
			w.stored = store.StoredEvents(evs, results)
		}
		return err
	}
	if err := s.submit(ctx, w); err != nil {
		return nil, wrap("AppendEvents", err)
	}
	return results, nil
}

// appendTx runs Append's reads and writes with the writer's prepared
// statements, inside the writer's transaction. It needs no locks of its own:
// the writer's IMMEDIATE transaction already excludes every other writer,
// revocation included.
type appendTx struct {
	c     *sql.Conn
	st    *stmts
	cache *appendCache // the writer's, on the append path only
}

func (t *appendTx) Read(ctx context.Context, q store.AppendQuery) (store.AppendState, error) {
	out := store.AppendState{Links: make(map[string]store.Link, len(q.Links)), LastSeqs: map[string]int64{}, Existing: map[store.EventKey]store.Stored{}, BusyLinks: map[string]bool{}}
	for _, id := range q.Links {
		l, seq, ok, err := t.link(ctx, id)
		if err != nil {
			return out, wrap("Read", err)
		}
		if ok {
			out.Links[id] = l
			out.LastSeqs[l.ConversationID] = seq
		}
	}
	for inst, ids := range q.Existing {
		for _, id := range ids {
			var st store.Stored
			err := t.st.existing.QueryRowContext(ctx, inst, id).Scan(&st.Fingerprint, &st.ConversationID, &st.Seq)
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return out, fmt.Errorf("find event %s: %w", id, err)
			}
			out.Existing[store.EventKey{InstitutionID: inst, BankEventID: id}] = st
		}
	}
	for _, id := range q.Notifying {
		var one int
		err := t.st.busyLink.QueryRowContext(ctx, id).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return out, fmt.Errorf("find pending notices of %s: %w", id, err)
		}
		out.BusyLinks[id] = true
	}
	return out, nil
}

// link reads a link with its data key's version and its conversation's
// last seq, from the writer's cache when it has them.
func (t *appendTx) link(ctx context.Context, id string) (store.Link, int64, bool, error) {
	if cl, ok := t.cache.links[id]; ok {
		if seq, ok := t.cache.seqs[cl.link.ConversationID]; ok {
			return cl.link, seq, true, nil
		}
		return cl.link, cl.seq, true, nil
	}
	var seq int64
	var version int
	l, err := scanLink(t.st.appendLink.QueryRowContext(ctx, id), &seq, &version)
	if errors.Is(err, store.ErrNotFound) {
		return l, 0, false, nil
	}
	if err != nil {
		return l, 0, false, fmt.Errorf("read link %s: %w", id, err)
	}
	l.KeyVersion = version
	if t.cache.links == nil {
		t.cache.links, t.cache.seqs = map[string]cachedLink{}, map[string]int64{}
	}
	t.cache.links[id] = cachedLink{link: l, seq: seq}
	if cached, ok := t.cache.seqs[l.ConversationID]; ok {
		seq = cached
	} else {
		t.cache.seqs[l.ConversationID] = seq
	}
	return l, seq, true, nil
}

func (t *appendTx) PendingSeqs(ctx context.Context, keys []store.PendingKey) (map[store.PendingKey]int64, error) {
	out := make(map[store.PendingKey]int64, len(keys))
	for _, k := range keys {
		var seq int64
		err := t.st.pendingSeq.QueryRowContext(ctx, k.ConversationID, []byte(k.Ref)).Scan(&seq)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("find pending event: %w", err)
		}
		out[k] = seq
	}
	return out, nil
}

// Write inserts the events; the events' index is the conversations'
// counter, so there is no last seq to set.
func (t *appendTx) Write(ctx context.Context, w store.AppendWrite) error {
	for _, e := range w.Events {
		var bankID any
		if e.BankEventID != "" {
			bankID = e.BankEventID
		}
		if _, err := t.st.insert.ExecContext(ctx,
			e.ConversationID, e.Seq, e.ID, e.CustomerID, e.InstitutionID, e.LinkID, bankID, e.Type, e.Author,
			micros(e.OccurredAt), micros(e.ReceivedAt), e.Fingerprint, e.PendingRef, e.ReplacesSeq, e.Sealed); err != nil {
			return fmt.Errorf("insert event: %w", err)
		}
		if t.cache.seqs != nil {
			t.cache.seqs[e.ConversationID] = e.Seq
		}
	}
	for _, n := range w.Notices {
		if err := insertNotice(ctx, t.c, n); err != nil {
			return fmt.Errorf("queue notice: %w", err)
		}
	}
	return nil
}

func (s *Store) EventsAfter(ctx context.Context, conversationID string, after int64, limit int) ([]store.Event, error) {
	rows, err := s.rstmts.eventsAfter.QueryContext(ctx, conversationID, after, limit)
	if err != nil {
		return nil, wrap("EventsAfter", err)
	}
	return scanEvents(rows)
}

func (s *Store) EventsBefore(ctx context.Context, conversationID string, before int64, limit int) ([]store.Event, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT * FROM (SELECT conversation_id, seq, id, customer_id, institution_id, link_id, coalesce(bank_event_id, ''), type, author, occurred_at, received_at, replaces_seq, sealed
		FROM events WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?) ORDER BY seq`, conversationID, before, limit)
	if err != nil {
		return nil, wrap("EventsBefore", err)
	}
	return scanEvents(rows)
}

func (s *Store) LatestEvents(ctx context.Context, conversationID, typ string, limit int) ([]store.Event, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT conversation_id, seq, id, customer_id, institution_id, link_id, coalesce(bank_event_id, ''), type, author, occurred_at, received_at, replaces_seq, sealed
		FROM events WHERE conversation_id = ? AND type = ? ORDER BY seq DESC LIMIT ?`, conversationID, typ, limit)
	if err != nil {
		return nil, wrap("LatestEvents", err)
	}
	return scanEvents(rows)
}

func scanEvents(rows *sql.Rows) ([]store.Event, error) {
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var e store.Event
		var occurred, received int64
		if err := rows.Scan(&e.ConversationID, &e.Seq, &e.ID, &e.CustomerID, &e.InstitutionID, &e.LinkID, &e.BankEventID, &e.Type, &e.Author, &occurred, &received, &e.ReplacesSeq, &e.Sealed); err != nil {
			return nil, err
		}
		e.OccurredAt, e.ReceivedAt = fromMicros(occurred), fromMicros(received)
		out = append(out, e)
	}
	return out, rows.Err()
}

// Staff.

const staffCols = `id, institution_id, email, name, role, password_hash, disabled_at, created_at`

func scanStaff(row interface{ Scan(...any) error }) (store.Staff, error) {
	var m store.Staff
	var disabled, created int64
	err := row.Scan(&m.ID, &m.InstitutionID, &m.Email, &m.Name, &m.Role, &m.PasswordHash, &disabled, &created)
	m.DisabledAt, m.CreatedAt = fromMicros(disabled), fromMicros(created)
	return m, notFound(err)
}

func (s *Store) CreateStaff(ctx context.Context, m store.Staff) error {
	return wrap("CreateStaff", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO staff (id, institution_id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			m.ID, m.InstitutionID, m.Email, m.Name, m.Role, m.PasswordHash, micros(m.CreatedAt))
		if isUnique(err) {
			return store.ErrExists
		}
		return err
	}))
}

func (s *Store) Staff(ctx context.Context, id string) (store.Staff, error) {
	return scanStaff(s.reads.QueryRowContext(ctx, `SELECT `+staffCols+` FROM staff WHERE id = ?`, id))
}

func (s *Store) StaffByEmail(ctx context.Context, email string) (store.Staff, error) {
	return scanStaff(s.reads.QueryRowContext(ctx, `SELECT `+staffCols+` FROM staff WHERE email = ?`, email))
}

func (s *Store) DisableStaff(ctx context.Context, institutionID, id string, at time.Time) error {
	return wrap("DisableStaff", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		res, err := c.ExecContext(ctx, `UPDATE staff SET disabled_at = ? WHERE id = ? AND institution_id = ?`, micros(at), id, institutionID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		_, err = c.ExecContext(ctx, `DELETE FROM staff_sessions WHERE staff_id = ?`, id)
		return err
	}))
}

func (s *Store) CreateStaffSession(ctx context.Context, se store.StaffSession, checked string) error {
	return wrap("CreateStaffSession", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		res, err := c.ExecContext(ctx, `INSERT INTO staff_sessions (id_hash, staff_id, csrf_token, created_at, expires_at)
			SELECT ?, ?, ?, ?, ? WHERE EXISTS (SELECT 1 FROM staff WHERE id = ? AND password_hash = ? AND disabled_at = 0)`,
			se.IDHash, se.StaffID, se.CSRFToken, micros(se.CreatedAt), micros(se.ExpiresAt), se.StaffID, checked)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrPasswordChanged
		}
		return nil
	}))
}

func (s *Store) StaffSession(ctx context.Context, idHash []byte) (store.StaffSession, error) {
	var se store.StaffSession
	var created, expires int64
	err := s.reads.QueryRowContext(ctx, `SELECT ss.id_hash, ss.staff_id, ss.csrf_token, ss.created_at, ss.expires_at FROM staff_sessions ss
		JOIN staff m ON m.id = ss.staff_id WHERE ss.id_hash = ? AND ss.expires_at > ? AND m.disabled_at = 0`, idHash, micros(s.now())).
		Scan(&se.IDHash, &se.StaffID, &se.CSRFToken, &created, &expires)
	se.CreatedAt, se.ExpiresAt = fromMicros(created), fromMicros(expires)
	return se, wrap("StaffSession", notFound(err))
}

func (s *Store) DeleteStaffSession(ctx context.Context, idHash []byte) error {
	return wrap("DeleteStaffSession", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `DELETE FROM staff_sessions WHERE id_hash = ?`, idHash)
		return err
	}))
}

func (s *Store) HandedOver(ctx context.Context, institutionID string) ([]store.Conversation, error) {
	rows, err := s.reads.QueryContext(ctx, conversationQuery+` WHERE c.institution_id = ? AND c.owner <> 'bot' ORDER BY c.id`, institutionID)
	return collect(rows, err, func(rows *sql.Rows) (store.Conversation, error) { return scanConversation(rows) })
}

func (s *Store) SetWork(ctx context.Context, conversationID, status string, snoozedUntil time.Time, priority int) error {
	return wrap("SetWork", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		res, err := c.ExecContext(ctx, `UPDATE conversations SET status = ?, snoozed_until = ?, priority = ? WHERE id = ?`, status, micros(snoozedUntil), priority, conversationID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	}))
}

func (s *Store) AddNote(ctx context.Context, n store.Note) error {
	return wrap("AddNote", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		// Only under the conversation's key as it is: see store.AddNote.
		res, err := c.ExecContext(ctx, `INSERT INTO console_notes (id, conversation_id, staff_id, sealed, created_at)
			SELECT ?1, ?2, ?3, ?4, ?5 WHERE ?6 = 0 OR EXISTS (SELECT 1 FROM conversations c
				JOIN data_keys k ON k.customer_id = c.customer_id || '/' || c.institution_id WHERE c.id = ?2 AND k.version = ?6)`,
			n.ID, n.ConversationID, n.StaffID, n.Sealed, micros(n.CreatedAt), vault.SealedVersion(n.Sealed))
		if err != nil {
			return err
		}
		if k, _ := res.RowsAffected(); k == 0 {
			return store.ErrStaleKey
		}
		return nil
	}))
}

func (s *Store) Notes(ctx context.Context, conversationID string) ([]store.Note, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT id, conversation_id, staff_id, sealed, created_at FROM console_notes WHERE conversation_id = ? ORDER BY created_at, id`, conversationID)
	return collect(rows, err, func(rows *sql.Rows) (store.Note, error) {
		var n store.Note
		var at int64
		err := rows.Scan(&n.ID, &n.ConversationID, &n.StaffID, &n.Sealed, &at)
		n.CreatedAt = fromMicros(at)
		return n, err
	})
}

func (s *Store) AddCanned(ctx context.Context, cr store.Canned) error {
	return wrap("AddCanned", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO canned_responses (id, institution_id, title, text, created_at) VALUES (?, ?, ?, ?, ?)`,
			cr.ID, cr.InstitutionID, cr.Title, cr.Text, micros(cr.CreatedAt))
		return err
	}))
}

func (s *Store) CannedResponses(ctx context.Context, institutionID string) ([]store.Canned, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT id, institution_id, title, text, created_at FROM canned_responses WHERE institution_id = ? ORDER BY title, id`, institutionID)
	return collect(rows, err, func(rows *sql.Rows) (store.Canned, error) {
		var cr store.Canned
		var at int64
		err := rows.Scan(&cr.ID, &cr.InstitutionID, &cr.Title, &cr.Text, &at)
		cr.CreatedAt = fromMicros(at)
		return cr, err
	})
}

func (s *Store) AddRating(ctx context.Context, r store.Rating) error {
	return wrap("AddRating", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO ratings (conversation_id, request_seq, institution_id, staff_id, score, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
			r.ConversationID, r.RequestSeq, r.InstitutionID, r.StaffID, r.Score, micros(r.CreatedAt))
		if isUnique(err) {
			return store.ErrExists
		}
		return err
	}))
}

func (s *Store) Ratings(ctx context.Context, institutionID string, since time.Time) ([]store.Rating, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT conversation_id, request_seq, institution_id, staff_id, score, created_at FROM ratings WHERE institution_id = ? AND created_at >= ?`, institutionID, micros(since))
	return collect(rows, err, func(rows *sql.Rows) (store.Rating, error) {
		var r store.Rating
		var at int64
		err := rows.Scan(&r.ConversationID, &r.RequestSeq, &r.InstitutionID, &r.StaffID, &r.Score, &at)
		r.CreatedAt = fromMicros(at)
		return r, err
	})
}

func (s *Store) Handovers(ctx context.Context, institutionID string, since time.Time) ([]store.HandoverRecord, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT conversation_id, from_owner, to_owner, agent_id, at FROM handovers WHERE institution_id = ? AND at >= ? ORDER BY at`, institutionID, micros(since))
	return collect(rows, err, func(rows *sql.Rows) (store.HandoverRecord, error) {
		var h store.HandoverRecord
		var at int64
		err := rows.Scan(&h.ConversationID, &h.From, &h.To, &h.AgentID, &at)
		h.At = fromMicros(at)
		return h, err
	})
}

func (s *Store) AgentMessageTimes(ctx context.Context, institutionID string, since time.Time) ([]store.EventTime, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT conversation_id, received_at FROM events WHERE institution_id = ? AND author = 'agent' AND received_at >= ? ORDER BY received_at`, institutionID, micros(since))
	return collect(rows, err, func(rows *sql.Rows) (store.EventTime, error) {
		var e store.EventTime
		var at int64
		err := rows.Scan(&e.ConversationID, &at)
		e.At = fromMicros(at)
		return e, err
	})
}

func (s *Store) SearchConversations(ctx context.Context, institutionID, ref string, limit int) ([]store.Conversation, error) {
	pattern := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(ref) + "%"
	rows, err := s.reads.QueryContext(ctx, conversationQuery+` WHERE c.institution_id = ? AND l.id LIKE ? ESCAPE '\' ORDER BY c.id LIMIT ?`, institutionID, pattern, limit)
	return collect(rows, err, func(rows *sql.Rows) (store.Conversation, error) { return scanConversation(rows) })
}

func (s *Store) AvailableAgents(ctx context.Context, institutionID string, now time.Time) ([]string, error) {
	// Present, not merely signed in: a console online on a live session.
	rows, err := s.reads.QueryContext(ctx, `SELECT DISTINCT m.id FROM staff m
		JOIN staff_presence p ON p.staff_id = m.id JOIN staff_sessions ss ON ss.id_hash = p.session_hash AND ss.staff_id = m.id
		WHERE m.institution_id = ?1 AND m.role = 'agent' AND m.disabled_at = 0 AND p.status = 'online' AND p.expires_at > ?2 AND ss.expires_at > ?2
		ORDER BY m.id`, institutionID, micros(now))
	return collect(rows, err, func(rows *sql.Rows) (string, error) {
		var id string
		return id, rows.Scan(&id)
	})
}

func (s *Store) SetPresence(ctx context.Context, p store.Presence) error {
	return wrap("SetPresence", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO staff_presence (stream_id, staff_id, session_hash, status, expires_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (stream_id) DO UPDATE SET status = excluded.status, expires_at = excluded.expires_at`,
			p.StreamID, p.StaffID, p.SessionHash, p.Status, micros(p.ExpiresAt))
		return err
	}))
}

func (s *Store) EndPresence(ctx context.Context, streamID string, now time.Time) error {
	return wrap("EndPresence", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `DELETE FROM staff_presence WHERE stream_id = ? OR expires_at <= ?`, streamID, micros(now))
		return err
	}))
}

func (s *Store) StaffPresence(ctx context.Context, institutionID string, now time.Time) (map[string]string, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT m.id, max(p.status = 'online') FROM staff m
		JOIN staff_presence p ON p.staff_id = m.id JOIN staff_sessions ss ON ss.id_hash = p.session_hash AND ss.staff_id = m.id
		WHERE m.institution_id = ?1 AND m.disabled_at = 0 AND p.expires_at > ?2 AND ss.expires_at > ?2 GROUP BY m.id`, institutionID, micros(now))
	type row struct {
		id     string
		online bool
	}
	rs, err := collect(rows, err, func(rows *sql.Rows) (row, error) {
		var r row
		return r, rows.Scan(&r.id, &r.online)
	})
	out := map[string]string{}
	for _, r := range rs {
		out[r.id] = store.PresenceAway
		if r.online {
			out[r.id] = store.PresenceOnline
		}
	}
	return out, wrap("StaffPresence", err)
}

func (s *Store) HandedOverActivity(ctx context.Context, institutionID string) ([]store.Activity, error) {
	// Each subquery reads one of the partial indexes of migration 0016
	// (the terms match theirs exactly), never the bank's own events.
	rows, err := s.reads.QueryContext(ctx, `SELECT c.id, coalesce(lc.seq, 0), coalesce(lc.type, ''), coalesce(lc.received_at, 0), coalesce(la.received_at, 0),
		coalesce((SELECT min(e.received_at) FROM events e WHERE e.conversation_id = c.id AND e.author = 'customer' AND e.seq > coalesce(la.seq, 0)), 0),
		coalesce((SELECT max(h.at) FROM handovers h WHERE h.conversation_id = c.id AND h.from_owner = 'bot' AND h.to_owner <> 'bot'), 0),
		coalesce((SELECT f.received_at FROM events f WHERE f.conversation_id = c.id AND f.type IN ('fraud.alert', 'fraud.response') ORDER BY f.seq DESC LIMIT 1), 0)
		FROM conversations c
		LEFT JOIN events lc ON lc.conversation_id = c.id AND lc.seq = (SELECT max(seq) FROM events WHERE conversation_id = c.id AND author = 'customer')
		LEFT JOIN events la ON la.conversation_id = c.id AND la.seq = (SELECT max(seq) FROM events WHERE conversation_id = c.id AND author = 'agent')
		WHERE c.institution_id = ? AND c.owner <> 'bot' ORDER BY c.id`, institutionID)
	return collect(rows, err, func(rows *sql.Rows) (store.Activity, error) {
		var a store.Activity
		var customerAt, agentAt, since, handed, fraud int64
		err := rows.Scan(&a.ConversationID, &a.LastCustomerSeq, &a.LastCustomerType, &customerAt, &agentAt, &since, &handed, &fraud)
		a.LastCustomerAt, a.LastAgentAt, a.CustomerSinceAgent, a.HandedAt, a.FraudAt = fromMicros(customerAt), fromMicros(agentAt), fromMicros(since), fromMicros(handed), fromMicros(fraud)
		return a, err
	})
}

func (s *Store) AddLabel(ctx context.Context, l store.Label) error {
	return wrap("AddLabel", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO conversation_labels (conversation_id, label, staff_id, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (conversation_id, label) DO NOTHING`, l.ConversationID, l.Label, l.StaffID, micros(l.CreatedAt))
		return err
	}))
}

func (s *Store) RemoveLabel(ctx context.Context, conversationID, label string) error {
	return wrap("RemoveLabel", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		res, err := c.ExecContext(ctx, `DELETE FROM conversation_labels WHERE conversation_id = ? AND label = ?`, conversationID, label)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	}))
}

func (s *Store) ConversationLabels(ctx context.Context, institutionID string) (map[string][]string, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT l.conversation_id, l.label FROM conversation_labels l JOIN conversations c ON c.id = l.conversation_id
		WHERE c.institution_id = ? ORDER BY l.conversation_id, l.label`, institutionID)
	ls, err := collect(rows, err, func(rows *sql.Rows) (store.Label, error) {
		var l store.Label
		return l, rows.Scan(&l.ConversationID, &l.Label)
	})
	out := map[string][]string{}
	for _, l := range ls {
		out[l.ConversationID] = append(out[l.ConversationID], l.Label)
	}
	return out, wrap("ConversationLabels", err)
}

func (s *Store) DeleteCanned(ctx context.Context, institutionID, id string) error {
	return wrap("DeleteCanned", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		res, err := c.ExecContext(ctx, `DELETE FROM canned_responses WHERE institution_id = ? AND id = ?`, institutionID, id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	}))
}

// collect scans every row of a query with scan.
func collect[T any](rows *sql.Rows, err error, scan func(*sql.Rows) (T, error)) ([]T, error) {
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

// wrap names the store and the operation in an error that comes out of
// one of its methods, keeping what it wraps (errors.Is still finds
// store.ErrNotFound and the rest). nil stays nil.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("sqlite: %s: %w", op, err)
}
