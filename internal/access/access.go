// Package access writes down every read of a customer's financial data by
// anyone other than the customer's own devices (delegates and the bank's
// agents; the Bank API and operator commands have no read of content), before
// the data is returned, in a log the customer can verify.
//
// The log is a Merkle tree (package tlog): each entry is a leaf at a gapless
// index, and checkpoints of the tree's size and root are signed with a key
// derived from the root key (vault). A customer's history comes with an
// inclusion proof for each entry against the newest checkpoint, and with a
// consistency proof from the checkpoint their browser saw last, so entries
// cannot be altered, dropped or reordered without the browser noticing.
// Proofs are made from the kept hashes of the tree's perfect subtrees
// (kept as the log grows), so a request costs about log2 of the log's size
// hashes per proof, not the whole log. `openteller audit verify` rehashes
// the whole log against every checkpoint and every kept subtree.
//
// What must stay true: Record returns before the caller shows anything, and
// a failed Record means the read does not happen. An entry says who (actor
// kind and id), what (action, record kind), whose (a per-customer
// pseudonym, never a name) and when; never content, never personal data,
// so clearing a customer's history never conflicts with the log.
package access

import (
	"cmp"
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
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
	Store   store.AccessLog
	Keyring *vault.Keyring
	Now     func() time.Time
	// Origin names the log in checkpoints, and its signing key; a
	// deployment's public address ("bank.example/access-log") by custom.
	Origin string

	keptSize atomic.Uint64 // the size of the last checkpoint this node kept
	keepOnce sync.Once
	keeping  chan struct{} // holds a token while a keepNodes runs: one at a time on this node
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
	if err := l.keepNodes(ctx, size); err != nil {
		return h, err
	}
	entries, err := l.Store.LogEntries(ctx, subject)
	if err != nil {
		return h, fmt.Errorf("access: entries: %w", err)
	}
	var indexes []uint64
	for _, e := range entries {
		if e.Index >= size {
			break // appended after the checkpoint: in the next one
		}
		p := Proven{Index: e.Index, Data: e.Data}
		if err := json.Unmarshal(e.Data, &p.Entry); err != nil {
			return h, fmt.Errorf("access: entry %d: %w", e.Index, err)
		}
		h.Entries = append(h.Entries, p)
		indexes = append(indexes, e.Index)
	}
	if since >= size {
		since = 0 // nothing to prove; a browser that saw more warns by itself
	}
	proofs, err := tlog.Prove(size, indexes, since, l.readNodes(ctx))
	if err != nil {
		return h, fmt.Errorf("access: proofs: %w", err)
	}
	for i := range h.Entries {
		h.Entries[i].Proof = proofs.Inclusion[i]
	}
	h.Size, h.Consistency = size, proofs.Consistency
	h.Checkpoint, err = l.checkpoint(ctx, size, proofs.Root)
	return h, err
}

// KeepUp keeps the subtree hashes of the whole log as it is now, so that
// history requests find them ready; each node runs it in the background.
func (l *Log) KeepUp(ctx context.Context) error {
	size, err := l.Store.LogSize(ctx)
	if err != nil {
		return fmt.Errorf("access: log size: %w", err)
	}
	return l.keepNodes(ctx, size)
}

// nodeChunk is how many entries keepNodes hashes per write, so that a log
// kept for the first time does not hold the store's writer for long.
const nodeChunk = 4096

