package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
)

type apiClient struct {
	t   *testing.T
	srv *httptest.Server
	c   *http.Client
}

type apiError struct {
	Error struct {
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// do sends a request with a JSON body (when body is not nil) and the given
// headers, and returns the response with its body read.
func (a *apiClient) do(method, path string, body any, header ...string) (*http.Response, []byte) {
	a.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, a.srv.URL+path, rd)
	if err != nil {
		a.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := a.c.Do(req)
	if err != nil {
		a.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		a.t.Fatal(err)
	}
	return resp, b
}

func (a *apiClient) wantStatus(resp *http.Response, body []byte, status int, code string) {
	a.t.Helper()
	if resp.StatusCode != status {
		a.t.Fatalf("%s %s: %d %s; want %d", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, body, status)
	}
	if code == "" {
		return
	}
	var e apiError
	if err := json.Unmarshal(body, &e); err != nil || e.Error.Code != code || e.Error.Message == "" {
		a.t.Fatalf("%s %s: body %s; want error code %q with a message", resp.Request.Method, resp.Request.URL.Path, body, code)
	}
}

func decodeAccount(t *testing.T, body []byte) account {
	t.Helper()
	var acc account
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&acc); err != nil {
		t.Fatalf("body %s: %v", body, err)
	}
	if acc.Customer.ID == "" || acc.Customer.Email == "" || acc.CSRFToken == "" {
		t.Fatalf("body %s lacks customer or csrf_token", body)
	}
	return acc
}

// TestHTTPFlow runs the account routes as the messenger uses them, behind a
// server mux that also has a route of another package guarded by
// RequireCustomer.
func TestHTTPFlow(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()

	var changes int
	mux := http.NewServeMux()
	accounts := env.svc.Handler()
	for _, p := range []string{"/app/api/signup", "/app/api/signin", "/app/api/signout", "/app/api/me"} {
		mux.Handle(p, accounts)
	}
	mux.Handle("POST /app/api/things", env.svc.RequireCustomer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if se, ok := SessionFrom(r.Context()); !ok || se.CustomerID == "" {
			t.Error("RequireCustomer let a request through without a session in its context")
		}
		changes++
		w.WriteHeader(http.StatusNoContent)
	})))
	srv := httptest.NewServer(env.svc.Middleware(mux))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	a := &apiClient{t: t, srv: srv, c: &http.Client{Jar: jar}}
	creds := map[string]string{"email": "Ada@Example.com", "password": "correct horse battery"}

	// Signed out to begin with.
	resp, body := a.do("GET", "/app/api/me", nil)
	a.wantStatus(resp, body, 401, "signed_out")

	// Sign-up: 201, the account, and a __Host- session cookie.
	resp, body = a.do("POST", "/app/api/signup", creds)
	a.wantStatus(resp, body, 201, "")
	acc := decodeAccount(t, body)
	if acc.Customer.Email != "ada@example.com" || !strings.HasPrefix(acc.Customer.ID, "cus_") {
		t.Fatalf("account = %+v", acc)
	}
	var ck *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-ot_session" {
			ck = c
		}
	}
	if ck == nil {
		t.Fatalf("sign-up set no __Host-ot_session cookie: %q", resp.Header.Values("Set-Cookie"))
	}
	if !ck.HttpOnly || !ck.Secure || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" || ck.MaxAge != int(DefaultSessionTTL.Seconds()) {
		t.Fatalf("session cookie = %+v; want HttpOnly, Secure, SameSite=Lax, Path=/, no Domain, Max-Age 14 days", ck)
	}

	// The store holds the token's SHA-256, never the token: not in the row,
	// not anywhere in the database files.
	raw, err := b64url.DecodeString(ck.Value)
	if err != nil || len(raw) != 32 {
		t.Fatalf("cookie value %q is not 32 bytes in base64url", ck.Value)
	}
	row, err := env.st.Session(ctx, sessionIDHash(raw))
	if err != nil {
		t.Fatalf("no session row under the token's hash: %v", err)
	}
	if row.CustomerID != acc.Customer.ID || row.CSRFToken != acc.CSRFToken || bytes.Equal(row.IDHash, raw) {
		t.Fatalf("session row = %+v", row)
	}
	if _, err := env.st.Session(ctx, raw); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the raw token finds a session: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join(env.dir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, raw) || bytes.Contains(b, []byte(ck.Value)) || bytes.Contains(b, []byte("correct horse battery")) {
			t.Fatalf("%s holds the session token or the password", f)
		}
	}

	// The jar sends the cookie back: /me works.
	resp, body = a.do("GET", "/app/api/me", nil)
	a.wantStatus(resp, body, 200, "")
	me := decodeAccount(t, body)
	if me.Security == nil || me.Security.TOTP || !me.Security.ReauthUntil.Equal(env.clock.Now().Add(DefaultReauthWindow)) {
		t.Fatalf("/me security = %+v; want no second factor, recent until the window's end", me.Security)
	}
	if me.Security = nil; me != acc {
		t.Fatalf("/me = %+v; want %+v", me, acc)
	}

	// State changes need the CSRF token; without it or with a wrong one they
	// are refused and change nothing.
	for _, hdr := range [][]string{nil, {"X-CSRF-Token", "wrong"}, {"X-CSRF-Token", acc.CSRFToken + "x"}} {
		resp, body = a.do("POST", "/app/api/things", nil, hdr...)
		a.wantStatus(resp, body, 403, "csrf")
		resp, body = a.do("POST", "/app/api/signout", nil, hdr...)
		a.wantStatus(resp, body, 403, "csrf")
	}
	if changes != 0 {
		t.Fatal("a request without the CSRF token reached the handler")
	}
	resp, body = a.do("GET", "/app/api/me", nil)
	a.wantStatus(resp, body, 200, "")
	resp, body = a.do("POST", "/app/api/things", nil, "X-CSRF-Token", acc.CSRFToken)
	a.wantStatus(resp, body, 204, "")
	if changes != 1 {
		t.Fatal("a request with the CSRF token did not reach the handler")
	}

	// Sign-out ends the session: the row is gone, the cookie expired.
	resp, body = a.do("POST", "/app/api/signout", nil, "X-CSRF-Token", acc.CSRFToken)
	a.wantStatus(resp, body, 204, "")
	if _, err := env.st.Session(ctx, sessionIDHash(raw)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("session row after sign-out: %v", err)
	}
	resp, body = a.do("GET", "/app/api/me", nil)
	a.wantStatus(resp, body, 401, "signed_out")
	// The old cookie, replayed, is worth nothing.
	resp, body = a.do("GET", "/app/api/me", nil, "Cookie", "__Host-ot_session="+ck.Value)
	a.wantStatus(resp, body, 401, "signed_out")
	// Signing out again is harmless.
	resp, body = a.do("POST", "/app/api/signout", nil)
	a.wantStatus(resp, body, 204, "")

	// Sign-in: wrong password, then right; a new session and CSRF token.
	resp, body = a.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "wrong password"})
	a.wantStatus(resp, body, 401, "invalid_credentials")
	resp, body = a.do("POST", "/app/api/signin", creds)
	a.wantStatus(resp, body, 200, "")
	acc2 := decodeAccount(t, body)
	if acc2.Customer != acc.Customer || acc2.CSRFToken == acc.CSRFToken {
		t.Fatalf("sign-in = %+v; want the same customer and a new CSRF token", acc2)
	}
	resp, body = a.do("GET", "/app/api/me", nil)
	a.wantStatus(resp, body, 200, "")

	// Signing in again replaces the session the browser came with.
	srvURL, _ := url.Parse(srv.URL)
	prev := jar.Cookies(srvURL)
	if len(prev) != 1 {
		t.Fatalf("jar holds %d cookies; want the session's", len(prev))
	}
	prevRaw, _ := b64url.DecodeString(prev[0].Value)
	resp, body = a.do("POST", "/app/api/signin", creds)
	a.wantStatus(resp, body, 200, "")
	if _, err := env.st.Session(ctx, sessionIDHash(prevRaw)); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the previous session survived a new sign-in: %v", err)
	}
	resp, body = a.do("GET", "/app/api/me", nil)
	a.wantStatus(resp, body, 200, "")

	// A session ends with its TTL.
	env.clock.Advance(DefaultSessionTTL)
	resp, body = a.do("GET", "/app/api/me", nil)
	a.wantStatus(resp, body, 401, "signed_out")

	// Sign-up of a taken email.
	resp, body = a.do("POST", "/app/api/signup", map[string]string{"email": "ADA@example.com", "password": "another long password"})
	a.wantStatus(resp, body, 409, "email_taken")
}

