// Package e2e tests the openteller binary from the outside, as a bank, a
// customer's browser and an operator would: it builds the binary once,
// starts it as a process, and talks to it only over HTTP and WebSockets.
//
// The browser tests (TestBrowser…) call t.Parallel: each drives its own
// Chromium and its own demo process and spends most of its time waiting
// on them, so go test runs two at a time (-parallel defaults to the
// number of cores). The other tests run one at a time, before them: some
// load the machine or time it (kill -9, a node killed under load, the
// benchmarks).
package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openteller/openteller/internal/banksim"
	"github.com/openteller/openteller/internal/demo"
	"github.com/openteller/openteller/pkg/bankapi"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "openteller-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "openteller")
	build := exec.Command("go", "build", "-o", binary, "../cmd/openteller")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// proc is a running openteller process whose output goes to the test log.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	done chan struct{}
	out  *lockedBuffer
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func start(t *testing.T, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(binary, args...)
	cmd.Env = append(os.Environ(), env...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &proc{t: t, cmd: cmd, done: make(chan struct{}), out: out}
	go func() { cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.stop()
		checkLogs(t, strings.Join(args, " "), out.String())
		if t.Failed() {
			t.Logf("output of %s:\n%s", strings.Join(args, " "), out.String())
		}
	})
	return p
}

// sentTexts holds what tests sent through the platform as content (bank
// messages, customers' words): no node's log may ever show any of it.
var sentTexts struct {
	sync.Mutex
	list []string
}

// sent notes content a test sends, for checkLogs.
func sent(texts ...string) {
	sentTexts.Lock()
	defer sentTexts.Unlock()
	sentTexts.list = append(sentTexts.list, texts...)
}

// checkLogs fails the test if anything a process wrote (its log records,
// and the rest of its output) holds anything a test sent as content.
// Every e2e test that starts a process runs it.
func checkLogs(t *testing.T, what, out string) {
	sentTexts.Lock()
	texts := slices.Clone(sentTexts.list)
	sentTexts.Unlock()
	// Every line: log records, and anything else the process wrote (a
	// panic's trace, a record broken over lines, the demo's banner).
	for _, line := range strings.Split(out, "\n") {
		for _, text := range texts {
			if strings.Contains(line, text) {
				t.Errorf("the log of %s shows content that was sent, %q: %s", what, text, line)
			}
		}
	}
}

// stop ends the process gracefully (SIGTERM) and waits for it.
func (p *proc) stop() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		p.cmd.Process.Kill()
		<-p.done
	}
}

