// Package consent owns the customer's consent over a link: the disclosure
// read before linking, the receipts of every decision, renewal, and the end
// of a link by revocation (the customer's or the bank's) or by expiry.
//
// What must stay true:
//   - A revocation is in force before the call returns, on every node: the
//     store marks the link revoked in the same transaction that every
//     append checks, so no event posted after it is accepted.
//   - Revoking or expiring deletes the link's stored events, not just hides
//     them; the link row and the receipts stay as consent evidence and hold
//     no financial data.
//   - Open devices learn at once: a link.revoked notice takes the next seq
//     in the conversation and the customer's nodes are woken.
//   - When the customer revokes, the bank is told through the outbox (the
//     webhook issue delivers it); when the bank revokes, the customer is
//     told in the conversation.
//   - A name the customer shows a bank's people (displayname.go) belongs
//     to one link, is sealed like the conversation, and goes when the link
//     ends, loses support_chat or has its history cleared.
//
// Delegates (a business owner's accountant) come next and will live here too.
package consent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// storeRoles is what consent needs of the store: links and their
// receipts, the conversations they feed, institutions, customers, and the
// names of the bank's people who read what a customer shared.
type storeRoles interface {
	store.Accounts
	store.Conversations
	store.Institutions
	store.Links
	// Staff names an agent in the customer's access history.
	Staff(ctx context.Context, id string) (store.Staff, error)
}

// Service revokes links.
type Service struct {
	store   storeRoles
	keyring *vault.Keyring
	bus     *bus.Bus
	now     func() time.Time
	log     *slog.Logger
	keep    time.Duration // consent evidence of ended links; 0 keeps it forever
}

// Config configures New.
type Config struct {
	Store   storeRoles
	Keyring *vault.Keyring
	Bus     *bus.Bus
	Now     func() time.Time
	Logger  *slog.Logger
	// Retention is how long receipts of ended links are kept; 0 keeps
	// them forever.
	Retention time.Duration
}

// New returns a Service.
func New(c Config) *Service {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return &Service{store: c.Store, keyring: c.Keyring, bus: c.Bus, now: c.Now, log: c.Logger, keep: c.Retention}
}

// EndedNotice is the data of a link.revoked or link.expired event in the
// conversation.
type EndedNotice struct {
	EndedBy string    `json:"ended_by"` // customer, institution or expiry
	EndedAt time.Time `json:"ended_at"`
}

// Revoke ends the link's consent for whoever r names (the customer who owns
// it, or its institution). Revoking a revoked link is not an error: the
// answer is the same, and nothing changes.
func (s *Service) Revoke(ctx context.Context, r store.Revocation) (store.Link, error) {
	r.Expire = false
	return s.end(ctx, r)
}

// ExpireDue ends every active link whose expiry has passed, deleting what
// it brought in, and returns how many it ended. Several nodes may run it at
// once: the store ends each link once.
func (s *Service) ExpireDue(ctx context.Context) (int, error) {
	n := 0
	for {
		due, err := s.store.DueLinks(ctx, s.now(), 100)
		if err != nil || len(due) == 0 {
			return n, err
		}
		for _, l := range due {
			if _, err := s.end(ctx, store.Revocation{LinkID: l.ID, Expire: true}); err != nil {
				return n, err
			}
			n++
		}
	}
}

// ReminderWindow is how long before expiry the customer is told, in the
// conversation, that the link ends soon.
const ReminderWindow = 14 * 24 * time.Hour

// ExpiringNotice is the data of a link.expiring event.
type ExpiringNotice struct {
	ExpiresAt time.Time `json:"expires_at"`
}

