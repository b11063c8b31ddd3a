package auth

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestReauthRequiredAndSatisfied: a route behind RequireRecentAuth lets a
// fresh sign-in through; once the window has passed it answers 403
// reauth_required and does nothing; a wrong password does not satisfy it
// (and counts toward the lockout); the right one does, for the window.
// Without a session or the CSRF token it answers as RequireCustomer does.
func TestReauthRequiredAndSatisfied(t *testing.T) {
	env := newTestEnv(t)
	var cleared int
	mux := http.NewServeMux()
	mux.Handle("/app/api/", env.svc.Handler())
	mux.Handle("POST /app/api/history/clear", env.svc.RequireRecentAuth(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		cleared++
		w.WriteHeader(http.StatusNoContent)
	})))
	srv := httptest.NewServer(env.svc.Middleware(mux))
	defer srv.Close()
	a := newClient(t, srv)
	csrf := signUpVia(a)
	clear := func(header ...string) (*http.Response, []byte) {
		return a.do("POST", "/app/api/history/clear", nil, header...)
	}

	resp, body := newClient(t, srv).do("POST", "/app/api/history/clear", nil)
	a.wantStatus(resp, body, 401, "signed_out")
	resp, body = clear()
	a.wantStatus(resp, body, 403, "csrf")
	resp, body = clear("X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 204, "") // just signed up
	if cleared != 1 {
		t.Fatalf("cleared %d times", cleared)
	}

	env.clock.Advance(DefaultReauthWindow)
	resp, body = clear("X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 403, "reauth_required")
	if cleared != 1 {
		t.Fatal("a refused request went through")
	}
	me := decodeAccount(t, mustMe(a))
	if !me.Security.ReauthUntil.Before(env.clock.Now().Add(time.Nanosecond)) {
		t.Fatalf("/me says recent until %v at %v", me.Security.ReauthUntil, env.clock.Now())
	}

	reauth := func(password string, header ...string) (*http.Response, []byte) {
		return a.do("POST", "/app/api/reauth", map[string]string{"password": password}, header...)
	}
	resp, body = reauth("correct horse battery")
	a.wantStatus(resp, body, 403, "csrf")
	resp, body = reauth("wrong password!", "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 403, "wrong_password")
	resp, body = clear("X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 403, "reauth_required")

	resp, body = reauth("correct horse battery", "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 200, "")
	var got struct {
		Until time.Time `json:"reauth_until"`
	}
	json.Unmarshal(body, &got)
	if !got.Until.Equal(env.clock.Now().Add(DefaultReauthWindow)) {
		t.Fatalf("reauth until %v", got.Until)
	}
	resp, body = clear("X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 204, "")
	env.clock.Advance(DefaultReauthWindow - time.Second)
	resp, body = clear("X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 204, "")
	env.clock.Advance(time.Second)
	resp, body = clear("X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 403, "reauth_required")
	if cleared != 3 {
		t.Fatalf("cleared %d times, want 3", cleared)
	}

	// Another device's re-authentication is its own.
	b := newClient(t, srv)
	resp, body = b.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
	b.wantStatus(resp, body, 200, "")
	resp, body = clear("X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 403, "reauth_required")

	// Guessing the password here is throttled like a sign-in.
	for range maxEmailFailures {
		reauth("a guess", "X-CSRF-Token", csrf)
	}
	resp, body = reauth("correct horse battery", "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 429, "too_many_attempts")
}
