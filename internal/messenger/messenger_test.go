package messenger_test

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/config"
	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/messenger"
	"github.com/openteller/openteller/internal/server"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// fixture is a node with one institution, its API key, and a customer
// linked to it.
type fixture struct {
	t    *testing.T
	srv  *server.Server
	url  string
	key  string
	ins  string
	link store.Link
}

func setup(t *testing.T, scopes ...string) *fixture {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir, cfg.RootKey, cfg.Addr = t.TempDir(), vault.GenerateRootKey(), "127.0.0.1:0"
	cfg.WebhookAllowPrivate = "true"
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	f := &fixture{t: t, srv: srv, url: ts.URL}
	in, key, err := server.CreateInstitution(context.Background(), srv.Store, store.Institution{Name: "Cedar Bank", AuthorizeURL: "https://x", TokenURL: "https://x", ClientID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	f.ins, f.key = in.ID, key
	f.link = f.addLink(in.ID, scopes...)
	return f
}

// addLink links a new customer to the institution with these scopes.
func (f *fixture) addLink(institutionID string, scopes ...string) store.Link {
	f.t.Helper()
	return f.addLinkUntil(institutionID, time.Now().Add(90*24*time.Hour), scopes...)
}

// addLinkUntil links a new customer until expires.
func (f *fixture) addLinkUntil(institutionID string, expires time.Time, scopes ...string) store.Link {
	f.t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	cus := ingest.NewID("cus_")
	if err := f.srv.Store.CreateCustomer(ctx, store.Customer{ID: cus, Email: cus + "@example.com", PasswordHash: "x", CreatedAt: now}); err != nil {
		f.t.Fatal(err)
	}
	l := store.Link{ID: ingest.NewID("lnk_"), CustomerID: cus, InstitutionID: institutionID, ConversationID: ingest.NewID("cnv_"),
		Scopes: scopes, Status: store.LinkActive, CreatedAt: now.Add(-time.Hour), ExpiresAt: expires.UTC()}
	l, err := f.srv.Store.CreateLink(ctx, l, consent.GrantReceipt(l, "d"))
	if err != nil {
		f.t.Fatal(err)
	}
	return l
}

// call makes a Graph request and returns the status and the body.
func (f *fixture) call(method, path, body string) (int, map[string]any) {
	f.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, f.url+path, rd)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &out); err != nil {
		f.t.Fatalf("%s %s: %d, not JSON: %s", method, path, resp.StatusCode, raw)
	}
	return resp.StatusCode, out
}

// send posts to the Send API with the institution's key.
func (f *fixture) send(body string) (int, map[string]any) {
	f.t.Helper()
	return f.call("POST", "/v19.0/me/messages?access_token="+f.key, body)
}

// graphError checks out is a Graph error with code and subcode, and the
// shape Messenger gives it.
func graphError(t *testing.T, status int, out map[string]any, wantStatus, code, subcode int) string {
	t.Helper()
	e, _ := out["error"].(map[string]any)
	if e == nil || status != wantStatus {
		t.Fatalf("want a Graph error %d/%d with %d, got %d %v", code, subcode, wantStatus, status, out)
	}
	gotSub, _ := e["error_subcode"].(float64)
	msg, _ := e["message"].(string)
	if e["type"] != "OAuthException" || e["code"] != float64(code) || int(gotSub) != subcode || msg == "" || e["fbtrace_id"] == "" {
		t.Fatalf("want code %d subcode %d, got %v", code, subcode, e)
	}
	return msg
}

// events opens the conversation's events after seq.
func (f *fixture) events(l store.Link, after int64) []openEvent {
	f.t.Helper()
	ctx := context.Background()
	evs, err := f.srv.Store.EventsAfter(ctx, l.ConversationID, after, 100)
	if err != nil {
		f.t.Fatal(err)
	}
	var out []openEvent
	for _, e := range evs {
		plain, err := f.srv.Keyring.Open(ctx, vault.ConversationKey(e.CustomerID, e.InstitutionID), e.ID, e.Sealed)
		if err != nil {
			f.t.Fatal(err)
		}
		out = append(out, openEvent{Type: e.Type, BankID: e.BankEventID, Data: plain})
	}
	return out
}

