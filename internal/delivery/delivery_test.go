package delivery_test

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openteller/openteller/internal/bus"
	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/delivery"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/testenv"
	"github.com/openteller/openteller/internal/vault"
)

type rig struct {
	hub  *delivery.Hub
	st   store.Store
	in   *ingest.Ingester
	srv  *httptest.Server
	bus  *bus.Bus
	inst string
}

// newRig wires a real store, keyring, embedded bus, ingester and hub. The
// signed-in customer is named by a test header: accounts are auth's concern,
// tested there and end to end.
func newRig(t *testing.T) *rig {
	return newRigWith(t, func(b *bus.Bus) delivery.Feed { return b }, 0)
}

// newRigWith is newRig with the hub hearing the bus through feed, and
// sweeping every sweep (0: the default); and reading the store through
// wrap, if given.
func newRigWith(t *testing.T, feed func(*bus.Bus) delivery.Feed, sweep time.Duration, wrap ...func(store.Conversations) store.Conversations) *rig {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st := testenv.SQLite(t)
	kr, _ := vault.New(bytes.Repeat([]byte{3}, 32), st)
	b, err := bus.Open(bus.Options{DataDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(b.Close)
	announcer := ingest.NewAnnouncer(b, slog.New(slog.DiscardHandler))
	t.Cleanup(announcer.Close)
	st.OnCommit(announcer.Announce)
	var reads store.Conversations = st
	for _, w := range wrap {
		reads = w(reads)
	}
	hub := delivery.NewHub(delivery.Config{Store: reads, Keyring: kr, Feed: feed(b), SweepEvery: sweep, CustomerOf: func(r *http.Request) (string, bool) {
		id := r.Header.Get("X-Test-Customer")
		return id, id != ""
	}, SessionOf: func(r *http.Request) []byte {
		h, _ := hex.DecodeString(r.Header.Get("X-Test-Session"))
		return h
	}})
	srv := httptest.NewUnstartedServer(hub.Handler())
	// Request deadlines as short as a test can afford: a socket must
	// outlive them (see TestSocketOutlivesRequestDeadlines).
	srv.Config.ReadTimeout, srv.Config.WriteTimeout = 300*time.Millisecond, 300*time.Millisecond
	srv.Start()
	t.Cleanup(srv.Close)
	t.Cleanup(hub.Close)
	r := &rig{hub: hub, st: st, in: ingest.New(ingest.Config{Store: st, Keyring: kr}), srv: srv, bus: b, inst: "ins_1"}
	must(t, st.CreateInstitution(ctx, store.Institution{ID: r.inst, Name: "Alpha Bank", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: time.Now()}))
	return r
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func (r *rig) customer(t *testing.T, n int) (customerID, linkID, convID string) {
	t.Helper()
	ctx := context.Background()
	customerID = fmt.Sprintf("cus_%d", n)
	linkID = "lnk_" + strings.Repeat(string(rune('a'+n)), 26)
	must(t, r.st.CreateCustomer(ctx, store.Customer{ID: customerID, Email: customerID + "@example.com", PasswordHash: "x", CreatedAt: time.Now()}))
	l := store.Link{ID: linkID, CustomerID: customerID, InstitutionID: r.inst, ConversationID: fmt.Sprintf("cnv_%d", n),
		Scopes: []string{"balances", "transactions"}, Status: store.LinkActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	l, err := r.st.CreateLink(ctx, l, consent.GrantReceipt(l, "test setup"))
	must(t, err)
	return customerID, linkID, l.ConversationID
}

func (r *rig) post(t *testing.T, linkID string, ids ...string) {
	t.Helper()
	var raw []json.RawMessage
	for _, id := range ids {
		raw = append(raw, json.RawMessage(fmt.Sprintf(`{"id":%q,"link_id":%q,"type":"message","occurred_at":%q,"data":{"text":"message %s"}}`,
			id, linkID, time.Now().UTC().Format(time.RFC3339), id)))
	}
	res, err := r.in.Ingest(context.Background(), r.inst, raw)
	must(t, err)
	for _, x := range res {
		if x.Status != "accepted" {
			t.Fatalf("event %s: %+v", x.ID, x.Error)
		}
	}
}

type frame struct {
	Type           string    `json:"type"`
	ConversationID string    `json:"conversation_id"`
	Event          wireEvent `json:"event"`
	// An "events" frame's, each read as an "event" frame of its own.
	Events []wireEvent `json:"events"`
}

type wireEvent struct {
	Seq  int64           `json:"seq"`
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// sock is a device's end of the socket.
type sock struct {
	*websocket.Conn
	pending []frame // the rest of an events frame
	frames  int     // events frames read
}

func (r *rig) dial(t *testing.T, customerID string, cursors map[string]int64) *sock {
	return r.dialSession(t, customerID, "", cursors)
}

// dialSession opens a device on the session whose id hash is session (hex).
func (r *rig) dialSession(t *testing.T, customerID, session string, cursors map[string]int64) *sock {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.srv.URL, "http"), &websocket.DialOptions{HTTPHeader: http.Header{"X-Test-Customer": {customerID}, "X-Test-Session": {session}}})
	must(t, err)
	c.SetReadLimit(4 << 20)
	t.Cleanup(func() { c.CloseNow() })
	msg, _ := json.Marshal(map[string]any{"type": "resume", "cursors": cursors})
	must(t, c.Write(ctx, websocket.MessageText, msg))
	return &sock{Conn: c}
}

// read returns the next frame; an events frame comes out as one event
// frame per event.
func read(t *testing.T, c *sock) frame {
	t.Helper()
	if len(c.pending) > 0 {
		f := c.pending[0]
		c.pending = c.pending[1:]
		return f
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, data, err := c.Read(ctx)
	must(t, err)
	var f frame
	must(t, json.Unmarshal(data, &f))
	if f.Type == "events" {
		if len(f.Events) == 0 {
			t.Fatalf("an events frame without events: %s", data)
		}
		c.frames++
		for _, e := range f.Events {
			c.pending = append(c.pending, frame{Type: "event", ConversationID: f.ConversationID, Event: e})
		}
		return read(t, c)
	}
	return f
}

// tryRead is read that returns the socket's error rather than failing.
func tryRead(c *sock) (frame, error) {
	if len(c.pending) > 0 {
		f := c.pending[0]
		c.pending = c.pending[1:]
		return f, nil
	}
	_, data, err := c.Read(context.Background())
	if err != nil {
		return frame{}, err
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		return frame{}, err
	}
	if f.Type == "events" {
		for _, e := range f.Events {
			c.pending = append(c.pending, frame{Type: "event", ConversationID: f.ConversationID, Event: e})
		}
		return tryRead(c)
	}
	return f, nil
}

// readEvents reads frames until it has n events, skipping caught_up.
func readEvents(t *testing.T, c *sock, n int) []frame {
	t.Helper()
	var out []frame
	for len(out) < n {
		f := read(t, c)
		if f.Type == "event" {
			out = append(out, f)
		}
	}
	return out
}

func TestLiveDeliveryAndResume(t *testing.T) {
	r := newRig(t)
	cust, link, conv := r.customer(t, 1)
	r.post(t, link, "a1", "a2")

	c := r.dial(t, cust, nil)
	got := readEvents(t, c, 2)
	if got[0].Event.Seq != 1 || got[1].Event.Seq != 2 || got[0].ConversationID != conv {
		t.Fatalf("backlog = %+v", got)
	}
	if !strings.Contains(string(got[0].Event.Data), "message a1") {
		t.Fatalf("payload not opened for the customer: %s", got[0].Event.Data)
	}
	if f := read(t, c); f.Type != "caught_up" {
		t.Fatalf("after backlog: %+v", f)
	}

	r.post(t, link, "a3")
	if f := readEvents(t, c, 1)[0]; f.Event.Seq != 3 {
		t.Fatalf("live event seq = %d, want 3", f.Event.Seq)
	}

	// The device drops; events arrive meanwhile; it resumes from seq 3.
	c.CloseNow()
	r.post(t, link, "a4", "a5")
	c2 := r.dial(t, cust, map[string]int64{conv: 3})
	got = readEvents(t, c2, 2)
	if got[0].Event.Seq != 4 || got[1].Event.Seq != 5 {
		t.Fatalf("resumed with %d, %d; want 4, 5", got[0].Event.Seq, got[1].Event.Seq)
	}
	if f := read(t, c2); f.Type != "caught_up" {
		t.Fatalf("resume sent more than the missing events: %+v", f)
	}
}

func TestDevicesSeeOnlyTheirCustomer(t *testing.T) {
	r := newRig(t)
	alice, aliceLink, _ := r.customer(t, 1)
	bob, bobLink, _ := r.customer(t, 2)
	ca := r.dial(t, alice, nil)
	cb := r.dial(t, bob, nil)
	read(t, ca) // caught_up
	read(t, cb)
	r.post(t, bobLink, "b1")
	r.post(t, aliceLink, "x1")
	if f := readEvents(t, ca, 1)[0]; !strings.Contains(string(f.Event.Data), "message x1") {
		t.Fatalf("alice received %s", f.Event.Data)
	}
	if f := readEvents(t, cb, 1)[0]; !strings.Contains(string(f.Event.Data), "message b1") {
		t.Fatalf("bob received %s", f.Event.Data)
	}
}

func TestNewConversationIsIntroduced(t *testing.T) {
	r := newRig(t)
	cust, _, _ := r.customer(t, 1)
	c := r.dial(t, cust, nil)
	read(t, c) // caught_up
	ctx := context.Background()
	must(t, r.st.CreateInstitution(ctx, store.Institution{ID: "ins_2", Name: "Beta", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: time.Now()}))
	l := store.Link{ID: "lnk_" + strings.Repeat("z", 26), CustomerID: cust, InstitutionID: "ins_2", ConversationID: "cnv_new",
		Scopes: []string{"balances"}, Status: store.LinkActive, CreatedAt: time.Now(), ExpiresAt: time.Now().Add(time.Hour)}
	l, err := r.st.CreateLink(ctx, l, consent.GrantReceipt(l, "test setup"))
	must(t, err)
	r.inst = "ins_2"
	r.post(t, l.ID, "n1")
	f := read(t, c)
	if f.Type != "conversation" {
		t.Fatalf("first frame for a new conversation = %+v", f)
	}
	if e := readEvents(t, c, 1)[0]; e.ConversationID != "cnv_new" || e.Event.Seq != 1 {
		t.Fatalf("event = %+v", e)
	}
}

func TestSignedOutSocketIsClosed(t *testing.T) {
	r := newRig(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(r.srv.URL, "http"), nil)
	must(t, err)
	defer c.CloseNow()
	_, _, err = c.Read(ctx)
	if websocket.CloseStatus(err) != delivery.CloseSignedOut {
		t.Fatalf("close status = %v (%v), want %d", websocket.CloseStatus(err), err, delivery.CloseSignedOut)
	}
}

// TestEndedSessionsSignDevicesOut: when a customer's other sessions end
// (they chose a new password), the devices on them are closed as signed
// out at once, with nothing more sent; the device that made the change
// goes on receiving.
func TestEndedSessionsSignDevicesOut(t *testing.T) {
	r := newRig(t)
	cust, link, _ := r.customer(t, 1)
	here := r.dialSession(t, cust, "aa", nil)
	there := r.dialSession(t, cust, "bb", nil)
	for _, d := range []*sock{here, there} {
		if f := read(t, d); f.Type != "caught_up" {
			t.Fatalf("first frame %+v", f)
		}
	}
	r.post(t, link, "m1")
	readEvents(t, here, 1)
	readEvents(t, there, 1)
	must(t, r.bus.WakeCustomer(cust, bus.Wake{SessionsEnded: true, Keep: "aa"}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if _, data, err := there.Read(ctx); websocket.CloseStatus(err) != delivery.CloseSignedOut {
		t.Fatalf("the device on an ended session got %s (%v), want a close %d", data, err, delivery.CloseSignedOut)
	}
	r.post(t, link, "m2")
	if f := readEvents(t, here, 1); f[0].Event.Seq == 0 {
		t.Fatalf("the device that kept its session: %+v", f)
	}
}

// TestNamedSessionsSignDevicesOut: when some sessions of a customer end
// (the passkey that signed them in was removed), the devices on those are
// closed as signed out at once, and the customer's others go on
// receiving.
func TestNamedSessionsSignDevicesOut(t *testing.T) {
	r := newRig(t)
	cust, link, _ := r.customer(t, 1)
	kept := r.dialSession(t, cust, "aa", nil)
	lost := []*sock{r.dialSession(t, cust, "bb", nil), r.dialSession(t, cust, "cc", nil)}
	for _, d := range append([]*sock{kept}, lost...) {
		if f := read(t, d); f.Type != "caught_up" {
			t.Fatalf("first frame %+v", f)
		}
	}
	must(t, r.bus.WakeCustomer(cust, bus.Wake{Ended: []string{"bb", "cc", "dd"}}))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, d := range lost {
		if _, data, err := d.Read(ctx); websocket.CloseStatus(err) != delivery.CloseSignedOut {
			t.Fatalf("a device on an ended session got %s (%v), want a close %d", data, err, delivery.CloseSignedOut)
		}
	}
	r.post(t, link, "m1")
	if f := readEvents(t, kept, 1); f[0].Event.Seq == 0 {
		t.Fatalf("the device whose session lives: %+v", f)
	}
}

// TestSocketOutlivesRequestDeadlines: the server's request deadlines must not
// cut a device's socket (net/http clears them when the connection is
// hijacked; this keeps it so). The rig's server has 300 ms deadlines.
func TestSocketOutlivesRequestDeadlines(t *testing.T) {
	r := newRig(t)
	cust, link, _ := r.customer(t, 1)
	c := r.dial(t, cust, nil)
	if f := read(t, c); f.Type != "caught_up" {
		t.Fatalf("first frame %+v", f)
	}
	time.Sleep(time.Second) // let the request deadlines pass: time itself is what is tested
	r.post(t, link, "late")
	if f := readEvents(t, c, 1)[0]; !strings.Contains(string(f.Event.Data), "message late") {
		t.Fatalf("got %s", f.Event.Data)
	}
}

// TestHistoryPages: a device scrolls back a page at a time, oldest page
// last; another customer cannot read it.
func TestHistoryPages(t *testing.T) {
	r := newRig(t)
	cust, link, conv := r.customer(t, 1)
	other, _, _ := r.customer(t, 2)
	var ids []string
	for i := range 150 {
		ids = append(ids, fmt.Sprintf("h%d", i))
	}
	r.post(t, link, ids...)
	mux := http.NewServeMux()
	mux.Handle("GET /history/{id}", r.hub.HistoryHandler())
	get := func(customer, query string) (int, []int64, bool) {
		req := httptest.NewRequest("GET", "/history/"+conv+query, nil)
		req.Header.Set("X-Test-Customer", customer)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		var body struct {
			Events []struct{ Seq int64 } `json:"events"`
			More   bool                  `json:"more"`
		}
		json.Unmarshal(rec.Body.Bytes(), &body)
		var seqs []int64
		for _, e := range body.Events {
			seqs = append(seqs, e.Seq)
		}
		return rec.Code, seqs, body.More
	}
	code, seqs, more := get(cust, "")
	if code != 200 || len(seqs) != 100 || seqs[0] != 51 || seqs[99] != 150 || !more {
		t.Fatalf("newest page: %d %d events from %v, more=%v", code, len(seqs), seqs[:1], more)
	}
	_, seqs, more = get(cust, "?before=51")
	if len(seqs) != 50 || seqs[0] != 1 || seqs[49] != 50 || more {
		t.Fatalf("oldest page: %d events, more=%v", len(seqs), more)
	}
	if code, _, _ := get(other, ""); code != http.StatusNotFound {
		t.Fatalf("another customer reading the history: %d", code)
	}
}

// TestForeignEventsOnTheBusAreNotSent: a wake-up that names a customer but
// carries another customer's events (a bug, or a forged message on the
// bus) sends those events to nobody; the device asks the store, which
// answers by owner.
func TestForeignEventsOnTheBusAreNotSent(t *testing.T) {
	r := newRig(t)
	alice, aliceLink, aliceConv := r.customer(t, 1)
	_, bobLink, bobConv := r.customer(t, 2)
	r.post(t, bobLink, "secret-of-bob")
	bobs, err := r.st.EventsAfter(context.Background(), bobConv, 0, 10)
	must(t, err)
	c := r.dial(t, alice, nil)
	if f := read(t, c); f.Type != "caught_up" {
		t.Fatalf("first frame %+v", f)
	}
	forged := bobs[0]
	forged.ConversationID = aliceConv
	must(t, r.bus.WakeCustomer(alice, bus.Wake{ConversationID: aliceConv, Seq: forged.Seq, Events: []store.Event{forged}}))
	r.post(t, aliceLink, "for-alice")
	f := readEvents(t, c, 1)[0]
	if strings.Contains(string(f.Event.Data), "secret-of-bob") || !strings.Contains(string(f.Event.Data), "for-alice") {
		t.Fatalf("alice's device got %s", f.Event.Data)
	}
}
