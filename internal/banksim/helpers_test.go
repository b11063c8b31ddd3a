package banksim

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	mathrand "math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

const (
	testAPIKey      = "test-api-key"
	testClientID    = "openteller"
	testSecret      = "client-s3cret"
	testRedirectURI = "https://platform.example/oauth/callback"
)

// fakeClock is the bank's injected clock; tests move it by hand.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2025, 3, 4, 7, 30, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// receivedEvent is an event as the fake platform decoded it off the wire.
type receivedEvent struct {
	ID         string          `json:"id"`
	LinkID     string          `json:"link_id"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

// fakePlatform plays the platform's side of POST /v1/events over real
// HTTP: it checks the API key, records accepted events, answers duplicates
// for ids it has seen, and rejects a link's events with a chosen code.
type fakePlatform struct {
	t   *testing.T
	srv *httptest.Server

	mu         sync.Mutex
	events     []receivedEvent // accepted, in arrival order
	bodies     map[string]string
	reject     map[string]string // link id → per-event error code
	failNext   int               // answer this many requests with 400 invalid_json
	requests   int
	duplicates int
	notify     chan struct{}
	// webhookSecret is what POST /v1/webhook-endpoints hands out.
	webhookSecret string
	registeredURL string
}

func newFakePlatform(t *testing.T) *fakePlatform {
	p := &fakePlatform{t: t, bodies: map[string]string{}, reject: map[string]string{}, notify: make(chan struct{}, 1), webhookSecret: bankapi.NewWebhookSecret()}
	p.srv = httptest.NewServer(http.HandlerFunc(p.serveEvents))
	t.Cleanup(p.srv.Close)
	return p
}

func (p *fakePlatform) serveEvents(w http.ResponseWriter, r *http.Request) {
	if r.Method == http.MethodPost && r.URL.Path == "/v1/webhook-endpoints" && r.Header.Get("Authorization") == "Bearer "+testAPIKey {
		var req struct{ URL string }
		json.NewDecoder(r.Body).Decode(&req)
		p.mu.Lock()
		p.registeredURL = req.URL
		p.mu.Unlock()
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]string{"url": req.URL, "secret": p.webhookSecret})
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/v1/events" {
		p.t.Errorf("platform: unexpected %s %s", r.Method, r.URL.Path)
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	if r.Header.Get("Authorization") != "Bearer "+testAPIKey {
		w.WriteHeader(http.StatusUnauthorized)
		json.NewEncoder(w).Encode(bankapi.ErrorBody{Error: &bankapi.Error{Code: "unauthorized", Message: "bad key"}})
		return
	}
	var batch struct {
		Events []receivedEvent `json:"events"`
	}
	if err := json.NewDecoder(r.Body).Decode(&batch); err != nil {
		p.t.Errorf("platform: decode batch: %v", err)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if len(batch.Events) == 0 || len(batch.Events) > bankapi.MaxBatch {
		p.t.Errorf("platform: batch of %d events", len(batch.Events))
	}

	p.mu.Lock()
	p.requests++
	if p.failNext > 0 {
		p.failNext--
		p.mu.Unlock()
		w.WriteHeader(http.StatusBadRequest)
		json.NewEncoder(w).Encode(bankapi.ErrorBody{Error: &bankapi.Error{Code: "invalid_json", Message: "simulated"}})
		return
	}
	var res bankapi.EventResults
	for _, e := range batch.Events {
		body, _ := json.Marshal(e)
		switch code, rejected := p.reject[e.LinkID]; {
		case rejected:
			res.Results = append(res.Results, bankapi.EventResult{ID: e.ID, Status: bankapi.ResultRejected, Error: &bankapi.Error{Code: code, Message: "simulated"}})
		case p.bodies[e.ID] != "":
			if p.bodies[e.ID] != string(body) {
				p.t.Errorf("platform: event %s replayed with a different body", e.ID)
			}
			p.duplicates++
			res.Results = append(res.Results, bankapi.EventResult{ID: e.ID, Status: bankapi.ResultDuplicate})
		default:
			p.bodies[e.ID] = string(body)
			p.events = append(p.events, e)
			res.Results = append(res.Results, bankapi.EventResult{ID: e.ID, Status: bankapi.ResultAccepted, Seq: int64(len(p.events))})
		}
	}
	p.mu.Unlock()
	json.NewEncoder(w).Encode(res)
	select {
	case p.notify <- struct{}{}:
	default:
	}
}

func (p *fakePlatform) Events() []receivedEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]receivedEvent(nil), p.events...)
}

func (p *fakePlatform) Requests() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requests
}

func (p *fakePlatform) Duplicates() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.duplicates
}

func (p *fakePlatform) FailNext(n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failNext = n
}

func (p *fakePlatform) Reject(linkID, code string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if code == "" {
		delete(p.reject, linkID)
	} else {
		p.reject[linkID] = code
	}
}

func newSeededRand(seed uint64) *mathrand.Rand { return mathrand.New(newPCG(seed)) }

func testConfig(platformURL string, clock *fakeClock) Config {
	return Config{
		Name:         "Cedar Bank",
		PlatformURL:  platformURL,
		APIKey:       testAPIKey,
		ClientID:     testClientID,
		ClientSecret: testSecret,
		RedirectURI:  testRedirectURI,
		Interval:     4 * time.Second,
		PostDelay:    15 * time.Second,
		Seed:         42,
		Now:          clock.Now,
	}
}

// testBank is a bank wired to a fake platform, with its OAuth endpoints on
// a real HTTP server.
type testBank struct {
	*Bank
	clock    *fakeClock
	platform *fakePlatform
	srv      *httptest.Server
}

func newTestBank(t *testing.T, adjust ...func(*Config)) *testBank {
	t.Helper()
	clock := newFakeClock()
	platform := newFakePlatform(t)
	cfg := testConfig(platform.srv.URL, clock)
	for _, f := range adjust {
		f(&cfg)
	}
	b, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(b.Handler())
	t.Cleanup(srv.Close)
	return &testBank{Bank: b, clock: clock, platform: platform, srv: srv}
}

// noRedirects is an HTTP client that hands redirects back to the test, as
// the platform's callback is not a real server here.
var noRedirects = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}

// pkce is one authorization attempt's PKCE pair and state, as the platform
// makes them.
type pkce struct {
	verifier, challenge, state string
}

func newPKCE() pkce {
	raw := make([]byte, 32)
	rand.Read(raw)
	verifier := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256([]byte(verifier))
	return pkce{verifier: verifier, challenge: base64.RawURLEncoding.EncodeToString(sum[:]), state: "st_" + base64.RawURLEncoding.EncodeToString(raw[:9])}
}

func newLinkID() string {
	raw := make([]byte, 16)
	rand.Read(raw)
	return "lnk_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(raw))
}

// authorizeParams is the query the platform sends the browser with.
func authorizeParams(p pkce, scopes ...string) url.Values {
	return url.Values{
		"response_type":         {"code"},
		"client_id":             {testClientID},
		"redirect_uri":          {testRedirectURI},
		"scope":                 {strings.Join(scopes, " ")},
		"state":                 {p.state},
		"code_challenge":        {p.challenge},
		"code_challenge_method": {"S256"},
	}
}

// submitConsent posts the sign-in form as the customer's browser would.
func (tb *testBank) submitConsent(t *testing.T, params url.Values, decision, password string, grants ...string) *http.Response {
	t.Helper()
	form := url.Values{}
	for k, v := range params {
		form[k] = v
	}
	form.Set("username", DemoUsername())
	form.Set("password", password)
	form.Set("decision", decision)
	form["grant"] = grants
	resp, err := noRedirects.PostForm(tb.srv.URL+"/authorize", form)
	if err != nil {
		t.Fatalf("POST /authorize: %v", err)
	}
	resp.Body.Close()
	return resp
}

// approve signs in as the demo customer, grants scopes and returns the
// authorization code from the redirect.
func (tb *testBank) approve(t *testing.T, p pkce, requested []string, granted ...string) string {
	t.Helper()
	resp := tb.submitConsent(t, authorizeParams(p, requested...), "approve", DemoPassword(), granted...)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("POST /authorize: status %d, want 303", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil {
		t.Fatalf("redirect Location: %v", err)
	}
	if got := loc.Scheme + "://" + loc.Host + loc.Path; got != testRedirectURI {
		t.Fatalf("redirected to %s, want %s", got, testRedirectURI)
	}
	if loc.Query().Get("state") != p.state {
		t.Fatalf("redirect state = %q, want %q", loc.Query().Get("state"), p.state)
	}
	code := loc.Query().Get("code")
	if code == "" {
		t.Fatalf("redirect has no code: %s", loc)
	}
	return code
}

// tokenForm is the platform's code exchange.
func tokenForm(code, verifier, linkID string) url.Values {
	return url.Values{
		"grant_type":    {"authorization_code"},
		"code":          {code},
		"redirect_uri":  {testRedirectURI},
		"client_id":     {testClientID},
		"code_verifier": {verifier},
		"link_id":       {linkID},
	}
}

// exchange posts to /token with HTTP Basic client authentication and
// returns the status and decoded body.
func (tb *testBank) exchange(t *testing.T, form url.Values) (int, map[string]string, http.Header) {
	t.Helper()
	return tb.postToken(t, form, func(r *http.Request) { r.SetBasicAuth(testClientID, testSecret) })
}

func (tb *testBank) postToken(t *testing.T, form url.Values, auth func(*http.Request)) (int, map[string]string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, tb.srv.URL+"/token", strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if auth != nil {
		auth(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /token: %v", err)
	}
	defer resp.Body.Close()
	body := map[string]string{}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("POST /token: decode body: %v", err)
	}
	return resp.StatusCode, body, resp.Header
}

// link runs the whole linking flow and returns the new link id.
func (tb *testBank) link(t *testing.T, requested []string, granted ...string) string {
	t.Helper()
	p := newPKCE()
	code := tb.approve(t, p, requested, granted...)
	linkID := newLinkID()
	status, body, _ := tb.exchange(t, tokenForm(code, p.verifier, linkID))
	if status != http.StatusOK {
		t.Fatalf("POST /token: status %d, body %v", status, body)
	}
	return linkID
}

func eventsOfType(events []receivedEvent, eventType string) []receivedEvent {
	var out []receivedEvent
	for _, e := range events {
		if e.Type == eventType {
			out = append(out, e)
		}
	}
	return out
}
