package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/openteller/openteller/internal/testenv"
	"github.com/openteller/openteller/pkg/bankapi"
)

// newChrome starts a headless Chromium at phone size for the test. The
// page's console goes to the test log; an uncaught exception or a
// console.error call fails the test. (Browser log entries such as the 401 of
// the first "am I signed in?" request are logged, not failures.)
func newChrome(t *testing.T) context.Context {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(testenv.Chrome(t)),
		chromedp.NoSandbox,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(390, 844),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	consoleCtx, stopConsole := context.WithCancel(ctx)
	done := make(chan struct{})
	t.Cleanup(func() { stopConsole(); <-done; cancel(); cancelAlloc() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	messages := chromedp.Console(consoleCtx)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			t.Logf("console %s: %s", m.Type, m.Text)
			if m.IsException() || (m.Type == chromedp.ConsoleError && len(m.Args) > 0) {
				t.Errorf("page error: %s", m.Text)
			}
		}
	}()
	return ctx
}

// TestBrowserSeesLiveTransaction signs in as the demo customer in a real
// Chromium at phone width, opens the bank's conversation, and watches a
// card transaction posted by the bank appear, then turn from pending to
// posted in place.
func TestBrowserSeesLiveTransaction(t *testing.T) {
	t.Parallel()
	ctx, do, info := browse(t)

	bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)
	txn := func(id, status string) bankapi.Event {
		return bankapi.Event{ID: id, LinkID: info.LinkID, Type: bankapi.TypeTransactionPosted, OccurredAt: time.Now().UTC(),
			Data: bankapi.TransactionPosted{AccountID: "acc_card", TransactionID: id, ReferenceID: "browser-ref", Status: status, Direction: "debit",
				Amount: bankapi.Money{Amount: "18.25", Currency: "USD"}, CardLast4: "4821",
				Merchant: &bankapi.Merchant{Name: "Juniper Noodle Bar", MCC: "5812", Category: "Eating Places, Restaurants", City: "Denver", Country: "US"}}}
	}
	pending := bank.post(txn("browser-pending", "pending"))[0]
	sel := css(fmt.Sprintf(`[data-testid="txn-card"][data-seq="%d"]`, pending.Seq))
	do("see the pending card", chromedp.WaitVisible(sel))
	text, err := chromedp.Run(ctx, chromedp.Text(sel))
	if err != nil {
		t.Fatal(err)
	}
	status, err := chromedp.Run(ctx, chromedp.AttributeValue(sel, "data-status"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text, "Juniper Noodle Bar") || !strings.Contains(text, "18.25") || status.Value != "pending" {
		t.Fatalf("pending card: status %q, text %q", status.Value, text)
	}

	posted := bank.post(txn("browser-posted", "posted"))[0]
	postedSel := css(fmt.Sprintf(`[data-testid="txn-card"][data-seq="%d"]`, posted.Seq))
	do("see it posted in place", chromedp.WaitVisible(postedSel), chromedp.WaitNotPresent(sel))
	status, err = chromedp.Run(ctx, chromedp.AttributeValue(postedSel, "data-status"))
	if err != nil || status.Value != "posted" {
		t.Fatalf("posted card status %q (%v)", status.Value, err)
	}
	shot(t, ctx, "thread")
}

func css(s string) chromedp.CSS { return chromedp.CSS(s) }

