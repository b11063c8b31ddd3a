// Package pan finds full payment card numbers (primary account numbers) in
// text, so that none is ever accepted, stored or logged: banks send the last
// four digits, and customers are stopped before they paste a card number
// into a chat.
//
// What is read as a number. A run is a sequence of digits, in any Unicode
// script's decimal digits, with no more than three separators between one
// digit and the next. A separator is any character that is neither a
// letter nor a digit: spaces of every width (two spaces, tabs, line breaks,
// em, en and ideographic spaces), dashes of every kind (" - ", full-width
// hyphens, and the katakana prolonged sound mark, although Unicode calls it
// a letter), dots, slashes, underscores, commas, brackets, quotes, symbols,
// emoji. Invisible formatting characters (zero-width spaces and joiners,
// soft hyphens, direction marks, variation selectors) are as if they were
// not there, and do not count. Text out of a URL is read as it was typed: a
// percent-encoded character ("%20", "%2d", "%2F", "%5F", "%2C", "%C2%A0",
// "%E3%80%80", and "%31" for a digit) is read as the one character it
// encodes, and a "+" is a separator (a URL's space) unless it is a phone
// number's sign, below. A letter, or a fourth separator in a row, ends the
// run.
//
// What is tested. A whole run of 12 to 19 digits is tested, however it is
// grouped. In any run, each stretch of whole groups (the digits between two
// separators) holding 12 to 19 digits, every group but the last at least
// four digits long, is tested too, so that a card number next to other
// figures is still found. A tested number is a card number when it passes
// the Luhn check and falls in a card network's range with a length that
// network issues; Contains then reports true.
//
// What passes. A run that starts right after a "+" is a phone number while
// it holds at most 15 digits, the most an international number has; with
// more, it is tested like any other. The "+" is a sign when it stands apart:
// at the start of the text or after a space ("+44", "call +44", "a, +44"),
// or after punctuation with no number just before ("(+44", "tel:+44",
// "tel:%2B44"); after a letter, a digit, or separators with no space among
// them ("card+4111", "4111+1111", "4111+-+1111") it is a URL's space. Numbers
// that fail the Luhn check or fall in no card network's range pass, and so
// does any unbroken string of digits longer than 19 (a tracking number) and
// anything broken by letters: IBANs, UUIDs, hex ids, times such as
// 2026-12-04T13:45:00Z, version strings, order numbers with a letter in
// them. Dates, amounts and the like pass when their digits, taken together,
// fail either test, as dates of this century and amounts of a few figures
// do; a list of figures whose digits happen to pass both is refused, since
// it cannot be told from a card number written the same way.
//
// What must stay true: Contains never returns the number it found, so that
// callers cannot log it by mistake; and it allocates nothing.
package pan

import (
	"unicode"
	"unicode/utf8"
	"unsafe"
)

const (
	minLen   = 12 // the shortest card number any network issues
	maxLen   = 19 // the longest
	maxGap   = 3  // separators that may stand between two digits of a number
	minGroup = 4  // the shortest group, but the last, in a stretch of a run
	maxPhone = 15 // digits of the longest international phone number (E.164)
)

// Contains reports whether s holds something that looks like a full card
// number.
func Contains(s string) bool {
	var sc scanner
	for i := 0; i < len(s); {
		c := s[i]
		if sc.total == 0 && plainASCII[c] {
			// The common case, ASCII text between numbers, read quickly.
			sc.word, sc.plus = c|0x20 >= 'a' && c|0x20 <= 'z', false
			i++
			continue
		}
		r, size := rune(c), 1
		switch {
		case c == '%':
			r, size = percentRune(s[i:])
		case c >= utf8.RuneSelf:
			r, size = utf8.DecodeRuneInString(s[i:])
		}
		i += size
		if sc.step(r) {
			return true
		}
	}
	return sc.endRun()
}

// ContainsBytes is Contains on b, read where it lies: Contains keeps
// nothing of its argument, so b is not copied into a string first (which
// allocated a copy of every event's data at ingest).
func ContainsBytes(b []byte) bool {
	return Contains(unsafe.String(unsafe.SliceData(b), len(b)))
}

