package storetest

import (
	"bytes"
	"runtime/pprof"
	"strconv"
	"testing"
)

// WriterLabelled fails t unless some goroutine of the process carries the
// profiler label writer=name, as a store's group-commit writer labels
// itself (store.LabelWriter), so that a CPU profile can be focused on it.
func WriterLabelled(t *testing.T, name string) {
	t.Helper()
	var b bytes.Buffer
	if err := pprof.Lookup("goroutine").WriteTo(&b, 1); err != nil {
		t.Fatal(err)
	}
	if want := `"writer":` + strconv.Quote(name); !bytes.Contains(b.Bytes(), []byte(want)) {
		t.Errorf("no goroutine labelled %s: the store's writer does not label itself", want)
	}
}
