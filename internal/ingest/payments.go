package ingest

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/pan"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// The customer's side of payments. A payment.request an institution posted
// is answered with one tap, "Pay with <bank>", which hands the request to
// that bank by reference (a payment.authorize notice); and a customer asks
// someone else to pay them through their own bank (payment.ask), which
// finds that person: the platform matches the name it is given against
// nothing. The platform moves no money, holds no account or card number,
// and keeps of a payment only what the cards show, sealed in the
// conversations like everything else.
const (
	PaymentAuthorizeType = bankapi.WebhookPaymentAuthorize
	PaymentAskType       = bankapi.WebhookPaymentAsk
)

// Payer is one of the customer's banks that can pay for them: a bank (not a
// merchant) whose link is in force and grants payments.
type Payer struct {
	InstitutionID  string `json:"institution_id"`
	Name           string `json:"name"`
	ConversationID string `json:"conversation_id"`
}

// Payers lists the customer's banks that can pay, by name.
func (in *Ingester) Payers(ctx context.Context, customerID string) ([]Payer, error) {
	convs, err := in.store.Conversations(ctx, customerID)
	if err != nil {
		return nil, fmt.Errorf("ingest: payers: %w", err)
	}
	kinds, err := in.institutionKinds(ctx)
	if err != nil {
		return nil, err
	}
	now := in.now()
	out := []Payer{}
	for _, c := range convs {
		l := c.Link
		if l.Status != store.LinkActive || !now.Before(l.ExpiresAt) || !l.HasScope(bankapi.ScopePayments) || kinds[c.InstitutionID] != store.InstitutionBank {
			continue
		}
		out = append(out, Payer{InstitutionID: c.InstitutionID, Name: c.InstitutionName, ConversationID: c.ID})
	}
	slices.SortFunc(out, func(a, b Payer) int { return strings.Compare(a.Name+a.InstitutionID, b.Name+b.InstitutionID) })
	return out, nil
}

func (in *Ingester) institutionKinds(ctx context.Context) (map[string]string, error) {
	ins, err := in.store.Institutions(ctx)
	if err != nil {
		return nil, fmt.Errorf("ingest: read institutions: %w", err)
	}
	kinds := make(map[string]string, len(ins))
	for _, i := range ins {
		kinds[i.ID] = store.KindOf(i.Kind)
	}
	return kinds, nil
}

// paymentParty names an institution in the customer's own events. It
// carries no conversation id: an event in one institution's conversation
// must not name the customer's conversation with another (a merchant's
// agents could match customers across merchants by it). The device finds
// that conversation by the institution.
type paymentParty struct {
	InstitutionID string `json:"institution_id"`
	Name          string `json:"name"`
}

// paymentAuthorizeData is the payment.authorize event as devices see it.
// In the conversation of the request it answers (RequestSeq set), it says
// which bank pays and when the customer chose it. In the paying bank's
// conversation, when another institution (a merchant) asked, it is the
// payment itself (RequestSeq zero, the request's words copied): the card
// that bank's payment.status events update.
type paymentAuthorizeData struct {
	RequestSeq   int64          `json:"request_seq,omitempty"`
	PaymentID    string         `json:"payment_id"`
	Label        string         `json:"label"` // "Pay with Cedar Bank"
	Payer        paymentParty   `json:"payer"`
	Amount       *bankapi.Money `json:"amount,omitempty"`
	Payee        string         `json:"payee,omitempty"`
	Reference    string         `json:"reference,omitempty"`
	ExpiresAt    *time.Time     `json:"expires_at,omitempty"`
	RequestedBy  *paymentParty  `json:"requested_by,omitempty"`
	AuthorizedAt time.Time      `json:"authorized_at"`
	AuthorizedBy string         `json:"authorized_by"`
}

// Authorized is what AuthorizePayment did.
type Authorized struct {
	Seq int64 // the customer's answer, in the request's conversation
	// PayerConversationID is the conversation with the bank that pays,
	// where its statuses arrive.
	PayerConversationID string
}

