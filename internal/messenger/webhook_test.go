package messenger_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/messenger"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// TestSignKnownValues checks both signatures against values computed
// outside this code (HMAC-SHA256 and HMAC-SHA1 of the body, keyed with the
// secret's text).
func TestSignKnownValues(t *testing.T) {
	s256, s1 := messenger.Sign(vault.MACKeyOf([]byte("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=")), []byte(`{"object":"page","entry":[]}`))
	if s256 != "sha256=352389a53b33058fd89878a1a94138d91810c7ffa5c5435b5dfbef91f0cba5c9" {
		t.Errorf("X-Hub-Signature-256 %s", s256)
	}
	if s1 != "sha1=02dc63a1f639bfeaf473989c3d6e5ae1c1368c2a" {
		t.Errorf("X-Hub-Signature %s", s1)
	}
}

// received is one delivery to the test's Messenger endpoint.
type received struct {
	header http.Header
	body   []byte
	hook   messenger.Delivery
}

// TestMessengerWebhooks registers a Messenger endpoint (after the
// hub.challenge handshake) and follows a conversation through it: the link,
// the customer's words, a quick reply, a button, a handover and standby,
// and the revocation, each in Messenger's shape, in order, signed both ways
// with the endpoint's secret.
func TestMessengerWebhooks(t *testing.T) {
	f := setup(t, "support_chat")
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go f.srv.Webhook.Run(ctx, 50*time.Millisecond)

	got := make(chan received, 32)
	var challenges atomic.Int32
	hooks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet {
			q := r.URL.Query()
			challenges.Add(1)
			if q.Get("hub.mode") != "subscribe" || q.Get("hub.verify_token") != "the-bots-token" {
				http.Error(w, "Forbidden", http.StatusForbidden)
				return
			}
			io.WriteString(w, q.Get("hub.challenge"))
			return
		}
		body, _ := io.ReadAll(r.Body)
		rec := received{header: r.Header.Clone(), body: body}
		if err := json.Unmarshal(body, &rec.hook); err != nil {
			t.Errorf("delivery is not JSON: %s", body)
		}
		got <- rec
	}))
	t.Cleanup(hooks.Close)

	register := func(body string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", f.url+"/v1/webhook-endpoints", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+f.key)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if status, out := register(`{"url":"` + hooks.URL + `","format":"messenger","verify_token":"not-the-token"}`); status != 400 || out["error"].(map[string]any)["code"] != "verification_failed" {
		t.Fatalf("a failed handshake: %d %v", status, out)
	}
	if status, out := register(`{"url":"` + hooks.URL + `","format":"messenger"}`); status != 400 || out["error"].(map[string]any)["code"] != "invalid_verify_token" {
		t.Fatalf("no verify token: %d %v", status, out)
	}
	if _, err := f.srv.Store.WebhookEndpoint(ctx, f.ins); err == nil {
		t.Fatal("a refused registration registered the endpoint")
	}
	status, out := register(`{"url":"` + hooks.URL + `","format":"messenger","verify_token":"the-bots-token"}`)
	if status != 201 || out["format"] != "messenger" || challenges.Load() != 2 {
		t.Fatalf("register: %d %v after %d handshakes", status, out, challenges.Load())
	}
	secret := out["secret"].(string)

	next := func() messenger.Messaging {
		t.Helper()
		select {
		case rec := <-got:
			// The signatures, computed here from the secret and the body.
			m := hmac.New(sha256.New, []byte(secret))
			m.Write(rec.body)
			m1 := hmac.New(sha1.New, []byte(secret))
			m1.Write(rec.body)
			if rec.header.Get("X-Hub-Signature-256") != "sha256="+hex.EncodeToString(m.Sum(nil)) || rec.header.Get("X-Hub-Signature") != "sha1="+hex.EncodeToString(m1.Sum(nil)) {
				t.Fatalf("signatures %q %q do not match the body", rec.header.Get("X-Hub-Signature-256"), rec.header.Get("X-Hub-Signature"))
			}
			h := rec.hook
			if h.Object != "page" || len(h.Entry) != 1 || h.Entry[0].ID != f.ins || h.Entry[0].Time == 0 || len(h.Entry[0].Messaging)+len(h.Entry[0].Standby) != 1 {
				t.Fatalf("delivery %s", rec.body)
			}
			var ev messenger.Messaging
			standby := len(h.Entry[0].Standby) == 1
			if standby {
				ev = h.Entry[0].Standby[0]
			} else {
				ev = h.Entry[0].Messaging[0]
			}
			if ev.Sender.ID != f.link.ID || ev.Recipient.ID != f.ins || ev.Timestamp == 0 {
				t.Fatalf("event %s", rec.body)
			}
			if standby {
				ev.Recipient.ID = "standby" // tells the caller, below
			}
			return ev
		case <-time.After(20 * time.Second):
			t.Fatal("no delivery within 20 s")
		}
		return messenger.Messaging{}
	}

	// The link's creation waited for an endpoint.
	if ev := next(); ev.AccountLinking == nil || ev.AccountLinking.Status != "linked" {
		t.Fatalf("first delivery %+v", ev)
	}
	say := func(m ingest.CustomerMessage) {
		t.Helper()
		if _, err := f.srv.Ingest.PostCustomerMessage(ctx, f.link.CustomerID, f.link.ConversationID, m); err != nil {
			t.Fatal(err)
		}
	}
	say(ingest.CustomerMessage{Text: "what is my balance"})
	if ev := next(); ev.Message == nil || ev.Message.Text != "what is my balance" || ev.Message.QuickReply != nil || !strings.HasPrefix(ev.Message.MID, "evt_") {
		t.Fatalf("text %+v", ev)
	}

	// The bot asks with quick replies and a button; the customer taps each.
	if status, out := f.send(`{"recipient":{"id":"` + f.link.ID + `"},"message":{"attachment":{"type":"template","payload":{"template_type":"button","text":"Lock the card?","buttons":[{"type":"postback","title":"Lock it","payload":"LOCK"}]}},"quick_replies":[{"content_type":"text","title":"Later","payload":"LATER"}]}}`); status != 200 {
		t.Fatalf("send: %d %v", status, out)
	}
	c, _ := f.srv.Store.Conversation(ctx, f.link.ConversationID)
	say(ingest.CustomerMessage{ReplyTo: c.LastSeq, Payload: "LATER"})
	if ev := next(); ev.Message == nil || ev.Message.Text != "Later" || ev.Message.QuickReply == nil || ev.Message.QuickReply.Payload != "LATER" {
		t.Fatalf("quick reply %+v", ev)
	}
	say(ingest.CustomerMessage{ReplyTo: c.LastSeq, Payload: "LOCK"})
	if ev := next(); ev.Postback == nil || ev.Postback.Title != "Lock it" || ev.Postback.Payload != "LOCK" || ev.Message != nil {
		t.Fatalf("button %+v", ev)
	}

	// The bot passes the conversation to the people: the customer's next
	// words reach it as standby.
	if status, out := f.call("POST", "/v19.0/me/pass_thread_control?access_token="+f.key, `{"recipient":{"id":"`+f.link.ID+`"},"target_app_id":263902037430900}`); status != 200 {
		t.Fatalf("pass: %d %v", status, out)
	}
	if ev := next(); ev.PassThreadControl == nil || ev.PassThreadControl.NewOwnerAppID != messenger.PageInboxAppID || ev.PassThreadControl.PreviousOwnerAppID != f.ins || ev.PassThreadControl.Metadata != "bot_asks" {
		t.Fatalf("pass_thread_control %+v", ev)
	}
	say(ingest.CustomerMessage{Text: "hello, anyone there?"})
	if ev := next(); ev.Recipient.ID != "standby" || ev.Message == nil || ev.Message.Text != "hello, anyone there?" {
		t.Fatalf("standby %+v", ev)
	}
	if status, out := f.call("POST", "/v19.0/me/take_thread_control?access_token="+f.key, `{"recipient":{"id":"`+f.link.ID+`"}}`); status != 200 {
		t.Fatalf("take: %d %v", status, out)
	}
	if ev := next(); ev.TakeThreadControl == nil || ev.TakeThreadControl.NewOwnerAppID != f.ins || ev.TakeThreadControl.PreviousOwnerAppID != messenger.PageInboxAppID {
		t.Fatalf("take_thread_control %+v", ev)
	}
	// The bank's menu: a tap on one of its items, or on Get started, is a
	// postback; a payload the menu does not offer is refused.
	if status, out := f.call("POST", "/v19.0/me/messenger_profile?access_token="+f.key, `{"get_started":{"payload":"START"},"persistent_menu":[{"locale":"default","call_to_actions":[{"type":"postback","title":"Block my card","payload":"BLOCK"}]}]}`); status != 200 {
		t.Fatalf("profile: %d %v", status, out)
	}
	if _, err := f.srv.Ingest.PostCustomerMessage(ctx, f.link.CustomerID, f.link.ConversationID, ingest.CustomerMessage{Menu: true, Payload: "NOT_OFFERED"}); err == nil || !strings.Contains(err.Error(), "invalid_reply") {
		t.Fatalf("a payload the menu does not offer: %v", err)
	}
	say(ingest.CustomerMessage{Menu: true, Payload: "START"})
	if ev := next(); ev.Postback == nil || ev.Postback.Title != "Get started" || ev.Postback.Payload != "START" {
		t.Fatalf("get started %+v", ev)
	}
	say(ingest.CustomerMessage{Menu: true, Payload: "BLOCK"})
	if ev := next(); ev.Postback == nil || ev.Postback.Title != "Block my card" || ev.Postback.Payload != "BLOCK" {
		t.Fatalf("menu item %+v", ev)
	}
	if _, err := f.srv.Consent.Revoke(ctx, store.Revocation{LinkID: f.link.ID, CustomerID: f.link.CustomerID, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.AccountLinking == nil || ev.AccountLinking.Status != "unlinked" {
		t.Fatalf("revocation %+v", ev)
	}
}

// TestFormatShapes covers what the conversation test does not reach: the
// notices Messenger has no event for, and a change among the people.
func TestFormatShapes(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	n := store.Notice{ID: "ntc_1", InstitutionID: "ins_a", LinkID: "lnk_a", CreatedAt: at}
	format := func(typ string, data any) (map[string]any, bool) {
		t.Helper()
		n.Type = typ
		b, _ := json.Marshal(data)
		body, _, send, err := messenger.Format(n, b, []*vault.MACKey{vault.MACKeyOf([]byte("whsec_x"))}, at)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		var out map[string]any
		json.Unmarshal(body, &out)
		return out, send
	}
	postback := func(out map[string]any) map[string]any {
		return out["entry"].([]any)[0].(map[string]any)["messaging"].([]any)[0].(map[string]any)["postback"].(map[string]any)
	}
	out, _ := format(store.NoticeCustomerRequest, bankapi.CustomerRequest{LinkID: "lnk_a", RequestID: "evt_1", Kind: "balance", RequestedAt: at})
	if p := postback(out); p["payload"] != "OPENTELLER_REQUEST:balance" || p["title"] != "Balance" {
		t.Fatalf("request %v", p)
	}
	out, _ = format(store.NoticeFraudResponse, bankapi.FraudResponse{LinkID: "lnk_a", AlertID: "alert-7", Action: "deny", AnsweredAt: at})
	if p := postback(out); p["payload"] != "OPENTELLER_FRAUD_RESPONSE:alert-7:deny" {
		t.Fatalf("fraud response %v", p)
	}
	out, _ = format(store.NoticeCustomerMessage, bankapi.CustomerMessage{LinkID: "lnk_a", MessageID: "evt_2", Text: "Block my card", Payload: "BLOCK", Tapped: ingest.TappedMenu, SentAt: at})
	if p := postback(out); p["payload"] != "BLOCK" || p["title"] != "Block my card" {
		t.Fatalf("menu item %v", p)
	}
	if _, send := format(store.NoticeHandover, map[string]any{"link_id": "lnk_a", "from": "queue", "to": "agent", "trigger": "assigned", "at": at}); send {
		t.Fatal("a change between the people was sent")
	}
	// A notice newer than the mapping still reaches the bot, whole.
	out, send := format("card.action", map[string]string{"link_id": "lnk_a", "action": "unlock"})
	ev := out["entry"].([]any)[0].(map[string]any)["messaging"].([]any)[0].(map[string]any)
	if p := postback(out); !send || p["payload"] != "OPENTELLER_NOTICE:card.action" || ev["openteller"].(map[string]any)["data"].(map[string]any)["action"] != "unlock" {
		t.Fatalf("a newer notice: %v", ev)
	}
}
