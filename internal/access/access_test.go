package access_test

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/access"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/sqlite"
	"github.com/openteller/openteller/internal/tlog"
	"github.com/openteller/openteller/internal/vault"
)

// rig is the access log on a real SQLite file, with a second connection
// to the same file for playing the attacker who edits rows.
type rig struct {
	t   testing.TB
	log *access.Log
	raw *sql.DB
	pub []byte
}

func newRig(t testing.TB) *rig {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "openteller.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	kr, err := vault.New(bytes.Repeat([]byte{7}, 32), st)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"cus_a", "cus_b"} {
		if err := st.CreateCustomer(ctx, store.Customer{ID: id, Email: id + "@example.com", PasswordHash: "x", CreatedAt: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	pub, err := kr.LogPublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}
	return &rig{t: t, log: &access.Log{Store: st, Keyring: kr, Origin: "bank.example/access-log"}, raw: raw, pub: pub}
}

func (r *rig) record(n int, customer string) {
	r.t.Helper()
	for range n {
		if err := r.log.Record(context.Background(), access.ActorDelegate, "cus_acct", "read", "events", customer); err != nil {
			r.t.Fatal(err)
		}
	}
}

// others appends n entries about someone else in one transaction, as a
// busy log would hold.
func (r *rig) others(n int) {
	r.t.Helper()
	ctx := context.Background()
	size, err := r.log.Store.LogSize(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	tx, err := r.raw.Begin()
	if err != nil {
		r.t.Fatal(err)
	}
	defer tx.Rollback()
	for i := range uint64(n) {
		data := fmt.Appendf(nil, `{"v":1,"actor_kind":"agent","n":%d}`, i)
		leaf := tlog.LeafHash(data)
		if _, err := tx.Exec(`INSERT INTO access_entries (idx, subject, data, leaf_hash) VALUES (?, 'someone', ?, ?)`, size+i, string(data), leaf[:]); err != nil {
			r.t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		r.t.Fatal(err)
	}
}

// verify checks a history as a customer's browser does.
func (r *rig) verify(h access.History) tlog.Checkpoint {
	r.t.Helper()
	c, err := tlog.OpenCheckpoint(h.Checkpoint, h.Origin, h.Origin, r.pub)
	if err != nil {
		r.t.Fatalf("checkpoint: %v", err)
	}
	if !strings.HasPrefix(h.VerifierKey, h.Origin+"+") {
		r.t.Fatalf("verifier key %q", h.VerifierKey)
	}
	for _, e := range h.Entries {
		if err := tlog.VerifyInclusion(tlog.LeafHash(e.Data), e.Index, c.Size, e.Proof, c.Root); err != nil {
			r.t.Fatalf("entry %d: %v", e.Index, err)
		}
	}
	return c
}

// TestHistoryIsProven: a customer sees only their own entries, each with a
// proof of inclusion in a signed checkpoint of the whole log, and a proof
// that the log only grew since the checkpoint they saw before.
func TestHistoryIsProven(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.record(3, "cus_a")
	r.record(2, "cus_b")
	h, err := r.log.History(ctx, "cus_a", 0)
	if err != nil {
		t.Fatal(err)
	}
	first := r.verify(h)
	if len(h.Entries) != 3 || first.Size != 5 || len(h.Consistency) != 0 {
		t.Fatalf("history = %+v", h)
	}
	for _, e := range h.Entries {
		if e.Entry.Subject == "cus_a" || e.Entry.ActorKind != "delegate" || e.Entry.At.IsZero() || bytes.Contains(e.Data, []byte(`"cus_a"`)) {
			t.Fatalf("entry = %s", e.Data)
		}
	}
	r.record(4, "cus_a")
	r.record(1, "cus_b")
	h, err = r.log.History(ctx, "cus_a", first.Size)
	if err != nil {
		t.Fatal(err)
	}
	second := r.verify(h)
	if len(h.Entries) != 7 || second.Size != 10 {
		t.Fatalf("second history: %d entries, size %d", len(h.Entries), second.Size)
	}
	if err := tlog.VerifyConsistency(first.Size, second.Size, h.Consistency, first.Root, second.Root); err != nil {
		t.Fatalf("consistency %d → %d: %v", first.Size, second.Size, err)
	}
}

// TestHistoryFromKeptSubtrees: in a log of thousands of entries, kept a
// chunk at a time as it grows, proofs made from the kept subtrees are those
// of the whole log rehashed, and the audit agrees.
func TestHistoryFromKeptSubtrees(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	var prev tlog.Checkpoint
	for round := range 3 {
		r.record(2, "cus_a")
		r.others(4000 + round) // odd and even sizes; more than a chunk in all
		r.record(1, "cus_a")
		h, err := r.log.History(ctx, "cus_a", prev.Size)
		if err != nil {
			t.Fatal(err)
		}
		c := r.verify(h)
		all, err := r.log.Store.LeafHashes(ctx, 0, c.Size)
		if err != nil {
			t.Fatal(err)
		}
		if c.Root != tlog.Root(all) || len(h.Entries) != 3*(round+1) {
			t.Fatalf("round %d: root differs from the log rehashed, or %d entries", round, len(h.Entries))
		}
		if prev.Size > 0 {
			if err := tlog.VerifyConsistency(prev.Size, c.Size, h.Consistency, prev.Root, c.Root); err != nil {
				t.Fatalf("round %d: consistency %d → %d: %v", round, prev.Size, c.Size, err)
			}
		}
		prev = c
	}
	if _, _, err := r.log.Audit(ctx, ""); err != nil {
		t.Fatalf("audit: %v", err)
	}
	// KeepUp, as nodes run it in the background, keeps the hashes of all
	// the log's complete subtrees.
	r.others(5)
	if err := r.log.KeepUp(ctx); err != nil {
		t.Fatal(err)
	}
	size, _ := r.log.Store.LogSize(ctx)
	if cover, _, _ := r.log.Store.LogNodesCover(ctx); cover != size&^1 {
		t.Fatalf("after KeepUp: cover %d of %d entries", cover, size)
	}
}

// TestHistoryRefusesForgedSubtree: a subtree hash planted ahead of the log
// is never built on: when the log reaches it, the customer's history fails
// instead of a checkpoint being signed over it.
func TestHistoryRefusesForgedSubtree(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.record(6, "cus_a")
	if _, err := r.log.History(ctx, "cus_a", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.raw.ExecContext(ctx, `INSERT INTO log_nodes (level, idx, hash) VALUES (2, 1, zeroblob(32))`); err != nil {
		t.Fatal(err)
	}
	r.record(2, "cus_a")
	if h, err := r.log.History(ctx, "cus_a", 0); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("history over a forged subtree: %v (checkpoint %q)", err, h.Checkpoint)
	}
}

// TestAuditCatchesTampering: the audit passes on an honest log; editing an
// entry, deleting one, or rewriting an entry with its leaf hash (so the
// tree is self-consistent again) each make it fail, as does a log that no
// longer extends a checkpoint saved earlier.
func TestAuditCatchesTampering(t *testing.T) {
	ctx := context.Background()
	for name, tamper := range map[string]string{
		"an entry edited":        `UPDATE access_entries SET data = replace(data, '"read"', '"nothing"') WHERE idx = 2`,
		"an entry deleted":       `DELETE FROM access_entries WHERE idx = 1`,
		"the last entry deleted": `DELETE FROM access_entries WHERE idx = 5`,
		"an entry rewritten with its hash": `UPDATE access_entries SET data = replace(data, '"read"', '"nothing"'),
			leaf_hash = X'00' WHERE idx = 2`, // the hash is fixed below, like a careful attacker would
		"a kept subtree edited":  `UPDATE log_nodes SET hash = zeroblob(32) WHERE level = 2 AND idx = 0`,
		"a kept subtree deleted": `DELETE FROM log_nodes WHERE level = 1 AND idx = 1`,
		"a kept hash cut short":  `UPDATE log_nodes SET hash = X'00' WHERE level = 1 AND idx = 0`,
		"a subtree forged beyond the cover": `DELETE FROM log_nodes WHERE level = 1 AND idx = 2;
			INSERT INTO log_nodes (level, idx, hash) VALUES (2, 1, zeroblob(32))`,
	} {
		t.Run(name, func(t *testing.T) {
			r := newRig(t)
			r.record(6, "cus_a")
			if _, err := r.log.History(ctx, "cus_a", 0); err != nil { // keeps the subtrees
				t.Fatal(err)
			}
			_, saved, err := r.log.Audit(ctx, "")
			if err != nil {
				t.Fatalf("honest log: %v", err)
			}
			if _, err := r.raw.ExecContext(ctx, tamper); err != nil {
				t.Fatal(err)
			}
			if strings.Contains(name, "with its hash") {
				var data string
				r.raw.QueryRowContext(ctx, `SELECT data FROM access_entries WHERE idx = 2`).Scan(&data)
				h := tlog.LeafHash([]byte(data))
				if _, err := r.raw.ExecContext(ctx, `UPDATE access_entries SET leaf_hash = ? WHERE idx = 2`, h[:]); err != nil {
					t.Fatal(err)
				}
				// And drop the kept checkpoints, so only the saved one
				// can tell.
				if _, err := r.raw.ExecContext(ctx, `DELETE FROM log_checkpoints`); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := r.log.Audit(ctx, saved); !errors.Is(err, access.ErrTampered) {
				t.Fatalf("audit after tampering: %v", err)
			}
		})
	}
}

// TestAuditRefusesForeignCheckpoint: a checkpoint signed by another key,
// or edited, is not taken as the log's.
func TestAuditRefusesForeignCheckpoint(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.record(3, "cus_a")
	c, saved, err := r.log.Audit(ctx, "")
	if err != nil || c.Size != 3 {
		t.Fatalf("audit: %+v %v", c, err)
	}
	forged := strings.Replace(saved, "\n3\n", "\n2\n", 1)
	if _, _, err := r.log.Audit(ctx, forged); !errors.Is(err, access.ErrTampered) {
		t.Fatalf("an edited checkpoint: %v", err)
	}
	root := base64.StdEncoding.EncodeToString(c.Root[:])
	if !strings.Contains(saved, root) {
		t.Fatalf("saved note %q does not name root %s", saved, root)
	}
}

// BenchmarkHistory: what the privacy center asks for, a customer's 20
// entries with their proofs, in a log of 100,000 entries.
func BenchmarkHistory(b *testing.B) {
	ctx := context.Background()
	r := newRig(b)
	r.record(10, "cus_a")
	r.others(100_000)
	r.record(10, "cus_a")
	// The first request keeps the hashes of the log's subtrees; time the
	// ones after it.
	first, err := r.log.History(ctx, "cus_a", 0)
	if err != nil {
		b.Fatal(err)
	}
	since := first.Size
	for b.Loop() {
		h, err := r.log.History(ctx, "cus_a", since)
		if err != nil || len(h.Entries) != 20 {
			b.Fatalf("history: %d entries, %v", len(h.Entries), err)
		}
		since = h.Size
	}
}
