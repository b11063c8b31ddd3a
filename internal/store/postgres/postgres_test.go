package postgres

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/storetest"
	"github.com/openteller/openteller/internal/testenv"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		url := testenv.PostgresSchema(t)
		s, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrationsIdempotent(t *testing.T) {
	url := testenv.PostgresSchema(t)
	for range 2 {
		s, err := Open(context.Background(), url)
		if err != nil {
			t.Fatal(err)
		}
		s.Close()
	}
}

// TestWriterIsLabelled: the appender's time can be read alone in a profile.
func TestWriterIsLabelled(t *testing.T) {
	s, err := Open(context.Background(), testenv.PostgresSchema(t))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	storetest.WriterLabelled(t, "postgres", "postgres.(*appender).run")
}

// TestPoolSize: a node opens at most four connections a core and 32 in
// all, unless the database URL sets pool_max_conns, whatever the value,
// and only a setting counts, not the words elsewhere in the URL.
func TestPoolSize(t *testing.T) {
	const base = "postgres://openteller@db.example/openteller?sslmode=disable"
	for _, tc := range []struct {
		url   string
		procs int
		want  int32
	}{
		{base, 1, 4},
		{base, 2, 8},
		{base, 8, 32},
		{base, 64, 32},
		{base + "&pool_max_conns=3", 2, 3},
		{base + "&pool_max_conns=8", 64, 8},
		{base + "&application_name=pool_max_conns", 2, 8},
		{"postgres://pool_max_conns@db.example/pool_max_conns", 4, 16},
		{"host=db.example user=openteller pool_max_conns=5", 2, 5},
	} {
		cfg, err := poolConfig(tc.url, tc.procs)
		if err != nil {
			t.Fatalf("%s: %v", tc.url, err)
		}
		if cfg.MaxConns != tc.want {
			t.Errorf("%s on %d cores: pool of %d connections, want %d", tc.url, tc.procs, cfg.MaxConns, tc.want)
		}
	}
	// A service file (PGSERVICEFILE) can set it too.
	services := filepath.Join(t.TempDir(), "pg_service.conf")
	if err := os.WriteFile(services, []byte("[nodes]\nhost=db.example\npool_max_conns=6\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PGSERVICEFILE", services)
	if cfg, err := poolConfig("service=nodes", 2); err != nil {
		t.Error(err)
	} else if cfg.MaxConns != 6 {
		t.Errorf("service with pool_max_conns=6: pool of %d connections", cfg.MaxConns)
	}
	if _, err := poolConfig(base+"&pool_max_conns=many", 2); err == nil {
		t.Error("pool_max_conns=many accepted")
	}
}

// TestConnectTakesPoolSettings: a tool's single connection opens with the
// node's URL, pool settings and all.
func TestConnectTakesPoolSettings(t *testing.T) {
	url := testenv.PostgresSchema(t) + "&pool_max_conns=3"
	conn, err := Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var one int
	if err := conn.QueryRow(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("SELECT 1: %d %v", one, err)
	}
}

// TestSweepNeverWaits: the periodic sweep of expired sessions skips rows
// another transaction holds (a password reset ending the customer's
// sessions holds them while it waits for more), so the two can never
// deadlock; what it skipped goes on the next sweep.
func TestSweepNeverWaits(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresSchema(t)
	s, err := Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	if err := s.CreateCustomer(ctx, store.Customer{ID: "cus_1", Email: "a@example.com", PasswordHash: "h", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"held", "free"} {
		se := store.Session{IDHash: []byte(id), CustomerID: "cus_1", CSRFToken: id, CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(-time.Minute)}
		if err := s.CreateSession(ctx, se, "h"); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := s.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT 1 FROM sessions WHERE id_hash = $1 FOR UPDATE`, []byte("held")); err != nil {
		t.Fatal(err)
	}
	// Waiting would end at the deadline with an error instead of a count.
	wait, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	n, err := s.SweepExpired(wait, now)
	if err != nil || n != 1 {
		t.Fatalf("sweep while a session is held: %d, %v; want 1 (the free one) and no wait", n, err)
	}
	if err := tx.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	if n, err := s.SweepExpired(ctx, now); err != nil || n != 1 {
		t.Fatalf("next sweep: %d, %v; want the one skipped before", n, err)
	}
}

// TestAppendsDoNotWaitForReads: the writer of events has a connection of
// its own. With every connection for reads taken (by slow catch-ups, say),
// a bank's batch and a customer's answer are still stored at once, and
// the node opens no more connections than pool_max_conns.
func TestAppendsDoNotWaitForReads(t *testing.T) {
	ctx := context.Background()
	url := testenv.PostgresSchema(t)
	app := fmt.Sprintf("apart_%d", time.Now().UnixNano())
	s, err := Open(ctx, url+"&pool_max_conns=3&application_name="+app)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	now := time.Now().UTC()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(s.CreateInstitution(ctx, store.Institution{ID: "ins_a", Name: "Alpha Bank", Kind: store.InstitutionBank,
		AuthorizeURL: "https://a.example/authorize", TokenURL: "https://a.example/token", ClientID: "ot", CreatedAt: now}))
	must(s.CreateCustomer(ctx, store.Customer{ID: "cus_1", Email: "a@example.com", PasswordHash: "h", CreatedAt: now}))
	_, err = s.CreateLink(ctx, store.Link{ID: "lnk_1", CustomerID: "cus_1", InstitutionID: "ins_a", ConversationID: "cnv_1",
		Scopes: []string{"transactions"}, Status: store.LinkActive, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		store.Receipt{ID: "rcp_1", Action: store.ReceiptGrant, Scopes: []string{"transactions"}, Purpose: "test",
			CollectedAt: now, ExpiresAt: now.Add(time.Hour), Method: "test", DisclosureDigest: "d"})
	must(err)

	if got := s.pool.Stat().MaxConns(); got != 2 {
		t.Fatalf("pool_max_conns=3: %d connections for reads, want 2 (and the writer's)", got)
	}
	for range s.pool.Stat().MaxConns() {
		c, err := s.pool.Acquire(ctx)
		must(err)
		defer c.Release()
	}
	// Waiting for a connection would end with an error when the group's
	// transaction times out (groupTimeout, 30 s).
	res, err := s.AppendEvents(ctx, []store.NewEvent{{
		Event: store.Event{ID: "rec_1", InstitutionID: "ins_a", LinkID: "lnk_1", BankEventID: "b1",
			Type: "transaction.posted", Author: store.AuthorInstitution, OccurredAt: now, ReceivedAt: now, Sealed: []byte("sealed")},
		Scope: "transactions", Fingerprint: []byte("fp:b1"),
	}})
	if err != nil || res[0].Err != nil || res[0].Seq != 1 {
		t.Fatalf("append with every read connection taken: %+v, %v; want seq 1 at once", res, err)
	}
	probe, err := Connect(ctx, url)
	must(err)
	defer probe.Close(ctx)
	var conns int
	must(probe.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1`, app).Scan(&conns))
	if conns != 3 {
		t.Errorf("the node holds %d connections with pool_max_conns=3, want 3: two for reads and the writer's", conns)
	}
}

// TestAppendNeedsItsConversation: the events table keeps no foreign key
// to conversations (migration 0025: it cost a fifth of the node's
// throughput); the append makes the check instead, under the lock it
// takes on the conversation. A link whose conversation is missing (made
// here by lifting the links' own key, which nothing in the product does)
// gets no events, and the other links' events of the same group are
// stored.
func TestAppendNeedsItsConversation(t *testing.T) {
	ctx := context.Background()
	s, _, app := openNamed(t, "orphans")
	defer s.Close()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// The refusal below must be the append's own: no key is left to make it.
	var keys int
	must(s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_constraint WHERE contype = 'f' AND conrelid = 'events'::regclass`).Scan(&keys))
	if keys != 0 {
		t.Fatalf("the events table has %d foreign keys, want none", keys)
	}
	now := time.Now().UTC()
	must(s.CreateInstitution(ctx, store.Institution{ID: "ins_a", Name: "Alpha Bank", Kind: store.InstitutionBank,
		AuthorizeURL: "https://a.example/authorize", TokenURL: "https://a.example/token", ClientID: "ot", CreatedAt: now}))
	for _, n := range []string{"1", "2"} {
		must(s.CreateCustomer(ctx, store.Customer{ID: "cus_" + n, Email: n + "@example.com", PasswordHash: "h", CreatedAt: now}))
		_, err := s.CreateLink(ctx, store.Link{ID: "lnk_" + n, CustomerID: "cus_" + n, InstitutionID: "ins_a", ConversationID: "cnv_" + n,
			Scopes: []string{"transactions"}, Status: store.LinkActive, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
			store.Receipt{ID: "rcp_" + n, Action: store.ReceiptGrant, Scopes: []string{"transactions"}, Purpose: "test",
				CollectedAt: now, ExpiresAt: now.Add(time.Hour), Method: "test", DisclosureDigest: "d"})
		must(err)
	}
	_, err := s.pool.Exec(ctx, `ALTER TABLE links DROP CONSTRAINT links_conversation_id_fkey; DELETE FROM conversations WHERE id = 'cnv_2'`)
	must(err)

	event := func(link, id string) store.NewEvent {
		return store.NewEvent{
			Event: store.Event{ID: "rec_" + id, InstitutionID: "ins_a", LinkID: link, BankEventID: id,
				Type: "transaction.posted", Author: store.AuthorInstitution, OccurredAt: now, ReceivedAt: now, Sealed: []byte("sealed")},
			Scope: "transactions", Fingerprint: []byte("fp:" + id),
		}
	}
	if res, err := s.AppendEvents(ctx, []store.NewEvent{event("lnk_2", "orphan")}); err == nil {
		t.Fatalf("append to a link whose conversation is gone: %+v, no error", res)
	}
	// Two callers in one group: the one that cannot be stored must not
	// take the other down with it. A transaction holding lnk_1 keeps the
	// writer busy with a first group until both callers are queued.
	type answer struct {
		res []store.AppendResult
		err error
	}
	answers := make(chan answer, 3)
	appendOne := func(ev store.NewEvent) {
		res, err := s.AppendEvents(ctx, []store.NewEvent{ev})
		answers <- answer{res, err}
	}
	hold, err := s.pool.Begin(ctx)
	must(err)
	defer hold.Rollback(ctx)
	_, err = hold.Exec(ctx, `SELECT 1 FROM links WHERE id = 'lnk_1' FOR UPDATE`)
	must(err)
	go appendOne(event("lnk_1", "first"))
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		var waiting int
		must(s.pool.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND wait_event_type = 'Lock'`, app).Scan(&waiting))
		if waiting > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the first group never waited for the held link")
		}
	}
	go appendOne(event("lnk_1", "kept"))
	go appendOne(event("lnk_2", "orphan"))
	for deadline := time.Now().Add(30 * time.Second); len(s.appender.queue) < 2; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d callers queued behind the first group, want 2", len(s.appender.queue))
		}
	}
	must(hold.Rollback(ctx))
	// The three answers come in any order: each caller's goroutine sends
	// its own when the scheduler wakes it (on a busy machine the orphan's
	// came before the first group's).
	var stored, failed int
	for range 3 {
		a := <-answers
		switch {
		case a.err != nil && strings.Contains(a.err.Error(), "lnk_2"):
			failed++
		case a.err == nil && len(a.res) == 1 && a.res[0].Err == nil && a.res[0].ConversationID == "cnv_1":
			stored++
		default:
			t.Fatalf("unexpected answer %+v, %v", a.res, a.err)
		}
	}
	if stored != 2 || failed != 1 {
		t.Fatalf("%d stored and %d failed, want the first group and the one kept stored, the orphan failed", stored, failed)
	}
	var orphans, kept int
	must(s.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE conversation_id = 'cnv_2'), count(*) FILTER (WHERE conversation_id = 'cnv_1') FROM events`).Scan(&orphans, &kept))
	if orphans != 0 || kept != 2 {
		t.Fatalf("events: %d in the missing conversation, %d in the other; want 0 and 2", orphans, kept)
	}
}

// openNamed opens a store on a scratch schema whose connections carry a
// name of their own, app, so that a test can find its backends in
// pg_stat_activity; it returns the schema's URL too.
func openNamed(t *testing.T, prefix string) (s *Store, url, app string) {
	t.Helper()
	url = testenv.PostgresSchema(t)
	app = fmt.Sprintf("%s_%d", prefix, time.Now().UnixNano())
	s, err := Open(context.Background(), url+"&application_name="+app)
	if err != nil {
		t.Fatal(err)
	}
	return s, url, app
}

// TestAdvice: the store advises turning autovacuum on exactly when the
// server runs without it.
func TestAdvice(t *testing.T) {
	s, url, _ := openNamed(t, "advice")
	defer s.Close()
	ctx := context.Background()
	conn, err := Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var autovacuum string
	if err := conn.QueryRow(ctx, "SHOW autovacuum").Scan(&autovacuum); err != nil {
		t.Fatal(err)
	}
	advice, err := s.Advice(ctx)
	if err != nil {
		t.Fatal(err)
	}
	warned := len(advice) == 1 && strings.HasPrefix(advice[0], "autovacuum is off: ")
	if warned != (autovacuum == "off") || (autovacuum == "on" && len(advice) != 0) {
		t.Fatalf("with autovacuum %s, the advice is %q", autovacuum, advice)
	}
}
