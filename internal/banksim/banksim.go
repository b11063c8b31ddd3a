// Package banksim is a simulated bank: an institution with customers,
// accounts and realistic card activity, that links its customers to
// OpenTeller and pushes their balances and transactions to them.
//
// It owns the bank's side of everything: its customers, their accounts and
// running balances, the OAuth authorization server a customer signs in to
// when linking (GET/POST /authorize, POST /token), the binding of the
// platform's link ids to its customers, and an outbox of events it has yet to
// deliver. It hears the platform's signed webhooks: it stops posting to
// links that ended, locks a card when its customer answers a fraud alert
// "Not me" and sends a replacement, unlocks it when the customer asks
// (cards.go), and its bot answers menu requests and messages
// (conversation.go). It pays what its customers hand it with "Pay with
// Cedar Bank", and passes one customer's request for money to another
// (payments.go). POST /sim/fraud-alert makes it raise an alert at once,
// POST /sim/replace-cards makes the replacements on their way ready, and
// POST /sim/payment-request asks for a card payment, for demos and tests.
// The demo, the end-to-end tests and the benchmarks all use it.
//
// It must behave exactly like a real bank on the other side of the network:
// it talks to the platform only through the public Bank API (the
// pkg/bankapi SDK) and the OAuth endpoints it serves itself. It must never
// import or touch the platform's store, ingest or any other internals; if
// the simulator needs something the public API lacks, the API is what is
// missing.
//
// What stays true:
//   - Money is int64 cents from generation to the wire; amounts are built as
//     decimal strings from cents, never through a float.
//   - For every account, available = current − holds (checking) or
//     limit − current − holds (credit card, where current is the amount
//     owed), after every change, and a balance.updated follows every change.
//   - A link only ever receives event types its granted scopes allow.
//   - No answer leaves an account without a usable card for good: a locked
//     card is unlocked or replaced within ReplacementDelay.
//   - An event id is assigned once and reused on every retry, so redelivery
//     after a failure is an idempotent replay.
//   - Logs carry ids, counts and error codes, never amounts, merchants or
//     other payload.
package banksim

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"log/slog"
	mathrand "math/rand/v2"
	"net/http"
	"net/url"
	"slices"
	"sync"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

// Config describes one simulated bank.
type Config struct {
	// Name is the bank's name as customers see it ("Cedar Bank").
	Name string
	// PlatformURL is the platform's base URL, for the Bank API client.
	PlatformURL string
	// APIKey is the institution's Bank API key.
	APIKey string
	// ClientID and ClientSecret are the credentials the platform uses at
	// the token endpoint. An empty ClientSecret makes the platform a public
	// client, protected by PKCE alone.
	ClientID     string
	ClientSecret string
	// RedirectURI is the platform's /oauth/callback; authorization
	// requests must name it exactly.
	RedirectURI string
	// StatePath is a JSON file where the bank keeps its customers,
	// balances, links, pending transactions and undelivered events, so a
	// restarted demo carries on. Empty keeps everything in memory.
	StatePath string
	// Interval is the mean time between a linked customer's card
	// transactions over a day (more at lunch, few at night). Default 4s.
	Interval time.Duration
	// PostDelay is how long a card transaction stays pending before it
	// posts. Default 15s.
	PostDelay time.Duration
	// ReplacementDelay is how long a card locked after "Not me" waits for
	// its replacement, which then takes its place. Default 2 minutes.
	ReplacementDelay time.Duration
	// SettleDelay is how long a payment the bank accepted takes to settle
	// (the money moves, and the customer is told it is paid). Default 5s.
	SettleDelay time.Duration
	// Seed makes the activity reproducible; 0 picks a random seed. A
	// restored state file carries on from its own saved generator instead.
	// (A seed rather than a *rand.Rand: the generator is not safe for
	// concurrent use, so the Bank must be its only owner.)
	Seed uint64
	// Now is the bank's clock. Default time.Now.
	Now func() time.Time
	// Logger receives operational logs (ids, counts, codes; no payloads).
	// Default discards.
	Logger *slog.Logger
	// HTTPClient is used for Bank API calls. Default: the SDK's.
	HTTPClient *http.Client
	// WebhookURL, when set, is where the bank receives OpenTeller's
	// notices: Run registers it through the Bank API, and Handler serves
	// its path.
	WebhookURL string
}

