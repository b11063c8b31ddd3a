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
	// commits counts the groups' commits by how long each took: within
	// CommitBounds[i] and over the one before in commits[i], over the last
	// bound in the last.
	commits [len(CommitBounds) + 1]atomic.Int64
}

// CommitBounds are the upper bounds of the commit times WriterStats
// counts apart. A commit over 50 ms holds every write queued behind it
// that long: a disk that stalls shows there (BENCHMARKS.md, fifteenth
// session).
var CommitBounds = [...]time.Duration{time.Millisecond, 2 * time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond,
	20 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second, 2500 * time.Millisecond}

// WriterStat is one reading of WriterStats.
type WriterStat struct {
	Groups, Writes int64
	// Busy is the time from taking each group to answering its callers;
	// Commit, the part of it spent committing.
	Busy, Commit time.Duration
	// Commits counts the commits within each of CommitBounds, each count
	// including those of the bounds before it (as a Prometheus histogram
	// does); CommitsAll counts them all.
	Commits    [len(CommitBounds)]int64
	CommitsAll int64
}

// Group records a group of writes the writer took, applied, committed (or
// failed to) and answered.
func (w *WriterStats) Group(writes int, busy, commit time.Duration) {
	w.groups.Add(1)
	w.writes.Add(int64(writes))
	w.busy.Add(int64(busy))
	if commit > 0 { // 0: the group failed before its commit
		i := 0
		for i < len(CommitBounds) && commit > CommitBounds[i] {
			i++
		}
		w.commits[i].Add(1)
	}
	w.commit.Add(int64(commit))
}

// Stat reads the counts so far, in the reverse of the order Group adds
// them: a reading taken during a Group never shows more time committing
// than busy.
func (w *WriterStats) Stat() WriterStat {
	commit, busy := w.commit.Load(), w.busy.Load()
	st := WriterStat{Busy: time.Duration(busy), Commit: time.Duration(commit)}
	for i := range w.commits {
		st.CommitsAll += w.commits[i].Load()
		if i < len(st.Commits) {
			st.Commits[i] = st.CommitsAll
		}
	}
	st.Writes = w.writes.Load()
	st.Groups = w.groups.Load()
	return st
}
