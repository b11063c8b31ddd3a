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
