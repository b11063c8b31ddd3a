package bankapi

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhooks from OpenTeller to a bank are signed per the Standard Webhooks
// specification (v1): headers webhook-id, webhook-timestamp (Unix seconds)
// and webhook-signature, a space-separated list of "v1,<base64 HMAC-SHA256>"
// over "<id>.<timestamp>.<body>", keyed with the endpoint's secret. During a
// secret rotation a delivery carries one signature per live secret.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// secretPrefix marks a webhook secret; the rest is base64.
const secretPrefix = "whsec_"

// DefaultWebhookTolerance is how far a delivery's timestamp may be from
// the receiver's clock before it is refused as a replay.
const DefaultWebhookTolerance = 5 * time.Minute

// Webhook verification errors.
var (
	ErrWebhookHeaders   = errors.New("bankapi: webhook headers missing or malformed")
	ErrWebhookStale     = errors.New("bankapi: webhook timestamp outside the tolerance")
	ErrWebhookSignature = errors.New("bankapi: no webhook signature matches")
)

// NewWebhookSecret returns a fresh secret: "whsec_" and 32 random bytes in
// base64.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("bankapi: webhook secret is not whsec_ followed by base64")
	}
	return key, nil
}

func mac(key []byte, id string, timestamp int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(WebhookSignedContent(id, time.Unix(timestamp, 0), body))
	return m.Sum(nil)
}

// WebhookSignedContent is what a delivery's signatures are HMAC-SHA256 of:
// "<id>.<unix timestamp>.<body>".
func WebhookSignedContent(id string, timestamp time.Time, body []byte) []byte {
	return append(fmt.Appendf(nil, "%s.%d.", id, timestamp.Unix()), body...)
}

// WebhookSignature is the webhook-signature value for MACs already made
// of WebhookSignedContent (the platform makes them inside its vault).
func WebhookSignature(macs ...[]byte) string {
	sigs := make([]string, len(macs))
	for i, m := range macs {
		sigs[i] = "v1," + base64.StdEncoding.EncodeToString(m)
	}
	return strings.Join(sigs, " ")
}

// SignWebhook returns the webhook-signature value for a delivery: one
// "v1,…" entry per secret, space-separated.
func SignWebhook(id string, timestamp time.Time, body []byte, secrets ...string) (string, error) {
	var sigs []string
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, WebhookSignature(mac(key, id, timestamp.Unix(), body)))
	}
	if len(sigs) == 0 {
		return "", errors.New("bankapi: no webhook secret to sign with")
	}
	return strings.Join(sigs, " "), nil
}

// WebhookVerifier checks deliveries against the endpoint's secrets (more
// than one while a rotation overlaps).
type WebhookVerifier struct {
	Secrets   []string
	Tolerance time.Duration    // zero: DefaultWebhookTolerance
	Now       func() time.Time // nil: time.Now
}

