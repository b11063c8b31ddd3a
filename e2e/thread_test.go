package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/openteller/openteller/pkg/bankapi"
)

// The customer's day in a thread, in a real Chromium at a phone's size and
// a laptop's: card controls after "Not me", quick replies and open alerts
// that stay in reach, one balance card a day, and days under their dates.
// Each is checked with the page's DOM and element boxes, never pictures.

// viewports are the sizes the thread is checked at.
var viewports = []struct {
	name string
	w, h int64
}{{"390x844", 390, 844}, {"1280x800", 1280, 800}}

// browseSized starts Chromium and the demo, sets the viewport, signs in as
// the demo customer and opens the bank's conversation.
func browseSized(t *testing.T, w, h int64) (context.Context, func(string, ...chromedp.Action[chromedp.Void]), demoInfo) {
	t.Helper()
	browser := newChrome(t)
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	ctx, cancel := context.WithTimeout(browser, 3*time.Minute) // a bound for a hang, not a speed: flows of several steps on a busy machine
	t.Cleanup(cancel)
	do := steps(t, ctx)
	do("set the viewport", chromedp.EmulateViewport(w, h))
	openConversation(do, info)
	return ctx, do, info
}

// evalJS evaluates an expression in the page, failing the test on error.
func evalJS[T any](t *testing.T, ctx context.Context, expr string) T {
	t.Helper()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		t.Fatalf("evaluate %s: %v", expr, err)
	}
	return v
}

// fits fails the test when anything on the page reaches past the
// viewport's sides.
func fits(t *testing.T, ctx context.Context, view string) {
	t.Helper()
	wide := evalJS[[]string](t, ctx, fitsViewport)
	if len(wide) > 0 {
		shot(t, ctx, view)
		t.Errorf("%s is wider than the screen:\n%s", view, strings.Join(wide, "\n"))
	}
}

// cardSel selects the card status of the card ending last4, in a status.
func cardSel(last4, status string) chromedp.CSS {
	return css(fmt.Sprintf(`[data-testid="card-status"][data-last4="%s"][data-status="%s"]`, last4, status))
}

// TestBrowserCardControls: after "Not me — lock card" the thread shows the
// locked card, with "Unlock card" and "It was me after all", and the
// replacement on its way. Unlocking brings the card back and cancels the
// replacement; so does "It was me after all", with the bank's word on the
// payment; and when a replacement arrives it is ready to use and the old
// card closed. Every step goes through the bank (webhooks and its events),
// and each card shows once, at its newest status.
func TestBrowserCardControls(t *testing.T) {
	t.Parallel()
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			ctx, do, info := browseSized(t, vp.w, vp.h)

			// lock raises an alert, answers "Not me", and returns the last
			// four digits of the locked card and of its replacement.
			lock := func(what string) (string, string) {
				t.Helper()
				raiseAlert(t, info)
				deny := css(`[data-testid="fraud-card"][data-state="open"] [data-testid="alert-action-deny"]`)
				do(what+": answer Not me", chromedp.WaitVisible(deny), click(deny),
					chromedp.WaitVisible(css(`[data-testid="card-status"][data-status="locked"]`)),
					chromedp.WaitVisible(css(`[data-testid="card-status"][data-status="ordered"]`)))
				locked := evalJS[string](t, ctx, `document.querySelector('[data-testid="card-status"][data-status="locked"]').dataset.last4`)
				ordered := evalJS[string](t, ctx, `document.querySelector('[data-testid="card-status"][data-status="ordered"]').dataset.last4`)
				text := evalJS[string](t, ctx, `document.querySelector('[data-testid="card-status"][data-status="ordered"]').textContent`)
				if locked == ordered || !strings.Contains(text, "Replaces your card ••"+locked) || !strings.Contains(text, "On its way") {
					t.Fatalf("%s: locked ••%s, replacement ••%s %q", what, locked, ordered, text)
				}
				return locked, ordered
			}
			count := func(sel string) int {
				t.Helper()
				return evalJS[int](t, ctx, fmt.Sprintf(`document.querySelectorAll('%s').length`, sel))
			}

			card, first := lock("first alert")
			shot(t, ctx, "locked")
			fits(t, ctx, "the locked card and its replacement")
			do("unlock",
				click(css(`[data-testid="card-status"][data-status="locked"] [data-testid="card-action-unlock"]`)),
				chromedp.WaitVisible(cardSel(card, "active")),
				chromedp.WaitVisible(cardSel(first, "closed")),
				chromedp.WaitNotPresent(css(`[data-testid="card-status"][data-status="locked"]`)),
				chromedp.WaitVisible(css(`[data-testid="card-action-bubble"]`)),
			)
			if n := count(`[data-testid="card-status"][data-last4="` + card + `"]`); n != 1 {
				t.Fatalf("%d cards for ••%s, want its newest status only", n, card)
			}

			again, second := lock("second alert")
			if again != card {
				t.Logf("the second alert was about ••%s", again)
			}
			do("it was me after all",
				click(css(`[data-testid="card-status"][data-status="locked"] [data-testid="card-action-was_me"]`)),
				chromedp.WaitVisible(cardSel(again, "active")),
				chromedp.WaitVisible(cardSel(second, "closed")),
				chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="message-bubble"][data-author="institution"]')].some((b) => b.textContent.includes('try it again'))`),
			)

			third, replacement := lock("third alert")
			resp, err := http.Post(info.BankURL+"/sim/replace-cards", "", nil)
			if err != nil {
				t.Fatal(err)
			}
			var out struct{ Replaced int }
			json.NewDecoder(resp.Body).Decode(&out)
			resp.Body.Close()
			if out.Replaced != 1 {
				t.Fatalf("replace cards: %d %+v", resp.StatusCode, out)
			}
			do("the replacement arrives",
				chromedp.WaitVisible(cardSel(replacement, "active")),
				chromedp.WaitVisible(cardSel(third, "closed")),
			)
			text := evalJS[string](t, ctx, fmt.Sprintf(`document.querySelector('[data-testid="card-status"][data-last4="%s"]').textContent`, replacement))
			if !strings.Contains(text, "Ready to use") || !strings.Contains(text, "Replaces your card ••"+third) {
				t.Fatalf("the new card says %q", text)
			}
			if n := count(`[data-testid="card-status"][data-status="locked"], [data-testid="card-status"][data-status="ordered"], [data-testid^="card-action-"]:not([data-testid="card-action-bubble"])`); n != 0 {
				t.Fatalf("%d locked or ordered cards, or card actions, are left", n)
			}
			shot(t, ctx, "replaced")
			fits(t, ctx, "the replaced card")
		})
	}
}

