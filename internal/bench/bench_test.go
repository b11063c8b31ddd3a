package bench

import (
	"bufio"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/delivery"
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
		m, err := parseSeries(bufio.NewScanner(strings.NewReader(text)), allSeries...)
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
openteller_store_writer_groups_total 10
openteller_store_writer_writes_total 25
openteller_store_writer_busy_seconds_total 1.25
openteller_store_writer_commit_seconds_bucket{le="0.01"} 9
openteller_store_writer_commit_seconds_bucket{le="0.05"} 10
openteller_store_writer_commit_seconds_sum 0.5
openteller_store_writer_commit_seconds_count 10
process_cpu_seconds_total 10.5
`)
	after := read(`go_gc_duration_seconds_count 52
openteller_db_acquire_wait_seconds_total 3.5 1733400000000
openteller_db_acquire_waits_total 600
openteller_db_acquires_total 6000
openteller_store_writer_groups_total 410
openteller_store_writer_writes_total 1225
openteller_store_writer_busy_seconds_total 4.25
openteller_store_writer_commit_seconds_bucket{le="0.01"} 380
openteller_store_writer_commit_seconds_bucket{le="0.05"} 403
openteller_store_writer_commit_seconds_sum 1.25
openteller_store_writer_commit_seconds_count 410
process_cpu_seconds_total 13.5
`)
	// Over 2 s on two nodes: 3 s busy in 4 node-seconds, and 3 s of CPU
	// in 2 s, a core and a half.
	want := Counters{DBAcquires: 5000, DBAcquireWaits: 500, DBAcquireWaitMsMean: 4, GCCycles: 12,
		WriterGroups: 400, WriterWritesPerGroup: 3, WriterBusyShare: 0.75, WriterCommitShare: 0.1875, WriterSlowCommits: 7, NodeCPUCores: 1.5}
	if got := countersBetween(before, after, 2*time.Second, 2); got != want {
		t.Errorf("counters %+v, want %+v", got, want)
	}
	// A node on SQLite has no pool: only the collections.
	if got := countersBetween(read("go_gc_duration_seconds_count 3\n"), read("go_gc_duration_seconds_count 5\n"), time.Second, 1); got != (Counters{GCCycles: 2}) {
		t.Errorf("SQLite counters %+v", got)
	}
	if _, err := parseSeries(bufio.NewScanner(strings.NewReader("openteller_db_acquires_total many\n")), seriesAcquires); err == nil {
		t.Error("a value that is not a number was read")
	}
}

// TestEventsFrame: the ids the client finds by searching a frame are those
// encoding/json reads from it, and frames it cannot read so are left to
// encoding/json.
func TestEventsFrame(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123000000, time.UTC)
	event := func(seq int64, id string) delivery.Event {
		return delivery.Event{Seq: seq, Type: "transaction.posted", Author: "bank", OccurredAt: at, ReceivedAt: at,
			Data: json.RawMessage(appendEventJSON(nil, id, "lnk_abcdefghijklmnopqrstuvwxyz", at, "1.00", &merchants[0]))}
	}
	frame := func(events ...delivery.Event) []byte {
		// Field by field as the node writes an events frame.
		b, err := json.Marshal(struct {
			Type           string           `json:"type"`
			ConversationID string           `json:"conversation_id"`
			Events         []delivery.Event `json:"events"`
		}{"events", "cnv_1", events})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	// The data posted is the whole event; the node sends its data member.
	data := func(e delivery.Event) delivery.Event {
		var posted struct{ Data json.RawMessage }
		if err := json.Unmarshal(e.Data, &posted); err != nil {
			t.Fatal(err)
		}
		e.Data = posted.Data
		return e
	}
	message := delivery.Event{Seq: 9, Type: "message", Author: "bank", OccurredAt: at, ReceivedAt: at, Data: json.RawMessage(`{"text":"hi"}`)}
	escaped := data(event(10, "b10"))
	escaped.Data = json.RawMessage(strings.Replace(string(escaped.Data), `"transaction_id":"b10"`, `"transaction_id":"b\u0031"`, 1))
	for _, tc := range []struct {
		name  string
		frame []byte
		want  []string // nil: left to encoding/json
	}{
		{"one event", frame(data(event(1, "b1"))), []string{"b1"}},
		{"three events", frame(data(event(1, "b7")), data(event(2, "b8")), data(event(3, "b9"))), []string{"b7", "b8", "b9"}},
		{"an event without a transaction", frame(data(event(1, "b1")), message), nil},
		{"an escaped id", frame(escaped), nil},
		{"caught up", []byte(`{"type":"caught_up"}`), nil},
		{"typing", []byte(`{"conversation_id":"cnv_1","type":"typing","who":"agent"}`), nil},
	} {
		ids, ok := eventsFrame(tc.frame, nil)
		if ok != (tc.want != nil) {
			t.Errorf("%s: read by search %v, want %v\n%s", tc.name, ok, tc.want != nil, tc.frame)
			continue
		}
		if !ok {
			continue
		}
		var decoded struct {
			Events []struct {
				Data struct {
					TransactionID string `json:"transaction_id"`
				} `json:"data"`
			} `json:"events"`
		}
		if err := json.Unmarshal(tc.frame, &decoded); err != nil {
			t.Fatal(err)
		}
		var got, viaJSON []string
		for i, id := range ids {
			got = append(got, string(id))
			viaJSON = append(viaJSON, decoded.Events[i].Data.TransactionID)
		}
		if !slices.Equal(got, tc.want) || !slices.Equal(got, viaJSON) {
			t.Errorf("%s: ids %q, encoding/json %q, want %q", tc.name, got, viaJSON, tc.want)
		}
	}
}
