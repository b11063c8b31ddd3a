package handover

import (
	"errors"
	"fmt"
	"testing"
)

// TestEveryTransition states the whole machine: every owner × every
// trigger (with the agent cases that differ), and what follows.
func TestEveryTransition(t *testing.T) {
	bot, queue, a1 := State{Owner: Bot}, State{Owner: Queue}, State{Owner: Agent, AgentID: "a1"}
	type want struct {
		next    State
		changed bool
		refused bool
	}
	stay := func(s State) want { return want{next: s} }
	to := func(s State) want { return want{next: s, changed: true} }
	refused := func(s State) want { return want{next: s, refused: true} }
	cases := []struct {
		from State
		req  Request
		want want
	}{
		{bot, Request{Trigger: CustomerAsks}, to(queue)},
		{queue, Request{Trigger: CustomerAsks}, stay(queue)},
		{a1, Request{Trigger: CustomerAsks}, stay(a1)},

		{bot, Request{Trigger: BotAsks}, to(queue)},
		{queue, Request{Trigger: BotAsks}, stay(queue)},
		{a1, Request{Trigger: BotAsks}, stay(a1)},

		{bot, Request{Trigger: AgentTakes, AgentID: "a1"}, to(a1)},
		{queue, Request{Trigger: AgentTakes, AgentID: "a1"}, to(a1)},
		{a1, Request{Trigger: AgentTakes, AgentID: "a1"}, stay(a1)},
		{a1, Request{Trigger: AgentTakes, AgentID: "a2"}, refused(a1)},
		{a1, Request{Trigger: AgentTakes, AgentID: "a2", Supervisor: true}, to(State{Owner: Agent, AgentID: "a2"})},
		{queue, Request{Trigger: AgentTakes}, refused(queue)},

		{bot, Request{Trigger: AgentReturns, AgentID: "a1"}, refused(bot)},
		{queue, Request{Trigger: AgentReturns, AgentID: "a1"}, refused(queue)},
		{a1, Request{Trigger: AgentReturns, AgentID: "a1"}, to(bot)},
		{a1, Request{Trigger: AgentReturns, AgentID: "a2"}, refused(a1)},
		{a1, Request{Trigger: AgentReturns, AgentID: "a2", Supervisor: true}, to(bot)},

		{bot, Request{Trigger: BotTakes}, stay(bot)},
		{queue, Request{Trigger: BotTakes}, to(bot)},
		{a1, Request{Trigger: BotTakes}, to(bot)},

		{queue, Request{Trigger: Assigned, AgentID: "a1"}, to(a1)},
		{bot, Request{Trigger: Assigned, AgentID: "a1"}, stay(bot)},
		{a1, Request{Trigger: Assigned, AgentID: "a2"}, stay(a1)},
		{queue, Request{Trigger: Assigned}, refused(queue)},

		{bot, Request{Trigger: "wave"}, refused(bot)},
	}
	covered := map[string]bool{}
	for _, c := range cases {
		covered[fmt.Sprint(c.from.Owner, "/", c.req.Trigger)] = true
		got, changed, err := Next(c.from, c.req)
		name := fmt.Sprintf("%+v on %+v", c.req, c.from)
		if c.want.refused != (err != nil) || (err != nil && !errors.Is(err, ErrRefused)) {
			t.Errorf("%s: err = %v, want refused %v", name, err, c.want.refused)
		}
		if got != c.want.next || changed != c.want.changed {
			t.Errorf("%s: got %+v changed=%v, want %+v changed=%v", name, got, changed, c.want.next, c.want.changed)
		}
	}
	for _, o := range Owners {
		for _, tr := range Triggers {
			if !covered[fmt.Sprint(o, "/", tr)] {
				t.Errorf("no case for %s on %s", tr, o)
			}
		}
	}
}
