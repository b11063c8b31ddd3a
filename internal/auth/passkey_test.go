package auth

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// The passkey tests drive the routes with a software authenticator
// written here from the WebAuthn specification (ES256, "none"
// attestation), so they check the server against the specification, not
// against the library's own idea of a client.

const (
	testRPID   = "bank.example"
	testOrigin = "https://bank.example"
)

// passkeyEnv is newTestEnv with passkeys on, for testRPID.
func passkeyEnv(t *testing.T) *testEnv {
	t.Helper()
	env := newTestEnv(t)
	kr, err := vault.New(bytes.Repeat([]byte{1}, 32), env.st)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	env.svc = New(Config{Store: env.st, Keyring: kr, Now: env.clock.Now, Logger: slog.New(slog.NewTextHandler(logs, nil)),
		Passkeys: PasskeyConfig{RPID: testRPID, Origins: []string{testOrigin}}})
	env.logs = &logs.buf
	return env
}

// authenticator is a software passkey authenticator: one key pair per
// credential, a signature counter, and switches for what tests break.
type authenticator struct {
	t      *testing.T
	key    *ecdsa.PrivateKey
	id     []byte
	handle []byte // the user handle it was given at registration
	count  uint32
	// noUV answers without user verification; origin overrides the page's.
	noUV   bool
	origin string
	synced bool // backup eligible and backed up
}

func newAuthenticator(t *testing.T) *authenticator {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	id := make([]byte, 16)
	rand.Read(id)
	return &authenticator{t: t, key: key, id: id, synced: true}
}

var b64raw = base64.RawURLEncoding

// cborBytes is a CBOR byte string (major type 2).
func cborBytes(b []byte) []byte {
	return append(cborHead(0x40, len(b)), b...)
}

func cborText(s string) []byte {
	return append(cborHead(0x60, len(s)), s...)
}

func cborHead(major byte, n int) []byte {
	switch {
	case n < 24:
		return []byte{major | byte(n)}
	case n < 256:
		return []byte{major | 24, byte(n)}
	default:
		return []byte{major | 25, byte(n >> 8), byte(n)}
	}
}

// coseKey is the credential's public key as a COSE_Key: EC2, ES256, P-256.
func (a *authenticator) coseKey() []byte {
	x, y := make([]byte, 32), make([]byte, 32)
	a.key.PublicKey.X.FillBytes(x)
	a.key.PublicKey.Y.FillBytes(y)
	out := []byte{0xa5, 0x01, 0x02, 0x03, 0x26, 0x20, 0x01, 0x21}
	out = append(out, cborBytes(x)...)
	out = append(out, 0x22)
	return append(out, cborBytes(y)...)
}

func (a *authenticator) flags() byte {
	f := byte(0x01) // user present
	if !a.noUV {
		f |= 0x04
	}
	if a.synced {
		f |= 0x08 | 0x10
	}
	return f
}

func (a *authenticator) authData(attested bool) []byte {
	rp := sha256.Sum256([]byte(testRPID))
	out := append([]byte{}, rp[:]...)
	f := a.flags()
	if attested {
		f |= 0x40
	}
	out = append(out, f)
	out = binary.BigEndian.AppendUint32(out, a.count)
	if attested {
		out = append(out, make([]byte, 16)...) // AAGUID: none
		out = binary.BigEndian.AppendUint16(out, uint16(len(a.id)))
		out = append(out, a.id...)
		out = append(out, a.coseKey()...)
	}
	return out
}

func (a *authenticator) clientData(typ, challenge string) []byte {
	origin := testOrigin
	if a.origin != "" {
		origin = a.origin
	}
	b, _ := json.Marshal(map[string]any{"type": typ, "challenge": challenge, "origin": origin, "crossOrigin": false})
	return b
}

