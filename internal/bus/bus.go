// Package bus wakes nodes when a conversation has something new. It carries
// "customer C's conversation V reached seq N", never the event itself: the
// store is the only copy, and a node that misses a wake-up catches up from
// the store (the delivery package polls as a backstop).
//
// By default the bus is a NATS server embedded in the process — no listener,
// an in-process connection, no signal handlers of its own, its JetStream
// store under the data directory. With a URL it connects to an external NATS
// cluster instead, which is how several nodes share wake-ups.
package bus

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"
)

// Wake says a conversation has events up to Seq.
type Wake struct {
	ConversationID string `json:"c"`
	Seq            int64  `json:"s"`
	// Typing, when set, is not a new event but who is typing in the
	// conversation (an agent's name): passed on to devices, never stored.
	Typing string `json:"t,omitempty"`
	// SessionsEnded, when set, says that every session of the customer but
	// Keep (a session id hash, in hex) has ended, as after a change of
	// password: devices on the others are signed out.
	SessionsEnded bool   `json:"e,omitempty"`
	Keep          string `json:"k,omitempty"`
}

// Bus is a connection to NATS, and the embedded server when there is one.
type Bus struct {
	nc       *nats.Conn
	embedded *server.Server
	log      *slog.Logger
	// Reconnected, if set, is called after the connection comes back: wake-ups
	// may have been missed, so subscribers should catch up from the store.
	reconnected func()
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
	b := &Bus{log: o.Logger, reconnected: o.OnReconnect}
	opts := []nats.Option{
		nats.Name(o.Name),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(250 * time.Millisecond),
		nats.ReconnectHandler(func(*nats.Conn) {
			b.log.Info("bus reconnected")
			if b.reconnected != nil {
				b.reconnected()
			}
		}),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				b.log.Warn("bus disconnected", "err", err)
			}
		}),
	}
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
		opts = append(opts, nats.InProcessServer(ns))
	}
	nc, err := nats.Connect(o.URL, opts...)
	if err != nil {
		if b.embedded != nil {
			b.embedded.Shutdown()
		}
		return nil, fmt.Errorf("bus: connect %s: %w", o.URL, err)
	}
	b.nc = nc
	return b, nil
}

// Embedded reports whether the bus runs its own server.
func (b *Bus) Embedded() bool { return b.embedded != nil }

func customerSubject(customerID string) string { return "ot.wake." + customerID }

// WakeCustomer tells every node serving the customer that a conversation
// moved. It does not wait for anyone: a lost wake-up costs latency, not data.
func (b *Bus) WakeCustomer(customerID string, w Wake) error {
	data, _ := json.Marshal(w)
	return b.nc.Publish(customerSubject(customerID), data)
}

// Subscription is a live interest in a customer's wake-ups.
type Subscription struct{ sub *nats.Subscription }

// Unsubscribe ends it.
func (s *Subscription) Unsubscribe() { s.sub.Unsubscribe() }

// SubscribeCustomer calls fn for every wake-up of the customer, on a NATS
// delivery goroutine: fn must not block.
func (b *Bus) SubscribeCustomer(customerID string, fn func(Wake)) (*Subscription, error) {
	sub, err := b.nc.Subscribe(customerSubject(customerID), func(m *nats.Msg) {
		var w Wake
		if json.Unmarshal(m.Data, &w) == nil {
			fn(w)
		}
	})
	if err != nil {
		return nil, fmt.Errorf("bus: subscribe: %w", err)
	}
	return &Subscription{sub}, nil
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
func (b *Bus) SubscribeCustomerTyping(fn func(conversationID string)) (*Subscription, error) {
	sub, err := b.nc.Subscribe(typingSubject, func(m *nats.Msg) { fn(string(m.Data)) })
	if err != nil {
		return nil, err
	}
	return &Subscription{sub}, nil
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
func (b *Bus) SubscribeKeysDestroyed(fn func(owner string)) (*Subscription, error) {
	sub, err := b.nc.Subscribe(keysSubject, func(m *nats.Msg) { fn(string(m.Data)) })
	if err != nil {
		return nil, err
	}
	return &Subscription{sub}, nil
}

// Flush waits until the server has processed everything published so far;
// tests and the benchmark use it to know a subscription is in place.
func (b *Bus) Flush() error { return b.nc.FlushTimeout(5 * time.Second) }

// Ping reports whether the bus is connected.
func (b *Bus) Ping() error {
	if !b.nc.IsConnected() {
		return fmt.Errorf("bus: not connected (%s)", b.nc.Status())
	}
	return nil
}

// Close drains the connection and stops the embedded server.
func (b *Bus) Close() {
	b.nc.Drain()
	for i := 0; i < 100 && !b.nc.IsClosed(); i++ {
		time.Sleep(10 * time.Millisecond)
	}
	b.nc.Close()
	if b.embedded != nil {
		b.embedded.Shutdown()
		b.embedded.WaitForShutdown()
	}
}
