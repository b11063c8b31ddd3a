package bankapi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Webhooks from OpenTeller to a bank are signed per the Standard Webhooks
// specification (v1): headers webhook-id, webhook-timestamp (Unix seconds)
// and webhook-signature, a space-separated list of "v1,<base64 HMAC-SHA256>"
// over "<id>.<timestamp>.<body>", keyed with the endpoint's secret. During a
// secret rotation a delivery carries one signature per live secret.
const (
	HeaderWebhookID        = "webhook-id"
	HeaderWebhookTimestamp = "webhook-timestamp"
	HeaderWebhookSignature = "webhook-signature"
)

// secretPrefix marks a webhook secret; the rest is base64.
const secretPrefix = "whsec_"

// DefaultWebhookTolerance is how far a delivery's timestamp may be from
// the receiver's clock before it is refused as a replay.
const DefaultWebhookTolerance = 5 * time.Minute

// Webhook verification errors.
var (
	ErrWebhookHeaders   = errors.New("bankapi: webhook headers missing or malformed")
	ErrWebhookStale     = errors.New("bankapi: webhook timestamp outside the tolerance")
	ErrWebhookSignature = errors.New("bankapi: no webhook signature matches")
)

// NewWebhookSecret returns a fresh secret: "whsec_" and 32 random bytes in
// base64.
func NewWebhookSecret() string {
	b := make([]byte, 32)
	rand.Read(b)
	return secretPrefix + base64.StdEncoding.EncodeToString(b)
}

func secretKey(secret string) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(secret, secretPrefix))
	if err != nil || len(key) == 0 {
		return nil, fmt.Errorf("bankapi: webhook secret is not whsec_ followed by base64")
	}
	return key, nil
}

func mac(key []byte, id string, timestamp int64, body []byte) []byte {
	m := hmac.New(sha256.New, key)
	fmt.Fprintf(m, "%s.%d.", id, timestamp)
	m.Write(body)
	return m.Sum(nil)
}

// SignWebhook returns the webhook-signature value for a delivery: one
// "v1,…" entry per secret, space-separated.
func SignWebhook(id string, timestamp time.Time, body []byte, secrets ...string) (string, error) {
	var sigs []string
	for _, s := range secrets {
		key, err := secretKey(s)
		if err != nil {
			return "", err
		}
		sigs = append(sigs, "v1,"+base64.StdEncoding.EncodeToString(mac(key, id, timestamp.Unix(), body)))
	}
	if len(sigs) == 0 {
		return "", errors.New("bankapi: no webhook secret to sign with")
	}
	return strings.Join(sigs, " "), nil
}

// WebhookVerifier checks deliveries against the endpoint's secrets (more
// than one while a rotation overlaps).
type WebhookVerifier struct {
	Secrets   []string
	Tolerance time.Duration    // zero: DefaultWebhookTolerance
	Now       func() time.Time // nil: time.Now
}

// Verify returns nil when the headers carry a fresh timestamp and a
// signature that one of the secrets made over exactly this body.
func (v *WebhookVerifier) Verify(h http.Header, body []byte) error {
	id, ts, sig := h.Get(HeaderWebhookID), h.Get(HeaderWebhookTimestamp), h.Get(HeaderWebhookSignature)
	if id == "" || ts == "" || sig == "" {
		return ErrWebhookHeaders
	}
	seconds, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return ErrWebhookHeaders
	}
	now, tolerance := time.Now, v.Tolerance
	if v.Now != nil {
		now = v.Now
	}
	if tolerance == 0 {
		tolerance = DefaultWebhookTolerance
	}
	if d := now().Sub(time.Unix(seconds, 0)); d > tolerance || d < -tolerance {
		return ErrWebhookStale
	}
	for _, secret := range v.Secrets {
		key, err := secretKey(secret)
		if err != nil {
			return err
		}
		want := mac(key, id, seconds, body)
		for _, entry := range strings.Fields(sig) {
			version, b64, ok := strings.Cut(entry, ",")
			if !ok || version != "v1" {
				continue
			}
			got, err := base64.StdEncoding.DecodeString(b64)
			if err == nil && hmac.Equal(got, want) {
				return nil
			}
		}
	}
	return ErrWebhookSignature
}
