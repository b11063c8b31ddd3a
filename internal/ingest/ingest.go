// Package ingest is where events enter a conversation: a bank's through
// POST /v1/events (this file), and the customer's messages, menu requests,
// answers to fraud alerts and taps on a card's actions (customer.go), and
// payments handed to a bank or asked of someone (payments.go), each of
// which also queues the sealed notice that tells the bank, in the same
// transaction.
//
// For each event, in order: the API key names the institution; the event's
// shape, money and text are checked; the link must belong to that
// institution; the payload is sealed under the customer's data key; the
// store appends it, checking the link's consent (status, expiry, scope) in
// the same transaction; only then is the bank answered. What each
// transaction stored goes, still sealed and in commit order, to the nodes
// holding the customer's devices (announce.go).
//
// What must stay true: a 2xx result with status "accepted" means the event
// is on disk; a rejected event stores nothing; no payload is ever logged;
// one institution's key never reaches another institution's links.
package ingest

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// storeRoles is what ingest needs of the store: the conversations it
// appends to, the links whose consent decides, the institutions' API keys,
// and the ratings it keeps for supervisors' figures.
type storeRoles interface {
	store.Conversations
	store.Institutions
	store.Links
	AddRating(ctx context.Context, r store.Rating) error
}

// MaxBody is the largest request body POST /v1/events accepts.
const MaxBody = 4 << 20

// Ingester accepts banks' events.
type Ingester struct {
	store    storeRoles
	keyring  *vault.Keyring
	now      func() time.Time
	log      *slog.Logger
	queued   func()
	send     func(store.Notice)
	lease    time.Duration
	received func(result string)

	// mu guards links, which every event reads and a new link changes:
	// readers share it, as in vault.Keyring.
	mu    sync.RWMutex
	links map[string]linkOwner // link id → owner; owners never change
}

// linkOwner is the immutable part of a link: whose it is. Its consent (status,
// expiry, scopes) is never cached; the store checks it in the append.
type linkOwner struct {
	customerID, institutionID string
}

const maxCachedLinks = 200_000

// Config configures New.
type Config struct {
	Store   storeRoles
	Keyring *vault.Keyring
	Now     func() time.Time
	Logger  *slog.Logger
	// Queued, if set, is called after a notice for a bank was stored, so
	// the deliverer sends it now rather than at its next poll.
	Queued func()
	// Send, if set, takes a notice the store leased to this node for
	// Lease as it committed it (webhook.Deliverer.Send): it goes to the
	// bank at once, with no claim.
	Send  func(store.Notice)
	Lease time.Duration
	// Received, if set, is told what became of each event a bank posted
	// (POST /v1/events, or its bot's Messenger send): "accepted",
	// "duplicate", or the code of its refusal; "unavailable" for each
	// event of a batch that could not be stored. For the node's metrics;
	// it must not block.
	Received func(result string)
}

// New returns an Ingester.
func New(c Config) *Ingester {
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return &Ingester{store: c.Store, keyring: c.Keyring, now: c.Now, log: c.Logger, queued: c.Queued, send: c.Send, lease: c.Lease, received: c.Received, links: map[string]linkOwner{}}
}

