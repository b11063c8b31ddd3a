package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/openteller/openteller/internal/vault"
)

// Stored is what Append needs to know of an event already in the store.
type Stored struct {
	Fingerprint    []byte
	ConversationID string
	Seq            int64
}

// AppendTx is what one implementation's transaction offers Append. Append
// holds the rules (idempotency, consent, sequence); an implementation only
// reads and writes rows, inside one transaction that it commits after Append
// returns without error. Every method takes a whole batch, so an
// implementation over a network can answer each in one round trip.
type AppendTx interface {
	// Existing finds stored events of the institution by its ids.
	Existing(ctx context.Context, institutionID string, bankEventIDs []string) (map[string]Stored, error)
	// LockLinks reads the links and holds them against concurrent
	// revocation until the transaction ends, with each one's KeyVersion
	// (the current version of vault.ConversationKey of its customer and
	// institution). ids are sorted; locks must be taken in that order.
	LockLinks(ctx context.Context, ids []string) (map[string]Link, error)
	// LockConversations reads the conversations' last seqs and holds them
	// against concurrent appends until the transaction ends. ids are sorted.
	LockConversations(ctx context.Context, ids []string) (map[string]int64, error)
	// PendingSeq finds the newest stored event of the conversation marked
	// with ref.
	PendingSeq(ctx context.Context, conversationID string, ref []byte) (int64, bool, error)
	// Insert stores the events, in order.
	Insert(ctx context.Context, evs []*NewEvent) error
	// SetLastSeqs records each conversation's new last seq.
	SetLastSeqs(ctx context.Context, last map[string]int64) error
	// InsertNotices queues the notices of stored events.
	InsertNotices(ctx context.Context, ns []Notice) error
}

// Append applies evs in order within tx and returns one result per event.
// Both implementations call it, so the consent and idempotency rules are
// written once.
func Append(ctx context.Context, tx AppendTx, evs []NewEvent, now time.Time) ([]AppendResult, error) {
	results := make([]AppendResult, len(evs))

	// Events this institution sent before, by id.
	byInstitution := map[string][]string{}
	for _, e := range evs {
		if e.BankEventID != "" {
			byInstitution[e.InstitutionID] = append(byInstitution[e.InstitutionID], e.BankEventID)
		}
	}
	existing := map[[2]string]Stored{}
	for inst, ids := range byInstitution {
		found, err := tx.Existing(ctx, inst, ids)
		if err != nil {
			return nil, fmt.Errorf("store: find existing events: %w", err)
		}
		for id, st := range found {
			existing[[2]string{inst, id}] = st
		}
	}

	// Lock every link, then every conversation, each in sorted order, so two
	// concurrent batches cannot deadlock on each other's rows.
	linkIDs := make([]string, 0, len(evs))
	for _, e := range evs {
		linkIDs = append(linkIDs, e.LinkID)
	}
	slices.Sort(linkIDs)
	linkIDs = slices.Compact(linkIDs)
	links, err := tx.LockLinks(ctx, linkIDs)
	if err != nil {
		return nil, fmt.Errorf("store: lock links: %w", err)
	}
	convIDs := make([]string, 0, len(links))
	for _, l := range links {
		convIDs = append(convIDs, l.ConversationID)
	}
	slices.Sort(convIDs)
	convIDs = slices.Compact(convIDs)
	seqs, err := tx.LockConversations(ctx, convIDs)
	if err != nil {
		return nil, fmt.Errorf("store: lock conversations: %w", err)
	}

	changed := map[string]int64{}
	var notices []Notice
	pendingHere := map[string]int64{} // conversation + ref → seq, for pending events of this batch
	insert := make([]*NewEvent, 0, len(evs))
	for i := range evs {
		e := &evs[i]
		r := &results[i]
		key := [2]string{e.InstitutionID, e.BankEventID}
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
		l, ok := links[e.LinkID]
		switch {
		case !ok || l.InstitutionID != e.InstitutionID || (e.CustomerID != "" && l.CustomerID != e.CustomerID):
			r.Err = ErrUnknownLink
			continue
		case l.Status == LinkRevoked:
			r.Err = ErrConsentRevoked
			continue
		case !now.Before(l.ExpiresAt):
			r.Err = ErrConsentExpired
			continue
		case e.Scope != "" && !l.HasScope(e.Scope):
			r.Err = ErrConsentScope
			continue
		case vault.SealedVersion(e.Sealed) != 0 && vault.SealedVersion(e.Sealed) != l.KeyVersion:
			r.Err = ErrStaleKey
			continue
		}
		e.ConversationID = l.ConversationID
		e.CustomerID = l.CustomerID
		e.Seq = seqs[l.ConversationID] + 1
		if e.ReplacesRef != nil {
			if seq, ok := pendingHere[l.ConversationID+"\x00"+string(e.ReplacesRef)]; ok {
				e.ReplacesSeq = seq
			} else if seq, found, err := tx.PendingSeq(ctx, l.ConversationID, e.ReplacesRef); err != nil {
				return nil, fmt.Errorf("store: find pending event: %w", err)
			} else if found {
				e.ReplacesSeq = seq
			}
		}
		if e.PendingRef != nil {
			pendingHere[l.ConversationID+"\x00"+string(e.PendingRef)] = e.Seq
		}
		seqs[l.ConversationID] = e.Seq
		changed[l.ConversationID] = e.Seq
		insert = append(insert, e)
		*r = AppendResult{Seq: e.Seq, ConversationID: e.ConversationID}
		if e.Notice != nil {
			n := *e.Notice
			n.InstitutionID, n.LinkID = l.InstitutionID, l.ID
			if n.Sealed != nil && n.CustomerID != l.CustomerID {
				return nil, fmt.Errorf("store: notice %s is sealed for another customer", n.ID)
			}
			notices = append(notices, n)
		}
		if e.BankEventID != "" {
			// A later event of this batch with the same id is a duplicate
			// of this one, or a conflict with it.
			existing[key] = Stored{Fingerprint: e.Fingerprint, ConversationID: e.ConversationID, Seq: e.Seq}
		}
	}
	if len(insert) > 0 {
		if err := tx.Insert(ctx, insert); err != nil {
			return nil, fmt.Errorf("store: insert events: %w", err)
		}
	}
	if len(changed) > 0 {
		if err := tx.SetLastSeqs(ctx, changed); err != nil {
			return nil, fmt.Errorf("store: set last seqs: %w", err)
		}
	}
	if len(notices) > 0 {
		if err := tx.InsertNotices(ctx, notices); err != nil {
			return nil, fmt.Errorf("store: queue notices: %w", err)
		}
	}
	return results, nil
}
