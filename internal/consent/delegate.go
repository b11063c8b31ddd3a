package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openteller/openteller/internal/access"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/tlog"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// DelegableScopes are what a delegate may ever read: read-only money data.
var DelegableScopes = []string{bankapi.ScopeBalances, bankapi.ScopeTransactions}

// Delegate lets another customer, named by email, read the owner's link's
// balances and transactions for days, until the owner revokes it.
func (s *Service) Delegate(ctx context.Context, ownerID, linkID, delegateEmail string, days int) (store.Delegation, error) {
	l, err := store.CustomerLink(ctx, s.store, ownerID, linkID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Delegation{}, notFound()
	}
	if err != nil {
		return store.Delegation{}, err
	}
	now := s.now().UTC()
	if l.Status != store.LinkActive || !now.Before(l.ExpiresAt) {
		return store.Delegation{}, httpx.Errorf(http.StatusConflict, "link_ended", "This connection has ended, so it cannot be shared.")
	}
	if !slices.Contains(Durations, days) {
		return store.Delegation{}, httpx.Errorf(http.StatusBadRequest, "invalid_duration", "Choose 30, 90, 180 or 365 days.")
	}
	delegate, err := s.store.CustomerByEmail(ctx, strings.ToLower(strings.TrimSpace(delegateEmail)))
	if errors.Is(err, store.ErrNotFound) || (err == nil && delegate.ID == ownerID) {
		return store.Delegation{}, httpx.Errorf(http.StatusNotFound, "unknown_delegate", "Nobody with that email uses OpenTeller. Ask them to sign up first.")
	}
	if err != nil {
		return store.Delegation{}, err
	}
	var scopes []string
	for _, sc := range DelegableScopes {
		if l.HasScope(sc) {
			scopes = append(scopes, sc)
		}
	}
	if len(scopes) == 0 {
		return store.Delegation{}, httpx.Errorf(http.StatusConflict, "nothing_to_share", "This connection shares no balances or transactions.")
	}
	expires := now.Add(time.Duration(days) * 24 * time.Hour)
	if expires.After(l.ExpiresAt) {
		expires = l.ExpiresAt // never longer than the owner's own consent
	}
	d := store.Delegation{ID: ingest.NewID("dlg_"), LinkID: l.ID, OwnerID: ownerID, DelegateID: delegate.ID, Scopes: scopes, CreatedAt: now, ExpiresAt: expires}
	r := store.Receipt{ID: ingest.NewID("rcp_"), CustomerID: ownerID, InstitutionID: l.InstitutionID, LinkID: l.ID, Action: store.ReceiptDelegate,
		Scopes: scopes, Purpose: "Let a person you chose read these, read-only, until the end date or until you revoke it.",
		CollectedAt: now, ExpiresAt: expires, Method: "Granted by the customer in the OpenTeller privacy center"}
	if err := s.store.CreateDelegation(ctx, d, r); err != nil {
		return store.Delegation{}, fmt.Errorf("consent: delegate: %w", err)
	}
	s.log.Info("delegation granted", "link", l.ID, "delegation", d.ID, "days", days)
	return d, nil
}

