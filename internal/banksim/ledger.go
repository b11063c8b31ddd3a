package banksim

import (
	"strconv"

	"github.com/openteller/openteller/pkg/bankapi"
)

// customer is one of the bank's customers. ID is the bank's own customer
// number: it never leaves the bank; the platform knows the customer only by
// the link ids it minted.
type customer struct {
	ID          string     `json:"id"`
	Username    string     `json:"username"`
	DisplayName string     `json:"display_name"`
	Accounts    []*account `json:"accounts"`
	// Handles are the email addresses and mobile numbers the customer
	// uses here: what another customer types to ask them for money.
	Handles []string `json:"handles,omitempty"`
	// Recent holds the last few posted transactions, newest last.
	Recent []recentTxn `json:"recent,omitempty"`
}

func (c *customer) account(kind string) *account {
	for _, a := range c.Accounts {
		if a.Kind == kind {
			return a
		}
	}
	return nil
}

// account keeps its balances as int64 cents. Available is derived, not
// stored, so it cannot disagree with current and the holds:
//
//	checking:    available = current − holds
//	credit card: available = limit − current − holds, where current is the
//	             amount owed (a purchase raises it, a payment lowers it)
type account struct {
	// ID is internal; the platform sees a per-link pairwise reference.
	ID        string `json:"id"`
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Mask      string `json:"mask"`       // last four digits of the account number
	CardLast4 string `json:"card_last4"` // the card that spends from it
	// CardID is that card's internal id; links see a pairwise reference.
	CardID   string `json:"card_id,omitempty"`
	Currency string `json:"currency"`

	CurrentCents int64 `json:"current_cents"`
	HoldCents    int64 `json:"hold_cents"`  // pending card authorizations
	LimitCents   int64 `json:"limit_cents"` // credit cards only
	// Locked stops the card: the customer said a payment was not theirs.
	// It lasts until they unlock it or its Replacement takes its place.
	Locked bool `json:"locked,omitempty"`
	// Replacement is the new card on its way while the card is locked.
	Replacement *newCard `json:"replacement,omitempty"`
}

func (a *account) availableCents() int64 {
	if a.Kind == bankapi.AccountCreditCard {
		return a.LimitCents - a.CurrentCents - a.HoldCents
	}
	return a.CurrentCents - a.HoldCents
}

// authorize places a hold for a pending card purchase.
func (a *account) authorize(cents int64) { a.HoldCents += cents }

// post settles a transaction into the current balance, releasing the hold
// it was authorized under (zero for transactions that never pended). The
// settled amount may differ from the hold: a restaurant tip.
func (a *account) post(direction string, cents, hold int64) {
	a.HoldCents -= hold
	// A debit takes money out of checking but adds to what a card owes.
	if (direction == bankapi.Debit) == (a.Kind == bankapi.AccountCreditCard) {
		a.CurrentCents += cents
	} else {
		a.CurrentCents -= cents
	}
}

// balance is the account as a balance.updated event shows it, under the
// pairwise account reference of one link.
func (a *account) balance(ref string) bankapi.BalanceUpdated {
	return bankapi.BalanceUpdated{
		AccountID:   ref,
		AccountName: a.Name,
		AccountKind: a.Kind,
		Mask:        a.Mask,
		Available:   money(a.availableCents(), a.Currency),
		Current:     money(a.CurrentCents, a.Currency),
	}
}

func money(cents int64, currency string) bankapi.Money {
	return bankapi.Money{Amount: formatCents(cents), Currency: currency}
}

// formatCents writes cents as a decimal string with two places ("1234.05",
// "-0.50"), by integer division: no float ever touches an amount.
func formatCents(cents int64) string {
	sign := ""
	// Work in uint64 so the most negative int64 has a magnitude too.
	mag := uint64(cents)
	if cents < 0 {
		sign = "-"
		mag = -mag
	}
	frac := mag % 100
	pad := ""
	if frac < 10 {
		pad = "0"
	}
	return sign + strconv.FormatUint(mag/100, 10) + "." + pad + strconv.FormatUint(frac, 10)
}
