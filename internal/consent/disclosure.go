package consent

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/pkg/bankapi"
)

// Purpose is the one purpose any consent on this platform can have. There
// is no advertising, analytics or partner-sharing purpose to choose.
const Purpose = "Show you this information in your conversation with the bank, and let the bank answer you. Nothing else."

// Durations a customer may choose, in days; DefaultDays unless they pick.
var Durations = []int{30, 90, 180, 365}

// DefaultDays is the preselected duration.
const DefaultDays = 90

// ScopeText says in plain words what a scope lets the bank send.
type ScopeText struct {
	Name   string `json:"name"`
	Words  string `json:"words"`
	Covers string `json:"covers"`
}

var scopeTexts = map[string]ScopeText{
	bankapi.ScopeBalances:     {Words: "Account balances", Covers: "The available and current balance of each account you link, when it changes."},
	bankapi.ScopeTransactions: {Words: "Card and account transactions", Covers: "Each transaction as it happens: merchant, category, amount, pending or posted, and the last four digits of the card."},
	bankapi.ScopeFraudAlerts:  {Words: "Fraud alerts you can answer", Covers: "Alerts about suspicious transactions, your answers to them, and what happens to the card: locked, unlocked, replaced."},
	bankapi.ScopeReceipts:     {Words: "Receipts from merchants", Covers: "Itemised receipts of your purchases."},
	bankapi.ScopeShipments:    {Words: "Shipping updates", Covers: "Carrier, tracking number and delivery status of your orders."},
	bankapi.ScopePayments:     {Words: "Requests to pay, and payments you approve", Covers: "Requests to pay a bill or an order, or from someone splitting a bill, each paid only when you tap Pay; what you approve goes to the bank you choose, and its answers come back here. OpenTeller never moves money and never sees your account or card numbers."},
	bankapi.ScopeSupportChat:  {Words: "Chat with the bank's support team", Covers: "Your messages to the bank's support staff and their replies."},
}

// Disclosure is what the customer reads before going to the bank's login,
// and the digest that binds their consent to that exact text.
type Disclosure struct {
	Institution  string      `json:"institution"`
	Scopes       []ScopeText `json:"scopes"`
	DurationDays int         `json:"duration_days"`
	Purpose      string      `json:"purpose"`
	Text         string      `json:"text"`   // the whole disclosure, as shown
	Digest       string      `json:"digest"` // SHA-256 of Text, hex
}

// Disclose builds the disclosure for linking institution with scopes for
// days. The text is the one shown to the customer and the one hashed into
// the receipt, so it is built here, in one place.
func Disclose(institution string, scopes []string, days int) (Disclosure, error) {
	if !slices.Contains(Durations, days) {
		return Disclosure{}, fmt.Errorf("a link lasts 30, 90, 180 or 365 days, not %d", days)
	}
	if len(scopes) == 0 {
		return Disclosure{}, fmt.Errorf("choose at least one kind of information to share")
	}
	d := Disclosure{Institution: institution, DurationDays: days, Purpose: Purpose}
	for _, name := range bankapi.AllScopes { // a fixed order, whatever the request's
		if !slices.Contains(scopes, name) {
			continue
		}
		st := scopeTexts[name]
		st.Name = name
		d.Scopes = append(d.Scopes, st)
	}
	for _, s := range scopes {
		if _, ok := scopeTexts[s]; !ok {
			return Disclosure{}, fmt.Errorf("%q is not something a bank can share here", s)
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "OpenTeller asks %s to send you the following in your conversation with it:\n", institution)
	for _, s := range d.Scopes {
		fmt.Fprintf(&b, "- %s: %s\n", s.Words, s.Covers)
	}
	fmt.Fprintf(&b, "What it is for: %s\n", Purpose)
	fmt.Fprintf(&b, "For how long: %d days, then it stops unless you renew it.\n", days)
	b.WriteString("Never used for advertising, never sold, never shared with anyone else.\n")
	fmt.Fprintf(&b, "You can take it back at any time with one tap; %s's data is then deleted from OpenTeller.\n", institution)
	fmt.Fprintf(&b, "Next, %s's own sign-in page asks you to confirm.\n", institution)
	d.Text = b.String()
	sum := sha256.Sum256([]byte(d.Text))
	d.Digest = hex.EncodeToString(sum[:])
	return d, nil
}

// Method says how consent is collected here, for receipts.
const Method = "Disclosure on the OpenTeller platform, then the institution's own sign-in (OAuth 2.0 authorization code with PKCE)"

// GrantReceipt is the receipt of the consent that created l, given after
// reading the disclosure whose digest is given.
func GrantReceipt(l store.Link, disclosureDigest string) store.Receipt {
	return store.Receipt{ID: ingest.NewID("rcp_"), Action: store.ReceiptGrant, Scopes: l.Scopes, Purpose: Purpose,
		CollectedAt: l.CreatedAt, ExpiresAt: l.ExpiresAt, Method: Method, DisclosureDigest: disclosureDigest}
}
