package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/pan"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// Event types the customer's side writes into a conversation. Each goes
// to the bank as the webhook of the same name, sealed in the outbox.
const (
	CustomerMessageType = "customer.message"
	CustomerRequestType = "customer.request"
	FraudResponseType   = "fraud.response"
	// CardActionType is a tap on an action a card.status offered (unlock,
	// "it was me after all"); the bank hears it as card.action.
	CardActionType = bankapi.WebhookCardAction
)

// CustomerMessage is what the customer sends: text they wrote, or a tap on
// a quick reply or button of the bank's message at ReplyTo (then the text
// is that reply's label, and the bank gets its payload).
type CustomerMessage struct {
	Text    string
	ReplyTo int64  // seq of the bank's message
	Payload string // which of its quick replies or buttons
	// Menu: Payload is that of an item of the institution's menu, or of its
	// Get started (then the text is the item's title).
	Menu bool
}

// What the customer tapped to send a payload (bankapi.CustomerMessage.Tapped).
const (
	TappedQuickReply = "quick_reply"
	TappedButton     = "button"
	TappedMenu       = "menu"
	TappedGetStarted = "get_started"
)

// messageData is the customer.message event as devices see it.
type messageData struct {
	Text    string `json:"text"`
	ReplyTo int64  `json:"reply_to,omitempty"`
}

// PostCustomerMessage appends the customer's message to their conversation,
// queues it for the bank in the same transaction, and wakes their devices.
// The conversation's link must still be live.
func (in *Ingester) PostCustomerMessage(ctx context.Context, customerID, conversationID string, m CustomerMessage) (int64, error) {
	c, err := in.customerConversation(ctx, customerID, conversationID)
	if err != nil {
		return 0, err
	}
	var tapped string
	switch {
	case m.Menu && m.ReplyTo == 0:
		if m.Text, tapped, err = in.menuTitle(ctx, c, m.Payload); err != nil {
			return 0, err
		}
	case m.Menu:
		return 0, httpx.Errorf(http.StatusBadRequest, "invalid_message", "A menu item answers no message: leave out reply_to.")
	case m.ReplyTo != 0:
		if m.Text, tapped, err = in.replyLabel(ctx, c, m.ReplyTo, m.Payload, m.Text); err != nil {
			return 0, err
		}
	case m.Payload != "":
		return 0, httpx.Errorf(http.StatusBadRequest, "invalid_message", "A reply's payload needs the message it answers (reply_to).")
	}
	m.Text = strings.TrimSpace(m.Text)
	if err := checkText("text", m.Text, 1, 4000); err != nil {
		return 0, httpx.Errorf(http.StatusBadRequest, "invalid_message", "Write a message of 1 to 4,000 characters.")
	}
	if pan.Contains(m.Text) {
		return 0, httpx.Errorf(http.StatusBadRequest, "pan_detected",
			"This message wasn’t sent because it seems to contain a full card number. To keep your card safe, OpenTeller never passes card numbers on — if your bank needs to know which card, give the last four digits.")
	}
	now := in.now().UTC()
	e, err := in.customerEvent(ctx, c, CustomerMessageType, "", messageData{Text: m.Text, ReplyTo: m.ReplyTo}, now)
	if err != nil {
		return 0, err
	}
	if err := in.attachNotice(ctx, &e, store.NoticeCustomerMessage, bankapi.CustomerMessage{
		LinkID: c.Link.ID, MessageID: e.ID, Text: m.Text, Payload: m.Payload, Tapped: tapped, SentAt: now,
		// The bot stands by only while the bank's people can see the
		// conversation: with support_chat taken away, it is the bot's again.
		Standby: c.Owner != "" && c.Owner != "bot" && c.Link.HasScope(bankapi.ScopeSupportChat),
	}); err != nil {
		return 0, err
	}
	seq, _, err := in.appendCustomer(ctx, c, e)
	return seq, err
}

// replyLabel finds the quick reply or button the customer tapped on the
// bank's message at seq (by payload, or by label for a quick reply without
// one) and returns its label: the customer cannot send the bank a payload
// it did not offer.
func (in *Ingester) replyLabel(ctx context.Context, c store.Conversation, seq int64, payload, label string) (string, string, error) {
	var msg bankapi.Message
	if _, err := in.openEvent(ctx, c, seq, bankapi.TypeMessage, &msg); err != nil {
		return "", "", err
	}
	for _, q := range msg.QuickReplies {
		if q.Payload == payload && (payload != "" || q.Label == label) {
			return q.Label, TappedQuickReply, nil
		}
	}
	for _, b := range msg.Buttons {
		if b.Payload != "" && b.Payload == payload {
			return b.Label, TappedButton, nil
		}
	}
	return "", "", httpx.Errorf(http.StatusBadRequest, "invalid_reply", "That reply isn't one this message offers.")
}