// paymentsSearched bounds how far back a payment's answer and statuses
// are looked for: requests are paid within hours or days, and a
// conversation holds few of them.
const paymentsSearched = 50

// AuthorizePayment hands the payment.request at requestSeq to the bank
// with payerID: the requesting institution itself when it is a bank (""
// names it too), or, when a merchant asks, one of the customer's banks
// that can pay (Payers). One tap per request: a second is refused
// (already_authorized), and so is a tap after the request expired or after
// the institution closed it with a status of its own.
//
// When the bank pays its own request, one event in its conversation
// carries the notice. When a merchant asked, the merchant's conversation
// gets the customer's answer (no notice: the merchant learns of the
// payment by its own means), and the bank's conversation gets the payment
// with the notice:
// two events bound into one bundle, stored all or none, so a request is
// never handed over twice nor marked paid without being handed over.
func (in *Ingester) AuthorizePayment(ctx context.Context, customerID, conversationID string, requestSeq int64, payerID string) (Authorized, error) {
	var req bankapi.PaymentRequest
	c, stored, err := in.openTapped(ctx, customerID, conversationID, requestSeq, bankapi.TypePaymentRequest, &req)
	if err != nil {
		return Authorized{}, err
	}
	now := in.now().UTC()
	if prior, ok, err := in.paymentAnswer(ctx, c, requestSeq); err != nil {
		return Authorized{}, err
	} else if ok {
		return Authorized{}, httpx.Errorf(http.StatusConflict, "already_authorized", "You already chose to pay this with %s.", prior.Payer.Name)
	}
	if !now.Before(req.ExpiresAt) {
		return Authorized{}, httpx.Errorf(http.StatusConflict, "payment_expired", "This request has expired, so it can’t be paid here. Ask %s for a new one if you still want to pay.", c.InstitutionName)
	}
	if st, ok, err := in.paymentStatus(ctx, c, requestSeq, req.PaymentID); err != nil {
		return Authorized{}, err
	} else if ok {
		return Authorized{}, httpx.Errorf(http.StatusConflict, "payment_closed", "%s says this request is %s, so there is nothing to pay here.", c.InstitutionName, paymentWords[st.Status])
	}
	kinds, err := in.institutionKinds(ctx)
	if err != nil {
		return Authorized{}, err
	}
	payer := paymentParty{InstitutionID: c.InstitutionID, Name: c.InstitutionName}
	pc := c
	if kinds[c.InstitutionID] == store.InstitutionBank {
		if payerID != "" && payerID != c.InstitutionID {
			return Authorized{}, httpx.Errorf(http.StatusBadRequest, "invalid_payer", "%s asks to be paid from your account with it.", c.InstitutionName)
		}
	} else {
		payers, err := in.Payers(ctx, customerID)
		if err != nil {
			return Authorized{}, err
		}
		i := slices.IndexFunc(payers, func(p Payer) bool { return p.InstitutionID == payerID })
		if i < 0 {
			return Authorized{}, httpx.Errorf(http.StatusBadRequest, "invalid_payer", "Choose one of your connected banks that lets you pay here.")
		}
		payer = paymentParty{InstitutionID: payers[i].InstitutionID, Name: payers[i].Name}
		if pc, err = in.customerConversation(ctx, customerID, payers[i].ConversationID); err != nil {
			return Authorized{}, err
		}
	}
	payee := c.InstitutionName
	if req.Payee != nil {
		payee = req.Payee.Name
	}
	label := "Pay with " + payer.Name
	answer, err := in.customerEvent(ctx, c, PaymentAuthorizeType, bankapi.ScopePayments, paymentAuthorizeData{
		RequestSeq: requestSeq, PaymentID: req.PaymentID, Label: label, Payer: payer, AuthorizedAt: now, AuthorizedBy: store.AuthorCustomer,
	}, now)
	if err != nil {
		return Authorized{}, err
	}
	// One tap per request, kept by the store as for alerts: a key no bank
	// event id can have, and a fingerprint of the payer chosen.
	answer.BankEventID = "payment/" + stored.BankEventID
	if answer.Fingerprint, err = in.keyring.Fingerprint(ctx, customerID, []byte(PaymentAuthorizeType+"\x00"+stored.BankEventID+"\x00"+payer.InstitutionID)); err != nil {
		return Authorized{}, fmt.Errorf("ingest: fingerprint payment: %w", err)
	}
	notice := bankapi.PaymentAuthorize{PaymentID: req.PaymentID, Amount: req.Amount, Payee: bankapi.PaymentPayee{Name: payee, InstitutionID: c.InstitutionID},
		Reference: req.Reference, ExpiresAt: req.ExpiresAt, AuthorizedAt: now, AuthorizedBy: store.AuthorCustomer}
	evs := []store.NewEvent{answer}
	convs := []store.Conversation{c}
	if pc.ID == c.ID {
		notice.LinkID, notice.RequestID = c.Link.ID, stored.BankEventID
		if err := in.attachNotice(ctx, &evs[0], PaymentAuthorizeType, notice); err != nil {
			return Authorized{}, err
		}
	} else {
		// The bank learns the merchant's id and name, the amount and the
		// reference: what it needs to pay. The merchant's own reference
		// for the request stays with the merchant; the bank names the
		// payment by an id of the platform's.
		amount, expires, paymentID := req.Amount, req.ExpiresAt, NewID("pay_")
		handed, err := in.customerEvent(ctx, pc, PaymentAuthorizeType, bankapi.ScopePayments, paymentAuthorizeData{
			PaymentID: paymentID, Label: label, Payer: payer, Amount: &amount, Payee: payee, Reference: req.Reference, ExpiresAt: &expires,
			RequestedBy: &paymentParty{InstitutionID: c.InstitutionID, Name: c.InstitutionName}, AuthorizedAt: now, AuthorizedBy: store.AuthorCustomer,
		}, now)
		if err != nil {
			return Authorized{}, err
		}
		notice.LinkID, notice.PaymentID = pc.Link.ID, paymentID
		if err := in.attachNotice(ctx, &handed, PaymentAuthorizeType, notice); err != nil {
			return Authorized{}, err
		}
		answer.Bundle, handed.Bundle = answer.ID, answer.ID
		evs = append(evs, handed)
		convs = append(convs, pc)
	}
	res, err := in.appendPayment(ctx, evs, convs)
	if err != nil {
		return Authorized{}, err
	}
	if res[0].Duplicate {
		return Authorized{}, httpx.Errorf(http.StatusConflict, "already_authorized", "You already chose to pay this with %s.", payer.Name)
	}
	return Authorized{Seq: res[0].Seq, PayerConversationID: pc.ID}, nil
}

