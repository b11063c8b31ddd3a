package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// axeSource is the text of axe-core, the accessibility checker, from
// $OPENTELLER_TEST_AXE (the folder where e2e/axe's package.json was
// installed: `npm install --ignore-scripts --no-package-lock`; .ci/run does
// it). It is injected into the page under test by the test alone: nothing
// of it is served to anyone. Unset, the test is skipped; set, a missing
// file fails it.
func axeSource(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("OPENTELLER_TEST_AXE")
	if dir == "" {
		t.Skip("OPENTELLER_TEST_AXE is not set: the accessibility check needs axe-core installed (see .ci/run)")
	}
	path := filepath.Join(dir, "node_modules", "axe-core", "axe.min.js")
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("OPENTELLER_TEST_AXE=%s but axe-core is not installed there: %v", dir, err)
	}
	return string(b)
}

// axeViolation is one rule axe-core found broken, and where.
type axeViolation struct {
	ID, Impact, Help string
	Targets          []string
}

// axeRun runs every axe-core rule over the whole page and keeps the
// violations that a person is stopped or badly slowed by.
const axeRun = `(async () => {
  const r = await axe.run(document, { resultTypes: ['violations'] });
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical').map((v) => ({
    id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map((n) => n.target.join(' ') + (n.failureSummary ? ' (' + n.failureSummary.replace(/\s+/g, ' ').trim() + ')' : '')),
  }));
})()`

