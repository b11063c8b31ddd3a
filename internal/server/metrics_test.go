package server_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/openteller/openteller/internal/auth"
	"github.com/openteller/openteller/internal/config"
	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/server"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/postgres"
	"github.com/openteller/openteller/internal/testenv"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// TestMetricsCarryNoContent: the operator sees health and metrics, never
// content. A node serving real traffic (a bank's events, accepted, refused
// and repeated; a customer's socket and message; the webhook that tells
// the bank) counts all of it on its metrics listener, under route
// patterns, event types, result codes and outcomes, and its scrape holds
// none of the ids, names, addresses, amounts, words or secrets that went
// through. The public listener does not serve the metrics.
func TestMetricsCarryNoContent(t *testing.T) {
	ctx := context.Background()
	srv := testServer(t, func(c *config.Config) { c.WebhookAllowPrivate = "true" })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	fatalIf(t, err)
	go srv.Serve(ln) // with its background work: the webhook deliverer
	base := "http://" + ln.Addr().String()

	// The bank: an institution, its API key, and its webhook endpoint.
	var mu sync.Mutex
	var notices []string
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct{ Type string }
		json.NewDecoder(r.Body).Decode(&env)
		mu.Lock()
		notices = append(notices, env.Type)
		mu.Unlock()
	}))
	defer hook.Close()
	ins, apiKey, err := server.CreateInstitution(ctx, srv.Store, store.Institution{Name: "Quillfeather Savings", AuthorizeURL: "https://quill.example/authorize",
		TokenURL: "https://quill.example/token", ClientID: "openteller-client"})
	fatalIf(t, err)
	bank := func(method, path, body string) (int, string) {
		req, _ := http.NewRequest(method, base+path, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+apiKey)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		fatalIf(t, err)
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	hookURL := hook.URL + "/quillfeather-hooks"
	status, body := bank("POST", "/v1/webhook-endpoints", fmt.Sprintf(`{"url":%q}`, hookURL))
	if status != http.StatusCreated {
		t.Fatalf("register the webhook endpoint: %d %s", status, body)
	}
	var endpoint struct{ Secret string }
	fatalIf(t, json.Unmarshal([]byte(body), &endpoint))

	// The customer, linked to the bank, with a session and a live socket.
	email := "ottoline.metrics@example.com"
	c, err := srv.Auth.SignUp(ctx, email, "correct horse battery")
	fatalIf(t, err)
	now := time.Now()
	l := store.Link{ID: ingest.NewID("lnk_"), CustomerID: c.ID, InstitutionID: ins.ID, ConversationID: ingest.NewID("cnv_"),
		Scopes: []string{bankapi.ScopeTransactions}, Status: store.LinkActive, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	_, err = srv.Store.CreateLink(ctx, l, consent.GrantReceipt(l, "metrics test"))
	fatalIf(t, err)
	raw := make([]byte, 32)
	rand.Read(raw)
	idHash := sha256.Sum256(raw)
	csrf := "csrf-" + ingest.NewID("")
	fatalIf(t, srv.Store.CreateSession(ctx, store.Session{IDHash: idHash[:], CustomerID: c.ID, CSRFToken: csrf, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}, c.PasswordHash))
	sessionValue := base64.RawURLEncoding.EncodeToString(raw)
	cookie := auth.SessionCookie + "=" + sessionValue
	dialCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(dialCtx, "ws"+strings.TrimPrefix(base, "http")+"/app/ws", &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {cookie}}})
	fatalIf(t, err)
	t.Cleanup(func() { ws.CloseNow() })
	fatalIf(t, ws.Write(dialCtx, websocket.MessageText, []byte(`{"type":"resume","cursors":{}}`)))
	if _, data, err := ws.Read(dialCtx); err != nil || !strings.Contains(string(data), `"caught_up"`) {
		t.Fatalf("first frame %s (%v)", data, err)
	}

	// The bank posts a card payment and one for a link it does not have,
	// then the payment again.
	merchant, amount, accountID, txnID := "Zephyrine Patisserie", "4321.98", "acct-quill-77120", "txn-quill-90417"
	payment := func(id, linkID string) string {
		return fmt.Sprintf(`{"id":%q,"link_id":%q,"type":"transaction.posted","occurred_at":%q,"data":{"account_id":%q,"transaction_id":%q,`+
			`"status":"posted","direction":"debit","amount":{"amount":%q,"currency":"EUR"},"merchant":{"name":%q,"city":"Ravenglass"}}}`,
			id, linkID, now.UTC().Format(time.RFC3339), accountID, txnID, amount, merchant)
	}
	acceptedID, refusedID, strangerLink := "quill-evt-coffee-5521", "quill-evt-stranger-8830", ingest.NewID("lnk_")
	status, body = bank("POST", "/v1/events", `{"events":[`+payment(acceptedID, l.ID)+`,`+payment(refusedID, strangerLink)+`]}`)
	if status != http.StatusOK || !strings.Contains(body, `"status":"accepted"`) || !strings.Contains(body, `"code":"unknown_link"`) {
		t.Fatalf("post the batch: %d %s", status, body)
	}
	status, body = bank("POST", "/v1/events", `{"events":[`+payment(acceptedID, l.ID)+`]}`)
	if status != http.StatusOK || !strings.Contains(body, `"status":"duplicate"`) {
		t.Fatalf("post the payment again: %d %s", status, body)
	}
	// Its Messenger bot asks who holds the conversation, on a Graph path
	// that names the bank and the link: counted under the route's pattern.
	graphStatus, body := bank("GET", "/v19.0/"+ins.ID+"/thread_owner?recipient="+url.QueryEscape(`{"id":"`+l.ID+`"}`), "")
	if graphStatus >= 500 {
		t.Fatalf("thread_owner: %d %s", graphStatus, body)
	}

	// The customer answers; the bank hears it by webhook, after the
	// notice that the link was made.
	words := "Never been to Ravenglass, please block it"
	if status, body := call(t, base, "POST", "/app/api/conversations/"+l.ConversationID+"/messages", cookie, csrf, fmt.Sprintf(`{"text":%q}`, words)); status != http.StatusCreated {
		t.Fatalf("the customer's message: %d %s", status, body)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		mu.Lock()
		got := strings.Join(notices, " ")
		mu.Unlock()
		if got == store.NoticeLinkCreated+" "+ingest.CustomerMessageType {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the bank's webhook got %q", got)
		}
	}

	// What the node counted.
	scrape := func() string {
		rec := httptest.NewRecorder()
		srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("scrape: %d %s", rec.Code, rec.Body)
		}
		return rec.Body.String()
	}
	want := []string{
		`openteller_events_received_total{result="accepted"} 1`,
		`openteller_events_received_total{result="unknown_link"} 1`,
		`openteller_events_received_total{result="duplicate"} 1`,
		`openteller_events_received_total{result="other"} 0`,
		`openteller_events_committed_total{type="transaction.posted"} 1`,
		`openteller_events_committed_total{type="customer.message"} 1`,
		`openteller_events_committed_total{type="other"} 0`,
		`openteller_http_requests_total{code="2xx",route="POST /v1/events"} 2`,
		`openteller_http_requests_total{code="2xx",route="POST /v1/webhook-endpoints"} 1`,
		`openteller_http_requests_total{code="2xx",route="POST /app/api/conversations/{id}/messages"} 1`,
		`openteller_http_request_duration_seconds_count{route="POST /v1/events"} 2`,
		fmt.Sprintf(`openteller_http_requests_total{code="%dxx",route="GET /{version}/{page_id}/thread_owner"} 1`, graphStatus/100),
		`openteller_webhook_deliveries_total{outcome="delivered"} 2`,
		`openteller_sockets_open 1`,
		`openteller_store_writer_groups_total `, // counted in storetest
		`openteller_store_writer_writes_total `,
		`openteller_store_writer_busy_seconds_total `,
		`openteller_store_writer_commit_seconds_sum `,
		`openteller_store_writer_commit_seconds_bucket{le="0.05"} `,
		`process_resident_memory_bytes `,
		`go_goroutines `,
		`go_gc_gogc_percent `, // the Go collector's; the README points operators at it
	}
	var out string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		out = scrape()
		missing := ""
		for _, w := range want {
			line := w // a whole line, "…} 1" not "…} 10"; a name alone ("go_goroutines ") is there with any value
			if !strings.HasSuffix(w, " ") {
				line += "\n"
			}
			if !strings.Contains(out, line) {
				missing = w
				break
			}
		}
		if missing == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the scrape lacks %s:\n%s", missing, openteller(out))
			break
		}
	}

	for what, secret := range map[string]string{
		"customer id": c.ID, "email": email, "email's name": "ottoline", "link id": l.ID, "stranger's link id": strangerLink,
		"conversation id": l.ConversationID, "institution id": ins.ID, "institution name": "Quillfeather", "API key": apiKey,
		"webhook secret": endpoint.Secret, "webhook URL": hookURL, "bank event id": acceptedID, "refused event id": refusedID,
		"merchant": merchant, "city": "Ravenglass", "amount": amount, "account": accountID, "transaction": txnID,
		"customer's words": "block it", "session": sessionValue, "CSRF token": csrf,
	} {
		if strings.Contains(out, secret) {
			t.Errorf("the scrape holds the %s (%q)", what, secret)
		}
	}

	// Metrics only on the operator's listener, and only GET /metrics there.
	resp, err := http.Get(base + "/metrics")
	fatalIf(t, err)
	public, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if strings.Contains(string(public), "openteller_") {
		t.Errorf("the public listener serves the metrics: %d", resp.StatusCode)
	}
	for _, r := range []struct {
		method, path string
		status       int
	}{{"POST", "/metrics", http.StatusMethodNotAllowed}, {"GET", "/debug/pprof/", http.StatusNotFound}, {"GET", "/healthz", http.StatusNotFound}} {
		rec := httptest.NewRecorder()
		srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest(r.method, r.path, nil))
		if rec.Code != r.status {
			t.Errorf("metrics listener, %s %s: %d, want %d", r.method, r.path, rec.Code, r.status)
		}
	}
}

