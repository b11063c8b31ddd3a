package ingest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/sqlite"
	"github.com/openteller/openteller/internal/testenv"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// rig is ingest on a real SQLite store, keyring and embedded bus, on a
// clock the test moves, with one customer linked to Cedar Bank.
type rig struct {
	t      *testing.T
	st     *sqlite.Store
	kr     *vault.Keyring
	in     *ingest.Ingester
	now    time.Time
	link   store.Link
	queued int
}

func newRig(t *testing.T, scopes ...string) *rig {
	t.Helper()
	ctx := context.Background()
	r := &rig{t: t, st: testenv.SQLite(t), now: time.Now().UTC().Truncate(time.Second)}
	clock := func() time.Time { return r.now }
	r.st.SetClock(clock)
	r.kr, _ = vault.New(bytes.Repeat([]byte{6}, 32), r.st)
	b, err := bus.Open(bus.Options{DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	r.in = ingest.New(ingest.Config{Store: r.st, Keyring: r.kr, Now: clock, Queued: func() { r.queued++ }})
	r.must(r.st.CreateInstitution(ctx, store.Institution{ID: "ins_1", Name: "Cedar Bank", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: r.now}))
	for _, id := range []string{"cus_1", "cus_2"} {
		r.must(r.st.CreateCustomer(ctx, store.Customer{ID: id, Email: id + "@example.com", PasswordHash: "x", CreatedAt: r.now}))
	}
	l := store.Link{ID: ingest.NewID("lnk_"), CustomerID: "cus_1", InstitutionID: "ins_1", ConversationID: "cnv_1",
		Scopes: scopes, Status: store.LinkActive, CreatedAt: r.now, ExpiresAt: r.now.Add(24 * time.Hour)}
	r.link, err = r.st.CreateLink(ctx, l, consent.GrantReceipt(l, "digest"))
	r.must(err)
	return r
}

func (r *rig) must(err error) {
	r.t.Helper()
	if err != nil {
		r.t.Fatal(err)
	}
}

// post posts one bank event and returns its seq.
func (r *rig) post(id, typ string, data any) int64 {
	r.t.Helper()
	body, _ := json.Marshal(data)
	raw, _ := json.Marshal(ingest.Envelope{ID: id, LinkID: r.link.ID, Type: typ, OccurredAt: r.now.Format(time.RFC3339), Data: body})
	res, err := r.in.Ingest(context.Background(), "ins_1", []json.RawMessage{raw})
	r.must(err)
	if res[0].Status != bankapi.ResultAccepted {
		r.t.Fatalf("post %s: %+v", id, res[0].Error)
	}
	return res[0].Seq
}

// notices opens the institution's queued notices of one type.
func (r *rig) notices(typ string, into func(json.RawMessage)) int {
	r.t.Helper()
	ns, err := r.st.Notices(context.Background(), "ins_1")
	r.must(err)
	n := 0
	for _, x := range ns {
		if x.Type != typ {
			continue
		}
		if x.Payload != nil || x.CustomerID != "cus_1" {
			r.t.Fatalf("%s notice not sealed for its customer: %+v", typ, x)
		}
		plain, err := r.kr.Open(context.Background(), vault.ConversationKey(x.CustomerID, x.InstitutionID), x.ID, x.Sealed)
		r.must(err)
		into(plain)
		n++
	}
	return n
}

func code(err error) string {
	var e *httpx.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func alert(expires time.Time) bankapi.FraudAlert {
	return bankapi.FraudAlert{
		Transaction: bankapi.AlertTransaction{Merchant: bankapi.Merchant{Name: "Lumen Electronics"}, Amount: bankapi.Money{Amount: "1249.00", Currency: "USD"}, At: time.Now().UTC(), CardLast4: "4242"},
		Reason:      "Far from home",
		Actions:     []bankapi.AlertAction{{ID: "confirm", Label: "It was me"}, {ID: "deny", Label: "Not me — lock card", Style: "danger"}},
		ExpiresAt:   expires,
	}
}

// TestAnswerFraudAlertOnce: one tap answers; the same tap again changes
// nothing; another answer, an answer after expiry, an answer the alert
// does not offer, or someone else's answer, are refused and store nothing.
func TestAnswerFraudAlertOnce(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "fraud_alerts")
	seq := r.post("alert-1", bankapi.TypeFraudAlert, alert(r.now.Add(15*time.Minute)))
	late := r.post("alert-2", bankapi.TypeFraudAlert, alert(r.now.Add(time.Minute)))

	first, err := r.in.AnswerFraudAlert(ctx, "cus_1", "cnv_1", seq, "deny")
	r.must(err)
	if first.Duplicate || first.Seq <= late {
		t.Fatalf("answer = %+v", first)
	}
	again, err := r.in.AnswerFraudAlert(ctx, "cus_1", "cnv_1", seq, "deny")
	r.must(err)
	if !again.Duplicate || again.Seq != first.Seq {
		t.Fatalf("the same answer again = %+v, want the first (%d)", again, first.Seq)
	}
	for name, c := range map[string]struct {
		customer, conv string
		seq            int64
		action, want   string
		advance        time.Duration
	}{
		"another answer":          {"cus_1", "cnv_1", seq, "confirm", "already_answered", 0},
		"an action not offered":   {"cus_1", "cnv_1", late, "freeze_everything", "invalid_action", 0},
		"not an alert":            {"cus_1", "cnv_1", first.Seq, "deny", "not_found: message", 0},
		"no such seq":             {"cus_1", "cnv_1", 999, "deny", "not_found: message", 0},
		"seq zero":                {"cus_1", "cnv_1", 0, "deny", "not_found: message", 0},
		"no such conversation":    {"cus_1", "cnv_nope", late, "deny", "not_found: conversation", 0},
		"someone else's alert":    {"cus_2", "cnv_1", late, "deny", "not_found: conversation", 0},
		"after the alert expired": {"cus_1", "cnv_1", late, "deny", "alert_expired", 2 * time.Minute},
	} {
		r.now = r.now.Add(c.advance)
		_, err := r.in.AnswerFraudAlert(ctx, c.customer, c.conv, c.seq, c.action)
		r.now = r.now.Add(-c.advance)
		got := code(err)
		if got == "not_found" {
			// Which is missing, in the customer's words.
			got += map[bool]string{true: ": conversation", false: ": message"}[strings.Contains(err.Error(), "conversation does not exist")]
		}
		if got != c.want {
			t.Errorf("%s: %v, want %s", name, err, c.want)
		}
	}

	var got []bankapi.FraudResponse
	n := r.notices(store.NoticeFraudResponse, func(b json.RawMessage) {
		var fr bankapi.FraudResponse
		json.Unmarshal(b, &fr)
		got = append(got, fr)
	})
	if n != 1 || got[0].AlertID != "alert-1" || got[0].Action != "deny" || got[0].LinkID != r.link.ID || got[0].AnsweredBy != "customer" {
		t.Fatalf("fraud.response notices = %+v", got)
	}
	evs, _ := r.st.EventsAfter(ctx, "cnv_1", 0, 100)
	answers := 0
	for _, e := range evs {
		if e.Type == ingest.FraudResponseType {
			answers++
			plain, _ := r.kr.Open(ctx, vault.ConversationKey(e.CustomerID, e.InstitutionID), e.ID, e.Sealed)
			var d struct {
				AlertSeq int64 `json:"alert_seq"`
				Label    string
			}
			json.Unmarshal(plain, &d)
			if d.AlertSeq != seq || d.Label != "Not me — lock card" {
				t.Fatalf("answer event = %s", plain)
			}
		}
	}
	if answers != 1 || r.queued != 1 {
		t.Fatalf("%d answers in the conversation, deliverer kicked %d times; want 1 and 1", answers, r.queued)
	}
}

// TestQuickRepliesCarryOnlyOfferedPayloads: a tap sends the reply's label
// as the message and its payload to the bank; a payload the message did
// not offer is refused.
func TestQuickRepliesCarryOnlyOfferedPayloads(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "balances")
	seq := r.post("m-1", bankapi.TypeMessage, bankapi.Message{Text: "Anything else?",
		QuickReplies: []bankapi.QuickReply{{Label: "Balance", Payload: "menu:balance"}, {Label: "No thanks"}},
		Buttons:      []bankapi.Button{{Label: "Call me", Payload: "call"}}})
	for _, m := range []ingest.CustomerMessage{
		{ReplyTo: seq, Payload: "menu:balance", Text: "whatever the page says"},
		{ReplyTo: seq, Text: "No thanks"},
		{ReplyTo: seq, Payload: "call"},
		{Text: "  Is my card on its way?  "},
	} {
		if _, err := r.in.PostCustomerMessage(ctx, "cus_1", "cnv_1", m); err != nil {
			t.Fatalf("%+v: %v", m, err)
		}
	}
	for name, c := range map[string]struct {
		m    ingest.CustomerMessage
		want string
	}{
		"forged payload":           {ingest.CustomerMessage{ReplyTo: seq, Payload: "transfer:all"}, "invalid_reply"},
		"label not offered":        {ingest.CustomerMessage{ReplyTo: seq, Text: "Yes please"}, "invalid_reply"},
		"payload without reply_to": {ingest.CustomerMessage{Payload: "menu:balance", Text: "Balance"}, "invalid_message"},
		"reply to no message":      {ingest.CustomerMessage{ReplyTo: 99, Payload: "call"}, "not_found"},
		"empty":                    {ingest.CustomerMessage{Text: "   "}, "invalid_message"},
		"a card number":            {ingest.CustomerMessage{Text: "my card is 4111 1111 1111 1111, can you check it?"}, "pan_detected"},
	} {
		if _, err := r.in.PostCustomerMessage(ctx, "cus_1", "cnv_1", c.m); code(err) != c.want {
			t.Errorf("%s: %v, want %s", name, err, c.want)
		}
	}
	var got []bankapi.CustomerMessage
	r.notices(store.NoticeCustomerMessage, func(b json.RawMessage) {
		var m bankapi.CustomerMessage
		json.Unmarshal(b, &m)
		got = append(got, m)
	})
	want := []struct{ text, payload string }{{"Balance", "menu:balance"}, {"No thanks", ""}, {"Call me", "call"}, {"Is my card on its way?", ""}}
	if len(got) != len(want) {
		t.Fatalf("customer.message notices = %+v", got)
	}
	for i, w := range want {
		if got[i].Text != w.text || got[i].Payload != w.payload || got[i].LinkID != r.link.ID || got[i].MessageID == "" {
			t.Errorf("notice %d = %+v, want %q %q", i, got[i], w.text, w.payload)
		}
	}
}

// TestRequestsNeedTheirScope: a balance request returns the last known
// balance of each account and queues customer.request; a request for data
// the customer does not share is refused, and nothing is queued for it.
func TestRequestsNeedTheirScope(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "balances")
	bal := func(id, acct, amount string) {
		r.post(id, bankapi.TypeBalanceUpdated, bankapi.BalanceUpdated{AccountID: acct, AccountName: "Checking", AccountKind: "checking",
			Available: bankapi.Money{Amount: amount, Currency: "USD"}, Current: bankapi.Money{Amount: amount, Currency: "USD"}})
	}
	bal("b1", "acc_1", "10.00")
	bal("b2", "acc_2", "20.00")
	bal("b3", "acc_1", "30.00")
	res, err := r.in.Request(ctx, "cus_1", "cnv_1", bankapi.RequestBalance)
	r.must(err)
	if len(res.LastKnown) != 2 || !bytes.Contains(res.LastKnown[0].Data, []byte(`"30.00"`)) || !bytes.Contains(res.LastKnown[1].Data, []byte(`"20.00"`)) {
		t.Fatalf("last known = %+v", res.LastKnown)
	}
	for kind, want := range map[string]string{bankapi.RequestRecentTransactions: "scope_not_granted", bankapi.RequestHuman: "scope_not_granted", "loan": "invalid_request"} {
		_, err := r.in.Request(ctx, "cus_1", "cnv_1", kind)
		if code(err) != want {
			t.Errorf("%s: %v, want %s", kind, err, want)
		}
		var e *httpx.Error
		if want == "scope_not_granted" && (!errors.As(err, &e) || e.Status != http.StatusForbidden) {
			t.Errorf("%s: status %v", kind, err)
		}
	}
	var kinds []string
	r.notices(store.NoticeCustomerRequest, func(b json.RawMessage) {
		var cr bankapi.CustomerRequest
		json.Unmarshal(b, &cr)
		kinds = append(kinds, cr.Kind)
	})
	if len(kinds) != 1 || kinds[0] != bankapi.RequestBalance {
		t.Fatalf("customer.request notices = %v", kinds)
	}
}

