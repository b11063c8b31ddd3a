package pan

import (
	"bufio"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// TestCorpus checks every line of testdata/corpus.txt: true card numbers in
// their many spellings are found; order numbers, tracking numbers, IBANs,
// phone numbers and the like pass.
func TestCorpus(t *testing.T) {
	f, err := os.Open("testdata/corpus.txt")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var pans, oks int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		want, escaped, ok := strings.Cut(line, "\t")
		if !ok {
			t.Fatalf("malformed corpus line %q", line)
		}
		text, err := strconv.Unquote(`"` + strings.ReplaceAll(escaped, `"`, `\"`) + `"`)
		if err != nil {
			t.Fatalf("corpus line %q: %v", line, err)
		}
		switch want {
		case "PAN":
			pans++
			if !Contains(text) || !ContainsBytes([]byte(text)) {
				t.Errorf("missed a card number: %q", text)
			}
		case "OK":
			oks++
			if Contains(text) || ContainsBytes([]byte(text)) {
				t.Errorf("flagged as a card number: %q", text)
			}
		default:
			t.Fatalf("corpus line %q: want PAN or OK", line)
		}
	}
	if pans < 20 || oks < 20 {
		t.Fatalf("corpus has %d card numbers and %d others; it should have many of each", pans, oks)
	}
}

func TestLuhnAndIssuers(t *testing.T) {
	for _, c := range []struct {
		digits string
		luhn   bool
		issued bool
	}{
		{"4111111111111111", true, true},
		{"4111111111111112", false, true},
		{"2720990000000007", true, true},   // top of the Mastercard 2-series
		{"2721000000000004", true, false},  // just past it
		{"378282246310005", true, true},    // Amex, 15 digits
		{"3782822463100050", false, false}, // Amex has no 16-digit cards
		{"1234567890123452", true, false},  // no network starts with 1
	} {
		if got := luhn([]byte(c.digits)); got != c.luhn {
			t.Errorf("luhn(%s) = %v", c.digits, got)
		}
		if got := issued([]byte(c.digits)); got != c.issued {
			t.Errorf("issued(%s) = %v", c.digits, got)
		}
	}
}

func TestDigitValue(t *testing.T) {
	for _, zero := range []rune{'0', '\u0660', '\u06f0', '\u0966', '\uff10', '\U0001d7ce', '\U0001d7d8', '\U0001d7f6'} {
		for v := range 10 {
			if got := digitValue(zero + rune(v)); got != v {
				t.Errorf("digitValue(%U) = %d, want %d", zero+rune(v), got, v)
			}
		}
	}
}

// TestPhoneNumbers: digits right after a "+" are a phone number while they
// are no more than 15, even when they would be a card number without it.
func TestPhoneNumbers(t *testing.T) {
	for _, phone := range []string{
		"+62 812 3456 7899",    // 13 digits: Luhn-valid, in the Maestro range
		"+4930901820013",       // Visa's range
		"+60123456789012",      // 14 digits
		"+502 2345 6789 1237",  // 15 digits, the most a phone number has
		"(+62) 812-3456-7899",  // in brackets, with dashes
		"tel:%2B6281234567899", // the "+" URL-encoded
	} {
		if Contains(phone) {
			t.Errorf("phone number %q flagged as a card number", phone)
		}
		// Without its sign the same digits are a card number; the test
		// above is worth something only if so.
		bare := strings.NewReplacer("+", "", "%2B", "").Replace(phone)
		if !Contains(bare) {
			t.Errorf("%q is no card number even without its \"+\"", bare)
		}
	}
	for _, s := range []string{
		"+4111111111111111",             // 16 digits
		"+4000 1234 1234 1234 008",      // 19
		"+44 4111 1111 1111 1111",       // a phone number's digits, then a card number
		"card+378282246310005",          // URL encoding: a space, not a sign
		"pan=4111+-+1111+-+1111+-+1111", // " - ", URL-encoded
	} {
		if !Contains(s) {
			t.Errorf("missed a card number after a \"+\": %q", s)
		}
	}
}

