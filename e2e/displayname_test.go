package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/openteller/openteller/internal/console"
)

// TestBrowserSharedNameInTheQueue: the customer, in the privacy center,
// shows Cedar Bank's people a name of their own; the agent's queue, the
// conversation's heading and the customer pane show it beside the
// pseudonym ("Sam (Quiet Heron)"), never the customer's email. The
// customer removes it, and the console shows the pseudonym alone. The
// agent's read of the name is in the customer's access history. Both
// sides at 390×844 and at 1280×800, nothing wider than the screen.
func TestBrowserSharedNameInTheQueue(t *testing.T) {
	t.Parallel()
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			ctx, do, info := browseSized(t, vp.w, vp.h)
			const email = "ada-names@cedar.example"
			_, password := addStaff(t, info, email, "Ada", "agent")
			c := newCustomer(t, info.BaseURL)
			c.signIn(info.CustomerEmail, info.CustomerPassword)
			if err := c.Call(ctxT(t), "POST", "/app/api/conversations/"+info.ConversationID+"/requests", map[string]string{"kind": "human"}, nil); err != nil {
				t.Fatal(err)
			}

			agent := newChrome(t)
			actx, cancel := context.WithTimeout(agent, 90*time.Second)
			defer cancel()
			ado := steps(t, actx)
			ado("the agent's screen", chromedp.EmulateViewport(vp.w, vp.h))
			consoleSignIn(ado, info, email, password, 1)
			pseudonym := console.Pseudonym(info.ConversationID)
			named := "Sam (" + pseudonym + ")"
			rowWho := fmt.Sprintf(`(document.querySelector('[data-testid="console-row"][data-id=%q] .row-who')?.textContent || '')`, info.ConversationID)
			ado("the queue names the customer by a pseudonym", chromedp.Poll[chromedp.Void](fmt.Sprintf(`%s === %q`, rowWho, pseudonym)))

			row := fmt.Sprintf(`[data-testid="privacy-link"][data-id="%s"]`, info.LinkID)
			said := fmt.Sprintf(`(document.querySelector('%s [data-testid="shared-name-said"]')?.textContent || '')`, row)
			do("show Cedar Bank's people a name",
				chromedp.Navigate(info.BaseURL+"/#/privacy"),
				chromedp.WaitVisible(css(row+` [data-testid="shared-name-input"]`)),
				chromedp.ScrollIntoView(css(row+` [data-testid="shared-name-input"]`)),
				chromedp.SendKeys(css(row+` [data-testid="shared-name-input"]`), "  Sam "),
				click(css(row+` [data-testid="shared-name-save"]`)),
				chromedp.Poll[chromedp.Void](said+`.includes('Sam')`),
				chromedp.WaitVisible(css(row+` [data-testid="shared-name-remove"]`)),
			)
			if v := evalJS[string](t, ctx, `document.querySelector('`+row+` [data-testid="shared-name-input"]').value`); v != "Sam" {
				t.Errorf("the field shows %q after saving, want the name as kept", v)
			}
			fits(t, ctx, "the name shown to the bank's people")
			shot(t, ctx, "shared name")

			ado("the queue shows it beside the pseudonym", chromedp.Poll[chromedp.Void](fmt.Sprintf(`%s === %q`, rowWho, named)))
			ado("and the conversation and the customer pane, once opened",
				click(css(fmt.Sprintf(`[data-testid="console-row"][data-id=%q]`, info.ConversationID))),
				chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector('[data-testid="console-who"]')?.textContent === %q`, named)),
				chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector('[data-testid="console-context-who"]')?.textContent === %q`, named)),
			)
			if text := evalJS[string](t, actx, `document.body.textContent`); strings.Contains(text, info.CustomerEmail) {
				t.Error("the console shows the customer's email")
			}
			fitsWindow(t, actx, "the console with a customer's name")
			shot(t, actx, "console with a shared name")

			do("remove it",
				click(css(row+` [data-testid="shared-name-remove"]`)),
				chromedp.Poll[chromedp.Void](said+`.includes('made-up name')`),
				chromedp.WaitNotVisible(css(row+` [data-testid="shared-name-remove"]`)),
			)
			ado("the console shows the pseudonym alone",
				chromedp.Poll[chromedp.Void](fmt.Sprintf(`%s === %q`, rowWho, pseudonym)),
				chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector('[data-testid="console-who"]')?.textContent === %q`, pseudonym)),
				chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector('[data-testid="console-context-who"]')?.textContent === %q`, pseudonym)),
			)

			var hist struct {
				Accesses []struct{ Data string } `json:"accesses"`
			}
			if err := c.Call(ctxT(t), "GET", "/app/api/access", nil, &hist); err != nil {
				t.Fatal(err)
			}
			reads := 0
			for _, a := range hist.Accesses {
				if strings.Contains(a.Data, `"actor_kind":"agent"`) && strings.Contains(a.Data, `"record_kind":"display_name"`) {
					reads++
				}
			}
			if reads == 0 {
				t.Errorf("the agent's read of the name is not in the customer's access history: %+v", hist.Accesses)
			}
		})
	}
}

