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
	// seen and order remember the latest notice ids acted on (guarded by
	// the bank's mu), so a redelivery is not acted on twice.
	seen  map[string]bool
	order []string
}

const webhooksRemembered = 4096

func (h *webhooks) remember(id string) {
	if h.seen == nil {
		h.seen = map[string]bool{}
	}
	h.seen[id] = true
	h.order = append(h.order, id)
	if len(h.order) > webhooksRemembered {
		delete(h.seen, h.order[0])
		h.order = h.order[1:]
	}
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

// onWebhook acts on a notice. Deliveries are at least once: one seen
// before (by id) is acknowledged and not acted on again.
func (b *Bank) onWebhook(_ context.Context, w bankapi.Webhook) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.hooks.seen[w.ID] {
		return nil
	}
	now := b.now()
	switch w.Type {
	case bankapi.WebhookLinkRevoked, bankapi.WebhookLinkExpired:
		var n bankapi.LinkNotice
		if json.Unmarshal(w.Data, &n) == nil {
			b.stopLink(n.LinkID, w.Type)
		}
	case bankapi.WebhookFraudResponse:
		var r bankapi.FraudResponse
		if json.Unmarshal(w.Data, &r) == nil {
			b.onFraudResponse(r, now)
		}
	case bankapi.WebhookCardAction:
		var r bankapi.CardAction
		if json.Unmarshal(w.Data, &r) == nil {
			b.onCardAction(r, now)
		}
	case bankapi.WebhookPaymentAuthorize:
		var r bankapi.PaymentAuthorize
		if json.Unmarshal(w.Data, &r) == nil {
			b.onPaymentAuthorize(r, now)
		}
	case bankapi.WebhookPaymentAsk:
		var a bankapi.PaymentAsk
		if json.Unmarshal(w.Data, &a) == nil {
			b.onPaymentAsk(a, now)
		}
	case bankapi.WebhookCustomerRequest:
		var r bankapi.CustomerRequest
		if json.Unmarshal(w.Data, &r) == nil {
			b.onRequest(r.LinkID, r.Kind, now)
		}
	case bankapi.WebhookCustomerMessage:
		var m bankapi.CustomerMessage
		if json.Unmarshal(w.Data, &m) == nil {
			b.onCustomerMessage(m, now)
		}
	}
	if err := b.saveLocked(); err != nil {
		return err // 500: the platform delivers it again
	}
	b.hooks.remember(w.ID)
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
