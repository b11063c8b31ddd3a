// Package vault owns every raw key in OpenTeller: the root key, the
// per-customer data keys it wraps, and the sealing of payloads.
//
// What must stay true:
//   - No other package sees key bytes. Callers hold a *Keyring and customer
//     ids; they get ciphertext and plaintext, never keys. A dependency test
//     (deps_test.go at the module root) fails if another package imports the
//     AEAD primitives.
//   - A sealed payload is bound to its customer, its record and the key
//     version through AES-GCM's additional data, so a ciphertext moved to
//     another record or customer does not open.
//   - Data keys rest only wrapped by the root key. Deleting a customer's
//     wrapped data key (clear history) makes every payload sealed under it
//     unreadable, in backups too.
//
// Nonces are 96 random bits per seal. Under one data key that is safe for
// far more messages than one customer will ever receive (NIST SP 800-38D
// bounds random nonces at 2^32 messages per key).
package vault

import (
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
	// PutDataKey stores k unless the customer already has a data key, and
	// returns the key that is stored afterwards (k, or the one that won).
	PutDataKey(ctx context.Context, k WrappedKey) (WrappedKey, error)
}

// Keyring seals and opens customers' payloads. It is safe for concurrent
// use. Unwrapped data keys are cached in memory, bounded in number.
type Keyring struct {
	root        cipher.AEAD
	rootVersion int
	keys        KeyStore

	mu    sync.Mutex
	cache map[string]*dataKey // customer id → unwrapped key

	logKey ed25519.PrivateKey // signs the access log's checkpoints
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

// New returns a keyring whose root key is rootKey (32 bytes), at version 1.
func New(rootKey []byte, keys KeyStore) (*Keyring, error) {
	if len(rootKey) != RootKeySize {
		return nil, fmt.Errorf("vault: root key is %d bytes, want %d", len(rootKey), RootKeySize)
	}
	root, err := newAEAD(rootKey)
	if err != nil {
		return nil, err
	}
	// The access log's signing key is derived from the root key, so every
	// node of a deployment signs with the same key and none is stored.
	mac := hmac.New(sha256.New, rootKey)
	mac.Write([]byte("openteller/access-log/ed25519/v1"))
	logKey := ed25519.NewKeyFromSeed(mac.Sum(nil))
	return &Keyring{root: root, rootVersion: 1, keys: keys, cache: make(map[string]*dataKey), logKey: logKey}, nil
}

// LogPublicKey is the public key that verifies the access log's
// checkpoints; customers' browsers are given it.
func (k *Keyring) LogPublicKey() ed25519.PublicKey {
	return k.logKey.Public().(ed25519.PublicKey)
}

// SignLog signs msg (a checkpoint note's text) with the access log's key.
func (k *Keyring) SignLog(msg []byte) []byte {
	return ed25519.Sign(k.logKey, msg)
}

// LoadRootKey returns the root key: from encoded (base64, as given through
// the environment) when it is not empty, else from the file at path,
// creating the file with a fresh random key and mode 0600 if it does not
// exist. It refuses a key file that others can read.
func LoadRootKey(encoded, path string) ([]byte, error) {
	if encoded != "" {
		k, err := base64.StdEncoding.DecodeString(strings.TrimSpace(encoded))
		if err != nil || len(k) != RootKeySize {
			return nil, fmt.Errorf("vault: root key must be %d bytes in standard base64", RootKeySize)
		}
		return k, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		k := make([]byte, RootKeySize)
		rand.Read(k)
		if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
			return nil, fmt.Errorf("vault: create key dir: %w", err)
		}
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if errors.Is(err, os.ErrExist) {
			return LoadRootKey("", path) // another process won the race
		}
		if err != nil {
			return nil, fmt.Errorf("vault: create root key file: %w", err)
		}
		_, err = f.WriteString(base64.StdEncoding.EncodeToString(k) + "\n")
		if err == nil {
			err = f.Sync()
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return nil, fmt.Errorf("vault: write root key file: %w", err)
		}
		return k, nil
	}
	if err != nil {
		return nil, fmt.Errorf("vault: read root key file: %w", err)
	}
	if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("vault: root key file %s is readable by others (mode %o); chmod 600 it", path, fi.Mode().Perm())
	}
	return LoadRootKey(string(b), "")
}

// GenerateRootKey returns a new random root key, base64-encoded, for an
// operator to put in a secret store.
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
	k.mu.Lock()
	dk := k.cache[customerID]
	k.mu.Unlock()
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
	dk = &dataKey{version: w.Version, aead: aead, macKey: mac.Sum(nil)}
	k.mu.Lock()
	if len(k.cache) >= maxCachedKeys {
		for id := range k.cache { // evict an arbitrary entry; map order is random
			delete(k.cache, id)
			break
		}
	}
	k.cache[customerID] = dk
	k.mu.Unlock()
	return dk, nil
}

func (k *Keyring) unwrap(w WrappedKey) ([]byte, error) {
	if w.RootKeyVersion != k.rootVersion {
		return nil, fmt.Errorf("vault: data key of %s is wrapped by root key v%d, have v%d", w.CustomerID, w.RootKeyVersion, k.rootVersion)
	}
	ns := k.root.NonceSize()
	if len(w.Wrapped) < ns {
		return nil, ErrOpen
	}
	raw, err := k.root.Open(nil, w.Wrapped[:ns], w.Wrapped[ns:], wrapAD(w))
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

func sealAD(customerID, recordID string, keyVersion int) []byte {
	return fmt.Appendf(nil, "openteller/record/v1\x00%s\x00%s\x00%d", customerID, recordID, keyVersion)
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
	n := nonce(k.root)
	return k.root.Seal(n, n, plaintext, platformAD(recordID, k.rootVersion))
}

// OpenPlatform decrypts what SealPlatform sealed for the same record.
func (k *Keyring) OpenPlatform(recordID string, sealed []byte) ([]byte, error) {
	ns := k.root.NonceSize()
	if len(sealed) < ns {
		return nil, ErrOpen
	}
	pt, err := k.root.Open(nil, sealed[:ns], sealed[ns:], platformAD(recordID, k.rootVersion))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

func platformAD(recordID string, rootVersion int) []byte {
	return fmt.Appendf(nil, "openteller/platform/v1\x00%s\x00%d", recordID, rootVersion)
}
