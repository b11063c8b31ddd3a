package vault

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

// memKeys is an in-memory KeyStore for the vault's own unit tests; the store
// conformance suite tests the real implementations of the interface.
type memKeys struct {
	platform map[string][]byte
	mu       sync.Mutex
	keys     map[string]WrappedKey
	reads    int // DataKey and DataKeys calls
}

func (m *memKeys) DataKey(_ context.Context, id string) (WrappedKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	k, ok := m.keys[id]
	if !ok {
		return WrappedKey{}, ErrNoKey
	}
	return k, nil
}

func (m *memKeys) DataKeys(_ context.Context, ids []string) ([]WrappedKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.reads++
	var out []WrappedKey
	for _, id := range ids {
		if k, ok := m.keys[id]; ok {
			out = append(out, k)
		}
	}
	return out, nil
}

func (m *memKeys) PutDataKey(_ context.Context, k WrappedKey) (WrappedKey, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.keys == nil {
		m.keys = map[string]WrappedKey{}
	}
	if old, ok := m.keys[k.CustomerID]; ok {
		return old, nil
	}
	m.keys[k.CustomerID] = k
	return k, nil
}

func (m *memKeys) PlatformSecret(_ context.Context, name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	s, ok := m.platform[name]
	if !ok {
		return nil, ErrNoKey
	}
	return s, nil
}

func (m *memKeys) PutPlatformSecret(_ context.Context, name string, sealed []byte) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.platform == nil {
		m.platform = map[string][]byte{}
	}
	if old, ok := m.platform[name]; ok {
		return old, nil
	}
	m.platform[name] = sealed
	return sealed, nil
}

func newKeyring(t *testing.T) (*Keyring, *memKeys) {
	t.Helper()
	ks := &memKeys{}
	root := bytes.Repeat([]byte{7}, RootKeySize)
	k, err := New(root, ks)
	if err != nil {
		t.Fatal(err)
	}
	return k, ks
}

func TestSealOpenRoundTrip(t *testing.T) {
	ctx := context.Background()
	k, _ := newKeyring(t)
	pt := []byte(`{"merchant":"Corner Grocer","amount":"42.10"}`)
	ct, err := k.Seal(ctx, "cus_a", "rec_1", pt)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(ct, []byte("Corner Grocer")) {
		t.Fatal("ciphertext contains plaintext")
	}
	got, err := k.Open(ctx, "cus_a", "rec_1", ct)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, pt) {
		t.Fatalf("got %q, want %q", got, pt)
	}
	ct2, _ := k.Seal(ctx, "cus_a", "rec_1", pt)
	if bytes.Equal(ct, ct2) {
		t.Fatal("two seals of the same plaintext are identical: nonce reused")
	}
}

