package banksim

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

// Payments, the bank's side. It asks its customers to pay their card's
// statement (POST /sim/payment-request, for demos and tests); it pays
// what a customer hands it with "Pay with Cedar Bank" (payment.authorize):
// its own requests, and merchants' requests that the customer chose it
// for; and it passes on one customer's request for money to another
// (payment.ask), finding the payer by the email address or mobile number
// they use here. A payment is accepted at once (the money held in
// checking), then settles after SettleDelay, when the money moves: each
// step is a payment.status event on the link where the payer sees the
// payment, and, for one customer paying another, on the asker's too.
// Payments are kept in the state file, so a restart carries on.

// Payment kinds.
const (
	paymentStatement = "statement" // the bank asked its customer to pay their card
	paymentMerchant  = "merchant"  // the customer chose the bank to pay a merchant
	paymentFriend    = "p2p"       // one customer pays another who asked
)

// Reason codes the bank gives with a rejection (ISO 20022
// ExternalStatusReason1Code).
const (
	reasonInsufficientFunds = "AM04"
	reasonWrongCurrency     = "AM03"
)

// requestLifetime is how long the bank's own requests stay open.
const requestLifetime = 24 * time.Hour

// endedKept is how long a payment is remembered after it ended, so a
// notice delivered again (the platform retries for days) is not paid twice.
const endedKept = 7 * 24 * time.Hour

// defaultSettleDelay is how long an accepted payment takes to settle when
// Config leaves it unset: long enough to see "accepted", short enough for
// a demo.
const defaultSettleDelay = 5 * time.Second

// payment is one payment the bank was asked to make, or asked for.
type payment struct {
	// Where the payer sees it: their link, and the id its card goes by
	// there (the request's, or the platform's for a merchant's request).
	LinkID     string `json:"link_id"`
	PaymentID  string `json:"payment_id"`
	CustomerID string `json:"customer_id"` // who pays
	Kind       string `json:"kind"`
	Cents      int64  `json:"cents"`
	Currency   string `json:"currency"`
	Reference  string `json:"reference"`
	Payee      string `json:"payee"` // in words, for the bank's notes
	// For one customer paying another: who asked, and their card of it.
	PayeeCustomerID string    `json:"payee_customer_id,omitempty"`
	AskLinkID       string    `json:"ask_link_id,omitempty"`
	AskPaymentID    string    `json:"ask_payment_id,omitempty"`
	ExpiresAt       time.Time `json:"expires_at"`
	// Status is "" while the bank waits for the customer, then accepted,
	// settled, rejected or expired.
	Status    string    `json:"status,omitempty"`
	AccountID string    `json:"account_id,omitempty"` // paid from, once accepted
	SettleAt  time.Time `json:"settle_at,omitempty"`
	EndedAt   time.Time `json:"ended_at,omitempty"`
}

func (p *payment) ended() bool {
	return p.Status == bankapi.PaymentSettled || p.Status == bankapi.PaymentRejected || p.Status == bankapi.PaymentExpired
}

// RequestPayments asks every customer with a live link that takes payments
// to pay their credit card's statement from checking, and posts the
// requests now. It returns how many it posted.
func (b *Bank) RequestPayments(ctx context.Context) (int, error) {
	b.mu.Lock()
	n := 0
	now := b.now()
	for _, c := range b.st.Customers {
		n += b.requestStatement(c, now)
	}
	err := b.saveLocked()
	b.mu.Unlock()
	if err != nil {
		return n, err
	}
	return n, b.flush(ctx)
}

