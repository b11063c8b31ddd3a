package bus

import (
	"bytes"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/testenv"
)

func sealedEvents(conv string, from, to int64) []store.Event {
	var out []store.Event
	at := time.Date(2026, 12, 4, 10, 0, 0, 123456789, time.UTC)
	for seq := from; seq <= to; seq++ {
		out = append(out, store.Event{ID: "evt_" + string(rune('a'+seq)), ConversationID: conv, Seq: seq, CustomerID: "cus_1", InstitutionID: "ins_1",
			LinkID: "lnk_1", Type: "transaction.posted", Author: store.AuthorInstitution, OccurredAt: at, ReceivedAt: at.Add(time.Second),
			ReplacesSeq: seq - 1, Sealed: []byte{0, 1, 2, byte(seq), 0xff}})
	}
	return out
}

func TestWireRoundTrip(t *testing.T) {
	for _, w := range []Wake{
		{ConversationID: "cnv_1", Seq: 7},
		{ConversationID: "cnv_1", Seq: 9, Events: sealedEvents("cnv_1", 8, 9)},
		{ConversationID: "cnv_1", Typing: "Ada"},
		{SessionsEnded: true, Keep: "00ff"},
		{Ended: []string{"00ff", "a1b2c3"}},
		{},
	} {
		got, err := decode(encode(w))
		if err != nil {
			t.Fatalf("%+v: %v", w, err)
		}
		if !reflect.DeepEqual(got, w) {
			t.Fatalf("round trip:\n got %+v\nwant %+v", got, w)
		}
	}
}

// TestWireRefusesDamage: a truncated, extended or foreign message is an
// error, never a panic or a wake-up with made-up contents.
func TestWireRefusesDamage(t *testing.T) {
	full := encode(Wake{ConversationID: "cnv_1", Seq: 9, Events: sealedEvents("cnv_1", 8, 9)})
	for i := range len(full) {
		if _, err := decode(full[:i]); err == nil {
			t.Fatalf("decoded a message cut at %d of %d bytes", i, len(full))
		}
	}
	if _, err := decode(append(bytes.Clone(full), 0)); err == nil {
		t.Fatal("decoded a message with a trailing byte")
	}
	ended := encode(Wake{Ended: []string{"00ff", "a1b2"}})
	for i := range len(ended) {
		if _, err := decode(ended[:i]); err == nil {
			t.Fatalf("decoded a list of ended sessions cut at %d of %d bytes", i, len(ended))
		}
	}
	// A list said to follow, of no session: no wake-up encodes so.
	empty := append(encode(Wake{}), 0)
	empty[1] |= flagEnded
	if _, err := decode(empty); err == nil {
		t.Fatal("decoded an empty list of ended sessions")
	}
	if _, err := decode([]byte(`{"c":"cnv_1","s":7}`)); err == nil {
		t.Fatal("decoded JSON as a wake-up")
	}
}

func FuzzDecode(f *testing.F) {
	f.Add(encode(Wake{ConversationID: "cnv_1", Seq: 9, Events: sealedEvents("cnv_1", 8, 9)}))
	f.Add(encode(Wake{SessionsEnded: true, Keep: "k"}))
	f.Add(encode(Wake{Ended: []string{"k1", "k2"}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		w, err := decode(data)
		if err != nil {
			return
		}
		// Whatever decodes encodes back to the same bytes.
		if again := encode(w); !bytes.Equal(again, data) {
			t.Fatalf("decode then encode changed the message:\n%x\n%x", data, again)
		}
	})
}

// receive subscribes to cus_1 on b and returns the wake-ups it gets.
func receive(t *testing.T, b *Bus, customerID string) chan Wake {
	t.Helper()
	got := make(chan Wake, 16)
	s, err := b.SubscribeCustomer(customerID, func(w Wake) { got <- w })
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Unsubscribe)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	return got
}

func next(t *testing.T, got chan Wake) Wake {
	t.Helper()
	select {
	case w := <-got:
		return w
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up within 5s")
	}
	return Wake{}
}