// TestBrowserWaitingStaysInReach: the bank's question keeps its quick
// replies above the composer while newer cards (purchases, balances,
// another message) arrive, until the customer answers; an open fraud alert
// pushed out of view by newer cards is one tap away.
func TestBrowserWaitingStaysInReach(t *testing.T) {
	t.Parallel()
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			ctx, do, info := browseSized(t, vp.w, vp.h)
			bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)
			do("see the opening cards", chromedp.WaitVisible(css(`[data-testid="balance-card"]`)))
			sent("Anything else I can help with?")
			q := bank.post(bankapi.Event{ID: "question", LinkID: info.LinkID, Type: bankapi.TypeMessage, OccurredAt: time.Now().UTC(),
				Data: bankapi.Message{Text: "Anything else I can help with?", QuickReplies: []bankapi.QuickReply{
					{Label: "Balance", Payload: "menu:" + bankapi.RequestBalance}, {Label: "Recent transactions", Payload: "menu:" + bankapi.RequestRecentTransactions}}}})[0]
			chips := css(fmt.Sprintf(`[data-testid="waiting"] [data-testid="quick-replies"][data-reply-to="%d"]`, q.Seq))
			do("see the quick replies", chromedp.WaitVisible(chips))

			raiseAlert(t, info)
			do("see the alert", chromedp.WaitVisible(css(`[data-testid="fraud-card"][data-state="open"]`)))
			newer := purchases(info, "waiting", 14)
			newer = append(newer, message("waiting-plain", info.LinkID, "Your statement is ready."))
			res := bank.post(newer...)
			last := res[len(res)-1].Seq
			do("newer cards arrive", chromedp.WaitVisible(css(fmt.Sprintf(`[data-testid="message-bubble"][data-seq="%d"]`, last))))

			do("the quick replies stay", chromedp.WaitVisible(chips))
			if n := evalJS[int](t, ctx, `document.querySelectorAll('[data-testid="waiting"] [data-testid="quick-replies"] button').length`); n != 2 {
				t.Fatalf("%d quick replies in reach, want 2", n)
			}
			remind := css(`[data-testid="waiting-alert"]`)
			do("the alert, now out of view, has a reminder", chromedp.WaitVisible(remind))
			fits(t, ctx, "the thread with what waits")
			shot(t, ctx, "waiting")
			do("the reminder brings the alert into view",
				click(remind),
				chromedp.Poll[chromedp.Void](`(() => {
				  const card = document.querySelector('[data-testid="fraud-card"][data-state="open"]').getBoundingClientRect();
				  const pane = document.querySelector('.thread-scroll').getBoundingClientRect();
				  return card.top >= pane.top - 1 && card.bottom <= pane.bottom + 1;
				})()`),
			)

			do("answer with a quick reply",
				click(css(fmt.Sprintf(`[data-testid="quick-replies"][data-reply-to="%d"] button[data-label="Balance"]`, q.Seq))),
				chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="message-bubble"][data-author="customer"]')].some((b) => b.textContent.includes('Balance'))`),
				chromedp.WaitNotPresent(chips),
			)
		})
	}
}

