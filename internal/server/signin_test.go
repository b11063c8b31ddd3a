package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/png"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/auth"
	"github.com/openteller/openteller/internal/brand"
	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/store"
)

// call sends a customer API request with a session cookie and CSRF token.
func call(t *testing.T, base, method, path, cookie, csrf, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", cookie)
	req.Header.Set("X-CSRF-Token", csrf)
	resp, err := http.DefaultClient.Do(req)
	fatalIf(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestIrreversibleNeedsRecentAuth: on a node, clearing history,
// disconnecting every bank and letting another person read a bank's data
// answer 403 reauth_required to a session whose sign-in is not recent,
// and go ahead once the password is given again; disconnecting one bank
// stays one tap (no re-authentication).
func TestIrreversibleNeedsRecentAuth(t *testing.T) {
	srv := testServer(t)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	ctx := context.Background()
	c, err := srv.Auth.SignUp(ctx, "ada@example.com", "correct horse battery")
	fatalIf(t, err)
	raw := make([]byte, 32)
	rand.Read(raw)
	idHash := sha256.Sum256(raw)
	now := time.Now()
	fatalIf(t, srv.Store.CreateSession(ctx, store.Session{IDHash: idHash[:], CustomerID: c.ID, CSRFToken: "csrf-token", CreatedAt: now.Add(-time.Hour), ExpiresAt: now.Add(time.Hour)}, c.PasswordHash))
	cookie := auth.SessionCookie + "=" + base64.RawURLEncoding.EncodeToString(raw)
	addInstitutions(t, srv.Store, "ins_a", "ins_b")
	_, err = srv.Auth.SignUp(ctx, "accountant@example.com", "ledgers and receipts")
	fatalIf(t, err)
	for _, ins := range []string{"a", "b"} {
		l := store.Link{ID: "lnk_" + ins, CustomerID: c.ID, InstitutionID: "ins_" + ins, ConversationID: "cnv_" + ins, Scopes: []string{"balances"},
			Status: store.LinkActive, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		_, err := srv.Store.CreateLink(ctx, l, consent.GrantReceipt(l, "d"))
		fatalIf(t, err)
	}

	for _, r := range []struct{ method, path, body string }{
		{"POST", "/app/api/history/clear", `{"everything":true}`},
		{"POST", "/app/api/disconnect-all", ``},
		{"POST", "/app/api/totp/setup", ``},
		{"POST", "/app/api/links/lnk_a/delegates", `{"email":"accountant@example.com","duration_days":30}`},
	} {
		status, body := call(t, ts.URL, r.method, r.path, cookie, "csrf-token", r.body)
		if status != http.StatusForbidden || !strings.Contains(body, `"code":"reauth_required"`) {
			t.Errorf("%s %s with an old sign-in: %d %s", r.method, r.path, status, body)
		}
	}
	if status, body := call(t, ts.URL, "DELETE", "/app/api/links/lnk_none", cookie, "csrf-token", ``); status != http.StatusNotFound {
		t.Errorf("disconnecting one bank asked for more: %d %s", status, body)
	}
	if status, body := call(t, ts.URL, "POST", "/app/api/reauth", cookie, "csrf-token", `{"password":"wrong password"}`); status != http.StatusForbidden || !strings.Contains(body, "wrong_password") {
		t.Fatalf("reauth with a wrong password: %d %s", status, body)
	}
	if status, body := call(t, ts.URL, "POST", "/app/api/reauth", cookie, "csrf-token", `{"password":"correct horse battery"}`); status != http.StatusOK {
		t.Fatalf("reauth: %d %s", status, body)
	}
	status, body := call(t, ts.URL, "POST", "/app/api/links/lnk_a/delegates", cookie, "csrf-token", `{"email":"accountant@example.com","duration_days":30}`)
	var shared struct{ Delegation struct{ ID string } }
	if json.Unmarshal([]byte(body), &shared); status != http.StatusCreated || shared.Delegation.ID == "" {
		t.Fatalf("sharing after reauth: %d %s", status, body)
	}
	var out struct {
		Links []struct{ ID, Status string }
	}
	status, body = call(t, ts.URL, "POST", "/app/api/disconnect-all", cookie, "csrf-token", ``)
	json.Unmarshal([]byte(body), &out)
	if status != http.StatusOK || len(out.Links) != 2 || out.Links[0].Status != "revoked" || out.Links[1].Status != "revoked" {
		t.Fatalf("disconnect all after reauth: %d %s", status, body)
	}
	for _, id := range []string{"lnk_a", "lnk_b"} {
		if l, _ := srv.Store.Link(ctx, id); l.Status != store.LinkRevoked {
			t.Errorf("link %s is %s", id, l.Status)
		}
	}
	if status, body := call(t, ts.URL, "POST", "/app/api/disconnect-all", cookie, "csrf-token", ``); status != http.StatusOK || body != `{"links":[]}`+"\n" {
		t.Errorf("disconnect all again: %d %q", status, body)
	}
	if status, body := call(t, ts.URL, "POST", "/app/api/history/clear", cookie, "csrf-token", `{"everything":true}`); status == http.StatusForbidden {
		t.Errorf("clear after reauth: %d %s", status, body)
	}
}

// TestBrandServedByThePlatform: the institutions list carries each brand's
// colour, its text colour and a logo URL on the platform's own origin,
// which serves the image.
func TestBrandServedByThePlatform(t *testing.T) {
	srv := testServer(t)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	ctx := context.Background()
	addInstitutions(t, srv.Store, "ins_a", "ins_b")
	var logo bytes.Buffer
	png.Encode(&logo, image.NewGray(image.Rect(0, 0, 24, 24)))
	_, err := brand.Set(ctx, srv.Store, "ins_a", brand.Change{Color: "#0a5c36", Logo: "data:image/png;base64," + base64.StdEncoding.EncodeToString(logo.Bytes())}, time.Now())
	fatalIf(t, err)

	c, err := srv.Auth.SignUp(ctx, "ada@example.com", "correct horse battery")
	fatalIf(t, err)
	rec := httptest.NewRecorder()
	csrf, err := srv.Auth.StartSession(ctx, rec, c)
	fatalIf(t, err)
	cookie := strings.Split(rec.Header().Get("Set-Cookie"), ";")[0]

	status, body := call(t, ts.URL, "GET", "/app/api/institutions", cookie, csrf, "")
	var out struct {
		Institutions []struct {
			ID    string
			Brand *struct {
				Color     string `json:"color"`
				TextColor string `json:"text_color"`
				Logo      string `json:"logo"`
			}
		}
	}
	json.Unmarshal([]byte(body), &out)
	if status != 200 || len(out.Institutions) != 2 || out.Institutions[1].Brand != nil {
		t.Fatalf("institutions: %d %s", status, body)
	}
	b := out.Institutions[0].Brand
	if b == nil || b.Color != "#0a5c36" || b.TextColor != "#ffffff" || !strings.HasPrefix(b.Logo, "/app/api/institutions/ins_a/logo?v=") {
		t.Fatalf("brand %s", body)
	}
	req, _ := http.NewRequest("GET", ts.URL+b.Logo, nil)
	req.Header.Set("Cookie", cookie)
	resp, err := http.DefaultClient.Do(req)
	fatalIf(t, err)
	got, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "image/png" || !bytes.Equal(got, logo.Bytes()) || resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("logo: %d %s %d bytes", resp.StatusCode, resp.Header.Get("Content-Type"), len(got))
	}
	if status, body := call(t, ts.URL, "GET", "/app/api/institutions/ins_b/logo", cookie, csrf, ""); status != 404 || !strings.Contains(body, "not_found") {
		t.Fatalf("no logo: %d %s", status, body)
	}
}
