// Package push tells a customer's devices that something waits for them,
// through their browsers' push services (Web Push: RFC 8030, payloads
// encrypted to the device per RFC 8291, the platform identified by VAPID,
// RFC 8292), so a fraud alert with a deadline reaches a phone whose app is
// closed.
//
// Where a push comes from: the store's OnCommit hands every committed
// batch to Committed, which keeps the events a customer may want to hear
// of (a fraud alert to answer, a payment request to approve, a message
// from one of the bank's people, a reply from the bank) and queues them;
// one goroutine (Run) looks up the customers' subscriptions and sends.
// Only the node that committed an event pushes it, so a device hears of it
// once. A push is a prompt and nothing more: it is sent at most once,
// never retried, and dropped when the queue is full, while the event
// itself waits in the conversation.
//
// What must stay true: a push carries no financial content, only who and
// what kind ("Cedar Bank needs your answer"; never an amount, a merchant
// or a payee), because the push service is a third party; the payload is
// built from the event's type, author and institution, never from its
// sealed body, which this package never opens.
package push

import (
	"context"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/i18n"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// The kinds of push a device can ask for.
const (
	KindAlerts   = "alerts"   // a fraud alert waits for an answer
	KindPayments = "payments" // a request to pay waits for the customer's approval
	KindPeople   = "people"   // one of the bank's people wrote
	KindReplies  = "replies"  // the bank (or its bot) wrote
)

// Kinds lists every kind, in the order settings show them.
var Kinds = []string{KindAlerts, KindPayments, KindPeople, KindReplies}

// kindOf says which kind of push an event is, or "" for none.
func kindOf(e store.Event) string {
	switch {
	case e.Type == bankapi.TypeFraudAlert:
		return KindAlerts
	case e.Type == bankapi.TypePaymentRequest && e.Author == store.AuthorInstitution:
		// Stored only while it can be paid (ingest refuses one past its
		// expiry): each waits for the customer's answer when it arrives.
		return KindPayments
	case e.Type == bankapi.TypeMessage && e.Author == store.AuthorAgent:
		return KindPeople
	case e.Type == bankapi.TypeMessage && e.Author == store.AuthorInstitution:
		return KindReplies
	}
	return ""
}

// Message is a push's payload, as the service worker reads it.
type Message struct {
	Title string `json:"title"`
	Body  string `json:"body"`
	// Tag makes a newer push of the same kind and conversation replace the
	// older one on the device instead of piling up.
	Tag string `json:"tag"`
	URL string `json:"url"` // where a tap opens the app
	// Kind and Institution let the device say the push in the language
	// chosen on it (sw.js, with the catalogue's push.<kind>.title and
	// .body) when the customer's account keeps none.
	Kind        string `json:"kind"`
	Institution string `json:"institution"`
	// Lang is the language kept with the customer's account, when it
	// keeps one: Title and Body are in it, and the device shows them as
	// they are. Without it they are in English.
	Lang string `json:"lang,omitempty"`
}

// message builds what the device shows, in lang (the account's language,
// or "" for none: English): the institution and the kind, nothing of the
// event's content. A payment request names neither the amount nor who is
// paid: the push service is a third party, and a lock screen is public.
func message(lang, kind, institution, conversationID string) Message {
	m := Message{Tag: kind + ":" + conversationID, URL: "/#/c/" + url.PathEscape(conversationID), Kind: kind, Institution: institution}
	if i18n.Supported(lang) {
		m.Lang = lang
	}
	if institution == "" { // unknown: "Your bank"
		institution = i18n.T(m.Lang, "thread.your_bank_title", nil)
		m.Institution = institution
	}
	if !slices.Contains(Kinds, kind) {
		kind = KindReplies
	}
	m.Title = i18n.T(m.Lang, "push."+kind+".title", i18n.Vars{"bank": institution})
	m.Body = i18n.T(m.Lang, "push."+kind+".body", nil)
	return m
}

// vapidSecret names the VAPID key pair among the platform's secrets.
const vapidSecret = "web-push-vapid"

// Config configures a Service.
type Config struct {
	Store interface {
		store.Keys
		store.Devices
		store.Institutions
		// The customers' languages (store.Accounts), which pushes are
		// written in.
		CustomerLanguages(ctx context.Context, customerIDs []string) (map[string]string, error)
	}
	Keyring *vault.Keyring
	// Client sends to the push services; give it the webhooks' client,
	// which reaches only public addresses.
	Client *http.Client
	Logger *slog.Logger
	// Subject is the platform's contact for push services: an https URL
	// or an email address.
	Subject string
	// AllowHTTP accepts plain-http endpoints (a local push service in a
	// demo or test); push services use https.
	AllowHTTP bool
}

// Service keeps subscriptions and sends pushes.
type Service struct {
	cfg             Config
	public, private string // VAPID keys, base64url

	queue   chan []store.Event
	dropped atomic.Int64

	mu    sync.Mutex
	names map[string]string // institution id → name
}

// New loads the platform's VAPID keys, making them on first use; every
// node shares them through the store, sealed under the root key.
func New(ctx context.Context, cfg Config) (*Service, error) {
	sealed, err := cfg.Store.PlatformSecret(ctx, vapidSecret)
	if errors.Is(err, vault.ErrNoKey) {
		private, public, gerr := webpush.GenerateVAPIDKeys()
		if gerr != nil {
			return nil, fmt.Errorf("push: make VAPID keys: %w", gerr)
		}
		sealed, err = cfg.Store.PutPlatformSecret(ctx, vapidSecret, cfg.Keyring.SealPlatform(vapidSecret, []byte(private+"\n"+public)))
	}
	if err != nil {
		return nil, fmt.Errorf("push: VAPID keys: %w", err)
	}
	plain, err := cfg.Keyring.OpenPlatform(vapidSecret, sealed)
	if err != nil {
		return nil, fmt.Errorf("push: open VAPID keys: %w", err)
	}
	private, public, ok := strings.Cut(string(plain), "\n")
	if !ok {
		return nil, errors.New("push: the stored VAPID keys are malformed")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Service{cfg: cfg, public: public, private: private, queue: make(chan []store.Event, 1024), names: map[string]string{}}, nil
}

// PublicKey is the VAPID public key a browser subscribes with
// (applicationServerKey), base64url.
func (s *Service) PublicKey() string { return s.public }

// Committed is the store's OnCommit (with delivery's): it keeps the events
// worth a push and queues them without waiting.
func (s *Service) Committed(evs []store.Event) {
	var keep []store.Event
	for _, e := range evs {
		if kindOf(e) != "" {
			keep = append(keep, e)
		}
	}
	if len(keep) == 0 {
		return
	}
	select {
	case s.queue <- keep:
	default:
		if s.dropped.Add(int64(len(keep))) == int64(len(keep)) {
			s.cfg.Logger.Warn("push: queue full; pushes dropped (the events wait in their conversations)")
		}
	}
}

// Run sends what Committed queued until ctx ends.
func (s *Service) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case evs := <-s.queue:
			s.send(ctx, evs)
		}
	}
}