// TestRateOnce: a rating answers a rating request, once; scores are 1 to 5;
// a request that is not one is not found.
func TestRateOnce(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "support_chat")
	c, err := r.st.Conversation(ctx, "cnv_1")
	r.must(err)
	reqSeq, err := r.in.AskRating(ctx, c, "stf_ada", "Ada")
	r.must(err)
	for name, tc := range map[string]struct {
		seq   int64
		score int
		want  string
	}{
		"no stars":      {reqSeq, 0, "invalid_score"},
		"six stars":     {reqSeq, 6, "invalid_score"},
		"not a request": {reqSeq + 10, 5, "not_found"},
	} {
		if _, err := r.in.Rate(ctx, "cus_1", "cnv_1", tc.seq, tc.score, ""); code(err) != tc.want {
			t.Errorf("%s: %v, want %s", name, err, tc.want)
		}
	}
	first, err := r.in.Rate(ctx, "cus_1", "cnv_1", reqSeq, 5, "kind")
	if err != nil || first.AgentID != "stf_ada" || first.Duplicate {
		t.Fatalf("rate: %+v %v", first, err)
	}
	if again, err := r.in.Rate(ctx, "cus_1", "cnv_1", reqSeq, 5, "kind"); err != nil || !again.Duplicate || again.Seq != first.Seq {
		t.Fatalf("the same rating again: %+v %v", again, err)
	}
	if _, err := r.in.Rate(ctx, "cus_1", "cnv_1", reqSeq, 1, "changed my mind"); code(err) != "already_rated" {
		t.Fatalf("another rating: %v", err)
	}
	if _, err := r.in.Rate(ctx, "cus_2", "cnv_1", reqSeq, 5, ""); code(err) != "not_found" {
		t.Fatalf("someone else rating: %v", err)
	}
	// The score reached the supervisors' figures once, for the agent asked
	// about, retries and refusals notwithstanding.
	rs, err := r.st.Ratings(ctx, c.InstitutionID, time.Time{})
	r.must(err)
	if len(rs) != 1 || rs[0].Score != 5 || rs[0].StaffID != "stf_ada" || rs[0].RequestSeq != reqSeq {
		t.Fatalf("ratings kept for the figures: %+v", rs)
	}
}

