package server_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/openteller/openteller/internal/auth"
	"github.com/openteller/openteller/internal/delivery"
	"github.com/openteller/openteller/internal/store"
)

// TestPasskeyRemovalSignsDevicesOut: on a node, removing a passkey closes
// the live socket of the device it signed in as signed out, at once (the
// bus, well before the hub's sweep would), while the device signed in
// with the password stays connected; and every device's notifications of
// the customer are turned off.
func TestPasskeyRemovalSignsDevicesOut(t *testing.T) {
	srv := testServer(t)
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	ctx := context.Background()
	c, err := srv.Auth.SignUp(ctx, "ada@example.com", "correct horse battery")
	fatalIf(t, err)
	now := time.Now()
	phone := store.Passkey{ID: []byte("cred-phone"), CustomerID: c.ID, Name: "Phone", PublicKey: []byte("cose"), AAGUID: make([]byte, 16), CreatedAt: now}
	fatalIf(t, srv.Store.AddPasskey(ctx, phone))
	session := func(passkeyID []byte) string {
		raw := make([]byte, 32)
		rand.Read(raw)
		idHash := sha256.Sum256(raw)
		fatalIf(t, srv.Store.CreateSession(ctx, store.Session{IDHash: idHash[:], CustomerID: c.ID, CSRFToken: "csrf-token",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), PasskeyID: passkeyID}, c.PasswordHash))
		return auth.SessionCookie + "=" + base64.RawURLEncoding.EncodeToString(raw)
	}
	byPassword, byPhone := session(nil), session(phone.ID)
	fatalIf(t, srv.Store.PutPushSubscription(ctx, store.PushSubscription{ID: "sub_laptop", CustomerID: c.ID, Endpoint: "https://push.example/laptop",
		P256DH: "k", Auth: "a", Kinds: []string{"alerts"}, CreatedAt: now}))

	dial := func(cookie string) *websocket.Conn {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/app/ws", &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {cookie}}})
		fatalIf(t, err)
		t.Cleanup(func() { conn.CloseNow() })
		fatalIf(t, conn.Write(ctx, websocket.MessageText, []byte(`{"type":"resume","cursors":{}}`)))
		if _, data, err := conn.Read(ctx); err != nil || !strings.Contains(string(data), `"caught_up"`) {
			t.Fatalf("first frame %s (%v)", data, err)
		}
		return conn
	}
	dial(byPassword)
	phoneSocket := dial(byPhone)
	if n := srv.Hub.Devices(); n != 2 {
		t.Fatalf("%d devices connected, want 2", n)
	}

	status, body := call(t, ts.URL, "DELETE", "/app/api/passkeys/"+base64.RawURLEncoding.EncodeToString(phone.ID), byPassword, "csrf-token", ``)
	if status != http.StatusOK || !strings.Contains(body, `"sessions_ended":1`) || !strings.Contains(body, `"signed_out":false`) {
		t.Fatalf("removing the phone's passkey: %d %s", status, body)
	}
	// Well within the hub's first sweep (delivery.SweepEvery after it
	// started): only the bus's word can have closed it.
	readCtx, cancel := context.WithTimeout(ctx, delivery.SweepEvery/3)
	defer cancel()
	if _, data, err := phoneSocket.Read(readCtx); websocket.CloseStatus(err) != delivery.CloseSignedOut {
		t.Fatalf("the phone's socket got %s (%v), want a close %d", data, err, delivery.CloseSignedOut)
	}
	if n := srv.Hub.Devices(); n != 1 {
		t.Fatalf("%d devices connected after the removal, want the password's alone", n)
	}
	if status, body := call(t, ts.URL, "GET", "/app/api/me", byPhone, "", ``); status != http.StatusUnauthorized {
		t.Fatalf("the phone after the removal: %d %s", status, body)
	}
	if status, body := call(t, ts.URL, "GET", "/app/api/me", byPassword, "", ``); status != http.StatusOK {
		t.Fatalf("the password's device after the removal: %d %s", status, body)
	}
	if subs, err := srv.Store.PushSubscriptions(ctx, []string{c.ID}); err != nil || len(subs) != 0 {
		t.Fatalf("notifications after the removal: %+v %v", subs, err)
	}
}
