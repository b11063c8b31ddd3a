package auth

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"time"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/i18n"
	"github.com/openteller/openteller/internal/store"
)

// Password reset through a one-time link sent by mail.
//
// Asking for a link always gets the same answer, at once, whether or not
// the email has an account: the lookup, the token and the mail happen in
// the background, so neither the answer nor its timing tells. The link
// carries 32 random bytes in the URL's fragment (after #, which browsers
// never send to a server or put in a Referer); the store keeps only their
// SHA-256, for ResetTTL, and spending it (ResetPassword) sets the password,
// deletes the customer's other links and ends every session of theirs in
// one transaction. A second factor stays on: after a reset the customer
// still signs in with their code.

// ResetTTL is how long a reset link works.
const ResetTTL = 30 * time.Minute

// maxMailing bounds the reset mails being sent at once; past it, asks are
// answered as always and the mail is dropped (and logged), so a flood of
// asks cannot pile up goroutines.
const maxMailing = 16

// ResetMail is a password reset link for one customer.
type ResetMail struct {
	CustomerID string
	To         string // the customer's email address
	Link       string // a secret until it is spent: never log it in production
	ExpiresAt  time.Time
	// Lang is the language to write the mail in (an i18n code): the one
	// kept with the account, else the one of the page that asked for the
	// link, else English.
	Lang string
}

// Mailer sends customers the mail that signing in needs. It is the seam
// where a deployment plugs in its mail service (SMTP, an API); the
// platform ships two: NoMailer for serve and LogMailer for the demo.
type Mailer interface {
	SendPasswordReset(ctx context.Context, m ResetMail) error
}

// NoMailer is serve's mailer until a deployment sets one: it sends
// nothing, and logs that a reset was asked for and that no mailer is
// configured, naming the customer by id. It never logs the link.
type NoMailer struct{ Logger *slog.Logger }

func (m NoMailer) SendPasswordReset(ctx context.Context, r ResetMail) error {
	m.Logger.WarnContext(ctx, "auth: a password reset was asked for, but no mailer is configured, so no mail was sent", "customer", r.CustomerID)
	return nil
}

// LogMailer is the demo's mailer: it writes the link to the node's log, as
// a demo has no mail to send it by. The link resets the password of the
// account it names until it expires or is used: only the demo uses this.
type LogMailer struct{ Logger *slog.Logger }

func (m LogMailer) SendPasswordReset(ctx context.Context, r ResetMail) error {
	m.Logger.InfoContext(ctx, "auth: password reset link (demo: written to the log instead of mailed)", "customer", r.CustomerID, "link", r.Link, "expires_at", r.ExpiresAt.UTC().Format(time.RFC3339), "lang", r.Lang)
	return nil
}

// SetMailer replaces the mailer. The demo sets LogMailer; a program that
// embeds the server sets its own.
func (s *Service) SetMailer(m Mailer) {
	s.mailMu.Lock()
	defer s.mailMu.Unlock()
	s.mailer = m
}

func (s *Service) currentMailer() Mailer {
	s.mailMu.RLock()
	defer s.mailMu.RUnlock()
	return s.mailer
}

// Wait waits for the reset mails being sent; a node calls it before it
// closes its store.
func (s *Service) Wait() { s.mailing.Wait() }

func errResetLink() *httpx.Error {
	return httpx.Errorf(http.StatusBadRequest, "reset_link_invalid", "This reset link doesn’t work any more: it was used already, it expired, or it was copied incompletely. Ask for a new one.")
}

func errTooManyResets(wait time.Duration) *httpx.Error {
	n := max(1, int(math.Ceil(wait.Minutes())))
	unit := "minutes"
	if n == 1 {
		unit = "minute"
	}
	return httpx.Errorf(http.StatusTooManyRequests, "too_many_attempts", "Too many password resets from this network. Try again in %d %s.", n, unit)
}

// RequestReset asks for a reset link for email. Unless the email is
// malformed (400 invalid_email) or the client address asked too often
// (429 too_many_attempts, with how long to wait), the answer is nil,
// whether or not the email has an account; the link, if any, goes out in
// the background. Each email gets at most a few links per window.
func (s *Service) RequestReset(ctx context.Context, email, clientIP string) (time.Duration, error) {
	return s.requestReset(ctx, email, clientIP, "")
}

