package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/openteller/openteller/internal/mcc"
	"github.com/openteller/openteller/pkg/bankapi"
)

// Insights on the device and search within a conversation (issue 12), in
// a real Chromium: the computations on crafted inputs, then the views at a
// phone's size and a laptop's, on purchases a bank posts through the Bank
// API. The server computes no insight and stores nothing derived: the view
// asks it for nothing but pages of the conversation's history, and a fetch
// and XHR spy in the page checks that.

// TestBrowserInsightsComputations imports the messenger's modules in the
// page and runs e2e/testdata/insights.js on them: money in exact minor
// units across currencies, the plain categories (every code internal/mcc
// knows has one), spending by month and category, duplicates, recurring
// charges and their rises, the low-balance forecast, and search.
func TestBrowserInsightsComputations(t *testing.T) {
	t.Parallel()
	browser := newChrome(t)
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	ctx, cancel := context.WithTimeout(browser, 60*time.Second)
	defer cancel()
	src, err := os.ReadFile(filepath.Join("testdata", "insights.js"))
	if err != nil {
		t.Fatal(err)
	}
	codes, _ := json.Marshal(mcc.Codes())
	do := steps(t, ctx)
	do("load the messenger", chromedp.Navigate(info.BaseURL+"/"), chromedp.WaitVisible(css(`[data-testid="signin-email"]`)))
	failures, err := chromedp.Run(ctx, chromedp.Evaluate[[]string]("("+string(src)+")("+string(codes)+")", chromedp.EvalAwaitPromise))
	if err != nil {
		t.Fatalf("run the cases: %v", err)
	}
	if failures == nil {
		t.Fatal("the cases returned nothing: they did not run")
	}
	for _, f := range failures {
		t.Error(f)
	}
}

// insightsPurchases are three months of a euro account's activity, each
// on a day between the 10th and the 18th at a time of day that keeps it in
// the same month in every time zone: a subscription that went up, grocery
// runs with a refund, a coffee charged twice within a day, a transfer, and
// a balance just above the low mark. want is what the insights should say.
func insightsPurchases(info demoInfo, now time.Time) (evs []bankapi.Event, want insightsWant) {
	first := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	at := func(back, day, hour, minute int) time.Time {
		return first.AddDate(0, -back, day-1).Add(time.Duration(hour)*time.Hour + time.Duration(minute)*time.Minute)
	}
	euro := func(a string) bankapi.Money { return bankapi.Money{Amount: a, Currency: "EUR"} }
	txn := func(id string, when time.Time, amount, merchant, code, direction string) bankapi.Event {
		d := bankapi.TransactionPosted{AccountID: "acc_eur", TransactionID: id, Status: bankapi.StatusPosted, Direction: direction, Amount: euro(amount)}
		if merchant == "" {
			d.Description = "Savings transfer"
		} else {
			d.Merchant = &bankapi.Merchant{Name: merchant, MCC: code, City: "Lyon", Country: "FR"}
			d.CardLast4 = "7710"
		}
		return bankapi.Event{ID: id, LinkID: info.LinkID, Type: bankapi.TypeTransactionPosted, OccurredAt: when, Data: d}
	}
	evs = []bankapi.Event{
		txn("ins-stream-1", at(3, 14, 12, 0), "9.99", "Streamflix", "4899", bankapi.Debit),
		txn("ins-lark-1", at(3, 11, 12, 0), "45.10", "Larkspur Grocers", "5411", bankapi.Debit),
		txn("ins-lark-2", at(3, 18, 12, 0), "30.00", "Larkspur Grocers", "5411", bankapi.Debit),
		txn("ins-stream-2", at(2, 14, 12, 0), "9.99", "Streamflix", "4899", bankapi.Debit),
		txn("ins-lark-3", at(2, 16, 12, 0), "62.35", "Larkspur Grocers", "5411", bankapi.Debit),
		txn("ins-lark-refund", at(2, 17, 12, 0), "5.00", "Larkspur Grocers", "5411", bankapi.Credit),
		txn("ins-transfer", at(1, 10, 12, 0), "200.00", "", "", bankapi.Debit),
		txn("ins-quill-1", at(1, 12, 9, 0), "4.80", "Quillon Café", "5814", bankapi.Debit),
		txn("ins-quill-2", at(1, 12, 11, 30), "4.80", "Quillon Café", "5814", bankapi.Debit),
		txn("ins-stream-3", at(1, 14, 12, 0), "12.99", "Streamflix", "4899", bankapi.Debit),
		txn("ins-lark-4", at(1, 15, 12, 0), "38.00", "Larkspur Grocers", "5411", bankapi.Debit),
		{ID: "ins-balance", LinkID: info.LinkID, Type: bankapi.TypeBalanceUpdated, OccurredAt: now,
			Data: bankapi.BalanceUpdated{AccountID: "acc_eur", AccountName: "Euro Account", AccountKind: bankapi.AccountChecking, Mask: "7710",
				Available: euro("105.00"), Current: euro("105.00")}},
	}
	key := func(back int) string { return at(back, 15, 12, 0).Format("2006-01") }
	name := at(1, 15, 12, 0).Month().String()
	if y := at(1, 15, 12, 0).Year(); y != time.Now().Year() {
		name += fmt.Sprint(" ", y)
	}
	want = insightsWant{
		Months:    [][2]string{{key(3), "85.09"}, {key(2), "67.34"}, {key(1), "60.59"}},
		Total:     "213.02",
		Month:     key(1),
		MonthName: name,
		// 38.00 groceries, 12.99 streaming, 2 × 4.80 coffee.
		Categories: [][2]string{{"groceries", "38.00"}, {"entertainment", "12.99"}, {"eating_out", "9.60"}},
	}
	return evs, want
}

