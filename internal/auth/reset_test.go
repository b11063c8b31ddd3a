package auth

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// mailbox is a Mailer that keeps what it was asked to send.
type mailbox struct {
	mu   sync.Mutex
	sent []ResetMail
}

func (m *mailbox) SendPasswordReset(_ context.Context, r ResetMail) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent = append(m.sent, r)
	return nil
}

func (m *mailbox) all() []ResetMail {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]ResetMail(nil), m.sent...)
}

// tokenOf is the token in a reset link.
func tokenOf(t *testing.T, link string) string {
	t.Helper()
	u, err := url.Parse(link)
	if err != nil || !strings.HasPrefix(u.Fragment, "/reset?") {
		t.Fatalf("link %q", link)
	}
	q, _ := url.ParseQuery(strings.TrimPrefix(u.Fragment, "/reset?"))
	return q.Get("token")
}

// TestPasswordReset: asking for a link answers the same, in the same way,
// for an email with an account and one without; only the account gets
// mail. The link sets a new password once (a weak choice does not spend
// it), ends every session of the customer, and then works no more.
func TestPasswordReset(t *testing.T) {
	env := newTestEnv(t)
	env.svc.baseURL = "https://teller.example"
	box := &mailbox{}
	env.svc.SetMailer(box)
	srv := accountServer(t, env)
	a := newClient(t, srv)
	signUpVia(a)
	var ended []string
	env.svc.sessionsEnded = func(customerID string, keep []byte) { ended = append(ended, customerID) }

	ask := func(email string) (int, string) {
		resp, body := newClient(t, srv).do("POST", "/app/api/password-reset", map[string]string{"email": email})
		return resp.StatusCode, string(body)
	}
	s1, b1 := ask("ada@example.com")
	s2, b2 := ask("nobody@example.com")
	if s1 != http.StatusAccepted || s1 != s2 || b1 != b2 {
		t.Fatalf("asks differ: %d %s / %d %s", s1, b1, s2, b2)
	}
	env.svc.Wait()
	sent := box.all()
	if len(sent) != 1 || sent[0].To != "ada@example.com" || !strings.HasPrefix(sent[0].Link, "https://teller.example/#/reset?token=") ||
		!sent[0].ExpiresAt.Equal(env.clock.Now().Add(ResetTTL)) {
		t.Fatalf("mail sent: %+v", sent)
	}
	token := tokenOf(t, sent[0].Link)

	resp, body := newClient(t, srv).do("POST", "/app/api/password-reset", map[string]string{"email": "not an email"})
	a.wantStatus(resp, body, 400, "invalid_email")

	b := newClient(t, srv)
	complete := func(token, pw string) (*http.Response, []byte) {
		return b.do("POST", "/app/api/password-reset/complete", map[string]string{"token": token, "new": pw})
	}
	resp, body = complete(token, "short")
	b.wantStatus(resp, body, 400, "weak_password")
	for _, bad := range []string{"", "not-base64!", token[:20], strings.Repeat("A", 43)} {
		resp, body = complete(bad, "a brand new password")
		b.wantStatus(resp, body, 400, "reset_link_invalid")
	}
	resp, body = complete(token, "a brand new password")
	b.wantStatus(resp, body, 204, "")
	if len(ended) != 1 {
		t.Fatalf("devices told of ended sessions: %v", ended)
	}
	resp, body = a.do("GET", "/app/api/me", nil)
	a.wantStatus(resp, body, 401, "signed_out")
	resp, body = complete(token, "yet another password")
	b.wantStatus(resp, body, 400, "reset_link_invalid")
	resp, body = b.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "correct horse battery"})
	b.wantStatus(resp, body, 401, "invalid_credentials")
	resp, body = b.do("POST", "/app/api/signin", map[string]string{"email": "ada@example.com", "password": "a brand new password"})
	b.wantStatus(resp, body, 200, "")
}