// testMerchant is where the tests' purchases are made: no shop of the
// simulated bank's, whose own activity may add a card now and then.
const testMerchant = "Fernwood Tea Room"

// purchases are n card purchases, each followed by the card's new
// balance, as a bank posts them.
func purchases(info demoInfo, prefix string, n int) []bankapi.Event {
	var evs []bankapi.Event
	now := time.Now().UTC()
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		evs = append(evs,
			bankapi.Event{ID: id, LinkID: info.LinkID, Type: bankapi.TypeTransactionPosted, OccurredAt: now,
				Data: bankapi.TransactionPosted{AccountID: "acc_card", TransactionID: id, Status: bankapi.StatusPosted, Direction: bankapi.Debit,
					Amount: bankapi.Money{Amount: fmt.Sprintf("%d.25", 3+i), Currency: "USD"}, CardLast4: "4821",
					Merchant: &bankapi.Merchant{Name: testMerchant, MCC: "5814", Category: "Fast Food Restaurants", City: "Portland", Country: "US"}}},
			bankapi.Event{ID: id + "-balance", LinkID: info.LinkID, Type: bankapi.TypeBalanceUpdated, OccurredAt: now,
				Data: bankapi.BalanceUpdated{AccountID: "acc_card", AccountName: "Travel Card", AccountKind: bankapi.AccountCreditCard, Mask: "4821",
					Available: bankapi.Money{Amount: fmt.Sprintf("%d.00", 900-i), Currency: "USD"}, Current: bankapi.Money{Amount: fmt.Sprintf("%d.00", 100+i), Currency: "USD"}}},
		)
	}
	return evs
}

// balanceCards counts the thread's balance cards: all of them, today's,
// and the days that have more than one (a test that begins just before
// midnight has yesterday's card too, and that is as it should be).
const balanceCards = `(() => {
  const pad = (n) => String(n).padStart(2, '0');
  const d = new Date();
  const today = d.getFullYear() + '-' + pad(d.getMonth() + 1) + '-' + pad(d.getDate());
  const days = [...document.querySelectorAll('[data-testid="balance-card"]')].map((c) => c.dataset.day);
  return { all: days.length, today: days.filter((day) => day === today).length, repeated: days.filter((day, i) => days.indexOf(day) !== i) };
})()`

// balanceCount is what balanceCards says.
type balanceCount struct {
	All, Today int
	Repeated   []string
}

// TestBrowserCalmBalances: a dozen purchases, each followed by its balance,
// leave one balance card for the day in the thread, while the header shows
// the newest balance; screen readers hear the bank's message, not the
// balances.
func TestBrowserCalmBalances(t *testing.T) {
	t.Parallel()
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			ctx, do, info := browseSized(t, vp.w, vp.h)
			bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)
			do("see the opening balances", chromedp.WaitVisible(css(`[data-testid="balance-card"]`)))
			res := bank.post(purchases(info, "calm", 12)...)
			sent("Your statement is ready to read.")
			note := bank.post(message("calm-note", info.LinkID, "Your statement is ready to read."))[0]
			do("the purchases and the message arrive",
				chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="txn-card"]')].filter((c) => c.textContent.includes('`+testMerchant+`')).length === 12`),
				chromedp.WaitVisible(css(fmt.Sprintf(`[data-testid="message-bubble"][data-seq="%d"]`, note.Seq))),
				chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="balance-strip"]').textContent.includes('889.00')`),
			)
			if n := evalJS[balanceCount](t, ctx, balanceCards); n.Today != 1 || len(n.Repeated) > 0 {
				t.Fatalf("balance cards %+v: want one today, and never two on one day", n)
			}
			lastBalance := res[len(res)-1].Seq
			card := evalJS[string](t, ctx, `[...document.querySelectorAll('[data-testid="balance-card"]')].pop().textContent`)
			seq := evalJS[string](t, ctx, `[...document.querySelectorAll('[data-testid="balance-card"]')].pop().dataset.seq`)
			if seq != fmt.Sprint(lastBalance) || !strings.Contains(card, "889.00") || !strings.Contains(card, "Travel Card") {
				t.Fatalf("the day's balance card (seq %s, want %d) says %q", seq, lastBalance, card)
			}
			// Nothing that holds balances is a live region, and what was
			// announced is the bank's message, not a balance.
			live := evalJS[[]string](t, ctx, `[...document.querySelectorAll('[data-testid="balance-card"], [data-testid="balance-strip"], [data-testid="txn-card"]')]
			  .filter((el) => el.closest('[aria-live]:not([aria-live="off"]), [role="log"], [role="status"], [role="alert"]'))
			  .map((el) => el.dataset.testid)`)
			if len(live) > 0 {
				t.Fatalf("inside a live region: %v", live)
			}
			do("the message is announced",
				chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="announcer"]').textContent.includes('Your statement is ready to read.')`))
			if said := evalJS[string](t, ctx, `document.querySelector('[data-testid="announcer"]').textContent`); strings.Contains(said, "available") || strings.Contains(said, "889") {
				t.Fatalf("a balance was announced: %q", said)
			}
			fits(t, ctx, "the calm thread")
			shot(t, ctx, "calm")
		})
	}
}

