// Package bankapi is the Go SDK a bank uses to talk to OpenTeller: the wire
// types of the Bank API and a client that posts events.
//
// Everything here is public contract. A field added is a promise to every
// bank that integrates; a field changed breaks them. The platform's own
// ingest decodes these same types, so the SDK and the server cannot drift.
package bankapi

import "time"

// Event types a bank may post. Each needs the scope named in ScopeFor.
const (
	TypeBalanceUpdated    = "balance.updated"
	TypeTransactionPosted = "transaction.posted"
	TypeMessage           = "message"
	TypeReceipt           = "receipt"
	TypeShipmentUpdated   = "shipment.updated"
	TypeFraudAlert        = "fraud.alert"
	TypeCardStatus        = "card.status"
	TypePaymentRequest    = "payment.request"
	TypePaymentStatus     = "payment.status"
)

// Scopes a customer may grant on a link.
const (
	ScopeBalances     = "balances"
	ScopeTransactions = "transactions"
	ScopeFraudAlerts  = "fraud_alerts"
	ScopeReceipts     = "receipts"
	ScopeShipments    = "shipments"
	ScopeSupportChat  = "support_chat"
	ScopePayments     = "payments"
)

// EventTypes lists every event type a bank may post.
var EventTypes = []string{TypeBalanceUpdated, TypeTransactionPosted, TypeMessage, TypeReceipt, TypeShipmentUpdated, TypeFraudAlert, TypeCardStatus,
	TypePaymentRequest, TypePaymentStatus}

// AllScopes lists every scope in the order they are shown to a customer.
var AllScopes = []string{ScopeBalances, ScopeTransactions, ScopeFraudAlerts, ScopeReceipts, ScopeShipments, ScopePayments, ScopeSupportChat}

// ScopeFor returns the scope an event type needs, and whether the type is
// known. A message needs no data scope: it is the bank speaking in the
// conversation that the link itself created, and carries no account data by
// contract. It still needs a live link.
//
// A card's status needs fraud_alerts, not transactions: it is what a fraud
// alert's answer leads to (a lock, a replacement), and its actions let the
// customer act on the card, which is what they agreed to when they let the
// bank ask them about suspicious payments. It carries no transactions.
//
// A payment request and its statuses need payments, a scope of their own:
// they ask the customer to move money, and the customer's tap hands the
// request to a bank (payment.authorize). Receipts show what was paid,
// transactions what moved; neither is a request to pay, and a customer
// who shares those has not agreed to be asked for money.
func ScopeFor(eventType string) (scope string, known bool) {
	switch eventType {
	case TypeBalanceUpdated:
		return ScopeBalances, true
	case TypeTransactionPosted:
		return ScopeTransactions, true
	case TypeMessage:
		return "", true
	case TypeReceipt:
		return ScopeReceipts, true
	case TypeShipmentUpdated:
		return ScopeShipments, true
	case TypeFraudAlert, TypeCardStatus:
		return ScopeFraudAlerts, true
	case TypePaymentRequest, TypePaymentStatus:
		return ScopePayments, true
	}
	return "", false
}

// MaxBatch is the most events one POST /v1/events may carry.
const MaxBatch = 500

// Event is one thing a bank tells a customer. ID is the bank's own unique id
// for it and doubles as the idempotency key: posting the same ID with the
// same body again returns the original result.
type Event struct {
	ID         string    `json:"id"`
	LinkID     string    `json:"link_id"`
	Type       string    `json:"type"`
	OccurredAt time.Time `json:"occurred_at"`
	// Data is the type's data (BalanceUpdated, TransactionPosted, Message,
	// Receipt, ShipmentUpdated, FraudAlert, CardStatus, PaymentRequest or
	// PaymentStatus), encoded as JSON.
	Data any `json:"data"`
}

// EventBatch is the body of POST /v1/events.
type EventBatch struct {
	Events []Event `json:"events"`
}

// Money is a decimal amount as a string ("1234.50") and an ISO 4217 code.
// Never a float.
type Money struct {
	Amount   string `json:"amount"`
	Currency string `json:"currency"`
}

