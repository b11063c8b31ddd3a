package tlog

import (
	"errors"
	"fmt"
	"slices"
	"testing"
)

// storedTree keeps what a store keeps: leaves, and the perfect subtrees
// Complete returns as the leaves arrive in batches of the given sizes.
func storedTree(t *testing.T, leaves []Hash, batches ...int) map[NodeID]Hash {
	t.Helper()
	kept := map[NodeID]Hash{}
	for i, l := range leaves {
		kept[NodeID{Index: uint64(i)}] = l
	}
	for size, b := uint64(0), 0; size < uint64(len(leaves)); b++ {
		n := uint64(batches[b%len(batches)])
		n = min(n, uint64(len(leaves))-size)
		var frontier []Hash
		for _, id := range Frontier(size) {
			h, ok := kept[id]
			if !ok {
				t.Fatalf("frontier of %d names %+v, which is not kept", size, id)
			}
			frontier = append(frontier, h)
		}
		nodes, err := Complete(size, frontier, leaves[size:size+n])
		if err != nil {
			t.Fatal(err)
		}
		for _, nd := range nodes {
			if _, dup := kept[nd.ID]; dup {
				t.Fatalf("%+v completed twice", nd.ID)
			}
			kept[nd.ID] = nd.Hash
		}
		size += n
	}
	return kept
}

// TestCompleteKeepsEveryPerfectSubtree: whatever the batches, every
// perfect subtree inside the tree is kept, with the hash of its leaves.
func TestCompleteKeepsEveryPerfectSubtree(t *testing.T) {
	leaves := testLeaves(77)
	for _, batches := range [][]int{{1}, {3, 1, 7}, {64}, {77}} {
		kept := storedTree(t, leaves, batches...)
		want := 0
		for level := 0; 1<<level <= len(leaves); level++ {
			for i := 0; (i+1)<<level <= len(leaves); i++ {
				want++
				got, ok := kept[NodeID{Level: uint8(level), Index: uint64(i)}]
				if !ok || got != Root(leaves[i<<level:(i+1)<<level]) {
					t.Fatalf("batches %v: subtree level %d index %d kept %v", batches, level, i, ok)
				}
			}
		}
		if len(kept) != want {
			t.Fatalf("batches %v: %d kept, want %d", batches, len(kept), want)
		}
	}
}

// TestProveMatchesInMemory: for every size up to 70, every index and every
// earlier size, proofs from kept subtrees are the proofs from the leaves.
func TestProveMatchesInMemory(t *testing.T) {
	leaves := testLeaves(70)
	kept := storedTree(t, leaves, 5, 2)
	reads := 0
	read := func(ids []NodeID) ([]Hash, error) {
		reads++
		if !slices.IsSortedFunc(ids, func(a, b NodeID) int {
			if a.Level != b.Level {
				return int(a.Level) - int(b.Level)
			}
			return int(a.Index) - int(b.Index)
		}) {
			return nil, errors.New("ids not in order")
		}
		out := make([]Hash, len(ids))
		for i, id := range ids {
			h, ok := kept[id]
			if !ok {
				return nil, fmt.Errorf("%+v is not kept", id)
			}
			out[i] = h
		}
		return out, nil
	}
	for size := 1; size <= len(leaves); size++ {
		tree := leaves[:size]
		indexes := make([]uint64, size)
		for i := range indexes {
			indexes[i] = uint64(i)
		}
		for since := 0; since <= size; since++ {
			reads = 0
			p, err := Prove(uint64(size), indexes, uint64(since), read)
			if err != nil {
				t.Fatalf("size %d since %d: %v", size, since, err)
			}
			if reads != 1 {
				t.Fatalf("size %d: %d reads, want 1", size, reads)
			}
			if p.Root != Root(tree) {
				t.Fatalf("size %d: root differs", size)
			}
			for i := range indexes {
				want, _ := InclusionProof(i, tree)
				if !slices.Equal(p.Inclusion[i], want) {
					t.Fatalf("size %d index %d: inclusion differs", size, i)
				}
			}
			want, _ := ConsistencyProof(since, tree)
			if !slices.Equal(p.Consistency, want) {
				t.Fatalf("size %d since %d: consistency differs", size, since)
			}
		}
	}
	if _, err := Prove(5, []uint64{5}, 0, read); !errors.Is(err, ErrRange) {
		t.Fatalf("an index outside the tree: %v", err)
	}
	if _, err := Prove(5, nil, 6, read); !errors.Is(err, ErrRange) {
		t.Fatalf("since beyond the tree: %v", err)
	}
	if p, err := Prove(0, nil, 0, read); err != nil || p.Root != EmptyRoot {
		t.Fatalf("the empty tree: %v", err)
	}
	missing := func([]NodeID) ([]Hash, error) { return nil, errors.New("store down") }
	if _, err := Prove(9, []uint64{3}, 0, missing); err == nil {
		t.Fatal("a failed read went unnoticed")
	}
}

// TestBuilderRoots: a builder's root at every size is the tree's.
func TestBuilderRoots(t *testing.T) {
	leaves := testLeaves(40)
	b, _ := NewBuilder(0, nil)
	if b.Root() != EmptyRoot {
		t.Fatal("empty root")
	}
	for i, l := range leaves {
		b.Add(l, nil)
		if b.Size() != uint64(i+1) || b.Root() != Root(leaves[:i+1]) {
			t.Fatalf("size %d: root differs", i+1)
		}
	}
	if _, err := NewBuilder(6, make([]Hash, 1)); !errors.Is(err, ErrRange) {
		t.Fatalf("a frontier of the wrong length: %v", err)
	}
}

// TestFrontier names the subtrees of a few sizes by hand.
func TestFrontier(t *testing.T) {
	for size, want := range map[uint64][]NodeID{
		0:  nil,
		1:  {{0, 0}},
		6:  {{2, 0}, {1, 2}},
		7:  {{2, 0}, {1, 2}, {0, 6}},
		8:  {{3, 0}},
		13: {{3, 0}, {2, 2}, {0, 12}},
	} {
		if got := Frontier(size); !slices.Equal(got, want) {
			t.Errorf("Frontier(%d) = %v, want %v", size, got, want)
		}
	}
}

func testLeaves(n int) []Hash {
	out := make([]Hash, n)
	for i := range out {
		out[i] = LeafHash(fmt.Appendf(nil, "entry %d", i))
	}
	return out
}