type openEvent struct {
	Type, BankID string
	Data         json.RawMessage
}

// bankEvents are the events the bank put in the conversation.
func (f *fixture) bankEvents(l store.Link) []openEvent {
	var out []openEvent
	for _, e := range f.events(l, 0) {
		if e.Type == bankapi.TypeMessage || e.Type == bankapi.TypeReceipt {
			out = append(out, e)
		}
	}
	return out
}

func TestSendText(t *testing.T) {
	f := setup(t)
	status, out := f.send(`{"messaging_type":"RESPONSE","recipient":{"id":"` + f.link.ID + `"},"message":{"text":"Hello from the bot","quick_replies":[{"content_type":"text","title":"Yes","payload":"YES"},{"content_type":"text","title":"No","payload":2}]}}`)
	if status != 200 || out["recipient_id"] != f.link.ID || !strings.HasPrefix(out["message_id"].(string), "mid.") {
		t.Fatalf("send: %d %v", status, out)
	}
	evs := f.bankEvents(f.link)
	if len(evs) != 1 || evs[0].BankID != out["message_id"] {
		t.Fatalf("stored %+v", evs)
	}
	var m bankapi.Message
	json.Unmarshal(evs[0].Data, &m)
	if m.Text != "Hello from the bot" || len(m.QuickReplies) != 2 || m.QuickReplies[0] != (bankapi.QuickReply{Label: "Yes", Payload: "YES"}) || m.QuickReplies[1].Payload != "2" {
		t.Fatalf("message %+v", m)
	}
	// Without a version, under the page id, with the token in the body.
	status, out = f.call("POST", "/"+f.ins+"/messages", `{"access_token":"`+f.key+`","recipient":{"id":"`+f.link.ID+`"},"messaging_type":"MESSAGE_TAG","tag":"ACCOUNT_UPDATE","message":{"text":"Your statement is ready"}}`)
	if status != 200 || out["recipient_id"] != f.link.ID {
		t.Fatalf("send under the page id: %d %v", status, out)
	}
	// Thirteen quick replies, as Messenger allows.
	var qs []string
	for i := range 13 {
		qs = append(qs, `{"content_type":"text","title":"Q`+string(rune('a'+i))+`","payload":"P"}`)
	}
	if status, out = f.send(`{"recipient":{"id":"` + f.link.ID + `"},"message":{"text":"Pick","quick_replies":[` + strings.Join(qs, ",") + `]}}`); status != 200 {
		t.Fatalf("13 quick replies: %d %v", status, out)
	}
	if n := len(f.bankEvents(f.link)); n != 3 {
		t.Fatalf("%d messages stored, want 3", n)
	}
}