// requestStatement asks the customer, on each link that takes payments,
// to pay what their card owes (or a payment toward it when it owes
// little). b.mu must be held.
func (b *Bank) requestStatement(c *customer, now time.Time) int {
	card, checking := c.account(bankapi.AccountCreditCard), c.account(bankapi.AccountChecking)
	if card == nil || checking == nil {
		return 0
	}
	cents, what := card.CurrentCents, "statement"
	if cents < 100 {
		cents, what = 2500, "payment"
	}
	reference := fmt.Sprintf("%s %s %s", card.Name, mask(card.Mask), what)
	expires := now.Add(requestLifetime).UTC().Truncate(time.Second)
	n := 0
	for _, l := range b.st.Links {
		if l.CustomerID != c.ID {
			continue
		}
		paymentID := b.nextID("stmt-")
		id := b.emitTo(l, bankapi.TypePaymentRequest, now, func(*link) any {
			return bankapi.PaymentRequest{PaymentID: paymentID, Amount: money(cents, card.Currency), Reference: reference,
				Note: fmt.Sprintf("Your %s is ready. Pay it from %s %s with one tap.", what, checking.Name, mask(checking.Mask)), ExpiresAt: expires}
		})
		if id == "" {
			continue
		}
		b.st.Payments = append(b.st.Payments, &payment{LinkID: l.ID, PaymentID: paymentID, CustomerID: c.ID, Kind: paymentStatement,
			Cents: cents, Currency: card.Currency, Reference: reference, Payee: b.cfg.Name, ExpiresAt: expires})
		n++
	}
	return n
}

// serveRequestPayment is the simulator's own control: POST
// /sim/payment-request asks for a card payment now, for demos and tests.
func (b *Bank) serveRequestPayment(w http.ResponseWriter, r *http.Request) {
	n, err := b.RequestPayments(r.Context())
	if err != nil {
		http.Error(w, "the request could not be posted yet; it will be", http.StatusAccepted)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]int{"requested": n})
}

// findPayment is the payment a link knows by paymentID. b.mu must be held.
func (b *Bank) findPayment(linkID, paymentID string) *payment {
	for _, p := range b.st.Payments {
		if p.LinkID == linkID && p.PaymentID == paymentID {
			return p
		}
	}
	return nil
}

// onPaymentAuthorize pays what the customer handed the bank: one of its
// own requests, or a merchant's. A payment is acted on once, however often
// the notice comes. b.mu must be held.
func (b *Bank) onPaymentAuthorize(r bankapi.PaymentAuthorize, now time.Time) {
	l := b.findLink(r.LinkID)
	if l == nil || l.Stopped != "" {
		return
	}
	p := b.findPayment(r.LinkID, r.PaymentID)
	if p == nil {
		if r.RequestID != "" {
			// It names a request of ours that we never made on this link.
			b.log.Warn("payment for an unknown request", "bank", b.cfg.Name, "link", r.LinkID)
			return
		}
		p = &payment{LinkID: r.LinkID, PaymentID: r.PaymentID, CustomerID: l.CustomerID, Kind: paymentMerchant,
			Currency: r.Amount.Currency, Reference: r.Reference, Payee: r.Payee.Name, ExpiresAt: r.ExpiresAt}
		b.st.Payments = append(b.st.Payments, p)
		cents, err := parseCents(r.Amount.Amount)
		if err != nil {
			b.endPayment(p, bankapi.PaymentRejected, "", "We can’t pay an amount like this one.", now)
			return
		}
		p.Cents = cents
	}
	if p.Status != "" {
		return
	}
	if !now.Before(p.ExpiresAt) {
		b.expirePayment(p, now)
		return
	}
	c := b.customerByID(p.CustomerID)
	acct := c.account(bankapi.AccountChecking)
	switch {
	case acct == nil || acct.Currency != p.Currency:
		b.endPayment(p, bankapi.PaymentRejected, reasonWrongCurrency, fmt.Sprintf("We can only pay in %s from your account here.", c.Accounts[0].Currency), now)
		return
	case acct.availableCents() < p.Cents:
		b.endPayment(p, bankapi.PaymentRejected, reasonInsufficientFunds,
			fmt.Sprintf("There isn’t enough money in %s %s to pay %s, so nothing was paid.", acct.Name, mask(acct.Mask), showMoney(p.Cents, p.Currency)), now)
		return
	}
	acct.authorize(p.Cents)
	p.Status, p.AccountID, p.SettleAt = bankapi.PaymentAccepted, acct.ID, now.Add(b.cfg.SettleDelay).UTC()
	b.tellPayment(p.LinkID, p.PaymentID, bankapi.PaymentStatus{PaymentID: p.PaymentID, Status: bankapi.PaymentAccepted,
		Note: fmt.Sprintf("Accepted: %s to %s from %s %s.", showMoney(p.Cents, p.Currency), p.Payee, acct.Name, mask(acct.Mask))}, now)
	b.emitBalance(c, acct, now)
	if p.Kind == paymentFriend {
		b.tellPayment(p.AskLinkID, p.AskPaymentID, bankapi.PaymentStatus{PaymentID: p.AskPaymentID, Status: bankapi.PaymentAccepted,
			Note: fmt.Sprintf("%s is paying you %s.", c.DisplayName, showMoney(p.Cents, p.Currency))}, now)
	}
}