func quiet(t *testing.T, got chan Wake) {
	t.Helper()
	select {
	case w := <-got:
		t.Fatalf("unexpected wake-up %+v", w)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestEmbedded(t *testing.T) {
	b, err := Open(Options{DataDir: t.TempDir(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !b.Embedded() {
		t.Fatal("not embedded")
	}
	if err := b.Ping(); err != nil {
		t.Fatal(err)
	}
	got := receive(t, b, "cus_1")
	other := receive(t, b, "cus_2")
	w := Wake{ConversationID: "cnv_1", Seq: 9, Events: sealedEvents("cnv_1", 8, 9)}
	if err := b.WakeCustomer("cus_1", w); err != nil {
		t.Fatal(err)
	}
	if g := next(t, got); !reflect.DeepEqual(g, w) {
		t.Fatalf("got %+v", g)
	}
	// Delivered in process, once: NATS does not echo it back.
	b.Flush()
	quiet(t, got)
	quiet(t, other)
	// Alone, the node keeps its customers out of NATS: no subscription,
	// no message per wake-up (a customer's subscription cost about a
	// kilobyte of each idle socket).
	if n := b.feed.NumSubscriptions(); n != 0 {
		t.Errorf("embedded bus holds %d NATS subscriptions for its customers, want 0", n)
	}
	if out := b.feed.Stats().OutMsgs; out != 0 {
		t.Errorf("embedded bus published %d wake-ups to NATS, want 0", out)
	}
}

// TestExternalTwoNodes is two nodes on one external NATS: a wake-up
// published by one reaches a subscriber on the other, with its sealed
// events, and a customer nobody follows costs nothing.
func TestExternalTwoNodes(t *testing.T) {
	url := testenv.NATS(t)
	a, err := Open(Options{URL: url, Name: "node-a"})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := Open(Options{URL: url, Name: "node-b"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if a.Embedded() {
		t.Fatal("external bus reports embedded")
	}
	onA, onB := receive(t, a, "cus_1"), receive(t, b, "cus_1")
	otherOnB := receive(t, b, "cus_2")
	w := Wake{ConversationID: "cnv_1", Seq: 9, Events: sealedEvents("cnv_1", 8, 9)}
	if err := a.WakeCustomer("cus_1", w); err != nil {
		t.Fatal(err)
	}
	for _, got := range []chan Wake{onA, onB} {
		if g := next(t, got); !reflect.DeepEqual(g, w) {
			t.Fatalf("got %+v", g)
		}
	}
	a.Flush()
	b.Flush()
	quiet(t, onA)
	quiet(t, otherOnB)

	// Too big to travel with its events: the other node hears of the seq
	// and reads the store; this node still gets everything in process.
	big := Wake{ConversationID: "cnv_1", Seq: 2000, Events: sealedEvents("cnv_1", 1000, 2000)}
	for i := range big.Events {
		big.Events[i].Sealed = make([]byte, 512)
	}
	if err := a.WakeCustomer("cus_1", big); err != nil {
		t.Fatal(err)
	}
	if g := next(t, onA); len(g.Events) != len(big.Events) {
		t.Fatalf("in process: %d events, want %d", len(g.Events), len(big.Events))
	}
	if g := next(t, onB); g.Seq != 2000 || g.ConversationID != "cnv_1" || len(g.Events) != 0 {
		t.Fatalf("over NATS: seq %d, %d events; want 2000 and none", g.Seq, len(g.Events))
	}
}

func TestUnsubscribeEndsInterest(t *testing.T) {
	b, err := Open(Options{DataDir: t.TempDir(), Name: "test"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var first, second atomic.Int32
	s1, _ := b.SubscribeCustomer("cus_1", func(Wake) { first.Add(1) })
	s2, _ := b.SubscribeCustomer("cus_1", func(Wake) { second.Add(1) })
	b.WakeCustomer("cus_1", Wake{ConversationID: "cnv_1", Seq: 1})
	s1.Unsubscribe()
	b.WakeCustomer("cus_1", Wake{ConversationID: "cnv_1", Seq: 2})
	if first.Load() != 1 || second.Load() != 2 {
		t.Fatalf("first got %d, second %d; want 1 and 2", first.Load(), second.Load())
	}
	if f := b.Followed(); len(f) != 1 {
		t.Fatalf("following %v", f)
	}
	s2.Unsubscribe()
	s2.Unsubscribe() // twice is harmless
	if f := b.Followed(); len(f) != 0 {
		t.Fatalf("still following %v after the last unsubscribe", f)
	}
}
