package auth

import (
	"fmt"
	"testing"
	"time"
)

func TestLimiterIsBounded(t *testing.T) {
	l := newLimiter(2, time.Minute, 10)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 25 {
		l.fail(fmt.Sprintf("k%d", i), t0.Add(time.Duration(i)*time.Millisecond))
		if l.len() > 10 {
			t.Fatalf("limiter holds %d keys; bound is 10", l.len())
		}
	}
	// The oldest windows went first.
	now := t0.Add(time.Second)
	if l.live("k14", now) != nil || l.live("k15", now) == nil || l.live("k24", now) == nil {
		t.Fatal("eviction did not drop the oldest windows first")
	}
	// Ended windows are dropped as time passes.
	l.fail("late", t0.Add(time.Minute+30*time.Millisecond))
	if l.len() != 1 {
		t.Fatalf("after the window, %d keys remain; want only the new one", l.len())
	}
}

func TestLimiterWindow(t *testing.T) {
	l := newLimiter(3, time.Minute, 100)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 {
		if _, b := l.blocked("k", t0); b {
			t.Fatalf("blocked after %d failures", i)
		}
		if reached := l.fail("k", t0.Add(time.Duration(i)*time.Second)); reached != (i == 2) {
			t.Fatalf("failure %d: reached limit = %v", i+1, reached)
		}
	}
	if w, b := l.blocked("k", t0.Add(20*time.Second)); !b || w != 40*time.Second {
		t.Fatalf("blocked = %v, wait %v; want true, 40s (the window is fixed from the first failure)", b, w)
	}
	if _, b := l.blocked("k", t0.Add(time.Minute)); b {
		t.Fatal("still blocked when the window has ended")
	}
	l.fail("j", t0)
	l.undo("j")
	if l.len() != 0 {
		t.Fatal("undoing the only failure left a window behind")
	}
}

func TestIPKey(t *testing.T) {
	for in, want := range map[string]string{
		"203.0.113.7":          "203.0.113.7",
		"::ffff:203.0.113.7":   "203.0.113.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::/64",
		"2001:db8:1:2::9":      "2001:db8:1:2::/64",
		"fe80::1%eth0":         "fe80::/64",
		"not an address":       "not an address",
	} {
		if got := ipKey(in); got != want {
			t.Errorf("ipKey(%q) = %q; want %q", in, got, want)
		}
	}
}
