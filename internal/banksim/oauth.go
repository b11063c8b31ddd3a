package banksim

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"html/template"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

// The bank is the OAuth 2.0 authorization server (RFC 6749, authorization
// code grant) with PKCE S256 (RFC 7636); the platform is its one client.

const (
	codeLifetime = 60 * time.Second
	// usedCodeMemory is how long a redeemed code is remembered, so a replay
	// is recognised (and the link it made revoked) instead of looking like
	// an unknown code.
	usedCodeMemory = 10 * time.Minute
	maxFormBytes   = 64 << 10
)

var (
	linkIDPattern = regexp.MustCompile(`^lnk_[a-z2-7]{26}$`)
	// RFC 7636 §4.1: 43–128 unreserved characters.
	verifierPattern = regexp.MustCompile(`^[A-Za-z0-9._~-]{43,128}$`)
)

// scopeWords says in plain words what each scope lets the platform show.
var scopeWords = map[string]string{
	bankapi.ScopeBalances:     "See the balances of your accounts",
	bankapi.ScopeTransactions: "See your card and account transactions",
	bankapi.ScopeFraudAlerts:  "Send you fraud alerts and pass on your answers",
	bankapi.ScopeReceipts:     "Send you receipts for your purchases",
	bankapi.ScopeShipments:    "Send you shipping updates for your orders",
	bankapi.ScopePayments:     "Ask you to pay, and pay what you approve",
	bankapi.ScopeSupportChat:  "Let you chat with our support team",
}

// authCode is an issued authorization code and everything it is bound to.
type authCode struct {
	ClientID    string
	RedirectURI string
	Challenge   string
	Scopes      []string
	CustomerID  string
	ExpiresAt   time.Time
	// LinkID is set once the code has been redeemed.
	LinkID string
}

// Handler serves the bank's OAuth endpoints: GET and POST /authorize (the
// customer's sign-in and consent page) and POST /token (the platform's code
// exchange).
func (b *Bank) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /authorize", b.serveAuthorizeForm)
	mux.HandleFunc("POST /authorize", b.serveAuthorizeDecision)
	mux.HandleFunc("POST /token", b.serveToken)
	mux.HandleFunc("POST /sim/fraud-alert", b.serveRaiseAlert)
	mux.HandleFunc("POST /sim/replace-cards", b.serveReplaceCards)
	mux.HandleFunc("POST /sim/payment-request", b.serveRequestPayment)
	if b.cfg.WebhookURL != "" {
		mux.Handle("POST "+b.webhookPath(), b.webhookHandler())
	}
	return mux
}

// authorizeRequest is a validated authorization request.
type authorizeRequest struct {
	ClientID      string
	RedirectURI   string
	State         string
	CodeChallenge string
	Scopes        []string // requested, known, deduplicated, in request order
}

// oauthError is an OAuth error response. Redirect says whether it may go
// back to the redirect URI: never until client and redirect URI are
// verified (RFC 6749 §4.1.2.1), or the bank would be an open redirector.
type oauthError struct {
	Status      int
	Code        string
	Description string
	Redirect    bool
}

// parseAuthorizeRequest validates the parameters of /authorize, from the
// query (GET) or the form's hidden fields (POST), which the browser could
// have altered, so both are checked the same way.
func (b *Bank) parseAuthorizeRequest(v url.Values) (authorizeRequest, *oauthError) {
	req := authorizeRequest{
		ClientID:      v.Get("client_id"),
		RedirectURI:   v.Get("redirect_uri"),
		State:         v.Get("state"),
		CodeChallenge: v.Get("code_challenge"),
	}
	if len(v["client_id"]) != 1 || req.ClientID != b.cfg.ClientID {
		return req, &oauthError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "This sign-in link names an application we do not know."}
	}
	if len(v["redirect_uri"]) != 1 || req.RedirectURI != b.cfg.RedirectURI {
		return req, &oauthError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "This sign-in link would send you somewhere we do not know."}
	}
	fail := func(code, description string) (authorizeRequest, *oauthError) {
		return req, &oauthError{Status: http.StatusBadRequest, Code: code, Description: description, Redirect: true}
	}
	for _, name := range []string{"response_type", "state", "scope", "code_challenge", "code_challenge_method"} {
		if len(v[name]) > 1 {
			return fail("invalid_request", name+" is repeated")
		}
	}
	if v.Get("response_type") != "code" {
		return fail("unsupported_response_type", "response_type must be code")
	}
	if req.State == "" {
		return fail("invalid_request", "state is required")
	}
	if v.Get("code_challenge_method") != "S256" {
		return fail("invalid_request", "code_challenge_method must be S256")
	}
	if sum, err := base64.RawURLEncoding.DecodeString(req.CodeChallenge); err != nil || len(sum) != sha256.Size {
		return fail("invalid_request", "code_challenge must be a base64url SHA-256 digest")
	}
	for _, s := range strings.Fields(v.Get("scope")) {
		if _, known := scopeWords[s]; !known {
			return fail("invalid_scope", "unknown scope "+s)
		}
		if !slices.Contains(req.Scopes, s) {
			req.Scopes = append(req.Scopes, s)
		}
	}
	if len(req.Scopes) == 0 {
		return fail("invalid_scope", "scope is required")
	}
	return req, nil
}

