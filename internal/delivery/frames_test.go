package delivery

import (
	"bytes"
	"context"
	"fmt"
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
		sb.frames.mu.Lock()
		writes.w, sb.frames.conn = sb.frames.conn, writes
		sb.frames.mu.Unlock()
		c.CloseRead(context.Background()) // answers pings, as a device's socket does
		server <- c
		frames <- sb.frames
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

// TestFramesAndPongsInOrder: while frames are gathered, the library's
// pongs (written by the socket's reader) still go out, and no frame is
// torn or reordered by them.
func TestFramesAndPongsInOrder(t *testing.T) {
	server, frames, _, client := frameServer(t)
	c, w := <-server, <-frames
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	const n = 2000
	frame := func(i int) []byte { return bytes.Repeat([]byte{byte('a' + i%26)}, 100+i%500) }
	sent := make(chan error, 1)
	go func() {
		for i := range n {
			if err := sendFrame(c, w, frame(i)); err != nil {
				sent <- err
				return
			}
		}
		sent <- nil
	}()
	got := make(chan error, 1)
	go func() {
		for i := 0; ; i++ {
			_, data, err := client.Read(ctx) // also takes in the pongs
			switch {
			case i >= n:
				return // read on only for the pings
			case err != nil:
				got <- err
				return
			case !bytes.Equal(data, frame(i)):
				got <- fmt.Errorf("frame %d: %d bytes, want %d", i, len(data), len(frame(i)))
				return
			case i == n-1:
				got <- nil
			}
		}
	}()
	for i := range 50 {
		if err := client.Ping(ctx); err != nil {
			t.Fatalf("ping %d while frames go out: %v", i, err)
		}
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	if err := <-got; err != nil {
		t.Fatal(err)
	}
}
