package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/coder/websocket"
	"github.com/openteller/openteller/internal/delivery"
)

// public are the routes that answer without a customer's session or an
// institution's key: none of them returns anything of a customer's.
var public = []string{
	"GET /", // the messenger's static files
	"GET /healthz",
	"GET /readyz",
	"GET /v1/openapi.json",
	"GET /oauth/callback", // the bank's redirect; it needs the state of a link the signed-in customer started
	"POST /app/api/signup",
	"POST /app/api/signin",
	"POST /app/api/signout",                 // ends whatever session the cookie names; with none, nothing
	"POST /app/api/password-reset",          // answers alike whether or not the email has an account; the link goes to the mailbox
	"POST /app/api/password-reset/complete", // needs the mailed link's token
	"POST /app/api/passkeys/signin/begin",   // a challenge, the same for every email; nothing of a customer's
	"POST /app/api/passkeys/signin/finish",  // needs a passkey's signature over that challenge
	"POST /console/api/signin",
}

// TestEveryRouteIsGuarded enumerates every route of a node. Each is either
// public (and listed above, serving nothing of a customer's), or the Bank
// API (refused without an institution key, and scoped to that
// institution's links), or the customer's own (refused without their
// session), or the console's (refused without a session of the bank's
// people, who see only their own institution's conversations). There is no third kind: no operator or admin route exists that
// could list or read customers' content, and a new route that is none of
// these fails this test until it is looked at.
func TestEveryRouteIsGuarded(t *testing.T) {
	srv := testServer(t)
	routes := srv.Routes()
	if len(routes) < 30 {
		t.Fatalf("only %d routes recorded", len(routes))
	}
	param := regexp.MustCompile(`\{[^}]+\}`)
	for _, route := range routes {
		if slices.Contains(public, route) {
			continue
		}
		method, path, _ := strings.Cut(route, " ")
		if graph, ok := strings.CutPrefix(path, "/{version}/{page_id}/"); ok {
			// The Messenger Platform's Graph routes (package messenger):
			// refused without an access token, as Graph refuses, with
			// code 190, under a version and without one.
			for _, p := range []string{"/v19.0/me/" + graph, "/me/" + graph} {
				req := httptest.NewRequest(method, p, strings.NewReader(`{}`))
				req.Header.Set("Content-Type", "application/json")
				rec := httptest.NewRecorder()
				srv.Handler().ServeHTTP(rec, req)
				var body struct {
					Error struct{ Code int } `json:"error"`
				}
				json.Unmarshal(rec.Body.Bytes(), &body)
				if rec.Code != http.StatusUnauthorized || body.Error.Code != 190 {
					t.Errorf("%s %s without a token: %d %s, want 401 with Graph code 190", method, p, rec.Code, rec.Body.String())
				}
			}
			continue
		}
		path = param.ReplaceAllString(path, "x1")
		var want int
		switch {
		case strings.HasPrefix(path, "/v1/"):
			want = http.StatusUnauthorized // no institution key
		case strings.HasPrefix(path, "/app/"):
			want = http.StatusUnauthorized // no customer session
		case strings.HasPrefix(path, "/console/"):
			want = http.StatusUnauthorized // no console session
		default:
			t.Errorf("route %s is neither public, the Bank API nor the customer's own", route)
			continue
		}
		if path == "/app/ws" {
			// Browsers cannot read a refused handshake's status, so the
			// socket opens and closes at once with "signed out", having
			// sent nothing.
			ts := httptest.NewServer(srv.Handler())
			conn, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(ts.URL, "http")+path, nil)
			if err != nil {
				t.Fatalf("dial: %v", err)
			}
			if _, data, err := conn.Read(context.Background()); websocket.CloseStatus(err) != delivery.CloseSignedOut {
				t.Errorf("%s without a session: read %q, %v; want it closed as signed out", route, data, err)
			}
			conn.CloseNow()
			ts.Close()
			continue
		}
		req := httptest.NewRequest(method, path, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, req)
		if rec.Code != want {
			t.Errorf("%s without credentials: %d %s, want %d", route, rec.Code, rec.Body.String(), want)
		}
	}
}

// TestWrongMethodIs405 asks every Bank API and customer API path with a
// method it does not answer: the answer is 405 with an Allow header that
// lists the methods it does answer, and a typed error; an unknown path is
// still a typed 404.
func TestWrongMethodIs405(t *testing.T) {
	srv := testServer(t)
	param := regexp.MustCompile(`\{[^}]+\}`)
	methods := map[string][]string{} // path → the methods its routes answer
	for _, route := range srv.Routes() {
		method, path, _ := strings.Cut(route, " ")
		if strings.HasPrefix(path, "/v1/") || strings.HasPrefix(path, "/app/api/") {
			methods[path] = append(methods[path], method)
		}
	}
	if len(methods) < 10 {
		t.Fatalf("only %d API paths", len(methods))
	}
	for pattern, answered := range methods {
		if slices.Contains(answered, "GET") {
			answered = append(answered, "HEAD")
		}
		var wrong string
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
			if !slices.Contains(answered, m) {
				wrong = m
				break
			}
		}
		path := param.ReplaceAllString(pattern, "x1")
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest(wrong, path, nil))
		var body struct {
			Error struct{ Code, Message string } `json:"error"`
		}
		json.Unmarshal(rec.Body.Bytes(), &body)
		allow := strings.Split(rec.Header().Get("Allow"), ", ")
		slices.Sort(allow)
		slices.Sort(answered)
		if rec.Code != http.StatusMethodNotAllowed || !slices.Equal(allow, answered) || body.Error.Code != "method_not_allowed" || body.Error.Message == "" {
			t.Errorf("%s %s: %d, Allow %q, %s; want 405, Allow %q and a typed error", wrong, path, rec.Code, rec.Header().Get("Allow"), rec.Body.String(), strings.Join(answered, ", "))
		}
	}

	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/v1/events", nil))
	if rec.Code != http.StatusMethodNotAllowed || rec.Header().Get("Allow") != "POST" || !strings.Contains(rec.Body.String(), `"code":"method_not_allowed"`) {
		t.Errorf("GET /v1/events: %d, Allow %q, %s", rec.Code, rec.Header().Get("Allow"), rec.Body.String())
	}
	for _, path := range []string{"/v1/nothing-here", "/app/api/nothing-here"} {
		rec := httptest.NewRecorder()
		srv.Handler().ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusNotFound || rec.Header().Get("Allow") != "" || !strings.Contains(rec.Body.String(), `"code":"not_found"`) {
			t.Errorf("GET %s: %d, Allow %q, %s; want a typed 404", path, rec.Code, rec.Header().Get("Allow"), rec.Body.String())
		}
	}
}
