package delivery

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

const (
	// maxInbox bounds what waits for a device that reads slowly; past it,
	// the waiting wake-ups fold into one catch-up from the store.
	maxInbox = 256
	// Socket buffers: after its resume a device sends only control
	// frames, and a frame to it is gathered whole (frameWriter) before it
	// goes out, so an idle device needs no more.
	readBuffer  = 64
	writeBuffer = 64
	// gatherMax is the largest frame gathered into one write; a larger one
	// (a page of history) goes out as the library writes it, in two.
	gatherMax = 16 << 10
)

// device is one open WebSocket.
type device struct {
	hub        *Hub
	customerID string
	session    []byte // its session's id hash
	conn       *websocket.Conn
	writer     *frameWriter // under conn: gathers each frame into one write
	ended      atomic.Bool  // its socket ended (watch); reap then forgets it
	signedOut  atomic.Bool  // its session ended: close, sending nothing more

	mu      sync.Mutex
	inbox   []item
	running bool // a goroutine is draining the inbox
	gone    bool // the socket ended: nothing more is sent

	// known is the last seq sent per conversation; only the goroutine
	// draining the inbox touches it.
	known seqs

	// reads is the context of the device's store reads while it has
	// something to send (readCtx), ended when the socket ends (watch) or the
	// inbox empties. Only the goroutine draining the inbox touches reads;
	// stop is under mu. An idle device keeps neither: a context kept for
	// its life keeps the map of its children (see Hub.ctx).
	reads context.Context
	stop  context.CancelFunc
}

// seqs maps conversations to seqs. A customer has a handful of
// conversations, so a slice costs less than a map on every idle device.
type seqs []convSeq

type convSeq struct {
	conv string
	seq  int64
}

func (s seqs) get(conv string) (int64, bool) {
	for _, c := range s {
		if c.conv == conv {
			return c.seq, true
		}
	}
	return 0, false
}

func (s *seqs) set(conv string, seq int64) {
	for i := range *s {
		if (*s)[i].conv == conv {
			(*s)[i].seq = seq
			return
		}
	}
	*s = append(*s, convSeq{conv, seq})
}

type itemKind uint8

const (
	itemMoved   itemKind = iota // conv reached seq; batch, when set, holds the new events
	itemSyncAll                 // anything may have moved: compare with the store
	itemTyping                  // who is typing in conv
)

// item is one thing waiting to be sent.
type item struct {
	kind  itemKind
	conv  string
	seq   int64
	batch *batch
	who   string
}

// push queues it and starts a goroutine to send it unless one runs.
func (d *device) push(it item) {
	d.mu.Lock()
	if d.gone {
		d.mu.Unlock()
		return
	}
	if len(d.inbox) >= maxInbox {
		// The device reads slower than its conversations move: whatever
		// waits is found in the store anyway.
		d.inbox = append(d.inbox[:0], item{kind: itemSyncAll})
	}
	d.inbox = append(d.inbox, it)
	start := !d.running
	d.running = true
	d.mu.Unlock()
	if start {
		go d.drain()
	}
}

// signOut ends the device: its session is gone.
func (d *device) signOut() {
	d.signedOut.Store(true)
	d.push(item{kind: itemSyncAll})
}

// drain sends what waits until the inbox is empty, then ends.
func (d *device) drain() {
	for {
		d.mu.Lock()
		items := d.inbox
		d.inbox = nil
		if len(items) == 0 || d.gone {
			d.running = false
			d.stopReads()
			d.reads = nil
			d.mu.Unlock()
			return
		}
		d.mu.Unlock()
		if err := d.process(items); err != nil {
			d.end(err)
			return
		}
	}
}

// readCtx is the context of the device's store reads until its inbox
// empties or its socket ends.
func (d *device) readCtx() context.Context {
	if d.reads == nil {
		ctx, cancel := context.WithCancel(d.hub.ctx)
		d.mu.Lock()
		d.stop = cancel
		d.mu.Unlock()
		if d.ended.Load() { // watch may have looked for stop before it was set
			cancel()
		}
		d.reads = ctx
	}
	return d.reads
}

// stopReads ends the store reads under way, if any. d.mu is held.
func (d *device) stopReads() {
	if d.stop != nil {
		d.stop()
		d.stop = nil
	}
}

// socketEnded is what watch calls when the socket has ended: the hub
// forgets the device at its next reap, and a store read under way stops.
func (d *device) socketEnded() {
	d.ended.Store(true)
	d.mu.Lock()
	d.stopReads()
	d.mu.Unlock()
}

