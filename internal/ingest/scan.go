package ingest

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/openteller/openteller/pkg/bankapi"
)

// A batch's usual shape, read without reflection. Decoding a batch with
// encoding/json was a third of a node's CPU on PostgreSQL and a sixth on
// SQLite: every event's data was scanned four times. scanBatch and
// scanTransaction read the plain case in one pass and give up (ok false)
// at anything else: an escape in a string, a key spelled in another case
// or repeated, a null where an object or a string belongs, a number where
// a string belongs, a field they do not know, data nested deeper than
// maxRawDepth. Then strictDecode reads it, and says what is wrong if
// anything is. They never accept what strictDecode would refuse, and what
// they accept they read as it would (FuzzScanBatch, FuzzScanTransaction;
// TestScannersKnowTheFields keeps their keys those of the types).

// scanner reads JSON from b, from i on.
type scanner struct {
	b []byte
	i int
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips white space and consumes c if it comes next.
func (s *scanner) next(c byte) bool {
	s.space()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

// str reads a string with no escapes, no control characters and valid
// UTF-8: one encoding/json reads as its bytes.
func (s *scanner) str() (string, bool) {
	if !s.next('"') {
		return "", false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			v := s.b[start:s.i]
			s.i++
			if !utf8.Valid(v) {
				return "", false
			}
			return string(v), true
		case c == '\\' || c < 0x20:
			return "", false
		}
		s.i++
	}
	return "", false
}

// maxRawDepth bounds the nesting raw reads. encoding/json refuses more
// than 10,000 levels counted from the body, and raw checks a value apart
// from it; no event's data comes near either.
const maxRawDepth = 64

// raw reads any valid JSON value and returns its bytes: it finds where the
// value ends, then json.Valid checks it.
func (s *scanner) raw() ([]byte, bool) {
	s.space()
	start, depth := s.i, 0
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch c {
		case '"':
			for s.i++; s.i < len(s.b) && s.b[s.i] != '"'; s.i++ {
				if s.b[s.i] == '\\' {
					s.i++
				}
			}
			if s.i >= len(s.b) {
				return nil, false
			}
		case '{', '[':
			if depth++; depth > maxRawDepth {
				return nil, false
			}
		case '}', ']':
			if depth == 0 {
				return s.valid(start) // the enclosing object's end
			}
			depth--
		case ',', ' ', '\t', '\n', '\r':
			if depth == 0 {
				return s.valid(start)
			}
		}
		s.i++
		if depth == 0 && (c == '"' || c == '}' || c == ']') {
			return s.valid(start)
		}
	}
	return nil, false
}

func (s *scanner) valid(start int) ([]byte, bool) {
	v := s.b[start:s.i:s.i] // an append to it cannot write over the body
	return v, len(v) > 0 && json.Valid(v)
}

// object reads an object whose keys field knows, each at most once (field
// reads the value and reports false for a key it does not know).
func (s *scanner) object(field func(key string) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		key, ok := s.str()
		if !ok || !s.next(':') || !field(key) {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// once records a key in seen and reports whether it was new.
func once(seen *uint32, bit uint32) bool {
	if *seen&bit != 0 {
		return false
	}
	*seen |= bit
	return true
}

// scanBatch reads {"events":[envelope, …]}.
func scanBatch(body []byte) ([]Envelope, bool) {
	s := &scanner{b: body}
	events := []Envelope{}
	var seen uint32
	ok := s.object(func(key string) bool {
		if key != "events" || !once(&seen, 1) || !s.next('[') {
			return false
		}
		if s.next(']') {
			return true
		}
		for {
			env, ok := s.envelope()
			if !ok {
				return false
			}
			events = append(events, env)
			if s.next(']') {
				return true
			}
			if !s.next(',') {
				return false
			}
		}
	})
	s.space()
	if !ok || seen == 0 || s.i != len(s.b) {
		return nil, false
	}
	return events, true
}

func (s *scanner) envelope() (Envelope, bool) {
	var e Envelope
	var seen uint32
	ok := s.object(func(key string) bool {
		var ok bool
		switch key {
		case "id":
			e.ID, ok = s.str()
			return ok && once(&seen, 1)
		case "link_id":
			e.LinkID, ok = s.str()
			return ok && once(&seen, 2)
		case "type":
			e.Type, ok = s.str()
			return ok && once(&seen, 4)
		case "occurred_at":
			e.OccurredAt, ok = s.str()
			return ok && once(&seen, 8)
		case "data":
			e.Data, ok = s.raw()
			return ok && once(&seen, 16)
		}
		return false
	})
	return e, ok
}

// scanTransaction reads a transaction.posted event's data.
func scanTransaction(data []byte) (bankapi.TransactionPosted, bool) {
	s := &scanner{b: data}
	var d bankapi.TransactionPosted
	var seen uint32
	ok := s.object(func(key string) bool {
		var ok bool
		switch key {
		case "account_id":
			d.AccountID, ok = s.str()
			return ok && once(&seen, 1)
		case "transaction_id":
			d.TransactionID, ok = s.str()
			return ok && once(&seen, 2)
		case "reference_id":
			d.ReferenceID, ok = s.str()
			return ok && once(&seen, 4)
		case "status":
			d.Status, ok = s.str()
			return ok && once(&seen, 8)
		case "direction":
			d.Direction, ok = s.str()
			return ok && once(&seen, 16)
		case "description":
			d.Description, ok = s.str()
			return ok && once(&seen, 32)
		case "card_last4":
			d.CardLast4, ok = s.str()
			return ok && once(&seen, 64)
		case "amount":
			return once(&seen, 128) && s.money(&d.Amount)
		case "merchant":
			d.Merchant = &bankapi.Merchant{}
			return once(&seen, 256) && s.merchant(d.Merchant)
		}
		return false
	})
	s.space()
	if !ok || s.i != len(s.b) {
		return bankapi.TransactionPosted{}, false
	}
	return d, true
}

func (s *scanner) money(m *bankapi.Money) bool {
	var seen uint32
	return s.object(func(key string) bool {
		var ok bool
		switch key {
		case "amount":
			m.Amount, ok = s.str()
			return ok && once(&seen, 1)
		case "currency":
			m.Currency, ok = s.str()
			return ok && once(&seen, 2)
		}
		return false
	})
}

func (s *scanner) merchant(m *bankapi.Merchant) bool {
	var seen uint32
	return s.object(func(key string) bool {
		var ok bool
		switch key {
		case "name":
			m.Name, ok = s.str()
			return ok && once(&seen, 1)
		case "mcc":
			m.MCC, ok = s.str()
			return ok && once(&seen, 2)
		case "category":
			m.Category, ok = s.str()
			return ok && once(&seen, 4)
		case "city":
			m.City, ok = s.str()
			return ok && once(&seen, 8)
		case "country":
			m.Country, ok = s.str()
			return ok && once(&seen, 16)
		}
		return false
	})
}