// sendTimeout bounds one push service's answer.
const sendTimeout = 10 * time.Second

// send pushes one committed batch: one push per device for each
// conversation and kind in it.
func (s *Service) send(ctx context.Context, evs []store.Event) {
	type target struct{ customer, institution, conversation, kind string }
	var targets []target
	var customers []string
	for _, e := range evs {
		t := target{e.CustomerID, e.InstitutionID, e.ConversationID, kindOf(e)}
		if !slices.Contains(targets, t) {
			targets = append(targets, t)
		}
		if !slices.Contains(customers, e.CustomerID) {
			customers = append(customers, e.CustomerID)
		}
	}
	subs, err := s.cfg.Store.PushSubscriptions(ctx, customers)
	if err != nil {
		s.cfg.Logger.Warn("push: subscriptions", "err", err)
		return
	}
	type send struct {
		t   target
		sub store.PushSubscription
	}
	var sends []send
	var pushed []string // the customers who get one
	for _, t := range targets {
		for _, sub := range subs {
			if sub.CustomerID == t.customer && slices.Contains(sub.Kinds, t.kind) {
				sends = append(sends, send{t, sub})
				if !slices.Contains(pushed, t.customer) {
					pushed = append(pushed, t.customer)
				}
			}
		}
	}
	if len(sends) == 0 {
		// Most committed batches: nobody asked for a push of them.
		return
	}
	langs, err := s.cfg.Store.CustomerLanguages(ctx, pushed)
	if err != nil {
		// A push in English beats none: it is a prompt to open the app.
		s.cfg.Logger.Warn("push: the customers' languages", "err", err)
	}
	var wg sync.WaitGroup
	for _, sd := range sends {
		m := message(langs[sd.t.customer], sd.t.kind, s.institutionName(ctx, sd.t.institution), sd.t.conversation)
		wg.Go(func() { s.push(ctx, sd.sub, sd.t.kind, m) })
	}
	wg.Wait()
}

