package messenger

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/openteller/openteller/internal/handover"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/pkg/bankapi"
)

// The handover protocol, mapped onto the handover state machine. The bot
// (app id: the institution id) is the primary receiver; the bank's people
// are the Page Inbox. Metadata is not kept: the webhooks that follow carry
// the trigger as their metadata.
//
//	pass_thread_control to the Page Inbox  → bot_asks (to the queue)
//	take_thread_control                     → bot_takes
//	request_thread_control                  → bot_takes while the
//	                                          conversation only waits in the
//	                                          queue; refused while an agent
//	                                          has it (take it instead)
//	release_thread_control                  → bot_asks while the bot has it
//	thread_owner                            → the owner's app id

type threadRequest struct {
	Recipient struct {
		ID string `json:"id"`
	} `json:"recipient"`
	TargetAppID json.RawMessage `json:"target_app_id"` // a number or a string
	Metadata    string          `json:"metadata"`
}

// thread reads a handover request and finds its link, live and the
// institution's, and its conversation's state.
func (s *Service) thread(r *request, target bool) (threadRequest, store.Link, handover.State, error) {
	var tr threadRequest
	allowed := []string{"recipient", "metadata"}
	if target {
		allowed = append(allowed, "target_app_id")
	}
	if err := r.onlyFields(allowed...); err != nil {
		return tr, store.Link{}, handover.State{}, err
	}
	if ok, err := r.field("recipient", &tr.Recipient); err != nil || !ok || tr.Recipient.ID == "" {
		return tr, store.Link{}, handover.State{}, firstErr(err, invalidParam("Param recipient[id] must be non-empty."))
	}
	if _, err := r.field("metadata", &tr.Metadata); err != nil {
		return tr, store.Link{}, handover.State{}, err
	}
	tr.TargetAppID = r.fields["target_app_id"]
	l, err := s.recipientLink(r.Context(), r.institutionID, tr.Recipient.ID)
	if err != nil {
		return tr, l, handover.State{}, err
	}
	if err := s.liveLink(l); err != nil {
		return tr, l, handover.State{}, err
	}
	c, err := s.Store.Conversation(r.Context(), l.ConversationID)
	if err != nil {
		return tr, l, handover.State{}, fmt.Errorf("messenger: read conversation: %w", err)
	}
	st := handover.State{Owner: handover.Owner(c.Owner), AgentID: c.AgentID}
	if st.Owner == "" {
		st.Owner = handover.Bot
	}
	return tr, l, st, nil
}

// toPeople hands the conversation to the bank's people, which needs
// support_chat: without it they cannot see it.
func (s *Service) toPeople(w http.ResponseWriter, r *request, l store.Link) {
	if !l.HasScope(bankapi.ScopeSupportChat) {
		s.fail(w, &Error{Status: http.StatusBadRequest, Code: 10, Message: "The customer has not granted support_chat on this link, so the bank's people (the Page Inbox) cannot see the conversation."})
		return
	}
	s.apply(w, r, l, handover.Request{Trigger: handover.BotAsks})
}

func (s *Service) apply(w http.ResponseWriter, r *request, l store.Link, req handover.Request) {
	if _, _, err := s.Handover.Apply(r.Context(), l.ConversationID, req); err != nil {
		if errors.Is(err, handover.ErrRefused) {
			s.fail(w, &Error{Status: http.StatusBadRequest, Code: 10, Message: "The handover is not allowed now: " + err.Error()})
			return
		}
		s.fail(w, fmt.Errorf("messenger: handover: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"success": true})
}

func (s *Service) passThread(w http.ResponseWriter, r *request) {
	tr, l, st, err := s.thread(r, true)
	if err != nil {
		s.fail(w, err)
		return
	}
	target, err := payloadString(tr.TargetAppID)
	switch {
	case err != nil || target == "":
		s.fail(w, invalidParam("Param target_app_id must be non-empty: %s, the Page Inbox, is the bank's people.", PageInboxAppID))
		return
	case target == r.institutionID:
		if st.Owner != handover.Bot {
			// Passing to itself is taking it back.
			s.apply(w, r, l, handover.Request{Trigger: handover.BotTakes})
			return
		}
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
		return
	case target != PageInboxAppID:
		s.fail(w, invalidParam("Param target_app_id %s is not an app of this page: OpenTeller knows the bot (%s) and the bank's people, the Page Inbox (%s).", target, r.institutionID, PageInboxAppID))
		return
	}
	s.toPeople(w, r, l)
}

func (s *Service) takeThread(w http.ResponseWriter, r *request) {
	_, l, _, err := s.thread(r, false)
	if err != nil {
		s.fail(w, err)
		return
	}
	s.apply(w, r, l, handover.Request{Trigger: handover.BotTakes})
}

func (s *Service) requestThread(w http.ResponseWriter, r *request) {
	_, l, st, err := s.thread(r, false)
	if err != nil {
		s.fail(w, err)
		return
	}
	if st.Owner == handover.Agent {
		s.fail(w, &Error{Status: http.StatusBadRequest, Code: 10, Message: "One of the bank's people has this conversation, and OpenTeller does not pass requests to them: take it back with take_thread_control, or wait until they hand it back."})
		return
	}
	s.apply(w, r, l, handover.Request{Trigger: handover.BotTakes})
}

func (s *Service) releaseThread(w http.ResponseWriter, r *request) {
	_, l, st, err := s.thread(r, false)
	if err != nil {
		s.fail(w, err)
		return
	}
	if st.Owner != handover.Bot {
		writeJSON(w, http.StatusOK, map[string]bool{"success": true})
		return
	}
	s.toPeople(w, r, l)
}

// threadOwner serves GET /me/thread_owner?recipient=…
func (s *Service) threadOwner(w http.ResponseWriter, r *request) {
	id := r.query.Get("recipient")
	if id == "" {
		s.fail(w, invalidParam("Param recipient must be non-empty."))
		return
	}
	l, err := s.recipientLink(r.Context(), r.institutionID, id)
	if err != nil {
		s.fail(w, err)
		return
	}
	c, err := s.Store.Conversation(r.Context(), l.ConversationID)
	if err != nil {
		s.fail(w, fmt.Errorf("messenger: read conversation: %w", err))
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": []any{map[string]any{"thread_owner": map[string]string{"app_id": appID(c.InstitutionID, c.Owner)}}}})
}

// appID is the app id Messenger would give an owner: the bot's is the
// institution id, the people's the Page Inbox.
func appID(institutionID, owner string) string {
	if owner == "" || owner == string(handover.Bot) {
		return institutionID
	}
	return PageInboxAppID
}
