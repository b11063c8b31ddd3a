package bus

import (
	"encoding/binary"
	"errors"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// A wake-up on the wire: a version byte, then its fields in a fixed order,
// strings and byte strings length-prefixed (uvarint), numbers as varints.
// Binary rather than JSON: a busy node sends tens of thousands a second,
// and the sealed payloads would otherwise travel as base64.
const wireVersion = 1

// Flags: what kind of wake-up it is, beyond a conversation's.
const (
	flagSessionsEnded = 1 // Keep follows as usual
	flagEnded         = 2 // a list of sessions follows the events
)

var errWire = errors.New("bus: malformed wake-up")

func encode(w Wake) []byte {
	n := 32 + len(w.ConversationID) + len(w.Typing) + len(w.Keep)
	for _, h := range w.Ended {
		n += 2 + len(h)
	}
	for i := range w.Events {
		e := &w.Events[i]
		n += 64 + len(e.ID) + len(e.CustomerID) + len(e.InstitutionID) + len(e.LinkID) + len(e.Type) + len(e.Author) + len(e.Sealed)
	}
	b := make([]byte, 0, n)
	b = append(b, wireVersion)
	var flags byte
	if w.SessionsEnded {
		flags |= flagSessionsEnded
	}
	if len(w.Ended) > 0 {
		flags |= flagEnded
	}
	b = append(b, flags)
	b = appendString(b, w.ConversationID)
	b = binary.AppendVarint(b, w.Seq)
	b = appendString(b, w.Typing)
	b = appendString(b, w.Keep)
	b = binary.AppendUvarint(b, uint64(len(w.Events)))
	for i := range w.Events {
		e := &w.Events[i]
		b = appendString(b, e.ID)
		b = binary.AppendVarint(b, e.Seq)
		b = appendString(b, e.CustomerID)
		b = appendString(b, e.InstitutionID)
		b = appendString(b, e.LinkID)
		b = appendString(b, e.Type)
		b = appendString(b, e.Author)
		b = appendTime(b, e.OccurredAt)
		b = appendTime(b, e.ReceivedAt)
		b = binary.AppendVarint(b, e.ReplacesSeq)
		b = appendString(b, string(e.Sealed))
	}
	if len(w.Ended) > 0 {
		b = binary.AppendUvarint(b, uint64(len(w.Ended)))
		for _, h := range w.Ended {
			b = appendString(b, h)
		}
	}
	return b
}

// appendTime writes t in nanoseconds since 1970, the zero time as 0.
func appendTime(b []byte, t time.Time) []byte {
	if t.IsZero() {
		return binary.AppendVarint(b, 0)
	}
	return binary.AppendVarint(b, t.UnixNano())
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// reader takes a wake-up apart; the first malformed field sets err and
// every later read returns zero values.
type reader struct {
	b   []byte
	err error
}

func (r *reader) uvarint() uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	var tmp [binary.MaxVarintLen64]byte
	if n <= 0 || binary.PutUvarint(tmp[:], v) != n { // one spelling per message
		r.err = errWire
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) varint() int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b)
	var tmp [binary.MaxVarintLen64]byte
	if n <= 0 || binary.PutVarint(tmp[:], v) != n {
		r.err = errWire
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	n := r.uvarint()
	if r.err != nil || n > uint64(len(r.b)) {
		r.err = errWire
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) string() string { return string(r.bytes()) }

func (r *reader) time() time.Time {
	if ns := r.varint(); ns != 0 {
		return time.Unix(0, ns).UTC()
	}
	return time.Time{}
}

func decode(data []byte) (Wake, error) {
	if len(data) < 2 || data[0] != wireVersion || data[1]&^(flagSessionsEnded|flagEnded) != 0 {
		return Wake{}, errWire
	}
	r := reader{b: data[2:]}
	w := Wake{SessionsEnded: data[1]&flagSessionsEnded != 0}
	w.ConversationID = r.string()
	w.Seq = r.varint()
	w.Typing = r.string()
	w.Keep = r.string()
	n := r.uvarint()
	if n > uint64(len(r.b)) { // each event takes more than a byte
		return Wake{}, errWire
	}
	if n > 0 {
		w.Events = make([]store.Event, n)
	}
	for i := range w.Events {
		e := &w.Events[i]
		e.ConversationID = w.ConversationID
		e.ID = r.string()
		e.Seq = r.varint()
		e.CustomerID = r.string()
		e.InstitutionID = r.string()
		e.LinkID = r.string()
		e.Type = r.string()
		e.Author = r.string()
		e.OccurredAt = r.time()
		e.ReceivedAt = r.time()
		e.ReplacesSeq = r.varint()
		e.Sealed = r.bytes()
	}
	if data[1]&flagEnded != 0 {
		n := r.uvarint()
		if n == 0 || n > uint64(len(r.b)) { // the flag says some; each takes a byte at least
			return Wake{}, errWire
		}
		w.Ended = make([]string, n)
		for i := range w.Ended {
			w.Ended[i] = r.string()
		}
	}
	if r.err != nil {
		return Wake{}, r.err
	}
	if len(r.b) != 0 {
		return Wake{}, errWire
	}
	return w, nil
}