type insightsWant struct {
	Months     [][2]string // month, amount
	Total      string
	Month      string // the month the categories show at first
	MonthName  string
	Categories [][2]string // group, amount
}

// insightsSeen is what the insights view shows, read from its DOM.
type insightsSeen struct {
	Months        [][2]string `json:"months"`
	Total         string      `json:"total"`
	CategoryMonth string      `json:"categoryMonth"`
	Headline      string      `json:"headline"`
	Categories    [][2]string `json:"categories"`
	Transfers     string      `json:"transfers"`
	Duplicates    []string    `json:"duplicates"`
	Recurring     []string    `json:"recurring"`
	Increases     []string    `json:"increases"`
	Forecast      string      `json:"forecast"`
	ForecastState string      `json:"forecastState"`
	Assumptions   []string    `json:"assumptions"`
	Charts        []struct {
		Label string `json:"label"`
		Bars  int    `json:"bars"`
		Rows  int    `json:"rows"`
	} `json:"charts"`
}

const readInsights = `(() => {
  const all = (sel, root = document) => [...root.querySelectorAll(sel)];
  const text = (el) => (el ? el.textContent.replace(/\s+/g, ' ').trim() : '');
  const view = document.querySelector('[data-testid="insights"]');
  const euro = view.querySelector('[data-testid="spending"][data-currency="EUR"]');
  const forecast = view.querySelector('[data-testid="forecast"][data-account="acc_eur"]');
  return {
    months: euro ? all('[data-testid="month-table"] tbody tr', euro).map((r) => [r.dataset.month, text(r.querySelector('td'))]) : [],
    total: text(euro?.querySelector('[data-testid="month-total"]')),
    categoryMonth: euro?.querySelector('[data-testid="category-chart"]')?.dataset.month || '',
    headline: text(euro?.querySelector('[data-testid="category-headline"]')),
    categories: euro ? all('[data-testid="category-table"] tbody tr', euro).map((r) => [r.dataset.group, text(r.querySelector('td'))]) : [],
    transfers: text(euro?.querySelector('[data-testid="transfers-note"]')),
    duplicates: all('[data-testid="duplicate"]', view).map(text),
    recurring: all('[data-testid="recurring"]', view).map((r) => r.dataset.cadence + ' | ' + text(r)),
    increases: all('[data-testid="increase"]', view).map(text),
    forecast: text(forecast?.querySelector('.forecast-line')),
    forecastState: forecast?.dataset.status || '',
    assumptions: forecast ? all('[data-testid="forecast-assumptions"] li', forecast).map(text) : [],
    charts: all('svg', view).map((svg) => {
      const table = svg.dataset.table ? document.getElementById(svg.dataset.table) : null;
      return { label: svg.getAttribute('role') === 'img' ? svg.getAttribute('aria-label') || '' : '', bars: svg.querySelectorAll('.chart-bar').length, rows: table ? table.tBodies[0].rows.length : -1 };
    }),
  };
})()`

