package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/sqlstore"
	"github.com/openteller/openteller/internal/vault"
)

// Group commit. Every AppendEvents of the node (a bank's batch, a
// customer's answer to a fraud alert, an agent's reply) joins a queue; one
// writer takes whatever is waiting, applies it all with store.Append in one
// transaction and one WAL flush, and answers each caller. Consent is still
// checked inside that transaction, against links it holds.
//
// A group costs two round trips to the server, three when a posted
// transaction looks for the pending one it replaces: BEGIN, the locks and
// reads pipelined in one; the writes pipelined with COMMIT in the other.
// Under load the groups grow, so the cost per event falls as the load rises.

const (
	// maxGroupEvents bounds one transaction, so that its locks are held
	// briefly and one group's latency stays small.
	maxGroupEvents = 2000
	// groupTimeout bounds one group's transaction; the callers' own
	// contexts do not, since one caller going away must not undo the others.
	groupTimeout = 30 * time.Second
)

type appendReq struct {
	evs  []store.NewEvent
	res  []store.AppendResult
	err  error
	done chan struct{}
}

// appender is the group-commit writer of one Store: one goroutine, one
// group in flight. Two groups of a bank's random customers always share
// links and take turns on their row locks; measured, two writers gave runs
// five times slower than one (BENCHMARKS.md).
type appender struct {
	pool     *pgxpool.Pool
	now      func() time.Time
	announce func([]store.Event) // what each transaction stored, once committed
	queue    chan *appendReq
	closed   chan struct{}
	once     sync.Once // closes closed: Close may be called twice
	done     chan struct{}
	stats    store.WriterStats
	// committing adds up the current group's commit round trips (more
	// than one when it is tried again); only the writer goroutine touches
	// it.
	committing time.Duration
}

func newAppender(pool *pgxpool.Pool, now func() time.Time, announce func([]store.Event)) *appender {
	a := &appender{pool: pool, now: now, announce: announce, queue: make(chan *appendReq, 1024), closed: make(chan struct{}), done: make(chan struct{})}
	store.GoWriter("postgres", a.run)
	return a
}

// append queues evs and waits for their group's commit. Once queued it
// waits even if ctx ends: the answer must say whether they are on disk.
func (a *appender) append(ctx context.Context, evs []store.NewEvent) ([]store.AppendResult, error) {
	r := &appendReq{evs: evs, done: make(chan struct{})}
	select {
	case a.queue <- r:
	case <-a.closed:
		return nil, errors.New("postgres: store closed")
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case <-r.done:
	case <-a.done:
		// The writer stopped, having answered every request it took: one
		// queued after it answered those that raced the close never ran.
		select {
		case <-r.done:
		default:
			return nil, errors.New("postgres: store closed")
		}
	}
	return r.res, r.err
}

// close stops the writer after the appends already queued, and closes
// its connection.
func (a *appender) close() {
	a.once.Do(func() { close(a.closed) })
	<-a.done
	a.pool.Close()
}

func (a *appender) run() {
	defer close(a.done)
	group := make([]*appendReq, 0, 64)
	for {
		var first *appendReq
		select {
		case first = <-a.queue:
		case <-a.closed:
			// Answer whatever raced the close.
			for {
				select {
				case r := <-a.queue:
					a.commit([]*appendReq{r})
				default:
					return
				}
			}
		}
		group = append(group[:0], first)
		n := len(first.evs)
	drain:
		for n < maxGroupEvents {
			select {
			case r := <-a.queue:
				group = append(group, r)
				n += len(r.evs)
			default:
				break drain
			}
		}
		a.commit(group)
	}
}

// commit applies a group in one transaction and answers each request. If
// the group as a whole fails, each request is tried alone, so that one
// request's trouble never fails the others.
func (a *appender) commit(group []*appendReq) {
	ctx, cancel := context.WithTimeout(context.Background(), groupTimeout)
	defer cancel()
	var evs []store.NewEvent
	if len(group) == 1 {
		evs = group[0].evs
	} else {
		for _, r := range group {
			evs = append(evs, r.evs...)
		}
	}
	res, err := a.counted(ctx, len(group), evs)
	if err != nil && len(group) > 1 {
		for _, r := range group {
			r.res, r.err = a.counted(ctx, 1, r.evs)
			close(r.done)
		}
		return
	}
	for _, r := range group {
		if err != nil {
			r.err = err
		} else {
			r.res, res = res[:len(r.evs):len(r.evs)], res[len(r.evs):]
		}
		close(r.done)
	}
}

