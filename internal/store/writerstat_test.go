package store

import (
	"testing"
	"time"
)

// TestWriterStatCountsCommitsByTime: each commit lands in the first bound
// it is within, counts are cumulative, and a group that failed before its
// commit (0) is no commit.
func TestWriterStatCountsCommitsByTime(t *testing.T) {
	var w WriterStats
	for _, commit := range []time.Duration{0, 500 * time.Microsecond, time.Millisecond, 30 * time.Millisecond, 3 * time.Second} {
		w.Group(2, commit+time.Millisecond, commit)
	}
	st := w.Stat()
	if st.Groups != 5 || st.Writes != 10 || st.CommitsAll != 4 {
		t.Fatalf("groups %d, writes %d, commits %d; want 5, 10, 4", st.Groups, st.Writes, st.CommitsAll)
	}
	want := map[time.Duration]int64{time.Millisecond: 2, 20 * time.Millisecond: 2, 50 * time.Millisecond: 3, 2500 * time.Millisecond: 3}
	for i, bound := range CommitBounds {
		if n, ok := want[bound]; ok && st.Commits[i] != n {
			t.Errorf("commits within %v: %d, want %d", bound, st.Commits[i], n)
		}
	}
	if st.Commit != 3*time.Second+31500*time.Microsecond {
		t.Errorf("time committing %v", st.Commit)
	}
}