// TestResetLinkExpires: a link works for ResetTTL and not after.
func TestResetLinkExpires(t *testing.T) {
	env := newTestEnv(t)
	box := &mailbox{}
	env.svc.SetMailer(box)
	signedIn(t, env)
	ctx := context.Background()
	if _, err := env.svc.RequestReset(ctx, "ada@example.com", ip); err != nil {
		t.Fatal(err)
	}
	if _, err := env.svc.RequestReset(ctx, "ada@example.com", ip); err != nil {
		t.Fatal(err)
	}
	env.svc.Wait()
	sent := box.all()
	if len(sent) != 2 {
		t.Fatalf("%d mails", len(sent))
	}
	env.clock.Advance(ResetTTL)
	_, err := env.svc.CompleteReset(ctx, tokenOf(t, sent[0].Link), "a brand new password", ip)
	wantError(t, err, 400, "reset_link_invalid")
	env.clock.Advance(-time.Second) // the other one, just in time
	if _, err := env.svc.CompleteReset(ctx, tokenOf(t, sent[1].Link), "a brand new password", ip); err != nil {
		t.Fatal(err)
	}
}

// TestResetThrottled: an address gets a few asks per window, then 429; an
// email gets a few mails per window, and past that asks are answered the
// same and send nothing; links that do not work are limited per address.
func TestResetThrottled(t *testing.T) {
	env := newTestEnv(t)
	box := &mailbox{}
	env.svc.SetMailer(box)
	signedIn(t, env)
	ctx := context.Background()
	for i := range maxIPResetAsks {
		// From several addresses, so the email's own limit is what bites.
		if _, err := env.svc.RequestReset(ctx, "ada@example.com", "198.51.100."+string(rune('1'+i%9))); err != nil {
			t.Fatalf("ask %d: %v", i, err)
		}
	}
	env.svc.Wait()
	if n := len(box.all()); n != maxEmailResetAsks {
		t.Fatalf("%d mails to one email in a window, want %d", n, maxEmailResetAsks)
	}
	for i := range maxIPResetAsks {
		if _, err := env.svc.RequestReset(ctx, "someone@example.com", ip); err != nil {
			t.Fatalf("ask %d: %v", i, err)
		}
	}
	wait, err := env.svc.RequestReset(ctx, "someone@example.com", ip)
	wantError(t, err, 429, "too_many_attempts")
	if wait <= 0 {
		t.Fatal("no wait given")
	}
	// A new window: mail again.
	env.clock.Advance(throttleWindow)
	if _, err := env.svc.RequestReset(ctx, "ada@example.com", ip); err != nil {
		t.Fatal(err)
	}
	env.svc.Wait()
	if n := len(box.all()); n != maxEmailResetAsks+1 {
		t.Fatalf("%d mails after the window, want %d", n, maxEmailResetAsks+1)
	}

	for range maxIPResetMisses {
		_, err := env.svc.CompleteReset(ctx, strings.Repeat("A", 43), "a brand new password", ip)
		wantError(t, err, 400, "reset_link_invalid")
	}
	_, err = env.svc.CompleteReset(ctx, tokenOf(t, box.all()[0].Link), "a brand new password", ip)
	wantError(t, err, 429, "too_many_attempts")
}

// TestMailersNeverLeakInProduction: serve's mailer logs that no mailer is
// configured and names the customer by id, never the link or the email;
// the demo's writes the link.
func TestMailersNeverLeakInProduction(t *testing.T) {
	var logs bytes.Buffer
	m := ResetMail{CustomerID: "cus_x", To: "ada@example.com", Link: "https://teller.example/#/reset?token=SECRET", ExpiresAt: time.Now()}
	NoMailer{Logger: slog.New(slog.NewTextHandler(&logs, nil))}.SendPasswordReset(context.Background(), m)
	out := logs.String()
	if !strings.Contains(out, "no mailer is configured") || !strings.Contains(out, "cus_x") || strings.Contains(out, "SECRET") || strings.Contains(out, "ada@") {
		t.Fatalf("serve's mailer logged %q", out)
	}
	logs.Reset()
	LogMailer{Logger: slog.New(slog.NewTextHandler(&logs, nil))}.SendPasswordReset(context.Background(), m)
	if out := logs.String(); !strings.Contains(out, m.Link) || strings.Contains(out, "ada@") {
		t.Fatalf("the demo's mailer logged %q", out)
	}
	// A node without a mailer set uses serve's.
	env := newTestEnv(t)
	signedIn(t, env)
	env.svc.RequestReset(context.Background(), "ada@example.com", ip)
	env.svc.Wait()
	if out := env.logs.String(); !strings.Contains(out, "no mailer is configured") || strings.Contains(out, "token=") {
		t.Fatalf("default mailer logged %q", out)
	}
}
