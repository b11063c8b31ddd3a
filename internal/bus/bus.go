// Package bus tells the nodes serving a customer what just happened in the
// customer's conversations: "conversation V reached seq N", and, from the
// node that committed them, the new events themselves, still sealed under
// the customer's key exactly as the store holds them. A node that holds the
// customer's devices sends them on from memory; one that sees a gap, or
// hears nothing, reads the store, which stays the only source of truth.
// What the bus carries is never plaintext, and losing any of it costs
// latency, never data.
//
// Wake-ups for customers whose devices are on this node go to them in
// process, at once; the same wake-up goes over NATS to every other node
// that follows the customer (a subject per customer, so a node hears only
// of customers it serves). By default NATS is a server embedded in the
// process: no listener, an in-process connection, no signal handlers of its
// own, its JetStream store under the data directory. No other node can reach
// an embedded server, so a node that embeds one is alone: its customers'
// wake-ups stay in process, with no subject, subscription or message per
// customer in NATS. With a URL it connects to an external NATS cluster
// instead, which is how several nodes share wake-ups.
package bus

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
	"github.com/openteller/openteller/internal/store"
)

// Wake says a conversation has events up to Seq.
type Wake struct {
	// ConversationID is the conversation that moved. Empty means anything
	// of the customer's may have moved (wake-ups were lost): catch up from
	// the store.
	ConversationID string
	Seq            int64
	// Events, when set, are the conversation's new events, sealed, in seq
	// order, the last at Seq: a receiver whose device has everything before
	// the first needs nothing from the store.
	Events []store.Event
	// Typing, when set, is not a new event but who is typing in the
	// conversation (an agent's name): passed on to devices, never stored.
	Typing string
	// SessionsEnded, when set, says that every session of the customer but
	// Keep (a session id hash, in hex) has ended, as after a change of
	// password: devices on the others are signed out.
	SessionsEnded bool
	Keep          string
	// Ended, when set, names sessions of the customer (id hashes, in hex)
	// that have ended, as when the passkey that signed them in was
	// removed: devices on them are signed out, and the others hear
	// nothing. A node that predates it reads such a wake-up as unreadable
	// and catches up; its sweep signs those devices out.
	Ended []string
}

// maxPayload bounds a wake-up on the wire; a bigger one travels without its
// events, and its receivers read them from the store.
const maxPayload = 256 << 10

// Bus is this node's link to the others: two NATS connections, and the
// embedded server when there is one.
type Bus struct {
	nc       *nats.Conn // typing, destroyed keys
	feed     *nats.Conn // customers' subjects; never hears its own messages
	embedded *server.Server
	log      *slog.Logger
	// reconnected, if set, is called after the feed's connection comes back:
	// wake-ups may have been missed, so followers should catch up.
	reconnected func()

	msgs      chan *nats.Msg // every followed customer's messages from other nodes
	closed    chan struct{}
	done      chan struct{}
	closeOnce sync.Once

	mu      sync.Mutex
	follows map[string]*follow // customer → this node's subscribers
}

// follow is this node's interest in one customer: the NATS subscription
// (none when the node is alone) and the local subscribers, copied on change
// so delivery reads it unlocked.
type follow struct {
	sub  *nats.Subscription
	subs []*Subscription
}

// Options configure Open.
type Options struct {
	URL     string // external NATS; empty embeds a server
	DataDir string // where the embedded server keeps its store
	Name    string // connection name, shown by NATS monitoring
	Logger  *slog.Logger
	// OnReconnect is called after a lost connection is restored.
	OnReconnect func()
}

