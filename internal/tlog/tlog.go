// Package tlog is the arithmetic of a tamper-evident log: a Merkle tree with
// RFC 6962 / RFC 9162 hashing, inclusion and consistency proofs (making and
// checking them), and checkpoints in the C2SP tlog-checkpoint format.
//
// The access log (package access) keeps every entry's leaf hash in the
// store and signs checkpoints; customers' browsers check inclusion of their
// entries against a checkpoint, and that each new checkpoint extends the
// last one they saw. The messenger's verifier (static/js/tlog.js) follows
// the same algorithms, and both are checked against the same vectors.
//
// What must stay true: verification never trusts the prover (every size,
// index and proof length is checked before use), and making a proof reads
// only leaf hashes, never entries.
package tlog

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math/bits"
)

// Hash is a SHA-256 digest: a leaf, a node or a root.
type Hash = [sha256.Size]byte

// LeafHash is SHA-256(0x00 ‖ data).
func LeafHash(data []byte) Hash {
	h := sha256.New()
	h.Write([]byte{0})
	h.Write(data)
	return Hash(h.Sum(nil))
}

// NodeHash is SHA-256(0x01 ‖ left ‖ right).
func NodeHash(left, right Hash) Hash {
	var b [1 + 2*sha256.Size]byte
	b[0] = 1
	copy(b[1:], left[:])
	copy(b[1+sha256.Size:], right[:])
	return sha256.Sum256(b[:])
}

// EmptyRoot is the root of the tree with no leaves: SHA-256 of nothing.
var EmptyRoot = Hash(sha256.Sum256(nil))

// Root is the Merkle tree hash of the leaves (RFC 9162, 2.1.1).
func Root(leaves []Hash) Hash {
	switch len(leaves) {
	case 0:
		return EmptyRoot
	case 1:
		return leaves[0]
	}
	k := split(len(leaves))
	return NodeHash(Root(leaves[:k]), Root(leaves[k:]))
}

// split is the largest power of two smaller than n (n > 1).
func split(n int) int {
	return 1 << (bits.Len(uint(n-1)) - 1)
}

// InclusionProof is the audit path of leaf index in the tree of the given
// leaves (RFC 9162, 2.1.3.1).
func InclusionProof(index int, leaves []Hash) ([]Hash, error) {
	if index < 0 || index >= len(leaves) {
		return nil, ErrRange
	}
	return path(uint64(index), 0, uint64(len(leaves)), inMemory(leaves)), nil
}

// ConsistencyProof proves that the tree of the first size1 leaves is a
// prefix of the tree of all the leaves (RFC 9162, 2.1.4.1).
func ConsistencyProof(size1 int, leaves []Hash) ([]Hash, error) {
	if size1 < 0 || size1 > len(leaves) {
		return nil, ErrRange
	}
	if size1 == 0 || size1 == len(leaves) {
		return nil, nil
	}
	return subproof(uint64(size1), 0, uint64(len(leaves)), true, inMemory(leaves)), nil
}

// rangeHash is the Merkle tree hash of the leaves [lo, hi). The proofs are
// written once over it: from leaves in memory, or from stored subtrees.
type rangeHash func(lo, hi uint64) Hash

func inMemory(leaves []Hash) rangeHash {
	return func(lo, hi uint64) Hash { return Root(leaves[lo:hi]) }
}

// path is the audit path of leaf m in the subtree [lo, hi).
func path(m, lo, hi uint64, rh rangeHash) []Hash {
	if hi-lo <= 1 {
		return nil
	}
	k := uint64(split(int(hi - lo)))
	if m < lo+k {
		return append(path(m, lo, lo+k, rh), rh(lo+k, hi))
	}
	return append(path(m, lo+k, hi, rh), rh(lo, lo+k))
}

// subproof is SUBPROOF(m, D[lo:hi], whole) of RFC 9162, with m counted
// from leaf 0.
func subproof(m, lo, hi uint64, whole bool, rh rangeHash) []Hash {
	if m == hi {
		if whole {
			return nil
		}
		return []Hash{rh(lo, hi)}
	}
	k := uint64(split(int(hi - lo)))
	if m <= lo+k {
		return append(subproof(m, lo, lo+k, whole, rh), rh(lo+k, hi))
	}
	return append(subproof(m, lo+k, hi, false, rh), rh(lo, lo+k))
}

// Errors of verification.
var (
	ErrRange    = errors.New("tlog: index or size out of range")
	ErrProof    = errors.New("tlog: proof has the wrong length")
	ErrMismatch = errors.New("tlog: proof does not lead to the root")
)

// VerifyInclusion checks that leaf is at index in the tree of size with
// root (RFC 9162, 2.1.3.2).
func VerifyInclusion(leaf Hash, index, size uint64, proof []Hash, root Hash) error {
	if index >= size {
		return ErrRange
	}
	fn, sn := index, size-1
	r := leaf
	for _, p := range proof {
		if sn == 0 {
			return ErrProof
		}
		if fn&1 == 1 || fn == sn {
			r = NodeHash(p, r)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			r = NodeHash(r, p)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return ErrProof
	}
	if r != root {
		return ErrMismatch
	}
	return nil
}

// VerifyConsistency checks that the tree of size1 with root1 is a prefix
// of the tree of size2 with root2 (RFC 9162, 2.1.4.2).
func VerifyConsistency(size1, size2 uint64, proof []Hash, root1, root2 Hash) error {
	switch {
	case size1 > size2:
		return ErrRange
	case size1 == 0:
		// Every tree extends the empty one: such a "proof" proves nothing,
		// and a caller asking for one has a bug.
		return ErrRange
	case size1 == size2:
		if len(proof) != 0 {
			return ErrProof
		}
		if root1 != root2 {
			return ErrMismatch
		}
		return nil
	case len(proof) == 0:
		return ErrProof
	}
	if size1&(size1-1) == 0 { // a power of two: root1 is the first node
		proof = append([]Hash{root1}, proof...)
	}
	fn, sn := size1-1, size2-1
	for fn&1 == 1 {
		fn >>= 1
		sn >>= 1
	}
	fr, sr := proof[0], proof[0]
	for _, c := range proof[1:] {
		if sn == 0 {
			return ErrProof
		}
		if fn&1 == 1 || fn == sn {
			fr = NodeHash(c, fr)
			sr = NodeHash(c, sr)
			if fn&1 == 0 {
				for fn&1 == 0 && fn != 0 {
					fn >>= 1
					sn >>= 1
				}
			}
		} else {
			sr = NodeHash(sr, c)
		}
		fn >>= 1
		sn >>= 1
	}
	if sn != 0 {
		return ErrProof
	}
	if !bytes.Equal(fr[:], root1[:]) || !bytes.Equal(sr[:], root2[:]) {
		return ErrMismatch
	}
	return nil
}
