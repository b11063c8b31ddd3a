package messenger_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/messenger"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// TestPaymentNoticesReachTheBot: Messenger has no event for a customer's
// payments, so a bot on the Messenger format gets each as the generic
// postback OPENTELLER_NOTICE:<type>, with the Bank API's notice whole
// beside it: "Pay with" and a request for money are never held back or
// dropped.
func TestPaymentNoticesReachTheBot(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	for typ, data := range map[string]any{
		bankapi.WebhookPaymentAuthorize: bankapi.PaymentAuthorize{LinkID: "lnk_a", PaymentID: "stmt-1", RequestID: "evt-9",
			Amount: bankapi.Money{Amount: "412.18", Currency: "USD"}, Payee: bankapi.PaymentPayee{Name: "Cedar Bank", InstitutionID: "ins_a"},
			Reference: "Rewards Visa statement", ExpiresAt: at.Add(time.Hour), AuthorizedAt: at, AuthorizedBy: "customer"},
		bankapi.WebhookPaymentAsk: bankapi.PaymentAsk{LinkID: "lnk_a", PaymentID: "pay_1", Amount: bankapi.Money{Amount: "12.50", Currency: "USD"},
			Payer: "jordan@cedar.example", Reference: "Dinner", AskedAt: at, AskedBy: "customer"},
	} {
		raw, _ := json.Marshal(data)
		body, _, send, err := messenger.Format(store.Notice{ID: "ntc_1", Type: typ, InstitutionID: "ins_a", LinkID: "lnk_a", CreatedAt: at}, raw, []*vault.MACKey{vault.MACKeyOf([]byte("whsec_x"))}, at)
		if err != nil || !send {
			t.Fatalf("%s: send %v, %v", typ, send, err)
		}
		var d messenger.Delivery
		if err := json.Unmarshal(body, &d); err != nil || len(d.Entry) != 1 || len(d.Entry[0].Messaging) != 1 {
			t.Fatalf("%s: %s", typ, body)
		}
		ev := d.Entry[0].Messaging[0]
		if ev.Sender.ID != "lnk_a" || ev.Postback == nil || ev.Postback.Payload != messenger.PayloadNoticePrefix+typ || ev.OpenTeller == nil || ev.OpenTeller.Type != typ {
			t.Fatalf("%s: event %+v", typ, ev)
		}
		var back map[string]any
		json.Unmarshal(ev.OpenTeller.Data, &back)
		if back["payment_id"] == nil || back["amount"] == nil {
			t.Fatalf("%s: the notice beside the postback lost its data: %s", typ, ev.OpenTeller.Data)
		}
	}
}
