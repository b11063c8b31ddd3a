package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/openteller/openteller/internal/store"
)

// TestEventReadsStayNarrow: what a node reads for each batch (its links,
// their conversations and data keys, which of its ids are stored already,
// its links' pending notices) and for each device (what it missed) stays
// a few rows as the tables grow, even before PostgreSQL knows how large
// they are. A connection
// keeps its statements prepared, and PostgreSQL may keep one plan for a
// statement after a few runs, made from what it knew then. Made while the
// events table was empty, that plan read the whole table for every batch:
// each batch cost as much as every event before it, and a node that took
// 20,000 events a second took 2,000 after a minute. The customers grow
// too, after the plans are made, with a notice each waiting for a bank
// that is down: a plan kept from a bank's first twenty customers must not
// read all of its thousands for each batch.
func TestEventReadsStayNarrow(t *testing.T) {
	// Before its first ANALYZE PostgreSQL guesses from the table's size;
	// after an ANALYZE of an empty table (a new installation an operator
	// analyzed) it takes the table to hold nothing.
	t.Run("never analyzed", func(t *testing.T) { testEventReads(t, false) })
	t.Run("analyzed empty", func(t *testing.T) { testEventReads(t, true) })
}

func testEventReads(t *testing.T, analyze bool) {
	ctx := context.Background()
	// The store's connections carry a name of their own, so the test can
	// wait for them to end (and report their counters).
	s, url, app := openNamed(t, "reads")
	defer s.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now().UTC()
	must(s.CreateInstitution(ctx, store.Institution{ID: "ins_a", Name: "Alpha Bank", Kind: store.InstitutionBank,
		AuthorizeURL: "https://a.example/authorize", TokenURL: "https://a.example/token", ClientID: "ot", CreatedAt: now}))
	const customers = 20
	for i := range customers {
		cus := fmt.Sprintf("cus_%d", i)
		must(s.CreateCustomer(ctx, store.Customer{ID: cus, Email: cus + "@example.com", PasswordHash: "h", CreatedAt: now}))
		_, err := s.CreateLink(ctx, store.Link{ID: fmt.Sprintf("lnk_%d", i), CustomerID: cus, InstitutionID: "ins_a", ConversationID: fmt.Sprintf("cnv_%d", i),
			Scopes: []string{"transactions"}, Status: store.LinkActive, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
			store.Receipt{ID: fmt.Sprintf("rcp_%d", i), Action: store.ReceiptGrant, Scopes: []string{"transactions"}, Purpose: "test",
				CollectedAt: now, ExpiresAt: now.Add(time.Hour), Method: "test", DisclosureDigest: "d"})
		must(err)
	}
	conn, err := Connect(ctx, url)
	must(err)
	defer conn.Close(ctx)
	if analyze {
		_, err = conn.Exec(ctx, "ANALYZE")
		must(err)
	}

	// Ten small batches first, while the table is a few pages (when
	// PostgreSQL settles on the plans it keeps), then thirty large ones.
	const rounds, size = 40, 1000
	sizes := func(r int) int {
		if r < 10 {
			return 50
		}
		return size
	}
	total := 0
	var grown map[string]int64
	for r := range rounds {
		if r == 10 {
			grown = growCustomers(t, url, app+"_grow", 20_000)
		}
		evs := make([]store.NewEvent, sizes(r))
		total += len(evs)
		for i := range evs {
			id := fmt.Sprintf("b%d_%d", r, i)
			evs[i] = store.NewEvent{
				Event: store.Event{ID: "rec_" + id, InstitutionID: "ins_a", LinkID: fmt.Sprintf("lnk_%d", i%customers), BankEventID: id,
					Type: "transaction.posted", Author: store.AuthorInstitution, OccurredAt: now, ReceivedAt: now, Sealed: []byte("sealed")},
				Scope:       "transactions",
				Fingerprint: []byte("fp:" + id),
			}
		}
		// One answer a batch queues a notice for the bank, as a fraud
		// answer does: the group looks for its link's pending notices.
		evs[0].Notice = &store.Notice{ID: "ntc_" + evs[0].ID, Type: "fraud.response", Payload: []byte(`{}`), CreatedAt: now, LeaseUntil: now.Add(time.Minute)}
		res, err := s.AppendEvents(ctx, evs)
		must(err)
		for _, r := range res {
			must(r.Err)
		}
		// A device catching up on the conversation's newest events.
		cnv := fmt.Sprintf("cnv_%d", r%customers)
		after := int64(max(0, total/customers-10))
		got, err := s.EventsAfter(ctx, cnv, after, 10)
		must(err)
		if len(got) == 0 || got[0].Seq != after+1 {
			t.Fatalf("round %d: events after %d in %s: %d, want from %d", r, after, cnv, len(got), after+1)
		}
	}
	// A backend reports its counters when it ends: close the pool, wait
	// for its backends to be gone, then read the counters afresh.
	s.Close()
	waitGone(t, conn, app)
	_, err = conn.Exec(ctx, `SELECT pg_stat_clear_snapshot()`)
	must(err)
	var seq, idx int64
	must(conn.QueryRow(ctx, `SELECT coalesce(seq_tup_read, 0), coalesce(idx_tup_fetch, 0) FROM pg_stat_user_tables
		WHERE schemaname = current_schema() AND relname = 'events'`).Scan(&seq, &idx))
	// Probing the index for ids that are not there reads nothing, and a
	// catch-up reads its 10 events. While the table is a few pages
	// PostgreSQL may rightly read it whole for each probe (up to about
	// 100,000 rows over the ten small batches); a plan that keeps doing
	// so as the table grows reads far more: the look-up written as a
	// filter read the institution's history for each batch (450,000),
	// and a probe kept as a scan reads it for each id (450 million).
	t.Logf("events: %d rows read by sequential scans, %d fetched through indexes", seq, idx)
	if seq+idx > 200_000 {
		t.Fatalf("the hot path read %d rows of the events table (%d by sequential scans) to append %d and read back a few hundred: a plan that reads the table whole as it grows", seq+idx, seq, total)
	}
	// Each of the thirty large batches locks its twenty links and their
	// conversations, reads their data keys, moves their counters and finds
	// its one link's pending notices (one more each batch): a couple of
	// thousand rows of each table at most, in all. A plan that kept
	// reading a table whole would read its 20,000 rows thirty times.
	for table, read := range tableReads(t, conn) {
		read -= grown[table]
		t.Logf("%s: %d rows read after it grew", table, read)
		if read > 30_000 {
			t.Errorf("the batches read %d rows of the %s table after it grew to 20,000: a plan made while it was small reads it whole", read, table)
		}
	}
}

// growCustomers adds n customers to the bank ins_a of the store at url,
// each with a conversation, a link, a data key and a notice not yet
// delivered, over a connection of its own named app. It returns the rows
// read of each table so far, counted once that connection has ended (its
// foreign keys' checks read some).
func growCustomers(t *testing.T, url, app string, n int) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	conn, err := Connect(ctx, url+"&application_name="+app)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, q := range []string{
		`INSERT INTO customers (id, email, password_hash, created_at) SELECT 'more_' || i, 'more_' || i || '@example.com', 'h', now() FROM generate_series(1, $1) i`,
		`INSERT INTO conversations (id, customer_id, institution_id, created_at) SELECT 'cnv_more_' || i, 'more_' || i, 'ins_a', now() FROM generate_series(1, $1) i`,
		`INSERT INTO links (id, customer_id, institution_id, conversation_id, scopes, status, created_at, expires_at)
			SELECT 'lnk_more_' || i, 'more_' || i, 'ins_a', 'cnv_more_' || i, 'transactions', '` + store.LinkActive + `', now(), now() + interval '1 hour' FROM generate_series(1, $1) i`,
		`INSERT INTO data_keys (customer_id, version, root_key_version, wrapped, created_at) SELECT 'more_' || i || '/ins_a', 1, 1, '\x00', now() FROM generate_series(1, $1) i`,
		`INSERT INTO outbox (id, institution_id, link_id, type, payload, created_at) SELECT 'ntc_more_' || i, 'ins_a', 'lnk_more_' || i, 'fraud.response', '{}', now() FROM generate_series(1, $1) i`,
	} {
		if _, err := conn.Exec(ctx, q, n); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)
	// Its own reads (the foreign keys' checks) are counted once it ends.
	probe, err := Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer probe.Close(ctx)
	waitGone(t, probe, app)
	return tableReads(t, probe)
}