// click clicks the first element sel matches, with the mouse, as
// chromedp.Click does; but the pages redraw while a test runs (the console
// its queue every 2 s, a thread on every event), and an element redrawn
// between chromedp's query and its click is gone by the node id it was
// found by. Such a click never reached the page, so it is tried again on
// the element found anew; any other error ends it.
func click[S chromedp.Selectable](sel S) chromedp.Action[chromedp.Void] {
	once := chromedp.Click(sel)
	return func(ctx context.Context, t *chromedp.Target) (chromedp.Void, error) {
		for {
			v, err := once(ctx, t)
			if err == nil || !nodeGone(err) {
				return v, err
			}
			select {
			case <-ctx.Done():
				return v, err
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// nodeGone says whether err is the browser's answer about a node that has
// left the page since it was found.
func nodeGone(err error) bool {
	m := err.Error()
	return strings.Contains(m, "Could not find node with given id") || strings.Contains(m, "Node is detached from document")
}

// browse starts Chromium and the demo, signs in as the demo customer and
// opens the bank's conversation. It returns the page's context (a minute
// long), a step runner and the demo's details.
func browse(t *testing.T) (context.Context, func(string, ...chromedp.Action[chromedp.Void]), demoInfo) {
	t.Helper()
	browser := newChrome(t)
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	t.Cleanup(cancel)
	do := steps(t, ctx)
	openConversation(do, info)
	return ctx, do, info
}

// steps returns a function that runs actions and fails the test, with a
// screenshot, when one does not complete.
func steps(t *testing.T, ctx context.Context) func(string, ...chromedp.Action[chromedp.Void]) {
	return func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			shot(t, ctx, what)
			t.Fatalf("%s: %v", what, err)
		}
	}
}

// openConversation signs in as the demo customer and opens the bank's
// conversation by tapping it, as a person would.
func openConversation(do func(string, ...chromedp.Action[chromedp.Void]), info demoInfo) {
	do("sign in",
		chromedp.Navigate(info.BaseURL+"/"),
		chromedp.WaitVisible(css(`[data-testid="signin-email"]`)),
		chromedp.SendKeys(css(`[data-testid="signin-email"]`), info.CustomerEmail),
		chromedp.SendKeys(css(`[data-testid="signin-password"]`), info.CustomerPassword),
		click(css(`[data-testid="signin-submit"]`)),
		chromedp.WaitVisible(css(`[data-testid="conversation-row"]`)),
		// The loading line above the rows goes away when the socket has
		// caught up; tap after that, or the row moves under the finger.
		chromedp.WaitNotVisible(css(`[data-testid="loading"]`)),
	)
	do("open the conversation",
		click(css(`[data-testid="conversation-row"]`)),
		chromedp.WaitVisible(css(`[data-testid="thread"]`)),
	)
}

// TestBrowserDisconnect: the customer disconnects the bank from the thread
// with one tap and one confirmation; the page says so, drops what the bank
// had sent, and closes the composer; the bank is refused from then on.
func TestBrowserDisconnect(t *testing.T) {
	t.Parallel()
	ctx, do, info := browse(t)
	do("see the bank's first cards", chromedp.WaitVisible(css(`[data-testid="balance-card"]`)))
	do("disconnect",
		click(css(`[data-testid="disconnect"]`)),
		click(css(`[data-testid="disconnect-confirm"]`)),
		chromedp.WaitVisible(css(`[data-testid="revoked-notice"]`)),
		chromedp.WaitNotPresent(css(`[data-testid="balance-card"]`)),
	)
	status, err := chromedp.Run(ctx, chromedp.Text(css(`[data-testid="link-status"]`)))
	if err != nil || status != "Disconnected" {
		t.Fatalf("link status %q (%v)", status, err)
	}
	disabled, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.querySelector('[data-testid="composer-input"]').disabled`))
	if err != nil || !disabled {
		t.Fatalf("composer still enabled (%v)", err)
	}
	res := newBank(t, info.BaseURL, info.InstitutionAPIKey).post(message("after-disconnect", info.LinkID, "still there?"))
	if res[0].Error == nil || res[0].Error.Code != "consent_revoked" {
		t.Fatalf("bank post after disconnect: %+v", res[0])
	}
	shot(t, ctx, "disconnected")
}

// shot saves a screenshot under $OPENTELLER_SCREENSHOTS, when set, for a
// person to look at.
func shot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("OPENTELLER_SCREENSHOTS")
	if dir == "" {
		return
	}
	// The test's own deadline may have passed; the picture is wanted anyway.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100)); err == nil {
		path := filepath.Join(dir, strings.ReplaceAll(t.Name()+"-"+name, "/", "_")+".png")
		os.WriteFile(path, png, 0o644)
	}
}

// TestBrowserHistory: a conversation longer than what a device first loads
// offers "Show earlier", which brings the older cards in above.
func TestBrowserHistory(t *testing.T) {
	t.Parallel()
	browser := newChrome(t)
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)
	var evs []bankapi.Event
	for i := range 150 {
		evs = append(evs, message(fmt.Sprintf("hist-%d", i), info.LinkID, fmt.Sprintf("history %03d", i)))
	}
	bank.post(evs...)
	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	defer cancel()
	do := steps(t, ctx)
	openConversation(do, info)
	oldest := `[...document.querySelectorAll('[data-testid="message-bubble"]')].some((b) => b.textContent.includes('history 000'))`
	shown, err := chromedp.Run(ctx, chromedp.Evaluate[bool](oldest))
	if err != nil || shown {
		t.Fatalf("the oldest message is shown before asking (%v)", err)
	}
	do("show earlier",
		chromedp.WaitVisible(css(`[data-testid="show-earlier"]`)),
		click(css(`[data-testid="show-earlier"]`)),
		chromedp.Poll[chromedp.Void](oldest),
	)
}

// TestBrowserReceiptAndShipment: a receipt shows as a card with its items
// and total; two updates of one shipment leave one card, showing the latest.
func TestBrowserReceiptAndShipment(t *testing.T) {
	t.Parallel()
	ctx, do, info := browse(t)
	bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)
	usd := func(a string) bankapi.Money { return bankapi.Money{Amount: a, Currency: "USD"} }
	ship := func(id, status string, steps ...bankapi.ShipmentEvent) bankapi.Event {
		return bankapi.Event{ID: id, LinkID: info.LinkID, Type: bankapi.TypeShipmentUpdated, OccurredAt: time.Now().UTC(),
			Data: bankapi.ShipmentUpdated{ShipmentID: "shp-9", OrderNumber: "A-10442", Carrier: "Parcelway", TrackingNumber: "PW123456789",
				Status: status, EstimatedDelivery: "2026-12-01", Timeline: steps}}
	}
	step := func(status, what string) bankapi.ShipmentEvent {
		return bankapi.ShipmentEvent{At: time.Now().UTC(), Status: status, Description: what}
	}
	res := bank.post(
		bankapi.Event{ID: "rcpt-1", LinkID: info.LinkID, Type: bankapi.TypeReceipt, OccurredAt: time.Now().UTC(),
			Data: bankapi.Receipt{Merchant: bankapi.Merchant{Name: "Alder Outfitters"}, OrderNumber: "A-10442",
				Items:    []bankapi.ReceiptItem{{Name: "Rain jacket", Quantity: 1, UnitPrice: usd("89.00"), Total: usd("89.00")}, {Name: "Wool socks", Quantity: 2, UnitPrice: usd("6.00"), Total: usd("12.00")}},
				Subtotal: usd("101.00"), Tax: ptr(usd("8.08")), Total: usd("109.08"), Payment: bankapi.Payment{Brand: "Visa", Last4: "4821"}}},
		ship("ship-1", bankapi.ShipmentInTransit, step("label_created", "Label created"), step("in_transit", "Departed facility")),
	)
	for _, r := range res {
		if r.Status != "accepted" {
			t.Fatalf("%+v", r.Error)
		}
	}
	do("see the receipt and the shipment",
		chromedp.WaitVisible(css(`[data-testid="receipt-card"]`)),
		chromedp.WaitVisible(css(`[data-testid="shipment-card"][data-status="in_transit"]`)),
	)
	text, err := chromedp.Run(ctx, chromedp.Text(css(`[data-testid="receipt-card"]`)))
	if err != nil || !strings.Contains(text, "Alder Outfitters") || !strings.Contains(text, "2 × Wool socks") || !strings.Contains(text, "109.08") || !strings.Contains(text, "••4821") {
		t.Fatalf("receipt card %q (%v)", text, err)
	}
	bank.post(ship("ship-2", bankapi.ShipmentDelivered, step("label_created", "Label created"), step("in_transit", "Departed facility"), step("delivered", "Left at front door")))
	do("the shipment card updates in place",
		chromedp.WaitVisible(css(`[data-testid="shipment-card"][data-status="delivered"]`)),
		chromedp.WaitNotPresent(css(`[data-testid="shipment-card"][data-status="in_transit"]`)),
	)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid="shipment-card"]').length`))
	if err != nil || n != 1 {
		t.Fatalf("%d shipment cards (%v)", n, err)
	}
	shot(t, ctx, "receipt-shipment")
}

