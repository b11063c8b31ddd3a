package banksim

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

// TestWebhookStopsLink: the bank registers its endpoint through the Bank
// API; a forged notice is refused; a signed link.revoked stops the link at
// once (and again is harmless).
func TestWebhookStopsLink(t *testing.T) {
	tb := newTestBank(t, func(c *Config) { c.WebhookURL = "https://bank.example/webhooks" })
	linkID := tb.link(t, []string{"balances", "transactions"}, "balances", "transactions")
	tb.registerWebhooks(context.Background())
	if tb.platform.registeredURL != "https://bank.example/webhooks" {
		t.Fatalf("registered %q", tb.platform.registeredURL)
	}
	send := func(secret string) int {
		body := `{"id":"ntc_1","type":"link.revoked","created_at":"2026-03-01T12:00:00Z","data":{"link_id":"` + linkID + `","ended_by":"customer"}}`
		now := time.Now()
		sig, err := bankapi.SignWebhook("ntc_1", now, []byte(body), secret)
		if err != nil {
			t.Fatal(err)
		}
		req, _ := http.NewRequest("POST", tb.srv.URL+"/webhooks", strings.NewReader(body))
		req.Header.Set(bankapi.HeaderWebhookID, "ntc_1")
		req.Header.Set(bankapi.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
		req.Header.Set(bankapi.HeaderWebhookSignature, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if code := send(bankapi.NewWebhookSecret()); code != http.StatusUnauthorized {
		t.Fatalf("forged notice: %d", code)
	}
	if live, _, _ := tb.LinkStatus(linkID); !live {
		t.Fatal("a forged notice stopped the link")
	}
	for range 2 {
		if code := send(tb.platform.webhookSecret); code != http.StatusNoContent {
			t.Fatalf("signed notice: %d", code)
		}
	}
	if live, why, _ := tb.LinkStatus(linkID); live || why != "link.revoked" {
		t.Fatalf("link after link.revoked: live=%v why=%q", live, why)
	}
}

// sendWebhook posts a signed notice to the test bank and returns the status.
func (tb *testBank) sendWebhook(t *testing.T, id, typ string, data any) int {
	t.Helper()
	raw, _ := json.Marshal(data)
	body, _ := json.Marshal(bankapi.Webhook{ID: id, Type: typ, CreatedAt: time.Now().UTC(), Data: raw})
	now := time.Now()
	sig, err := bankapi.SignWebhook(id, now, body, tb.platform.webhookSecret)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("POST", tb.srv.URL+"/webhooks", bytes.NewReader(body))
	req.Header.Set(bankapi.HeaderWebhookID, id)
	req.Header.Set(bankapi.HeaderWebhookTimestamp, strconv.FormatInt(now.Unix(), 10))
	req.Header.Set(bankapi.HeaderWebhookSignature, sig)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// eventsOf returns the platform's received events of one type.
func eventsOf(p *fakePlatform, typ string) []receivedEvent {
	var out []receivedEvent
	for _, e := range p.Events() {
		if e.Type == typ {
			out = append(out, e)
		}
	}
	return out
}

// TestFraudAnswerLocksCard: the bank raises an alert; "Not me" locks the
// card and the bank says so in the conversation, once, however often the
// answer is delivered; a locked card is not used again.
func TestFraudAnswerLocksCard(t *testing.T) {
	ctx := context.Background()
	tb := newTestBank(t, func(c *Config) { c.WebhookURL = "https://bank.example/webhooks" })
	linkID := tb.link(t, []string{"balances", "transactions", "fraud_alerts"}, "balances", "transactions", "fraud_alerts")
	tb.registerWebhooks(ctx)
	if n, err := tb.RaiseFraudAlert(ctx); err != nil || n != 1 {
		t.Fatalf("raised %d: %v", n, err)
	}
	alerts := eventsOf(tb.platform, bankapi.TypeFraudAlert)
	if len(alerts) != 1 {
		t.Fatalf("platform got %d alerts", len(alerts))
	}
	var alert bankapi.FraudAlert
	if err := json.Unmarshal(alerts[0].Data, &alert); err != nil {
		t.Fatal(err)
	}
	if len(alert.Actions) != 2 || alert.Transaction.CardLast4 == "" || !alert.ExpiresAt.After(tb.clock.Now()) {
		t.Fatalf("alert = %+v", alert)
	}
	answer := bankapi.FraudResponse{LinkID: linkID, AlertID: alerts[0].ID, Action: bankapi.ActionDeny, AnsweredAt: time.Now(), AnsweredBy: "customer"}
	for _, id := range []string{"ntc_a", "ntc_a", "ntc_b"} { // redelivered, then (wrongly) a second notice
		if code := tb.sendWebhook(t, id, bankapi.WebhookFraudResponse, answer); code != http.StatusNoContent {
			t.Fatalf("fraud.response: %d", code)
		}
	}
	if err := tb.flush(ctx); err != nil {
		t.Fatal(err)
	}
	msgs := eventsOf(tb.platform, bankapi.TypeMessage)
	var confirmations int
	for _, m := range msgs {
		if strings.Contains(string(m.Data), "is locked") {
			confirmations++
		}
	}
	if confirmations != 1 {
		t.Fatalf("%d lock confirmations in %d messages", confirmations, len(msgs))
	}
	tb.mu.Lock()
	var locked int
	for _, a := range tb.st.Customers[0].Accounts {
		if a.Locked {
			locked++
			if a.CardLast4 != alert.Transaction.CardLast4 {
				t.Errorf("locked card %s, the alert was about %s", a.CardLast4, alert.Transaction.CardLast4)
			}
		}
	}
	tb.mu.Unlock()
	if locked != 1 {
		t.Fatalf("%d accounts locked", locked)
	}
	// Spending goes on, never on the locked card.
	before := len(eventsOf(tb.platform, bankapi.TypeTransactionPosted))
	for range 40 {
		tb.clock.Advance(time.Hour)
		if err := tb.Step(ctx); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range eventsOf(tb.platform, bankapi.TypeTransactionPosted)[before:] {
		var txn bankapi.TransactionPosted
		json.Unmarshal(e.Data, &txn)
		if txn.Status == bankapi.StatusPending && txn.CardLast4 == alert.Transaction.CardLast4 {
			t.Fatalf("the locked card was used: %s", e.Data)
		}
	}
}

// TestMenuRequests: a balance request brings fresh balances; a message
// brings the bot's answer with the menu as quick replies, whose payload is
// a request.
func TestMenuRequests(t *testing.T) {
	ctx := context.Background()
	tb := newTestBank(t, func(c *Config) { c.WebhookURL = "https://bank.example/webhooks" })
	linkID := tb.link(t, []string{"balances", "transactions"}, "balances", "transactions")
	tb.registerWebhooks(ctx)
	tb.flush(ctx) // the opening events
	before := len(eventsOf(tb.platform, bankapi.TypeBalanceUpdated))
	tb.sendWebhook(t, "ntc_r1", bankapi.WebhookCustomerRequest, bankapi.CustomerRequest{LinkID: linkID, RequestID: "evt_1", Kind: bankapi.RequestBalance})
	tb.flush(ctx)
	if got := len(eventsOf(tb.platform, bankapi.TypeBalanceUpdated)) - before; got != 2 {
		t.Fatalf("a balance request brought %d balances, want one per account (2)", got)
	}
	tb.sendWebhook(t, "ntc_m1", bankapi.WebhookCustomerMessage, bankapi.CustomerMessage{LinkID: linkID, MessageID: "evt_2", Text: "hello"})
	tb.flush(ctx)
	msgs := eventsOf(tb.platform, bankapi.TypeMessage)
	var m bankapi.Message
	json.Unmarshal(msgs[len(msgs)-1].Data, &m)
	if len(m.QuickReplies) != 3 {
		t.Fatalf("bot answer = %+v", m)
	}
	tb.sendWebhook(t, "ntc_m2", bankapi.WebhookCustomerMessage, bankapi.CustomerMessage{LinkID: linkID, MessageID: "evt_3", Text: m.QuickReplies[0].Label, Payload: m.QuickReplies[0].Payload})
	tb.flush(ctx)
	if got := len(eventsOf(tb.platform, bankapi.TypeBalanceUpdated)) - before; got != 4 {
		t.Fatalf("tapping %q brought %d balances in all, want 4", m.QuickReplies[0].Label, got)
	}
}