// TestBrowserDaySeparators: what happened on three days shows under three
// date separators in order, "Yesterday" and "Today" last, each day's cards
// under its own date, and at most one balance card a day; what a bank
// sends late joins its own day.
func TestBrowserDaySeparators(t *testing.T) {
	t.Parallel()
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			ctx, do, info := browseSized(t, vp.w, vp.h)
			bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)
			do("see the opening balances", chromedp.WaitVisible(css(`[data-testid="balance-card"]`)))
			noon := func(daysAgo int) time.Time {
				d := time.Now().AddDate(0, 0, -daysAgo)
				return time.Date(d.Year(), d.Month(), d.Day(), 12, 0, 0, 0, time.Local).UTC()
			}
			var evs []bankapi.Event
			for _, daysAgo := range []int{3, 1} { // sent late, after today's opening cards
				for i, e := range purchases(info, fmt.Sprintf("day-%d", daysAgo), 2) {
					e.OccurredAt = noon(daysAgo).Add(time.Duration(i) * time.Minute)
					evs = append(evs, e)
				}
			}
			evs = append(evs, purchases(info, "today", 1)...)
			bank.post(evs...)
			do("three days of cards",
				chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="day-separator"]').length === 3 && [...document.querySelectorAll('[data-testid="txn-card"]')].filter((c) => c.textContent.includes('`+testMerchant+`')).length === 5`))

			var days []struct {
				Day, Label string
				Cards      []string // the local day of each test purchase's time, up to the next separator
				Balances   int
			}
			raw := evalJS[string](t, ctx, `JSON.stringify((() => {
			  const local = (iso) => { const d = new Date(iso); return d.getFullYear() + '-' + String(d.getMonth() + 1).padStart(2, '0') + '-' + String(d.getDate()).padStart(2, '0'); };
			  const out = [];
			  for (const li of document.querySelector('ol.cards').children) {
			    if (li.dataset.testid === 'day-separator') { out.push({ day: li.dataset.day, label: li.textContent, cards: [], balances: 0 }); continue; }
			    const cur = out[out.length - 1];
			    if (li.dataset.testid === 'balance-card') cur.balances++;
			    else if (li.dataset.testid === 'txn-card' && li.textContent.includes('`+testMerchant+`')) cur.cards.push(local(li.querySelector('time').getAttribute('datetime')));
			  }
			  return out;
			})())`)
			if err := json.Unmarshal([]byte(raw), &days); err != nil {
				t.Fatal(err)
			}
			if len(days) != 3 || days[1].Label != "Yesterday" || days[2].Label != "Today" || days[0].Label == "" ||
				!(days[0].Day < days[1].Day && days[1].Day < days[2].Day) {
				t.Fatalf("separators %+v", days)
			}
			for _, d := range days {
				if d.Balances != 1 {
					t.Errorf("%s has %d balance cards, want 1", d.Label, d.Balances)
				}
				for _, c := range d.Cards {
					if c != d.Day {
						t.Errorf("a card of %s is under %s (%s)", c, d.Label, d.Day)
					}
				}
			}
			if len(days[0].Cards) != 2 || len(days[1].Cards) != 2 || len(days[2].Cards) != 1 {
				t.Errorf("cards per day: %+v", days)
			}
			fits(t, ctx, "three days")
			shot(t, ctx, "days")
		})
	}
}