// TestSeparatorBound: up to three separators in a row, of any kind, stand
// between two digits of a number; a fourth ends it.
func TestSeparatorBound(t *testing.T) {
	for _, sep := range []string{" ", "-", "/", "_", ",", "\u2003", "\u3000", "\uff0d", "%20", "%2F", "%C2%A0", "%E3%80%80", "+", "\U0001f4b3"} {
		for n := 1; n <= 4; n++ {
			gap := strings.Repeat(sep, n)
			s := "4111" + gap + "1111" + gap + "1111" + gap + "1111"
			if got, want := Contains(s), n <= 3; got != want {
				t.Errorf("Contains(%q) = %v, want %v", s, got, want)
			}
		}
	}
}

func TestPercentRune(t *testing.T) {
	for _, c := range []struct {
		s    string
		r    rune
		size int
	}{
		{"%2D", '-', 3},
		{"%2d1111", '-', 3},
		{"%2F", '/', 3},
		{"%5f", '_', 3},
		{"%2B", '+', 3},
		{"%31", '1', 3},
		{"%41", 'A', 3},
		{"%20", encodedSpace, 3},
		{"%09", encodedSpace, 3},
		{"%C2%A0", encodedSpace, 6},
		{"%e3%80%80", encodedSpace, 9},
		{"%EF%BC%8D", '\uff0d', 9},
		{"%E2%80%8B", '\u200b', 9},
		{"%F0%9F%92%B3", '\U0001f4b3', 12},
		{"%", '%', 1},
		{"%2", '%', 1},
		{"%G0", '%', 1},
		{"%10", '%', 1}, // a percent sign before digits, not a control character
		{"%7F", '%', 1},
		{"%A0", utf8.RuneError, 3},       // Latin-1, not UTF-8
		{"%C2", utf8.RuneError, 3},       // a character cut short
		{"%E2%80%20", utf8.RuneError, 3}, // not a continuation byte
		{"%C0%AF", utf8.RuneError, 3},    // an overlong "/"
		{"%ED%A0%80", utf8.RuneError, 3}, // a surrogate
	} {
		if r, size := percentRune(c.s); r != c.r || size != c.size {
			t.Errorf("percentRune(%q) = %q, %d; want %q, %d", c.s, r, size, c.r, c.size)
		}
	}
}

// TestContainsAllocatesNothing: Contains runs on every event and message,
// and allocates nothing, however long the runs of digits it reads.
func TestContainsAllocatesNothing(t *testing.T) {
	for _, s := range []string{
		event,
		"my card is 4111 1111 1111 1111 thanks",
		"4111%E3%80%801111%E3%80%801111%E3%80%801112",
		strings.Repeat("1234 ", 1000),
		strings.Repeat("9", 10000),
		strings.Repeat("\uff11\u3000", 1000),
	} {
		if n := testing.AllocsPerRun(10, func() { Contains(s) }); n != 0 {
			t.Errorf("Contains allocates %v times on %.40q…", n, s)
		}
		b := []byte(s)
		if n := testing.AllocsPerRun(10, func() { ContainsBytes(b) }); n != 0 {
			t.Errorf("ContainsBytes allocates %v times on %.40q…", n, s)
		}
	}
}

// fuzzCards are public test card numbers of each length and network,
// grouped as printed on the card.
var fuzzCards = [][]string{
	{"4111", "1111", "1111", "1111"},
	{"5555", "5555", "5555", "4444"},
	{"2223", "0031", "2200", "3222"},
	{"3782", "822463", "10005"},
	{"6011", "1111", "1111", "1117"},
	{"3530", "1113", "3330", "0000"},
	{"3056", "930902", "5904"},
	{"4222", "2222", "2222", "2"},
	{"6200", "0000", "0000", "0005"},
	{"4000", "1234", "1234", "1234", "008"},
}

// fuzzSep reports whether sep is one to three separators that the package
// promises to read through: neither letters nor digits. A "%" or a "+" is
// left out, as either may change how what follows is read (an escape, a
// phone number's sign); so are control characters other than tabs and line
// breaks, whose escapes are read as a percent sign before digits.
func fuzzSep(sep string) bool {
	n := utf8.RuneCountInString(sep)
	if !utf8.ValidString(sep) || n < 1 || n > 3 {
		return false
	}
	for _, r := range sep {
		if unicode.IsLetter(r) || unicode.IsDigit(r) || r == '%' || r == '+' ||
			unicode.IsControl(r) && r != '\t' && r != '\n' && r != '\r' {
			return false
		}
	}
	return true
}

