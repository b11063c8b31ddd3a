package bench

import (
	"bufio"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

// TestEventEncoding: the hand-built JSON decodes to the event encoding/json
// would have written, so the bench posts what a bank using the SDK would.
func TestEventEncoding(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123000000, time.UTC)
	m := bankapi.Merchant{Name: `Café "Zero" \\ Ünïcode`, MCC: "5814", Category: "Fast Food Restaurants", City: "Oakland", Country: "US"}
	got := appendEventJSON(nil, "b42", "lnk_abcdefghijklmnopqrstuvwxyz", at, "12.34", &m)
	want := bankapi.Event{ID: "b42", LinkID: "lnk_abcdefghijklmnopqrstuvwxyz", Type: bankapi.TypeTransactionPosted, OccurredAt: at,
		Data: bankapi.TransactionPosted{AccountID: "acc_chk", TransactionID: "b42", Status: "posted", Direction: "debit",
			Amount: bankapi.Money{Amount: "12.34", Currency: "USD"}, Merchant: &m, CardLast4: "4821"}}
	wantJSON, _ := json.Marshal(want)
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	json.Unmarshal(wantJSON, &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("hand-built:\n%s\nencoding/json:\n%s", got, wantJSON)
	}
}

// TestNodeEnv: a node bench starts is configured by its flags alone; the
// bench's own OPENTELLER_ settings do not reach it.
func TestNodeEnv(t *testing.T) {
	got := nodeEnv([]string{"PATH=/bin", "OPENTELLER_DATABASE=postgres://x", "OPENTELLER_NATS=nats://y", "HOME=/h", "OPENTELLER_ROOT_KEY=old"}, "scratch")
	want := []string{"PATH=/bin", "HOME=/h", "OPENTELLER_ROOT_KEY=scratch"}
	if !slices.Equal(got, want) {
		t.Fatalf("node environment %q, want %q", got, want)
	}
}

// TestCounters: the series are read from Prometheus's text format as a
// node writes it, labelled series and comments passed over, and a phase's
// counters are the differences.
func TestCounters(t *testing.T) {
	read := func(text string) map[string]float64 {
		t.Helper()
		m, err := parseSeries(bufio.NewScanner(strings.NewReader(text)), seriesAcquires, seriesWaits, seriesWaited, seriesGCs)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	before := read(`# HELP go_gc_duration_seconds A summary of the wall-time pause (stop-the-world) duration in garbage collection cycles.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile="0"} 2.1e-05
go_gc_duration_seconds_sum 0.0123
go_gc_duration_seconds_count 40
# TYPE openteller_db_acquire_wait_seconds_total counter
openteller_db_acquire_wait_seconds_total 1.5
openteller_db_acquire_waits_total 100
openteller_db_acquires_total 1000
openteller_db_connections{state="idle"} 7
openteller_db_acquires_total_other 5
`)
	after := read(`go_gc_duration_seconds_count 52
openteller_db_acquire_wait_seconds_total 3.5 1733400000000
openteller_db_acquire_waits_total 600
openteller_db_acquires_total 6000
`)
	want := Counters{DBAcquires: 5000, DBAcquireWaits: 500, DBAcquireWaitMsMean: 4, GCCycles: 12}
	if got := countersBetween(before, after); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
	// A node on SQLite has no pool: only the collections.
	if got := countersBetween(read("go_gc_duration_seconds_count 3\n"), read("go_gc_duration_seconds_count 5\n")); got != (Counters{GCCycles: 2}) {
		t.Errorf("SQLite counters %+v", got)
	}
	if _, err := parseSeries(bufio.NewScanner(strings.NewReader("openteller_db_acquires_total many\n")), seriesAcquires); err == nil {
		t.Error("a value that is not a number was read")
	}
}