// openteller keeps a scrape's openteller_ lines, for a failure's message.
func openteller(scrape string) string {
	var keep []string
	for _, line := range strings.Split(scrape, "\n") {
		if strings.HasPrefix(line, "openteller_") {
			keep = append(keep, line)
		}
	}
	return strings.Join(keep, "\n")
}

// TestDatabasePoolMetrics: a node on PostgreSQL tells its operator how
// many connections it holds and may hold, and how often requests waited
// for one or gave up; a node on SQLite has no pool to tell of.
func TestDatabasePoolMetrics(t *testing.T) {
	scrape := func(srv *server.Server) string {
		rec := httptest.NewRecorder()
		srv.MetricsHandler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		return rec.Body.String()
	}
	t.Run("postgres", func(t *testing.T) {
		ctx := context.Background()
		u, err := url.Parse(testenv.PostgresSchema(t))
		fatalIf(t, err)
		q := u.Query()
		// One connection for reads, and the writer's own.
		q.Set("pool_max_conns", "2")
		u.RawQuery = q.Encode()
		dbURL := u.String()
		srv := testServer(t, func(c *config.Config) { c.Database = dbURL })
		// value reads one sample of the node's scrape.
		value := func(sample string) float64 {
			t.Helper()
			out := scrape(srv)
			i := strings.Index(out, "\n"+sample+" ")
			if i < 0 {
				t.Fatalf("the scrape lacks %s:\n%s", sample, openteller(out))
			}
			var v float64
			if _, err := fmt.Sscanf(out[i+len(sample)+2:], "%g", &v); err != nil {
				t.Fatalf("%s: %v", sample, err)
			}
			return v
		}
		const (
			inUse    = `openteller_db_connections{state="in_use"}`
			acquires = "openteller_db_acquires_total"
			waits    = "openteller_db_acquire_waits_total"
			waited   = "openteller_db_acquire_wait_seconds_total"
			canceled = "openteller_db_acquire_canceled_total"
		)
		if v := value("openteller_db_connections_max"); v != 2 {
			t.Fatalf("max connections %g, want 2", v)
		}
		before := map[string]float64{acquires: value(acquires), waits: value(waits), waited: value(waited), canceled: value(canceled)}

		// Hold the node's only connection for reads: a write waits on a
		// table this test has locked.
		locker, err := postgres.Connect(ctx, dbURL)
		fatalIf(t, err)
		defer locker.Close(ctx)
		tx, err := locker.Begin(ctx)
		fatalIf(t, err)
		defer tx.Rollback(ctx)
		_, err = tx.Exec(ctx, "LOCK TABLE customers IN ACCESS EXCLUSIVE MODE")
		fatalIf(t, err)
		written := make(chan error, 1)
		go func() {
			written <- srv.Store.CreateCustomer(ctx, store.Customer{ID: "cus_pool", Email: "pool@example.com", PasswordHash: "h", CreatedAt: time.Now()})
		}()
		for deadline := time.Now().Add(10 * time.Second); value(inUse) != 1; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatal("the write never took the connection")
			}
		}
		// Two requests give up waiting; another waits until the write is
		// done, a fifth of a second at least.
		for range 2 {
			short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			err := srv.Store.Ping(short)
			cancel()
			if err == nil {
				t.Fatal("a ping got the connection the write holds")
			}
		}
		started, pinged := make(chan struct{}), make(chan error, 1)
		go func() {
			close(started)
			pinged <- srv.Store.Ping(ctx)
		}()
		<-started
		time.Sleep(200 * time.Millisecond)
		fatalIf(t, tx.Rollback(ctx))
		fatalIf(t, <-written)
		fatalIf(t, <-pinged)

		if d := value(canceled) - before[canceled]; d != 2 {
			t.Errorf("%s grew by %g, want 2", canceled, d)
		}
		if d := value(waits) - before[waits]; d != 1 {
			t.Errorf("%s grew by %g, want 1", waits, d)
		}
		if d := value(waited) - before[waited]; d < 0.1 {
			t.Errorf("%s grew by %gs, want 0.1 at least", waited, d)
		}
		if d := value(acquires) - before[acquires]; d < 2 {
			t.Errorf("%s grew by %g, want 2 at least (the write, the ping that waited)", acquires, d)
		}
		if v := value(inUse); v != 0 {
			t.Errorf("%g connections in use once all is done", v)
		}
		// The writer's connection opens in the background as the node
		// starts.
		for deadline := time.Now().Add(10 * time.Second); value(`openteller_db_connections{state="idle"}`) != 2; time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%g connections idle once all is done, want 2: the reads' and the writer's", value(`openteller_db_connections{state="idle"}`))
			}
		}
	})
	t.Run("sqlite", func(t *testing.T) {
		if out := scrape(testServer(t)); strings.Contains(out, "openteller_db_") {
			t.Errorf("a node on SQLite tells of a database pool:\n%s", openteller(out))
		}
	})
}

