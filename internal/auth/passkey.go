package auth

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
)

// Passkeys: WebAuthn credentials (github.com/go-webauthn/webauthn checks
// the ceremonies), added by a signed-in customer after a recent
// authentication, and then a way to sign in on their own: a usernameless
// "Sign in with a passkey", or the same after the email was entered.
//
// What stays true:
//   - A passkey sign-in asks the authenticator for user verification (a
//     fingerprint, a face, a PIN) and refuses an answer without it; that
//     is two factors in one (something held, and something known or
//     been), so it stands in for the password and the TOTP code both.
//   - A challenge answers once and for PasskeyTTL. It is kept in the store
//     (any node finishes what another began), taken (deleted) by the
//     finish whatever its outcome, and bound: a registration to the
//     session that began it, a sign-in to a short-lived cookie of the
//     browser that asked for it.
//   - The signature counter only moves forward (checked in the store, in
//     the same statement that records the use): a counter that goes back
//     means a copied authenticator, and the sign-in is refused.
//   - A removed passkey signs nobody in: the use is recorded only while
//     the passkey is on the account.
//   - A removed passkey keeps nobody signed in either: each session
//     remembers the passkey that signed it in, and removing the passkey
//     ends those sessions in the same transaction; the one that removes
//     it too, when it is one of them (whoever removes a passkey gives up
//     on it, and a device it signed in signs in again with what stays).
//     A sign-in racing the removal makes no session (store.CreateSession).
//     Their open devices are told (Config.PasskeySessionsEnded).
//   - Failed passkey sign-ins count against the client address, with the
//     password's limit; not against an email, as a passkey cannot be
//     guessed, and a lock by email would let anyone who guesses at a
//     customer's password lock them out of their passkey too.
//   - Adding and removing a passkey are security events in the log, by
//     customer id, like turning the second factor on and off.

// PasskeyConfig is the WebAuthn relying party: whom authenticators make
// passkeys for.
type PasskeyConfig struct {
	// RPID is the domain passkeys are made for (config.PasskeyRPID); ""
	// turns passkeys off.
	RPID string
	// Origins are the web origins whose pages may use them.
	Origins []string
}

// PasskeyCookie carries the token of a passkey sign-in begun in this
// browser, until it is finished or PasskeyTTL has passed.
const PasskeyCookie = "__Host-ot_passkey"

// PasskeyTTL is how long a passkey ceremony may take, from its options to
// the authenticator's answer.
const PasskeyTTL = 5 * time.Minute

const (
	maxPasskeys         = 10       // per customer
	maxPasskeyName      = 60       // characters
	maxPasskeyBody      = 64 << 10 // an answer with an attestation's certificates is a few KiB
	maxIPPasskeyBegins  = 60       // passkey sign-ins begun per client address per window
	passkeyDisplayName  = "OpenTeller"
	passkeyIDLogLength  = 8 // characters of a credential id in the log
	registerTokenDomain = "openteller/passkey-register/v1\x00"
	signInTokenDomain   = "openteller/passkey-signin/v1\x00"
)

// Errors for clients.
func errPasskeysOff() *httpx.Error {
	return httpx.Errorf(http.StatusNotFound, "passkeys_off", "Passkeys are not available on this server. Sign in with your email address and password.")
}

func errPasskeyAnswer() *httpx.Error {
	return httpx.Errorf(http.StatusBadRequest, "invalid_passkey_answer", "Your browser’s answer could not be read. Please try again.")
}

func errPasskeyExpired() *httpx.Error {
	return httpx.Errorf(http.StatusBadRequest, "passkey_expired", "That took too long, or the request was used already. Please try again.")
}

func errPasskeyName() *httpx.Error {
	return httpx.Errorf(http.StatusBadRequest, "invalid_passkey_name", "Give the passkey a name of up to %d characters, such as “Phone” or “Work laptop”.", maxPasskeyName)
}

func errPasskeyRejected() *httpx.Error {
	return httpx.Errorf(http.StatusBadRequest, "passkey_rejected", "Your device’s passkey could not be checked, so it was not added. Please try again, or use another device.")
}

func errPasskeyExists() *httpx.Error {
	return httpx.Errorf(http.StatusConflict, "passkey_exists", "This passkey is already on your account.")
}

