package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
	"github.com/openteller/openteller/pkg/bankapi"
)

// staffClient is one of the bank's people calling the console's API from
// Go, for what a test prepares rather than checks.
type staffClient struct {
	t            *testing.T
	base, cookie string
	csrf         string
}

func staffSignIn(t *testing.T, base, email, password string) *staffClient {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"email": email, "password": password})
	resp, err := http.Post(base+"/console/api/signin", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var me struct {
		CSRF string `json:"csrf_token"`
	}
	json.NewDecoder(resp.Body).Decode(&me)
	for _, c := range resp.Cookies() {
		if c.Name == "__Host-ot_staff" {
			return &staffClient{t: t, base: base, cookie: c.Name + "=" + c.Value, csrf: me.CSRF}
		}
	}
	t.Fatalf("console sign-in of %s: %d", email, resp.StatusCode)
	return nil
}

func (s *staffClient) call(method, path string, body any) []byte {
	s.t.Helper()
	var r io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		r = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, s.base+"/console/api"+path, r)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", s.base)
	req.Header.Set("Cookie", s.cookie)
	req.Header.Set("X-CSRF-Token", s.csrf)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode >= 300 {
		s.t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, data)
	}
	return data
}

// askForPeople signs up n customers, links each to the demo bank with
// support_chat, and has each ask for a person and write why. The demo
// customer asks too, after a long conversation with the bank and a fraud
// alert. Nobody's console is open, so all of them wait in the queue.
func askForPeople(t *testing.T, info demoInfo, n int) {
	t.Helper()
	ctx := ctxT(t)
	bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)
	var evs []bankapi.Event
	for i := range 40 {
		evs = append(evs, message(fmt.Sprintf("shift-%d", i), info.LinkID, fmt.Sprintf("Statement line %02d is ready", i)))
	}
	bank.post(evs...)
	raiseAlert(t, info)
	ask := func(c *customer, conversationID, why string) {
		t.Helper()
		sent(why)
		if err := c.Call(ctx, "POST", "/app/api/conversations/"+conversationID+"/requests", map[string]string{"kind": "human"}, nil); err != nil {
			t.Fatalf("ask for a person: %v", err)
		}
		if err := c.Call(ctx, "POST", "/app/api/conversations/"+conversationID+"/messages", map[string]string{"text": why}, nil); err != nil {
			t.Fatalf("say why: %v", err)
		}
	}
	demoCustomer := newCustomer(t, info.BaseURL)
	demoCustomer.signIn(info.CustomerEmail, info.CustomerPassword)
	ask(demoCustomer, info.ConversationID, "Someone used my card abroad")
	for i := range n {
		c := newCustomer(t, info.BaseURL)
		c.signUp(fmt.Sprintf("shift%d@example.com", i), "a long enough password")
		conv := c.link(info.InstitutionID, "support_chat", "balances", "transactions")
		ask(c, conv.ID, fmt.Sprintf("Question number %d about my account", i))
	}
}

// consoleSignIn signs in to the console in the browser and waits for the
// queue to show at least rows conversations.
func consoleSignIn(do func(string, ...chromedp.Action[chromedp.Void]), info demoInfo, email, password string, rows int) {
	do("sign in to the console",
		chromedp.Navigate(info.BaseURL+"/console.html"),
		chromedp.WaitVisible(css(`[data-testid="console-email"]`)),
		chromedp.SendKeys(css(`[data-testid="console-email"]`), email),
		chromedp.SendKeys(css(`[data-testid="console-password"]`), password),
		click(css(`[data-testid="console-signin"]`)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelectorAll('[data-testid="console-row"]').length >= %d`, rows)),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="console-presence-state"]').dataset.state === 'online'`),
	)
}

// box is an element's place on the page, and how it scrolls.
type box struct {
	Left, Top, Right, Bottom   float64
	ScrollHeight, ClientHeight float64
	ScrollTop                  float64
	Overflow                   string
	Shown                      bool
}

const boxOf = `((sel) => { const el = document.querySelector(sel); if (!el) return null; const r = el.getBoundingClientRect(); const s = getComputedStyle(el);
  return {left: r.left, top: r.top, right: r.right, bottom: r.bottom, scrollHeight: el.scrollHeight, clientHeight: el.clientHeight, scrollTop: el.scrollTop,
    overflow: s.overflowY, shown: r.width > 0 && r.height > 0 && s.display !== 'none'}; })`

