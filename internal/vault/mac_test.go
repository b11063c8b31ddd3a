package vault

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

// TestMACKey: a MACKey makes RFC 4231's HMAC-SHA256 (test case 2), opens
// from a sealed platform secret only for its record, and reads a Standard
// Webhooks secret as the key it encodes.
func TestMACKey(t *testing.T) {
	k := MACKeyOf([]byte("Jefe"))
	got := hex.EncodeToString(k.Sum(sha256.New, []byte("what do ya want "), []byte("for nothing?")))
	if got != "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843" {
		t.Fatalf("HMAC-SHA256 %s", got)
	}
	if !k.Equal(k.Sum(sha256.New, []byte("x")), sha256.New, []byte("x")) || k.Equal(k.Sum(sha256.New, []byte("x")), sha256.New, []byte("y")) {
		t.Fatal("Equal")
	}

	ring, err := New(bytes.Repeat([]byte{1}, RootKeySize), nil)
	if err != nil {
		t.Fatal(err)
	}
	sealed := ring.SealPlatform("webhook:ins_a", []byte("whsec_"+"MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="))
	if _, err := ring.PlatformMACKey("webhook:ins_b", sealed); err == nil {
		t.Fatal("a secret opened for another record")
	}
	text, err := ring.PlatformMACKey("webhook:ins_a", sealed)
	if err != nil {
		t.Fatal(err)
	}
	key, err := text.Whsec()
	if err != nil {
		t.Fatal(err)
	}
	if want := MACKeyOf([]byte("0123456789abcdef0123456789abcdef")).Sum(sha256.New, []byte("m")); !bytes.Equal(key.Sum(sha256.New, []byte("m")), want) {
		t.Fatal("Whsec does not key with the decoded bytes")
	}
	if _, err := MACKeyOf([]byte("not a whsec")).Whsec(); err == nil {
		t.Fatal("Whsec took a secret without its prefix")
	}
	if a, b := EphemeralMACKey(), EphemeralMACKey(); bytes.Equal(a.Sum(sha256.New, []byte("ip")), b.Sum(sha256.New, []byte("ip"))) {
		t.Fatal("two ephemeral keys agree")
	}
}