// RemindDue tells every customer whose link ends within ReminderWindow,
// once per term, and returns how many it told.
func (s *Service) RemindDue(ctx context.Context) (int, error) {
	n := 0
	for {
		now := s.now().UTC()
		due, err := s.store.DueReminders(ctx, now, now.Add(ReminderWindow), 100)
		if err != nil || len(due) == 0 {
			return n, err
		}
		for _, l := range due {
			data, _ := json.Marshal(ExpiringNotice{ExpiresAt: l.ExpiresAt})
			var seq int64
			err := s.putMarker(ctx, l, store.TypeLinkExpiring, now, data, func(m store.NewEvent) (err error) {
				seq, err = s.store.Remind(ctx, l.ID, now, m)
				return err
			})
			if errors.Is(err, store.ErrAlreadyRevoked) {
				continue // another node told them, or the link changed meanwhile
			}
			if err != nil {
				return n, fmt.Errorf("consent: remind %s: %w", l.ID, err)
			}
			n++
			if err := s.bus.WakeCustomer(l.CustomerID, bus.Wake{ConversationID: l.ConversationID, Seq: seq}); err != nil {
				s.log.Warn("consent: wake", "err", err)
			}
		}
	}
}

// RunExpiry ends due links and sends due reminders every interval until
// ctx ends.
func (s *Service) RunExpiry(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if n, err := s.ExpireDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("consent: expire links", "err", err)
		} else if n > 0 {
			s.log.Info("links expired", "count", n)
		}
		if s.keep > 0 {
			if n, err := s.store.PurgeReceipts(ctx, s.now().Add(-s.keep)); err != nil && ctx.Err() == nil {
				s.log.Error("consent: purge receipts", "err", err)
			} else if n > 0 {
				s.log.Info("consent receipts past retention purged", "count", n)
			}
		}
		if n, err := s.RemindDue(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("consent: renewal reminders", "err", err)
		} else if n > 0 {
			s.log.Info("renewal reminders sent", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (s *Service) end(ctx context.Context, r store.Revocation) (store.Link, error) {
	l, err := s.store.Link(ctx, r.LinkID)
	if errors.Is(err, store.ErrNotFound) {
		return l, notFound()
	}
	if err != nil {
		return l, err
	}
	r.At = s.now().UTC()
	if err := store.CheckRevoker(r, l); errors.Is(err, store.ErrNotFound) {
		return store.Link{}, notFound()
	} else if errors.Is(err, store.ErrAlreadyRevoked) {
		return l, nil
	}
	by, typ, action := store.AuthorCustomer, store.TypeLinkRevoked, store.ReceiptRevoke
	switch {
	case r.Expire:
		by, typ, action = "expiry", store.TypeLinkExpired, store.ReceiptExpire
	case r.InstitutionID != "":
		by = store.AuthorInstitution
	}
	data, _ := json.Marshal(EndedNotice{EndedBy: by, EndedAt: r.At})
	r.Receipt = store.Receipt{ID: ingest.NewID("rcp_"), Action: action, Scopes: l.Scopes, Purpose: Purpose,
		CollectedAt: r.At, ExpiresAt: r.At, Method: endMethod[by]}
	var done store.Revoked
	err = s.putMarker(ctx, l, typ, r.At, data, func(m store.NewEvent) (err error) {
		r.Marker = m
		done, err = s.store.RevokeLink(ctx, r)
		return err
	})
	switch {
	case errors.Is(err, store.ErrAlreadyRevoked):
		return s.store.Link(ctx, r.LinkID) // ended meanwhile, by the other side or another node
	case errors.Is(err, store.ErrNotFound):
		return store.Link{}, notFound()
	case err != nil:
		return l, fmt.Errorf("consent: end %s: %w", r.LinkID, err)
	}
	s.log.Info("link ended", "link", done.Link.ID, "by", by, "deleted_events", done.Deleted)
	if err := s.bus.WakeCustomer(done.Link.CustomerID, bus.Wake{ConversationID: done.Link.ConversationID, Seq: done.Seq}); err != nil {
		s.log.Warn("consent: wake", "err", err)
	}
	return done.Link, nil
}

// putMarker seals a platform notice for l's conversation and hands it to
// put, which stores it. When the store says the conversation's data key was
// replaced meanwhile (the customer cleared that history, perhaps on another
// node, while this node had the old key cached), it drops the cached key
// and seals and puts the notice once more, so no notice is kept that could
// never be opened.
func (s *Service) putMarker(ctx context.Context, l store.Link, typ string, at time.Time, data []byte, put func(store.NewEvent) error) error {
	owner := vault.ConversationKey(l.CustomerID, l.InstitutionID)
	recordID := ingest.NewID("evt_")
	for try := 0; ; try++ {
		sealed, err := s.keyring.Seal(ctx, owner, recordID, data)
		if err != nil {
			return fmt.Errorf("consent: seal notice: %w", err)
		}
		err = put(store.NewEvent{Event: store.Event{ID: recordID, Type: typ, Author: store.AuthorPlatform, OccurredAt: at, ReceivedAt: at, Sealed: sealed}})
		if !errors.Is(err, store.ErrStaleKey) || try > 0 {
			return err
		}
		s.keyring.Forget(owner)
	}
}

// Renew extends the customer's link by days from now, without a gap (and
// never shortening it), and records a receipt with the digest of the
// disclosure for the link's scopes and the new duration.
func (s *Service) Renew(ctx context.Context, customerID, linkID string, days int) (store.Link, error) {
	l, err := store.CustomerLink(ctx, s.store, customerID, linkID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Link{}, notFound()
	}
	if err != nil {
		return l, err
	}
	in, err := s.store.Institution(ctx, l.InstitutionID)
	if err != nil {
		return l, err
	}
	d, err := Disclose(in.Name, l.Scopes, days)
	if err != nil {
		return l, httpx.Errorf(http.StatusBadRequest, "invalid_duration", "Choose 30, 90, 180 or 365 days.")
	}
	now := s.now().UTC()
	renewed, err := s.store.RenewLink(ctx, store.Renewal{LinkID: linkID, CustomerID: customerID, At: now,
		ExpiresAt: now.Add(time.Duration(days) * 24 * time.Hour),
		Receipt: store.Receipt{ID: ingest.NewID("rcp_"), Action: store.ReceiptRenew, Scopes: l.Scopes, Purpose: Purpose,
			CollectedAt: now, Method: "Renewed by the customer on the OpenTeller platform", DisclosureDigest: d.Digest}})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Link{}, notFound()
	case errors.Is(err, store.ErrConsentRevoked):
		return l, httpx.Errorf(http.StatusConflict, "link_revoked", "This connection was ended. Connect the bank again to share with it.")
	case err != nil:
		return l, fmt.Errorf("consent: renew %s: %w", linkID, err)
	}
	s.log.Info("link renewed", "link", linkID, "days", days)
	return renewed, nil
}

// NarrowedNotice is the data of a link.narrowed event.
type NarrowedNotice struct {
	Scopes  []string `json:"scopes"`  // what stays
	Removed []string `json:"removed"` // what was taken away
	// DeletedTypes are the event types whose events were deleted, so an
	// open device drops them too.
	DeletedTypes []string `json:"deleted_types"`
}

// Narrow takes scopes away from the customer's link without going back to
// the bank. What only the removed scopes allowed is deleted. Widening is
// the bank's to ask: the customer links again.
func (s *Service) Narrow(ctx context.Context, customerID, linkID string, keep []string) (store.Link, error) {
	l, err := store.CustomerLink(ctx, s.store, customerID, linkID)
	if errors.Is(err, store.ErrNotFound) {
		return store.Link{}, notFound()
	}
	if err != nil {
		return l, err
	}
	keep = slices.Compact(slices.Sorted(slices.Values(keep)))
	var removed []string
	for _, sc := range l.Scopes {
		if !slices.Contains(keep, sc) {
			removed = append(removed, sc)
		}
	}
	var deleteTypes []string
	for _, typ := range bankapi.EventTypes {
		if scope, _ := bankapi.ScopeFor(typ); scope != "" && slices.Contains(removed, scope) {
			deleteTypes = append(deleteTypes, typ)
		}
	}
	if slices.Contains(deleteTypes, bankapi.TypeFraudAlert) {
		// The customer's answers go with the alerts they answered, and
		// their taps on a card with the card's statuses.
		deleteTypes = append(deleteTypes, ingest.FraudResponseType, ingest.CardActionType)
	}
	if slices.Contains(deleteTypes, bankapi.TypePaymentRequest) {
		// The customer's taps on requests and their own asks go with them.
		deleteTypes = append(deleteTypes, ingest.PaymentAuthorizeType, ingest.PaymentAskType)
	}
	now := s.now().UTC()
	data, _ := json.Marshal(NarrowedNotice{Scopes: keep, Removed: removed, DeletedTypes: deleteTypes})
	in, err := s.store.Institution(ctx, l.InstitutionID)
	if err != nil {
		return l, err
	}
	var digest string
	if d, err := Disclose(in.Name, keep, DefaultDays); err == nil {
		digest = d.Digest
	}
	n := store.Narrowing{LinkID: linkID, CustomerID: customerID, Scopes: keep, DeleteTypes: deleteTypes, At: now,
		Receipt: store.Receipt{ID: ingest.NewID("rcp_"), Action: store.ReceiptNarrow, Purpose: Purpose, CollectedAt: now,
			Method: "Narrowed by the customer on the OpenTeller platform", DisclosureDigest: digest}}
	var narrowed store.Link
	err = s.putMarker(ctx, l, store.TypeLinkNarrowed, now, data, func(m store.NewEvent) (err error) {
		n.Marker = m
		narrowed, err = s.store.NarrowLink(ctx, n)
		return err
	})
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Link{}, notFound()
	case errors.Is(err, store.ErrWiden):
		return l, httpx.Errorf(http.StatusConflict, "widen_via_bank", "You can only take things away here. To share more, connect the bank again: it asks you at its own sign-in.")
	case errors.Is(err, store.ErrConsentRevoked), errors.Is(err, store.ErrConsentExpired):
		return l, httpx.Errorf(http.StatusConflict, "link_ended", "This connection has ended, so there is nothing to narrow.")
	case err != nil:
		return l, fmt.Errorf("consent: narrow %s: %w", linkID, err)
	}
	s.log.Info("link narrowed", "link", linkID, "removed", len(removed))
	if err := s.bus.WakeCustomer(l.CustomerID, bus.Wake{ConversationID: l.ConversationID}); err != nil {
		s.log.Warn("consent: wake", "err", err)
	}
	return narrowed, nil
}

