package banksim

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/mcc"
	"github.com/openteller/openteller/pkg/bankapi"
)

// runActivity links the demo customer and drives n steps of activity,
// mostly a few seconds apart (so several holds overlap) with a jump of
// hours now and then (so the day's categories all appear).
func runActivity(t *testing.T, tb *testBank, n int) {
	t.Helper()
	for i := range n {
		if i%50 == 49 {
			tb.clock.Advance(97 * time.Minute)
		} else {
			tb.clock.Advance(5 * time.Second)
		}
		if err := tb.Step(context.Background()); err != nil {
			t.Fatalf("Step %d: %v", i, err)
		}
	}
}

var amountPattern = regexp.MustCompile(`^(0|[1-9][0-9]*)\.[0-9]{2}$`)

// cents parses a wire amount without floats, failing the test on any
// amount that is not a plain non-negative two-place decimal.
func cents(t *testing.T, m bankapi.Money) int64 {
	t.Helper()
	if !amountPattern.MatchString(m.Amount) {
		t.Fatalf("amount %q is not a two-place decimal", m.Amount)
	}
	if m.Currency != "USD" {
		t.Fatalf("currency %q, want USD", m.Currency)
	}
	whole, frac, _ := strings.Cut(m.Amount, ".")
	w, err1 := strconv.ParseInt(whole, 10, 64)
	f, err2 := strconv.ParseInt(frac, 10, 64)
	if err1 != nil || err2 != nil {
		t.Fatalf("amount %q: %v %v", m.Amount, err1, err2)
	}
	return w*100 + f
}

// ledgerView is one account as a platform could reconstruct it from the
// events of one link alone.
type ledgerView struct {
	kind        string
	current     int64            // what the posted transactions say current should be
	holds       map[string]int64 // pending reference → amount
	limit       int64            // credit cards: available + current + holds, constant
	lastBalance bankapi.BalanceUpdated
}

func (v *ledgerView) holdTotal() int64 {
	var sum int64
	for _, h := range v.holds {
		sum += h
	}
	return sum
}

// ledgerReport is what checkLedger learned, for tests that look further.
type ledgerReport struct {
	accounts     map[string]*ledgerView // by the link's account reference
	pending      int
	posted       int
	tipped       int // posted for more than its pending amount
	credits      int
	transactions []bankapi.TransactionPosted
}