// push sends one message to one device, and forgets a subscription its
// push service says is gone.
func (s *Service) push(ctx context.Context, sub store.PushSubscription, kind string, m Message) {
	ctx, cancel := context.WithTimeout(ctx, sendTimeout)
	defer cancel()
	payload, _ := json.Marshal(m)
	opts := &webpush.Options{
		HTTPClient: s.cfg.Client, Subscriber: s.cfg.Subject,
		VAPIDPublicKey: s.public, VAPIDPrivateKey: s.private,
		TTL: int((24 * time.Hour).Seconds()), Urgency: webpush.UrgencyNormal, Topic: kind,
	}
	if kind == KindAlerts {
		// An alert's answer is wanted within minutes; after a day it is
		// long expired.
		opts.TTL, opts.Urgency = int((time.Hour).Seconds()), webpush.UrgencyHigh
	}
	resp, err := webpush.SendNotificationWithContext(ctx, payload, &webpush.Subscription{
		Endpoint: sub.Endpoint, Keys: webpush.Keys{P256dh: sub.P256DH, Auth: sub.Auth}}, opts)
	if err != nil {
		// The endpoint names the device: log the failure without it.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		s.cfg.Logger.Warn("push: send", "subscription", sub.ID, "err", err)
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		// The browser unsubscribed, or the subscription expired.
		if err := s.cfg.Store.DeletePushSubscription(ctx, sub.CustomerID, sub.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			s.cfg.Logger.Warn("push: forget a gone subscription", "subscription", sub.ID, "err", err)
		}
	case resp.StatusCode >= 300:
		s.cfg.Logger.Warn("push: the push service refused", "subscription", sub.ID, "status", resp.StatusCode)
	}
}

// Forget turns off every device's notifications for the customer: their
// sessions ended (a new password, a reset), and a device that was signed
// in, perhaps someone else's, must not go on hearing of them.
func (s *Service) Forget(ctx context.Context, customerID string) error {
	subs, err := s.cfg.Store.PushSubscriptions(ctx, []string{customerID})
	if err != nil {
		return fmt.Errorf("push: forget %s's devices: %w", customerID, err)
	}
	for _, sub := range subs {
		if err := s.cfg.Store.DeletePushSubscription(ctx, customerID, sub.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("push: forget %s's devices: %w", customerID, err)
		}
	}
	return nil
}

// institutionName is the institution's name, as the push shows it; ""
// when it cannot be read.
func (s *Service) institutionName(ctx context.Context, id string) string {
	s.mu.Lock()
	name, ok := s.names[id]
	s.mu.Unlock()
	if ok {
		return name
	}
	in, err := s.cfg.Store.Institution(ctx, id)
	if err != nil {
		return ""
	}
	s.mu.Lock()
	s.names[id] = in.Name
	s.mu.Unlock()
	return in.Name
}

// subscriptionID names a device's subscription by its endpoint.
func subscriptionID(endpoint string) string {
	sum := sha256.Sum256([]byte(endpoint))
	return "psh_" + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(sum[:16]))
}

