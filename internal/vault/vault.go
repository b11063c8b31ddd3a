// Package vault owns every raw key in OpenTeller: the root key, the
// per-customer data keys it wraps, and the sealing of payloads.
//
// What must stay true:
//   - No other package sees key bytes. Callers hold a *Keyring and customer
//     ids; they get ciphertext and plaintext, never keys. Secrets used for
//     MACs (webhook secrets, Messenger's app secret, sign-in codes' keys)
//     stay here too: callers get a MACKey, which makes MACs (mac.go). A dependency test
//     (deps_test.go at the module root) fails if another package imports the
//     AEAD primitives.
//   - A sealed payload is bound to its customer, its record and the key
//     version through AES-GCM's additional data, so a ciphertext moved to
//     another record or customer does not open.
//   - Data keys rest only wrapped by the root key. Deleting a customer's
//     wrapped data key (clear history) makes every payload sealed under it
//     unreadable; a backup taken before still holds the wrapped key, and
//     stops opening it once the root key that wrapped it is retired.
//
// Nonces are 96 random bits per seal. Under one data key that is safe for
// far more messages than one customer will ever receive (NIST SP 800-38D
// bounds random nonces at 2^32 messages per key).
package vault

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// ErrNoKey means the customer has no data key: never made, or shredded.
var ErrNoKey = errors.New("vault: no data key")

// ErrOpen means a ciphertext did not authenticate: wrong record, wrong
// customer, tampered, or sealed under a key that no longer exists.
var ErrOpen = errors.New("vault: ciphertext does not open")

// WrappedKey is a customer's data key as stored: sealed under a root key.
type WrappedKey struct {
	CustomerID     string
	Version        int // the data key's version for this customer
	RootKeyVersion int
	Wrapped        []byte
}

// KeyStore is the storage the keyring needs for wrapped data keys. The store
// package implements it.
type KeyStore interface {
	// DataKey returns the customer's current wrapped data key, or ErrNoKey.
	DataKey(ctx context.Context, customerID string) (WrappedKey, error)
	// DataKeys returns the current wrapped keys of those of owners that
	// have one, in no order: one query for a batch's cold keys.
	DataKeys(ctx context.Context, owners []string) ([]WrappedKey, error)
	// PutDataKey stores k unless the customer already has a data key, and
	// returns the key that is stored afterwards (k, or the one that won).
	PutDataKey(ctx context.Context, k WrappedKey) (WrappedKey, error)
	// PlatformSecret returns a platform secret sealed under the root key
	// (SealPlatform), or ErrNoKey.
	PlatformSecret(ctx context.Context, name string) ([]byte, error)
	// PutPlatformSecret stores sealed under name unless one is stored, and
	// returns the one stored afterwards.
	PutPlatformSecret(ctx context.Context, name string, sealed []byte) ([]byte, error)
}

// Keyring seals and opens customers' payloads. It is safe for concurrent
// use. Unwrapped data keys are cached in memory, bounded in number.
type Keyring struct {
	roots       map[int]cipher.AEAD // every root key loaded, by version
	root        cipher.AEAD         // the newest: it wraps and seals
	rootVersion int
	firstRoot   []byte // the version-1 root key, if loaded: the log key's legacy seed
	keys        KeyStore

	// mu guards cache. Every event sealed, fingerprinted or opened reads
	// it, from every poster and every device at once, and it rarely
	// changes: readers share it. (A plain mutex convoyed at times under
	// full load: once a waiter had waited a millisecond, every unlock
	// handed the lock over and gave up its core; in one trace that was a
	// third of all the node's waiting for a core. BENCHMARKS.md,
	// 2026-12-06.)
	mu    sync.RWMutex
	cache map[string]*dataKey // customer id → unwrapped key

	logMu  sync.Mutex
	logKey ed25519.PrivateKey // signs the access log's checkpoints; loaded on first use
}

type dataKey struct {
	version int
	aead    cipher.AEAD
	macKey  []byte // derived from the data key; for Fingerprint
}

// maxCachedKeys bounds memory: 100k AES-GCM instances is a few tens of MiB.
const maxCachedKeys = 100_000

