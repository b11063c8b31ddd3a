package delivery

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
)

// countingWriter counts the writes that reach the socket.
type countingWriter struct {
	w      io.Writer
	writes atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.writes.Add(1)
	return c.w.Write(p)
}

// frameServer accepts one socket as the hub does and hands it over, with
// the writes that reach it counted.
func frameServer(t *testing.T) (server chan *websocket.Conn, frames chan *frameWriter, writes *countingWriter, client *websocket.Conn) {
	server, frames, writes = make(chan *websocket.Conn, 1), make(chan *frameWriter, 1), &countingWriter{}
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sb := &smallBuffers{ResponseWriter: w}
		c, err := websocket.Accept(sb, r, nil)
		if err != nil {
			t.Error(err)
			return
		}
		sb.writer.mu.Lock()
		writes.w, sb.writer.conn = sb.writer.conn, writes
		sb.writer.mu.Unlock()
		go watch(c, sb.reader.Buffered() > 0, sb.raw, func() {}) // answers pings, as on a device's socket
		server <- c
		frames <- sb.writer
		<-done
		c.CloseNow()
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	client, _, err := websocket.Dial(ctx, strings.Replace(srv.URL, "http", "ws", 1), nil)
	if err != nil {
		t.Fatal(err)
	}
	client.SetReadLimit(1 << 20)
	t.Cleanup(func() { client.CloseNow() })
	return server, frames, writes, client
}

// TestFrameInOneWrite: a frame up to gatherMax reaches the socket in one
// write, whatever the size of the library's buffer; a larger one as the
// library writes it. Each arrives whole.
func TestFrameInOneWrite(t *testing.T) {
	server, frames, writes, client := frameServer(t)
	c, w := <-server, <-frames
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, size := range []int{1, writeBuffer - 4, writeBuffer, 300, 5000, gatherMax - 14, gatherMax + 1, 100 << 10} {
		data := bytes.Repeat([]byte{'a' + byte(size%26)}, size)
		before := writes.writes.Load()
		if err := sendFrame(c, w, data); err != nil {
			t.Fatalf("%d bytes: %v", size, err)
		}
		n := writes.writes.Load() - before
		switch {
		case size <= gatherMax && n != 1:
			t.Errorf("a frame of %d bytes took %d writes, want 1", size, n)
		case size > gatherMax && n < 2:
			t.Errorf("a frame of %d bytes, past gatherMax, took %d write: was it copied whole?", size, n)
		}
		typ, got, err := client.Read(ctx)
		if err != nil || typ != websocket.MessageText || !bytes.Equal(got, data) {
			t.Fatalf("%d bytes sent, read %d (%v, %v)", size, len(got), typ, err)
		}
	}
}

// held is how many bytes w holds.
func held(w *frameWriter) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.buf == nil {
		return -1
	}
	return len(*w.buf)
}

// TestPongWhileGathering: a pong the socket's reader writes during a
// gather is held with the frame, and goes out, after it, at flush.
func TestPongWhileGathering(t *testing.T) {
	server, frames, _, client := frameServer(t)
	c, w := <-server, <-frames
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	read := make(chan []byte, 1)
	go func() { // the client's reads take in its pongs too
		_, data, _ := client.Read(ctx)
		read <- data
		client.Read(ctx)
	}()
	w.gather()
	if err := c.Write(ctx, websocket.MessageText, []byte("the frame")); err != nil {
		t.Fatal(err)
	}
	frame := held(w)
	pinged := make(chan error, 1)
	go func() { pinged <- client.Ping(ctx) }()
	for held(w) == frame {
		time.Sleep(time.Millisecond) // until the server's reader has written its pong
	}
	select {
	case err := <-pinged:
		t.Fatalf("the ping was answered (%v) while its pong was held", err)
	case <-read:
		t.Fatal("the frame arrived before flush")
	case <-time.After(50 * time.Millisecond):
	}
	if err := w.flush(); err != nil {
		t.Fatal(err)
	}
	if got := <-read; string(got) != "the frame" {
		t.Fatalf("read %q", got)
	}
	if err := <-pinged; err != nil {
		t.Fatalf("ping: %v", err)
	}
}

// TestCloseWhileGathering: a device that closes its socket while a frame
// to it is gathered still gets the close reply, before the library closes
// the connection, so its close is clean.
func TestCloseWhileGathering(t *testing.T) {
	server, frames, _, client := frameServer(t)
	c, w := <-server, <-frames
	w.gather()
	closed := make(chan error, 1)
	go func() { closed <- client.Close(websocket.StatusNormalClosure, "bye") }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("the device's close: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the device's close was not answered")
	}
	if err := w.flush(); err != nil {
		t.Errorf("flush after the close sent what was held: %v", err)
	}
	if err := sendFrame(c, w, []byte("too late")); err == nil {
		t.Error("a frame to a closed socket was sent")
	}
}