func boxes(t *testing.T, ctx context.Context, sels ...string) []box {
	t.Helper()
	out := make([]box, len(sels))
	for i, sel := range sels {
		b, err := chromedp.Run(ctx, chromedp.Evaluate[*box](fmt.Sprintf("%s(%q)", boxOf, sel)))
		if err != nil || b == nil {
			t.Fatalf("box of %s: %v", sel, err)
		}
		out[i] = *b
	}
	return out
}

// The panes, and what scrolls in each.
const (
	queuePane   = `[data-testid="console-queue-pane"]`
	threadPane  = `[data-testid="console-thread"]`
	contextPane = `[data-testid="console-context-pane"]`
	threadCards = `[data-testid="console-cards"]`
)

// fitsWindow fails the test when anything reaches past the viewport's sides.
func fitsWindow(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	wide, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fitsViewport))
	if err != nil {
		t.Fatal(err)
	}
	if len(wide) > 0 {
		shot(t, ctx, what)
		t.Errorf("%s is wider than the viewport:\n%s", what, strings.Join(wide, "\n"))
	}
}

// TestBrowserConsoleDesk: at 1280×800 a busy shift's console shows the
// queue, the conversation and the customer side by side, each scrolling on
// its own, nothing wider than the window. The keyboard moves through the
// queue (j/k), opens (Enter), replies (r), inserts a canned response with
// "/", goes back (Esc) and shows its shortcuts (?). Filters narrow the
// queue to Mine, Unassigned or a label.
func TestBrowserConsoleDesk(t *testing.T) {
	t.Parallel()
	browser := newChrome(t)
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	const customers = 8 // with the demo customer, within the sign-ups one network may make at once
	askForPeople(t, info, customers)
	_, adaPassword := addStaff(t, info, "ada@cedar.example", "Ada", "agent")
	_, solPassword := addStaff(t, info, "sol@cedar.example", "Sol", "supervisor")
	sol := staffSignIn(t, info.BaseURL, "sol@cedar.example", solPassword)
	for _, c := range []map[string]string{
		{"title": "Card lost", "text": "I have blocked your card. A new one is on its way and arrives in 3 to 5 days."},
		{"title": "Opening hours", "text": "Our branches are open 9 to 5, Monday to Friday."},
		{"title": "Address change", "text": "You can change your address under Settings, then Profile."},
	} {
		sent(c["text"])
		sol.call("POST", "/canned", c)
	}
	// Enough private notes on the demo customer that the customer pane
	// scrolls too.
	for i := range 8 {
		note := fmt.Sprintf("Note %d: called about the card abroad, prefers a call back after five in the afternoon, spoke to the branch in town.", i)
		sent(note)
		sol.call("POST", "/conversations/"+info.ConversationID+"/notes", map[string]string{"text": note})
	}

	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	do := steps(t, ctx)
	do("a desk's window", chromedp.EmulateViewport(1280, 800))
	consoleSignIn(do, info, "ada@cedar.example", adaPassword, customers+1)

	// The most urgent first: the demo customer's fraud alert.
	first, err := chromedp.Run(ctx, chromedp.Evaluate[map[string]string](`(() => { const r = document.querySelector('[data-testid="console-row"]');
	  return {id: r.dataset.id, fraud: r.dataset.fraud, who: r.querySelector('.row-who').textContent, text: r.textContent}; })()`))
	if err != nil {
		t.Fatal(err)
	}
	if first["id"] != info.ConversationID || first["fraud"] != "true" || strings.Contains(first["text"], "@") || !strings.Contains(first["text"], "Waiting") {
		t.Fatalf("the first row: %+v", first)
	}
	do("previews say why each customer came",
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="console-why"]')].some((w) => w.textContent.includes('Question number 3 about my account'))`))

	// Keyboard: j/k move through the queue, Enter opens.
	rowID := func(n int) string {
		id, err := chromedp.Run(ctx, chromedp.Evaluate[string](fmt.Sprintf(`document.querySelectorAll('[data-testid="console-row"]')[%d].dataset.id`, n)))
		if err != nil {
			t.Fatal(err)
		}
		return id
	}
	focused := `document.activeElement?.dataset?.id || ''`
	second := rowID(1)
	do("j j k: the second row has focus",
		chromedp.KeyEvent("j"),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`(%s) === %q`, focused, first["id"])),
		chromedp.KeyEvent("j"), chromedp.KeyEvent("j"), chromedp.KeyEvent("k"),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`(%s) === %q`, focused, second)),
		chromedp.KeyEvent("k"),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`(%s) === %q`, focused, first["id"])),
		chromedp.KeyEvent(kb.Enter),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector('[data-testid="console-who"]')?.textContent === %q`, first["who"])),
		chromedp.WaitVisible(css(`[data-testid="context-balance"]`)),
		chromedp.WaitVisible(css(`[data-testid="console-scopes"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="console-cards"] li').length >= 40`),
	)
	// Scopes in words, never ids.
	scopes, err := chromedp.Run(ctx, chromedp.Text(css(`[data-testid="console-scopes"]`)))
	if err != nil || !strings.Contains(scopes, "Balances") || !strings.Contains(scopes, "Card transactions") || strings.Contains(scopes, "support_chat") || strings.Contains(scopes, "fraud_alerts") {
		t.Fatalf("scopes in the customer pane: %q (%v)", scopes, err)
	}

	// Three panes side by side, each scrolling on its own.
	b := boxes(t, ctx, queuePane, threadPane, contextPane, threadCards)
	q, th, cx, cards := b[0], b[1], b[2], b[3]
	for name, p := range map[string]box{"queue": q, "conversation": th, "customer": cx} {
		if !p.Shown || p.Top > 120 || p.Bottom > 800.5 || p.Right-p.Left < 200 {
			t.Errorf("the %s pane at 1280×800: %+v", name, p)
		}
	}
	if !(q.Right <= th.Left+1 && th.Right <= cx.Left+1 && cx.Right <= 1280.5) {
		t.Errorf("panes not side by side: queue %v..%v, conversation %v..%v, customer %v..%v", q.Left, q.Right, th.Left, th.Right, cx.Left, cx.Right)
	}
	for name, p := range map[string]box{"queue": q, "messages": cards, "customer": cx} {
		if p.Overflow != "auto" || p.ScrollHeight <= p.ClientHeight {
			t.Errorf("the %s pane does not scroll on its own: overflow %s, %v of %v", name, p.Overflow, p.ClientHeight, p.ScrollHeight)
		}
	}
	fitsWindow(t, ctx, "the console at 1280×800")
	pageScroll := `document.scrollingElement.scrollHeight <= window.innerHeight + 1 && document.scrollingElement.scrollTop === 0`
	do("scroll the queue alone",
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).scrollTop = 0; document.querySelector(%q).scrollTop = 0; document.querySelector(%q).scrollTop = 150`, threadCards, contextPane, queuePane)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).scrollTop > 0`, queuePane)))
	b = boxes(t, ctx, queuePane, threadCards, contextPane)
	queueTop := b[0].ScrollTop
	if b[1].ScrollTop != 0 || b[2].ScrollTop != 0 {
		t.Errorf("scrolling the queue moved the messages (%v) or the customer (%v)", b[1].ScrollTop, b[2].ScrollTop)
	}
	do("scroll the customer alone",
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).scrollTop = 120`, contextPane)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).scrollTop > 0`, contextPane)))
	b = boxes(t, ctx, queuePane, threadCards, contextPane)
	if b[0].ScrollTop != queueTop || b[1].ScrollTop != 0 {
		t.Errorf("scrolling the customer moved the queue (%v) or the messages (%v)", b[0].ScrollTop, b[1].ScrollTop)
	}
	if ok, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](pageScroll)); !ok {
		t.Error("the page itself scrolls; only the panes should")
	}
	shot(t, ctx, "desk")

	// r: without the conversation, the Take button; after taking it, the reply.
	do("take it, then r focuses the reply",
		click(css(`[data-testid="console-take"]`)),
		chromedp.WaitVisible(css(`[data-testid="console-reply"]`)),
		chromedp.Evaluate[chromedp.Void](`document.activeElement.blur()`),
		chromedp.KeyEvent("r"),
		chromedp.Poll[chromedp.Void](`document.activeElement?.dataset?.testid === 'console-reply'`),
	)
	// "/" lists the canned responses; typing narrows; Enter inserts.
	cardLost := "I have blocked your card. A new one is on its way and arrives in 3 to 5 days."
	do("/ lists canned responses",
		chromedp.KeyEvent("/"),
		chromedp.WaitVisible(css(`[data-testid="console-canned-list"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="console-canned-option"]').length === 3`),
		chromedp.KeyEvent("card"),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="console-canned-option"]').length === 1`),
	)
	shot(t, ctx, "canned")
	do("Enter inserts it",
		chromedp.KeyEvent(kb.Enter),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector('[data-testid="console-reply"]').value === %q`, cardLost)),
		chromedp.WaitNotVisible(css(`[data-testid="console-canned-list"]`)),
	)
	do("send it",
		click(css(`[data-testid="console-send"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="console-cards"]').textContent.includes('arrives in 3 to 5 days')`),
	)
	do("the canned button, and Esc closes the list first",
		click(css(`[data-testid="console-canned-button"]`)),
		chromedp.WaitVisible(css(`[data-testid="console-canned-list"]`)),
		chromedp.KeyEvent("open"),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="console-canned-option"]').length === 1`),
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotVisible(css(`[data-testid="console-canned-list"]`)),
		chromedp.Poll[chromedp.Void](`document.activeElement?.dataset?.testid === 'console-reply'`),
	)
	do("Esc leaves the reply for the queue",
		chromedp.KeyEvent(kb.Escape),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`(%s) === %q`, focused, first["id"])),
	)
	do("? shows the shortcuts",
		chromedp.KeyEvent("?"),
		chromedp.WaitVisible(css(`[data-testid="console-help-dialog"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="console-help-dialog"]').textContent.includes('Next conversation in the queue')`),
	)
	shot(t, ctx, "shortcuts")
	do("Esc closes the shortcuts",
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitNotVisible(css(`[data-testid="console-help-dialog"]`)),
	)

	// Filters.
	rows := `[...document.querySelectorAll('[data-testid="console-row"]')]`
	do("Mine: the one Ada took",
		click(css(`[data-testid="console-filter-mine"]`)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`%s.length === 1 && %s[0].dataset.id === %q`, rows, rows, first["id"])),
	)
	do("Unassigned: everyone still waiting for a person",
		click(css(`[data-testid="console-filter-unassigned"]`)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`%s.length === %d && %s.every((r) => r.dataset.owner === 'queue')`, rows, customers, rows)),
	)
	do("All",
		click(css(`[data-testid="console-filter-all"]`)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`%s.length === %d`, rows, customers+1)),
	)
	// Labels: add one on the open conversation, filter by it, take it off.
	do("label the conversation",
		chromedp.SendKeys(css(`[data-testid="console-label-input"]`), "Card abroad"),
		click(css(`[data-testid="console-label-add"]`)),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="console-label"]')].some((l) => l.textContent.includes('card abroad'))`),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('#c-label-filter option')].some((o) => o.value === 'card abroad')`),
	)
	do("filter by the label",
		chromedp.SetValue(css(`[data-testid="console-label-filter"]`), "card abroad"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="console-label-filter"]').dispatchEvent(new Event('change'))`),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`%s.length === 1 && %s[0].dataset.id === %q`, rows, rows, first["id"])),
	)
	do("take the label off: nothing carries it",
		click(css(`[data-testid="console-label-remove"]`)),
		chromedp.Poll[chromedp.Void](fmt.Sprintf(`%s.length === 0`, rows)),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="console-queue"]').textContent.includes('labelled')`),
	)
	fitsWindow(t, ctx, "the console after all that")

	// Presence, as the supervisor's queue shows it beside Ada's conversation.
	presenceOf := func(want string) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			var q struct {
				Conversations []struct {
					ID            string `json:"id"`
					AgentPresence string `json:"agent_presence"`
				}
			}
			json.Unmarshal(sol.call("GET", "/queue", nil), &q)
			got := ""
			for _, c := range q.Conversations {
				if c.ID == first["id"] {
					got = c.AgentPresence
				}
			}
			if got == want {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("Ada's presence: %q, want %q", got, want)
			}
			time.Sleep(50 * time.Millisecond) // asking the server again, not waiting for time to pass
		}
	}
	presenceOf("online")
	state := `document.querySelector('[data-testid="console-presence-state"]')`
	do("Ada chooses Away",
		chromedp.SetValue(css(`[data-testid="console-presence"]`), "away"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="console-presence"]').dispatchEvent(new Event('change'))`),
		chromedp.Poll[chromedp.Void](state+`.dataset.state === 'away'`),
	)
	presenceOf("away")
	do("and Online again",
		chromedp.SetValue(css(`[data-testid="console-presence"]`), "online"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="console-presence"]').dispatchEvent(new Event('change'))`),
		chromedp.Poll[chromedp.Void](state+`.dataset.state === 'online'`),
	)
	presenceOf("online")
	// The browser says the tab is hidden (as when another tab is in front):
	// away by itself; shown again: online.
	hidden := func(yes bool) chromedp.Action[chromedp.Void] {
		return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`Object.defineProperty(document, 'visibilityState', {configurable: true, get: () => %q});
		  document.dispatchEvent(new Event('visibilitychange'))`, map[bool]string{true: "hidden", false: "visible"}[yes]))
	}
	do("the tab is hidden", hidden(true), chromedp.Poll[chromedp.Void](state+`.textContent.includes('hidden')`))
	presenceOf("away")
	do("the tab is shown", hidden(false), chromedp.Poll[chromedp.Void](state+`.dataset.state === 'online'`))
	presenceOf("online")
	// Closing the console ends Ada's presence at once.
	do("close the console", chromedp.Navigate("about:blank"))
	presenceOf("offline")
}