func errTooManyPasskeys() *httpx.Error {
	return httpx.Errorf(http.StatusConflict, "too_many_passkeys", "You have %d passkeys, the most an account can have. Remove one you no longer use first.", maxPasskeys)
}

func errPasskeyUnknown() *httpx.Error {
	return httpx.Errorf(http.StatusUnauthorized, "passkey_unknown", "That passkey is not on any account here: it may have been removed. Sign in with your email address and password.")
}

func errPasskeyInvalid() *httpx.Error {
	return httpx.Errorf(http.StatusUnauthorized, "passkey_invalid", "That passkey could not be checked. Please try again, or sign in with your email address and password.")
}

func errPasskeyOtherAccount() *httpx.Error {
	return httpx.Errorf(http.StatusUnauthorized, "passkey_other_account", "That passkey is for another account than the email address you entered. Choose the passkey for this address, or clear the address to use any of yours.")
}

func errPasskeyCloned() *httpx.Error {
	return httpx.Errorf(http.StatusUnauthorized, "passkey_refused", "For your security, this passkey was refused: it looks copied from another device. Sign in with your email address and password, then remove it in the privacy center.")
}

func errPasskeyNotFound() *httpx.Error {
	return httpx.Errorf(http.StatusNotFound, "not_found", "There is no such passkey on your account.")
}

// newRelyingParty returns the WebAuthn relying party for cfg, or nil when
// passkeys are off.
func newRelyingParty(cfg PasskeyConfig) (*webauthn.WebAuthn, error) {
	if cfg.RPID == "" {
		return nil, nil
	}
	return webauthn.New(&webauthn.Config{
		RPID:          cfg.RPID,
		RPDisplayName: passkeyDisplayName,
		RPOrigins:     cfg.Origins,
		// No attestation: which model of authenticator a customer uses is
		// theirs to keep, and nothing here depends on it.
		AttestationPreference: protocol.PreferNoAttestation,
		AuthenticatorSelection: protocol.AuthenticatorSelection{
			ResidentKey:        protocol.ResidentKeyRequirementRequired,
			RequireResidentKey: protocol.ResidentKeyRequired(),
			UserVerification:   protocol.VerificationRequired,
		},
		// The store holds each ceremony for PasskeyTTL and enforces it by
		// the service's clock; the browser is told the same.
		Timeouts: webauthn.TimeoutsConfig{
			Login:        webauthn.TimeoutConfig{Timeout: PasskeyTTL, TimeoutUVD: PasskeyTTL},
			Registration: webauthn.TimeoutConfig{Timeout: PasskeyTTL, TimeoutUVD: PasskeyTTL},
		},
	})
}

// passkeyUser is a customer as the WebAuthn library sees them. The user
// handle is the customer id: random, and nothing personal.
type passkeyUser struct {
	c     store.Customer
	creds []webauthn.Credential
}

func (u passkeyUser) WebAuthnID() []byte                         { return []byte(u.c.ID) }
func (u passkeyUser) WebAuthnName() string                       { return u.c.Email }
func (u passkeyUser) WebAuthnDisplayName() string                { return u.c.Email }
func (u passkeyUser) WebAuthnCredentials() []webauthn.Credential { return u.creds }

func credentialOf(p store.Passkey) webauthn.Credential {
	transports := make([]protocol.AuthenticatorTransport, len(p.Transports))
	for i, t := range p.Transports {
		transports[i] = protocol.AuthenticatorTransport(t)
	}
	return webauthn.Credential{
		ID:                p.ID,
		PublicKey:         p.PublicKey,
		AttestationFormat: p.AttestationFormat,
		Transport:         transports,
		Flags:             webauthn.NewCredentialFlags(protocol.AuthenticatorFlags(p.Flags)),
		Authenticator:     webauthn.Authenticator{AAGUID: p.AAGUID, SignCount: p.SignCount},
	}
}

// passkeyTag names a passkey in the log: the start of its credential id,
// which is no secret, enough to tell a customer's passkeys apart.
func passkeyTag(id []byte) string {
	s := base64.RawURLEncoding.EncodeToString(id)
	if len(s) > passkeyIDLogLength {
		s = s[:passkeyIDLogLength]
	}
	return s
}

// keptFlags are the authenticator data flags a passkey's record keeps:
// user present and verified, backup eligible and backed up; not those
// that describe one answer (attested data, extensions).
func keptFlags(f webauthn.CredentialFlags) byte {
	const kept = protocol.FlagUserPresent | protocol.FlagUserVerified | protocol.FlagBackupEligible | protocol.FlagBackupState
	return byte(f.ProtocolValue() & kept)
}

