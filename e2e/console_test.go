package e2e

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// addStaff adds one of the bank's people through the Bank API and returns
// their email and the password shown once.
func addStaff(t *testing.T, info demoInfo, email, name, role string) (string, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", info.BaseURL+"/v1/staff", strings.NewReader(`{"email":"`+email+`","name":"`+name+`","role":"`+role+`"}`))
	req.Header.Set("Authorization", "Bearer "+info.InstitutionAPIKey)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ ID, Password string }
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != http.StatusCreated || out.Password == "" {
		t.Fatalf("add staff: %d %+v", resp.StatusCode, out)
	}
	return out.ID, out.Password
}

// TestBrowserAgentReplies: the customer taps "Talk to a person"; an agent,
// in a second browser, sees the conversation waiting, takes it and
// replies; the customer sees the reply live, with the agent's name, and
// finds the agent's read in their access history.
func TestBrowserAgentReplies(t *testing.T) {
	t.Parallel()
	ctx, do, info := browse(t)
	do("see the opening balances", chromedp.WaitVisible(css(`[data-testid="balance-strip"]`)))
	_, password := addStaff(t, info, "ada@cedar.example", "Ada", "agent")
	do("ask for a person",
		click(css(`[data-testid="menu-button"]`)),
		chromedp.WaitVisible(css(`[data-testid="menu-human"]`)),
		click(css(`[data-testid="menu-human"]`)),
		chromedp.WaitVisible(css(`[data-testid="request-bubble"][data-kind="human"]`)),
	)

	agent := newChrome(t)
	ado := steps(t, agent)
	ado("sign in to the console at a desk, where the customer pane shows beside the conversation",
		chromedp.EmulateViewport(1280, 800),
		chromedp.Navigate(info.BaseURL+"/console.html"),
		chromedp.WaitVisible(css(`[data-testid="console-email"]`)),
		chromedp.SendKeys(css(`[data-testid="console-email"]`), "ada@cedar.example"),
		chromedp.SendKeys(css(`[data-testid="console-password"]`), password),
		click(css(`[data-testid="console-signin"]`)),
		chromedp.WaitVisible(css(`[data-testid="console-row"][data-owner="queue"]`)),
	)
	ado("take the conversation and reply",
		click(css(`[data-testid="console-row"]`)),
		chromedp.WaitVisible(css(`[data-testid="console-take"]`)),
		// The side panel shows what the customer shares: their balances.
		chromedp.WaitVisible(css(`[data-testid="context-balance"]`)),
		click(css(`[data-testid="console-take"]`)),
		chromedp.WaitVisible(css(`[data-testid="console-reply"]`)),
		chromedp.SendKeys(css(`[data-testid="console-reply"]`), "Hello, Ada here. How can I help?"),
		click(css(`[data-testid="console-send"]`)),
		chromedp.WaitVisible(css(`[data-testid="console-return"]`)),
		// The reply comes back on the conversation's live stream.
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="console-thread"] .cards').textContent.includes('How can I help?')`),
	)
	// Typing, both ways: the agent types and the customer sees it; the
	// customer types and the agent sees it.
	ado("the agent types", chromedp.SendKeys(css(`[data-testid="console-reply"]`), "One moment"))
	do("the customer sees the agent typing", chromedp.Poll[chromedp.Void](`!document.querySelector('[data-testid="typing"]').hidden && document.querySelector('[data-testid="typing"]').textContent.includes('Ada is typing')`))
	do("the customer types", chromedp.SendKeys(css(`[data-testid="composer-input"]`), "Thanks"))
	ado("the agent sees the customer typing", chromedp.Poll[chromedp.Void](`!document.querySelector('[data-testid="console-typing"]').hidden`))
	// What the customer writes reaches the open console without a refresh.
	sent("Thanks, my card was declined at the pharmacy")
	do("the customer writes", chromedp.SendKeys(css(`[data-testid="composer-input"]`), ", my card was declined at the pharmacy"), click(css(`[data-testid="composer-send"]`)))
	ado("the agent sees it live", chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="console-thread"] .cards').textContent.includes('declined at the pharmacy')`))
	sent("Prefers to be called after 5pm")
	ado("note privately, mark urgent, then resolve",
		chromedp.SendKeys(css(`[data-testid="console-note"]`), "Prefers to be called after 5pm"),
		click(css(`[data-testid="console-add-note"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="console-notes"]').textContent.includes('after 5pm')`),
		chromedp.SetValue(css(`[data-testid="console-priority"]`), "2"),
		chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid="console-priority"]').dispatchEvent(new Event('change'))`),
		chromedp.Poll[chromedp.Void](`(document.querySelector('[data-testid="console-work"]')?.textContent || '').includes('Urgent')`),
	)
	shot(t, agent, "console")
	ado("resolving hands it back to the bot",
		// Once the thread is drawn after the change of its work; click
		// tries again if the queue's redraw (every 2 s) replaced the
		// button meanwhile.
		chromedp.Poll[chromedp.Void](`!!document.querySelector('[data-testid="console-resolve"]') && !document.querySelector('[data-testid="console-thread"]').hasAttribute('aria-busy')`),
		click(css(`[data-testid="console-resolve"]`)),
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="console-row"]').length === 0`),
	)
	sent("Hello, Ada here. How can I help?")
	do("the customer sees who joined", chromedp.Poll[chromedp.Void](`(document.querySelector('[data-testid="agent-joined"]')?.textContent || '').includes('Ada joined')`))
	do("the reply arrives live, from Ada",
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="message-bubble"][data-author="agent"]')].some((b) => b.textContent.includes('Ada') && b.textContent.includes('How can I help?'))`),
	)
	shot(t, ctx, "agent-reply")
	if leaked, _ := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.body.textContent.includes('after 5pm')`)); leaked {
		t.Fatal("the customer sees the agent's private note")
	}
	do("after the agent resolves it, the customer rates the help",
		chromedp.WaitVisible(css(`[data-testid="rating-card"][data-state="open"]`)),
		chromedp.SendKeys(css(`[data-testid="rating-comment"]`), "Quick and kind"),
		click(css(`[data-testid="rate-5"]`)),
		chromedp.WaitVisible(css(`[data-testid="rating-thanks"]`)),
	)
	sent("Quick and kind")

	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	var hist struct {
		Accesses []struct{ Data string } `json:"accesses"`
	}
	if err := c.Call(ctxT(t), "GET", "/app/api/access", nil, &hist); err != nil {
		t.Fatal(err)
	}
	agentReads := 0
	for _, a := range hist.Accesses {
		if strings.Contains(a.Data, `"actor_kind":"agent"`) {
			agentReads++
		}
	}
	if agentReads == 0 {
		t.Fatalf("the agent's reads are not in the customer's access history: %+v", hist)
	}
}