// TestBrowserConsolePhone: at 390×844 the console shows one pane at a
// time: the queue; a conversation, with a way back; the customer, with a
// way back to the conversation; Esc goes back too. A supervisor keeps the
// canned responses there. Nothing is wider than the screen.
func TestBrowserConsolePhone(t *testing.T) {
	t.Parallel()
	browser := newChrome(t)
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	askForPeople(t, info, 1)
	_, password := addStaff(t, info, "sol@cedar.example", "Sol", "supervisor")
	ctx, cancel := context.WithTimeout(browser, 90*time.Second)
	defer cancel()
	do := steps(t, ctx)
	do("a phone's viewport", chromedp.EmulateViewport(390, 844))
	consoleSignIn(do, info, "sol@cedar.example", password, 2)
	only := func(view string, shown string) {
		t.Helper()
		b := boxes(t, ctx, queuePane, threadPane, contextPane)
		got := map[string]bool{"queue": b[0].Shown, "thread": b[1].Shown, "context": b[2].Shown}
		for name, s := range got {
			if s != (name == shown) {
				t.Errorf("%s: the %s pane shown %v", view, name, s)
			}
		}
		p := b[map[string]int{"queue": 0, "thread": 1, "context": 2}[shown]]
		if p.Left < -0.5 || p.Right > 390.5 || p.Bottom > 844.5 {
			t.Errorf("%s: the %s pane at %+v", view, shown, p)
		}
		fitsWindow(t, ctx, view)
	}
	only("signed in", "queue")
	shot(t, ctx, "phone-queue")
	do("open the first conversation",
		click(css(`[data-testid="console-row"]`)),
		chromedp.WaitVisible(css(`[data-testid="console-thread"]:not([aria-busy]) [data-testid="console-who"]`)),
		chromedp.WaitVisible(css(`[data-testid="console-take"]`)),
	)
	only("a conversation", "thread")
	shot(t, ctx, "phone-thread")
	do("see the customer",
		click(css(`[data-testid="console-show-context"]`)),
		chromedp.WaitVisible(css(`[data-testid="context-balance"]`)),
	)
	only("the customer", "context")
	shot(t, ctx, "phone-customer")
	do("back to the conversation",
		click(css(`[data-testid="console-context-back"]`)),
		chromedp.WaitVisible(css(`[data-testid="console-take"]`)),
	)
	only("back from the customer", "thread")
	do("Esc: back to the queue, on the row",
		chromedp.KeyEvent(kb.Escape),
		chromedp.WaitVisible(css(`[data-testid="console-row"]`)),
		chromedp.Poll[chromedp.Void](`document.activeElement?.dataset?.testid === 'console-row'`),
	)
	only("Esc from the conversation", "queue")
	do("the back button works as well",
		chromedp.KeyEvent(kb.Enter),
		chromedp.WaitVisible(css(`[data-testid="console-thread"]:not([aria-busy]) [data-testid="console-back"]`)),
		click(css(`[data-testid="console-back"]`)),
		chromedp.WaitVisible(css(`[data-testid="console-row"]`)),
	)
	only("the back button", "queue")

	// The supervisor adds a canned response, and deletes it.
	sent("Thank you for waiting. I am looking into it now.")
	do("add a canned response",
		click(css(`[data-testid="console-canned-manage"] summary`)),
		chromedp.WaitVisible(css(`[data-testid="console-canned-title"]`)),
		chromedp.SendKeys(css(`[data-testid="console-canned-title"]`), "Looking into it"),
		chromedp.SendKeys(css(`[data-testid="console-canned-text"]`), "Thank you for waiting. I am looking into it now."),
		click(css(`[data-testid="console-canned-add"]`)),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="console-canned-item"]')].some((i) => i.textContent.includes('Looking into it'))`),
		chromedp.WaitVisible(css(`[data-testid="console-figures"] table`)),
	)
	only("the supervisor's tools", "queue")
	do("delete it",
		click(css(`[data-testid="console-canned-delete"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="console-canned-item"]').length === 0`),
	)
}
