// Package server assembles one OpenTeller node: it opens the store, the
// keyring and the bus named by the configuration, builds every service on
// them, and serves their routes on one HTTP listener.
//
// Where an event goes: POST /v1/events (ingest) → store → bus → delivery →
// the customer's WebSocket (GET /app/ws) → the messenger (web). A bank's
// Messenger bot's POST /v19.0/me/messages takes the same way: package
// messenger translates it and hands it to ingest.
//
// Lifecycle: Open → Serve → Shutdown. Shutdown stops taking requests, lets
// those in flight finish, then closes the bus and the store, whose writer
// commits what it has queued before it stops.
package server

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/openteller/openteller/internal/access"
	"github.com/openteller/openteller/internal/auth"
	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/config"
	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/console"
	"github.com/openteller/openteller/internal/delivery"
	"github.com/openteller/openteller/internal/handover"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/linking"
	"github.com/openteller/openteller/internal/messenger"
	"github.com/openteller/openteller/internal/metrics"
	"github.com/openteller/openteller/internal/push"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/postgres"
	"github.com/openteller/openteller/internal/store/sqlite"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/internal/web"
	"github.com/openteller/openteller/internal/webhook"
	"github.com/openteller/openteller/pkg/bankapi"
)

// Server is one running node.
type Server struct {
	Config  config.Config
	Store   store.Store
	Keyring *vault.Keyring
	Bus     *bus.Bus
	Auth    *auth.Service
	Ingest  *ingest.Ingester
	Linking *linking.Service
	Hub     *delivery.Hub
	Consent *consent.Service
	Access  *access.Log
	// Handover moves conversations between the bank's bot and its people.
	Handover *handover.Service
	Console  *console.Service
	Webhook  *webhook.Deliverer
	// Messenger serves the Messenger Platform's Graph routes to banks'
	// existing bots, over ingest, handover and the outbox.
	Messenger *messenger.Service
	// Push tells customers' devices, through their browsers' push
	// services, that something waits for them.
	Push *push.Service
	// Metrics counts what the node does, for its operator: served on the
	// operator's listener (ServeMetrics), never on the public one.
	Metrics *metrics.Metrics

	log        *slog.Logger
	announcer  *ingest.Announcer
	http       *http.Server
	bankRoutes []string // the Bank API's patterns, as registered
	allRoutes  []string // every pattern but the typed 404s
	// stopBackground ends the node's background work; background is done
	// when it has.
	stopBackground context.CancelFunc
	background     chan struct{}
}

// expiryEvery is how often a node ends links past their expiry. Every node
// runs it; the store ends each link once.
const expiryEvery = time.Minute

// webhookEvery is how often a node looks for notices due to banks.
const webhookEvery = time.Second

// OpenStore opens the store the configuration names: PostgreSQL when a
// database URL is set, else SQLite in the data directory.
func OpenStore(ctx context.Context, cfg config.Config) (store.Store, error) {
	if cfg.Database != "" {
		return postgres.Open(ctx, cfg.Database)
	}
	return sqlite.Open(ctx, filepath.Join(cfg.DataDir, "openteller.db"))
}

// ConnectDatabase opens one connection to the PostgreSQL database at url,
// outside any store, for tools (the bench's scratch schemas). The URL is
// read as a node reads it, pool settings and all (postgres.Connect).
func ConnectDatabase(ctx context.Context, url string) (*pgx.Conn, error) {
	return postgres.Connect(ctx, url)
}

// OpenKeyring loads the root key the configuration names and returns the
// keyring over st.
func OpenKeyring(cfg config.Config, st store.Store) (*vault.Keyring, error) {
	roots, err := vault.LoadRootKeys(cfg.RootKey, cfg.RootKeyFile)
	if err != nil {
		return nil, err
	}
	defer func() {
		for _, k := range roots {
			clear(k)
		}
	}()
	return vault.NewKeyring(roots, st)
}

// AccessLog is the deployment's access log, under the name its
// configuration gives it.
func AccessLog(cfg config.Config, st store.Store, keyring *vault.Keyring) *access.Log {
	return &access.Log{Store: st, Keyring: keyring, Origin: cfg.AccessLogOrigin}
}

