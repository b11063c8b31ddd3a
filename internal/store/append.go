package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/openteller/openteller/internal/vault"
)

// Stored is what Append needs to know of an event already in the store.
type Stored struct {
	Fingerprint    []byte
	ConversationID string
	Seq            int64
}

// AppendQuery is what Append asks of a transaction before it decides
// anything.
type AppendQuery struct {
	// Links to read and hold against concurrent revocation until the
	// transaction ends, sorted and distinct: locks are taken in this order.
	// Their conversations are read and held against concurrent appends, in
	// conversation id order, after the links.
	Links []string
	// Existing names, per institution, the bank event ids to look up among
	// stored events. They are read after the links are held, so an event
	// committed by an append that held one of them first is seen.
	Existing map[string][]string
	// Notifying names, sorted and distinct, the links whose new notices ask
	// to be leased at commit: which of them already have a notice pending
	// (BusyLinks) decides whether they may be.
	Notifying []string
}

// AppendState is what a transaction read for an AppendQuery.
type AppendState struct {
	// Links found, each with its KeyVersion: the current version of its
	// conversation's data key (vault.ConversationKey), read after the link
	// was locked, so a history cleared meanwhile is seen with its new key.
	Links map[string]Link
	// LastSeqs holds each of those links' conversations' last seq (0 for
	// none yet), read with the conversation locked until the transaction
	// ends. A link whose conversation is missing here gets no events.
	LastSeqs map[string]int64
	// Existing holds the stored events found, by institution and bank id.
	Existing map[EventKey]Stored
	// BusyLinks holds the Notifying links with a notice neither delivered
	// nor dead-lettered: a new one waits its turn behind it.
	BusyLinks map[string]bool
}

// EventKey names an institution's event by the id the institution gave it.
type EventKey struct{ InstitutionID, BankEventID string }

// PendingKey names a pending transaction of a conversation by the keyed
// digest of its reference.
type PendingKey struct{ ConversationID, Ref string }

// AppendWrite is everything an append stores.
type AppendWrite struct {
	Events   []*NewEvent      // in order
	LastSeqs map[string]int64 // conversation → its new last seq
	Notices  []Notice         // queued for institutions, each with its event
}

// AppendTx is what one implementation's transaction offers Append. Append
// holds the rules (idempotency, consent, sequence); an implementation only
// reads and writes rows, inside one transaction that it commits after Append
// returns without error. Each method takes the whole batch, so an
// implementation over a network answers each in one round trip.
type AppendTx interface {
	// Read locks and reads what q names (see AppendQuery).
	Read(ctx context.Context, q AppendQuery) (AppendState, error)
	// PendingSeqs finds the newest stored event marked with each key.
	PendingSeqs(ctx context.Context, keys []PendingKey) (map[PendingKey]int64, error)
	// Write stores w.
	Write(ctx context.Context, w AppendWrite) error
}