// Bank is a running simulated bank. Its methods are safe for concurrent use.
type Bank struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	api       *bankapi.Client
	formCSP   string // Content-Security-Policy of the sign-in page
	pages     *template.Template
	wakeRun   chan struct{}
	flushOnce sync.Mutex // one outbox delivery at a time, so nothing is sent twice at once

	hooks webhooks

	mu    sync.Mutex // guards everything below
	st    bankState
	pcg   *mathrand.PCG
	rng   *mathrand.Rand
	codes map[string]*authCode // live authorization codes; memory only, they last 60 s
	// nextActivity is Run's schedule: when each customer next spends.
	nextActivity map[string]time.Time
	// saved is the state file's current content, to skip rewriting it
	// when nothing changed.
	saved []byte
}

const (
	// linkGrace is how long after a link is created an unknown_link answer
	// is taken as "the platform has not finished storing the link yet"
	// rather than "this link is gone": the bank posts the opening events
	// right after answering /token, which can race the platform's commit.
	linkGrace = 30 * time.Second
	// maxOutbox stops new activity while the platform is unreachable, so
	// the outbox stays bounded; delivery resumes where it stopped.
	maxOutbox = 4 * bankapi.MaxBatch
)

// New returns a bank for cfg, restoring its state from cfg.StatePath when
// that file exists.
func New(cfg Config) (*Bank, error) {
	if err := validateConfig(&cfg); err != nil {
		return nil, err
	}
	redirect, _ := url.Parse(cfg.RedirectURI) // checked by validateConfig
	b := &Bank{
		cfg: cfg,
		log: cfg.Logger,
		now: cfg.Now,
		// The browser follows the redirect to the platform after the form
		// posts, and CSP form-action governs that redirect too.
		formCSP:      "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' " + redirect.Scheme + "://" + redirect.Host + "; frame-ancestors 'none'; base-uri 'none'",
		pages:        pageTemplates,
		wakeRun:      make(chan struct{}, 1),
		codes:        make(map[string]*authCode),
		nextActivity: make(map[string]time.Time),
	}
	opts := []bankapi.Option{}
	if cfg.HTTPClient != nil {
		opts = append(opts, bankapi.WithHTTPClient(cfg.HTTPClient))
	}
	b.api = bankapi.NewClient(cfg.PlatformURL, cfg.APIKey, opts...)

	restored, err := loadState(cfg.StatePath)
	if err != nil {
		return nil, fmt.Errorf("banksim: %w", err)
	}
	if restored != nil {
		b.st = *restored
		b.pcg = &mathrand.PCG{}
		if err := b.pcg.UnmarshalBinary(b.st.Rand); err != nil {
			return nil, fmt.Errorf("banksim: restore random state: %w", err)
		}
		b.rng = mathrand.New(b.pcg)
		if repaired := b.repairPeople(); b.repairCards(b.now()) || repaired {
			b.mu.Lock()
			defer b.mu.Unlock()
			if err := b.saveLocked(); err != nil {
				return nil, err
			}
		}
		b.log.Info("bank state restored", "bank", cfg.Name, "links", len(b.st.Links), "outbox", len(b.st.Outbox))
		return b, nil
	}

	seed := cfg.Seed
	if seed == 0 {
		seed = randomUint64()
	}
	b.pcg = newPCG(seed)
	b.rng = mathrand.New(b.pcg)
	// The nonce and the reference key come from crypto/rand even when the
	// activity is seeded: two runs with the same seed against the same
	// platform must still not reuse an event id (which the platform would
	// take for a replay) or share pairwise references.
	b.st = bankState{
		Version: stateVersion,
		Nonce:   randomBase32(8),
		RefKey:  randomBytes(32),
	}
	b.st.Customers = []*customer{b.newDemoCustomer()}
	b.repairPeople()
	b.mu.Lock()
	defer b.mu.Unlock()
	if err := b.saveLocked(); err != nil {
		return nil, err
	}
	return b, nil
}

