// Package bench measures a node the way banks and customers load it: banks
// post events over HTTP, customers hold WebSockets open, and the clock runs
// from the moment a bank's POST is sent to the moment the event arrives on
// the customer's socket.
//
// The node under test is a separate `openteller serve` process on loopback,
// so its resident memory is its own. Setup (institution, customers, links,
// sessions) is written straight into its data store before it starts; the
// measured traffic uses only the public interfaces.
package bench

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"github.com/openteller/openteller/internal/consent"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/openteller/openteller/internal/config"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/server"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// Options says what to measure.
type Options struct {
	Store     string        // sqlite or postgres
	Database  string        // PostgreSQL URL when Store is postgres
	NATS      string        // external NATS URL: the bus the nodes share (needed for Nodes > 1)
	Binary    string        // the openteller executable to run as the node
	Duration  time.Duration // split evenly between the three phases
	Sockets   int           // connected customers, one socket each
	Nodes     int           // serve processes sharing the store and bus (PostgreSQL only beyond 1)
	Rate      int           // offered load of the latency phase, events per second
	BatchSize int           // events per POST in the throughput phase
	Writers   int           // concurrent posters in the throughput phase
	Log       io.Writer     // progress; nil discards
	DebugAddr string        // if set, the first node serves /debug/pprof there
	// Target, if set, is a running node to measure instead of starting
	// one: TargetInfo is a demo.json from `openteller demo` naming its
	// institution key and demo customer (one customer, so one socket).
	Target     string
	TargetInfo string
}

// Percentiles of a latency distribution, in milliseconds.
type Percentiles struct {
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
	Max float64 `json:"max"`
}

// Result is what Run measured.
type Result struct {
	Store   string `json:"store"`
	Nodes   int    `json:"nodes"`
	Sockets int    `json:"sockets"`
	// What an idle socket costs the nodes, measured around connecting
	// them all, each figure after a garbage collection that returned what
	// it could to the system: resident memory, heap and stacks in use, and
	// goroutines, per socket.
	KBPerIdleSocket         float64 `json:"kb_per_idle_socket"`
	HeapKBPerIdleSocket     float64 `json:"heap_kb_per_idle_socket"`
	GoroutinesPerIdleSocket float64 `json:"goroutines_per_idle_socket"`
	// The latency phase: events offered at OfferedRate, each timed from
	// just before its POST to its arrival on the customer's socket.
	E2ELatencyMs Percentiles `json:"e2e_latency_ms"`
	// WarmupLatencyMs is the same load's first second, just after the
	// sockets connected, timed apart from E2ELatencyMs.
	WarmupLatencyMs *Percentiles `json:"warmup_latency_ms,omitempty"`
	// CrossNodeLatencyMs counts only events posted to one node and
	// delivered by another (Nodes > 1).
	CrossNodeLatencyMs *Percentiles `json:"cross_node_latency_ms,omitempty"`
	OfferedRate        int          `json:"offered_events_per_sec"`
	AchievedRate       float64      `json:"achieved_events_per_sec"`
	Delivered          int          `json:"delivered"`
	Undelivered        int          `json:"undelivered"`
	LatencyCounters    *Counters    `json:"latency_phase_counters,omitempty"`
	// The throughput phase: Writers posting batches of IngestBatchSize as
	// fast as they are acknowledged, with every socket receiving its
	// events. Ingest counts the events acknowledged per second, delivered
	// those that arrived on the sockets per second (until the last did).
	IngestEventsPerSec    float64 `json:"ingest_events_per_sec"`
	DeliveredEventsPerSec float64 `json:"delivered_events_per_sec"`
	// Lost is acknowledged events that never arrived (must be 0).
	Lost            int `json:"lost"`
	IngestBatchSize int `json:"ingest_batch_size"`
	// PostLatencyMs is what a bank's poster waited in that phase: each
	// POST from just before it was sent to its answer. At full load it is
	// mostly waiting: for the commits ahead of it, and for a core.
	PostLatencyMs      Percentiles `json:"post_latency_ms"`
	ThroughputCounters *Counters   `json:"throughput_phase_counters,omitempty"`
	// IngestAloneEventsPerSec is the same load with no socket open.
	IngestAloneEventsPerSec float64 `json:"ingest_alone_events_per_sec"`
	RSSMB                   float64 `json:"rss_mb"`      // the nodes' resident memory at the end, summed
	PeakRSSMB               float64 `json:"peak_rss_mb"` // and their peaks
	HeapMB                  float64 `json:"heap_mb"`     // heap in use at the end, after a collection
	DurationS               float64 `json:"duration_s"`
	// HostSpeed is how fast this machine's cores hashed together, in
	// MB/s, before the nodes started and after the last phase. Compare
	// the after readings: on a host whose cores had been idle, the
	// before reading came out a third low (BENCHMARKS.md, twelfth
	// session). Equal readings do not make runs comparable (on this
	// shared host the throughput drifted by a fifth while the reading
	// stayed within 6%).
	HostSpeed [2]float64 `json:"host_sha256_mb_per_sec"`
	Target    string     `json:"target,omitempty"` // measured a running node; its memory is not known here
}