// kill ends the process with SIGKILL: no shutdown code runs.
func (p *proc) kill() {
	p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// waitReady polls GET base/readyz until it answers 200.
func (p *proc) waitReady(base string) {
	p.t.Helper()
	if err := p.ready(base); err != nil {
		p.t.Fatal(err)
	}
}

// ready polls GET base/readyz until it answers 200, and says why not if
// the process exits first or a minute passes. Each poll has a timeout: a
// process that is not ours may hold the port and never answer.
func (p *proc) ready(base string) error {
	client := &http.Client{Timeout: 5 * time.Second}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := client.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-p.done:
			return fmt.Errorf("process exited before it was ready:\n%s", p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return fmt.Errorf("%s not ready after 60s:\n%s", base, p.out.String())
}

// waitFile waits until path exists.
func (p *proc) waitFile(path string) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if _, err := os.Stat(path); err == nil {
			return
		}
		select {
		case <-p.done:
			p.t.Fatalf("process exited before writing %s:\n%s", path, p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	p.t.Fatalf("%s not written after 60s:\n%s", path, p.out.String())
}

// demoInfo is <data>/demo.json.
type demoInfo = demo.Info

// startDemo runs `openteller demo` on fresh ports and returns it with its
// demo.json once the platform is ready. A port free a moment ago can be
// taken before the demo binds it (by another test's process, or as the
// local port of any outgoing connection); the demo then exits at once,
// and startDemo tries fresh ports, three times in all.
func startDemo(t *testing.T, dataDir string, extra ...string) (*proc, demoInfo) {
	t.Helper()
	for attempt := 1; ; attempt++ {
		addr, bankAddr := freeAddr(t), freeAddr(t)
		// No scheduled fraud alert: tests raise their own when they want one.
		args := append([]string{"demo", "--addr", addr, "--data", dataDir, "--bank-addr", bankAddr, "--first-alert", "0"}, extra...)
		p := start(t, nil, args...)
		// Another process on our port could answer readyz; the demo.json
		// this demo writes names both of its ports.
		err := p.ready("http://" + addr)
		var info demoInfo
		if err == nil {
			info, err = waitDemo(p, dataDir, "http://"+addr, "http://"+bankAddr)
		}
		if err == nil {
			return p, info
		}
		p.stop()
		out := p.out.String()
		taken := strings.Contains(out, "listen tcp "+addr+": bind: address already in use") ||
			strings.Contains(out, "listen tcp "+bankAddr+": bind: address already in use")
		if attempt == 3 || !taken {
			t.Fatal(err)
		}
		t.Logf("demo attempt %d: a port was taken before the demo bound it; trying fresh ones", attempt)
	}
}

// waitDemo waits until demo.json names the running platform and its bank
// (a demo started before on the same data folder left its own ports there).
func waitDemo(p *proc, dataDir, base, bank string) (demoInfo, error) {
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if b, err := os.ReadFile(filepath.Join(dataDir, "demo.json")); err == nil {
			var d demoInfo
			if json.Unmarshal(b, &d) == nil && d.BaseURL == base && d.BankURL == bank {
				return d, nil
			}
		}
		select {
		case <-p.done:
			return demoInfo{}, fmt.Errorf("demo exited:\n%s", p.out.String())
		case <-time.After(50 * time.Millisecond):
		}
	}
	return demoInfo{}, fmt.Errorf("demo.json not written for %s:\n%s", base, p.out.String())
}

// customer is a scripted person at the messenger, failing the test on error.
type customer struct {
	*demo.Customer
	t *testing.T
}

func newCustomer(t *testing.T, base string) *customer {
	return &customer{Customer: demo.NewCustomer(base), t: t}
}

func ctxT(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// on is the same signed-in customer talking to another node: sessions live
// in the shared store, and cookies do not depend on the port.
func (c *customer) on(base string) *customer {
	d := *c.Customer
	d.Base = base
	return &customer{Customer: &d, t: c.t}
}

func (c *customer) signUp(email, password string) {
	c.t.Helper()
	if err := c.SignUp(ctxT(c.t), email, password); err != nil {
		c.t.Fatalf("sign-up: %v", err)
	}
}

func (c *customer) signIn(email, password string) {
	c.t.Helper()
	if err := c.SignIn(ctxT(c.t), email, password); err != nil {
		c.t.Fatalf("sign-in: %v", err)
	}
}

func (c *customer) conversations() []demo.Conversation {
	c.t.Helper()
	convs, err := c.Conversations(ctxT(c.t))
	if err != nil {
		c.t.Fatalf("conversations: %v", err)
	}
	return convs
}

// link connects the simulated bank through its sign-in page.
func (c *customer) link(institutionID string, scopes ...string) demo.Conversation {
	c.t.Helper()
	conv, err := c.Link(ctxT(c.t), institutionID, scopes, banksim.DemoUsername(), banksim.DemoPassword())
	if err != nil {
		c.t.Fatalf("link: %v", err)
	}
	for _, cv := range c.conversations() {
		if cv.ID == conv {
			return cv
		}
	}
	c.t.Fatalf("conversation %s not listed", conv)
	return demo.Conversation{}
}

// socket is a customer's live connection.
type socket struct {
	t       *testing.T
	conn    *websocket.Conn
	pending []frame // events of a frame that carried several, not yet read
}

// dial opens the customer's live connection to base (any node) and
// resumes from cursors.
func (c *customer) dial(base string, cursors map[string]int64) *socket {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	conn, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/app/ws", &websocket.DialOptions{
		HTTPHeader: http.Header{"Cookie": {c.Cookie()}, "Origin": {base}},
	})
	if err != nil {
		c.t.Fatalf("dial: %v", err)
	}
	conn.SetReadLimit(4 << 20)
	c.t.Cleanup(func() { conn.CloseNow() })
	msg, _ := json.Marshal(map[string]any{"type": "resume", "cursors": cursors})
	if err := conn.Write(ctx, websocket.MessageText, msg); err != nil {
		c.t.Fatal(err)
	}
	return &socket{t: c.t, conn: conn}
}

// frame is one frame of the live protocol; an "events" frame is read as
// one "event" frame per event it carries, in order.
type frame struct {
	Type           string            `json:"type"`
	ConversationID string            `json:"conversation_id"`
	Conversation   demo.Conversation `json:"conversation"`
	Event          wireEvent         `json:"event"`
	Events         []wireEvent       `json:"events"`
}

type wireEvent struct {
	Seq         int64           `json:"seq"`
	Type        string          `json:"type"`
	Author      string          `json:"author"`
	Data        json.RawMessage `json:"data"`
	ReplacesSeq int64           `json:"replaces_seq"`
}

// next reads the next frame, failing the test after timeout.
func (s *socket) next(timeout time.Duration) frame {
	s.t.Helper()
	if len(s.pending) > 0 {
		f := s.pending[0]
		s.pending = s.pending[1:]
		return f
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	_, data, err := s.conn.Read(ctx)
	if err != nil {
		s.t.Fatalf("socket read: %v", err)
	}
	var f frame
	if err := json.Unmarshal(data, &f); err != nil {
		s.t.Fatal(err)
	}
	if f.Type == "events" {
		if len(f.Events) == 0 {
			s.t.Fatalf("an events frame with no events: %s", data)
		}
		for _, e := range f.Events {
			s.pending = append(s.pending, frame{Type: "event", ConversationID: f.ConversationID, Event: e})
		}
		return s.next(timeout)
	}
	return f
}

// await reads frames until match returns true for an event frame.
func (s *socket) await(timeout time.Duration, match func(frame) bool) frame {
	s.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		left := time.Until(deadline)
		if left <= 0 {
			s.t.Fatal("awaited event did not arrive")
		}
		f := s.next(left)
		if f.Type == "event" && match(f) {
			return f
		}
	}
}

// bank posts events with an institution's API key.
type bank struct {
	t      *testing.T
	client *bankapi.Client
}

func newBank(t *testing.T, base, apiKey string) *bank {
	return &bank{t: t, client: bankapi.NewClient(base, apiKey)}
}

func message(id, linkID, text string) bankapi.Event {
	sent(text)
	return bankapi.Event{ID: id, LinkID: linkID, Type: bankapi.TypeMessage, OccurredAt: time.Now().UTC(), Data: bankapi.Message{Text: text}}
}

func (b *bank) post(evs ...bankapi.Event) []bankapi.EventResult {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	res, err := b.client.PostEvents(ctx, evs)
	if err != nil {
		b.t.Fatalf("post events: %v", err)
	}
	return res
}
