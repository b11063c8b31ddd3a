package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// ClearedNotice is the data of a history.cleared marker: when, and whether
// the customer cleared everything or this bank alone.
type ClearedNotice struct {
	ClearedAt  string `json:"cleared_at"`
	Everything bool   `json:"everything"`
}

// ClearHistory clears the customer's history with one institution, or with
// every institution when institutionID is empty: the events and the notices
// about them are deleted and the data key that sealed them is destroyed
// (replaced by a new one), irreversibly; each conversation keeps a marker
// of when. Consent receipts stay. Clearing everything also destroys the
// customer's own key, so the access log's pseudonym no longer leads to them.
func (s *Service) ClearHistory(ctx context.Context, customerID, institutionID string) ([]store.Cleared, error) {
	convs, err := s.store.Conversations(ctx, customerID)
	if err != nil {
		return nil, err
	}
	var targets []store.Conversation
	for _, c := range convs {
		if institutionID == "" || c.InstitutionID == institutionID {
			targets = append(targets, c)
		}
	}
	if len(targets) == 0 {
		return nil, httpx.Errorf(http.StatusNotFound, "not_found", "There is no history with that bank to clear.")
	}
	everything := institutionID == ""
	now := s.now().UTC()
	data, _ := json.Marshal(ClearedNotice{ClearedAt: now.Format(time.RFC3339), Everything: everything})
	var out []store.Cleared
	for i, c := range targets {
		owner := vault.ConversationKey(customerID, c.InstitutionID)
		var done store.Cleared
		for attempt := 1; ; attempt++ {
			rep, err := s.keyring.Replace(ctx, owner)
			if err != nil {
				return out, fmt.Errorf("consent: new key: %w", err)
			}
			recordID := ingest.NewID("evt_")
			done, err = s.store.ClearHistory(ctx, store.Clearing{
				CustomerID: customerID, InstitutionID: c.InstitutionID, At: now,
				OldKeyVersion: rep.Key.Version - 1, NewKey: rep.Key,
				Marker: store.NewEvent{Event: store.Event{ID: recordID, Type: store.TypeHistoryCleared, Author: store.AuthorPlatform,
					OccurredAt: now, ReceivedAt: now, Sealed: rep.Seal(recordID, data)}},
				DropCustomerKey: everything && i == len(targets)-1,
			})
			if errors.Is(err, store.ErrKeyChanged) && attempt < 3 {
				continue // an event's first key was made meanwhile: prepare again
			}
			if err != nil {
				return out, fmt.Errorf("consent: clear history with %s: %w", c.InstitutionID, err)
			}
			break
		}
		s.forget(owner)
		out = append(out, done)
		s.log.Info("history cleared", "conversation", done.ConversationID, "deleted_events", done.Deleted, "everything", everything)
		if err := s.bus.WakeCustomer(customerID, bus.Wake{ConversationID: done.ConversationID, Seq: done.Seq}); err != nil {
			s.log.Warn("consent: wake failed", "conversation", done.ConversationID, "err", err)
		}
	}
	if everything {
		s.forget(customerID)
	}
	return out, nil
}

// forget drops a destroyed key from this node's memory and tells the
// other nodes to drop theirs (server.Open subscribes each node).
func (s *Service) forget(owner string) {
	s.keyring.Forget(owner)
	if err := s.bus.KeyDestroyed(owner); err != nil {
		s.log.Error("consent: could not tell other nodes a key was destroyed; they drop it when it is evicted or they restart", "err", err)
	}
}

// clearHandler serves POST /app/api/history/clear {"institution_id"} or
// {"everything": true}.
func (s *Service) clearHandler(w http.ResponseWriter, r *http.Request, customerID string) {
	var req struct {
		InstitutionID string `json:"institution_id"`
		Everything    bool   `json:"everything"`
	}
	if err := httpx.DecodeJSON(w, r, 1<<10, &req); err != nil {
		httpx.WriteError(w, err)
		return
	}
	if (req.InstitutionID == "") != req.Everything {
		httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "invalid_request", "Say which bank's history to clear, or everything."))
		return
	}
	cleared, err := s.ClearHistory(r.Context(), customerID, req.InstitutionID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	type one struct {
		ConversationID string `json:"conversation_id"`
		Seq            int64  `json:"seq"`
		Deleted        int64  `json:"deleted"`
	}
	out := []one{}
	for _, c := range cleared {
		out = append(out, one{c.ConversationID, c.Seq, c.Deleted})
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"cleared": out})
}
