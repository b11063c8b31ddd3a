// Package access writes down every read of a customer's financial data by
// anyone other than the customer's own devices (a delegate now; agents, the
// bank's API and operator tools later), before the data is returned.
//
// What must stay true: Record returns before the caller shows anything, and
// a failed Record means the read does not happen. An entry says who (actor
// kind and id), what (action, record kind), whose (a per-customer
// pseudonym, never a name) and when; never content, never personal data.
//
// The privacy issue replaces the table behind Log with a tamper-evident
// Merkle log that customers can verify; callers keep this interface.
package access

import (
	"context"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// Actor kinds.
const (
	ActorDelegate = "delegate"
)

// Recorder records reads.
type Recorder interface {
	// Record writes the entry; only when it returns nil may the data be
	// returned to the actor.
	Record(ctx context.Context, actorKind, actorID, action, recordKind, customerID string) error
}

// Log is the Recorder on the store.
type Log struct {
	Store   store.Store
	Keyring *vault.Keyring
	Now     func() time.Time
}

var _ Recorder = (*Log)(nil)

// Subject is the customer's pseudonym in the log: a digest keyed by their
// data key, so the log names nobody, and clearing their history makes old
// entries unlinkable to them.
func (l *Log) Subject(ctx context.Context, customerID string) (string, error) {
	fp, err := l.Keyring.Fingerprint(ctx, customerID, []byte("openteller/access-subject/v1"))
	if err != nil {
		return "", fmt.Errorf("access: subject: %w", err)
	}
	return hex.EncodeToString(fp[:16]), nil
}

func (l *Log) Record(ctx context.Context, actorKind, actorID, action, recordKind, customerID string) error {
	subject, err := l.Subject(ctx, customerID)
	if err != nil {
		return err
	}
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	if err := l.Store.RecordAccess(ctx, store.Access{ActorKind: actorKind, ActorID: actorID, Action: action, RecordKind: recordKind, Subject: subject, At: now().UTC()}); err != nil {
		return fmt.Errorf("access: record: %w", err)
	}
	return nil
}

// History lists the reads of the customer's data, oldest first.
func (l *Log) History(ctx context.Context, customerID string) ([]store.Access, error) {
	subject, err := l.Subject(ctx, customerID)
	if err != nil {
		return nil, err
	}
	return l.Store.Accesses(ctx, subject)
}
