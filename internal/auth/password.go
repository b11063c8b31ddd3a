package auth

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"golang.org/x/crypto/argon2"

	"github.com/openteller/openteller/internal/httpx"
)

// Argon2id parameters for new hashes: OWASP's recommended minimum
// (m=19 MiB, t=2, p=1). Verification reads the parameters from each stored
// hash, so these can be raised later without invalidating old passwords.
var defaultParams = argonParams{memory: 19 * 1024, time: 2, threads: 1, saltLen: 16, keyLen: 32}

// Bounds on parameters read from a stored hash. They keep a corrupted or
// planted hash from making verification allocate gigabytes or spin for
// minutes; they sit far above anything we would choose.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 64
	minSaltLen   = 8
	minKeyLen    = 16
	maxKeyLen    = 128
)

// Password rules. The length is counted in characters (runes) because that is
// what a person counts; the byte cap bounds the work one request can ask for.
const (
	minPasswordRunes = 10
	maxPasswordBytes = 1024
	maxEmailBytes    = 254
)

// ErrMalformedHash means a stored password hash is not an argon2id PHC
// string this package can read.
var ErrMalformedHash = errors.New("auth: malformed password hash")

type argonParams struct {
	memory  uint32 // KiB
	time    uint32
	threads uint8
	saltLen int
	keyLen  uint32
}

var b64 = base64.RawStdEncoding.Strict()

// HashPassword returns pw hashed with argon2id under a fresh random salt, in
// PHC string format: $argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>.
// It applies no password rules; SignUp does.
func HashPassword(pw string) (string, error) {
	return hashWith(defaultParams, pw), nil
}

func hashWith(p argonParams, pw string) string {
	salt := make([]byte, p.saltLen)
	rand.Read(salt) // never fails (crypto/rand, Go 1.24+)
	key := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, p.keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.memory, p.time, p.threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// VerifyPassword reports whether pw matches encoded, a hash made by
// HashPassword (with these or other argon2id parameters). The comparison
// takes constant time. A malformed hash is an error wrapping
// ErrMalformedHash, never a silent false.
func VerifyPassword(encoded, pw string) (bool, error) {
	p, salt, want, err := parsePHC(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(pw), salt, p.time, p.memory, p.threads, p.keyLen)
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// parsePHC reads "$argon2id$v=19$m=…,t=…,p=…$salt$hash".
func parsePHC(encoded string) (argonParams, []byte, []byte, error) {
	var p argonParams
	bad := func(what string) (argonParams, []byte, []byte, error) {
		return p, nil, nil, fmt.Errorf("%w: %s", ErrMalformedHash, what)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return bad("want 5 $-separated fields")
	}
	if parts[1] != "argon2id" {
		return bad("algorithm is not argon2id")
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return bad("unsupported version")
	}
	kv := strings.Split(parts[3], ",")
	if len(kv) != 3 {
		return bad("want parameters m, t and p")
	}
	var vals [3]uint64
	for i, name := range []string{"m", "t", "p"} {
		v, ok := strings.CutPrefix(kv[i], name+"=")
		if !ok {
			return bad("want parameters m, t and p in that order")
		}
		// Plain decimal only: no sign, no leading zeros, so one hash has one
		// spelling.
		if v == "" || (len(v) > 1 && v[0] == '0') || strings.IndexFunc(v, func(r rune) bool { return r < '0' || r > '9' }) >= 0 {
			return bad("parameter " + name + " is not a decimal number")
		}
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil {
			return bad("parameter " + name + " is out of range")
		}
		vals[i] = n
	}
	m, t, threads := vals[0], vals[1], vals[2]
	switch {
	case threads < 1 || threads > 255:
		return bad("parameter p is out of range")
	case t < 1 || t > maxTime:
		return bad("parameter t is out of range")
	case m < 8*threads || m > maxMemoryKiB: // argon2 needs 8 KiB per lane
		return bad("parameter m is out of range")
	}
	salt, err := b64.DecodeString(parts[4])
	if err != nil || len(salt) < minSaltLen {
		return bad("salt is not valid base64 of at least 8 bytes")
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil || len(key) < minKeyLen || len(key) > maxKeyLen {
		return bad("hash is not valid base64 of 16 to 128 bytes")
	}
	p = argonParams{memory: uint32(m), time: uint32(t), threads: uint8(threads), saltLen: len(salt), keyLen: uint32(len(key))}
	return p, salt, key, nil
}

// dummyHash is a hash of a random password under the current parameters.
// SignIn verifies against it when the email is unknown, so an unknown email
// costs the same time as a wrong password. It is made once per process, on
// first use (New warms it in the background).
var dummyHash = sync.OnceValue(func() string {
	return hashWith(defaultParams, rand.Text())
})

// checkPassword applies the password rules at sign-up.
func checkPassword(pw string) *httpx.Error {
	if len(pw) > maxPasswordBytes {
		return errWeakPassword("That password is too long. Choose one of at most %d bytes.", maxPasswordBytes)
	}
	if utf8.RuneCountInString(pw) < minPasswordRunes {
		return errWeakPassword("Choose a password of at least %d characters.", minPasswordRunes)
	}
	return nil
}

// normalizeEmail trims and lower-cases email and reports whether it looks
// like local@domain.tld. It is deliberately loose: the only proof that an
// address works is mail arriving there.
func normalizeEmail(email string) (string, bool) {
	if !utf8.ValidString(email) { // before ToLower, which would mend it
		return "", false
	}
	e := strings.ToLower(strings.TrimSpace(email))
	if len(e) == 0 || len(e) > maxEmailBytes {
		return e, false
	}
	if strings.IndexFunc(e, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }) >= 0 {
		return e, false
	}
	local, domain, ok := strings.Cut(e, "@")
	if !ok || local == "" || strings.Contains(domain, "@") {
		return e, false
	}
	dot := strings.LastIndexByte(domain, '.')
	if dot <= 0 || dot == len(domain)-1 || domain[0] == '.' || strings.Contains(domain, "..") {
		return e, false
	}
	return e, true
}
