package delivery_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/delivery"
)

// chaos stands between the bus and the hub and loses, repeats and reorders
// wake-ups at random, as a real network and a fleet of nodes can.
type chaos struct {
	bus                          *bus.Bus
	drop, dup, delay             float64
	deaf                         atomic.Bool         // drop everything
	lose                         func(bus.Wake) bool // drop these
	mu                           sync.Mutex
	rng                          *rand.Rand
	dropped, repeated, reordered atomic.Int64
}

func (c *chaos) Follow(customerID string, fn func(bus.Wake)) (func(), error) {
	return c.bus.Follow(customerID, func(w bus.Wake) {
		c.mu.Lock()
		lose, twice, late, after := c.rng.Float64() < c.drop, c.rng.Float64() < c.dup, c.rng.Float64() < c.delay, time.Duration(c.rng.IntN(30))*time.Millisecond
		c.mu.Unlock()
		if lose || c.deaf.Load() || (c.lose != nil && c.lose(w)) {
			c.dropped.Add(1)
			return
		}
		n := 1
		if twice {
			n = 2
			c.repeated.Add(1)
		}
		for range n {
			if late {
				c.reordered.Add(1)
				time.AfterFunc(after, func() { fn(w) })
			} else {
				fn(w)
			}
		}
	})
}

// collect reads a device's events in the background and fails the test
// the moment a seq arrives out of turn: every one once, in order.
func collect(t *testing.T, c *sock, conv string) *atomic.Int64 {
	var last atomic.Int64
	go func() {
		for {
			f, err := tryRead(c)
			if err != nil {
				return
			}
			if f.Type != "event" || f.ConversationID != conv {
				continue
			}
			if f.Event.Seq != last.Load()+1 {
				t.Errorf("device got seq %d after %d: each seq must come once, in order", f.Event.Seq, last.Load())
				return
			}
			last.Store(f.Event.Seq)
		}
	}()
	return &last
}