// onPaymentAsk passes one customer's request for money to another: the
// payer is found by the email address or mobile number they use here, and
// asked on their own link; the asker hears if nobody could be asked.
// b.mu must be held.
func (b *Bank) onPaymentAsk(a bankapi.PaymentAsk, now time.Time) {
	l := b.findLink(a.LinkID)
	if l == nil || l.Stopped != "" || slices.ContainsFunc(b.st.Payments, func(p *payment) bool {
		return p.AskLinkID == a.LinkID && p.AskPaymentID == a.PaymentID
	}) {
		return
	}
	asker := b.customerByID(l.CustomerID)
	p := &payment{Kind: paymentFriend, Currency: a.Amount.Currency, Reference: a.Reference, Payee: asker.DisplayName, PayeeCustomerID: asker.ID,
		AskLinkID: a.LinkID, AskPaymentID: a.PaymentID, ExpiresAt: now.Add(requestLifetime).UTC().Truncate(time.Second)}
	b.st.Payments = append(b.st.Payments, p)
	refuse := func(note string) {
		p.Status, p.EndedAt = bankapi.PaymentRejected, now.UTC()
		b.tellPayment(a.LinkID, a.PaymentID, bankapi.PaymentStatus{PaymentID: a.PaymentID, Status: bankapi.PaymentRejected, Note: note}, now)
	}
	cents, err := parseCents(a.Amount.Amount)
	if err != nil || a.Amount.Currency != "USD" {
		refuse("We can only pass on requests in US dollars.")
		return
	}
	p.Cents = cents
	payer := b.customerByHandle(a.Payer)
	var to *link
	if payer != nil && payer.ID != asker.ID {
		for _, pl := range b.st.Links {
			if pl.CustomerID == payer.ID && pl.Stopped == "" && pl.allows(bankapi.TypePaymentRequest) {
				to = pl
				break
			}
		}
	}
	if to == nil {
		// The same answer whether nobody here uses that address or they
		// do not take requests here: nothing is told about who banks here.
		refuse(fmt.Sprintf("We couldn’t pass this on to %s. Check the email address or mobile number, or ask them another way.", a.Payer))
		return
	}
	p.LinkID, p.PaymentID, p.CustomerID = to.ID, b.nextID("p2p-"), payer.ID
	b.emitTo(to, bankapi.TypePaymentRequest, now, func(*link) any {
		return bankapi.PaymentRequest{PaymentID: p.PaymentID, Amount: money(cents, p.Currency), Reference: p.Reference,
			Payee: &bankapi.Payee{Name: asker.DisplayName}, Note: fmt.Sprintf("%s asked you through %s.", asker.DisplayName, b.cfg.Name), ExpiresAt: p.ExpiresAt}
	})
}

// customerByHandle finds the customer who uses this email address or
// mobile number here, or nil. b.mu must be held.
func (b *Bank) customerByHandle(h string) *customer {
	want := normalHandle(h)
	for _, c := range b.st.Customers {
		for _, mine := range c.Handles {
			if want != "" && normalHandle(mine) == want {
				return c
			}
		}
	}
	return nil
}