// GetStartedTitle is what the customer's tap on Get started says.
const GetStartedTitle = "Get started"

// menuTitle finds the item of the institution's menu (or its Get started)
// that sends payload, and returns its title: the customer cannot send the
// bank a payload it did not offer.
func (in *Ingester) menuTitle(ctx context.Context, c store.Conversation, payload string) (string, string, error) {
	refused := httpx.Errorf(http.StatusBadRequest, "invalid_reply", "That isn't an item of this bank's menu.")
	m, err := in.store.Menu(ctx, c.InstitutionID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", "", refused
	case err != nil:
		return "", "", fmt.Errorf("ingest: read menu: %w", err)
	case payload == "":
		return "", "", refused
	case payload == m.GetStarted:
		return GetStartedTitle, TappedGetStarted, nil
	}
	for _, it := range m.Items {
		if it.Payload == payload {
			return it.Title, TappedMenu, nil
		}
	}
	return "", "", refused
}

// requestScopes is the scope each kind of customer.request needs: asking
// for balances only makes sense where balances are shared.
var requestScopes = map[string]string{
	bankapi.RequestBalance:            bankapi.ScopeBalances,
	bankapi.RequestRecentTransactions: bankapi.ScopeTransactions,
	bankapi.RequestHuman:              bankapi.ScopeSupportChat,
}

// Request is what Request did: the request's seq and, for a balance, the
// last known balances (newest per account), which the customer sees at
// once while the bank sends fresh ones.
type Request struct {
	Seq       int64
	LastKnown []Known
}