// serveAuthorizeForm shows the sign-in and consent page.
func (b *Bank) serveAuthorizeForm(w http.ResponseWriter, r *http.Request) {
	req, oerr := b.parseAuthorizeRequest(r.URL.Query())
	if oerr != nil {
		b.authorizeFailed(w, r, req, oerr)
		return
	}
	checked := make(map[string]bool, len(req.Scopes))
	for _, s := range req.Scopes {
		checked[s] = true
	}
	b.renderSignIn(w, http.StatusOK, req, demoUsername, demoPassword, checked, "")
}

// serveAuthorizeDecision handles Approve and Deny.
func (b *Bank) serveAuthorizeDecision(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		b.renderError(w, http.StatusBadRequest, "The form could not be read.")
		return
	}
	form := r.PostForm
	req, oerr := b.parseAuthorizeRequest(form)
	if oerr != nil {
		b.authorizeFailed(w, r, req, oerr)
		return
	}
	switch form.Get("decision") {
	case "deny":
		// Declining needs no sign-in: anyone may refuse.
		b.redirectBack(w, r, req, url.Values{"error": {"access_denied"}})
		return
	case "approve":
	default:
		b.renderError(w, http.StatusBadRequest, "Choose Approve or Deny.")
		return
	}

	checked := make(map[string]bool)
	var approved []string
	for _, s := range req.Scopes { // only what was asked for, in its order
		if slices.Contains(form["grant"], s) {
			checked[s] = true
			approved = append(approved, s)
		}
	}
	username := form.Get("username")
	b.mu.Lock()
	c := b.signIn(username, form.Get("password"))
	b.mu.Unlock()
	if c == nil {
		b.renderSignIn(w, http.StatusUnauthorized, req, username, "", checked, "That username and password do not match our records.")
		return
	}
	if len(approved) == 0 {
		b.renderSignIn(w, http.StatusBadRequest, req, username, "", checked, "Choose at least one thing to share, or press Deny.")
		return
	}

	code := randomBase64(32)
	b.mu.Lock()
	now := b.now()
	b.pruneCodes(now)
	b.codes[code] = &authCode{
		ClientID:    req.ClientID,
		RedirectURI: req.RedirectURI,
		Challenge:   req.CodeChallenge,
		Scopes:      approved,
		CustomerID:  c.ID,
		ExpiresAt:   now.Add(codeLifetime),
	}
	b.mu.Unlock()
	b.log.Info("authorization approved", "bank", b.cfg.Name, "scopes", strings.Join(approved, " "))
	b.redirectBack(w, r, req, url.Values{"code": {code}})
}

// signIn checks a customer's credentials. b.mu must be held.
func (b *Bank) signIn(username, password string) *customer {
	for _, c := range b.st.Customers {
		// Compare the password even for an unknown username, so timing
		// does not tell which usernames exist.
		userOK := subtle.ConstantTimeCompare([]byte(username), []byte(c.Username))
		passOK := subtle.ConstantTimeCompare([]byte(password), []byte(demoPassword))
		if userOK&passOK == 1 {
			return c
		}
	}
	return nil
}

// authorizeFailed reports an invalid authorization request: back to the
// platform when the redirect URI is trusted, otherwise on a page here.
func (b *Bank) authorizeFailed(w http.ResponseWriter, r *http.Request, req authorizeRequest, oerr *oauthError) {
	if !oerr.Redirect {
		b.renderError(w, oerr.Status, oerr.Description)
		return
	}
	b.redirectBack(w, r, req, url.Values{"error": {oerr.Code}, "error_description": {oerr.Description}})
}