// normalHandle is an email address in lower case, or a mobile number's
// digits with the country code (1 for a ten-digit North American number).
func normalHandle(h string) string {
	h = strings.ToLower(strings.TrimSpace(h))
	if strings.Contains(h, "@") {
		return h
	}
	var d strings.Builder
	for _, r := range h {
		if r >= '0' && r <= '9' {
			d.WriteRune(r)
		}
	}
	if d.Len() == 10 {
		return "1" + d.String()
	}
	return d.String()
}

// paymentsDue settles the accepted payments whose time has come, expires
// the requests nobody paid in time, and forgets payments long ended.
// b.mu must be held.
func (b *Bank) paymentsDue(now time.Time) {
	for _, p := range b.st.Payments {
		switch {
		case p.Status == bankapi.PaymentAccepted && !now.Before(p.SettleAt):
			b.settlePayment(p, now)
		case p.Status == "" && p.LinkID != "" && !now.Before(p.ExpiresAt):
			b.expirePayment(p, now)
		}
	}
	b.st.Payments = slices.DeleteFunc(b.st.Payments, func(p *payment) bool {
		return p.ended() && now.Sub(p.EndedAt) > endedKept
	})
}

// settlePayment moves the money of an accepted payment: out of the
// payer's checking, into the card it pays or the customer who asked.
// b.mu must be held.
func (b *Bank) settlePayment(p *payment, now time.Time) {
	c := b.customerByID(p.CustomerID)
	acct := c.accountByID(p.AccountID)
	acct.post(bankapi.Debit, p.Cents, p.Cents)
	b.emitTransaction(c, acct, txn{internalID: b.nextID("t"), status: bankapi.StatusPosted, direction: bankapi.Debit, cents: p.Cents,
		description: fmt.Sprintf("Payment to %s — %s", p.Payee, p.Reference)}, now)
	b.emitBalance(c, acct, now)
	switch p.Kind {
	case paymentStatement:
		if card := c.account(bankapi.AccountCreditCard); card != nil {
			card.post(bankapi.Credit, p.Cents, 0)
			b.emitTransaction(c, card, txn{internalID: b.nextID("t"), status: bankapi.StatusPosted, direction: bankapi.Credit, cents: p.Cents, description: "Payment — thank you"}, now)
			b.emitBalance(c, card, now)
		}
	case paymentFriend:
		payee := b.customerByID(p.PayeeCustomerID)
		if to := payee.account(bankapi.AccountChecking); to != nil {
			to.post(bankapi.Credit, p.Cents, 0)
			b.emitTransaction(payee, to, txn{internalID: b.nextID("t"), status: bankapi.StatusPosted, direction: bankapi.Credit, cents: p.Cents,
				description: fmt.Sprintf("Payment from %s — %s", c.DisplayName, p.Reference)}, now)
			b.emitBalance(payee, to, now)
		}
		b.tellPayment(p.AskLinkID, p.AskPaymentID, bankapi.PaymentStatus{PaymentID: p.AskPaymentID, Status: bankapi.PaymentSettled,
			Note: fmt.Sprintf("%s paid you %s.", c.DisplayName, showMoney(p.Cents, p.Currency))}, now)
	}
	p.Status, p.EndedAt = bankapi.PaymentSettled, now.UTC()
	b.tellPayment(p.LinkID, p.PaymentID, bankapi.PaymentStatus{PaymentID: p.PaymentID, Status: bankapi.PaymentSettled,
		Note: fmt.Sprintf("Paid: %s to %s.", showMoney(p.Cents, p.Currency), p.Payee)}, now)
}

// expirePayment ends a request nobody paid in time. b.mu must be held.
func (b *Bank) expirePayment(p *payment, now time.Time) {
	b.endPayment(p, bankapi.PaymentExpired, "", "This request lapsed before it was paid, so nothing was paid.", now)
}

