package server

import (
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"testing"
)

// TestServeDebugSamplesMutexes: the debug listener turns on the mutex
// profile it serves, and serves it.
func TestServeDebugSamplesMutexes(t *testing.T) {
	defer runtime.SetMutexProfileFraction(runtime.SetMutexProfileFraction(-1))
	runtime.SetMutexProfileFraction(0)
	var logged strings.Builder
	stop, err := ServeDebug("127.0.0.1:0", slog.New(slog.NewTextHandler(&logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if got := runtime.SetMutexProfileFraction(-1); got != mutexSampling {
		t.Errorf("mutex profile fraction %d, want %d", got, mutexSampling)
	}
	_, addr, ok := strings.Cut(logged.String(), "addr=")
	if !ok {
		t.Fatalf("the listener's address was not logged: %q", logged.String())
	}
	resp, err := http.Get("http://" + strings.TrimSpace(addr) + "/debug/pprof/mutex")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(body) == 0 {
		t.Errorf("GET /debug/pprof/mutex: %s, %d bytes", resp.Status, len(body))
	}
}
