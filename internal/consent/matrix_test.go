package consent_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/pkg/bankapi"
)

// TestEnforcementMatrix posts every event type to links in every state,
// with its scope granted or not, and checks ingest's answer, and that a
// refused event left nothing in the store.
func TestEnforcementMatrix(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	data := map[string]string{
		bankapi.TypeBalanceUpdated:    balanceData,
		bankapi.TypeTransactionPosted: transactionData,
		bankapi.TypeMessage:           messageData,
		bankapi.TypeReceipt:           `{"merchant":{"name":"Alder Outfitters"},"order_number":"A-1","items":[{"name":"Jacket","quantity":1,"unit_price":{"amount":"9.00","currency":"USD"},"total":{"amount":"9.00","currency":"USD"}}],"subtotal":{"amount":"9.00","currency":"USD"},"total":{"amount":"9.00","currency":"USD"},"payment":{"brand":"Visa","last4":"4821"}}`,
		bankapi.TypeShipmentUpdated:   `{"shipment_id":"s1","carrier":"Parcelway","tracking_number":"PW1","status":"in_transit","timeline":[]}`,
		bankapi.TypeFraudAlert:        `{"transaction":{"merchant":{"name":"Lumen"},"amount":{"amount":"9.00","currency":"USD"},"at":"2026-03-01T11:00:00Z","card_last4":"4242"},"reason":"Unusual","actions":[{"id":"deny","label":"Not me"}],"expires_at":"2099-01-01T00:00:00Z"}`,
		bankapi.TypeCardStatus:        `{"card_id":"card_1","card_last4":"4242","status":"locked","actions":[{"id":"unlock","label":"Unlock card"}]}`,
		bankapi.TypePaymentRequest:    `{"payment_id":"pay_1","amount":{"amount":"24.00","currency":"USD"},"reference":"Order A-1","expires_at":"` + r.now.Add(time.Hour).Format(time.RFC3339) + `"}`,
		bankapi.TypePaymentStatus:     `{"payment_id":"pay_1","status":"settled"}`,
	}
	if len(data) != len(bankapi.EventTypes) {
		t.Fatalf("the matrix covers %d event types of %d: add the new ones", len(data), len(bankapi.EventTypes))
	}
	n := 0
	for typ, body := range data {
		scope, _ := bankapi.ScopeFor(typ)
		for _, granted := range []bool{true, false} {
			if scope == "" && !granted {
				continue // a message needs no scope: "not granted" does not exist for it
			}
			for _, state := range []string{"active", "expired", "revoked"} {
				n++
				name := fmt.Sprintf("%s/granted=%t/%s", typ, granted, state)
				customer := fmt.Sprintf("cus_%d", n)
				r.customer(customer)
				scopes := []string{"support_chat"} // always something, never the one tested
				if granted && scope != "" {
					scopes = append(scopes, scope)
				}
				expires := r.now.Add(time.Hour)
				if state == "expired" {
					expires = r.now.Add(-time.Second)
				}
				l := r.link(customer, scopes, expires)
				if state == "revoked" {
					_, err := r.svc.Revoke(ctx, store.Revocation{LinkID: l.ID, CustomerID: customer})
					r.must(err)
				}
				before, _ := r.st.EventsAfter(ctx, l.ConversationID, 0, 10)
				got := r.post(l, fmt.Sprintf("m-%d", n), typ, body)
				want := "accepted"
				switch {
				case state == "revoked":
					want = "consent_revoked"
				case state == "expired":
					want = "consent_expired"
				case !granted:
					want = "consent_scope"
				}
				if got != want {
					t.Errorf("%s: %s, want %s", name, got, want)
				}
				after, _ := r.st.EventsAfter(ctx, l.ConversationID, 0, 10)
				if stored := len(after) - len(before); (want == "accepted") != (stored == 1) {
					t.Errorf("%s: %d events stored", name, stored)
				}
			}
		}
	}
	if n != 51 { // 8 scoped types × granted or not × 3 states, and message × 3 states
		t.Fatalf("matrix has %d cells", n)
	}
}
