package postgres

import (
	"context"
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