// DelegatedEvent is one event as a delegate sees it.
type DelegatedEvent struct {
	Seq        int64           `json:"seq"`
	Type       string          `json:"type"`
	OccurredAt time.Time       `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

// Delegates see the newest delegateLimit events the delegation allows,
// found among at most delegateScan of the conversation's newest events.
const (
	delegateLimit = 500
	delegateScan  = 5000
)

// DelegatedEvents returns what the delegation lets the delegate read (the
// newest events it allows, oldest first), after recording the read in the
// access log. The delegation and the link are checked again after the
// read: if either ended meanwhile, nothing is returned.
func (s *Service) DelegatedEvents(ctx context.Context, rec access.Recorder, delegateID, delegationID string) (store.Delegation, []DelegatedEvent, error) {
	d, l, err := s.liveDelegation(ctx, delegateID, delegationID)
	if err != nil {
		return d, nil, err
	}
	allowed := map[string]bool{}
	for _, typ := range bankapi.EventTypes {
		if sc, _ := bankapi.ScopeFor(typ); sc != "" && slices.Contains(d.Scopes, sc) && l.HasScope(sc) {
			allowed[typ] = true
		}
	}
	c, err := s.store.Conversation(ctx, l.ConversationID)
	if err != nil {
		return d, nil, err
	}
	// Written down before anything is read for the delegate.
	if err := rec.Record(ctx, access.ActorDelegate, delegateID, "read", "events", d.OwnerID); err != nil {
		return d, nil, err
	}
	var picked []store.Event // newest first
	before := c.LastSeq + 1  // no further than the head seen when the delegation was checked
	for scanned := 0; len(picked) < delegateLimit && scanned < delegateScan && before > 1; {
		evs, err := s.store.EventsBefore(ctx, l.ConversationID, before, 200)
		if err != nil {
			return d, nil, err
		}
		if len(evs) == 0 {
			break
		}
		scanned += len(evs)
		for i := len(evs) - 1; i >= 0 && len(picked) < delegateLimit; i-- {
			if e := evs[i]; e.LinkID == l.ID && allowed[e.Type] {
				picked = append(picked, e)
			}
		}
		before = evs[0].Seq
	}
	// Ended while this was read (the owner stopped it, or revoked the
	// link): the delegate gets nothing.
	if _, _, err := s.liveDelegation(ctx, delegateID, delegationID); err != nil {
		return d, nil, err
	}
	out := make([]DelegatedEvent, 0, len(picked))
	for i := len(picked) - 1; i >= 0; i-- {
		e := picked[i]
		data, err := s.keyring.Open(ctx, vault.ConversationKey(e.CustomerID, e.InstitutionID), e.ID, e.Sealed)
		if err != nil {
			return d, nil, fmt.Errorf("consent: open event for delegate: %w", err)
		}
		out = append(out, DelegatedEvent{Seq: e.Seq, Type: e.Type, OccurredAt: e.OccurredAt, Data: data})
	}
	return d, out, nil
}

// StopDelegation ends the owner's delegation at once, with a receipt of
// the decision. Stopping an ended one changes nothing.
func (s *Service) StopDelegation(ctx context.Context, ownerID, delegationID string) error {
	now := s.now().UTC()
	return s.store.RevokeDelegation(ctx, delegationID, ownerID, now, store.Receipt{ID: ingest.NewID("rcp_"), Action: store.ReceiptUndelegate,
		Purpose: "Stop letting a person you chose read these.", CollectedAt: now, ExpiresAt: now,
		Method: "Stopped by the customer in the OpenTeller privacy center"})
}

// liveDelegation returns the delegation, for its delegate, and its link,
// if both are still in force: 404 or 410 otherwise.
func (s *Service) liveDelegation(ctx context.Context, delegateID, delegationID string) (store.Delegation, store.Link, error) {
	var l store.Link
	d, err := s.store.Delegation(ctx, delegationID)
	now := s.now()
	if errors.Is(err, store.ErrNotFound) || (err == nil && d.DelegateID != delegateID) {
		return d, l, httpx.Errorf(http.StatusNotFound, "not_found", "Nothing is shared with you under that name.")
	}
	if err != nil {
		return d, l, err
	}
	if !d.Live(now) {
		return d, l, httpx.Errorf(http.StatusGone, "delegation_ended", "This access has ended: it expired or the owner revoked it.")
	}
	if l, err = s.store.Link(ctx, d.LinkID); err != nil {
		return d, l, err
	}
	if l.Status != store.LinkActive || !now.Before(l.ExpiresAt) {
		return d, l, httpx.Errorf(http.StatusGone, "delegation_ended", "The owner's connection to the bank has ended.")
	}
	return d, l, nil
}

type delegationJSON struct {
	ID          string    `json:"id"`
	LinkID      string    `json:"link_id"`
	Institution string    `json:"institution"`
	Owner       string    `json:"owner,omitempty"`    // the owner's email, for the delegate
	Delegate    string    `json:"delegate,omitempty"` // the delegate's email, for the owner
	Scopes      []string  `json:"scopes"`
	ExpiresAt   time.Time `json:"expires_at"`
	Live        bool      `json:"live"`
}

func (s *Service) delegationView(ctx context.Context, d store.Delegation, forOwner bool) delegationJSON {
	v := delegationJSON{ID: d.ID, LinkID: d.LinkID, Scopes: d.Scopes, ExpiresAt: d.ExpiresAt, Live: d.Live(s.now())}
	if l, err := s.store.Link(ctx, d.LinkID); err == nil {
		if in, err := s.store.Institution(ctx, l.InstitutionID); err == nil {
			v.Institution = in.Name
		}
	}
	other := d.OwnerID
	if forOwner {
		other = d.DelegateID
	}
	if c, err := s.store.Customer(ctx, other); err == nil {
		if forOwner {
			v.Delegate = c.Email
		} else {
			v.Owner = c.Email
		}
	}
	return v
}

// RegisterCustomer adds the customer's consent routes to mux, each wrapped
// by require (signed in, CSRF on writes). rec records reads for others.
func (s *Service) RegisterCustomer(mux interface{ Handle(string, http.Handler) }, require func(http.Handler) http.Handler, customerOf func(*http.Request) (string, bool), rec *access.Log) {
	handle := func(pattern string, fn func(w http.ResponseWriter, r *http.Request, customerID string)) {
		mux.Handle(pattern, require(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			customerID, _ := customerOf(r)
			fn(w, r, customerID)
		})))
	}
	mux.Handle("DELETE /app/api/links/{id}", require(s.CustomerHandler(customerOf)))
	mux.Handle("POST /app/api/links/{id}/renew", require(s.RenewHandler(customerOf)))
	mux.Handle("PUT /app/api/links/{id}/scopes", require(s.NarrowHandler(customerOf)))
	handle("POST /app/api/history/clear", s.clearHandler)
	handle("POST /app/api/disconnect-all", s.disconnectAllHandler)
	handle("PUT /app/api/links/{id}/display-name", s.displayNameHandler)
	handle("DELETE /app/api/links/{id}/display-name", s.removeDisplayNameHandler)
	handle("GET /app/api/links", func(w http.ResponseWriter, r *http.Request, customerID string) {
		ls, err := s.store.Links(r.Context(), customerID)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		names, err := s.sharedNames(r.Context(), ls)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		type linkView struct {
			linkJSON
			ConversationID string `json:"conversation_id"`
			DisplayName    string `json:"display_name,omitempty"` // the name the bank's people see, if the customer shows one
			Institution    struct {
				ID   string `json:"id"`
				Name string `json:"name"`
			} `json:"institution"`
		}
		out := []linkView{}
		now := s.now()
		for _, l := range ls {
			v := linkView{linkJSON: linkJSON{ID: l.ID, Status: l.Status, Scopes: l.Scopes, ExpiresAt: l.ExpiresAt, RevokedAt: l.RevokedAt}, ConversationID: l.ConversationID,
				DisplayName: names[l.ID]}
			if v.Status == store.LinkActive && !now.Before(l.ExpiresAt) {
				v.Status = store.LinkExpired // ended by time, not yet swept
			}
			v.Institution.ID = l.InstitutionID
			if in, err := s.store.Institution(r.Context(), l.InstitutionID); err == nil {
				v.Institution.Name = in.Name
			}
			out = append(out, v)
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"links": out})
	})
	handle("POST /app/api/links/{id}/delegates", func(w http.ResponseWriter, r *http.Request, customerID string) {
		var req struct {
			Email        string `json:"email"`
			DurationDays int    `json:"duration_days"`
		}
		if err := httpx.DecodeJSON(w, r, 2<<10, &req); err != nil {
			httpx.WriteError(w, err)
			return
		}
		d, err := s.Delegate(r.Context(), customerID, r.PathValue("id"), req.Email, req.DurationDays)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		httpx.WriteJSON(w, http.StatusCreated, map[string]any{"delegation": s.delegationView(r.Context(), d, true)})
	})
	handle("GET /app/api/links/{id}/delegates", func(w http.ResponseWriter, r *http.Request, customerID string) {
		l, err := store.CustomerLink(r.Context(), s.store, customerID, r.PathValue("id"))
		if errors.Is(err, store.ErrNotFound) {
			httpx.WriteError(w, notFound())
			return
		}
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		ds, err := s.store.Delegations(r.Context(), l.ID, "")
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		out := []delegationJSON{}
		for _, d := range ds {
			out = append(out, s.delegationView(r.Context(), d, true))
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"delegations": out})
	})
	handle("DELETE /app/api/delegations/{id}", func(w http.ResponseWriter, r *http.Request, customerID string) {
		err := s.StopDelegation(r.Context(), customerID, r.PathValue("id"))
		if errors.Is(err, store.ErrNotFound) {
			err = httpx.Errorf(http.StatusNotFound, "not_found", "No such access to revoke.")
		}
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
	handle("GET /app/api/delegations", func(w http.ResponseWriter, r *http.Request, customerID string) {
		ds, err := s.store.Delegations(r.Context(), "", customerID)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		out := []delegationJSON{}
		for _, d := range ds {
			out = append(out, s.delegationView(r.Context(), d, false))
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"delegations": out})
	})
	handle("GET /app/api/delegations/{id}/events", func(w http.ResponseWriter, r *http.Request, customerID string) {
		d, evs, err := s.DelegatedEvents(r.Context(), rec, customerID, r.PathValue("id"))
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{"delegation": s.delegationView(r.Context(), d, false), "events": evs})
	})
	// The customer's access history, with what their browser needs to check
	// it: ?since=N is the size of the last checkpoint it saw.
	handle("GET /app/api/access", func(w http.ResponseWriter, r *http.Request, customerID string) {
		since, _ := strconv.ParseUint(r.URL.Query().Get("since"), 10, 64)
		h, err := rec.History(r.Context(), customerID, since)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		type entry struct {
			Index uint64   `json:"index"`
			Data  string   `json:"data"` // the leaf's exact bytes; display what is verified
			Proof [][]byte `json:"proof"`
			// Actor is who read, in words, looked up now for display: the
			// leaf holds the actor's kind and id only, and stays as it is.
			Actor *actorJSON `json:"actor,omitempty"`
		}
		out := []entry{}
		actors := map[[2]string]*actorJSON{}
		for _, e := range h.Entries {
			key := [2]string{e.Entry.ActorKind, e.Entry.ActorID}
			a, ok := actors[key]
			if !ok {
				a = s.actorName(r.Context(), key[0], key[1])
				actors[key] = a
			}
			out = append(out, entry{Index: e.Index, Data: string(e.Data), Proof: hashBytes(e.Proof), Actor: a})
		}
		httpx.WriteJSON(w, http.StatusOK, map[string]any{
			"accesses": out,
			"log": map[string]any{
				"origin": h.Origin, "verifier_key": h.VerifierKey, "checkpoint": h.Checkpoint, "size": h.Size,
				"since": h.Since, "consistency": hashBytes(h.Consistency),
			},
		})
	})
}

// actorJSON names who read a customer's data, for their access history.
type actorJSON struct {
	Name        string `json:"name"`                  // an agent's name; the email of someone the customer shared with
	Institution string `json:"institution,omitempty"` // an agent's bank
}

// actorName is who an access-log entry's actor is, in words the customer
// knows: one of their bank's people by name, with the bank, or someone
// they shared with by the email they shared with. Nil when there is no
// longer anyone by that id; the page then says what kind of reader it was.
func (s *Service) actorName(ctx context.Context, kind, id string) *actorJSON {
	switch kind {
	case access.ActorAgent:
		m, err := s.store.Staff(ctx, id)
		if err != nil || m.Name == "" {
			return nil
		}
		a := &actorJSON{Name: m.Name}
		if in, err := s.store.Institution(ctx, m.InstitutionID); err == nil {
			a.Institution = in.Name
		}
		return a
	case access.ActorDelegate:
		if c, err := s.store.Customer(ctx, id); err == nil {
			return &actorJSON{Name: c.Email}
		}
	}
	return nil
}

// hashBytes turns hashes into byte slices, which JSON writes as base64.
func hashBytes(hs []tlog.Hash) [][]byte {
	out := make([][]byte, len(hs))
	for i, h := range hs {
		out[i] = h[:]
	}
	return out
}
