package bus

import (
	"testing"
	"time"

	"github.com/openteller/openteller/internal/testenv"
)

func roundTrip(t *testing.T, pub, sub *Bus) {
	t.Helper()
	got := make(chan Wake, 1)
	s, err := sub.SubscribeCustomer("cus_1", func(w Wake) { got <- w })
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unsubscribe()
	if err := sub.Flush(); err != nil {
		t.Fatal(err)
	}
	other, _ := sub.SubscribeCustomer("cus_2", func(w Wake) { t.Errorf("cus_2 woken by cus_1's event: %+v", w) })
	defer other.Unsubscribe()
	sub.Flush()
	if err := pub.WakeCustomer("cus_1", Wake{ConversationID: "cnv_1", Seq: 7}); err != nil {
		t.Fatal(err)
	}
	select {
	case w := <-got:
		if w != (Wake{ConversationID: "cnv_1", Seq: 7}) {
			t.Fatalf("got %+v", w)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no wake-up within 5s")
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
	roundTrip(t, b, b)
}

// TestExternalTwoConnections is two nodes on one external NATS: a wake-up
// published by one reaches a subscriber on the other.
func TestExternalTwoConnections(t *testing.T) {
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
	roundTrip(t, a, b)
}