// RootKeySize is the size of a root key in bytes (AES-256).
const RootKeySize = 32

// New returns a keyring whose only root key is rootKey (32 bytes), at
// version 1.
func New(rootKey []byte, keys KeyStore) (*Keyring, error) {
	return NewKeyring(RootKeys{1: rootKey}, keys)
}

// NewKeyring returns a keyring over every root key given; the newest
// version wraps new data keys and seals platform secrets, older ones only
// open what they wrapped until it is rewrapped (openteller keys rewrap).
func NewKeyring(roots RootKeys, keys KeyStore) (*Keyring, error) {
	if len(roots) == 0 {
		return nil, errors.New("vault: no root key")
	}
	k := &Keyring{roots: map[int]cipher.AEAD{}, keys: keys, cache: make(map[string]*dataKey)}
	for v, key := range roots {
		if len(key) != RootKeySize || v < 1 {
			return nil, fmt.Errorf("vault: root key v%d is %d bytes, want %d", v, len(key), RootKeySize)
		}
		a, err := newAEAD(key)
		if err != nil {
			return nil, err
		}
		k.roots[v] = a
		if v > k.rootVersion {
			k.root, k.rootVersion = a, v
		}
	}
	if first, ok := roots[1]; ok {
		k.firstRoot = bytes.Clone(first)
	}
	return k, nil
}

// RootVersion is the version of the newest root key.
func (k *Keyring) RootVersion() int { return k.rootVersion }

// logSeedName names the access log's signing seed among platform secrets.
const logSeedName = "access-log-ed25519-seed"

// logSigner returns the access log's signing key. Its seed is kept sealed
// as a platform secret, so it survives root key rotation; a deployment
// that began before it was kept gets the seed it always derived from its
// first root key, so its published key does not change.
func (k *Keyring) logSigner(ctx context.Context) (ed25519.PrivateKey, error) {
	k.logMu.Lock()
	defer k.logMu.Unlock()
	if k.logKey != nil {
		return k.logKey, nil
	}
	sealed, err := k.keys.PlatformSecret(ctx, logSeedName)
	if errors.Is(err, ErrNoKey) {
		seed := make([]byte, ed25519.SeedSize)
		if k.firstRoot != nil {
			mac := hmac.New(sha256.New, k.firstRoot)
			mac.Write([]byte("openteller/access-log/ed25519/v1"))
			seed = mac.Sum(nil)
		} else {
			rand.Read(seed)
		}
		sealed, err = k.keys.PutPlatformSecret(ctx, logSeedName, k.SealPlatform(logSeedName, seed))
	}
	if err != nil {
		return nil, fmt.Errorf("vault: access log key: %w", err)
	}
	seed, err := k.OpenPlatform(logSeedName, sealed)
	if err != nil {
		return nil, fmt.Errorf("vault: access log key: %w", err)
	}
	k.logKey = ed25519.NewKeyFromSeed(seed)
	return k.logKey, nil
}

// LogPublicKey is the public key that verifies the access log's
// checkpoints; customers' browsers are given it.
func (k *Keyring) LogPublicKey(ctx context.Context) (ed25519.PublicKey, error) {
	key, err := k.logSigner(ctx)
	if err != nil {
		return nil, err
	}
	return key.Public().(ed25519.PublicKey), nil
}

// SignLog signs msg (a checkpoint note's text) with the access log's key.
func (k *Keyring) SignLog(ctx context.Context, msg []byte) ([]byte, error) {
	key, err := k.logSigner(ctx)
	if err != nil {
		return nil, err
	}
	return ed25519.Sign(key, msg), nil
}

// RootKeys are the root keys by version. The newest wraps; the others are
// kept until nothing is wrapped by them any more.
type RootKeys map[int][]byte

// Current is the newest version.
func (r RootKeys) Current() int {
	v := 0
	for n := range r {
		v = max(v, n)
	}
	return v
}