func validateConfig(cfg *Config) error {
	switch {
	case cfg.Name == "":
		return errors.New("banksim: config: Name is required")
	case cfg.APIKey == "":
		return errors.New("banksim: config: APIKey is required")
	case cfg.ClientID == "":
		return errors.New("banksim: config: ClientID is required")
	}
	for _, field := range []struct{ name, value string }{{"PlatformURL", cfg.PlatformURL}, {"RedirectURI", cfg.RedirectURI}} {
		u, err := url.Parse(field.value)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" {
			return fmt.Errorf("banksim: config: %s %q is not an absolute http(s) URL", field.name, field.value)
		}
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 4 * time.Second
	}
	if cfg.PostDelay <= 0 {
		cfg.PostDelay = 15 * time.Second
	}
	if cfg.ReplacementDelay <= 0 {
		cfg.ReplacementDelay = defaultReplacementDelay
	}
	if cfg.SettleDelay <= 0 {
		cfg.SettleDelay = defaultSettleDelay
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}

// DemoUsername is the demo customer's username at the bank's sign-in page.
func DemoUsername() string { return demoUsername }

// DemoPassword is the demo customer's password. It is prefilled on the
// sign-in page: this is a demo bank, and the password protects nothing real.
func DemoPassword() string { return demoPassword }

const (
	demoUsername = "alex"
	demoPassword = "cedar-demo-4821"
)

// Run drives the bank's activity until ctx is done: every linked customer
// spends now and then (Interval on average, weighted by time of day),
// pending transactions post after PostDelay, and everything is delivered to
// the platform through the Bank API. Delivery failures are logged and
// retried on the next round; Run returns nil when ctx ends, or an error only
// if the bank cannot save its state.
func (b *Bank) Run(ctx context.Context) error {
	if b.cfg.WebhookURL != "" {
		go b.registerWebhooks(ctx)
	}
	tick := time.NewTicker(min(max(min(b.cfg.Interval, b.cfg.PostDelay)/4, 20*time.Millisecond), time.Second))
	defer tick.Stop()
	for {
		if err := b.advance(); err != nil {
			return err
		}
		if err := b.flush(ctx); err != nil {
			if ctx.Err() != nil {
				return nil
			}
			var persist *persistError
			if errors.As(err, &persist) {
				return err
			}
			b.log.Warn("event delivery failed; will retry", "bank", b.cfg.Name, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		case <-b.wakeRun:
		}
	}
}

// advance moves Run's simulation to the clock's present: posts what is due,
// puts replacement cards that are ready in place, and lets each linked
// customer whose turn has come spend once.
func (b *Bank) advance() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	b.settleDue(now)
	b.replaceDue(now)
	b.paymentsDue(now)
	for _, c := range b.st.Customers {
		if !b.hasLiveLink(c.ID) {
			delete(b.nextActivity, c.ID)
			continue
		}
		next, scheduled := b.nextActivity[c.ID]
		if scheduled && !now.Before(next) {
			b.act(c, now)
		}
		if !scheduled || !now.Before(next) {
			b.nextActivity[c.ID] = now.Add(b.nextDelay(now))
		}
	}
	return b.saveLocked()
}

// Step runs one round of activity at the bank clock's present time and
// delivers the resulting events: every pending transaction whose PostDelay
// has passed posts, every replacement card whose ReplacementDelay has
// passed takes its old card's place, and every customer with a live link
// does one thing (usually a card purchase). With the same seed and clock it
// produces the same activity, so tests drive the bank with Step and an
// injected clock instead of timers.
func (b *Bank) Step(ctx context.Context) error {
	b.mu.Lock()
	now := b.now()
	b.settleDue(now)
	b.replaceDue(now)
	b.paymentsDue(now)
	for _, c := range b.st.Customers {
		if b.hasLiveLink(c.ID) {
			b.act(c, now)
		}
	}
	err := b.saveLocked()
	b.mu.Unlock()
	if err != nil {
		return err
	}
	return b.flush(ctx)
}

// wake asks Run to deliver the outbox now rather than at its next tick.
func (b *Bank) wake() {
	select {
	case b.wakeRun <- struct{}{}:
	default:
	}
}

// flush delivers the outbox to the platform and applies the answers.
// Events stay in the outbox until the platform has answered for them.
func (b *Bank) flush(ctx context.Context) error {
	b.flushOnce.Lock()
	defer b.flushOnce.Unlock()

	b.mu.Lock()
	batch := make([]bankapi.Event, len(b.st.Outbox))
	for i, e := range b.st.Outbox {
		batch[i] = bankapi.Event{ID: e.ID, LinkID: e.LinkID, Type: e.Type, OccurredAt: e.OccurredAt, Data: e.Data}
	}
	b.mu.Unlock()
	if len(batch) == 0 {
		return nil
	}

	results, postErr := b.api.PostEvents(ctx, batch)

	b.mu.Lock()
	defer b.mu.Unlock()
	b.applyResults(batch[:len(results)], results)
	if err := b.saveLocked(); err != nil {
		return err
	}
	if postErr != nil {
		return fmt.Errorf("banksim: deliver outbox: %w", postErr)
	}
	return nil
}

