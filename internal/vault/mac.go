package vault

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"hash"
	"strings"
)

// A MACKey computes MACs under a secret the vault opened: an institution's
// webhook secret, a customer's two-step sign-in key. Its bytes never leave
// this package; callers get MACs. Safe for concurrent use.
type MACKey struct{ key []byte }

// Sum is the HMAC, with the hash h, of the parts one after another.
func (m *MACKey) Sum(h func() hash.Hash, parts ...[]byte) []byte {
	mac := hmac.New(h, m.key)
	for _, p := range parts {
		mac.Write(p)
	}
	return mac.Sum(nil)
}

// Equal says, in constant time, whether mac is the MAC of the parts.
func (m *MACKey) Equal(mac []byte, h func() hash.Hash, parts ...[]byte) bool {
	return hmac.Equal(mac, m.Sum(h, parts...))
}

// whsecPrefix begins a Standard Webhooks secret.
const whsecPrefix = "whsec_"

// Whsec is the key a Standard Webhooks secret ("whsec_" and base64 of the
// key) stands for. The secret's own text is what Messenger calls the app
// secret, so both come from one MACKey.
func (m *MACKey) Whsec() (*MACKey, error) {
	s := string(m.key)
	if !strings.HasPrefix(s, whsecPrefix) {
		return nil, errors.New("vault: the secret is not a Standard Webhooks secret (whsec_…)")
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, whsecPrefix))
	if err != nil || len(key) == 0 {
		return nil, errors.New("vault: the secret is not whsec_ followed by base64")
	}
	return &MACKey{key: key}, nil
}

// PlatformMACKey opens a secret sealed by SealPlatform (a webhook secret)
// for MACs only.
func (k *Keyring) PlatformMACKey(recordID string, sealed []byte) (*MACKey, error) {
	key, err := k.OpenPlatform(recordID, sealed)
	if err != nil {
		return nil, err
	}
	return &MACKey{key: key}, nil
}

// OpenMACKey opens a secret sealed under owner's data key (Seal) for MACs
// only: a customer's two-step sign-in key.
func (k *Keyring) OpenMACKey(ctx context.Context, owner, recordID string, sealed []byte) (*MACKey, error) {
	key, err := k.Open(ctx, owner, recordID, sealed)
	if err != nil {
		return nil, err
	}
	return &MACKey{key: key}, nil
}

// EphemeralMACKey is a fresh random key that lives as long as the process:
// for tags that must match within a node's log and mean nothing after it.
func EphemeralMACKey() *MACKey {
	key := make([]byte, 32)
	rand.Read(key)
	return &MACKey{key: key}
}

// MACKeyOf wraps a secret a caller was given to show once (a new webhook
// secret, a new sign-in key, before they are sealed) or a test's known
// value: no secret stored by the platform needs it.
func MACKeyOf(secret []byte) *MACKey { return &MACKey{key: []byte(strings.Clone(string(secret)))} }