// Known is a stored event, opened for its own customer.
type Known struct {
	Seq        int64           `json:"seq"`
	Type       string          `json:"type"`
	Author     string          `json:"author"`
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

// Request asks the bank for something from the conversation's menu: a
// fresh balance, recent transactions, or a person.
func (in *Ingester) Request(ctx context.Context, customerID, conversationID, kind string) (Request, error) {
	scope, ok := requestScopes[kind]
	if !ok {
		return Request{}, httpx.Errorf(http.StatusBadRequest, "invalid_request", "Ask for balance, recent_transactions or human.")
	}
	c, err := in.customerConversation(ctx, customerID, conversationID)
	if err != nil {
		return Request{}, err
	}
	now := in.now().UTC()
	e, err := in.customerEvent(ctx, c, CustomerRequestType, scope, map[string]string{"kind": kind}, now)
	if err != nil {
		return Request{}, err
	}
	if err := in.attachNotice(ctx, &e, store.NoticeCustomerRequest, bankapi.CustomerRequest{
		LinkID: c.Link.ID, RequestID: e.ID, Kind: kind, RequestedAt: now,
	}); err != nil {
		return Request{}, err
	}
	seq, _, err := in.appendCustomer(ctx, c, e)
	if err != nil {
		return Request{}, err
	}
	r := Request{Seq: seq}
	if kind == bankapi.RequestBalance {
		if r.LastKnown, err = in.lastBalances(ctx, c.ID); err != nil {
			return Request{}, err
		}
	}
	return r, nil
}

// lastBalances returns the newest balance.updated of each account.
func (in *Ingester) lastBalances(ctx context.Context, conversationID string) ([]Known, error) {
	evs, err := in.store.LatestEvents(ctx, conversationID, bankapi.TypeBalanceUpdated, 50)
	if err != nil {
		return nil, fmt.Errorf("ingest: last balances: %w", err)
	}
	seen := map[string]bool{}
	out := []Known{}
	for _, e := range evs {
		plain, err := in.keyring.Open(ctx, vault.ConversationKey(e.CustomerID, e.InstitutionID), e.ID, e.Sealed)
		if err != nil {
			return nil, fmt.Errorf("ingest: open balance: %w", err)
		}
		var b bankapi.BalanceUpdated
		if json.Unmarshal(plain, &b) != nil || seen[b.AccountID] {
			continue
		}
		seen[b.AccountID] = true
		out = append(out, Known{Seq: e.Seq, Type: e.Type, Author: e.Author, OccurredAt: e.OccurredAt, Data: plain})
	}
	return out, nil
}

// fraudResponseData is the fraud.response event as devices see it: the
// alert card shows the answer, who gave it and when.
type fraudResponseData struct {
	AlertSeq   int64     `json:"alert_seq"`
	Action     string    `json:"action"`
	Label      string    `json:"label"`
	AnsweredAt time.Time `json:"answered_at"`
	AnsweredBy string    `json:"answered_by"`
}

// Answer is what AnswerFraudAlert did.
type Answer struct {
	Seq       int64
	Duplicate bool // the same answer was given before; Seq is the original
}

// AnswerFraudAlert records the customer's answer to the fraud alert at
// alertSeq and queues fraud.response for the bank, in one transaction. An
// alert is answered once: the same answer again changes nothing, another
// answer is refused, and so is any answer after the alert expired.
func (in *Ingester) AnswerFraudAlert(ctx context.Context, customerID, conversationID string, alertSeq int64, action string) (Answer, error) {
	var alert bankapi.FraudAlert
	c, stored, err := in.openTapped(ctx, customerID, conversationID, alertSeq, bankapi.TypeFraudAlert, &alert)
	if err != nil {
		return Answer{}, err
	}
	i := slices.IndexFunc(alert.Actions, func(a bankapi.AlertAction) bool { return a.ID == action })
	if i < 0 {
		return Answer{}, httpx.Errorf(http.StatusBadRequest, "invalid_action", "That answer isn't one this alert offers.")
	}
	now := in.now().UTC()
	if !now.Before(alert.ExpiresAt) {
		return Answer{}, httpx.Errorf(http.StatusConflict, "alert_expired",
			"This alert has expired, so it can't be answered here. If you don't recognise the payment, call the number on the back of your card.")
	}
	e, err := in.customerEvent(ctx, c, FraudResponseType, bankapi.ScopeFraudAlerts, fraudResponseData{
		AlertSeq: alertSeq, Action: action, Label: alert.Actions[i].Label, AnsweredAt: now, AnsweredBy: store.AuthorCustomer,
	}, now)
	if err != nil {
		return Answer{}, err
	}
	// One answer per alert: the store's idempotency key takes a name no
	// bank event id can have ('/' is not allowed in them), and the
	// fingerprint covers only the action, so the same tap twice is a
	// duplicate and a different one a conflict.
	e.BankEventID = "answer/" + stored.BankEventID
	if e.Fingerprint, err = in.keyring.Fingerprint(ctx, customerID, []byte(FraudResponseType+"\x00"+stored.BankEventID+"\x00"+action)); err != nil {
		return Answer{}, fmt.Errorf("ingest: fingerprint answer: %w", err)
	}
	if err := in.attachNotice(ctx, &e, store.NoticeFraudResponse, bankapi.FraudResponse{
		LinkID: c.Link.ID, AlertID: stored.BankEventID, Action: action, AnsweredAt: now, AnsweredBy: store.AuthorCustomer,
	}); err != nil {
		return Answer{}, err
	}
	seq, dup, err := in.appendCustomer(ctx, c, e)
	if errors.Is(err, store.ErrIdempotencyConflict) {
		return Answer{}, httpx.Errorf(http.StatusConflict, "already_answered", "This alert was already answered; the first answer stands.")
	}
	return Answer{Seq: seq, Duplicate: dup}, err
}

// cardActionData is the card.action event as devices see it: the card's
// status shows what was asked, by whom and when, until the bank answers
// with the card's new status.
type cardActionData struct {
	StatusSeq  int64     `json:"status_seq"`
	CardID     string    `json:"card_id"`
	Action     string    `json:"action"`
	Label      string    `json:"label"`
	AnsweredAt time.Time `json:"answered_at"`
	AnsweredBy string    `json:"answered_by"`
}

// cardAnswersSearched bounds how far back ActOnCard looks for an earlier
// action on the same status: statuses are answered within minutes, and a
// conversation holds few card.action events.
const cardAnswersSearched = 50

// ActOnCard records the customer's tap on one of the actions the
// card.status at statusSeq offers, and queues card.action for the bank, in
// one transaction, exactly as a fraud alert's answer. The platform changes
// no card: the bank acts, and posts the card's new status. One action per
// status: the same again changes nothing, another is refused, and so is
// any action on a status that a newer status of the same card replaced.
func (in *Ingester) ActOnCard(ctx context.Context, customerID, conversationID string, statusSeq int64, action string) (Answer, error) {
	var status bankapi.CardStatus
	c, stored, err := in.openTapped(ctx, customerID, conversationID, statusSeq, bankapi.TypeCardStatus, &status)
	if err != nil {
		return Answer{}, err
	}
	i := slices.IndexFunc(status.Actions, func(a bankapi.AlertAction) bool { return a.ID == action })
	if i < 0 {
		return Answer{}, httpx.Errorf(http.StatusBadRequest, "invalid_action", "That isn't something this card offers.")
	}
	// A retry of a tap that went through is answered as it was, even once
	// the bank has moved the card on.
	if prior, ok, err := in.cardAnswer(ctx, c, statusSeq); err != nil {
		return Answer{}, err
	} else if ok {
		if prior.Action != action {
			return Answer{}, httpx.Errorf(http.StatusConflict, "already_answered", "You already chose “%s” for this card; the bank is on it.", prior.Label)
		}
		return Answer{Seq: prior.seq, Duplicate: true}, nil
	}
	if newer, err := in.newerCardStatus(ctx, c, statusSeq, status.CardID); err != nil {
		return Answer{}, err
	} else if newer {
		return Answer{}, httpx.Errorf(http.StatusConflict, "card_changed", "This card has changed since; its latest status is shown.")
	}
	now := in.now().UTC()
	e, err := in.customerEvent(ctx, c, CardActionType, bankapi.ScopeFraudAlerts, cardActionData{
		StatusSeq: statusSeq, CardID: status.CardID, Action: action, Label: status.Actions[i].Label, AnsweredAt: now, AnsweredBy: store.AuthorCustomer,
	}, now)
	if err != nil {
		return Answer{}, err
	}
	// One action per status, kept by the store as for alerts: a key no
	// bank event id can have, and a fingerprint of the action alone.
	e.BankEventID = "card-action/" + stored.BankEventID
	if e.Fingerprint, err = in.keyring.Fingerprint(ctx, customerID, []byte(CardActionType+"\x00"+stored.BankEventID+"\x00"+action)); err != nil {
		return Answer{}, fmt.Errorf("ingest: fingerprint card action: %w", err)
	}
	if err := in.attachNotice(ctx, &e, bankapi.WebhookCardAction, bankapi.CardAction{
		LinkID: c.Link.ID, StatusID: stored.BankEventID, CardID: status.CardID, Action: action, AnsweredAt: now, AnsweredBy: store.AuthorCustomer,
	}); err != nil {
		return Answer{}, err
	}
	seq, dup, err := in.appendCustomer(ctx, c, e)
	if errors.Is(err, store.ErrIdempotencyConflict) {
		return Answer{}, httpx.Errorf(http.StatusConflict, "already_answered", "You already chose something else for this card; the bank is on it.")
	}
	return Answer{Seq: seq, Duplicate: dup}, err
}

// priorCardAction is an action already taken on a card status.
type priorCardAction struct {
	cardActionData
	seq int64
}

// cardAnswer finds the customer's action on the status at statusSeq, if
// there is one among the recent ones.
func (in *Ingester) cardAnswer(ctx context.Context, c store.Conversation, statusSeq int64) (priorCardAction, bool, error) {
	evs, err := in.store.LatestEvents(ctx, c.ID, CardActionType, cardAnswersSearched)
	if err != nil {
		return priorCardAction{}, false, fmt.Errorf("ingest: read card actions: %w", err)
	}
	for _, e := range evs {
		if e.Seq < statusSeq {
			break // newest first: an action comes after its status
		}
		var d cardActionData
		if err := in.openInto(ctx, e, &d); err != nil {
			return priorCardAction{}, false, err
		}
		if d.StatusSeq == statusSeq {
			return priorCardAction{d, e.Seq}, true, nil
		}
	}
	return priorCardAction{}, false, nil
}

// newerCardStatus reports whether the bank posted a status of the same
// card after the one at seq.
func (in *Ingester) newerCardStatus(ctx context.Context, c store.Conversation, seq int64, cardID string) (bool, error) {
	evs, err := in.store.LatestEvents(ctx, c.ID, bankapi.TypeCardStatus, cardAnswersSearched)
	if err != nil {
		return false, fmt.Errorf("ingest: read card statuses: %w", err)
	}
	for _, e := range evs {
		if e.Seq <= seq {
			break
		}
		var d bankapi.CardStatus
		if err := in.openInto(ctx, e, &d); err != nil {
			return false, err
		}
		if d.CardID == cardID {
			return true, nil
		}
	}
	return false, nil
}

// openInto opens a stored event of the customer's into v.
func (in *Ingester) openInto(ctx context.Context, e store.Event, v any) error {
	plain, err := in.keyring.Open(ctx, vault.ConversationKey(e.CustomerID, e.InstitutionID), e.ID, e.Sealed)
	if err != nil {
		return fmt.Errorf("ingest: open event: %w", err)
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return fmt.Errorf("ingest: decode event: %w", err)
	}
	return nil
}

// customerConversation returns the customer's own conversation; any other
// is not found, exactly like one that does not exist.
func (in *Ingester) customerConversation(ctx context.Context, customerID, conversationID string) (store.Conversation, error) {
	c, err := store.CustomerConversation(ctx, in.store, customerID, conversationID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Conversation{}, errNoConversation()
	}
	return c, err
}

// errNoConversation answers a request about a conversation that does not
// exist, or is another customer's.
func errNoConversation() error {
	return httpx.Errorf(http.StatusNotFound, "not_found", "That conversation does not exist.")
}

// errGone answers a tap on, or a reply to, an event the conversation no
// longer has (or never had).
func errGone() error {
	return httpx.Errorf(http.StatusNotFound, "not_found", "That message is no longer in this conversation.")
}

// openEvent opens the event at seq of the conversation into v, which must
// be of type typ.
func (in *Ingester) openEvent(ctx context.Context, c store.Conversation, seq int64, typ string, v any) (store.Event, error) {
	if seq < 1 {
		return store.Event{}, errGone()
	}
	evs, err := in.store.EventsAfter(ctx, c.ID, seq-1, 1)
	if err != nil {
		return store.Event{}, fmt.Errorf("ingest: read event: %w", err)
	}
	if len(evs) == 0 {
		return store.Event{}, errGone()
	}
	return in.openStored(ctx, evs[0], seq, typ, v)
}

// openTapped reads the customer's conversation and the event at seq that
// the customer tapped, in one round trip, and opens the event into v,
// which must be of type typ.
func (in *Ingester) openTapped(ctx context.Context, customerID, conversationID string, seq int64, typ string, v any) (store.Conversation, store.Event, error) {
	c, e, err := store.CustomerConversationEvent(ctx, in.store, customerID, conversationID, seq)
	if errors.Is(err, store.ErrNotFound) {
		return store.Conversation{}, store.Event{}, errNoConversation()
	}
	if err != nil {
		return store.Conversation{}, store.Event{}, fmt.Errorf("ingest: read conversation and event: %w", err)
	}
	e, err = in.openStored(ctx, e, seq, typ, v)
	return c, e, err
}

// openStored opens e, which must be the event at seq and of type typ,
// into v.
func (in *Ingester) openStored(ctx context.Context, e store.Event, seq int64, typ string, v any) (store.Event, error) {
	if seq < 1 || e.Seq != seq || e.Type != typ {
		return store.Event{}, errGone()
	}
	plain, err := in.keyring.Open(ctx, vault.ConversationKey(e.CustomerID, e.InstitutionID), e.ID, e.Sealed)
	if err != nil {
		return store.Event{}, fmt.Errorf("ingest: open event: %w", err)
	}
	if err := json.Unmarshal(plain, v); err != nil {
		return store.Event{}, fmt.Errorf("ingest: decode event: %w", err)
	}
	return e, nil
}

// customerEvent seals data as a new event of the customer in c.
func (in *Ingester) customerEvent(ctx context.Context, c store.Conversation, typ, scope string, data any, now time.Time) (store.NewEvent, error) {
	plain, err := json.Marshal(data)
	if err != nil {
		return store.NewEvent{}, fmt.Errorf("ingest: encode %s: %w", typ, err)
	}
	id := NewID("evt_")
	sealed, err := in.keyring.Seal(ctx, vault.ConversationKey(c.CustomerID, c.InstitutionID), id, plain)
	if err != nil {
		return store.NewEvent{}, fmt.Errorf("ingest: seal %s: %w", typ, err)
	}
	return store.NewEvent{Event: store.Event{
		ID: id, CustomerID: c.CustomerID, InstitutionID: c.InstitutionID, LinkID: c.Link.ID,
		Type: typ, Author: store.AuthorCustomer, OccurredAt: now, ReceivedAt: now, Sealed: sealed,
	}, Scope: scope}, nil
}

// attachNotice seals data as the notice that tells the bank about e.
func (in *Ingester) attachNotice(ctx context.Context, e *store.NewEvent, typ string, data any) error {
	plain, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("ingest: encode %s notice: %w", typ, err)
	}
	id := NewID("ntc_")
	sealed, err := in.keyring.Seal(ctx, vault.ConversationKey(e.CustomerID, e.InstitutionID), id, plain)
	if err != nil {
		return fmt.Errorf("ingest: seal %s notice: %w", typ, err)
	}
	e.Notice = &store.Notice{ID: id, Type: typ, CustomerID: e.CustomerID, Sealed: sealed, CreatedAt: e.ReceivedAt}
	if in.send != nil {
		// Ask for it to be this node's to send at once (appendCustomer).
		e.Notice.LeaseUntil = in.now().Add(in.lease).Truncate(time.Microsecond)
	}
	return nil
}

