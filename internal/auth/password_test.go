package auth

import (
	"errors"
	"regexp"
	"strings"
	"testing"
)

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=19456,t=2,p=1\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$`)

func TestHashPasswordRoundTrip(t *testing.T) {
	const pw = "correct horse battery staple"
	h1, err := HashPassword(pw)
	if err != nil {
		t.Fatal(err)
	}
	if !phcRE.MatchString(h1) {
		t.Fatalf("hash %q is not argon2id PHC with m=19456,t=2,p=1, a 16-byte salt and a 32-byte key", h1)
	}
	if strings.Contains(h1, pw) {
		t.Fatal("hash contains the password")
	}
	h2, _ := HashPassword(pw)
	if h1 == h2 {
		t.Fatal("two hashes of one password are equal: the salt is not random")
	}

	if ok, err := VerifyPassword(h1, pw); err != nil || !ok {
		t.Fatalf("VerifyPassword(right password) = %v, %v; want true", ok, err)
	}
	if ok, err := VerifyPassword(h1, pw+" "); err != nil || ok {
		t.Fatalf("VerifyPassword(wrong password) = %v, %v; want false, nil", ok, err)
	}
}

// Verification must use the parameters in the string, so they can be raised
// later without locking out everyone hashed under the old ones.
func TestVerifyPasswordReadsParameters(t *testing.T) {
	cheap := argonParams{memory: 64, time: 1, threads: 2, saltLen: 8, keyLen: 16}
	h := hashWith(cheap, "old-parameters-pw")
	if !strings.HasPrefix(h, "$argon2id$v=19$m=64,t=1,p=2$") {
		t.Fatalf("hash = %q", h)
	}
	if ok, err := VerifyPassword(h, "old-parameters-pw"); err != nil || !ok {
		t.Fatalf("VerifyPassword = %v, %v; want true", ok, err)
	}
	if ok, err := VerifyPassword(h, "old-parameters-pX"); err != nil || ok {
		t.Fatalf("VerifyPassword(wrong) = %v, %v; want false", ok, err)
	}
}

func TestVerifyPasswordMalformed(t *testing.T) {
	const salt, key = "c2FsdHNhbHRzYWx0c2FsdA", "a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U"
	good := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key
	if _, _, _, err := parsePHC(good); err != nil {
		t.Fatalf("the well-formed base case fails: %v", err)
	}
	for _, enc := range []string{
		"",
		"hunter2",
		"argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$m=64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1,k=2$" + salt + "$" + key,
		"$argon2id$v=19$m=x,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + key,
		"$argon2id$v=19$m=4,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=99999999999,t=1,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=4194304,t=1,p=1$" + salt + "$" + key, // 4 GiB
		"$argon2id$v=19$m=64,t=1000,p=1$" + salt + "$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key,
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "=",
		"$argon2id$v=19$m=64,t=1,p=1$c2FsdA$" + key, // 4-byte salt
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$a2V5",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "$",
		"$argon2id$v=19$m=64,t=1,p=1$" + salt + "$!!!!" + key,
	} {
		ok, err := VerifyPassword(enc, "whatever-password")
		if ok || !errors.Is(err, ErrMalformedHash) {
			t.Errorf("VerifyPassword(%q) = %v, %v; want false, ErrMalformedHash", enc, ok, err)
		}
	}
}

func TestPasswordRules(t *testing.T) {
	for _, tc := range []struct {
		pw string
		ok bool
	}{
		{"", false},
		{"123456789", false},
		{"ééééééééé", false}, // 9 characters, 18 bytes
		{"1234567890", true},
		{"éééééééééé", true}, // 10 characters
		{"🔑🔑🔑🔑🔑🔑🔑🔑🔑🔑", true},
		{strings.Repeat("x", maxPasswordBytes), true},
		{strings.Repeat("x", maxPasswordBytes+1), false},
		{strings.Repeat("é", 513), false}, // 513 characters, 1026 bytes
	} {
		err := checkPassword(tc.pw)
		if (err == nil) != tc.ok {
			t.Errorf("checkPassword(%.20q…) = %v; want ok=%v", tc.pw, err, tc.ok)
		}
		if err != nil && (err.Code != "weak_password" || err.Status != 400) {
			t.Errorf("checkPassword(%.20q…) = %v; want 400 weak_password", tc.pw, err)
		}
	}
}

func TestNormalizeEmail(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		ok       bool
	}{
		{"ada@example.com", "ada@example.com", true},
		{"  Ada.Lovelace+bank@Example.CO.UK\t", "ada.lovelace+bank@example.co.uk", true},
		{"x@a.b", "x@a.b", true},
		{"", "", false},
		{"ada", "", false},
		{"ada@example", "", false},
		{"@example.com", "", false},
		{"ada@", "", false},
		{"ada@.com", "", false},
		{"ada@example.", "", false},
		{"ada@example..com", "", false},
		{"ada@@example.com", "", false},
		{"ada@ex@ample.com", "", false},
		{"ada lovelace@example.com", "", false},
		{"ada@exam\x00ple.com", "", false},
		{"ada\xff@example.com", "", false},
		{strings.Repeat("a", 242) + "@example.com", strings.Repeat("a", 242) + "@example.com", true}, // 254 bytes
		{strings.Repeat("a", 243) + "@example.com", "", false},
	} {
		got, ok := normalizeEmail(tc.in)
		if ok != tc.ok || (ok && got != tc.want) {
			t.Errorf("normalizeEmail(%q) = %q, %v; want %q, %v", tc.in, got, ok, tc.want, tc.ok)
		}
	}
}
