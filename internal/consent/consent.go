// Package consent owns the customer's consent over a link once it exists:
// for now, revoking it, by the customer or by the bank.
//
// What must stay true:
//   - A revocation is in force before the call returns, on every node: the
//     store marks the link revoked in the same transaction that every
//     append checks, so no event posted after it is accepted.
//   - Revoking deletes the link's stored events, not just hides them; the
//     link row itself stays as consent evidence and holds no financial data.
//   - Open devices learn at once: a link.revoked notice takes the next seq
//     in the conversation and the customer's nodes are woken.
//   - When the customer revokes, the bank is told through the outbox (the
//     webhook issue delivers it); when the bank revokes, the customer is
//     told in the conversation.
//
// The disclosure screen, receipts, expiry, renewal and the privacy center
// come next and will live here too.
package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// Service revokes links.
type Service struct {
	store   store.Store
	keyring *vault.Keyring
	bus     *bus.Bus
	now     func() time.Time
	log     *slog.Logger
}

// Config configures New.
type Config struct {
	Store   store.Store
	Keyring *vault.Keyring
	Bus     *bus.Bus
	Now     func() time.Time
	Logger  *slog.Logger
}

// New returns a Service.
func New(c Config) *Service {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return &Service{store: c.Store, keyring: c.Keyring, bus: c.Bus, now: c.Now, log: c.Logger}
}

// RevokedNotice is the data of a link.revoked event in the conversation.
type RevokedNotice struct {
	RevokedBy string    `json:"revoked_by"` // customer or institution
	RevokedAt time.Time `json:"revoked_at"`
}

// Revoke ends the link's consent for whoever r names (the customer who owns
// it, or its institution). Revoking a revoked link is not an error: the
// answer is the same, and nothing changes.
func (s *Service) Revoke(ctx context.Context, r store.Revocation) (store.Link, error) {
	l, err := s.store.Link(ctx, r.LinkID)
	if errors.Is(err, store.ErrNotFound) {
		return l, notFound()
	}
	if err != nil {
		return l, err
	}
	if err := store.CheckRevoker(r, l); errors.Is(err, store.ErrNotFound) {
		return store.Link{}, notFound()
	} else if errors.Is(err, store.ErrAlreadyRevoked) {
		return l, nil
	}
	r.At = s.now().UTC()
	by := store.AuthorCustomer
	if r.InstitutionID != "" {
		by = store.AuthorInstitution
	}
	data, _ := json.Marshal(RevokedNotice{RevokedBy: by, RevokedAt: r.At})
	recordID := ingest.NewID("evt_")
	sealed, err := s.keyring.Seal(ctx, l.CustomerID, recordID, data)
	if err != nil {
		return l, fmt.Errorf("consent: seal notice: %w", err)
	}
	r.Marker = store.NewEvent{Event: store.Event{ID: recordID, Type: store.TypeLinkRevoked, Author: store.AuthorPlatform,
		OccurredAt: r.At, ReceivedAt: r.At, Sealed: sealed}}
	r.Receipt = store.Receipt{ID: ingest.NewID("rcp_"), Action: store.ReceiptRevoke, Scopes: l.Scopes, Purpose: Purpose,
		CollectedAt: r.At, ExpiresAt: r.At, Method: revokeMethod[by]}
	done, err := s.store.RevokeLink(ctx, r)
	switch {
	case errors.Is(err, store.ErrAlreadyRevoked):
		return s.store.Link(ctx, r.LinkID) // revoked meanwhile by the other side
	case errors.Is(err, store.ErrNotFound):
		return store.Link{}, notFound()
	case err != nil:
		return l, fmt.Errorf("consent: revoke %s: %w", r.LinkID, err)
	}
	s.log.Info("link revoked", "link", done.Link.ID, "by", by, "deleted_events", done.Deleted)
	if err := s.bus.WakeCustomer(done.Link.CustomerID, bus.Wake{ConversationID: done.Link.ConversationID, Seq: done.Seq}); err != nil {
		s.log.Warn("consent: wake", "err", err)
	}
	return done.Link, nil
}

var revokeMethod = map[string]string{
	store.AuthorCustomer:    "Revoked by the customer on the OpenTeller platform",
	store.AuthorInstitution: "Revoked by the institution through the Bank API",
}

func notFound() error {
	return httpx.Errorf(http.StatusNotFound, "unknown_link", "No such link.")
}

// linkJSON is a link as either side sees it after a revocation.
type linkJSON struct {
	ID        string    `json:"id"`
	Status    string    `json:"status"`
	Scopes    []string  `json:"scopes"`
	ExpiresAt time.Time `json:"expires_at"`
	RevokedAt time.Time `json:"revoked_at"`
}

func writeLink(w http.ResponseWriter, l store.Link) {
	httpx.WriteJSON(w, http.StatusOK, map[string]linkJSON{"link": {ID: l.ID, Status: l.Status, Scopes: l.Scopes, ExpiresAt: l.ExpiresAt, RevokedAt: l.RevokedAt}})
}

// BankHandler serves DELETE /v1/links/{id}: the institution revokes.
func (s *Service) BankHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		institutionID, err := ingest.Authenticate(r.Context(), s.store, r.Header.Get("Authorization"), s.now())
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="openteller"`)
			httpx.WriteError(w, err)
			return
		}
		l, err := s.Revoke(r.Context(), store.Revocation{LinkID: r.PathValue("id"), InstitutionID: institutionID})
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		writeLink(w, l)
	})
}

// CustomerHandler serves DELETE /app/api/links/{id}: the customer revokes.
// customerOf names the signed-in customer; the route is behind the
// signed-in and CSRF checks.
func (s *Service) CustomerHandler(customerOf func(*http.Request) (string, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		customerID, _ := customerOf(r)
		l, err := s.Revoke(r.Context(), store.Revocation{LinkID: r.PathValue("id"), CustomerID: customerID})
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		writeLink(w, l)
	})
}