// appendCustomer stores e, wakes the deliverer, and turns the store's refusals into words for the customer.
func (in *Ingester) appendCustomer(ctx context.Context, c store.Conversation, e store.NewEvent) (int64, bool, error) {
	res, err := in.store.AppendEvents(ctx, []store.NewEvent{e})
	if err != nil {
		return 0, false, fmt.Errorf("ingest: append %s: %w", e.Type, err)
	}
	r := res[0]
	switch {
	case errors.Is(r.Err, store.ErrConsentRevoked):
		return 0, false, httpx.Errorf(http.StatusConflict, "link_revoked", "This bank is disconnected, so nothing can be sent here.")
	case errors.Is(r.Err, store.ErrConsentExpired):
		return 0, false, httpx.Errorf(http.StatusConflict, "link_expired", "Your connection to this bank has expired. Renew it to send messages.")
	case errors.Is(r.Err, store.ErrStaleKey):
		// The history was cleared a moment ago and this node still had the
		// old key. Drop it; the customer's next try seals under the new one.
		in.keyring.Forget(vault.ConversationKey(c.CustomerID, c.InstitutionID))
		return 0, false, httpx.Errorf(http.StatusServiceUnavailable, "try_again", "That didn’t go through. Please try again.")
	case errors.Is(r.Err, store.ErrConsentScope):
		return 0, false, httpx.Errorf(http.StatusForbidden, "scope_not_granted",
			"You haven't shared that with %s. You can change what you share in Privacy.", c.InstitutionName)
	case r.Err != nil:
		return 0, false, r.Err
	}
	// The store announced it to the customer's devices (Announcer). The
	// bank hears of it at once when the store leased its notice to this
	// node; otherwise it waits its turn in the outbox.
	switch {
	case r.Leased != nil && in.send != nil:
		in.send(*r.Leased)
	case !r.Duplicate && in.queued != nil:
		in.queued()
	}
	return r.Seq, r.Duplicate, nil
}