// TestSendErrors: each fault gets the Graph error Messenger gives for it,
// and nothing is stored.
func TestSendErrors(t *testing.T) {
	f := setup(t, "balances")
	other := f.addLink(f.ins, "balances")
	to := func(id, message string) string {
		return `{"recipient":{"id":"` + id + `"},"message":` + message + `}`
	}
	text := `{"text":"hi"}`

	status, out := f.call("POST", "/v19.0/me/messages", to(f.link.ID, text))
	graphError(t, status, out, 401, 190, 0)
	status, out = f.call("POST", "/v19.0/me/messages?access_token=otk_nope_nope", to(f.link.ID, text))
	graphError(t, status, out, 401, 190, 0)

	// Another institution's customer is nobody to this one.
	in2, _, err := server.CreateInstitution(context.Background(), f.srv.Store, store.Institution{Name: "Other Bank", AuthorizeURL: "https://x", TokenURL: "https://x", ClientID: "x"})
	if err != nil {
		t.Fatal(err)
	}
	stranger := f.addLink(in2.ID, "balances")
	for _, id := range []string{stranger.ID, "lnk_aaaaaaaaaaaaaaaaaaaaaaaaaa", "1234567890"} {
		status, out = f.send(to(id, text))
		graphError(t, status, out, 400, 100, 2018001)
	}

	cases := []struct {
		name, body string
		code, sub  int
		contains   string
	}{
		{"no recipient", `{"message":{"text":"hi"}}`, 100, 0, "recipient"},
		{"phone number", `{"recipient":{"phone_number":"+15551234567"},"message":{"text":"hi"}}`, 100, 0, "phone number"},
		{"no message", `{"recipient":{"id":"` + f.link.ID + `"}}`, 100, 0, "message"},
		{"text and attachment", to(f.link.ID, `{"text":"hi","attachment":{"type":"template","payload":{"template_type":"button","text":"x","buttons":[]}}}`), 100, 0, "exactly one"},
		{"bad messaging type", `{"messaging_type":"PROMOTION","recipient":{"id":"` + f.link.ID + `"},"message":{"text":"hi"}}`, 100, 0, "messaging_type"},
		{"tag without MESSAGE_TAG", `{"messaging_type":"UPDATE","tag":"ACCOUNT_UPDATE","recipient":{"id":"` + f.link.ID + `"},"message":{"text":"hi"}}`, 100, 0, "tag"},
		{"retired tag", `{"messaging_type":"MESSAGE_TAG","tag":"ISSUE_RESOLUTION","recipient":{"id":"` + f.link.ID + `"},"message":{"text":"hi"}}`, 100, 0, "ACCOUNT_UPDATE"},
		{"card number", to(f.link.ID, `{"text":"your card 4111 1111 1111 1111"}`), 100, 0, "card number"},
		{"card number in a quick reply", to(f.link.ID, `{"text":"pick","quick_replies":[{"content_type":"text","title":"x","payload":"4111111111111111"}]}`), 100, 0, "card number"},
		{"14 quick replies", to(f.link.ID, `{"text":"pick","quick_replies":[`+strings.Repeat(`{"content_type":"text","title":"x","payload":"p"},`, 13)+`{"content_type":"text","title":"x","payload":"p"}]}`), 100, 0, "13"},
		{"email quick reply", to(f.link.ID, `{"text":"your email?","quick_replies":[{"content_type":"user_email"}]}`), 100, 0, "email"},
		{"quick reply image", to(f.link.ID, `{"text":"pick","quick_replies":[{"content_type":"text","title":"x","payload":"p","image_url":"https://bank.example/i.png"}]}`), 100, 0, "images"},
		{"image attachment", to(f.link.ID, `{"attachment":{"type":"image","payload":{"url":"https://bank.example/i.png"}}}`), 100, 0, "no images"},
		{"media template", to(f.link.ID, `{"attachment":{"type":"template","payload":{"template_type":"media","elements":[]}}}`), 100, 0, "button, generic and receipt"},
		{"phone button", to(f.link.ID, `{"attachment":{"type":"template","payload":{"template_type":"button","text":"call us","buttons":[{"type":"phone_number","title":"Call","payload":"+15551234567"}]}}}`), 100, 0, "phone_number"},
		{"http button", to(f.link.ID, `{"attachment":{"type":"template","payload":{"template_type":"button","text":"see","buttons":[{"type":"web_url","title":"Open","url":"http://bank.example"}]}}}`), 100, 0, "https"},
		{"unknown field", to(f.link.ID, `{"text":"hi","sticker_id":1}`), 100, 0, "sticker_id"},
		{"persona", `{"persona_id":"1","recipient":{"id":"` + f.link.ID + `"},"message":{"text":"hi"}}`, 100, 0, "persona"},
		{"receipt without the receipts scope", to(f.link.ID, `{"attachment":{"type":"template","payload":{"template_type":"receipt","recipient_name":"Ada","order_number":"1","currency":"USD","payment_method":"Visa 1234","elements":[{"title":"Tea","price":4}],"summary":{"total_cost":4}}}}`), 10, 2018278, "scope"},
		{"sender action with a message", `{"recipient":{"id":"` + f.link.ID + `"},"sender_action":"typing_on","message":{"text":"hi"}}`, 100, 0, "sender_action"},
		{"unknown sender action", `{"recipient":{"id":"` + f.link.ID + `"},"sender_action":"dance"}`, 100, 0, "typing_on"},
	}
	for _, c := range cases {
		status, out := f.send(c.body)
		msg := graphError(t, status, out, 400, c.code, c.sub)
		if !strings.Contains(msg, c.contains) {
			t.Errorf("%s: message %q does not say %q", c.name, msg, c.contains)
		}
	}
	if evs := f.bankEvents(f.link); len(evs) != 0 {
		t.Fatalf("refused requests stored %d events", len(evs))
	}
	// A card number is never quoted back.
	_, out = f.send(to(f.link.ID, `{"text":"4111 1111 1111 1111"}`))
	if b, _ := json.Marshal(out); strings.Contains(string(b), "4111") {
		t.Fatalf("the refusal quotes the card number: %s", b)
	}

	// Ended consent: expired is outside the allowed window; revoked is a
	// person who isn't available.
	ctx := context.Background()
	if _, err := f.srv.Consent.Revoke(ctx, store.Revocation{LinkID: other.ID, CustomerID: other.CustomerID, At: time.Now()}); err != nil {
		t.Fatal(err)
	}
	status, out = f.send(to(other.ID, text))
	graphError(t, status, out, 400, 551, 1545041)
	status, out = f.send(`{"recipient":{"id":"` + other.ID + `"},"sender_action":"typing_on"}`)
	graphError(t, status, out, 400, 551, 1545041)
	// A link whose term has run out, before the expiry sweep ends it.
	lapsed := f.addLinkUntil(f.ins, time.Now().Add(-time.Minute), "balances")
	status, out = f.send(to(lapsed.ID, text))
	if msg := graphError(t, status, out, 400, 10, 2018278); !strings.Contains(msg, "expired") {
		t.Fatalf("an expired link: %s", msg)
	}

	// Unknown paths and methods under a Graph version are Graph errors too;
	// the Bank API's /v1/ is untouched.
	status, out = f.call("GET", "/v19.0/me/messages?access_token="+f.key, "")
	graphError(t, status, out, 400, 100, 33)
	status, out = f.call("POST", "/v19.0/me/personas?access_token="+f.key, `{}`)
	graphError(t, status, out, 400, 100, 33)
	status, out = f.call("POST", "/v19.0/ins_someoneelse/messages?access_token="+f.key, to(f.link.ID, text))
	graphError(t, status, out, 400, 100, 33)
	status, out = f.call("GET", "/v1/events", "")
	if status != 405 {
		t.Fatalf("GET /v1/events: %d %v", status, out)
	}
}