// checkLedger replays one link's events and checks that the balances the
// bank reported always agree with the transactions it reported:
//
//	current(now) = current(opening) ± every posted transaction since
//	available    = current − pending holds           (checking)
//	available    = limit − current − pending holds   (credit card)
//
// and that each posted transaction with a reference replaces exactly one
// earlier pending one on the same account.
func checkLedger(t *testing.T, events []receivedEvent, linkID string) ledgerReport {
	t.Helper()
	rep := ledgerReport{accounts: map[string]*ledgerView{}}
	postedRefs := map[string]bool{}
	// owedBalance is the account whose transaction has not yet been
	// followed by its balance.updated: every change is followed by one.
	owedBalance := ""
	for _, e := range events {
		if e.LinkID != linkID {
			continue
		}
		if owedBalance != "" && e.Type != bankapi.TypeBalanceUpdated {
			t.Fatalf("event %s: %s follows a transaction on %s with no balance.updated between", e.ID, e.Type, owedBalance)
		}
		switch e.Type {
		case bankapi.TypeBalanceUpdated:
			var bal bankapi.BalanceUpdated
			if err := json.Unmarshal(e.Data, &bal); err != nil {
				t.Fatalf("event %s: %v", e.ID, err)
			}
			if owedBalance != "" && bal.AccountID != owedBalance {
				t.Fatalf("event %s: balance of %s follows a transaction on %s", e.ID, bal.AccountID, owedBalance)
			}
			owedBalance = ""
			current, available := cents(t, bal.Current), cents(t, bal.Available)
			v := rep.accounts[bal.AccountID]
			if v == nil {
				// The link is made before any activity: nothing is held.
				v = &ledgerView{kind: bal.AccountKind, current: current, holds: map[string]int64{}, limit: available + current}
				if bal.AccountKind == bankapi.AccountChecking && available != current {
					t.Fatalf("opening checking balance: available %d != current %d", available, current)
				}
				rep.accounts[bal.AccountID] = v
			}
			if current != v.current {
				t.Fatalf("event %s: %s current %d, transactions say %d", e.ID, bal.AccountKind, current, v.current)
			}
			want := current - v.holdTotal()
			if v.kind == bankapi.AccountCreditCard {
				want = v.limit - current - v.holdTotal()
			}
			if available != want {
				t.Fatalf("event %s: %s available %d, want %d (current %d, holds %d)", e.ID, bal.AccountKind, available, want, current, v.holdTotal())
			}
			if available < 0 {
				t.Fatalf("event %s: %s available is negative", e.ID, bal.AccountKind)
			}
			v.lastBalance = bal
		case bankapi.TypeTransactionPosted:
			var tx bankapi.TransactionPosted
			if err := json.Unmarshal(e.Data, &tx); err != nil {
				t.Fatalf("event %s: %v", e.ID, err)
			}
			rep.transactions = append(rep.transactions, tx)
			v := rep.accounts[tx.AccountID]
			if v == nil {
				t.Fatalf("event %s: transaction on account %s with no opening balance", e.ID, tx.AccountID)
			}
			owedBalance = tx.AccountID
			amount := cents(t, tx.Amount)
			if amount <= 0 {
				t.Fatalf("event %s: amount %s is not positive", e.ID, tx.Amount.Amount)
			}
			switch tx.Status {
			case bankapi.StatusPending:
				rep.pending++
				if tx.ReferenceID == "" || tx.Direction != bankapi.Debit || tx.Merchant == nil {
					t.Fatalf("event %s: pending transaction %+v", e.ID, tx)
				}
				if _, dup := v.holds[tx.ReferenceID]; dup || postedRefs[tx.ReferenceID] {
					t.Fatalf("event %s: reference %s pending twice", e.ID, tx.ReferenceID)
				}
				v.holds[tx.ReferenceID] = amount
			case bankapi.StatusPosted:
				rep.posted++
				if tx.ReferenceID != "" {
					hold, ok := v.holds[tx.ReferenceID]
					if !ok {
						t.Fatalf("event %s: posted reference %s has no earlier pending on this account", e.ID, tx.ReferenceID)
					}
					if amount > hold {
						rep.tipped++
					}
					delete(v.holds, tx.ReferenceID)
					postedRefs[tx.ReferenceID] = true
				}
				owes := v.kind == bankapi.AccountCreditCard
				switch {
				case tx.Direction == bankapi.Credit:
					rep.credits++
					if owes {
						v.current -= amount
					} else {
						v.current += amount
					}
				case tx.Direction == bankapi.Debit:
					if owes {
						v.current += amount
					} else {
						v.current -= amount
					}
				default:
					t.Fatalf("event %s: direction %q", e.ID, tx.Direction)
				}
			default:
				t.Fatalf("event %s: status %q", e.ID, tx.Status)
			}
		case bankapi.TypeMessage:
		default:
			t.Fatalf("event %s: unexpected type %s", e.ID, e.Type)
		}
	}
	return rep
}

func TestBalancesAgreeWithTransactions(t *testing.T) {
	tb := newTestBank(t)
	linkID := tb.link(t, balancesAndTransactions, balancesAndTransactions...)
	runActivity(t, tb, 500)
	// Let everything still pending post.
	tb.clock.Advance(2 * tb.cfg.PostDelay)
	if err := tb.Step(context.Background()); err != nil {
		t.Fatalf("Step: %v", err)
	}

	rep := checkLedger(t, tb.platform.Events(), linkID)
	if rep.pending < 300 || rep.posted < 300 {
		t.Errorf("only %d pending and %d posted transactions in 500 steps", rep.pending, rep.posted)
	}
	if rep.credits == 0 {
		t.Error("no credits (payroll, refunds, card payments) in 500 steps")
	}

	// What the platform saw last is what the bank holds.
	tb.mu.Lock()
	defer tb.mu.Unlock()
	c := tb.st.Customers[0]
	for _, a := range c.Accounts {
		ref := tb.accountRef(tb.st.Links[0], a)
		v := rep.accounts[ref]
		if v == nil {
			t.Fatalf("platform never saw account %s", a.ID)
		}
		if got := v.lastBalance.Current.Amount; got != formatCents(a.CurrentCents) {
			t.Errorf("%s: platform's last current %s, bank's %s", a.Name, got, formatCents(a.CurrentCents))
		}
		if got := v.lastBalance.Available.Amount; got != formatCents(a.availableCents()) {
			t.Errorf("%s: platform's last available %s, bank's %s", a.Name, got, formatCents(a.availableCents()))
		}
		var held int64
		for _, p := range tb.st.Pending {
			if p.AccountID == a.ID {
				held += p.HoldCents
			}
		}
		if held != a.HoldCents || held != v.holdTotal() {
			t.Errorf("%s: holds %d, pending charges %d, platform's %d", a.Name, a.HoldCents, held, v.holdTotal())
		}
		if a.CurrentCents < 0 {
			t.Errorf("%s: current balance went negative", a.Name)
		}
	}
}