// Append applies evs in order within tx and returns one result per event.
// Both implementations call it, so the consent and idempotency rules are
// written once. It fills in each stored event's Seq, ConversationID,
// CustomerID and ReplacesSeq in evs.
func Append(ctx context.Context, tx AppendTx, evs []NewEvent, now time.Time) ([]AppendResult, error) {
	results := make([]AppendResult, len(evs))

	q := AppendQuery{Links: make([]string, 0, len(evs)), Existing: map[string][]string{}}
	for _, e := range evs {
		q.Links = append(q.Links, e.LinkID)
		if e.BankEventID != "" {
			q.Existing[e.InstitutionID] = append(q.Existing[e.InstitutionID], e.BankEventID)
		}
		if e.Notice != nil && !e.Notice.LeaseUntil.IsZero() {
			q.Notifying = append(q.Notifying, e.LinkID)
		}
	}
	slices.Sort(q.Links)
	q.Links = slices.Compact(q.Links)
	slices.Sort(q.Notifying)
	q.Notifying = slices.Compact(q.Notifying)
	st, err := tx.Read(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("store: read links and events: %w", err)
	}
	existing, seqs := st.Existing, st.LastSeqs
	if existing == nil {
		existing = map[EventKey]Stored{}
	}

	// Which consent each event meets, decided first so that the pending
	// transactions the accepted ones replace are looked up in one go.
	refused := make([]error, len(evs))
	var lookups []PendingKey
	for i := range evs {
		e := &evs[i]
		l, ok := st.Links[e.LinkID]
		switch {
		case !ok || l.InstitutionID != e.InstitutionID || (e.CustomerID != "" && l.CustomerID != e.CustomerID):
			refused[i] = ErrUnknownLink
		case l.Status == LinkRevoked:
			refused[i] = ErrConsentRevoked
		case !now.Before(l.ExpiresAt):
			refused[i] = ErrConsentExpired
		case e.Scope != "" && !l.HasScope(e.Scope):
			refused[i] = ErrConsentScope
		case vault.SealedVersion(e.Sealed) != 0 && vault.SealedVersion(e.Sealed) != l.KeyVersion:
			refused[i] = ErrStaleKey
		case e.ReplacesRef != nil:
			lookups = append(lookups, PendingKey{l.ConversationID, string(e.ReplacesRef)})
		}
	}
	var stored map[PendingKey]int64
	if len(lookups) > 0 {
		slices.SortFunc(lookups, func(a, b PendingKey) int {
			if c := strings.Compare(a.ConversationID, b.ConversationID); c != 0 {
				return c
			}
			return strings.Compare(a.Ref, b.Ref)
		})
		if stored, err = tx.PendingSeqs(ctx, slices.Compact(lookups)); err != nil {
			return nil, fmt.Errorf("store: find pending events: %w", err)
		}
	}

	// A bundle is stored all or none: one member refused, or stored before
	// (or taken by an earlier event of this batch), holds back the others.
	held := map[string]bool{}
	for i := range evs {
		e := &evs[i]
		if e.Bundle == "" {
			continue
		}
		_, stored := existing[EventKey{e.InstitutionID, e.BankEventID}]
		taken := e.BankEventID != "" && slices.ContainsFunc(evs[:i], func(o NewEvent) bool {
			return o.InstitutionID == e.InstitutionID && o.BankEventID == e.BankEventID
		})
		if refused[i] != nil || (e.BankEventID != "" && stored) || taken {
			held[e.Bundle] = true
		}
	}

	w := AppendWrite{Events: make([]*NewEvent, 0, len(evs)), LastSeqs: map[string]int64{}}
	pendingHere := map[PendingKey]int64{} // pending events of this batch
	busy := st.BusyLinks                  // links whose next notice must wait its turn
	if busy == nil {
		busy = map[string]bool{}
	}
	for i := range evs {
		e := &evs[i]
		r := &results[i]
		key := EventKey{e.InstitutionID, e.BankEventID}
		if e.Bundle != "" && held[e.Bundle] {
			// The member that holds the bundle back answers for itself
			// below; the others were not stored.
			if _, stored := existing[key]; refused[i] == nil && (e.BankEventID == "" || !stored) {
				r.Err = ErrBundle
				continue
			}
		}
		if e.BankEventID != "" {
			if st, ok := existing[key]; ok {
				if bytes.Equal(st.Fingerprint, e.Fingerprint) {
					*r = AppendResult{Seq: st.Seq, ConversationID: st.ConversationID, Duplicate: true}
				} else {
					r.Err = ErrIdempotencyConflict
				}
				continue
			}
		}
		if refused[i] != nil {
			r.Err = refused[i]
			continue
		}
		l := st.Links[e.LinkID]
		last, ok := seqs[l.ConversationID]
		if !ok {
			// Read locked the conversation with its link; one it could not
			// find would get events nobody can read (PostgreSQL keeps no
			// foreign key on the events for this: the lock is the check).
			return nil, fmt.Errorf("store: conversation %s of link %s not found", l.ConversationID, l.ID)
		}
		e.ConversationID = l.ConversationID
		e.CustomerID = l.CustomerID
		e.Seq = last + 1
		if e.ReplacesRef != nil {
			k := PendingKey{l.ConversationID, string(e.ReplacesRef)}
			if seq, ok := pendingHere[k]; ok {
				e.ReplacesSeq = seq
			} else if seq, ok := stored[k]; ok {
				e.ReplacesSeq = seq
			}
		}
		if e.PendingRef != nil {
			pendingHere[PendingKey{l.ConversationID, string(e.PendingRef)}] = e.Seq
		}
		seqs[l.ConversationID] = e.Seq
		w.LastSeqs[l.ConversationID] = e.Seq
		w.Events = append(w.Events, e)
		*r = AppendResult{Seq: e.Seq, ConversationID: e.ConversationID, ReplacesSeq: e.ReplacesSeq}
		if e.Notice != nil {
			n := *e.Notice
			n.InstitutionID, n.LinkID = l.InstitutionID, l.ID
			if n.Sealed != nil && n.CustomerID != l.CustomerID {
				return nil, fmt.Errorf("store: notice %s is sealed for another customer", n.ID)
			}
			// Only a link's first pending notice may go at once: a link's
			// notices reach the bank in the order they were queued.
			if busy[l.ID] {
				n.LeaseUntil = time.Time{}
			}
			busy[l.ID] = true
			if !n.LeaseUntil.IsZero() {
				leased := n
				r.Leased = &leased
			}
			w.Notices = append(w.Notices, n)
		}
		if e.BankEventID != "" {
			// A later event of this batch with the same id is a duplicate
			// of this one, or a conflict with it.
			existing[key] = Stored{Fingerprint: e.Fingerprint, ConversationID: e.ConversationID, Seq: e.Seq}
		}
	}
	if len(w.Events) > 0 {
		if err := tx.Write(ctx, w); err != nil {
			return nil, fmt.Errorf("store: write %d events: %w", len(w.Events), err)
		}
	}
	return results, nil
}
