package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// The writer: one goroutine owns the write connection and commits the
// writes waiting for it together (group commit), each in its own savepoint,
// keeping a cache of links and last seqs that checks itself. Between two
// groups it empties the WAL after a deletion of customers' data, and
// checkpoints it when it has grown long.

// maxGroup bounds how many waiting writes one transaction takes.
const maxGroup = 512

// appendCache spares the writer a query per link and per conversation on
// every append: each link as last read (with its data key's version) and
// each conversation's last seq. It checks itself rather than trusting each
// write to say what it touched: triggers count every change to a link, a
// data key or a conversation's events that is not an append (a revocation,
// a narrowing, a cleared history, a new data key; made by this writer or by
// another process on the file) in cache_epoch, as insertMarker counts the
// markers it places (no trigger fires on inserts into events: it would give
// every insert a statement journal), and the writer reads that
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

// stmts are the writer's frequent statements, prepared once: parsing SQL
// was a quarter of ingest's CPU before.
type stmts struct {
	begin, commit, rollback, savepoint, rollbackTo, release  *sql.Stmt
	existing, link, pendingSeq, insert, insertMany, busyLink *sql.Stmt
	keyVersion, appendLink, epoch, bumpEpoch, checkpoint     *sql.Stmt
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
		{&s.stmts.existing, existingSQL},
		{&s.stmts.link, `SELECT ` + linkCols + `, (SELECT coalesce(max(seq), 0) FROM events WHERE conversation_id = links.conversation_id) FROM links WHERE id = ?`},
		{&s.stmts.keyVersion, `SELECT coalesce((SELECT version FROM data_keys WHERE customer_id = ?), 0)`},
		{&s.stmts.epoch, `SELECT n FROM cache_epoch`},
		{&s.stmts.bumpEpoch, `UPDATE cache_epoch SET n = n + 1`},
		{&s.stmts.checkpoint, `PRAGMA wal_checkpoint(PASSIVE)`},
		// An append reads each link with its conversation's last seq and its
		// data key's version in one statement: this runs once per link per
		// batch, on the writer.
		{&s.stmts.appendLink, `SELECT ` + linkCols + `, (SELECT coalesce(max(seq), 0) FROM events WHERE conversation_id = links.conversation_id),
			coalesce((SELECT version FROM data_keys WHERE data_keys.customer_id = links.customer_id || '/' || links.institution_id), 0) FROM links WHERE id = ?`},
		{&s.stmts.pendingSeq, `SELECT seq FROM events WHERE conversation_id = ? AND pending_ref = ? ORDER BY seq DESC LIMIT 1`},
		{&s.stmts.busyLink, `SELECT 1 FROM outbox WHERE link_id = ? AND delivered_at = 0 AND dead_at = 0 LIMIT 1`},
		{&s.stmts.insert, insertSQL},
		{&s.stmts.insertMany, insertManySQL},
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
	select {
	case err := <-w.err:
		return err
	case <-s.done:
		// The writer stopped, having answered every write it took: one
		// queued as the store closed was never run.
		select {
		case err := <-w.err:
			return err
		default:
			return errors.New("sqlite: store closed")
		}
	}
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
		took := time.Now()
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
		var commit time.Duration
		if s.shortBusy {
			s.restoreBusy(ctx)
		}
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
			committing := time.Now()
			_, err = s.stmts.commit.ExecContext(ctx)
			commit = time.Since(committing)
			if err != nil {
				s.stmts.rollback.ExecContext(ctx)
			}
		}
		if err != nil {
			s.cache.clear()
		} else {
			n := 0
			for i, w := range batch {
				if errs[i] == nil {
					n += len(w.stored)
				}
			}
			stored := make([]store.Event, 0, n)
			for i, w := range batch {
				if errs[i] == nil {
					stored = append(stored, w.stored...)
				}
			}
			s.Announce(stored)
		}
		// Counted before anyone is answered: a caller that reads the stats
		// after its write finds it counted.
		s.stats.Group(len(batch), time.Since(took), commit)
		for i, w := range batch {
			if err != nil {
				w.err <- fmt.Errorf("sqlite: commit: %w", err)
			} else {
				w.err <- errs[i]
			}
		}
		if done := s.shredded.Load(); done != s.shredBase {
			s.shredBase, s.shredTries = done, 0 // emptied since the last failed try
		}
		switch gen := s.shred.Load(); {
		case gen != s.shredBase && s.shredTries < shredTriesMax:
			// A write answered earlier deleted customers' data, which
			// older frames of the WAL still hold: empty it now rather
			// than leave it to the checkpointer, which under load waited
			// seconds for this writer's lock. Readers get 100 ms to
			// leave the WAL; after a few failed tries the checkpointer
			// goes on trying each turn.
			s.shredTries++
			if _, err := s.conn.ExecContext(ctx, "PRAGMA busy_timeout = 100"); err == nil {
				s.shortBusy = true
				s.emptyWAL(ctx, s.conn)
				s.restoreBusy(ctx)
			}
			s.walLong.Store(false) // copied back too, or left to the checkpointer
		case s.walLong.Swap(false):
			// Outside any transaction, with every caller answered: the
			// checkpointer copied most frames already; this copies the
			// rest, so that the next write starts the WAL again unless a
			// reader still holds a snapshot in it. PASSIVE never waits
			// for a lock, though it copies and syncs (12-50 ms under
			// full load, BENCHMARKS.md). Its error is not the callers':
			// a busy or partial checkpoint is left for the next time the
			// checkpointer asks.
			s.stmts.checkpoint.ExecContext(ctx)
		}
	}
}

// restoreBusy gives the writer's connection back its busy timeout after a
// try to empty the WAL; until it has, the writer tries again before each
// group, lest its BEGIN give up after 100 ms.
func (s *Store) restoreBusy(ctx context.Context) {
	if _, err := s.conn.ExecContext(ctx, "PRAGMA busy_timeout = "+strconv.Itoa(busyTimeoutMS)); err == nil {
		s.shortBusy = false
	}
}

// WriterStat reads what the writer counted of itself: its groups, their
// writes, and its busy time.
func (s *Store) WriterStat() store.WriterStat { return s.stats.Stat() }

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