// ParseRootKeys reads root keys as given in the environment or the key
// file: entries "<version>:<base64>", one per line or separated by commas;
// a lone base64 key (how the first root key is written) is version 1.
func ParseRootKeys(text string) (RootKeys, error) {
	out := RootKeys{}
	entries := strings.FieldsFunc(text, func(r rune) bool { return r == '\n' || r == ',' || r == '\r' })
	for _, e := range entries {
		e = strings.TrimSpace(e)
		if e == "" {
			continue
		}
		version, b64 := 1, e
		if v, rest, ok := strings.Cut(e, ":"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("vault: root key entry %q: version must be a positive number", v)
			}
			version, b64 = n, rest
		} else if len(entries) > 1 {
			return nil, errors.New("vault: with several root keys, each needs its version: <version>:<base64>")
		}
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil || len(k) != RootKeySize {
			return nil, fmt.Errorf("vault: root key v%d must be %d bytes in standard base64", version, RootKeySize)
		}
		if _, dup := out[version]; dup {
			return nil, fmt.Errorf("vault: root key v%d given twice", version)
		}
		out[version] = k
	}
	if len(out) == 0 {
		return nil, errors.New("vault: no root key")
	}
	return out, nil
}

// Format writes the keys as ParseRootKeys reads them, newest first.
func (r RootKeys) Format() string {
	var b strings.Builder
	for v := r.Current(); v >= 1; v-- {
		if k, ok := r[v]; ok {
			fmt.Fprintf(&b, "%d:%s\n", v, base64.StdEncoding.EncodeToString(k))
		}
	}
	return b.String()
}

// LoadRootKeys returns the root keys: from encoded (as given through the
// environment) when it is not empty, else from the file at path, creating
// the file with a fresh random key (version 1) and mode 0600 if it does not
// exist. A file readable by others is refused.
func LoadRootKeys(encoded, path string) (RootKeys, error) {
	if encoded != "" {
		return ParseRootKeys(encoded)
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k := make([]byte, RootKeySize)
		rand.Read(k)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("vault: create key dir: %w", err)
		}
		if err := writeNewFile(path, RootKeys{1: k}.Format()); errors.Is(err, os.ErrExist) {
			return LoadRootKeys("", path) // another process won the race
		} else if err != nil {
			return nil, err
		}
		return RootKeys{1: k}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vault: read root key file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("vault: root key file %s is readable by others (mode %o); chmod 600 it", path, fi.Mode().Perm())
	}
	return ParseRootKeys(string(b))
}

// writeNewFile creates path (which must not exist) with mode 0600 and
// text, synced.
func writeNewFile(path, text string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	_, err = f.WriteString(text)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("vault: write root key file: %w", err)
	}
	return nil
}

// SaveRootKeys replaces the key file with keys, atomically.
func SaveRootKeys(path string, keys RootKeys) error {
	tmp := path + ".new"
	os.Remove(tmp)
	if err := writeNewFile(tmp, keys.Format()); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// GenerateRootKey returns a fresh random root key in base64.
func GenerateRootKey() string {
	k := make([]byte, RootKeySize)
	rand.Read(k)
	return base64.StdEncoding.EncodeToString(k)
}

func newAEAD(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("vault: %w", err)
	}
	return cipher.NewGCM(block)
}

// EnsureCustomer makes the customer's data key if it has none. Calling it at
// sign-up keeps key creation off the ingest path.
func (k *Keyring) EnsureCustomer(ctx context.Context, customerID string) error {
	_, err := k.dataKey(ctx, customerID, true)
	return err
}

// Forget drops the customer's unwrapped key from memory. Clear history calls
// it after deleting the wrapped key from the store.
func (k *Keyring) Forget(customerID string) {
	k.mu.Lock()
	delete(k.cache, customerID)
	k.mu.Unlock()
}

func (k *Keyring) dataKey(ctx context.Context, customerID string, create bool) (*dataKey, error) {
	k.mu.RLock()
	dk := k.cache[customerID]
	k.mu.RUnlock()
	if dk != nil {
		return dk, nil
	}
	w, err := k.keys.DataKey(ctx, customerID)
	if errors.Is(err, ErrNoKey) && create {
		raw := make([]byte, 32)
		rand.Read(raw)
		w = WrappedKey{CustomerID: customerID, Version: 1, RootKeyVersion: k.rootVersion}
		n := nonce(k.root)
		w.Wrapped = k.root.Seal(n, n, raw, wrapAD(w))
		w, err = k.keys.PutDataKey(ctx, w)
	}
	if err != nil {
		return nil, fmt.Errorf("vault: data key for %s: %w", customerID, err)
	}
	return k.remember(w)
}