// keepNodes keeps the hashes of the perfect subtrees that the first size
// entries complete, carrying on from where the kept ones end. Every node
// computes the same hashes, so nodes racing here write the same rows.
func (l *Log) keepNodes(ctx context.Context, size uint64) error {
	// One at a time, so the first request on a long log does the work
	// once; waiting gives way to the caller's deadline (a shutdown).
	l.keepOnce.Do(func() { l.keeping = make(chan struct{}, 1) })
	select {
	case l.keeping <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-l.keeping }()
	from, _, err := l.Store.LogNodesCover(ctx)
	if err != nil {
		return fmt.Errorf("access: kept nodes: %w", err)
	}
	for from+2 <= size {
		if err := ctx.Err(); err != nil {
			return err // the rest waits for the next call
		}
		to := min(size, from+nodeChunk)
		frontier, err := l.readNodes(ctx)(tlog.Frontier(from))
		if err != nil {
			return fmt.Errorf("access: frontier at %d: %w", from, err)
		}
		leaves, err := l.Store.LeafHashes(ctx, from, to)
		if err != nil {
			return fmt.Errorf("access: leaf hashes: %w", err)
		}
		if uint64(len(leaves)) != to-from {
			return fmt.Errorf("%w: %d entries in [%d, %d)", ErrTampered, len(leaves), from, to)
		}
		nodes, err := tlog.Complete(from, frontier, leaves)
		if err != nil {
			return err
		}
		kept := make([]store.LogNode, len(nodes))
		for i, n := range nodes {
			kept[i] = store.LogNode{LogNodeID: store.LogNodeID{Level: n.ID.Level, Index: n.ID.Index}, Hash: n.Hash}
		}
		if err := l.Store.PutLogNodes(ctx, kept); err != nil {
			return fmt.Errorf("access: keep nodes: %w", err)
		}
		from = to &^ 1 // an odd last leaf completes nothing yet
	}
	return nil
}

// readNodes reads kept subtrees for tlog.Prove.
func (l *Log) readNodes(ctx context.Context) func([]tlog.NodeID) ([]tlog.Hash, error) {
	return func(ids []tlog.NodeID) ([]tlog.Hash, error) {
		sids := make([]store.LogNodeID, len(ids))
		for i, id := range ids {
			sids[i] = store.LogNodeID{Level: id.Level, Index: id.Index}
		}
		return l.Store.LogNodes(ctx, sids)
	}
}

// checkpoint returns the signed checkpoint of the tree of leaves, signing
// and keeping one if none of this size exists. Signatures are deterministic
// (Ed25519), so two nodes signing the same size write the same note.
func (l *Log) checkpoint(ctx context.Context, size uint64, root tlog.Hash) (string, error) {
	c := tlog.Checkpoint{Origin: l.origin(), Size: size, Root: root}
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
	if l.keptSize.Load() == size && size > 0 {
		return note, nil // kept already; the same signature, as it is deterministic
	}
	if err := l.Store.PutCheckpoint(ctx, store.StoredCheckpoint{Size: c.Size, Note: note, CreatedAt: l.now()}); err != nil {
		return "", fmt.Errorf("access: keep checkpoint: %w", err)
	}
	l.keptSize.Store(size)
	return note, nil
}

// Problems found by Audit.
var (
	ErrTampered = errors.New("access: the log does not match its checkpoints")
)

// auditChunk is how many entries Audit reads at a time.
const auditChunk = 1 << 16

