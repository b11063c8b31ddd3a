package consent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/access"
	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/testenv"
	"github.com/openteller/openteller/internal/vault"
)

// TestExpiryEndsLinkAndRenewalRestoresIt runs the expiry sweep on a real
// store with a moving clock: a link past its expiry is ended, its events
// deleted, the customer's devices woken with a link.expired notice and the
// bank told; ingest refuses it; renewal makes it active again, with a
// receipt, and ingest accepts again.
func TestExpiryEndsLinkAndRenewalRestoresIt(t *testing.T) {
	ctx := context.Background()
	st := testenv.SQLite(t)
	kr, _ := vault.New(bytes.Repeat([]byte{5}, 32), st)
	b, err := bus.Open(bus.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	now := time.Now().UTC()
	clock := func() time.Time { return now }
	st.SetClock(clock)
	svc := consent.New(consent.Config{Store: st, Keyring: kr, Bus: b, Now: clock})
	in := ingest.New(ingest.Config{Store: st, Keyring: kr, Bus: b, Now: clock})

	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateInstitution(ctx, store.Institution{ID: "ins_1", Name: "Cedar Bank", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: now}))
	must(st.CreateCustomer(ctx, store.Customer{ID: "cus_1", Email: "a@example.com", PasswordHash: "x", CreatedAt: now}))
	l := store.Link{ID: ingest.NewID("lnk_"), CustomerID: "cus_1", InstitutionID: "ins_1", ConversationID: "cnv_1",
		Scopes: []string{"balances"}, Status: store.LinkActive, CreatedAt: now, ExpiresAt: now.Add(30 * 24 * time.Hour)}
	l, err = st.CreateLink(ctx, l, consent.GrantReceipt(l, "digest"))
	must(err)
	post := func(id string) string {
		raw := json.RawMessage(`{"id":"` + id + `","link_id":"` + l.ID + `","type":"message","occurred_at":"` + now.Format(time.RFC3339) + `","data":{"text":"hi"}}`)
		res, err := in.Ingest(ctx, "ins_1", []json.RawMessage{raw})
		must(err)
		if res[0].Error != nil {
			return res[0].Error.Code
		}
		return res[0].Status
	}
	if got := post("before"); got != "accepted" {
		t.Fatalf("before expiry: %s", got)
	}
	woken := make(chan bus.Wake, 4)
	sub, err := b.SubscribeCustomer("cus_1", func(w bus.Wake) { woken <- w })
	must(err)
	defer sub.Unsubscribe()
	must(b.Flush())

	if n, err := svc.ExpireDue(ctx); err != nil || n != 0 {
		t.Fatalf("sweep before expiry: %d %v", n, err)
	}
	if n, err := svc.RemindDue(ctx); err != nil || n != 0 {
		t.Fatalf("reminders 30 days out: %d %v", n, err)
	}
	now = now.Add(20 * 24 * time.Hour) // 10 days left
	if n, err := svc.RemindDue(ctx); err != nil || n != 1 {
		t.Fatalf("reminders 10 days out: %d %v", n, err)
	}
	if n, _ := svc.RemindDue(ctx); n != 0 {
		t.Fatalf("reminded twice in one term: %d", n)
	}
	if w := <-woken; w.Seq != 2 {
		t.Fatalf("reminder wake %+v", w)
	}
	now = now.Add(11 * 24 * time.Hour) // past expiry
	if got := post("late"); got != "consent_expired" {
		t.Fatalf("after expiry, before the sweep: %s", got)
	}
	if n, err := svc.ExpireDue(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after expiry: %d %v", n, err)
	}
	if n, _ := svc.ExpireDue(ctx); n != 0 {
		t.Fatalf("second sweep ended %d more", n)
	}
	select {
	case w := <-woken:
		if w.ConversationID != "cnv_1" {
			t.Fatalf("woken for %+v", w)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the customer's devices were not woken")
	}
	evs, _ := st.EventsAfter(ctx, "cnv_1", 0, 10)
	if len(evs) != 1 || evs[0].Type != store.TypeLinkExpired {
		t.Fatalf("after expiry the conversation holds %+v", evs)
	}
	data, err := kr.Open(ctx, "cus_1", evs[0].ID, evs[0].Sealed)
	must(err)
	var notice consent.EndedNotice
	json.Unmarshal(data, &notice)
	if notice.EndedBy != "expiry" {
		t.Fatalf("notice %s", data)
	}
	if ns, _ := st.Notices(ctx, "ins_1"); len(ns) != 1 || ns[0].Type != store.NoticeLinkExpired {
		t.Fatalf("bank not told: %+v", ns)
	}

	now = now.Add(time.Hour) // the customer comes back later
	if _, err := svc.Renew(ctx, "cus_other", l.ID, 90); err == nil {
		t.Fatal("a stranger renewed")
	}
	renewed, err := svc.Renew(ctx, "cus_1", l.ID, 90)
	must(err)
	if renewed.Status != store.LinkActive || !renewed.ExpiresAt.Equal(now.Add(90*24*time.Hour).Truncate(time.Microsecond)) {
		t.Fatalf("renewed = %+v", renewed)
	}
	if got := post("renewed"); got != "accepted" {
		t.Fatalf("after renewal: %s", got)
	}
	rs, _ := st.Receipts(ctx, "cus_1")
	var actions []string
	for _, r := range rs {
		actions = append(actions, r.Action)
	}
	if len(actions) != 3 || actions[0] != "grant" || actions[1] != "expire" || actions[2] != "renew" || rs[2].DisclosureDigest == "" {
		t.Fatalf("receipts %v", actions)
	}
	if _, err := svc.Renew(ctx, "cus_1", l.ID, 400); err == nil {
		t.Fatal("renewed for 400 days")
	}
	_, err = svc.Revoke(ctx, store.Revocation{LinkID: l.ID, CustomerID: "cus_1"})
	must(err)
	if _, err := svc.Renew(ctx, "cus_1", l.ID, 90); err == nil || errors.Is(err, context.Canceled) {
		t.Fatalf("renewed a revoked link: %v", err)
	}
}

// TestNarrow: the customer takes transactions away; transaction events are
// deleted, balances stay, transactions are refused from then on; widening
// and strangers are refused; a receipt records it.
func TestNarrow(t *testing.T) {
	ctx := context.Background()
	st := testenv.SQLite(t)
	kr, _ := vault.New(bytes.Repeat([]byte{7}, 32), st)
	b, err := bus.Open(bus.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	svc := consent.New(consent.Config{Store: st, Keyring: kr, Bus: b})
	in := ingest.New(ingest.Config{Store: st, Keyring: kr, Bus: b})
	now := time.Now().UTC()
	st.CreateInstitution(ctx, store.Institution{ID: "ins_1", Name: "Cedar Bank", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: now})
	st.CreateCustomer(ctx, store.Customer{ID: "cus_1", Email: "a@example.com", PasswordHash: "x", CreatedAt: now})
	l := store.Link{ID: ingest.NewID("lnk_"), CustomerID: "cus_1", InstitutionID: "ins_1", ConversationID: "cnv_1",
		Scopes: []string{"balances", "transactions"}, Status: store.LinkActive, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if l, err = st.CreateLink(ctx, l, consent.GrantReceipt(l, "d")); err != nil {
		t.Fatal(err)
	}
	post := func(id, typ, data string) string {
		raw := json.RawMessage(`{"id":"` + id + `","link_id":"` + l.ID + `","type":"` + typ + `","occurred_at":"` + now.Format(time.RFC3339) + `","data":` + data + `}`)
		res, err := in.Ingest(ctx, "ins_1", []json.RawMessage{raw})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Error != nil {
			return res[0].Error.Code
		}
		return res[0].Status
	}
	bal := `{"account_id":"a","account_name":"C","account_kind":"checking","available":{"amount":"1.00","currency":"USD"},"current":{"amount":"1.00","currency":"USD"}}`
	txn := `{"account_id":"a","transaction_id":"t","status":"posted","direction":"debit","amount":{"amount":"1.00","currency":"USD"},"description":"Tea"}`
	post("b1", "balance.updated", bal)
	post("t1", "transaction.posted", txn)

	for _, bad := range [][]string{{"balances", "transactions", "fraud_alerts"}, {"balances", "transactions"}, {}} {
		if _, err := svc.Narrow(ctx, "cus_1", l.ID, bad); err == nil {
			t.Fatalf("narrowed to %v", bad)
		}
	}
	if _, err := svc.Narrow(ctx, "cus_2", l.ID, []string{"balances"}); err == nil {
		t.Fatal("a stranger narrowed")
	}
	narrowed, err := svc.Narrow(ctx, "cus_1", l.ID, []string{"balances"})
	if err != nil {
		t.Fatal(err)
	}
	if len(narrowed.Scopes) != 1 || narrowed.Scopes[0] != "balances" {
		t.Fatalf("narrowed = %+v", narrowed)
	}
	evs, _ := st.EventsAfter(ctx, "cnv_1", 0, 10)
	var types []string
	for _, e := range evs {
		types = append(types, e.Type)
	}
	if len(types) != 2 || types[0] != "balance.updated" || types[1] != store.TypeLinkNarrowed {
		t.Fatalf("after narrowing: %v", types)
	}
	if got := post("t2", "transaction.posted", txn); got != "consent_scope" {
		t.Fatalf("transaction after narrowing: %s", got)
	}
	if got := post("b2", "balance.updated", bal); got != "accepted" {
		t.Fatalf("balance after narrowing: %s", got)
	}
	rs, _ := st.Receipts(ctx, "cus_1")
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
	st := testenv.SQLite(t)
	kr, _ := vault.New(bytes.Repeat([]byte{8}, 32), st)
	b, err := bus.Open(bus.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	now := time.Now().UTC()
	clock := func() time.Time { return now }
	svc := consent.New(consent.Config{Store: st, Keyring: kr, Bus: b, Now: clock})
	in := ingest.New(ingest.Config{Store: st, Keyring: kr, Bus: b, Now: clock})
	rec := &access.Log{Store: st, Keyring: kr, Now: clock}
	st.CreateInstitution(ctx, store.Institution{ID: "ins_1", Name: "Cedar Bank", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: now})
	for _, id := range []string{"cus_owner", "cus_acct", "cus_other"} {
		st.CreateCustomer(ctx, store.Customer{ID: id, Email: id + "@example.com", PasswordHash: "x", CreatedAt: now})
	}
	l := store.Link{ID: ingest.NewID("lnk_"), CustomerID: "cus_owner", InstitutionID: "ins_1", ConversationID: "cnv_1",
		Scopes: []string{"balances", "transactions", "support_chat"}, Status: store.LinkActive, CreatedAt: now, ExpiresAt: now.Add(90 * 24 * time.Hour)}
	if l, err = st.CreateLink(ctx, l, consent.GrantReceipt(l, "d")); err != nil {
		t.Fatal(err)
	}
	raw := func(id, typ, data string) json.RawMessage {
		return json.RawMessage(`{"id":"` + id + `","link_id":"` + l.ID + `","type":"` + typ + `","occurred_at":"` + now.Format(time.RFC3339) + `","data":` + data + `}`)
	}
	if _, err := in.Ingest(ctx, "ins_1", []json.RawMessage{
		raw("b1", "balance.updated", `{"account_id":"a","account_name":"Business Checking","account_kind":"checking","available":{"amount":"9.00","currency":"USD"},"current":{"amount":"9.00","currency":"USD"}}`),
		raw("t1", "transaction.posted", `{"account_id":"a","transaction_id":"t","status":"posted","direction":"debit","amount":{"amount":"1.00","currency":"USD"},"description":"Office supplies"}`),
		raw("m1", "message", `{"text":"private note from the bank"}`),
	}); err != nil {
		t.Fatal(err)
	}

	if _, err := svc.Delegate(ctx, "cus_other", l.ID, "cus_acct@example.com", 30); err == nil {
		t.Fatal("a stranger delegated the owner's link")
	}
	if _, err := svc.Delegate(ctx, "cus_owner", l.ID, "nobody@example.com", 30); err == nil {
		t.Fatal("delegated to nobody")
	}
	d, err := svc.Delegate(ctx, "cus_owner", l.ID, "CUS_ACCT@example.com", 30)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Scopes) != 2 || !d.ExpiresAt.Equal(now.Add(30*24*time.Hour)) {
		t.Fatalf("delegation %+v", d)
	}
	if _, _, err := svc.DelegatedEvents(ctx, rec, "cus_other", d.ID); err == nil {
		t.Fatal("a stranger read through the delegation")
	}
	_, evs, err := svc.DelegatedEvents(ctx, rec, "cus_acct", d.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(evs) != 2 || evs[0].Type != "balance.updated" || evs[1].Type != "transaction.posted" {
		t.Fatalf("delegate sees %+v", evs)
	}
	hist, _ := rec.History(ctx, "cus_owner")
	if len(hist) != 1 || hist[0].ActorKind != "delegate" || hist[0].ActorID != "cus_acct" || hist[0].Subject == "cus_owner" {
		t.Fatalf("access history %+v", hist)
	}

	// Narrowing the link narrows what the delegate sees.
	if _, err := svc.Narrow(ctx, "cus_owner", l.ID, []string{"balances", "support_chat"}); err != nil {
		t.Fatal(err)
	}
	if _, evs, _ = svc.DelegatedEvents(ctx, rec, "cus_acct", d.ID); len(evs) != 1 || evs[0].Type != "balance.updated" {
		t.Fatalf("after narrowing the delegate sees %+v", evs)
	}
	// The owner revokes; the next read is refused, and not logged.
	if err := st.RevokeDelegation(ctx, d.ID, "cus_owner", now); err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.DelegatedEvents(ctx, rec, "cus_acct", d.ID); err == nil {
		t.Fatal("read after revocation")
	}
	if hist, _ = rec.History(ctx, "cus_owner"); len(hist) != 2 {
		t.Fatalf("%d accesses logged, want the 2 reads that returned data", len(hist))
	}
	// A second delegation expires by time.
	d2, err := svc.Delegate(ctx, "cus_owner", l.ID, "cus_acct@example.com", 30)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(31 * 24 * time.Hour)
	if _, _, err := svc.DelegatedEvents(ctx, rec, "cus_acct", d2.ID); err == nil {
		t.Fatal("read after the delegation expired")
	}
	rs, _ := st.Receipts(ctx, "cus_owner")
	delegations := 0
	for _, r := range rs {
		if r.Action == store.ReceiptDelegate {
			delegations++
		}
	}
	if delegations != 2 {
		t.Fatalf("%d delegation receipts", delegations)
	}
}
