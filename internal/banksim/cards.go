package banksim

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

// The bank's cards. A customer who says a payment was not theirs gets the
// card locked and a replacement on its way; until the replacement is ready
// they may unlock the card, or say it was them after all, and either brings
// the card back and cancels the replacement. When the replacement is ready
// it takes the old card's place, so the account spends again: no answer
// leaves the customer without a card for good.
//
// The customer sees all of it as card.status events (one card per card
// reference, the newest status shown) and acts on a locked card through
// the actions its status offers, which come back as card.action webhooks.

// newCard is a replacement card on its way.
type newCard struct {
	CardID  string    `json:"card_id"` // internal; links see a pairwise reference
	Last4   string    `json:"last4"`
	ReadyAt time.Time `json:"ready_at"`
}

// cardStatus is a card.status event the bank posted with actions on one
// link: what the customer's tap on it will act on.
type cardStatus struct {
	EventID    string `json:"event_id"` // card.action names it as status_id
	LinkID     string `json:"link_id"`
	CustomerID string `json:"customer_id"`
	AccountID  string `json:"account_id"`
	CardID     string `json:"card_id"` // internal
	// Why the card was locked, for the answer to "it was me after all".
	Merchant string `json:"merchant,omitempty"`
	Cents    int64  `json:"cents,omitempty"`
	Answer   string `json:"answer,omitempty"`
}

// defaultReplacementDelay is how long a replacement card takes to be ready
// when Config leaves it unset: long enough to unlock the old card first,
// short enough that a demo sees the new one arrive.
const defaultReplacementDelay = 2 * time.Minute

// cardRef is the reference a link sees for one of the bank's cards.
func (b *Bank) cardRef(l *link, cardID string) string { return b.pairwise("card_", l.ID, cardID) }

// newLast4 draws the last four digits of a new card: none of the
// customer's cards, now or on their way, ends the same. b.mu must be held.
func (b *Bank) newLast4(c *customer) string {
	for {
		d := fmt.Sprintf("%04d", b.rng.IntN(10000))
		if !slices.ContainsFunc(c.Accounts, func(a *account) bool {
			return a.CardLast4 == d || (a.Replacement != nil && a.Replacement.Last4 == d)
		}) {
			return d
		}
	}
}

// lockCard locks the account's card after a "Not me" and orders a
// replacement, and tells the customer's links both. b.mu must be held.
func (b *Bank) lockCard(c *customer, acct *account, a *fraudAlert, now time.Time) {
	acct.Locked = true
	if acct.Replacement == nil {
		acct.Replacement = &newCard{CardID: b.nextID("card"), Last4: b.newLast4(c), ReadyAt: now.Add(b.cfg.ReplacementDelay).UTC()}
	}
	r := acct.Replacement
	note := fmt.Sprintf("Locked because you told us the %s payment at %s wasn't yours. A new card ending %s is on its way.",
		showMoney(a.Cents, acct.Currency), a.Merchant.Name, r.Last4)
	actions := []bankapi.AlertAction{
		{ID: bankapi.ActionUnlock, Label: "Unlock card", Style: "primary"},
		{ID: bankapi.ActionWasMe, Label: "It was me after all"},
	}
	for _, l := range b.st.Links {
		if l.CustomerID != c.ID {
			continue
		}
		id := b.emitTo(l, bankapi.TypeCardStatus, now, func(l *link) any {
			return bankapi.CardStatus{CardID: b.cardRef(l, acct.CardID), CardLast4: acct.CardLast4, AccountName: acct.Name,
				Status: bankapi.CardLocked, Note: note, Actions: actions}
		})
		if id != "" {
			b.rememberCardStatus(&cardStatus{EventID: id, LinkID: l.ID, CustomerID: c.ID, AccountID: acct.ID, CardID: acct.CardID,
				Merchant: a.Merchant.Name, Cents: a.Cents})
		}
	}
	b.emit(c, bankapi.TypeCardStatus, now, func(l *link) any {
		return bankapi.CardStatus{CardID: b.cardRef(l, r.CardID), CardLast4: r.Last4, AccountName: acct.Name,
			Status: bankapi.CardOrdered, ReplacesLast4: acct.CardLast4, ExpectedBy: r.ReadyAt.Format(time.DateOnly),
			Note: "We'll tell you here when it's ready to use."}
	})
}

// rememberCardStatus keeps a status the customer may act on, in place of
// any earlier one of the same card on the same link: a newer status
// replaces the older, and so do its actions. b.mu must be held.
func (b *Bank) rememberCardStatus(s *cardStatus) {
	b.st.CardStatuses = slices.DeleteFunc(b.st.CardStatuses, func(x *cardStatus) bool {
		return x.LinkID == s.LinkID && x.CardID == s.CardID
	})
	b.st.CardStatuses = append(b.st.CardStatuses, s)
}

// forgetCardStatuses drops the actionable statuses of a card: it moved on.
// b.mu must be held.
func (b *Bank) forgetCardStatuses(cardID string) {
	b.st.CardStatuses = slices.DeleteFunc(b.st.CardStatuses, func(x *cardStatus) bool { return x.CardID == cardID })
}