type customer struct {
	linkID, convID, cookie, csrf string
	node                         int // the node its socket is on
}

// env is the nodes under test with their customers set up and a driver
// aimed at them.
type env struct {
	nodes    []*node
	postgres bool // the nodes' store, whose pool they count
	// postmaster is the PostgreSQL server's process when it runs on this
	// machine, whose CPU time the phases' Counters read; 0 otherwise.
	postmaster int
	driver     *driver
	close      func()
}

// prepare makes a scratch data store, sets up o.Sockets linked customers
// in it, and starts the nodes. webhooks lets the nodes post webhooks to
// loopback, where the benchmark plays the bank.
func prepare(ctx context.Context, o Options, webhooks bool) (*env, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	o.Nodes = max(o.Nodes, 1)
	var cleanup []func()
	closeAll := func() {
		for i := len(cleanup) - 1; i >= 0; i-- {
			cleanup[i]()
		}
	}
	fail := func(err error) (*env, error) {
		closeAll()
		return nil, err
	}
	dir, err := os.MkdirTemp("", "openteller-bench-")
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { os.RemoveAll(dir) })
	cfg := config.Default()
	cfg.DataDir, cfg.RootKey, cfg.LogLevel, cfg.NATS = filepath.Join(dir, "node-0"), vault.GenerateRootKey(), "warn", o.NATS
	if webhooks {
		cfg.WebhookAllowPrivate = "true"
	}
	postmaster := 0
	switch o.Store {
	case "sqlite":
		if o.Nodes > 1 {
			return fail(errors.New("bench: several nodes share a PostgreSQL store: use --store postgres"))
		}
		cfg.Database = ""
	case "postgres":
		if o.Database == "" {
			return fail(errors.New("bench: --store postgres needs --database"))
		}
		schemaURL, drop, err := scratchSchema(ctx, o.Database, &postmaster)
		if err != nil {
			return fail(err)
		}
		cleanup = append(cleanup, drop)
		cfg.Database = schemaURL
	default:
		return fail(fmt.Errorf("bench: unknown store %q", o.Store))
	}
	if o.Nodes > 1 && o.NATS == "" {
		return fail(errors.New("bench: several nodes share an external NATS: give --nats"))
	}
	if cfg.Addr, err = freeAddr(); err != nil {
		return fail(err)
	}
	if err := cfg.Resolve(); err != nil {
		return fail(err)
	}

	fmt.Fprintf(o.Log, "setting up %d customers on %s…\n", o.Sockets, o.Store)
	apiKey, customers, err := setup(ctx, cfg, o.Sockets)
	if err != nil {
		return fail(fmt.Errorf("bench: setup: %w", err))
	}
	var nodes []*node
	var bases []string
	for i := range o.Nodes {
		nc := cfg
		if i > 0 {
			nc.DataDir = filepath.Join(dir, fmt.Sprintf("node-%d", i))
			if nc.Addr, err = freeAddr(); err != nil {
				return fail(err)
			}
			nc.BaseURL = "http://" + nc.Addr
		}
		if nc.DebugAddr, err = freeAddr(); err != nil {
			return fail(err)
		}
		if i == 0 && o.DebugAddr != "" {
			nc.DebugAddr = o.DebugAddr
		}
		if nc.MetricsAddr, err = freeAddr(); err != nil {
			return fail(err)
		}
		n, err := startNode(ctx, o.Binary, nc)
		if err != nil {
			return fail(err)
		}
		cleanup = append(cleanup, n.stop)
		nodes, bases = append(nodes, n), append(bases, n.base)
	}
	for i := range customers {
		customers[i].node = i % len(nodes)
	}
	d := &driver{bases: bases, apiKey: apiKey, customers: customers, sent: map[string]sentEvent{},
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	cleanup = append(cleanup, d.closeSockets)
	return &env{nodes: nodes, postgres: o.Store == "postgres", postmaster: postmaster, driver: d, close: closeAll}, nil
}

// quietReadings is how many readings memory takes of a node's memory
// when what it holds when quiet is wanted.
const quietReadings = 8

