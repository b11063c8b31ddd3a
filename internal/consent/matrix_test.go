package consent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/testenv"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// TestEnforcementMatrix posts every event type to links in every state,
// with its scope granted or not, and checks ingest's answer, and that a
// refused event left nothing in the store.
func TestEnforcementMatrix(t *testing.T) {
	ctx := context.Background()
	st := testenv.SQLite(t)
	kr, _ := vault.New(bytes.Repeat([]byte{6}, 32), st)
	b, err := bus.Open(bus.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	now := time.Now().UTC()
	clock := func() time.Time { return now }
	st.SetClock(clock)
	in := ingest.New(ingest.Config{Store: st, Keyring: kr, Bus: b, Now: clock})
	svc := consent.New(consent.Config{Store: st, Keyring: kr, Bus: b, Now: clock})
	if err := st.CreateInstitution(ctx, store.Institution{ID: "ins_1", Name: "Cedar Bank", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}

	data := map[string]string{
		bankapi.TypeBalanceUpdated:    `{"account_id":"a","account_name":"Checking","account_kind":"checking","available":{"amount":"1.00","currency":"USD"},"current":{"amount":"1.00","currency":"USD"}}`,
		bankapi.TypeTransactionPosted: `{"account_id":"a","transaction_id":"t","status":"posted","direction":"debit","amount":{"amount":"1.00","currency":"USD"},"description":"Coffee"}`,
		bankapi.TypeMessage:           `{"text":"hello"}`,
	}
	states := []string{"active", "expired", "revoked"}
	n := 0
	for typ, body := range data {
		scope, _ := bankapi.ScopeFor(typ)
		for _, granted := range []bool{true, false} {
			if scope == "" && !granted {
				continue // a message needs no scope: "not granted" does not exist for it
			}
			for _, state := range states {
				n++
				name := fmt.Sprintf("%s/granted=%t/%s", typ, granted, state)
				customer := fmt.Sprintf("cus_%d", n)
				if err := st.CreateCustomer(ctx, store.Customer{ID: customer, Email: customer + "@example.com", PasswordHash: "x", CreatedAt: now}); err != nil {
					t.Fatal(err)
				}
				scopes := []string{"support_chat"} // always something, never the one tested
				if granted && scope != "" {
					scopes = append(scopes, scope)
				}
				expires := now.Add(time.Hour)
				if state == "expired" {
					expires = now.Add(-time.Second)
				}
				l := store.Link{ID: ingest.NewID("lnk_"), CustomerID: customer, InstitutionID: "ins_1", ConversationID: "cnv_" + customer,
					Scopes: scopes, Status: store.LinkActive, CreatedAt: now.Add(-time.Hour), ExpiresAt: expires}
				if l, err = st.CreateLink(ctx, l, consent.GrantReceipt(l, "d")); err != nil {
					t.Fatal(err)
				}
				if state == "revoked" {
					if _, err := svc.Revoke(ctx, store.Revocation{LinkID: l.ID, CustomerID: customer}); err != nil {
						t.Fatal(err)
					}
				}
				before, _ := st.EventsAfter(ctx, l.ConversationID, 0, 10)
				raw := json.RawMessage(fmt.Sprintf(`{"id":"m-%d","link_id":%q,"type":%q,"occurred_at":%q,"data":%s}`, n, l.ID, typ, now.Format(time.RFC3339), body))
				res, err := in.Ingest(ctx, "ins_1", []json.RawMessage{raw})
				if err != nil {
					t.Fatal(err)
				}
				want := "accepted"
				switch {
				case state == "revoked":
					want = "consent_revoked"
				case state == "expired":
					want = "consent_expired"
				case !granted:
					want = "consent_scope"
				}
				got := res[0].Status
				if res[0].Error != nil {
					got = res[0].Error.Code
				}
				if got != want {
					t.Errorf("%s: %s, want %s", name, got, want)
				}
				after, _ := st.EventsAfter(ctx, l.ConversationID, 0, 10)
				if stored := len(after) - len(before); (want == "accepted") != (stored == 1) {
					t.Errorf("%s: %d events stored", name, stored)
				}
			}
		}
	}
	if n != 15 {
		t.Fatalf("matrix has %d cells", n)
	}
}