// Open builds a node from a resolved configuration.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger) (*Server, error) {
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	keyring, err := OpenKeyring(cfg, st)
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Server{Config: cfg, Store: st, Keyring: keyring, log: log, Metrics: metrics.New()}
	s.Bus, err = bus.Open(bus.Options{URL: cfg.NATS, DataDir: cfg.DataDir, Name: "openteller " + cfg.Addr, Logger: log,
		OnReconnect: func() {
			if s.Hub != nil {
				s.Hub.WakeAll()
			}
		}})
	if err != nil {
		st.Close()
		return nil, err
	}
	// What the store commits goes to the customers' devices, in commit
	// order, and as a push to those that asked for one.
	s.announcer = ingest.NewAnnouncer(s.Bus, log)
	subject := cfg.BaseURL
	if !strings.HasPrefix(subject, "https://") {
		subject = "openteller@localhost" // push services want a contact; a demo has none
	}
	s.Push, err = push.New(ctx, push.Config{Store: st, Keyring: keyring, Client: webhook.Client(cfg.AllowPrivateWebhooks()),
		Logger: log, Subject: subject, AllowHTTP: cfg.AllowPrivateWebhooks()})
	if err != nil {
		s.announcer.Close()
		s.Bus.Close()
		st.Close()
		return nil, err
	}
	st.OnCommit(func(evs []store.Event) {
		s.announcer.Announce(evs)
		s.Push.Committed(evs)
		for _, e := range evs {
			s.Metrics.EventCommitted(e.Type)
		}
	})
	// Reset links go to NoMailer, which sends nothing and says so in the
	// log; the demo, or a program embedding the node, sets a mailer.
	s.Auth = auth.New(auth.Config{Store: st, Keyring: keyring, Logger: log, BaseURL: cfg.BaseURL, ReauthWindow: cfg.Reauth(),
		Passkeys: auth.PasskeyConfig{RPID: cfg.PasskeyRPID, Origins: cfg.PasskeyOrigins()},
		SessionsEnded: func(customerID string, keep []byte) {
			if err := s.Bus.WakeCustomer(customerID, bus.Wake{SessionsEnded: true, Keep: hex.EncodeToString(keep)}); err != nil {
				log.Warn("tell devices their sessions ended", "customer", customerID, "err", err)
			}
			// A new password or a reset: no device keeps hearing of them.
			if err := s.Push.Forget(context.Background(), customerID); err != nil {
				log.Warn("turn off devices' notifications", "customer", customerID, "err", err)
			}
		},
		PasskeySessionsEnded: func(customerID string, ended [][]byte) {
			hexes := make([]string, len(ended))
			for i, h := range ended {
				hexes[i] = hex.EncodeToString(h)
			}
			if err := s.Bus.WakeCustomer(customerID, bus.Wake{Ended: hexes}); err != nil {
				log.Warn("tell devices their sessions ended", "customer", customerID, "err", err)
			}
			// A removed passkey's devices (a lost phone) must not go on
			// hearing of the customer either; a subscription does not say
			// which session made it, so every device's goes, as after a
			// new password.
			if err := s.Push.Forget(context.Background(), customerID); err != nil {
				log.Warn("turn off devices' notifications", "customer", customerID, "err", err)
			}
		}})
	customerOf := func(r *http.Request) (string, bool) {
		se, ok := auth.SessionFrom(r.Context())
		return se.CustomerID, ok
	}
	sessionOf := func(r *http.Request) []byte {
		se, _ := auth.SessionFrom(r.Context())
		return se.IDHash
	}
	s.Handover = &handover.Service{Store: st, Queued: func() { s.Webhook.Kick() }}
	s.Webhook = webhook.New(webhook.Config{Store: st, Keyring: keyring, Logger: log, AllowPrivate: cfg.AllowPrivateWebhooks(),
		Formats: map[string]webhook.Format{store.FormatMessenger: messenger.Format}, Tried: s.Metrics.WebhookTried})
	s.Ingest = ingest.New(ingest.Config{Store: st, Keyring: keyring, Logger: log, Queued: s.Webhook.Kick, Send: s.Webhook.Send, Lease: webhook.SendLease,
		Received: s.Metrics.EventReceived})
	// The token exchange goes out like a webhook: public addresses only
	// (unless allowed, as in the demo), no redirects.
	s.Linking = linking.New(linking.Config{Store: st, Bus: s.Bus, BaseURL: cfg.BaseURL, Logger: log, CustomerOf: customerOf, Client: webhook.Client(cfg.AllowPrivateWebhooks())})
	s.Access = AccessLog(cfg, st, keyring)
	s.Consent = consent.New(consent.Config{Store: st, Keyring: keyring, Bus: s.Bus, Logger: log, Retention: cfg.Retention()})
	// A key destroyed on any node (history cleared) leaves every node's memory.
	if _, err := s.Bus.SubscribeKeysDestroyed(keyring.Forget); err != nil {
		s.Bus.Close()
		st.Close()
		return nil, fmt.Errorf("server: subscribe to destroyed keys: %w", err)
	}
	s.Hub = delivery.NewHub(delivery.Config{Store: st, Keyring: keyring, Feed: s.Bus, Logger: log, CustomerOf: customerOf, SessionOf: sessionOf})
	s.Metrics.CountSockets(s.Hub.Devices)
	if w, ok := st.(interface{ WriterStat() store.WriterStat }); ok {
		s.Metrics.WatchWriter(func() metrics.Writer {
			w := w.WriterStat()
			return metrics.Writer{Groups: w.Groups, Writes: w.Writes, Busy: w.Busy, Commit: w.Commit,
				Commits: w.Commits[:], CommitBounds: store.CommitBounds[:], CommitsAll: w.CommitsAll}
		})
	}
	if pg, ok := st.(*postgres.Store); ok {
		s.Metrics.WatchDatabasePool(func() metrics.DatabasePool {
			reads, writer := pg.PoolStat()
			return addPool(addPool(metrics.DatabasePool{}, reads), writer)
		})
		advice, err := pg.Advice(ctx)
		if err != nil {
			log.Warn("read the database's settings", "err", err)
		}
		for _, a := range advice {
			log.Warn("database: " + a)
		}
	}

	mux := http.NewServeMux()
	// all records every route, so that tests can check each one
	// (TestEveryRouteIsGuarded).
	all := &routes{mux: mux}
	all.Handle("GET /healthz", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		httpx.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	}))
	all.Handle("GET /readyz", http.HandlerFunc(s.ready))
	// The Bank API: every route here must be in pkg/bankapi/openapi.json
	// (TestOpenAPIMatchesRoutes).
	bank := &routes{mux: all}
	bank.Handle("POST /v1/events", s.Ingest.Handler())
	bank.Handle("DELETE /v1/links/{id}", s.Consent.BankHandler())
	bankKey := func(r *http.Request) (string, error) {
		return ingest.Authenticate(r.Context(), st, r.Header.Get("Authorization"), time.Now())
	}
	bank.Handle("POST /v1/links/{id}/handover", s.Handover.BankHandler(bankKey))
	s.Console = console.New(console.Config{Store: st, Ingest: s.Ingest, Handover: s.Handover, Access: s.Access, Keyring: keyring, Logger: log,
		AgentTyping: func(customerID, conversationID, who string) error {
			return s.Bus.WakeCustomer(customerID, bus.Wake{ConversationID: conversationID, Typing: who})
		},
		Events: s.Hub.Page, Since: s.Hub.Since,
		// Followed before the stream's first look at the store, so no
		// event falls between the two.
		Watch: func(customerID string, wake func(conversationID string)) (func(), error) {
			return s.Bus.Follow(customerID, func(w bus.Wake) {
				if w.Typing == "" {
					wake(w.ConversationID)
				}
			})
		}})
	s.Console.BankRoutes(bank, bankKey)
	s.Handover.Assign = s.Console.AutoAssign
	if _, err := s.Bus.SubscribeCustomerTyping(s.Console.CustomerTyped); err != nil {
		s.Hub.Close()
		s.announcer.Close()
		s.Bus.Close()
		st.Close()
		return nil, fmt.Errorf("server: subscribe to typing: %w", err)
	}
	(&webhook.Endpoints{Store: st, Keyring: keyring, AllowPrivate: cfg.AllowPrivateWebhooks(),
		Handshakes: map[string]webhook.Handshake{store.FormatMessenger: messenger.Handshake}}).RegisterRoutes(bank)
	// The Messenger Platform's Graph routes, over the same services. They
	// are served in front of the mux (a version wildcard would overlap
	// /v1/), and listed with the Bank API's routes.
	s.Messenger = &messenger.Service{Store: st, Keyring: keyring, Ingest: s.Ingest, Handover: s.Handover, Log: log,
		Typing: func(customerID, conversationID, who string) error {
			return s.Bus.WakeCustomer(customerID, bus.Wake{ConversationID: conversationID, Typing: who})
		}}
	for _, p := range messenger.Patterns() {
		bank.patterns = append(bank.patterns, p)
		all.patterns = append(all.patterns, p)
	}
	bank.Handle("GET /v1/openapi.json", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(bankapi.OpenAPI)
	}))
	s.bankRoutes = bank.patterns
	// What cannot be undone asks for a recent authentication (the
	// password again, and the code with a second factor on); so does
	// letting another person read a bank's balances and transactions,
	// which a device left signed in must not do on its own: what they
	// read meanwhile cannot be taken back.
	s.Consent.RegisterCustomer(&recentAuth{routes: all, require: s.Auth.RequireRecentAuth, patterns: map[string]bool{
		"POST /app/api/history/clear":        true,
		"POST /app/api/disconnect-all":       true,
		"POST /app/api/links/{id}/delegates": true,
	}}, s.Auth.RequireCustomer, customerOf, s.Access)
	s.Console.Register(all)
	all.Handle("GET /oauth/callback", s.Linking.Callback())
	all.Handle("GET /app/ws", s.Hub.Handler())
	all.Handle("GET /app/api/conversations/{id}/events", s.Auth.RequireCustomer(s.Hub.HistoryHandler()))
	s.Push.Routes(all, s.Auth.RequireCustomer, customerOf)
	accounts := s.Auth.Handler()
	for _, p := range []string{"POST /app/api/signup", "POST /app/api/signin", "POST /app/api/signout", "GET /app/api/me", "POST /app/api/password",
		"PUT /app/api/language", "POST /app/api/password-reset", "POST /app/api/password-reset/complete", "POST /app/api/reauth",
		"POST /app/api/totp/setup", "POST /app/api/totp/confirm", "DELETE /app/api/totp", "POST /app/api/totp/recovery-codes",
		"GET /app/api/passkeys", "POST /app/api/passkeys/register/begin", "POST /app/api/passkeys/register/finish", "DELETE /app/api/passkeys/{id}",
		"POST /app/api/passkeys/signin/begin", "POST /app/api/passkeys/signin/finish"} {
		all.Handle(p, accounts)
	}
	// Every other API path answers with a typed error, whatever the method:
	// 405 with Allow where the path has routes for other methods, else 404.
	// (These catch-alls would otherwise hide the mux's own 405.)
	apiMethods := []string{"GET", "POST", "PUT", "PATCH", "DELETE"}
	catchAll := map[string]bool{}
	for _, method := range apiMethods {
		for _, prefix := range []string{" /app/api/", " /v1/"} {
			catchAll[method+prefix] = true
		}
	}
	unrouted := func(w http.ResponseWriter, r *http.Request) {
		var allow []string
		for _, method := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"} {
			probe := r.WithContext(r.Context())
			probe.Method = method
			// A route's pattern starts with its method; a bare path is a
			// redirect's target, "" is no match.
			if _, pattern := mux.Handler(probe); pattern != "" && !strings.HasPrefix(pattern, "/") && !catchAll[pattern] {
				allow = append(allow, method)
			}
		}
		if len(allow) == 0 {
			httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "not_found", "There is nothing at %s %s.", r.Method, r.URL.Path))
			return
		}
		w.Header().Set("Allow", strings.Join(allow, ", "))
		httpx.WriteError(w, httpx.Errorf(http.StatusMethodNotAllowed, "method_not_allowed", "%s does not answer %s; it answers %s.", r.URL.Path, r.Method, strings.Join(allow, ", ")))
	}
	for pattern := range catchAll {
		mux.HandleFunc(pattern, unrouted)
	}
	api := &web.API{Store: st, Ingest: s.Ingest, Linking: s.Linking, Now: time.Now, Customer: customerOf, BaseURL: cfg.BaseURL, Hub: s.Hub, Access: s.Access, Handover: s.Handover, Typing: s.Bus.CustomerTyping,
		SharedNames: s.Consent.SharedNames}
	api.Register(all, s.Auth.RequireCustomer)
	all.Handle("GET /", web.Static())

	s.allRoutes = all.patterns
	// The routes requests are counted under: every pattern registered,
	// the catch-alls too; anything else is counted as unmatched.
	known := map[string]bool{}
	for _, p := range all.patterns {
		known[p] = true
	}
	for p := range catchAll {
		known[p] = true
	}
	var h http.Handler = routed(s.Messenger.Front(mux))
	h = s.Auth.Middleware(h)
	h = http.NewCrossOriginProtection().Handler(h)
	h = web.SecurityHeaders(h)
	h = accessLog(log, s.Metrics, known, h)
	s.http = &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// routes registers on mux and remembers the patterns.