// TestDatabaseAdviceIsLogged: a node on PostgreSQL logs at start, as a
// warning, what the store advises changing in the server's settings.
func TestDatabaseAdviceIsLogged(t *testing.T) {
	ctx := context.Background()
	dbURL := testenv.PostgresSchema(t)
	st, err := postgres.Open(ctx, dbURL)
	fatalIf(t, err)
	advice, err := st.Advice(ctx)
	st.Close()
	fatalIf(t, err)
	cfg := config.Default()
	cfg.DataDir, cfg.RootKey, cfg.Addr, cfg.Database = t.TempDir(), vault.GenerateRootKey(), "127.0.0.1:0", dbURL
	fatalIf(t, cfg.Resolve())
	var logged bytes.Buffer
	srv, err := server.Open(ctx, cfg, slog.New(slog.NewTextHandler(&logged, &slog.HandlerOptions{Level: slog.LevelWarn})))
	fatalIf(t, err)
	srv.Shutdown(ctx)
	for _, a := range advice {
		if !strings.Contains(logged.String(), "level=WARN msg=\"database: "+a+"\"") {
			t.Errorf("the node did not log %q; it logged:\n%s", a, logged.String())
		}
	}
	if len(advice) == 0 && strings.Contains(logged.String(), "database: ") {
		t.Errorf("the node logged advice the store did not give:\n%s", logged.String())
	}
}
