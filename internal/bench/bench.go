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
	"bufio"
	"bytes"
	"context"
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
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5"
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
	Binary    string        // the openteller executable to run as the node
	Duration  time.Duration // split evenly between the three phases
	Customers int           // connected customers, one socket each
	Rate      int           // offered load of the latency phase, events per second
	BatchSize int           // events per POST in the throughput phase
	Writers   int           // concurrent posters in the throughput phase
	Log       io.Writer     // progress; nil discards
	DebugAddr string        // if set, the node serves /debug/pprof there
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
	Store              string  `json:"store"`
	IngestEventsPerSec float64 `json:"ingest_events_per_sec"` // no sockets open: durable ingest alone
	// IngestDeliveringPerSec is ingest while every connected customer
	// receives each event live: the node does both on the same cores.
	IngestDeliveringPerSec float64     `json:"ingest_while_delivering_events_per_sec"`
	IngestBatchSize        int         `json:"ingest_batch_size"`
	E2ELatencyMs           Percentiles `json:"e2e_latency_ms"`
	OfferedRate            int         `json:"offered_events_per_sec"`
	AchievedRate           float64     `json:"achieved_events_per_sec"`
	Customers              int         `json:"customers"`
	Delivered              int         `json:"delivered"`
	Undelivered            int         `json:"undelivered"`
	RSSMB                  float64     `json:"rss_mb"`
	PeakRSSMB              float64     `json:"peak_rss_mb"`
	DurationS              float64     `json:"duration_s"`
	Target                 string      `json:"target,omitempty"` // measured a running node; its memory is not known here
}

type customer struct {
	linkID, convID, cookie, csrf string
}

// env is a node under test with its customers set up and a driver aimed
// at it.
type env struct {
	node   *node
	driver *driver
	close  func()
}

