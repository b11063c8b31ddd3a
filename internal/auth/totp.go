package auth

import (
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base32"
	"encoding/binary"
	"fmt"
	"github.com/openteller/openteller/internal/vault"
	"hash"
	"net/url"
	"strings"
	"time"
)

// Time-based one-time passwords, RFC 6238 (HOTP of RFC 4226 over the count
// of 30-second steps since the Unix epoch), as authenticator apps make
// them: HMAC-SHA1, six digits. Written here from the RFCs with the
// standard library; totp_test.go checks it against RFC 6238's appendix B.
const (
	totpPeriod      = 30 // seconds per step
	totpDigits      = 6
	totpSkew        = 1  // steps either side of now that are accepted: clocks drift, people type slowly
	totpSecretBytes = 20 // 160 bits, as RFC 4226 recommends for HMAC-SHA1
	totpIssuer      = "OpenTeller"
)

// hotp is RFC 4226's HOTP value of counter under the secret (kept by the
// vault), with the hash h, as a string of digits (at most 9) with leading
// zeros.
func hotp(h func() hash.Hash, secret *vault.MACKey, counter uint64, digits int) string {
	var msg [8]byte
	binary.BigEndian.PutUint64(msg[:], counter)
	sum := secret.Sum(h, msg[:])
	// Dynamic truncation (RFC 4226 §5.3): 31 bits from the offset the
	// last nibble names.
	off := sum[len(sum)-1] & 0x0f
	bin := binary.BigEndian.Uint32(sum[off:off+4]) & 0x7fffffff
	mod := uint32(1)
	for range digits {
		mod *= 10
	}
	return fmt.Sprintf("%0*d", digits, bin%mod)
}

// totpStep is the RFC 6238 time step T of t (T0 = 0, X = 30 s).
func totpStep(t time.Time) int64 {
	return t.Unix() / totpPeriod
}

// totpCode is the code authenticator apps show for step.
func totpCode(secret *vault.MACKey, step int64) string {
	return hotp(sha1.New, secret, uint64(step), totpDigits)
}

// matchTOTP finds the step around now (within totpSkew) whose code is
// code, the latest if several are. Every candidate is computed and
// compared, in constant time, whichever matches.
func matchTOTP(secret *vault.MACKey, code string, now time.Time) (int64, bool) {
	step := totpStep(now)
	var found int64
	ok := false
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		if subtle.ConstantTimeCompare([]byte(totpCode(secret, step+d)), []byte(code)) == 1 {
			found, ok = step+d, true
		}
	}
	return found, ok
}

var secretEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// newTOTPSecret returns a fresh secret.
func newTOTPSecret() []byte {
	b := make([]byte, totpSecretBytes)
	rand.Read(b) // never fails (crypto/rand, Go 1.24+)
	return b
}

// secretText is the secret as a person types it into an authenticator
// app: base32, in groups of four.
func secretText(secret []byte) string {
	s := secretEncoding.EncodeToString(secret)
	var b strings.Builder
	for i := 0; i < len(s); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+4, len(s))])
	}
	return b.String()
}

// otpauthURI is the Key URI an authenticator app reads (the format Google
// Authenticator defined, which the others follow): the account is the
// customer's email, under the issuer's name.
func otpauthURI(secret []byte, account string) string {
	q := url.Values{}
	q.Set("secret", secretEncoding.EncodeToString(secret))
	q.Set("issuer", totpIssuer)
	q.Set("algorithm", "SHA1")
	q.Set("digits", fmt.Sprint(totpDigits))
	q.Set("period", fmt.Sprint(totpPeriod))
	u := url.URL{Scheme: "otpauth", Host: "totp", Path: "/" + totpIssuer + ":" + account, RawQuery: q.Encode()}
	return u.String()
}

// Recovery codes: for when the authenticator app is lost. Each is 80
// random bits, shown once, kept only as a hash, and spent at first use.
const recoveryCodes = 10

// recoveryAlphabet leaves out characters people confuse (0/o, 1/l).
var recoveryEncoding = base32.NewEncoding("abcdefghijkmnpqrstuvwxyz23456789").WithPadding(base32.NoPadding)

// newRecoveryCodes returns n codes as the customer sees them
// (xxxx-xxxx-xxxx-xxxx).
func newRecoveryCodes(n int) []string {
	out := make([]string, n)
	for i := range out {
		b := make([]byte, 10)
		rand.Read(b)
		s := recoveryEncoding.EncodeToString(b)
		out[i] = s[0:4] + "-" + s[4:8] + "-" + s[8:12] + "-" + s[12:16]
	}
	return out
}

// normalizeCode takes what a person typed as a code: spaces and dashes
// go, letters are lower-cased.
func normalizeCode(code string) string {
	return strings.ToLower(strings.Map(func(r rune) rune {
		if r == ' ' || r == '-' || r == '\t' {
			return -1
		}
		return r
	}, code))
}

// isTOTPCode reports whether c (normalized) has the form of a TOTP code.
func isTOTPCode(c string) bool {
	if len(c) != totpDigits {
		return false
	}
	for _, r := range c {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// isRecoveryCode reports whether c (normalized) has the form of a
// recovery code.
func isRecoveryCode(c string) bool {
	if len(c) != 16 {
		return false
	}
	_, err := recoveryEncoding.DecodeString(c)
	return err == nil
}

// recoveryHash is what the store keeps of a recovery code (normalized):
// SHA-256, bound to the customer. The codes carry 80 random bits, so a
// fast hash is enough; the store looks a code up by it.
func recoveryHash(customerID, code string) []byte {
	h := sha256.New()
	fmt.Fprintf(h, "openteller/recovery-code/v1\x00%s\x00%s", customerID, code)
	return h.Sum(nil)
}
