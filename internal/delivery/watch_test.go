package delivery_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/delivery"
	"github.com/openteller/openteller/internal/store"
)

// waitDevices waits until the hub counts n devices.
func waitDevices(t *testing.T, r *rig, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); r.hub.Devices() != n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("hub counts %d devices, want %d", r.hub.Devices(), n)
		}
	}
}

// TestIdleDeviceAnswersPings: an idle device's socket is handed to the
// library when a ping arrives; it answers that ping and the next, and the
// device still gets its events.
func TestIdleDeviceAnswersPings(t *testing.T) {
	r := newRig(t)
	id, link, _ := r.customer(t, 1)
	d := r.dial(t, id, nil)
	if f := read(t, d); f.Type != "caught_up" {
		t.Fatalf("first frame %+v", f)
	}
	// The client's reader runs meanwhile: it is what takes the pongs.
	frames := make(chan frame, 10)
	go func() {
		defer close(frames)
		for {
			f, err := tryRead(d)
			if err != nil {
				return
			}
			frames <- f
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(t, d.Ping(ctx))
	r.post(t, link, "evt_1")
	select {
	case f := <-frames:
		if f.Type != "event" || f.Event.Seq != 1 {
			t.Fatalf("after the ping got %+v, want event 1", f)
		}
	case <-ctx.Done():
		t.Fatal("no event after the ping")
	}
	must(t, d.Ping(ctx))
}

// TestIdleDeviceSendingDataIsClosed: after its resume a device sends only
// control frames; a message is a policy violation, and the device is gone.
func TestIdleDeviceSendingDataIsClosed(t *testing.T) {
	r := newRig(t)
	id, _, _ := r.customer(t, 1)
	d := r.dial(t, id, nil)
	read(t, d) // caught_up
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	must(t, d.Write(ctx, websocket.MessageText, []byte(`{"type":"resume"}`)))
	_, err := tryRead(d)
	if websocket.CloseStatus(err) != websocket.StatusPolicyViolation {
		t.Fatalf("close status %v (%v), want policy violation", websocket.CloseStatus(err), err)
	}
	waitDevices(t, r, 0)
}

// TestIdleDeviceCloseIsAnswered: a device that closes gets the closing
// handshake's answer, and the hub forgets it.
func TestIdleDeviceCloseIsAnswered(t *testing.T) {
	r := newRig(t)
	id, _, _ := r.customer(t, 1)
	d := r.dial(t, id, nil)
	read(t, d) // caught_up
	waitDevices(t, r, 1)
	if err := d.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("close: %v (the node did not answer it)", err)
	}
	waitDevices(t, r, 0)
}

// TestPingSentWithTheResume: a ping in the same segment as the resume is
// in the node's read buffer before the device goes idle, not on the
// socket; it is answered all the same.
func TestPingSentWithTheResume(t *testing.T) {
	r := newRig(t)
	id, _, _ := r.customer(t, 1)
	c, err := net.Dial("tcp", r.srv.Listener.Addr().String())
	must(t, err)
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(c, "GET / HTTP/1.1\r\nHost: node\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nX-Test-Customer: %s\r\n\r\n", id)
	br := bufio.NewReader(c)
	res, err := http.ReadResponse(br, nil)
	must(t, err)
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("upgrade: %s", res.Status)
	}
	out := append(clientFrame(0x1, []byte(`{"type":"resume","cursors":{}}`)), clientFrame(0x9, []byte("still there?"))...)
	if _, err := c.Write(out); err != nil {
		t.Fatal(err)
	}
	var caughtUp, pong bool
	for !caughtUp || !pong {
		op, payload, err := serverFrame(br)
		if err != nil {
			t.Fatalf("caught up %v, pong %v: %v", caughtUp, pong, err)
		}
		switch {
		case op == 0xA && string(payload) == "still there?":
			pong = true
		case op == 0x1 && strings.Contains(string(payload), `"caught_up"`):
			caughtUp = true
		default:
			t.Fatalf("unexpected frame %#x %q", op, payload)
		}
	}
}

// raceDetector reports whether the test was built with -race.
func raceDetector() bool {
	bi, _ := debug.ReadBuildInfo()
	for _, s := range bi.Settings {
		if s.Key == "-race" {
			return s.Value == "true"
		}
	}
	return false
}

// clientFrame is a whole, masked frame as a client sends it (a payload
// under 126 bytes).
func clientFrame(op byte, payload []byte) []byte {
	mask := [4]byte{7, 1, 8, 2}
	b := append([]byte{0x80 | op, 0x80 | byte(len(payload))}, mask[:]...)
	for i, c := range payload {
		b = append(b, c^mask[i%4])
	}
	return b
}

// serverFrame reads one unmasked frame.
func serverFrame(br *bufio.Reader) (op byte, payload []byte, err error) {
	var h [2]byte
	if _, err := io.ReadFull(br, h[:]); err != nil {
		return 0, nil, err
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var l [2]byte
		_, err = io.ReadFull(br, l[:])
		n = uint64(binary.BigEndian.Uint16(l[:]))
	case 127:
		var l [8]byte
		_, err = io.ReadFull(br, l[:])
		n = binary.BigEndian.Uint64(l[:])
	}
	if err != nil {
		return 0, nil, err
	}
	payload = make([]byte, n)
	_, err = io.ReadFull(br, payload)
	return h[0] & 0x0f, payload, err
}