// tableReads is how many rows of each table the batches lock or read have
// been read so far: by sequential scans, and index entries read by index
// scans (which counts a walk of a whole index, even one that needs no
// table rows).
func tableReads(t *testing.T, conn *pgx.Conn) map[string]int64 {
	t.Helper()
	ctx := context.Background()
	if _, err := conn.Exec(ctx, `SELECT pg_stat_clear_snapshot()`); err != nil {
		t.Fatal(err)
	}
	rows, err := conn.Query(ctx, `SELECT t.relname, coalesce(t.seq_tup_read, 0) + coalesce((SELECT sum(i.idx_tup_read) FROM pg_stat_user_indexes i WHERE i.relid = t.relid), 0)
		FROM pg_stat_user_tables t WHERE t.schemaname = current_schema() AND t.relname IN ('links', 'conversations', 'data_keys', 'outbox')`)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int64{}
	for rows.Next() {
		var table string
		var read int64
		if err := rows.Scan(&table, &read); err != nil {
			t.Fatal(err)
		}
		out[table] = read
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if len(out) != 4 {
		t.Fatalf("read counters for %v, want links, conversations, data_keys and outbox", out)
	}
	return out
}

// waitGone waits for the backends of the connections named app to end,
// when PostgreSQL counts what they read.
func waitGone(t *testing.T, conn *pgx.Conn, app string) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var left int
		if err := conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&left); err != nil {
			t.Fatal(err)
		}
		if left == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d backends named %s still there 30 s after they closed", left, app)
		}
	}
}
