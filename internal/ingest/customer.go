package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
)

// CustomerMessageType is the event type of text the customer writes.
const CustomerMessageType = "customer.message"

// PostCustomerMessage appends text from the customer to their conversation
// and wakes their devices. The conversation's link must still be live.
func (in *Ingester) PostCustomerMessage(ctx context.Context, customerID, conversationID, text string) (int64, error) {
	text = strings.TrimSpace(text)
	if err := checkText("text", text, 1, 4000); err != nil {
		return 0, httpx.Errorf(http.StatusBadRequest, "invalid_message", "Write a message of 1 to 4,000 characters.")
	}
	c, err := in.store.Conversation(ctx, conversationID)
	if errors.Is(err, store.ErrNotFound) || (err == nil && c.CustomerID != customerID) {
		return 0, httpx.Errorf(http.StatusNotFound, "not_found", "That conversation does not exist.")
	}
	if err != nil {
		return 0, err
	}
	data, _ := json.Marshal(struct {
		Text string `json:"text"`
	}{text})
	recordID := NewID("evt_")
	sealed, err := in.keyring.Seal(ctx, customerID, recordID, data)
	if err != nil {
		return 0, fmt.Errorf("ingest: seal message: %w", err)
	}
	now := in.now().UTC()
	res, err := in.store.AppendEvents(ctx, []store.NewEvent{{Event: store.Event{
		ID: recordID, CustomerID: customerID, InstitutionID: c.InstitutionID, LinkID: c.Link.ID,
		Type: CustomerMessageType, Author: store.AuthorCustomer, OccurredAt: now, ReceivedAt: now, Sealed: sealed,
	}}})
	if err != nil {
		return 0, fmt.Errorf("ingest: append message: %w", err)
	}
	if err := res[0].Err; err != nil {
		switch {
		case errors.Is(err, store.ErrConsentRevoked):
			return 0, httpx.Errorf(http.StatusConflict, "link_revoked", "This bank is disconnected, so messages can't be sent here.")
		case errors.Is(err, store.ErrConsentExpired):
			return 0, httpx.Errorf(http.StatusConflict, "link_expired", "Your connection to this bank has expired. Renew it to send messages.")
		}
		return 0, fmt.Errorf("ingest: append message: %w", err)
	}
	if err := in.bus.WakeCustomer(customerID, bus.Wake{ConversationID: conversationID, Seq: res[0].Seq}); err != nil {
		in.log.Warn("ingest: wake failed", "conversation", conversationID, "err", err)
	}
	return res[0].Seq, nil
}
