package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/openteller/openteller/internal/banksim"
	"github.com/openteller/openteller/internal/demo"
	"github.com/openteller/openteller/pkg/bankapi"
)

// Payments handed to the bank, in a real Chromium at a phone's size and a
// laptop's: a bank's request and a merchant's, paid with one tap on "Pay
// with Cedar Bank", each card moving through the bank's statuses in place;
// and one customer asking another, who banks at the same simulated bank,
// to pay them. Each is checked with the page's DOM and element boxes.

// browsePayments starts Chromium and the demo (payments settling two
// seconds after the bank accepts them), sets the viewport, and opens the
// demo customer's conversation.
func browsePayments(t *testing.T, w, h int64) (context.Context, func(string, ...chromedp.Action[chromedp.Void]), demoInfo, string) {
	t.Helper()
	browser := newChrome(t)
	dir := t.TempDir()
	_, info := startDemo(t, dir, "--activity", "1h", "--settle-delay", "2s")
	ctx, cancel := context.WithTimeout(browser, 120*time.Second)
	t.Cleanup(cancel)
	do := steps(t, ctx)
	do("set the viewport", chromedp.EmulateViewport(w, h))
	openConversation(do, info)
	return ctx, do, info, dir
}

// watchStates records, in the page, every state the payment card at seq
// is drawn in, from now on: the card is drawn afresh at each status.
func watchStates(t *testing.T, ctx context.Context, seq int64) {
	t.Helper()
	evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
	  const seen = window.__paymentStates ??= {};
	  const key = '%d';
	  const card = () => document.querySelector('[data-testid="payment-card"][data-seq="' + key + '"]');
	  seen[key] = [card()?.dataset.state].filter(Boolean);
	  new MutationObserver(() => {
	    const s = card()?.dataset.state;
	    if (s && seen[key][seen[key].length - 1] !== s) seen[key].push(s);
	  }).observe(document.querySelector('ol.cards'), { childList: true, subtree: true, attributes: true });
	  return true;
	})()`, seq))
}

func statesSeen(t *testing.T, ctx context.Context, seq int64) []string {
	t.Helper()
	return evalJS[[]string](t, ctx, fmt.Sprintf(`window.__paymentStates['%d']`, seq))
}

// inOrder reports whether states went forward through order, from its
// first to its last, with at least one step between: a frame that brings
// two statuses at once may skip one, never go back.
func inOrder(states []string, order ...string) bool {
	if len(states) < 3 || states[0] != order[0] || states[len(states)-1] != order[len(order)-1] {
		return false
	}
	at := 0
	for _, s := range states[1:] {
		i := slices.Index(order, s)
		if i <= at {
			return false
		}
		at = i
	}
	return true
}

// paymentCard selects the payment card drawn for the event at seq.
func paymentCard(seq int64, state string) chromedp.CSS {
	return css(fmt.Sprintf(`[data-testid="payment-card"][data-seq="%d"][data-state="%s"]`, seq, state))
}

// requestPayment asks the simulated bank to ask for the card's payment.
func requestPayment(t *testing.T, info demoInfo) {
	t.Helper()
	resp, err := http.Post(info.BankURL+"/sim/payment-request", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Requested int }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Requested != 1 {
		t.Fatalf("request payment: %d %+v %v", resp.StatusCode, out, err)
	}
}

// merchant registers Alder Outfitters, a merchant, with the running
// demo's platform, its sign-in served by a simulated institution in this
// process, and links the demo customer to it for receipts and payments.
// It returns the merchant's Bank API client and the customer's link.
func merchant(t *testing.T, info demoInfo, dir string) (*bank, string) {
	t.Helper()
	var handler atomic.Pointer[http.Handler]
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { (*handler.Load()).ServeHTTP(w, r) }))
	t.Cleanup(srv.Close)
	out, err := exec.Command(binary, "institution", "create", "--data", dir, "--name", "Alder Outfitters", "--kind", "merchant",
		"--authorize-url", srv.URL+"/authorize", "--token-url", srv.URL+"/token", "--client-id", "openteller-shop").CombinedOutput()
	if err != nil {
		t.Fatalf("institution create: %v\n%s", err, out)
	}
	key := regexp.MustCompile(`otk_\S+`).FindString(string(out))
	id := regexp.MustCompile(`ins_\S+`).FindString(string(out))
	shop, err := banksim.New(banksim.Config{Name: "Alder Outfitters", PlatformURL: info.BaseURL, APIKey: key, ClientID: "openteller-shop",
		RedirectURI: info.BaseURL + "/oauth/callback"})
	if err != nil {
		t.Fatal(err)
	}
	h := shop.Handler()
	handler.Store(&h)
	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	conv, err := c.Link(ctxT(t), id, []string{bankapi.ScopeReceipts, bankapi.ScopePayments}, banksim.DemoUsername(), banksim.DemoPassword())
	if err != nil {
		t.Fatalf("link the merchant: %v", err)
	}
	for _, cv := range c.conversations() {
		if cv.ID == conv {
			return newBank(t, info.BaseURL, key), cv.Link.ID
		}
	}
	t.Fatalf("the merchant's conversation %s is not listed", conv)
	return nil, ""
}

// TestBrowserPayments: the bank asks the demo customer to pay their card;
// "Pay with Cedar Bank" hands it over, and the one card for the request
// goes from sent to accepted to paid, in place, as the bank says so, while
// the money moves in the thread. A second tap answers 409. Then a
// merchant asks to be paid for an order: the customer chooses Cedar Bank,
// the merchant's card says so and leads to Cedar Bank's conversation,
// where the payment's own card goes to paid.
func TestBrowserPayments(t *testing.T) {
	t.Parallel()
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			ctx, do, info, dir := browsePayments(t, vp.w, vp.h)
			do("see the opening cards", chromedp.WaitVisible(css(`[data-testid="balance-card"]`)))

			requestPayment(t, info)
			open := css(`[data-testid="payment-card"][data-kind="request"][data-state="open"]`)
			do("see the request", chromedp.WaitVisible(open), chromedp.WaitVisible(css(`[data-testid="pay-with"]`)))
			seq := int64(evalJS[float64](t, ctx, `Number(document.querySelector('[data-testid="payment-card"][data-kind="request"]').dataset.seq)`))
			text := evalJS[string](t, ctx, `document.querySelector('[data-testid="payment-card"][data-kind="request"]').textContent`)
			buttons := evalJS[[]string](t, ctx, `[...document.querySelectorAll('[data-testid="pay-with"]')].map((b) => b.textContent)`)
			if !strings.Contains(text, "Cedar Bank asks you to pay") || !strings.Contains(text, "statement") || !strings.Contains(text, "Pay by") ||
				len(buttons) != 1 || buttons[0] != "Pay with Cedar Bank" {
				t.Fatalf("request card %q, buttons %q", text, buttons)
			}
			fits(t, ctx, "an open request to pay")

			watchStates(t, ctx, seq)
			do("pay with one tap, and see it paid in place",
				click(css(`[data-testid="pay-with"]`)),
				chromedp.WaitVisible(css(`[data-testid="payment-answer-bubble"]`)),
				chromedp.WaitVisible(paymentCard(seq, "settled")),
				chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="txn-card"]')].some((c) => c.textContent.includes('Payment to Cedar Bank'))`),
			)
			if states := statesSeen(t, ctx, seq); !inOrder(states, "open", "authorized", "accepted", "settled") {
				t.Fatalf("the card went through %v, want open, authorized, accepted, settled", states)
			}
			if n := evalJS[int](t, ctx, `document.querySelectorAll('[data-testid="payment-card"], [data-testid="payment-status-card"]').length`); n != 1 {
				t.Fatalf("%d payment cards for one request", n)
			}
			text = evalJS[string](t, ctx, fmt.Sprintf(`document.querySelector('[data-testid="payment-card"][data-seq="%d"]').textContent`, seq))
			if !strings.Contains(text, "Paid") || !strings.Contains(text, "You chose “Pay with Cedar Bank”") ||
				evalJS[int](t, ctx, `document.querySelectorAll('[data-testid="pay-with"], [data-testid="waiting-payment"]').length`) != 0 {
				t.Fatalf("the paid card says %q, or still offers to pay", text)
			}
			fits(t, ctx, "a paid request")

			// A second tap, from another device: 409, and nothing new.
			c := newCustomer(t, info.BaseURL)
			c.signIn(info.CustomerEmail, info.CustomerPassword)
			err := c.Call(ctxT(t), "POST", fmt.Sprintf("/app/api/conversations/%s/payments/%d/authorize", info.ConversationID, seq), map[string]string{}, nil)
			var apiErr *demo.APIError
			if !errors.As(err, &apiErr) || apiErr.Status != http.StatusConflict || apiErr.Code != "already_authorized" {
				t.Fatalf("a second tap: %v", err)
			}

			// A merchant's order: choose Cedar Bank.
			shop, shopLink := merchant(t, info, dir)
			sent("Rain jacket")
			order := shop.post(bankapi.Event{ID: "order-A-1042", LinkID: shopLink, Type: bankapi.TypePaymentRequest, OccurredAt: time.Now().UTC(),
				Data: bankapi.PaymentRequest{PaymentID: "A-1042", Amount: bankapi.Money{Amount: "89.00", Currency: "USD"}, Reference: "Order A-1042",
					Order: &bankapi.PaymentOrder{OrderNumber: "A-1042", Items: []bankapi.ReceiptItem{{Name: "Rain jacket", Quantity: 1,
						UnitPrice: bankapi.Money{Amount: "89.00", Currency: "USD"}, Total: bankapi.Money{Amount: "89.00", Currency: "USD"}}}},
					ExpiresAt: time.Now().Add(time.Hour).UTC()}})[0]
			if order.Status != bankapi.ResultAccepted {
				t.Fatalf("the order: %+v", order.Error)
			}
			do("open the merchant's conversation",
				chromedp.Navigate(info.BaseURL+"/#/"),
				chromedp.WaitVisible(css(`[data-testid="conversation-row"]`)),
				chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="conversation-row"]')].some((r) => r.textContent.includes('Alder Outfitters'))`),
			)
			do("tap it", click(chromedp.Search(`//*[@data-testid="conversation-row"][contains(., "Alder Outfitters")]`)),
				chromedp.WaitVisible(paymentCard(order.Seq, "open")))
			text = evalJS[string](t, ctx, fmt.Sprintf(`document.querySelector('[data-testid="payment-card"][data-seq="%d"]').textContent`, order.Seq))
			buttons = evalJS[[]string](t, ctx, `[...document.querySelectorAll('[data-testid="pay-with"]')].map((b) => b.textContent)`)
			if !strings.Contains(text, "Alder Outfitters asks you to pay") || !strings.Contains(text, "1 × Rain jacket") || len(buttons) != 1 || buttons[0] != "Pay with Cedar Bank" {
				t.Fatalf("the order's card %q, buttons %q", text, buttons)
			}
			fits(t, ctx, "a merchant's order")
			do("pay it with Cedar Bank",
				click(css(`[data-testid="pay-with"]`)),
				chromedp.WaitVisible(paymentCard(order.Seq, "authorized")),
				chromedp.WaitVisible(css(`[data-testid="payment-follow"]`)),
			)
			do("follow it to Cedar Bank, where it is paid",
				click(css(`[data-testid="payment-follow"]`)),
				chromedp.WaitVisible(css(`[data-testid="payment-card"][data-kind="payment"]`)),
				chromedp.WaitVisible(css(`[data-testid="payment-card"][data-kind="payment"][data-state="settled"]`)),
			)
			text = evalJS[string](t, ctx, `document.querySelector('[data-testid="payment-card"][data-kind="payment"]').textContent`)
			if !strings.Contains(text, "Payment to Alder Outfitters") || !strings.Contains(text, "Order A-1042") || !strings.Contains(text, "Paid") {
				t.Fatalf("the payment's card in Cedar Bank's conversation says %q", text)
			}
			fits(t, ctx, "a merchant's order, paid")
		})
	}
}

