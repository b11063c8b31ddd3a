package ingest_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

func paymentRequest(id string, expires time.Time) bankapi.PaymentRequest {
	return bankapi.PaymentRequest{PaymentID: id, Amount: bankapi.Money{Amount: "412.18", Currency: "USD"}, Reference: "Rewards Visa statement", ExpiresAt: expires}
}

// institution adds an institution of a kind and links cus_1 to it.
func (r *rig) institution(id, name, kind, conv string, scopes ...string) store.Link {
	r.t.Helper()
	ctx := context.Background()
	r.must(r.st.CreateInstitution(ctx, store.Institution{ID: id, Name: name, Kind: kind, AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: r.now}))
	l := store.Link{ID: ingest.NewID("lnk_"), CustomerID: "cus_1", InstitutionID: id, ConversationID: conv,
		Scopes: scopes, Status: store.LinkActive, CreatedAt: r.now, ExpiresAt: r.now.Add(24 * time.Hour)}
	l, err := r.st.CreateLink(ctx, l, consent.GrantReceipt(l, "digest"))
	r.must(err)
	return l
}

// postOn posts one event as an institution on one of its links.
func (r *rig) postOn(l store.Link, id, typ string, data any) int64 {
	r.t.Helper()
	body, _ := json.Marshal(data)
	raw, _ := json.Marshal(ingest.Envelope{ID: id, LinkID: l.ID, Type: typ, OccurredAt: r.now.Format(time.RFC3339), Data: body})
	res, err := r.in.Ingest(context.Background(), l.InstitutionID, []json.RawMessage{raw})
	r.must(err)
	if res[0].Status != bankapi.ResultAccepted {
		r.t.Fatalf("post %s: %+v", id, res[0].Error)
	}
	return res[0].Seq
}

// noticesOf opens an institution's queued notices of one type.
func (r *rig) noticesOf(institutionID, typ string) []json.RawMessage {
	r.t.Helper()
	ns, err := r.st.Notices(context.Background(), institutionID)
	r.must(err)
	var out []json.RawMessage
	for _, x := range ns {
		if x.Type != typ {
			continue
		}
		if x.Payload != nil || x.CustomerID != "cus_1" {
			r.t.Fatalf("%s notice not sealed for its customer: %+v", typ, x)
		}
		plain, err := r.kr.Open(context.Background(), vault.ConversationKey(x.CustomerID, x.InstitutionID), x.ID, x.Sealed)
		r.must(err)
		out = append(out, plain)
	}
	return out
}

func (r *rig) lastSeq(conv string) int64 {
	r.t.Helper()
	c, err := r.st.Conversation(context.Background(), conv)
	r.must(err)
	return c.LastSeq
}

// TestAuthorizePaymentOnce: the bank asks its customer to pay it; "Pay
// with Cedar Bank" hands the request to the bank by reference, once. A
// second tap, a tap after the request expired or after the bank closed
// it, another bank, something that is not a payment request, or another
// customer's tap, are refused with a typed error and store nothing.
func TestAuthorizePaymentOnce(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "payments")
	seq := r.post("pay-req-1", bankapi.TypePaymentRequest, paymentRequest("stmt-1", r.now.Add(time.Hour)))
	expiring := r.post("pay-req-2", bankapi.TypePaymentRequest, paymentRequest("stmt-2", r.now.Add(time.Minute)))
	closed := r.post("pay-req-3", bankapi.TypePaymentRequest, paymentRequest("stmt-3", r.now.Add(time.Hour)))
	r.post("pay-status-3", bankapi.TypePaymentStatus, bankapi.PaymentStatus{PaymentID: "stmt-3", Status: bankapi.PaymentExpired})

	paid, err := r.in.AuthorizePayment(ctx, "cus_1", "cnv_1", seq, "")
	r.must(err)
	if paid.Seq <= seq || paid.PayerConversationID != "cnv_1" {
		t.Fatalf("authorized = %+v", paid)
	}
	var told []bankapi.PaymentAuthorize
	for _, raw := range r.noticesOf("ins_1", bankapi.WebhookPaymentAuthorize) {
		var n bankapi.PaymentAuthorize
		r.must(json.Unmarshal(raw, &n))
		told = append(told, n)
	}
	if len(told) != 1 {
		t.Fatalf("%d payment.authorize notices, want 1", len(told))
	}
	n := told[0]
	if n.LinkID != r.link.ID || n.PaymentID != "stmt-1" || n.RequestID != "pay-req-1" || n.Amount.Amount != "412.18" || n.Reference != "Rewards Visa statement" ||
		n.Payee.InstitutionID != "ins_1" || n.Payee.Name != "Cedar Bank" || n.AuthorizedBy != "customer" || !n.AuthorizedAt.Equal(r.now) {
		t.Fatalf("notice = %+v", n)
	}

	before := r.lastSeq("cnv_1")
	for name, c := range map[string]struct {
		customer, conv string
		seq            int64
		payer, want    string
		advance        time.Duration
	}{
		"a second tap":            {"cus_1", "cnv_1", seq, "", "already_authorized", 0},
		"a second tap, named":     {"cus_1", "cnv_1", seq, "ins_1", "already_authorized", 0},
		"another bank":            {"cus_1", "cnv_1", expiring, "ins_other", "invalid_payer", 0},
		"closed by the bank":      {"cus_1", "cnv_1", closed, "", "payment_closed", 0},
		"not a payment request":   {"cus_1", "cnv_1", paid.Seq, "", "not_found", 0},
		"another customer's":      {"cus_2", "cnv_1", expiring, "", "not_found", 0},
		"no such seq":             {"cus_1", "cnv_1", 999, "", "not_found", 0},
		"after the request lapse": {"cus_1", "cnv_1", expiring, "", "payment_expired", 2 * time.Minute},
	} {
		r.now = r.now.Add(c.advance)
		_, err := r.in.AuthorizePayment(ctx, c.customer, c.conv, c.seq, c.payer)
		if got := code(err); got != c.want {
			t.Errorf("%s: %v, want %s", name, err, c.want)
		}
		r.now = r.now.Add(-c.advance)
	}
	if after := r.lastSeq("cnv_1"); after != before {
		t.Fatalf("refused taps stored events: seq %d → %d", before, after)
	}
	if n := len(r.noticesOf("ins_1", bankapi.WebhookPaymentAuthorize)); n != 1 {
		t.Fatalf("refused taps queued notices: %d", n)
	}
}