// counted is appendRetrying, counted in stats as a group of writes
// requests before anyone is answered.
func (a *appender) counted(ctx context.Context, writes int, evs []store.NewEvent) ([]store.AppendResult, error) {
	took := time.Now()
	a.committing = 0
	res, err := a.appendRetrying(ctx, evs)
	a.stats.Group(writes, time.Since(took), a.committing)
	return res, err
}

// appendRetrying runs one transaction, again after a deadlock, a
// serialization failure or the same bank event id racing in from another
// node: those abort it with nothing stored, and the next attempt sees the
// winner's rows.
func (a *appender) appendRetrying(ctx context.Context, evs []store.NewEvent) ([]store.AppendResult, error) {
	for attempt := 1; ; attempt++ {
		// Each attempt fills in a fresh copy, so an aborted one leaves
		// nothing behind in the caller's events.
		try := append([]store.NewEvent(nil), evs...)
		res, err := a.appendOnce(ctx, try)
		if err == nil {
			a.announce(store.StoredEvents(try, res))
			return res, nil
		}
		var pe *pgconn.PgError
		if attempt < 3 && errors.As(err, &pe) && (pe.Code == "40P01" || pe.Code == "40001" || pe.Code == "23505") {
			continue
		}
		return nil, fmt.Errorf("postgres: append %d events: %w", len(evs), err)
	}
}

func (a *appender) appendOnce(ctx context.Context, evs []store.NewEvent) ([]store.AppendResult, error) {
	conn, err := a.pool.Acquire(ctx)
	if err != nil {
		return nil, fmt.Errorf("acquire connection: %w", err)
	}
	// pgxpool destroys a connection released inside a transaction, so an
	// attempt that failed half-way never leaves one open.
	defer conn.Release()
	tx := &pipelineTx{conn: conn.Conn()}
	res, err := store.Append(ctx, tx, evs, a.now())
	if err == nil {
		committing := time.Now()
		err = tx.commit(ctx)
		a.committing += time.Since(committing)
	}
	if err != nil {
		if tx.begun {
			conn.Exec(context.Background(), "ROLLBACK")
		}
		return nil, err
	}
	return res, nil
}

// pipelineTx is store.AppendTx over one connection, each call one round
// trip: Read opens the transaction in the same pipeline, and Write's
// statements wait to go out with COMMIT.
type pipelineTx struct {
	conn   *pgx.Conn
	begun  bool
	writes *pgx.Batch
}

