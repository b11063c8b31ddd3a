package ingest

import (
	"slices"
	"testing"

	"github.com/openteller/openteller/internal/store"
)

// TestWakesGroupByConversation: one wake a conversation, in the order each
// first appears, with its events in order and its last seq; a wake's
// events stay its own when another's grow.
func TestWakesGroupByConversation(t *testing.T) {
	evs := []store.Event{
		{ConversationID: "a", Seq: 1}, {ConversationID: "b", Seq: 7},
		{ConversationID: "a", Seq: 2}, {ConversationID: "c", Seq: 3},
		{ConversationID: "b", Seq: 8}, {ConversationID: "a", Seq: 3},
	}
	ws := wakes(evs)
	var got []string
	for _, w := range ws {
		seqs := ""
		for _, e := range w.Events {
			if e.ConversationID != w.ConversationID {
				t.Fatalf("wake of %s holds an event of %s", w.ConversationID, e.ConversationID)
			}
			seqs += string(rune('0' + e.Seq))
		}
		got = append(got, w.ConversationID+":"+seqs+"/"+string(rune('0'+w.Seq)))
	}
	if want := []string{"a:123/3", "b:78/8", "c:3/3"}; !slices.Equal(got, want) {
		t.Fatalf("wakes %v, want %v", got, want)
	}
	ws[0].Events = append(ws[0].Events, store.Event{ConversationID: "a", Seq: 4})
	if ws[1].Events[0].Seq != 7 {
		t.Fatal("growing one wake's events overwrote another's")
	}
	if len(wakes(nil)) != 0 {
		t.Fatal("wakes of no events")
	}
}
