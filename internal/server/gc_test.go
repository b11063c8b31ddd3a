package server

import (
	"context"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestGCPercent(t *testing.T) {
	for _, c := range []struct {
		live uint64
		want int
	}{
		{0, 400},
		{8 << 20, 400},
		{16 << 20, 400},  // 64 MiB is 4× 16: Go's 400 exactly
		{32 << 20, 200},  // the headroom caps it
		{64 << 20, 100},  // headroom = live: Go's default
		{1 << 30, 100},   // never below Go's default
		{100 << 20, 100}, // 64% would be below it
	} {
		if got := GCPercent(c.live); got != c.want {
			t.Errorf("GCPercent(%d MiB) = %d, want %d", c.live>>20, got, c.want)
		}
	}
}

// gogc reads the collector's target as the runtime holds it.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// waitGOGC waits for the collector's target to become want.
func waitGOGC(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for gogc() != want {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is %d, want %d", gogc(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Not parallel: the collector's target belongs to the whole process.
func TestTuneGCFollowsTheLiveHeap(t *testing.T) {
	t.Setenv("GOGC", "")
	prev := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { tuneGC(ctx, 10*time.Millisecond); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	runtime.GC()
	waitGOGC(t, 400) // a test binary's live heap is a few MiB

	ballast := make([]byte, 2*GCHeadroom)
	runtime.GC()
	waitGOGC(t, 100)
	runtime.KeepAlive(ballast) // and no further

	runtime.GC()
	waitGOGC(t, 400)
}

func TestTuneGCLeavesGOGCToTheOperator(t *testing.T) {
	t.Setenv("GOGC", "150")
	prev := debug.SetGCPercent(150)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	TuneGC(ctx)
	time.Sleep(50 * time.Millisecond)
	if got := gogc(); got != 150 {
		t.Fatalf("GOGC=150 in the environment, the collector's target is %d", got)
	}
}
