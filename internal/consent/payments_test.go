package consent_test

import (
	"context"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/pkg/bankapi"
)

// TestNarrowPayments: taking payments away deletes the requests, their
// statuses, the customer's taps on them and their own requests for money,
// keeps the balances, and refuses payment events from then on; the
// disclosure names the scope in words.
func TestNarrowPayments(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.customer("cus_1")
	l := r.link("cus_1", []string{"balances", "payments"}, r.now.Add(time.Hour))
	request := `{"payment_id":"stmt-1","amount":{"amount":"24.00","currency":"USD"},"reference":"Statement","expires_at":"` + r.now.Add(time.Hour).Format(time.RFC3339) + `"}`
	r.post(l, "b1", bankapi.TypeBalanceUpdated, balanceData)
	r.post(l, "p1", bankapi.TypePaymentRequest, request)
	evs, _ := r.st.EventsAfter(ctx, l.ConversationID, 0, 10)
	if _, err := r.in.AuthorizePayment(ctx, "cus_1", l.ConversationID, evs[len(evs)-1].Seq, ""); err != nil {
		t.Fatal(err)
	}
	r.post(l, "s1", bankapi.TypePaymentStatus, `{"payment_id":"stmt-1","status":"accepted"}`)
	if _, err := r.in.AskPayment(ctx, "cus_1", l.ConversationID, ingest.PaymentAsk{Amount: bankapi.Money{Amount: "5.00", Currency: "USD"}, Payer: "a@b.example", Reference: "Lunch"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.svc.Narrow(ctx, "cus_1", l.ID, []string{"balances"}); err != nil {
		t.Fatal(err)
	}
	evs, _ = r.st.EventsAfter(ctx, l.ConversationID, 0, 20)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if len(types) != 2 || types[0] != bankapi.TypeBalanceUpdated || types[1] != store.TypeLinkNarrowed {
		t.Fatalf("after taking payments away: %v", types)
	}
	if got := r.post(l, "p2", bankapi.TypePaymentRequest, request); got != "consent_scope" {
		t.Fatalf("a request after narrowing: %s", got)
	}
	d, err := consent.Disclose("Cedar Bank", []string{"payments"}, 90)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Scopes) != 1 || d.Scopes[0].Words == "" || d.Scopes[0].Covers == "" {
		t.Fatalf("disclosure %+v", d.Scopes)
	}
}
