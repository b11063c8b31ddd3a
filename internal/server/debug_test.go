package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestMutexSamplingOnlyWhileAsked: the debug listener leaves mutex
// sampling off, turns it on while a mutex profile of some seconds is
// taken, serves that profile, and turns it off again.
func TestMutexSamplingOnlyWhileAsked(t *testing.T) {
	defer runtime.SetMutexProfileFraction(runtime.SetMutexProfileFraction(-1))
	runtime.SetMutexProfileFraction(0)
	var logged strings.Builder
	stop, err := ServeDebug("127.0.0.1:0", slog.New(slog.NewTextHandler(&logged, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer stop()
	if got := runtime.SetMutexProfileFraction(-1); got != 0 {
		t.Fatalf("mutex sampling %d with nobody asking, want 0", got)
	}
	_, addr, ok := strings.Cut(logged.String(), "addr=")
	if !ok {
		t.Fatalf("the listener's address was not logged: %q", logged.String())
	}
	type answer struct {
		status int
		body   []byte
		err    error
	}
	done := make(chan answer, 1)
	go func() {
		resp, err := http.Get("http://" + strings.TrimSpace(addr) + "/debug/pprof/mutex?seconds=1")
		if err != nil {
			done <- answer{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		done <- answer{resp.StatusCode, body, err}
	}()
	sampled := false
	for deadline := time.Now().Add(10 * time.Second); !sampled && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		sampled = runtime.SetMutexProfileFraction(-1) == mutexSampling
	}
	if !sampled {
		t.Error("mutex sampling never turned on while a profile was taken")
	}
	a := <-done
	if a.err != nil || a.status != http.StatusOK || len(a.body) == 0 {
		t.Fatalf("GET /debug/pprof/mutex?seconds=1: %d, %d bytes, %v", a.status, len(a.body), a.err)
	}
	if got := runtime.SetMutexProfileFraction(-1); got != 0 {
		t.Errorf("mutex sampling %d after the profile was served, want 0", got)
	}
}

// TestMutexSamplingEndsWithItsRequest: a mutex profile whose client goes
// away before its seconds are up leaves the sampling off, as do
// overlapping requests once the last has ended.
func TestMutexSamplingEndsWithItsRequest(t *testing.T) {
	defer runtime.SetMutexProfileFraction(runtime.SetMutexProfileFraction(-1))
	runtime.SetMutexProfileFraction(0)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/debug/pprof/mutex?seconds=30", nil)
			mutexProfile(httptest.NewRecorder(), req)
		})
	}
	sampled := false
	for deadline := time.Now().Add(10 * time.Second); !sampled && time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		sampled = runtime.SetMutexProfileFraction(-1) == mutexSampling
	}
	if !sampled {
		t.Error("mutex sampling never turned on while profiles were taken")
	}
	cancel() // both clients go away long before their 30 s
	wg.Wait()
	if got := runtime.SetMutexProfileFraction(-1); got != 0 {
		t.Errorf("mutex sampling %d after both requests ended, want 0", got)
	}
}
