package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"github.com/openteller/openteller/internal/vault"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// account routes behind one test server, as the node serves them.
func accountServer(t *testing.T, env *testEnv) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(env.svc.Handler())
	t.Cleanup(srv.Close)
	return srv
}

// newClient is a browser with its own cookies.
func newClient(t *testing.T, srv *httptest.Server) *apiClient {
	return &apiClient{t: t, srv: srv, c: &http.Client{Jar: must(cookiejar.New(nil))}}
}

// signUpVia signs ada@example.com up through a and returns the CSRF token.
func signUpVia(a *apiClient) string {
	a.t.Helper()
	resp, body := a.do("POST", "/app/api/signup", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
	a.wantStatus(resp, body, 201, "")
	return decodeAccount(a.t, body).CSRFToken
}

// enrolTOTP sets a second factor up for the signed-in client and returns
// its secret and recovery codes.
func enrolTOTP(t *testing.T, env *testEnv, a *apiClient, csrf string) ([]byte, []string) {
	t.Helper()
	resp, body := a.do("POST", "/app/api/totp/setup", nil, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 200, "")
	var setup TOTPSetup
	json.Unmarshal(body, &setup)
	secret, err := secretEncoding.DecodeString(strings.ReplaceAll(setup.Secret, " ", ""))
	if err != nil || len(secret) != totpSecretBytes || !strings.HasPrefix(setup.URI, "otpauth://totp/OpenTeller:ada@example.com?") {
		t.Fatalf("setup %+v (%v)", setup, err)
	}
	resp, body = a.do("POST", "/app/api/totp/confirm", map[string]string{"code": totpCode(vault.MACKeyOf(secret), totpStep(env.clock.Now()))}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 200, "")
	var out struct {
		Codes []string `json:"recovery_codes"`
	}
	json.Unmarshal(body, &out)
	if len(out.Codes) != recoveryCodes {
		t.Fatalf("recovery codes %s", body)
	}
	return secret, out.Codes
}

// TestTOTPEnrolment: setting up shows a secret and its URI and guards
// nothing until a first code confirms it; a wrong first code is refused;
// the secret is kept sealed, never in the clear; once on, setting up
// again is refused until it is turned off.
func TestTOTPEnrolment(t *testing.T) {
	env := newTestEnv(t)
	srv := accountServer(t, env)
	a := newClient(t, srv)
	csrf := signUpVia(a)

	resp, body := a.do("POST", "/app/api/totp/confirm", map[string]string{"code": "123456"}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 409, "totp_not_started")
	resp, body = a.do("POST", "/app/api/totp/setup", nil)
	a.wantStatus(resp, body, 403, "csrf")
	resp, body = a.do("POST", "/app/api/totp/setup", nil, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 200, "")
	var setup TOTPSetup
	json.Unmarshal(body, &setup)
	secret, _ := secretEncoding.DecodeString(strings.ReplaceAll(setup.Secret, " ", ""))

	// Not yet confirmed: sign-in needs no code.
	other := newClient(t, srv)
	resp, body = other.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
	other.wantStatus(resp, body, 200, "")

	now := totpStep(env.clock.Now())
	for _, wrong := range []string{totpCode(vault.MACKeyOf(secret), now+3), "abc", ""} {
		resp, body = a.do("POST", "/app/api/totp/confirm", map[string]string{"code": wrong}, "X-CSRF-Token", csrf)
		a.wantStatus(resp, body, 400, "invalid_code")
	}
	resp, body = a.do("POST", "/app/api/totp/confirm", map[string]string{"code": totpCode(vault.MACKeyOf(secret), now)}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 200, "")
	resp, body = a.do("POST", "/app/api/totp/setup", nil, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 409, "totp_enabled")
	resp, body = a.do("GET", "/app/api/me", nil)
	if me := decodeAccount(t, body); me.Security == nil || !me.Security.TOTP || me.Security.RecoveryCodesLeft != recoveryCodes {
		t.Fatalf("/me security after enrolment: %+v", me.Security)
	}

	// Sealed at rest: neither the secret's bytes nor its text are in the
	// database's files.
	env.st.Close()
	files, _ := filepath.Glob(filepath.Join(env.dir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		if bytes.Contains(b, secret) || bytes.Contains(b, []byte(secretEncoding.EncodeToString(secret))) {
			t.Fatalf("%s holds the TOTP secret in the clear", f)
		}
	}
}

// TestTOTPSignIn: with a second factor on, the right password alone is
// answered code_required (and costs no lockout attempt); a wrong code is
// refused and counts; the right code signs in once, and the same code
// again, or an earlier one, is refused; a recovery code works once.
func TestTOTPSignIn(t *testing.T) {
	env := newTestEnv(t)
	srv := accountServer(t, env)
	a := newClient(t, srv)
	csrf := signUpVia(a)
	secret, codes := enrolTOTP(t, env, a, csrf)
	env.clock.Advance(totpPeriod * time.Second) // the code used to confirm is spent

	b := newClient(t, srv)
	signIn := func(password, code string) (*http.Response, []byte) {
		return b.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": password, "code": code})
	}
	resp, body := signIn("wrong password!", totpCode(vault.MACKeyOf(secret), totpStep(env.clock.Now())))
	b.wantStatus(resp, body, 401, "invalid_credentials")
	for range maxEmailFailures + 2 { // right password, no code: never a lockout
		resp, body = signIn("correct horse battery", "")
		b.wantStatus(resp, body, 401, "code_required")
	}
	for _, c := range resp.Cookies() {
		if c.Name == SessionCookie && c.MaxAge >= 0 {
			t.Fatal("a session cookie without the code")
		}
	}
	resp, body = signIn("correct horse battery", "000000")
	if totpCode(vault.MACKeyOf(secret), totpStep(env.clock.Now())) != "000000" {
		b.wantStatus(resp, body, 401, "invalid_code")
	}
	code := totpCode(vault.MACKeyOf(secret), totpStep(env.clock.Now()))
	resp, body = signIn("correct horse battery", code[:3]+" "+code[3:])
	b.wantStatus(resp, body, 200, "")

	// The same code again, from another device, within its window: refused.
	c := newClient(t, srv)
	resp, body = c.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery", "code": code})
	c.wantStatus(resp, body, 401, "invalid_code")
	// The next step's code works; then the one before it, still within the
	// skew, does not: a code is never older than the last one used.
	env.clock.Advance(totpPeriod * time.Second)
	resp, body = c.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery", "code": totpCode(vault.MACKeyOf(secret), totpStep(env.clock.Now()))})
	c.wantStatus(resp, body, 200, "")
	resp, body = c.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery", "code": totpCode(vault.MACKeyOf(secret), totpStep(env.clock.Now())-1)})
	c.wantStatus(resp, body, 401, "invalid_code")

	// A recovery code, in capitals and without dashes: once.
	rc := strings.ToUpper(strings.ReplaceAll(codes[3], "-", ""))
	resp, body = c.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery", "code": rc})
	c.wantStatus(resp, body, 200, "")
	resp, body = c.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery", "code": codes[3]})
	c.wantStatus(resp, body, 401, "invalid_code")
	if tt, _ := env.st.TOTP(context.Background(), decodeAccount(t, mustMe(a)).Customer.ID); tt.RecoveryCodesLeft != recoveryCodes-1 {
		t.Fatalf("recovery codes left %d", tt.RecoveryCodesLeft)
	}

	// Wrong codes count toward the lockout, like wrong passwords; then even
	// the right code waits.
	for i := 0; i < maxEmailFailures; i++ {
		resp, body = c.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery", "code": "zzzz-zzzz-zzzz-zzzz"})
		if resp.StatusCode == http.StatusTooManyRequests {
			break
		}
		c.wantStatus(resp, body, 401, "invalid_code")
	}
	env.clock.Advance(totpPeriod * time.Second)
	resp, body = c.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery", "code": totpCode(vault.MACKeyOf(secret), totpStep(env.clock.Now()))})
	c.wantStatus(resp, body, 429, "too_many_attempts")
}

func mustMe(a *apiClient) []byte {
	a.t.Helper()
	resp, body := a.do("GET", "/app/api/me", nil)
	a.wantStatus(resp, body, 200, "")
	return body
}

// TestTOTPTurnedOffAndNewCodes: new recovery codes replace the old; turning
// the second factor off (both need a recent authentication) lets the
// password alone sign in again.
func TestTOTPTurnedOffAndNewCodes(t *testing.T) {
	env := newTestEnv(t)
	srv := accountServer(t, env)
	a := newClient(t, srv)
	csrf := signUpVia(a)
	_, old := enrolTOTP(t, env, a, csrf)

	resp, body := a.do("POST", "/app/api/totp/recovery-codes", nil, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 200, "")
	var fresh struct {
		Codes []string `json:"recovery_codes"`
	}
	json.Unmarshal(body, &fresh)
	b := newClient(t, srv)
	resp, body = b.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery", "code": old[0]})
	b.wantStatus(resp, body, 401, "invalid_code")
	resp, body = b.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery", "code": fresh.Codes[0]})
	b.wantStatus(resp, body, 200, "")

	// Past the window, both need the password again.
	env.clock.Advance(DefaultReauthWindow + time.Second)
	resp, body = a.do("POST", "/app/api/totp/recovery-codes", nil, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 403, "reauth_required")
	resp, body = a.do("DELETE", "/app/api/totp", nil, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 403, "reauth_required")

	// Re-authentication with a second factor on takes the password and a
	// code (here a recovery code).
	bcsrf := decodeAccount(t, mustMe(b)).CSRFToken
	resp, body = b.do("POST", "/app/api/reauth", map[string]string{"password": "correct horse battery"}, "X-CSRF-Token", bcsrf)
	b.wantStatus(resp, body, 403, "code_required")
	resp, body = b.do("POST", "/app/api/reauth", map[string]string{"password": "correct horse battery", "code": fresh.Codes[1]}, "X-CSRF-Token", bcsrf)
	b.wantStatus(resp, body, 200, "")
	resp, body = b.do("DELETE", "/app/api/totp", nil, "X-CSRF-Token", bcsrf)
	b.wantStatus(resp, body, 204, "")
	resp, body = newClient(t, srv).do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
	a.wantStatus(resp, body, 200, "")
	resp, body = b.do("POST", "/app/api/totp/recovery-codes", nil, "X-CSRF-Token", decodeAccount(t, mustMe(b)).CSRFToken)
	b.wantStatus(resp, body, 409, "totp_not_enabled")
}