type routes struct {
	mux      interface{ Handle(string, http.Handler) }
	patterns []string
}

func (r *routes) Handle(pattern string, h http.Handler) {
	r.mux.Handle(pattern, h)
	r.patterns = append(r.patterns, pattern)
}

// recentAuth registers on routes, putting the patterns listed behind
// require (a recent authentication) in front of their own checks.
type recentAuth struct {
	routes   *routes
	require  func(http.Handler) http.Handler
	patterns map[string]bool
}

func (r *recentAuth) Handle(pattern string, h http.Handler) {
	if r.patterns[pattern] {
		h = r.require(h)
	}
	r.routes.Handle(pattern, h)
}

// BankRoutes lists the Bank API's routes as "METHOD /path" patterns.
func (s *Server) BankRoutes() []string { return slices.Clone(s.bankRoutes) }

// Routes lists every route of the node as "METHOD /path" patterns, except
// the typed 404s for unknown /v1/ and /app/api/ paths.
func (s *Server) Routes() []string { return slices.Clone(s.allRoutes) }

// Handler is the node's whole HTTP surface.
func (s *Server) Handler() http.Handler { return s.http.Handler }

// Serve serves on ln until Shutdown, and runs the node's background work.
func (s *Server) Serve(ln net.Listener) error {
	if s.background == nil {
		var ctx context.Context
		ctx, s.stopBackground = context.WithCancel(context.Background())
		s.background = make(chan struct{})
		var wg sync.WaitGroup
		wg.Go(func() { s.sweep(ctx) })
		wg.Go(func() { s.Consent.RunExpiry(ctx, expiryEvery) })
		wg.Go(func() { s.Webhook.Run(ctx, webhookEvery) })
		wg.Go(func() { s.Push.Run(ctx) })
		go func() {
			wg.Wait()
			close(s.background)
		}()
	}
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops the node gracefully within ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	err := s.http.Shutdown(ctx)
	s.Auth.Wait() // reset mail being sent still uses the store
	// Sockets outlive the HTTP server: tell their devices to go elsewhere.
	s.Hub.Close()
	if s.stopBackground != nil {
		s.stopBackground()
		<-s.background
	}
	s.announcer.Close()
	s.Bus.Close()
	if cerr := s.Store.Close(); err == nil {
		err = cerr
	}
	return err
}