const (
	// Links first, then their conversations, each in id order: as
	// RevokeLink and ClearHistory take them, so nobody waits in a circle.
	// FOR NO KEY UPDATE rather than FOR SHARE: under steady ingest share
	// lockers overlap and a revocation would starve behind them forever.
	lockLinksSQL         = `SELECT ` + linkCols + ` FROM links WHERE id = ANY($1) ORDER BY id FOR NO KEY UPDATE`
	lockConversationsSQL = `SELECT id, last_seq FROM conversations WHERE id IN (SELECT conversation_id FROM links WHERE id = ANY($1)) ORDER BY id FOR UPDATE`
	// A statement of its own, so that it runs after the locks above are
	// held and sees a data key replaced by a clearing that held them first.
	keyVersionsSQL = `SELECT l.id, k.version FROM links l JOIN data_keys k ON k.customer_id = l.customer_id || '/' || l.institution_id WHERE l.id = ANY($1)`
	// The events table grows under these statements, and a connection
	// keeps them prepared: PostgreSQL may settle on one plan for each,
	// made from what it knew then. Made while the table was a few pages,
	// or after an ANALYZE of it empty, the plan kept for the look-up below
	// read the whole table for each id of a batch (TestEventReadsStayNarrow).
	// Planning the group's few statements for their arguments is cheap
	// next to that; pool-wide, it cost the fraud round trip 1.5 ms at the
	// median (BENCHMARKS.md), so it stays in the append group.
	customPlansSQL = `SET LOCAL plan_cache_mode = force_custom_plan`
	// One probe of the unique index per id. Written as a filter, with no
	// statistics for the table (a new installation, or one not yet
	// analyzed), the look-up read the institution's whole history and
	// filtered the ids, whatever the plan.
	existingSQL = `SELECT x.bank_event_id, x.fingerprint, x.conversation_id, x.seq FROM unnest($2::text[]) AS b(id),
		LATERAL (SELECT bank_event_id, fingerprint, conversation_id, seq FROM events e WHERE e.institution_id = $1 AND e.bank_event_id = b.id LIMIT 1) x`
	busyLinksSQL   = `SELECT DISTINCT link_id FROM outbox WHERE link_id = ANY($1) AND delivered_at IS NULL AND dead_at IS NULL`
	pendingSeqsSQL = `SELECT DISTINCT ON (e.conversation_id, e.pending_ref) e.conversation_id, e.pending_ref, e.seq
		FROM events e JOIN unnest($1::text[], $2::bytea[]) AS k(conversation_id, ref) ON e.conversation_id = k.conversation_id AND e.pending_ref = k.ref
		ORDER BY e.conversation_id, e.pending_ref, e.seq DESC`
	insertEventsSQL = `INSERT INTO events (conversation_id, seq, id, customer_id, institution_id, link_id, bank_event_id, type, author,
			occurred_at, received_at, fingerprint, pending_ref, replaces_seq, sealed)
		SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[],
			$10::timestamptz[], $11::timestamptz[], $12::bytea[], $13::bytea[], $14::bigint[], $15::bytea[])`
	setLastSeqsSQL = `UPDATE conversations c SET last_seq = v.seq FROM unnest($1::text[], $2::bigint[]) AS v(id, seq) WHERE c.id = v.id`
	// unnest keeps the array's order, so notices take their seqs (the
	// order a link's notices go out in) in the order they were queued.
	insertNoticesSQL = `INSERT INTO outbox (id, institution_id, link_id, type, payload, created_at, customer_id, sealed, lease_until)
		SELECT id, inst, link, typ, payload::jsonb, created, cust, sealed, coalesce(lease, '-infinity')
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[], $8::bytea[], $9::timestamptz[])
			AS n(id, inst, link, typ, payload, created, cust, sealed, lease)`
)

func (t *pipelineTx) Read(ctx context.Context, q store.AppendQuery) (store.AppendState, error) {
	out := store.AppendState{Links: make(map[string]store.Link, len(q.Links)), LastSeqs: make(map[string]int64, len(q.Links)), Existing: map[store.EventKey]store.Stored{}, BusyLinks: map[string]bool{}}
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	b.Queue(customPlansSQL)
	b.Queue(lockLinksSQL, q.Links)
	b.Queue(lockConversationsSQL, q.Links)
	b.Queue(keyVersionsSQL, q.Links)
	institutions := make([]string, 0, len(q.Existing))
	for inst, ids := range q.Existing {
		institutions = append(institutions, inst)
		b.Queue(existingSQL, inst, ids)
	}
	if len(q.Notifying) > 0 {
		b.Queue(busyLinksSQL, q.Notifying)
	}
	t.begun = true
	br := t.conn.SendBatch(ctx, b)
	err := readPipeline(br, &out, institutions, len(q.Notifying) > 0)
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return out, wrap("Read", err)
}