// end closes the socket for err, and sends nothing more.
func (d *device) end(err error) {
	d.mu.Lock()
	d.gone, d.running, d.inbox = true, false, nil
	d.stopReads()
	d.mu.Unlock()
	d.hub.unregister(d)
	switch {
	case errors.Is(err, errSignedOut):
		d.conn.Close(CloseSignedOut, "signed out")
	case errors.Is(err, context.Canceled), websocket.CloseStatus(err) != -1, errors.Is(err, net.ErrClosed):
		d.conn.CloseNow()
	default:
		d.hub.log.Debug("device closed", "err", err)
		d.conn.Close(websocket.StatusInternalError, "server error")
	}
}

// process sends items in order. Events of one conversation that follow
// each other go out together, in one frame.
func (d *device) process(items []item) error {
	out := frames{d: d}
	defer out.release()
	for _, it := range items {
		if d.signedOut.Load() {
			return errSignedOut
		}
		switch it.kind {
		case itemSyncAll:
			if err := out.flush(); err != nil {
				return err
			}
			if err := d.syncAll(); err != nil {
				return err
			}
		case itemTyping:
			if _, ok := d.known.get(it.conv); !ok {
				continue // not a conversation this device has
			}
			if err := out.flush(); err != nil {
				return err
			}
			if err := d.write(map[string]string{"type": "typing", "conversation_id": it.conv, "who": it.who}); err != nil {
				return err
			}
		case itemMoved:
			known, ok := d.known.get(it.conv)
			switch {
			case !ok:
				if err := out.flush(); err != nil {
					return err
				}
				if err := d.introduce(it.conv); err != nil {
					return err
				}
			case it.seq <= known:
				// Sent already: a duplicate, or older than a catch-up.
			case it.batch != nil && it.batch.first() <= known+1:
				evs, wire := it.batch.after(d, known)
				if err := out.add(it.conv, wire); err != nil {
					return err
				}
				d.known.set(it.conv, evs[len(evs)-1].Seq)
				if err := d.afterEvents(it.conv, evs, &out); err != nil {
					return err
				}
			default:
				// Behind by more than the batch, or told of a seq without
				// its events: the store has them.
				if err := out.flush(); err != nil {
					return err
				}
				if err := d.sendAfter(it.conv); err != nil {
					return err
				}
			}
		}
	}
	return out.flush()
}

// afterEvents follows events with what they change: a revocation changes
// the conversation's status, so the device stops offering what the link
// no longer allows.
func (d *device) afterEvents(conv string, evs []store.Event, out *frames) error {
	for _, e := range evs {
		if e.Type != store.TypeLinkRevoked {
			continue
		}
		if err := out.flush(); err != nil {
			return err
		}
		c, err := d.hub.store.Conversation(d.readCtx(), conv)
		if err != nil {
			return nil // the next sweep or reconnect tells it
		}
		return d.write(conversationFrame{Type: "conversation", Conversation: ViewOf(c, d.hub.now())})
	}
	return nil
}

// catchUp brings a device that just connected up to date from the store:
// each of its customer's conversations after the device's cursor, or the
// newest backlogOnFirstSight events of one it has never seen.
func (d *device) catchUp(cursors map[string]int64) error {
	convs, err := d.hub.store.Conversations(d.readCtx(), d.customerID)
	if err != nil {
		return err
	}
	for _, c := range convs {
		cur, seen := cursors[c.ID]
		if !seen {
			cur = max(0, c.LastSeq-backlogOnFirstSight)
		}
		d.known.set(c.ID, min(max(cur, 0), c.LastSeq))
		if err := d.sendAfter(c.ID); err != nil {
			return err
		}
	}
	return d.write(map[string]string{"type": "caught_up"})
}

