package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/sqlstore"
	"github.com/openteller/openteller/internal/vault"
)

// Appends: the hot path, on the writer, with its prepared statements and
// cache; and the platform's markers placed by the shared link scripts.

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

// insertMarker stores a platform notice placed by store.Marker, if it is
// sealed under its conversation's data key as the store holds it now. It
// moves its conversation's last seq behind the writer's cache, so it bumps
// cache_epoch: this is the only insert into events outside an append.
func (s *Store) insertMarker(ctx context.Context, m *store.NewEvent) error {
	var version int
	if err := s.stmts.keyVersion.QueryRowContext(ctx, vault.ConversationKey(m.CustomerID, m.InstitutionID)).Scan(&version); err != nil {
		return err
	}
	if err := store.CheckMarkerKey(*m, version); err != nil {
		return err
	}
	if err := (&appendTx{st: &s.stmts, cache: &appendCache{}}).Write(ctx, store.AppendWrite{Events: []*store.NewEvent{m}}); err != nil {
		return err
	}
	_, err := s.stmts.bumpEpoch.ExecContext(ctx)
	return err
}

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
	args := make([]any, 1+existingChunk)
	for inst, ids := range q.Existing {
		args[0] = inst
		for chunk := range slices.Chunk(ids, existingChunk) {
			// A short chunk asks about its last id again: the statement
			// keeps its shape, and IN takes each value once.
			for i := range existingChunk {
				args[1+i] = chunk[min(i, len(chunk)-1)]
			}
			if err := t.findStored(ctx, inst, args, out.Existing); err != nil {
				return out, fmt.Errorf("find events %s…: %w", chunk[0], err)
			}
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

// existingChunk is how many bank event ids one existence query asks
// about: one statement per chunk, not one per event.
const existingChunk = 32

// insertRows is how many events one insertManySQL stores: a batch of 100
// takes three statements and four single rows, not a hundred statements.
// A statement of several rows gets a statement journal (SQLite copies the
// pages it touches that an earlier statement of the same write changed),
// which a single row does not; with one journal per 32 rows,
// BenchmarkIngestSQLite still used 14% less CPU than with a statement per
// row (BENCHMARKS.md, 2026-12-05, third session).
const insertRows = 32

const (
	eventCols     = 15
	insertSQLHead = `INSERT INTO events (conversation_id, seq, id, customer_id, institution_id, link_id, bank_event_id, type, author, occurred_at, received_at, fingerprint, pending_ref, replaces_seq, sealed) VALUES `
	insertSQLRow  = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

var (
	insertSQL     = insertSQLHead + insertSQLRow
	insertManySQL = insertSQLHead + insertSQLRow + strings.Repeat(", "+insertSQLRow, insertRows-1)
)

var existingSQL = `SELECT bank_event_id, fingerprint, conversation_id, seq FROM events WHERE institution_id = ? AND bank_event_id IN (?` +
	strings.Repeat(", ?", existingChunk-1) + `)`

// findStored adds to found the stored events of institution inst among
// the bank event ids in args[1:].
func (t *appendTx) findStored(ctx context.Context, inst string, args []any, found map[store.EventKey]store.Stored) error {
	rows, err := t.st.existing.QueryContext(ctx, args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		var st store.Stored
		if err := rows.Scan(&id, &st.Fingerprint, &st.ConversationID, &st.Seq); err != nil {
			return err
		}
		found[store.EventKey{InstitutionID: inst, BankEventID: id}] = st
	}
	return rows.Err()
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
	args := make([]any, 0, insertRows*eventCols)
	for chunk := range slices.Chunk(w.Events, insertRows) {
		args = args[:0]
		for _, e := range chunk {
			var bankID any
			if e.BankEventID != "" {
				bankID = e.BankEventID
			}
			args = append(args, e.ConversationID, e.Seq, e.ID, e.CustomerID, e.InstitutionID, e.LinkID, bankID, e.Type, e.Author,
				micros(e.OccurredAt), micros(e.ReceivedAt), e.Fingerprint, e.PendingRef, e.ReplacesSeq, e.Sealed)
		}
		// A full chunk goes in one statement; the rest one row at a time.
		if len(chunk) == insertRows {
			if _, err := t.st.insertMany.ExecContext(ctx, args...); err != nil {
				return fmt.Errorf("insert events: %w", err)
			}
		} else {
			for row := range slices.Chunk(args, eventCols) {
				if _, err := t.st.insert.ExecContext(ctx, row...); err != nil {
					return fmt.Errorf("insert event: %w", err)
				}
			}
		}
		if t.cache.seqs != nil {
			for _, e := range chunk {
				t.cache.seqs[e.ConversationID] = e.Seq
			}
		}
	}
	for _, n := range w.Notices {
		if err := insertNotice(ctx, t.c, n); err != nil {
			return fmt.Errorf("queue notice: %w", err)
		}
	}
	return nil
}

// insertNotice queues a notice written by an append, with the lease the
// append asked for (none: 0).
func insertNotice(ctx context.Context, c *sql.Conn, n store.Notice) error {
	_, err := c.ExecContext(ctx, `INSERT INTO outbox (id, institution_id, link_id, type, payload, created_at, customer_id, sealed, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.InstitutionID, n.LinkID, n.Type, sqlstore.NoticePayload(n), micros(n.CreatedAt), n.CustomerID, n.Sealed, micros(n.LeaseUntil))
	return err
}
