package server_test

import (
	"context"
	"log/slog"
	"testing"

	"github.com/openteller/openteller/internal/config"
	"github.com/openteller/openteller/internal/server"
	"github.com/openteller/openteller/internal/vault"
)

// testServer opens a node on SQLite and an embedded bus in a temporary
// directory, shut down when the test ends.
func testServer(t *testing.T) *server.Server {
	t.Helper()
	cfg := config.Default()
	cfg.DataDir, cfg.RootKey, cfg.Addr = t.TempDir(), vault.GenerateRootKey(), "127.0.0.1:0"
	if err := cfg.Resolve(); err != nil {
		t.Fatal(err)
	}
	srv, err := server.Open(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Shutdown(context.Background()) })
	return srv
}