// FuzzContains checks what must hold for any text and any separators.
func FuzzContains(f *testing.F) {
	f.Add("4111 1111 1111 1111", " ", uint8(0))
	f.Add("+44 20 7946 0958", " - ", uint8(1))
	f.Add("+62 812 3456 7899, 2026-12-04T13:45:00Z", "/", uint8(13))
	f.Add("GB82 WEST 1234 5698 7654 32 and 9400 1118 9922 3197 4284 90", "\u3000", uint8(24))
	f.Add("https://shop.example/pay?q=card+4111%201111", "_,", uint8(7))
	f.Add("1,234.56, 2,345.67", "\u2014\u00a0", uint8(9))
	f.Fuzz(func(t *testing.T, text, sep string, which uint8) {
		found := Contains(text) // and does not panic, whatever the input

		// Letters around the text change nothing.
		if Contains("x "+text+" x") != found {
			t.Fatalf("Contains(%q) = %v, but %v with letters around it", text, found, !found)
		}

		// Digits after a "+" that could be a phone number pass, and an
		// unbroken string of more than 19 digits passes.
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, text)
		if phone := "+" + digits[:min(len(digits), 15)]; Contains(phone) {
			t.Fatalf("phone number %q flagged", phone)
		}
		if len(digits) > 19 && Contains(digits) {
			t.Fatalf("%d digits in a row flagged", len(digits))
		}

		// A card number whose groups (or digits) are joined by one to
		// three separators is found: as written, URL-encoded, and, grouped
		// as printed, amid any text.
		if !fuzzSep(sep) {
			return
		}
		groups := fuzzCards[int(which)%len(fuzzCards)]
		if which/uint8(len(fuzzCards))%2 == 1 {
			groups = strings.Split(strings.Join(groups, ""), "") // every digit apart
		}
		for _, sep := range []string{sep, url.QueryEscape(sep), url.PathEscape(sep)} {
			card := strings.Join(groups, sep)
			if !Contains(card) {
				t.Fatalf("missed a card number: %q", card)
			}
			if len(groups) <= 5 && len(strings.Join(groups, "")) > 15 {
				// After any text: a "+" in it may make the digits before
				// the card a phone number's, but no phone number is this long.
				if s := text + "\n" + card + "\n" + text; !Contains(s) {
					t.Fatalf("missed a card number amid text: %q", s)
				}
			}
		}
	})
}

// event is a typical card transaction's canonical JSON, as ingest scans it
// for every event.
const event = `{"account_id":"acc_card_7kq2m3x5","transaction_id":"txn_4kd9s8f7g6h5j4k3l2","reference_id":"ref_a1b2c3","status":"posted","direction":"debit","amount":{"amount":"18.25","currency":"USD"},"description":"Juniper Noodle Bar","merchant":{"name":"Juniper Noodle Bar","mcc":"5812","category":"Eating Places, Restaurants","city":"Denver","country":"US"},"card_last4":"4821"}`

// BenchmarkContainsEvent scans a typical card transaction's canonical JSON,
// as ingest does for every event.
func BenchmarkContainsEvent(b *testing.B) {
	b.SetBytes(int64(len(event)))
	for b.Loop() {
		if Contains(event) {
			b.Fatal("found a card number in a clean event")
		}
	}
}

// BenchmarkContainsFigures scans a customer's message full of figures that
// are not card numbers: dates, amounts, a phone number, an order number.
func BenchmarkContainsFigures(b *testing.B) {
	s := "Hi, on 2026-12-04 at 13:45 I paid 1,234.56 and on 2026-12-05 another 89.99 (order #112-4455667-1234567), " +
		"both still pending. Call me on +44 20 7946 0958 or 020 7946 0958, ref 2026/12/0004512, card ending 4821."
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if Contains(s) {
			b.Fatal("found a card number in a clean message")
		}
	}
}
