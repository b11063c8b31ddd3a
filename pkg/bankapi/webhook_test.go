package bankapi

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/testenv"
)

type webhookVector struct {
	Secret    string `json:"secret"`
	MsgID     string `json:"msg_id"`
	Timestamp int64  `json:"timestamp"`
	Body      string `json:"body"`
	Signature string `json:"signature"`
}

func vectors(t *testing.T) []webhookVector {
	t.Helper()
	b, err := os.ReadFile(testenv.Fixture(t, "webhooks", "vectors.json"))
	if err != nil {
		t.Fatal(err)
	}
	var all struct {
		StandardWebhooks []webhookVector `json:"standard_webhooks_v1"`
	}
	if err := json.Unmarshal(b, &all); err != nil {
		t.Fatal(err)
	}
	if len(all.StandardWebhooks) == 0 {
		t.Fatal("no Standard Webhooks vectors in the fixture")
	}
	return all.StandardWebhooks
}

func headers(id string, ts int64, sig string) http.Header {
	h := http.Header{}
	h.Set(HeaderWebhookID, id)
	h.Set(HeaderWebhookTimestamp, strconv.FormatInt(ts, 10))
	h.Set(HeaderWebhookSignature, sig)
	return h
}

// TestWebhookVectors: signing reproduces the specification's vectors, and
// verification accepts them.
func TestWebhookVectors(t *testing.T) {
	for _, v := range vectors(t) {
		at := time.Unix(v.Timestamp, 0)
		sig, err := SignWebhook(v.MsgID, at, []byte(v.Body), v.Secret)
		if err != nil {
			t.Fatal(err)
		}
		if sig != v.Signature {
			t.Fatalf("signed %q, the vector says %q", sig, v.Signature)
		}
		ver := &WebhookVerifier{Secrets: []string{v.Secret}, Now: func() time.Time { return at.Add(time.Minute) }}
		if err := ver.Verify(headers(v.MsgID, v.Timestamp, v.Signature), []byte(v.Body)); err != nil {
			t.Fatalf("vector refused: %v", err)
		}
	}
}

// TestWebhookVerifyRefuses: a changed body, id or timestamp, a stale or
// future timestamp, another secret, and missing headers are all refused.
func TestWebhookVerifyRefuses(t *testing.T) {
	v := vectors(t)[0]
	at := time.Unix(v.Timestamp, 0)
	ver := &WebhookVerifier{Secrets: []string{v.Secret}, Now: func() time.Time { return at }}
	cases := []struct {
		name string
		h    http.Header
		body string
		want error
	}{
		{"tampered body", headers(v.MsgID, v.Timestamp, v.Signature), v.Body + " ", ErrWebhookSignature},
		{"other id", headers(v.MsgID+"x", v.Timestamp, v.Signature), v.Body, ErrWebhookSignature},
		{"stale", headers(v.MsgID, v.Timestamp-int64(6*time.Minute/time.Second), v.Signature), v.Body, ErrWebhookStale},
		{"future", headers(v.MsgID, v.Timestamp+int64(6*time.Minute/time.Second), v.Signature), v.Body, ErrWebhookStale},
		{"no signature", headers(v.MsgID, v.Timestamp, ""), v.Body, ErrWebhookHeaders},
		{"bad timestamp", http.Header{HeaderWebhookID: {v.MsgID}, HeaderWebhookTimestamp: {"soon"}, HeaderWebhookSignature: {v.Signature}}, v.Body, ErrWebhookHeaders},
		{"other scheme", headers(v.MsgID, v.Timestamp, "v2,"+v.Signature[3:]), v.Body, ErrWebhookSignature},
	}
	for _, c := range cases {
		if err := ver.Verify(c.h, []byte(c.body)); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
	other := &WebhookVerifier{Secrets: []string{NewWebhookSecret()}, Now: ver.Now}
	if err := other.Verify(headers(v.MsgID, v.Timestamp, v.Signature), []byte(v.Body)); !errors.Is(err, ErrWebhookSignature) {
		t.Fatalf("another secret: %v", err)
	}
}

// TestWebhookRotation: during a rotation a delivery carries both
// signatures, and a receiver holding either secret accepts it.
func TestWebhookRotation(t *testing.T) {
	old, next := NewWebhookSecret(), NewWebhookSecret()
	at := time.Now()
	body := []byte(`{"type":"link.revoked"}`)
	sig, err := SignWebhook("msg_1", at, body, old, next)
	if err != nil {
		t.Fatal(err)
	}
	for _, secrets := range [][]string{{old}, {next}, {next, old}} {
		ver := &WebhookVerifier{Secrets: secrets}
		if err := ver.Verify(headers("msg_1", at.Unix(), sig), body); err != nil {
			t.Fatalf("receiver with %d secrets: %v", len(secrets), err)
		}
	}
	if _, err := SignWebhook("msg_1", at, body, "whsec_not base64!"); err == nil {
		t.Fatal("signed with a malformed secret")
	}
}

// TestWebhookHandler: a verified delivery reaches the handler function and
// gets 204; a tampered one gets 401 and never reaches it; a failing
// function gets 500 so the platform retries.
func TestWebhookHandler(t *testing.T) {
	secret := NewWebhookSecret()
	var got []Webhook
	fail := false
	h := WebhookHandler(&WebhookVerifier{Secrets: []string{secret}}, func(_ context.Context, w Webhook) error {
		if fail {
			return errors.New("busy")
		}
		got = append(got, w)
		return nil
	})
	send := func(body string, tamper bool) int {
		now := time.Now()
		sig, _ := SignWebhook("ntc_1", now, []byte(body), secret)
		if tamper {
			body += " "
		}
		req := httptest.NewRequest("POST", "/hooks", strings.NewReader(body))
		for k, v := range headers("ntc_1", now.Unix(), sig) {
			req.Header[k] = v
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	good := `{"id":"ntc_1","type":"link.revoked","created_at":"2026-03-01T12:00:00Z","data":{"link_id":"lnk_x","ended_by":"customer"}}`
	if code := send(good, false); code != http.StatusNoContent || len(got) != 1 || got[0].Type != "link.revoked" {
		t.Fatalf("good delivery: %d %+v", code, got)
	}
	var n LinkNotice
	if err := json.Unmarshal(got[0].Data, &n); err != nil || n.LinkID != "lnk_x" || n.EndedBy != "customer" {
		t.Fatalf("link notice %+v %v", n, err)
	}
	if code := send(good, true); code != http.StatusUnauthorized || len(got) != 1 {
		t.Fatalf("tampered delivery: %d, handled %d", code, len(got))
	}
	if code := send(`{"nope":true}`, false); code != http.StatusBadRequest {
		t.Fatalf("not a webhook: %d", code)
	}
	fail = true
	if code := send(good, false); code != http.StatusInternalServerError {
		t.Fatalf("failing handler: %d", code)
	}
}