func TestPendingThenPostedShareReference(t *testing.T) {
	tb := newTestBank(t)
	linkID := tb.link(t, balancesAndTransactions, balancesAndTransactions...)
	runActivity(t, tb, 200)

	rep := checkLedger(t, tb.platform.Events(), linkID)
	byRef := map[string][]bankapi.TransactionPosted{}
	for _, tx := range rep.transactions {
		if tx.ReferenceID != "" {
			byRef[tx.ReferenceID] = append(byRef[tx.ReferenceID], tx)
		}
	}
	pairs := 0
	for ref, txs := range byRef {
		if txs[0].Status != bankapi.StatusPending {
			t.Fatalf("reference %s starts with %s", ref, txs[0].Status)
		}
		if len(txs) == 2 {
			pairs++
			pending, posted := txs[0], txs[1]
			if posted.Status != bankapi.StatusPosted || posted.TransactionID == pending.TransactionID ||
				posted.AccountID != pending.AccountID || *posted.Merchant != *pending.Merchant || posted.CardLast4 != pending.CardLast4 {
				t.Errorf("reference %s: pending %+v, posted %+v", ref, pending, posted)
			}
			if tips := pending.Merchant.MCC == "5812" || pending.Merchant.MCC == "5813"; !tips && posted.Amount != pending.Amount {
				t.Errorf("reference %s: %s amount changed from %s to %s", ref, pending.Merchant.Category, pending.Amount.Amount, posted.Amount.Amount)
			}
		}
		if len(txs) > 2 {
			t.Errorf("reference %s used %d times", ref, len(txs))
		}
	}
	if pairs < 100 {
		t.Errorf("only %d pending/posted pairs", pairs)
	}
	if rep.tipped == 0 {
		t.Error("no restaurant or bar posting included a tip")
	}
}

func TestTransactionsCarryMerchantDetails(t *testing.T) {
	tb := newTestBank(t)
	linkID := tb.link(t, balancesAndTransactions, balancesAndTransactions...)
	runActivity(t, tb, 300)

	categoriesSeen := map[string]bool{}
	for _, tx := range checkLedger(t, tb.platform.Events(), linkID).transactions {
		if tx.Merchant == nil {
			if tx.Description == "" {
				t.Errorf("transaction %s has neither merchant nor description", tx.TransactionID)
			}
			continue
		}
		want, ok := mcc.Lookup(tx.Merchant.MCC)
		if !ok || tx.Merchant.Category != want {
			t.Errorf("merchant %q: MCC %s, category %q; want %q", tx.Merchant.Name, tx.Merchant.MCC, tx.Merchant.Category, want)
		}
		if tx.Direction == bankapi.Debit && len(tx.CardLast4) != 4 {
			t.Errorf("card purchase without card_last4: %+v", tx)
		}
		categoriesSeen[tx.Merchant.Category] = true
	}
	if len(categoriesSeen) < 12 {
		t.Errorf("only %d categories in 300 steps: %v", len(categoriesSeen), categoriesSeen)
	}
}

func TestMerchantTable(t *testing.T) {
	names := map[string]bool{}
	for _, cat := range categories {
		if len(cat.merchants) == 0 {
			t.Errorf("category %s has no merchants", cat.name)
		}
		if len(cat.prices) == 0 && len(cat.knots) < 2 {
			t.Errorf("category %s has no amount shape", cat.name)
		}
		for i := 1; i < len(cat.knots); i++ {
			if cat.knots[i] < cat.knots[i-1] {
				t.Errorf("category %s: knots not ascending", cat.name)
			}
		}
		for _, m := range cat.merchants {
			if names[m.Name] {
				t.Errorf("merchant %q listed twice", m.Name)
			}
			names[m.Name] = true
			if _, ok := mcc.Lookup(m.MCC); !ok {
				t.Errorf("merchant %q: MCC %s is not in internal/mcc", m.Name, m.MCC)
			}
		}
	}
	if len(names) < 35 {
		t.Errorf("only %d merchants", len(names))
	}
	for _, name := range refundable {
		categoryNamed(name) // panics if missing
	}
}

