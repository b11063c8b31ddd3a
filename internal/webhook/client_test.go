package webhook

import (
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestClientKeepsItsConnections: the client keeps open a connection for
// every request the deliverer may have in flight at once (Send's and
// Run's claims'), so bursts of notices to one bank reuse them instead of
// opening new ones (and, over HTTPS, paying a handshake each) and leaving
// closed ones behind.
func TestClientKeepsItsConnections(t *testing.T) {
	const inFlight = senders + parallel
	var opened atomic.Int64
	arrived := make(chan struct{}, inFlight)
	release := make(chan struct{})
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		arrived <- struct{}{}
		<-release
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			opened.Add(1)
		}
	}
	srv.Start()
	defer srv.Close()

	client := Client(true)
	defer client.CloseIdleConnections()
	const bursts = 3
	for b := range bursts {
		var wg sync.WaitGroup
		errs := make(chan error, inFlight)
		for range inFlight {
			wg.Go(func() {
				resp, err := client.Post(srv.URL, "application/json", nil)
				if err != nil {
					errs <- err
					return
				}
				resp.Body.Close()
			})
		}
		// Every request of the burst is in flight before any is answered.
		for range inFlight {
			select {
			case <-arrived:
			case err := <-errs:
				t.Fatalf("burst %d: %v", b, err)
			case <-time.After(10 * time.Second):
				t.Fatalf("burst %d: the requests never all arrived", b)
			}
		}
		for range inFlight {
			release <- struct{}{}
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatalf("burst %d: %v", b, err)
		}
	}
	if n := opened.Load(); n != inFlight {
		t.Errorf("%d bursts of %d requests opened %d connections, want %d: one each, kept", bursts, inFlight, n, inFlight)
	}
}
