package testenv

import (
	"os"
	"path/filepath"
	"testing"
)

// outcome records how Fixture ended a test. Fatalf and Skip stop it, as
// they stop a test, by panicking with the outcome; Fixture calls nothing
// else of testing.TB.
type outcome struct {
	testing.TB
	how string
}

func (o *outcome) Helper()               {}
func (o *outcome) Fatalf(string, ...any) { o.how = "failed"; panic(o) }
func (o *outcome) Skip(...any)           { o.how = "skipped"; panic(o) }

func fixture(parts ...string) (how string) {
	o := &outcome{how: "found"}
	defer func() {
		if r := recover(); r != nil && r != any(o) {
			panic(r)
		}
		how = o.how
	}()
	Fixture(o, parts...)
	return o.how
}

// TestFixtureNeverSkipsInCI: the fixtures' tests skip only on a machine
// that is not CI and has no fixtures; in CI, or with the directory named,
// a missing fixture fails.
func TestFixtureNeverSkipsInCI(t *testing.T) {
	// A working directory with no shared/fixtures above it.
	t.Chdir(t.TempDir())
	t.Setenv("OPENTELLER_TEST_FIXTURES", "")
	t.Setenv("CI", "")
	if got := fixture("mcc.csv"); got != "skipped" {
		t.Errorf("no fixtures, not CI: %s, want skipped", got)
	}
	t.Setenv("CI", "true")
	if got := fixture("mcc.csv"); got != "failed" {
		t.Errorf("no fixtures, CI set: %s, want failed", got)
	}

	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "here.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPENTELLER_TEST_FIXTURES", dir)
	if got := fixture("here.txt"); got != "found" {
		t.Errorf("named and present: %s, want found", got)
	}
	t.Setenv("CI", "")
	if got := fixture("missing.txt"); got != "failed" {
		t.Errorf("named, file missing: %s, want failed", got)
	}
}
