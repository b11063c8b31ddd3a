// Package delivery carries a customer's conversations to their open devices
// over WebSockets, live, and to the customer's own hands: history pages
// (history.go) and the export (export.go).
//
// Each device says where it is ("resume" with the last seq it has per
// conversation); delivery sends everything after that from the store, in seq
// order, then keeps the device current from what the bus brings: the new
// events themselves, sealed, from whichever node committed them. A device
// that has everything before them gets them straight from memory; one that
// is behind, or hears of a seq without its events, reads the store, which
// stays the source of truth. A sweep compares the store's heads with what
// the hub heard, so a lost wake-up delays an event but never loses it.
// Delivery is at least once; the client shows each seq once.
//
// A device costs one goroutine while idle, with the smallest stack: it
// waits for the device to send something (a ping, a close) and only then
// hands the socket to the WebSocket library's reader, whose deeper stack it
// keeps from then on (watch; where a connection is not a plain socket, the
// library reads from the start). What is to be
// sent waits in the device's inbox, and a goroutine lives only while there
// is something to send, writing several events in one frame when the
// device is behind.
//
// What must stay true: a device receives only its own customer's
// conversations; payloads are opened only here, on the way to that
// customer's device, and are never logged. Lock order: Hub.mu, then
// device.mu; neither is held while writing to a socket or reading the
// store.
package delivery

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/coder/websocket"
	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// storeRoles is what delivery needs of the store: the customers'
// conversations and their events, and which sessions are live.
type storeRoles interface {
	store.Conversations
}

// Close codes sent to devices.
const (
	CloseSignedOut = 4401 // the session is gone: sign in again
)

// errSignedOut ends a device whose session has ended.
var errSignedOut = errors.New("delivery: signed out")

const (
	backlogOnFirstSight = 100              // events sent for a conversation the device has never seen
	pageSize            = 200              // events read from the store at a time
	writeTimeout        = 10 * time.Second // a device that cannot take a frame this fast is dropped
	resumeTimeout       = 15 * time.Second
	// SweepEvery is how often the hub compares the store's conversation
	// heads and sessions with what it heard: the backstop for lost
	// wake-ups and for sessions that expired.
	SweepEvery = 10 * time.Second
	sweepChunk = 500 // customers asked about per store query
)

// Feed is where the hub hears of its customers' conversations: package
// bus, or a test's stand-in around it.
type Feed interface {
	// Follow calls fn for the customer's wake-ups until stop; once it
	// returns, no wake-up published after it is missed.
	Follow(customerID string, fn func(bus.Wake)) (stop func(), err error)
}

// Hub tracks the devices connected to this node, per customer.
type Hub struct {
	store   storeRoles
	keyring *vault.Keyring
	feed    Feed
	log     *slog.Logger
	now     func() time.Time
	// customerOf names the signed-in customer of a request, and sessionOf
	// its session (id hash).
	customerOf func(*http.Request) (string, bool)
	sessionOf  func(*http.Request) []byte
	sweepEvery time.Duration

	// ctx is the hub's life: the sweeper runs, and devices read the
	// store, until it ends. A device's reads have a child of it only while
	// the device sends (device.readCtx): a context kept for the socket's
	// life would keep, after its first query, the map that had held its
	// children, 300 bytes of every idle device.
	ctx      context.Context
	cancel   context.CancelFunc
	sweepNow chan struct{}
	swept    chan struct{} // closed when the sweeper has stopped

	mu        sync.Mutex
	customers map[string]*customerDevices
}

type customerDevices struct {
	stop    func()
	devices []*device // copied on change, so wake-ups read it unlocked
	// heads is the newest seq heard of per conversation, from the bus or
	// the store: the sweep wakes devices only where the store is ahead.
	heads seqs
}

// Config configures NewHub.
type Config struct {
	Store      storeRoles
	Keyring    *vault.Keyring
	Feed       Feed
	Logger     *slog.Logger
	Now        func() time.Time
	CustomerOf func(*http.Request) (string, bool)
	// SessionOf names the request's session (its id hash), so that a
	// device is signed out when its session ends; optional.
	SessionOf func(*http.Request) []byte
	// SweepEvery overrides SweepEvery (tests).
	SweepEvery time.Duration
}

