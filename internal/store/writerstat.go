package store

import (
	"sync/atomic"
	"time"
)

// WriterStats is what a store's group-commit writer counts of itself, for
// the operator: how many groups it committed, how many writes they held,
// and how long it was busy with them, its commits included. Busy time
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

// Stat reads the counts so far.
func (w *WriterStats) Stat() WriterStat {
	return WriterStat{Groups: w.groups.Load(), Writes: w.writes.Load(),
		Busy: time.Duration(w.busy.Load()), Commit: time.Duration(w.commit.Load())}
}
