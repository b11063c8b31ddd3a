package server_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/openteller/openteller/internal/config"
	"github.com/openteller/openteller/internal/server"
	"github.com/openteller/openteller/internal/vault"
)

// lockedBuffer is a log destination safe for the node's goroutines.
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

// TestInternalErrorsReachTheNodesLogger: when a handler fails inside (here
// the store has gone away), the client gets the generic sentence and the
// failure's text goes to the logger the node was given, with the request
// it failed; no package logs through the global logger (a deps test keeps
// it so).
func TestInternalErrorsReachTheNodesLogger(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir, cfg.RootKey, cfg.Addr = t.TempDir(), vault.GenerateRootKey(), "127.0.0.1:0"
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	var logs lockedBuffer
	srv, err := server.Open(context.Background(), cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	srv.Store.Close()

	req := httptest.NewRequest("POST", "/app/api/signup", strings.NewReader(`{"email":"ada@example.com","password":"correct horse battery"}`))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)

	if rec.Code != http.StatusInternalServerError || !strings.Contains(rec.Body.String(), `"code":"internal"`) {
		t.Fatalf("signup with the store gone: %d %s", rec.Code, rec.Body.String())
	}
	if strings.Contains(rec.Body.String(), "sqlite") || strings.Contains(rec.Body.String(), "closed") {
		t.Errorf("the client was told the internal error's text: %s", rec.Body.String())
	}
	var line string
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, `msg="internal error"`) {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no internal error in the node's log:\n%s", logs.String())
	}
	for _, want := range []string{"method=POST", "path=/app/api/signup", "err="} {
		if !strings.Contains(line, want) {
			t.Errorf("the logged internal error lacks %q: %s", want, line)
		}
	}
}
