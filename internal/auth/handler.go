package auth

import (
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/i18n"
	"github.com/openteller/openteller/internal/store"
)

// maxBody bounds the JSON bodies of the account routes.
const maxBody = 8 << 10

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
	// Code is the second factor's code (TOTP or recovery), at sign-in
	// for a customer who has one on.
	Code string `json:"code"`
}

type customerJSON struct {
	ID    string `json:"id"`
	Email string `json:"email"`
	// Language is the one kept with the account, "" for none: a page
	// in another switches to it.
	Language string `json:"language"`
}

// account is the answer of signup, signin and me.
type account struct {
	Customer  customerJSON `json:"customer"`
	CSRFToken string       `json:"csrf_token"`
	// Security is how the account signs in; only /me says.
	Security *securityJSON `json:"security,omitempty"`
}

type securityJSON struct {
	TOTP              bool      `json:"totp"`                // a second factor is on
	RecoveryCodesLeft int       `json:"recovery_codes_left"` // with it
	ReauthUntil       time.Time `json:"reauth_until"`        // until when the last sign-in or re-authentication counts as recent
	Passkeys          int       `json:"passkeys"`            // how many passkeys the account has
}

func accountOf(c store.Customer, csrf string) account {
	return account{Customer: customerJSON{ID: c.ID, Email: c.Email, Language: c.Language}, CSRFToken: csrf}
}

// Handler serves the account routes of the customer web API:
//
//	POST /app/api/signup   {"email","password"} → 201 {"customer":{"id","email","language"},"csrf_token"}
//	POST /app/api/signin   {"email","password"} → 200 same shape
//	POST /app/api/signout  → 204
//	GET  /app/api/me       → 200 same shape
//	POST /app/api/password {"current","new"} → 204; every other session ends
//	PUT  /app/api/language {"language"} → 200 {"language"}, and this browser's cookie (language.go)
//	POST /app/api/password-reset {"email"} → 202, whether or not it has an account
//	POST /app/api/password-reset/complete {"token","new"} → 204; every session ends
//	POST /app/api/reauth {"password","code"} → 200 {"reauth_until"}
//	POST /app/api/totp/setup → 200 {"secret","uri"} (recent authentication)
//	POST /app/api/totp/confirm {"code"} → 200 {"recovery_codes"}
//	DELETE /app/api/totp → 204 (recent authentication)
//	POST /app/api/totp/recovery-codes → 200 {"recovery_codes"} (recent authentication)
//	GET  /app/api/passkeys → 200 {"passkeys":[{"id","name","created_at","last_used_at","synced","transports","signed_in_here"}]}
//	POST /app/api/passkeys/register/begin → 200 {"publicKey":{…}} (recent authentication)
//	POST /app/api/passkeys/register/finish {"name","credential"} → 201 {"passkey"}
//	DELETE /app/api/passkeys/{id} → 200 {"sessions_ended","signed_out"} (recent authentication); the sessions it signed in end
//	POST /app/api/passkeys/signin/begin {"email"} → 200 {"publicKey":{…}}, and a cookie
//	POST /app/api/passkeys/signin/finish {"credential"} → 200 like signin
//
// Cross-origin browser POSTs are refused (403 csrf) with Go's
// CrossOriginProtection: signup and signin have no session and so no CSRF
// token yet, and without this a page elsewhere could sign a visitor into an
// account of its choosing. The handler includes Middleware.
func (s *Service) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /app/api/signup", s.handleSignUp)
	mux.HandleFunc("POST /app/api/signin", s.handleSignIn)
	mux.HandleFunc("POST /app/api/signout", s.handleSignOut)
	mux.Handle("GET /app/api/me", s.RequireCustomer(http.HandlerFunc(s.handleMe)))
	mux.Handle("POST /app/api/password", s.RequireCustomer(http.HandlerFunc(s.handlePassword)))
	mux.Handle("PUT /app/api/language", s.RequireCustomer(http.HandlerFunc(s.handleLanguage)))
	mux.HandleFunc("POST /app/api/password-reset", s.handleResetAsk)
	mux.HandleFunc("POST /app/api/password-reset/complete", s.handleResetComplete)
	mux.Handle("POST /app/api/reauth", s.RequireCustomer(http.HandlerFunc(s.handleReauth)))
	mux.Handle("POST /app/api/totp/setup", s.RequireRecentAuth(http.HandlerFunc(s.handleTOTPSetup)))
	mux.Handle("POST /app/api/totp/confirm", s.RequireCustomer(http.HandlerFunc(s.handleTOTPConfirm)))
	mux.Handle("DELETE /app/api/totp", s.RequireRecentAuth(http.HandlerFunc(s.handleTOTPDisable)))
	mux.Handle("POST /app/api/totp/recovery-codes", s.RequireRecentAuth(http.HandlerFunc(s.handleRecoveryCodes)))
	mux.Handle("GET /app/api/passkeys", s.RequireCustomer(http.HandlerFunc(s.handlePasskeys)))
	mux.Handle("POST /app/api/passkeys/register/begin", s.RequireRecentAuth(http.HandlerFunc(s.handlePasskeyRegisterBegin)))
	mux.Handle("POST /app/api/passkeys/register/finish", s.RequireCustomer(http.HandlerFunc(s.handlePasskeyRegisterFinish)))
	mux.Handle("DELETE /app/api/passkeys/{id}", s.RequireRecentAuth(http.HandlerFunc(s.handlePasskeyRemove)))
	mux.HandleFunc("POST /app/api/passkeys/signin/begin", s.handlePasskeySignInBegin)
	mux.HandleFunc("POST /app/api/passkeys/signin/finish", s.handlePasskeySignInFinish)

	cop := http.NewCrossOriginProtection()
	return s.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := cop.Check(r); err != nil {
			httpx.WriteError(w, errCSRF())
			return
		}
		mux.ServeHTTP(w, r)
	}))
}