// NarrowHandler serves PUT /app/api/links/{id}/scopes {"scopes":[…]}.
func (s *Service) NarrowHandler(customerOf func(*http.Request) (string, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		customerID, _ := customerOf(r)
		var req struct {
			Scopes []string `json:"scopes"`
		}
		if err := httpx.DecodeJSON(w, r, 1<<10, &req); err != nil {
			httpx.WriteError(w, err)
			return
		}
		l, err := s.Narrow(r.Context(), customerID, r.PathValue("id"), req.Scopes)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		writeLink(w, l)
	})
}

// RenewHandler serves POST /app/api/links/{id}/renew {"duration_days"}.
func (s *Service) RenewHandler(customerOf func(*http.Request) (string, bool)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		customerID, _ := customerOf(r)
		var req struct {
			DurationDays int `json:"duration_days"`
		}
		if err := httpx.DecodeJSON(w, r, 1<<10, &req); err != nil {
			httpx.WriteError(w, err)
			return
		}
		l, err := s.Renew(r.Context(), customerID, r.PathValue("id"), req.DurationDays)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		writeLink(w, l)
	})
}

var endMethod = map[string]string{
	store.AuthorCustomer:    "Revoked by the customer on the OpenTeller platform",
	store.AuthorInstitution: "Revoked by the institution through the Bank API",
	"expiry":                "Ended at the expiry the customer chose",
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