func ceremonyHash(domain string, token []byte) []byte {
	h := sha256.Sum256(append([]byte(domain), token...))
	return h[:]
}

// passkeysOn reports whether passkeys are configured.
func (s *Service) passkeysOn() bool { return s.relyingParty != nil }

// PasskeyJSON is a passkey as the customer sees it.
type PasskeyJSON struct {
	ID         string     `json:"id"` // the credential id, base64url
	Name       string     `json:"name"`
	CreatedAt  time.Time  `json:"created_at"`
	LastUsedAt *time.Time `json:"last_used_at"` // null until it signs in
	// Synced says the passkey is backed up by its provider (a password
	// manager, a platform account), so it reaches the customer's other
	// devices.
	Synced     bool     `json:"synced"`
	Transports []string `json:"transports"`
	// SignedInHere says the passkey signed in the session that asks:
	// removing it signs this device out.
	SignedInHere bool `json:"signed_in_here"`
}

func passkeyJSON(p store.Passkey) PasskeyJSON {
	out := PasskeyJSON{
		ID: base64.RawURLEncoding.EncodeToString(p.ID), Name: p.Name, CreatedAt: p.CreatedAt,
		Synced:     protocol.AuthenticatorFlags(p.Flags).HasBackupState(),
		Transports: p.Transports,
	}
	if out.Transports == nil {
		out.Transports = []string{}
	}
	if !p.LastUsedAt.IsZero() {
		t := p.LastUsedAt
		out.LastUsedAt = &t
	}
	return out
}

// Passkeys lists the passkeys of the customer of session se, marking the
// one that signed se in.
func (s *Service) Passkeys(ctx context.Context, se store.Session) ([]PasskeyJSON, error) {
	ps, err := s.st.Passkeys(ctx, se.CustomerID)
	if err != nil {
		return nil, fmt.Errorf("auth: passkeys of %s: %w", se.CustomerID, err)
	}
	out := make([]PasskeyJSON, len(ps))
	for i, p := range ps {
		out[i] = passkeyJSON(p)
		out[i].SignedInHere = se.PasskeyID != nil && bytes.Equal(p.ID, se.PasskeyID)
	}
	return out, nil
}

// checkPasskeyName trims name and checks it is one a person can read.
func checkPasskeyName(name string) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" || !utf8.ValidString(name) || utf8.RuneCountInString(name) > maxPasskeyName {
		return "", errPasskeyName()
	}
	for _, r := range name {
		if unicode.IsControl(r) {
			return "", errPasskeyName()
		}
	}
	return name, nil
}

// BeginPasskeyRegistration starts adding a passkey to the account of the
// session se (which needs a recent authentication: the route checks). It
// returns the options for navigator.credentials.create; the challenge is
// kept, bound to the session, for PasskeyTTL. A second begin in the same
// session replaces the first. Errors: 404 passkeys_off, 409
// too_many_passkeys.
func (s *Service) BeginPasskeyRegistration(ctx context.Context, se store.Session) (*protocol.CredentialCreation, error) {
	if !s.passkeysOn() {
		return nil, errPasskeysOff()
	}
	c, err := s.st.Customer(ctx, se.CustomerID)
	if err != nil {
		return nil, fmt.Errorf("auth: begin passkey for %s: %w", se.CustomerID, err)
	}
	have, err := s.st.Passkeys(ctx, c.ID)
	if err != nil {
		return nil, fmt.Errorf("auth: begin passkey for %s: %w", c.ID, err)
	}
	if len(have) >= maxPasskeys {
		return nil, errTooManyPasskeys()
	}
	u := passkeyUser{c: c}
	for _, p := range have {
		u.creds = append(u.creds, credentialOf(p))
	}
	creation, sd, err := s.relyingParty.BeginRegistration(u,
		// The customer's authenticators that have a passkey here already
		// say so, rather than make a second one.
		webauthn.WithExclusions(webauthn.Credentials(u.creds).CredentialDescriptors()),
		webauthn.WithResidentKeyRequirement(protocol.ResidentKeyRequirementRequired))
	if err != nil {
		return nil, fmt.Errorf("auth: begin passkey for %s: %w", c.ID, err)
	}
	if err := s.keepCeremony(ctx, store.PasskeyCeremony{
		Hash: ceremonyHash(registerTokenDomain, se.IDHash), Kind: store.CeremonyRegister,
		CustomerID: c.ID, SessionHash: se.IDHash,
	}, sd); err != nil {
		return nil, err
	}
	return creation, nil
}