// syncAll compares every conversation's head with what the device has.
func (d *device) syncAll() error {
	convs, err := d.hub.store.Conversations(d.readCtx(), d.customerID)
	if err != nil {
		return err
	}
	for _, c := range convs {
		cur, ok := d.known.get(c.ID)
		switch {
		case !ok:
			err = d.introduce(c.ID)
		case c.LastSeq > cur:
			err = d.sendAfter(c.ID)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// introduce tells the device about a conversation it has not seen, such as
// a link made on another device, then sends its events.
func (d *device) introduce(convID string) error {
	c, err := d.hub.store.Conversation(d.readCtx(), convID)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	if c.CustomerID != d.customerID {
		d.hub.log.Warn("delivery: wake-up for another customer's conversation ignored", "conversation", convID)
		return nil
	}
	if err := d.write(conversationFrame{Type: "conversation", Conversation: ViewOf(c, d.hub.now())}); err != nil {
		return err
	}
	d.known.set(convID, 0)
	return d.sendAfter(convID)
}

// sendAfter sends the conversation's events after what the device has,
// from the store, a page to a frame.
func (d *device) sendAfter(convID string) error {
	for {
		after, _ := d.known.get(convID)
		evs, err := d.hub.store.EventsAfter(d.readCtx(), convID, after, pageSize)
		if err != nil {
			return err
		}
		if len(evs) == 0 {
			return nil
		}
		wire := make([][]byte, len(evs))
		for i, e := range evs {
			if e.CustomerID != d.customerID {
				return errors.New("delivery: conversation of another customer")
			}
			wire[i] = d.hub.encode(d.readCtx(), e)
		}
		out := frames{d: d}
		err = out.add(convID, wire)
		if err == nil {
			d.known.set(convID, evs[len(evs)-1].Seq)
			err = d.afterEvents(convID, evs, &out)
		}
		if err == nil {
			err = out.flush()
		}
		out.release()
		if err != nil {
			return err
		}
		if len(evs) < pageSize {
			return nil
		}
	}
}

// write sends v as one JSON text message.
func (d *device) write(v any) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return d.send(data)
}

// send writes one text message, dropping the device when it cannot take it
// within writeTimeout. The timeout is a timer, not a context with a
// deadline: the library keeps the last write's context, and an idle
// device should keep nothing of its last write.
func (d *device) send(data []byte) error {
	t := time.AfterFunc(writeTimeout, func() { d.conn.CloseNow() })
	defer t.Stop()
	return sendFrame(d.conn, d.writer, data)
}

// sendFrame writes data as one text message on c, gathered by w into one
// write to the socket when it is small enough.
func sendFrame(c *websocket.Conn, w *frameWriter, data []byte) error {
	if len(data) > gatherMax {
		return c.Write(context.Background(), websocket.MessageText, data)
	}
	w.gather()
	err := c.Write(context.Background(), websocket.MessageText, data)
	if ferr := w.flush(); err == nil {
		err = ferr
	}
	return err
}

// frames gathers consecutive events of one conversation into one
// "events" frame.
type frames struct {
	d      *device
	conv   string
	buf    []byte  // the frame so far, open at the end of its events array
	pooled *[]byte // where buf came from, back to framePool on release
	n      int
}

// release gives the frame's buffer back, once its last flush is done.
func (f *frames) release() {
	if f.pooled == nil {
		return
	}
	if cap(f.buf) <= 2*gatherMax {
		*f.pooled = f.buf[:0]
		framePool.Put(f.pooled)
	}
	f.pooled, f.buf = nil, nil
}

func (f *frames) add(conv string, wire [][]byte) error {
	if f.n > 0 && conv != f.conv {
		if err := f.flush(); err != nil {
			return err
		}
	}
	for _, w := range wire {
		if f.n == 0 {
			if f.pooled == nil {
				f.pooled = framePool.Get().(*[]byte)
				f.buf = *f.pooled
			}
			f.conv = conv
			f.buf = append(f.buf[:0], `{"type":"events","conversation_id":`...)
			f.buf = appendJSONString(f.buf, conv)
			f.buf = append(f.buf, `,"events":[`...)
		} else {
			f.buf = append(f.buf, ',')
		}
		f.buf = append(f.buf, w...)
		f.n++
	}
	return nil
}

func (f *frames) flush() error {
	if f.n == 0 {
		return nil
	}
	f.buf = append(f.buf, "]}"...)
	f.n = 0
	return f.d.send(f.buf)
}

// appendJSONString writes s as encoding/json does: the names this package
// writes are plain ASCII, which needs no escaping; anything else goes
// through the encoder.
func appendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s)
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}

// batch is one wake-up's events, shared by every device of the customer:
// opened and encoded once, by the first device that sends them.
type batch struct {
	events []store.Event
	once   sync.Once
	wire   [][]byte
}

func (b *batch) first() int64 { return b.events[0].Seq }

// after returns the batch's events after seq known, and their frames.
func (b *batch) after(d *device, known int64) ([]store.Event, [][]byte) {
	b.once.Do(func() {
		b.wire = make([][]byte, len(b.events))
		for i, e := range b.events {
			b.wire[i] = d.hub.encode(d.hub.ctx, e)
		}
	})
	i := 0
	for i < len(b.events) && b.events[i].Seq <= known {
		i++
	}
	return b.events[i:], b.wire[i:]
}

// encodeRoom is what encode writes besides the type, the author and the
// data, at most (escapes aside).
const encodeRoom = 224