// Audit checks the whole stored log: indexes gapless, every leaf hash that
// of its entry's bytes, every kept subtree hash that of the entries below
// it, every kept checkpoint signed by the log's key and naming the root of
// the tree at its size. With a saved checkpoint note (from an earlier
// audit, or from a customer), it also checks that the log still extends
// it. It reads the log once, a chunk at a time, and returns the newest
// checkpoint, signed now if the log has grown since the last, to save for
// the next audit.
func (l *Log) Audit(ctx context.Context, saved string) (tlog.Checkpoint, string, error) {
	fail := func(format string, args ...any) (tlog.Checkpoint, string, error) {
		return tlog.Checkpoint{}, "", fmt.Errorf("%w: "+format, append([]any{ErrTampered}, args...)...)
	}
	// Checkpoints and kept subtrees before the size: whatever nodes add
	// meanwhile is of a size this audit reads.
	cps, err := l.Store.Checkpoints(ctx)
	if err != nil {
		return tlog.Checkpoint{}, "", err
	}
	cover, kept, err := l.Store.LogNodesCover(ctx)
	if err != nil {
		return tlog.Checkpoint{}, "", err
	}
	size, err := l.Store.LogSize(ctx)
	if err != nil {
		return tlog.Checkpoint{}, "", err
	}
	pub, err := l.Keyring.LogPublicKey(ctx)
	if err != nil {
		return tlog.Checkpoint{}, "", err
	}
	// Every checkpoint's signature first; their roots as the log is read.
	type claim struct {
		what string
		c    tlog.Checkpoint
	}
	var claims []claim
	open := func(note, what string) error {
		c, err := tlog.OpenCheckpoint(note, l.origin(), l.origin(), pub)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrTampered, what, err)
		}
		if c.Size > size {
			return fmt.Errorf("%w: %s is of %d entries; the log has %d", ErrTampered, what, c.Size, size)
		}
		claims = append(claims, claim{what, c})
		return nil
	}
	for _, sc := range cps {
		if err := open(sc.Note, "a kept checkpoint"); err != nil {
			return tlog.Checkpoint{}, "", err
		}
		if c := claims[len(claims)-1].c; c.Size != sc.Size {
			return fail("checkpoint kept as size %d says %d", sc.Size, c.Size)
		}
	}
	if saved != "" {
		if err := open(saved, "the saved checkpoint"); err != nil {
			return tlog.Checkpoint{}, "", err
		}
	}
	slices.SortStableFunc(claims, func(a, b claim) int { return cmp.Compare(a.c.Size, b.c.Size) })

	b, _ := tlog.NewBuilder(0, nil)
	checkClaims := func() error {
		for len(claims) > 0 && claims[0].c.Size == b.Size() {
			if claims[0].c.Root != b.Root() {
				return fmt.Errorf("%w: %s (size %d) names another root", ErrTampered, claims[0].what, b.Size())
			}
			claims = claims[1:]
		}
		return nil
	}
	if err := checkClaims(); err != nil {
		return tlog.Checkpoint{}, "", err
	}
	var completed []tlog.Node
	var checked uint64 // kept subtrees compared with their rehash
	for from := uint64(0); from < size; from += auditChunk {
		entries, err := l.Store.LogRange(ctx, from, min(size, from+auditChunk))
		if err != nil {
			return tlog.Checkpoint{}, "", err
		}
		completed = completed[:0]
		for _, e := range entries {
			if e.Index != b.Size() {
				return fail("entry %d is missing", b.Size())
			}
			if tlog.LeafHash(e.Data) != e.LeafHash {
				return fail("entry %d was altered", e.Index)
			}
			completed = b.Add(e.LeafHash, completed)
			if err := checkClaims(); err != nil {
				return tlog.Checkpoint{}, "", err
			}
		}
		n, err := l.checkKept(ctx, completed, cover)
		if err != nil {
			return tlog.Checkpoint{}, "", err
		}
		checked += n
	}
	if b.Size() != size {
		return fail("%d entries where the log counts %d", b.Size(), size)
	}
	if checked != kept {
		return fail("%d subtree hashes are kept where the log's entries make %d", kept, checked)
	}
	note, err := l.checkpoint(ctx, size, b.Root())
	if err != nil {
		return tlog.Checkpoint{}, "", err
	}
	c, err := tlog.OpenCheckpoint(note, l.origin(), l.origin(), pub)
	return c, note, err
}

// checkKept compares the kept hashes of subtrees below cover with the
// subtrees as rehashed from their entries, and says how many it compared.
func (l *Log) checkKept(ctx context.Context, rehashed []tlog.Node, cover uint64) (uint64, error) {
	var ids []store.LogNodeID
	var want []tlog.Hash
	for _, n := range rehashed {
		if (n.ID.Index+1)<<n.ID.Level <= cover {
			ids = append(ids, store.LogNodeID{Level: n.ID.Level, Index: n.ID.Index})
			want = append(want, n.Hash)
		}
	}
	if len(ids) == 0 {
		return 0, nil
	}
	kept, err := l.Store.LogNodes(ctx, ids)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return 0, fmt.Errorf("%w: a kept subtree is missing (%v)", ErrTampered, err)
	case errors.Is(err, store.ErrCorrupt):
		return 0, fmt.Errorf("%w: %v", ErrTampered, err)
	case err != nil:
		return 0, err
	}
	for i := range ids {
		if kept[i] != want[i] {
			return 0, fmt.Errorf("%w: the kept subtree at level %d, index %d does not match its entries", ErrTampered, ids[i].Level, ids[i].Index)
		}
	}
	return uint64(len(ids)), nil
}