// Account kinds.
const (
	AccountChecking   = "checking"
	AccountSavings    = "savings"
	AccountCreditCard = "credit_card"
)

// BalanceUpdated is the data of a balance.updated event.
type BalanceUpdated struct {
	AccountID   string `json:"account_id"`     // the bank's opaque account reference
	AccountName string `json:"account_name"`   // "Everyday Checking"
	AccountKind string `json:"account_kind"`   // checking, savings, credit_card
	Mask        string `json:"mask,omitempty"` // last four digits of the account, shown as ••1234
	Available   Money  `json:"available"`
	Current     Money  `json:"current"`
}

// Transaction statuses and directions.
const (
	StatusPending = "pending"
	StatusPosted  = "posted"
	Debit         = "debit"
	Credit        = "credit"
)

// TransactionPosted is the data of a transaction.posted event. A posted
// transaction whose ReferenceID matches an earlier pending one on the same
// link replaces it.
type TransactionPosted struct {
	AccountID     string    `json:"account_id"`
	TransactionID string    `json:"transaction_id"`
	ReferenceID   string    `json:"reference_id,omitempty"`
	Status        string    `json:"status"`    // pending or posted
	Direction     string    `json:"direction"` // debit or credit
	Amount        Money     `json:"amount"`    // positive; Direction says which way
	Description   string    `json:"description,omitempty"`
	Merchant      *Merchant `json:"merchant,omitempty"`
	CardLast4     string    `json:"card_last4,omitempty"`
}

// Merchant describes where a card was used.
type Merchant struct {
	Name     string `json:"name"`
	MCC      string `json:"mcc,omitempty"`      // ISO 18245, four digits, "5814"
	Category string `json:"category,omitempty"` // human words for the MCC
	City     string `json:"city,omitempty"`
	Country  string `json:"country,omitempty"` // ISO 3166-1 alpha-2
}

// Message is the data of a message event: text from the bank, optionally
// with quick replies (chips the customer taps to answer; the tapped one is
// sent back as a customer.message carrying its payload) and buttons (a link
// to open, or a payload to send back).
type Message struct {
	Text         string       `json:"text"`
	QuickReplies []QuickReply `json:"quick_replies,omitempty"` // at most 13
	Buttons      []Button     `json:"buttons,omitempty"`       // at most 3
}

// QuickReply is an answer the customer can send with one tap. Label is
// what the customer sees and sends as their message; Payload is for the
// bank's bot.
type QuickReply struct {
	Label   string `json:"label"`             // up to 40 characters
	Payload string `json:"payload,omitempty"` // up to 1000 characters
}

// Button is a call to action under a message: exactly one of URL (an https
// page to open) or Payload (sent back like a quick reply).
type Button struct {
	Label   string `json:"label"` // up to 40 characters
	URL     string `json:"url,omitempty"`
	Payload string `json:"payload,omitempty"`
}

// Actions a fraud alert usually offers. A bank may offer others; their ids
// are its own.
const (
	ActionConfirm = "confirm" // "It was me"
	ActionDeny    = "deny"    // "Not me — lock card"
)

// FraudAlert is the data of a fraud.alert event: a card transaction the
// bank wants the customer to confirm or deny, answered with one tap before
// ExpiresAt. The answer comes back as a fraud.response webhook naming the
// alert by its event id.
type FraudAlert struct {
	Transaction AlertTransaction `json:"transaction"`
	Reason      string           `json:"reason"`  // why it looks wrong, in the customer's words
	Actions     []AlertAction    `json:"actions"` // 1 to 4, in the order shown
	ExpiresAt   time.Time        `json:"expires_at"`
}

// AlertTransaction is the transaction a fraud alert asks about.
type AlertTransaction struct {
	Merchant  Merchant  `json:"merchant"`
	Amount    Money     `json:"amount"`
	At        time.Time `json:"at"`
	CardLast4 string    `json:"card_last4"`
	// AccountID is the account the card spends from, as its balances name
	// it (BalanceUpdated.AccountID), so that the alert names the card the
	// way the balances name the account. Optional.
	AccountID string `json:"account_id,omitempty"`
}

