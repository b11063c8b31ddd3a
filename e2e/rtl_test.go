package e2e

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// bubbleSides measures a bubble against the content box of its list
// (inside its borders, scroll bar and padding): the room left on its left
// and on its right, and its corners' radii at the bottom (the bubble's
// tail is the small one).
const bubbleSides = `((sel) => {
  const b = document.querySelector(sel);
  const list = b.parentElement;
  const r = b.getBoundingClientRect(), l = list.getBoundingClientRect(), s = getComputedStyle(list), bs = getComputedStyle(b);
  const start = l.left + list.clientLeft + parseFloat(s.paddingLeft);
  const end = l.left + list.clientLeft + list.clientWidth - parseFloat(s.paddingRight);
  return {left: r.left - start, right: end - r.right, bottomLeft: bs.borderBottomLeftRadius, bottomRight: bs.borderBottomRightRadius};
})`

type sides struct {
	Left, Right             float64
	BottomLeft, BottomRight string
}

// rtl sets the page's direction as a right-to-left language would.
func rtl(on bool) chromedp.Action[chromedp.Void] {
	dir := map[bool]string{true: "rtl", false: "ltr"}[on]
	return chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.documentElement.dir = %q`, dir))
}

// TestBrowserRightToLeft: with dir="rtl" on the page, as for Arabic or
// Hebrew, at a phone's size, the layouts mirror: the bank's bubbles sit at
// the right and the customer's at the left, each with its tail on the
// mirrored corner; an alert's and a list row's accent stripes, and the
// back button, move to the right; and nothing of the thread, the list, the
// privacy center or the console reaches past the screen's sides.
func TestBrowserRightToLeft(t *testing.T) {
	t.Parallel()
	ctx, do, info := browseSized(t, 390, 844)
	bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)
	sent("Shalom, and welcome", "Thank you, right back")
	said := bank.post(message("rtl-bank", info.LinkID, "Shalom, and welcome"))[0]
	me := newCustomer(t, info.BaseURL)
	me.signIn(info.CustomerEmail, info.CustomerPassword)
	if err := me.Call(ctxT(t), "POST", "/app/api/conversations/"+info.ConversationID+"/messages", map[string]string{"text": "Thank you, right back"}, nil); err != nil {
		t.Fatal(err)
	}
	raiseAlert(t, info)
	theirs := fmt.Sprintf(`[data-testid="message-bubble"][data-seq="%d"]`, said.Seq)
	do("the bank's message, the customer's and an alert",
		chromedp.WaitVisible(css(theirs)),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="message-bubble"][data-author="customer"]')].some((b) => { if (!b.textContent.includes('right back')) return false; b.id = 'rtl-mine'; return true; })`),
		chromedp.WaitVisible(css(`[data-testid="fraud-card"][data-state="open"]`)),
	)
	mine := `#rtl-mine`
	measure := func(sel string) sides {
		t.Helper()
		return evalJS[sides](t, ctx, fmt.Sprintf("%s(%q)", bubbleSides, sel))
	}
	near := func(v float64) bool { return v > -1 && v < 1 }

	// Left to right first, so that the test shows what mirroring changed.
	bankLTR, mineLTR := measure(theirs), measure(mine)
	if !near(bankLTR.Left) || bankLTR.Right < 20 || !near(mineLTR.Right) || mineLTR.Left < 20 {
		t.Fatalf("left to right: the bank's bubble %+v, the customer's %+v", bankLTR, mineLTR)
	}

	do("right to left", rtl(true), chromedp.Poll[chromedp.Void](`getComputedStyle(document.querySelector('.cards')).direction === 'rtl'`))
	bankRTL, mineRTL := measure(theirs), measure(mine)
	if !near(bankRTL.Right) || bankRTL.Left < 20 {
		t.Errorf("right to left, the bank's bubble is not at the right: %+v", bankRTL)
	}
	if !near(mineRTL.Left) || mineRTL.Right < 20 {
		t.Errorf("right to left, the customer's bubble is not at the left: %+v", mineRTL)
	}
	if bankRTL.BottomRight != bankLTR.BottomLeft || bankRTL.BottomLeft != bankLTR.BottomRight || mineRTL.BottomLeft != mineLTR.BottomRight {
		t.Errorf("the tails do not mirror: the bank's %+v then %+v, the customer's %+v then %+v", bankLTR, bankRTL, mineLTR, mineRTL)
	}
	stripe := evalJS[[]string](t, ctx, `(() => { const s = getComputedStyle(document.querySelector('[data-testid="fraud-card"][data-state="open"]')); return [s.borderLeftWidth, s.borderRightWidth]; })()`)
	if stripe[1] != "4px" || stripe[0] == "4px" {
		t.Errorf("the open alert's stripe, left %s and right %s: want it on the right", stripe[0], stripe[1])
	}
	back := evalJS[[]float64](t, ctx, `(() => { const b = document.querySelector('.thread-head .back').getBoundingClientRect(); return [b.left, b.right, document.documentElement.clientWidth]; })()`)
	if back[0] < back[2]/2 {
		t.Errorf("the back button spans %v..%v of %v: want it at the right", back[0], back[1], back[2])
	}
	shot(t, ctx, "thread")
	fits(t, ctx, "the thread, right to left")

	do("the conversation list", chromedp.Navigate(info.BaseURL+"/#/"), chromedp.WaitVisible(css(`[data-testid="conversation-row"]`)))
	row := evalJS[[]string](t, ctx, `(() => { const s = getComputedStyle(document.querySelector('[data-testid="conversation-row"]')); return [s.borderLeftWidth, s.borderRightWidth, s.direction]; })()`)
	if row[2] != "rtl" || row[1] != "3px" {
		t.Errorf("the list row's accent, left %s and right %s, direction %s: want it on the right", row[0], row[1], row[2])
	}
	fits(t, ctx, "the conversation list, right to left")
	do("the privacy center",
		chromedp.Navigate(info.BaseURL+"/#/privacy"),
		chromedp.WaitVisible(css(`[data-testid="privacy-link"]`)),
		click(css(`.delegation summary`)),
		chromedp.WaitVisible(css(`[data-testid="delegate-email"]`)),
	)
	shot(t, ctx, "privacy")
	fits(t, ctx, "the privacy center, right to left")

	// The console, one pane at a time.
	_, password := addStaff(t, info, "rtl@cedar.example", "Rana", "agent")
	if err := me.Call(ctxT(t), "POST", "/app/api/conversations/"+info.ConversationID+"/requests", map[string]string{"kind": "human"}, nil); err != nil {
		t.Fatal(err)
	}
	consoleSignIn(do, info, "rtl@cedar.example", password, 1)
	do("right to left", rtl(true))
	fits(t, ctx, "the console's queue, right to left")
	do("open the conversation",
		click(css(`[data-testid="console-row"]`)),
		chromedp.WaitVisible(css(`[data-testid="console-thread"]:not([aria-busy]) [data-testid="console-take"]`)),
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="console-cards"] [data-testid="message-bubble"][data-author="customer"]')].some((b) => { if (!b.textContent.includes('right back')) return false; b.id = 'rtl-customer'; return true; })`),
	)
	// The console sees the thread from the bank's side: the customer at
	// the start, which is the right here.
	if s := measure(`#rtl-customer`); !near(s.Right) || s.Left < 20 {
		t.Errorf("right to left, the customer's bubble in the console is not at the right: %+v", s)
	}
	shot(t, ctx, "console")
	fits(t, ctx, "the console's conversation, right to left")
}
