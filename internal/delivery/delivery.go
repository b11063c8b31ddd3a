// Package delivery carries a customer's conversations to their open devices
// over WebSockets, live, and to the customer's own hands: history pages and
// the export (export.go).
//
// Each device says where it is ("resume" with the last seq it has per
// conversation); delivery sends everything after that from the store, in seq
// order, then keeps the device current. The bus wakes a node when one of its
// customers' conversations moves; a slow poll of the store backs the bus up,
// so a lost wake-up delays an event but never loses it. Delivery is at least
// once: the client drops a seq it has already shown.
//
// What must stay true: a device receives only its own customer's
// conversations; payloads are opened only here, on the way to that
// customer's device, and are never logged.
package delivery

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// Close codes sent to devices.
const (
	CloseSignedOut = 4401 // the session is gone: sign in again
)

// errSignedOut ends a device whose session has ended.
var errSignedOut = errors.New("delivery: signed out")

const (
	sessionCheckEvery   = 12               // polls between asking the store whether the session lives
	backlogOnFirstSight = 100              // events sent for a conversation the device has never seen
	pageSize            = 200              // events read from the store at a time
	pollEvery           = 5 * time.Second  // backstop for lost wake-ups
	writeTimeout        = 10 * time.Second // a device that cannot take a frame this fast is dropped
	resumeTimeout       = 15 * time.Second
)

// Hub tracks the devices connected to this node, per customer.
type Hub struct {
	store   store.Store
	keyring *vault.Keyring
	bus     *bus.Bus
	log     *slog.Logger
	now     func() time.Time
	// customerOf names the signed-in customer of a request, and sessionOf
	// its session (id hash).
	customerOf func(*http.Request) (string, bool)
	sessionOf  func(*http.Request) []byte

	mu        sync.Mutex
	customers map[string]*customerDevices
}

type customerDevices struct {
	sub     *bus.Subscription
	devices map[*device]struct{}
}

// Config configures NewHub.
type Config struct {
	Store      store.Store
	Keyring    *vault.Keyring
	Bus        *bus.Bus
	Logger     *slog.Logger
	Now        func() time.Time
	CustomerOf func(*http.Request) (string, bool)
	// SessionOf names the request's session (its id hash), so that a
	// device is signed out when its session ends; optional.
	SessionOf func(*http.Request) []byte
}

// NewHub returns a Hub.
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
	return &Hub{store: c.Store, keyring: c.Keyring, bus: c.Bus, log: c.Logger, now: c.Now, customerOf: c.CustomerOf, sessionOf: c.SessionOf, customers: map[string]*customerDevices{}}
}

// WakeAll makes every connected device check the store, as after the bus
// reconnects.
func (h *Hub) WakeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, cd := range h.customers {
		for d := range cd.devices {
			d.poke("")
		}
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

func (h *Hub) register(d *device) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	cd := h.customers[d.customerID]
	if cd == nil {
		sub, err := h.bus.SubscribeCustomer(d.customerID, func(w bus.Wake) { h.wake(d.customerID, w) })
		if err != nil {
			return err
		}
		cd = &customerDevices{sub: sub, devices: map[*device]struct{}{}}
		h.customers[d.customerID] = cd
	}
	cd.devices[d] = struct{}{}
	return nil
}

func (h *Hub) unregister(d *device) {
	h.mu.Lock()
	defer h.mu.Unlock()
	cd := h.customers[d.customerID]
	if cd == nil {
		return
	}
	delete(cd.devices, d)
	if len(cd.devices) == 0 {
		cd.sub.Unsubscribe()
		delete(h.customers, d.customerID)
	}
}

func (h *Hub) wake(customerID string, w bus.Wake) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if cd := h.customers[customerID]; cd != nil {
		for d := range cd.devices {
			if w.SessionsEnded {
				if hex.EncodeToString(d.session) != w.Keep {
					d.signOut()
				}
				continue
			}
			if w.Typing != "" {
				d.typed(w.ConversationID, w.Typing)
				continue
			}
			d.poke(w.ConversationID)
		}
	}
}

// device is one open WebSocket.
type device struct {
	customerID string
	session    []byte // its session's id hash
	conn       *websocket.Conn
	signal     chan struct{} // capacity 1: "something may have moved"
	signedOut  atomic.Bool   // its session ended: close, sending nothing more

	mu     sync.Mutex
	dirty  map[string]bool   // conversations named by wake-ups; "" = check all
	typing map[string]string // conversation → who is typing, to pass on
}