func TestAppSecretProof(t *testing.T) {
	f := setup(t)
	body := `{"recipient":{"id":"` + f.link.ID + `"},"message":{"text":"proved"}}`
	status, out := f.call("POST", "/v19.0/me/messages?access_token="+f.key+"&appsecret_proof=00", body)
	if msg := graphError(t, status, out, 400, 100, 0); !strings.Contains(msg, "appsecret_proof") {
		t.Fatalf("proof without an app secret: %s", msg)
	}
	// The app secret is the webhook endpoint's secret.
	req, _ := http.NewRequest("POST", f.url+"/v1/webhook-endpoints", strings.NewReader(`{"url":"https://bank.example/hooks"}`))
	req.Header.Set("Authorization", "Bearer "+f.key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var reg struct{ Secret string }
	json.NewDecoder(resp.Body).Decode(&reg)
	resp.Body.Close()
	good := hex.EncodeToString(appSecretProof(reg.Secret, f.key))
	bad := hex.EncodeToString(appSecretProof("whsec_other", f.key))
	status, out = f.call("POST", "/v19.0/me/messages?access_token="+f.key+"&appsecret_proof="+bad, body)
	graphError(t, status, out, 400, 100, 0)
	if status, out = f.call("POST", "/v19.0/me/messages?access_token="+f.key+"&appsecret_proof="+good, body); status != 200 {
		t.Fatalf("a good proof: %d %v", status, out)
	}
	// The bot's side of it (appSecretProof, below) against a known value
	// computed apart from this code.
	if got := hex.EncodeToString(appSecretProof("whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=", "otk_abc_def")); got != "2fa7fbfea4fed4446d6313c5002cbdf93bed4f63dfcc2bebe4b32921cf063c13" {
		t.Fatalf("appsecret_proof %s", got)
	}
}

func TestTemplates(t *testing.T) {
	f := setup(t, "receipts")
	to := func(payload string) string {
		return `{"recipient":{"id":"` + f.link.ID + `"},"message":{"attachment":{"type":"template","payload":` + payload + `}}}`
	}
	status, out := f.send(to(`{"template_type":"button","text":"Your card is locked","buttons":[{"type":"postback","title":"Unlock","payload":"UNLOCK"},{"type":"web_url","title":"Details","url":"https://bank.example/card","webview_height_ratio":"tall"}]}`))
	if status != 200 {
		t.Fatalf("button: %d %v", status, out)
	}
	status, out = f.send(to(`{"template_type":"generic","elements":[{"title":"Everyday Checking","subtitle":"••1234","buttons":[{"type":"postback","title":"Balance","payload":"BAL_1234"}]},{"title":"Savings"}]}`))
	if status != 200 {
		t.Fatalf("generic: %d %v", status, out)
	}
	// A generic template with a card number in its second element stores
	// nothing, not even its first.
	status, out = f.send(to(`{"template_type":"generic","elements":[{"title":"fine"},{"title":"card 4111111111111111"}]}`))
	if msg := graphError(t, status, out, 400, 100, 0); !strings.Contains(msg, "Element 1") {
		t.Fatalf("generic with a card number: %s", msg)
	}
	receipt := `{"template_type":"receipt","recipient_name":"Ada Lovelace","order_number":"12345678902","currency":"USD","payment_method":"Visa 2345","order_url":"https://shop.example/o/1","timestamp":"1428444852",
		"address":{"street_1":"1 Hacker Way","city":"Menlo Park","postal_code":"94025","state":"CA","country":"US"},
		"summary":{"subtotal":75.00,"shipping_cost":4.95,"total_tax":6.19,"total_cost":56.14},
		"elements":[{"title":"Classic White T-Shirt","subtitle":"100% Soft and Luxurious Cotton","quantity":2,"price":50,"currency":"USD"},{"title":"Classic Gray T-Shirt","quantity":1,"price":25,"currency":"USD"}]}`
	if status, out = f.send(to(receipt)); status != 200 {
		t.Fatalf("receipt: %d %v", status, out)
	}
	// 10.00 does not split into three unit prices: refused, not rounded.
	status, out = f.send(to(`{"template_type":"receipt","order_number":"9","currency":"USD","payment_method":"Visa 2345","elements":[{"title":"Pens","quantity":3,"price":10}],"summary":{"total_cost":10}}`))
	graphError(t, status, out, 400, 100, 0)
	status, out = f.send(to(`{"template_type":"receipt","order_number":"9","currency":"USD","payment_method":"Visa 2345","adjustments":[{"name":"coupon","amount":1}],"elements":[{"title":"Pen","price":1}],"summary":{"total_cost":0}}`))
	if msg := graphError(t, status, out, 400, 100, 0); !strings.Contains(msg, "adjustments") {
		t.Fatalf("adjustments: %s", msg)
	}

	evs := f.bankEvents(f.link)
	if len(evs) != 4 {
		t.Fatalf("stored %d events, want 4: %+v", len(evs), evs)
	}
	var button, g1, g2 bankapi.Message
	json.Unmarshal(evs[0].Data, &button)
	json.Unmarshal(evs[1].Data, &g1)
	json.Unmarshal(evs[2].Data, &g2)
	if button.Text != "Your card is locked" || len(button.Buttons) != 2 || button.Buttons[0] != (bankapi.Button{Label: "Unlock", Payload: "UNLOCK"}) || button.Buttons[1].URL != "https://bank.example/card" {
		t.Fatalf("button template became %+v", button)
	}
	if g1.Text != "Everyday Checking\n••1234" || len(g1.Buttons) != 1 || g2.Text != "Savings" {
		t.Fatalf("generic template became %+v and %+v", g1, g2)
	}
	var r bankapi.Receipt
	if evs[3].Type != bankapi.TypeReceipt || json.Unmarshal(evs[3].Data, &r) != nil {
		t.Fatalf("receipt stored as %+v", evs[3])
	}
	if r.Merchant.Name != "Cedar Bank" || r.OrderNumber != "12345678902" || r.Payment != (bankapi.Payment{Brand: "Visa", Last4: "2345"}) ||
		r.Total != (bankapi.Money{Amount: "56.14", Currency: "USD"}) || r.Subtotal.Amount != "75.00" || r.Shipping.Amount != "4.95" || r.Tax.Amount != "6.19" ||
		len(r.Items) != 2 || r.Items[0].UnitPrice.Amount != "25.00" || r.Items[0].Total.Amount != "50" || r.Items[0].Quantity != 2 ||
		r.Address != "1 Hacker Way, Menlo Park, CA 94025, US" {
		t.Fatalf("receipt %+v", r)
	}
}

func TestSenderAction(t *testing.T) {
	f := setup(t)
	for _, a := range []string{"typing_on", "typing_off", "mark_seen"} {
		status, out := f.send(`{"recipient":{"id":"` + f.link.ID + `"},"sender_action":"` + a + `"}`)
		if status != 200 || out["recipient_id"] != f.link.ID || out["message_id"] != nil {
			t.Fatalf("%s: %d %v", a, status, out)
		}
	}
	if evs := f.events(f.link, 0); len(evs) != 0 {
		t.Fatalf("a sender action stored %+v", evs)
	}
}

func TestProfile(t *testing.T) {
	f := setup(t)
	path := "/v19.0/me/messenger_profile?access_token=" + f.key
	status, out := f.call("GET", path+"&fields=get_started,persistent_menu", "")
	if status != 200 || len(out["data"].([]any)) != 0 {
		t.Fatalf("empty profile: %d %v", status, out)
	}
	status, out = f.call("POST", path, `{"get_started":{"payload":"GET_STARTED"},"persistent_menu":[{"locale":"default","composer_input_disabled":false,"call_to_actions":[{"type":"postback","title":"Block my card","payload":"BLOCK"},{"type":"web_url","title":"Branches","url":"https://bank.example/branches","webview_height_ratio":"full"}]}]}`)
	if status != 200 || out["result"] != "success" {
		t.Fatalf("set profile: %d %v", status, out)
	}
	m, err := f.srv.Store.Menu(context.Background(), f.ins)
	if err != nil || m.GetStarted != "GET_STARTED" || len(m.Items) != 2 || m.Items[0] != (store.MenuItem{Title: "Block my card", Payload: "BLOCK"}) || m.Items[1].URL != "https://bank.example/branches" {
		t.Fatalf("menu %+v, %v", m, err)
	}
	status, out = f.call("GET", path+"&fields=get_started,persistent_menu", "")
	b, _ := json.Marshal(out)
	if status != 200 || !strings.Contains(string(b), `"get_started":{"payload":"GET_STARTED"}`) || !strings.Contains(string(b), `"payload":"BLOCK"`) {
		t.Fatalf("get profile: %d %s", status, b)
	}
	for _, bad := range []string{
		`{"greeting":[{"locale":"default","text":"Hi"}]}`,
		`{"persistent_menu":[{"locale":"default","composer_input_disabled":true,"call_to_actions":[{"type":"postback","title":"x","payload":"x"}]}]}`,
		`{"persistent_menu":[{"locale":"default","call_to_actions":[{"type":"postback","title":"x","payload":"4111111111111111"}]}]}`,
		`{"persistent_menu":[{"locale":"fr_FR","call_to_actions":[{"type":"postback","title":"x","payload":"x"}]}]}`,
	} {
		status, out := f.call("POST", path, bad)
		graphError(t, status, out, 400, 100, 0)
	}
	if m2, _ := f.srv.Store.Menu(context.Background(), f.ins); len(m2.Items) != 2 || m2.GetStarted != "GET_STARTED" {
		t.Fatalf("a refused profile changed the menu: %+v", m2)
	}
	if status, out = f.call("DELETE", path, `{"fields":["get_started"]}`); status != 200 || out["result"] != "success" {
		t.Fatalf("delete: %d %v", status, out)
	}
	if m2, _ := f.srv.Store.Menu(context.Background(), f.ins); m2.GetStarted != "" || len(m2.Items) != 2 {
		t.Fatalf("after delete %+v", m2)
	}
}

func TestHandoverProtocol(t *testing.T) {
	f := setup(t, "support_chat")
	post := func(edge, body string) (int, map[string]any) {
		return f.call("POST", "/v19.0/me/"+edge+"?access_token="+f.key, body)
	}
	owner := func() string {
		_, out := f.call("GET", "/v19.0/me/thread_owner?access_token="+f.key+"&recipient="+f.link.ID, "")
		return out["data"].([]any)[0].(map[string]any)["thread_owner"].(map[string]any)["app_id"].(string)
	}
	rcpt := `"recipient":{"id":"` + f.link.ID + `"}`
	if got := owner(); got != f.ins {
		t.Fatalf("owner at first %s", got)
	}
	status, out := post("pass_thread_control", `{`+rcpt+`,"target_app_id":12345,"metadata":"x"}`)
	graphError(t, status, out, 400, 100, 0)
	if status, out = post("pass_thread_control", `{`+rcpt+`,"target_app_id":263902037430900,"metadata":"needs a person"}`); status != 200 || out["success"] != true {
		t.Fatalf("pass: %d %v", status, out)
	}
	c, _ := f.srv.Store.Conversation(context.Background(), f.link.ConversationID)
	if c.Owner != "queue" || owner() != messenger.PageInboxAppID {
		t.Fatalf("after pass: %s, %s", c.Owner, owner())
	}
	if status, out = post("take_thread_control", `{`+rcpt+`}`); status != 200 || owner() != f.ins {
		t.Fatalf("take: %d %v", status, out)
	}
	if status, out = post("release_thread_control", `{`+rcpt+`}`); status != 200 || owner() != messenger.PageInboxAppID {
		t.Fatalf("release: %d %v", status, out)
	}
	if status, out = post("request_thread_control", `{`+rcpt+`}`); status != 200 || owner() != f.ins {
		t.Fatalf("request while it waits: %d %v", status, out)
	}
	// Without support_chat the people cannot see it: refused, unchanged.
	plain := f.addLink(f.ins, "balances")
	status, out = post("pass_thread_control", `{"recipient":{"id":"`+plain.ID+`"},"target_app_id":"263902037430900"}`)
	graphError(t, status, out, 400, 10, 0)
	c, _ = f.srv.Store.Conversation(context.Background(), plain.ConversationID)
	if c.Owner != "" && c.Owner != "bot" {
		t.Fatalf("a refused pass moved the conversation to %s", c.Owner)
	}
	status, out = post("take_thread_control", `{"recipient":{"id":"lnk_aaaaaaaaaaaaaaaaaaaaaaaaaa"}}`)
	graphError(t, status, out, 400, 100, 2018001)
}

// appSecretProof is what a Graph client sends: the hex HMAC-SHA256 of the
// access token keyed with the app secret's text.
func appSecretProof(appSecret, token string) []byte {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write([]byte(token))
	return m.Sum(nil)
}
