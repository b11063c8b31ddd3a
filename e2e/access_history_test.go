package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// accessLine is one line of the access history, as the page shows it.
type accessLine struct {
	Actor, Verified, Entries, Who, Text, When string
}

const accessLines = `[...document.querySelectorAll('[data-testid="access"]')].map((l) => ({
  actor: l.dataset.actor, verified: l.dataset.verified, entries: l.dataset.entries,
  who: l.querySelector('[data-testid="access-who"]').textContent, text: l.textContent,
  when: l.querySelector('[data-testid="access-when"]').textContent }))`

// TestBrowserAccessHistoryInPlainWords: the privacy center's access
// history says who read, by name ("Ada at Cedar Bank", the email of the
// accountant the customer shared with), never by id, what and when, one
// line for each sitting rather than one for each request: three reads by
// the accountant, then the agent's reads, then the accountant's again are
// three lines, newest first, each verified entry by entry. A short
// disclosure says what "verified" means. Reads by one person far apart in
// time are two lines.
func TestBrowserAccessHistoryInPlainWords(t *testing.T) {
	t.Parallel()
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			ctx, do, info := browseSized(t, vp.w, vp.h)
			const accountant = "history-accountant@example.com"
			acct := newCustomer(t, info.BaseURL)
			acct.signUp(accountant, "ledgers and receipts")
			owner := newCustomer(t, info.BaseURL)
			owner.signIn(info.CustomerEmail, info.CustomerPassword)
			if err := owner.Call(ctxT(t), "POST", "/app/api/links/"+info.LinkID+"/delegates", map[string]any{"email": accountant, "duration_days": 30}, nil); err != nil {
				t.Fatal(err)
			}
			var shared struct{ Delegations []struct{ ID string } }
			if err := acct.Call(ctxT(t), "GET", "/app/api/delegations", nil, &shared); err != nil || len(shared.Delegations) == 0 {
				t.Fatalf("delegations: %+v %v", shared, err)
			}
			read := func(n int) {
				t.Helper()
				for range n {
					if err := acct.Call(ctxT(t), "GET", "/app/api/delegations/"+shared.Delegations[0].ID+"/events", nil, nil); err != nil {
						t.Fatal(err)
					}
				}
			}
			read(3)
			// One of the bank's people opens the conversation, and the
			// customer pane beside it.
			_, password := addStaff(t, info, "ada-history@cedar.example", "Ada", "agent")
			if err := owner.Call(ctxT(t), "POST", "/app/api/conversations/"+info.ConversationID+"/requests", map[string]string{"kind": "human"}, nil); err != nil {
				t.Fatal(err)
			}
			ada := staffSignIn(t, info.BaseURL, "ada-history@cedar.example", password)
			ada.call("GET", "/conversations/"+info.ConversationID+"/events", nil)
			ada.call("GET", "/conversations/"+info.ConversationID+"/context", nil)
			read(1)

			do("the access history",
				chromedp.Navigate(info.BaseURL+"/#/privacy"),
				chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="access"]').length === 3`),
				chromedp.WaitVisible(css(`[data-testid="log-status"]`)),
			)
			shot(t, ctx, "access history")
			lines := evalJS[[]accessLine](t, ctx, accessLines)
			if len(lines) != 3 {
				t.Fatalf("%d lines: %+v", len(lines), lines)
			}
			last, agent, first := lines[0], lines[1], lines[2]
			if last.Actor != "delegate" || last.Entries != "1" || first.Actor != "delegate" || first.Entries != "3" {
				t.Errorf("the accountant's sittings, newest first: %+v and %+v", last, first)
			}
			for _, l := range []accessLine{last, first} {
				if l.Who != accountant+", who you shared with" || !strings.Contains(l.Text, "read your balances and transactions") {
					t.Errorf("the accountant's line says %q", l.Text)
				}
			}
			if agent.Actor != "agent" || agent.Entries == "1" || agent.Who != "Ada at Cedar Bank" ||
				!strings.Contains(agent.Text, "your conversation") || !strings.Contains(agent.Text, "your balances and recent transactions") {
				t.Errorf("the agent's line: %+v", agent)
			}
			for _, l := range lines {
				if l.Verified != "true" || !strings.Contains(l.Text, "Verified") || strings.TrimSpace(l.When) == "" {
					t.Errorf("a line unverified, or with no time: %+v", l)
				}
			}
			if n := evalJS[int](t, ctx, `document.querySelectorAll('[data-testid="log-warning"]:not([hidden])').length`); n != 0 {
				t.Error("a warning on an honest log")
			}
			// No id shows: the entries' actor ids are not on the page.
			var hist struct {
				Accesses []struct {
					Data  string `json:"data"`
					Actor struct{ Name, Institution string }
				} `json:"accesses"`
			}
			if err := owner.Call(ctxT(t), "GET", "/app/api/access", nil, &hist); err != nil {
				t.Fatal(err)
			}
			page := evalJS[string](t, ctx, `document.querySelector('[data-testid="access-history"]').textContent`)
			for _, a := range hist.Accesses {
				var e struct {
					ActorID string `json:"actor_id"`
				}
				if err := json.Unmarshal([]byte(a.Data), &e); err != nil || e.ActorID == "" {
					t.Fatalf("entry %s: %v", a.Data, err)
				}
				if strings.Contains(page, e.ActorID) {
					t.Errorf("the history shows the id %s", e.ActorID)
				}
				if a.Actor.Name == "" {
					t.Errorf("no name for the reader of %s", a.Data)
				}
			}

			// What "verified" means, one tap away.
			explain := `document.querySelector('[data-testid="verified-explain"] p')`
			if evalJS[bool](t, ctx, explain+`.checkVisibility()`) {
				t.Error("the explanation shows before it is asked for")
			}
			do("ask what verified means",
				chromedp.ScrollIntoView(css(`[data-testid="verified-explain"] summary`)),
				click(css(`[data-testid="verified-explain"] summary`)),
				chromedp.Poll[chromedp.Void](explain+`.checkVisibility() && `+explain+`.getBoundingClientRect().height > 0`),
			)
			text := evalJS[string](t, ctx, explain+`.textContent`)
			if !strings.Contains(text, "Verified means") || !strings.Contains(text, "log") {
				t.Errorf("the explanation says %q", text)
			}
			fits(t, ctx, "the access history")
			shot(t, ctx, "verified explained")

			// Sittings: reads by one person further apart than the gap are
			// two lines; another person's read in between ends a sitting.
			counts, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`import('/js/access-history.js').then(({ groupReads, SITTING_GAP_MS }) => {
			  const t0 = Date.parse('2026-03-04T14:00:00Z');
			  const read = (kind, id, minutes) => ({ entry: { actor_kind: kind, actor_id: id, record_kind: 'conversation', at: new Date(t0 + minutes * 60000).toISOString() }, ok: true });
			  if (SITTING_GAP_MS !== 30 * 60000) return [];
			  return groupReads([read('agent', 'a', 0), read('agent', 'a', 10), read('agent', 'a', 35), read('agent', 'a', 70),
			    read('delegate', 'd', 71), read('agent', 'a', 72)]).map((s) => s.count);
			})`, chromedp.EvalAwaitPromise))
			if err != nil || fmt.Sprint(counts) != "[1 1 1 3]" {
				t.Errorf("sittings, newest first, of one person's reads at 0, 10, 35 and 70 min, another's at 71, then the first's at 72: %v (%v), want [1 1 1 3]", counts, err)
			}
		})
	}
}