// spyOnRequests records every request the page starts from now on: fetch,
// XHR and beacons as they are called, and every resource the browser
// fetches, by its timing entry.
const spyOnRequests = `(() => {
  performance.setResourceTimingBufferSize(100000);
  window.__spyFrom = performance.now(); // requests already on their way are the thread's, not the view's
  window.__requests = [];
  if (!window.__spying) {
    window.__spying = true;
    const fetch = window.fetch;
    window.fetch = function (input, init) { window.__requests.push(String(input?.url ?? input)); return fetch.apply(this, arguments); };
    const open = XMLHttpRequest.prototype.open;
    XMLHttpRequest.prototype.open = function (method, url) { window.__requests.push(String(url)); return open.apply(this, arguments); };
    if (navigator.sendBeacon) {
      const beacon = navigator.sendBeacon.bind(navigator);
      navigator.sendBeacon = (url, data) => { window.__requests.push(String(url)); return beacon(url, data); };
    }
  }
  return true;
})()`

const spiedRequests = `[...window.__requests, ...performance.getEntriesByType('resource').filter((e) => e.startTime >= window.__spyFrom).map((e) => e.name)]`

// historyPage is the only request the insights may make.
var historyPage = regexp.MustCompile(`^(https?://[^/]+)?/app/api/conversations/[^/?]+/events\?before=\d*$`)

