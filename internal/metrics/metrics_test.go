package metrics

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// scrape returns what the metrics handler serves.
func scrape(t *testing.T, m *Metrics) string {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("scrape: %d", rec.Code)
	}
	b, _ := io.ReadAll(rec.Body)
	return string(b)
}

// TestLabelsStayInTheirVocabularies: a value outside a label's vocabulary
// is counted as "other" (a route as "unmatched", a status as its class),
// so nothing a caller passes in reaches a scrape as text of its own.
func TestLabelsStayInTheirVocabularies(t *testing.T) {
	m := New()
	m.EventCommitted("transaction.posted")
	m.EventCommitted("Coffee at Blue Bottle 4.75")
	m.EventReceived("accepted")
	m.EventReceived("unknown_link")
	m.EventReceived("ada@example.com")
	m.WebhookTried("delivered")
	m.WebhookTried("https://bank.example/hook?token=s3cret")
	m.CountSockets(func() int { return 3 })
	m.Request("POST /v1/events", 200, time.Millisecond)
	m.Request("POST /v1/events", 202, time.Millisecond)
	m.Request("", 404, time.Millisecond)
	m.Request("GET /", 999, time.Millisecond)
	out := scrape(t, m)
	for _, want := range []string{
		`openteller_events_committed_total{type="transaction.posted"} 1`,
		`openteller_events_committed_total{type="other"} 1`,
		`openteller_events_committed_total{type="fraud.alert"} 0`, // known words show before they happen
		`openteller_events_received_total{result="accepted"} 1`,
		`openteller_events_received_total{result="unknown_link"} 1`,
		`openteller_events_received_total{result="other"} 1`,
		`openteller_webhook_deliveries_total{outcome="delivered"} 1`,
		`openteller_webhook_deliveries_total{outcome="other"} 1`,
		`openteller_sockets_open 3`,
		`openteller_http_requests_total{code="2xx",route="POST /v1/events"} 2`,
		`openteller_http_requests_total{code="4xx",route="unmatched"} 1`,
		`openteller_http_requests_total{code="other",route="GET /"} 1`,
		`openteller_http_request_duration_seconds_count{route="POST /v1/events"} 2`,
		"go_goroutines ",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("scrape lacks %s", want)
		}
	}
	for _, leak := range []string{"Blue Bottle", "4.75", "ada@example.com", "bank.example", "s3cret"} {
		if strings.Contains(out, leak) {
			t.Errorf("scrape holds %q, given as a label value", leak)
		}
	}
}

// TestDatabasePool: what the pool says at each scrape, read afresh.
func TestDatabasePool(t *testing.T) {
	m := New()
	pool := DatabasePool{Max: 8, InUse: 3, Idle: 4, Opening: 1, Acquires: 120, Waits: 12, Canceled: 2, Waited: 1500 * time.Millisecond}
	m.WatchDatabasePool(func() DatabasePool { return pool })
	out := scrape(t, m)
	for _, want := range []string{
		`openteller_db_connections{state="in_use"} 3`,
		`openteller_db_connections{state="idle"} 4`,
		`openteller_db_connections{state="opening"} 1`,
		`openteller_db_connections_max 8`,
		`openteller_db_acquires_total 120`,
		`openteller_db_acquire_waits_total 12`,
		`openteller_db_acquire_wait_seconds_total 1.5`,
		`openteller_db_acquire_canceled_total 2`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
	pool.InUse, pool.Waits = 8, 13
	out = scrape(t, m)
	for _, want := range []string{`openteller_db_connections{state="in_use"} 8`, `openteller_db_acquire_waits_total 13`} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("the next scrape lacks %s", want)
		}
	}
}

// TestWriter: what the store's writer counted, read afresh at each scrape.
func TestWriter(t *testing.T) {
	m := New()
	w := Writer{Groups: 40, Writes: 130, Busy: 2500 * time.Millisecond, Commit: 750 * time.Millisecond,
		CommitBounds: []time.Duration{10 * time.Millisecond, 50 * time.Millisecond}, Commits: []int64{35, 38}, CommitsAll: 39}
	m.WatchWriter(func() Writer { return w })
	out := scrape(t, m)
	for _, want := range []string{
		`openteller_store_writer_groups_total 40`,
		`openteller_store_writer_writes_total 130`,
		`openteller_store_writer_busy_seconds_total 2.5`,
		`openteller_store_writer_commit_seconds_sum 0.75`,
		`openteller_store_writer_commit_seconds_count 39`,
		`openteller_store_writer_commit_seconds_bucket{le="0.01"} 35`,
		`openteller_store_writer_commit_seconds_bucket{le="0.05"} 38`,
		`openteller_store_writer_commit_seconds_bucket{le="+Inf"} 39`,
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("scrape lacks %s", want)
		}
	}
	w.Groups, w.Busy = 41, 3*time.Second
	out = scrape(t, m)
	for _, want := range []string{`openteller_store_writer_groups_total 41`, `openteller_store_writer_busy_seconds_total 3`} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("the next scrape lacks %s", want)
		}
	}
}

func TestStatusClass(t *testing.T) {
	for status, want := range map[int]string{101: "1xx", 200: "2xx", 304: "3xx", 404: "4xx", 503: "5xx", 0: "other", 600: "other"} {
		if got := StatusClass(status); got != want {
			t.Errorf("StatusClass(%d) = %q, want %q", status, got, want)
		}
	}
}

// TestEveryRefusalHasALabel reads package ingest's refusals (the
// rejection{code, message} it answers an event with) and fails on a code
// Results lacks: it would be counted, but only as "other".
func TestEveryRefusalHasALabel(t *testing.T) {
	files, err := filepath.Glob("../ingest/*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var codes []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			lit, ok := n.(*ast.CompositeLit)
			if !ok || len(lit.Elts) == 0 {
				return true
			}
			if typ, ok := lit.Type.(*ast.Ident); !ok || typ.Name != "rejection" {
				return true
			}
			code, ok := lit.Elts[0].(*ast.BasicLit)
			if !ok || code.Kind != token.STRING {
				t.Errorf("%s: a rejection whose code is not a literal: the metrics cannot know it", fset.Position(lit.Pos()))
				return true
			}
			c, _ := strconv.Unquote(code.Value)
			codes = append(codes, c)
			if !slices.Contains(Results, c) {
				t.Errorf("%s: ingest refuses with %q, which metrics.Results lacks", fset.Position(lit.Pos()), c)
			}
			return true
		})
	}
	if len(codes) < 5 {
		t.Fatalf("found only %d refusal codes in ../ingest (%v): has the rejection type moved?", len(codes), codes)
	}
}
