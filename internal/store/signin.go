package store

import (
	"errors"
	"time"
)

// ErrCodeUsed: a second-factor code of this time step, or a later one, was
// used already (UseTOTPStep). Nothing changed.
var ErrCodeUsed = errors.New("store: that code was used already")

// ResetToken is a password reset a customer asked for by email. Only the
// SHA-256 of the token in the link is kept, so a copy of the database
// resets nobody's password.
type ResetToken struct {
	Hash       []byte
	CustomerID string
	CreatedAt  time.Time
	ExpiresAt  time.Time
}

// TOTP is a customer's second factor: an RFC 6238 secret, sealed by the
// vault (under the customer's sign-in key), never kept in the clear.
type TOTP struct {
	CustomerID  string
	Sealed      []byte
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero while being set up: it does not guard sign-in yet
	// LastStep is the newest RFC 6238 time step a code was accepted for:
	// a code of that step or an earlier one is refused, so a code seen
	// over a shoulder cannot be used again.
	LastStep int64
	// RecoveryCodesLeft counts the unspent recovery codes (TOTP fills it).
	RecoveryCodesLeft int
}

// Brand is an institution's look in its conversations: a colour and a
// logo, both validated before they are kept (package brand). The store
// keeps the logo's bytes: browsers load it from the platform, never from
// the bank.
type Brand struct {
	InstitutionID string
	Color         string // "#rrggbb", or "" for none
	Logo          []byte // the image; Brands leaves it out
	LogoType      string // its media type (image/png, image/jpeg, image/gif), or "" for none
	UpdatedAt     time.Time
}

// Passkey is a customer's WebAuthn credential: the public key an
// authenticator (a phone, a laptop, a security key) made for this
// platform, and what checking its signatures needs. Nothing in it is a
// secret; the private key never leaves the authenticator.
type Passkey struct {
	// ID is the credential id the authenticator chose. It is unique
	// across every account: at a usernameless sign-in it alone names the
	// account.
	ID         []byte
	CustomerID string
	Name       string // the customer's name for it, such as "Phone"
	PublicKey  []byte // a COSE key (RFC 9052)
	// SignCount is the authenticator's signature counter at the last use.
	// A later use must show a higher one, unless both are zero (many
	// authenticators keep none): a lower one means a copied authenticator.
	SignCount  uint32
	Transports []string // how a browser reaches it: "internal", "hybrid", "usb", …
	AAGUID     []byte   // the authenticator's model, 16 bytes (all zero for many)
	// Flags are the authenticator data flags of the last use (of the
	// registration, at first): user present, user verified, backup
	// eligible, backed up.
	Flags             byte
	AttestationFormat string // "none" unless the authenticator said more
	CreatedAt         time.Time
	LastUsedAt        time.Time // zero until it signs in
}

// Passkey ceremony kinds.
const (
	CeremonyRegister = "register"
	CeremonySignIn   = "signin"
)

// PasskeyCeremony is a WebAuthn ceremony begun and not yet finished: the
// challenge the browser was given, with what finishing must check. It is
// kept in the store, not in a node's memory, so any node can finish what
// another began; it is taken once (TakePasskeyCeremony) and lapses at
// ExpiresAt.
type PasskeyCeremony struct {
	Hash []byte // SHA-256 of the ceremony's token; the browser holds the token
	Kind string // CeremonyRegister or CeremonySignIn
	// CustomerID is whose passkey a registration adds; "" at sign-in.
	CustomerID string
	// Email, at a sign-in begun after the email was entered, is the
	// account the passkey must be of; "" for any.
	Email string
	// SessionHash is the session a registration was begun in (its id hash).
	SessionHash []byte
	Data        []byte // the WebAuthn library's session data, JSON
	ExpiresAt   time.Time
}
