package auth

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"

	"github.com/openteller/openteller/internal/i18n"
)

// languageCookie is the language cookie resp sets, nil for none.
func languageCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == i18n.CookieName {
			return c
		}
	}
	return nil
}

// accountLanguage is the language the store keeps for the account of email.
func accountLanguage(t *testing.T, env *testEnv, email string) string {
	t.Helper()
	c, err := env.st.CustomerByEmail(context.Background(), email)
	if err != nil {
		t.Fatal(err)
	}
	return c.Language
}

// TestLanguageFollowsTheAccount: a signed-in customer's choice of language
// is kept with their account (and this browser's cookie); only a language
// OpenTeller speaks is taken, with a typed error and nothing changed
// otherwise; signing in on another browser, whatever it had chosen, sets
// its cookie to the account's and says it in the answer, as /me does.
func TestLanguageFollowsTheAccount(t *testing.T) {
	env := newTestEnv(t)
	srv := accountServer(t, env)
	a := newClient(t, srv)
	csrf := signUpVia(a)
	if got := accountLanguage(t, env, "ada@example.com"); got != "" {
		t.Fatalf("a new account whose browser chose nothing has language %q", got)
	}

	resp, body := a.do("PUT", "/app/api/language", map[string]string{"language": "fr"})
	a.wantStatus(resp, body, http.StatusForbidden, "csrf")
	resp, body = newClient(t, srv).do("PUT", "/app/api/language", map[string]string{"language": "fr"}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, http.StatusUnauthorized, "signed_out")
	for _, bad := range []any{
		map[string]string{"language": "de"},
		map[string]string{"language": ""},
		map[string]string{"language": "FR"},
		map[string]string{"language": "fr-CA"},
		map[string]string{"language": "fr;"},
		map[string]any{},
	} {
		resp, body = a.do("PUT", "/app/api/language", bad, "X-CSRF-Token", csrf)
		a.wantStatus(resp, body, http.StatusBadRequest, "invalid_language")
		if c := languageCookie(resp); c != nil {
			t.Errorf("%v: refused, yet sets the cookie %v", bad, c)
		}
	}
	resp, body = a.do("PUT", "/app/api/language", map[string]any{"language": "fr", "colour": "red"}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, http.StatusBadRequest, "invalid_json")
	if got := accountLanguage(t, env, "ada@example.com"); got != "" {
		t.Fatalf("refused choices left the account's language %q", got)
	}

	resp, body = a.do("PUT", "/app/api/language", map[string]string{"language": "fr"}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, http.StatusOK, "")
	if string(body) != `{"language":"fr"}`+"\n" {
		t.Errorf("the answer: %s", body)
	}
	if c := languageCookie(resp); c == nil || c.Value != "fr" || c.Path != "/" || c.HttpOnly || c.MaxAge < 300*24*3600 || c.SameSite != http.SameSiteLaxMode {
		t.Errorf("the cookie: %+v (want fr, Path=/, a year, readable by the page, SameSite=Lax)", c)
	}
	if got := accountLanguage(t, env, "ada@example.com"); got != "fr" {
		t.Fatalf("the account's language is %q, want fr", got)
	}
	resp, body = a.do("PUT", "/app/api/language", map[string]string{"language": "xx"}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, http.StatusBadRequest, "invalid_language")
	if got := accountLanguage(t, env, "ada@example.com"); got != "fr" {
		t.Fatalf("a refused choice changed the account's language to %q", got)
	}

	// Another browser, which had chosen Italian: signing in, the account's
	// French wins.
	b := newClient(t, srv)
	u, _ := url.Parse(srv.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: i18n.CookieName, Value: "it", Path: "/"}})
	resp, body = b.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
	b.wantStatus(resp, body, http.StatusOK, "")
	if acc := decodeAccount(t, body); acc.Customer.Language != "fr" {
		t.Errorf("the sign-in's answer says language %q", acc.Customer.Language)
	}
	if c := languageCookie(resp); c == nil || c.Value != "fr" {
		t.Errorf("signing in set the language cookie %+v, want fr", c)
	}
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == i18n.CookieName && c.Value != "fr" {
			t.Errorf("the browser keeps language %q after signing in", c.Value)
		}
	}
	resp, body = b.do("GET", "/app/api/me", nil)
	b.wantStatus(resp, body, http.StatusOK, "")
	if acc := decodeAccount(t, body); acc.Customer.Language != "fr" {
		t.Errorf("/me says language %q", acc.Customer.Language)
	}

	// An account that keeps no language leaves the browser's alone.
	must(0, env.st.SetCustomerLanguage(context.Background(), decodeAccount(t, body).Customer.ID, ""))
	resp, body = newClient(t, srv).do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
	a.wantStatus(resp, body, http.StatusOK, "")
	if c := languageCookie(resp); c != nil {
		t.Errorf("signing in to an account without a language set the cookie %+v", c)
	}
	var raw struct{ Customer map[string]any }
	if err := json.Unmarshal(body, &raw); err != nil || raw.Customer["language"] != "" {
		t.Errorf("an account without a language: %s", body)
	}
}

