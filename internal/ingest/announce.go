package ingest

import (
	"log/slog"
	"sync"

	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/store"
)

// Announcer tells the customers' devices what the store committed: it is
// the store's OnCommit, and for each transaction sends one wake-up per
// conversation, carrying its new events as stored (sealed), in commit
// order. A single goroutine sends them, so the store's writer does not
// wait for delivery and a conversation's wake-ups never overtake each
// other on this node.
type Announcer struct {
	bus   *bus.Bus
	log   *slog.Logger
	queue chan []store.Event
	done  chan struct{}

	mu     sync.RWMutex
	closed bool
}

// NewAnnouncer starts an Announcer; Close stops it.
func NewAnnouncer(b *bus.Bus, log *slog.Logger) *Announcer {
	a := &Announcer{bus: b, log: log, queue: make(chan []store.Event, 4096), done: make(chan struct{})}
	go a.run()
	return a
}

// Announce queues what one transaction stored. It waits only when the
// queue is full: delivery far behind holds up ingest rather than losing
// wake-ups.
func (a *Announcer) Announce(evs []store.Event) {
	a.mu.RLock()
	defer a.mu.RUnlock()
	if !a.closed {
		a.queue <- evs
	}
}

// Close sends what is queued and stops; later commits are left to the
// devices' catching up.
func (a *Announcer) Close() {
	a.mu.Lock()
	if !a.closed {
		a.closed = true
		close(a.queue)
	}
	a.mu.Unlock()
	<-a.done
}

func (a *Announcer) run() {
	defer close(a.done)
	for evs := range a.queue {
		for _, w := range wakes(evs) {
			if err := a.bus.WakeCustomer(w.Events[0].CustomerID, w); err != nil {
				// Stored all the same: devices catch up from the store at
				// the next sweep.
				a.log.Warn("ingest: wake failed", "conversation", w.ConversationID, "err", err)
			}
		}
	}
}

// wakes groups evs by conversation, in the order each first appears,
// keeping each conversation's events in order.
// Their events share one array, each wake's a slice of it.
func wakes(evs []store.Event) []bus.Wake {
	var out []bus.Wake
	var counts []int
	at := make(map[string]int, len(evs))
	for _, e := range evs {
		i, ok := at[e.ConversationID]
		if !ok {
			i = len(out)
			at[e.ConversationID] = i
			out = append(out, bus.Wake{ConversationID: e.ConversationID})
			counts = append(counts, 0)
		}
		out[i].Seq = e.Seq
		counts[i]++
	}
	all := make([]store.Event, len(evs))
	for i, n := range counts {
		out[i].Events, all = all[:0:n], all[n:]
	}
	for _, e := range evs {
		w := &out[at[e.ConversationID]]
		w.Events = append(w.Events, e)
	}
	return out
}