// TestChaoticBusLosesNothing: with wake-ups dropped, repeated and
// reordered at random, every device still gets every event of its
// customer exactly once and in order: from memory when it can, from the
// store when it sees a gap, and from the sweep when the last wake-up of a
// burst was lost.
func TestChaoticBusLosesNothing(t *testing.T) {
	c := &chaos{drop: 0.25, dup: 0.2, delay: 0.3, rng: rand.New(rand.NewPCG(1, 2))}
	r := newRigWith(t, func(b *bus.Bus) delivery.Feed { c.bus = b; return c }, 200*time.Millisecond)
	type cust struct {
		link, conv string
		devices    []*atomic.Int64
		posted     int64
	}
	var custs []*cust
	for n := range 3 {
		id, link, conv := r.customer(t, n+1)
		cu := &cust{link: link, conv: conv}
		for range 2 {
			d := r.dial(t, id, nil)
			if f := read(t, d); f.Type != "caught_up" {
				t.Fatalf("first frame %+v", f)
			}
			cu.devices = append(cu.devices, collect(t, d, conv))
		}
		custs = append(custs, cu)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range 80 {
		cu := custs[rng.IntN(len(custs))]
		var ids []string
		for j := range 1 + rng.IntN(3) {
			ids = append(ids, fmt.Sprintf("c%d-%d", i, j))
		}
		r.post(t, cu.link, ids...)
		cu.posted += int64(len(ids))
		if rng.IntN(4) == 0 {
			time.Sleep(time.Duration(rng.IntN(10)) * time.Millisecond)
		}
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, cu := range custs {
		for i, d := range cu.devices {
			for d.Load() < cu.posted && time.Now().Before(deadline) && !t.Failed() {
				time.Sleep(20 * time.Millisecond)
			}
			if d.Load() != cu.posted {
				t.Fatalf("%s device %d reached seq %d of %d", cu.conv, i, d.Load(), cu.posted)
			}
		}
	}
	if c.dropped.Load() == 0 || c.repeated.Load() == 0 || c.reordered.Load() == 0 {
		t.Fatalf("the bus was not chaotic enough to test anything: dropped %d, repeated %d, reordered %d", c.dropped.Load(), c.repeated.Load(), c.reordered.Load())
	}
	t.Logf("dropped %d, repeated %d, reordered %d wake-ups", c.dropped.Load(), c.repeated.Load(), c.reordered.Load())
}

// TestBehindDeviceCatchesUpFromStore: a device that missed several
// wake-ups learns of the gap from the next one and reads what it missed
// from the store, in one frame with what followed. The sweep is an hour
// away here, so nothing else could have told it.
func TestBehindDeviceCatchesUpFromStore(t *testing.T) {
	// The wake-ups of seqs 2 to 6 are lost.
	c := &chaos{rng: rand.New(rand.NewPCG(1, 2)), lose: func(w bus.Wake) bool { return w.Seq >= 2 && w.Seq <= 6 }}
	r := newRigWith(t, func(b *bus.Bus) delivery.Feed { c.bus = b; return c }, time.Hour)
	id, link, _ := r.customer(t, 1)
	d := r.dial(t, id, nil)
	read(t, d) // caught_up
	r.post(t, link, "m1")
	if f := readEvents(t, d, 1)[0]; f.Event.Seq != 1 {
		t.Fatalf("first event %+v", f)
	}
	framesBefore := d.frames
	r.post(t, link, "m2", "m3")
	r.post(t, link, "m4", "m5")
	r.post(t, link, "m6")
	r.post(t, link, "m7")
	got := readEvents(t, d, 6)
	for i, f := range got {
		if f.Event.Seq != int64(i+2) {
			t.Fatalf("event %d has seq %d, want %d", i, f.Event.Seq, i+2)
		}
	}
	if n := d.frames - framesBefore; n != 1 {
		t.Fatalf("the missed events and the next came in %d frames, want 1", n)
	}
}

// TestSweepFindsALostLastWake: when the last wake-up of a burst is lost,
// no later one reveals the gap; the sweep compares the store's heads with
// what the hub heard and sends what is missing.
func TestSweepFindsALostLastWake(t *testing.T) {
	c := &chaos{rng: rand.New(rand.NewPCG(1, 2))}
	r := newRigWith(t, func(b *bus.Bus) delivery.Feed { c.bus = b; return c }, 100*time.Millisecond)
	id, link, _ := r.customer(t, 1)
	d := r.dial(t, id, nil)
	read(t, d) // caught_up
	c.deaf.Store(true)
	r.post(t, link, "lost")
	if f := readEvents(t, d, 1)[0]; f.Event.Seq != 1 {
		t.Fatalf("got %+v", f)
	}
}

// TestIdleSocketsHoldNoGoroutineOfTheirOwn: once caught up, a device costs
// only the goroutine watching its socket; sending starts one only while
// there is something to send.
func TestIdleSocketsHoldNoGoroutineOfTheirOwn(t *testing.T) {
	r := newRig(t)
	const devices = 40
	var ids []string
	for n := range devices {
		id, _, _ := r.customer(t, n+1)
		ids = append(ids, id)
	}
	settle := func(limit int) int {
		var n int
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if n = runtime.NumGoroutine(); n <= limit {
				break
			}
		}
		return n
	}
	before := settle(0)
	var socks []*sock
	for _, id := range ids {
		d := r.dial(t, id, nil)
		if f := read(t, d); f.Type != "caught_up" {
			t.Fatalf("first frame %+v", f)
		}
		socks = append(socks, d)
	}
	// This process holds both ends; the client's end reads only when the
	// test reads, so every goroutine added is the server's.
	if n := settle(before + devices + 4); n > before+devices+4 {
		t.Fatalf("%d idle devices added %d goroutines; want at most one each (+4)", devices, n-before)
	}
	for _, d := range socks {
		d.CloseNow()
	}
	for deadline := time.Now().Add(5 * time.Second); r.hub.Devices() > 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if r.hub.Devices() != 0 {
		t.Fatalf("hub still counts %d devices", r.hub.Devices())
	}
	if n := settle(before + 4); n > before+4 {
		t.Fatalf("%d goroutines left after the devices went, from %d", n, before)
	}
}

// TestHubCloseSendsDevicesAway: a node that stops tells its devices to
// reconnect (elsewhere), rather than dropping them silently.
func TestHubCloseSendsDevicesAway(t *testing.T) {
	r := newRig(t)
	id, _, _ := r.customer(t, 1)
	d := r.dial(t, id, nil)
	read(t, d) // caught_up
	// The device reads meanwhile, as a real one does, so it answers the
	// close and the node's Close need not wait for the handshake to time out.
	errc := make(chan error, 1)
	go func() {
		_, err := tryRead(d)
		errc <- err
	}()
	r.hub.Close()
	err := <-errc
	if websocket.CloseStatus(err) != websocket.StatusGoingAway {
		t.Fatalf("close status %v (%v), want going away", websocket.CloseStatus(err), err)
	}
}