// memory sums the nodes' memory figures, read at once on every node.
// Each figure is the least of readings (each after a collection) a
// quarter of a second apart: work a node has just finished or is
// finishing only adds to a reading. The decoy password hash a node makes
// at start holds 19 MiB for half a second, and a finished query's
// watcher goroutine lingers until it is scheduled: one reading of a node
// a second old counted 18 MiB more heap than a quiet one, and on a busy
// machine 20 more goroutines.
func (e *env) memory(ctx context.Context, readings int) (server.Memory, error) {
	least := make([]server.Memory, len(e.nodes))
	errs := make([]error, len(e.nodes))
	var wg sync.WaitGroup
	for k, n := range e.nodes {
		wg.Go(func() {
			for i := range readings {
				if i > 0 {
					select {
					case <-ctx.Done():
						errs[k] = ctx.Err()
						return
					case <-time.After(250 * time.Millisecond):
					}
				}
				m, err := n.measure()
				if err != nil {
					errs[k] = err
					return
				}
				if i == 0 {
					least[k] = m
					continue
				}
				l := &least[k]
				l.RSS = min(l.RSS, m.RSS)
				l.HeapInuse = min(l.HeapInuse, m.HeapInuse)
				l.StackInuse = min(l.StackInuse, m.StackInuse)
				l.HeapAlloc = min(l.HeapAlloc, m.HeapAlloc)
				l.Goroutines = min(l.Goroutines, m.Goroutines)
			}
		})
	}
	wg.Wait()
	var sum server.Memory
	if err := errors.Join(errs...); err != nil {
		return sum, err
	}
	for _, m := range least {
		sum.RSS += m.RSS
		sum.HeapInuse += m.HeapInuse
		sum.StackInuse += m.StackInuse
		sum.HeapAlloc += m.HeapAlloc
		sum.Goroutines += m.Goroutines
	}
	return sum, nil
}

// rss sums the nodes' resident memory and peaks, in MiB.
func (e *env) rss() (rss, peak float64) {
	for _, n := range e.nodes {
		r, p := n.memory()
		rss, peak = rss+r, peak+p
	}
	return rss, peak
}

// connectIdle connects every socket and measures what the idle sockets
// cost the nodes.
func connectIdle(ctx context.Context, e *env, o Options, res *Result) error {
	d := e.driver
	var before server.Memory
	var err error
	if e.nodes != nil {
		if before, err = e.memory(ctx, quietReadings); err != nil {
			return err
		}
	}
	fmt.Fprintf(o.Log, "connecting %d sockets…\n", len(d.customers))
	if err := d.connect(ctx); err != nil {
		return err
	}
	if e.nodes == nil {
		return nil
	}
	// Let the handlers that caught the devices up finish.
	time.Sleep(time.Second)
	after, err := e.memory(ctx, quietReadings)
	if err != nil {
		return err
	}
	res.HeapMB = float64(after.HeapInuse) / (1 << 20)
	n := float64(len(d.customers))
	res.KBPerIdleSocket = float64(after.RSS-before.RSS) / 1024 / n
	res.HeapKBPerIdleSocket = float64(after.HeapInuse+after.StackInuse-before.HeapInuse-before.StackInuse) / 1024 / n
	res.GoroutinesPerIdleSocket = float64(after.Goroutines-before.Goroutines) / n
	fmt.Fprintf(o.Log, "idle: %.1f KiB resident, %.1f KiB heap and %.1f KiB stacks, %.2f goroutines per socket (heap in use %.0f MiB)\n",
		res.KBPerIdleSocket, float64(after.HeapInuse-before.HeapInuse)/1024/n, float64(after.StackInuse-before.StackInuse)/1024/n,
		res.GoroutinesPerIdleSocket, float64(after.HeapInuse)/(1<<20))
	return nil
}

// RunIdle only connects the sockets and measures what they cost.
func RunIdle(ctx context.Context, o Options) (Result, error) {
	res := Result{Store: o.Store, Nodes: max(o.Nodes, 1), Sockets: o.Sockets}
	e, err := prepare(ctx, o, false)
	if err != nil {
		return res, err
	}
	defer e.close()
	if err := connectIdle(ctx, e, o, &res); err != nil {
		return res, err
	}
	res.RSSMB, res.PeakRSSMB = e.rss()
	return res, nil
}