// agentMessageData is an agent's message as devices see it: the bank
// speaking, through a named person.
type agentMessageData struct {
	Text  string `json:"text"`
	Agent string `json:"agent"`
}

// PostAgentMessage appends a message from one of the bank's people to the
// conversation and wakes the customer's devices. Like the customer's, it
// may not carry a full card number.
func (in *Ingester) PostAgentMessage(ctx context.Context, c store.Conversation, agentID, agentName, text string) (int64, error) {
	text = strings.TrimSpace(text)
	if err := checkText("text", text, 1, 4000); err != nil {
		return 0, httpx.Errorf(http.StatusBadRequest, "invalid_message", "Write a message of 1 to 4,000 characters.")
	}
	if pan.Contains(text) {
		return 0, httpx.Errorf(http.StatusBadRequest, "pan_detected", "This reply seems to contain a full card number, so it was not sent. Refer to a card by its last four digits.")
	}
	now := in.now().UTC()
	e, err := in.customerEvent(ctx, c, bankapi.TypeMessage, "", agentMessageData{Text: text, Agent: agentName}, now)
	if err != nil {
		return 0, err
	}
	e.Author = store.AuthorAgent
	seq, _, err := in.appendCustomer(ctx, c, e)
	return seq, err
}

// Satisfaction: after an agent resolves a conversation the customer is asked
// for a score (1 to 5) and a comment.
const (
	RatingRequestType = "rating.request"
	RatingType        = "rating"
)

