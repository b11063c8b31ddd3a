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
// session); at 100,000 sockets the headroom alone would be gigabytes.
const (
	// gcHeadroom is how far the heap may grow between collections beyond
	// what the collector scans (live heap, goroutine stacks, globals)
	// while that is under gcHeadroom; from there on, Go's default: as far
	// as what it scans.
	gcHeadroom   = 64 << 20
	gcPercentMax = 400
	gcPercentMin = 100 // Go's default
	gcRetune     = time.Second
)

// gcPercent is the collector's target, as GOGC counts it, when the last
// collection scanned scanned bytes.
func gcPercent(scanned uint64) int {
	if scanned == 0 {
		return gcPercentMax
	}
	return int(min(max(gcHeadroom*100/scanned, gcPercentMin), gcPercentMax))
}

// TuneGC sets the collector's target to gcPercent of what it scans, and
// keeps it there, read again every second, until ctx ends. GOGC in the
// environment overrides it (GOGC=100 is Go's default), and GOMEMLIMIT
// still caps the heap either way.
func TuneGC(ctx context.Context) {
	if os.Getenv("GOGC") != "" {
		return
	}
	g := newGCTarget()
	g.retune()
	go g.follow(ctx, gcRetune)
}

// gcTarget sets the collector's target from what it scanned last.
type gcTarget struct {
	scanned []metrics.Sample
	last    int
}

func newGCTarget() *gcTarget {
	return &gcTarget{scanned: []metrics.Sample{
		// GOGC's percentage is of these three together.
		{Name: "/gc/heap/live:bytes"},
		{Name: "/gc/scan/stack:bytes"},
		{Name: "/gc/scan/globals:bytes"},
	}}
}

func (g *gcTarget) retune() {
	metrics.Read(g.scanned)
	var sum uint64
	for _, s := range g.scanned {
		sum += s.Value.Uint64()
	}
	if p := gcPercent(sum); p != g.last {
		debug.SetGCPercent(p)
		g.last = p
	}
}

func (g *gcTarget) follow(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			g.retune()
		}
	}
}
