package delivery

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
)

// Event is one event as a device sees it, opened; see docs/contracts.md
// for the frames that carry it.
type Event struct {
	Seq         int64           `json:"seq"`
	Type        string          `json:"type"`
	Author      string          `json:"author"`
	OccurredAt  time.Time       `json:"occurred_at"`
	ReceivedAt  time.Time       `json:"received_at"`
	Data        json.RawMessage `json:"data"`
	ReplacesSeq int64           `json:"replaces_seq,omitempty"`
}

type conversationFrame struct {
	Type         string           `json:"type"`
	Conversation ConversationView `json:"conversation"`
}

// ConversationView is a conversation as the messenger sees it.
type ConversationView struct {
	ID          string          `json:"id"`
	Institution InstitutionView `json:"institution"`
	LastSeq     int64           `json:"last_seq"`
	Link        LinkView        `json:"link"`
}

// InstitutionView names an institution.
type InstitutionView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// LinkView is a link's consent as the customer sees it.
type LinkView struct {
	ID        string    `json:"id"`
	Scopes    []string  `json:"scopes"`
	Status    string    `json:"status"` // active, expired or revoked
	ExpiresAt time.Time `json:"expires_at"`
}

// ViewOf renders a conversation for the messenger.
func ViewOf(c store.Conversation, now time.Time) ConversationView {
	status := c.Link.Status
	if status == store.LinkActive && !now.Before(c.Link.ExpiresAt) {
		status = "expired"
	}
	scopes := c.Link.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return ConversationView{
		ID:          c.ID,
		Institution: InstitutionView{ID: c.InstitutionID, Name: c.InstitutionName},
		LastSeq:     c.LastSeq,
		Link:        LinkView{ID: c.Link.ID, Scopes: scopes, Status: status, ExpiresAt: c.Link.ExpiresAt},
	}
}

// historyPage is how many events one request for history returns at most.
const historyPage = 100

// HistoryHandler serves GET /app/api/conversations/{id}/events?before=N:
// the customer's own devices scrolling back, a page at a time.
func (h *Hub) HistoryHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		customerID, _ := h.customerOf(r)
		c, err := store.CustomerConversation(r.Context(), h.store, customerID, r.PathValue("id"))
		if errors.Is(err, store.ErrNotFound) {
			httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "not_found", "That conversation does not exist."))
			return
		}
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
		page, err := h.Page(r.Context(), c.ID, before)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, page)
	})
}

// HistoryPage is up to a page of events before a seq, opened, oldest first.
type HistoryPage struct {
	Events []Event `json:"events"`
	More   bool    `json:"more"` // older ones may exist
}

// Page opens the newest page of the conversation's events before seq
// before (the newest of all when before < 1). Callers have checked who may
// see it: the customer themself, or an agent whose read is logged.
func (h *Hub) Page(ctx context.Context, conversationID string, before int64) (HistoryPage, error) {
	if before < 1 {
		c, err := h.store.Conversation(ctx, conversationID)
		if err != nil {
			return HistoryPage{}, err
		}
		before = c.LastSeq + 1
	}
	evs, err := h.store.EventsBefore(ctx, conversationID, before, historyPage)
	if err != nil {
		return HistoryPage{}, err
	}
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		out = append(out, h.wire(ctx, e))
	}
	return HistoryPage{Events: out, More: len(evs) == historyPage}, nil
}

// Since opens up to a page of the conversation's events after seq after
// and up to seq upTo, oldest first; More says that more of them may
// follow. Callers have checked who may see them, as for Page, as of upTo.
func (h *Hub) Since(ctx context.Context, conversationID string, after, upTo int64) (HistoryPage, error) {
	evs, err := h.store.EventsAfter(ctx, conversationID, after, historyPage)
	if err != nil {
		return HistoryPage{}, err
	}
	more := len(evs) == historyPage
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		if e.Seq > upTo {
			more = false
			break
		}
		out = append(out, h.wire(ctx, e))
	}
	return HistoryPage{Events: out, More: more && len(out) > 0}, nil
}
