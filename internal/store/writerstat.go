package store

import (
	"context"
	"runtime/pprof"
	"sync/atomic"
	"time"
)

// GoWriter starts run, a store's group-commit writer, on a goroutine
// that carries the profiler label writer=name before GoWriter returns, so
// that its share of a CPU profile can be read alone: go tool pprof
// -tagfocus=writer=sqlite. The writer is the node's serial part under
// load, and in a whole-node profile its work is mixed with the same
// functions run by readers. Goroutines the writer starts inherit the
// label (on PostgreSQL, a connection the pool opens when the appender
// finds none idle). The caller's own labels are left as they were.
func GoWriter(name string, run func()) {
	labelled := make(chan struct{})
	go func() {
		pprof.SetGoroutineLabels(pprof.WithLabels(context.Background(), pprof.Labels("writer", name)))
		close(labelled)
		run()
	}()
	<-labelled
}

// WriterStats is what a store's group-commit writer counts of itself, for
// the operator: how many groups of writes it committed or tried, how many
// writes they held, and how long it was busy with them, its commits
// included. A group is counted before its writers are answered. Busy time
// growing by nearly a second each second says the writer is what holds
// the node back: every write waits its turn there (BENCHMARKS.md,
// 2026-12-05, eighth session). Its methods are safe for concurrent use.
type WriterStats struct {
	groups, writes atomic.Int64
	busy, commit   atomic.Int64 // nanoseconds
}

// WriterStat is one reading of WriterStats.
type WriterStat struct {
	Groups, Writes int64
	// Busy is the time from taking each group to answering its callers;
	// Commit, the part of it spent committing.
	Busy, Commit time.Duration
}

// Group records a group of writes the writer took, applied, committed (or
// failed to) and answered.
func (w *WriterStats) Group(writes int, busy, commit time.Duration) {
	w.groups.Add(1)
	w.writes.Add(int64(writes))
	w.busy.Add(int64(busy))
	w.commit.Add(int64(commit))
}

// Stat reads the counts so far, in the reverse of the order Group adds
// them: a reading taken during a Group never shows more time committing
// than busy.
func (w *WriterStats) Stat() WriterStat {
	commit, busy := w.commit.Load(), w.busy.Load()
	writes := w.writes.Load()
	return WriterStat{Groups: w.groups.Load(), Writes: writes, Busy: time.Duration(busy), Commit: time.Duration(commit)}
}
