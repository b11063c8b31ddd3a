package sqlite

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := Open(context.Background(), filepath.Join(t.TempDir(), "openteller.db"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

// TestWriterIsLabelled: the writer's time can be read alone in a profile.
func TestWriterIsLabelled(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "openteller.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.WriterLabelled(t, "sqlite", "sqlite.(*Store).writer")
}

func TestPragmas(t *testing.T) {
	s, err := Open(context.Background(), filepath.Join(t.TempDir(), "openteller.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var mode string
	var sync int
	if err := s.reads.QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil {
		t.Fatal(err)
	}
	if err := s.reads.QueryRow("PRAGMA synchronous").Scan(&sync); err != nil {
		t.Fatal(err)
	}
	if mode != "wal" || sync != 2 { // 2 = FULL
		t.Fatalf("journal_mode=%s synchronous=%d, want wal and 2 (FULL)", mode, sync)
	}
	if err := s.conn.QueryRowContext(context.Background(), "PRAGMA synchronous").Scan(&sync); err != nil || sync != 2 {
		t.Fatalf("writer synchronous=%d (%v), want 2", sync, err)
	}
	var cache int
	if err := s.conn.QueryRowContext(context.Background(), "PRAGMA cache_size").Scan(&cache); err != nil || cache != -writerCacheKiB {
		t.Fatalf("writer cache_size=%d (%v), want %d (KiB)", cache, err, -writerCacheKiB)
	}
}

// openFile opens a store in a new file, closed when the test ends, and
// returns the file's path.
func openFile(t *testing.T) (*Store, string) {
	path := filepath.Join(t.TempDir(), "openteller.db")
	s, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s, path
}

// TestBackgroundCheckpoint: the writer checkpoints only a long WAL, so
// with a short one only the background checkpointer can move committed
// pages from the WAL into the database file while the store is open.
func TestBackgroundCheckpoint(t *testing.T) {
	ctx := context.Background()
	s, path := openFile(t)
	size := func() int64 {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	for i := range 300 {
		id := fmt.Sprintf("cus_%03d", i)
		if err := s.CreateCustomer(ctx, store.Customer{ID: id, Email: id + "@example.com", PasswordHash: strings.Repeat("x", 200), CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for size() <= before {
		if time.Now().After(deadline) {
			t.Fatalf("database file still %d bytes: nothing was checkpointed", size())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestWALRestartsUnderSteadyWrites: the WAL starts again from its
// beginning only when a write finds every frame copied back into the
// database, which the background checkpointer alone never manages while
// writes keep coming. Past its length limit the writer copies the rest
// itself between two groups, so the WAL restarts (its header's checkpoint
// count moves on) while four writers never let up.
func TestWALRestartsUnderSteadyWrites(t *testing.T) {
	ctx := context.Background()
	s, path := openFile(t)
	s.maxWAL.Store(64)
	// restarts reads the WAL header's checkpoint sequence number, which
	// each restart moves on; ok is false while the header is not written.
	restarts := func() (n uint32, ok bool) {
		f, err := os.Open(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		var hdr [16]byte
		if _, err := io.ReadFull(f, hdr[:]); err != nil {
			return 0, false
		}
		return binary.BigEndian.Uint32(hdr[12:]), true
	}

	stop := make(chan struct{})
	var wg sync.WaitGroup
	failed := make(chan error, 4)
	for w := range 4 {
		wg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				id := fmt.Sprintf("cus_%d_%d", w, i)
				if err := s.CreateCustomer(ctx, store.Customer{ID: id, Email: id + "@example.com", PasswordHash: strings.Repeat("x", 200), CreatedAt: time.Now()}); err != nil {
					failed <- err
					return
				}
			}
		})
	}
	defer func() { close(stop); wg.Wait() }()

	deadline := time.Now().Add(30 * time.Second)
	first, ok := restarts()
	for ; !ok; first, ok = restarts() {
		if time.Now().After(deadline) {
			t.Fatal("no WAL header after 30 s of steady writes")
		}
		time.Sleep(time.Millisecond)
	}
	for n := first; n < first+3; n, _ = restarts() {
		select {
		case err := <-failed:
			t.Fatal(err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the WAL restarted %d times in 30 s of steady writes, want 3", n-first)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestAppendCacheForgetsFailedWrites: the writer remembers links and last
// seqs between appends; an append that fails part way (its savepoint rolls
// back) must not leave its seqs behind, or the next append would skip some.
func TestAppendCacheForgetsFailedWrites(t *testing.T) {
	ctx := context.Background()
	s, _, now, must := linkedStore(t)
	ev := func(id string, sealed []byte) store.NewEvent { return bankMessage(id, now, sealed) }
	res, err := s.AppendEvents(ctx, []store.NewEvent{ev("e1", []byte("x"))})
	must(err)
	if res[0].Seq != 1 {
		t.Fatalf("first seq %d", res[0].Seq)
	}
	// The second event cannot be stored (sealed is NOT NULL): the whole
	// write fails after the first has taken seq 2 in the cache.
	if _, err := s.AppendEvents(ctx, []store.NewEvent{ev("e2", []byte("x")), ev("e3", nil)}); err == nil {
		t.Fatal("an event without a payload was stored")
	}
	res, err = s.AppendEvents(ctx, []store.NewEvent{ev("e4", []byte("x"))})
	must(err)
	if res[0].Seq != 2 {
		t.Fatalf("after a failed append the next seq is %d, want 2 (gapless)", res[0].Seq)
	}
	evs, _ := s.EventsAfter(ctx, "cnv_1", 0, 10)
	if len(evs) != 2 || evs[1].BankEventID != "e4" {
		t.Fatalf("events %+v", evs)
	}
}

// TestAppendCacheSeesOtherWriters: the writer's cache of links must not
// outlive a change it did not make. Here another process on the same file
// (an operator's tool, say) revokes the link and clears its data key's
// version behind the writer's back; the next append must see it and be
// refused, not accepted from memory.
func TestAppendCacheSeesOtherWriters(t *testing.T) {
	ctx := context.Background()
	s, path, now, must := linkedStore(t)
	ev := func(id string) store.NewEvent { return bankMessage(id, now, []byte("x")) }
	res, err := s.AppendEvents(ctx, []store.NewEvent{ev("e1")})
	must(err)
	if res[0].Err != nil {
		t.Fatalf("first append: %v", res[0].Err)
	}

	other, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(10000)")
	must(err)
	defer other.Close()
	_, err = other.ExecContext(ctx, `UPDATE links SET status = 'revoked', revoked_at = ? WHERE id = 'lnk_1'`, now.UnixMicro())
	must(err)

	res, err = s.AppendEvents(ctx, []store.NewEvent{ev("e2")})
	must(err)
	if !errors.Is(res[0].Err, store.ErrConsentRevoked) {
		t.Fatalf("append after another process revoked the link: %+v, want ErrConsentRevoked", res[0])
	}
}

// TestMarkerMovesTheAppendCache: a marker is inserted outside the append
// path, behind the writer's cache of last seqs, so it bumps cache_epoch
// itself; the append after it must continue after the marker, not reuse
// its seq. (Every script that places a marker today also changes the link,
// which bumps the epoch too; this test places one alone.)
func TestMarkerMovesTheAppendCache(t *testing.T) {
	ctx := context.Background()
	s, _, now, must := linkedStore(t)
	ev := func(id string) store.NewEvent { return bankMessage(id, now, []byte("x")) }
	res, err := s.AppendEvents(ctx, []store.NewEvent{ev("e1")})
	must(err)
	must(res[0].Err)
	link, err := s.Link(ctx, "lnk_1")
	must(err)
	m := store.Marker(store.NewEvent{Event: store.Event{ID: "rec_marker", Type: store.TypeLinkNarrowed, Author: store.AuthorPlatform,
		OccurredAt: now, ReceivedAt: now, Sealed: []byte("sealed:marker")}}, link, res[0].Seq)
	must(s.do(ctx, func(ctx context.Context, _ *sql.Conn) error { return s.insertMarker(ctx, &m) }))
	res, err = s.AppendEvents(ctx, []store.NewEvent{ev("e2")})
	must(err)
	if res[0].Err != nil || res[0].Seq != m.Seq+1 {
		t.Fatalf("append after the marker (seq %d): %+v, want seq %d", m.Seq, res[0], m.Seq+1)
	}
}

// TestNoTriggerOnEventInserts: SQLite gives every statement that fires a
// trigger a statement journal, which copies each page the statement touches
// once more; on the append path, when every row had its own statement, that
// was a fifth of the writer's time. The writer's inserts, as SQLite
// compiles them, must run no trigger program.
func TestNoTriggerOnEventInserts(t *testing.T) {
	s, _, _, must := linkedStore(t)
	for _, insert := range []struct {
		sql  string
		rows int
	}{{insertSQL, 1}, {insertManySQL, insertRows}} {
		rows, err := s.reads.Query(`EXPLAIN `+insert.sql, make([]any, insert.rows*eventCols)...)
		must(err)
		cols, err := rows.Columns()
		must(err)
		steps := 0
		for rows.Next() {
			vals := make([]any, len(cols))
			ptrs := make([]any, len(cols))
			for i := range vals {
				ptrs[i] = &vals[i]
			}
			must(rows.Scan(ptrs...))
			steps++
			if op := fmt.Sprint(vals[1]); op == "Program" {
				t.Errorf("an insert of %d rows into events runs a trigger program (step %v)", insert.rows, vals[0])
			}
		}
		must(rows.Err())
		rows.Close()
		if steps == 0 {
			t.Fatal("EXPLAIN listed no steps: the test would prove nothing")
		}
	}
}

// TestExistenceQueryUsesTheIndex: the append's one query per chunk of
// bank event ids finds them through the bank-id index, not by a scan.
func TestExistenceQueryUsesTheIndex(t *testing.T) {
	s, _, _, must := linkedStore(t)
	var plan []string
	rows, err := s.reads.Query(`EXPLAIN QUERY PLAN `+existingSQL, make([]any, 1+existingChunk)...)
	must(err)
	defer rows.Close()
	for rows.Next() {
		var id, parent, unused int
		var detail string
		must(rows.Scan(&id, &parent, &unused, &detail))
		plan = append(plan, detail)
	}
	must(rows.Err())
	if got := strings.Join(plan, "; "); !strings.Contains(got, "USING INDEX events_bank_id (institution_id=? AND bank_event_id=?)") {
		t.Fatalf("plan: %s", got)
	}
}

// bankMessage is a message from ins_1 on lnk_1, its bank event id its id.
func bankMessage(id string, now time.Time, sealed []byte) store.NewEvent {
	return store.NewEvent{Event: store.Event{ID: id, InstitutionID: "ins_1", LinkID: "lnk_1", BankEventID: id, Type: "message",
		Author: store.AuthorInstitution, OccurredAt: now, ReceivedAt: now, Sealed: sealed}, Fingerprint: []byte(id)}
}

// linkedStore opens a store in a temporary file with one institution, one
// customer and an active link (lnk_1, conversation cnv_1, scope balances).
func linkedStore(t *testing.T) (s *Store, path string, now time.Time, must func(error)) {
	t.Helper()
	ctx := context.Background()
	s, path = openFile(t)
	now = time.Now()
	must = func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateInstitution(ctx, store.Institution{ID: "ins_1", Name: "A", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: now}))
	must(s.CreateCustomer(ctx, store.Customer{ID: "cus_1", Email: "a@example.com", PasswordHash: "x", CreatedAt: now}))
	_, err := s.CreateLink(ctx, store.Link{ID: "lnk_1", CustomerID: "cus_1", InstitutionID: "ins_1", ConversationID: "cnv_1",
		Scopes: []string{"balances"}, Status: store.LinkActive, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		store.Receipt{ID: "rcp_1", Action: store.ReceiptGrant, Method: "test"})
	must(err)
	return s, path, now, must
}

// TestRevokedEventsLeaveNoTraceInTheFiles: a revocation deletes the link's
// events, and the node's files keep no copy of them: the rows are zeroed
// (secure_delete) and the WAL that still held their pages is emptied once
// the revocation commits. (Clearing a history is checked end to end in
// e2e.TestClearedHistoryGoneFromBackups.)
func TestRevokedEventsLeaveNoTraceInTheFiles(t *testing.T) {
	s, path, now, must := linkedStore(t)
	secret := revokeSecret(t, s, path, now, must)
	deadline := time.Now().Add(10 * time.Second)
	for holds(t, path, secret) {
		if time.Now().After(deadline) {
			t.Fatal("10 s after the revocation the database or its WAL still holds the revoked event's payload")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestDeletionEmptiesTheWALAtTheWritersNextTurn: once a write that
// deleted customers' data is answered, the writer empties the WAL after
// its next group, before it takes another (when no reader keeps the WAL
// longer than 100 ms; here none does): after the write after next, the
// payload is in neither file. The checkpointer's turns are an hour apart
// here, so only the writer can have done it; left to the checkpointer, it
// waited seconds for the writer's lock under load.
func TestDeletionEmptiesTheWALAtTheWritersNextTurn(t *testing.T) {
	every := checkpointEvery
	checkpointEvery = time.Hour
	t.Cleanup(func() { checkpointEvery = every }) // after the store closes
	ctx := context.Background()
	s, path, now, must := linkedStore(t)
	secret := revokeSecret(t, s, path, now, must)
	for _, id := range []string{"cus_2", "cus_3"} {
		must(s.CreateCustomer(ctx, store.Customer{ID: id, Email: id + "@example.com", PasswordHash: "x", CreatedAt: now}))
	}
	if holds(t, path, secret) {
		t.Fatal("two writes after the revocation, the database or its WAL still holds the revoked event's payload")
	}
}

// revokeSecret stores an event with a payload unique to the test on
// linkedStore's link, checks that a file holds it, and revokes the link.
func revokeSecret(t *testing.T, s *Store, path string, now time.Time, must func(error)) []byte {
	t.Helper()
	ctx := context.Background()
	secret := []byte(fmt.Sprintf("revoked-payload-%d", now.UnixNano()))
	res, err := s.AppendEvents(ctx, []store.NewEvent{{Event: store.Event{ID: "e1", InstitutionID: "ins_1", LinkID: "lnk_1", BankEventID: "e1",
		Type: "message", Author: store.AuthorInstitution, OccurredAt: now, ReceivedAt: now, Sealed: secret}, Fingerprint: []byte("e1")}})
	must(err)
	must(res[0].Err)
	if !holds(t, path, secret) {
		t.Fatal("the payload is in neither file before the revocation: the test would prove nothing")
	}
	_, err = s.RevokeLink(ctx, store.Revocation{LinkID: "lnk_1", CustomerID: "cus_1", At: now,
		Marker: store.NewEvent{Event: store.Event{ID: "rec_revoked", Type: store.TypeLinkRevoked, Author: store.AuthorPlatform,
			OccurredAt: now, ReceivedAt: now, Sealed: []byte("sealed:revoked")}},
		Receipt: store.Receipt{ID: "rcp_2", Action: store.ReceiptRevoke, Method: "test", CollectedAt: now, ExpiresAt: now}})
	must(err)
	return secret
}

// holds says whether the database file or its WAL contains b.
func holds(t *testing.T, path string, b []byte) bool {
	t.Helper()
	for _, f := range []string{path, path + "-wal"} {
		data, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(data, b) {
			return true
		}
	}
	return false
}