// encode opens an event for its own customer's device and encodes it as
// the live protocol's event object (Event's JSON, written directly: the
// payload is the JSON ingest sealed, so it needs no second pass).
func (h *Hub) encode(ctx context.Context, e store.Event) []byte {
	data := h.open(ctx, e)
	// Room for the fields around data at their longest (a 20-digit seq,
	// times with a zone offset), so that appending never copies.
	b := make([]byte, 0, encodeRoom+len(e.Type)+len(e.Author)+len(data))
	b = append(b, `{"seq":`...)
	b = strconv.AppendInt(b, e.Seq, 10)
	b = append(b, `,"type":`...)
	b = appendJSONString(b, e.Type)
	b = append(b, `,"author":`...)
	b = appendJSONString(b, e.Author)
	b = append(b, `,"occurred_at":`...)
	b = appendJSONTime(b, e.OccurredAt)
	b = append(b, `,"received_at":`...)
	b = appendJSONTime(b, e.ReceivedAt)
	b = append(b, `,"data":`...)
	b = append(b, data...)
	if e.ReplacesSeq != 0 {
		b = append(b, `,"replaces_seq":`...)
		b = strconv.AppendInt(b, e.ReplacesSeq, 10)
	}
	return append(b, '}')
}

// appendJSONTime writes t as encoding/json does.
func appendJSONTime(b []byte, t time.Time) []byte {
	b = append(b, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	return append(b, '"')
}

// wire opens an event for its own customer's device.
func (h *Hub) wire(ctx context.Context, e store.Event) Event {
	return Event{Seq: e.Seq, Type: e.Type, Author: e.Author, OccurredAt: e.OccurredAt, ReceivedAt: e.ReceivedAt, Data: h.open(ctx, e), ReplacesSeq: e.ReplacesSeq}
}

// open opens an event's payload for its own customer. One that cannot be
// opened, or is not the JSON ingest sealed, is empty: the seq still
// advances, so the device is not stuck behind it.
func (h *Hub) open(ctx context.Context, e store.Event) []byte {
	data, err := h.keyring.Open(ctx, vault.ConversationKey(e.CustomerID, e.InstitutionID), e.ID, e.Sealed)
	if err != nil || !json.Valid(data) {
		h.log.Error("delivery: open event", "conversation", e.ConversationID, "seq", e.Seq, "err", err)
		return []byte(`{}`)
	}
	return data
}

// Handler serves GET /app/ws. Its goroutine brings the device up to date
// and returns; the device then lives on its socket's watcher alone.
func (h *Hub) Handler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		customerID, ok := h.customerOf(r)
		// Same-origin only (the library's default Origin check), so another
		// site cannot open a socket with the customer's cookie.
		sb := &smallBuffers{ResponseWriter: w}
		conn, err := websocket.Accept(sb, r, nil)
		if err != nil {
			return
		}
		if !ok {
			conn.Close(CloseSignedOut, "signed out")
			return
		}
		conn.SetReadLimit(64 << 10)
		cursors, err := readResume(conn)
		if err != nil {
			conn.CloseNow()
			return
		}
		d := &device{hub: h, customerID: customerID, conn: conn, writer: sb.writer, running: true}
		if se := h.sessionOf(r); len(se) > 0 {
			d.session = se
		}
		// From here the device sends nothing more; watch answers its pings
		// and marks the device ended when it goes away (the hub then forgets
		// it: see reap). What arrived with the resume is read at once;
		// counted here, as the handler's goroutine may yet read the socket
		// (closing it).
		go watch(conn, sb.reader.Buffered() > 0, sb.raw, d.socketEnded)
		if err := h.register(d); err != nil {
			d.end(err)
			return
		}
		// Wake-ups that arrive meanwhile wait in the inbox (running is
		// set), and are sent after the catch-up, in order.
		if err := d.catchUp(cursors); err != nil {
			d.end(err)
			return
		}
		d.drain()
	})
}

// watch reads the rest of a device's socket, as the library's CloseRead
// would, then calls gone. Until the device sends something it only waits
// for the socket to become readable, on a stack the runtime keeps at its
// smallest (2 KiB): the library's reader goes a dozen calls deep to block,
// and the runtime keeps its stack at 4 KiB, a third of what an idle device
// costs. A device's app sends nothing after its resume, so most sockets
// never leave the wait; a ping, a close, the connection's end or an error
// hands the socket to the library, which answers or closes it. It keeps
// raw, not the smallBuffers: those hold the HTTP server's buffers.
func watch(conn *websocket.Conn, buffered bool, raw net.Conn, gone func()) {
	defer gone()
	if !buffered {
		awaitReadable(raw)
	}
	// context.Background: the library then keeps no callback for the read.
	if _, _, err := conn.Reader(context.Background()); err == nil {
		conn.Close(websocket.StatusPolicyViolation, "unexpected data message")
		return
	}
	conn.CloseNow()
}