// Run runs the ingest benchmark.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	res := Result{Store: o.Store, Nodes: max(o.Nodes, 1), Sockets: o.Sockets, OfferedRate: o.Rate, IngestBatchSize: o.BatchSize}
	res.HostSpeed[0] = hostSpeed()
	var e *env
	var err error
	if o.Target != "" {
		res.Target, res.Store, res.Sockets = o.Target, "target", 1
		e, err = targetEnv(ctx, o)
	} else {
		e, err = prepare(ctx, o, false)
	}
	if err != nil {
		return res, err
	}
	defer e.close()
	d := e.driver
	if err := connectIdle(ctx, e, o, &res); err != nil {
		return res, err
	}

	phase := o.Duration / 3
	// The first second of load after the sockets connect is slower on
	// PostgreSQL (each pooled connection's first use of a statement), so
	// it is timed apart, and the latency phase measures the steady state.
	fmt.Fprintf(o.Log, "warm-up: %d events/s for %s…\n", o.Rate, latencyWarmup)
	if err := d.latencyPhase(ctx, o.Rate, latencyWarmup); err != nil {
		return res, err
	}
	warm, _, _, warmUndelivered, _ := d.summary(latencyWarmup)
	res.WarmupLatencyMs = &warm
	fmt.Fprintf(o.Log, "latency: %d events/s for %s…\n", o.Rate, phase)
	start := time.Now()
	if res.LatencyCounters, err = e.phaseCounters(ctx, func() error { return d.latencyPhase(ctx, o.Rate, phase) }); err != nil {
		return res, err
	}
	logCounters(o.Log, res.LatencyCounters)
	res.E2ELatencyMs, res.CrossNodeLatencyMs, res.Delivered, res.Undelivered, res.AchievedRate = d.summary(phase)
	res.Undelivered += warmUndelivered // a loss is a loss, warm or not

	fmt.Fprintf(o.Log, "throughput while delivering to %d sockets: %d writers, batches of %d, for %s…\n", len(d.customers), o.Writers, o.BatchSize, phase)
	var tp throughput
	if res.ThroughputCounters, err = e.phaseCounters(ctx, func() (err error) {
		tp, err = d.throughputPhase(ctx, o.Writers, o.BatchSize, phase, true)
		return err
	}); err != nil {
		return res, err
	}
	logCounters(o.Log, res.ThroughputCounters)
	res.IngestEventsPerSec, res.DeliveredEventsPerSec, res.Lost, res.PostLatencyMs = tp.accepted, tp.delivered, tp.lost, tp.post
	d.closeSockets()
	fmt.Fprintf(o.Log, "throughput, no sockets: %d writers, batches of %d, for %s…\n", o.Writers, o.BatchSize, phase)
	alone, err := d.throughputPhase(ctx, o.Writers, o.BatchSize, phase, false)
	if err != nil {
		return res, err
	}
	res.IngestAloneEventsPerSec = alone.accepted
	res.DurationS = time.Since(start).Seconds()
	res.HostSpeed[1] = hostSpeed()
	if e.nodes != nil {
		res.RSSMB, res.PeakRSSMB = e.rss()
		if m, err := e.memory(ctx, 1); err == nil {
			res.HeapMB = float64(m.HeapInuse) / (1 << 20)
		}
	}
	return res, nil
}