// Open connects to NATS, starting the embedded server if no URL is given.
func Open(o Options) (*Bus, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	b := &Bus{log: o.Logger, reconnected: o.OnReconnect, msgs: make(chan *nats.Msg, 8192),
		closed: make(chan struct{}), done: make(chan struct{}), follows: map[string]*follow{}}
	var inProcess nats.Option
	if o.URL == "" {
		ns, err := server.NewServer(&server.Options{
			ServerName: "openteller-embedded",
			DontListen: true,
			NoSigs:     true,
			JetStream:  true,
			StoreDir:   filepath.Join(o.DataDir, "nats"),
			NoLog:      true,
		})
		if err != nil {
			return nil, fmt.Errorf("bus: embedded server: %w", err)
		}
		ns.Start()
		if !ns.ReadyForConnections(10 * time.Second) {
			ns.Shutdown()
			return nil, errors.New("bus: embedded server did not start")
		}
		b.embedded = ns
		inProcess = nats.InProcessServer(ns)
	}
	connect := func(name string, extra ...nats.Option) (*nats.Conn, error) {
		opts := []nats.Option{
			nats.Name(name),
			nats.MaxReconnects(-1),
			nats.ReconnectWait(250 * time.Millisecond),
			nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
				if err != nil {
					b.log.Warn("bus disconnected", "conn", name, "err", err)
				}
			}),
		}
		if inProcess != nil {
			opts = append(opts, inProcess)
		}
		nc, err := nats.Connect(o.URL, append(opts, extra...)...)
		if err != nil {
			return nil, fmt.Errorf("bus: connect %s: %w", o.URL, err)
		}
		return nc, nil
	}
	var err error
	if b.nc, err = connect(o.Name); err != nil {
		b.stopEmbedded()
		return nil, err
	}
	b.feed, err = connect(o.Name+" feed",
		// This node's own wake-ups reach its devices in process.
		nats.NoEcho(),
		nats.ReconnectHandler(func(*nats.Conn) {
			b.log.Info("bus reconnected")
			if b.reconnected != nil {
				b.reconnected()
			}
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			// Messages were dropped for want of room: whoever follows
			// that customer catches up from the store.
			if sub != nil && errors.Is(err, nats.ErrSlowConsumer) {
				if customerID, ok := strings.CutPrefix(sub.Subject, customerPrefix); ok {
					b.deliver(customerID, Wake{})
				}
			}
		}))
	if err != nil {
		b.nc.Close()
		b.stopEmbedded()
		return nil, err
	}
	go b.receive()
	return b, nil
}

// Embedded reports whether the bus runs its own server.
func (b *Bus) Embedded() bool { return b.embedded != nil }

// alone reports whether no other node can hear this one: its server is
// embedded and listens nowhere.
func (b *Bus) alone() bool { return b.embedded != nil }

const customerPrefix = "ot.c."

func customerSubject(customerID string) string { return customerPrefix + customerID }

// WakeCustomer tells this node's subscribers to the customer at once, and
// every other node serving the customer through NATS. It does not wait for
// anyone: a lost wake-up costs latency, not data.
func (b *Bus) WakeCustomer(customerID string, w Wake) error {
	b.deliver(customerID, w)
	if b.alone() {
		return nil
	}
	data := encode(w)
	if len(data) > maxPayload {
		w.Events = nil
		data = encode(w)
	}
	return b.feed.Publish(customerSubject(customerID), data)
}

// deliver calls this node's subscribers to the customer.
func (b *Bus) deliver(customerID string, w Wake) {
	b.mu.Lock()
	f := b.follows[customerID]
	var subs []*Subscription
	if f != nil {
		subs = f.subs
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.fn(w)
	}
}

// receive delivers other nodes' wake-ups, one at a time, in the order NATS
// delivered them.
func (b *Bus) receive() {
	defer close(b.done)
	for {
		select {
		case <-b.closed:
			return
		case m := <-b.msgs:
			customerID, ok := strings.CutPrefix(m.Subject, customerPrefix)
			if !ok {
				continue
			}
			w, err := decode(m.Data)
			if err != nil {
				// Not ours to read; the store still has whatever it was about.
				b.log.Warn("bus: unreadable wake-up", "customer", customerID, "err", err)
				w = Wake{}
			}
			b.deliver(customerID, w)
		}
	}
}

// Subscription is a live interest in a customer's wake-ups.
type Subscription struct {
	b          *Bus
	customerID string
	fn         func(Wake)
}

// Unsubscribe ends it; the last subscriber to a customer ends the node's
// interest in NATS.
func (s *Subscription) Unsubscribe() {
	b := s.b
	b.mu.Lock()
	defer b.mu.Unlock()
	f := b.follows[s.customerID]
	if f == nil {
		return
	}
	subs := make([]*Subscription, 0, len(f.subs))
	for _, o := range f.subs {
		if o != s {
			subs = append(subs, o)
		}
	}
	if len(subs) > 0 {
		f.subs = subs
		return
	}
	delete(b.follows, s.customerID)
	if f.sub != nil {
		f.sub.Unsubscribe()
	}
}