// paymentAnswer finds the customer's tap on the request at requestSeq.
func (in *Ingester) paymentAnswer(ctx context.Context, c store.Conversation, requestSeq int64) (paymentAuthorizeData, bool, error) {
	evs, err := in.store.LatestEvents(ctx, c.ID, PaymentAuthorizeType, paymentsSearched)
	if err != nil {
		return paymentAuthorizeData{}, false, fmt.Errorf("ingest: read payments: %w", err)
	}
	for _, e := range evs {
		if e.Seq < requestSeq {
			break // newest first: an answer comes after its request
		}
		var d paymentAuthorizeData
		if err := in.openInto(ctx, e, &d); err != nil {
			return paymentAuthorizeData{}, false, err
		}
		if d.RequestSeq == requestSeq {
			return d, true, nil
		}
	}
	return paymentAuthorizeData{}, false, nil
}

// paymentStatus finds the newest status the institution posted, after
// the request at requestSeq, for its payment.
func (in *Ingester) paymentStatus(ctx context.Context, c store.Conversation, requestSeq int64, paymentID string) (bankapi.PaymentStatus, bool, error) {
	evs, err := in.store.LatestEvents(ctx, c.ID, bankapi.TypePaymentStatus, paymentsSearched)
	if err != nil {
		return bankapi.PaymentStatus{}, false, fmt.Errorf("ingest: read payment statuses: %w", err)
	}
	for _, e := range evs {
		if e.Seq < requestSeq {
			break
		}
		var d bankapi.PaymentStatus
		if err := in.openInto(ctx, e, &d); err != nil {
			return bankapi.PaymentStatus{}, false, err
		}
		if d.PaymentID == paymentID {
			return d, true, nil
		}
	}
	return bankapi.PaymentStatus{}, false, nil
}

