package tlog

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/openteller/openteller/internal/testenv"
)

// b64 decodes a vector's hash; false when it is not 32 bytes, which the
// Hash type cannot even hold: such a case is rejected before verifying.
func b64(s string) (Hash, bool) {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil || len(b) != len(Hash{}) {
		return Hash{}, false
	}
	return Hash(b), true
}

// rootOf is the vector's root, or for one that is not 32 bytes a stand-in
// that keeps equality (the SHA-256 of its bytes with a marker).
func rootOf(s string) Hash {
	if h, ok := b64(s); ok {
		return h
	}
	return sha256.Sum256([]byte("not a hash:" + s))
}

func hashes(ss ...string) ([]Hash, bool) {
	out := make([]Hash, len(ss))
	for i, s := range ss {
		var ok bool
		if out[i], ok = b64(s); !ok {
			return nil, false
		}
	}
	return out, true
}

// vectors reads every case under fixtures/merkle/<kind>.
func vectors(t *testing.T, kind string) map[string][]byte {
	t.Helper()
	root := testenv.Fixture(t, "merkle", kind)
	out := map[string][]byte{}
	filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".json") {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			out[strings.TrimPrefix(path, root+"/")] = b
		}
		return nil
	})
	if len(out) < 20 {
		t.Fatalf("only %d %s vectors under %s", len(out), kind, root)
	}
	return out
}

// TestInclusionVectors: every happy path verifies and every corrupted case
// is rejected.
func TestInclusionVectors(t *testing.T) {
	for name, b := range vectors(t, "inclusion") {
		var v struct {
			LeafIdx, TreeSize uint64
			Root, LeafHash    string
			Proof             []string
			WantErr           bool
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		err := ErrProof
		proof, ok := hashes(v.Proof...)
		if hs, ok2 := hashes(v.LeafHash, v.Root); ok && ok2 {
			err = VerifyInclusion(hs[0], v.LeafIdx, v.TreeSize, proof, hs[1])
		}
		if (err != nil) != v.WantErr {
			t.Errorf("%s: err = %v, want error %v", name, err, v.WantErr)
		}
	}
}

func TestConsistencyVectors(t *testing.T) {
	for name, b := range vectors(t, "consistency") {
		var v struct {
			Size1, Size2 uint64
			Root1, Root2 string
			Proof        []string
			WantErr      bool
		}
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		// Roots are only compared: one that is not a hash stays itself,
		// equal to an equal one and to no real root.
		err := ErrProof
		if proof, ok := hashes(v.Proof...); ok {
			err = VerifyConsistency(v.Size1, v.Size2, proof, rootOf(v.Root1), rootOf(v.Root2))
		}
		if (err != nil) != v.WantErr {
			t.Errorf("%s: err = %v, want error %v", name, err, v.WantErr)
		}
	}
}

// TestReferenceTree: the 8-leaf tree the vectors use has the root the
// fixture's README gives.
func TestReferenceTree(t *testing.T) {
	var leaves []Hash
	for _, h := range []string{"", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"} {
		d, _ := hex.DecodeString(h)
		leaves = append(leaves, LeafHash(d))
	}
	if root := Root(leaves); hex.EncodeToString(root[:]) != "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328" {
		t.Fatalf("root = %x", root)
	}
}

// TestProofsRoundTrip: every proof this package makes, for every tree up to
// 40 leaves, verifies; with one bit flipped, none does.
func TestProofsRoundTrip(t *testing.T) {
	var leaves []Hash
	for n := range 40 {
		leaves = append(leaves, LeafHash([]byte{byte(n), 'x'}))
		tree := leaves[:n+1]
		root := Root(tree)
		size := uint64(len(tree))
		for i := range tree {
			p, err := InclusionProof(i, tree)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyInclusion(tree[i], uint64(i), size, p, root); err != nil {
				t.Fatalf("inclusion of %d in %d: %v", i, size, err)
			}
			if len(p) > 0 {
				p[0][0] ^= 1
				if VerifyInclusion(tree[i], uint64(i), size, p, root) == nil {
					t.Fatalf("a corrupted inclusion proof of %d in %d verified", i, size)
				}
			}
		}
		for m := 1; m <= len(tree); m++ {
			p, err := ConsistencyProof(m, tree)
			if err != nil {
				t.Fatal(err)
			}
			if err := VerifyConsistency(uint64(m), size, p, Root(tree[:m]), root); err != nil {
				t.Fatalf("consistency %d → %d: %v", m, size, err)
			}
			if len(p) > 0 {
				p[len(p)-1][5] ^= 1
				if VerifyConsistency(uint64(m), size, p, Root(tree[:m]), root) == nil {
					t.Fatalf("a corrupted consistency proof %d → %d verified", m, size)
				}
			}
		}
	}
}