// AlertAction is one answer a fraud alert offers.
type AlertAction struct {
	ID    string `json:"id"`    // 1 to 32 of a-z 0-9 _ -
	Label string `json:"label"` // up to 40 characters
	// Style hints how it looks: "primary", or "danger" for the one that
	// locks a card.
	Style string `json:"style,omitempty"`
}

// Card statuses.
const (
	CardActive  = "active"  // can be used
	CardLocked  = "locked"  // stopped for now; the bank may offer to unlock it
	CardOrdered = "ordered" // a new card on its way, not usable yet
	CardClosed  = "closed"  // never usable again: replaced, or no longer needed
)

// Actions a locked card's status usually offers. A bank may offer others;
// their ids are its own.
const (
	ActionUnlock = "unlock" // "Unlock card"
	ActionWasMe  = "was_me" // "It was me after all": the payment that locked it was the customer's
)

// CardStatus is the data of a card.status event: where one of the
// customer's cards stands — locked after a fraud alert, a replacement on
// its way, ready to use, closed. Each status is the whole picture of the
// card: the customer sees one card per CardID, showing the newest.
//
// Actions, when offered, are answered with one tap per status, as a
// card.action webhook naming this event's id; a newer status of the same
// card takes its place, and its actions can no longer be taken. Offer
// actions only when the bank is waiting on the customer (a locked card):
// the messenger keeps such a status in view until it is answered.
type CardStatus struct {
	CardID      string `json:"card_id"` // the bank's opaque reference for the card
	CardLast4   string `json:"card_last4"`
	AccountName string `json:"account_name,omitempty"` // "Rewards Visa"
	Status      string `json:"status"`                 // active, locked, ordered or closed
	// ReplacesLast4 is, on a new card, the last four digits of the card it
	// replaces.
	ReplacesLast4 string `json:"replaces_last4,omitempty"`
	// ExpectedBy is, on an ordered card, the date it should arrive
	// (2026-03-04).
	ExpectedBy string        `json:"expected_by,omitempty"`
	Note       string        `json:"note,omitempty"`    // the bank's words, up to 300 characters
	Actions    []AlertAction `json:"actions,omitempty"` // 0 to 4, in the order shown
}

// PaymentRequest is the data of a payment.request event: the institution
// asks the customer to pay it (an invoice, a bill, an order: an order
// confirmation is a request with Order), or, for a bank, asks on behalf of
// one of its customers (Payee set: one customer asking another to pay).
// The customer answers with one tap, "Pay with <bank>", which hands the
// request to that bank as a payment.authorize webhook; the platform moves
// no money. The bank that pays says how it went with payment.status
// events naming PaymentID. The customer sees one card per PaymentID, at
// its newest status.
type PaymentRequest struct {
	PaymentID string `json:"payment_id"` // the institution's opaque reference for this request
	Amount    Money  `json:"amount"`     // more than zero
	// Reference is what the payment is for, as the payer's statement will
	// show it (ISO 20022 remittance information): "Order A-1042".
	Reference string `json:"reference"`
	// Payee is who is paid when it is not the institution itself: a bank
	// passing on one of its customers' requests names them as the payer
	// knows them. Absent, the institution is paid.
	Payee *Payee        `json:"payee,omitempty"`
	Note  string        `json:"note,omitempty"`  // the institution's words, up to 300 characters
	Order *PaymentOrder `json:"order,omitempty"` // what is bought, for an order confirmation
	// ExpiresAt is when the request lapses: it can be paid until then.
	ExpiresAt time.Time `json:"expires_at"`
}

// Payee names who a payment goes to, in words for the payer.
type Payee struct {
	Name string `json:"name"` // up to 100 characters
}

// PaymentOrder is what an order confirmation asks payment for.
type PaymentOrder struct {
	OrderNumber string        `json:"order_number"`
	Items       []ReceiptItem `json:"items"` // 1 to 200
}

