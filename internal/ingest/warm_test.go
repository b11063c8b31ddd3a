package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/sqlite"
	"github.com/openteller/openteller/internal/testenv"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// countingStore counts the reads that ingest makes one by one, or for a
// whole batch, of links and data keys.
type countingStore struct {
	*sqlite.Store
	link, linksByID, dataKey, dataKeys atomic.Int64
}

func (c *countingStore) Link(ctx context.Context, id string) (store.Link, error) {
	c.link.Add(1)
	return c.Store.Link(ctx, id)
}

func (c *countingStore) LinksByID(ctx context.Context, ids []string) ([]store.Link, error) {
	c.linksByID.Add(1)
	return c.Store.LinksByID(ctx, ids)
}

func (c *countingStore) DataKey(ctx context.Context, owner string) (vault.WrappedKey, error) {
	c.dataKey.Add(1)
	return c.Store.DataKey(ctx, owner)
}

func (c *countingStore) DataKeys(ctx context.Context, owners []string) ([]vault.WrappedKey, error) {
	c.dataKeys.Add(1)
	return c.Store.DataKeys(ctx, owners)
}

// TestColdBatchReadsOnce: a node that has not seen a batch's customers
// lately (it restarted, or it serves more customers than it keeps in
// memory) reads their links and keys with one query each, not one per
// event: on PostgreSQL each is a round trip, and a batch for a hundred
// such customers waited for two hundred of them in turn.
func TestColdBatchReadsOnce(t *testing.T) {
	ctx := context.Background()
	now := time.Now().UTC().Truncate(time.Second)
	st := testenv.SQLite(t)
	root := bytes.Repeat([]byte{6}, 32)
	if err := st.CreateInstitution(ctx, store.Institution{ID: "ins_1", Name: "Cedar Bank", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	const customers = 40
	links := make([]string, customers)
	for i := range links {
		id := fmt.Sprintf("cus_%d", i)
		if err := st.CreateCustomer(ctx, store.Customer{ID: id, Email: id + "@example.com", PasswordHash: "x", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		l := store.Link{ID: ingest.NewID("lnk_"), CustomerID: id, InstitutionID: "ins_1", ConversationID: "cnv_" + id,
			Scopes: []string{"transactions"}, Status: store.LinkActive, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		l, err := st.CreateLink(ctx, l, consent.GrantReceipt(l, "digest"))
		if err != nil {
			t.Fatal(err)
		}
		links[i] = l.ID
	}
	batch := func(round int) []json.RawMessage {
		out := make([]json.RawMessage, 0, customers+1)
		for i, link := range links {
			data := fmt.Sprintf(`{"account_id":"acc_1","transaction_id":"t%d_%d","status":"posted","direction":"debit","amount":{"amount":"12.40","currency":"USD"},"merchant":{"name":"Harbor Street Grocer","mcc":"5411"}}`, round, i)
			out = append(out, json.RawMessage(fmt.Sprintf(`{"id":"b%d_%d","link_id":%q,"type":"transaction.posted","occurred_at":%q,"data":%s}`,
				round, i, link, now.Format(time.RFC3339), data)))
		}
		return out
	}
	post := func(in *ingest.Ingester, round int, raw []json.RawMessage) []bankapi.EventResult {
		t.Helper()
		res, err := in.Ingest(ctx, "ins_1", raw)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}

	// A first node makes the customers' keys as it seals their first events.
	kr, _ := vault.New(root, st)
	for _, r := range post(ingest.New(ingest.Config{Store: st, Keyring: kr, Now: func() time.Time { return now }}), 0, batch(0)) {
		if r.Status != bankapi.ResultAccepted {
			t.Fatalf("first node: %+v", r)
		}
	}

	// A node that has just started knows none of them.
	counted := &countingStore{Store: st}
	kr2, _ := vault.New(root, counted)
	in := ingest.New(ingest.Config{Store: counted, Keyring: kr2, Now: func() time.Time { return now }})
	stray := strings.Replace(string(batch(1)[0]), links[0], ingest.NewID("lnk_"), 1)
	raw := append(batch(1), json.RawMessage(strings.Replace(stray, `"b1_0"`, `"stray"`, 1)))
	res := post(in, 1, raw)
	for i, r := range res[:customers] {
		if r.Status != bankapi.ResultAccepted || r.Seq != 2 {
			t.Fatalf("event %d after the restart: %+v, want accepted as its conversation's second", i, r)
		}
	}
	if last := res[customers]; last.Error == nil || last.Error.Code != "unknown_link" {
		t.Fatalf("event for an unknown link: %+v", last)
	}
	// The unknown link is asked after once more on its own, as before.
	if n, m, k, l := counted.linksByID.Load(), counted.link.Load(), counted.dataKeys.Load(), counted.dataKey.Load(); n != 1 || m != 1 || k != 1 || l != 0 {
		t.Fatalf("a batch for %d customers new to the node read links %d times in one go and %d one by one, keys %d times in one go and %d one by one; want 1, 1 (the unknown link), 1, 0",
			customers, n, m, k, l)
	}
	// What the node now holds needs no read at all.
	post(in, 2, batch(2))
	if n, k := counted.linksByID.Load()+counted.link.Load(), counted.dataKeys.Load()+counted.dataKey.Load(); n != 2 || k != 1 {
		t.Fatalf("a batch for customers the node holds read links %d more times and keys %d more times", n-2, k-1)
	}
}