// Warm reads the data keys of those owners not in memory in one query, so
// that sealing a batch for a hundred customers after a restart (or beyond
// the cache) costs one round trip to the store, not a hundred. Owners with
// no key yet are left for Seal to create.
func (k *Keyring) Warm(ctx context.Context, owners []string) error {
	cold := make([]string, 0, len(owners))
	k.mu.RLock()
	for _, o := range owners {
		if k.cache[o] == nil {
			cold = append(cold, o)
		}
	}
	k.mu.RUnlock()
	if len(cold) == 0 {
		return nil
	}
	slices.Sort(cold)
	ws, err := k.keys.DataKeys(ctx, slices.Compact(cold))
	if err != nil {
		return fmt.Errorf("vault: data keys: %w", err)
	}
	for _, w := range ws {
		if _, err := k.remember(w); err != nil {
			return err
		}
	}
	return nil
}

// remember unwraps w and keeps it in memory as its owner's key.
func (k *Keyring) remember(w WrappedKey) (*dataKey, error) {
	raw, err := k.unwrap(w)
	if err != nil {
		return nil, err
	}
	aead, err := newAEAD(raw)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, raw)
	mac.Write([]byte("openteller/fingerprint/v1"))
	dk := &dataKey{version: w.Version, aead: aead, macKey: mac.Sum(nil)}
	k.mu.Lock()
	if len(k.cache) >= maxCachedKeys {
		for id := range k.cache { // evict an arbitrary entry; map order is random
			delete(k.cache, id)
			break
		}
	}
	k.cache[w.CustomerID] = dk
	k.mu.Unlock()
	return dk, nil
}

func (k *Keyring) unwrap(w WrappedKey) ([]byte, error) {
	root, ok := k.roots[w.RootKeyVersion]
	if !ok {
		return nil, fmt.Errorf("vault: data key of %s is wrapped by root key v%d, which is not loaded", w.CustomerID, w.RootKeyVersion)
	}
	ns := root.NonceSize()
	if len(w.Wrapped) < ns {
		return nil, ErrOpen
	}
	raw, err := root.Open(nil, w.Wrapped[:ns], w.Wrapped[ns:], wrapAD(w))
	if err != nil {
		return nil, fmt.Errorf("vault: unwrap data key of %s: %w", w.CustomerID, ErrOpen)
	}
	return raw, nil
}

// nonce returns a fresh random nonce; Seal appends the ciphertext after it
// when the nonce slice is passed as dst.
func nonce(a cipher.AEAD) []byte {
	n := make([]byte, a.NonceSize(), a.NonceSize()+256)
	rand.Read(n)
	return n
}

func wrapAD(w WrappedKey) []byte {
	return fmt.Appendf(nil, "openteller/datakey/v1\x00%s\x00%d\x00%d", w.CustomerID, w.Version, w.RootKeyVersion)
}

// Sealed payload format: 1 byte format (1), 4 bytes data key version (big
// endian), 12 bytes nonce, ciphertext and tag.
const formatV1 = 1

// sealAD is "openteller/record/v1\x00<customer>\x00<record>\x00<version>",
// built by appends: fmt took a third of Seal's time on ingest's hot path.
func sealAD(customerID, recordID string, keyVersion int) []byte {
	const head = "openteller/record/v1\x00"
	ad := make([]byte, 0, len(head)+len(customerID)+len(recordID)+2+20)
	ad = append(append(append(append(ad, head...), customerID...), 0), recordID...)
	return strconv.AppendInt(append(ad, 0), int64(keyVersion), 10)
}