// requestReset is RequestReset from a page in lang, the mail's language
// when the account keeps none.
func (s *Service) requestReset(ctx context.Context, email, clientIP, lang string) (time.Duration, error) {
	email, ok := normalizeEmail(email)
	if !ok {
		return 0, errInvalidEmail()
	}
	wait, allowed, send := s.throttle.resetAsk(email, clientIP)
	if !allowed {
		return wait, errTooManyResets(wait)
	}
	if !send {
		return 0, nil
	}
	select {
	case s.mailSlots <- struct{}{}:
	default:
		s.log.WarnContext(ctx, "auth: too many reset mails being sent at once; one was dropped")
		return 0, nil
	}
	s.mailing.Go(func() {
		defer func() { <-s.mailSlots }()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
		defer cancel()
		if err := s.sendReset(ctx, email, lang); err != nil {
			s.log.ErrorContext(ctx, "auth: send a reset link", "err", err)
		}
	})
	return 0, nil
}

// sendReset makes a reset link for the account of email, if there is
// one, and mails it, in the account's language, else in lang.
func (s *Service) sendReset(ctx context.Context, email, lang string) error {
	c, err := s.st.CustomerByEmail(ctx, email)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("look up email: %w", err)
	}
	raw, token := randomToken()
	now := s.now().UTC()
	t := store.ResetToken{Hash: resetHash(raw), CustomerID: c.ID, CreatedAt: now, ExpiresAt: now.Add(ResetTTL)}
	if err := s.st.CreateResetToken(ctx, t); err != nil {
		return fmt.Errorf("keep reset token of %s: %w", c.ID, err)
	}
	if c.Language != "" {
		lang = c.Language
	}
	m := ResetMail{CustomerID: c.ID, To: c.Email, Link: s.baseURL + "/#/reset?token=" + token, ExpiresAt: t.ExpiresAt, Lang: i18n.Of(lang).Code}
	if err := s.currentMailer().SendPasswordReset(ctx, m); err != nil {
		return fmt.Errorf("mail reset link to %s: %w", c.ID, err)
	}
	return nil
}

func resetHash(raw []byte) []byte {
	h := sha256.Sum256(append([]byte("openteller/password-reset/v1\x00"), raw...))
	return h[:]
}

// CompleteReset spends a reset link's token for a new password: every
// session of the customer ends, including any on this device, and they
// sign in again. Errors for the client: 400 weak_password (the link is
// not spent), 400 reset_link_invalid, 429 too_many_attempts (too many
// links that did not work from this address).
func (s *Service) CompleteReset(ctx context.Context, token, newPassword, clientIP string) (time.Duration, error) {
	if wait, ok := s.throttle.resetTry(clientIP); !ok {
		return wait, errTooManyResets(wait)
	}
	if err := checkPassword(newPassword); err != nil {
		return 0, err
	}
	raw, err := b64url.DecodeString(token)
	if err != nil || len(raw) != tokenBytes {
		s.throttle.resetMissed(clientIP)
		return 0, errResetLink()
	}
	hash, err := HashPassword(newPassword)
	if err != nil {
		return 0, fmt.Errorf("auth: reset password: %w", err)
	}
	customerID, err := s.st.ResetPassword(ctx, resetHash(raw), hash, s.now().UTC())
	switch {
	case errors.Is(err, store.ErrNotFound):
		s.throttle.resetMissed(clientIP)
		return 0, errResetLink()
	case err != nil:
		return 0, fmt.Errorf("auth: reset password: %w", err)
	}
	s.log.InfoContext(ctx, "auth: password reset through a mailed link; every session ended", "customer", customerID)
	if c, err := s.st.Customer(ctx, customerID); err == nil {
		// Failed sign-ins against the old password no longer lock the
		// owner of the mailbox out.
		s.throttle.forgetEmail(c.Email)
	}
	if s.sessionsEnded != nil {
		s.sessionsEnded(customerID, nil)
	}
	return 0, nil
}
