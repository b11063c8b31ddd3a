package delivery

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/openteller/openteller/internal/vault"
)

const exportPage = 1000

// ExportEvent is an event, opened, as the customer's export holds it.
type ExportEvent struct {
	Seq        int64           `json:"seq"`
	Type       string          `json:"type"`
	Author     string          `json:"author"`
	OccurredAt time.Time       `json:"occurred_at"`
	ReceivedAt time.Time       `json:"received_at"`
	Data       json.RawMessage `json:"data"`
}

// ExportConversation is a conversation with all its events, opened.
type ExportConversation struct {
	ID          string        `json:"id"`
	Institution string        `json:"institution"`
	Events      []ExportEvent `json:"events"`
}

// Export opens every event of every conversation of the customer, for
// the customer's own download (GET /app/api/export).
func (h *Hub) Export(ctx context.Context, customerID string) ([]ExportConversation, error) {
	convs, err := h.store.Conversations(ctx, customerID)
	if err != nil {
		return nil, err
	}
	out := []ExportConversation{}
	for _, c := range convs {
		ec := ExportConversation{ID: c.ID, Institution: c.InstitutionName, Events: []ExportEvent{}}
		for after := int64(0); ; {
			evs, err := h.store.EventsAfter(ctx, c.ID, after, exportPage)
			if err != nil {
				return nil, err
			}
			for _, e := range evs {
				data, err := h.keyring.Open(ctx, vault.ConversationKey(e.CustomerID, e.InstitutionID), e.ID, e.Sealed)
				if err != nil {
					return nil, fmt.Errorf("delivery: export: open event %d of %s: %w", e.Seq, c.ID, err)
				}
				ec.Events = append(ec.Events, ExportEvent{Seq: e.Seq, Type: e.Type, Author: e.Author, OccurredAt: e.OccurredAt, ReceivedAt: e.ReceivedAt, Data: data})
				after = e.Seq
			}
			if len(evs) < exportPage {
				break
			}
		}
		out = append(out, ec)
	}
	return out, nil
}