// targetEnv aims the driver at a running node, as the demo customer of the
// demo.json given: it signs in over the customer API like a browser.
func targetEnv(ctx context.Context, o Options) (*env, error) {
	b, err := os.ReadFile(o.TargetInfo)
	if err != nil {
		return nil, fmt.Errorf("bench: --target needs --target-info, the demo.json of that node: %w", err)
	}
	var info struct {
		APIKey         string `json:"institution_api_key"`
		LinkID         string `json:"link_id"`
		ConversationID string `json:"conversation_id"`
		Email          string `json:"customer_email"`
		Password       string `json:"customer_password"`
	}
	if err := json.Unmarshal(b, &info); err != nil || info.APIKey == "" || info.LinkID == "" {
		return nil, fmt.Errorf("bench: %s is not a demo.json: %v", o.TargetInfo, err)
	}
	body, _ := json.Marshal(map[string]string{"email": info.Email, "password": info.Password})
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(o.Target, "/")+"/app/api/signin", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("bench: sign in at %s: %w", o.Target, err)
	}
	resp.Body.Close()
	var cookie string
	for _, c := range resp.Cookies() {
		cookie = c.Name + "=" + c.Value
	}
	if resp.StatusCode != http.StatusOK || cookie == "" {
		return nil, fmt.Errorf("bench: sign in at %s: %s", o.Target, resp.Status)
	}
	d := &driver{bases: []string{strings.TrimRight(o.Target, "/")}, apiKey: info.APIKey, sent: map[string]sentEvent{},
		customers: []customer{{linkID: info.LinkID, convID: info.ConversationID, cookie: cookie}},
		client:    &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	return &env{driver: d, close: d.closeSockets}, nil
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// scratchSchema makes an empty schema for one run and returns a URL that
// uses it, and a function that drops it. It sets postmaster to the
// server's process, when the server runs on this machine.
func scratchSchema(ctx context.Context, dbURL string, postmaster *int) (string, func(), error) {
	conn, err := server.ConnectDatabase(ctx, dbURL)
	if err != nil {
		return "", nil, fmt.Errorf("bench: postgres: %w", err)
	}
	defer conn.Close(ctx)
	var backend int
	if conn.QueryRow(ctx, "SELECT pg_backend_pid()").Scan(&backend) == nil {
		*postmaster = postmasterOf(backend)
	}
	schema := fmt.Sprintf("bench_%d", time.Now().UnixNano())
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		return "", nil, err
	}
	u, err := url.Parse(dbURL)
	if err != nil {
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	drop := func() {
		c, err := server.ConnectDatabase(context.Background(), dbURL)
		if err == nil {
			c.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
			c.Close(context.Background())
		}
	}
	return u.String(), drop, nil
}

// setup writes the institution, customers, links and sessions through a
// node opened in this process, then closes it.
func setup(ctx context.Context, cfg config.Config, n int) (string, []customer, error) {
	srv, err := server.Open(ctx, cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return "", nil, err
	}
	defer srv.Shutdown(context.Background())
	inst, apiKey, err := server.CreateInstitution(ctx, srv.Store, store.Institution{Name: "Bench Bank", AuthorizeURL: "http://127.0.0.1/authorize", TokenURL: "http://127.0.0.1/token", ClientID: "bench"})
	if err != nil {
		return "", nil, err
	}
	customers := make([]customer, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 64) // concurrent writes share group commits
	for i := range customers {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			id := fmt.Sprintf("cus_bench%07d", i)
			now := time.Now()
			if err := srv.Store.CreateCustomer(ctx, store.Customer{ID: id, Email: id + "@bench.invalid", PasswordHash: "!", CreatedAt: now}); err != nil {
				errs <- err
				return
			}
			if err := srv.Keyring.EnsureCustomer(ctx, id); err != nil {
				errs <- err
				return
			}
			l := store.Link{ID: ingest.NewID("lnk_"), CustomerID: id, InstitutionID: inst.ID,
				ConversationID: fmt.Sprintf("cnv_bench%07d", i), Scopes: bankapi.AllScopes, Status: store.LinkActive, CreatedAt: now, ExpiresAt: now.Add(24 * time.Hour)}
			l, err := srv.Store.CreateLink(ctx, l, consent.GrantReceipt(l, "benchmark setup"))
			if err != nil {
				errs <- err
				return
			}
			rec := httptest.NewRecorder()
			csrf, err := srv.Auth.StartSession(ctx, rec, store.Customer{ID: id, PasswordHash: "!"})
			if err != nil {
				errs <- err
				return
			}
			var cookie string
			for _, c := range rec.Result().Cookies() {
				cookie = c.Name + "=" + c.Value
			}
			customers[i] = customer{linkID: l.ID, convID: l.ConversationID, cookie: cookie, csrf: csrf}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return "", nil, err
	}
	return apiKey, customers, nil
}

type node struct {
	cmd                  *exec.Cmd
	done                 chan struct{}
	base, debug, metrics string
}

func startNode(ctx context.Context, binary string, cfg config.Config) (*node, error) {
	args := []string{"serve", "--addr", cfg.Addr, "--data", cfg.DataDir, "--log-level", "warn", "--webhook-allow-private", cfg.WebhookAllowPrivate,
		"--debug-addr", cfg.DebugAddr, "--metrics-addr", cfg.MetricsAddr}
	if cfg.Database != "" {
		args = append(args, "--database", cfg.Database)
	}
	if cfg.NATS != "" {
		args = append(args, "--nats", cfg.NATS)
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = nodeEnv(os.Environ(), cfg.RootKey)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start node: %w", err)
	}
	n := &node{cmd: cmd, done: make(chan struct{}), base: "http://" + cfg.Addr, debug: "http://" + cfg.DebugAddr,
		metrics: "http://" + cfg.MetricsAddr + "/metrics"}
	go func() { cmd.Wait(); close(n.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(n.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return n, nil
			}
		}
		select {
		case <-n.done:
			return nil, errors.New("bench: node exited during start")
		case <-ctx.Done():
			n.stop()
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			n.stop()
			return nil, errors.New("bench: node not ready after 30s")
		}
	}
}

// nodeEnv is the environment of a node bench starts: the bench's own
// without its OPENTELLER_ settings, which would otherwise configure the
// node too (an OPENTELLER_DATABASE exported for a PostgreSQL run sent an
// SQLite run's node to PostgreSQL), and the scratch root key.
func nodeEnv(environ []string, rootKey string) []string {
	env := make([]string, 0, len(environ)+1)
	for _, kv := range environ {
		if !strings.HasPrefix(kv, "OPENTELLER_") {
			env = append(env, kv)
		}
	}
	return append(env, "OPENTELLER_ROOT_KEY="+rootKey)
}

func (n *node) stop() {
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(20 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
}

// measure asks the node for its memory figures after a collection (GET
// /debug/memory?gc=1 on its debug listener).
func (n *node) measure() (server.Memory, error) {
	var m server.Memory
	resp, err := http.Get(n.debug + "/debug/memory?gc=1")
	if err != nil {
		return m, fmt.Errorf("bench: node memory: %w", err)
	}
	defer resp.Body.Close()
	return m, json.NewDecoder(resp.Body).Decode(&m)
}

// memory reads the node's resident set and its peak, in MiB.
func (n *node) memory() (rss, peak float64) {
	r, p := server.ProcessMemory(strconv.Itoa(n.cmd.Process.Pid))
	return float64(r) / (1 << 20), float64(p) / (1 << 20)
}

// sentEvent is an event the driver posted: when, and to which node.
type sentEvent struct {
	at   time.Time
	node int
}

// driver plays the banks and the customers.
type driver struct {
	bases        []string // the nodes' URLs
	apiKey       string
	customers    []customer
	client       *http.Client
	sockets      []*websocket.Conn
	perSource    int // sockets from one source address; 0: socketsPerSource
	fromMu       sync.Mutex
	fromIP       map[string]*http.Client // the clients that dial from each source address but the first
	seq          atomic.Int64
	posts        atomic.Int64 // posts so far, to take turns among the nodes
	delivered    atomic.Int64 // events that arrived on the sockets
	lastDelivery atomic.Int64 // when the latest did, in Unix nanoseconds

	mu             sync.Mutex
	sent           map[string]sentEvent // event id → when its POST was sent, and where
	latencies      []time.Duration
	crossLatencies []time.Duration // of events delivered by another node than the one posted to
	measuring      bool
}

// nextNode is the node the next POST goes to.
func (d *driver) nextNode() int { return int(d.posts.Add(1) % int64(len(d.bases))) }

func (d *driver) connect(ctx context.Context) error {
	caught := make(chan error, len(d.customers))
	d.sockets = make([]*websocket.Conn, len(d.customers))
	work := make(chan int)
	errc := make(chan error, 1)
	var wg sync.WaitGroup
	for range 32 {
		wg.Go(func() {
			for i := range work {
				c := d.customers[i]
				conn, err := d.dial(ctx, i)
				if err == nil {
					conn.SetReadLimit(1 << 20)
					d.sockets[i] = conn
					resume, _ := json.Marshal(map[string]any{"type": "resume", "cursors": map[string]int64{c.convID: 0}})
					err = conn.Write(ctx, websocket.MessageText, resume)
				}
				if err != nil {
					select {
					case errc <- fmt.Errorf("bench: socket %d: %w", i, err):
					default:
					}
					continue
				}
				go d.read(conn, c, caught)
			}
		})
	}
	for i := range d.customers {
		work <- i
	}
	close(work)
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	for range d.customers {
		select {
		case err := <-caught:
			if err != nil {
				return err
			}
		case <-time.After(60 * time.Second):
			return errors.New("bench: sockets did not catch up within 60s")
		}
	}
	return nil
}

// socketsPerSource is how many sockets bench opens from one loopback
// address. A source address makes one connection to a node per local
// port, and Linux hands out some 28,000 (net.ipv4.ip_local_port_range,
// 32768–60999 by default), so more sockets than this come from 127.0.0.1,
// 127.0.0.2 and on: all of 127.0.0.0/8 is the loopback's.
const socketsPerSource = 20_000

// dial opens customer i's socket to its node, from the source address
// that socket's turn gives it (socketsPerSource) when the node listens
// on a loopback address; a node elsewhere (--target) sees the system's
// choice.
func (d *driver) dial(ctx context.Context, i int) (*websocket.Conn, error) {
	c := d.customers[i]
	base := d.bases[c.node]
	opts := &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {c.cookie}}}
	per := d.perSource
	if per == 0 {
		per = socketsPerSource
	}
	if n := i/per + 1; n > 1 {
		if u, err := url.Parse(base); err == nil {
			if ip := net.ParseIP(u.Hostname()).To4(); ip != nil && ip.IsLoopback() {
				opts.HTTPClient = d.from(net.IPv4(127, byte(n>>16), byte(n>>8), byte(n)))
			}
		}
	}
	dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(dctx, "ws"+strings.TrimPrefix(base, "http")+"/app/ws", opts)
	return conn, err
}

