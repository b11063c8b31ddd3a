// Package auth owns customer accounts on the web messenger: passwords,
// sessions, CSRF tokens and sign-in throttling; password reset by a mailed
// link (reset.go); a second factor, TOTP with recovery codes
// (secondfactor.go, totp.go); passkeys, which sign in on their own
// (passkey.go); re-authentication before what cannot be undone
// (reauth.go); and their JSON routes under /app/api
// (docs/contracts.md, "Customer web API").
//
// What must stay true:
//   - A password is kept only as an argon2id hash (PHC string format), and a
//     session token only as its SHA-256: the store never holds either in a
//     form that would let someone with a copy of the database sign in. (The
//     CSRF token is kept as is, because /app/api/me must hand it back; without
//     the session cookie it grants nothing.)
//   - Nothing here logs a password, an email address, a session token or a
//     CSRF token. Logs name customers by id.
//   - Sign-in does not reveal which emails have accounts: an unknown email
//     costs one argon2id verification, like a wrong password, and gets the
//     same answer. (Sign-up's email_taken does tell; the contract accepts
//     that, and the sign-in throttle does not apply to it.)
//   - Every state-changing request of a signed-in customer carries the
//     session's CSRF token in X-CSRF-Token (RequireCustomer checks it).
//   - A reset token is kept only as its SHA-256, works once and for
//     ResetTTL, and asking for one answers alike, at once, whether or not
//     the email has an account. Spending it ends every session.
//   - The TOTP secret rests only sealed by the vault; recovery codes only
//     as hashes. A TOTP code is accepted once, never after a later one.
//     Codes are compared in constant time.
//   - Nothing logs a reset link, a TOTP secret or code, or a recovery
//     code, except the demo's LogMailer, which writes the link by design.
//   - A passkey signs in only with the person verified by their
//     authenticator, answering a challenge that works once and briefly,
//     with a signature counter that never goes back, and only while it is
//     on the account (passkey.go says more).
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// storeRoles is what sign-in needs of the store: customers' accounts and
// sessions.
type storeRoles interface {
	store.Accounts
}

// DefaultSessionTTL is how long a session lasts when Config.SessionTTL is 0.
const DefaultSessionTTL = 14 * 24 * time.Hour

// Config is what a Service needs. Store and Keyring are required.
type Config struct {
	Store   storeRoles
	Keyring *vault.Keyring
	// Now is the clock for session expiry and throttling windows; time.Now
	// when nil.
	Now func() time.Time
	// SessionTTL is a session's lifetime; DefaultSessionTTL when 0.
	SessionTTL time.Duration
	// Logger receives security events (lockouts, failures), with customer
	// ids and client addresses but never emails or secrets; slog.Default()
	// when nil.
	Logger *slog.Logger
	// SessionsEnded, when set, is told that every session of the customer
	// but keep has ended, so that their open devices are signed out too.
	SessionsEnded func(customerID string, keep []byte)
	// PasskeySessionsEnded, when set, is told which sessions of the
	// customer (id hashes) ended because the passkey that signed them in
	// was removed, so that the devices on them are signed out too.
	PasskeySessionsEnded func(customerID string, ended [][]byte)
	// BaseURL is the platform's public URL, for the links in reset mail.
	BaseURL string
	// Mailer sends reset links; NoMailer when nil (see SetMailer).
	Mailer Mailer
	// ReauthWindow is how long a sign-in or re-authentication counts as
	// recent for RequireRecentAuth; DefaultReauthWindow when 0.
	ReauthWindow time.Duration
	// Passkeys names the WebAuthn relying party; passkeys are off when
	// its RPID is "".
	Passkeys PasskeyConfig
}

// Service signs customers up and in and keeps their sessions. It is safe for
// concurrent use.
//
// Sign-in throttling is in memory and per node: behind a load balancer each
// node counts failures on its own, so the limits multiply by the number of
// nodes. A limiter kept in the store is the multi-node follow-up.
type Service struct {
	st       storeRoles
	keyring  *vault.Keyring
	now      func() time.Time
	ttl      time.Duration
	log      *slog.Logger
	throttle *throttle
	// sessionsEnded is Config.SessionsEnded.
	sessionsEnded func(customerID string, keep []byte)
	// passkeySessionsEnded is Config.PasskeySessionsEnded.
	passkeySessionsEnded func(customerID string, ended [][]byte)
	baseURL              string
	reauthWindow         time.Duration
	// relyingParty checks passkey ceremonies (passkey.go); nil when
	// passkeys are off.
	relyingParty *webauthn.WebAuthn
	// Reset mail goes out in the background (reset.go).
	mailMu    sync.RWMutex
	mailer    Mailer
	mailSlots chan struct{}
	mailing   sync.WaitGroup

	// verify checks a password against a stored hash; VerifyPassword except
	// in tests, which count calls through it.
	verify func(encoded, pw string) (bool, error)
}