// Payment statuses, modelled on the transaction statuses of ISO 20022
// payment status reports (pain.002, pain.014): accepted is ACCP (also
// ACTC, ACSP), settled ACSC, rejected RJCT; expired is RJCT because the
// request lapsed before it was paid. docs/contracts.md has the mapping.
const (
	PaymentAccepted = "accepted"
	PaymentRejected = "rejected"
	PaymentExpired  = "expired"
	PaymentSettled  = "settled"
)

// PaymentStatuses lists every payment status.
var PaymentStatuses = []string{PaymentAccepted, PaymentRejected, PaymentExpired, PaymentSettled}

// PaymentStatus is the data of a payment.status event: how a payment
// stands, posted by the bank that pays (or, to the payee's own card, the
// institution that asked). PaymentID names the payment as this link knows
// it: the payment.request's, or the one a payment.authorize or
// payment.ask webhook gave. The newest status is the whole picture.
type PaymentStatus struct {
	PaymentID string `json:"payment_id"`
	Status    string `json:"status"` // accepted, rejected, expired or settled
	// ReasonCode is, on a rejection, an ISO 20022 ExternalStatusReason1Code
	// such as AM04 (insufficient funds); four capital letters or digits.
	ReasonCode string `json:"reason_code,omitempty"`
	Note       string `json:"note,omitempty"` // the bank's words, up to 300 characters
}

// Receipt is the data of a receipt event: what was bought, for how much,
// paid how. Payment shows a card brand and last four digits, never more.
type Receipt struct {
	Merchant    Merchant      `json:"merchant"`
	OrderNumber string        `json:"order_number"`
	Items       []ReceiptItem `json:"items"`
	Subtotal    Money         `json:"subtotal"`
	Shipping    *Money        `json:"shipping,omitempty"`
	Tax         *Money        `json:"tax,omitempty"`
	Total       Money         `json:"total"`
	Payment     Payment       `json:"payment"`
	Address     string        `json:"address,omitempty"` // where it ships, one line
}

// ReceiptItem is one line of a receipt.
type ReceiptItem struct {
	Name      string `json:"name"`
	Quantity  int    `json:"quantity"`
	UnitPrice Money  `json:"unit_price"`
	Total     Money  `json:"total"`
}

// Payment says how something was paid.
type Payment struct {
	Brand string `json:"brand"` // Visa, Mastercard, …
	Last4 string `json:"last4"`
}

// Shipment statuses.
const (
	ShipmentLabelCreated   = "label_created"
	ShipmentInTransit      = "in_transit"
	ShipmentOutForDelivery = "out_for_delivery"
	ShipmentDelivered      = "delivered"
	ShipmentException      = "exception"
)

// ShipmentUpdated is the data of a shipment.updated event. Each update
// carries the whole timeline; the customer sees one card per ShipmentID
// that updates in place.
type ShipmentUpdated struct {
	ShipmentID        string          `json:"shipment_id"`
	OrderNumber       string          `json:"order_number,omitempty"`
	Carrier           string          `json:"carrier"`
	TrackingNumber    string          `json:"tracking_number"`
	Status            string          `json:"status"`
	EstimatedDelivery string          `json:"estimated_delivery,omitempty"` // a date, 2026-03-04
	Timeline          []ShipmentEvent `json:"timeline"`
}

// ShipmentEvent is one step of a shipment's journey.
type ShipmentEvent struct {
	At          time.Time `json:"at"`
	Status      string    `json:"status"`
	Description string    `json:"description"`
	Location    string    `json:"location,omitempty"`
}

// Result statuses.
const (
	ResultAccepted  = "accepted"
	ResultDuplicate = "duplicate"
	ResultRejected  = "rejected"
)

// EventResult is the platform's answer for one event of a batch, in the
// batch's order.
type EventResult struct {
	ID     string `json:"id"`
	Status string `json:"status"`
	Seq    int64  `json:"seq,omitempty"`
	Error  *Error `json:"error,omitempty"`
}

// EventResults is the body of a 200 response to POST /v1/events.
type EventResults struct {
	Results []EventResult `json:"results"`
}

// Error is the typed error every API response uses:
// {"error":{"code":"…","message":"…"}}.
type Error struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

// ErrorBody wraps Error as it appears on the wire.
type ErrorBody struct {
	Error *Error `json:"error"`
}
