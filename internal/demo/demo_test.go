package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/config"
	"github.com/openteller/openteller/internal/server"
)

// TestBankTakesAFreePortWhenTheNextIsTaken runs the demo twice on one data
// directory, each time with the port after the platform's taken: the bank
// must come up elsewhere, and the port it got must be the one demo.json,
// the banner and the institution's OAuth endpoints name.
func TestBankTakesAFreePortWhenTheNextIsTaken(t *testing.T) {
	dir := t.TempDir()
	var previous net.Listener // the first run's bank port, held so the second must move
	for run := 1; run <= 2; run++ {
		addr, taken := addrWithNextTaken(t)
		cfg := config.Default()
		cfg.Addr, cfg.BaseURL, cfg.DataDir = addr, "", dir
		cfg.Database, cfg.NATS, cfg.RootKey, cfg.RootKeyFile = "", "", "", ""
		if err := cfg.Resolve(); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		out := &lockedBuffer{}
		done := make(chan error, 1)
		go func() {
			done <- Run(ctx, Options{Config: cfg, Activity: time.Hour, Stdout: out, Logger: slog.New(slog.DiscardHandler)})
		}()
		waitBanner(t, out, done)
		var info Info
		b, err := os.ReadFile(filepath.Join(dir, "demo.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal(b, &info); err != nil {
			t.Fatal(err)
		}
		u, err := url.Parse(info.BankURL)
		if err != nil || info.BaseURL != cfg.BaseURL {
			t.Fatalf("run %d: demo.json = %+v", run, info)
		}
		if u.Host == taken {
			t.Fatalf("run %d: bank_url %s is the port that was taken", run, info.BankURL)
		}
		if !strings.Contains(out.String(), "Demo bank  "+info.BankURL+" ") {
			t.Fatalf("run %d: the banner does not name the bank at %s:\n%s", run, info.BankURL, out.String())
		}
		resp, err := http.Get(info.BankURL + "/authorize")
		if err != nil {
			t.Fatalf("run %d: the bank does not answer at %s: %v", run, info.BankURL, err)
		}
		resp.Body.Close()

		cancel()
		if err := <-done; err != nil {
			t.Fatalf("run %d: %v", run, err)
		}
		st, err := server.OpenStore(context.Background(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		inst, err := st.Institution(context.Background(), info.InstitutionID)
		st.Close()
		if err != nil {
			t.Fatal(err)
		}
		if inst.AuthorizeURL != info.BankURL+"/authorize" || inst.TokenURL != info.BankURL+"/token" {
			t.Fatalf("run %d: the institution's endpoints are %s and %s, the bank is at %s", run, inst.AuthorizeURL, inst.TokenURL, info.BankURL)
		}
		if previous != nil {
			previous.Close()
		}
		previous, _ = net.Listen("tcp", u.Host) // best effort: nil if it could not be held
	}
	if previous != nil {
		previous.Close()
	}
}

func TestBankAddrAskedForMustBeHad(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	if ln, err := listenBank("127.0.0.1:0", busy.Addr().String()); err == nil {
		ln.Close()
		t.Fatalf("--bank-addr %s is taken, yet the bank listened", busy.Addr())
	}
}

// addrWithNextTaken returns a loopback address whose port was free a moment
// ago and the address after it, which a listener holds until the test ends.
func addrWithNextTaken(t *testing.T) (addr, taken string) {
	t.Helper()
	for range 50 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if port >= 65535 {
			continue
		}
		next, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port+1)))
		if err != nil {
			continue
		}
		t.Cleanup(func() { next.Close() })
		return ln.Addr().String(), next.Addr().String()
	}
	t.Fatal("no port with a free port after it")
	return "", ""
}

// waitBanner waits until the demo has printed its banner, which it does
// once demo.json is written.
func waitBanner(t *testing.T, out *lockedBuffer, done <-chan error) {
	t.Helper()
	deadline := time.After(60 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(out.String(), "Press Ctrl+C to stop.") {
		select {
		case err := <-done:
			t.Fatalf("the demo stopped before it was ready: %v", err)
		case <-deadline:
			t.Fatalf("no banner after 60s:\n%s", out.String())
		case <-tick.C:
		}
	}
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