// paymentWords says a status in a sentence.
var paymentWords = map[string]string{
	bankapi.PaymentAccepted: "accepted",
	bankapi.PaymentRejected: "declined",
	bankapi.PaymentExpired:  "expired",
	bankapi.PaymentSettled:  "paid",
}

// PaymentAsk is what the customer fills in to ask someone to pay them.
type PaymentAsk struct {
	Amount    bankapi.Money
	Payer     string // an email address or mobile number their bank knows them by
	Reference string // what it is for
}

// Asked is what AskPayment did.
type Asked struct {
	Seq       int64
	PaymentID string
}

// paymentAskData is the payment.ask event as devices see it: the card the
// bank's payment.status events update.
type paymentAskData struct {
	PaymentID string        `json:"payment_id"`
	Amount    bankapi.Money `json:"amount"`
	Payer     string        `json:"payer"`
	Reference string        `json:"reference"`
	AskedAt   time.Time     `json:"asked_at"`
	AskedBy   string        `json:"asked_by"`
}

var (
	emailPattern = regexp.MustCompile(`^[^\s@]{1,64}@[^\s@]+\.[^\s@]+$`)
	phonePattern = regexp.MustCompile(`^\+?[0-9 ().\-]+$`)
)

// AskPayment asks, through the conversation's bank, someone else to pay
// the customer: the bank gets a payment.ask notice naming that person as
// the customer typed them, finds its customer (the platform does not, and
// cannot: a link names nobody), and posts them a payment.request on their
// own link. The customer's card shows how it goes as the bank posts
// payment.status events.
func (in *Ingester) AskPayment(ctx context.Context, customerID, conversationID string, a PaymentAsk) (Asked, error) {
	c, err := in.customerConversation(ctx, customerID, conversationID)
	if err != nil {
		return Asked{}, err
	}
	a.Payer, a.Reference = strings.TrimSpace(a.Payer), strings.TrimSpace(a.Reference)
	a.Amount.Amount, a.Amount.Currency = strings.TrimSpace(a.Amount.Amount), strings.ToUpper(strings.TrimSpace(a.Amount.Currency))
	for _, s := range []string{a.Payer, a.Reference, a.Amount.Amount} {
		if pan.Contains(s) {
			return Asked{}, httpx.Errorf(http.StatusBadRequest, "pan_detected",
				"This request wasn’t sent because it seems to contain a full card number. OpenTeller never passes card numbers on: name the person by their email address or mobile number.")
		}
	}
	if checkPositiveMoney("amount", a.Amount) != nil {
		return Asked{}, httpx.Errorf(http.StatusBadRequest, "invalid_amount", "Enter an amount of more than zero, such as 12.50.")
	}
	if !payerHandle(a.Payer) {
		return Asked{}, httpx.Errorf(http.StatusBadRequest, "invalid_payer", "Enter the email address or mobile number they use with %s.", c.InstitutionName)
	}
	if checkText("reference", a.Reference, 1, 140) != nil {
		return Asked{}, httpx.Errorf(http.StatusBadRequest, "invalid_reference", "Say what it’s for, in up to 140 characters.")
	}
	kinds, err := in.institutionKinds(ctx)
	if err != nil {
		return Asked{}, err
	}
	if kinds[c.InstitutionID] != store.InstitutionBank {
		return Asked{}, httpx.Errorf(http.StatusBadRequest, "not_a_bank", "%s can’t pass on a request for money: ask through your bank.", c.InstitutionName)
	}
	now := in.now().UTC()
	data := paymentAskData{PaymentID: NewID("pay_"), Amount: a.Amount, Payer: a.Payer, Reference: a.Reference, AskedAt: now, AskedBy: store.AuthorCustomer}
	e, err := in.customerEvent(ctx, c, PaymentAskType, bankapi.ScopePayments, data, now)
	if err != nil {
		return Asked{}, err
	}
	if err := in.attachNotice(ctx, &e, PaymentAskType, bankapi.PaymentAsk{LinkID: c.Link.ID, PaymentID: data.PaymentID, Amount: a.Amount,
		Payer: a.Payer, Reference: a.Reference, AskedAt: now, AskedBy: store.AuthorCustomer}); err != nil {
		return Asked{}, err
	}
	seq, _, err := in.appendCustomer(ctx, c, e)
	if err != nil {
		return Asked{}, err
	}
	return Asked{Seq: seq, PaymentID: data.PaymentID}, nil
}

