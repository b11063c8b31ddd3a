package consent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/access"
	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/sqlite"
	"github.com/openteller/openteller/internal/testenv"
	"github.com/openteller/openteller/internal/vault"
)

// rig is a consent service on a real SQLite store, keyring and embedded
// bus, with ingest beside it, all on one clock the test moves.
type rig struct {
	t   *testing.T
	st  *sqlite.Store
	kr  *vault.Keyring
	bus *bus.Bus
	svc *consent.Service
	in  *ingest.Ingester
	rec *access.Log
	now time.Time
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, st: testenv.SQLite(t), now: time.Now().UTC()}
	clock := func() time.Time { return r.now }
	r.st.SetClock(clock)
	r.kr, _ = vault.New(bytes.Repeat([]byte{5}, 32), r.st)
	b, err := bus.Open(bus.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	r.bus = b
	r.svc = consent.New(consent.Config{Store: r.st, Keyring: r.kr, Bus: b, Now: clock})
	r.in = ingest.New(ingest.Config{Store: r.st, Keyring: r.kr, Now: clock})
	r.rec = &access.Log{Store: r.st, Keyring: r.kr, Now: clock}
	r.must(r.st.CreateInstitution(context.Background(), store.Institution{ID: "ins_1", Name: "Cedar Bank", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: r.now}))
	return r
}

func (r *rig) must(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

// customer signs up a customer with id@example.com.
func (r *rig) customer(id string) {
	r.t.Helper()
	r.must(r.st.CreateCustomer(context.Background(), store.Customer{ID: id, Email: id + "@example.com", PasswordHash: "x", CreatedAt: r.now}))
}

// link makes a link of customer to Cedar Bank with scopes, ending at expires.
func (r *rig) link(customer string, scopes []string, expires time.Time) store.Link {
	r.t.Helper()
	l := store.Link{ID: ingest.NewID("lnk_"), CustomerID: customer, InstitutionID: "ins_1", ConversationID: "cnv_" + customer,
		Scopes: scopes, Status: store.LinkActive, CreatedAt: r.now.Add(-time.Hour), ExpiresAt: expires}
	l, err := r.st.CreateLink(context.Background(), l, consent.GrantReceipt(l, "digest"))
	r.must(err)
	return l
}

// post posts one event of the bank to l and returns its status or error code.
func (r *rig) post(l store.Link, id, typ, data string) string {
	r.t.Helper()
	raw := json.RawMessage(`{"id":"` + id + `","link_id":"` + l.ID + `","type":"` + typ + `","occurred_at":"` + r.now.Format(time.RFC3339) + `","data":` + data + `}`)
	res, err := r.in.Ingest(context.Background(), "ins_1", []json.RawMessage{raw})
	r.must(err)
	if res[0].Error != nil {
		return res[0].Error.Code
	}
	return res[0].Status
}

const (
	balanceData     = `{"account_id":"a","account_name":"Checking","account_kind":"checking","available":{"amount":"9.00","currency":"USD"},"current":{"amount":"9.00","currency":"USD"}}`
	transactionData = `{"account_id":"a","transaction_id":"t","status":"posted","direction":"debit","amount":{"amount":"1.00","currency":"USD"},"description":"Office supplies"}`
	messageData     = `{"text":"hello"}`
)
