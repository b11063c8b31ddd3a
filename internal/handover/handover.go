// Package handover decides who answers a customer in a bank's conversation:
// the bank's bot (its webhook) or its people (agents in the console). It is
// a small state machine, modelled on Messenger's handover protocol: the bot
// is the primary receiver; a person takes the conversation when the
// customer asks for one, the bot asks for one, or an agent takes it; the
// person hands it back, or the bot takes it back. While people own a
// conversation the bot still hears the customer, as standby.
//
// What must stay true: every change of owner is one of the transitions in
// Next, and each is told to the bank (a conversation.handover notice) by
// the code that applies it; anything else is refused and changes nothing.
package handover

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/pkg/bankapi"
)

// Owner is who answers the customer.
type Owner string

const (
	Bot   Owner = "bot"   // the bank's bot, through its webhook
	Queue Owner = "queue" // waiting for a person
	Agent Owner = "agent" // a person has it
)

// Owners lists every owner.
var Owners = []Owner{Bot, Queue, Agent}

// Trigger is what asks for a change.
type Trigger string

const (
	CustomerAsks Trigger = "customer_asks" // "Talk to a person" from the menu
	BotAsks      Trigger = "bot_asks"      // the bank's bot requests a person (Bank API)
	AgentTakes   Trigger = "agent_takes"   // an agent takes it from the queue or the bot
	AgentReturns Trigger = "agent_returns" // the agent hands it back to the bot
	BotTakes     Trigger = "bot_takes"     // the bot takes it back (Bank API)
	Assigned     Trigger = "assigned"      // the platform gives a waiting conversation to an agent (round robin)
)

// Triggers lists every trigger.
var Triggers = []Trigger{CustomerAsks, BotAsks, AgentTakes, AgentReturns, BotTakes, Assigned}

// State is a conversation's owner and, when a person has it, which one.
type State struct {
	Owner   Owner
	AgentID string
}

// Request is a trigger and who pulled it. AgentID is the agent for
// AgentTakes and AgentReturns; Supervisor lets an agent take a conversation
// from another agent or hand back one that is not theirs.
type Request struct {
	Trigger    Trigger
	AgentID    string
	Supervisor bool
}

// ErrRefused is returned for a request the state does not allow.
var ErrRefused = errors.New("handover: not allowed now")

// Next returns the state after r, and whether the owner changed (a
// request that changes nothing, such as asking twice, is not an error).
func Next(s State, r Request) (State, bool, error) {
	refuse := func(why string) (State, bool, error) {
		return s, false, fmt.Errorf("%w: %s", ErrRefused, why)
	}
	switch r.Trigger {
	case CustomerAsks, BotAsks:
		if s.Owner == Bot {
			return State{Owner: Queue}, true, nil
		}
		return s, false, nil // already waiting for, or with, a person
	case AgentTakes:
		if r.AgentID == "" {
			return refuse("an agent takes a conversation")
		}
		switch {
		case s.Owner == Agent && s.AgentID == r.AgentID:
			return s, false, nil
		case s.Owner == Agent && !r.Supervisor:
			return refuse("another agent has this conversation; a supervisor can reassign it")
		}
		return State{Owner: Agent, AgentID: r.AgentID}, true, nil
	case AgentReturns:
		switch {
		case s.Owner != Agent:
			return refuse("no person has this conversation")
		case s.AgentID != r.AgentID && !r.Supervisor:
			return refuse("only the agent who has it, or a supervisor, hands it back")
		}
		return State{Owner: Bot}, true, nil
	case BotTakes:
		if s.Owner == Bot {
			return s, false, nil
		}
		return State{Owner: Bot}, true, nil
	case Assigned:
		// Only a conversation still waiting: one the bot took back, or a
		// person took, meanwhile is left as it is.
		if r.AgentID == "" {
			return refuse("an assignment names the agent")
		}
		if s.Owner != Queue {
			return s, false, nil
		}
		return State{Owner: Agent, AgentID: r.AgentID}, true, nil
	}
	return refuse(fmt.Sprintf("unknown trigger %q", r.Trigger))
}