// Verify returns nil when the headers carry a fresh timestamp and a
// signature that one of the secrets made over exactly this body.
func (v *WebhookVerifier) Verify(h http.Header, body []byte) error {
	id, ts, sig := h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp), h.Get(HeaderWebhookSignature)
	if id == "" || ts == "" || sig == "" {
		return ErrWebhookHeaders
	}
	seconds, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrWebhookHeaders
	}
	now, tolerance := time.Now, v.Tolerance
	if v.Now != nil {
		now = v.Now
	}
	if tolerance == 0 {
		tolerance = DefaultWebhookTolerance
	}
	if d := now().Sub(time.Unix(seconds, 0)); d > tolerance || d < -tolerance {
		return ErrWebhookStale
	}
	for _, secret := range v.Secrets {
		key, err := secretKey(secret)
		if err != nil {
			return err
		}
		want := mac(key, id, seconds, body)
		for _, entry := range strings.Fields(sig) {
			version, b64, ok := strings.Cut(entry, ",")
			if !ok || version != "v1" {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(b64)
			if err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return ErrWebhookSignature
}

// Webhook is a notice from OpenTeller, as delivered.
type Webhook struct {
	ID        string          `json:"id"`
	Type      string          `json:"type"` // link.created, link.revoked, link.expired, …
	CreatedAt time.Time       `json:"created_at"`
	Data      json.RawMessage `json:"data"`
}

// Webhook types.
const (
	WebhookLinkCreated     = "link.created"
	WebhookLinkRevoked     = "link.revoked"
	WebhookLinkExpired     = "link.expired"
	WebhookCustomerMessage = "customer.message"
	WebhookCustomerRequest = "customer.request"
	WebhookFraudResponse   = "fraud.response"
	WebhookHandover        = "conversation.handover"
	WebhookCardAction      = "card.action"
	// The customer's payments: a tap on "Pay with <bank>", and a request
	// for money from someone else, which their bank passes on.
	WebhookPaymentAuthorize = "payment.authorize"
	WebhookPaymentAsk       = "payment.ask"
)

// WebhookTypes lists every webhook type OpenTeller sends.
var WebhookTypes = []string{WebhookLinkCreated, WebhookLinkRevoked, WebhookLinkExpired, WebhookCustomerMessage, WebhookCustomerRequest, WebhookFraudResponse, WebhookHandover, WebhookCardAction,
	WebhookPaymentAuthorize, WebhookPaymentAsk}

// CustomerMessage is the data of a customer.message webhook: text the
// customer wrote, or the quick reply or button they tapped (then Payload is
// the one the bank gave it).
type CustomerMessage struct {
	LinkID    string `json:"link_id"`
	MessageID string `json:"message_id"`
	Text      string `json:"text"`
	Payload   string `json:"payload,omitempty"`
	// Tapped says what the customer tapped to send Payload: "quick_reply",
	// "button", "menu" (an item of the menu the bank set) or "get_started";
	// absent for words they wrote.
	Tapped string    `json:"tapped,omitempty"`
	SentAt time.Time `json:"sent_at"`
	// Standby is true while the bank's people, not its bot, have the
	// conversation: the bot hears the message but must not answer it.
	Standby bool `json:"standby,omitempty"`
}

// Handover is the data of a conversation.handover webhook: who answers the
// customer changed. Owners are "bot" (the bank's bot, this webhook),
// "queue" (waiting for a person) and "agent" (a person has it).
type Handover struct {
	LinkID  string    `json:"link_id"`
	From    string    `json:"from"`
	To      string    `json:"to"`
	Trigger string    `json:"trigger"` // customer_asks, bot_asks, agent_takes, agent_returns, bot_takes, assigned
	AgentID string    `json:"agent_id,omitempty"`
	At      time.Time `json:"at"`
}

// Kinds of customer.request.
const (
	RequestBalance            = "balance"
	RequestRecentTransactions = "recent_transactions"
	RequestHuman              = "human" // talk to a person
)

// CustomerRequest is the data of a customer.request webhook: the customer
// tapped a menu item and wants fresh data (post it as events) or a person.
type CustomerRequest struct {
	LinkID      string    `json:"link_id"`
	RequestID   string    `json:"request_id"`
	Kind        string    `json:"kind"`
	RequestedAt time.Time `json:"requested_at"`
}

// FraudResponse is the data of a fraud.response webhook: the customer's
// answer to a fraud alert, named by the alert's event id. There is at most
// one answer per alert.
type FraudResponse struct {
	LinkID     string    `json:"link_id"`
	AlertID    string    `json:"alert_id"`
	Action     string    `json:"action"` // one of the alert's action ids
	AnsweredAt time.Time `json:"answered_at"`
	AnsweredBy string    `json:"answered_by"` // "customer": the account holder, on a signed-in device
}

// CardAction is the data of a card.action webhook: the customer tapped one
// of the actions a card.status event offered, named by that event's id.
// There is at most one per status. The platform changes no card itself: the
// bank acts, and posts the card's new status.
type CardAction struct {
	LinkID     string    `json:"link_id"`
	StatusID   string    `json:"status_id"` // the card.status event's id
	CardID     string    `json:"card_id"`   // as that status named it
	Action     string    `json:"action"`    // one of the status's action ids
	AnsweredAt time.Time `json:"answered_at"`
	AnsweredBy string    `json:"answered_by"` // "customer"
}

// PaymentAuthorize is the data of a payment.authorize webhook: the
// customer tapped "Pay with <this bank>" on a payment request, and hands
// it to the bank by reference. Nothing here moves money, or could: the
// bank checks it against its own records (for its own requests, the
// request's id) and pays by its own means, asking the customer whatever
// its rules require; then it posts payment.status events naming
// PaymentID. At most one per payment request.
type PaymentAuthorize struct {
	LinkID string `json:"link_id"` // the payer's link with this bank
	// PaymentID names the payment in payment.status events: the request's
	// own payment_id when this bank asked, else one the platform minted
	// (pay_…) for a request another institution (a merchant) made.
	PaymentID string `json:"payment_id"`
	// RequestID is the payment.request event's id when this bank posted
	// it; absent for another institution's request.
	RequestID string `json:"request_id,omitempty"`
	Amount    Money  `json:"amount"`
	// Payee is who is paid: the requesting institution (its id and name),
	// or, on a bank's request on behalf of one of its customers, the name
	// it gave.
	Payee        PaymentPayee `json:"payee"`
	Reference    string       `json:"reference"`
	ExpiresAt    time.Time    `json:"expires_at"`
	AuthorizedAt time.Time    `json:"authorized_at"`
	AuthorizedBy string       `json:"authorized_by"` // "customer": the account holder, on a signed-in device
}

// PaymentPayee is who a payment.authorize pays.
type PaymentPayee struct {
	Name          string `json:"name"`
	InstitutionID string `json:"institution_id"` // the institution that asked for the payment
}

// PaymentAsk is the data of a payment.ask webhook: the customer asks
// someone else to pay them (to split a bill), naming that person as their
// bank knows them (an email address or a mobile number, as typed). The
// platform matches it against nothing and passes it on: the bank finds its
// customer and posts them a payment.request, with Payee set, on their own
// link, and tells this customer how it went with payment.status events
// naming PaymentID.
type PaymentAsk struct {
	LinkID    string    `json:"link_id"`    // the payee's link
	PaymentID string    `json:"payment_id"` // minted by the platform (pay_…)
	Amount    Money     `json:"amount"`
	Payer     string    `json:"payer"` // an email address or mobile number, as the customer typed it
	Reference string    `json:"reference"`
	AskedAt   time.Time `json:"asked_at"`
	AskedBy   string    `json:"asked_by"` // "customer"
}

// LinkNotice is the data of the link.* webhooks.
type LinkNotice struct {
	LinkID    string    `json:"link_id"`
	Scopes    []string  `json:"scopes,omitempty"`     // link.created
	ExpiresAt time.Time `json:"expires_at,omitempty"` // link.created
	EndedAt   time.Time `json:"ended_at,omitempty"`   // link.revoked, link.expired
	EndedBy   string    `json:"ended_by,omitempty"`   // customer or expiry
}

// WebhookHandler verifies each delivery and passes it to fn: 204 when fn
// returns nil (OpenTeller stops retrying), 401 for a delivery that does not
// verify, 400 for one that is not a webhook, and 500 when fn fails, so it
// is delivered again. Deliveries are at least once: fn must tolerate seeing
// one twice (the id is the same).
func WebhookHandler(v *WebhookVerifier, fn func(ctx context.Context, w Webhook) error) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err != nil {
			http.Error(rw, "unreadable body", http.StatusBadRequest)
			return
		}
		if err := v.Verify(r.Header, body); err != nil {
			http.Error(rw, "signature does not verify", http.StatusUnauthorized)
			return
		}
		var w Webhook
		if err := json.Unmarshal(body, &w); err != nil || w.ID == "" || w.Type == "" {
			http.Error(rw, "not a webhook", http.StatusBadRequest)
			return
		}
		if err := fn(r.Context(), w); err != nil {
			http.Error(rw, "not handled", http.StatusInternalServerError)
			return
		}
		rw.WriteHeader(http.StatusNoContent)
	})
}

// RegisterWebhookEndpoint sets the institution's webhook endpoint to url
// and returns its signing secret, shown only this once.
func (c *Client) RegisterWebhookEndpoint(ctx context.Context, url string) (string, error) {
	body, _ := json.Marshal(map[string]string{"url": url})
	endpoint := strings.TrimSuffix(c.eventsURL, "/events") + "/webhook-endpoints"
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+c.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.httpClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		return "", decodeError(resp)
	}
	var out struct {
		Secret string `json:"secret"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxErrorBody)).Decode(&out); err != nil || out.Secret == "" {
		return "", fmt.Errorf("bankapi: register webhook endpoint: unreadable answer")
	}
	return out.Secret, nil
}