func (s *Service) keepCeremony(ctx context.Context, pc store.PasskeyCeremony, sd *webauthn.SessionData) error {
	data, err := json.Marshal(sd)
	if err != nil {
		return fmt.Errorf("auth: keep passkey ceremony: %w", err)
	}
	now := s.now().UTC()
	pc.Data, pc.ExpiresAt = data, now.Add(PasskeyTTL)
	if err := s.st.PutPasskeyCeremony(ctx, pc, now); err != nil {
		return fmt.Errorf("auth: keep passkey ceremony: %w", err)
	}
	return nil
}

// takeCeremony spends the ceremony with this hash and returns its library
// session data. Errors: 400 passkey_expired.
func (s *Service) takeCeremony(ctx context.Context, hash []byte, kind string) (store.PasskeyCeremony, webauthn.SessionData, error) {
	pc, err := s.st.TakePasskeyCeremony(ctx, hash, s.now().UTC())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return pc, webauthn.SessionData{}, errPasskeyExpired()
	case err != nil:
		return pc, webauthn.SessionData{}, fmt.Errorf("auth: take passkey ceremony: %w", err)
	case pc.Kind != kind:
		return pc, webauthn.SessionData{}, errPasskeyExpired()
	}
	var sd webauthn.SessionData
	if err := json.Unmarshal(pc.Data, &sd); err != nil {
		return pc, webauthn.SessionData{}, fmt.Errorf("auth: passkey ceremony: %w: %w", store.ErrCorrupt, err)
	}
	return pc, sd, nil
}

// FinishPasskeyRegistration checks the authenticator's answer (the JSON of
// the PublicKeyCredential navigator.credentials.create returned) to the
// registration begun in the session se, and keeps the new passkey as
// name. Bad input changes nothing, not even the challenge: 400
// invalid_passkey_name, 400 invalid_passkey_answer. Then the challenge is
// spent, whatever follows: 400 passkey_expired (none, or too late), 400
// passkey_rejected (the answer does not check out), 409 passkey_exists,
// 409 too_many_passkeys.
func (s *Service) FinishPasskeyRegistration(ctx context.Context, se store.Session, name string, answer []byte) (PasskeyJSON, error) {
	if !s.passkeysOn() {
		return PasskeyJSON{}, errPasskeysOff()
	}
	name, err := checkPasskeyName(name)
	if err != nil {
		return PasskeyJSON{}, err
	}
	parsed, err := protocol.ParseCredentialCreationResponseBytes(answer)
	if err != nil {
		return PasskeyJSON{}, errPasskeyAnswer()
	}
	pc, sd, err := s.takeCeremony(ctx, ceremonyHash(registerTokenDomain, se.IDHash), store.CeremonyRegister)
	if err != nil {
		return PasskeyJSON{}, err
	}
	if pc.CustomerID != se.CustomerID || !bytes.Equal(pc.SessionHash, se.IDHash) {
		return PasskeyJSON{}, errPasskeyExpired()
	}
	c, err := s.st.Customer(ctx, se.CustomerID)
	if err != nil {
		return PasskeyJSON{}, fmt.Errorf("auth: add passkey for %s: %w", se.CustomerID, err)
	}
	have, err := s.st.Passkeys(ctx, c.ID)
	if err != nil {
		return PasskeyJSON{}, fmt.Errorf("auth: add passkey for %s: %w", c.ID, err)
	}
	if len(have) >= maxPasskeys {
		return PasskeyJSON{}, errTooManyPasskeys()
	}
	cred, err := s.relyingParty.CreateCredential(passkeyUser{c: c}, sd, parsed)
	if err != nil {
		s.log.InfoContext(ctx, "auth: a passkey's registration did not check out", "customer", c.ID, "reason", protocolReason(err))
		return PasskeyJSON{}, errPasskeyRejected()
	}
	if !cred.Flags.UserVerified {
		return PasskeyJSON{}, errPasskeyRejected() // the library checks; this says what the rest relies on
	}
	p := store.Passkey{
		ID: cred.ID, CustomerID: c.ID, Name: name, PublicKey: cred.PublicKey, SignCount: cred.Authenticator.SignCount,
		AAGUID: cred.Authenticator.AAGUID, Flags: keptFlags(cred.Flags), AttestationFormat: cred.AttestationFormat,
		CreatedAt: s.now().UTC().Truncate(time.Microsecond),
	}
	for _, t := range cred.Transport {
		p.Transports = append(p.Transports, string(t))
	}
	switch err := s.st.AddPasskey(ctx, p); {
	case errors.Is(err, store.ErrExists):
		return PasskeyJSON{}, errPasskeyExists()
	case err != nil:
		return PasskeyJSON{}, fmt.Errorf("auth: add passkey for %s: %w", c.ID, err)
	}
	s.log.InfoContext(ctx, "auth: passkey added", "customer", c.ID, "passkey", passkeyTag(p.ID))
	return passkeyJSON(p), nil
}

