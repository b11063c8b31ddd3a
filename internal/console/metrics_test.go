package console

import (
	"testing"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// TestFigures: first response runs from asking for a person to the agent's
// first reply after taking it; resolution to the hand-back; satisfaction
// is the mean score; medians over conversations.
func TestFigures(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	at := func(min int) time.Time { return t0.Add(time.Duration(min) * time.Minute) }
	hs := []store.HandoverRecord{
		{ConversationID: "c1", From: "bot", To: "queue", At: at(0)},
		{ConversationID: "c1", From: "queue", To: "agent", AgentID: "ada", At: at(2)},
		{ConversationID: "c1", From: "agent", To: "bot", AgentID: "ada", At: at(20)},
		{ConversationID: "c2", From: "bot", To: "queue", At: at(0)},
		{ConversationID: "c2", From: "queue", To: "agent", AgentID: "ada", At: at(10)},
		{ConversationID: "c2", From: "agent", To: "bot", AgentID: "ada", At: at(40)},
		{ConversationID: "c3", From: "bot", To: "queue", At: at(5)},
		{ConversationID: "c3", From: "queue", To: "agent", AgentID: "bo", At: at(6)},
		// Cy takes c4 and hands it back without a word; the reply written
		// after is someone else's, not Cy's first response.
		{ConversationID: "c4", From: "bot", To: "queue", At: at(0)},
		{ConversationID: "c4", From: "queue", To: "agent", AgentID: "cy", At: at(1)},
		{ConversationID: "c4", From: "agent", To: "bot", AgentID: "cy", At: at(3)},
	}
	writes := []store.EventTime{
		{ConversationID: "c1", At: at(1)}, // before Ada took it: not hers
		{ConversationID: "c1", At: at(4)},
		{ConversationID: "c2", At: at(12)},
		{ConversationID: "c3", At: at(9)},
		{ConversationID: "c4", At: at(30)},
	}
	rs := []store.Rating{{StaffID: "ada", Score: 5}, {StaffID: "ada", Score: 4}, {StaffID: "bo", Score: 2}}
	got := Figures(hs, writes, rs)
	if len(got) != 3 {
		t.Fatalf("figures %+v", got)
	}
	ada, bo, cy := got[0], got[1], got[2]
	if cy.AgentID != "cy" || cy.FirstResponseMs != 0 || cy.Conversations != 1 {
		t.Errorf("cy = %+v: a write after the hand-back counted as theirs", cy)
	}
	min := int64(time.Minute / time.Millisecond)
	// Ada: first responses 4 and 12 min → median (upper) 12; resolutions 20 and 40 → 40.
	if ada.AgentID != "ada" || ada.Conversations != 2 || ada.FirstResponseMs != 12*min || ada.ResolutionMs != 40*min || ada.Ratings != 2 || ada.Satisfaction != 4.5 {
		t.Errorf("ada = %+v", ada)
	}
	// Bo: answered 4 min after the customer asked; not resolved yet.
	if bo.AgentID != "bo" || bo.FirstResponseMs != 4*min || bo.ResolutionMs != 0 || bo.Satisfaction != 2 {
		t.Errorf("bo = %+v", bo)
	}
}
