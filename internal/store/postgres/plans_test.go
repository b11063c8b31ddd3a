package postgres

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// TestEventReadsStayNarrow: what a node reads of the events table for
// each batch (which of its ids are stored already) and for each device
// (what it missed) stays a few rows as the table grows, even before
// PostgreSQL knows how large the table is. A connection keeps its
// statements prepared, and PostgreSQL may keep one plan for a statement
// after a few runs, made from what it knew then. Made while the table
// was empty, that plan read the whole table for every batch: each batch
// cost as much as every event before it, and a node that took 20,000
// events a second took 2,000 after a minute.
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
	for r := range rounds {
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
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		var left int
		must(conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&left))
		if left == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of the store's backends still there 30 s after it closed", left)
		}
	}
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
}
