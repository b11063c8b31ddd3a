package ingest

import (
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

// The patterns the shapes replaced: what each field may look like, as a
// bank's integration engineer reads it in the API reference.
var shapePatterns = []struct {
	name    string
	shape   *shape
	pattern *regexp.Regexp
}{
	{"event id", &eventIDPattern, regexp.MustCompile(`^[A-Za-z0-9._:\-]{1,128}$`)},
	{"link id", &linkIDPattern, regexp.MustCompile(`^lnk_[a-z2-7]{26}$`)},
	{"reference", &refPattern, regexp.MustCompile(`^[A-Za-z0-9._:\-]{1,128}$`)},
	{"mcc", &mccPattern, regexp.MustCompile(`^[0-9]{4}$`)},
	{"last4", &last4Pattern, regexp.MustCompile(`^[0-9]{4}$`)},
	{"mask", &maskPattern, regexp.MustCompile(`^[0-9]{2,4}$`)},
	{"country", &countryPattern, regexp.MustCompile(`^[A-Z]{2}$`)},
	{"action", &actionPattern, regexp.MustCompile(`^[a-z0-9_\-]{1,32}$`)},
	{"reason code", &reasonCodePattern, regexp.MustCompile(`^[A-Z0-9]{4}$`)},
}

// shapeInputs are the edges: empty, each length bound and one past it,
// bytes next to each range, a NUL, a newline, non-ASCII letters and digits
// (é, Arabic-Indic three, full-width A) and a byte that is not UTF-8.
var shapeInputs = []string{
	"", "a", "A", "0", "9", "-", "_", ".", ":", "/", "@", "[", "`", "{", "\x00", "\n", " ",
	"1234", "123", "12345", "12", "0000", "99999", "US", "us", "USA", "U", "AB\n",
	"txn_2026-12-05:001", "evt.1", "evt 1", "évt", "٣٣٣٣", "ＡＢ", "12\xff4", "\xff",
	"lnk_abcdefghijklmnopqrstuvwxyz", "lnk_abcdefghijklmnopqrstuvwxy", "lnk_abcdefghijklmnopqrstuvwxyza",
	"lnk_234567234567234567234567", "lnk_ABCDEFGHIJKLMNOPQRSTUVWXYZ", "lnk_0bcdefghijklmnopqrstuvwxyz",
	"lnk_18cdefghijklmnopqrstuvwxyz", "LNK_abcdefghijklmnopqrstuvwxyz", "xlnk_abcdefghijklmnopqrstuvwxyz",
	strings.Repeat("a", 32), strings.Repeat("a", 33), strings.Repeat("Z", 128), strings.Repeat("Z", 129),
	"lock_card", "not-me", "Lock", "R001", "r001", "AC04",
}

func TestShapesMatchTheirPatterns(t *testing.T) {
	check := func(in string) {
		t.Helper()
		for _, p := range shapePatterns {
			if got, want := p.shape.MatchString(in), p.pattern.MatchString(in); got != want {
				t.Errorf("%s %q: shape says %v, pattern %v", p.name, in, got, want)
			}
		}
	}
	for _, in := range shapeInputs {
		check(in)
	}
	// Random strings made mostly of the bytes the patterns allow, with the
	// ones they refuse mixed in, up to just past the longest bound (the
	// long ones rarely match: shapeInputs has the lengths at each bound).
	alphabet := []string{"a", "z", "A", "Z", "0", "1", "2", "7", "8", "9", ".", "_", ":", "-", "/", " ", "\x00", "\x7f", "é", "ٓ", "\xff", "lnk_"}
	r := rand.New(rand.NewPCG(5, 12))
	for range 20_000 {
		var b strings.Builder
		for n := r.IntN(132); b.Len() < n; {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		check(b.String())
		if b.Len() > 30 {
			check("lnk_" + b.String()[:26])
		}
	}
}

// FuzzShapes looks for a string a shape and its pattern disagree on
// (go test -fuzz FuzzShapes ./internal/ingest); its seeds run with the
// tests.
func FuzzShapes(f *testing.F) {
	for _, in := range shapeInputs {
		f.Add(in)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, p := range shapePatterns {
			if got, want := p.shape.MatchString(in), p.pattern.MatchString(in); got != want {
				t.Errorf("%s %q: shape says %v, pattern %v", p.name, in, got, want)
			}
		}
	})
}

func TestShapeClassesAreChecked(t *testing.T) {
	for _, class := range []string{"z-a", "-a", "a-zé"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("newShape(%q) did not panic", class)
				}
			}()
			newShape("", class, 1, 1)
		}()
	}
	if s := newShape("", "a-", 1, 1); !s.MatchString("-") || !s.MatchString("a") || s.MatchString("b") {
		t.Errorf(`newShape("a-") is not {a, -}`)
	}
}