// Routes registers the customer's push settings on mux, each behind
// requireCustomer; customerOf names the signed-in customer.
func (s *Service) Routes(mux interface{ Handle(string, http.Handler) }, requireCustomer func(http.Handler) http.Handler, customerOf func(*http.Request) (string, bool)) {
	mux.Handle("GET /app/api/push", requireCustomer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		customerID, _ := customerOf(r)
		out := settings{PublicKey: s.public, Kinds: Kinds}
		if endpoint := r.URL.Query().Get("endpoint"); endpoint != "" {
			subs, err := s.cfg.Store.PushSubscriptions(r.Context(), []string{customerID})
			if err != nil {
				httpx.WriteError(w, err)
				return
			}
			for _, sub := range subs {
				if sub.ID == subscriptionID(endpoint) {
					out.Subscription = &subscribed{Kinds: sub.Kinds}
				}
			}
		}
		httpx.WriteJSON(w, http.StatusOK, out)
	})))
	mux.Handle("PUT /app/api/push/subscription", requireCustomer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		customerID, _ := customerOf(r)
		var in subscribeRequest
		if err := httpx.DecodeJSON(w, r, 8<<10, &in); err != nil {
			httpx.WriteError(w, err)
			return
		}
		if err := s.check(in); err != nil {
			httpx.WriteError(w, err)
			return
		}
		var kinds []string
		for _, k := range Kinds { // known order, no repeats
			if slices.Contains(in.Kinds, k) {
				kinds = append(kinds, k)
			}
		}
		sub := store.PushSubscription{ID: subscriptionID(in.Endpoint), CustomerID: customerID, Endpoint: in.Endpoint,
			P256DH: in.Keys.P256DH, Auth: in.Keys.Auth, Kinds: kinds, CreatedAt: time.Now().UTC()}
		// A device belongs to whoever turned its notifications on last:
		// signed in here, with the endpoint and keys only the device holds.
		if err := s.cfg.Store.PutPushSubscription(r.Context(), sub); err != nil {
			httpx.WriteError(w, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, subscribed{Kinds: kinds})
	})))
	mux.Handle("DELETE /app/api/push/subscription", requireCustomer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		customerID, _ := customerOf(r)
		endpoint := r.URL.Query().Get("endpoint")
		if endpoint == "" {
			httpx.WriteError(w, httpx.Errorf(http.StatusBadRequest, "invalid_endpoint", "Say which device's notifications to turn off (endpoint)."))
			return
		}
		err := s.cfg.Store.DeletePushSubscription(r.Context(), customerID, subscriptionID(endpoint))
		if errors.Is(err, store.ErrNotFound) {
			err = httpx.Errorf(http.StatusNotFound, "not_found", "This device has no notifications turned on.")
		}
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})))
}

type settings struct {
	PublicKey    string      `json:"public_key"`
	Kinds        []string    `json:"kinds"`
	Subscription *subscribed `json:"subscription"`
}

type subscribed struct {
	Kinds []string `json:"kinds"`
}

// subscribeRequest is a browser's PushSubscription.toJSON() with the kinds
// the customer chose.
type subscribeRequest struct {
	Endpoint       string   `json:"endpoint"`
	ExpirationTime *float64 `json:"expirationTime"`
	Keys           struct {
		P256DH string `json:"p256dh"`
		Auth   string `json:"auth"`
	} `json:"keys"`
	Kinds []string `json:"kinds"`
}

// check refuses what no push service would take: an endpoint that is not
// an https URL, keys of the wrong shape, kinds unknown.
func (s *Service) check(in subscribeRequest) error {
	u, err := url.Parse(in.Endpoint)
	okScheme := err == nil && (u.Scheme == "https" || (s.cfg.AllowHTTP && u.Scheme == "http"))
	if !okScheme || u.Host == "" || u.User != nil || len(in.Endpoint) > 2048 {
		return httpx.Errorf(http.StatusBadRequest, "invalid_endpoint", "The endpoint must be the https address the browser's push service gave.")
	}
	if k, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(in.Keys.P256DH, "=")); err != nil || len(k) != 65 || k[0] != 4 {
		return httpx.Errorf(http.StatusBadRequest, "invalid_keys", "keys.p256dh must be the device's P-256 public key (65 bytes, base64url).")
	}
	if k, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(in.Keys.Auth, "=")); err != nil || len(k) != 16 {
		return httpx.Errorf(http.StatusBadRequest, "invalid_keys", "keys.auth must be the device's 16-byte secret (base64url).")
	}
	if len(in.Kinds) == 0 {
		return httpx.Errorf(http.StatusBadRequest, "invalid_kinds", "Choose at least one kind of notification, or turn notifications off.")
	}
	for _, k := range in.Kinds {
		if !slices.Contains(Kinds, k) {
			return httpx.Errorf(http.StatusBadRequest, "invalid_kinds", "Unknown kind %q: choose among %s.", k, strings.Join(Kinds, ", "))
		}
	}
	return nil
}