func (s *Service) handleSignUp(w http.ResponseWriter, r *http.Request) {
	var in credentials
	if err := httpx.DecodeJSON(w, r, maxBody, &in); err != nil {
		httpx.WriteError(w, err)
		return
	}
	if wait, ok := s.throttle.signUp(clientIP(r)); !ok {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		httpx.WriteError(w, httpx.Errorf(http.StatusTooManyRequests, "too_many_attempts", "Too many new accounts from this network. Try again in %d minutes.", max(1, int(math.Ceil(wait.Minutes())))))
		return
	}
	c, err := s.signUp(r.Context(), in.Email, in.Password, chosenLanguage(r))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.startSession(w, r, c, nil, http.StatusCreated)
}

func (s *Service) handleSignIn(w http.ResponseWriter, r *http.Request) {
	var in credentials
	if err := httpx.DecodeJSON(w, r, maxBody, &in); err != nil {
		httpx.WriteError(w, err)
		return
	}
	c, wait, err := s.signIn(r.Context(), in.Email, in.Password, in.Code, clientIP(r))
	if err != nil {
		if wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		}
		s.writeError(w, r, err)
		return
	}
	s.startSession(w, r, c, nil, http.StatusOK)
}

// startSession replaces any session the request came with by a new one for
// c, and answers with the account. A fresh token at every sign-in means a
// token planted before it (session fixation) is worth nothing after. The
// account's language, when it has one, becomes this browser's (language.go).
func (s *Service) startSession(w http.ResponseWriter, r *http.Request, c store.Customer, passkeyID []byte, status int) {
	if idHash, ok := cookieIDHash(r); ok {
		if err := s.st.DeleteSession(r.Context(), idHash); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.WarnContext(r.Context(), "auth: drop previous session", "customer", c.ID, "err", err)
		}
	}
	csrf, err := s.startSessionBy(r.Context(), w, c, passkeyID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.rememberLanguage(w, r, c.Language)
	httpx.WriteJSON(w, status, accountOf(c, csrf))
}

// handleSignOut ends the session. Signing out without a session is not an
// error (the outcome the client wants already holds); with one, it needs the
// CSRF token like any other change, so a page elsewhere cannot sign people
// out.
func (s *Service) handleSignOut(w http.ResponseWriter, r *http.Request) {
	l := s.lookup(r)
	switch {
	case l.err != nil:
		httpx.WriteError(w, errUnavailable())
		return
	case l.ok && !validCSRF(r, l.session):
		httpx.WriteError(w, errCSRF())
		return
	}
	if err := s.EndSession(r.Context(), w, r); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleMe(w http.ResponseWriter, r *http.Request) {
	se, _ := SessionFrom(r.Context())
	c, err := s.st.Customer(r.Context(), se.CustomerID)
	switch {
	case errors.Is(err, store.ErrNotFound): // the account is gone
		httpx.WriteError(w, errSignedOut())
		return
	case err != nil:
		s.writeError(w, r, err)
		return
	}
	acc := accountOf(c, se.CSRFToken)
	sec := &securityJSON{}
	switch t, err := s.st.TOTP(r.Context(), c.ID); {
	case err == nil && !t.ConfirmedAt.IsZero():
		sec.TOTP, sec.RecoveryCodesLeft = true, t.RecoveryCodesLeft
	case err != nil && !errors.Is(err, store.ErrNotFound):
		s.writeError(w, r, err)
		return
	}
	until, err := s.reauthUntil(r.Context(), se)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sec.ReauthUntil = until
	keys, err := s.st.Passkeys(r.Context(), c.ID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	sec.Passkeys = len(keys)
	acc.Security = sec
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, acc)
}

func (s *Service) handlePassword(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Current string `json:"current"`
		New     string `json:"new"`
	}
	if err := httpx.DecodeJSON(w, r, maxBody, &in); err != nil {
		httpx.WriteError(w, err)
		return
	}
	se, _ := SessionFrom(r.Context())
	if wait, err := s.ChangePassword(r.Context(), se, in.Current, in.New, clientIP(r)); err != nil {
		if wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		}
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// retryAfter sets Retry-After when the client must wait.
func retryAfter(w http.ResponseWriter, wait time.Duration) {
	if wait > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
	}
}

