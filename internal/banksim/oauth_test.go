package banksim

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

var balancesAndTransactions = []string{bankapi.ScopeBalances, bankapi.ScopeTransactions}

func getAuthorize(t *testing.T, tb *testBank, params url.Values) (*http.Response, string) {
	t.Helper()
	resp, err := noRedirects.Get(tb.srv.URL + "/authorize?" + params.Encode())
	if err != nil {
		t.Fatalf("GET /authorize: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

func TestLinkWithPKCE(t *testing.T) {
	tb := newTestBank(t)
	p := newPKCE()

	resp, page := getAuthorize(t, tb, authorizeParams(p, balancesAndTransactions...))
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /authorize: status %d", resp.StatusCode)
	}
	for _, want := range []string{
		"Cedar Bank — sign in",
		`value="alex"`,
		`value="` + DemoPassword() + `"`,
		scopeWords[bankapi.ScopeBalances],
		scopeWords[bankapi.ScopeTransactions],
		`value="approve"`, `value="deny"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("sign-in page lacks %q", want)
		}
	}
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "form-action 'self' https://platform.example") {
		t.Errorf("CSP %q does not let the form redirect to the platform", csp)
	}

	code := tb.approve(t, p, balancesAndTransactions, balancesAndTransactions...)
	linkID := newLinkID()
	status, body, header := tb.exchange(t, tokenForm(code, p.verifier, linkID))
	if status != http.StatusOK {
		t.Fatalf("POST /token: status %d, body %v", status, body)
	}
	if body["token_type"] != "Bearer" || body["access_token"] == "" || body["link_id"] != linkID || body["scope"] != "balances transactions" {
		t.Errorf("token response = %v", body)
	}
	if header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", header.Get("Cache-Control"))
	}
	if live, _, known := tb.LinkStatus(linkID); !live || !known {
		t.Errorf("LinkStatus = live %v, known %v", live, known)
	}

	// The link opens with a welcome message and a balance per account.
	if err := tb.flush(context.Background()); err != nil {
		t.Fatalf("flush: %v", err)
	}
	events := tb.platform.Events()
	if len(events) != 3 {
		t.Fatalf("got %d opening events, want 3", len(events))
	}
	if events[0].Type != bankapi.TypeMessage || events[1].Type != bankapi.TypeBalanceUpdated || events[2].Type != bankapi.TypeBalanceUpdated {
		t.Errorf("opening event types = %s, %s, %s", events[0].Type, events[1].Type, events[2].Type)
	}
	var welcome bankapi.Message
	json.Unmarshal(events[0].Data, &welcome)
	if !strings.Contains(welcome.Text, "Cedar Bank") || !strings.Contains(welcome.Text, "balances and card activity") {
		t.Errorf("welcome message = %q", welcome.Text)
	}
	kinds := map[string]bool{}
	for _, e := range events {
		if e.LinkID != linkID || !e.OccurredAt.Equal(tb.clock.Now()) {
			t.Errorf("event %s: link %s at %v", e.ID, e.LinkID, e.OccurredAt)
		}
		var bal bankapi.BalanceUpdated
		if e.Type == bankapi.TypeBalanceUpdated {
			json.Unmarshal(e.Data, &bal)
			kinds[bal.AccountKind] = true
		}
	}
	if !kinds[bankapi.AccountChecking] || !kinds[bankapi.AccountCreditCard] {
		t.Errorf("opening balances cover %v, want checking and credit_card", kinds)
	}
}

func TestTokenRejectsWrongVerifierAndSpendsTheCode(t *testing.T) {
	tb := newTestBank(t)
	p := newPKCE()
	code := tb.approve(t, p, balancesAndTransactions, balancesAndTransactions...)

	wrong := newPKCE().verifier
	status, body, header := tb.exchange(t, tokenForm(code, wrong, newLinkID()))
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("wrong verifier: status %d, body %v; want 400 invalid_grant", status, body)
	}
	if header.Get("Cache-Control") != "no-store" {
		t.Errorf("error Cache-Control = %q, want no-store", header.Get("Cache-Control"))
	}
	// One attempt per code: the right verifier no longer helps.
	status, body, _ = tb.exchange(t, tokenForm(code, p.verifier, newLinkID()))
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Errorf("retry after wrong verifier: status %d, body %v; want 400 invalid_grant", status, body)
	}
}

func TestTokenRejectsReusedCodeAndRevokesItsLink(t *testing.T) {
	tb := newTestBank(t)
	p := newPKCE()
	code := tb.approve(t, p, balancesAndTransactions, balancesAndTransactions...)
	linkID := newLinkID()
	if status, body, _ := tb.exchange(t, tokenForm(code, p.verifier, linkID)); status != http.StatusOK {
		t.Fatalf("first exchange: status %d, body %v", status, body)
	}

	status, body, _ := tb.exchange(t, tokenForm(code, p.verifier, newLinkID()))
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("reused code: status %d, body %v; want 400 invalid_grant", status, body)
	}
	if live, why, _ := tb.LinkStatus(linkID); live || why != "code_replayed" {
		t.Errorf("link after replay: live %v, stopped because %q", live, why)
	}
	if err := tb.Step(context.Background()); err != nil {
		t.Fatalf("Step: %v", err)
	}
	if n := len(tb.platform.Events()); n != 0 {
		t.Errorf("platform got %d events for a revoked link", n)
	}
}

func TestTokenRejectsExpiredCode(t *testing.T) {
	tb := newTestBank(t)
	p := newPKCE()
	code := tb.approve(t, p, balancesAndTransactions, balancesAndTransactions...)
	tb.clock.Advance(codeLifetime + time.Second)

	status, body, _ := tb.exchange(t, tokenForm(code, p.verifier, newLinkID()))
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("expired code: status %d, body %v; want 400 invalid_grant", status, body)
	}
}

func TestTokenAcceptsCodeJustBeforeExpiry(t *testing.T) {
	tb := newTestBank(t)
	p := newPKCE()
	code := tb.approve(t, p, balancesAndTransactions, balancesAndTransactions...)
	tb.clock.Advance(codeLifetime - time.Second)

	if status, body, _ := tb.exchange(t, tokenForm(code, p.verifier, newLinkID())); status != http.StatusOK {
		t.Fatalf("code at 59 s: status %d, body %v; want 200", status, body)
	}
}

func TestTokenRejectsWrongRedirectURI(t *testing.T) {
	tb := newTestBank(t)
	p := newPKCE()
	code := tb.approve(t, p, balancesAndTransactions, balancesAndTransactions...)
	form := tokenForm(code, p.verifier, newLinkID())
	form.Set("redirect_uri", "https://evil.example/oauth/callback")

	status, body, _ := tb.exchange(t, form)
	if status != http.StatusBadRequest || body["error"] != "invalid_grant" {
		t.Fatalf("wrong redirect_uri: status %d, body %v; want 400 invalid_grant", status, body)
	}
}

func TestTokenRequiresWellFormedLinkID(t *testing.T) {
	tb := newTestBank(t)
	p := newPKCE()
	code := tb.approve(t, p, balancesAndTransactions, balancesAndTransactions...)

	for _, bad := range []string{"", "lnk_short", "lnk_ABCDEFGHIJKLMNOPQRSTUVWXYZ", "lnk_abcdefghijklmnopqrstuvwx01", "xyz_abcdefghijklmnopqrstuvwxyz"} {
		status, body, _ := tb.exchange(t, tokenForm(code, p.verifier, bad))
		if status != http.StatusBadRequest || body["error"] != "invalid_request" {
			t.Errorf("link_id %q: status %d, body %v; want 400 invalid_request", bad, status, body)
		}
	}
	// A malformed request does not spend the customer's approval.
	if status, body, _ := tb.exchange(t, tokenForm(code, p.verifier, newLinkID())); status != http.StatusOK {
		t.Errorf("valid exchange after malformed ones: status %d, body %v", status, body)
	}
}

func TestTokenRefusesLinkIDAlreadyBound(t *testing.T) {
	tb := newTestBank(t)
	linkID := tb.link(t, balancesAndTransactions, balancesAndTransactions...)
	p := newPKCE()
	code := tb.approve(t, p, balancesAndTransactions, bankapi.ScopeBalances)
	status, body, _ := tb.exchange(t, tokenForm(code, p.verifier, linkID))
	if status != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Fatalf("reused link_id: status %d, body %v; want 400 invalid_request", status, body)
	}
}

func TestTokenClientAuthentication(t *testing.T) {
	tb := newTestBank(t)
	exchange := func(auth func(*http.Request), extra url.Values) (int, map[string]string, http.Header) {
		p := newPKCE()
		form := tokenForm(tb.approve(t, p, balancesAndTransactions, balancesAndTransactions...), p.verifier, newLinkID())
		for k, v := range extra {
			form[k] = v
		}
		return tb.postToken(t, form, auth)
	}

	if status, body, _ := exchange(nil, url.Values{"client_secret": {testSecret}}); status != http.StatusOK {
		t.Errorf("form credentials: status %d, body %v; want 200", status, body)
	}
	status, body, header := exchange(func(r *http.Request) { r.SetBasicAuth(testClientID, "wrong") }, nil)
	if status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("wrong secret: status %d, body %v; want 401 invalid_client", status, body)
	}
	if header.Get("WWW-Authenticate") == "" || header.Get("Cache-Control") != "no-store" {
		t.Errorf("wrong secret headers: %v", header)
	}
	if status, body, _ := exchange(nil, url.Values{"client_secret": {"wrong"}}); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("wrong form secret: status %d, body %v; want 401 invalid_client", status, body)
	}
	if status, body, _ := exchange(nil, nil); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
		t.Errorf("no secret: status %d, body %v; want 401 invalid_client", status, body)
	}
	both := func(r *http.Request) { r.SetBasicAuth(testClientID, testSecret) }
	if status, body, _ := exchange(both, url.Values{"client_secret": {testSecret}}); status != http.StatusBadRequest || body["error"] != "invalid_request" {
		t.Errorf("two methods: status %d, body %v; want 400 invalid_request", status, body)
	}
}

func TestTokenRejectsOtherGrantTypes(t *testing.T) {
	tb := newTestBank(t)
	form := tokenForm("x", newPKCE().verifier, newLinkID())
	form.Set("grant_type", "client_credentials")
	status, body, _ := tb.exchange(t, form)
	if status != http.StatusBadRequest || body["error"] != "unsupported_grant_type" {
		t.Errorf("client_credentials: status %d, body %v", status, body)
	}
}

func TestTokenRejectsUnknownClientID(t *testing.T) {
	for _, secret := range []string{testSecret, ""} {
		tb := newTestBank(t, func(c *Config) { c.ClientSecret = secret })
		p := newPKCE()
		form := tokenForm(tb.approve(t, p, balancesAndTransactions, balancesAndTransactions...), p.verifier, newLinkID())
		form.Set("client_id", "someone-else")
		if secret != "" {
			form.Set("client_secret", secret)
		}
		if status, body, _ := tb.postToken(t, form, nil); status != http.StatusUnauthorized || body["error"] != "invalid_client" {
			t.Errorf("secret %q, unknown client_id: status %d, body %v; want 401 invalid_client", secret, status, body)
		}
	}
}

func TestPublicClientNeedsNoSecret(t *testing.T) {
	tb := newTestBank(t, func(c *Config) { c.ClientSecret = "" })
	p := newPKCE()
	code := tb.approve(t, p, balancesAndTransactions, balancesAndTransactions...)
	if status, body, _ := tb.postToken(t, tokenForm(code, p.verifier, newLinkID()), nil); status != http.StatusOK {
		t.Errorf("public client: status %d, body %v; want 200", status, body)
	}
}

func TestAuthorizeNeverRedirectsToAnUnverifiedURI(t *testing.T) {
	tb := newTestBank(t)
	for name, tweak := range map[string]func(url.Values){
		"wrong redirect_uri":   func(v url.Values) { v.Set("redirect_uri", "https://evil.example/oauth/callback") },
		"prefix redirect_uri":  func(v url.Values) { v.Set("redirect_uri", testRedirectURI+"/x") },
		"unknown client_id":    func(v url.Values) { v.Set("client_id", "someone-else") },
		"missing redirect_uri": func(v url.Values) { v.Del("redirect_uri") },
	} {
		params := authorizeParams(newPKCE(), balancesAndTransactions...)
		tweak(params)
		resp, page := getAuthorize(t, tb, params)
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s: status %d, Location %q; want 400 and no redirect", name, resp.StatusCode, resp.Header.Get("Location"))
		}
		if strings.Contains(page, `name="password"`) {
			t.Errorf("%s: page still offers to sign in", name)
		}
		// The form's hidden fields are checked just the same.
		if resp := tb.submitConsent(t, params, "approve", DemoPassword(), bankapi.ScopeBalances); resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
			t.Errorf("%s (POST): status %d, Location %q", name, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
}

func TestAuthorizeRedirectsRequestErrorsWithState(t *testing.T) {
	tb := newTestBank(t)
	for _, tc := range []struct {
		name  string
		tweak func(url.Values)
		code  string
	}{
		{"plain PKCE", func(v url.Values) { v.Set("code_challenge_method", "plain") }, "invalid_request"},
		{"no PKCE", func(v url.Values) { v.Del("code_challenge"); v.Del("code_challenge_method") }, "invalid_request"},
		{"short challenge", func(v url.Values) { v.Set("code_challenge", "abc") }, "invalid_request"},
		{"implicit flow", func(v url.Values) { v.Set("response_type", "token") }, "unsupported_response_type"},
		{"unknown scope", func(v url.Values) { v.Set("scope", "balances advertising") }, "invalid_scope"},
		{"no scope", func(v url.Values) { v.Del("scope") }, "invalid_scope"},
		{"repeated state", func(v url.Values) { v.Add("state", "again") }, "invalid_request"},
	} {
		p := newPKCE()
		params := authorizeParams(p, balancesAndTransactions...)
		tc.tweak(params)
		resp, _ := getAuthorize(t, tb, params)
		loc, _ := url.Parse(resp.Header.Get("Location"))
		if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), testRedirectURI+"?") {
			t.Errorf("%s: status %d, Location %q; want 302 to the redirect URI", tc.name, resp.StatusCode, resp.Header.Get("Location"))
			continue
		}
		if got := loc.Query().Get("error"); got != tc.code {
			t.Errorf("%s: error %q, want %q", tc.name, got, tc.code)
		}
		if loc.Query().Get("code") != "" {
			t.Errorf("%s: redirect carries a code", tc.name)
		}
		if tc.name != "repeated state" && loc.Query().Get("state") != p.state {
			t.Errorf("%s: state %q, want %q", tc.name, loc.Query().Get("state"), p.state)
		}
	}

	// Without state there is nothing to return it in, but the error still
	// goes back.
	params := authorizeParams(newPKCE(), balancesAndTransactions...)
	params.Del("state")
	resp, _ := getAuthorize(t, tb, params)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || loc.Query().Get("error") != "invalid_request" {
		t.Errorf("missing state: status %d, Location %q", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestDenyRedirectsWithAccessDenied(t *testing.T) {
	tb := newTestBank(t)
	p := newPKCE()
	// Declining needs no password.
	resp := tb.submitConsent(t, authorizeParams(p, balancesAndTransactions...), "deny", "")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("deny: status %d, want 303", resp.StatusCode)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if q.Get("error") != "access_denied" || q.Get("state") != p.state || q.Get("code") != "" {
		t.Errorf("deny redirect = %s", loc)
	}
	if !strings.HasPrefix(loc.String(), testRedirectURI+"?") {
		t.Errorf("deny redirected to %s", loc)
	}
}

func TestApproveNeedsTheRightPassword(t *testing.T) {
	tb := newTestBank(t)
	resp := tb.submitConsent(t, authorizeParams(newPKCE(), balancesAndTransactions...), "approve", "guess", bankapi.ScopeBalances)
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("Location") != "" {
		t.Errorf("wrong password: status %d, Location %q; want 401 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestApproveNeedsAtLeastOneScope(t *testing.T) {
	tb := newTestBank(t)
	resp := tb.submitConsent(t, authorizeParams(newPKCE(), balancesAndTransactions...), "approve", DemoPassword())
	if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
		t.Errorf("no scopes: status %d, Location %q; want 400 and no redirect", resp.StatusCode, resp.Header.Get("Location"))
	}
}

func TestApprovedScopesAreASubsetOfTheRequest(t *testing.T) {
	tb := newTestBank(t)
	p := newPKCE()
	// A tampered form cannot grant what the platform did not ask for.
	code := tb.approve(t, p, []string{bankapi.ScopeBalances}, bankapi.ScopeBalances, bankapi.ScopeTransactions)
	linkID := newLinkID()
	status, body, _ := tb.exchange(t, tokenForm(code, p.verifier, linkID))
	if status != http.StatusOK || body["scope"] != "balances" {
		t.Fatalf("token: status %d, body %v; want scope balances", status, body)
	}
}

func TestOnlyGrantedScopesFlow(t *testing.T) {
	tb := newTestBank(t)
	p := newPKCE()
	code := tb.approve(t, p, balancesAndTransactions, bankapi.ScopeBalances)
	linkID := newLinkID()
	status, body, _ := tb.exchange(t, tokenForm(code, p.verifier, linkID))
	if status != http.StatusOK || body["scope"] != "balances" {
		t.Fatalf("token: status %d, body %v; want scope balances", status, body)
	}
	for range 40 {
		tb.clock.Advance(10 * time.Second)
		if err := tb.Step(context.Background()); err != nil {
			t.Fatalf("Step: %v", err)
		}
	}
	events := tb.platform.Events()
	if len(eventsOfType(events, bankapi.TypeBalanceUpdated)) < 40 {
		t.Errorf("got %d balance updates, want activity to keep balances flowing", len(eventsOfType(events, bankapi.TypeBalanceUpdated)))
	}
	for _, e := range events {
		if e.Type != bankapi.TypeBalanceUpdated && e.Type != bankapi.TypeMessage {
			t.Fatalf("a balances-only link got a %s event", e.Type)
		}
	}

	// And the other way round: transactions only, no balances.
	tb2 := newTestBank(t)
	tb2.link(t, balancesAndTransactions, bankapi.ScopeTransactions)
	for range 10 {
		tb2.clock.Advance(10 * time.Second)
		if err := tb2.Step(context.Background()); err != nil {
			t.Fatalf("Step: %v", err)
		}
	}
	if n := len(eventsOfType(tb2.platform.Events(), bankapi.TypeBalanceUpdated)); n != 0 {
		t.Errorf("a transactions-only link got %d balance updates", n)
	}
	if n := len(eventsOfType(tb2.platform.Events(), bankapi.TypeTransactionPosted)); n == 0 {
		t.Error("a transactions-only link got no transactions")
	}
}

func TestSignInPageEscapesEverything(t *testing.T) {
	tb := newTestBank(t, func(c *Config) { c.Name = `<script>alert("bank")</script> & Co` })
	p := newPKCE()
	params := authorizeParams(p, balancesAndTransactions...)
	params.Set("state", `"><script>alert("state")</script>`)
	resp, page := getAuthorize(t, tb, params)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if strings.Contains(page, "<script>") {
		t.Error("page contains an unescaped <script>")
	}
	if !strings.Contains(page, "&lt;script&gt;alert(&#34;bank&#34;)&lt;/script&gt; &amp; Co — sign in") {
		t.Error("page does not show the escaped bank name")
	}
	if resp.Header.Get("X-Frame-Options") != "DENY" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("page headers = %v", resp.Header)
	}
}
