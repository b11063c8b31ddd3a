package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/testenv"
	"github.com/openteller/openteller/internal/vault"
)

// TestEncodeMatchesEventJSON: the event objects written directly for the
// live protocol say what encoding/json makes of Event (byte for byte but
// for the HTML escaping encoding/json adds inside the payload, which ingest's
// payloads already have).
func TestEncodeMatchesEventJSON(t *testing.T) {
	ctx := context.Background()
	st := testenv.SQLite(t)
	kr, err := vault.New(bytes.Repeat([]byte{7}, 32), st)
	if err != nil {
		t.Fatal(err)
	}
	h := &Hub{keyring: kr, log: slog.New(slog.DiscardHandler)}
	owner := vault.ConversationKey("cus_1", "ins_1")
	at := time.Date(2026, 12, 4, 9, 30, 0, 120000000, time.UTC)
	for i, c := range []struct {
		typ, author, data string
		replaces          int64
		at                time.Time
	}{
		{"transaction.posted", store.AuthorInstitution, `{"amount":{"amount":"12.50","currency":"EUR"},"merchant":{"name":"Café <Léa> & co"}}`, 3, at},
		{"customer.message", store.AuthorCustomer, `{"text":"say \"hi\"\n"}`, 0, at.Add(time.Nanosecond)},
		{"link.revoked", store.AuthorPlatform, `{}`, 0, time.Date(2026, 1, 1, 0, 0, 0, 0, time.FixedZone("", 3600))},
		{"odd \"type\" é", "x<y", `[1,2]`, 0, at},
	} {
		id := "evt_" + string(rune('a'+i))
		sealed, err := kr.Seal(ctx, owner, id, []byte(c.data))
		if err != nil {
			t.Fatal(err)
		}
		e := store.Event{ID: id, ConversationID: "cnv_1", Seq: int64(10 + i), CustomerID: "cus_1", InstitutionID: "ins_1",
			Type: c.typ, Author: c.author, OccurredAt: c.at, ReceivedAt: c.at.Add(time.Second), ReplacesSeq: c.replaces, Sealed: sealed}
		want, err := json.Marshal(Event{Seq: e.Seq, Type: e.Type, Author: e.Author, OccurredAt: e.OccurredAt, ReceivedAt: e.ReceivedAt,
			Data: json.RawMessage(c.data), ReplacesSeq: e.ReplacesSeq})
		if err != nil {
			t.Fatal(err)
		}
		got := h.encode(ctx, e)
		var g, w any
		if err := json.Unmarshal(got, &g); err != nil {
			t.Fatalf("encode wrote %s: %v", got, err)
		}
		json.Unmarshal(want, &w)
		if !reflect.DeepEqual(g, w) || (!strings.ContainsAny(c.data, "<>&") && !bytes.Equal(got, want)) {
			t.Fatalf("encode:\n got %s\nwant %s", got, want)
		}
	}
	// A payload that cannot be opened is sent empty, seq and all.
	bad := store.Event{ID: "evt_z", Seq: 20, CustomerID: "cus_1", InstitutionID: "ins_1", Type: "message", Author: store.AuthorInstitution,
		OccurredAt: at, ReceivedAt: at, Sealed: []byte("not sealed")}
	var got Event
	if err := json.Unmarshal(h.encode(ctx, bad), &got); err != nil || got.Seq != 20 || string(got.Data) != `{}` {
		t.Fatalf("unopenable event encoded as %+v (%v)", got, err)
	}
}
