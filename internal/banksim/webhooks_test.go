package banksim

import (
	"context"
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