// payerHandle reports whether s looks like an email address or a mobile
// number (7 to 15 digits, as E.164 allows).
func payerHandle(s string) bool {
	if len(s) > 254 || strings.ContainsFunc(s, unicode.IsControl) {
		return false
	}
	if emailPattern.MatchString(s) {
		return true
	}
	if !phonePattern.MatchString(s) {
		return false
	}
	n := 0
	for _, r := range s {
		if r >= '0' && r <= '9' {
			n++
		}
	}
	return n >= 7 && n <= 15
}

// appendPayment stores a payment's events (one, or a bundle of two),
// hands the bank its notice at once, and turns the store's refusals into
// words for the customer, naming the institution at fault.
func (in *Ingester) appendPayment(ctx context.Context, evs []store.NewEvent, convs []store.Conversation) ([]store.AppendResult, error) {
	res, err := in.store.AppendEvents(ctx, evs)
	if err != nil {
		return nil, fmt.Errorf("ingest: append payment: %w", err)
	}
	for i, r := range res {
		c := convs[i]
		switch {
		case errors.Is(r.Err, store.ErrIdempotencyConflict):
			return nil, httpx.Errorf(http.StatusConflict, "already_authorized", "You already chose how to pay this.")
		case errors.Is(r.Err, store.ErrConsentRevoked):
			return nil, httpx.Errorf(http.StatusConflict, "link_revoked", "%s is disconnected, so it can’t take part in this payment.", c.InstitutionName)
		case errors.Is(r.Err, store.ErrConsentExpired):
			return nil, httpx.Errorf(http.StatusConflict, "link_expired", "Your connection to %s has expired. Renew it to pay here.", c.InstitutionName)
		case errors.Is(r.Err, store.ErrConsentScope):
			return nil, httpx.Errorf(http.StatusForbidden, "scope_not_granted",
				"You haven't let %s handle payments here. You can change what you share in Privacy.", c.InstitutionName)
		case errors.Is(r.Err, store.ErrStaleKey):
			in.keyring.Forget(vault.ConversationKey(c.CustomerID, c.InstitutionID))
			return nil, httpx.Errorf(http.StatusServiceUnavailable, "try_again", "That didn’t go through. Please try again.")
		}
	}
	held := 0
	for _, r := range res {
		// ErrBundle answers the events held back by another's refusal,
		// which was answered above.
		if r.Err != nil && !errors.Is(r.Err, store.ErrBundle) {
			return nil, r.Err
		}
		if errors.Is(r.Err, store.ErrBundle) {
			held++
		}
	}
	if held > 0 {
		// Held back with no refusal of its own to say why: never a success.
		return nil, fmt.Errorf("ingest: append payment: %d events held back and none refused", held)
	}
	for _, r := range res {
		switch {
		case r.Leased != nil && in.send != nil:
			in.send(*r.Leased)
		case r.Err == nil && !r.Duplicate && in.queued != nil:
			in.queued()
		}
	}
	return res, nil
}
