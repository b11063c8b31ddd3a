package banksim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

// The bank's side of the conversation: fraud alerts it raises and acts on,
// and a small bot that answers the customer's menu taps and messages by
// posting events, as a real bank's integration would.

// alertLifetime is how long a fraud alert can be answered.
const alertLifetime = 15 * time.Minute

// fraudAlert is an alert the bank raised on one link: the customer's
// answer, once given, decides what happens to the card.
type fraudAlert struct {
	EventID    string           `json:"event_id"` // the fraud.alert event's id: fraud.response names it
	LinkID     string           `json:"link_id"`
	CustomerID string           `json:"customer_id"`
	AccountID  string           `json:"account_id"`
	Merchant   bankapi.Merchant `json:"merchant"`
	Cents      int64            `json:"cents"`
	ExpiresAt  time.Time        `json:"expires_at"`
	Answer     string           `json:"answer,omitempty"`
}

// recentTxn is a posted transaction, remembered for "Recent transactions".
type recentTxn struct {
	At          time.Time `json:"at"`
	Description string    `json:"description"`
	Direction   string    `json:"direction"`
	Cents       int64     `json:"cents"`
	Currency    string    `json:"currency"`
}

const recentKept = 5

func (c *customer) remember(t recentTxn) {
	c.Recent = append(c.Recent, t)
	if len(c.Recent) > recentKept {
		c.Recent = c.Recent[len(c.Recent)-recentKept:]
	}
}

// Places a stolen card turns up.
var suspiciousMerchants = []bankapi.Merchant{
	{Name: "Lumen Electronics", MCC: "5732", Category: "Electronics Stores", City: "Lagos", Country: "NG"},
	{Name: "Kestrel Jewellers", MCC: "5944", Category: "Jewelry Stores, Watches, Clocks, and Silverware Stores", City: "Dubai", Country: "AE"},
	{Name: "Northwind Gift Cards", MCC: "5999", Category: "Miscellaneous and Specialty Retail Stores", City: "Tallinn", Country: "EE"},
}

// RaiseFraudAlert makes the bank see a suspicious card payment for every
// customer with a live link that shares fraud alerts, and posts the alerts
// now. It returns how many it raised.
func (b *Bank) RaiseFraudAlert(ctx context.Context) (int, error) {
	b.mu.Lock()
	n := 0
	for _, c := range b.st.Customers {
		n += b.raiseAlert(c, b.now())
	}
	err := b.saveLocked()
	b.mu.Unlock()
	if err != nil {
		return n, err
	}
	return n, b.flush(ctx)
}

// raiseAlert declines a suspicious payment on the customer's card and asks
// on each link that takes fraud alerts. b.mu must be held.
func (b *Bank) raiseAlert(c *customer, now time.Time) int {
	card := c.account(bankapi.AccountCreditCard)
	if card == nil || card.Locked {
		card = c.account(bankapi.AccountChecking)
	}
	if card == nil || card.Locked {
		return 0
	}
	m := suspiciousMerchants[b.rng.IntN(len(suspiciousMerchants))]
	cents := 60000 + b.rng.Int64N(190000)
	expires := now.Add(alertLifetime).UTC().Truncate(time.Second)
	n := 0
	for _, l := range b.st.Links {
		if l.CustomerID != c.ID {
			continue
		}
		id := b.emitTo(l, bankapi.TypeFraudAlert, now, func(l *link) any {
			return bankapi.FraudAlert{
				Transaction: bankapi.AlertTransaction{Merchant: m, Amount: money(cents, card.Currency), At: now.UTC(), CardLast4: card.CardLast4, AccountID: b.accountRef(l, card)},
				Reason:      fmt.Sprintf("A %s payment in %s, far from where you usually use your card.", showMoney(cents, card.Currency), m.City),
				Actions: []bankapi.AlertAction{
					{ID: bankapi.ActionConfirm, Label: "It was me", Style: "primary"},
					{ID: bankapi.ActionDeny, Label: "Not me — lock card", Style: "danger"},
				},
				ExpiresAt: expires,
			}
		})
		if id != "" {
			b.st.Alerts = append(b.st.Alerts, &fraudAlert{EventID: id, LinkID: l.ID, CustomerID: c.ID, AccountID: card.ID, Merchant: m, Cents: cents, ExpiresAt: expires})
			n++
		}
	}
	return n
}

// serveRaiseAlert is the simulator's own control: POST /sim/fraud-alert
// raises an alert now, for demos and tests.
func (b *Bank) serveRaiseAlert(w http.ResponseWriter, r *http.Request) {
	n, err := b.RaiseFraudAlert(r.Context())
	if err != nil {
		http.Error(w, "the alert could not be posted yet; it will be", http.StatusAccepted)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]int{"raised": n})
}