// from is the client that dials from the source address ip.
func (d *driver) from(ip net.IP) *http.Client {
	d.fromMu.Lock()
	defer d.fromMu.Unlock()
	if c, ok := d.fromIP[ip.String()]; ok {
		return c
	}
	if d.fromIP == nil {
		d.fromIP = map[string]*http.Client{}
	}
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}, Timeout: 20 * time.Second}
	c := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	d.fromIP[ip.String()] = c
	return c
}

func (d *driver) closeSockets() {
	for i, c := range d.sockets {
		if c != nil {
			c.CloseNow()
			d.sockets[i] = nil
		}
	}
}

// read consumes one socket; it reports caught_up once, then counts every
// event and records the latency of those whose send time it knows.
func (d *driver) read(c *websocket.Conn, cu customer, caught chan<- error) {
	type event struct {
		Data struct {
			TransactionID string `json:"transaction_id"`
		} `json:"data"`
	}
	var frame struct {
		Type   string  `json:"type"`
		Events []event `json:"events"`
	}
	var buf bytes.Buffer // one frame, kept for the next
	var ids [][]byte
	for {
		_, r, err := c.Reader(context.Background())
		if err != nil {
			return
		}
		buf.Reset()
		if _, err := buf.ReadFrom(r); err != nil {
			return
		}
		now := time.Now()
		var ok bool
		if ids, ok = eventsFrame(buf.Bytes(), ids[:0]); ok {
			d.arrived(ids, now, cu)
			continue
		}
		frame.Type, frame.Events = "", nil
		if json.Unmarshal(buf.Bytes(), &frame) != nil {
			continue
		}
		switch frame.Type {
		case "caught_up":
			caught <- nil
		case "events":
			ids = ids[:0]
			for _, e := range frame.Events {
				ids = append(ids, []byte(e.Data.TransactionID))
			}
			d.arrived(ids, now, cu)
		}
	}
}

// arrived counts the events of one frame, which reached cu's socket at
// now, by their transaction ids, and times those it sent.
func (d *driver) arrived(ids [][]byte, now time.Time, cu customer) {
	d.delivered.Add(int64(len(ids)))
	d.lastDelivery.Store(now.UnixNano())
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, id := range ids {
		s, ok := d.sent[string(id)]
		if !ok {
			continue
		}
		delete(d.sent, string(id))
		if d.measuring {
			d.latencies = append(d.latencies, now.Sub(s.at))
			if s.node != cu.node {
				d.crossLatencies = append(d.crossLatencies, now.Sub(s.at))
			}
		}
	}
}

