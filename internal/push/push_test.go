package push

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/testenv"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// Device is a browser's side of a push subscription, for tests: its key
// pair and secret, and a local push service that checks each request's
// VAPID signature and decrypts it as the browser would (RFC 8291).
type Device struct {
	t      testing.TB
	key    *ecdh.PrivateKey
	auth   []byte
	server *httptest.Server
	Status int            // what the push service answers; 201 unless set
	Got    chan Delivered // what it received, decrypted
}

// Delivered is one push as the device read it.
type Delivered struct {
	Message  Message
	Urgency  string
	TTL      string
	Audience string // the VAPID token's aud
	Raw      []byte // the request body, encrypted
}

func NewDevice(t testing.TB, vapidPublic func() string) *Device {
	t.Helper()
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	d := &Device{t: t, key: key, auth: make([]byte, 16), Status: http.StatusCreated, Got: make(chan Delivered, 16)}
	rand.Read(d.auth)
	d.server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || !strings.HasPrefix(r.URL.Path, "/push/") {
			// Not a push to one of this device's endpoints: loopback ports
			// are reused, and another package's test may still be polling
			// a server that had this one's port a moment ago.
			http.NotFound(w, r)
			return
		}
		body, _ := io.ReadAll(r.Body)
		aud, err := verifyVAPID(r.Header.Get("Authorization"), vapidPublic())
		if err != nil {
			t.Errorf("push request: VAPID: %v", err)
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		if r.Header.Get("Content-Encoding") != "aes128gcm" {
			t.Errorf("push request: Content-Encoding %q", r.Header.Get("Content-Encoding"))
		}
		plain, err := d.decrypt(body)
		if err != nil {
			t.Errorf("push request: decrypt: %v", err)
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		var m Message
		if err := json.Unmarshal(plain, &m); err != nil {
			t.Errorf("push payload %q: %v", plain, err)
		}
		w.WriteHeader(d.Status)
		d.Got <- Delivered{Message: m, Urgency: r.Header.Get("Urgency"), TTL: r.Header.Get("TTL"), Audience: aud, Raw: body}
	}))
	t.Cleanup(d.server.Close)
	return d
}

// Subscription is what the browser's PushSubscription.toJSON() gives.
func (d *Device) Subscription() map[string]any {
	return map[string]any{
		"endpoint":       d.server.URL + "/push/" + fmt.Sprint(time.Now().UnixNano()),
		"expirationTime": nil,
		"keys": map[string]string{
			"p256dh": base64.RawURLEncoding.EncodeToString(d.key.PublicKey().Bytes()),
			"auth":   base64.RawURLEncoding.EncodeToString(d.auth),
		},
	}
}

// decrypt opens an aes128gcm body (RFC 8188) with the keys of RFC 8291.
func (d *Device) decrypt(body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, fmt.Errorf("body of %d bytes", len(body))
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if len(body) < 21+idlen || idlen != 65 {
		return nil, fmt.Errorf("key id of %d bytes", idlen)
	}
	senderPub, ciphertext := body[21:21+idlen], body[21+idlen:]
	if uint32(len(ciphertext)) > rs {
		return nil, fmt.Errorf("%d bytes in a record of %d", len(ciphertext), rs)
	}
	peer, err := ecdh.P256().NewPublicKey(senderPub)
	if err != nil {
		return nil, err
	}
	secret, err := d.key.ECDH(peer)
	if err != nil {
		return nil, err
	}
	mac := func(key []byte, parts ...[]byte) []byte {
		h := hmac.New(sha256.New, key)
		for _, p := range parts {
			h.Write(p)
		}
		return h.Sum(nil)
	}
	prkKey := mac(d.auth, secret)
	ikm := mac(prkKey, []byte("WebPush: info\x00"), d.key.PublicKey().Bytes(), senderPub, []byte{1})
	prk := mac(salt, ikm)
	cek := mac(prk, []byte("Content-Encoding: aes128gcm\x00\x01"))[:16]
	nonce := mac(prk, []byte("Content-Encoding: nonce\x00\x01"))[:12]
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, ciphertext, nil)
	if err != nil {
		return nil, err
	}
	plain = bytes.TrimRight(plain, "\x00")
	if len(plain) == 0 || plain[len(plain)-1] != 2 {
		return nil, fmt.Errorf("no last-record delimiter")
	}
	return plain[:len(plain)-1], nil
}