// TestIdleSocketsKeepTheSmallestStack: an idle device's one goroutine
// keeps the runtime's smallest stack (2 KiB); the library's reader, blocked
// a dozen calls deep, kept 4 KiB. Measured in a process of its own (stacks
// that earlier tests freed skew the runtime's count), over the devices
// added after a first few, so the runtime's caches are warm.
func TestIdleSocketsKeepTheSmallestStack(t *testing.T) {
	if raceDetector() {
		t.Skip("the race detector doubles every stack's guard, so no goroutine keeps 2 KiB")
	}
	const probe = "OPENTELLER_TEST_STACK_PROBE"
	if os.Getenv(probe) == "" {
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v")
		cmd.Env = append(os.Environ(), probe+"=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !bytes.Contains(out, []byte("of stack a device")) {
			t.Fatalf("the measuring process: %v\n%s", err, out)
		}
		if _, line, ok := bytes.Cut(out, []byte("watch_test.go:")); ok {
			t.Logf("in its own process: %s", bytes.TrimSpace(line[:bytes.IndexByte(line, '\n')+1]))
		}
		return
	}
	r := newRig(t)
	const first, devices = 50, 400
	var ids []string
	for n := range first + devices {
		id, _, _ := r.customer(t, n+1)
		ids = append(ids, id)
	}
	connect := func(ids []string) {
		for _, id := range ids {
			if f := read(t, r.dial(t, id, nil)); f.Type != "caught_up" {
				t.Fatalf("first frame %+v", f)
			}
		}
	}
	// stacks reads the stacks in use once only the idle devices' goroutines
	// are left (the handlers that caught them up have returned).
	stacks := func(limit int) uint64 {
		for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > limit && time.Now().Before(deadline); {
			time.Sleep(20 * time.Millisecond)
		}
		runtime.GC()
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.StackInuse
	}
	before := runtime.NumGoroutine()
	connect(ids[:first])
	s1 := stacks(before + first + 4)
	connect(ids[first:])
	s2 := stacks(before + first + devices + 4)
	per := float64(int64(s2)-int64(s1)) / devices / 1024
	t.Logf("%.2f KiB of stack a device", per)
	if per > 3 {
		t.Fatalf("an idle device holds %.2f KiB of stack; want the smallest, 2 KiB (3 at most, for the runtime's caches)", per)
	}
}

// reads names the store's interface so it can be embedded: embedded by its
// own name, it would hide its method Conversations.
type reads = store.Conversations

// stallingStore holds every EventsAfter until its context ends, as a
// stalled database would, once stall is set; before, it keeps the
// contexts it was given.
type stallingStore struct {
	reads
	stall    atomic.Bool
	stalled  chan struct{}
	released chan error
	mu       sync.Mutex
	seen     []context.Context
}

func (s *stallingStore) EventsAfter(ctx context.Context, conv string, after int64, limit int) ([]store.Event, error) {
	if !s.stall.Load() {
		s.mu.Lock()
		s.seen = append(s.seen, ctx)
		s.mu.Unlock()
		return s.reads.EventsAfter(ctx, conv, after, limit)
	}
	select {
	case s.stalled <- struct{}{}:
	default:
	}
	<-ctx.Done()
	select {
	case s.released <- ctx.Err():
	default:
	}
	return nil, ctx.Err()
}

// TestDeviceGoneStopsItsRead: a store read for a device whose socket ends
// stops, rather than holding its goroutine (and, on PostgreSQL, a
// connection) until the database answers; and the hub forgets the device.
// A device that has caught up keeps no context for its reads.
func TestDeviceGoneStopsItsRead(t *testing.T) {
	st := &stallingStore{stalled: make(chan struct{}, 1), released: make(chan error, 1)}
	r := newRigWith(t, func(b *bus.Bus) delivery.Feed { return b }, 0, func(c store.Conversations) store.Conversations {
		st.reads = c
		return st
	})
	id, link, conv := r.customer(t, 1)
	r.post(t, link, "evt_1", "evt_2")
	caughtUp := r.dial(t, id, map[string]int64{conv: 1})
	if f := readEvents(t, caughtUp, 1)[0]; f.Event.Seq != 2 {
		t.Fatalf("caught up with %+v, want seq 2", f)
	}
	st.mu.Lock()
	seen := st.seen
	st.mu.Unlock()
	if len(seen) == 0 {
		t.Fatal("the catch-up did not read the store")
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if seen[0].Err() != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("a device that caught up still holds a context for its reads")
		}
	}
	st.stall.Store(true)
	d := r.dial(t, id, map[string]int64{conv: 1}) // behind: its catch-up reads the store
	select {
	case <-st.stalled:
	case <-time.After(5 * time.Second):
		t.Fatal("the catch-up did not read the store")
	}
	waitDevices(t, r, 2)
	d.CloseNow()
	select {
	case err := <-st.released:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("the read ended with %v, want canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the read of a device whose socket ended is still waiting")
	}
	waitDevices(t, r, 1)
}