func TestHTTPRefusals(t *testing.T) {
	env := newTestEnv(t)
	countVerifies(env.svc, alwaysWrong)
	srv := httptest.NewServer(env.svc.Handler())
	defer srv.Close()
	a := &apiClient{t: t, srv: srv, c: srv.Client()}
	creds := map[string]string{"email": "ada@example.com", "password": "correct horse battery"}

	resp, body := a.do("POST", "/app/api/signup", map[string]string{"email": "ada@example.com", "password": "short"})
	a.wantStatus(resp, body, 400, "weak_password")
	resp, body = a.do("POST", "/app/api/signup", map[string]string{"email": "ada", "password": "long enough password"})
	a.wantStatus(resp, body, 400, "invalid_email")
	resp, body = a.do("POST", "/app/api/signup", map[string]string{"email": "ada@example.com", "password": "long enough password", "admin": "yes"})
	a.wantStatus(resp, body, 400, "invalid_json")
	resp, body = a.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": strings.Repeat("x", 9<<10)})
	a.wantStatus(resp, body, 413, "body_too_large")

	// A browser request from another site is refused before anything runs:
	// signup and signin have no CSRF token to check yet.
	resp, body = a.do("POST", "/app/api/signup", creds, "Sec-Fetch-Site", "cross-site")
	a.wantStatus(resp, body, 403, "csrf")
	resp, body = a.do("POST", "/app/api/signin", creds, "Origin", "https://attacker.example")
	a.wantStatus(resp, body, 403, "csrf")
	if _, err := env.st.CustomerByEmail(context.Background(), "ada@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused sign-up stored a customer: %v", err)
	}

	// Throttled sign-in answers 429 with Retry-After.
	for range maxEmailFailures {
		resp, body = a.do("POST", "/app/api/signin", creds)
		a.wantStatus(resp, body, 401, "invalid_credentials")
	}
	resp, body = a.do("POST", "/app/api/signin", creds)
	a.wantStatus(resp, body, 429, "too_many_attempts")
	if resp.Header.Get("Retry-After") != "900" {
		t.Errorf("Retry-After = %q; want 900", resp.Header.Get("Retry-After"))
	}

	// A malformed or unknown cookie is simply signed out.
	for _, v := range []string{"garbage", b64url.EncodeToString(make([]byte, 32))} {
		resp, body = a.do("GET", "/app/api/me", nil, "Cookie", "__Host-ot_session="+v)
		a.wantStatus(resp, body, 401, "signed_out")
	}
	resp, body = a.do("GET", "/app/api/signup", nil)
	a.wantStatus(resp, body, 405, "")
}