func readPipeline(br pgx.BatchResults, out *store.AppendState, institutions []string, busy bool) error {
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	if _, err := br.Exec(); err != nil {
		return fmt.Errorf("plan cache mode: %w", err)
	}
	rows, _ := br.Query()
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			rows.Close()
			return fmt.Errorf("lock links: %w", err)
		}
		out.Links[l.ID] = l
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("lock links: %w", err)
	}
	rows, _ = br.Query()
	for rows.Next() {
		var id string
		var seq int64
		if err := rows.Scan(&id, &seq); err != nil {
			rows.Close()
			return fmt.Errorf("lock conversations: %w", err)
		}
		out.LastSeqs[id] = seq
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("lock conversations: %w", err)
	}
	rows, _ = br.Query()
	for rows.Next() {
		var id string
		var version int
		if err := rows.Scan(&id, &version); err != nil {
			rows.Close()
			return fmt.Errorf("read key versions: %w", err)
		}
		if l, ok := out.Links[id]; ok {
			l.KeyVersion = version
			out.Links[id] = l
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read key versions: %w", err)
	}
	for _, inst := range institutions {
		rows, _ = br.Query()
		for rows.Next() {
			var id string
			var st store.Stored
			if err := rows.Scan(&id, &st.Fingerprint, &st.ConversationID, &st.Seq); err != nil {
				rows.Close()
				return fmt.Errorf("find events: %w", err)
			}
			out.Existing[store.EventKey{InstitutionID: inst, BankEventID: id}] = st
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("find events: %w", err)
		}
	}
	if busy {
		rows, _ = br.Query()
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return fmt.Errorf("find pending notices: %w", err)
			}
			out.BusyLinks[id] = true
		}
		if err := rows.Err(); err != nil {
			return fmt.Errorf("find pending notices: %w", err)
		}
	}
	return nil
}

func (t *pipelineTx) PendingSeqs(ctx context.Context, keys []store.PendingKey) (map[store.PendingKey]int64, error) {
	convs := make([]string, len(keys))
	refs := make([][]byte, len(keys))
	for i, k := range keys {
		convs[i], refs[i] = k.ConversationID, []byte(k.Ref)
	}
	rows, err := t.conn.Query(ctx, pendingSeqsSQL, convs, refs)
	if err != nil {
		return nil, wrap("PendingSeqs", err)
	}
	defer rows.Close()
	out := make(map[store.PendingKey]int64, len(keys))
	for rows.Next() {
		var conv string
		var ref []byte
		var seq int64
		if err := rows.Scan(&conv, &ref, &seq); err != nil {
			return nil, wrap("PendingSeqs", err)
		}
		out[store.PendingKey{ConversationID: conv, Ref: string(ref)}] = seq
	}
	return out, rows.Err()
}

// Write queues the writes; commit sends them with COMMIT.
func (t *pipelineTx) Write(ctx context.Context, w store.AppendWrite) error {
	t.writes = &pgx.Batch{}
	queueWrite(t.writes, w)
	return nil
}

func (t *pipelineTx) commit(ctx context.Context) error {
	b := t.writes
	if b == nil {
		b = &pgx.Batch{}
	}
	b.Queue("COMMIT")
	err := t.conn.SendBatch(ctx, b).Close()
	if err != nil {
		return fmt.Errorf("write and commit: %w", err)
	}
	t.begun = false
	return nil
}

// queueWrite adds the statements that store w to b.
func queueWrite(b *pgx.Batch, w store.AppendWrite) {
	if len(w.Events) > 0 {
		n := len(w.Events)
		conv, id, cust, inst, link, typ, author := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		bankID := make([]*string, n)
		seq, replaces := make([]int64, n), make([]int64, n)
		occurred, received := make([]time.Time, n), make([]time.Time, n)
		fp, pending, sealed := make([][]byte, n), make([][]byte, n), make([][]byte, n)
		for i, e := range w.Events {
			conv[i], seq[i], id[i], cust[i], inst[i], link[i], typ[i], author[i] = e.ConversationID, e.Seq, e.ID, e.CustomerID, e.InstitutionID, e.LinkID, e.Type, e.Author
			if e.BankEventID != "" {
				bankID[i] = &e.BankEventID
			}
			occurred[i], received[i], fp[i], pending[i], replaces[i], sealed[i] = e.OccurredAt, e.ReceivedAt, e.Fingerprint, e.PendingRef, e.ReplacesSeq, e.Sealed
		}
		b.Queue(insertEventsSQL, conv, seq, id, cust, inst, link, bankID, typ, author, occurred, received, fp, pending, replaces, sealed)
	}
	if len(w.LastSeqs) > 0 {
		ids := make([]string, 0, len(w.LastSeqs))
		seqs := make([]int64, 0, len(w.LastSeqs))
		for id, seq := range w.LastSeqs {
			ids, seqs = append(ids, id), append(seqs, seq)
		}
		b.Queue(setLastSeqsSQL, ids, seqs)
	}
	if len(w.Notices) > 0 {
		n := len(w.Notices)
		id, inst, link, typ, payload, cust := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		created := make([]time.Time, n)
		lease := make([]*time.Time, n)
		sealed := make([][]byte, n)
		for i, nt := range w.Notices {
			id[i], inst[i], link[i], typ[i], payload[i], created[i], cust[i], sealed[i] = nt.ID, nt.InstitutionID, nt.LinkID, nt.Type, sqlstore.NoticePayload(nt), nt.CreatedAt, nt.CustomerID, nt.Sealed
			if !nt.LeaseUntil.IsZero() {
				until := nt.LeaseUntil.Truncate(time.Microsecond) // as the column keeps it: the lease's token
				lease[i] = &until
			}
		}
		b.Queue(insertNoticesSQL, id, inst, link, typ, payload, created, cust, sealed, lease)
	}
}