// signOut ends the device: its session is gone.
func (d *device) signOut() {
	d.signedOut.Store(true)
	select {
	case d.signal <- struct{}{}:
	default:
	}
}

func (d *device) poke(conversationID string) {
	d.mu.Lock()
	d.dirty[conversationID] = true
	d.mu.Unlock()
	select {
	case d.signal <- struct{}{}:
	default:
	}
}

// typed notes that someone is typing in a conversation.
func (d *device) typed(conversationID, who string) {
	d.mu.Lock()
	if d.typing == nil {
		d.typing = map[string]string{}
	}
	d.typing[conversationID] = who
	d.mu.Unlock()
	select {
	case d.signal <- struct{}{}:
	default:
	}
}

func (d *device) takeTyping() map[string]string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.typing
	d.typing = nil
	return out
}

func (d *device) takeDirty() map[string]bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := d.dirty
	d.dirty = map[string]bool{}
	return out
}

// Event is one event as a device sees it, opened; see docs/contracts.md
// for the frames that carry it.
type Event struct {
	Seq         int64           `json:"seq"`
	Type        string          `json:"type"`
	Author      string          `json:"author"`
	OccurredAt  time.Time       `json:"occurred_at"`
	ReceivedAt  time.Time       `json:"received_at"`
	Data        json.RawMessage `json:"data"`
	ReplacesSeq int64           `json:"replaces_seq,omitempty"`
}

type eventFrame struct {
	Type           string `json:"type"`
	ConversationID string `json:"conversation_id"`
	Event          Event  `json:"event"`
}

type conversationFrame struct {
	Type         string           `json:"type"`
	Conversation ConversationView `json:"conversation"`
}

// ConversationView is a conversation as the messenger sees it.
type ConversationView struct {
	ID          string          `json:"id"`
	Institution InstitutionView `json:"institution"`
	LastSeq     int64           `json:"last_seq"`
	Link        LinkView        `json:"link"`
}

// InstitutionView names an institution.
type InstitutionView struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// LinkView is a link's consent as the customer sees it.
type LinkView struct {
	ID        string    `json:"id"`
	Scopes    []string  `json:"scopes"`
	Status    string    `json:"status"` // active, expired or revoked
	ExpiresAt time.Time `json:"expires_at"`
}

// ViewOf renders a conversation for the messenger.
func ViewOf(c store.Conversation, now time.Time) ConversationView {
	status := c.Link.Status
	if status == store.LinkActive && !now.Before(c.Link.ExpiresAt) {
		status = "expired"
	}
	scopes := c.Link.Scopes
	if scopes == nil {
		scopes = []string{}
	}
	return ConversationView{
		ID:          c.ID,
		Institution: InstitutionView{ID: c.InstitutionID, Name: c.InstitutionName},
		LastSeq:     c.LastSeq,
		Link:        LinkView{ID: c.Link.ID, Scopes: scopes, Status: status, ExpiresAt: c.Link.ExpiresAt},
	}
}

// Handler serves GET /app/ws.
func (h *Hub) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		customerID, ok := h.customerOf(r)
		// Same-origin only (the library's default Origin check), so another
		// site cannot open a socket with the customer's cookie.
		conn, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		if !ok {
			conn.Close(CloseSignedOut, "signed out")
			return
		}
		conn.SetReadLimit(64 << 10)
		d := &device{customerID: customerID, session: h.sessionOf(r), conn: conn, signal: make(chan struct{}, 1), dirty: map[string]bool{}}
		err = h.serve(r.Context(), d)
		switch {
		case errors.Is(err, errSignedOut):
			conn.Close(CloseSignedOut, "signed out")
		case err == nil, errors.Is(err, context.Canceled), websocket.CloseStatus(err) != -1:
			conn.Close(websocket.StatusNormalClosure, "")
		default:
			h.log.Debug("device closed", "err", err)
			conn.Close(websocket.StatusInternalError, "server error")
		}
	})
}