// redirectBack sends the browser to the verified redirect URI with params
// and the request's state.
func (b *Bank) redirectBack(w http.ResponseWriter, r *http.Request, req authorizeRequest, params url.Values) {
	u, _ := url.Parse(req.RedirectURI) // equal to the validated configured URI
	q := u.Query()
	for k, vs := range params {
		q[k] = vs
	}
	if req.State != "" {
		q.Set("state", req.State)
	}
	u.RawQuery = q.Encode()
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Referrer-Policy", "no-referrer")
	status := http.StatusFound
	if r.Method == http.MethodPost {
		status = http.StatusSeeOther // the browser follows with GET
	}
	http.Redirect(w, r, u.String(), status)
}

// pruneCodes forgets codes past any use. b.mu must be held.
func (b *Bank) pruneCodes(now time.Time) {
	for code, ac := range b.codes {
		if now.After(ac.ExpiresAt.Add(usedCodeMemory)) {
			delete(b.codes, code)
		}
	}
}

// tokenResponse is the token endpoint's success body. The access token is
// reserved for the platform's calls to the bank (customer requests);
// nothing accepts it yet.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	Scope       string `json:"scope"`
	LinkID      string `json:"link_id"`
}

// serveToken exchanges an authorization code for a link.
func (b *Bank) serveToken(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		tokenError(w, &oauthError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "the body is not a readable form"})
		return
	}
	form := r.PostForm
	if oerr := b.authenticateClient(w, r, form); oerr != nil {
		tokenError(w, oerr)
		return
	}
	invalid := func(description string) {
		tokenError(w, &oauthError{Status: http.StatusBadRequest, Code: "invalid_request", Description: description})
	}
	for _, name := range slices.Sorted(maps.Keys(form)) {
		if len(form[name]) > 1 {
			invalid(name + " is repeated")
			return
		}
	}
	switch gt := form.Get("grant_type"); gt {
	case "authorization_code":
	case "":
		invalid("grant_type is required")
		return
	default:
		tokenError(w, &oauthError{Status: http.StatusBadRequest, Code: "unsupported_grant_type", Description: "only authorization_code is supported"})
		return
	}
	for _, name := range []string{"code", "redirect_uri", "code_verifier", "link_id"} {
		if form.Get(name) == "" {
			invalid(name + " is required")
			return
		}
	}
	code, redirectURI, verifier, linkID := form.Get("code"), form.Get("redirect_uri"), form.Get("code_verifier"), form.Get("link_id")
	if !linkIDPattern.MatchString(linkID) {
		invalid("link_id must be lnk_ followed by 26 base32 characters")
		return
	}
	if !verifierPattern.MatchString(verifier) {
		invalid("code_verifier must be 43 to 128 unreserved characters")
		return
	}
	grantFailed := func(description string) {
		tokenError(w, &oauthError{Status: http.StatusBadRequest, Code: "invalid_grant", Description: description})
	}
	clientID := b.cfg.ClientID // authenticateClient proved the caller is it

	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.pruneCodes(now)
	ac := b.codes[code]
	switch {
	case ac == nil:
		grantFailed("unknown authorization code")
		return
	case ac.LinkID != "":
		// RFC 6749 §4.1.2: a code used twice may have been stolen; revoke
		// what it granted.
		b.stopLink(ac.LinkID, "code_replayed")
		_ = b.saveLocked() // best effort: the refusal stands either way
		grantFailed("authorization code already used")
		return
	case !now.Before(ac.ExpiresAt):
		delete(b.codes, code)
		grantFailed("authorization code expired")
		return
	case ac.ClientID != clientID:
		grantFailed("authorization code was issued to another client")
		return
	}
	if b.findLink(linkID) != nil {
		// Checked before the code is spent: this is the platform's
		// mistake, and the customer's approval need not be lost to it.
		invalid("link_id is already bound")
		return
	}
	// One attempt per code: a failed verifier or redirect URI spends it
	// too, so a stolen code cannot be tried against guessed verifiers.
	delete(b.codes, code)
	if redirectURI != ac.RedirectURI {
		grantFailed("redirect_uri does not match the authorization request")
		return
	}
	sum := sha256.Sum256([]byte(verifier))
	if subtle.ConstantTimeCompare([]byte(base64.RawURLEncoding.EncodeToString(sum[:])), []byte(ac.Challenge)) != 1 {
		grantFailed("code_verifier does not match the code_challenge")
		return
	}

	token := randomBase64(32)
	tokenSum := sha256.Sum256([]byte(token))
	l := &link{
		ID:          linkID,
		CustomerID:  ac.CustomerID,
		Scopes:      ac.Scopes,
		CreatedAt:   now,
		TokenSHA256: hex.EncodeToString(tokenSum[:]),
	}
	outboxBefore := len(b.st.Outbox)
	b.st.Links = append(b.st.Links, l)
	b.openLink(l, now)
	if err := b.saveLocked(); err != nil {
		// Without the binding on disk, a restart would forget the link
		// while the platform keeps it: refuse rather than half-link.
		b.st.Links = b.st.Links[:len(b.st.Links)-1]
		b.st.Outbox = b.st.Outbox[:outboxBefore]
		b.log.Error("link not saved", "bank", b.cfg.Name, "link", linkID, "err", err)
		tokenError(w, &oauthError{Status: http.StatusInternalServerError, Code: "server_error", Description: "the bank could not record the link"})
		return
	}
	ac.LinkID = linkID
	b.codes[code] = ac // remembered to catch a replay
	b.log.Info("link created", "bank", b.cfg.Name, "link", linkID, "scopes", strings.Join(l.Scopes, " "))

	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	json.NewEncoder(w).Encode(tokenResponse{AccessToken: token, TokenType: "Bearer", Scope: strings.Join(l.Scopes, " "), LinkID: linkID})
	b.wake()
}