// sweep deletes expired sessions and link attempts every expiryEvery, and
// keeps the access log's subtree hashes up with the log (at start too, so
// that a long log's first history request does not do it).
func (s *Server) sweep(ctx context.Context) {
	t := time.NewTicker(expiryEvery)
	defer t.Stop()
	for {
		if err := s.Access.KeepUp(ctx); err != nil && ctx.Err() == nil {
			s.log.Error("keep the access log's subtree hashes", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := s.Store.SweepExpired(ctx, time.Now()); err != nil && ctx.Err() == nil {
				s.log.Error("sweep expired sessions", "err", err)
			} else if n > 0 {
				s.log.Debug("swept expired sessions and link attempts", "rows", n)
			}
		}
	}
}

func (s *Server) ready(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	checks := map[string]string{"store": "ok", "bus": "ok"}
	status := http.StatusOK
	// Unauthenticated: it says what is down, and the log says why (a
	// driver's error can name hosts, users and databases).
	if err := s.Store.Ping(ctx); err != nil {
		checks["store"], status = "unreachable", http.StatusServiceUnavailable
		s.log.Warn("readyz: store", "err", err)
	}
	if err := s.Bus.Ping(); err != nil {
		checks["bus"], status = "unreachable", http.StatusServiceUnavailable
		s.log.Warn("readyz: bus", "err", err)
	}
	httpx.WriteJSON(w, status, checks)
}

// accessLog logs each request's method, path, status and duration — never
// a query string (OAuth codes travel there) or a body — and the internal
// errors its handlers report (httpx.WriteError), with the request they
// failed. It counts each in m under the route pattern that served it (one
// of known, else unmatched: a metric never carries a path, whose segments
// are ids) and its status class.
func accessLog(log *slog.Logger, m *metrics.Metrics, known map[string]bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		var route string
		r = r.WithContext(context.WithValue(r.Context(), routeKey{}, &route))
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK, log: log, req: r}
		next.ServeHTTP(rec, r)
		took := time.Since(start)
		level := slog.LevelDebug
		if rec.status >= 500 {
			level = slog.LevelWarn
		}
		log.Log(r.Context(), level, "http", "method", r.Method, "path", r.URL.Path, "status", rec.status, "ms", took.Milliseconds())
		if !known[route] {
			route = ""
		}
		m.Request(route, rec.status, took)
	})
}