// NewHub returns a Hub; Close ends it.
func NewHub(c Config) *Hub {
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.SessionOf == nil {
		c.SessionOf = func(*http.Request) []byte { return nil }
	}
	if c.SweepEvery <= 0 {
		c.SweepEvery = SweepEvery
	}
	h := &Hub{store: c.Store, keyring: c.Keyring, feed: c.Feed, log: c.Logger, now: c.Now, customerOf: c.CustomerOf, sessionOf: c.SessionOf,
		sweepEvery: c.SweepEvery, sweepNow: make(chan struct{}, 1), swept: make(chan struct{}), customers: map[string]*customerDevices{}}
	h.ctx, h.cancel = context.WithCancel(context.Background())
	go h.sweeper()
	return h
}

// WakeAll makes the hub compare every device's conversations with the
// store now, as after the bus reconnects.
func (h *Hub) WakeAll() {
	select {
	case h.sweepNow <- struct{}{}:
	default:
	}
}

// Devices returns how many devices are connected to this node.
func (h *Hub) Devices() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	n := 0
	for _, cd := range h.customers {
		n += len(cd.devices)
	}
	return n
}

// Close tells every device the node is going away (they reconnect to
// another), and stops the hub.
func (h *Hub) Close() {
	h.mu.Lock()
	var all []*device
	for _, cd := range h.customers {
		all = append(all, cd.devices...)
	}
	h.mu.Unlock()
	var wg sync.WaitGroup
	sem := make(chan struct{}, 64)
	for _, d := range all {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			d.conn.Close(websocket.StatusGoingAway, "this node is stopping")
		})
	}
	wg.Wait()
	h.cancel()
	<-h.swept
}

// register adds d and follows its customer on the feed; once it returns, no
// later wake-up of the customer is missed. Following waits for NATS, so it
// happens outside h.mu, which every wake-up of every customer takes.
func (h *Hub) register(d *device) error {
	if h.join(d) {
		return nil
	}
	customerID := d.customerID
	stop, err := h.feed.Follow(customerID, func(w bus.Wake) { h.wake(customerID, w) })
	if err != nil {
		return err
	}
	h.mu.Lock()
	if cd := h.customers[customerID]; cd != nil {
		// Another device of the customer followed meanwhile: join it.
		cd.devices = append(append([]*device(nil), cd.devices...), d)
		h.mu.Unlock()
		stop()
		return nil
	}
	h.customers[customerID] = &customerDevices{stop: stop, devices: []*device{d}}
	h.mu.Unlock()
	return nil
}

// join adds d to its customer's devices if the hub follows the customer
// already (its subscription was in place before it was listed).
func (h *Hub) join(d *device) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	cd := h.customers[d.customerID]
	if cd == nil {
		return false
	}
	cd.devices = append(append([]*device(nil), cd.devices...), d)
	return true
}

func (h *Hub) unregister(d *device) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cd := h.customers[d.customerID]
	if cd == nil {
		return
	}
	devices := make([]*device, 0, len(cd.devices))
	for _, o := range cd.devices {
		if o != d {
			devices = append(devices, o)
		}
	}
	if len(devices) > 0 {
		cd.devices = devices
		return
	}
	cd.stop()
	delete(h.customers, d.customerID)
}

// wake passes a wake-up on to the customer's devices. It never blocks: it
// runs on the publisher's goroutine for this node's own wake-ups.
func (h *Hub) wake(customerID string, w bus.Wake) {
	h.mu.Lock()
	cd := h.customers[customerID]
	if cd == nil {
		h.mu.Unlock()
		return
	}
	if heard, _ := cd.heads.get(w.ConversationID); w.ConversationID != "" && w.Typing == "" && w.Seq > heard {
		cd.heads.set(w.ConversationID, w.Seq)
	}
	devices := cd.devices
	h.mu.Unlock()
	var b *batch
	if len(w.Events) > 0 && w.Typing == "" {
		if w.Events[0].CustomerID == customerID {
			b = &batch{events: w.Events}
		} else {
			// Events of someone else's conversation never reach a device:
			// the devices read the store, which answers by owner.
			h.log.Warn("delivery: wake-up carried another customer's events", "conversation", w.ConversationID)
		}
	}
	for _, d := range devices {
		switch {
		case w.SessionsEnded:
			if hex.EncodeToString(d.session) != w.Keep {
				d.signOut()
			}
		case len(w.Ended) > 0:
			if d.session != nil && slices.Contains(w.Ended, hex.EncodeToString(d.session)) {
				d.signOut()
			}
		case w.Typing != "":
			d.push(item{kind: itemTyping, conv: w.ConversationID, who: w.Typing})
		case w.ConversationID == "":
			d.push(item{kind: itemSyncAll})
		default:
			d.push(item{kind: itemMoved, conv: w.ConversationID, seq: w.Seq, batch: b})
		}
	}
}

