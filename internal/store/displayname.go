package store

import "time"

// DisplayName is a name a customer chose to show to the people of one
// link's institution (the agent console), beside the pseudonym they see
// otherwise. It belongs to the link: naming oneself to one bank tells no
// other, and a new link starts without one. It is sealed by the vault
// under the conversation's data key and bound to Record(), so the store
// never holds it in the clear and clearing that history destroys it.
type DisplayName struct {
	LinkID        string
	CustomerID    string
	InstitutionID string // PutDisplayName fills it from the link
	Sealed        []byte
	SetAt         time.Time
}

// Record is the id a display name is sealed to: its link's.
func (n DisplayName) Record() string { return "display-name/" + n.LinkID }

// DisplayNameScope is the scope a link must grant to carry a display name:
// bankapi.ScopeSupportChat, the one that shows the conversation to the
// bank's people. The store's schema names it too (migration 0021).
const DisplayNameScope = "support_chat"

// Receipt actions of display names: the customer shows a name to the
// bank's people (or another one), or stops. Their receipts never hold the
// name.
const (
	ReceiptShareName   = "share_name"
	ReceiptUnshareName = "unshare_name"
)

// CheckDisplayNameLink reports whether customerID may keep a display name
// on l at at: their own link, in force, granting DisplayNameScope.
func CheckDisplayNameLink(customerID string, l Link, at time.Time) error {
	switch {
	case customerID == "" || customerID != l.CustomerID:
		return ErrNotFound
	case l.Status == LinkRevoked:
		return ErrConsentRevoked
	case l.Status != LinkActive || !at.Before(l.ExpiresAt):
		return ErrConsentExpired
	case !l.HasScope(DisplayNameScope):
		return ErrConsentScope
	}
	return nil
}