// TestMerchantRequestPaidByChosenBank: a merchant asks to be paid; the
// customer chooses which of their banks pays, among those that are banks
// and let them pay here. The merchant's conversation gets the answer and
// the merchant hears nothing; the chosen bank gets the payment and its
// notice, under an id of the platform's, not the merchant's reference.
func TestMerchantRequestPaidByChosenBank(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "payments", "balances") // Cedar Bank pays
	shop := r.institution("ins_shop", "Alder Outfitters", store.InstitutionMerchant, "cnv_shop", "payments", "receipts")
	r.institution("ins_birch", "Birch Bank", store.InstitutionBank, "cnv_birch", "balances") // a bank that may not pay here
	req := paymentRequest("order-A-1042", r.now.Add(time.Hour))
	req.Reference = "Order A-1042"
	req.Order = &bankapi.PaymentOrder{OrderNumber: "A-1042", Items: []bankapi.ReceiptItem{
		{Name: "Rain jacket", Quantity: 1, UnitPrice: bankapi.Money{Amount: "89.00", Currency: "USD"}, Total: bankapi.Money{Amount: "89.00", Currency: "USD"}}}}
	req.Amount = bankapi.Money{Amount: "89.00", Currency: "USD"}
	seq := r.postOn(shop, "shop-req-1", bankapi.TypePaymentRequest, req)

	payers, err := r.in.Payers(ctx, "cus_1")
	r.must(err)
	if len(payers) != 1 || payers[0].InstitutionID != "ins_1" || payers[0].ConversationID != "cnv_1" || payers[0].Name != "Cedar Bank" {
		t.Fatalf("payers = %+v, want Cedar Bank alone", payers)
	}
	for _, payer := range []string{"", "ins_shop", "ins_birch", "ins_nope"} {
		if _, err := r.in.AuthorizePayment(ctx, "cus_1", "cnv_shop", seq, payer); code(err) != "invalid_payer" {
			t.Errorf("paying with %q: %v, want invalid_payer", payer, err)
		}
	}
	shopBefore, bankBefore := r.lastSeq("cnv_shop"), r.lastSeq("cnv_1")
	paid, err := r.in.AuthorizePayment(ctx, "cus_1", "cnv_shop", seq, "ins_1")
	r.must(err)
	if paid.PayerConversationID != "cnv_1" || paid.Seq != shopBefore+1 || r.lastSeq("cnv_1") != bankBefore+1 {
		t.Fatalf("authorized = %+v; conversations at %d and %d", paid, r.lastSeq("cnv_shop"), r.lastSeq("cnv_1"))
	}
	if n := len(r.noticesOf("ins_shop", bankapi.WebhookPaymentAuthorize)); n != 0 {
		t.Fatalf("the merchant was told which bank pays (%d notices)", n)
	}
	// The answer in the merchant's conversation (which its agents may read)
	// does not name the customer's conversation with the bank: merchants
	// comparing notes could match the customer by it.
	shopEvs, err := r.st.EventsAfter(ctx, "cnv_shop", shopBefore, 10)
	r.must(err)
	if len(shopEvs) != 1 {
		t.Fatalf("%d events in the merchant's conversation", len(shopEvs))
	}
	answer, err := r.kr.Open(ctx, vault.ConversationKey(shopEvs[0].CustomerID, shopEvs[0].InstitutionID), shopEvs[0].ID, shopEvs[0].Sealed)
	r.must(err)
	if strings.Contains(string(answer), "cnv_1") {
		t.Fatalf("the merchant's conversation names the bank's: %s", answer)
	}
	notices := r.noticesOf("ins_1", bankapi.WebhookPaymentAuthorize)
	if len(notices) != 1 {
		t.Fatalf("Cedar Bank got %d payment.authorize notices", len(notices))
	}
	var n bankapi.PaymentAuthorize
	r.must(json.Unmarshal(notices[0], &n))
	if n.LinkID != r.link.ID || !strings.HasPrefix(n.PaymentID, "pay_") || n.RequestID != "" || n.Amount.Amount != "89.00" ||
		n.Payee.InstitutionID != "ins_shop" || n.Payee.Name != "Alder Outfitters" || n.Reference != "Order A-1042" {
		t.Fatalf("notice = %+v", n)
	}
	if strings.Contains(string(notices[0]), "order-A-1042") || strings.Contains(string(notices[0]), "Rain jacket") {
		t.Fatalf("the bank was told more than it needs: %s", notices[0])
	}
	// The bank's card of the payment carries the id its statuses name.
	evs, err := r.st.LatestEvents(ctx, "cnv_1", ingest.PaymentAuthorizeType, 1)
	r.must(err)
	plain, err := r.kr.Open(ctx, vault.ConversationKey("cus_1", "ins_1"), evs[0].ID, evs[0].Sealed)
	r.must(err)
	var card struct {
		PaymentID   string                `json:"payment_id"`
		RequestedBy struct{ Name string } `json:"requested_by"`
		Amount      bankapi.Money
	}
	r.must(json.Unmarshal(plain, &card))
	if card.PaymentID != n.PaymentID || card.RequestedBy.Name != "Alder Outfitters" || card.Amount.Amount != "89.00" {
		t.Fatalf("the bank's card = %s", plain)
	}

	// Once: not again, with this bank or another.
	shopBefore, bankBefore = r.lastSeq("cnv_shop"), r.lastSeq("cnv_1")
	if _, err := r.in.AuthorizePayment(ctx, "cus_1", "cnv_shop", seq, "ins_1"); code(err) != "already_authorized" {
		t.Fatalf("a second tap: %v", err)
	}
	if r.lastSeq("cnv_shop") != shopBefore || r.lastSeq("cnv_1") != bankBefore || len(r.noticesOf("ins_1", bankapi.WebhookPaymentAuthorize)) != 1 {
		t.Fatal("a second tap stored something")
	}
}

