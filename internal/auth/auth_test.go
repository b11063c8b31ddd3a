package auth

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/sqlite"
	"github.com/openteller/openteller/internal/vault"
)

// fakeClock is the injected clock: tests move time, they never sleep.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

type testEnv struct {
	svc   *Service
	st    *sqlite.Store
	clock *fakeClock
	dir   string // holds the database files
	logs  *bytes.Buffer
}

// newTestEnv gives a Service on a real SQLite store and keyring. The store
// shares the fake clock, so session expiry is judged by one time.
func newTestEnv(t *testing.T) *testEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	clock := &fakeClock{t: time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)}
	st.SetClock(clock.Now)
	kr, err := vault.New(bytes.Repeat([]byte{1}, 32), st)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	svc := New(Config{Store: st, Keyring: kr, Now: clock.Now, Logger: slog.New(slog.NewTextHandler(logs, nil))})
	return &testEnv{svc: svc, st: st, clock: clock, dir: dir, logs: &logs.buf}
}

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

var _ io.Writer = (*syncBuffer)(nil)

// verifyCalls counts password verifications and records the hashes used.
type verifyCalls struct {
	mu     sync.Mutex
	hashes []string
}

func (v *verifyCalls) n() int {
	v.mu.Lock()
	defer v.mu.Unlock()
	return len(v.hashes)
}

func (v *verifyCalls) last() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.hashes[len(v.hashes)-1]
}

// countVerifies routes s's verifications through a counter, to real argon2id
// unless fake is given.
func countVerifies(s *Service, fake func(encoded, pw string) (bool, error)) *verifyCalls {
	v := &verifyCalls{}
	real := s.verify
	if fake != nil {
		real = fake
	}
	s.verify = func(encoded, pw string) (bool, error) {
		v.mu.Lock()
		v.hashes = append(v.hashes, encoded)
		v.mu.Unlock()
		return real(encoded, pw)
	}
	return v
}

func wantError(t *testing.T, err error, status int, code string) *httpx.Error {
	t.Helper()
	var e *httpx.Error
	if !errors.As(err, &e) {
		t.Fatalf("error = %v; want *httpx.Error %d %s", err, status, code)
	}
	if e.Status != status || e.Code != code {
		t.Fatalf("error = %d %s (%q); want %d %s", e.Status, e.Code, e.Message, status, code)
	}
	return e
}

const ip = "203.0.113.7"

func TestSignUpValidation(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	calls := countVerifies(env.svc, nil)

	for _, email := range []string{"", "ada", "ada@example", "@example.com", "ada@.com", "a da@example.com", strings.Repeat("a", 250) + "@example.com"} {
		_, err := env.svc.SignUp(ctx, email, "a long enough password")
		e := wantError(t, err, 400, "invalid_email")
		if e.Message != "Enter an email address like name@example.com." {
			t.Errorf("message = %q", e.Message)
		}
	}
	for _, pw := range []string{"", "short", "ééééééééé", strings.Repeat("x", 1025)} {
		_, err := env.svc.SignUp(ctx, "ada@example.com", pw)
		wantError(t, err, 400, "weak_password")
	}
	_, err := env.svc.SignUp(ctx, "ada@example.com", "123456789")
	if e := wantError(t, err, 400, "weak_password"); e.Message != "Choose a password of at least 10 characters." {
		t.Errorf("message = %q", e.Message)
	}

	if _, err := env.st.CustomerByEmail(ctx, "ada@example.com"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a refused sign-up stored a customer: %v", err)
	}
	if calls.n() != 0 {
		t.Fatalf("validation ran %d verifications", calls.n())
	}
}