type ratingRequestData struct {
	Agent   string `json:"agent"`    // the agent's name, as the customer saw it
	AgentID string `json:"agent_id"` // the bank's own id of the agent, for its figures
}

// AskRating asks the customer how the agent did.
func (in *Ingester) AskRating(ctx context.Context, c store.Conversation, agentID, agentName string) (int64, error) {
	now := in.now().UTC()
	e, err := in.customerEvent(ctx, c, RatingRequestType, "", ratingRequestData{Agent: agentName, AgentID: agentID}, now)
	if err != nil {
		return 0, err
	}
	e.Author = store.AuthorPlatform
	seq, _, err := in.appendCustomer(ctx, c, e)
	return seq, err
}

// Rated is what Rate stored: the rating's seq, and whose work it rates.
type Rated struct {
	Seq       int64
	AgentID   string
	Duplicate bool
}

// Rate records the customer's answer to the rating request at requestSeq,
// once: the same answer again changes nothing, another is refused.
func (in *Ingester) Rate(ctx context.Context, customerID, conversationID string, requestSeq int64, score int, comment string) (Rated, error) {
	comment = strings.TrimSpace(comment)
	if score < 1 || score > 5 {
		return Rated{}, httpx.Errorf(http.StatusBadRequest, "invalid_score", "Choose from 1 to 5 stars.")
	}
	if err := checkText("comment", comment, 0, 1000); err != nil {
		return Rated{}, httpx.Errorf(http.StatusBadRequest, "invalid_comment", "Keep the comment under 1,000 characters.")
	}
	if pan.Contains(comment) {
		return Rated{}, httpx.Errorf(http.StatusBadRequest, "pan_detected", "This comment seems to contain a full card number, so it wasn’t sent. Please leave it out.")
	}
	var req ratingRequestData
	c, stored, err := in.openTapped(ctx, customerID, conversationID, requestSeq, RatingRequestType, &req)
	if err != nil {
		return Rated{}, err
	}
	now := in.now().UTC()
	e, err := in.customerEvent(ctx, c, RatingType, "", map[string]any{"request_seq": requestSeq, "score": score, "comment": comment, "agent": req.Agent}, now)
	if err != nil {
		return Rated{}, err
	}
	e.BankEventID = "rating/" + stored.ID
	if e.Fingerprint, err = in.keyring.Fingerprint(ctx, customerID, []byte(fmt.Sprintf("rating\x00%d\x00%d\x00%s", requestSeq, score, comment))); err != nil {
		return Rated{}, err
	}
	seq, dup, err := in.appendCustomer(ctx, c, e)
	if errors.Is(err, store.ErrIdempotencyConflict) {
		return Rated{}, httpx.Errorf(http.StatusConflict, "already_rated", "You already rated this conversation. Thank you!")
	}
	if err != nil {
		return Rated{}, err
	}
	// The score also goes to the supervisors' figures, on a retry too (the
	// same answer, the same score): a first attempt that stored the answer
	// but failed here would otherwise lose the score for good.
	err = in.store.AddRating(ctx, store.Rating{ConversationID: c.ID, RequestSeq: requestSeq, InstitutionID: c.InstitutionID,
		StaffID: req.AgentID, Score: score, CreatedAt: now})
	if errors.Is(err, store.ErrExists) {
		err = nil
	}
	return Rated{Seq: seq, AgentID: req.AgentID, Duplicate: dup}, err
}

// Who the customer is talking to: a notice in the conversation when one of
// the bank's people joins it or hands it back to the bank's assistant.
const (
	AgentJoinedType = "agent.joined"
	AgentLeftType   = "agent.left"
)

// PostAgentNotice tells the customer that agentName joined (or left) the
// conversation.
func (in *Ingester) PostAgentNotice(ctx context.Context, c store.Conversation, typ, agentName string) error {
	e, err := in.customerEvent(ctx, c, typ, "", map[string]string{"agent": agentName}, in.now().UTC())
	if err != nil {
		return err
	}
	e.Author = store.AuthorPlatform
	_, _, err = in.appendCustomer(ctx, c, e)
	return err
}