func TestSampleCentsStaysInsideTheShape(t *testing.T) {
	b := &Bank{rng: newSeededRand(7)}
	for _, cat := range categories {
		lo, hi := int64(math.MaxInt64), int64(0)
		for range 2000 {
			c := b.sampleCents(&cat)
			lo, hi = min(lo, c), max(hi, c)
		}
		if len(cat.prices) > 0 {
			continue
		}
		if lo < cat.knots[0] || hi > cat.knots[len(cat.knots)-1] {
			t.Errorf("%s: drew %d..%d, shape is %d..%d", cat.name, lo, hi, cat.knots[0], cat.knots[len(cat.knots)-1])
		}
		// The draws spread over the range rather than piling up at one end.
		span := cat.knots[len(cat.knots)-1] - cat.knots[0]
		if hi-lo < span/2 {
			t.Errorf("%s: draws cover only %d..%d of %d..%d", cat.name, lo, hi, cat.knots[0], cat.knots[len(cat.knots)-1])
		}
	}
	coffee := categoryNamed("coffee")
	if coffee.knots[0] != 300 || coffee.knots[len(coffee.knots)-1] != 800 {
		t.Errorf("coffee spans %d..%d cents, want 300..800", coffee.knots[0], coffee.knots[len(coffee.knots)-1])
	}
}

func TestNightsAreQuieter(t *testing.T) {
	b := &Bank{cfg: Config{Interval: 4 * time.Second}, rng: newSeededRand(3)}
	mean := func(hour int) time.Duration {
		at := time.Date(2025, 3, 4, hour, 0, 0, 0, time.UTC)
		var sum time.Duration
		for range 4000 {
			sum += b.nextDelay(at)
		}
		return sum / 4000
	}
	night, lunch := mean(3), mean(12)
	if night < 5*lunch {
		t.Errorf("mean gap at 3h is %v, at 12h %v; want nights much quieter", night, lunch)
	}
	if lunch > 4*time.Second {
		t.Errorf("mean gap at lunch %v exceeds the daily mean Interval", lunch)
	}
}

func TestStepIsDeterministic(t *testing.T) {
	fingerprint := func() []string {
		tb := newTestBank(t)
		linkID := tb.link(t, balancesAndTransactions, balancesAndTransactions...)
		runActivity(t, tb, 60)
		var out []string
		for _, tx := range checkLedger(t, tb.platform.Events(), linkID).transactions {
			m := ""
			if tx.Merchant != nil {
				m = tx.Merchant.Name
			}
			out = append(out, fmt.Sprint(tx.Status, tx.Direction, tx.Amount.Amount, m))
		}
		return out
	}
	a, b := fingerprint(), fingerprint()
	if fmt.Sprint(a) != fmt.Sprint(b) {
		t.Error("the same seed and clock produced different activity")
	}
}

func TestFormatCents(t *testing.T) {
	for _, tc := range []struct {
		cents int64
		want  string
	}{
		{0, "0.00"}, {5, "0.05"}, {10, "0.10"}, {99, "0.99"}, {100, "1.00"},
		{123456, "1234.56"}, {-5, "-0.05"}, {-123456, "-1234.56"},
		{math.MaxInt64, "92233720368547758.07"}, {math.MinInt64, "-92233720368547758.08"},
	} {
		if got := formatCents(tc.cents); got != tc.want {
			t.Errorf("formatCents(%d) = %q, want %q", tc.cents, got, tc.want)
		}
	}
}

func TestWelcomeTextNamesWhatIsShared(t *testing.T) {
	for _, tc := range []struct {
		scopes []string
		want   string
	}{
		{[]string{bankapi.ScopeBalances, bankapi.ScopeTransactions}, "your balances and card activity"},
		{[]string{bankapi.ScopeBalances}, "your balances here"},
		{[]string{bankapi.ScopeTransactions}, "your card activity here"},
		{[]string{bankapi.ScopeSupportChat}, "messages from us"},
	} {
		if got := welcomeText("Cedar Bank", "Alex", tc.scopes); !strings.Contains(got, tc.want) {
			t.Errorf("welcomeText(%v) = %q, want it to mention %q", tc.scopes, got, tc.want)
		}
	}
}
