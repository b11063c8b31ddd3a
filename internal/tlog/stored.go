package tlog

import (
	"cmp"
	"fmt"
	"maps"
	"math/bits"
	"slices"
)

// A log too large to rehash on every request keeps the hash of each
// perfect subtree — a run of 2^l leaves starting at a multiple of 2^l — once
// it is complete (Complete). The root and any proof of any size are then
// made from a few of them per proof (Prove), whatever the log's size.

// NodeID names a perfect subtree: at Level l, Index i covers the leaves
// [i·2^l, (i+1)·2^l). Level 0 is a leaf.
type NodeID struct {
	Level uint8
	Index uint64
}

// Node is a perfect subtree and its hash.
type Node struct {
	ID   NodeID
	Hash Hash
}

// Frontier names the perfect subtrees that make up the tree of size
// leaves, largest (leftmost) first: what the leaves after it build on.
func Frontier(size uint64) []NodeID {
	var out []NodeID
	for l := bits.Len64(size); l > 0; l-- {
		level := uint8(l - 1)
		if size&(1<<level) != 0 {
			out = append(out, NodeID{Level: level, Index: size>>level - 1})
		}
	}
	return out
}

// Complete returns the perfect subtrees above the leaves (level ≥ 1) that
// leaves appended to a tree of size complete, in the order they complete.
// frontier holds the hashes of Frontier(size).
func Complete(size uint64, frontier []Hash, leaves []Hash) ([]Node, error) {
	b, err := NewBuilder(size, frontier)
	if err != nil {
		return nil, err
	}
	var out []Node
	for _, leaf := range leaves {
		out = b.Add(leaf, out)
	}
	return out, nil
}

// Builder hashes a tree a leaf at a time, holding only its frontier, so
// the root at every size on the way costs O(log n) and no more memory.
type Builder struct {
	size  uint64
	stack []Node // Frontier(size), largest first
}

// NewBuilder carries on from a tree of size leaves whose Frontier has
// these hashes (none for an empty tree).
func NewBuilder(size uint64, frontier []Hash) (*Builder, error) {
	ids := Frontier(size)
	if len(frontier) != len(ids) {
		return nil, fmt.Errorf("%w: %d frontier hashes for a tree of %d", ErrRange, len(frontier), size)
	}
	b := &Builder{size: size, stack: make([]Node, len(ids))}
	for i, id := range ids {
		b.stack[i] = Node{ID: id, Hash: frontier[i]}
	}
	return b, nil
}

// Add appends a leaf and appends to completed the perfect subtrees above
// the leaves that it completes.
func (b *Builder) Add(leaf Hash, completed []Node) []Node {
	n := Node{ID: NodeID{Index: b.size}, Hash: leaf}
	for len(b.stack) > 0 && b.stack[len(b.stack)-1].ID.Level == n.ID.Level {
		left := b.stack[len(b.stack)-1]
		b.stack = b.stack[:len(b.stack)-1]
		n = Node{ID: NodeID{Level: n.ID.Level + 1, Index: left.ID.Index / 2}, Hash: NodeHash(left.Hash, n.Hash)}
		completed = append(completed, n)
	}
	b.stack = append(b.stack, n)
	b.size++
	return completed
}

// Size is the number of leaves so far.
func (b *Builder) Size() uint64 { return b.size }

// Root is the tree hash of the leaves so far.
func (b *Builder) Root() Hash {
	if len(b.stack) == 0 {
		return EmptyRoot
	}
	r := b.stack[len(b.stack)-1].Hash
	for i := len(b.stack) - 2; i >= 0; i-- {
		r = NodeHash(b.stack[i].Hash, r)
	}
	return r
}

// Proofs are what Prove makes for a tree of one size.
type Proofs struct {
	Root      Hash
	Inclusion [][]Hash // one audit path per index asked for, in order
	// Consistency proves the tree of the size asked for a prefix of this
	// one; nil when there is nothing to prove.
	Consistency []Hash
}

// Prove makes, for the tree of its first size leaves, the root, the
// inclusion proof of each of indexes, and the consistency proof from size
// since (none when since is 0 or size), from the hashes of perfect
// subtrees. It asks read once for all it needs, in NodeID order: about
// log2(size) hashes per proof, never more than its square.
func Prove(size uint64, indexes []uint64, since uint64, read func([]NodeID) ([]Hash, error)) (Proofs, error) {
	for _, i := range indexes {
		if i >= size {
			return Proofs{}, ErrRange
		}
	}
	if since > size {
		return Proofs{}, ErrRange
	}
	if size == 0 {
		return Proofs{Root: EmptyRoot, Inclusion: [][]Hash{}}, nil
	}
	run := func(get func(NodeID) Hash) Proofs {
		rh := func(lo, hi uint64) Hash { return fromNodes(lo, hi, get) }
		p := Proofs{Root: rh(0, size), Inclusion: make([][]Hash, len(indexes))}
		for i, index := range indexes {
			p.Inclusion[i] = path(index, 0, size, rh)
		}
		if since > 0 && since < size {
			p.Consistency = subproof(since, 0, size, true, rh)
		}
		return p
	}
	need := map[NodeID]bool{}
	run(func(id NodeID) Hash { need[id] = true; return Hash{} })
	ids := slices.SortedFunc(maps.Keys(need), func(a, b NodeID) int {
		return cmp.Or(cmp.Compare(a.Level, b.Level), cmp.Compare(a.Index, b.Index))
	})
	hashes, err := read(ids)
	if err != nil {
		return Proofs{}, err
	}
	if len(hashes) != len(ids) {
		return Proofs{}, fmt.Errorf("tlog: %d hashes read for %d nodes", len(hashes), len(ids))
	}
	got := make(map[NodeID]Hash, len(ids))
	for i, id := range ids {
		got[id] = hashes[i]
	}
	return run(func(id NodeID) Hash { return got[id] }), nil
}

// fromNodes is the hash of the leaves [lo, hi) for a range the RFC's
// recursion makes: lo is a multiple of the smallest power of two at least
// hi-lo, so a range of 2^l leaves is the perfect subtree at level l.
func fromNodes(lo, hi uint64, get func(NodeID) Hash) Hash {
	n := hi - lo
	if n&(n-1) == 0 {
		level := uint8(bits.TrailingZeros64(n))
		return get(NodeID{Level: level, Index: lo >> level})
	}
	k := uint64(split(int(n)))
	return NodeHash(fromNodes(lo, lo+k, get), fromNodes(lo+k, hi, get))
}