// verifyVAPID checks "vapid t=<jwt>, k=<key>" (RFC 8292): the key is the
// platform's, the token is signed by it (ES256), not expired, and names
// the push service's origin; it returns that origin.
func verifyVAPID(header, wantKey string) (string, error) {
	rest, ok := strings.CutPrefix(header, "vapid ")
	if !ok {
		return "", fmt.Errorf("authorization %q", header)
	}
	params := map[string]string{}
	for _, p := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		params[k] = v
	}
	if strings.TrimRight(params["k"], "=") != strings.TrimRight(wantKey, "=") {
		return "", fmt.Errorf("k=%s, want the platform's %s", params["k"], wantKey)
	}
	pubBytes, err := base64.RawURLEncoding.DecodeString(params["k"])
	if err != nil {
		return "", err
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), pubBytes)
	if err != nil {
		return "", err
	}
	parts := strings.Split(params["t"], ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("token %q", params["t"])
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return "", fmt.Errorf("signature of %d bytes", len(sig))
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return "", fmt.Errorf("the token's signature does not verify")
	}
	claims, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var c struct {
		Aud string `json:"aud"`
		Exp int64  `json:"exp"`
		Sub string `json:"sub"`
	}
	if err := json.Unmarshal(claims, &c); err != nil {
		return "", err
	}
	if c.Exp < time.Now().Unix() || c.Sub == "" {
		return "", fmt.Errorf("claims %+v", c)
	}
	return c.Aud, nil
}

// rig is a push service over a real SQLite store, with the HTTP routes
// mounted for one customer at a time (the X-Customer header stands in for
// the session).
type rig struct {
	svc  *Service
	st   store.Store
	mux  *http.ServeMux
	stop context.CancelFunc
}