// TestAskPayment: a customer asks, through their bank, someone to pay
// them; the bank hears whom, as typed, and for what. Bad input, a card
// number anywhere, a link without payments, or a merchant to ask through
// are refused with a typed error and store nothing.
func TestAskPayment(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "payments")
	r.institution("ins_shop", "Alder Outfitters", store.InstitutionMerchant, "cnv_shop", "payments")
	r.institution("ins_birch", "Birch Bank", store.InstitutionBank, "cnv_birch", "balances")
	good := ingest.PaymentAsk{Amount: bankapi.Money{Amount: "12.50", Currency: "usd"}, Payer: " jordan@cedar.example ", Reference: "Dinner at Saffron House"}
	asked, err := r.in.AskPayment(ctx, "cus_1", "cnv_1", good)
	r.must(err)
	notices := r.noticesOf("ins_1", bankapi.WebhookPaymentAsk)
	if len(notices) != 1 {
		t.Fatalf("%d payment.ask notices", len(notices))
	}
	var n bankapi.PaymentAsk
	r.must(json.Unmarshal(notices[0], &n))
	if n.LinkID != r.link.ID || n.PaymentID != asked.PaymentID || !strings.HasPrefix(n.PaymentID, "pay_") || n.Payer != "jordan@cedar.example" ||
		n.Amount != (bankapi.Money{Amount: "12.50", Currency: "USD"}) || n.Reference != "Dinner at Saffron House" || n.AskedBy != "customer" {
		t.Fatalf("notice = %+v", n)
	}
	with := func(f func(*ingest.PaymentAsk)) ingest.PaymentAsk {
		a := good
		f(&a)
		return a
	}
	before := map[string]int64{"cnv_1": r.lastSeq("cnv_1"), "cnv_shop": r.lastSeq("cnv_shop"), "cnv_birch": r.lastSeq("cnv_birch")}
	for name, c := range map[string]struct {
		conv string
		ask  ingest.PaymentAsk
		want string
	}{
		"nothing":             {"cnv_1", with(func(a *ingest.PaymentAsk) { a.Amount.Amount = "0.00" }), "invalid_amount"},
		"not a number":        {"cnv_1", with(func(a *ingest.PaymentAsk) { a.Amount.Amount = "twelve" }), "invalid_amount"},
		"three decimals":      {"cnv_1", with(func(a *ingest.PaymentAsk) { a.Amount.Amount = "12.505" }), "invalid_amount"},
		"no currency":         {"cnv_1", with(func(a *ingest.PaymentAsk) { a.Amount.Currency = "" }), "invalid_amount"},
		"nobody":              {"cnv_1", with(func(a *ingest.PaymentAsk) { a.Payer = "jordan" }), "invalid_payer"},
		"a short number":      {"cnv_1", with(func(a *ingest.PaymentAsk) { a.Payer = "555 01" }), "invalid_payer"},
		"for nothing":         {"cnv_1", with(func(a *ingest.PaymentAsk) { a.Reference = "  " }), "invalid_reference"},
		"a long reason":       {"cnv_1", with(func(a *ingest.PaymentAsk) { a.Reference = strings.Repeat("a", 141) }), "invalid_reference"},
		"a card as the payer": {"cnv_1", with(func(a *ingest.PaymentAsk) { a.Payer = "4242 4242 4242 4242" }), "pan_detected"},
		"a card in the words": {"cnv_1", with(func(a *ingest.PaymentAsk) { a.Reference = "pay with 5555555555554444" }), "pan_detected"},
		"through a merchant":  {"cnv_shop", good, "not_a_bank"},
		"without payments":    {"cnv_birch", good, "scope_not_granted"},
		"another's":           {"cnv_nope", good, "not_found"},
	} {
		if _, err := r.in.AskPayment(ctx, "cus_1", c.conv, c.ask); code(err) != c.want {
			t.Errorf("%s: %v, want %s", name, err, c.want)
		}
	}
	for conv, seq := range before {
		if got := r.lastSeq(conv); got != seq {
			t.Errorf("refused asks stored events in %s: seq %d → %d", conv, seq, got)
		}
	}
	if n := len(r.noticesOf("ins_1", bankapi.WebhookPaymentAsk)); n != 1 {
		t.Fatalf("refused asks queued notices: %d", n)
	}
	// A mobile number is a way to name someone too.
	if _, err := r.in.AskPayment(ctx, "cus_1", "cnv_1", with(func(a *ingest.PaymentAsk) { a.Payer = "+1 (503) 555-0102" })); err != nil {
		t.Fatalf("a mobile number: %v", err)
	}
}