// TestSignUpKeepsTheBrowsersChoice: signing up keeps the language chosen
// on the browser (its cookie) with the new account; a cookie naming a
// language OpenTeller does not speak, or Accept-Language alone, keeps none.
func TestSignUpKeepsTheBrowsersChoice(t *testing.T) {
	env := newTestEnv(t)
	srv := accountServer(t, env)
	u, _ := url.Parse(srv.URL)
	for _, c := range []struct{ email, cookie, accept, want string }{
		{"pt@example.com", "pt", "", "pt"},
		{"xx@example.com", "xx", "", ""},
		{"accept@example.com", "", "it-IT,it;q=0.9", ""},
	} {
		a := newClient(t, srv)
		if c.cookie != "" {
			a.c.Jar.SetCookies(u, []*http.Cookie{{Name: i18n.CookieName, Value: c.cookie, Path: "/"}})
		}
		resp, body := a.do("POST", "/app/api/signup", map[string]string{"email": c.email, "password": "correct horse battery"}, "Accept-Language", c.accept)
		a.wantStatus(resp, body, http.StatusCreated, "")
		if acc := decodeAccount(t, body); acc.Customer.Language != c.want {
			t.Errorf("%s: the answer says language %q, want %q", c.email, acc.Customer.Language, c.want)
		}
		if got := accountLanguage(t, env, c.email); got != c.want {
			t.Errorf("%s: the account keeps %q, want %q", c.email, got, c.want)
		}
	}
}

// TestResetMailInTheAccountsLanguage: a reset mail is to be written in the
// account's language, whatever the page that asked spoke; for an account
// without one, in the asking page's language, else English.
func TestResetMailInTheAccountsLanguage(t *testing.T) {
	env := newTestEnv(t)
	box := &mailbox{}
	env.svc.SetMailer(box)
	srv := accountServer(t, env)
	for _, email := range []string{"fleur@example.com", "ida@example.com"} {
		resp, body := newClient(t, srv).do("POST", "/app/api/signup", map[string]string{"email": email, "password": "correct horse battery"})
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("sign up %s: %d %s", email, resp.StatusCode, body)
		}
	}
	fleur, err := env.st.CustomerByEmail(context.Background(), "fleur@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.svc.SetLanguage(context.Background(), fleur.ID, "fr"); err != nil {
		t.Fatal(err)
	}
	wantError(t, env.svc.SetLanguage(context.Background(), fleur.ID, "de"), http.StatusBadRequest, "invalid_language")
	wantError(t, env.svc.SetLanguage(context.Background(), "cus_gone", "fr"), http.StatusUnauthorized, "signed_out")
	for _, c := range []struct{ email, accept, want string }{
		{"fleur@example.com", "it-IT", "fr"},
		{"ida@example.com", "it-IT,it;q=0.9", "it"},
		{"ida@example.com", "", "en"},
	} {
		before := len(box.all())
		resp, body := newClient(t, srv).do("POST", "/app/api/password-reset", map[string]string{"email": c.email}, "Accept-Language", c.accept)
		if resp.StatusCode != http.StatusAccepted {
			t.Fatalf("ask for %s: %d %s", c.email, resp.StatusCode, body)
		}
		env.svc.Wait()
		sent := box.all()
		if len(sent) != before+1 || sent[before].To != c.email || sent[before].Lang != c.want {
			t.Errorf("%s from a page in %q: mail %+v, want it in %q", c.email, c.accept, sent[before:], c.want)
		}
	}
}
