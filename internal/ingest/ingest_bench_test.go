package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"github.com/openteller/openteller/internal/consent"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/testenv"
	"github.com/openteller/openteller/internal/vault"
)

// BenchmarkIngestSQLite measures durable ingest of batches of 100 card
// transactions spread over 1,000 links, on a real SQLite file with
// synchronous=FULL, from 8 concurrent posters. Report: events/s.
func BenchmarkIngestSQLite(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	st := testenv.SQLite(b)
	kr, _ := vault.New(bytes.Repeat([]byte{9}, 32), st)
	bs, err := bus.Open(bus.Options{DataDir: dir})
	if err != nil {
		b.Fatal(err)
	}
	defer bs.Close()
	in := ingest.New(ingest.Config{Store: st, Keyring: kr})
	st.CreateInstitution(ctx, store.Institution{ID: "ins", Name: "B", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: time.Now()})
	links := make([]string, 1000)
	for i := range links {
		id := fmt.Sprintf("cus_%d", i)
		st.CreateCustomer(ctx, store.Customer{ID: id, Email: id, PasswordHash: "x", CreatedAt: time.Now()})
		l := store.Link{ID: ingest.NewID("lnk_"), CustomerID: id, InstitutionID: "ins", ConversationID: "cnv_" + id,
			Scopes: []string{"transactions"}, Status: store.LinkActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
		l, err := st.CreateLink(ctx, l, consent.GrantReceipt(l, "test setup"))
		if err != nil {
			b.Fatal(err)
		}
		links[i] = l.ID
	}
	var n int64
	var next atomic.Int64
	b.SetParallelism(16) // with GOMAXPROCS=2: 32 posters
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		batch := make([]json.RawMessage, 100)
		for pb.Next() {
			for i := range batch {
				k := int(next.Add(1))
				batch[i] = json.RawMessage(fmt.Sprintf(`{"id":"b%d","link_id":%q,"type":"transaction.posted","occurred_at":"2026-03-01T12:00:00Z","data":{"account_id":"acc_1","transaction_id":"t%d","status":"posted","direction":"debit","amount":{"amount":"12.40","currency":"USD"},"merchant":{"name":"Harbor Street Grocer","mcc":"5411","category":"Grocery Stores, Supermarkets"},"card_last4":"4821"}}`,
					k, links[k%len(links)], k))
			}
			res, err := in.Ingest(ctx, "ins", batch)
			if err != nil {
				b.Error(err)
				return
			}
			for _, r := range res {
				if r.Status != "accepted" {
					b.Errorf("%+v", r.Error)
					return
				}
			}
		}
	})
	n = int64(b.N) * 100
	b.ReportMetric(float64(n)/time.Since(start).Seconds(), "events/s")
}