// axeChecker returns a function that checks the page as it is now, in
// ctx, with axe-core (injected once per document), failing the test with
// each serious or critical violation: its rule, where, and the rule's help.
func axeChecker(t *testing.T, src string) func(ctx context.Context, what string) {
	return func(ctx context.Context, what string) {
		t.Helper()
		present, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === 'object'`))
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
		if !present {
			if _, err := chromedp.Run(ctx, chromedp.Evaluate[chromedp.Void](src+"\n;true")); err != nil {
				t.Fatalf("%s: inject axe-core: %v", what, err)
			}
		}
		found, err := chromedp.Run(ctx, chromedp.Evaluate[[]axeViolation](axeRun, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatalf("%s: run axe-core: %v", what, err)
		}
		for _, v := range found {
			shot(t, ctx, what)
			t.Errorf("%s: %s (%s): %s\n  %s", what, v.ID, v.Impact, v.Help, strings.Join(v.Targets, "\n  "))
		}
		if len(found) == 0 {
			t.Logf("%s: no serious or critical violations", what)
		}
	}
}

// TestBrowserAccessible: every page of the messenger and the console, at
// a phone's size and a laptop's, in light and dark colours (a contrast
// that holds in one may fail in the other), in the states a customer and
// an agent meet (signed out, a thread with a purchase, an open fraud
// alert, a locked card, the privacy center with its access history,
// connecting a bank, what someone shared, the console's queue,
// conversation and customer), has no serious or critical violation that
// axe-core finds.
func TestBrowserAccessible(t *testing.T) {
	t.Parallel()
	src := axeSource(t)
	for _, scheme := range []string{"light", "dark"} {
		for _, vp := range viewports {
			t.Run(vp.name+"-"+scheme, func(t *testing.T) { checkEveryPage(t, axeChecker(t, src), vp.w, vp.h, scheme, "") })
		}
	}
}

// colorScheme makes the page's prefers-color-scheme light or dark.
func colorScheme(scheme string) chromedp.Action[chromedp.Void] {
	return func(ctx context.Context, tg *chromedp.Target) (chromedp.Void, error) {
		_, err := cdp.Call(ctx, tg, emulation.SetEmulatedMedia, emulation.SetEmulatedMediaParams{
			Features: []*emulation.MediaFeature{{Name: "prefers-color-scheme", Value: scheme}}})
		return chromedp.Void{}, err
	}
}

// TestBrowserAccessibleFrench: the same pages and states, in French (longer
// words, a page in another language: lang="fr", labels and names from the
// French catalogue), at a phone's size and a laptop's.
func TestBrowserAccessibleFrench(t *testing.T) {
	t.Parallel()
	src := axeSource(t)
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) { checkEveryPage(t, axeChecker(t, src), vp.w, vp.h, "light", "fr-FR,fr") })
	}
}

// checkEveryPage goes through the messenger and the console at one size
// and colour scheme, and in a browser speaking lang (Accept-Language; ""
// for the browser's own), checking each page and state on the way.
func checkEveryPage(t *testing.T, check func(context.Context, string), w, h int64, scheme, lang string) {
	browser := newChrome(t)
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute)
	defer cancel()
	do := steps(t, ctx)
	do("set the viewport and colours", chromedp.EmulateViewport(w, h), colorScheme(scheme))
	if lang != "" {
		do("set the language", speaking(lang))
	}
	bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)

	// Signed out.
	do("the sign-in page", chromedp.Navigate(info.BaseURL+"/#/signin"), chromedp.WaitVisible(css(`[data-testid="signin-email"]`)))
	check(ctx, "sign-in")
	do("the sign-up page", chromedp.Navigate(info.BaseURL+"/#/signup"), chromedp.WaitVisible(css(`[data-testid="signup-email"]`)))
	check(ctx, "sign-up")
	do("the forgotten password page", chromedp.Navigate(info.BaseURL+"/#/forgot"), chromedp.WaitVisible(css(`[data-testid="forgot-email"]`)))
	check(ctx, "forgot password")

	// The customer's pages.
	do("sign in",
		chromedp.Navigate(info.BaseURL+"/#/signin"),
		chromedp.WaitVisible(css(`[data-testid="signin-email"]`)),
		chromedp.SendKeys(css(`[data-testid="signin-email"]`), info.CustomerEmail),
		chromedp.SendKeys(css(`[data-testid="signin-password"]`), info.CustomerPassword),
		click(css(`[data-testid="signin-submit"]`)),
		chromedp.WaitVisible(css(`[data-testid="conversation-row"]`)),
		chromedp.WaitNotVisible(css(`[data-testid="loading"]`)),
	)
	check(ctx, "conversation list")

	purchase := bank.post(purchases(info, "axe", 1)...)[0]
	do("a thread with a transaction",
		click(css(`[data-testid="conversation-row"]`)),
		chromedp.WaitVisible(css(`[data-testid="thread"]`)),
		chromedp.WaitVisible(css(fmt.Sprintf(`[data-testid="txn-card"][data-seq="%d"]`, purchase.Seq))),
		chromedp.WaitVisible(css(`[data-testid="balance-strip"]`)),
	)
	check(ctx, "thread with a transaction")

	raiseAlert(t, info)
	deny := css(`[data-testid="fraud-card"][data-state="open"] [data-testid="alert-action-deny"]`)
	do("an open fraud alert", chromedp.WaitVisible(deny))
	check(ctx, "open fraud alert")

	do("a locked card",
		click(deny),
		chromedp.WaitVisible(css(`[data-testid="card-status"][data-status="locked"] [data-testid="card-action-unlock"]`)),
		chromedp.WaitVisible(css(`[data-testid="card-status"][data-status="ordered"]`)),
	)
	check(ctx, "card status")

	// Someone the customer shares with reads, so that the access
	// history has lines.
	acct := newCustomer(t, info.BaseURL)
	acct.signUp("axe-accountant@example.com", "ledgers and receipts")
	owner := newCustomer(t, info.BaseURL)
	owner.signIn(info.CustomerEmail, info.CustomerPassword)
	if err := owner.Call(ctxT(t), "POST", "/app/api/links/"+info.LinkID+"/delegates", map[string]any{"email": "axe-accountant@example.com", "duration_days": 30}, nil); err != nil {
		t.Fatal(err)
	}
	var shared struct{ Delegations []struct{ ID string } }
	if err := acct.Call(ctxT(t), "GET", "/app/api/delegations", nil, &shared); err != nil || len(shared.Delegations) == 0 {
		t.Fatalf("delegations: %+v %v", shared, err)
	}
	if err := acct.Call(ctxT(t), "GET", "/app/api/delegations/"+shared.Delegations[0].ID+"/events", nil, nil); err != nil {
		t.Fatal(err)
	}
	do("the privacy center",
		chromedp.Navigate(info.BaseURL+"/#/privacy"),
		chromedp.WaitVisible(css(`[data-testid="privacy-link"]`)),
		chromedp.WaitVisible(css(`[data-testid="access"][data-verified="true"]`)),
		click(css(`.delegation summary`)),
		chromedp.WaitVisible(css(`[data-testid="delegate-share"]`)),
	)
	check(ctx, "privacy center")
	do("connect a bank",
		chromedp.Navigate(info.BaseURL+"/#/connect"),
		chromedp.WaitVisible(css(`[data-testid="institution-option"]`)),
		chromedp.WaitVisible(css(`[data-testid="disclosure"] h2`)),
	)
	check(ctx, "connect a bank")

	// What the customer shared, as the accountant sees it.
	do("sign in as the accountant",
		chromedp.Navigate(info.BaseURL+"/#/"),
		chromedp.WaitVisible(css(`[data-testid="signout"]`)),
		click(css(`[data-testid="signout"]`)),
		chromedp.WaitVisible(css(`[data-testid="signin-email"]`)),
		chromedp.SendKeys(css(`[data-testid="signin-email"]`), "axe-accountant@example.com"),
		chromedp.SendKeys(css(`[data-testid="signin-password"]`), "ledgers and receipts"),
		click(css(`[data-testid="signin-submit"]`)),
		chromedp.WaitVisible(css(`[data-testid="shared-row"]`)),
	)
	check(ctx, "conversation list with something shared")
	do("the delegated view",
		click(css(`[data-testid="shared-row"]`)),
		chromedp.WaitVisible(css(`[data-testid="delegated"] [data-testid="txn-card"]`)),
	)
	check(ctx, "delegated view")

	// The console.
	_, password := addStaff(t, info, "ada-axe@cedar.example", "Ada", "supervisor")
	if err := owner.Call(ctxT(t), "POST", "/app/api/conversations/"+info.ConversationID+"/requests", map[string]string{"kind": "human"}, nil); err != nil {
		t.Fatalf("ask for a person: %v", err)
	}
	do("the console's sign-in", chromedp.Navigate(info.BaseURL+"/console.html"), chromedp.WaitVisible(css(`[data-testid="console-email"]`)))
	check(ctx, "console sign-in")
	consoleSignIn(do, info, "ada-axe@cedar.example", password, 1)
	do("the supervisor's tools", chromedp.WaitVisible(css(`[data-testid="console-figures"] table`)))
	check(ctx, "console queue")
	do("a conversation",
		click(css(`[data-testid="console-row"]`)),
		chromedp.WaitVisible(css(`[data-testid="console-thread"]:not([aria-busy]) [data-testid="console-take"]`)),
	)
	check(ctx, "console thread")
	do("take it", click(css(`[data-testid="console-take"]`)), chromedp.WaitVisible(css(`[data-testid="console-reply"]`)))
	check(ctx, "console thread, taken")
	if w < 900 {
		do("the customer", click(css(`[data-testid="console-show-context"]`)))
	}
	do("the customer pane", chromedp.WaitVisible(css(`[data-testid="context-balance"]`)))
	check(ctx, "console customer pane")
	do("the shortcuts", click(css(`[data-testid="console-help"]`)), chromedp.WaitVisible(css(`[data-testid="console-help-dialog"]`)))
	check(ctx, "console shortcuts")
}
