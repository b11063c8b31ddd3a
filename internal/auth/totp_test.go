package auth

import (
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"github.com/openteller/openteller/internal/vault"
	"hash"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestTOTPVectors checks the implementation against RFC 6238's appendix B:
// eight digits, the three hashes, each with the seed the RFC gives it.
func TestTOTPVectors(t *testing.T) {
	seeds := map[string]struct {
		h    func() hash.Hash
		seed string
	}{
		"SHA1":   {sha1.New, "12345678901234567890"},
		"SHA256": {sha256.New, "12345678901234567890123456789012"},
		"SHA512": {sha512.New, "1234567890123456789012345678901234567890123456789012345678901234"},
	}
	vectors := []struct {
		unix int64
		mode string
		code string
	}{
		{59, "SHA1", "94287082"}, {59, "SHA256", "46119246"}, {59, "SHA512", "90693936"},
		{1111111109, "SHA1", "07081804"}, {1111111109, "SHA256", "68084774"}, {1111111109, "SHA512", "25091201"},
		{1111111111, "SHA1", "14050471"}, {1111111111, "SHA256", "67062674"}, {1111111111, "SHA512", "99943326"},
		{1234567890, "SHA1", "89005924"}, {1234567890, "SHA256", "91819424"}, {1234567890, "SHA512", "93441116"},
		{2000000000, "SHA1", "69279037"}, {2000000000, "SHA256", "90698825"}, {2000000000, "SHA512", "38618901"},
		{20000000000, "SHA1", "65353130"}, {20000000000, "SHA256", "77737706"}, {20000000000, "SHA512", "47863826"},
	}
	for _, v := range vectors {
		s := seeds[v.mode]
		step := totpStep(time.Unix(v.unix, 0))
		if got := hotp(s.h, vault.MACKeyOf([]byte(s.seed)), uint64(step), 8); got != v.code {
			t.Errorf("T=%d %s: %s, want %s", v.unix, v.mode, got, v.code)
		}
	}
	// RFC 4226 appendix D: HOTP itself, six digits, counters 0 to 9.
	for i, want := range []string{"755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"} {
		if got := hotp(sha1.New, vault.MACKeyOf([]byte("12345678901234567890")), uint64(i), 6); got != want {
			t.Errorf("HOTP count %d: %s, want %s", i, got, want)
		}
	}
	// What apps show: six digits of HMAC-SHA1, the last six of the 8-digit
	// vector.
	if got := totpCode(vault.MACKeyOf([]byte("12345678901234567890")), totpStep(time.Unix(59, 0))); got != "287082" {
		t.Errorf("six-digit code at T=59: %s", got)
	}
}

// TestMatchTOTP: the code of this step or one either side is accepted, as
// that step (the latest when codes repeat); two steps away, or anything
// not exactly six digits, is not.
func TestMatchTOTP(t *testing.T) {
	secret := []byte("12345678901234567890")
	now := time.Unix(1111111111, 0)
	step := totpStep(now)
	for d := int64(-1); d <= 1; d++ {
		got, ok := matchTOTP(vault.MACKeyOf(secret), totpCode(vault.MACKeyOf(secret), step+d), now)
		if !ok || got != step+d {
			t.Errorf("step %+d: %d %v", d, got, ok)
		}
	}
	for _, d := range []int64{-2, 2} {
		if _, ok := matchTOTP(vault.MACKeyOf(secret), totpCode(vault.MACKeyOf(secret), step+d), now); ok {
			t.Errorf("a code %d steps away was accepted", d)
		}
	}
	for _, bad := range []string{"", "12345", "1234567", totpCode(vault.MACKeyOf(secret), step) + " "} {
		if _, ok := matchTOTP(vault.MACKeyOf(secret), bad, now); ok {
			t.Errorf("%q was accepted", bad)
		}
	}
}

// TestOtpauthURI: the URI names the issuer and the account and carries the
// secret the text shows, with the parameters apps assume.
func TestOtpauthURI(t *testing.T) {
	secret := []byte("12345678901234567890")
	u, err := url.Parse(otpauthURI(secret, "ada+bank@example.com"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/OpenTeller:ada+bank@example.com" ||
		q.Get("secret") != "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ" || q.Get("issuer") != "OpenTeller" ||
		q.Get("algorithm") != "SHA1" || q.Get("digits") != "6" || q.Get("period") != "30" {
		t.Fatalf("uri %s", u)
	}
	if got := secretText(secret); strings.ReplaceAll(got, " ", "") != q.Get("secret") || !strings.Contains(got, "GEZD GNBV") {
		t.Fatalf("secret text %q", got)
	}
}

// TestRecoveryCodes: codes are distinct, in the shape shown, accepted in
// any case and with or without dashes, and hashed per customer.
func TestRecoveryCodes(t *testing.T) {
	codes := newRecoveryCodes(recoveryCodes)
	seen := map[string]bool{}
	for _, c := range codes {
		if len(c) != 19 || strings.Count(c, "-") != 3 || seen[c] {
			t.Fatalf("code %q", c)
		}
		seen[c] = true
		n := normalizeCode(" " + strings.ToUpper(c) + " ")
		if !isRecoveryCode(n) || isTOTPCode(n) || n != strings.ReplaceAll(c, "-", "") {
			t.Fatalf("normalized %q from %q", n, c)
		}
	}
	if string(recoveryHash("cus_a", "abcd")) == string(recoveryHash("cus_b", "abcd")) {
		t.Fatal("one code hashes alike for two customers")
	}
	for _, bad := range []string{"abcd-efgh-ijkm-npq", "abcd-efgh-ijkm-npq0", "123456"} {
		if isRecoveryCode(normalizeCode(bad)) {
			t.Errorf("%q taken for a recovery code", bad)
		}
	}
}
