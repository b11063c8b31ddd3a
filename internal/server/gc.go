package server

import (
	"context"
	"os"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// The garbage collector's target. A node's work allocates per event, and
// while it holds few sockets its live heap is small (tens of MiB), so
// collecting at 5× the live heap instead of Go's 2× buys throughput for
// memory it has. Five times a large live heap is another matter: a node
// holding 10,000 idle sockets keeps about 60 MiB live, and at 5× it held
// 3 KiB more per socket than at 2× (BENCHMARKS.md, 2026-12-05, fourth
// session); at 100,000 sockets the headroom alone would be gigabytes. So
// the heap may grow between collections by at most GCHeadroom beyond what
// is live, and never by less than Go's default, the live heap itself.
const (
	GCHeadroom   = 64 << 20
	gcPercentMax = 400
	gcPercentMin = 100 // Go's default
	gcRetune     = time.Second
)

// GCPercent is the collector's target, as GOGC counts it, for a live heap
// of live bytes.
func GCPercent(live uint64) int {
	if live == 0 {
		return gcPercentMax
	}
	return int(min(max(GCHeadroom*100/live, gcPercentMin), gcPercentMax))
}

// TuneGC keeps the collector's target at GCPercent of the live heap, read
// every second, until ctx ends. GOGC in the environment overrides it, and
// GOMEMLIMIT still caps the heap either way.
func TuneGC(ctx context.Context) {
	if os.Getenv("GOGC") != "" {
		return
	}
	go tuneGC(ctx, gcRetune)
}

func tuneGC(ctx context.Context, every time.Duration) {
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	t := time.NewTicker(every)
	defer t.Stop()
	for last := 0; ; {
		metrics.Read(live)
		if p := GCPercent(live[0].Value.Uint64()); p != last {
			debug.SetGCPercent(p)
			last = p
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