func TestSignUpAndSignIn(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	const pw = "correct horse battery"

	c, err := env.svc.SignUp(ctx, "  Ada@Example.COM ", pw)
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^cus_[a-z2-7]{26}$`).MatchString(c.ID) {
		t.Errorf("id = %q; want cus_ and 26 lowercase base32 characters", c.ID)
	}
	if c.Email != "ada@example.com" {
		t.Errorf("email = %q; want it trimmed and lower-cased", c.Email)
	}
	stored, err := env.st.CustomerByEmail(ctx, "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if stored.ID != c.ID || !phcRE.MatchString(stored.PasswordHash) || strings.Contains(stored.PasswordHash, pw) {
		t.Fatalf("stored customer = %+v", stored)
	}
	if !stored.CreatedAt.Equal(env.clock.Now()) {
		t.Errorf("created at %v; want the injected clock's %v", stored.CreatedAt, env.clock.Now())
	}
	if _, err := env.st.DataKey(ctx, c.ID); err != nil {
		t.Fatalf("sign-up made no data key: %v", err)
	}

	// Another case of the same address is the same account.
	_, err = env.svc.SignUp(ctx, "ADA@example.com", "another long password")
	wantError(t, err, 409, "email_taken")

	got, err := env.svc.SignIn(ctx, " ADA@EXAMPLE.COM", pw, ip)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != c.ID {
		t.Fatalf("signed in as %s; want %s", got.ID, c.ID)
	}

	if strings.Contains(env.logs.String(), "ada@") || strings.Contains(env.logs.String(), pw) {
		t.Fatalf("logs hold an email or password:\n%s", env.logs)
	}
}

func TestSignInUnknownEmailVerifiesDummyHash(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	c, err := env.svc.SignUp(ctx, "ada@example.com", "correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	calls := countVerifies(env.svc, nil)

	_, err = env.svc.SignIn(ctx, "ada@example.com", "wrong password!", ip)
	known := wantError(t, err, 401, "invalid_credentials")
	if calls.n() != 1 || calls.last() != c.PasswordHash {
		t.Fatalf("wrong password: %d verifications; want 1 against the customer's hash", calls.n())
	}

	for i, email := range []string{"nobody@example.com", "not an email"} {
		_, err = env.svc.SignIn(ctx, email, "wrong password!", ip)
		unknown := wantError(t, err, 401, "invalid_credentials")
		if *unknown != *known {
			t.Fatalf("unknown email answered %+v, wrong password %+v; they must not differ", unknown, known)
		}
		if calls.n() != 2+i || calls.last() != dummyHash() {
			t.Fatalf("unknown email %q: %d verifications, last against %q; want one more, against the dummy hash", email, calls.n(), calls.last())
		}
	}
	if known.Message != "That email and password don't match." {
		t.Errorf("message = %q", known.Message)
	}
	if !phcRE.MatchString(dummyHash()) {
		t.Errorf("dummy hash %q does not use the current parameters", dummyHash())
	}
}

func TestSignInLockout(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	const pw = "correct horse battery"
	c, err := env.svc.SignUp(ctx, "ada@example.com", pw)
	if err != nil {
		t.Fatal(err)
	}
	calls := countVerifies(env.svc, nil)

	for i := range maxEmailFailures {
		_, err := env.svc.SignIn(ctx, "ada@example.com", fmt.Sprintf("wrong password %d", i), ip)
		wantError(t, err, 401, "invalid_credentials")
		env.clock.Advance(time.Second)
	}
	// Locked, even with the right password, and without spending a hash.
	_, err = env.svc.SignIn(ctx, "ADA@example.com", pw, "198.51.100.1")
	e := wantError(t, err, 429, "too_many_attempts")
	if e.Message != "Too many sign-in attempts. Try again in 15 minutes." {
		t.Errorf("message = %q", e.Message)
	}
	if calls.n() != maxEmailFailures {
		t.Fatalf("%d verifications; a locked email must not be verified", calls.n())
	}
	var lockLines []string
	for line := range strings.Lines(env.logs.String()) {
		if strings.Contains(line, "locked for an email") {
			lockLines = append(lockLines, line)
		}
	}
	if len(lockLines) != 1 || !strings.Contains(lockLines[0], "customer="+c.ID) || strings.Contains(env.logs.String(), "ada@") {
		t.Errorf("the lock is not logged once, by customer id and without the email:\n%s", env.logs)
	}
	// The lock is the email's, not the address's.
	_, err = env.svc.SignIn(ctx, "grace@example.com", pw, ip)
	wantError(t, err, 401, "invalid_credentials")

	// The window started at the first failure; it ends 15 minutes after.
	env.clock.Advance(throttleWindow - maxEmailFailures*time.Second - time.Second)
	_, err = env.svc.SignIn(ctx, "ada@example.com", pw, ip)
	if e := wantError(t, err, 429, "too_many_attempts"); e.Message != "Too many sign-in attempts. Try again in 1 minute." {
		t.Errorf("message = %q", e.Message)
	}
	env.clock.Advance(time.Second)
	if _, err := env.svc.SignIn(ctx, "ada@example.com", pw, ip); err != nil {
		t.Fatalf("after the window: %v", err)
	}

	// A success clears the email's failures: 4 failures, a success, then 1
	// failure would be 5 without the clearing, and the next attempt locked.
	for range maxEmailFailures - 1 {
		_, err := env.svc.SignIn(ctx, "ada@example.com", "wrong password", ip)
		wantError(t, err, 401, "invalid_credentials")
	}
	if _, err := env.svc.SignIn(ctx, "ada@example.com", pw, ip); err != nil {
		t.Fatal(err)
	}
	_, err = env.svc.SignIn(ctx, "ada@example.com", "wrong password", ip)
	wantError(t, err, 401, "invalid_credentials")
	if _, err := env.svc.SignIn(ctx, "ada@example.com", pw, ip); err != nil {
		t.Fatalf("a success did not clear the email's failures: %v", err)
	}
}

// Throttling does not depend on argon2id, so these tests stub the
// verification out rather than spend dozens of hashes.
func alwaysWrong(string, string) (bool, error) { return false, nil }

func TestSignInIPThrottle(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	calls := countVerifies(env.svc, alwaysWrong)
	try := func(email, addr string) error {
		_, err := env.svc.SignIn(ctx, email, "some password", addr)
		return err
	}

	for i := range maxIPFailures {
		wantError(t, try(fmt.Sprintf("user%d@example.com", i), ip), 401, "invalid_credentials")
	}
	e := wantError(t, try("fresh@example.com", ip), 429, "too_many_attempts")
	if e.Message != "Too many sign-in attempts. Try again in 15 minutes." {
		t.Errorf("message = %q", e.Message)
	}
	if calls.n() != maxIPFailures {
		t.Fatalf("%d verifications; a throttled address must not be verified", calls.n())
	}
	// The limit is the address's: others are unaffected, and so is the email
	// from elsewhere.
	wantError(t, try("fresh@example.com", "198.51.100.1"), 401, "invalid_credentials")

	// IPv6 clients share a limit per /64.
	for i := range maxIPFailures {
		wantError(t, try(fmt.Sprintf("v6user%d@example.com", i), fmt.Sprintf("2001:db8:0:7::%x", i+1)), 401, "invalid_credentials")
	}
	wantError(t, try("fresh6@example.com", "2001:db8:0:7:ffff::1"), 429, "too_many_attempts")
	wantError(t, try("fresh6@example.com", "2001:db8:0:8::1"), 401, "invalid_credentials")

	env.clock.Advance(throttleWindow)
	wantError(t, try("fresh@example.com", ip), 401, "invalid_credentials")
}

// Guesses in flight at once must not slip past the limit between the check
// and the verdict.
func TestSignInConcurrentGuessesRespectLimit(t *testing.T) {
	env := newTestEnv(t)
	ctx := context.Background()
	countVerifies(env.svc, alwaysWrong)

	var unauthorized, throttled atomic.Int32
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			_, err := env.svc.SignIn(ctx, "ada@example.com", "guess", fmt.Sprintf("198.51.100.%d", i))
			var e *httpx.Error
			switch errors.As(err, &e); e.Code {
			case "invalid_credentials":
				unauthorized.Add(1)
			case "too_many_attempts":
				throttled.Add(1)
			default:
				t.Errorf("error = %v", err)
			}
		})
	}
	wg.Wait()
	if unauthorized.Load() != maxEmailFailures || throttled.Load() != 20-maxEmailFailures {
		t.Fatalf("%d wrong, %d throttled; want %d and %d", unauthorized.Load(), throttled.Load(), maxEmailFailures, 20-maxEmailFailures)
	}
}