// openLink queues a new link's first events: a welcome message, and the
// opening balance of every account if the customer shared balances.
// b.mu must be held.
func (b *Bank) openLink(l *link, now time.Time) {
	c := b.customerByID(l.CustomerID)
	b.emitTo(l, bankapi.TypeMessage, now, func(*link) any {
		return bankapi.Message{Text: welcomeText(b.cfg.Name, c.DisplayName, l.Scopes)}
	})
	for _, a := range c.Accounts {
		b.emitTo(l, bankapi.TypeBalanceUpdated, now, func(l *link) any { return a.balance(b.accountRef(l, a)) })
	}
}

// authenticateClient checks the platform's client credentials, sent either
// in HTTP Basic auth or as client_id/client_secret form fields, not both
// (RFC 6749 §2.3.1).
func (b *Bank) authenticateClient(w http.ResponseWriter, r *http.Request, form url.Values) *oauthError {
	user, pass, basic := r.BasicAuth()
	id, secret := form.Get("client_id"), form.Get("client_secret")
	unauthorized := &oauthError{Status: http.StatusUnauthorized, Code: "invalid_client", Description: "client authentication failed"}
	if basic {
		if secret != "" {
			return &oauthError{Status: http.StatusBadRequest, Code: "invalid_request", Description: "use one client authentication method, not two"}
		}
		// Basic credentials are form-encoded before base64 (§2.3.1).
		basicID, err1 := url.QueryUnescape(user)
		basicSecret, err2 := url.QueryUnescape(pass)
		if err1 != nil || err2 != nil || (id != "" && id != basicID) {
			w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
			return unauthorized
		}
		id, secret = basicID, basicSecret
	}
	idOK := subtle.ConstantTimeCompare([]byte(id), []byte(b.cfg.ClientID))
	secretOK := subtle.ConstantTimeCompare([]byte(secret), []byte(b.cfg.ClientSecret))
	if b.cfg.ClientSecret == "" {
		secretOK = 1 // a public client: PKCE alone binds the code to it
	}
	if id == "" || idOK&secretOK != 1 {
		if basic {
			w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
		}
		return unauthorized
	}
	return nil
}

// tokenError writes an RFC 6749 §5.2 error.
func tokenError(w http.ResponseWriter, oerr *oauthError) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Pragma", "no-cache")
	w.WriteHeader(oerr.Status)
	json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description,omitempty"`
	}{oerr.Code, oerr.Description})
}

func randomBase64(n int) string { return base64.RawURLEncoding.EncodeToString(randomBytes(n)) }

// Pages.

type scopeChoice struct {
	Name, Words string
	Checked     bool
}

type signInPage struct {
	BankName, Username, Password, Error string
	Scopes                              []scopeChoice
	Request                             authorizeRequest
	Scope                               string
}

type errorPage struct {
	BankName, Message string
}

