// Package access writes down every read of a customer's financial data by
// anyone other than the customer's own devices (a delegate now; agents, the
// bank's API and operator tools later), before the data is returned, in a
// log the customer can verify.
//
// The log is a Merkle tree (package tlog): each entry is a leaf at a gapless
// index, and checkpoints of the tree's size and root are signed with a key
// derived from the root key (vault). A customer's history comes with an
// inclusion proof for each entry against the newest checkpoint, and with a
// consistency proof from the checkpoint their browser saw last, so entries
// cannot be altered, dropped or reordered without the browser noticing.
// `openteller audit verify` checks the whole log against every checkpoint.
//
// What must stay true: Record returns before the caller shows anything, and
// a failed Record means the read does not happen. An entry says who (actor
// kind and id), what (action, record kind), whose (a per-customer
// pseudonym, never a name) and when; never content, never personal data,
// so clearing a customer's history never conflicts with the log.
package access

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/tlog"
	"github.com/openteller/openteller/internal/vault"
)

// Actor kinds.
const (
	ActorDelegate = "delegate"
	ActorAgent    = "agent" // one of the bank's people, in the console
)

// DefaultOrigin names the log in its checkpoints when the deployment does
// not give one.
const DefaultOrigin = "openteller/access-log"

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
	// Origin names the log in checkpoints, and its signing key; a
	// deployment's public address ("bank.example/access-log") by custom.
	Origin string
}

var _ Recorder = (*Log)(nil)

// Entry is one read, as the log holds it: these exact JSON bytes are the
// Merkle leaf.
type Entry struct {
	Version    int       `json:"v"`
	ActorKind  string    `json:"actor_kind"`
	ActorID    string    `json:"actor_id"`
	Action     string    `json:"action"`
	RecordKind string    `json:"record_kind"`
	Subject    string    `json:"subject"`
	At         time.Time `json:"at"`
}

func (l *Log) origin() string {
	if l.Origin == "" {
		return DefaultOrigin
	}
	return l.Origin
}

func (l *Log) now() time.Time {
	if l.Now != nil {
		return l.Now().UTC()
	}
	return time.Now().UTC()
}

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
	data, err := json.Marshal(Entry{Version: 1, ActorKind: actorKind, ActorID: actorID, Action: action, RecordKind: recordKind, Subject: subject, At: l.now()})
	if err != nil {
		return fmt.Errorf("access: encode entry: %w", err)
	}
	if _, err := l.Store.AppendLogEntry(ctx, store.LogEntry{Subject: subject, Data: data, LeafHash: tlog.LeafHash(data)}); err != nil {
		return fmt.Errorf("access: record: %w", err)
	}
	return nil
}

// VerifierKey is the log's public key in signed-note form, for anyone who
// wants to check its checkpoints.
func (l *Log) VerifierKey(ctx context.Context) (string, error) {
	pub, err := l.Keyring.LogPublicKey(ctx)
	if err != nil {
		return "", err
	}
	return tlog.VerifierKey(l.origin(), pub), nil
}

// Proven is one of a customer's entries with its proof.
type Proven struct {
	Index uint64
	Data  []byte      // the entry's exact bytes: the leaf
	Entry Entry       // Data, decoded
	Proof []tlog.Hash // inclusion in the checkpoint's tree
}

// History is a customer's entries with everything needed to check them.
type History struct {
	Origin      string
	VerifierKey string
	Checkpoint  string // the newest signed checkpoint note
	Size        uint64
	Entries     []Proven
	// Consistency proves that the tree at the size the customer saw last
	// (since) is a prefix of this one; empty when there is nothing to prove.
	Since       uint64
	Consistency []tlog.Hash
}

// History lists the reads of the customer's data, oldest first, each with
// its inclusion proof against a checkpoint of the whole log as it is now,
// and proves that this checkpoint extends the one of size since.
func (l *Log) History(ctx context.Context, customerID string, since uint64) (History, error) {
	subject, err := l.Subject(ctx, customerID)
	if err != nil {
		return History{}, err
	}
	h := History{Origin: l.origin(), Since: since}
	if h.VerifierKey, err = l.VerifierKey(ctx); err != nil {
		return h, err
	}
	size, err := l.Store.LogSize(ctx)
	if err != nil {
		return h, fmt.Errorf("access: log size: %w", err)
	}
	leaves, err := l.Store.LeafHashes(ctx, size)
	if err != nil {
		return h, fmt.Errorf("access: leaf hashes: %w", err)
	}
	size = uint64(len(leaves))
	if h.Checkpoint, err = l.checkpoint(ctx, leaves); err != nil {
		return h, err
	}
	h.Size = size
	if since > 0 && since < size {
		if h.Consistency, err = tlog.ConsistencyProof(int(since), leaves); err != nil {
			return h, err
		}
	}
	entries, err := l.Store.LogEntries(ctx, subject)
	if err != nil {
		return h, fmt.Errorf("access: entries: %w", err)
	}
	for _, e := range entries {
		if e.Index >= size {
			continue // appended after the checkpoint: in the next one
		}
		p := Proven{Index: e.Index, Data: e.Data}
		if err := json.Unmarshal(e.Data, &p.Entry); err != nil {
			return h, fmt.Errorf("access: entry %d: %w", e.Index, err)
		}
		if p.Proof, err = tlog.InclusionProof(int(e.Index), leaves); err != nil {
			return h, err
		}
		h.Entries = append(h.Entries, p)
	}
	return h, nil
}

