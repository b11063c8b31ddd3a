package storetest

import (
	"bytes"
	"runtime/pprof"
	"strconv"
	"testing"
)

// WriterLabelled fails t unless a goroutine running fn (a function name
// as stack traces print it, such as "sqlite.(*Store).writer") carries the
// profiler label writer=name, as store.GoWriter gives a store's
// group-commit writer, so that a CPU profile can be focused on it.
func WriterLabelled(t *testing.T, name, fn string) {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	label := []byte(`"writer":` + strconv.Quote(name))
	// The profile lists each stack once, with its goroutines' labels,
	// separated by empty lines.
	for _, stack := range bytes.Split(b.Bytes(), []byte("\n\n")) {
		if bytes.Contains(stack, label) && bytes.Contains(stack, []byte(fn)) {
			return
		}
	}
	t.Errorf("no goroutine running %s is labelled %s", fn, label)
}
