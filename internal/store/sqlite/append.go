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

// insertNotice queues a notice written by an append, with the lease the
// append asked for (none: 0).
func insertNotice(ctx context.Context, c *sql.Conn, n store.Notice) error {
	_, err := c.ExecContext(ctx, `INSERT INTO outbox (id, institution_id, link_id, type, payload, created_at, customer_id, sealed, lease_until) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.InstitutionID, n.LinkID, n.Type, sqlstore.NoticePayload(n), micros(n.CreatedAt), n.CustomerID, n.Sealed, micros(n.LeaseUntil))
	return err
}
