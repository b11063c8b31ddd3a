package auth

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
)

// Re-authentication: before what cannot be undone (clearing history,
// disconnecting every bank), before letting another person read a bank's
// data (a delegation: what they read cannot be taken back), and before
// changing the second factor, the customer proves who they are again, not only that they hold a device
// that is signed in. A sign-in counts; so does POST /app/api/reauth with
// the password (and the code, with a second factor on); either counts for
// ReauthWindow. It is kept in the store with the session, so every node
// sees it.

// DefaultReauthWindow is how long a sign-in or a re-authentication counts
// as recent when Config.ReauthWindow is 0.
const DefaultReauthWindow = 5 * time.Minute

func errReauthRequired() *httpx.Error {
	return httpx.Errorf(http.StatusForbidden, "reauth_required", "For your security, enter your password again to do this.")
}

// reauthUntil is when the session's last proof of who the customer is
// stops counting as recent.
func (s *Service) reauthUntil(ctx context.Context, se store.Session) (time.Time, error) {
	last := se.CreatedAt
	at, err := s.st.LastReauth(ctx, se.IDHash)
	if err != nil {
		return time.Time{}, fmt.Errorf("auth: last re-authentication: %w", err)
	}
	if at.After(last) {
		last = at
	}
	return last.Add(s.reauthWindow), nil
}

// Reauthenticate checks the password of the session's customer, and their
// code when they have a second factor on, and makes the session's
// authentication recent. It returns until when. Failures count toward
// the sign-in lockout, like sign-ins. Errors for the client are
// *httpx.Error: 403 wrong_password, 403 code_required, 403 invalid_code,
// 429 too_many_attempts (with how long to wait).
func (s *Service) Reauthenticate(ctx context.Context, se store.Session, password, code, clientIP string) (time.Time, time.Duration, error) {
	c, err := s.st.Customer(ctx, se.CustomerID)
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("auth: re-authenticate %s: %w", se.CustomerID, err)
	}
	_, a, wait, err := s.passwordStep(ctx, c.Email, password, clientIP)
	if err != nil {
		var e *httpx.Error
		if errors.As(err, &e) && e.Code == "invalid_credentials" {
			return time.Time{}, 0, ErrWrongPassword()
		}
		return time.Time{}, wait, err
	}
	if err := s.codeStep(ctx, c, a, code, clientIP, http.StatusForbidden); err != nil {
		return time.Time{}, 0, err
	}
	now := s.now().UTC()
	switch err := s.st.Reauthenticated(ctx, se.IDHash, now); {
	case errors.Is(err, store.ErrNotFound): // the session ended meanwhile
		return time.Time{}, 0, errSignedOut()
	case err != nil:
		return time.Time{}, 0, fmt.Errorf("auth: re-authenticate %s: %w", c.ID, err)
	}
	return now.Add(s.reauthWindow), 0, nil
}

// RequireRecentAuth is RequireCustomer for what needs a recent
// authentication: with a live session and its CSRF token, but a sign-in
// or re-authentication older than the window, it answers 403
// reauth_required and the client asks for the password and tries again.
func (s *Service) RequireRecentAuth(next http.Handler) http.Handler {
	return s.RequireCustomer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		se, _ := SessionFrom(r.Context())
		until, err := s.reauthUntil(r.Context(), se)
		if err != nil {
			s.log.ErrorContext(r.Context(), "auth: check recent authentication", "err", err)
			httpx.WriteError(w, errUnavailable())
			return
		}
		if !s.now().Before(until) {
			httpx.WriteError(w, errReauthRequired())
			return
		}
		next.ServeHTTP(w, r)
	}))
}
