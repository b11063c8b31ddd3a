package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openteller/openteller/pkg/bankapi"
)

// TestClientsKeepTheirConnections: the bench's bank and devices reuse
// their connections, as a well-behaved bank and a phone do. A device that
// closed its answer's response without reading it closed the connection
// too (half a minute of a fraud run left thousands closed), and a load
// that opens a connection for each request measures the node accepting
// connections and the client opening them, on the same cores.
func TestClientsKeepTheirConnections(t *testing.T) {
	var opened atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		if r.URL.Path == "/v1/events" {
			// As the node answers a batch of 100: longer than the
			// server's buffer, so sent in chunks, and encoding/json's
			// Encoder ends it with a newline after the value.
			var out bankapi.EventResults
			for i := range 100 {
				out.Results = append(out.Results, bankapi.EventResult{ID: fmt.Sprintf("evt_%032d", i), Status: bankapi.ResultAccepted, Seq: int64(i + 1)})
			}
			json.NewEncoder(w).Encode(out)
			return
		}
		w.WriteHeader(http.StatusCreated)
		json.NewEncoder(w).Encode(map[string]int64{"seq": 2})
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	d := &driver{bases: []string{srv.URL}, apiKey: "k", sent: map[string]sentEvent{},
		client: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
	defer d.client.CloseIdleConnections()
	f := &fraudDriver{driver: d, sent: map[string]time.Time{}, answered: map[string]time.Time{}}
	ctx := context.Background()
	const requests = 10
	for range requests {
		if n, err := d.post(ctx, 0, []byte(`{"events":[]}`)); err != nil || n != 100 {
			t.Fatalf("post: %d accepted, %v", n, err)
		}
		f.answer(ctx, customer{convID: "cnv_1", cookie: "s=1", csrf: "c"}, 1, "alert")
		if err := f.failed(); err != nil {
			t.Fatal(err)
		}
	}
	if f.answers.Load() != requests {
		t.Fatalf("%d answers acknowledged, want %d", f.answers.Load(), requests)
	}
	if n := opened.Load(); n != 1 {
		t.Errorf("%d posts and %d answers, one after another, opened %d connections, want 1", requests, requests, n)
	}
}

// TestSocketsSpreadOverSourceAddresses: past perSource sockets, bench
// dials a node on the loopback from 127.0.0.2, 127.0.0.3 and on, so that
// one node can hold more sockets than one source address has ports.
func TestSocketsSpreadOverSourceAddresses(t *testing.T) {
	var mu sync.Mutex
	var from []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		from = append(from, host)
		mu.Unlock()
		c, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		c.CloseNow()
	}))
	defer srv.Close()
	d := &driver{bases: []string{srv.URL}, perSource: 2}
	for range 5 {
		d.customers = append(d.customers, customer{cookie: "s=1"})
	}
	for i := range d.customers {
		conn, err := d.dial(context.Background(), i)
		if err != nil {
			t.Fatalf("socket %d: %v", i, err)
		}
		conn.CloseNow()
	}
	want := []string{"127.0.0.1", "127.0.0.1", "127.0.0.2", "127.0.0.2", "127.0.0.3"}
	if !slices.Equal(from, want) {
		t.Errorf("the sockets came from %v, want %v", from, want)
	}
}
