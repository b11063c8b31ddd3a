package handover_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/handover"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/testenv"
)

// TestApplyStoresAndTells: each change of owner is stored and told to the
// bank in one step; a refused request or one that changes nothing queues
// nothing.
func TestApplyStoresAndTells(t *testing.T) {
	ctx := context.Background()
	st := testenv.SQLite(t)
	now := time.Now()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateInstitution(ctx, store.Institution{ID: "ins_1", Name: "Cedar Bank", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: now}))
	must(st.CreateCustomer(ctx, store.Customer{ID: "cus_1", Email: "a@example.com", PasswordHash: "x", CreatedAt: now}))
	l, err := st.CreateLink(ctx, store.Link{ID: "lnk_1", CustomerID: "cus_1", InstitutionID: "ins_1", ConversationID: "cnv_1",
		Scopes: []string{"support_chat"}, Status: store.LinkActive, CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		store.Receipt{ID: "rcp_1", Action: store.ReceiptGrant, Method: "test"})
	must(err)
	kicked := 0
	s := &handover.Service{Store: st, Queued: func() { kicked++ }}
	steps := []struct {
		req     handover.Request
		owner   handover.Owner
		changed bool
		refused bool
	}{
		{handover.Request{Trigger: handover.CustomerAsks}, handover.Queue, true, false},
		{handover.Request{Trigger: handover.CustomerAsks}, handover.Queue, false, false},
		{handover.Request{Trigger: handover.AgentTakes, AgentID: "stf_1"}, handover.Agent, true, false},
		{handover.Request{Trigger: handover.AgentReturns, AgentID: "stf_2"}, handover.Agent, false, true},
		{handover.Request{Trigger: handover.AgentReturns, AgentID: "stf_1"}, handover.Bot, true, false},
	}
	for i, step := range steps {
		got, changed, err := s.Apply(ctx, l.ConversationID, step.req)
		if step.refused != errors.Is(err, handover.ErrRefused) || changed != step.changed {
			t.Fatalf("step %d %+v: %+v changed=%v err=%v", i, step.req, got, changed, err)
		}
		c, _ := st.Conversation(ctx, l.ConversationID)
		if handover.Owner(c.Owner) != step.owner {
			t.Fatalf("step %d: stored owner %q, want %q", i, c.Owner, step.owner)
		}
	}
	ns, _ := st.Notices(ctx, "ins_1")
	var trail []string
	for _, n := range ns {
		if n.Type != store.NoticeHandover {
			continue
		}
		var h handover.Notice
		json.Unmarshal(n.Payload, &h)
		trail = append(trail, string(h.From)+">"+string(h.To))
	}
	if len(trail) != 3 || trail[0] != "bot>queue" || trail[1] != "queue>agent" || trail[2] != "agent>bot" || kicked != 3 {
		t.Fatalf("notices %v, deliverer kicked %d times", trail, kicked)
	}
}