func cardStatus(cardID, status string, actions ...bankapi.AlertAction) bankapi.CardStatus {
	return bankapi.CardStatus{CardID: cardID, CardLast4: "4242", AccountName: "Rewards Visa", Status: status, Actions: actions}
}

var (
	unlock = bankapi.AlertAction{ID: bankapi.ActionUnlock, Label: "Unlock card", Style: "primary"}
	wasMe  = bankapi.AlertAction{ID: bankapi.ActionWasMe, Label: "It was me after all"}
)

// TestActOnCardOnce: a tap on a locked card's action is stored in the
// conversation and queued for the bank as card.action, once; the same tap
// again changes nothing, even after the bank has moved the card on; another
// action, an action not offered, one on a status a newer status of the same
// card replaced, or on someone else's card, are refused and store nothing.
// The platform never changes the card: it only tells the bank.
func TestActOnCardOnce(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "fraud_alerts")
	locked := r.post("cs-1", bankapi.TypeCardStatus, cardStatus("card_a", bankapi.CardLocked, unlock, wasMe))
	other := r.post("cs-2", bankapi.TypeCardStatus, cardStatus("card_b", bankapi.CardOrdered))

	first, err := r.in.ActOnCard(ctx, "cus_1", "cnv_1", locked, bankapi.ActionUnlock)
	r.must(err)
	if first.Duplicate || first.Seq <= other {
		t.Fatalf("action = %+v", first)
	}
	again, err := r.in.ActOnCard(ctx, "cus_1", "cnv_1", locked, bankapi.ActionUnlock)
	r.must(err)
	if !again.Duplicate || again.Seq != first.Seq {
		t.Fatalf("the same action again = %+v, want the first (%d)", again, first.Seq)
	}

	relocked := r.post("cs-3", bankapi.TypeCardStatus, cardStatus("card_a", bankapi.CardLocked, unlock, wasMe))
	r.post("cs-4", bankapi.TypeCardStatus, cardStatus("card_a", bankapi.CardClosed))
	if again, err := r.in.ActOnCard(ctx, "cus_1", "cnv_1", locked, bankapi.ActionUnlock); err != nil || !again.Duplicate || again.Seq != first.Seq {
		t.Fatalf("a retry once the card moved on = %+v %v, want the first (%d)", again, err, first.Seq)
	}
	before, err := r.st.EventsAfter(ctx, "cnv_1", 0, 100)
	r.must(err)
	for name, c := range map[string]struct {
		customer     string
		seq          int64
		action, want string
	}{
		"another action":          {"cus_1", locked, bankapi.ActionWasMe, "already_answered"},
		"an action not offered":   {"cus_1", other, bankapi.ActionUnlock, "invalid_action"},
		"a replaced status":       {"cus_1", relocked, bankapi.ActionUnlock, "card_changed"},
		"not a card":              {"cus_1", first.Seq, bankapi.ActionUnlock, "not_found"},
		"no such seq":             {"cus_1", 999, bankapi.ActionUnlock, "not_found"},
		"someone else's card":     {"cus_2", locked, bankapi.ActionUnlock, "not_found"},
		"an empty action":         {"cus_1", locked, "", "invalid_action"},
		"a made-up closing order": {"cus_1", relocked, "close_account", "invalid_action"},
	} {
		if _, err := r.in.ActOnCard(ctx, c.customer, "cnv_1", c.seq, c.action); code(err) != c.want {
			t.Errorf("%s: %v, want %s", name, err, c.want)
		}
	}
	after, err := r.st.EventsAfter(ctx, "cnv_1", 0, 100)
	r.must(err)
	if len(after) != len(before) {
		t.Fatalf("refused actions stored %d events", len(after)-len(before))
	}

	var got []bankapi.CardAction
	n := r.notices(bankapi.WebhookCardAction, func(b json.RawMessage) {
		var a bankapi.CardAction
		json.Unmarshal(b, &a)
		got = append(got, a)
	})
	if n != 1 || got[0].StatusID != "cs-1" || got[0].CardID != "card_a" || got[0].Action != bankapi.ActionUnlock || got[0].LinkID != r.link.ID || got[0].AnsweredBy != "customer" {
		t.Fatalf("card.action notices = %+v", got)
	}
	actions := 0
	for _, e := range after {
		if e.Type != ingest.CardActionType {
			continue
		}
		actions++
		plain, _ := r.kr.Open(ctx, vault.ConversationKey(e.CustomerID, e.InstitutionID), e.ID, e.Sealed)
		var d struct {
			StatusSeq int64  `json:"status_seq"`
			CardID    string `json:"card_id"`
			Label     string
		}
		json.Unmarshal(plain, &d)
		if d.StatusSeq != locked || d.CardID != "card_a" || d.Label != "Unlock card" {
			t.Fatalf("card.action event = %s", plain)
		}
	}
	if actions != 1 || r.queued != 1 {
		t.Fatalf("%d card actions in the conversation, deliverer kicked %d times; want 1 and 1", actions, r.queued)
	}
}