// Service applies requests to stored conversations and tells the bank.
type Service struct {
	Store interface {
		store.Conversations
		store.Links
	}
	Now func() time.Time
	// Queued, if set, is called after a notice was stored (the deliverer's
	// Kick), so the bank hears at once.
	Queued func()
	// Assign, if set, is called when a conversation has just entered the
	// queue, to give it to an agent (console.AutoAssign, round robin).
	Assign func(ctx context.Context, conversationID string)
}

// Notice is the data of a conversation.handover webhook.
type Notice struct {
	LinkID  string    `json:"link_id"`
	From    Owner     `json:"from"`
	To      Owner     `json:"to"`
	Trigger Trigger   `json:"trigger"`
	AgentID string    `json:"agent_id,omitempty"` // the bank's own agent, when one has it
	At      time.Time `json:"at"`
}

// Apply moves the conversation as r asks, and queues the notice that tells
// the bank, in one transaction. A conversation whose owner changes under it
// is read again, a few times.
func (s *Service) Apply(ctx context.Context, conversationID string, r Request) (State, bool, error) {
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	for attempt := 1; ; attempt++ {
		c, err := s.Store.Conversation(ctx, conversationID)
		if err != nil {
			return State{}, false, err
		}
		from := State{Owner: Owner(c.Owner), AgentID: c.AgentID}
		if from.Owner == "" {
			from.Owner = Bot
		}
		to, changed, err := Next(from, r)
		if err != nil || !changed {
			return to, false, err
		}
		at := now().UTC()
		payload, _ := json.Marshal(Notice{LinkID: c.Link.ID, From: from.Owner, To: to.Owner, Trigger: r.Trigger, AgentID: to.AgentID, At: at})
		id := make([]byte, 12)
		rand.Read(id)
		n := store.Notice{ID: "ntc_" + hex.EncodeToString(id), InstitutionID: c.InstitutionID, LinkID: c.Link.ID, Type: store.NoticeHandover, Payload: payload, CreatedAt: at}
		err = s.Store.SetOwner(ctx, c.ID, string(from.Owner), from.AgentID, string(to.Owner), to.AgentID, n)
		if errors.Is(err, store.ErrOwnerChanged) && attempt < 3 {
			continue
		}
		if err != nil {
			return from, false, err
		}
		if s.Queued != nil {
			s.Queued()
		}
		if to.Owner == Queue && s.Assign != nil {
			s.Assign(ctx, c.ID)
		}
		return to, true, nil
	}
}

// BankHandler serves POST /v1/links/{id}/handover {"to": "people"|"bot"}:
// the bank's bot asks for a person, or takes the conversation back.
// authenticate names the institution whose key the request carries.
func (s *Service) BankHandler(authenticate func(*http.Request) (string, error)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		institutionID, err := authenticate(r)
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="openteller"`)
			httpx.WriteError(w, err)
			return
		}
		var req struct {
			To string `json:"to"`
		}
		if err := httpx.DecodeJSON(w, r, 1<<10, &req); err != nil {
			httpx.WriteError(w, err)
			return
		}
		trigger := map[string]Trigger{"people": BotAsks, "bot": BotTakes}[req.To]
		if trigger == "" {
			httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "invalid_request", `Field "to" must be "people" (hand the conversation to a person) or "bot" (take it back).`))
			return
		}
		l, err := s.Store.Link(r.Context(), r.PathValue("id"))
		if errors.Is(err, store.ErrNotFound) || (err == nil && l.InstitutionID != institutionID) {
			httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "unknown_link", "No link with this id exists for your institution."))
			return
		}
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		if l.Status != store.LinkActive {
			httpx.WriteError(w, httpx.Errorf(http.StatusConflict, "consent_"+l.Status, "The customer's consent for this link has ended."))
			return
		}
		if trigger == BotAsks && !l.HasScope(bankapi.ScopeSupportChat) {
			httpx.WriteError(w, httpx.Errorf(http.StatusConflict, "consent_scope", "The customer has not granted support_chat on this link, so your people cannot see the conversation."))
			return
		}
		st, changed, err := s.Apply(r.Context(), l.ConversationID, Request{Trigger: trigger})
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"owner": st.Owner, "changed": changed})
	})
}