// Go's cookie jar must send a Secure cookie to the plain-HTTP test server for
// TestHTTPFlow to mean anything; this pins that assumption.
func TestJarSendsSecureCookiesToLoopback(t *testing.T) {
	jar, _ := cookiejar.New(nil)
	u, _ := url.Parse("http://127.0.0.1:1234/")
	jar.SetCookies(u, []*http.Cookie{{Name: "__Host-x", Value: "1", Path: "/", Secure: true}})
	if len(jar.Cookies(u)) != 1 {
		t.Fatal("the jar does not send Secure cookies to http://127.0.0.1")
	}
}

// The service holds sessions to its own clock, not only the store's.
func TestSessionExpiresByServiceClock(t *testing.T) {
	env := newTestEnv(t)
	c, rec := signedIn(t, env)
	req := httptest.NewRequest("GET", "/app/api/me", nil)
	for _, ck := range rec.Result().Cookies() {
		req.AddCookie(ck)
	}
	if l := env.svc.lookup(req); !l.ok || l.session.CustomerID != c.ID {
		t.Fatalf("fresh session: %+v", l)
	}
	frozen := env.clock.Now()
	env.st.SetClock(func() time.Time { return frozen })
	env.clock.Advance(DefaultSessionTTL)
	if l := env.svc.lookup(req); l.ok {
		t.Fatal("a session past its expiry by the service's clock is still live")
	}
}

