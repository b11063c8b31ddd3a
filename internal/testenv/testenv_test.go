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

func fixture(start, top string, parts ...string) (how string) {
	o := &outcome{how: "found"}
	defer func() {
		if r := recover(); r != nil && r != any(o) {
			panic(r)
		}
		how = o.how
	}()
	fixtureFrom(o, start, top, parts...)
	return o.how
}

// TestFixtureNeverSkipsInCI: the fixtures' tests skip only on a machine
// that is not CI and has no fixtures; in CI, or with the directory named,
// a missing fixture fails.
func TestFixtureNeverSkipsInCI(t *testing.T) {
	// A tree of its own: the search stops at its top, whatever lies above
	// the machine's temporary directory.
	top := t.TempDir()
	bare := filepath.Join(top, "repo", "internal")
	beside := filepath.Join(top, "with", "repo", "internal")
	for _, dir := range []string{bare, beside, filepath.Join(top, "with", "shared", "fixtures")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(top, "with", "shared", "fixtures", "here.txt"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OPENTELLER_TEST_FIXTURES", "")
	t.Setenv("CI", "")
	if got := fixture(bare, top, "here.txt"); got != "skipped" {
		t.Errorf("no fixtures, not CI: %s, want skipped", got)
	}
	if got := fixture(beside, top, "here.txt"); got != "found" {
		t.Errorf("fixtures beside the repository: %s, want found", got)
	}
	if got := fixture(beside, top, "missing.txt"); got != "failed" {
		t.Errorf("fixtures beside the repository, file missing: %s, want failed", got)
	}
	t.Setenv("CI", "true")
	if got := fixture(bare, top, "here.txt"); got != "failed" {
		t.Errorf("no fixtures, CI set: %s, want failed", got)
	}

	t.Setenv("CI", "")
	t.Setenv("OPENTELLER_TEST_FIXTURES", filepath.Join(top, "with", "shared", "fixtures"))
	if got := fixture(bare, top, "here.txt"); got != "found" {
		t.Errorf("named and present: %s, want found", got)
	}
	if got := fixture(bare, top, "missing.txt"); got != "failed" {
		t.Errorf("named, file missing: %s, want failed", got)
	}
}