// Handler serves POST /v1/events.
func (in *Ingester) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		institutionID, err := Authenticate(r.Context(), in.store, r.Header.Get("Authorization"), in.now())
		if err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="openteller"`)
			httpx.WriteError(w, err)
			return
		}
		body, err := httpx.ReadJSONBody(w, r, MaxBody)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		items, err := decodeBatch(body, in.now())
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		results, err := in.ingest(r.Context(), institutionID, items)
		if err != nil {
			in.log.Error("ingest failed", "institution", institutionID, "events", len(items), "err", err)
			httpx.WriteError(w, httpx.Errorf(http.StatusServiceUnavailable, "unavailable", "The events could not be stored; nothing was accepted. Retry with the same event ids."))
			return
		}
		httpx.WriteJSON(w, http.StatusOK, bankapi.EventResults{Results: results})
	})
}

// decodeBatch reads {"events":[…]}. Well-formed batches decode in one
// pass; when any event is malformed, each is decoded alone so the bad one
// gets its own typed error and the others go ahead.
func decodeBatch(body []byte, now time.Time) ([]item, error) {
	events, ok := scanBatch(body)
	if !ok {
		var fast struct {
			Events []Envelope `json:"events"`
		}
		if strictDecode(body, &fast) == nil {
			events, ok = fast.Events, true
		}
	}
	var items []item
	if ok {
		items = make([]item, len(events))
		for i, env := range events {
			items[i].parsed, items[i].err = ParseEnvelope(env, now)
		}
	} else {
		var slow struct {
			Events []json.RawMessage `json:"events"`
		}
		if err := strictDecode(body, &slow); err != nil {
			return nil, httpx.Errorf(http.StatusBadRequest, "invalid_json", "The request body is not {\"events\":[…]}: %v.", err)
		}
		items = make([]item, len(slow.Events))
		for i, raw := range slow.Events {
			items[i].parsed, items[i].err = Parse(raw, now)
		}
	}
	switch {
	case len(items) == 0:
		return nil, httpx.Errorf(http.StatusBadRequest, "batch_empty", "The batch has no events.")
	case len(items) > bankapi.MaxBatch:
		return nil, httpx.Errorf(http.StatusBadRequest, "batch_too_large", "A batch holds at most %d events; this one has %d.", bankapi.MaxBatch, len(items))
	}
	return items, nil
}

// item is one event of a batch after parsing.
type item struct {
	parsed Parsed
	err    error
}

// Ingest validates, seals and stores raw events for the institution, and
// returns one result per event. An error means nothing was stored.
func (in *Ingester) Ingest(ctx context.Context, institutionID string, raw []json.RawMessage) ([]bankapi.EventResult, error) {
	now := in.now()
	items := make([]item, len(raw))
	for i, msg := range raw {
		items[i].parsed, items[i].err = Parse(msg, now)
	}
	return in.ingest(ctx, institutionID, items)
}

func (in *Ingester) ingest(ctx context.Context, institutionID string, items []item) ([]bankapi.EventResult, error) {
	results, err := in.ingestBatch(ctx, institutionID, items)
	if in.received != nil {
		for i := range items {
			switch {
			case err != nil:
				in.received("unavailable") // what the bank is answered
			case results[i].Error != nil:
				in.received(results[i].Error.Code)
			default:
				in.received(results[i].Status)
			}
		}
	}
	return results, err
}

func (in *Ingester) ingestBatch(ctx context.Context, institutionID string, items []item) ([]bankapi.EventResult, error) {
	now := in.now().UTC()
	results := make([]bankapi.EventResult, len(items))
	pending := make([]store.NewEvent, 0, len(items))
	slot := make([]int, 0, len(items)) // pending[i] answers results[slot[i]]
	seen := make(map[string]bool, len(items))
	if err := in.warm(ctx, institutionID, items); err != nil {
		return nil, err
	}
	for i, it := range items {
		ev, err := it.parsed, it.err
		results[i].ID = ev.ID
		if err == nil && seen[ev.ID] {
			// The store would call it a duplicate; a repeated id inside one
			// batch is more likely a bug in the bank's code, so say so.
			err = &rejection{"duplicate_in_batch", "This event id appears earlier in the same batch."}
		}
		if err == nil {
			var ne store.NewEvent
			if ne, err = in.prepare(ctx, institutionID, ev, now); err == nil {
				pending, slot = append(pending, ne), append(slot, i)
				seen[ev.ID] = true
				continue
			}
		}
		var rej *rejection
		if !errors.As(err, &rej) {
			return nil, err
		}
		results[i].Status = bankapi.ResultRejected
		results[i].Error = &bankapi.Error{Code: rej.code, Message: rej.message}
	}
	if len(pending) == 0 {
		return results, nil
	}
	appended, err := in.store.AppendEvents(ctx, pending)
	if err != nil {
		return nil, fmt.Errorf("ingest: append %d events: %w", len(pending), err)
	}
	if err := in.resealStale(ctx, institutionID, items, slot, pending, appended, now); err != nil {
		return nil, err
	}
	// The store announces what it committed to the customers' devices
	// (Announcer), in commit order.
	for j, a := range appended {
		r := &results[slot[j]]
		switch {
		case a.Err != nil:
			rej := storeRejection(a.Err)
			r.Status, r.Error = bankapi.ResultRejected, &bankapi.Error{Code: rej.code, Message: rej.message}
		case a.Duplicate:
			r.Status, r.Seq = bankapi.ResultDuplicate, a.Seq
		default:
			r.Status, r.Seq = bankapi.ResultAccepted, a.Seq
		}
	}
	return results, nil
}

// prepare seals a parsed event for its customer.
func (in *Ingester) prepare(ctx context.Context, institutionID string, ev Parsed, now time.Time) (store.NewEvent, error) {
	owner, err := in.owner(ctx, ev.LinkID)
	if err != nil {
		return store.NewEvent{}, err
	}
	if owner.institutionID != institutionID {
		return store.NewEvent{}, storeRejection(store.ErrUnknownLink)
	}
	recordID := NewID("evt_")
	sealed, err := in.keyring.Seal(ctx, vault.ConversationKey(owner.customerID, institutionID), recordID, ev.Data)
	if err != nil {
		return store.NewEvent{}, fmt.Errorf("ingest: seal: %w", err)
	}
	// The fingerprint covers everything the bank sent, so a retry with the
	// same id but other content is caught as a conflict.
	fp, err := in.keyring.Fingerprint(ctx, owner.customerID, bytes.Join([][]byte{[]byte(ev.Type), []byte(ev.LinkID), []byte(ev.OccurredAt.Format(time.RFC3339Nano)), ev.Data}, []byte{0}))
	if err != nil {
		return store.NewEvent{}, fmt.Errorf("ingest: fingerprint: %w", err)
	}
	ne := store.NewEvent{
		Event: store.Event{
			ID: recordID, CustomerID: owner.customerID, InstitutionID: institutionID, LinkID: ev.LinkID, BankEventID: ev.ID,
			Type: ev.Type, Author: store.AuthorInstitution, OccurredAt: ev.OccurredAt, ReceivedAt: now, Sealed: sealed,
		},
		Scope:       ev.Scope,
		Fingerprint: fp,
	}
	if ev.Reference != "" {
		ref, err := in.keyring.Fingerprint(ctx, owner.customerID, []byte("txn-ref\x00"+ev.Reference))
		if err != nil {
			return store.NewEvent{}, fmt.Errorf("ingest: fingerprint: %w", err)
		}
		if ev.Pending {
			ne.PendingRef = ref
		} else {
			ne.ReplacesRef = ref
		}
	}
	return ne, nil
}

func (in *Ingester) owner(ctx context.Context, linkID string) (linkOwner, error) {
	in.mu.RLock()
	o, ok := in.links[linkID]
	in.mu.RUnlock()
	if ok {
		return o, nil
	}
	l, err := in.store.Link(ctx, linkID)
	if errors.Is(err, store.ErrNotFound) {
		return o, storeRejection(store.ErrUnknownLink)
	}
	if err != nil {
		return o, fmt.Errorf("ingest: read link: %w", err)
	}
	return in.remember(l), nil
}

func (in *Ingester) remember(l store.Link) linkOwner {
	o := linkOwner{customerID: l.CustomerID, institutionID: l.InstitutionID}
	in.mu.Lock()
	if len(in.links) >= maxCachedLinks {
		clear(in.links)
	}
	in.links[l.ID] = o
	in.mu.Unlock()
	return o
}

// warm reads what a batch needs that is not in memory (its links' owners,
// then their data keys) with one query each, so that a batch for a
// hundred customers the node has not seen lately costs two round trips
// to the store before its append, not two hundred. Sealing then finds
// everything in memory; a link or key still missing is looked up, or
// made, one by one as before.
func (in *Ingester) warm(ctx context.Context, institutionID string, items []item) error {
	var cold []string
	in.mu.RLock()
	for _, it := range items {
		if _, ok := in.links[it.parsed.LinkID]; it.err == nil && !ok {
			cold = append(cold, it.parsed.LinkID)
		}
	}
	in.mu.RUnlock()
	if len(cold) > 0 {
		slices.Sort(cold)
		links, err := in.store.LinksByID(ctx, slices.Compact(cold))
		if err != nil {
			return fmt.Errorf("ingest: read links: %w", err)
		}
		for _, l := range links {
			in.remember(l)
		}
	}
	owners := make([]string, 0, 2*len(items))
	in.mu.RLock()
	for _, it := range items {
		if o, ok := in.links[it.parsed.LinkID]; it.err == nil && ok && o.institutionID == institutionID {
			// What prepare uses: the conversation's key seals, the
			// customer's fingerprints.
			owners = append(owners, vault.ConversationKey(o.customerID, institutionID), o.customerID)
		}
	}
	in.mu.RUnlock()
	if err := in.keyring.Warm(ctx, owners); err != nil {
		return fmt.Errorf("ingest: %w", err)
	}
	return nil
}

// rejection is a per-event refusal with a stable code.
type rejection struct{ code, message string }

func (r *rejection) Error() string { return r.code + ": " + r.message }

func storeRejection(err error) *rejection {
	switch {
	case errors.Is(err, store.ErrUnknownLink):
		return &rejection{"unknown_link", "No link with this id exists for your institution."}
	case errors.Is(err, store.ErrConsentScope):
		return &rejection{"consent_scope", "The customer has not granted the scope this event type needs."}
	case errors.Is(err, store.ErrConsentExpired):
		return &rejection{"consent_expired", "The customer's consent for this link has expired."}
	case errors.Is(err, store.ErrConsentRevoked):
		return &rejection{"consent_revoked", "The customer's consent for this link has been revoked."}
	case errors.Is(err, store.ErrIdempotencyConflict):
		return &rejection{"idempotency_conflict", "An event with this id was accepted earlier with a different body."}
	case errors.Is(err, store.ErrStaleKey):
		return &rejection{"unavailable", "The event could not be stored just now; nothing was accepted. Send it again with the same id."}
	}
	return &rejection{"internal", "The event could not be processed."}
}

var idEncoding = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// NewID returns prefix followed by 26 random base32 characters (130 bits).
func NewID(prefix string) string {
	b := make([]byte, 17)
	rand.Read(b)
	return prefix + idEncoding.EncodeToString(b)[:26]
}

// API keys look like otk_<key id>_<secret>. The id finds the row; only a
// SHA-256 of the secret is stored, which suffices for a 256-bit random secret.
const apiKeyPrefix = "otk_"

// NewAPIKey returns a new key for the institution: the token to show once,
// and the row to store.
func NewAPIKey(institutionID string, now time.Time) (token string, k store.APIKey) {
	id := NewID("")[:16]
	secret := make([]byte, 32)
	rand.Read(secret)
	s := idEncoding.EncodeToString(secret)
	sum := sha256.Sum256([]byte(s))
	return apiKeyPrefix + id + "_" + s, store.APIKey{ID: id, InstitutionID: institutionID, Hash: sum[:], CreatedAt: now}
}

// Authenticate resolves an Authorization header to an institution id.
func Authenticate(ctx context.Context, st store.Institutions, header string, now time.Time) (string, error) {
	unauthorized := httpx.Errorf(http.StatusUnauthorized, "unauthorized", "Send a valid API key as \"Authorization: Bearer otk_…\".")
	token, ok := strings.CutPrefix(header, "Bearer ")
	if !ok {
		return "", unauthorized
	}
	rest, ok := strings.CutPrefix(strings.TrimSpace(token), apiKeyPrefix)
	if !ok {
		return "", unauthorized
	}
	id, secret, ok := strings.Cut(rest, "_")
	if !ok || id == "" || secret == "" {
		return "", unauthorized
	}
	k, err := st.APIKey(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return "", unauthorized
	}
	if err != nil {
		return "", fmt.Errorf("ingest: read api key: %w", err)
	}
	sum := sha256.Sum256([]byte(secret))
	if subtle.ConstantTimeCompare(sum[:], k.Hash) != 1 {
		return "", unauthorized
	}
	if !k.ExpiresAt.IsZero() && !now.Before(k.ExpiresAt) {
		return "", httpx.Errorf(http.StatusUnauthorized, "unauthorized", "This API key has been rotated out; use the institution's current key.")
	}
	return k.InstitutionID, nil
}

// resealStale handles events the store refused as sealed under a replaced
// data key (the customer cleared that history, perhaps on another node,
// while this node still had the old key): it drops the cached keys, seals
// those events again and appends them once more, updating appended.
func (in *Ingester) resealStale(ctx context.Context, institutionID string, items []item, slot []int, pending []store.NewEvent, appended []store.AppendResult, now time.Time) error {
	var again []store.NewEvent
	var at []int
	for j, a := range appended {
		if errors.Is(a.Err, store.ErrStaleKey) {
			in.keyring.Forget(vault.ConversationKey(pending[j].CustomerID, institutionID))
			at = append(at, j)
		}
	}
	for _, j := range at {
		ne, err := in.prepare(ctx, institutionID, items[slot[j]].parsed, now)
		if err != nil {
			return err
		}
		again = append(again, ne)
	}
	if len(again) == 0 {
		return nil
	}
	res, err := in.store.AppendEvents(ctx, again)
	if err != nil {
		return fmt.Errorf("ingest: append %d resealed events: %w", len(again), err)
	}
	for k, j := range at {
		pending[j], appended[j] = again[k], res[k]
	}
	return nil
}
