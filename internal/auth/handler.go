package auth

import (
	"errors"
	"math"
	"net"
	"net/http"
	"strconv"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
)

// maxBody bounds the JSON bodies of the account routes.
const maxBody = 8 << 10

type credentials struct {
	Email    string `json:"email"`
	Password string `json:"password"`
}

type customerJSON struct {
	ID    string `json:"id"`
	Email string `json:"email"`
}

// account is the answer of signup, signin and me.
type account struct {
	Customer  customerJSON `json:"customer"`
	CSRFToken string       `json:"csrf_token"`
}

func accountOf(c store.Customer, csrf string) account {
	return account{Customer: customerJSON{ID: c.ID, Email: c.Email}, CSRFToken: csrf}
}

// Handler serves the account routes of the customer web API:
//
//	POST /app/api/signup   {"email","password"} → 201 {"customer":{"id","email"},"csrf_token"}
//	POST /app/api/signin   {"email","password"} → 200 same shape
//	POST /app/api/signout  → 204
//	GET  /app/api/me       → 200 same shape
//	POST /app/api/password {"current","new"} → 204; every other session ends
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
	c, err := s.SignUp(r.Context(), in.Email, in.Password)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	s.startSession(w, r, c, http.StatusCreated)
}

func (s *Service) handleSignIn(w http.ResponseWriter, r *http.Request) {
	var in credentials
	if err := httpx.DecodeJSON(w, r, maxBody, &in); err != nil {
		httpx.WriteError(w, err)
		return
	}
	c, wait, err := s.signIn(r.Context(), in.Email, in.Password, clientIP(r))
	if err != nil {
		if wait > 0 {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(wait.Seconds()))))
		}
		s.writeError(w, r, err)
		return
	}
	s.startSession(w, r, c, http.StatusOK)
}

// startSession replaces any session the request came with by a new one for
// c, and answers with the account. A fresh token at every sign-in means a
// token planted before it (session fixation) is worth nothing after.
func (s *Service) startSession(w http.ResponseWriter, r *http.Request, c store.Customer, status int) {
	if idHash, ok := cookieIDHash(r); ok {
		if err := s.st.DeleteSession(r.Context(), idHash); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.log.WarnContext(r.Context(), "auth: drop previous session", "customer", c.ID, "err", err)
		}
	}
	csrf, err := s.StartSession(r.Context(), w, c)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
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
	httpx.WriteJSON(w, http.StatusOK, accountOf(c, se.CSRFToken))
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