// checkpoint returns the signed checkpoint of the tree of leaves, signing
// and keeping one if none of this size exists. Signatures are deterministic
// (Ed25519), so two nodes signing the same size write the same note.
func (l *Log) checkpoint(ctx context.Context, leaves []tlog.Hash) (string, error) {
	c := tlog.Checkpoint{Origin: l.origin(), Size: uint64(len(leaves)), Root: tlog.Root(leaves)}
	pub, err := l.Keyring.LogPublicKey(ctx)
	if err != nil {
		return "", err
	}
	var signErr error
	note, err := tlog.Sign(c.Text(), l.origin(), pub, func(msg []byte) []byte {
		sig, err := l.Keyring.SignLog(ctx, msg)
		signErr = err
		return sig
	})
	if err == nil {
		err = signErr
	}
	if err != nil {
		return "", err
	}
	if err := l.Store.PutCheckpoint(ctx, store.StoredCheckpoint{Size: c.Size, Note: note, CreatedAt: l.now()}); err != nil {
		return "", fmt.Errorf("access: keep checkpoint: %w", err)
	}
	return note, nil
}

// Problems found by Audit.
var (
	ErrTampered = errors.New("access: the log does not match its checkpoints")
)

// Audit checks the whole stored log: indexes gapless, every leaf hash that
// of its entry's bytes, every kept checkpoint signed by the log's key and
// naming the root of the tree at its size. With a saved checkpoint note
// (from an earlier audit, or from a customer), it also checks that the log
// still extends it. It returns the newest checkpoint, signed now if the log
// has grown since the last, to save for the next audit.
func (l *Log) Audit(ctx context.Context, saved string) (tlog.Checkpoint, string, error) {
	size, err := l.Store.LogSize(ctx)
	if err != nil {
		return tlog.Checkpoint{}, "", err
	}
	entries, err := l.Store.LogRange(ctx, 0, size)
	if err != nil {
		return tlog.Checkpoint{}, "", err
	}
	leaves := make([]tlog.Hash, len(entries))
	for i, e := range entries {
		if e.Index != uint64(i) {
			return tlog.Checkpoint{}, "", fmt.Errorf("%w: entry %d is missing", ErrTampered, i)
		}
		if tlog.LeafHash(e.Data) != e.LeafHash {
			return tlog.Checkpoint{}, "", fmt.Errorf("%w: entry %d was altered", ErrTampered, i)
		}
		leaves[i] = e.LeafHash
	}
	if uint64(len(leaves)) != size {
		return tlog.Checkpoint{}, "", fmt.Errorf("%w: %d entries where the log counts %d", ErrTampered, len(leaves), size)
	}
	pub, err := l.Keyring.LogPublicKey(ctx)
	if err != nil {
		return tlog.Checkpoint{}, "", err
	}
	cps, err := l.Store.Checkpoints(ctx)
	if err != nil {
		return tlog.Checkpoint{}, "", err
	}
	check := func(note, what string) (tlog.Checkpoint, error) {
		c, err := tlog.OpenCheckpoint(note, l.origin(), l.origin(), pub)
		if err != nil {
			return c, fmt.Errorf("%w: %s: %v", ErrTampered, what, err)
		}
		if c.Size > uint64(len(leaves)) {
			return c, fmt.Errorf("%w: %s is of %d entries; the log has %d", ErrTampered, what, c.Size, len(leaves))
		}
		if tlog.Root(leaves[:c.Size]) != c.Root {
			return c, fmt.Errorf("%w: %s (size %d) names another root", ErrTampered, what, c.Size)
		}
		return c, nil
	}
	for _, sc := range cps {
		c, err := check(sc.Note, "a kept checkpoint")
		if err != nil {
			return c, "", err
		}
		if c.Size != sc.Size {
			return c, "", fmt.Errorf("%w: checkpoint kept as size %d says %d", ErrTampered, sc.Size, c.Size)
		}
	}
	if saved != "" {
		if _, err := check(saved, "the saved checkpoint"); err != nil {
			return tlog.Checkpoint{}, "", err
		}
	}
	note, err := l.checkpoint(ctx, leaves)
	if err != nil {
		return tlog.Checkpoint{}, "", err
	}
	c, err := tlog.OpenCheckpoint(note, l.origin(), l.origin(), pub)
	return c, note, err
}
