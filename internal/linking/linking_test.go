package linking

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/testenv"
)

// TestAuthorizeURLKeepsOurParameters: an institution's authorize URL may
// carry its own query, but never in place of state, redirect_uri or PKCE.
func TestAuthorizeURLKeepsOurParameters(t *testing.T) {
	ctx := context.Background()
	st := testenv.SQLite(t)
	now := time.Now()
	if err := st.CreateCustomer(ctx, store.Customer{ID: "cus_1", Email: "a@example.com", PasswordHash: "x", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := st.CreateInstitution(ctx, store.Institution{ID: "ins_1", Name: "Cedar Bank", ClientID: "ot", TokenURL: "https://bank.example/token",
		AuthorizeURL: "https://bank.example/authorize?brand=cedar&state=FIXED&redirect_uri=https://evil.example/cb&code_challenge_method=plain", CreatedAt: now}); err != nil {
		t.Fatal(err)
	}
	s := New(Config{Store: st, BaseURL: "https://ot.example"})
	d, err := consent.Disclose("Cedar Bank", []string{"balances"}, 90)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := s.Start(ctx, "cus_1", Request{InstitutionID: "ins_1", Scopes: []string{"balances"}, DurationDays: 90, DisclosureDigest: d.Digest})
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(raw)
	q := u.Query()
	if q.Get("brand") != "cedar" || q.Get("state") == "FIXED" || q.Get("redirect_uri") != "https://ot.example/oauth/callback" || q.Get("code_challenge_method") != "S256" {
		t.Fatalf("authorize URL %s", raw)
	}
	for _, k := range []string{"state", "redirect_uri", "code_challenge_method"} {
		if len(q[k]) != 1 {
			t.Fatalf("%s given %d times", k, len(q[k]))
		}
	}
}

// TestExchangeAcceptsOnlyARealAnswer: the link is made only when the
// bank's token endpoint answers 200 with a bearer token for the link it was
// asked to bind; anything else, and any redirect, is refused.
func TestExchangeAcceptsOnlyARealAnswer(t *testing.T) {
	a := store.LinkAttempt{LinkID: "lnk_1", CodeVerifier: "v", Scopes: []string{"balances", "transactions"}}
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Error("the code and verifier followed a redirect")
		json.NewEncoder(w).Encode(map[string]string{"access_token": "x", "token_type": "Bearer", "link_id": "lnk_1"})
	}))
	defer elsewhere.Close()
	for _, c := range []struct {
		name   string
		status int
		body   string
		ok     bool
	}{
		{"a proper answer", 200, `{"access_token":"t","token_type":"Bearer","scope":"balances","link_id":"lnk_1"}`, true},
		{"bearer in lower case", 200, `{"access_token":"t","token_type":"bearer","link_id":"lnk_1"}`, true},
		{"empty", 200, `{}`, false},
		{"an error in a 200", 200, `{"error":"invalid_grant","access_token":"t","token_type":"Bearer","link_id":"lnk_1"}`, false},
		{"no access token", 200, `{"access_token":"","token_type":"Bearer","link_id":"lnk_1"}`, false},
		{"another token type", 200, `{"access_token":"t","token_type":"mac","link_id":"lnk_1"}`, false},
		{"no link id", 200, `{"access_token":"t","token_type":"Bearer"}`, false},
		{"another link", 200, `{"access_token":"t","token_type":"Bearer","link_id":"lnk_2"}`, false},
		{"refused", 400, `{"error":"invalid_grant"}`, false},
		{"not JSON", 200, `<html>`, false},
		{"a redirect", 307, ``, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			bank := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if c.status == 307 {
					http.Redirect(w, r, elsewhere.URL, http.StatusTemporaryRedirect)
					return
				}
				w.WriteHeader(c.status)
				w.Write([]byte(c.body))
			}))
			defer bank.Close()
			s := New(Config{BaseURL: "https://ot.example"})
			scopes, err := s.exchange(context.Background(), store.Institution{ID: "ins_1", ClientID: "ot", TokenURL: bank.URL}, a, "code")
			if (err == nil) != c.ok {
				t.Fatalf("scopes %v, err %v; want ok %v", scopes, err, c.ok)
			}
			if c.ok && strings.Join(scopes, " ") == "" {
				t.Fatal("no scopes")
			}
		})
	}
}