// options is what the begin routes answer, as far as the tests read it.
type options struct {
	PublicKey struct {
		Challenge string `json:"challenge"`
		RPID      string `json:"rpId"`
		RP        struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"rp"`
		User struct {
			ID   string `json:"id"`
			Name string `json:"name"`
		} `json:"user"`
		UserVerification       string `json:"userVerification"`
		AuthenticatorSelection struct {
			ResidentKey      string `json:"residentKey"`
			UserVerification string `json:"userVerification"`
		} `json:"authenticatorSelection"`
		AllowCredentials   []struct{ ID string } `json:"allowCredentials"`
		ExcludeCredentials []struct{ ID string } `json:"excludeCredentials"`
	} `json:"publicKey"`
}

// create answers navigator.credentials.create for opts.
func (a *authenticator) create(opts options) json.RawMessage {
	a.t.Helper()
	handle, err := b64raw.DecodeString(opts.PublicKey.User.ID)
	if err != nil {
		a.t.Fatalf("user id %q: %v", opts.PublicKey.User.ID, err)
	}
	a.handle = handle
	att := []byte{0xa3}
	att = append(att, cborText("fmt")...)
	att = append(att, cborText("none")...)
	att = append(att, cborText("attStmt")...)
	att = append(att, 0xa0)
	att = append(att, cborText("authData")...)
	att = append(att, cborBytes(a.authData(true))...)
	b, _ := json.Marshal(map[string]any{
		"id": b64raw.EncodeToString(a.id), "rawId": b64raw.EncodeToString(a.id), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64raw.EncodeToString(a.clientData("webauthn.create", opts.PublicKey.Challenge)),
			"attestationObject": b64raw.EncodeToString(att),
			"transports":        []string{"internal", "hybrid"},
		},
		"clientExtensionResults": map[string]any{},
	})
	return b
}

// get answers navigator.credentials.get for challenge, counting one more
// signature.
func (a *authenticator) get(challenge string) json.RawMessage {
	a.t.Helper()
	a.count++
	authData := a.authData(false)
	cd := a.clientData("webauthn.get", challenge)
	h := sha256.Sum256(cd)
	digest := sha256.Sum256(append(append([]byte{}, authData...), h[:]...))
	sig, err := ecdsa.SignASN1(rand.Reader, a.key, digest[:])
	if err != nil {
		a.t.Fatal(err)
	}
	b, _ := json.Marshal(map[string]any{
		"id": b64raw.EncodeToString(a.id), "rawId": b64raw.EncodeToString(a.id), "type": "public-key",
		"authenticatorAttachment": "platform",
		"response": map[string]any{
			"clientDataJSON":    b64raw.EncodeToString(cd),
			"authenticatorData": b64raw.EncodeToString(authData),
			"signature":         b64raw.EncodeToString(sig),
			"userHandle":        b64raw.EncodeToString(a.handle),
		},
		"clientExtensionResults": map[string]any{},
	})
	return b
}

func decodeOptions(t *testing.T, body []byte) options {
	t.Helper()
	var o options
	if err := json.Unmarshal(body, &o); err != nil || o.PublicKey.Challenge == "" {
		t.Fatalf("options %s: %v", body, err)
	}
	return o
}

// addPasskey registers auth as name for the signed-in client a.
func addPasskey(t *testing.T, a *apiClient, csrf string, auth *authenticator, name string) PasskeyJSON {
	t.Helper()
	resp, body := a.do("POST", "/app/api/passkeys/register/begin", nil, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 200, "")
	resp, body = a.do("POST", "/app/api/passkeys/register/finish", map[string]any{"name": name, "credential": auth.create(decodeOptions(t, body))}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 201, "")
	var out struct{ Passkey PasskeyJSON }
	json.Unmarshal(body, &out)
	return out.Passkey
}

// passkeySignIn runs a passkey sign-in in client b, with email ("" for
// usernameless), and returns the finish's answer.
func passkeySignIn(t *testing.T, b *apiClient, auth *authenticator, email string) (*http.Response, []byte) {
	t.Helper()
	resp, body := b.do("POST", "/app/api/passkeys/signin/begin", map[string]string{"email": email})
	b.wantStatus(resp, body, 200, "")
	return b.do("POST", "/app/api/passkeys/signin/finish", map[string]any{"credential": auth.get(decodeOptions(t, body).PublicKey.Challenge)})
}

func listPasskeys(t *testing.T, a *apiClient) []PasskeyJSON {
	t.Helper()
	resp, body := a.do("GET", "/app/api/passkeys", nil)
	a.wantStatus(resp, body, 200, "")
	var out struct{ Passkeys []PasskeyJSON }
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatal(err)
	}
	return out.Passkeys
}

// TestPasskeyRegisterAndSignIn: a signed-in customer adds a passkey,
// named, asked for as a discoverable credential with user verification;
// it is listed (created, never used), counted in /me, and written to the
// log as a security event. Another browser then signs in with it,
// usernameless, and the list shows when it was used.
func TestPasskeyRegisterAndSignIn(t *testing.T) {
	env := passkeyEnv(t)
	srv := accountServer(t, env)
	a := newClient(t, srv)
	csrf := signUpVia(a)
	me := decodeAccount(t, mustMe(a))

	resp, body := a.do("POST", "/app/api/passkeys/register/begin", nil, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 200, "")
	opts := decodeOptions(t, body)
	pk := opts.PublicKey
	if pk.RP.ID != testRPID || pk.RP.Name != "OpenTeller" || pk.User.Name != "ada@example.com" ||
		pk.AuthenticatorSelection.ResidentKey != "required" || pk.AuthenticatorSelection.UserVerification != "required" || len(pk.ExcludeCredentials) != 0 {
		t.Fatalf("creation options %s", body)
	}
	if handle, _ := b64raw.DecodeString(pk.User.ID); string(handle) != me.Customer.ID {
		t.Fatalf("user handle %q, want the customer id", handle)
	}
	phone := newAuthenticator(t)
	env.clock.Advance(time.Minute)
	resp, body = a.do("POST", "/app/api/passkeys/register/finish", map[string]any{"name": "  Phone ", "credential": phone.create(opts)}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 201, "")

	list := listPasskeys(t, a)
	if len(list) != 1 || list[0].Name != "Phone" || list[0].ID != b64raw.EncodeToString(phone.id) || !list[0].CreatedAt.Equal(env.clock.Now()) ||
		list[0].LastUsedAt != nil || !list[0].Synced || strings.Join(list[0].Transports, " ") != "internal hybrid" {
		t.Fatalf("passkeys %+v", list)
	}
	if me := decodeAccount(t, mustMe(a)); me.Security.Passkeys != 1 {
		t.Fatalf("/me passkeys = %d", me.Security.Passkeys)
	}
	if !strings.Contains(env.logs.String(), "passkey added") || !strings.Contains(env.logs.String(), me.Customer.ID) {
		t.Fatalf("the log does not show the passkey added:\n%s", env.logs)
	}
	// A second registration names the first, so the same authenticator
	// does not make a second passkey.
	resp, body = a.do("POST", "/app/api/passkeys/register/begin", nil, "X-CSRF-Token", csrf)
	if o := decodeOptions(t, body); len(o.PublicKey.ExcludeCredentials) != 1 || o.PublicKey.ExcludeCredentials[0].ID != b64raw.EncodeToString(phone.id) {
		t.Fatalf("second creation options %s", body)
	}
	// And the same credential again is refused.
	resp, body = a.do("POST", "/app/api/passkeys/register/finish", map[string]any{"name": "Phone again", "credential": phone.create(decodeOptions(t, body))}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 409, "passkey_exists")

	b := newClient(t, srv)
	resp, body = b.do("POST", "/app/api/passkeys/signin/begin", map[string]string{})
	b.wantStatus(resp, body, 200, "")
	opts = decodeOptions(t, body)
	if opts.PublicKey.RPID != testRPID || opts.PublicKey.UserVerification != "required" || len(opts.PublicKey.AllowCredentials) != 0 {
		t.Fatalf("request options %s", body)
	}
	env.clock.Advance(time.Minute)
	resp, body = b.do("POST", "/app/api/passkeys/signin/finish", map[string]any{"credential": phone.get(opts.PublicKey.Challenge)})
	b.wantStatus(resp, body, 200, "")
	if acc := decodeAccount(t, body); acc.Customer.ID != me.Customer.ID {
		t.Fatalf("signed in as %+v", acc.Customer)
	}
	if got := decodeAccount(t, mustMe(b)); got.Customer.ID != me.Customer.ID {
		t.Fatalf("/me after a passkey sign-in: %+v", got.Customer)
	}
	if list := listPasskeys(t, b); list[0].LastUsedAt == nil || !list[0].LastUsedAt.Equal(env.clock.Now()) {
		t.Fatalf("last used %v, want %v", list[0].LastUsedAt, env.clock.Now())
	}
	if !strings.Contains(env.logs.String(), "signed in with a passkey") {
		t.Fatalf("the log does not show the passkey sign-in:\n%s", env.logs)
	}
}

// TestPasskeySatisfiesSecondFactor: with TOTP on, the password alone still
// asks for a code, but a passkey (with user verification) signs in on its
// own; without user verification it does not, nor is such a passkey
// added.
func TestPasskeySatisfiesSecondFactor(t *testing.T) {
	env := passkeyEnv(t)
	srv := accountServer(t, env)
	a := newClient(t, srv)
	csrf := signUpVia(a)
	enrolTOTP(t, env, a, csrf)
	phone := newAuthenticator(t)
	addPasskey(t, a, csrf, phone, "Phone")

	b := newClient(t, srv)
	resp, body := b.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
	b.wantStatus(resp, body, 401, "code_required")
	resp, body = passkeySignIn(t, b, phone, "")
	b.wantStatus(resp, body, 200, "")

	phone.noUV = true
	resp, body = passkeySignIn(t, newClient(t, srv), phone, "")
	b.wantStatus(resp, body, 401, "passkey_invalid")

	resp, body = a.do("POST", "/app/api/passkeys/register/begin", nil, "X-CSRF-Token", csrf)
	lax := newAuthenticator(t)
	lax.noUV = true
	resp, body = a.do("POST", "/app/api/passkeys/register/finish", map[string]any{"name": "Key", "credential": lax.create(decodeOptions(t, body))}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 400, "passkey_rejected")
	if n := len(listPasskeys(t, a)); n != 1 {
		t.Fatalf("%d passkeys after a refused one", n)
	}
}

// TestPasskeyChallenges: a challenge answers once, within PasskeyTTL, in
// the browser it was given to (its cookie), and only for its own
// ceremony; an answer for another challenge, or from another origin, is
// refused.
func TestPasskeyChallenges(t *testing.T) {
	env := passkeyEnv(t)
	srv := accountServer(t, env)
	a := newClient(t, srv)
	csrf := signUpVia(a)
	phone := newAuthenticator(t)
	addPasskey(t, a, csrf, phone, "Phone")

	// A registration is bound to the session that began it: another
	// session of the same customer cannot finish it.
	resp, body := a.do("POST", "/app/api/passkeys/register/begin", nil, "X-CSRF-Token", csrf)
	opts := decodeOptions(t, body)
	c := newClient(t, srv)
	resp, body = passkeySignIn(t, c, phone, "")
	c.wantStatus(resp, body, 200, "")
	other := decodeAccount(t, body).CSRFToken
	resp, body = c.do("POST", "/app/api/passkeys/register/finish", map[string]any{"name": "Laptop", "credential": newAuthenticator(t).create(opts)}, "X-CSRF-Token", other)
	c.wantStatus(resp, body, 400, "passkey_expired")
	resp, body = a.do("POST", "/app/api/passkeys/register/finish", map[string]any{"name": "Laptop", "credential": newAuthenticator(t).create(opts)}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 201, "")

	// Replayed: the same answer, with the same cookie, a second time.
	b := newClient(t, srv)
	resp, body = b.do("POST", "/app/api/passkeys/signin/begin", map[string]string{})
	challenge := decodeOptions(t, body).PublicKey.Challenge
	var cookie string
	for _, c := range resp.Cookies() {
		if c.Name == PasskeyCookie {
			cookie = c.Value
			if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteStrictMode || c.MaxAge != int(PasskeyTTL.Seconds()) {
				t.Fatalf("ceremony cookie %+v", c)
			}
		}
	}
	answer := phone.get(challenge)
	resp, body = b.do("POST", "/app/api/passkeys/signin/finish", map[string]any{"credential": answer})
	b.wantStatus(resp, body, 200, "")
	replay := newClient(t, srv)
	resp, body = replay.do("POST", "/app/api/passkeys/signin/finish", map[string]any{"credential": answer}, "Cookie", PasskeyCookie+"="+cookie)
	replay.wantStatus(resp, body, 400, "passkey_expired")

	// Another browser, without the cookie.
	resp, body = b.do("POST", "/app/api/passkeys/signin/begin", map[string]string{})
	resp, body = newClient(t, srv).do("POST", "/app/api/passkeys/signin/finish", map[string]any{"credential": phone.get(decodeOptions(t, body).PublicKey.Challenge)})
	b.wantStatus(resp, body, 400, "passkey_expired")

	// Too late.
	resp, body = c.do("POST", "/app/api/passkeys/signin/begin", map[string]string{})
	challenge = decodeOptions(t, body).PublicKey.Challenge
	env.clock.Advance(PasskeyTTL)
	resp, body = c.do("POST", "/app/api/passkeys/signin/finish", map[string]any{"credential": phone.get(challenge)})
	c.wantStatus(resp, body, 400, "passkey_expired")

	// Signed over another challenge, or at another origin.
	resp, body = c.do("POST", "/app/api/passkeys/signin/begin", map[string]string{})
	resp, body = c.do("POST", "/app/api/passkeys/signin/finish", map[string]any{"credential": phone.get(b64raw.EncodeToString(make([]byte, 32)))})
	c.wantStatus(resp, body, 401, "passkey_invalid")
	phone.origin = "https://bank.example.evil"
	resp, body = c.do("POST", "/app/api/passkeys/signin/begin", map[string]string{})
	resp, body = c.do("POST", "/app/api/passkeys/signin/finish", map[string]any{"credential": phone.get(decodeOptions(t, body).PublicKey.Challenge)})
	c.wantStatus(resp, body, 401, "passkey_invalid")
	phone.origin = ""

}

// TestPasskeyCounter: an authenticator's signature counter must move
// forward; one that goes back, or repeats, is a copy, and refused.
func TestPasskeyCounter(t *testing.T) {
	env := passkeyEnv(t)
	srv := accountServer(t, env)
	a := newClient(t, srv)
	csrf := signUpVia(a)
	key := newAuthenticator(t)
	key.count = 1
	key.synced = false
	addPasskey(t, a, csrf, key, "Security key")

	b := newClient(t, srv)
	key.count = 4 // signs as 5
	resp, body := passkeySignIn(t, b, key, "")
	b.wantStatus(resp, body, 200, "")
	for _, n := range []uint32{4, 2} { // signs as 5, then 3
		key.count = n
		resp, body = passkeySignIn(t, b, key, "")
		b.wantStatus(resp, body, 401, "passkey_refused")
	}
	if !strings.Contains(env.logs.String(), "may be copied") {
		t.Fatalf("the log does not warn of a copied passkey:\n%s", env.logs)
	}
	key.count = 5 // signs as 6
	resp, body = passkeySignIn(t, b, key, "")
	b.wantStatus(resp, body, 200, "")
}

// TestPasskeyRemoved: removing a passkey needs a recent authentication;
// then it signs nobody in, with a plain sentence saying so; the removal is
// in the log.
func TestPasskeyRemoved(t *testing.T) {
	env := passkeyEnv(t)
	srv := accountServer(t, env)
	a := newClient(t, srv)
	csrf := signUpVia(a)
	phone, laptop := newAuthenticator(t), newAuthenticator(t)
	p := addPasskey(t, a, csrf, phone, "Phone")
	addPasskey(t, a, csrf, laptop, "Laptop")

	env.clock.Advance(DefaultReauthWindow)
	resp, body := a.do("DELETE", "/app/api/passkeys/"+p.ID, nil, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 403, "reauth_required")
	resp, body = a.do("POST", "/app/api/passkeys/register/begin", nil, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 403, "reauth_required")
	resp, body = a.do("POST", "/app/api/reauth", map[string]string{"password": "correct horse battery"}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 200, "")
	resp, body = a.do("DELETE", "/app/api/passkeys/"+p.ID, nil)
	a.wantStatus(resp, body, 403, "csrf")
	for _, id := range []string{b64raw.EncodeToString([]byte("not mine")), "!!", p.ID + "A"} {
		resp, body = a.do("DELETE", "/app/api/passkeys/"+id, nil, "X-CSRF-Token", csrf)
		a.wantStatus(resp, body, 404, "not_found")
	}
	resp, body = a.do("DELETE", "/app/api/passkeys/"+p.ID, nil, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 200, "")
	if removed := decodeRemoved(t, body); removed != (PasskeyRemoved{}) {
		t.Fatalf("a passkey that signed no session in: %+v", removed)
	}
	if list := listPasskeys(t, a); len(list) != 1 || list[0].Name != "Laptop" {
		t.Fatalf("after the removal: %+v", list)
	}
	if !strings.Contains(env.logs.String(), "passkey removed") {
		t.Fatalf("the log does not show the removal:\n%s", env.logs)
	}

	b := newClient(t, srv)
	resp, body = passkeySignIn(t, b, phone, "")
	b.wantStatus(resp, body, 401, "passkey_unknown")
	var e apiError
	json.Unmarshal(body, &e)
	if !strings.Contains(e.Error.Message, "removed") {
		t.Fatalf("a removed passkey's sign-in says %q", e.Error.Message)
	}
	resp, body = passkeySignIn(t, b, laptop, "")
	b.wantStatus(resp, body, 200, "")
}

func decodeRemoved(t *testing.T, body []byte) PasskeyRemoved {
	t.Helper()
	var out PasskeyRemoved
	if err := json.Unmarshal(body, &out); err != nil {
		t.Fatalf("removed %s: %v", body, err)
	}
	return out
}

// sessionOf is the id hash of the session whose cookie client a holds.
func sessionOf(t *testing.T, a *apiClient) []byte {
	t.Helper()
	u, _ := url.Parse(a.srv.URL)
	for _, c := range a.c.Jar.Cookies(u) {
		if c.Name == SessionCookie {
			raw, err := b64url.DecodeString(c.Value)
			if err != nil {
				t.Fatal(err)
			}
			return sessionIDHash(raw)
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// TestPasskeyRemovalEndsItsSessions: the sessions a passkey signed in end
// when it is removed, and no other: the devices signed in with another
// passkey or the password stay signed in, a removed passkey's device gets
// 401 signed_out from then on, and the node is told which sessions ended
// (to sign their live devices out). The list marks the passkey that
// signed the asking session in. Removed from the very session it signed
// in, the passkey ends that session too, and its cookie is cleared.
func TestPasskeyRemovalEndsItsSessions(t *testing.T) {
	env := passkeyEnv(t)
	var told [][]byte
	var toldOf []string
	env.svc.passkeySessionsEnded = func(customerID string, ended [][]byte) {
		toldOf = append(toldOf, customerID)
		told = append(told, ended...)
	}
	srv := accountServer(t, env)
	byPassword := newClient(t, srv)
	csrf := signUpVia(byPassword)
	customerID := decodeAccount(t, mustMe(byPassword)).Customer.ID
	phone, laptop := newAuthenticator(t), newAuthenticator(t)
	a := addPasskey(t, byPassword, csrf, phone, "Phone")
	b := addPasskey(t, byPassword, csrf, laptop, "Laptop")

	byPhone, byLaptop := newClient(t, srv), newClient(t, srv)
	resp, body := passkeySignIn(t, byPhone, phone, "")
	byPhone.wantStatus(resp, body, 200, "")
	phoneCSRF := decodeAccount(t, body).CSRFToken
	resp, body = passkeySignIn(t, byLaptop, laptop, "")
	byLaptop.wantStatus(resp, body, 200, "")
	laptopCSRF := decodeAccount(t, body).CSRFToken
	for _, c := range []struct {
		who  *apiClient
		here string
	}{{byPassword, ""}, {byPhone, "Phone"}, {byLaptop, "Laptop"}} {
		for _, p := range listPasskeys(t, c.who) {
			if p.SignedInHere != (p.Name == c.here) {
				t.Fatalf("signed in by %q, the list says %+v", c.here, p)
			}
		}
	}

	// The phone is lost: its passkey is removed from the device signed in
	// with the password.
	phoneSession := sessionOf(t, byPhone)
	resp, body = byPassword.do("DELETE", "/app/api/passkeys/"+a.ID, nil, "X-CSRF-Token", csrf)
	byPassword.wantStatus(resp, body, 200, "")
	if removed := decodeRemoved(t, body); removed != (PasskeyRemoved{SessionsEnded: 1}) {
		t.Fatalf("removing the phone's passkey: %+v", removed)
	}
	if len(told) != 1 || !bytes.Equal(told[0], phoneSession) || !slices.Equal(toldOf, []string{customerID}) {
		t.Fatalf("the node was told of sessions %x of %v, want the phone's %x of %s", told, toldOf, phoneSession, customerID)
	}
	resp, body = byPhone.do("GET", "/app/api/me", nil)
	byPhone.wantStatus(resp, body, 401, "signed_out")
	resp, body = byPhone.do("POST", "/app/api/passkeys/register/begin", nil, "X-CSRF-Token", phoneCSRF)
	byPhone.wantStatus(resp, body, 401, "signed_out")
	mustMe(byPassword)
	mustMe(byLaptop)
	if !strings.Contains(env.logs.String(), "sessions_ended=1") {
		t.Fatalf("the log does not say the removal ended a session:\n%s", env.logs)
	}

	// The laptop's passkey, removed from the laptop it signed in: the
	// laptop is signed out too, and told so.
	told = nil
	laptopSession := sessionOf(t, byLaptop)
	resp, body = byLaptop.do("DELETE", "/app/api/passkeys/"+b.ID, nil, "X-CSRF-Token", laptopCSRF)
	byLaptop.wantStatus(resp, body, 200, "")
	if removed := decodeRemoved(t, body); removed != (PasskeyRemoved{SessionsEnded: 1, SignedOut: true}) {
		t.Fatalf("removing the laptop's passkey from the laptop: %+v", removed)
	}
	cleared := false
	for _, c := range resp.Cookies() {
		cleared = cleared || (c.Name == SessionCookie && c.MaxAge < 0)
	}
	if !cleared {
		t.Fatalf("the session cookie was not cleared: %v", resp.Header.Values("Set-Cookie"))
	}
	if len(told) != 1 || !bytes.Equal(told[0], laptopSession) {
		t.Fatalf("the node was told of sessions %x, want the laptop's %x", told, laptopSession)
	}
	if _, err := env.st.Session(context.Background(), laptopSession); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the laptop's session outlived its passkey: %v", err)
	}
	resp, body = byLaptop.do("GET", "/app/api/me", nil)
	byLaptop.wantStatus(resp, body, 401, "signed_out")
	mustMe(byPassword)
	if list := listPasskeys(t, byPassword); len(list) != 0 {
		t.Fatalf("passkeys left: %+v", list)
	}
}

// TestPasskeyAfterEmail: a sign-in begun after the email was entered
// answers alike whether or not the address has an account, and accepts
// only a passkey of that account.
func TestPasskeyAfterEmail(t *testing.T) {
	env := passkeyEnv(t)
	srv := accountServer(t, env)
	a := newClient(t, srv)
	csrf := signUpVia(a)
	phone := newAuthenticator(t)
	addPasskey(t, a, csrf, phone, "Phone")

	shape := func(body []byte) string {
		var m map[string]map[string]any
		json.Unmarshal(body, &m)
		var keys []string
		for k := range m["publicKey"] {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		return strings.Join(keys, ",")
	}
	b := newClient(t, srv)
	_, known := b.do("POST", "/app/api/passkeys/signin/begin", map[string]string{"email": "ada@example.com"})
	_, unknown := b.do("POST", "/app/api/passkeys/signin/begin", map[string]string{"email": "nobody@example.com"})
	if shape(known) != shape(unknown) {
		t.Fatalf("known and unknown emails answer differently:\n%s\n%s", known, unknown)
	}
	resp, body := passkeySignIn(t, b, phone, "someone-else@example.com")
	b.wantStatus(resp, body, 401, "passkey_other_account")
	resp, body = passkeySignIn(t, b, phone, "ADA@example.com")
	b.wantStatus(resp, body, 200, "")
	resp, body = b.do("POST", "/app/api/passkeys/signin/begin", map[string]string{"email": "not an email"})
	b.wantStatus(resp, body, 400, "invalid_email")
}

// TestPasskeyBadInput: malformed answers and names get typed errors and
// change nothing, not even the challenge waiting for the right answer;
// finishing what was never begun is passkey_expired; with passkeys off,
// every passkey route says so.
func TestPasskeyBadInput(t *testing.T) {
	env := passkeyEnv(t)
	srv := accountServer(t, env)
	a := newClient(t, srv)
	csrf := signUpVia(a)
	phone := newAuthenticator(t)

	resp, body := a.do("POST", "/app/api/passkeys/register/finish", map[string]any{"name": "Phone", "credential": phone.create(options{})}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 400, "passkey_expired")
	resp, body = a.do("POST", "/app/api/passkeys/register/begin", nil, "X-CSRF-Token", csrf)
	opts := decodeOptions(t, body)
	good := phone.create(opts)
	for _, in := range []map[string]any{
		{"name": "", "credential": good},
		{"name": "   ", "credential": good},
		{"name": strings.Repeat("x", maxPasskeyName+1), "credential": good},
		{"name": "bad\x00name", "credential": good},
	} {
		resp, body = a.do("POST", "/app/api/passkeys/register/finish", in, "X-CSRF-Token", csrf)
		a.wantStatus(resp, body, 400, "invalid_passkey_name")
	}
	for _, cred := range []any{nil, "a string", map[string]any{"id": "x"}, json.RawMessage(`{"id":"AA","rawId":"AA","type":"public-key","response":{}}`)} {
		resp, body = a.do("POST", "/app/api/passkeys/register/finish", map[string]any{"name": "Phone", "credential": cred}, "X-CSRF-Token", csrf)
		a.wantStatus(resp, body, 400, "invalid_passkey_answer")
	}
	resp, body = a.do("POST", "/app/api/passkeys/register/finish", map[string]any{"name": "Phone", "credential": good, "extra": 1}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 400, "invalid_json")
	if n := len(listPasskeys(t, a)); n != 0 {
		t.Fatalf("%d passkeys after bad input", n)
	}
	// The challenge was left as it was: the right answer still works.
	resp, body = a.do("POST", "/app/api/passkeys/register/finish", map[string]any{"name": "Phone", "credential": good}, "X-CSRF-Token", csrf)
	a.wantStatus(resp, body, 201, "")

	b := newClient(t, srv)
	resp, body = b.do("POST", "/app/api/passkeys/signin/begin", map[string]string{})
	challenge := decodeOptions(t, body).PublicKey.Challenge
	for _, cred := range []any{nil, 7, map[string]any{"id": "x"}} {
		resp, body = b.do("POST", "/app/api/passkeys/signin/finish", map[string]any{"credential": cred})
		b.wantStatus(resp, body, 400, "invalid_passkey_answer")
	}
	resp, body = b.do("POST", "/app/api/passkeys/signin/finish", map[string]any{"credential": phone.get(challenge)})
	b.wantStatus(resp, body, 200, "")

	// Off: no relying party configured.
	off := newTestEnv(t)
	osrv := accountServer(t, off)
	c := newClient(t, osrv)
	ccsrf := signUpVia(c)
	resp, body = c.do("POST", "/app/api/passkeys/signin/begin", map[string]string{})
	c.wantStatus(resp, body, 404, "passkeys_off")
	resp, body = c.do("POST", "/app/api/passkeys/register/begin", nil, "X-CSRF-Token", ccsrf)
	c.wantStatus(resp, body, 404, "passkeys_off")
	if list := listPasskeys(t, c); len(list) != 0 {
		t.Fatalf("passkeys while off: %+v", list)
	}
}

// TestPasskeySignInThrottled: failed passkey sign-ins count against the
// client address with the password's limit, then even a good passkey
// waits (429 with Retry-After); they never lock the email, so the
// password still works from elsewhere.
func TestPasskeySignInThrottled(t *testing.T) {
	env := passkeyEnv(t)
	srv := accountServer(t, env)
	a := newClient(t, srv)
	csrf := signUpVia(a)
	phone := newAuthenticator(t)
	addPasskey(t, a, csrf, phone, "Phone")
	stranger := newAuthenticator(t)
	stranger.handle = []byte("cus_nobody")

	b := newClient(t, srv)
	for range maxIPFailures {
		resp, body := passkeySignIn(t, b, stranger, "")
		b.wantStatus(resp, body, 401, "passkey_unknown")
	}
	resp, body := b.do("POST", "/app/api/passkeys/signin/begin", map[string]string{})
	b.wantStatus(resp, body, 429, "too_many_attempts")
	if resp.Header.Get("Retry-After") == "" {
		t.Error("no Retry-After")
	}
	// The password path shares the address's count.
	resp, body = b.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
	b.wantStatus(resp, body, 429, "too_many_attempts")
	// The email is not locked: from another address the password works.
	if _, err := env.svc.SignIn(context.Background(), "ada@example.com", "correct horse battery", "192.0.2.7"); err != nil {
		t.Fatalf("the email was locked by failed passkeys: %v", err)
	}
	env.clock.Advance(throttleWindow)
	resp, body = passkeySignIn(t, b, phone, "")
	b.wantStatus(resp, body, 200, "")
}

// TestPasskeyBeginsThrottled: each begun sign-in keeps a challenge in the
// store, so one address may begin only so many per window.
func TestPasskeyBeginsThrottled(t *testing.T) {
	env := passkeyEnv(t)
	srv := accountServer(t, env)
	b := newClient(t, srv)
	for range maxIPPasskeyBegins {
		resp, body := b.do("POST", "/app/api/passkeys/signin/begin", map[string]string{})
		b.wantStatus(resp, body, 200, "")
	}
	resp, body := b.do("POST", "/app/api/passkeys/signin/begin", map[string]string{})
	b.wantStatus(resp, body, 429, "too_many_attempts")
	env.clock.Advance(throttleWindow)
	resp, body = b.do("POST", "/app/api/passkeys/signin/begin", map[string]string{})
	b.wantStatus(resp, body, 200, "")
}

// A passkey's record keeps what the library needs to check it again.
func TestCredentialOfRoundTrip(t *testing.T) {
	p := store.Passkey{ID: []byte("id"), PublicKey: []byte("pk"), SignCount: 7, Transports: []string{"usb"}, AAGUID: make([]byte, 16), Flags: 0x1d, AttestationFormat: "none"}
	c := credentialOf(p)
	if !bytes.Equal(c.ID, p.ID) || !bytes.Equal(c.PublicKey, p.PublicKey) || c.Authenticator.SignCount != 7 || string(c.Transport[0]) != "usb" ||
		!c.Flags.UserPresent || !c.Flags.UserVerified || !c.Flags.BackupEligible || !c.Flags.BackupState || byte(c.Flags.ProtocolValue()) != 0x1d {
		t.Fatalf("credential %+v", c)
	}
}