// applyResults removes answered events from the outbox and stops links the
// platform says are gone. b.mu must be held.
func (b *Bank) applyResults(sent []bankapi.Event, results []bankapi.EventResult) {
	now := b.now()
	done := make(map[string]bool, len(results))
	var accepted, duplicate, rejected int
	for i, res := range results {
		ev := sent[i]
		switch res.Status {
		case bankapi.ResultAccepted:
			accepted++
			done[ev.ID] = true
		case bankapi.ResultDuplicate:
			duplicate++
			done[ev.ID] = true
		default:
			rejected++
			code := "unknown"
			if res.Error != nil {
				code = res.Error.Code
			}
			switch code {
			case "unknown_link":
				if l := b.findLink(ev.LinkID); l != nil && now.Sub(l.CreatedAt) < linkGrace {
					continue // the platform may still be storing the link; retry
				}
				b.stopLink(ev.LinkID, code)
			case "consent_revoked", "consent_expired":
				b.stopLink(ev.LinkID, code)
			default:
				// The event itself is at fault (or out of scope);
				// sending it again would get the same answer.
				b.log.Warn("event rejected", "bank", b.cfg.Name, "link", ev.LinkID, "event", ev.ID, "type", ev.Type, "code", code)
			}
			done[ev.ID] = true
		}
	}
	b.st.Outbox = slices.DeleteFunc(b.st.Outbox, func(e outboxEvent) bool { return done[e.ID] })
	b.log.Debug("events delivered", "bank", b.cfg.Name, "accepted", accepted, "duplicate", duplicate, "rejected", rejected, "outbox", len(b.st.Outbox))
}

// stopLink stops all posting for a link and drops its undelivered events.
// b.mu must be held.
func (b *Bank) stopLink(linkID, reason string) {
	l := b.findLink(linkID)
	if l == nil || l.Stopped != "" {
		return
	}
	l.Stopped = reason
	b.st.Outbox = slices.DeleteFunc(b.st.Outbox, func(e outboxEvent) bool { return e.LinkID == linkID })
	b.log.Info("link stopped", "bank", b.cfg.Name, "link", linkID, "reason", reason)
}

func (b *Bank) findLink(id string) *link {
	for _, l := range b.st.Links {
		if l.ID == id {
			return l
		}
	}
	return nil
}

func (b *Bank) hasLiveLink(customerID string) bool {
	for _, l := range b.st.Links {
		if l.CustomerID == customerID && l.Stopped == "" {
			return true
		}
	}
	return false
}

// LinkStatus reports whether the bank still posts to a link, and if not,
// why it stopped ("consent_revoked", "code_replayed", …).
func (b *Bank) LinkStatus(linkID string) (live bool, stoppedBecause string, known bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	l := b.findLink(linkID)
	if l == nil {
		return false, "", false
	}
	return l.Stopped == "", l.Stopped, true
}

// newPCG seeds the activity generator. PCG's state can be saved and
// restored (MarshalBinary), which is what lets a restarted bank carry on.
func newPCG(seed uint64) *mathrand.PCG {
	return mathrand.NewPCG(seed, seed^0x9e3779b97f4a7c15)
}

// randomUint64 and friends draw from crypto/rand, which never fails on the
// platforms Go supports (it panics rather than return weak bytes).
func randomUint64() uint64 {
	return binary.LittleEndian.Uint64(randomBytes(8))
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	rand.Read(b)
	return b
}

// persistError marks a failure to save state, which Run treats as fatal:
// carrying on would let the bank and its file drift apart.
type persistError struct{ err error }

func (e *persistError) Error() string { return e.err.Error() }
func (e *persistError) Unwrap() error { return e.err }

// eventJSON encodes an event's data once, at creation, so every retry sends
// the same bytes even after a restart restores the outbox from disk.
func eventJSON(data any) json.RawMessage {
	raw, err := json.Marshal(data)
	if err != nil {
		// The data types are plain structs of strings; this cannot fail.
		panic(fmt.Sprintf("banksim: encode event data: %v", err))
	}
	return raw
}