// TestCardStatusNeedsFraudAlerts: a card's status is refused, and stores
// nothing, on a link that does not share fraud alerts; a malformed one is
// refused with a typed error on any link.
func TestCardStatusNeedsFraudAlerts(t *testing.T) {
	ctx := context.Background()
	r := newRig(t, "balances", "transactions")
	post := func(id string, data any) bankapi.EventResult {
		body, _ := json.Marshal(data)
		raw, _ := json.Marshal(ingest.Envelope{ID: id, LinkID: r.link.ID, Type: bankapi.TypeCardStatus, OccurredAt: r.now.Format(time.RFC3339), Data: body})
		res, err := r.in.Ingest(ctx, "ins_1", []json.RawMessage{raw})
		r.must(err)
		return res[0]
	}
	if res := post("cs-1", cardStatus("card_a", bankapi.CardLocked, unlock)); res.Status != bankapi.ResultRejected || res.Error.Code != "consent_scope" {
		t.Fatalf("card.status without fraud_alerts: %+v", res)
	}
	bad := cardStatus("card_a", "frozen_forever")
	if res := post("cs-2", bad); res.Status != bankapi.ResultRejected || res.Error.Code != "invalid_event" {
		t.Fatalf("a made-up status: %+v", res)
	}
	evs, err := r.st.EventsAfter(ctx, "cnv_1", 0, 100)
	r.must(err)
	if len(evs) != 0 {
		t.Fatalf("refused statuses stored %d events", len(evs))
	}
}