// writeInTx stores w inside an open transaction (a platform notice placed
// by a revocation, say), in one round trip.
func writeInTx(ctx context.Context, tx pgx.Tx, w store.AppendWrite) error {
	b := &pgx.Batch{}
	queueWrite(b, w)
	return tx.SendBatch(ctx, b).Close()
}

// checkKeyVersion reads the current version of the conversation's data key
// inside tx (0: none yet).
func checkKeyVersion(ctx context.Context, tx pgx.Tx, m *store.NewEvent) error {
	var version int
	if err := tx.QueryRow(ctx, `SELECT coalesce((SELECT version FROM data_keys WHERE customer_id = $1), 0)`,
		vault.ConversationKey(m.CustomerID, m.InstitutionID)).Scan(&version); err != nil {
		return err
	}
	return store.CheckMarkerKey(*m, version)
}

const linkCols = `id, customer_id, institution_id, conversation_id, scopes, status, created_at, expires_at, revoked_at`

func scanLink(row pgx.Row) (store.Link, error) {
	var l store.Link
	var scopes string
	var revoked *time.Time
	err := row.Scan(&l.ID, &l.CustomerID, &l.InstitutionID, &l.ConversationID, &scopes, &l.Status, &l.CreatedAt, &l.ExpiresAt, &revoked)
	l.Scopes = strings.Fields(scopes)
	l.CreatedAt, l.ExpiresAt, l.RevokedAt = l.CreatedAt.UTC(), l.ExpiresAt.UTC(), orZero(revoked)
	return l, notFound(err)
}

// lockLink locks a link and then its conversation, the order appends use,
// and returns the link and the conversation's last seq.
func lockLink(ctx context.Context, tx pgx.Tx, id string) (store.Link, int64, error) {
	l, err := scanLink(tx.QueryRow(ctx, `SELECT `+linkCols+` FROM links WHERE id = $1 FOR NO KEY UPDATE`, id))
	if err != nil {
		return l, 0, err
	}
	var last int64
	err = tx.QueryRow(ctx, `SELECT last_seq FROM conversations WHERE id = $1 FOR UPDATE`, l.ConversationID).Scan(&last)
	return l, last, err
}

// appendMarker stores a platform notice placed by store.Marker and moves the
// conversation's counter to it.
func appendMarker(ctx context.Context, tx pgx.Tx, m *store.NewEvent) error {
	// The link is locked, as clearing history locks it: the key read here
	// is the one the conversation has until this transaction ends.
	if err := checkKeyVersion(ctx, tx, m); err != nil {
		return err
	}
	return writeInTx(ctx, tx, store.AppendWrite{Events: []*store.NewEvent{m}, LastSeqs: map[string]int64{m.ConversationID: m.Seq}})
}

// AppendEvents joins the node's group commit (append.go).
func (s *Store) AppendEvents(ctx context.Context, evs []store.NewEvent) ([]store.AppendResult, error) {
	return s.appender.append(ctx, evs)
}