// plainASCII holds the bytes that, when no run is open, change nothing but
// whether a letter was just read: ASCII but digits, "%" and "+".
var plainASCII = func() (t [256]bool) {
	for c := range utf8.RuneSelf {
		t[c] = !(c >= '0' && c <= '9' || c == '%' || c == '+')
	}
	return t
}()

// scanner reads a run as it goes, keeping only what a test can still need:
// the run's last 19 digits and the lengths of its last groups. So it never
// allocates, however long the run.
type scanner struct {
	last  [maxLen]byte // the run's last digits, in ASCII, oldest first
	n     int          // digits held in last
	total int          // digits in the run
	group int          // digits in the group being read, or that just ended
	// before holds the lengths of the groups before it, nearest first. Four
	// are enough: five groups of at least four digits are more than a card
	// number has.
	before [4]int
	gap    int  // separators read since the run's last digit
	phone  bool // the run started right after a "+"
	hit    bool // a stretch of the phone run is a card number
	spaced bool // the separators since the last digit include a space
	plus   bool // the last rune was a "+" that may start a phone number
	word   bool // the last rune was a letter
}

// step reads one rune and reports whether a card number has been found.
func (sc *scanner) step(r rune) bool {
	switch {
	case r >= '0' && r <= '9':
		return sc.digit(byte(r))
	case r < utf8.RuneSelf:
		if r|0x20 >= 'a' && r|0x20 <= 'z' {
			return sc.letter() // the common case: ASCII text between numbers
		}
		if r == '+' {
			return sc.plusSign()
		}
		return sc.separator(r == ' ' || r >= '\t' && r <= '\r')
	case isInvisible(r):
		return false // as if it were not there at all
	case unicode.IsDigit(r):
		return sc.digit(byte('0' + digitValue(r)))
	case unicode.IsLetter(r) && !isDash(r):
		return sc.letter()
	}
	return sc.separator(unicode.IsSpace(r))
}

func (sc *scanner) digit(d byte) bool {
	if sc.plus {
		// "+" right before a digit: a phone number starts here, apart from
		// what came before it.
		found := sc.endRun()
		sc.phone, sc.plus = true, false
		if found {
			return true
		}
	}
	if sc.gap > 0 {
		copy(sc.before[1:], sc.before[:])
		sc.before[0] = sc.group
		sc.group, sc.gap, sc.spaced = 0, 0, false
	}
	if sc.n == len(sc.last) {
		copy(sc.last[:], sc.last[1:])
		sc.n--
	}
	sc.last[sc.n] = d
	sc.n++
	sc.total++
	sc.group = min(sc.group+1, maxLen+1)
	sc.word = false
	// A phone run found to hold a card number once it grows too long to
	// be a phone number.
	return sc.hit && sc.total == maxPhone+1
}

func (sc *scanner) separator(space bool) bool {
	sc.word, sc.plus = false, false
	if sc.total == 0 {
		return false
	}
	if sc.gap == 0 && sc.groupEnds() {
		return true
	}
	sc.gap++
	sc.spaced = sc.spaced || space
	if sc.gap > maxGap {
		return sc.endRun()
	}
	return false
}

// plusSign reads a "+": a phone number's sign if it stands apart and a
// digit follows, else a separator (see the package comment). A space that
// was percent-encoded does not set it apart ("4111%20+1111").
func (sc *scanner) plusSign() bool {
	apart := sc.total == 0 && !sc.word || sc.gap > 0 && sc.spaced
	found := sc.separator(false)
	sc.plus = apart
	return found
}

func (sc *scanner) letter() bool {
	found := sc.endRun()
	sc.word, sc.plus = true, false
	return found
}