// New returns a Service. It panics if cfg.Store or cfg.Keyring is nil, or
// cfg.Passkeys is not a relying party browsers accept: wiring mistakes
// (config.Resolve checks the relying party ID).
func New(cfg Config) *Service {
	if cfg.Store == nil || cfg.Keyring == nil {
		panic("auth: New needs a Store and a Keyring")
	}
	rp, err := newRelyingParty(cfg.Passkeys)
	if err != nil {
		panic(fmt.Sprintf("auth: New: passkeys: %v", err))
	}
	s := &Service{
		st:      cfg.Store,
		keyring: cfg.Keyring,
		now:     cfg.Now,
		ttl:     cfg.SessionTTL,
		log:     cfg.Logger,
		verify:  VerifyPassword,

		sessionsEnded:        cfg.SessionsEnded,
		passkeySessionsEnded: cfg.PasskeySessionsEnded,
		baseURL:              strings.TrimRight(cfg.BaseURL, "/"),
		reauthWindow:         cfg.ReauthWindow,
		relyingParty:         rp,
		mailer:               cfg.Mailer,
		mailSlots:            make(chan struct{}, maxMailing),
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.reauthWindow <= 0 {
		s.reauthWindow = DefaultReauthWindow
	}
	if s.ttl <= 0 {
		s.ttl = DefaultSessionTTL
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.mailer == nil {
		s.mailer = NoMailer{Logger: s.log}
	}
	s.throttle = newThrottle(s.now)
	go dummyHash() // warm it, so the first unknown-email sign-in is not slower
	return s
}

// Errors for clients. Their messages are shown to people as they are.
func errInvalidEmail() *httpx.Error {
	return httpx.Errorf(http.StatusBadRequest, "invalid_email", "Enter an email address like name@example.com.")
}

func errWeakPassword(format string, args ...any) *httpx.Error {
	return httpx.Errorf(http.StatusBadRequest, "weak_password", format, args...)
}

func errEmailTaken() *httpx.Error {
	return httpx.Errorf(http.StatusConflict, "email_taken", "An account with this email already exists. Sign in instead.")
}

func errInvalidCredentials() *httpx.Error {
	return httpx.Errorf(http.StatusUnauthorized, "invalid_credentials", "That email and password don't match.")
}

// ErrWrongPassword answers a change of password whose current password is
// wrong. It is not a 401: the session is fine.
func ErrWrongPassword() *httpx.Error {
	return httpx.Errorf(http.StatusForbidden, "wrong_password", "That is not your current password.")
}

func errTooManyAttempts(wait time.Duration) *httpx.Error {
	n := max(1, int(math.Ceil(wait.Minutes())))
	unit := "minutes"
	if n == 1 {
		unit = "minute"
	}
	return httpx.Errorf(http.StatusTooManyRequests, "too_many_attempts", "Too many sign-in attempts. Try again in %d %s.", n, unit)
}

func errSignedOut() *httpx.Error {
	return httpx.Errorf(http.StatusUnauthorized, "signed_out", "Please sign in again.")
}

func errCSRF() *httpx.Error {
	return httpx.Errorf(http.StatusForbidden, "csrf", "This request could not be verified. Reload the page and try again.")
}

func errUnavailable() *httpx.Error {
	return httpx.Errorf(http.StatusServiceUnavailable, "unavailable", "We can't check your session right now. Please try again in a moment.")
}

// newCustomerID returns "cus_" and 26 lowercase base32 characters (128 bits
// from crypto/rand).
func newCustomerID() string {
	return "cus_" + strings.ToLower(rand.Text())
}

// SignUp creates a customer with email and password and makes their data
// key. Errors for the client are *httpx.Error: 400 invalid_email, 400
// weak_password, 409 email_taken. It does not start a session.
func (s *Service) SignUp(ctx context.Context, email, password string) (store.Customer, error) {
	return s.signUp(ctx, email, password, "")
}

// signUp is SignUp that keeps lang, the language chosen on the browser
// signing up ("" for none), with the account.
func (s *Service) signUp(ctx context.Context, email, password, lang string) (store.Customer, error) {
	email, ok := normalizeEmail(email)
	if !ok {
		return store.Customer{}, errInvalidEmail()
	}
	if err := checkPassword(password); err != nil {
		return store.Customer{}, err
	}
	// Cheap check first, so a taken email costs no hashing; CreateCustomer's
	// ErrExists below settles races.
	switch _, err := s.st.CustomerByEmail(ctx, email); {
	case err == nil:
		return store.Customer{}, errEmailTaken()
	case !errors.Is(err, store.ErrNotFound):
		return store.Customer{}, fmt.Errorf("auth: sign up: look up email: %w", err)
	}
	hash, err := HashPassword(password)
	if err != nil {
		return store.Customer{}, fmt.Errorf("auth: sign up: %w", err)
	}
	c := store.Customer{ID: newCustomerID(), Email: email, PasswordHash: hash, CreatedAt: s.now().UTC(), Language: lang}
	switch err := s.st.CreateCustomer(ctx, c); {
	case errors.Is(err, store.ErrExists):
		return store.Customer{}, errEmailTaken()
	case err != nil:
		return store.Customer{}, fmt.Errorf("auth: sign up: create customer %s: %w", c.ID, err)
	}
	// The account exists now. If making the data key fails, the customer is
	// still signed up: the keyring makes the key on first Seal anyway, so
	// failing here would only leave a person told "error" about an account
	// that works. The operator learns from the log.
	if err := s.keyring.EnsureCustomer(ctx, c.ID); err != nil {
		s.log.ErrorContext(ctx, "auth: make data key at sign-up", "customer", c.ID, "err", err)
	}
	s.log.InfoContext(ctx, "auth: customer signed up", "customer", c.ID)
	return c, nil
}

// SignInWithCode checks email and password, throttled per email and per
// clientIP (see throttle), and, when the customer has a second factor on, code (a TOTP
// code or a recovery code). Errors for the client are *httpx.Error: 401
// invalid_credentials, 401 code_required (the password is right and a
// code is needed), 401 invalid_code, 429 too_many_attempts. clientIP is the
// address the request came from as the server sees it; Handler uses the
// connection's remote address.
func (s *Service) SignInWithCode(ctx context.Context, email, password, code, clientIP string) (store.Customer, error) {
	c, _, err := s.signIn(ctx, email, password, code, clientIP)
	return c, err
}

// SignIn is SignInWithCode without a code: enough for a customer with no
// second factor on.
func (s *Service) SignIn(ctx context.Context, email, password, clientIP string) (store.Customer, error) {
	return s.SignInWithCode(ctx, email, password, "", clientIP)
}

// signIn is SignIn that also says, for too_many_attempts, how long to wait.
func (s *Service) signIn(ctx context.Context, email, password, code, clientIP string) (store.Customer, time.Duration, error) {
	c, a, wait, err := s.passwordStep(ctx, email, password, clientIP)
	if err != nil {
		return store.Customer{}, wait, err
	}
	if err := s.codeStep(ctx, c, a, code, clientIP, http.StatusUnauthorized); err != nil {
		return store.Customer{}, 0, err
	}
	return c, 0, nil
}

// codeStep follows a right password (the attempt a, still counted) with
// the second factor: a right code, or none needed, makes the attempt a
// success; a missing code gives it back (the password was right); a wrong
// code leaves it counted as a failure.
func (s *Service) codeStep(ctx context.Context, c store.Customer, a attemptResult, code, clientIP string, status int) error {
	err := s.secondFactor(ctx, c.ID, code, status)
	var e *httpx.Error
	switch {
	case err == nil:
		s.throttle.succeeded(c.Email, clientIP)
	case errors.As(err, &e) && e.Code == "invalid_code":
		s.logLocks(ctx, a, c.ID, clientIP)
	default:
		s.throttle.release(c.Email, clientIP)
	}
	return err
}

// passwordStep checks email and password, throttled. On success the
// attempt stays counted: the caller settles it (throttle.succeeded or
// release), or leaves it as a failure. Errors are signIn's.
func (s *Service) passwordStep(ctx context.Context, email, password, clientIP string) (store.Customer, attemptResult, time.Duration, error) {
	email, valid := normalizeEmail(email)
	a := s.throttle.attempt(email, clientIP)
	if !a.ok {
		return store.Customer{}, a, a.wait, errTooManyAttempts(a.wait)
	}
	var c store.Customer
	match := false
	// A password over the cap matches no account; it is refused without
	// hashing, whatever the email, so the shortcut tells nothing.
	if len(password) <= maxPasswordBytes {
		var err error
		hash := dummyHash()
		if valid {
			switch c, err = s.st.CustomerByEmail(ctx, email); {
			case err == nil:
				hash = c.PasswordHash
			case !errors.Is(err, store.ErrNotFound):
				s.throttle.release(email, clientIP)
				return store.Customer{}, a, 0, fmt.Errorf("auth: sign in: look up email: %w", err)
			}
		}
		// Runs for unknown emails too, against the dummy hash, so timing
		// does not tell which emails have accounts.
		if match, err = s.verify(hash, password); err != nil {
			s.throttle.release(email, clientIP)
			return store.Customer{}, a, 0, fmt.Errorf("auth: sign in: password hash of %s: %w", c.ID, err)
		}
	}
	if !match || c.ID == "" {
		s.logLocks(ctx, a, c.ID, clientIP)
		return store.Customer{}, a, 0, errInvalidCredentials()
	}
	return c, a, 0, nil
}

// logLocks logs the lock a failed attempt caused, if any: once per lock,
// not per refused attempt, so a flood of guesses does not flood the log.
// The customer id is empty for an unknown email.
func (s *Service) logLocks(ctx context.Context, a attemptResult, customerID, clientIP string) {
	if a.locksEmail {
		s.log.WarnContext(ctx, "auth: sign-in locked for an email after failed attempts", "customer", customerID, "client", clientTag(clientIP))
	}
	if a.locksIP {
		s.log.WarnContext(ctx, "auth: sign-in locked for a client address after failed attempts", "client", clientTag(clientIP))
	}
}

// ChangePassword gives the customer of session se a new password, once
// they give the current one. A wrong current password counts as a failed
// sign-in (throttled by email and client address), so a device left
// signed in cannot be used to find the password; every other session of
// the customer ends, so whoever else was signed in is out. Errors for the
// client are *httpx.Error: 400 weak_password, 403 wrong_password, 429
// too_many_attempts (with how long to wait).
func (s *Service) ChangePassword(ctx context.Context, se store.Session, current, next, clientIP string) (time.Duration, error) {
	if err := checkPassword(next); err != nil {
		return 0, err
	}
	c, err := s.st.Customer(ctx, se.CustomerID)
	if err != nil {
		return 0, fmt.Errorf("auth: change password of %s: %w", se.CustomerID, err)
	}
	if _, _, wait, err := s.passwordStep(ctx, c.Email, current, clientIP); err != nil {
		var e *httpx.Error
		if errors.As(err, &e) && e.Code == "invalid_credentials" {
			return 0, ErrWrongPassword()
		}
		return wait, err
	}
	s.throttle.succeeded(c.Email, clientIP)
	hash, err := HashPassword(next)
	if err != nil {
		return 0, fmt.Errorf("auth: change password: %w", err)
	}
	if err := s.st.SetPassword(ctx, c.ID, hash, se.IDHash); err != nil {
		return 0, fmt.Errorf("auth: change password of %s: %w", c.ID, err)
	}
	s.log.InfoContext(ctx, "auth: password changed; other sessions ended", "customer", c.ID)
	if s.sessionsEnded != nil {
		s.sessionsEnded(c.ID, se.IDHash)
	}
	return 0, nil
}

// CheckPassword applies the rules for a new password (length, in
// characters and bytes); the error is for the person choosing it.
func CheckPassword(pw string) error {
	if err := checkPassword(pw); err != nil {
		return err
	}
	return nil
}

// clientKey keys clientTag; it lives only as long as the process.
var clientKey = vault.EphemeralMACKey()

// clientTag stands for a client address in the log: the same address gives
// the same tag within a process, so an operator can see one address behind
// many lockouts, but the log holds no address (personal data).
func clientTag(ip string) string {
	return hex.EncodeToString(clientKey.Sum(sha256.New, []byte(ip))[:6])
}