// PasskeyRemoved is what removing a passkey ended.
type PasskeyRemoved struct {
	// SessionsEnded counts the sessions the passkey had signed in, and
	// that ended with it (the one that removed it among them, if
	// SignedOut).
	SessionsEnded int `json:"sessions_ended"`
	// SignedOut says the session that removed it was one: this device
	// must sign in again.
	SignedOut bool `json:"signed_out"`
}

// RemovePasskey removes the passkey of the customer of session se whose id
// is the base64url credential id: it signs nobody in any more, and every
// session it signed in ends, se too if it is one (the devices on them are
// told: Config.PasskeySessionsEnded). 404 not_found.
func (s *Service) RemovePasskey(ctx context.Context, se store.Session, id string) (PasskeyRemoved, error) {
	raw, err := base64.RawURLEncoding.DecodeString(id)
	if err != nil || len(raw) == 0 {
		return PasskeyRemoved{}, errPasskeyNotFound()
	}
	ended, err := s.st.DeletePasskey(ctx, se.CustomerID, raw)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return PasskeyRemoved{}, errPasskeyNotFound()
	case err != nil:
		return PasskeyRemoved{}, fmt.Errorf("auth: remove passkey of %s: %w", se.CustomerID, err)
	}
	out := PasskeyRemoved{SessionsEnded: len(ended)}
	for _, h := range ended {
		out.SignedOut = out.SignedOut || bytes.Equal(h, se.IDHash)
	}
	s.log.InfoContext(ctx, "auth: passkey removed", "customer", se.CustomerID, "passkey", passkeyTag(raw),
		"sessions_ended", out.SessionsEnded, "signed_out_here", out.SignedOut)
	if len(ended) > 0 && s.passkeySessionsEnded != nil {
		s.passkeySessionsEnded(se.CustomerID, ended)
	}
	return out, nil
}