// reapEvery is how often the hub forgets devices whose sockets ended.
const reapEvery = time.Second

// sweeper reaps every reapEvery, and sweeps every sweepEvery and when
// asked to.
func (h *Hub) sweeper() {
	defer close(h.swept)
	reap := time.NewTicker(min(reapEvery, h.sweepEvery))
	defer reap.Stop()
	next := time.Now().Add(h.sweepEvery)
	for {
		select {
		case <-h.ctx.Done():
			return
		case <-reap.C:
			h.reap()
			if time.Now().Before(next) {
				continue
			}
		case <-h.sweepNow:
		}
		next = time.Now().Add(h.sweepEvery)
		if err := h.sweep(h.ctx); err != nil && h.ctx.Err() == nil {
			h.log.Warn("delivery: sweep", "err", err)
		}
	}
}

// reap forgets the devices whose sockets have ended: a failed write ends a
// device at once, and an idle one's watcher marks it ended, found here.
func (h *Hub) reap() {
	h.mu.Lock()
	var gone []*device
	for _, cd := range h.customers {
		for _, d := range cd.devices {
			if d.ended.Load() {
				gone = append(gone, d)
			}
		}
	}
	h.mu.Unlock()
	for _, d := range gone {
		d.mu.Lock()
		d.gone = true
		d.mu.Unlock()
		h.unregister(d)
	}
}

// sweep asks the store, a chunk of customers at a time, for the heads of
// their conversations and whether their devices' sessions live, and wakes
// the devices that missed something: a conversation ahead of what the hub
// heard, a conversation new to it, a session that ended.
func (h *Hub) sweep(ctx context.Context) error {
	h.mu.Lock()
	ids := make([]string, 0, len(h.customers))
	for id := range h.customers {
		ids = append(ids, id)
	}
	h.mu.Unlock()
	for len(ids) > 0 {
		chunk := ids[:min(sweepChunk, len(ids))]
		ids = ids[len(chunk):]
		heads, err := h.store.ConversationHeads(ctx, chunk)
		if err != nil {
			return err
		}
		var sessions [][]byte
		h.mu.Lock()
		for _, id := range chunk {
			if cd := h.customers[id]; cd != nil {
				for _, d := range cd.devices {
					if d.session != nil {
						sessions = append(sessions, d.session)
					}
				}
			}
		}
		h.mu.Unlock()
		live, err := h.store.LiveSessions(ctx, sessions, h.now())
		if err != nil {
			return err
		}
		type behind struct {
			devices []*device
			conv    string
			seq     int64
		}
		var missed []behind
		var ended []*device
		h.mu.Lock()
		for _, head := range heads {
			cd := h.customers[head.CustomerID]
			if cd == nil {
				continue
			}
			if heard, ok := cd.heads.get(head.ConversationID); !ok || head.LastSeq > heard {
				cd.heads.set(head.ConversationID, head.LastSeq)
				missed = append(missed, behind{cd.devices, head.ConversationID, head.LastSeq})
			}
		}
		for _, id := range chunk {
			if cd := h.customers[id]; cd != nil {
				for _, d := range cd.devices {
					if d.session != nil && !live[string(d.session)] {
						ended = append(ended, d)
					}
				}
			}
		}
		h.mu.Unlock()
		for _, m := range missed {
			for _, d := range m.devices {
				d.push(item{kind: itemMoved, conv: m.conv, seq: m.seq})
			}
		}
		for _, d := range ended {
			d.signOut()
		}
	}
	return nil
}