// readResume reads the device's first message. Its timeout is a timer, as
// for writes (see send): the library keeps the context of its last read.
func readResume(c *websocket.Conn) (map[string]int64, error) {
	t := time.AfterFunc(resumeTimeout, func() { c.CloseNow() })
	defer t.Stop()
	_, data, err := c.Read(context.Background())
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

// smallBuffers hands the WebSocket library small socket buffers in place
// of the HTTP server's 4 KiB ones: an idle device's memory is mostly its
// buffers. What the library writes goes through a frameWriter, kept in
// writer.
type smallBuffers struct {
	http.ResponseWriter
	writer *frameWriter
	reader *bufio.Reader // the library's, over raw
	raw    net.Conn      // the connection itself, for awaitReadable
}

func (w *smallBuffers) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func (w *smallBuffers) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, brw, err := http.NewResponseController(w.ResponseWriter).Hijack()
	if err != nil {
		return nil, nil, err
	}
	w.raw = conn
	w.writer = &frameWriter{conn: conn}
	out := bufio.NewWriterSize(w.writer, writeBuffer)
	conn = &gatheredConn{Conn: conn, w: w.writer}
	// What the server read ahead (net/http may hold the first byte of the
	// client's first frame) must be inside the new reader's buffer: the
	// WebSocket library takes over what is buffered, then reads the
	// connection itself.
	n := brw.Reader.Buffered()
	if n == 0 {
		w.reader = bufio.NewReaderSize(conn, readBuffer)
		return conn, bufio.NewReadWriter(w.reader, out), nil
	}
	ahead, _ := brw.Reader.Peek(n)
	w.reader = bufio.NewReaderSize(io.MultiReader(bytes.NewReader(bytes.Clone(ahead)), conn), max(readBuffer, n))
	if _, err := w.reader.Peek(n); err != nil {
		conn.Close()
		return nil, nil, err
	}
	return conn, bufio.NewReadWriter(w.reader, out), nil
}

// frameWriter is what the WebSocket library writes to the socket through.
// On a buffer as small as an idle device's, the library writes a frame in
// two: its header and the payload's first bytes, then the rest, and each
// write is a system call and a TCP segment (one write a frame took 8% less
// of the node's CPU for each event delivered; BENCHMARKS.md, 2026-12-05,
// sixth session). So between gather and flush whatever the library writes
// waits in a pooled buffer, and goes out in one write at flush: the frame
// sent, and anything another goroutine wrote meanwhile (a pong), in the
// order written. At other times writes go straight through. One goroutine
// sends to a device at a time (drain), so gathers never overlap.
type frameWriter struct {
	conn io.Writer
	mu   sync.Mutex
	buf  *[]byte // while gathering
}

var framePool = sync.Pool{New: func() any { b := make([]byte, 0, 2<<10); return &b }}

func (f *frameWriter) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.buf == nil {
		return f.conn.Write(p)
	}
	*f.buf = append(*f.buf, p...)
	return len(p), nil
}

// gather holds what is written until flush, or until the socket closes.
func (f *frameWriter) gather() {
	f.mu.Lock()
	f.buf = framePool.Get().(*[]byte)
	f.mu.Unlock()
}

// flush writes what was held, in one write, and stops holding.
func (f *frameWriter) flush() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	b := f.buf
	f.buf = nil
	if b == nil {
		return nil
	}
	var err error
	if len(*b) > 0 {
		_, err = f.conn.Write(*b)
	}
	*b = (*b)[:0]
	if cap(*b) <= 2*gatherMax {
		framePool.Put(b)
	}
	return err
}

// release writes out what is held, if no write is under way: the library
// closes the socket right after answering a close from the device, and a
// reply held by a gather must still go out first.
func (f *frameWriter) release() {
	if !f.mu.TryLock() {
		return // a flush is writing, and closing the socket is what ends it
	}
	defer f.mu.Unlock()
	if f.buf != nil && len(*f.buf) > 0 {
		f.conn.Write(*f.buf)
		*f.buf = (*f.buf)[:0]
	}
}

// gatheredConn is the socket as the library holds it: closing it first
// sends what a gather holds, within closeFlushTimeout.
type gatheredConn struct {
	net.Conn
	w *frameWriter
}

const closeFlushTimeout = time.Second

func (c *gatheredConn) Close() error {
	c.Conn.SetWriteDeadline(time.Now().Add(closeFlushTimeout))
	c.w.release()
	return c.Conn.Close()
}