func ptr[T any](v T) *T { return &v }

// fitsViewport lists every element of the page that reaches past the
// viewport's left or right edge, by its box, and says so if the page
// scrolls sideways: on a phone nothing may be cut off or need a sideways
// scroll, not even inside a strip that scrolls on its own.
const fitsViewport = `(() => {
  const vw = document.documentElement.clientWidth;
  const wide = [];
  for (const el of document.body.querySelectorAll('*')) {
    const r = el.getBoundingClientRect();
    if (r.width <= 1 || r.height <= 1) continue; // not shown, or for screen readers only
    if (r.left < -0.5 || r.right > vw + 0.5) {
      const name = el.tagName.toLowerCase() + [...el.classList].map((c) => '.' + c).join('') + (el.dataset.testid ? '[' + el.dataset.testid + ']' : '');
      wide.push(name + ' spans ' + Math.round(r.left) + '..' + Math.round(r.right) + ' of ' + vw);
    }
  }
  if (document.documentElement.scrollWidth > vw) wide.push('the page is ' + document.documentElement.scrollWidth + ' wide, the viewport ' + vw);
  return wide;
})()`

// TestBrowserFitsAPhone: at 390×844 the thread, with both of the demo
// customer's balance tiles and an open fraud alert, and the privacy
// center, with its sharing box and a confirmation open, fit the screen
// (element boxes, not pictures). Hovering "Not me — lock card" keeps it
// red with its white text, rather than blanking it.
func TestBrowserFitsAPhone(t *testing.T) {
	t.Parallel()
	ctx, do, info := browse(t)
	do("a phone's viewport", chromedp.EmulateViewport(390, 844))
	fits := func(view string) {
		t.Helper()
		wide, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](fitsViewport))
		if err != nil {
			t.Fatal(err)
		}
		shot(t, ctx, view)
		if len(wide) > 0 {
			t.Errorf("%s at 390×844 is wider than the screen:\n%s", view, strings.Join(wide, "\n"))
		}
	}

	raiseAlert(t, info)
	deny := css(`[data-testid="fraud-card"][data-state="open"] [data-testid="alert-action-deny"]`)
	do("see both balances and the alert",
		chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="balance-strip"] .balance').length >= 2`),
		chromedp.WaitVisible(deny),
		chromedp.ScrollIntoView(deny),
	)
	fits("the thread")

	colours := `(() => { const s = getComputedStyle(document.querySelector('[data-testid="fraud-card"][data-state="open"] [data-testid="alert-action-deny"]')); return [s.backgroundColor, s.color]; })()`
	before, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](colours))
	if err != nil {
		t.Fatal(err)
	}
	centre, err := chromedp.Run(ctx, chromedp.Evaluate[[]float64](`(() => { const r = document.querySelector('[data-testid="fraud-card"][data-state="open"] [data-testid="alert-action-deny"]').getBoundingClientRect(); return [r.left + r.width / 2, r.top + r.height / 2]; })()`))
	if err != nil {
		t.Fatal(err)
	}
	do("hover over Not me", chromedp.MouseEvent(chromedp.MouseMoved, centre[0], centre[1]),
		chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="fraud-card"][data-state="open"] [data-testid="alert-action-deny"]').matches(':hover')`))
	hovered, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](colours))
	if err != nil {
		t.Fatal(err)
	}
	if hovered[0] != before[0] || hovered[0] == hovered[1] {
		shot(t, ctx, "hover")
		t.Errorf("Not me — lock card: background %s on %s before hovering, %s on %s under the pointer", before[1], before[0], hovered[1], hovered[0])
	}

	do("open the privacy center with its sharing box and a confirmation",
		chromedp.Navigate(info.BaseURL+"/#/privacy"),
		chromedp.WaitVisible(css(`[data-testid="privacy-link"]`)),
		click(css(`.delegation summary`)),
		chromedp.WaitVisible(css(`[data-testid="delegate-email"]`)),
		click(css(`[data-testid="privacy-disconnect"]`)),
		chromedp.WaitVisible(css(`[data-testid="privacy-disconnect-confirm"]`)),
	)
	fits("the privacy center")
}
