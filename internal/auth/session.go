package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
)

// SessionCookie is the name of the session cookie. The __Host- prefix makes
// browsers accept it only if it is Secure, has Path=/ and no Domain, so a
// sibling subdomain cannot plant or shadow it.
const SessionCookie = "__Host-ot_session"

// CSRFHeader is the request header that carries the session's CSRF token.
const CSRFHeader = "X-CSRF-Token"

const tokenBytes = 32

var b64url = base64.RawURLEncoding.Strict()

func randomToken() (raw []byte, encoded string) {
	raw = make([]byte, tokenBytes)
	rand.Read(raw) // never fails (crypto/rand, Go 1.24+)
	return raw, b64url.EncodeToString(raw)
}

// sessionIDHash is what the store keeps for a session token.
func sessionIDHash(raw []byte) []byte {
	h := sha256.Sum256(raw)
	return h[:]
}

// cookieIDHash returns the hash of the session token in r's cookie, if r has
// one that is well formed.
func cookieIDHash(r *http.Request) ([]byte, bool) {
	ck, err := r.Cookie(SessionCookie)
	if err != nil {
		return nil, false
	}
	raw, err := b64url.DecodeString(ck.Value)
	if err != nil || len(raw) != tokenBytes {
		return nil, false
	}
	return sessionIDHash(raw), true
}

// StartSession creates a session for the customer, sets its cookie on w and
// returns the session's CSRF token for the client. The cookie carries 32
// random bytes; the store keeps only their SHA-256. c is the customer as
// their password was checked: if the password has changed since, there is
// no session (401 invalid_credentials).
func (s *Service) StartSession(ctx context.Context, w http.ResponseWriter, c store.Customer) (csrfToken string, err error) {
	return s.startSessionBy(ctx, w, c, nil)
}

// startSessionBy is StartSession for a sign-in with the passkey whose
// credential id is passkeyID (nil for a password): the session remembers
// it, so that removing the passkey ends the session. If the passkey was
// removed meanwhile, there is no session (401 passkey_unknown).
func (s *Service) startSessionBy(ctx context.Context, w http.ResponseWriter, c store.Customer, passkeyID []byte) (csrfToken string, err error) {
	customerID := c.ID
	raw, token := randomToken()
	_, csrfToken = randomToken()
	now := s.now().UTC()
	se := store.Session{
		IDHash:     sessionIDHash(raw),
		CustomerID: customerID,
		CSRFToken:  csrfToken,
		CreatedAt:  now,
		ExpiresAt:  now.Add(s.ttl),
		PasskeyID:  passkeyID,
	}
	switch err := s.st.CreateSession(ctx, se, c.PasswordHash); {
	case errors.Is(err, store.ErrPasswordChanged):
		return "", errInvalidCredentials()
	case errors.Is(err, store.ErrNotFound) && passkeyID != nil:
		return "", errPasskeyUnknown()
	case err != nil:
		return "", fmt.Errorf("auth: start session for %s: %w", customerID, err)
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    token,
		Path:     "/",
		MaxAge:   int(s.ttl.Seconds()),
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
	return csrfToken, nil
}

// EndSession deletes the session named by r's cookie, if any, and tells the
// browser to drop the cookie. The cookie is expired even if the delete fails.
func (s *Service) EndSession(ctx context.Context, w http.ResponseWriter, r *http.Request) error {
	expireSessionCookie(w)
	idHash, ok := cookieIDHash(r)
	if !ok {
		return nil
	}
	if err := s.st.DeleteSession(ctx, idHash); err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("auth: end session: %w", err)
	}
	return nil
}

// expireSessionCookie tells the browser to drop the session cookie.
func expireSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookie,
		Value:    "",
		Path:     "/",
		MaxAge:   -1,
		Secure:   true,
		HttpOnly: true,
		SameSite: http.SameSiteLaxMode,
	})
}

type sessionKey struct{}

// sessionLookup is what Middleware learned about a request's session.
type sessionLookup struct {
	session store.Session
	ok      bool
	err     error // the store failed: the request may or may not be signed in
}

// lookup finds the live session named by r's cookie, reusing the answer
// Middleware put in the context if there is one.
func (s *Service) lookup(r *http.Request) sessionLookup {
	if l, ok := r.Context().Value(sessionKey{}).(sessionLookup); ok {
		return l
	}
	idHash, ok := cookieIDHash(r)
	if !ok {
		return sessionLookup{}
	}
	se, err := s.st.Session(r.Context(), idHash)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return sessionLookup{}
	case err != nil:
		s.log.ErrorContext(r.Context(), "auth: look up session", "err", err)
		return sessionLookup{err: err}
	case !s.now().Before(se.ExpiresAt):
		// The store checks expiry by its own clock; this holds it to ours.
		return sessionLookup{}
	}
	return sessionLookup{session: se, ok: true}
}

// Middleware puts the request's session in its context when the cookie
// names a live one; SessionFrom reads it. Requests without one pass through
// unchanged in every other way.
func (s *Service) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, done := r.Context().Value(sessionKey{}).(sessionLookup); !done {
			r = r.WithContext(context.WithValue(r.Context(), sessionKey{}, s.lookup(r)))
		}
		next.ServeHTTP(w, r)
	})
}

// SessionFrom returns the session Middleware found for the request whose
// context is ctx.
func SessionFrom(ctx context.Context) (store.Session, bool) {
	l, _ := ctx.Value(sessionKey{}).(sessionLookup)
	return l.session, l.ok
}

// RequireCustomer lets a request through only with a live session (401
// signed_out otherwise), and for methods other than GET, HEAD and OPTIONS
// only with the session's CSRF token in X-CSRF-Token (403 csrf otherwise).
// It looks the session up itself when Middleware has not run.
func (s *Service) RequireCustomer(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		l := s.lookup(r)
		switch {
		case l.err != nil:
			httpx.WriteError(w, errUnavailable())
			return
		case !l.ok:
			httpx.WriteError(w, errSignedOut())
			return
		case !safeMethod(r.Method) && !validCSRF(r, l.session):
			httpx.WriteError(w, errCSRF())
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), sessionKey{}, l)))
	})
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

func validCSRF(r *http.Request, se store.Session) bool {
	got := r.Header.Get(CSRFHeader)
	return got != "" && se.CSRFToken != "" && subtle.ConstantTimeCompare([]byte(got), []byte(se.CSRFToken)) == 1
}
