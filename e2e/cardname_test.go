package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/openteller/openteller/pkg/bankapi"
)

// TestBrowserCardNamedAsItsAccount: a card is named by the account it
// spends from, as the balances at the top name that account, from what
// the bank sends: a purchase (its account_id, then the account's balance,
// which arrives after it), an alert about the same card (its card_last4)
// and the card's status (its account_name) all say "Juniper Checking card
// ••7781", never a bare "Card ••7781" that matches no account shown.
func TestBrowserCardNamedAsItsAccount(t *testing.T) {
	t.Parallel()
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			ctx, do, info := browseSized(t, vp.w, vp.h)
			bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)
			now := time.Now().UTC()
			const named = "Juniper Checking card ••7781"
			purchase := bank.post(bankapi.Event{ID: "named-txn", LinkID: info.LinkID, Type: bankapi.TypeTransactionPosted, OccurredAt: now,
				Data: bankapi.TransactionPosted{AccountID: "acc_juniper", TransactionID: "named-txn", Status: bankapi.StatusPosted, Direction: bankapi.Debit,
					Amount: bankapi.Money{Amount: "7.40", Currency: "USD"}, CardLast4: "7781",
					Merchant: &bankapi.Merchant{Name: testMerchant, MCC: "5814", Category: "Fast Food Restaurants", City: "Portland", Country: "US"}}})[0]
			txn := fmt.Sprintf(`[data-testid="txn-card"][data-seq="%d"]`, purchase.Seq)
			do("the purchase, before its account's name is known",
				chromedp.WaitVisible(css(txn)),
				chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).textContent.includes('Card ••7781')`, txn)))

			res := bank.post(
				bankapi.Event{ID: "named-balance", LinkID: info.LinkID, Type: bankapi.TypeBalanceUpdated, OccurredAt: now,
					Data: bankapi.BalanceUpdated{AccountID: "acc_juniper", AccountName: "Juniper Checking", AccountKind: bankapi.AccountChecking, Mask: "0042",
						Available: bankapi.Money{Amount: "512.00", Currency: "USD"}, Current: bankapi.Money{Amount: "512.00", Currency: "USD"}}},
				bankapi.Event{ID: "named-alert", LinkID: info.LinkID, Type: bankapi.TypeFraudAlert, OccurredAt: now,
					Data: bankapi.FraudAlert{Transaction: bankapi.AlertTransaction{Merchant: bankapi.Merchant{Name: "Quarry Electronics", City: "Reno", Country: "US"},
						Amount: bankapi.Money{Amount: "640.00", Currency: "USD"}, At: now, CardLast4: "7781"},
						Reason: "A large payment in a city you don't usually shop in.", ExpiresAt: now.Add(time.Hour),
						Actions: []bankapi.AlertAction{{ID: "confirm", Label: "It was me", Style: "primary"}, {ID: "deny", Label: "Not me — lock card", Style: "danger"}}}},
				bankapi.Event{ID: "named-status", LinkID: info.LinkID, Type: bankapi.TypeCardStatus, OccurredAt: now,
					Data: bankapi.CardStatus{CardID: "card-juniper", CardLast4: "7781", AccountName: "Juniper Checking", Status: bankapi.CardLocked}},
			)
			for _, r := range append(res, purchase) {
				if r.Status != "accepted" {
					t.Fatalf("the bank's event was refused: %+v", r.Error)
				}
			}
			alert := `[data-testid="fraud-card"][data-state="open"]`
			status := `[data-testid="card-status"][data-last4="7781"]`
			do("the balance, the alert and the card's status",
				chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="balance-strip"] .balance-name')].some((b) => b.textContent.startsWith('Juniper Checking'))`),
				chromedp.WaitVisible(css(alert)),
				chromedp.WaitVisible(css(status)),
				// The purchase is drawn again, named.
				chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).textContent.includes(%q)`, txn, named)),
			)
			for what, sel := range map[string]string{"the purchase": txn, "the alert": alert + " .txn-meta", "the card": status + " .txn-title"} {
				text := evalJS[string](t, ctx, fmt.Sprintf(`document.querySelector(%q).textContent`, sel))
				if !strings.Contains(text, named) || strings.Contains(strings.ReplaceAll(text, named, ""), "••7781") {
					t.Errorf("%s says %q, want %q", what, text, named)
				}
			}
			if label := evalJS[string](t, ctx, fmt.Sprintf(`document.querySelector(%q).getAttribute('aria-label')`, status)); label != named {
				t.Errorf("the card's label is %q, want %q", label, named)
			}

			// The simulated bank's own alert names the card's account too,
			// with one of the names the balances show.
			raiseAlert(t, info)
			demoAlert := alert + `:not([data-seq="` + fmt.Sprint(res[1].Seq) + `"])`
			do("the bank's own alert", chromedp.WaitVisible(css(demoAlert)))
			meta := evalJS[string](t, ctx, fmt.Sprintf(`document.querySelector(%q).textContent`, demoAlert+" .txn-meta"))
			accounts := evalJS[[]string](t, ctx, `[...document.querySelectorAll('[data-testid="balance-strip"] .balance-name')].map((b) => b.firstChild.textContent.trim())`)
			found := false
			for _, a := range accounts {
				found = found || strings.Contains(meta, a+" card ••")
			}
			if !found {
				t.Errorf("the bank's alert says %q, naming none of the accounts shown, %q", meta, accounts)
			}
			shot(t, ctx, "named")
		})
	}
}
