package banksim

import (
	"context"
	"encoding/json"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

var withFraudAlerts = []string{bankapi.ScopeBalances, bankapi.ScopeTransactions, bankapi.ScopeFraudAlerts}

// newCardBank is a test bank that hears webhooks, with the demo customer
// linked for balances, transactions and fraud alerts.
func newCardBank(t *testing.T, adjust ...func(*Config)) (*testBank, string) {
	t.Helper()
	tb := newTestBank(t, append([]func(*Config){func(c *Config) { c.WebhookURL = "https://bank.example/webhooks" }}, adjust...)...)
	linkID := tb.link(t, withFraudAlerts, withFraudAlerts...)
	tb.registerWebhooks(context.Background())
	return tb, linkID
}

// denyNextAlert raises a fraud alert and answers it "Not me", as the
// platform would deliver the customer's tap, and returns the alert.
func denyNextAlert(t *testing.T, tb *testBank, linkID, noticeID string) bankapi.FraudAlert {
	t.Helper()
	ctx := context.Background()
	before := len(eventsOf(tb.platform, bankapi.TypeFraudAlert))
	if n, err := tb.RaiseFraudAlert(ctx); err != nil || n != 1 {
		t.Fatalf("raised %d alerts: %v", n, err)
	}
	alerts := eventsOf(tb.platform, bankapi.TypeFraudAlert)
	if len(alerts) != before+1 {
		t.Fatalf("platform got %d alerts, want %d", len(alerts), before+1)
	}
	var alert bankapi.FraudAlert
	if err := json.Unmarshal(alerts[len(alerts)-1].Data, &alert); err != nil {
		t.Fatal(err)
	}
	answer := bankapi.FraudResponse{LinkID: linkID, AlertID: alerts[len(alerts)-1].ID, Action: bankapi.ActionDeny, AnsweredAt: time.Now(), AnsweredBy: "customer"}
	if code := tb.sendWebhook(t, noticeID, bankapi.WebhookFraudResponse, answer); code != http.StatusNoContent {
		t.Fatalf("fraud.response: %d", code)
	}
	if err := tb.flush(ctx); err != nil {
		t.Fatal(err)
	}
	return alert
}

// cardStatuses decodes the card.status events the platform received, in
// order, with their event ids.
func cardStatuses(t *testing.T, p *fakePlatform) ([]bankapi.CardStatus, []string) {
	t.Helper()
	var out []bankapi.CardStatus
	var ids []string
	for _, e := range eventsOf(p, bankapi.TypeCardStatus) {
		var s bankapi.CardStatus
		if err := json.Unmarshal(e.Data, &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
		ids = append(ids, e.ID)
	}
	return out, ids
}

// latestCard is the newest status the platform holds for a card's last four.
func latestCard(statuses []bankapi.CardStatus, last4 string) (bankapi.CardStatus, bool) {
	for i := len(statuses) - 1; i >= 0; i-- {
		if statuses[i].CardLast4 == last4 {
			return statuses[i], true
		}
	}
	return bankapi.CardStatus{}, false
}

// pendingOn counts pending purchases on a card since the platform's
// event at index from.
func pendingOn(t *testing.T, p *fakePlatform, from int, last4 string) int {
	t.Helper()
	n := 0
	for _, e := range eventsOf(p, bankapi.TypeTransactionPosted)[from:] {
		var txn bankapi.TransactionPosted
		if err := json.Unmarshal(e.Data, &txn); err != nil {
			t.Fatal(err)
		}
		if txn.Status == bankapi.StatusPending && txn.CardLast4 == last4 {
			n++
		}
	}
	return n
}

// TestNotMeOrdersAReplacementThatTakesOver: "Not me" locks the card (its
// status offers unlocking and "it was me after all") and orders a new card;
// when the new card is ready, it replaces the old one, and the account
// spends again on the new card.
func TestNotMeOrdersAReplacementThatTakesOver(t *testing.T) {
	ctx := context.Background()
	tb, linkID := newCardBank(t)
	alert := denyNextAlert(t, tb, linkID, "ntc_deny")
	old := alert.Transaction.CardLast4

	statuses, _ := cardStatuses(t, tb.platform)
	if len(statuses) != 2 {
		t.Fatalf("card statuses after Not me: %+v", statuses)
	}
	locked, ordered := statuses[0], statuses[1]
	if locked.Status != bankapi.CardLocked || locked.CardLast4 != old || locked.CardID == "" ||
		!slices.Equal([]string{locked.Actions[0].ID, locked.Actions[1].ID}, []string{bankapi.ActionUnlock, bankapi.ActionWasMe}) {
		t.Fatalf("locked card's status = %+v", locked)
	}
	if ordered.Status != bankapi.CardOrdered || ordered.ReplacesLast4 != old || ordered.CardLast4 == old || ordered.CardID == locked.CardID ||
		len(ordered.Actions) != 0 || ordered.ExpectedBy == "" {
		t.Fatalf("replacement's status = %+v", ordered)
	}
	if !strings.HasPrefix(locked.CardID, "card_") || !strings.HasPrefix(ordered.CardID, "card_") {
		t.Errorf("card references are not pairwise ones: %q %q", locked.CardID, ordered.CardID)
	}

	// Not yet: a step before the delay leaves the card locked.
	tb.clock.Advance(tb.cfg.ReplacementDelay / 2)
	if err := tb.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if s, _ := latestCard(mustStatuses(t, tb), ordered.CardLast4); s.Status != bankapi.CardOrdered {
		t.Fatalf("replacement ready early: %+v", s)
	}
	tb.clock.Advance(tb.cfg.ReplacementDelay / 2)
	if err := tb.Step(ctx); err != nil {
		t.Fatal(err)
	}
	statuses = mustStatuses(t, tb)
	if s, _ := latestCard(statuses, old); s.Status != bankapi.CardClosed || s.CardID != locked.CardID || len(s.Actions) != 0 {
		t.Fatalf("old card after the replacement arrived: %+v", s)
	}
	if s, _ := latestCard(statuses, ordered.CardLast4); s.Status != bankapi.CardActive || s.CardID != ordered.CardID || s.ReplacesLast4 != old {
		t.Fatalf("new card after it arrived: %+v", s)
	}

	from := len(eventsOf(tb.platform, bankapi.TypeTransactionPosted))
	step(t, tb, 60)
	if pendingOn(t, tb.platform, from, ordered.CardLast4) == 0 {
		t.Fatal("60 steps and no purchase on the new card")
	}
	if pendingOn(t, tb.platform, from, old) != 0 {
		t.Fatal("the replaced card was used")
	}
}

func mustStatuses(t *testing.T, tb *testBank) []bankapi.CardStatus {
	t.Helper()
	s, _ := cardStatuses(t, tb.platform)
	return s
}

// TestActivityResumesAfterTwoNotMeAcrossARestart: two "Not me" answers lock
// both of the customer's cards, which used to stop purchases and alerts
// for good, even after a restart. Now the replacements on their way are
// kept in the state file, and once they are ready the customer spends, and
// is asked about suspicious payments, again.
func TestActivityResumesAfterTwoNotMeAcrossARestart(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "bank.json")
	tb, linkID := newCardBank(t, func(c *Config) { c.StatePath = path })
	first := denyNextAlert(t, tb, linkID, "ntc_1")
	second := denyNextAlert(t, tb, linkID, "ntc_2")
	if first.Transaction.CardLast4 == second.Transaction.CardLast4 {
		t.Fatalf("both alerts were about card %s", first.Transaction.CardLast4)
	}
	if n, err := tb.RaiseFraudAlert(ctx); err != nil || n != 0 {
		t.Fatalf("with both cards locked, %d alerts were raised (%v)", n, err)
	}
	from := len(eventsOf(tb.platform, bankapi.TypeTransactionPosted))
	step(t, tb, 20)
	if n := pendingOn(t, tb.platform, from, first.Transaction.CardLast4) + pendingOn(t, tb.platform, from, second.Transaction.CardLast4); n != 0 {
		t.Fatalf("%d purchases on locked cards", n)
	}

	restarted, err := New(tb.cfg)
	if err != nil {
		t.Fatalf("New after restart: %v", err)
	}
	tb2 := &testBank{Bank: restarted, clock: tb.clock, platform: tb.platform, srv: tb.srv}
	tb2.clock.Advance(tb.cfg.ReplacementDelay)
	from = len(eventsOf(tb.platform, bankapi.TypeTransactionPosted))
	step(t, tb2, 60)

	statuses := mustStatuses(t, tb2)
	var active []string
	for _, s := range statuses {
		if s.Status == bankapi.CardActive {
			active = append(active, s.CardLast4)
			if pendingOn(t, tb.platform, from, s.CardLast4) == 0 {
				t.Errorf("no purchase on the new card %s", s.CardLast4)
			}
		}
	}
	if len(active) != 2 {
		t.Fatalf("active cards after the restart and the delay: %v (statuses %+v)", active, statuses)
	}
	if n, err := tb2.RaiseFraudAlert(ctx); err != nil || n != 1 {
		t.Fatalf("after the replacements, %d alerts were raised (%v)", n, err)
	}
}

// TestUnlockAndItWasMe: on a locked card's status, "Unlock card" brings the
// card back and cancels the replacement; after a second lock, "It was me
// after all" does the same and says what became of the payment. A status
// is acted on once, however often its notice is delivered or another
// action arrives for it.
func TestUnlockAndItWasMe(t *testing.T) {
	ctx := context.Background()
	tb, linkID := newCardBank(t)
	alert := denyNextAlert(t, tb, linkID, "ntc_deny1")
	card := alert.Transaction.CardLast4
	statuses, ids := cardStatuses(t, tb.platform)
	act := func(noticeID, statusID, action string) {
		t.Helper()
		a := bankapi.CardAction{LinkID: linkID, StatusID: statusID, CardID: statuses[0].CardID, Action: action, AnsweredAt: time.Now(), AnsweredBy: "customer"}
		if code := tb.sendWebhook(t, noticeID, bankapi.WebhookCardAction, a); code != http.StatusNoContent {
			t.Fatalf("card.action: %d", code)
		}
		if err := tb.flush(ctx); err != nil {
			t.Fatal(err)
		}
	}
	act("ntc_unlock", ids[0], bankapi.ActionUnlock)
	act("ntc_unlock", ids[0], bankapi.ActionUnlock) // redelivered
	act("ntc_again", ids[0], bankapi.ActionWasMe)   // a second action on the same status
	after := mustStatuses(t, tb)
	if len(after) != 4 {
		t.Fatalf("statuses after unlocking: %+v", after)
	}
	if s, _ := latestCard(after, card); s.Status != bankapi.CardActive || s.CardID != statuses[0].CardID {
		t.Fatalf("card after unlocking: %+v", s)
	}
	if s, _ := latestCard(after, statuses[1].CardLast4); s.Status != bankapi.CardClosed {
		t.Fatalf("replacement after unlocking: %+v", s)
	}
	tb.mu.Lock()
	for _, a := range tb.st.Customers[0].Accounts {
		if a.Locked || a.Replacement != nil {
			t.Errorf("%s after unlocking: locked %v, replacement %+v", a.Name, a.Locked, a.Replacement)
		}
	}
	tb.mu.Unlock()
	// The replacement's time passes: nothing replaces the unlocked card.
	tb.clock.Advance(tb.cfg.ReplacementDelay)
	if err := tb.Step(ctx); err != nil {
		t.Fatal(err)
	}
	if got := mustStatuses(t, tb); len(got) != 4 {
		t.Fatalf("statuses after the cancelled replacement's time: %+v", got[4:])
	}

	alert = denyNextAlert(t, tb, linkID, "ntc_deny2")
	statuses, ids = cardStatuses(t, tb.platform)
	locked := len(statuses) - 2
	if statuses[locked].Status != bankapi.CardLocked || statuses[locked].CardLast4 != alert.Transaction.CardLast4 {
		t.Fatalf("second lock: %+v", statuses[locked:])
	}
	act("ntc_stale", ids[0], bankapi.ActionUnlock) // the first lock's status: answered and gone
	if got := mustStatuses(t, tb); len(got) != len(statuses) {
		t.Fatalf("a stale status was acted on: %+v", got[len(statuses):])
	}
	act("ntc_wasme", ids[locked], bankapi.ActionWasMe)
	if s, _ := latestCard(mustStatuses(t, tb), alert.Transaction.CardLast4); s.Status != bankapi.CardActive {
		t.Fatalf("card after it was me: %+v", s)
	}
	msgs := eventsOf(tb.platform, bankapi.TypeMessage)
	var last bankapi.Message
	json.Unmarshal(msgs[len(msgs)-1].Data, &last)
	if !strings.Contains(last.Text, "unlocked") || !strings.Contains(last.Text, alert.Transaction.Merchant.Name) || !strings.Contains(last.Text, "try it again") {
		t.Fatalf("the bank's answer to it was me: %q", last.Text)
	}
}

// TestLockedCardsFromAnOlderStateAreReplaced: a state file saved before
// cards could be replaced (both cards locked for good, no card ids) is
// repaired when the bank starts: replacements are ordered, and activity
// comes back once they are ready.
func TestLockedCardsFromAnOlderStateAreReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bank.json")
	tb := newTestBank(t, func(c *Config) { c.StatePath = path })
	tb.link(t, withFraudAlerts, withFraudAlerts...)
	tb.mu.Lock()
	for _, a := range tb.st.Customers[0].Accounts {
		a.Locked, a.CardID, a.Replacement = true, "", nil
	}
	if err := tb.saveLocked(); err != nil {
		t.Fatal(err)
	}
	tb.mu.Unlock()

	restarted, err := New(tb.cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range restarted.st.Customers[0].Accounts {
		if a.CardID == "" || a.Replacement == nil || a.Replacement.Last4 == a.CardLast4 {
			t.Fatalf("%s not repaired: %+v", a.Name, a)
		}
	}
	again, err := New(tb.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if a, b := again.st.Customers[0].Accounts[0].Replacement, restarted.st.Customers[0].Accounts[0].Replacement; *a != *b {
		t.Fatalf("the repair was not saved: %+v, then %+v", b, a)
	}
	tb2 := &testBank{Bank: restarted, clock: tb.clock, platform: tb.platform, srv: tb.srv}
	tb2.clock.Advance(tb.cfg.ReplacementDelay)
	from := len(eventsOf(tb.platform, bankapi.TypeTransactionPosted))
	step(t, tb2, 60)
	for _, a := range restarted.st.Customers[0].Accounts {
		if a.Locked || pendingOn(t, tb.platform, from, a.CardLast4) == 0 {
			t.Errorf("%s: locked %v, or no purchase on its new card %s", a.Name, a.Locked, a.CardLast4)
		}
	}
}

// TestReplaceCardsNow: the simulator's control makes a replacement on its
// way ready at once, over HTTP.
func TestReplaceCardsNow(t *testing.T) {
	tb, linkID := newCardBank(t)
	denyNextAlert(t, tb, linkID, "ntc_deny")
	resp, err := http.Post(tb.srv.URL+"/sim/replace-cards", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	var out struct{ Replaced int }
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || out.Replaced != 1 {
		t.Fatalf("POST /sim/replace-cards: %d %+v", resp.StatusCode, out)
	}
	statuses := mustStatuses(t, tb)
	if s := statuses[len(statuses)-1]; s.Status != bankapi.CardActive || s.ReplacesLast4 == "" {
		t.Fatalf("newest status %+v", s)
	}
}