func newRig(t *testing.T) *rig {
	t.Helper()
	st := testenv.SQLite(t)
	keyring, err := vault.New(bytes.Repeat([]byte{7}, 32), st)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	must(t, st.CreateInstitution(ctx, store.Institution{ID: "ins_cedar", Name: "Cedar Bank", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: time.Now()}))
	for _, id := range []string{"cus_1", "cus_2"} {
		must(t, st.CreateCustomer(ctx, store.Customer{ID: id, Email: id + "@example.com", PasswordHash: "x", CreatedAt: time.Now()}))
	}
	svc, err := New(ctx, Config{Store: st, Keyring: keyring, Client: http.DefaultClient, Logger: slog.New(slog.DiscardHandler),
		Subject: "https://openteller.example", AllowHTTP: true})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	requireCustomer := func(h http.Handler) http.Handler { return h }
	customerOf := func(r *http.Request) (string, bool) { return r.Header.Get("X-Customer"), true }
	svc.Routes(mux, requireCustomer, customerOf)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { svc.Run(runCtx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	return &rig{svc: svc, st: st, mux: mux, stop: stop}
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// call makes a request as the customer and returns the status and body.
func (r *rig) call(customerID, method, path string, body any) (int, string) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req := httptest.NewRequest(method, path, rd)
	req.Header.Set("X-Customer", customerID)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

func (r *rig) subscribe(t *testing.T, customerID string, d *Device, kinds ...string) string {
	t.Helper()
	sub := d.Subscription()
	sub["kinds"] = kinds
	if code, body := r.call(customerID, "PUT", "/app/api/push/subscription", sub); code != http.StatusOK {
		t.Fatalf("subscribe: %d %s", code, body)
	}
	return sub["endpoint"].(string)
}

func event(customerID, typ, author string) store.Event {
	return store.Event{ID: "evt_" + typ + author, ConversationID: "cnv_" + customerID, CustomerID: customerID, InstitutionID: "ins_cedar",
		Type: typ, Author: author, Sealed: []byte("sealed: 4,200.00 at Quokka Outfitters")}
}

func (d *Device) next(t *testing.T) Delivered {
	t.Helper()
	select {
	case got := <-d.Got:
		return got
	case <-time.After(10 * time.Second):
		t.Fatal("no push within 10 s")
		return Delivered{}
	}
}

// TestPushTellsWithoutContent: a committed fraud alert reaches the
// customer's subscribed device as a push the device can decrypt, signed
// by the platform's VAPID key, urgent, saying who needs an answer and
// nothing of the alert; kinds the device did not ask for are not pushed;
// another customer's device hears nothing.
func TestPushTellsWithoutContent(t *testing.T) {
	r := newRig(t)
	mine, theirs := NewDevice(t, r.svc.PublicKey), NewDevice(t, r.svc.PublicKey)
	r.subscribe(t, "cus_1", mine, KindAlerts, KindPeople)
	r.subscribe(t, "cus_2", theirs, KindAlerts)

	// A reply (not asked for) and a transaction (never pushed) come first,
	// then the alert: the first push the device gets must be the alert.
	r.svc.Committed([]store.Event{event("cus_1", bankapi.TypeMessage, store.AuthorInstitution), event("cus_1", bankapi.TypeTransactionPosted, store.AuthorInstitution)})
	r.svc.Committed([]store.Event{event("cus_1", bankapi.TypeFraudAlert, store.AuthorInstitution)})
	got := mine.next(t)
	want := Message{Title: "Cedar Bank needs your answer", Body: "Open OpenTeller to answer.", Tag: "alerts:cnv_cus_1", URL: "/#/c/cnv_cus_1", Kind: "alerts", Institution: "Cedar Bank"}
	if got.Message != want {
		t.Fatalf("push %+v, want %+v", got.Message, want)
	}
	if got.Urgency != "high" || got.Audience != mine.server.URL {
		t.Errorf("urgency %q, audience %q (want high, %s)", got.Urgency, got.Audience, mine.server.URL)
	}
	for _, leak := range []string{"4,200", "Quokka", "sealed"} {
		if bytes.Contains(got.Raw, []byte(leak)) || strings.Contains(fmt.Sprint(got.Message), leak) {
			t.Errorf("the push carries %q", leak)
		}
	}

	r.svc.Committed([]store.Event{event("cus_1", bankapi.TypeMessage, store.AuthorAgent)})
	if got := mine.next(t); got.Message.Title != "Cedar Bank: a message from a person" || got.Urgency != "normal" {
		t.Fatalf("a person's message: %+v", got)
	}
	select {
	case got := <-theirs.Got:
		t.Fatalf("another customer's device got %+v", got)
	case <-mine.Got:
		t.Fatal("a push too many")
	default:
	}
}

// TestPushInTheAccountsLanguage: a customer who chose French on their
// account gets their pushes in French, written by the server, naming the
// language, with no browser involved (no page has left the device words,
// no request carries a cookie); another customer, who chose none, gets
// theirs in English naming none, so their device says them in its own.
func TestPushInTheAccountsLanguage(t *testing.T) {
	r := newRig(t)
	must(t, r.st.SetCustomerLanguage(context.Background(), "cus_1", "fr"))
	french, other := NewDevice(t, r.svc.PublicKey), NewDevice(t, r.svc.PublicKey)
	r.subscribe(t, "cus_1", french, KindAlerts, KindPayments)
	r.subscribe(t, "cus_2", other, KindAlerts)

	r.svc.Committed([]store.Event{event("cus_1", bankapi.TypeFraudAlert, store.AuthorInstitution), event("cus_2", bankapi.TypeFraudAlert, store.AuthorInstitution)})
	got := french.next(t)
	want := Message{Title: "Cedar Bank attend votre réponse", Body: "Ouvrez OpenTeller pour répondre.", Tag: "alerts:cnv_cus_1", URL: "/#/c/cnv_cus_1",
		Kind: "alerts", Institution: "Cedar Bank", Lang: "fr"}
	if got.Message != want {
		t.Fatalf("a French customer's push %+v, want %+v", got.Message, want)
	}
	if got := other.next(t); got.Message.Title != "Cedar Bank needs your answer" || got.Message.Lang != "" {
		t.Fatalf("a customer who chose no language: %+v", got.Message)
	}
	r.svc.Committed([]store.Event{event("cus_1", bankapi.TypePaymentRequest, store.AuthorInstitution)})
	if got := french.next(t); got.Message.Title != "Cedar Bank vous demande d’approuver un paiement" || got.Message.Lang != "fr" {
		t.Fatalf("a payment request, in French: %+v", got.Message)
	}
}

// TestPaymentRequestIsPushed: a payment request that waits for the
// customer's answer reaches a device that asked for payments (offered in
// the settings, after alerts), saying which bank asks and nothing of the
// request: no amount, no merchant, no payee. A device that did not ask
// for payments hears nothing of it, and neither a payment's status nor the
// customer's own answer is pushed.
func TestPaymentRequestIsPushed(t *testing.T) {
	r := newRig(t)
	if code, body := r.call("cus_1", "GET", "/app/api/push", nil); code != 200 || !strings.Contains(body, `"kinds":["alerts","payments","people","replies"]`) {
		t.Fatalf("settings: %d %s", code, body)
	}
	phone, laptop := NewDevice(t, r.svc.PublicKey), NewDevice(t, r.svc.PublicKey)
	r.subscribe(t, "cus_1", phone, KindPayments, KindAlerts)
	r.subscribe(t, "cus_1", laptop, KindAlerts)

	request := event("cus_1", bankapi.TypePaymentRequest, store.AuthorInstitution)
	request.Sealed = []byte(`sealed: {"amount":{"amount":"4200.00","currency":"USD"},"reference":"Order A-1042","payee":{"name":"Quokka Outfitters"}}`)
	r.svc.Committed([]store.Event{
		event("cus_1", bankapi.TypePaymentStatus, store.AuthorInstitution),
		event("cus_1", bankapi.TypePaymentRequest, store.AuthorCustomer), // not the bank's: never so, but never pushed
	})
	r.svc.Committed([]store.Event{request})
	got := phone.next(t)
	want := Message{Title: "Cedar Bank asks you to approve a payment", Body: "Open OpenTeller to see it and answer.", Tag: "payments:cnv_cus_1", URL: "/#/c/cnv_cus_1", Kind: "payments", Institution: "Cedar Bank"}
	if got.Message != want {
		t.Fatalf("push %+v, want %+v", got.Message, want)
	}
	if got.Urgency != "normal" {
		t.Errorf("urgency %q, want normal", got.Urgency)
	}
	for _, leak := range []string{"4200", "4,200", "Quokka", "A-1042", "USD", "sealed"} {
		if bytes.Contains(got.Raw, []byte(leak)) || strings.Contains(fmt.Sprint(got.Message), leak) {
			t.Errorf("the push carries %q", leak)
		}
	}
	// Batches are sent one after another: once the alert arrives, the
	// request's pushes, if any, were sent.
	r.svc.Committed([]store.Event{event("cus_1", bankapi.TypeFraudAlert, store.AuthorInstitution)})
	phone.next(t)
	if got := laptop.next(t); got.Message.Title != "Cedar Bank needs your answer" {
		t.Fatalf("the laptop, which asked for alerts only, first got %+v", got.Message)
	}
	select {
	case got := <-phone.Got:
		t.Fatalf("a push too many: %+v", got.Message)
	case got := <-laptop.Got:
		t.Fatalf("a push too many: %+v", got.Message)
	default:
	}
}

// TestGoneSubscriptionsAreForgotten: when the push service answers 410,
// the subscription is deleted, and the next alert is not sent to it.
func TestGoneSubscriptionsAreForgotten(t *testing.T) {
	r := newRig(t)
	d := NewDevice(t, r.svc.PublicKey)
	endpoint := r.subscribe(t, "cus_1", d, KindAlerts)
	d.Status = http.StatusGone
	r.svc.Committed([]store.Event{event("cus_1", bankapi.TypeFraudAlert, store.AuthorInstitution)})
	d.next(t)
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		subs, err := r.st.PushSubscriptions(context.Background(), []string{"cus_1"})
		must(t, err)
		if len(subs) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the gone subscription is still stored: %+v", subs)
		}
	}
	if code, body := r.call("cus_1", "GET", "/app/api/push?endpoint="+endpoint, nil); code != 200 || !strings.Contains(body, `"subscription":null`) {
		t.Fatalf("settings after 410: %d %s", code, body)
	}
}

// TestSubscriptionRequests: the settings API refuses what no push service
// would take, with a typed error, storing nothing; a device is one
// customer's; turning off works once.
func TestSubscriptionRequests(t *testing.T) {
	r := newRig(t)
	d := NewDevice(t, r.svc.PublicKey)
	good := d.Subscription()
	with := func(change func(m map[string]any)) map[string]any {
		m := d.Subscription()
		m["endpoint"] = good["endpoint"]
		m["kinds"] = []string{KindAlerts}
		change(m)
		return m
	}
	for name, tc := range map[string]struct {
		body any
		code string
	}{
		"ftp endpoint": {with(func(m map[string]any) { m["endpoint"] = "ftp://push.example/x" }), "invalid_endpoint"},
		"no endpoint":  {with(func(m map[string]any) { delete(m, "endpoint") }), "invalid_endpoint"},
		"short key": {with(func(m map[string]any) {
			m["keys"] = map[string]string{"p256dh": "AAAA", "auth": "AAAAAAAAAAAAAAAAAAAAAA"}
		}), "invalid_keys"},
		"long auth":        {with(func(m map[string]any) { m["keys"].(map[string]string)["auth"] = strings.Repeat("A", 40) }), "invalid_keys"},
		"no kinds":         {with(func(m map[string]any) { m["kinds"] = []string{} }), "invalid_kinds"},
		"unknown kind":     {with(func(m map[string]any) { m["kinds"] = []string{"ads"} }), "invalid_kinds"},
		"unknown field":    {with(func(m map[string]any) { m["colour"] = "red" }), "invalid_json"},
		"not json at all":  {"nope", "invalid_json"},
		"kinds not a list": {with(func(m map[string]any) { m["kinds"] = "alerts" }), "invalid_json"},
	} {
		code, body := r.call("cus_1", "PUT", "/app/api/push/subscription", tc.body)
		if code != http.StatusBadRequest || !strings.Contains(body, `"code":"`+tc.code+`"`) {
			t.Errorf("%s: %d %s, want 400 %s", name, code, body, tc.code)
		}
	}
	if subs, _ := r.st.PushSubscriptions(context.Background(), []string{"cus_1"}); len(subs) != 0 {
		t.Fatalf("refused requests stored %+v", subs)
	}

	endpoint := r.subscribe(t, "cus_1", d, KindReplies, KindAlerts, KindAlerts)
	if code, body := r.call("cus_1", "GET", "/app/api/push?endpoint="+endpoint, nil); code != 200 ||
		!strings.Contains(body, `"subscription":{"kinds":["alerts","replies"]}`) || !strings.Contains(body, `"public_key":"`+r.svc.PublicKey()+`"`) {
		t.Fatalf("settings: %d %s", code, body)
	}
	// Another account cannot turn this device off; it can sign in on the
	// device and turn it on for itself, and then the device is its own.
	if code, _ := r.call("cus_2", "DELETE", "/app/api/push/subscription?endpoint="+endpoint, nil); code != http.StatusNotFound {
		t.Fatalf("another account's delete: %d", code)
	}
	sub := d.Subscription()
	sub["endpoint"], sub["kinds"] = endpoint, []string{KindAlerts}
	if code, body := r.call("cus_2", "PUT", "/app/api/push/subscription", sub); code != http.StatusOK {
		t.Fatalf("another account signs in on the device: %d %s", code, body)
	}
	if code, body := r.call("cus_1", "GET", "/app/api/push?endpoint="+endpoint, nil); !strings.Contains(body, `"subscription":null`) {
		t.Fatalf("the first account still has the device: %d %s", code, body)
	}
	if code, _ := r.call("cus_1", "DELETE", "/app/api/push/subscription?endpoint="+endpoint, nil); code != http.StatusNotFound {
		t.Fatalf("the first account deletes the device it lost: %d", code)
	}
	if code, _ := r.call("cus_2", "DELETE", "/app/api/push/subscription?endpoint="+endpoint, nil); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if code, _ := r.call("cus_2", "DELETE", "/app/api/push/subscription?endpoint="+endpoint, nil); code != http.StatusNotFound {
		t.Fatalf("second delete: %d", code)
	}
}

// TestForgetTurnsEveryDeviceOff: when a customer's sessions end (a new
// password, a reset), every device of theirs stops hearing of them, and
// no one else's.
func TestForgetTurnsEveryDeviceOff(t *testing.T) {
	r := newRig(t)
	phone, laptop, theirs := NewDevice(t, r.svc.PublicKey), NewDevice(t, r.svc.PublicKey), NewDevice(t, r.svc.PublicKey)
	r.subscribe(t, "cus_1", phone, KindAlerts)
	r.subscribe(t, "cus_1", laptop, KindAlerts)
	r.subscribe(t, "cus_2", theirs, KindAlerts)
	must(t, r.svc.Forget(context.Background(), "cus_1"))
	if subs, _ := r.st.PushSubscriptions(context.Background(), []string{"cus_1"}); len(subs) != 0 {
		t.Fatalf("cus_1's devices after Forget: %+v", subs)
	}
	if subs, _ := r.st.PushSubscriptions(context.Background(), []string{"cus_2"}); len(subs) != 1 {
		t.Fatalf("cus_2's devices after cus_1's Forget: %+v", subs)
	}
	r.svc.Committed([]store.Event{event("cus_1", bankapi.TypeFraudAlert, store.AuthorInstitution), event("cus_2", bankapi.TypeFraudAlert, store.AuthorInstitution)})
	theirs.next(t)
	// Batches are sent one after another: once the next one's push has
	// arrived, every push of the first has been answered.
	r.svc.Committed([]store.Event{event("cus_2", bankapi.TypeFraudAlert, store.AuthorInstitution)})
	theirs.next(t)
	select {
	case got := <-phone.Got:
		t.Fatalf("a forgotten device got %+v", got)
	case got := <-laptop.Got:
		t.Fatalf("a forgotten device got %+v", got)
	default:
	}
}

// TestVAPIDKeysAreSharedAndSealed: every node over the same store signs
// with the same key pair, stored sealed, not in plaintext.
func TestVAPIDKeysAreSharedAndSealed(t *testing.T) {
	st := testenv.SQLite(t)
	keyring, err := vault.New(bytes.Repeat([]byte{9}, 32), st)
	must(t, err)
	a, err := New(context.Background(), Config{Store: st, Keyring: keyring})
	must(t, err)
	b, err := New(context.Background(), Config{Store: st, Keyring: keyring})
	must(t, err)
	if a.PublicKey() == "" || a.PublicKey() != b.PublicKey() || a.private != b.private {
		t.Fatalf("two nodes' keys differ: %s / %s", a.PublicKey(), b.PublicKey())
	}
	sealed, err := st.PlatformSecret(context.Background(), vapidSecret)
	must(t, err)
	if bytes.Contains(sealed, []byte(a.private)) || bytes.Contains(sealed, []byte(a.public)) {
		t.Fatal("the VAPID keys are stored in plaintext")
	}
}