// eventsFrame returns the transaction ids of an "events" frame as the node
// writes one (its type first, each event an object that opens with its
// seq), each event's found by a search rather than by encoding/json: the
// client shares the machine with the node it measures, and decoding every
// frame by reflection took a quarter of the client's time. ok is false for
// any other frame, and for one whose events and ids do not pair up; read
// then decodes it with encoding/json. TestEventsFrame checks the two agree.
func eventsFrame(data []byte, ids [][]byte) (_ [][]byte, ok bool) {
	if !bytes.HasPrefix(data, []byte(`{"type":"events",`)) {
		return ids, false
	}
	key := []byte(`"transaction_id":"`)
	for rest := data; ; {
		i := bytes.Index(rest, key)
		if i < 0 {
			break
		}
		rest = rest[i+len(key):]
		j := bytes.IndexByte(rest, '"')
		if j < 0 || bytes.IndexByte(rest[:j], '\\') >= 0 {
			return ids, false
		}
		ids = append(ids, rest[:j])
		rest = rest[j+1:]
	}
	events := bytes.Count(data, []byte(`{"seq":`))
	return ids, events > 0 && events == len(ids)
}

var merchants = []bankapi.Merchant{
	{Name: "Harbor Street Grocer", MCC: "5411", Category: "Grocery Stores, Supermarkets", City: "Portland", Country: "US"},
	{Name: "Lantern Coffee", MCC: "5814", Category: "Fast Food Restaurants", City: "Seattle", Country: "US"},
	{Name: "Northline Fuel", MCC: "5541", Category: "Service Stations", City: "Boise", Country: "US"},
}

// appendEvent writes one transaction.posted event for c to b. It builds the
// JSON by hand: the client shares the machine with the node it measures,
// and reflection-based encoding of every event took cores the node needed.
// TestEventEncoding checks it against encoding/json.
func (d *driver) appendEvent(b []byte, c customer, track bool, node int) []byte {
	n := d.seq.Add(1)
	id := "b" + strconv.FormatInt(n, 10)
	m := &merchants[rand.IntN(len(merchants))]
	if track {
		d.mu.Lock()
		d.sent[id] = sentEvent{at: time.Now(), node: node}
		d.mu.Unlock()
	}
	return appendEventJSON(b, id, c.linkID, time.Now().UTC(), fmt.Sprintf("%d.%02d", 3+rand.IntN(120), rand.IntN(100)), m)
}

func appendEventJSON(b []byte, id, linkID string, at time.Time, amount string, m *bankapi.Merchant) []byte {
	b = append(b, `{"id":`...)
	b = strconv.AppendQuote(b, id)
	b = append(b, `,"link_id":`...)
	b = strconv.AppendQuote(b, linkID)
	b = append(b, `,"type":"transaction.posted","occurred_at":"`...)
	b = at.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","data":{"account_id":"acc_chk","transaction_id":`...)
	b = strconv.AppendQuote(b, id)
	b = append(b, `,"status":"posted","direction":"debit","amount":{"amount":"`...)
	b = append(b, amount...)
	b = append(b, `","currency":"USD"},"merchant":{"name":`...)
	b = strconv.AppendQuote(b, m.Name)
	b = append(b, `,"mcc":`...)
	b = strconv.AppendQuote(b, m.MCC)
	b = append(b, `,"category":`...)
	b = strconv.AppendQuote(b, m.Category)
	b = append(b, `,"city":`...)
	b = strconv.AppendQuote(b, m.City)
	b = append(b, `,"country":`...)
	b = strconv.AppendQuote(b, m.Country)
	return append(b, `},"card_last4":"4821"}}`...)
}