// SubscribeCustomer calls fn for every wake-up of the customer: this node's
// on the publisher's goroutine, other nodes' on the bus's; fn must not
// block. Wake-ups published before SubscribeCustomer returns may or may not
// arrive: subscribe, Flush, then read the store.
func (b *Bus) SubscribeCustomer(customerID string, fn func(Wake)) (*Subscription, error) {
	s := &Subscription{b: b, customerID: customerID, fn: fn}
	b.mu.Lock()
	defer b.mu.Unlock()
	if f := b.follows[customerID]; f != nil {
		f.subs = append(append([]*Subscription(nil), f.subs...), s)
		return s, nil
	}
	f := &follow{subs: []*Subscription{s}}
	if !b.alone() {
		sub, err := b.feed.ChanSubscribe(customerSubject(customerID), b.msgs)
		if err != nil {
			return nil, fmt.Errorf("bus: subscribe: %w", err)
		}
		f.sub = sub
	}
	b.follows[customerID] = f
	return s, nil
}

// Follow subscribes fn to the customer's wake-ups and waits until NATS
// has the interest, so that no other node's wake-up published after it
// returns is missed. It returns how to stop.
func (b *Bus) Follow(customerID string, fn func(Wake)) (func(), error) {
	s, err := b.SubscribeCustomer(customerID, fn)
	if err != nil {
		return nil, err
	}
	if b.alone() {
		return s.Unsubscribe, nil
	}
	if err := b.feed.FlushTimeout(5 * time.Second); err != nil {
		s.Unsubscribe()
		return nil, fmt.Errorf("bus: follow: %w", err)
	}
	return s.Unsubscribe, nil
}

// Followed returns the customers this node follows.
func (b *Bus) Followed() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	out := make([]string, 0, len(b.follows))
	for id := range b.follows {
		out = append(out, id)
	}
	return out
}

// typingSubject carries "the customer is typing" for the console.
const typingSubject = "ot.typing"

// CustomerTyping tells every node that the customer is typing in a
// conversation; consoles ask their node (CustomerTypingSince).
func (b *Bus) CustomerTyping(conversationID string) error {
	return b.nc.Publish(typingSubject, []byte(conversationID))
}

// SubscribeCustomerTyping calls fn with each conversation where a customer
// types.
func (b *Bus) SubscribeCustomerTyping(fn func(conversationID string)) (*nats.Subscription, error) {
	return b.nc.Subscribe(typingSubject, func(m *nats.Msg) { fn(string(m.Data)) })
}

// keysSubject carries the names of data keys that were destroyed.
const keysSubject = "ot.keys.destroyed"

// KeyDestroyed tells every node that the data key named owner was
// destroyed, so each drops its cached copy at once.
func (b *Bus) KeyDestroyed(owner string) error {
	if err := b.nc.Publish(keysSubject, []byte(owner)); err != nil {
		return err
	}
	return b.nc.Flush()
}

// SubscribeKeysDestroyed calls fn with each destroyed key's name.
func (b *Bus) SubscribeKeysDestroyed(fn func(owner string)) (*nats.Subscription, error) {
	return b.nc.Subscribe(keysSubject, func(m *nats.Msg) { fn(string(m.Data)) })
}

// Flush waits until the server has processed everything published and
// subscribed so far: after it, other nodes' wake-ups for a customer just
// subscribed to reach this node.
func (b *Bus) Flush() error {
	if err := b.feed.FlushTimeout(5 * time.Second); err != nil {
		return err
	}
	return b.nc.FlushTimeout(5 * time.Second)
}

// Ping reports whether the bus is connected.
func (b *Bus) Ping() error {
	for _, nc := range []*nats.Conn{b.nc, b.feed} {
		if !nc.IsConnected() {
			return fmt.Errorf("bus: not connected (%s)", nc.Status())
		}
	}
	return nil
}

// Close drains the connections and stops the embedded server; again, it
// does nothing.
func (b *Bus) Close() {
	b.closeOnce.Do(func() {
		for _, nc := range []*nats.Conn{b.feed, b.nc} {
			nc.Drain()
			for i := 0; i < 100 && !nc.IsClosed(); i++ {
				time.Sleep(10 * time.Millisecond)
			}
			nc.Close()
		}
		close(b.closed)
		<-b.done
		b.stopEmbedded()
	})
}

func (b *Bus) stopEmbedded() {
	if b.embedded != nil {
		b.embedded.Shutdown()
		b.embedded.WaitForShutdown()
	}
}