// groupEnds tests each stretch of whole groups that ends with the group
// just read.
func (sc *scanner) groupEnds() bool {
	m := sc.group
	for k := 0; m <= maxLen; k++ {
		if m >= minLen && isCardNumber(sc.last[sc.n-m:sc.n]) && sc.counts() {
			return true
		}
		if k == len(sc.before) || sc.before[k] < minGroup {
			break // only the last group of a stretch may be short
		}
		m += sc.before[k]
	}
	return false
}

// counts reports whether a card number found in the run is one: in a phone
// run only once the run is too long to be a phone number.
func (sc *scanner) counts() bool {
	if sc.phone && sc.total <= maxPhone {
		sc.hit = true
		return false
	}
	return true
}

// endRun ends the run, tests it whole, and starts afresh.
func (sc *scanner) endRun() bool {
	if sc.total == 0 {
		return false
	}
	found := sc.gap == 0 && sc.groupEnds()
	if !found && sc.total >= minLen && sc.total <= maxLen {
		found = isCardNumber(sc.last[:sc.n]) && sc.counts()
	}
	*sc = scanner{}
	return found
}

// encodedSpace stands for a percent-encoded space: a separator, but not a
// space before a "+", which in URL-encoded text is one more space and not a
// phone number's sign.
const encodedSpace = '\u2420' // ␠, the symbol for a space

// percentRune reads the percent-encoded character at the start of s, which
// starts with "%": "%2D" is a dash, "%C2%A0" and "%20" are read as
// encodedSpace. A "%" that starts no escape is itself; so is one before a
// control character other than a tab or a line break, which no one encodes
// but "%10" or "%19" may be a percent sign before digits. An escaped byte
// that is no part of a UTF-8 character is read as U+FFFD, a separator.
func percentRune(s string) (rune, int) {
	r, size := decodePercent(s)
	if size > 1 && unicode.IsSpace(r) {
		r = encodedSpace
	}
	return r, size
}

func decodePercent(s string) (rune, int) {
	b, ok := hexByte(s)
	switch {
	case !ok, b < ' ' && b != '\t' && b != '\n' && b != '\r', b == 0x7f:
		return '%', 1
	case b < utf8.RuneSelf:
		return rune(b), 3
	}
	var buf [utf8.UTFMax]byte
	size := 0
	switch {
	case b >= 0xc2 && b <= 0xdf:
		size = 2
	case b >= 0xe0 && b <= 0xef:
		size = 3
	case b >= 0xf0 && b <= 0xf4:
		size = 4
	default:
		return utf8.RuneError, 3
	}
	buf[0] = b
	for k := 1; k < size; k++ {
		c, ok := hexByte(s[3*k:])
		if !ok || c&0xc0 != 0x80 {
			return utf8.RuneError, 3
		}
		buf[k] = c
	}
	r, n := utf8.DecodeRune(buf[:size])
	if n != size {
		return utf8.RuneError, 3
	}
	return r, 3 * size
}

// hexByte reads "%XX" at the start of s.
func hexByte(s string) (byte, bool) {
	if len(s) < 3 || s[0] != '%' {
		return 0, false
	}
	hi, ok1 := hexDigit(s[1])
	lo, ok2 := hexDigit(s[2])
	return hi<<4 | lo, ok1 && ok2
}

func hexDigit(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c|0x20 >= 'a' && c|0x20 <= 'f':
		return (c | 0x20) - 'a' + 10, true
	}
	return 0, false
}

// isInvisible reports whether r is a formatting character that shows
// nothing: zero-width spaces and joiners, the soft hyphen, direction marks,
// the byte order mark, variation selectors.
func isInvisible(r rune) bool {
	return r >= 0xfe00 && r <= 0xfe0f || unicode.Is(unicode.Cf, r) || r >= 0xe0100 && r <= 0xe01ef
}

// isDash reports whether r is a letter that is written as a dash: the
// katakana prolonged sound mark, full and half width.
func isDash(r rune) bool {
	return r == '\u30fc' || r == '\uff70'
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

// isCardNumber reports whether the ASCII digits are a card number.
func isCardNumber(digits []byte) bool {
	return luhn(digits) && issued(digits)
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