// TestChangePassword: the current password is needed (a wrong one is a
// 403 that counts toward the sign-in lockout, and leaves the session
// alone); the new one follows the sign-up rules; once changed, every other
// session ends, this one goes on, and only the new password signs in.
func TestChangePassword(t *testing.T) {
	env := newTestEnv(t)
	srv := httptest.NewServer(env.svc.Handler())
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	a := &apiClient{t: t, srv: srv, c: &http.Client{Jar: jar}}
	other := &apiClient{t: t, srv: srv, c: &http.Client{Jar: must(cookiejar.New(nil))}}
	creds := map[string]string{"email": "ada@example.com", "password": "correct horse battery"}
	resp, body := a.do("POST", "/app/api/signup", creds)
	a.wantStatus(resp, body, 201, "")
	csrf := decodeAccount(t, body).CSRFToken
	resp, body = other.do("POST", "/app/api/signin", creds)
	other.wantStatus(resp, body, 200, "")

	change := func(current, next string, header ...string) (*http.Response, []byte) {
		return a.do("POST", "/app/api/password", map[string]string{"current": current, "new": next}, append([]string{"X-CSRF-Token", csrf}, header...)...)
	}
	resp, body = a.do("POST", "/app/api/password", map[string]string{"current": "correct horse battery", "new": "staple battery horse"})
	a.wantStatus(resp, body, 403, "csrf")
	resp, body = change("wrong password", "staple battery horse")
	a.wantStatus(resp, body, 403, "wrong_password")
	resp, body = change("correct horse battery", "short")
	a.wantStatus(resp, body, 400, "weak_password")
	resp, body = other.do("GET", "/app/api/me", nil)
	other.wantStatus(resp, body, 200, "") // refusals changed nothing

	var told []string
	env.svc.sessionsEnded = func(customerID string, keep []byte) { told = append(told, customerID) }
	resp, body = change("correct horse battery", "staple battery horse")
	a.wantStatus(resp, body, 204, "")
	if len(told) != 1 || !strings.HasPrefix(told[0], "cus_") {
		t.Fatalf("devices told of the ended sessions: %v", told)
	}
	resp, body = a.do("GET", "/app/api/me", nil)
	a.wantStatus(resp, body, 200, "")
	resp, body = other.do("GET", "/app/api/me", nil)
	other.wantStatus(resp, body, 401, "signed_out")
	resp, body = other.do("POST", "/app/api/signin", creds)
	other.wantStatus(resp, body, 401, "invalid_credentials")
	resp, body = other.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "staple battery horse"})
	other.wantStatus(resp, body, 200, "")

	// Guessing the current password from a signed-in device is throttled
	// like guessing at sign-in.
	for range maxEmailFailures {
		change("a guess", "another new password")
	}
	resp, body = change("staple battery horse", "another new password")
	a.wantStatus(resp, body, 429, "too_many_attempts")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After on a throttled change")
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestSignInRacingAPasswordChange: someone who knows the old password signs
// in while the owner changes it; the change lands while the sign-in checks
// the old password. The sign-in must not end with a session that outlives
// the change.
func TestSignInRacingAPasswordChange(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	_, rec := signedIn(t, env)
	owner, _ := env.st.Session(ctx, sessionIDHash(mustCookie(t, rec)))
	real := env.svc.verify
	changed := false
	env.svc.verify = func(encoded, pw string) (bool, error) {
		ok, err := real(encoded, pw)
		if !changed && pw == "correct horse battery" && ok {
			changed = true // the owner's change lands now, mid sign-in
			env.svc.verify = real
			if _, err := env.svc.ChangePassword(ctx, owner, "correct horse battery", "staple battery horse", "10.0.0.1"); err != nil {
				t.Errorf("change: %v", err)
			}
		}
		return ok, err
	}
	srv := httptest.NewServer(env.svc.Handler())
	defer srv.Close()
	a := &apiClient{t: t, srv: srv, c: srv.Client()}
	resp, body := a.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
	a.wantStatus(resp, body, 401, "invalid_credentials")
	if !changed {
		t.Fatal("the change did not happen during the sign-in")
	}
	for _, ck := range resp.Cookies() {
		if raw, err := b64url.DecodeString(ck.Value); err == nil && len(raw) > 0 {
			if _, err := env.st.Session(ctx, sessionIDHash(raw)); err == nil {
				t.Fatal("the racing sign-in kept a session")
			}
		}
	}
}

// signedIn signs ada@example.com up with "correct horse battery" and
// starts a session, whose cookie is on rec.
func signedIn(t *testing.T, env *testEnv) (store.Customer, *httptest.ResponseRecorder) {
	t.Helper()
	c, err := env.svc.SignUp(context.Background(), "ada@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	if _, err := env.svc.StartSession(context.Background(), rec, c); err != nil {
		t.Fatal(err)
	}
	return c, rec
}

func mustCookie(t *testing.T, rec *httptest.ResponseRecorder) []byte {
	t.Helper()
	for _, ck := range rec.Result().Cookies() {
		if ck.Name == SessionCookie {
			raw, err := b64url.DecodeString(ck.Value)
			if err != nil {
				t.Fatal(err)
			}
			return raw
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// TestSignUpsAreThrottled: each sign-up costs an argon2id hash, so one
// network gets a few per window, then 429 with Retry-After.
func TestSignUpsAreThrottled(t *testing.T) {
	env := newTestEnv(t)
	srv := httptest.NewServer(env.svc.Handler())
	defer srv.Close()
	a := &apiClient{t: t, srv: srv, c: srv.Client()}
	for i := range maxIPSignUps {
		resp, body := a.do("POST", "/app/api/signup", map[string]string{"email": fmt.Sprintf("u%d@example.com", i), "password": "correct horse battery"})
		a.wantStatus(resp, body, 201, "")
	}
	resp, body := a.do("POST", "/app/api/signup", map[string]string{"email": "one-more@example.com", "password": "correct horse battery"})
	a.wantStatus(resp, body, 429, "too_many_attempts")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	if _, err := env.st.CustomerByEmail(context.Background(), "one-more@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a throttled sign-up made an account: %v", err)
	}
}