// prepare makes a scratch data store, sets up o.Customers linked customers
// in it, and starts the node. webhooks lets the node post webhooks to
// loopback, where the benchmark plays the bank.
func prepare(ctx context.Context, o Options, webhooks bool) (*env, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
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
	cfg.DataDir, cfg.RootKey, cfg.LogLevel, cfg.NATS = dir, vault.GenerateRootKey(), "warn", ""
	cfg.DebugAddr = o.DebugAddr
	if webhooks {
		cfg.WebhookAllowPrivate = "true"
	}
	cfg.Addr, err = freeAddr()
	if err != nil {
		return fail(err)
	}
	switch o.Store {
	case "sqlite":
		cfg.Database = ""
	case "postgres":
		if o.Database == "" {
			return fail(errors.New("bench: --store postgres needs --database"))
		}
		schemaURL, drop, err := scratchSchema(ctx, o.Database)
		if err != nil {
			return fail(err)
		}
		cleanup = append(cleanup, drop)
		cfg.Database = schemaURL
	default:
		return fail(fmt.Errorf("bench: unknown store %q", o.Store))
	}
	if err := cfg.Resolve(); err != nil {
		return fail(err)
	}

	fmt.Fprintf(o.Log, "setting up %d customers on %s…\n", o.Customers, o.Store)
	apiKey, customers, err := setup(ctx, cfg, o.Customers)
	if err != nil {
		return fail(fmt.Errorf("bench: setup: %w", err))
	}
	node, err := startNode(ctx, o.Binary, cfg)
	if err != nil {
		return fail(err)
	}
	cleanup = append(cleanup, node.stop)
	d := &driver{base: cfg.BaseURL, apiKey: apiKey, customers: customers, sent: map[string]time.Time{},
		client: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	cleanup = append(cleanup, d.closeSockets)
	return &env{node: node, driver: d, close: closeAll}, nil
}

// Run runs the ingest benchmark.
func Run(ctx context.Context, o Options) (Result, error) {
	if o.Log == nil {
		o.Log = io.Discard
	}
	res := Result{Store: o.Store, Customers: o.Customers, OfferedRate: o.Rate, IngestBatchSize: o.BatchSize}
	var e *env
	var err error
	if o.Target != "" {
		res.Target, res.Store, res.Customers = o.Target, "target", 1
		e, err = targetEnv(ctx, o)
	} else {
		e, err = prepare(ctx, o, false)
	}
	if err != nil {
		return res, err
	}
	defer e.close()
	d := e.driver
	fmt.Fprintf(o.Log, "connecting %d sockets…\n", len(d.customers))
	if err := d.connect(ctx); err != nil {
		return res, err
	}

	phase := o.Duration / 3
	fmt.Fprintf(o.Log, "latency: %d events/s for %s…\n", o.Rate, phase)
	start := time.Now()
	if err := d.latencyPhase(ctx, o.Rate, phase); err != nil {
		return res, err
	}
	res.E2ELatencyMs, res.Delivered, res.Undelivered, res.AchievedRate = d.summary(phase)

	fmt.Fprintf(o.Log, "throughput while delivering to %d sockets: %d writers, batches of %d, for %s…\n", len(d.customers), o.Writers, o.BatchSize, phase)
	res.IngestDeliveringPerSec, err = d.throughputPhase(ctx, o.Writers, o.BatchSize, phase)
	if err != nil {
		return res, err
	}
	d.closeSockets()
	fmt.Fprintf(o.Log, "throughput, no sockets: %d writers, batches of %d, for %s…\n", o.Writers, o.BatchSize, phase)
	res.IngestEventsPerSec, err = d.throughputPhase(ctx, o.Writers, o.BatchSize, phase)
	if err != nil {
		return res, err
	}
	res.DurationS = time.Since(start).Seconds()
	if e.node != nil {
		res.RSSMB, res.PeakRSSMB = e.node.memory()
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
	d := &driver{base: strings.TrimRight(o.Target, "/"), apiKey: info.APIKey, sent: map[string]time.Time{},
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
// uses it, and a function that drops it.
func scratchSchema(ctx context.Context, dbURL string) (string, func(), error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return "", nil, fmt.Errorf("bench: postgres: %w", err)
	}
	defer conn.Close(ctx)
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
		c, err := pgx.Connect(context.Background(), dbURL)
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
	cmd  *exec.Cmd
	done chan struct{}
}

func startNode(ctx context.Context, binary string, cfg config.Config) (*node, error) {
	args := []string{"serve", "--addr", cfg.Addr, "--data", cfg.DataDir, "--log-level", "warn", "--webhook-allow-private", cfg.WebhookAllowPrivate}
	if cfg.DebugAddr != "" {
		args = append(args, "--debug-addr", cfg.DebugAddr)
	}
	if cfg.Database != "" {
		args = append(args, "--database", cfg.Database)
	}
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), "OPENTELLER_ROOT_KEY="+cfg.RootKey)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("bench: start node: %w", err)
	}
	n := &node{cmd: cmd, done: make(chan struct{})}
	go func() { cmd.Wait(); close(n.done) }()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(cfg.BaseURL + "/readyz")
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

func (n *node) stop() {
	n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
	case <-time.After(20 * time.Second):
		n.cmd.Process.Kill()
		<-n.done
	}
}

// memory reads the node's resident set and its peak from /proc, in MiB.
func (n *node) memory() (rss, peak float64) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", n.cmd.Process.Pid))
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseFloat(fields[1], 64)
		switch fields[0] {
		case "VmRSS:":
			rss = kb / 1024
		case "VmHWM:":
			peak = kb / 1024
		}
	}
	return rss, peak
}

// driver plays the banks and the customers.
type driver struct {
	base, apiKey string
	customers    []customer
	client       *http.Client
	sockets      []*websocket.Conn
	seq          atomic.Int64
	delivered    atomic.Int64 // events that arrived on the sockets

	mu        sync.Mutex
	sent      map[string]time.Time // event id → when its POST was sent
	latencies []time.Duration
	measuring bool
}

