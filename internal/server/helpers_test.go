package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/config"
	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/console"
	"github.com/openteller/openteller/internal/handover"
	"github.com/openteller/openteller/internal/server"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// testServer opens a node on SQLite and an embedded bus in a temporary
// directory, shut down when the test ends; each tweak may change its
// configuration first.
func testServer(t *testing.T, tweaks ...func(*config.Config)) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir, cfg.RootKey, cfg.Addr = t.TempDir(), vault.GenerateRootKey(), "127.0.0.1:0"
	for _, tweak := range tweaks {
		tweak(&cfg)
	}
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}

// fatalIf stops the test on an error.
func fatalIf(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// addInstitutions adds institutions with these ids (and names).
func addInstitutions(t *testing.T, st store.Store, ids ...string) {
	t.Helper()
	for _, id := range ids {
		fatalIf(t, st.CreateInstitution(context.Background(), store.Institution{ID: id, Name: id, AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: time.Now()}))
	}
}

// handedOver links a new customer to an institution with the scopes, and
// hands the conversation to the bank's people, as "Talk to a person" does.
func handedOver(t *testing.T, srv *server.Server, linkID, customerID, institutionID, conversationID string, scopes ...string) {
	t.Helper()
	ctx, now := context.Background(), time.Now()
	fatalIf(t, srv.Store.CreateCustomer(ctx, store.Customer{ID: customerID, Email: customerID + "@example.com", PasswordHash: "x", CreatedAt: now}))
	l := store.Link{ID: linkID, CustomerID: customerID, InstitutionID: institutionID, ConversationID: conversationID, Scopes: scopes, Status: store.LinkActive, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	_, err := srv.Store.CreateLink(ctx, l, consent.GrantReceipt(l, "d"))
	fatalIf(t, err)
	_, _, err = srv.Handover.Apply(ctx, conversationID, handover.Request{Trigger: handover.CustomerAsks})
	fatalIf(t, err)
}

// staffSession is a signed-in member of a bank's people.
type staffSession struct{ cookie, csrf string }

// consoleSignIn makes a member of the institution and signs them in to the
// console at baseURL.
func consoleSignIn(t *testing.T, baseURL string, st store.Store, institutionID, email, role string) staffSession {
	t.Helper()
	_, password, err := console.NewStaff(context.Background(), st, institutionID, email, email, role, time.Now())
	fatalIf(t, err)
	se, status := consoleSignInAs(t, baseURL, email, password)
	if status != http.StatusOK {
		t.Fatalf("sign in %s: %d", email, status)
	}
	return se
}

// consoleSignInAs signs in to the console with an email and password, and
// says how it went.
func consoleSignInAs(t *testing.T, baseURL, email, password string) (staffSession, int) {
	t.Helper()
	resp, err := http.Post(baseURL+"/console/api/signin", "application/json", strings.NewReader(fmt.Sprintf(`{"email":%q,"password":%q}`, email, password)))
	fatalIf(t, err)
	defer resp.Body.Close()
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	json.NewDecoder(resp.Body).Decode(&me)
	for _, c := range resp.Cookies() {
		if c.Name == console.Cookie {
			return staffSession{c.Name + "=" + c.Value, me.CSRF}, resp.StatusCode
		}
	}
	return staffSession{}, resp.StatusCode
}
