package e2e

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

// TestBankHearsRevocation: the bank registers its webhook endpoint through
// the Bank API (the secret shown once); when the customer disconnects, the
// bank receives a signed link.revoked webhook that the SDK verifies.
func TestBankHearsRevocation(t *testing.T) {
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	got := bankWebhooks(t, info)

	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	if err := c.Call(ctxT(t), "DELETE", "/app/api/links/"+info.LinkID, nil, nil); err != nil {
		t.Fatal(err)
	}
	// The revocation arrives, after the link's creation if that reaches
	// this receiver at all: the creation was held until the bank registered
	// an endpoint, and may have gone to the simulated bank's own before this
	// test's took its place.
	var types []string
	for !slices.Contains(types, "link.revoked") {
		select {
		case body := <-got:
			var env struct {
				Type string
				Data struct {
					LinkID  string `json:"link_id"`
					EndedBy string `json:"ended_by"`
				}
			}
			json.Unmarshal(body, &env)
			if env.Data.LinkID != info.LinkID {
				t.Fatalf("webhook for another link: %s", body)
			}
			if env.Type == "link.revoked" && env.Data.EndedBy != "customer" {
				t.Fatalf("webhook %s", body)
			}
			types = append(types, env.Type)
		case <-time.After(20 * time.Second):
			t.Fatalf("webhooks within 20 s: %v", types)
		}
	}
	if want := []string{"link.created", "link.revoked"}; !slices.Equal(types, want) && !slices.Equal(types, want[1:]) {
		t.Fatalf("webhooks in the order %v", types)
	}
}

// bankWebhooks waits until the demo's simulated bank has registered its
// webhook endpoint, then takes its place with a receiver of the test's own
// that verifies every delivery with the SDK, and returns what it receives.
func bankWebhooks(t *testing.T, info demoInfo) chan []byte {
	t.Helper()
	got := make(chan []byte, 64)
	var verifier bankapi.WebhookVerifier
	ready := make(chan struct{}) // closed once the verifier has the secret
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-ready
		body, _ := io.ReadAll(r.Body)
		if err := verifier.Verify(r.Header, body); err != nil {
			t.Errorf("webhook does not verify: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		got <- body
	}))
	t.Cleanup(hooks.Close)
	var opened sync.Once
	open := func() { opened.Do(func() { close(ready) }) }
	t.Cleanup(open) // before hooks.Close, so no handler waits for ever

	// The demo's simulated bank registers its own endpoint as it starts;
	// wait for that, then take its place with this test's receiver.
	waitSimulatedBankEndpoint(t, info)
	req, _ := http.NewRequest("POST", info.BaseURL+"/v1/webhook-endpoints", bytes.NewReader([]byte(`{"url":"`+hooks.URL+`/hooks"}`)))
	req.Header.Set("Authorization", "Bearer "+info.InstitutionAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var reg struct{ Secret string }
	json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated || reg.Secret == "" {
		t.Fatalf("register: %d %+v", resp.StatusCode, reg)
	}
	verifier.Secrets = []string{reg.Secret}
	open()
	return got
}

// TestHandover: "Talk to a person" moves the conversation to the bank's
// people and the bank hears it (conversation.handover, from bot to queue);
// the customer's next message reaches the bot as standby; the bank's bot
// takes the conversation back through the Bank API and hears that too,
// and the customer's messages are the bot's again.
func TestHandover(t *testing.T) {
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	got := bankWebhooks(t, info)
	next := func(typ string) json.RawMessage {
		t.Helper()
		for {
			select {
			case body := <-got:
				var env struct {
					Type string
					Data json.RawMessage
				}
				json.Unmarshal(body, &env)
				if env.Type == typ {
					return env.Data
				}
			case <-time.After(20 * time.Second):
				t.Fatalf("no %s webhook within 20 s", typ)
			}
		}
	}
	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	if err := c.Call(ctxT(t), "POST", "/app/api/conversations/"+info.ConversationID+"/requests", map[string]string{"kind": "human"}, nil); err != nil {
		t.Fatal(err)
	}
	var h bankapi.Handover
	json.Unmarshal(next(bankapi.WebhookHandover), &h)
	if h.LinkID != info.LinkID || h.From != "bot" || h.To != "queue" || h.Trigger != "customer_asks" {
		t.Fatalf("handover %+v", h)
	}
	say := func(text string) bankapi.CustomerMessage {
		t.Helper()
		sent(text)
		if err := c.Call(ctxT(t), "POST", "/app/api/conversations/"+info.ConversationID+"/messages", map[string]string{"text": text}, nil); err != nil {
			t.Fatal(err)
		}
		for {
			var m bankapi.CustomerMessage
			json.Unmarshal(next(bankapi.WebhookCustomerMessage), &m)
			if m.Text == text {
				return m
			}
		}
	}
	if m := say("waiting for a person here"); !m.Standby {
		t.Fatalf("a message while the people have it reached the bot as its own: %+v", m)
	}

	post := func(body string) (int, string) {
		req, _ := http.NewRequest("POST", info.BaseURL+"/v1/links/"+info.LinkID+"/handover", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+info.InstitutionAPIKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(`{"to":"somewhere"}`); code != http.StatusBadRequest || !strings.Contains(body, "invalid_request") {
		t.Fatalf("a bad target: %d %s", code, body)
	}
	if code, body := post(`{"to":"bot"}`); code != http.StatusOK || !strings.Contains(body, `"owner":"bot"`) {
		t.Fatalf("taking it back: %d %s", code, body)
	}
	json.Unmarshal(next(bankapi.WebhookHandover), &h)
	if h.From != "queue" || h.To != "bot" || h.Trigger != "bot_takes" {
		t.Fatalf("handover back %+v", h)
	}
	if m := say("back with the bot now"); m.Standby {
		t.Fatalf("a message to the bot came as standby: %+v", m)
	}

	// The bot asks for a person again; then the customer stops sharing
	// support_chat. Nobody at the bank can see the conversation now, so the
	// bot is not left standing by, and cannot hand it to people again.
	if code, body := post(`{"to":"people"}`); code != http.StatusOK || !strings.Contains(body, `"owner":"queue"`) {
		t.Fatalf("asking for a person: %d %s", code, body)
	}
	if err := c.Call(ctxT(t), "PUT", "/app/api/links/"+info.LinkID+"/scopes", map[string]any{"scopes": []string{"balances", "transactions"}}, nil); err != nil {
		t.Fatal(err)
	}
	if m := say("no more chat with people"); m.Standby {
		t.Fatalf("with support_chat taken away, the message came as standby: %+v", m)
	}
	if code, body := post(`{"to":"people"}`); code != http.StatusConflict || !strings.Contains(body, "consent_scope") {
		t.Fatalf("handing to people without support_chat: %d %s", code, body)
	}
}