// routeKey holds, in a request's context, where routed writes the route
// pattern that served it.
type routeKey struct{}

// routed tells accessLog which route pattern served a request. The mux
// (and messenger.Front) set it on the request they are given, but the
// middleware between them and the access log hands them a copy
// (WithContext), so it travels back through the context. What it reports
// is not always a pattern: on its trailing-slash redirects the mux sets
// the request's path, ids and all. accessLog counts only the patterns the
// node registered (known); keep that filter.
func routed(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		next.ServeHTTP(w, r)
		if route, ok := r.Context().Value(routeKey{}).(*string); ok {
			*route = r.Pattern
		}
	})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
	log    *slog.Logger
	req    *http.Request
}

// InternalError logs err with the request it failed (httpx.InternalErrors).
func (r *statusRecorder) InternalError(err error) {
	r.log.ErrorContext(r.req.Context(), "internal error", "method", r.req.Method, "path", r.req.URL.Path, "err", err)
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController (and the WebSocket upgrade) reach the
// underlying writer.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// NewLogger builds the node's logger from the configuration.
func NewLogger(cfg config.Config, w interface{ Write([]byte) (int, error) }) *slog.Logger {
	var level slog.Level
	level.UnmarshalText([]byte(strings.ToUpper(cfg.LogLevel)))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// CreateInstitution registers an institution and returns it with its first
// API key, to be shown once.
func CreateInstitution(ctx context.Context, st store.Store, in store.Institution) (store.Institution, string, error) {
	if in.ID == "" {
		in.ID = ingest.NewID("ins_")
	}
	if in.CreatedAt.IsZero() {
		in.CreatedAt = time.Now().UTC()
	}
	if err := st.CreateInstitution(ctx, in); err != nil {
		return in, "", fmt.Errorf("create institution: %w", err)
	}
	key, err := RotateAPIKey(ctx, st, in.ID, 0)
	return in, key, err
}

// RotateAPIKey issues a new API key for the institution; older keys keep
// working for grace (zero: they stop at once).
func RotateAPIKey(ctx context.Context, st store.Store, institutionID string, grace time.Duration) (string, error) {
	if _, err := st.Institution(ctx, institutionID); err != nil {
		return "", fmt.Errorf("institution %s: %w", institutionID, err)
	}
	now := time.Now().UTC()
	token, k := ingest.NewAPIKey(institutionID, now)
	if err := st.RotateAPIKey(ctx, k, now.Add(grace)); err != nil {
		return "", fmt.Errorf("rotate api key: %w", err)
	}
	return token, nil
}

// addPool adds what one of the node's pools of database connections says
// of itself to sum.
func addPool(sum metrics.DatabasePool, p *pgxpool.Stat) metrics.DatabasePool {
	sum.Max += p.MaxConns()
	sum.InUse += p.AcquiredConns()
	sum.Idle += p.IdleConns()
	sum.Opening += p.ConstructingConns()
	sum.Acquires += p.AcquireCount()
	sum.Waits += p.EmptyAcquireCount()
	sum.Waited += p.EmptyAcquireWaitTime()
	sum.Canceled += p.CanceledAcquireCount()
	return sum
}
