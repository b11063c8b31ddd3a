package ingest

import "strings"

// A shape is what an identifier or code in an event may look like: a fixed
// prefix, then between min and max bytes, each from a set of ASCII bytes.
// Ingest checks several on every event; as regular expressions they took 2%
// of a node's CPU under load (BENCHMARKS.md, 2026-12-05, eighth session).
// shape_test.go holds the patterns they replaced and checks each shape
// against its pattern.
type shape struct {
	prefix   string
	min, max int
	set      [2]uint64 // the allowed bytes after the prefix, all below 128
}

// newShape reads class as a regular expression's character class does,
// without the brackets: ranges such as a-z, and single bytes, with a '-'
// taken as itself only at the end. It panics on anything else: shapes are
// written in this package, not taken from input.
func newShape(prefix, class string, min, max int) shape {
	s := shape{prefix: prefix, min: min, max: max}
	for i := 0; i < len(class); i++ {
		lo, hi := class[i], class[i]
		if i+2 < len(class) && class[i+1] == '-' {
			hi = class[i+2]
			i += 2
		} else if lo == '-' && i != len(class)-1 {
			panic("ingest: bad shape class " + class)
		}
		if lo > hi || hi >= 128 {
			panic("ingest: bad shape class " + class)
		}
		for c := lo; c <= hi; c++ {
			s.set[c>>6] |= 1 << (c & 63)
		}
	}
	return s
}

// MatchString reports whether v has the shape.
func (s *shape) MatchString(v string) bool {
	rest, ok := strings.CutPrefix(v, s.prefix)
	if !ok || len(rest) < s.min || len(rest) > s.max {
		return false
	}
	for i := 0; i < len(rest); i++ {
		c := rest[i]
		if c >= 128 || s.set[c>>6]&(1<<(c&63)) == 0 {
			return false
		}
	}
	return true
}
