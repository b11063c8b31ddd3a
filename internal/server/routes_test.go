package server_test

import (
	"context"
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
	"POST /app/api/signout", // ends whatever session the cookie names; with none, nothing
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
