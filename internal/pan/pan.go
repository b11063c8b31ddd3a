// Package pan finds full payment card numbers (primary account numbers) in
// text, so that none is ever accepted, stored or logged: banks send the last
// four digits, and customers are stopped before they paste a card number
// into a chat.
//
// A candidate is a run of digits that may be broken by single spaces,
// dashes, dots or zero-width characters, in any Unicode script's digits. A
// whole run of 12 to 19 digits is tested however it is grouped; in a longer
// run, every stretch of whole groups of at least four digits (the last may
// be shorter) holding 12 to 19 digits is tested, so a card number next to
// other figures is still found. A tested number is a card number when it
// passes the Luhn check and falls in a card network's range with a length
// that network issues. So an unbroken string of more than 19 digits (a
// tracking number), a run that follows "+" (a phone number), and numbers
// that fail either test (order numbers, IBANs, dates) pass.
//
// What must stay true: Contains never returns the number it found, so that
// callers cannot log it by mistake.
package pan

import (
	"unicode"
	"unicode/utf8"
)

// Contains reports whether s holds something that looks like a full card
// number.
func Contains(s string) bool {
	var sc scanner
	sc.digits = sc.digitBuf[:0]
	sc.ends = sc.endBuf[:0]
	for i := 0; i < len(s); {
		r, size := rune(s[i]), 1
		if r >= utf8.RuneSelf {
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		if sc.step(r) {
			return true
		}
	}
	return sc.flush()
}

// scanner holds the run being read: its digits, in ASCII, and where each
// group of them ends.
type scanner struct {
	digits     []byte
	ends       []int
	pendingSep bool // a separator was just read: the next digit starts a group
	skip       bool // the run follows a "+": a phone number
	digitBuf   [64]byte
	endBuf     [16]int
}

// step reads one rune and reports whether a run it ended held a card number.
func (sc *scanner) step(r rune) bool {
	switch {
	case r >= '0' && r <= '9':
		sc.digit(byte(r))
	case r < utf8.RuneSelf && !isSeparator(r) && r != '+':
		return sc.flush() // the common case: ASCII that ends a run
	case isZeroWidth(r):
		// Invisible: as if it were not there at all.
	case unicode.IsDigit(r):
		sc.digit(byte('0' + digitValue(r)))
	case isSeparator(r) && len(sc.digits) > 0 && !sc.pendingSep:
		sc.pendingSep = true // one separator between groups; two end the run
	case r == '+':
		found := sc.flush()
		sc.skip = true
		return found
	default:
		return sc.flush()
	}
	return false
}

func (sc *scanner) digit(d byte) {
	if sc.pendingSep {
		sc.ends = append(sc.ends, len(sc.digits))
		sc.pendingSep = false
	}
	sc.digits = append(sc.digits, d)
}

// flush ends the run and tests it.
func (sc *scanner) flush() bool {
	found := false
	if len(sc.digits) >= 12 && !sc.skip {
		found = checkRun(sc.digits, append(sc.ends, len(sc.digits)))
	}
	sc.digits, sc.ends, sc.pendingSep, sc.skip = sc.digits[:0], sc.ends[:0], false, false
	return found
}

// checkRun tests the whole run, and the stretches of whole groups in it;
// ends holds where each group ends.
func checkRun(digits []byte, ends []int) bool {
	if len(digits) <= 19 && luhn(digits) && issued(digits) {
		return true
	}
	start := 0
	for i := range ends {
		for j := i; j < len(ends); j++ {
			n := ends[j] - start
			if n > 19 {
				break
			}
			if n >= 12 && luhn(digits[start:ends[j]]) && issued(digits[start:ends[j]]) {
				return true
			}
			groupStart := start
			if j > 0 {
				groupStart = ends[j-1]
			}
			if ends[j]-groupStart < 4 {
				break // only the last group of a stretch may be short
			}
		}
		start = ends[i]
	}
	return false
}

func isZeroWidth(r rune) bool {
	switch r {
	case '\u200b', '\u200c', '\u200d', '\u2060', '\ufeff', '\u00ad':
		return true
	}
	return false
}

func isSeparator(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\r', '-', '.', '\u00a0', '\u2007', '\u202f', '\u2009', '\u2010', '\u2011', '\u2012', '\u2013', '\u2014', '\u2212', '\u30fc':
		return true
	}
	return false
}

// digitValue is the value of a Unicode decimal digit. Decimal digits come
// in contiguous runs starting at a zero (several scripts' runs may follow
// each other, as in the mathematical alphanumerics), so the value is the
// distance from the start of the run, modulo ten.
func digitValue(r rune) int {
	if r >= '0' && r <= '9' {
		return int(r - '0')
	}
	start := r
	for start > 0 && unicode.IsDigit(start-1) {
		start--
	}
	return int(r-start) % 10
}

// luhn reports whether the ASCII digits pass the Luhn (mod 10) check.
func luhn(digits []byte) bool {
	sum := 0
	double := false
	for i := len(digits) - 1; i >= 0; i-- {
		d := int(digits[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// issuer is a range of leading digits and the lengths its cards have.
type issuer struct {
	lo, hi     int // inclusive, on the first len(digits of lo) digits
	prefixLen  int
	minL, maxL int
}

// issuers lists the ranges of the card networks (their published IIN
// ranges) and the lengths each issues.
var issuers = []issuer{
	{4, 4, 1, 13, 19},       // Visa
	{51, 55, 2, 16, 16},     // Mastercard
	{2221, 2720, 4, 16, 16}, // Mastercard 2-series
	{34, 34, 2, 15, 15},     // American Express
	{37, 37, 2, 15, 15},     // American Express
	{300, 305, 3, 14, 19},   // Diners Club International
	{36, 36, 2, 14, 19},     // Diners Club International
	{38, 39, 2, 16, 19},     // Diners Club
	{6011, 6011, 4, 16, 19}, // Discover
	{644, 649, 3, 16, 19},   // Discover
	{65, 65, 2, 16, 19},     // Discover, RuPay
	{62, 62, 2, 16, 19},     // UnionPay
	{3528, 3589, 4, 16, 19}, // JCB
	{2200, 2204, 4, 16, 19}, // Mir
	{50, 50, 2, 12, 19},     // Maestro
	{56, 69, 2, 12, 19},     // Maestro, RuPay (60) and others
	{81, 82, 2, 16, 16},     // RuPay
}

// issued reports whether digits start in an issuer's range with a length
// that issuer uses.
func issued(digits []byte) bool {
	for _, is := range issuers {
		if len(digits) < is.minL || len(digits) > is.maxL || len(digits) < is.prefixLen {
			continue
		}
		p := 0
		for _, c := range digits[:is.prefixLen] {
			p = p*10 + int(c-'0')
		}
		if p >= is.lo && p <= is.hi {
			return true
		}
	}
	return false
}