func (h *Hub) serve(ctx context.Context, d *device) error {
	cursors, err := readResume(ctx, d.conn)
	if err != nil {
		return err
	}
	// From here the client sends nothing more; CloseRead answers pings and
	// cancels ctx when the client goes away.
	ctx = d.conn.CloseRead(ctx)
	if err := h.register(d); err != nil {
		return err
	}
	defer h.unregister(d)

	convs, err := h.store.Conversations(ctx, d.customerID)
	if err != nil {
		return err
	}
	known := map[string]int64{} // conversation → last seq sent
	for _, c := range convs {
		cur, seen := cursors[c.ID]
		if !seen {
			cur = max(0, c.LastSeq-backlogOnFirstSight)
		}
		known[c.ID] = min(max(cur, 0), c.LastSeq)
		if err := h.sendAfter(ctx, d, c.ID, known); err != nil {
			return err
		}
	}
	if err := WriteFrame(ctx, d.conn, map[string]string{"type": "caught_up"}); err != nil {
		return err
	}

	poll := time.NewTicker(pollEvery)
	defer poll.Stop()
	for polls := 1; ; {
		var dirty map[string]bool
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-d.signal:
			if d.signedOut.Load() {
				return errSignedOut
			}
			dirty = d.takeDirty()
			for convID, who := range d.takeTyping() {
				if _, ok := known[convID]; !ok {
					continue // not a conversation this device has
				}
				if err := WriteFrame(ctx, d.conn, map[string]string{"type": "typing", "conversation_id": convID, "who": who}); err != nil {
					return err
				}
			}
		case <-poll.C:
			dirty = map[string]bool{"": true}
			// The bus says when sessions end; now and then the store is
			// asked too, in case a node missed it.
			if polls++; polls%sessionCheckEvery == 0 && d.session != nil {
				if _, err := h.store.Session(ctx, d.session); errors.Is(err, store.ErrNotFound) {
					return errSignedOut
				}
			}
		}
		if dirty[""] {
			if err := h.sync(ctx, d, known); err != nil {
				return err
			}
			continue
		}
		for convID := range dirty {
			if _, ok := known[convID]; !ok {
				if err := h.introduce(ctx, d, convID, known); err != nil {
					return err
				}
				continue
			}
			if err := h.sendAfter(ctx, d, convID, known); err != nil {
				return err
			}
		}
	}
}

// sync compares every conversation's head with what the device has.
func (h *Hub) sync(ctx context.Context, d *device, known map[string]int64) error {
	convs, err := h.store.Conversations(ctx, d.customerID)
	if err != nil {
		return err
	}
	for _, c := range convs {
		cur, ok := known[c.ID]
		if !ok {
			if err := h.introduce(ctx, d, c.ID, known); err != nil {
				return err
			}
			continue
		}
		if c.LastSeq > cur {
			if err := h.sendAfter(ctx, d, c.ID, known); err != nil {
				return err
			}
		}
	}
	return nil
}

// introduce tells the device about a conversation it has not seen, such as a
// link made on another device, then sends its events.
func (h *Hub) introduce(ctx context.Context, d *device, convID string, known map[string]int64) error {
	c, err := h.store.Conversation(ctx, convID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.CustomerID != d.customerID {
		h.log.Warn("delivery: wake-up for another customer's conversation ignored", "conversation", convID)
		return nil
	}
	if err := WriteFrame(ctx, d.conn, conversationFrame{Type: "conversation", Conversation: ViewOf(c, h.now())}); err != nil {
		return err
	}
	known[convID] = 0
	return h.sendAfter(ctx, d, convID, known)
}

func (h *Hub) sendAfter(ctx context.Context, d *device, convID string, known map[string]int64) error {
	for {
		evs, err := h.store.EventsAfter(ctx, convID, known[convID], pageSize)
		if err != nil {
			return err
		}
		for _, e := range evs {
			if e.CustomerID != d.customerID {
				return errors.New("delivery: conversation of another customer")
			}
			f := eventFrame{Type: "event", ConversationID: convID, Event: h.wire(ctx, e)}
			if err := WriteFrame(ctx, d.conn, f); err != nil {
				return err
			}
			known[convID] = e.Seq
			if e.Type == store.TypeLinkRevoked {
				// The conversation's status changed with it: say so now,
				// so the device stops offering what the link no longer allows.
				if c, err := h.store.Conversation(ctx, convID); err == nil {
					if err := WriteFrame(ctx, d.conn, conversationFrame{Type: "conversation", Conversation: ViewOf(c, h.now())}); err != nil {
						return err
					}
				}
			}
		}
		if len(evs) < pageSize {
			return nil
		}
	}
}

// wire opens an event for its own customer's device. A payload that cannot
// be opened is sent empty: the seq still advances, so the device is not
// stuck behind it.
func (h *Hub) wire(ctx context.Context, e store.Event) Event {
	data, err := h.keyring.Open(ctx, vault.ConversationKey(e.CustomerID, e.InstitutionID), e.ID, e.Sealed)
	if err != nil {
		h.log.Error("delivery: open event", "conversation", e.ConversationID, "seq", e.Seq, "err", err)
		data = []byte(`{}`)
	}
	return Event{Seq: e.Seq, Type: e.Type, Author: e.Author, OccurredAt: e.OccurredAt, ReceivedAt: e.ReceivedAt, Data: data, ReplacesSeq: e.ReplacesSeq}
}

// historyPage is how many events one request for history returns at most.
const historyPage = 100

// HistoryHandler serves GET /app/api/conversations/{id}/events?before=N:
// the customer's own devices scrolling back, a page at a time.
func (h *Hub) HistoryHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		customerID, _ := h.customerOf(r)
		c, err := h.store.Conversation(r.Context(), r.PathValue("id"))
		if errors.Is(err, store.ErrNotFound) || (err == nil && c.CustomerID != customerID) {
			httpx.WriteError(w, httpx.Errorf(http.StatusNotFound, "not_found", "That conversation does not exist."))
			return
		}
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		before, _ := strconv.ParseInt(r.URL.Query().Get("before"), 10, 64)
		page, err := h.Page(r.Context(), c.ID, before)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		httpx.WriteJSON(w, http.StatusOK, page)
	})
}