// TestBrowserInsights: a bank posts three months of purchases; the device
// holds only the newest hundred events (a hundred and twenty messages
// came after them), so the insights page back through the history
// endpoint, asking for nothing else, and show the months, the categories
// with their plain names, the coffee charged twice, the subscription and
// its rise, and a balance that may run low, with what that assumes. Each
// chart has a table of its figures; nothing is wider than the screen.
// From a duplicate, one tap shows the charge in the thread. Then search:
// it finds a merchant and an amount in what the device holds, without a
// request, and jumps to the card; after a reload it says older history is
// not loaded yet, and loads it on request.
func TestBrowserInsights(t *testing.T) {
	t.Parallel()
	for _, vp := range viewports {
		t.Run(vp.name, func(t *testing.T) {
			browser := newChrome(t)
			_, info := startDemo(t, t.TempDir(), "--activity", "1h")
			bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)
			evs, want := insightsPurchases(info, time.Now().UTC())
			seqs := map[string]int64{}
			for i, r := range bank.post(evs...) {
				if r.Status != "accepted" {
					t.Fatalf("%s: %s %+v", evs[i].ID, r.Status, r.Error)
				}
				seqs[evs[i].ID] = r.Seq
			}
			var tips []bankapi.Event
			for i := range 120 {
				tips = append(tips, message(fmt.Sprintf("ins-tip-%d", i), info.LinkID, fmt.Sprintf("Tip %03d: keep your card details to yourself.", i)))
			}
			bank.post(tips...)

			ctx, cancel := context.WithTimeout(browser, 120*time.Second)
			defer cancel()
			do := steps(t, ctx)
			do("set the viewport", chromedp.EmulateViewport(vp.w, vp.h))
			openConversation(do, info)
			lastTip := `[...document.querySelectorAll('[data-testid="message-bubble"]')].some((b) => b.textContent.includes('Tip 119'))`
			do("the newest messages arrive", chromedp.Poll[chromedp.Void](lastTip))
			if evalJS[bool](t, ctx, `[...document.querySelectorAll('[data-testid="txn-card"]')].some((c) => c.textContent.includes('Streamflix'))`) {
				t.Fatal("the purchases are on the device before anything paged back: the test would not show the insights fetch history")
			}

			// Insights, with every request the page makes watched.
			evalJS[bool](t, ctx, spyOnRequests)
			do("open the insights",
				click(css(`[data-testid="insights-link"]`)),
				chromedp.WaitVisible(css(`[data-testid="insights"][data-state="ready"]`)),
				chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="month-table"][data-currency="EUR"] tbody tr').length === 3`),
			)
			seen := evalJS[insightsSeen](t, ctx, readInsights)
			shot(t, ctx, "insights")
			checkInsights(t, seen, want)
			fits(t, ctx, "the insights at "+vp.name)
			requests := evalJS[[]string](t, ctx, spiedRequests)
			pages := 0
			for _, r := range requests {
				if !historyPage.MatchString(r) {
					t.Errorf("the insights asked the server for %s: only history pages are allowed", r)
				} else {
					pages++
				}
			}
			if pages == 0 {
				t.Errorf("the insights fetched no history page (requests %q): the purchases came from somewhere else", requests)
			}

			// From the duplicate to its charge in the thread.
			quill := seqs["ins-quill-1"]
			do("see the first coffee in the thread",
				click(css(`[data-testid="duplicate"] [data-testid="see-in-thread"]`)),
				chromedp.WaitVisible(css(`[data-testid="thread"]`)),
				chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector('.cards [data-key="seq:%d"]')?.classList.contains('search-hit') && document.activeElement === document.querySelector('.cards [data-key="seq:%d"]')`, quill, quill)),
			)
			inView(t, ctx, quill)

			// Search, on the device: no request.
			evalJS[bool](t, ctx, spyOnRequests)
			results := css(`[data-testid="search-result"]`)
			do("search for a merchant",
				click(css(`[data-testid="search-button"]`)),
				chromedp.WaitVisible(css(`[data-testid="search-input"]`)),
				chromedp.SendKeys(css(`[data-testid="search-input"]`), "quillon"),
				chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="search-result"]').length === 2`),
			)
			marks := evalJS[[]string](t, ctx, `[...document.querySelectorAll('[data-testid="search-result"] mark')].map((m) => m.textContent)`)
			if len(marks) != 2 || marks[0] != "Quillon" {
				t.Errorf("marked in the matches: %q, want Quillon twice", marks)
			}
			fits(t, ctx, "the search at "+vp.name)
			stream := seqs["ins-stream-3"]
			do("search for an amount and jump to it",
				chromedp.Evaluate[chromedp.Void](`(() => { const i = document.querySelector('[data-testid="search-input"]'); i.value = ''; i.dispatchEvent(new Event('input')); })()`),
				chromedp.SendKeys(css(`[data-testid="search-input"]`), "12.99"),
				chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelectorAll('[data-testid="search-result"]').length === 1 && document.querySelector('[data-testid="search-result"]').dataset.seq === '%d'`, stream)),
				click(results),
				chromedp.Poll[chromedp.Void](fmt.Sprintf(`document.querySelector('.cards [data-key="seq:%d"]')?.classList.contains('search-hit') && document.activeElement === document.querySelector('.cards [data-key="seq:%d"]')`, stream, stream)),
			)
			if amount := evalJS[string](t, ctx, `document.querySelector('[data-testid="search-result"] .search-result-amount mark')?.textContent || ''`); !strings.Contains(amount, "12.99") {
				t.Errorf("the amount matched is marked %q", amount)
			}
			inView(t, ctx, stream)
			if requests := evalJS[[]string](t, ctx, spiedRequests); len(requests) > 0 {
				t.Errorf("search asked the server: %q", requests)
			}

			// A fresh page holds the newest hundred events: search says
			// what it has not seen, and fetches it when asked.
			do("reload the thread",
				// A query makes it a new document, not a change of fragment.
				chromedp.Navigate(info.BaseURL+"/?fresh#/c/"+info.ConversationID),
				chromedp.WaitVisible(css(`[data-testid="thread"]`)),
				chromedp.Poll[chromedp.Void](lastTip),
				click(css(`[data-testid="search-button"]`)),
				chromedp.SendKeys(css(`[data-testid="search-input"]`), "larkspur"),
				chromedp.WaitVisible(css(`[data-testid="search-load-more"]`)),
			)
			if n := evalJS[int](t, ctx, `document.querySelectorAll('[data-testid="search-result"]').length`); n != 0 {
				t.Errorf("%d matches before loading older history", n)
			}
			if note := evalJS[string](t, ctx, `document.querySelector('[data-testid="search-older"]').textContent`); !strings.Contains(note, "isn’t on this device yet") {
				t.Errorf("older history note %q", note)
			}
			fits(t, ctx, "the search with older history to load at "+vp.name)
			do("load older history",
				click(css(`[data-testid="search-load-more"]`)),
				chromedp.Poll[chromedp.Void](`document.querySelectorAll('[data-testid="search-result"]').length === 5`),
				chromedp.WaitNotVisible(css(`[data-testid="search-load-more"]`)),
			)
		})
	}
}

// checkInsights compares what the view shows with what it should.
func checkInsights(t *testing.T, seen insightsSeen, want insightsWant) {
	t.Helper()
	if len(seen.Months) != len(want.Months) {
		t.Errorf("months %q, want %q", seen.Months, want.Months)
	}
	for i := range min(len(seen.Months), len(want.Months)) {
		if seen.Months[i][0] != want.Months[i][0] || !strings.Contains(seen.Months[i][1], want.Months[i][1]) {
			t.Errorf("month %d: %q, want %q", i, seen.Months[i], want.Months[i])
		}
	}
	if !strings.Contains(seen.Total, want.Total) {
		t.Errorf("the months' total %q, want %s", seen.Total, want.Total)
	}
	if seen.CategoryMonth != want.Month {
		t.Errorf("categories of %q, want %q", seen.CategoryMonth, want.Month)
	}
	if !strings.Contains(seen.Headline, "38.00 on groceries in "+want.MonthName) {
		t.Errorf("headline %q, want “You spent €38.00 on groceries in %s”", seen.Headline, want.MonthName)
	}
	if len(seen.Categories) != len(want.Categories) {
		t.Errorf("categories %q, want %q", seen.Categories, want.Categories)
	}
	for i := range min(len(seen.Categories), len(want.Categories)) {
		if seen.Categories[i][0] != want.Categories[i][0] || !strings.Contains(seen.Categories[i][1], want.Categories[i][1]) {
			t.Errorf("category %d: %q, want %q", i, seen.Categories[i], want.Categories[i])
		}
	}
	if !strings.Contains(seen.Transfers, "200.00") {
		t.Errorf("transfers note %q", seen.Transfers)
	}
	if len(seen.Duplicates) != 1 || !strings.Contains(seen.Duplicates[0], "Quillon Café") || !strings.Contains(seen.Duplicates[0], "4.80") || !strings.Contains(seen.Duplicates[0], "twice") {
		t.Errorf("duplicates %q, want the coffee charged twice", seen.Duplicates)
	}
	streaming := false
	for _, r := range seen.Recurring {
		if strings.HasPrefix(r, "monthly | Streamflix") && strings.Contains(r, "12.99") {
			streaming = true
		}
		if strings.Contains(r, "Larkspur") || strings.Contains(r, "Quillon") {
			t.Errorf("not a regular payment: %q", r)
		}
	}
	if !streaming {
		t.Errorf("regular payments %q, want Streamflix monthly", seen.Recurring)
	}
	if len(seen.Increases) != 1 || !strings.Contains(seen.Increases[0], "Streamflix went from €9.99 to €12.99") {
		t.Errorf("rises %q, want Streamflix from €9.99 to €12.99", seen.Increases)
	}
	if seen.ForecastState != "runs-low" || !strings.Contains(seen.Forecast, "may go under €100.00") {
		t.Errorf("forecast %s %q, want that it may go under €100.00", seen.ForecastState, seen.Forecast)
	}
	assumed := strings.Join(seen.Assumptions, "\n")
	for _, a := range []string{"105.00 available", "Streamflix: €12.99", "not a promise"} {
		if !strings.Contains(assumed, a) {
			t.Errorf("the forecast's assumptions do not say %q:\n%s", a, assumed)
		}
	}
	if len(seen.Charts) < 2 {
		t.Errorf("%d charts", len(seen.Charts))
	}
	for i, c := range seen.Charts {
		if c.Label == "" || c.Bars == 0 || c.Rows != c.Bars {
			t.Errorf("chart %d: label %q, %d bars, %d rows in its table: each chart needs a text equivalent with a row per bar", i, c.Label, c.Bars, c.Rows)
		}
	}
}

// inView fails the test unless the thread's card for seq is within the
// thread's visible part.
func inView(t *testing.T, ctx context.Context, seq int64) {
	t.Helper()
	ok := evalJS[bool](t, ctx, fmt.Sprintf(`(() => {
  const card = document.querySelector('.cards [data-key="seq:%d"]').getBoundingClientRect();
  const pane = document.querySelector('.thread-scroll').getBoundingClientRect();
  return card.height > 0 && card.top >= pane.top - 1 && card.bottom <= pane.bottom + 1;
})()`, seq))
	if !ok {
		t.Errorf("the card of seq %d is not in view", seq)
	}
}