func (b *Bank) renderSignIn(w http.ResponseWriter, status int, req authorizeRequest, username, password string, checked map[string]bool, problem string) {
	page := signInPage{
		BankName: b.cfg.Name,
		Username: username,
		Password: password,
		Error:    problem,
		Request:  req,
		Scope:    strings.Join(req.Scopes, " "),
	}
	for _, s := range req.Scopes {
		page.Scopes = append(page.Scopes, scopeChoice{Name: s, Words: scopeWords[s], Checked: checked[s]})
	}
	b.renderPage(w, status, "signin", page)
}

func (b *Bank) renderError(w http.ResponseWriter, status int, message string) {
	b.renderPage(w, status, "error", errorPage{BankName: b.cfg.Name, Message: message})
}

func (b *Bank) renderPage(w http.ResponseWriter, status int, name string, data any) {
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", b.formCSP)
	h.Set("X-Frame-Options", "DENY") // no clickjacking the Approve button
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	if err := b.pages.ExecuteTemplate(w, name, data); err != nil {
		b.log.Error("render page", "bank", b.cfg.Name, "page", name, "err", err)
	}
}

// pageTemplates escape everything it prints (html/template): the bank's
// name, the state and the challenge all come from outside.
var pageTemplates = template.Must(template.New("pages").Parse(`
{{define "head"}}<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{{.}} — sign in</title>
<style>
body{margin:0;font:16px/1.5 system-ui,sans-serif;background:#eef2f1;color:#1d2b28}
header{background:#1f5e4f;color:#fff;padding:14px 24px;font-weight:600;letter-spacing:.02em}
main{max-width:420px;margin:32px auto;background:#fff;border-radius:10px;padding:24px 28px;box-shadow:0 2px 10px #0002}
h1{font-size:1.3em;margin:0 0 16px}
label{display:block;margin:10px 0 4px;font-weight:600}
input[type=text],input[type=password]{width:100%;box-sizing:border-box;padding:8px;border:1px solid #9bb;border-radius:6px;font:inherit}
fieldset{border:1px solid #cdd;border-radius:6px;margin:18px 0;padding:8px 14px}
fieldset label{font-weight:400}
.problem{background:#fde8e8;color:#8a1c1c;padding:8px 12px;border-radius:6px}
.actions{display:flex;gap:12px;margin-top:18px}
button{flex:1;padding:10px;border-radius:6px;border:1px solid #1f5e4f;font:inherit;cursor:pointer}
button[value=approve]{background:#1f5e4f;color:#fff}
button[value=deny]{background:#fff;color:#1f5e4f}
.note{font-size:.85em;color:#567}
</style></head><body><header>{{.}}</header>{{end}}

{{define "signin"}}{{template "head" .BankName}}
<main>
<h1>{{.BankName}} — sign in</h1>
{{with .Error}}<p class="problem" role="alert">{{.}}</p>{{end}}
<form method="post" action="authorize">
<input type="hidden" name="response_type" value="code">
<input type="hidden" name="client_id" value="{{.Request.ClientID}}">
<input type="hidden" name="redirect_uri" value="{{.Request.RedirectURI}}">
<input type="hidden" name="state" value="{{.Request.State}}">
<input type="hidden" name="code_challenge" value="{{.Request.CodeChallenge}}">
<input type="hidden" name="code_challenge_method" value="S256">
<input type="hidden" name="scope" value="{{.Scope}}">
<label for="username">Username</label>
<input type="text" id="username" name="username" value="{{.Username}}" autocomplete="username">
<label for="password">Password</label>
<input type="password" id="password" name="password" value="{{.Password}}" autocomplete="current-password">
<fieldset><legend>OpenTeller would like to</legend>
{{range .Scopes}}<label><input type="checkbox" name="grant" value="{{.Name}}"{{if .Checked}} checked{{end}}> {{.Words}}</label>
{{end}}</fieldset>
<p class="note">Untick anything you would rather not share. You can revoke access at any time.</p>
<div class="actions">
<button type="submit" name="decision" value="approve">Approve</button>
<button type="submit" name="decision" value="deny">Deny</button>
</div>
</form>
</main></body></html>
{{end}}

{{define "error"}}{{template "head" .BankName}}
<main><h1>{{.BankName}} — sign in</h1><p class="problem" role="alert">{{.Message}}</p>
<p class="note">Go back to the app and try connecting again.</p></main></body></html>
{{end}}
`))