// endPayment ends a payment unpaid and says so to the payer and, for one
// customer paying another, to the asker. b.mu must be held.
func (b *Bank) endPayment(p *payment, status, reason, note string, now time.Time) {
	p.Status, p.EndedAt = status, now.UTC()
	b.tellPayment(p.LinkID, p.PaymentID, bankapi.PaymentStatus{PaymentID: p.PaymentID, Status: status, ReasonCode: reason, Note: note}, now)
	if p.Kind == paymentFriend {
		who := b.customerByID(p.CustomerID).DisplayName
		words := map[string]string{bankapi.PaymentExpired: "didn’t pay before the request lapsed", bankapi.PaymentRejected: "couldn’t pay it"}[status]
		b.tellPayment(p.AskLinkID, p.AskPaymentID, bankapi.PaymentStatus{PaymentID: p.AskPaymentID, Status: status, Note: who + " " + words + "."}, now)
	}
}

// tellPayment posts a payment's status on one link. b.mu must be held.
func (b *Bank) tellPayment(linkID, paymentID string, s bankapi.PaymentStatus, now time.Time) {
	if l := b.findLink(linkID); l != nil && paymentID != "" {
		b.emitTo(l, bankapi.TypePaymentStatus, now, func(*link) any { return s })
	}
}

// PaymentStatus says where the payment a link knows by paymentID stands:
// "" while it waits for the customer, then accepted, settled, rejected or
// expired; false if the bank knows no such payment.
func (b *Bank) PaymentStatus(linkID, paymentID string) (string, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if p := b.findPayment(linkID, paymentID); p != nil {
		return p.Status, true
	}
	return "", false
}

// parseCents reads a decimal amount with at most two decimal places as
// cents, in integers: "12.5" is 1250.
func parseCents(s string) (int64, error) {
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" || len(frac) > 2 || len(whole) > 13 {
		return 0, errors.New("not an amount in cents")
	}
	for len(frac) < 2 {
		frac += "0"
	}
	w, err1 := strconv.ParseUint(whole, 10, 64)
	f, err2 := strconv.ParseUint(frac, 10, 64)
	if err1 != nil || err2 != nil || w*100+f == 0 {
		return 0, errors.New("not an amount in cents")
	}
	return int64(w*100 + f), nil
}

// mask writes the last digits of an account or card as the messenger does.
func mask(digits string) string { return "••" + digits }

// The second customer, who the demo customer can ask to pay them (and who
// can ask them): a friend who also banks here.
const (
	friendUsername = "jordan"
	demoHandle     = "alex@cedar.example"
	friendHandle   = "jordan@cedar.example"
)

// FriendUsername is the second demo customer's username at the bank's
// sign-in page; the password is DemoPassword's.
func FriendUsername() string { return friendUsername }

// DemoHandle and FriendHandle are the email addresses the two demo
// customers use at the bank: what one types to ask the other for money.
func DemoHandle() string   { return demoHandle }
func FriendHandle() string { return friendHandle }

// newFriend opens the second customer's account, with fixed numbers (the
// demo customer's come from the seeded generator, whose sequence this
// must not disturb).
func newFriend() *customer {
	return &customer{
		ID:          "cus_000102",
		Username:    friendUsername,
		DisplayName: "Jordan",
		Handles:     []string{friendHandle, "+1 503 555 0102"},
		Accounts: []*account{
			{ID: "chk2", Kind: bankapi.AccountChecking, Name: "Everyday Checking", Mask: "7315", CardLast4: "2048", CardID: "chk2-card", Currency: "USD", CurrentCents: 153240},
		},
	}
}

// repairPeople brings a state saved before payments up to date: the demo
// customer gets the handles others ask them by, and the friend arrives.
// It reports whether it changed anything. b.mu must be held, or b not yet
// shared.
func (b *Bank) repairPeople() bool {
	changed := false
	for _, c := range b.st.Customers {
		if c.Username == demoUsername && len(c.Handles) == 0 {
			c.Handles = []string{demoHandle, "+1 503 555 0101"}
			changed = true
		}
	}
	if !slices.ContainsFunc(b.st.Customers, func(c *customer) bool { return c.Username == friendUsername }) {
		b.st.Customers = append(b.st.Customers, newFriend())
		changed = true
	}
	return changed
}
