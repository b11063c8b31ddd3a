package banksim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

var withPayments = []string{"balances", "transactions", "payments"}

// newPaymentBank is a bank with its webhook endpoint registered and the
// demo customer linked with payments, settling after a minute.
func newPaymentBank(t *testing.T, adjust ...func(*Config)) (*testBank, string) {
	t.Helper()
	tb := newTestBank(t, append([]func(*Config){func(c *Config) {
		c.WebhookURL = "https://bank.example/webhooks"
		c.SettleDelay = time.Minute
	}}, adjust...)...)
	linkID := tb.link(t, withPayments, withPayments...)
	tb.registerWebhooks(context.Background())
	return tb, linkID
}

// linkAs links a customer of the bank other than the demo customer.
func (tb *testBank) linkAs(t *testing.T, username string, scopes ...string) string {
	t.Helper()
	p := newPKCE()
	form := authorizeParams(p, scopes...)
	form.Set("username", username)
	form.Set("password", DemoPassword())
	form.Set("decision", "approve")
	form["grant"] = scopes
	resp, err := noRedirects.PostForm(tb.srv.URL+"/authorize", form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc, _ := url.Parse(resp.Header.Get("Location"))
	linkID := newLinkID()
	if status, body, _ := tb.exchange(t, tokenForm(loc.Query().Get("code"), p.verifier, linkID)); status != http.StatusOK {
		t.Fatalf("link %s: %d %v", username, status, body)
	}
	return linkID
}

// due runs the bank's payment clock once and delivers what it posted,
// without the day's other activity.
func (tb *testBank) due(t *testing.T) {
	t.Helper()
	tb.mu.Lock()
	tb.paymentsDue(tb.now())
	err := tb.saveLocked()
	tb.mu.Unlock()
	if err == nil {
		err = tb.flush(context.Background())
	}
	if err != nil {
		t.Fatal(err)
	}
}

// statusesOn are the payment statuses the bank posted on one link.
func statusesOn(t *testing.T, p *fakePlatform, linkID string) []bankapi.PaymentStatus {
	t.Helper()
	var out []bankapi.PaymentStatus
	for _, e := range eventsOf(p, bankapi.TypePaymentStatus) {
		if e.LinkID != linkID {
			continue
		}
		var s bankapi.PaymentStatus
		if err := json.Unmarshal(e.Data, &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

func requestsOn(t *testing.T, p *fakePlatform, linkID string) []bankapi.PaymentRequest {
	t.Helper()
	var out []bankapi.PaymentRequest
	for _, e := range eventsOf(p, bankapi.TypePaymentRequest) {
		if e.LinkID != linkID {
			continue
		}
		var r bankapi.PaymentRequest
		if err := json.Unmarshal(e.Data, &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func wantStatuses(t *testing.T, what string, got []bankapi.PaymentStatus, want ...string) {
	t.Helper()
	var words []string
	for _, s := range got {
		words = append(words, s.Status)
	}
	if strings.Join(words, " ") != strings.Join(want, " ") {
		t.Fatalf("%s: statuses %v, want %v (%+v)", what, words, want, got)
	}
}

// TestStatementPaidThenSettled: the bank asks the customer to pay their
// card; "Pay with Cedar Bank" comes back as payment.authorize, delivered
// twice; the bank accepts it once, holding the money, and after
// SettleDelay settles it: checking pays the card, and the customer is
// told each step by a payment.status naming the request's payment id.
func TestStatementPaidThenSettled(t *testing.T) {
	tb, linkID := newPaymentBank(t)
	resp, err := http.Post(tb.srv.URL+"/sim/payment-request", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Requested int }
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || out.Requested != 1 {
		t.Fatalf("POST /sim/payment-request: %d %+v", resp.StatusCode, out)
	}
	reqs := requestsOn(t, tb.platform, linkID)
	if len(reqs) != 1 {
		t.Fatalf("%d requests", len(reqs))
	}
	req := reqs[0]
	c := tb.st.Customers[0]
	card, checking := c.account(bankapi.AccountCreditCard), c.account(bankapi.AccountChecking)
	owed, had := card.CurrentCents, checking.CurrentCents
	if req.Amount != money(owed, "USD") || !strings.Contains(req.Reference, card.Mask) || !req.ExpiresAt.After(tb.clock.Now()) || req.Payee != nil {
		t.Fatalf("request = %+v (the card owes %d)", req, owed)
	}
	requestID := eventsOf(tb.platform, bankapi.TypePaymentRequest)[0].ID

	pay := bankapi.PaymentAuthorize{LinkID: linkID, PaymentID: req.PaymentID, RequestID: requestID, Amount: req.Amount,
		Payee: bankapi.PaymentPayee{Name: "Cedar Bank", InstitutionID: "ins_cedar"}, Reference: req.Reference, ExpiresAt: req.ExpiresAt, AuthorizedAt: time.Now(), AuthorizedBy: "customer"}
	for _, id := range []string{"ntc_pay", "ntc_pay", "ntc_pay_again"} { // redelivered, then (wrongly) a second notice
		if code := tb.sendWebhook(t, id, bankapi.WebhookPaymentAuthorize, pay); code != http.StatusNoContent {
			t.Fatalf("payment.authorize: %d", code)
		}
	}
	tb.flush(context.Background())
	wantStatuses(t, "accepted", statusesOn(t, tb.platform, linkID), "accepted")
	if got := statusesOn(t, tb.platform, linkID)[0]; got.PaymentID != req.PaymentID || !strings.Contains(got.Note, "Everyday Checking") {
		t.Fatalf("accepted = %+v", got)
	}
	if checking.HoldCents != owed || checking.CurrentCents != had {
		t.Fatalf("accepted: checking holds %d of %d, current %d", checking.HoldCents, owed, checking.CurrentCents)
	}
	tb.due(t)
	wantStatuses(t, "before the delay", statusesOn(t, tb.platform, linkID), "accepted")

	tb.clock.Advance(time.Minute)
	tb.due(t)
	tb.due(t)
	wantStatuses(t, "settled", statusesOn(t, tb.platform, linkID), "accepted", "settled")
	if checking.CurrentCents != had-owed || checking.HoldCents != 0 || card.CurrentCents != 0 {
		t.Fatalf("settled: checking %d (hold %d), card owes %d", checking.CurrentCents, checking.HoldCents, card.CurrentCents)
	}
	if st, _ := tb.PaymentStatus(linkID, req.PaymentID); st != bankapi.PaymentSettled {
		t.Fatalf("the bank says %q", st)
	}
	// A notice delivered again after it settled changes nothing.
	tb.sendWebhook(t, "ntc_pay_late", bankapi.WebhookPaymentAuthorize, pay)
	tb.flush(context.Background())
	wantStatuses(t, "after a late notice", statusesOn(t, tb.platform, linkID), "accepted", "settled")
}

// TestPaymentSettlesAcrossARestart: a payment accepted before the bank
// stopped settles after it starts again, once.
func TestPaymentSettlesAcrossARestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bank.json")
	tb, linkID := newPaymentBank(t, func(c *Config) { c.StatePath = path })
	if n, err := tb.RequestPayments(context.Background()); err != nil || n != 1 {
		t.Fatalf("requested %d: %v", n, err)
	}
	req := requestsOn(t, tb.platform, linkID)[0]
	tb.sendWebhook(t, "ntc_pay", bankapi.WebhookPaymentAuthorize, bankapi.PaymentAuthorize{LinkID: linkID, PaymentID: req.PaymentID,
		RequestID: "x", Amount: req.Amount, Reference: req.Reference, ExpiresAt: req.ExpiresAt, AuthorizedBy: "customer"})
	tb.flush(context.Background())
	wantStatuses(t, "before the restart", statusesOn(t, tb.platform, linkID), "accepted")

	restarted, err := New(tb.cfg)
	if err != nil {
		t.Fatal(err)
	}
	tb2 := &testBank{Bank: restarted, clock: tb.clock, platform: tb.platform, srv: tb.srv}
	if st, ok := tb2.PaymentStatus(linkID, req.PaymentID); !ok || st != bankapi.PaymentAccepted {
		t.Fatalf("after the restart the bank says %q, %v", st, ok)
	}
	tb2.clock.Advance(time.Minute)
	tb2.due(t)
	tb2.due(t)
	wantStatuses(t, "after the restart", statusesOn(t, tb.platform, linkID), "accepted", "settled")
	if c := restarted.st.Customers[0]; c.account(bankapi.AccountChecking).HoldCents != 0 {
		t.Fatalf("a hold is left: %+v", c.account(bankapi.AccountChecking))
	}
}

// TestMerchantPaymentAndRefusals: a merchant's request handed to the bank
// (a platform payment id, no request id of the bank's) is paid; one it
// cannot cover is rejected with AM04; a request nobody paid expires.
func TestMerchantPaymentAndRefusals(t *testing.T) {
	tb, linkID := newPaymentBank(t)
	order := func(id, amount string) bankapi.PaymentAuthorize {
		return bankapi.PaymentAuthorize{LinkID: linkID, PaymentID: id, Amount: bankapi.Money{Amount: amount, Currency: "USD"},
			Payee: bankapi.PaymentPayee{Name: "Alder Outfitters", InstitutionID: "ins_shop"}, Reference: "Order A-1042",
			ExpiresAt: tb.clock.Now().Add(time.Hour), AuthorizedBy: "customer"}
	}
	tb.sendWebhook(t, "ntc_1", bankapi.WebhookPaymentAuthorize, order("pay_shop1", "89.00"))
	tb.sendWebhook(t, "ntc_2", bankapi.WebhookPaymentAuthorize, order("pay_shop2", "990000.00"))
	tb.flush(context.Background())
	got := statusesOn(t, tb.platform, linkID)
	wantStatuses(t, "two payments", got, "accepted", "rejected")
	if got[0].PaymentID != "pay_shop1" || !strings.Contains(got[0].Note, "Alder Outfitters") || got[1].PaymentID != "pay_shop2" || got[1].ReasonCode != "AM04" {
		t.Fatalf("statuses = %+v", got)
	}
	tb.clock.Advance(time.Minute)
	tb.due(t)
	wantStatuses(t, "settled", statusesOn(t, tb.platform, linkID), "accepted", "rejected", "settled")
	var paid bool
	for _, e := range eventsOf(tb.platform, bankapi.TypeTransactionPosted) {
		var txn bankapi.TransactionPosted
		json.Unmarshal(e.Data, &txn)
		paid = paid || (txn.Description == "Payment to Alder Outfitters — Order A-1042" && txn.Amount.Amount == "89.00" && txn.Direction == bankapi.Debit)
	}
	if !paid {
		t.Fatal("no debit for the merchant's payment")
	}

	// A request nobody pays lapses, and the bank says so.
	tb.RequestPayments(context.Background())
	req := requestsOn(t, tb.platform, linkID)[0]
	tb.clock.Advance(requestLifetime)
	tb.due(t)
	last := statusesOn(t, tb.platform, linkID)
	if s := last[len(last)-1]; s.PaymentID != req.PaymentID || s.Status != bankapi.PaymentExpired {
		t.Fatalf("after the request lapsed: %+v", s)
	}
}

// TestAskPassedToAFriend: the demo customer asks Jordan, who also banks
// here, by the email address Jordan uses here; the bank finds Jordan and
// asks on Jordan's own link, naming who asks; Jordan pays; both are told
// each step on their own links, and the money moves between them. Asking
// someone the bank does not know, or oneself, gets the same refusal.
func TestAskPassedToAFriend(t *testing.T) {
	tb, alex := newPaymentBank(t)
	jordan := tb.linkAs(t, FriendUsername(), withPayments...)
	ask := func(id, payer string) bankapi.PaymentAsk {
		return bankapi.PaymentAsk{LinkID: alex, PaymentID: id, Amount: bankapi.Money{Amount: "12.50", Currency: "USD"}, Payer: payer,
			Reference: "Dinner at Saffron House", AskedBy: "customer"}
	}
	for _, id := range []string{"ntc_ask", "ntc_ask"} {
		tb.sendWebhook(t, id, bankapi.WebhookPaymentAsk, ask("pay_ask1", " Jordan@Cedar.example "))
	}
	tb.flush(context.Background())
	reqs := requestsOn(t, tb.platform, jordan)
	if len(reqs) != 1 || len(requestsOn(t, tb.platform, alex)) != 0 {
		t.Fatalf("requests on Jordan's link %+v", reqs)
	}
	req := reqs[0]
	if req.Payee == nil || req.Payee.Name != "Alex" || req.Amount.Amount != "12.50" || req.Reference != "Dinner at Saffron House" {
		t.Fatalf("Jordan is asked %+v", req)
	}
	tb.sendWebhook(t, "ntc_jpay", bankapi.WebhookPaymentAuthorize, bankapi.PaymentAuthorize{LinkID: jordan, PaymentID: req.PaymentID, RequestID: "r",
		Amount: req.Amount, Payee: bankapi.PaymentPayee{Name: "Alex"}, Reference: req.Reference, ExpiresAt: req.ExpiresAt, AuthorizedBy: "customer"})
	tb.flush(context.Background())
	wantStatuses(t, "Jordan, accepted", statusesOn(t, tb.platform, jordan), "accepted")
	wantStatuses(t, "Alex, accepted", statusesOn(t, tb.platform, alex), "accepted")
	friend, me := tb.customerByID("cus_000102"), tb.st.Customers[0]
	friendHad, meHad := friend.account(bankapi.AccountChecking).CurrentCents, me.account(bankapi.AccountChecking).CurrentCents
	tb.clock.Advance(time.Minute)
	tb.due(t)
	wantStatuses(t, "Jordan, settled", statusesOn(t, tb.platform, jordan), "accepted", "settled")
	got := statusesOn(t, tb.platform, alex)
	wantStatuses(t, "Alex, settled", got, "accepted", "settled")
	if got[1].PaymentID != "pay_ask1" || !strings.Contains(got[1].Note, "Jordan paid you") {
		t.Fatalf("Alex is told %+v", got[1])
	}
	if friend.account(bankapi.AccountChecking).CurrentCents != friendHad-1250 || me.account(bankapi.AccountChecking).CurrentCents != meHad+1250 {
		t.Fatal("the money did not move between them")
	}

	for id, payer := range map[string]string{"pay_ask2": "nobody@cedar.example", "pay_ask3": DemoHandle()} {
		tb.sendWebhook(t, "ntc_"+id, bankapi.WebhookPaymentAsk, ask(id, payer))
		tb.flush(context.Background())
		got := statusesOn(t, tb.platform, alex)
		if s := got[len(got)-1]; s.PaymentID != id || s.Status != bankapi.PaymentRejected || !strings.Contains(s.Note, "couldn’t pass this on") {
			t.Fatalf("asking %s: %+v", payer, s)
		}
	}
	if n := len(requestsOn(t, tb.platform, jordan)); n != 1 {
		t.Fatalf("Jordan was asked %d times", n)
	}
}

// TestAskLapses: Jordan does not pay in time; both hear it lapsed.
func TestAskLapses(t *testing.T) {
	tb, alex := newPaymentBank(t)
	jordan := tb.linkAs(t, FriendUsername(), withPayments...)
	tb.sendWebhook(t, "ntc_ask", bankapi.WebhookPaymentAsk, bankapi.PaymentAsk{LinkID: alex, PaymentID: "pay_ask", Amount: bankapi.Money{Amount: "5.00", Currency: "USD"},
		Payer: "+1 (503) 555-0102", Reference: "Coffee"})
	tb.flush(context.Background())
	if n := len(requestsOn(t, tb.platform, jordan)); n != 1 {
		t.Fatalf("Jordan, found by mobile number, was asked %d times", n)
	}
	tb.clock.Advance(requestLifetime)
	tb.due(t)
	wantStatuses(t, "Jordan", statusesOn(t, tb.platform, jordan), "expired")
	wantStatuses(t, "Alex", statusesOn(t, tb.platform, alex), "expired")
}

// TestFriendJoinsAnOlderState: a state saved before payments gains the
// second customer and the demo customer's handles when the bank starts.
func TestFriendJoinsAnOlderState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bank.json")
	tb := newTestBank(t, func(c *Config) { c.StatePath = path })
	tb.mu.Lock()
	tb.st.Customers = tb.st.Customers[:1]
	tb.st.Customers[0].Handles = nil
	if err := tb.saveLocked(); err != nil {
		t.Fatal(err)
	}
	tb.mu.Unlock()
	restarted, err := New(tb.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(restarted.st.Customers) != 2 || restarted.customerByHandle(FriendHandle()) == nil || restarted.customerByHandle(DemoHandle()) != restarted.st.Customers[0] {
		t.Fatalf("customers after the repair: %+v", restarted.st.Customers)
	}
}