// TestBrowserAskAFriend: the demo customer (Alex at Cedar Bank) asks
// Jordan, who also banks there and uses OpenTeller, to pay half a dinner,
// naming Jordan by the email Jordan uses at the bank. Bad input is refused
// in words, and stores nothing. Jordan, on their own device, sees the
// request from Alex and pays it with one tap; Alex's card of the request
// goes to paid, in place, and the money arrives in Alex's thread.
func TestBrowserAskAFriend(t *testing.T) {
	t.Parallel()
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			ctx, do, info, _ := browsePayments(t, vp.w, vp.h)
			jordan := newCustomer(t, info.BaseURL)
			jordan.signUp("jordan@example.com", "jordan-demo-password")
			if _, err := jordan.Link(ctxT(t), info.InstitutionID, bankapi.AllScopes, banksim.FriendUsername(), banksim.DemoPassword()); err != nil {
				t.Fatalf("Jordan links Cedar Bank: %v", err)
			}

			// Jordan's own device: another browser context of the same
			// Chromium, with cookies of its own.
			jctx, cancel := chromedp.NewContext(ctx, chromedp.WithNewBrowserContext())
			t.Cleanup(cancel)
			jdo := steps(t, jctx)
			jdo("Jordan's viewport", chromedp.EmulateViewport(vp.w, vp.h))
			openConversation(jdo, demoInfo{BaseURL: info.BaseURL, CustomerEmail: "jordan@example.com", CustomerPassword: "jordan-demo-password"})

			do("open the form from the menu",
				click(css(`[data-testid="menu-button"]`)),
				chromedp.WaitVisible(css(`[data-testid="menu-ask-payment"]`)),
				click(css(`[data-testid="menu-ask-payment"]`)),
				chromedp.WaitVisible(css(`[data-testid="ask-form"]`)),
			)
			fits(t, ctx, "the form to ask for money")
			sent("Dinner at Saffron House")
			do("someone the form cannot name is refused in words",
				chromedp.SendKeys(css(`[data-testid="ask-amount"]`), "12.50"),
				chromedp.SendKeys(css(`[data-testid="ask-payer"]`), "jordan"),
				chromedp.SendKeys(css(`[data-testid="ask-reference"]`), "Dinner at Saffron House"),
				click(css(`[data-testid="ask-submit"]`)),
				chromedp.Poll[chromedp.Void](`document.querySelector('[data-testid="ask-error"]').textContent.includes('email address or mobile number')`),
			)
			if n := evalJS[int](t, ctx, `document.querySelectorAll('[data-testid="payment-card"]').length`); n != 0 {
				t.Fatalf("a refused request left %d cards", n)
			}
			do("ask Jordan by the email Jordan uses at the bank",
				chromedp.SetValue(css(`[data-testid="ask-payer"]`), banksim.FriendHandle()),
				click(css(`[data-testid="ask-submit"]`)),
				chromedp.WaitNotVisible(css(`[data-testid="ask-form"]`)),
				chromedp.WaitVisible(css(`[data-testid="payment-card"][data-kind="ask"][data-state="asked"]`)),
			)
			seq := int64(evalJS[float64](t, ctx, `Number(document.querySelector('[data-testid="payment-card"][data-kind="ask"]').dataset.seq)`))
			watchStates(t, ctx, seq)
			text := evalJS[string](t, ctx, `document.querySelector('[data-testid="payment-card"][data-kind="ask"]').textContent`)
			if !strings.Contains(text, "You asked "+banksim.FriendHandle()+" for") || !strings.Contains(text, "$12.50") || !strings.Contains(text, "Sent to Cedar Bank") {
				t.Fatalf("Alex's card says %q", text)
			}
			fits(t, ctx, "a request for money, sent")

			open := css(`[data-testid="payment-card"][data-kind="request"][data-state="open"]`)
			jdo("Jordan sees Alex's request", chromedp.WaitVisible(open))
			text = evalJS[string](t, jctx, `document.querySelector('[data-testid="payment-card"][data-kind="request"]').textContent`)
			if !strings.Contains(text, "Alex asks you for") || !strings.Contains(text, "Dinner at Saffron House") || !strings.Contains(text, "$12.50") {
				t.Fatalf("Jordan's card says %q", text)
			}
			if strings.Contains(text, "demo@example.com") || strings.Contains(text, banksim.DemoHandle()) {
				t.Fatalf("Jordan is told how Alex signs in: %q", text)
			}
			fits(t, jctx, "Jordan's request to pay")
			jdo("Jordan pays it",
				click(css(`[data-testid="pay-with"]`)),
				chromedp.WaitVisible(css(`[data-testid="payment-card"][data-kind="request"][data-state="settled"]`)),
			)
			fits(t, jctx, "Jordan's request, paid")

			do("Alex's card is paid, in place, and the money arrives",
				chromedp.WaitVisible(paymentCard(seq, "settled")),
				chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="txn-card"]')].some((c) => c.textContent.includes('Payment from Jordan'))`),
			)
			if states := statesSeen(t, ctx, seq); !inOrder(states, "asked", "accepted", "settled") {
				t.Fatalf("Alex's card went through %v, want asked, accepted, settled", states)
			}
			text = evalJS[string](t, ctx, fmt.Sprintf(`document.querySelector('[data-testid="payment-card"][data-seq="%d"]').textContent`, seq))
			if !strings.Contains(text, "Paid to you") || !strings.Contains(text, "Jordan paid you $12.50") {
				t.Fatalf("Alex's paid card says %q", text)
			}
			if n := evalJS[int](t, ctx, `document.querySelectorAll('[data-testid="payment-card"], [data-testid="payment-status-card"]').length`); n != 1 {
				t.Fatalf("%d payment cards for one request", n)
			}
			fits(t, ctx, "a request for money, paid")
		})
	}
}
