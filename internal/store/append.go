package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"time"
)

// AppendTx is what one implementation's transaction offers Append. Append
// holds the rules (idempotency, consent, sequence); an implementation only
// reads and writes rows, inside one transaction that it commits after Append
// returns without error.
type AppendTx interface {
	// Existing finds an event by its institution's id.
	Existing(ctx context.Context, institutionID, bankEventID string) (fingerprint []byte, conversationID string, seq int64, found bool, err error)
	// LockLink reads the link and holds it against concurrent revocation
	// until the transaction ends.
	LockLink(ctx context.Context, id string) (Link, bool, error)
	// LockConversation reads the conversation's last seq and holds it against
	// concurrent appends until the transaction ends.
	LockConversation(ctx context.Context, id string) (int64, error)
	// PendingSeq finds the newest event of the conversation marked with ref.
	PendingSeq(ctx context.Context, conversationID string, ref []byte) (int64, bool, error)
	Insert(ctx context.Context, e *NewEvent) error
	SetLastSeq(ctx context.Context, conversationID string, seq int64) error
}

// Append applies evs in order within tx and returns one result per event.
// Both implementations call it, so the consent and idempotency rules are
// written once.
func Append(ctx context.Context, tx AppendTx, evs []NewEvent, now time.Time) ([]AppendResult, error) {
	results := make([]AppendResult, len(evs))
	// Lock every link, then every conversation, each in sorted order, so two
	// concurrent batches cannot deadlock on each other's rows.
	linkIDs := make([]string, 0, len(evs))
	for _, e := range evs {
		linkIDs = append(linkIDs, e.LinkID)
	}
	slices.Sort(linkIDs)
	linkIDs = slices.Compact(linkIDs)
	links := make(map[string]Link, len(linkIDs))
	convIDs := make([]string, 0, len(linkIDs))
	for _, id := range linkIDs {
		l, found, err := tx.LockLink(ctx, id)
		if err != nil {
			return nil, err
		}
		if found {
			links[id] = l
			convIDs = append(convIDs, l.ConversationID)
		}
	}
	slices.Sort(convIDs)
	convIDs = slices.Compact(convIDs)
	seqs := make(map[string]int64, len(convIDs)) // conversation → last seq
	for _, id := range convIDs {
		last, err := tx.LockConversation(ctx, id)
		if err != nil {
			return nil, err
		}
		seqs[id] = last
	}
	changed := map[string]bool{}
	for i := range evs {
		e := &evs[i]
		r := &results[i]
		if e.BankEventID != "" {
			fp, conv, seq, found, err := tx.Existing(ctx, e.InstitutionID, e.BankEventID)
			if err != nil {
				return nil, err
			}
			if found {
				if bytes.Equal(fp, e.Fingerprint) {
					*r = AppendResult{Seq: seq, ConversationID: conv, Duplicate: true}
				} else {
					r.Err = ErrIdempotencyConflict
				}
				continue
			}
		}
		l := links[e.LinkID]
		switch {
		case l.ID == "" || l.InstitutionID != e.InstitutionID || (e.CustomerID != "" && l.CustomerID != e.CustomerID):
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
		}
		last := seqs[l.ConversationID]
		e.ConversationID = l.ConversationID
		e.CustomerID = l.CustomerID
		e.Seq = last + 1
		if e.ReplacesRef != nil {
			seq, found, err := tx.PendingSeq(ctx, l.ConversationID, e.ReplacesRef)
			if err != nil {
				return nil, err
			}
			if found {
				e.ReplacesSeq = seq
			}
		}
		if err := tx.Insert(ctx, e); err != nil {
			return nil, fmt.Errorf("store: insert event: %w", err)
		}
		seqs[l.ConversationID] = e.Seq
		changed[l.ConversationID] = true
		*r = AppendResult{Seq: e.Seq, ConversationID: e.ConversationID}
		// A later event of this call with the same bank id is a duplicate of
		// this one; Existing sees the row just inserted.
	}
	for conv := range changed {
		if err := tx.SetLastSeq(ctx, conv, seqs[conv]); err != nil {
			return nil, err
		}
	}
	return results, nil
}