// handleResetAsk answers 202 whether or not the email has an account.
func (s *Service) handleResetAsk(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if err := httpx.DecodeJSON(w, r, maxBody, &in); err != nil {
		httpx.WriteError(w, err)
		return
	}
	if wait, err := s.requestReset(r.Context(), in.Email, clientIP(r), i18n.FromRequest(r)); err != nil {
		retryAfter(w, wait)
		s.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusAccepted, map[string]string{
		"message": "If an account uses that address, a link to choose a new password is on its way. It works once, within 30 minutes.",
	})
}

func (s *Service) handleResetComplete(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Token string `json:"token"`
		New   string `json:"new"`
	}
	if err := httpx.DecodeJSON(w, r, maxBody, &in); err != nil {
		httpx.WriteError(w, err)
		return
	}
	if wait, err := s.CompleteReset(r.Context(), in.Token, in.New, clientIP(r)); err != nil {
		retryAfter(w, wait)
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleReauth(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Password string `json:"password"`
		Code     string `json:"code"`
	}
	if err := httpx.DecodeJSON(w, r, maxBody, &in); err != nil {
		httpx.WriteError(w, err)
		return
	}
	se, _ := SessionFrom(r.Context())
	until, wait, err := s.Reauthenticate(r.Context(), se, in.Password, in.Code, clientIP(r))
	if err != nil {
		retryAfter(w, wait)
		s.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]time.Time{"reauth_until": until})
}

func (s *Service) handleTOTPSetup(w http.ResponseWriter, r *http.Request) {
	se, _ := SessionFrom(r.Context())
	setup, err := s.SetupTOTP(r.Context(), se.CustomerID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, setup)
}

func (s *Service) handleTOTPConfirm(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Code string `json:"code"`
	}
	if err := httpx.DecodeJSON(w, r, maxBody, &in); err != nil {
		httpx.WriteError(w, err)
		return
	}
	se, _ := SessionFrom(r.Context())
	codes, err := s.ConfirmTOTP(r.Context(), se.CustomerID, in.Code)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, map[string][]string{"recovery_codes": codes})
}

func (s *Service) handleTOTPDisable(w http.ResponseWriter, r *http.Request) {
	se, _ := SessionFrom(r.Context())
	if err := s.DisableTOTP(r.Context(), se.CustomerID); err != nil {
		s.writeError(w, r, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func (s *Service) handleRecoveryCodes(w http.ResponseWriter, r *http.Request) {
	se, _ := SessionFrom(r.Context())
	codes, err := s.NewRecoveryCodes(r.Context(), se.CustomerID)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	httpx.WriteJSON(w, http.StatusOK, map[string][]string{"recovery_codes": codes})
}

// writeError answers with err; an error that is not for the client is logged
// here (it carries ids, never secrets) and answered generically.
func (s *Service) writeError(w http.ResponseWriter, r *http.Request, err error) {
	var e *httpx.Error
	if !errors.As(err, &e) {
		s.log.ErrorContext(r.Context(), "auth: request failed", "path", r.URL.Path, "err", err)
	}
	httpx.WriteError(w, err)
}

// clientIP is the address of the connection's peer. X-Forwarded-For and
// similar headers are deliberately not trusted: any client can set them, and
// trusting them would let one client spread its guesses over invented
// addresses. Behind a reverse proxy this makes every client share the
// proxy's per-address limit; honoring a header set by a known proxy is
// future work that must come with a configured list of trusted proxies.
func clientIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
