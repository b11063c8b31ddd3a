package server

import (
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

func TestGCPercent(t *testing.T) {
	for _, c := range []struct {
		scanned uint64
		want    int
	}{
		{0, 400},
		{8 << 20, 400},
		{16 << 20, 400},  // 64 MiB is 4× 16: Go's 400 exactly
		{32 << 20, 200},  // the headroom caps it
		{64 << 20, 100},  // headroom = scanned: Go's default
		{100 << 20, 100}, // 64% would be below it
		{1 << 30, 100},   // never below Go's default
	} {
		if got := gcPercent(c.scanned); got != c.want {
			t.Errorf("gcPercent(%d MiB) = %d, want %d", c.scanned>>20, got, c.want)
		}
	}
}

// gogc reads the collector's target as the runtime holds it.
func gogc() int {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int(s[0].Value.Uint64())
}

// waitGOGC waits until ok holds of the collector's target.
func waitGOGC(t *testing.T, what string, ok func(int) bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok(gogc()) {
		if time.Now().After(deadline) {
			t.Fatalf("GOGC is %d, want %s", gogc(), what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// keepGOGC puts the collector's target back after the test. None of this
// file's tests is parallel: the target belongs to the whole process.
func keepGOGC(t *testing.T, now int) {
	prev := debug.SetGCPercent(now)
	t.Cleanup(func() { debug.SetGCPercent(prev) })
}

func TestGCTargetFollowsTheLiveHeap(t *testing.T) {
	keepGOGC(t, 100)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	g := newGCTarget()
	go func() { g.follow(ctx, 10*time.Millisecond); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	runtime.GC()
	waitGOGC(t, "above 100 on a test's small heap", func(p int) bool { return p > 100 })

	ballast := make([]byte, gcHeadroom)
	runtime.GC()
	waitGOGC(t, "100 with the headroom's worth live", func(p int) bool { return p == 100 })
	runtime.KeepAlive(ballast) // and no further

	runtime.GC()
	waitGOGC(t, "above 100 again once the ballast is garbage", func(p int) bool { return p > 100 })
}

func TestTuneGC(t *testing.T) {
	t.Run("GOGC unset: tuned", func(t *testing.T) {
		t.Setenv("GOGC", "")
		os.Unsetenv("GOGC")
		keepGOGC(t, 50)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		runtime.GC()
		TuneGC(ctx) // sets the first target before it returns
		if got := gogc(); got <= 100 {
			t.Fatalf("after TuneGC on a test's small heap GOGC is %d, want above Go's 100", got)
		}
	})
	t.Run("GOGC set: left alone", func(t *testing.T) {
		t.Setenv("GOGC", "150")
		keepGOGC(t, 150)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		TuneGC(ctx)
		if got := gogc(); got != 150 {
			t.Fatalf("GOGC=150 in the environment, the collector's target is %d", got)
		}
	})
}