func TestCiphertextBoundToRecordAndCustomer(t *testing.T) {
	ctx := context.Background()
	k, _ := newKeyring(t)
	ct, err := k.Seal(ctx, "cus_a", "rec_1", []byte("balance 100.00"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := k.Seal(ctx, "cus_b", "rec_x", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := k.Open(ctx, "cus_a", "rec_2", ct); !errors.Is(err, ErrOpen) {
		t.Fatalf("swapped record: err = %v, want ErrOpen", err)
	}
	if _, err := k.Open(ctx, "cus_b", "rec_1", ct); !errors.Is(err, ErrOpen) {
		t.Fatalf("swapped customer: err = %v, want ErrOpen", err)
	}
	tampered := append([]byte(nil), ct...)
	tampered[len(tampered)-1] ^= 1
	if _, err := k.Open(ctx, "cus_a", "rec_1", tampered); !errors.Is(err, ErrOpen) {
		t.Fatalf("tampered: err = %v, want ErrOpen", err)
	}
}

func TestDataKeyRestsWrappedAndSurvivesRestart(t *testing.T) {
	ctx := context.Background()
	k, ks := newKeyring(t)
	ct, err := k.Seal(ctx, "cus_a", "rec_1", []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	w, _ := ks.DataKey(ctx, "cus_a")
	if len(w.Wrapped) != 12+32+16 {
		t.Fatalf("wrapped key is %d bytes", len(w.Wrapped))
	}
	// A new keyring with the same root key and store opens it.
	k2, _ := New(bytes.Repeat([]byte{7}, RootKeySize), ks)
	if _, err := k2.Open(ctx, "cus_a", "rec_1", ct); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	// A different root key does not.
	k3, _ := New(bytes.Repeat([]byte{8}, RootKeySize), ks)
	if _, err := k3.Open(ctx, "cus_a", "rec_1", ct); !errors.Is(err, ErrOpen) {
		t.Fatalf("wrong root key: err = %v, want ErrOpen", err)
	}
}

func TestShreddedKeyCannotOpen(t *testing.T) {
	ctx := context.Background()
	k, ks := newKeyring(t)
	ct, _ := k.Seal(ctx, "cus_a", "rec_1", []byte("hello"))
	ks.mu.Lock()
	delete(ks.keys, "cus_a")
	ks.mu.Unlock()
	k.Forget("cus_a")
	if _, err := k.Open(ctx, "cus_a", "rec_1", ct); !errors.Is(err, ErrNoKey) {
		t.Fatalf("err = %v, want ErrNoKey", err)
	}
}

func TestFingerprintIsKeyed(t *testing.T) {
	ctx := context.Background()
	k, _ := newKeyring(t)
	a1, _ := k.Fingerprint(ctx, "cus_a", []byte("body"))
	a2, _ := k.Fingerprint(ctx, "cus_a", []byte("body"))
	b, _ := k.Fingerprint(ctx, "cus_b", []byte("body"))
	if !bytes.Equal(a1, a2) {
		t.Fatal("fingerprint not deterministic")
	}
	if bytes.Equal(a1, b) {
		t.Fatal("fingerprints of two customers agree: not keyed per customer")
	}
}

func TestLoadRootKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "root.key")
	keys1, err := LoadRootKeys("", path)
	k1 := keys1[1]
	if err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode %o, want 600", fi.Mode().Perm())
	}
	keys2, err := LoadRootKeys("", path)
	k2 := keys2[1]
	if err != nil || !bytes.Equal(k1, k2) || len(keys2) != 1 {
		t.Fatalf("reload: %v, equal=%v", err, bytes.Equal(k1, k2))
	}
	os.Chmod(path, 0o644)
	if _, err := LoadRootKeys("", path); err == nil {
		t.Fatal("accepted a world-readable key file")
	}
	enc := base64.StdEncoding.EncodeToString(k1)
	k3, err := LoadRootKeys(enc, "")
	if err != nil || !bytes.Equal(k1, k3[1]) {
		t.Fatalf("from env: %v", err)
	}
	for _, bad := range []string{"c2hvcnQ=", enc + "," + enc, "0:" + enc, "2:" + enc + ",2:" + enc, "x:" + enc} {
		if _, err := LoadRootKeys(bad, ""); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
	two, err := ParseRootKeys("2:" + GenerateRootKey() + "\n1:" + enc + "\n")
	if err != nil || two.Current() != 2 || !bytes.Equal(two[1], k1) {
		t.Fatalf("two keys: %v", err)
	}
	if again, err := ParseRootKeys(two.Format()); err != nil || !bytes.Equal(again[2], two[2]) {
		t.Fatalf("format round trip: %v", err)
	}
}

func TestPlatformSecretsBoundToRecord(t *testing.T) {
	k, _ := newKeyring(t)
	sealed := k.SealPlatform("webhook:ins_1", []byte("whsec_abc"))
	if bytes.Contains(sealed, []byte("whsec_abc")) {
		t.Fatal("sealed secret holds the plaintext")
	}
	got, err := k.OpenPlatform("webhook:ins_1", sealed)
	if err != nil || string(got) != "whsec_abc" {
		t.Fatalf("open: %q %v", got, err)
	}
	if _, err := k.OpenPlatform("webhook:ins_2", sealed); !errors.Is(err, ErrOpen) {
		t.Fatalf("opened for another record: %v", err)
	}
}

// TestRootKeyRotation: with a second root key loaded, what the first wraps
// still opens; rewrapped data keys and resealed platform secrets open with
// the second alone; the access log's key does not change.
func TestRootKeyRotation(t *testing.T) {
	ctx := context.Background()
	ks := &memKeys{}
	v1 := bytes.Repeat([]byte{7}, RootKeySize)
	v2 := bytes.Repeat([]byte{8}, RootKeySize)
	old, err := New(v1, ks)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := old.Seal(ctx, "cus_1", "rec_1", []byte("balance 12.00"))
	if err != nil {
		t.Fatal(err)
	}
	secret := old.SealPlatform("webhook:ins_1", []byte("whsec_abc"))
	logPub, err := old.LogPublicKey(ctx)
	if err != nil {
		t.Fatal(err)
	}

	both, err := NewKeyring(RootKeys{1: v1, 2: v2}, ks)
	if err != nil || both.RootVersion() != 2 {
		t.Fatalf("two roots: %v", err)
	}
	if pt, err := both.Open(ctx, "cus_1", "rec_1", sealed); err != nil || string(pt) != "balance 12.00" {
		t.Fatalf("open under the old root with both loaded: %q %v", pt, err)
	}
	w, _ := ks.DataKey(ctx, "cus_1")
	rewrapped, err := both.Rewrap(w)
	if err != nil || rewrapped.RootKeyVersion != 2 || rewrapped.Version != w.Version {
		t.Fatalf("rewrap: %+v %v", rewrapped, err)
	}
	ks.keys["cus_1"] = rewrapped
	resealed, err := both.ResealPlatform("webhook:ins_1", secret)
	if err != nil || PlatformRootVersion(resealed) != 2 || PlatformRootVersion(secret) != 1 {
		t.Fatalf("reseal: %v", err)
	}
	seed := ks.platform[logSeedName]
	if ks.platform[logSeedName], err = both.ResealPlatform(logSeedName, seed); err != nil {
		t.Fatal(err)
	}

	retired, err := NewKeyring(RootKeys{2: v2}, ks) // v1 is gone
	if err != nil {
		t.Fatal(err)
	}
	if pt, err := retired.Open(ctx, "cus_1", "rec_1", sealed); err != nil || string(pt) != "balance 12.00" {
		t.Fatalf("open after retiring v1: %q %v", pt, err)
	}
	if pt, err := retired.OpenPlatform("webhook:ins_1", resealed); err != nil || string(pt) != "whsec_abc" {
		t.Fatalf("platform secret after retiring v1: %q %v", pt, err)
	}
	if _, err := retired.OpenPlatform("webhook:ins_1", secret); err == nil {
		t.Fatal("a secret sealed under the retired root still opens")
	}
	if pub, err := retired.LogPublicKey(ctx); err != nil || !bytes.Equal(pub, logPub) {
		t.Fatalf("the access log key changed with the root key: %v", err)
	}
	if _, err := retired.Rewrap(w); err == nil {
		t.Fatal("rewrapped a key wrapped by a root that is not loaded")
	}
}

// TestWarmReadsColdKeysOnce: a node that has not seen a batch's customers
// lately (a restart, or more customers than it keeps in memory) reads
// their keys in one go, and sealing then needs no read of its own. The
// keys it warms are the stored ones: what it seals, another node opens.
func TestWarmReadsColdKeysOnce(t *testing.T) {
	ctx := context.Background()
	first, ks := newKeyring(t)
	pt := []byte(`{"amount":"9.99"}`)
	for _, owner := range []string{"cus_a", "cus_b", "cus_c"} {
		if err := first.EnsureCustomer(ctx, owner); err != nil {
			t.Fatal(err)
		}
	}
	restarted, err := New(bytes.Repeat([]byte{7}, RootKeySize), ks)
	if err != nil {
		t.Fatal(err)
	}
	ks.mu.Lock()
	ks.reads = 0
	ks.mu.Unlock()
	if err := restarted.Warm(ctx, []string{"cus_a", "cus_b", "cus_c", "cus_a", "cus_new"}); err != nil {
		t.Fatal(err)
	}
	for _, owner := range []string{"cus_a", "cus_b", "cus_c"} {
		ct, err := restarted.Seal(ctx, owner, "rec_1", pt)
		if err != nil {
			t.Fatal(err)
		}
		if got, err := first.Open(ctx, owner, "rec_1", ct); err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("%s: sealed after warming, opened by the first node: %q, %v", owner, got, err)
		}
	}
	if ks.reads != 1 {
		t.Fatalf("warming three stored keys and sealing with them read the store %d times, want 1", ks.reads)
	}
	// A customer with no key yet gets one when first sealed for, as before.
	if _, err := restarted.Seal(ctx, "cus_new", "rec_1", pt); err != nil {
		t.Fatal(err)
	}
	if err := restarted.Warm(ctx, []string{"cus_a", "cus_new"}); err != nil || ks.reads != 2 {
		t.Fatalf("warming keys in memory: %v, %d reads; want none added (2 in all, with the new key's)", err, ks.reads)
	}
}

// TestSealADLayout pins the bytes a sealed record is bound to: every
// record already stored opens only with exactly these.
func TestSealADLayout(t *testing.T) {
	for _, c := range []struct {
		customer, record string
		version          int
		want             string
	}{
		{"cus_1/inst_2", "evt_3", 7, "openteller/record/v1\x00cus_1/inst_2\x00evt_3\x007"},
		{"", "", 0, "openteller/record/v1\x00\x00\x000"},
		{"ü/x", "a\x00b", 2147483647, "openteller/record/v1\x00ü/x\x00a\x00b\x002147483647"},
	} {
		if got := string(sealAD(c.customer, c.record, c.version)); got != c.want {
			t.Errorf("sealAD(%q, %q, %d) = %q, want %q", c.customer, c.record, c.version, got, c.want)
		}
	}
	// The same as the format the first records were sealed with, for any
	// version and any bytes.
	for _, v := range []int{1, -1, math.MaxInt64, math.MinInt64} {
		for _, id := range []string{"cus_1/ins_1", "\xff\xfe", "%d%s"} {
			if got, want := sealAD(id, id, v), fmt.Appendf(nil, "openteller/record/v1\x00%s\x00%s\x00%d", id, id, v); !bytes.Equal(got, want) {
				t.Errorf("sealAD(%q, %q, %d) = %q, want %q", id, id, v, got, want)
			}
		}
	}
}