// onFraudResponse acts on the customer's answer: "deny" locks the card and
// orders a replacement (cards.go), "confirm" lets the payment through;
// either way the bank says so in the conversation. An alert is acted on
// once. b.mu must be held.
func (b *Bank) onFraudResponse(r bankapi.FraudResponse, now time.Time) {
	var a *fraudAlert
	for _, x := range b.st.Alerts {
		if x.EventID == r.AlertID && x.LinkID == r.LinkID {
			a = x
		}
	}
	l := b.findLink(r.LinkID)
	if a == nil || a.Answer != "" || l == nil {
		return
	}
	a.Answer = r.Action
	c := b.customerByID(a.CustomerID)
	acct := c.accountByID(a.AccountID)
	var text string
	switch r.Action {
	case bankapi.ActionDeny:
		if acct.Locked {
			// Another alert about the same card locked it already.
			b.say(l, now, bankapi.Message{Text: fmt.Sprintf("Your %s card ending %s is already locked, and the %s payment at %s was declined too. Your new card is on its way.",
				acct.Name, acct.CardLast4, showMoney(a.Cents, acct.Currency), a.Merchant.Name)})
			return
		}
		b.say(l, now, bankapi.Message{Text: fmt.Sprintf("Done: your %s card ending %s is locked, and the %s payment at %s was declined, so you won't be charged. A new card is on its way.",
			acct.Name, acct.CardLast4, showMoney(a.Cents, acct.Currency), a.Merchant.Name)})
		b.lockCard(c, acct, a, now)
		return
	case bankapi.ActionConfirm:
		text = fmt.Sprintf("Thanks for confirming. The %s payment at %s will go through, and your card stays open.", showMoney(a.Cents, acct.Currency), a.Merchant.Name)
	default:
		text = "Thanks, we've noted your answer."
	}
	b.say(l, now, bankapi.Message{Text: text})
}

// menu is what the bot offers after it answers.
var menu = []bankapi.QuickReply{
	{Label: "Balance", Payload: "menu:" + bankapi.RequestBalance},
	{Label: "Recent transactions", Payload: "menu:" + bankapi.RequestRecentTransactions},
	{Label: "Talk to a person", Payload: "menu:" + bankapi.RequestHuman},
}

// onRequest answers a menu tap with fresh data. b.mu must be held.
func (b *Bank) onRequest(linkID, kind string, now time.Time) {
	l := b.findLink(linkID)
	if l == nil || l.Stopped != "" {
		return
	}
	c := b.customerByID(l.CustomerID)
	switch kind {
	case bankapi.RequestBalance:
		for _, a := range c.Accounts {
			b.emitTo(l, bankapi.TypeBalanceUpdated, now, func(l *link) any { return a.balance(b.accountRef(l, a)) })
		}
	case bankapi.RequestRecentTransactions:
		if len(c.Recent) == 0 {
			b.say(l, now, bankapi.Message{Text: "No transactions have posted since you connected.", QuickReplies: menu})
			return
		}
		lines := []string{"Your latest transactions:"}
		for i := len(c.Recent) - 1; i >= 0; i-- {
			t := c.Recent[i]
			sign := "−"
			if t.Direction == bankapi.Credit {
				sign = "+"
			}
			lines = append(lines, fmt.Sprintf("%s · %s%s · %s", t.At.Format("Jan 2"), sign, showMoney(t.Cents, t.Currency), t.Description))
		}
		b.say(l, now, bankapi.Message{Text: strings.Join(lines, "\n"), QuickReplies: menu})
	case bankapi.RequestHuman:
		b.say(l, now, bankapi.Message{Text: "You're in the queue for a person on our support team. They'll reply right here; you don't need to keep this open."})
	}
}

// onCustomerMessage answers what the customer wrote: a menu payload is a
// request; anything else gets the bot's acknowledgement and the menu.
func (b *Bank) onCustomerMessage(m bankapi.CustomerMessage, now time.Time) {
	if m.Standby {
		return // the bank's people have this conversation: the bot keeps quiet
	}
	if kind, ok := strings.CutPrefix(m.Payload, "menu:"); ok {
		b.onRequest(m.LinkID, kind, now)
		return
	}
	l := b.findLink(m.LinkID)
	if l == nil || l.Stopped != "" {
		return
	}
	b.say(l, now, bankapi.Message{Text: "Thanks for your message. Our team reads every one; for something quick, tap below.", QuickReplies: menu})
}

// say posts a message on one link. b.mu must be held.
func (b *Bank) say(l *link, now time.Time, m bankapi.Message) {
	b.emitTo(l, bankapi.TypeMessage, now, func(*link) any { return m })
}

// showMoney writes an amount for a person: "$1,249.00", or "EUR 12.00".
func showMoney(cents int64, currency string) string {
	s := formatCents(cents)
	whole, frac, _ := strings.Cut(strings.TrimPrefix(s, "-"), ".")
	for i := len(whole) - 3; i > 0; i -= 3 {
		whole = whole[:i] + "," + whole[i:]
	}
	sign := ""
	if cents < 0 {
		sign = "-"
	}
	if currency == "USD" {
		return sign + "$" + whole + "." + frac
	}
	return sign + currency + " " + whole + "." + frac
}
