package banksim

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

// webhooks is the bank's side of OpenTeller's notices: it registers its
// endpoint through the Bank API, as a real bank would, and stops posting to
// a link as soon as it hears the link ended.
type webhooks struct {
	mu       sync.Mutex
	verifier bankapi.WebhookVerifier // no secrets until registered: every delivery is refused
}

// webhookPath is where the bank listens, on its own handler.
func (b *Bank) webhookPath() string {
	u, err := url.Parse(b.cfg.WebhookURL)
	if err != nil || u.Path == "" {
		return "/webhooks"
	}
	return u.Path
}

func (b *Bank) webhookHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hooks.mu.Lock()
		v := b.hooks.verifier
		b.hooks.mu.Unlock()
		bankapi.WebhookHandler(&v, b.onWebhook).ServeHTTP(w, r)
	})
}

// onWebhook acts on a notice. Seeing one twice is harmless.
func (b *Bank) onWebhook(_ context.Context, w bankapi.Webhook) error {
	var n bankapi.LinkNotice
	if err := json.Unmarshal(w.Data, &n); err != nil {
		return nil // not one the bank needs; accepted so it is not retried
	}
	switch w.Type {
	case "link.revoked", "link.expired":
		b.mu.Lock()
		defer b.mu.Unlock()
		b.stopLink(n.LinkID, w.Type)
		return b.saveLocked()
	}
	return nil
}

// registerWebhooks registers the endpoint, retrying until the platform
// answers or ctx ends.
func (b *Bank) registerWebhooks(ctx context.Context) {
	for delay := 200 * time.Millisecond; ; delay = min(delay*2, 10*time.Second) {
		secret, err := b.api.RegisterWebhookEndpoint(ctx, b.cfg.WebhookURL)
		if err == nil {
			b.hooks.mu.Lock()
			b.hooks.verifier.Secrets = []string{secret}
			b.hooks.mu.Unlock()
			b.log.Info("webhook endpoint registered", "bank", b.cfg.Name)
			return
		}
		b.log.Warn("webhook endpoint not registered yet", "bank", b.cfg.Name, "err", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(delay):
		}
	}
}
