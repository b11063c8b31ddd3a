package consent

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/openteller/openteller/internal/i18n"
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

// scopeKeys name each scope's words and what it covers in the
// catalogues (internal/i18n), where the messenger's connect page finds the
// same words.
var scopeKeys = map[string][2]string{
	bankapi.ScopeBalances:     {"scope.balances", "disclosure.covers.balances"},
	bankapi.ScopeTransactions: {"scope.transactions", "disclosure.covers.transactions"},
	bankapi.ScopeFraudAlerts:  {"scope.fraud_alerts", "disclosure.covers.fraud_alerts"},
	bankapi.ScopeReceipts:     {"scope.receipts", "disclosure.covers.receipts"},
	bankapi.ScopeShipments:    {"scope.shipments", "disclosure.covers.shipments"},
	bankapi.ScopePayments:     {"scope.payments", "disclosure.covers.payments"},
	bankapi.ScopeSupportChat:  {"scope.support_chat", "disclosure.covers.support_chat"},
}

// scopeTextsIn says each scope in lang.
func scopeTextsIn(lang string) map[string]ScopeText {
	out := make(map[string]ScopeText, len(scopeKeys))
	for name, k := range scopeKeys {
		out[name] = ScopeText{Words: i18n.T(lang, k[0], nil), Covers: i18n.T(lang, k[1], nil)}
	}
	return out
}

// scopeTexts are the scopes in English, as receipts (a record, in the
// platform's language) name them.
var scopeTexts = scopeTextsIn(i18n.Default)

// Disclosure is what the customer reads before going to the bank's login,
// and the digest that binds their consent to that exact text.
type Disclosure struct {
	Lang         string      `json:"lang"` // the language it is written in: "en", "fr", …
	Institution  string      `json:"institution"`
	Scopes       []ScopeText `json:"scopes"`
	DurationDays int         `json:"duration_days"`
	Purpose      string      `json:"purpose"`
	Text         string      `json:"text"`   // the whole disclosure, as shown
	Digest       string      `json:"digest"` // SHA-256 of Text, hex
}

// Disclose builds the disclosure for linking institution with scopes for
// days, in English. The text is the one shown to the customer and the one
// hashed into the receipt, so it is built here, in one place.
func Disclose(institution string, scopes []string, days int) (Disclosure, error) {
	return DiscloseIn(i18n.Default, institution, scopes, days)
}

// DiscloseIn is Disclose in lang (the customer's language; English when
// the platform does not speak it). Each language's text has its own
// digest: the receipt names the text the customer read.
func DiscloseIn(lang, institution string, scopes []string, days int) (Disclosure, error) {
	lang = i18n.Of(lang).Code
	texts := scopeTextsIn(lang)
	if !slices.Contains(Durations, days) {
		return Disclosure{}, fmt.Errorf("a link lasts 30, 90, 180 or 365 days, not %d", days)
	}
	if len(scopes) == 0 {
		return Disclosure{}, fmt.Errorf("choose at least one kind of information to share")
	}
	d := Disclosure{Lang: lang, Institution: institution, DurationDays: days, Purpose: i18n.T(lang, "disclosure.purpose", nil)}
	for _, name := range bankapi.AllScopes { // a fixed order, whatever the request's
		if !slices.Contains(scopes, name) {
			continue
		}
		st := texts[name]
		st.Name = name
		d.Scopes = append(d.Scopes, st)
	}
	for _, s := range scopes {
		if _, ok := texts[s]; !ok {
			return Disclosure{}, fmt.Errorf("%q is not something a bank can share here", s)
		}
	}
	// One line each; a scope's line starts with "- ", which the page
	// shows as a list item.
	var b strings.Builder
	line := func(key string, vars i18n.Vars) {
		b.WriteString(i18n.T(lang, key, vars))
		b.WriteByte('\n')
	}
	bank := i18n.Vars{"bank": institution}
	line("disclosure.intro", bank)
	for _, s := range d.Scopes {
		b.WriteString("- ")
		line("disclosure.scope", i18n.Vars{"words": s.Words, "covers": s.Covers})
	}
	line("disclosure.purpose_line", i18n.Vars{"purpose": d.Purpose})
	line("disclosure.duration", i18n.Vars{"count": days})
	line("disclosure.never", nil)
	line("disclosure.revoke", bank)
	line("disclosure.next", bank)
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