// BeginPasskeySignIn starts a sign-in with a passkey: usernameless, or,
// with email, for that account only (it answers alike whether or not the
// email has an account, or passkeys). It returns the options for
// navigator.credentials.get and sets the ceremony's cookie on w. Errors:
// 404 passkeys_off, 400 invalid_email, 429 too_many_attempts (with how
// long to wait).
func (s *Service) BeginPasskeySignIn(ctx context.Context, w http.ResponseWriter, email, clientIP string) (*protocol.CredentialAssertion, time.Duration, error) {
	if !s.passkeysOn() {
		return nil, 0, errPasskeysOff()
	}
	if email != "" {
		var ok bool
		if email, ok = normalizeEmail(email); !ok {
			return nil, 0, errInvalidEmail()
		}
	}
	if wait, ok := s.throttle.passkeyBegin(clientIP); !ok {
		return nil, wait, errTooManyAttempts(wait)
	}
	assertion, sd, err := s.relyingParty.BeginDiscoverableLogin(webauthn.WithUserVerification(protocol.VerificationRequired))
	if err != nil {
		return nil, 0, fmt.Errorf("auth: begin passkey sign-in: %w", err)
	}
	raw, token := randomToken()
	if err := s.keepCeremony(ctx, store.PasskeyCeremony{Hash: ceremonyHash(signInTokenDomain, raw), Kind: store.CeremonySignIn, Email: email}, sd); err != nil {
		return nil, 0, err
	}
	http.SetCookie(w, &http.Cookie{
		Name: PasskeyCookie, Value: token, Path: "/", MaxAge: int(PasskeyTTL.Seconds()),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
	return assertion, 0, nil
}

// FinishPasskeySignIn checks the authenticator's answer (the JSON of the
// PublicKeyCredential navigator.credentials.get returned) to the sign-in
// begun in this browser (r's cookie, which it clears on w), and returns
// the customer whose passkey signed and that passkey's credential id (the
// session it starts remembers it). The authenticator verified the
// person, so no password or code is asked. Errors: 400
// invalid_passkey_answer (changes nothing), 400 passkey_expired, 401
// passkey_unknown (no account has it: removed, say), 401 passkey_invalid,
// 401 passkey_other_account, 401 passkey_refused (its counter went back),
// 429 too_many_attempts (with how long to wait).
func (s *Service) FinishPasskeySignIn(ctx context.Context, w http.ResponseWriter, r *http.Request, answer []byte) (store.Customer, []byte, time.Duration, error) {
	if !s.passkeysOn() {
		return store.Customer{}, nil, 0, errPasskeysOff()
	}
	clientIP := clientIP(r)
	parsed, err := protocol.ParseCredentialRequestResponseBytes(answer)
	if err != nil {
		return store.Customer{}, nil, 0, errPasskeyAnswer()
	}
	a := s.throttle.passkeyAttempt(clientIP)
	if !a.ok {
		return store.Customer{}, nil, a.wait, errTooManyAttempts(a.wait)
	}
	c, err := s.passkeySignIn(ctx, w, r, parsed)
	var e *httpx.Error
	switch {
	case err == nil:
		s.throttle.passkeySucceeded(clientIP)
	case errors.As(err, &e) && e.Status == http.StatusUnauthorized:
		if a.locksIP {
			s.log.WarnContext(ctx, "auth: sign-in locked for a client address after failed attempts", "client", clientTag(clientIP))
		}
	default: // expired, or the server failed: neither right nor wrong
		s.throttle.passkeyRelease(clientIP)
	}
	if err != nil {
		return store.Customer{}, nil, 0, err
	}
	return c, parsed.RawID, 0, nil // the id the passkey was found and checked by
}

func (s *Service) passkeySignIn(ctx context.Context, w http.ResponseWriter, r *http.Request, parsed *protocol.ParsedCredentialAssertionData) (store.Customer, error) {
	http.SetCookie(w, &http.Cookie{Name: PasskeyCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	ck, err := r.Cookie(PasskeyCookie)
	if err != nil {
		return store.Customer{}, errPasskeyExpired()
	}
	raw, err := b64url.DecodeString(ck.Value)
	if err != nil || len(raw) != tokenBytes {
		return store.Customer{}, errPasskeyExpired()
	}
	pc, sd, err := s.takeCeremony(ctx, ceremonyHash(signInTokenDomain, raw), store.CeremonySignIn)
	if err != nil {
		return store.Customer{}, err
	}

	var (
		c       store.Customer
		unknown bool
		failed  error // the store's, as opposed to a wrong answer
	)
	lookup := func(rawID, userHandle []byte) (webauthn.User, error) {
		p, err := s.st.Passkey(ctx, rawID)
		switch {
		case errors.Is(err, store.ErrNotFound):
			unknown = true
			return nil, err
		case err != nil:
			failed = err
			return nil, err
		case string(userHandle) != p.CustomerID:
			return nil, errors.New("the user handle is not the passkey's account")
		}
		if c, err = s.st.Customer(ctx, p.CustomerID); err != nil {
			failed = err
			return nil, err
		}
		return passkeyUser{c: c, creds: []webauthn.Credential{credentialOf(p)}}, nil
	}
	cred, err := s.relyingParty.ValidateDiscoverableLogin(lookup, sd, parsed)
	switch {
	case failed != nil:
		return store.Customer{}, fmt.Errorf("auth: passkey sign-in: %w", failed)
	case unknown:
		s.log.InfoContext(ctx, "auth: sign-in with a passkey no account has", "passkey", passkeyTag(parsed.RawID), "client", clientTag(clientIP(r)))
		return store.Customer{}, errPasskeyUnknown()
	case err != nil:
		s.log.InfoContext(ctx, "auth: a passkey sign-in did not check out", "customer", c.ID, "reason", protocolReason(err), "client", clientTag(clientIP(r)))
		return store.Customer{}, errPasskeyInvalid()
	case !parsed.Response.AuthenticatorData.Flags.HasUserVerified():
		return store.Customer{}, errPasskeyInvalid() // the library checks; this says what the sign-in relies on
	case pc.Email != "" && pc.Email != c.Email:
		return store.Customer{}, errPasskeyOtherAccount()
	case cred.Authenticator.CloneWarning:
		s.log.WarnContext(ctx, "auth: a passkey's signature counter went back: refused, it may be copied", "customer", c.ID, "passkey", passkeyTag(cred.ID))
		return store.Customer{}, errPasskeyCloned()
	}
	switch err := s.st.UsePasskey(ctx, c.ID, cred.ID, cred.Authenticator.SignCount, keptFlags(cred.Flags), s.now().UTC()); {
	case errors.Is(err, store.ErrNotFound): // removed meanwhile
		return store.Customer{}, errPasskeyUnknown()
	case errors.Is(err, store.ErrCodeUsed): // the same counter twice at once
		s.log.WarnContext(ctx, "auth: a passkey's signature counter was used twice: refused, it may be copied", "customer", c.ID, "passkey", passkeyTag(cred.ID))
		return store.Customer{}, errPasskeyCloned()
	case err != nil:
		return store.Customer{}, fmt.Errorf("auth: passkey sign-in of %s: %w", c.ID, err)
	}
	s.log.InfoContext(ctx, "auth: signed in with a passkey", "customer", c.ID, "passkey", passkeyTag(cred.ID))
	return c, nil
}

// protocolReason is what the WebAuthn library says went wrong, for the
// log: its details and developer notes describe the answer's structure,
// never a key or a customer's data.
func protocolReason(err error) string {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return strings.TrimSpace(pe.Details + " " + pe.DevInfo)
	}
	return err.Error()
}

func (s *Service) handlePasskeys(w http.ResponseWriter, r *http.Request) {
	se, _ := SessionFrom(r.Context())
	list, err := s.Passkeys(r.Context(), se)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, map[string][]PasskeyJSON{"passkeys": list})
}

func (s *Service) handlePasskeyRegisterBegin(w http.ResponseWriter, r *http.Request) {
	se, _ := SessionFrom(r.Context())
	creation, err := s.BeginPasskeyRegistration(r.Context(), se)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, creation)
}

func (s *Service) handlePasskeyRegisterFinish(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Name       string          `json:"name"`
		Credential json.RawMessage `json:"credential"`
	}
	if err := httpx.DecodeJSON(w, r, maxPasskeyBody, &in); err != nil {
		httpx.WriteError(w, err)
		return
	}
	se, _ := SessionFrom(r.Context())
	p, err := s.FinishPasskeyRegistration(r.Context(), se, in.Name, in.Credential)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusCreated, map[string]PasskeyJSON{"passkey": p})
}

