package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openteller/openteller/pkg/bankapi"
)

// TestNodeKilledUnderLoad: three nodes on one PostgreSQL and one NATS, the
// customers' devices spread over them, a bank posting to all three without
// a pause. One node is killed with SIGKILL: its devices reconnect to the
// others and resume from the last seq they saw, the bank goes on with the
// two left, and every device receives its conversation whole: each seq
// exactly once, in order, up to the store's head, every event any node
// acknowledged among them, at the seq it was acknowledged with (so this is
// also the kill -9 test of the PostgreSQL store: an append acknowledged by
// the node that died is on disk).
func TestNodeKilledUnderLoad(t *testing.T) {
	cl := startFleet(t, 3)
	const devices, victim = 6, 2
	var dead atomic.Bool // the victim has been killed
	alive := func(i int) bool { return i != victim || !dead.Load() }

	type device struct {
		conv, link string
		cust       *customer
		home       int // the node its socket is on

		mu         sync.Mutex
		last       int64            // the last seq received
		acked      map[string]int64 // events the bank was told were accepted, by id, with their seqs
		got        map[int64]string // what arrived: seq → the bank's event id in its text
		reconnects int
	}
	var ds []*device
	for i := range devices {
		c := newCustomer(t, cl.baseA)
		c.signUp(fmt.Sprintf("node-kill-%d-%d@example.com", i, time.Now().UnixNano()), "a node dies and nothing is lost")
		conv := c.link(cl.institutionID, "balances", "transactions")
		ds = append(ds, &device{conv: conv.ID, link: conv.Link.ID, cust: c, home: i % 3, acked: map[string]int64{}, got: map[int64]string{}})
	}

	stop, stopPosting := make(chan struct{}), make(chan struct{})
	var wg, posters sync.WaitGroup
	// A device as the messenger is one: on a dropped socket it reconnects
	// to a node that answers, resuming from the last seq it saw.
	for _, d := range ds {
		wg.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				d.mu.Lock()
				base, cursor := cl.bases[d.home], d.last
				d.mu.Unlock()
				ctx, cancel := context.WithCancel(context.Background())
				go func() {
					select {
					case <-stop:
					case <-ctx.Done():
					}
					cancel()
				}()
				conn, _, dialErr := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/app/ws", &websocket.DialOptions{
					HTTPHeader: http.Header{"Cookie": {d.cust.Cookie()}, "Origin": {base}}})
				var err error
				if dialErr == nil {
					conn.SetReadLimit(4 << 20)
					resume, _ := json.Marshal(map[string]any{"type": "resume", "cursors": map[string]int64{d.conv: cursor}})
					err = nil
					if conn.Write(ctx, websocket.MessageText, resume) == nil {
						err = readAll(ctx, conn, func(conv string, seq int64, text string) error {
							if conv != d.conv {
								return fmt.Errorf("a frame for conversation %s on %s's socket", conv, d.conv)
							}
							d.mu.Lock()
							defer d.mu.Unlock()
							if seq != d.last+1 {
								return fmt.Errorf("%s: seq %d after %d: each seq must come once, in order", d.conv, seq, d.last)
							}
							d.last = seq
							d.got[seq], _ = strings.CutPrefix(text, "load ")
							return nil
						})
					}
					conn.CloseNow()
				}
				cancel()
				if err != nil {
					t.Error(err) // the stream broke its promise; a socket that ends is nil
					return
				}
				// The socket ended: the node died, or the test is over.
				d.mu.Lock()
				if !alive(d.home) {
					d.home = (d.home + 1) % 3
					d.reconnects++
				}
				d.mu.Unlock()
				select {
				case <-stop:
					return
				case <-time.After(50 * time.Millisecond):
				}
			}
		})
	}

	// The bank: two posters taking turns among the nodes that answer.
	var acked, ackedAfterKill atomic.Int64
	var next atomic.Int64
	for p := range 2 {
		posters.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(p), 7))
			for i := 0; ; i++ {
				select {
				case <-stopPosting:
					return
				default:
				}
				node := int(next.Add(1) % 3)
				if !alive(node) {
					continue
				}
				d := ds[rng.IntN(len(ds))]
				var evs []bankapi.Event
				for j := range 1 + rng.IntN(3) {
					id := fmt.Sprintf("kill-%d-%d-%d", p, i, j)
					evs = append(evs, bankapi.Event{ID: id, LinkID: d.link, Type: bankapi.TypeMessage, OccurredAt: time.Now().UTC(), Data: bankapi.Message{Text: "load " + id}})
				}
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				// One try: a bank whose node stopped answering posts to another.
				res, err := bankapi.NewClient(cl.bases[node], cl.apiKey, bankapi.WithMaxAttempts(1)).PostEvents(ctx, evs)
				cancel()
				if err != nil {
					continue // the node died under the post: nothing was acknowledged
				}
				d.mu.Lock()
				for _, r := range res {
					if r.Status == bankapi.ResultAccepted {
						d.acked[r.ID] = r.Seq
						acked.Add(1)
						if dead.Load() {
							ackedAfterKill.Add(1)
						}
					}
				}
				d.mu.Unlock()
			}
		})
	}

	time.Sleep(2 * time.Second)
	cl.nodes[victim].kill()
	dead.Store(true)
	time.Sleep(3 * time.Second)
	// The bank stops; the devices must get everything there is.
	close(stopPosting)
	posters.Wait()
	heads := map[string]int64{}
	deadline := time.Now().Add(30 * time.Second)
	for _, d := range ds {
		for {
			d.mu.Lock()
			last, home := d.last, d.home
			d.mu.Unlock()
			var head int64
			if convs, err := d.cust.on(cl.bases[(victim+1)%3]).Conversations(ctxT(t)); err == nil {
				for _, cv := range convs {
					if cv.ID == d.conv {
						head = cv.LastSeq
					}
				}
			}
			if head > 0 && last == head {
				heads[d.conv] = head
				break
			}
			if time.Now().After(deadline) {
				close(stop)
				wg.Wait()
				t.Fatalf("%s (on node %d) reached seq %d; the store's head is %d", d.conv, home, last, head)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	close(stop)
	wg.Wait()

	reconnected := 0
	for _, d := range ds {
		// Every acknowledged event is where the bank was told, some of
		// them acknowledged by the node that was killed a moment later.
		for id, seq := range d.acked {
			if d.got[seq] != id {
				t.Fatalf("%s: %s was acknowledged at seq %d, which holds %q (head %d)", d.conv, id, seq, d.got[seq], heads[d.conv])
			}
		}
		reconnected += d.reconnects
	}
	if reconnected < devices/3 {
		t.Fatalf("%d reconnections; the victim's %d devices should each have moved", reconnected, devices/3)
	}
	if acked.Load() == 0 || ackedAfterKill.Load() == 0 {
		t.Fatalf("acknowledged %d events, %d after the kill: the load did not run", acked.Load(), ackedAfterKill.Load())
	}
	t.Logf("%d events acknowledged (%d after the kill), %d reconnections", acked.Load(), ackedAfterKill.Load(), reconnected)
}

// readAll reads a live socket until it ends (nil), passing each event's
// conversation, seq and text (a message's) to got; an error from got, or a
// frame that is not JSON, ends it with that error.
func readAll(ctx context.Context, conn *websocket.Conn, got func(conv string, seq int64, text string) error) error {
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return nil
		}
		var f struct {
			Type           string `json:"type"`
			ConversationID string `json:"conversation_id"`
			Events         []struct {
				Seq  int64 `json:"seq"`
				Data struct {
					Text string `json:"text"`
				} `json:"data"`
			} `json:"events"`
		}
		if err := json.Unmarshal(data, &f); err != nil {
			return fmt.Errorf("a frame that is not JSON: %s", data)
		}
		if f.Type != "events" {
			continue
		}
		for _, e := range f.Events {
			if err := got(f.ConversationID, e.Seq, e.Data.Text); err != nil {
				return err
			}
		}
	}
}