func (d *driver) connect(ctx context.Context) error {
	wsURL := "ws" + strings.TrimPrefix(d.base, "http") + "/app/ws"
	caught := make(chan error, len(d.customers))
	d.sockets = make([]*websocket.Conn, len(d.customers))
	sem := make(chan struct{}, 32)
	for i, c := range d.customers {
		sem <- struct{}{}
		dctx, cancel := context.WithTimeout(ctx, 20*time.Second)
		conn, _, err := websocket.Dial(dctx, wsURL, &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {c.cookie}}})
		cancel()
		<-sem
		if err != nil {
			return fmt.Errorf("bench: dial socket %d: %w", i, err)
		}
		conn.SetReadLimit(1 << 20)
		d.sockets[i] = conn
		resume, _ := json.Marshal(map[string]any{"type": "resume", "cursors": map[string]int64{c.convID: 0}})
		if err := conn.Write(ctx, websocket.MessageText, resume); err != nil {
			return err
		}
		go d.read(conn, caught)
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

func (d *driver) closeSockets() {
	for i, c := range d.sockets {
		if c != nil {
			c.CloseNow()
			d.sockets[i] = nil
		}
	}
}

// read consumes one socket; it reports caught_up once, then records the
// latency of every event whose send time it knows.
func (d *driver) read(c *websocket.Conn, caught chan<- error) {
	type event struct {
		Data struct {
			TransactionID string `json:"transaction_id"`
		} `json:"data"`
	}
	var frame struct {
		Type   string  `json:"type"`
		Events []event `json:"events"`
	}
	for {
		_, data, err := c.Read(context.Background())
		if err != nil {
			return
		}
		now := time.Now()
		frame.Type, frame.Events = "", nil
		if json.Unmarshal(data, &frame) != nil {
			continue
		}
		switch frame.Type {
		case "caught_up":
			caught <- nil
		case "events":
			d.delivered.Add(int64(len(frame.Events)))
			d.mu.Lock()
			for _, e := range frame.Events {
				if t, ok := d.sent[e.Data.TransactionID]; ok {
					delete(d.sent, e.Data.TransactionID)
					if d.measuring {
						d.latencies = append(d.latencies, now.Sub(t))
					}
				}
			}
			d.mu.Unlock()
		}
	}
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
func (d *driver) appendEvent(b []byte, c customer, track bool) []byte {
	n := d.seq.Add(1)
	id := "b" + strconv.FormatInt(n, 10)
	m := &merchants[rand.IntN(len(merchants))]
	if track {
		d.mu.Lock()
		d.sent[id] = time.Now()
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

// batch builds the body of one POST of n events to random customers.
func (d *driver) batch(n int, track bool) []byte {
	b := make([]byte, 0, n*420+16)
	b = append(b, `{"events":[`...)
	for i := range n {
		if i > 0 {
			b = append(b, ',')
		}
		b = d.appendEvent(b, d.customers[rand.IntN(len(d.customers))], track)
	}
	return append(b, "]}"...)
}

func (d *driver) post(ctx context.Context, body []byte) (int, error) {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, d.base+"/v1/events", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+d.apiKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := d.client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
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
		body := d.batch(n, true)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := d.post(ctx, body); err != nil {
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

func (d *driver) summary(dur time.Duration) (Percentiles, int, int, float64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	undelivered := len(d.sent)
	clear(d.sent)
	return percentiles(d.latencies), len(d.latencies), undelivered, float64(len(d.latencies)+undelivered) / dur.Seconds()
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

// throughputPhase posts full batches as fast as writers can for dur and
// returns accepted events per second.
func (d *driver) throughputPhase(ctx context.Context, writers, batch int, dur time.Duration) (float64, error) {
	var accepted atomic.Int64
	var wg sync.WaitGroup
	errc := make(chan error, writers)
	start := time.Now()
	end := start.Add(dur)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(end) {
				n, err := d.post(ctx, d.batch(batch, false))
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
		return 0, err
	default:
	}
	return float64(accepted.Load()) / elapsed.Seconds(), nil
}
