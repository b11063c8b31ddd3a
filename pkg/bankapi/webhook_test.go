package bankapi

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strconv"
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