// Seal encrypts plaintext for the customer, bound to recordID. It creates
// the customer's data key if there is none yet.
func (k *Keyring) Seal(ctx context.Context, customerID, recordID string, plaintext []byte) ([]byte, error) {
	dk, err := k.dataKey(ctx, customerID, true)
	if err != nil {
		return nil, err
	}
	ns := dk.aead.NonceSize()
	out := make([]byte, 5+ns, 5+ns+len(plaintext)+dk.aead.Overhead())
	out[0] = formatV1
	binary.BigEndian.PutUint32(out[1:5], uint32(dk.version))
	rand.Read(out[5 : 5+ns])
	return dk.aead.Seal(out, out[5:5+ns], plaintext, sealAD(customerID, recordID, dk.version)), nil
}

// Open decrypts a payload sealed by Seal for the same customer and record.
func (k *Keyring) Open(ctx context.Context, customerID, recordID string, sealed []byte) ([]byte, error) {
	dk, err := k.dataKey(ctx, customerID, false)
	if err != nil {
		return nil, err
	}
	ns := dk.aead.NonceSize()
	if len(sealed) < 5+ns || sealed[0] != formatV1 {
		return nil, ErrOpen
	}
	version := int(binary.BigEndian.Uint32(sealed[1:5]))
	if version > dk.version {
		// Another node replaced the key (history cleared): this node's
		// copy is stale. Read the current one.
		k.Forget(customerID)
		if dk, err = k.dataKey(ctx, customerID, false); err != nil {
			return nil, err
		}
	}
	if version != dk.version {
		return nil, fmt.Errorf("vault: sealed under data key v%d, customer has v%d: %w", version, dk.version, ErrOpen)
	}
	pt, err := dk.aead.Open(nil, sealed[5:5+ns], sealed[5+ns:], sealAD(customerID, recordID, version))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// ConversationKey names the data key that seals what a customer holds
// from one institution (its events and the notices about them). Clearing
// that history destroys this key alone; the customer's own key (Fingerprint)
// stays.
func ConversationKey(customerID, institutionID string) string {
	return customerID + "/" + institutionID
}

// SignInKey names the data key that seals a customer's sign-in secrets
// (the second factor's TOTP secret). It is neither the customer's own key
// nor a conversation's, so clearing history, which destroys those, leaves
// sign-in working; root key rotation rewraps it like any data key.
func SignInKey(customerID string) string {
	return customerID + ":signin"
}

// SealedVersion is the data key version a payload was sealed under; 0 if
// it is not a sealed payload. The store compares it with the current
// version, so that nothing sealed under a destroyed key is kept.
func SealedVersion(sealed []byte) int {
	if len(sealed) < 5 || sealed[0] != formatV1 {
		return 0
	}
	return int(binary.BigEndian.Uint32(sealed[1:5]))
}

// KeyVersion is the current version of the data key named owner, 0 when
// there is none.
func (k *Keyring) KeyVersion(ctx context.Context, owner string) (int, error) {
	w, err := k.keys.DataKey(ctx, owner)
	if errors.Is(err, ErrNoKey) {
		return 0, nil
	}
	return w.Version, err
}

// Replacement is a new data key for owner, made but not yet stored: the
// store installs it in the same transaction that deletes what the old key
// sealed, and Seal seals the records that go with it (a notice that
// history was cleared) under it beforehand.
type Replacement struct {
	Key   WrappedKey
	owner string
	dk    *dataKey
}

// Replace makes the next version of owner's data key.
func (k *Keyring) Replace(ctx context.Context, owner string) (*Replacement, error) {
	current, err := k.KeyVersion(ctx, owner)
	if err != nil {
		return nil, err
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	defer clear(raw)
	w := WrappedKey{CustomerID: owner, Version: current + 1, RootKeyVersion: k.rootVersion}
	n := nonce(k.root)
	w.Wrapped = k.root.Seal(n, n, raw, wrapAD(w))
	aead, err := newAEAD(raw)
	if err != nil {
		return nil, err
	}
	return &Replacement{Key: w, owner: owner, dk: &dataKey{version: w.Version, aead: aead}}, nil
}

// Seal seals plaintext under the replacement key, as Keyring.Seal would once
// it is installed.
func (r *Replacement) Seal(recordID string, plaintext []byte) []byte {
	ns := r.dk.aead.NonceSize()
	out := make([]byte, 5+ns, 5+ns+len(plaintext)+r.dk.aead.Overhead())
	out[0] = formatV1
	binary.BigEndian.PutUint32(out[1:5], uint32(r.dk.version))
	rand.Read(out[5 : 5+ns])
	return r.dk.aead.Seal(out, out[5:5+ns], plaintext, sealAD(r.owner, recordID, r.dk.version))
}

// Fingerprint returns a keyed digest of data under the customer's data key:
// equal inputs give equal fingerprints, but without the key nobody can test
// a guess. Ingest compares event bodies for idempotency with it, so the
// store holds no unkeyed hash of financial content. Shredding the key makes
// old fingerprints meaningless too.
func (k *Keyring) Fingerprint(ctx context.Context, customerID string, data []byte) ([]byte, error) {
	dk, err := k.dataKey(ctx, customerID, true)
	if err != nil {
		return nil, err
	}
	mac := hmac.New(sha256.New, dk.macKey)
	mac.Write(data)
	return mac.Sum(nil), nil
}

// SealPlatform encrypts a secret of the platform's own (such as a webhook
// signing secret, which must be read back to sign) under the root key,
// bound to recordID. Customers' data never goes here.
func (k *Keyring) SealPlatform(recordID string, plaintext []byte) []byte {
	// Format: 2, the root key version (4 bytes), nonce, ciphertext.
	out := make([]byte, 5, 5+k.root.NonceSize()+len(plaintext)+k.root.Overhead())
	out[0] = platformV2
	binary.BigEndian.PutUint32(out[1:5], uint32(k.rootVersion))
	n := nonce(k.root)
	out = append(out, n...)
	return k.root.Seal(out, n, plaintext, platformAD(recordID, k.rootVersion))
}

const platformV2 = 2

// PlatformRootVersion is the root key version a platform secret is sealed
// under (1 for the first format, which had no version in it).
func PlatformRootVersion(sealed []byte) int {
	if len(sealed) > 5 && sealed[0] == platformV2 {
		return int(binary.BigEndian.Uint32(sealed[1:5]))
	}
	return 1
}

// OpenPlatform decrypts what SealPlatform sealed for the same record, under
// whichever loaded root key sealed it.
func (k *Keyring) OpenPlatform(recordID string, sealed []byte) ([]byte, error) {
	if len(sealed) > 5 && sealed[0] == platformV2 {
		v := int(binary.BigEndian.Uint32(sealed[1:5]))
		if root, ok := k.roots[v]; ok && len(sealed) >= 5+root.NonceSize() {
			ns := root.NonceSize()
			if pt, err := root.Open(nil, sealed[5:5+ns], sealed[5+ns:], platformAD(recordID, v)); err == nil {
				return pt, nil
			}
		}
	}
	// The first format: nonce and ciphertext, under root key v1.
	root, ok := k.roots[1]
	if !ok || len(sealed) < root.NonceSize() {
		return nil, ErrOpen
	}
	ns := root.NonceSize()
	pt, err := root.Open(nil, sealed[:ns], sealed[ns:], platformAD(recordID, 1))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

// ResealPlatform seals a platform secret again under the newest root key.
func (k *Keyring) ResealPlatform(recordID string, sealed []byte) ([]byte, error) {
	pt, err := k.OpenPlatform(recordID, sealed)
	if err != nil {
		return nil, err
	}
	defer clear(pt)
	return k.SealPlatform(recordID, pt), nil
}

// Rewrap wraps a data key again under the newest root key.
func (k *Keyring) Rewrap(w WrappedKey) (WrappedKey, error) {
	raw, err := k.unwrap(w)
	if err != nil {
		return w, err
	}
	defer clear(raw)
	out := WrappedKey{CustomerID: w.CustomerID, Version: w.Version, RootKeyVersion: k.rootVersion}
	n := nonce(k.root)
	out.Wrapped = k.root.Seal(n, n, raw, wrapAD(out))
	return out, nil
}

func platformAD(recordID string, rootVersion int) []byte {
	return fmt.Appendf(nil, "openteller/platform/v1\x00%s\x00%d", recordID, rootVersion)
}
