package pan

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"testing"
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
			if !Contains(text) {
				t.Errorf("missed a card number: %q", text)
			}
		case "OK":
			oks++
			if Contains(text) {
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

func FuzzContains(f *testing.F) {
	f.Add("4111 1111 1111 1111")
	f.Add("+44 20 7946 0958")
	f.Fuzz(func(t *testing.T, s string) {
		Contains(s) // must not panic, whatever the input
		// Adding letters around a found number does not hide it.
		if Contains(s) && !Contains("x "+s+" x") {
			t.Fatalf("%q found alone but not in a sentence", s)
		}
	})
}

// BenchmarkContainsEvent scans a typical card transaction's canonical JSON,
// as ingest does for every event.
func BenchmarkContainsEvent(b *testing.B) {
	s := `{"account_id":"acc_card_7kq2m3x5","transaction_id":"txn_4kd9s8f7g6h5j4k3l2","reference_id":"ref_a1b2c3","status":"posted","direction":"debit","amount":{"amount":"18.25","currency":"USD"},"description":"Juniper Noodle Bar","merchant":{"name":"Juniper Noodle Bar","mcc":"5812","category":"Eating Places, Restaurants","city":"Denver","country":"US"},"card_last4":"4821"}`
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if Contains(s) {
			b.Fatal("found a card number in a clean event")
		}
	}
}