// HistoryPage is up to a page of events before a seq, opened, oldest first.
type HistoryPage struct {
	Events []Event `json:"events"`
	More   bool    `json:"more"` // older ones may exist
}

// Page opens the newest page of the conversation's events before seq
// before (the newest of all when before < 1). Callers have checked who may
// see it: the customer themself, or an agent whose read is logged.
func (h *Hub) Page(ctx context.Context, conversationID string, before int64) (HistoryPage, error) {
	if before < 1 {
		c, err := h.store.Conversation(ctx, conversationID)
		if err != nil {
			return HistoryPage{}, err
		}
		before = c.LastSeq + 1
	}
	evs, err := h.store.EventsBefore(ctx, conversationID, before, historyPage)
	if err != nil {
		return HistoryPage{}, err
	}
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		out = append(out, h.wire(ctx, e))
	}
	return HistoryPage{Events: out, More: len(evs) == historyPage}, nil
}

// Since opens up to a page of the conversation's events after seq after
// and up to seq upTo, oldest first; More says that more of them may
// follow. Callers have checked who may see them, as for Page, as of upTo.
func (h *Hub) Since(ctx context.Context, conversationID string, after, upTo int64) (HistoryPage, error) {
	evs, err := h.store.EventsAfter(ctx, conversationID, after, historyPage)
	if err != nil {
		return HistoryPage{}, err
	}
	more := len(evs) == historyPage
	out := make([]Event, 0, len(evs))
	for _, e := range evs {
		if e.Seq > upTo {
			more = false
			break
		}
		out = append(out, h.wire(ctx, e))
	}
	return HistoryPage{Events: out, More: more && len(out) > 0}, nil
}

func readResume(ctx context.Context, c *websocket.Conn) (map[string]int64, error) {
	ctx, cancel := context.WithTimeout(ctx, resumeTimeout)
	defer cancel()
	_, data, err := c.Read(ctx)
	if err != nil {
		return nil, err
	}
	var msg struct {
		Type    string           `json:"type"`
		Cursors map[string]int64 `json:"cursors"`
	}
	if err := json.Unmarshal(data, &msg); err != nil || msg.Type != "resume" {
		c.Close(websocket.StatusPolicyViolation, `expected {"type":"resume"}`)
		return nil, errors.New("delivery: bad resume message")
	}
	if msg.Cursors == nil {
		msg.Cursors = map[string]int64{}
	}
	return msg.Cursors, nil
}

// WriteFrame sends v as one JSON text message, giving up (and so dropping
// the socket) when the other side cannot take it within writeTimeout.
func WriteFrame(ctx context.Context, c *websocket.Conn, v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, writeTimeout)
	defer cancel()
	return c.Write(ctx, websocket.MessageText, data)
}