// onCardAction acts on the customer's tap on a locked card's status: both
// "unlock" and "it was me after all" unlock the card and cancel its
// replacement. A status is acted on once, and only while its card is still
// the one it locked. b.mu must be held.
func (b *Bank) onCardAction(r bankapi.CardAction, now time.Time) {
	i := slices.IndexFunc(b.st.CardStatuses, func(x *cardStatus) bool { return x.EventID == r.StatusID && x.LinkID == r.LinkID })
	l := b.findLink(r.LinkID)
	if i < 0 || l == nil || b.st.CardStatuses[i].Answer != "" {
		return
	}
	s := b.st.CardStatuses[i]
	s.Answer = r.Action
	c := b.customerByID(s.CustomerID)
	acct := c.accountByID(s.AccountID)
	if acct.CardID != s.CardID || !acct.Locked {
		b.log.Info("card action on a card that moved on", "bank", b.cfg.Name, "link", r.LinkID, "action", r.Action)
		return
	}
	switch r.Action {
	case bankapi.ActionUnlock, bankapi.ActionWasMe:
		b.unlockCard(c, acct, now)
		if r.Action == bankapi.ActionWasMe {
			b.say(l, now, bankapi.Message{Text: fmt.Sprintf(
				"Thanks for letting us know. Your card ending %s is unlocked, and we've cancelled the replacement. The %s payment at %s was declined, so if you still want it, please try it again.",
				acct.CardLast4, showMoney(s.Cents, acct.Currency), s.Merchant)})
		}
	default:
		b.say(l, now, bankapi.Message{Text: "Thanks, we've noted that."})
	}
}

// unlockCard brings a locked card back and cancels its replacement.
// b.mu must be held.
func (b *Bank) unlockCard(c *customer, acct *account, now time.Time) {
	acct.Locked = false
	b.forgetCardStatuses(acct.CardID)
	if r := acct.Replacement; r != nil {
		acct.Replacement = nil
		b.emit(c, bankapi.TypeCardStatus, now, func(l *link) any {
			return bankapi.CardStatus{CardID: b.cardRef(l, r.CardID), CardLast4: r.Last4, AccountName: acct.Name,
				Status: bankapi.CardClosed, ReplacesLast4: acct.CardLast4,
				Note: fmt.Sprintf("Cancelled: you unlocked your card ending %s, so this one isn't needed.", acct.CardLast4)}
		})
	}
	b.emit(c, bankapi.TypeCardStatus, now, func(l *link) any {
		return bankapi.CardStatus{CardID: b.cardRef(l, acct.CardID), CardLast4: acct.CardLast4, AccountName: acct.Name,
			Status: bankapi.CardActive, Note: "Unlocked. You can use it again."}
	})
}

// replaceDue puts every replacement card whose time has come in its old
// card's place: the account spends again, on the new card. b.mu must be
// held.
func (b *Bank) replaceDue(now time.Time) {
	for _, c := range b.st.Customers {
		for _, acct := range c.Accounts {
			if r := acct.Replacement; r != nil && !now.Before(r.ReadyAt) {
				b.replaceCard(c, acct, now)
			}
		}
	}
}

func (b *Bank) replaceCard(c *customer, acct *account, now time.Time) {
	r := acct.Replacement
	oldID, oldLast4 := acct.CardID, acct.CardLast4
	acct.CardID, acct.CardLast4, acct.Locked, acct.Replacement = r.CardID, r.Last4, false, nil
	b.forgetCardStatuses(oldID)
	b.emit(c, bankapi.TypeCardStatus, now, func(l *link) any {
		return bankapi.CardStatus{CardID: b.cardRef(l, oldID), CardLast4: oldLast4, AccountName: acct.Name,
			Status: bankapi.CardClosed, Note: fmt.Sprintf("Replaced by your new card ending %s.", r.Last4)}
	})
	b.emit(c, bankapi.TypeCardStatus, now, func(l *link) any {
		return bankapi.CardStatus{CardID: b.cardRef(l, r.CardID), CardLast4: r.Last4, AccountName: acct.Name,
			Status: bankapi.CardActive, ReplacesLast4: oldLast4, Note: "Ready to use."}
	})
}

// ReplaceCardsNow makes every replacement card on its way ready at once,
// and posts the cards' new statuses: for demos and tests that will not
// wait. It returns how many cards it replaced.
func (b *Bank) ReplaceCardsNow(ctx context.Context) (int, error) {
	b.mu.Lock()
	n := 0
	now := b.now()
	for _, c := range b.st.Customers {
		for _, acct := range c.Accounts {
			if acct.Replacement != nil {
				b.replaceCard(c, acct, now)
				n++
			}
		}
	}
	err := b.saveLocked()
	b.mu.Unlock()
	if err != nil {
		return n, err
	}
	return n, b.flush(ctx)
}

// serveReplaceCards is the simulator's own control: POST /sim/replace-cards
// delivers the replacement cards on their way now.
func (b *Bank) serveReplaceCards(w http.ResponseWriter, r *http.Request) {
	n, err := b.ReplaceCardsNow(r.Context())
	if err != nil {
		http.Error(w, "the new cards could not be posted yet; they will be", http.StatusAccepted)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]int{"replaced": n})
}

// repairCards brings a state saved before cards could be replaced up to
// date: every account's card gets an id, and a card locked with no
// replacement on its way (which used to be locked for good) gets one, so
// the demo carries on. It reports whether it changed anything. b.mu must
// be held, or b not yet shared.
func (b *Bank) repairCards(now time.Time) bool {
	changed := false
	for _, c := range b.st.Customers {
		for _, acct := range c.Accounts {
			if acct.CardID == "" {
				acct.CardID = acct.ID + "-card"
				changed = true
			}
			if acct.Locked && acct.Replacement == nil {
				acct.Replacement = &newCard{CardID: b.nextID("card"), Last4: b.newLast4(c), ReadyAt: now.Add(b.cfg.ReplacementDelay).UTC()}
				changed = true
			}
		}
	}
	return changed
}