// TestPaymentsNeedTheScope: without payments, a bank can post neither a
// payment request nor a status, and the customer cannot pay or ask.
func TestPaymentsNeedTheScope(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "balances")
	for _, ev := range []struct {
		typ  string
		data any
	}{
		{bankapi.TypePaymentRequest, paymentRequest("p-1", r.now.Add(time.Hour))},
		{bankapi.TypePaymentStatus, bankapi.PaymentStatus{PaymentID: "p-1", Status: bankapi.PaymentSettled}},
	} {
		body, _ := json.Marshal(ev.data)
		raw, _ := json.Marshal(ingest.Envelope{ID: "e-" + ev.typ, LinkID: r.link.ID, Type: ev.typ, OccurredAt: r.now.Format(time.RFC3339), Data: body})
		res, err := r.in.Ingest(ctx, "ins_1", []json.RawMessage{raw})
		r.must(err)
		if res[0].Error == nil || res[0].Error.Code != "consent_scope" {
			t.Errorf("%s without payments: %+v", ev.typ, res[0])
		}
	}
	if _, err := r.in.AskPayment(ctx, "cus_1", "cnv_1", ingest.PaymentAsk{Amount: bankapi.Money{Amount: "5.00", Currency: "USD"}, Payer: "a@b.example", Reference: "Lunch"}); code(err) != "scope_not_granted" {
		t.Fatalf("asking without payments: %v", err)
	}
}