func (s *Service) handlePasskeyRemove(w http.ResponseWriter, r *http.Request) {
	se, _ := SessionFrom(r.Context())
	removed, err := s.RemovePasskey(r.Context(), se, r.PathValue("id"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	if removed.SignedOut {
		expireSessionCookie(w)
	}
	httpx.WriteJSON(w, http.StatusOK, removed)
}

func (s *Service) handlePasskeySignInBegin(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Email string `json:"email"`
	}
	if err := httpx.DecodeJSON(w, r, maxBody, &in); err != nil {
		httpx.WriteError(w, err)
		return
	}
	assertion, wait, err := s.BeginPasskeySignIn(r.Context(), w, in.Email, clientIP(r))
	if err != nil {
		retryAfter(w, wait)
		s.writeError(w, r, err)
		return
	}
	httpx.WriteJSON(w, http.StatusOK, assertion)
}

func (s *Service) handlePasskeySignInFinish(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Credential json.RawMessage `json:"credential"`
	}
	if err := httpx.DecodeJSON(w, r, maxPasskeyBody, &in); err != nil {
		httpx.WriteError(w, err)
		return
	}
	c, passkeyID, wait, err := s.FinishPasskeySignIn(r.Context(), w, r, in.Credential)
	if err != nil {
		retryAfter(w, wait)
		s.writeError(w, r, err)
		return
	}
	s.startSession(w, r, c, passkeyID, http.StatusOK)
}