// TestBrowserReauthBeforeSharing: once the sign-in is no longer recent
// (a 3-second window here), sharing a bank read-only with someone asks
// for the password in the sharing box, and shares once it is given,
// without tapping Share again.
func TestBrowserReauthBeforeSharing(t *testing.T) {
	t.Parallel()
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			browser := newChrome(t)
			_, info := startDemo(t, t.TempDir(), "--activity", "1h", "--reauth-window", "3s")
			ctx, cancel := context.WithTimeout(browser, 90*time.Second)
			defer cancel()
			do := steps(t, ctx)
			do("set the viewport", chromedp.EmulateViewport(vp.w, vp.h))
			openConversation(do, info)
			acct := newCustomer(t, info.BaseURL)
			acct.signUp("reauth-accountant@example.com", "ledgers and receipts")

			row := fmt.Sprintf(`[data-testid="privacy-link"][data-id="%s"]`, info.LinkID)
			do("open the sharing box",
				chromedp.Navigate(info.BaseURL+"/#/privacy"),
				chromedp.WaitVisible(css(row+` details.delegation summary`)),
				click(css(row+` details.delegation summary`)),
				chromedp.WaitVisible(css(row+` [data-testid="delegate-email"]`)),
			)
			until, err := chromedp.Run(ctx, chromedp.Evaluate[string](`fetch('/app/api/me').then((r) => r.json()).then((me) => me.security.reauth_until)`, chromedp.EvalAwaitPromise))
			if err != nil || until == "" {
				t.Fatalf("reauth_until %q (%v)", until, err)
			}
			do("wait until the sign-in is no longer recent", chromedp.Poll[chromedp.Void](fmt.Sprintf(`Date.now() > Date.parse(%q) + 500`, until)))
			do("share: the password is asked for",
				chromedp.SendKeys(css(row+` [data-testid="delegate-email"]`), "reauth-accountant@example.com"),
				click(css(row+` [data-testid="delegate-share"]`)),
				chromedp.WaitVisible(css(row+` [data-testid="reauth-password"]`)),
			)
			fits(t, ctx, "the password asked for before sharing")
			shot(t, ctx, "reauth before sharing")
			var shared struct{ Delegations []struct{ ID string } }
			if err := acct.Call(ctxT(t), "GET", "/app/api/delegations", nil, &shared); err != nil || len(shared.Delegations) != 0 {
				t.Fatalf("shared before the password was given: %+v %v", shared, err)
			}
			do("the password shares",
				chromedp.SendKeys(css(row+` [data-testid="reauth-password"]`), info.CustomerPassword),
				click(css(row+` [data-testid="reauth-submit"]`)),
				chromedp.WaitVisible(css(row+` [data-testid="delegation"]`)),
				chromedp.WaitNotPresent(css(row+` [data-testid="reauth-password"]`)),
			)
			if err := acct.Call(ctxT(t), "GET", "/app/api/delegations", nil, &shared); err != nil || len(shared.Delegations) != 1 {
				t.Fatalf("shared after the password: %+v %v", shared, err)
			}
		})
	}
}
