package consent_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/access"
	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// TestExpiryEndsLinkAndRenewalRestoresIt runs the sweep on a moving clock:
// the customer is reminded once, 14 days out; a link past its expiry is
// ended, its events deleted, the customer's devices woken and the bank
// told; ingest refuses it; renewal makes it active again, with a receipt.
func TestExpiryEndsLinkAndRenewalRestoresIt(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.customer("cus_1")
	l := r.link("cus_1", []string{"balances"}, r.now.Add(30*24*time.Hour))
	if got := r.post(l, "before", "message", messageData); got != "accepted" {
		t.Fatalf("before expiry: %s", got)
	}
	woken := make(chan bus.Wake, 4)
	sub, err := r.bus.SubscribeCustomer("cus_1", func(w bus.Wake) { woken <- w })
	r.must(err)
	defer sub.Unsubscribe()
	r.must(r.bus.Flush())

	if n, err := r.svc.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("sweep before expiry: %d %v", n, err)
	}
	if n, err := r.svc.RemindDue(ctx); err != nil || n != 0 {
		t.Fatalf("reminders 30 days out: %d %v", n, err)
	}
	r.now = r.now.Add(20 * 24 * time.Hour) // 10 days left
	if n, err := r.svc.RemindDue(ctx); err != nil || n != 1 {
		t.Fatalf("reminders 10 days out: %d %v", n, err)
	}
	if n, _ := r.svc.RemindDue(ctx); n != 0 {
		t.Fatalf("reminded twice in one term: %d", n)
	}
	if w := <-woken; w.Seq != 2 {
		t.Fatalf("reminder wake %+v", w)
	}
	r.now = r.now.Add(11 * 24 * time.Hour) // past expiry
	if got := r.post(l, "late", "message", messageData); got != "consent_expired" {
		t.Fatalf("after expiry, before the sweep: %s", got)
	}
	if n, err := r.svc.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after expiry: %d %v", n, err)
	}
	if n, _ := r.svc.ExpireDue(ctx); n != 0 {
		t.Fatalf("second sweep ended %d more", n)
	}
	select {
	case w := <-woken:
		if w.ConversationID != l.ConversationID {
			t.Fatalf("woken for %+v", w)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the customer's devices were not woken")
	}
	evs, _ := r.st.EventsAfter(ctx, l.ConversationID, 0, 10)
	if len(evs) != 1 || evs[0].Type != store.TypeLinkExpired {
		t.Fatalf("after expiry the conversation holds %+v", evs)
	}
	data, err := r.kr.Open(ctx, vault.ConversationKey("cus_1", "ins_1"), evs[0].ID, evs[0].Sealed)
	r.must(err)
	var notice consent.EndedNotice
	json.Unmarshal(data, &notice)
	if notice.EndedBy != "expiry" {
		t.Fatalf("notice %s", data)
	}
	ns, _ := r.st.Notices(ctx, "ins_1")
	if len(ns) != 2 || ns[0].Type != store.NoticeLinkCreated || ns[1].Type != store.NoticeLinkExpired {
		t.Fatalf("bank not told of the link's creation and its expiry: %+v", ns)
	}

	r.now = r.now.Add(time.Hour) // the customer comes back later
	if _, err := r.svc.Renew(ctx, "cus_other", l.ID, 90); err == nil {
		t.Fatal("a stranger renewed")
	}
	renewed, err := r.svc.Renew(ctx, "cus_1", l.ID, 90)
	r.must(err)
	if renewed.Status != store.LinkActive || !renewed.ExpiresAt.Equal(r.now.Add(90*24*time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("renewed = %+v", renewed)
	}
	if got := r.post(l, "renewed", "message", messageData); got != "accepted" {
		t.Fatalf("after renewal: %s", got)
	}
	rs, _ := r.st.Receipts(ctx, "cus_1")
	var actions []string
	for _, rc := range rs {
		actions = append(actions, rc.Action)
	}
	if len(actions) != 3 || actions[0] != "grant" || actions[1] != "expire" || actions[2] != "renew" || rs[2].DisclosureDigest == "" {
		t.Fatalf("receipts %v", actions)
	}
	if _, err := r.svc.Renew(ctx, "cus_1", l.ID, 400); err == nil {
		t.Fatal("renewed for 400 days")
	}
	_, err = r.svc.Revoke(ctx, store.Revocation{LinkID: l.ID, CustomerID: "cus_1"})
	r.must(err)
	if _, err := r.svc.Renew(ctx, "cus_1", l.ID, 90); err == nil {
		t.Fatal("renewed a revoked link")
	}
}

// TestNarrow: the customer takes transactions away; transaction events are
// deleted, balances stay, transactions are refused from then on; widening
// and strangers are refused; a receipt records it.
func TestNarrow(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.customer("cus_1")
	l := r.link("cus_1", []string{"balances", "transactions"}, r.now.Add(time.Hour))
	r.post(l, "b1", "balance.updated", balanceData)
	r.post(l, "t1", "transaction.posted", transactionData)

	for _, bad := range [][]string{{"balances", "transactions", "fraud_alerts"}, {"balances", "transactions"}, {}} {
		if _, err := r.svc.Narrow(ctx, "cus_1", l.ID, bad); err == nil {
			t.Fatalf("narrowed to %v", bad)
		}
	}
	if _, err := r.svc.Narrow(ctx, "cus_2", l.ID, []string{"balances"}); err == nil {
		t.Fatal("a stranger narrowed")
	}
	narrowed, err := r.svc.Narrow(ctx, "cus_1", l.ID, []string{"balances"})
	r.must(err)
	if len(narrowed.Scopes) != 1 || narrowed.Scopes[0] != "balances" {
		t.Fatalf("narrowed = %+v", narrowed)
	}
	evs, _ := r.st.EventsAfter(ctx, l.ConversationID, 0, 10)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if len(types) != 2 || types[0] != "balance.updated" || types[1] != store.TypeLinkNarrowed {
		t.Fatalf("after narrowing: %v", types)
	}
	if got := r.post(l, "t2", "transaction.posted", transactionData); got != "consent_scope" {
		t.Fatalf("transaction after narrowing: %s", got)
	}
	if got := r.post(l, "b2", "balance.updated", balanceData); got != "accepted" {
		t.Fatalf("balance after narrowing: %s", got)
	}
	rs, _ := r.st.Receipts(ctx, "cus_1")
	if last := rs[len(rs)-1]; last.Action != "narrow" || len(last.Scopes) != 1 {
		t.Fatalf("receipt %+v", last)
	}
}

// TestDelegation: the owner lets an accountant read a link's balances and
// transactions; each read is in the access log before data comes back;
// messages are never shown; strangers, revocation, expiry and narrowing
// all take effect.
func TestDelegation(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	for _, id := range []string{"cus_owner", "cus_acct", "cus_other"} {
		r.customer(id)
	}
	l := r.link("cus_owner", []string{"balances", "transactions", "support_chat"}, r.now.Add(90*24*time.Hour))
	r.post(l, "b1", "balance.updated", balanceData)
	r.post(l, "t1", "transaction.posted", transactionData)
	r.post(l, "m1", "message", `{"text":"private note from the bank"}`)

	if _, err := r.svc.Delegate(ctx, "cus_other", l.ID, "cus_acct@example.com", 30); err == nil {
		t.Fatal("a stranger delegated the owner's link")
	}
	if _, err := r.svc.Delegate(ctx, "cus_owner", l.ID, "nobody@example.com", 30); err == nil {
		t.Fatal("delegated to nobody")
	}
	d, err := r.svc.Delegate(ctx, "cus_owner", l.ID, "CUS_ACCT@example.com", 30)
	r.must(err)
	if len(d.Scopes) != 2 || !d.ExpiresAt.Equal(r.now.Add(30*24*time.Hour)) {
		t.Fatalf("delegation %+v", d)
	}
	if _, _, err := r.svc.DelegatedEvents(ctx, r.rec, "cus_other", d.ID); err == nil {
		t.Fatal("a stranger read through the delegation")
	}
	_, evs, err := r.svc.DelegatedEvents(ctx, r.rec, "cus_acct", d.ID)
	r.must(err)
	if len(evs) != 2 || evs[0].Type != "balance.updated" || evs[1].Type != "transaction.posted" {
		t.Fatalf("delegate sees %+v", evs)
	}
	hist, _ := r.rec.History(ctx, "cus_owner", 0)
	if e := hist.Entries; len(e) != 1 || e[0].Entry.ActorKind != "delegate" || e[0].Entry.ActorID != "cus_acct" || e[0].Entry.Subject == "cus_owner" {
		t.Fatalf("access history %+v", hist)
	}

	// Narrowing the link narrows what the delegate sees.
	_, err = r.svc.Narrow(ctx, "cus_owner", l.ID, []string{"balances", "support_chat"})
	r.must(err)
	if _, evs, _ = r.svc.DelegatedEvents(ctx, r.rec, "cus_acct", d.ID); len(evs) != 1 || evs[0].Type != "balance.updated" {
		t.Fatalf("after narrowing the delegate sees %+v", evs)
	}
	// The owner revokes; the next read is refused, and not logged.
	r.must(r.svc.StopDelegation(ctx, "cus_owner", d.ID))
	if _, _, err := r.svc.DelegatedEvents(ctx, r.rec, "cus_acct", d.ID); err == nil {
		t.Fatal("read after revocation")
	}
	if hist, _ = r.rec.History(ctx, "cus_owner", 0); len(hist.Entries) != 2 {
		t.Fatalf("%d accesses logged, want the 2 reads that returned data", len(hist.Entries))
	}
	// A second delegation expires by time.
	d2, err := r.svc.Delegate(ctx, "cus_owner", l.ID, "cus_acct@example.com", 30)
	r.must(err)
	r.now = r.now.Add(31 * 24 * time.Hour)
	if _, _, err := r.svc.DelegatedEvents(ctx, r.rec, "cus_acct", d2.ID); err == nil {
		t.Fatal("read after the delegation expired")
	}
	rs, _ := r.st.Receipts(ctx, "cus_owner")
	delegations, stops := 0, 0
	for _, rc := range rs {
		switch rc.Action {
		case store.ReceiptDelegate:
			delegations++
		case store.ReceiptUndelegate:
			stops++
		}
	}
	if delegations != 2 || stops != 1 {
		t.Fatalf("%d delegation receipts and %d of stopping one, want 2 and 1", delegations, stops)
	}
}

// TestNarrowFraudAlertsTakesAnswers: when the customer stops sharing fraud
// alerts, the alerts go, and so do their answers.
func TestNarrowFraudAlertsTakesAnswers(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.customer("cus_1")
	l := r.link("cus_1", []string{"balances", "fraud_alerts"}, r.now.Add(time.Hour))
	r.post(l, "b1", "balance.updated", balanceData)
	alert := `{"transaction":{"merchant":{"name":"Lumen"},"amount":{"amount":"9.00","currency":"USD"},"at":"2026-03-01T11:00:00Z","card_last4":"4242"},"reason":"Unusual","actions":[{"id":"deny","label":"Not me"}],"expires_at":"2099-01-01T00:00:00Z"}`
	if got := r.post(l, "a1", "fraud.alert", alert); got != "accepted" {
		t.Fatal(got)
	}
	evs, _ := r.st.EventsAfter(ctx, l.ConversationID, 0, 10)
	if _, err := r.in.AnswerFraudAlert(ctx, "cus_1", l.ConversationID, evs[len(evs)-1].Seq, "deny"); err != nil {
		t.Fatal(err)
	}
	n, err := r.svc.Narrow(ctx, "cus_1", l.ID, []string{"balances"})
	r.must(err)
	evs, _ = r.st.EventsAfter(ctx, n.ConversationID, 0, 10)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if len(types) != 2 || types[0] != "balance.updated" || types[1] != store.TypeLinkNarrowed {
		t.Fatalf("after narrowing: %v", types)
	}
}

// TestDelegateSeesTheNewest: in a long conversation the delegate sees the
// newest balances and transactions, not the oldest, oldest first.
func TestDelegateSeesTheNewest(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.customer("cus_owner")
	r.customer("cus_acct")
	l := r.link("cus_owner", []string{"balances", "transactions"}, r.now.Add(90*24*time.Hour))
	r.post(l, "b-old", "balance.updated", balanceData)
	var raw []json.RawMessage
	for i := range 1200 {
		raw = append(raw, json.RawMessage(fmt.Sprintf(`{"id":"m%d","link_id":%q,"type":"message","occurred_at":%q,"data":{"text":"note %d"}}`, i, l.ID, r.now.Format(time.RFC3339), i)))
	}
	for i := 0; i < len(raw); i += 500 {
		_, err := r.in.Ingest(ctx, "ins_1", raw[i:min(i+500, len(raw))])
		r.must(err)
	}
	r.post(l, "b-new", "balance.updated", balanceData)
	d, err := r.svc.Delegate(ctx, "cus_owner", l.ID, "cus_acct@example.com", 30)
	r.must(err)
	_, evs, err := r.svc.DelegatedEvents(ctx, r.rec, "cus_acct", d.ID)
	r.must(err)
	if len(evs) != 2 || evs[0].Seq >= evs[1].Seq || evs[1].Seq < 1200 {
		t.Fatalf("the delegate sees %d events: %+v", len(evs), evs)
	}
}

// revokingRecorder revokes the delegation while the read is being logged,
// as an owner could at that moment on another device.
type revokingRecorder struct {
	access.Recorder
	revoke func()
}

func (r revokingRecorder) Record(ctx context.Context, actorKind, actorID, action, recordKind, customerID string) error {
	err := r.Recorder.Record(ctx, actorKind, actorID, action, recordKind, customerID)
	r.revoke()
	return err
}

// TestDelegateReadRacingRevocation: a delegation stopped while the read is
// under way returns nothing.
func TestDelegateReadRacingRevocation(t *testing.T) {
	ctx := context.Background()
	r := newRig(t)
	r.customer("cus_owner")
	r.customer("cus_acct")
	l := r.link("cus_owner", []string{"balances"}, r.now.Add(90*24*time.Hour))
	r.post(l, "b1", "balance.updated", balanceData)
	d, err := r.svc.Delegate(ctx, "cus_owner", l.ID, "cus_acct@example.com", 30)
	r.must(err)
	rec := revokingRecorder{Recorder: r.rec, revoke: func() { r.must(r.svc.StopDelegation(ctx, "cus_owner", d.ID)) }}
	if _, evs, err := r.svc.DelegatedEvents(ctx, rec, "cus_acct", d.ID); err == nil || len(evs) != 0 {
		t.Fatalf("a read racing the revocation returned %d events (%v)", len(evs), err)
	}
}