// batch builds the body of one POST of n events to random customers, to
// be sent to node.
func (d *driver) batch(n int, track bool, node int) []byte {
	b := make([]byte, 0, n*420+16)
	b = append(b, `{"events":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = d.appendEvent(b, d.customers[rand.IntN(len(d.customers))], track, node)
	}
	return append(b, "]}"...)
}

// drain reads the rest of a response's body and closes it. A body closed
// before its end may close its connection (one not read at all did), and
// the next request opens one.
func drain(body io.ReadCloser) {
	io.Copy(io.Discard, body)
	body.Close()
}

func (d *driver) post(ctx context.Context, node int, body []byte) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.bases[node]+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+d.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer drain(resp.Body)
	var out bankapi.EventResults
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		return 0, fmt.Errorf("bench: POST /v1/events: %d %s", resp.StatusCode, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		return 0, err
	}
	accepted := 0
	for _, r := range out.Results {
		if r.Status == bankapi.ResultAccepted {
			accepted++
		} else if r.Error != nil {
			return accepted, fmt.Errorf("bench: event refused: %s", r.Error.Code)
		}
	}
	return accepted, nil
}

// latencyWarmup is how long the latency phase's load runs before it is
// measured.
const latencyWarmup = time.Second

// latencyPhase offers rate events per second for dur, in small batches every
// 10 ms, each event to a random customer; posts run concurrently so a slow
// answer does not lower the offered load.
func (d *driver) latencyPhase(ctx context.Context, rate int, dur time.Duration) error {
	d.mu.Lock()
	d.measuring = true
	d.mu.Unlock()
	const tick = 10 * time.Millisecond
	perTick := float64(rate) * tick.Seconds()
	var owed float64
	var wg sync.WaitGroup
	errc := make(chan error, 1)
	t := time.NewTicker(tick)
	defer t.Stop()
	end := time.Now().Add(dur)
	for time.Now().Before(end) {
		<-t.C
		owed += perTick
		n := int(owed)
		owed -= float64(n)
		if n == 0 {
			continue
		}
		node := d.nextNode()
		body := d.batch(n, true, node)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.post(ctx, node, body); err != nil {
				select {
				case errc <- err:
				default:
				}
			}
		}()
	}
	wg.Wait()
	select {
	case err := <-errc:
		return err
	default:
	}
	// Let the last deliveries land.
	for wait := 0; wait < 100; wait++ {
		d.mu.Lock()
		left := len(d.sent)
		d.mu.Unlock()
		if left == 0 {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.mu.Lock()
	d.measuring = false
	d.mu.Unlock()
	return nil
}

func (d *driver) summary(dur time.Duration) (all Percentiles, cross *Percentiles, delivered, undelivered int, achieved float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	undelivered = len(d.sent)
	clear(d.sent)
	if len(d.crossLatencies) > 0 {
		p := percentiles(d.crossLatencies)
		cross = &p
	}
	all, delivered = percentiles(d.latencies), len(d.latencies)
	d.latencies, d.crossLatencies = d.latencies[:0], d.crossLatencies[:0]
	return all, cross, delivered, undelivered, float64(delivered+undelivered) / dur.Seconds()
}

// hostSpeed measures the machine's cores together: the best of five
// passes in which each core hashes 64 MiB with SHA-256, in MB/s summed.
func hostSpeed() float64 {
	buf := make([]byte, 1<<20)
	cores := runtime.GOMAXPROCS(0)
	best := 0.0
	for range 5 {
		var wg sync.WaitGroup
		start := time.Now()
		for range cores {
			wg.Go(func() {
				for range 64 {
					sha256.Sum256(buf)
				}
			})
		}
		wg.Wait()
		best = max(best, float64(cores)*64*(1<<20)/1e6/time.Since(start).Seconds())
	}
	return best
}

// percentiles summarises latencies (nearest rank).
func percentiles(latencies []time.Duration) Percentiles {
	l := slices.Clone(latencies)
	slices.Sort(l)
	pct := func(p float64) float64 {
		if len(l) == 0 {
			return 0
		}
		i := int(p * float64(len(l)-1))
		return float64(l[i].Microseconds()) / 1000
	}
	return Percentiles{P50: pct(0.50), P95: pct(0.95), P99: pct(0.99), Max: pct(1)}
}

// throughput is what a throughput phase measured, per second.
type throughput struct {
	accepted, delivered float64
	lost                int
	post                Percentiles // each POST's round trip
}

// throughputPhase posts full batches as fast as writers can for dur. With
// sockets, it then waits for every accepted event to arrive, and counts
// delivery from the phase's start to the last arrival.
func (d *driver) throughputPhase(ctx context.Context, writers, batch int, dur time.Duration, sockets bool) (throughput, error) {
	var accepted atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	posts := make([][]time.Duration, writers) // each writer's own: no lock between them
	delivered0 := d.delivered.Load()
	start := time.Now()
	end := start.Add(dur)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				node := d.nextNode()
				body := d.batch(batch, false, node)
				sent := time.Now()
				n, err := d.post(ctx, node, body)
				posts[w] = append(posts[w], time.Since(sent))
				accepted.Add(int64(n))
				if err != nil {
					errc <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errc:
		return throughput{}, err
	default:
	}
	out := throughput{accepted: float64(accepted.Load()) / elapsed.Seconds(), post: percentiles(slices.Concat(posts...))}
	if !sockets {
		return out, nil
	}
	// Every acknowledged event must arrive; give the stragglers until
	// nothing has moved for five seconds.
	want := accepted.Load()
	for last, still := int64(-1), time.Now(); ; time.Sleep(20 * time.Millisecond) {
		got := d.delivered.Load() - delivered0
		if got >= want {
			break
		}
		if got != last {
			last, still = got, time.Now()
		} else if time.Since(still) > 5*time.Second {
			out.lost = int(want - got)
			break
		}
	}
	got := d.delivered.Load() - delivered0
	if span := time.Unix(0, d.lastDelivery.Load()).Sub(start); got > 0 && span > 0 {
		out.delivered = float64(got) / span.Seconds()
	}
	return out, nil
}
