package banksim

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/openteller/openteller/internal/mcc"
	"github.com/openteller/openteller/pkg/bankapi"
)

// merchantProfile is a place the demo customer shops. The names are
// invented for the simulator; City is empty for online merchants.
type merchantProfile struct {
	Name string
	MCC  string
	City string
}

// spendingCategory shapes one kind of spending: which merchants, how much,
// and when in the day.
type spendingCategory struct {
	name string
	// knots are amounts in cents at equally spaced quantiles (0%, 1/6, …,
	// 100%) of a hand-drawn, right-skewed (log-normal-ish) distribution;
	// sampleCents interpolates between them in integers.
	knots []int64
	// prices, when set, replaces knots: fixed price points, as for
	// subscriptions and fares.
	prices []int64
	// tipPercent bounds the tip added between pending and posted; zero for
	// places where nobody tips.
	tipPercent [2]int64
	// dayparts weighs the category by time of day: night (0–6h), morning
	// (6–11h), midday (11–17h), evening (17–24h).
	dayparts  [4]int
	merchants []merchantProfile
}

var categories = []spendingCategory{
	{name: "coffee", knots: []int64{300, 365, 425, 480, 545, 630, 800}, dayparts: [4]int{1, 60, 18, 4}, merchants: []merchantProfile{
		{"Bluebird Coffee Co.", "5814", "Portland"}, {"Morning Ritual Espresso", "5814", "Portland"},
		{"Steamline Café", "5814", "Beaverton"}, {"Copper Kettle Coffee", "5814", "Portland"},
	}},
	{name: "fast food", knots: []int64{600, 820, 1010, 1180, 1390, 1720, 2500}, dayparts: [4]int{5, 6, 30, 18}, merchants: []merchantProfile{
		{"Burger Depot", "5814", "Portland"}, {"Taco Lantern", "5814", "Gresham"},
		{"Noodle Express", "5814", "Portland"}, {"Slice Society Pizza", "5814", "Portland"},
		{"Green Bowl Salads", "5814", "Beaverton"},
	}},
	{name: "restaurants", knots: []int64{1200, 2100, 2800, 3500, 4400, 5900, 9000}, tipPercent: [2]int64{15, 22}, dayparts: [4]int{1, 2, 22, 40}, merchants: []merchantProfile{
		{"The Olive Table", "5812", "Portland"}, {"Harbor & Vine", "5812", "Portland"},
		{"Saffron House", "5812", "Beaverton"}, {"Little Osaka", "5812", "Portland"},
		{"Trattoria Sole", "5812", "Lake Oswego"}, {"Maple Street Diner", "5812", "Gresham"},
	}},
	{name: "bars", knots: []int64{800, 1500, 2100, 2800, 3600, 4800, 7000}, tipPercent: [2]int64{15, 20}, dayparts: [4]int{18, 0, 2, 22}, merchants: []merchantProfile{
		{"The Copper Tap", "5813", "Portland"}, {"Night Owl Lounge", "5813", "Portland"},
		{"Hops & Barley Pub", "5813", "Beaverton"},
	}},
	{name: "groceries", knots: []int64{2000, 3300, 4500, 5900, 7700, 10800, 18000}, dayparts: [4]int{2, 12, 24, 26}, merchants: []merchantProfile{
		{"FreshMart", "5411", "Portland"}, {"Green Valley Market", "5411", "Beaverton"},
		{"Corner Basket Grocers", "5411", "Portland"}, {"Harvest Foods", "5411", "Gresham"},
		{"Rosewood Bakery", "5462", "Portland"},
	}},
	{name: "convenience", knots: []int64{300, 520, 780, 1050, 1400, 1900, 3000}, dayparts: [4]int{10, 8, 8, 10}, merchants: []merchantProfile{
		{"QuickStop Market", "5499", "Portland"}, {"Daylight Convenience", "5499", "Gresham"},
	}},
	{name: "fuel", knots: []int64{2500, 3400, 4100, 4800, 5500, 6400, 8000}, dayparts: [4]int{3, 14, 14, 10}, merchants: []merchantProfile{
		{"Sunrise Fuel", "5542", "Portland"}, {"Roadway Gas & Go", "5542", "Tigard"},
		{"Pinecrest Service Station", "5541", "Beaverton"},
	}},
	{name: "pharmacy", knots: []int64{500, 1000, 1500, 2100, 2900, 4000, 6000}, dayparts: [4]int{1, 6, 10, 8}, merchants: []merchantProfile{
		{"CareWell Pharmacy", "5912", "Portland"}, {"Main Street Drug", "5912", "Gresham"},
	}},
	{name: "transit", prices: []int64{250, 250, 250, 500, 500, 2800}, dayparts: [4]int{2, 28, 8, 14}, merchants: []merchantProfile{
		{"Metro Transit Authority", "4111", "Portland"}, {"Riverline Streetcar", "4111", "Portland"},
	}},
	{name: "taxi", knots: []int64{900, 1300, 1650, 2000, 2500, 3200, 4500}, dayparts: [4]int{12, 6, 5, 12}, merchants: []merchantProfile{
		{"Yellowline Cabs", "4121", "Portland"}, {"RideNow", "4121", ""},
	}},
	{name: "digital", prices: []int64{299, 499, 999, 1099, 1199, 1499, 1599, 1999}, dayparts: [4]int{4, 3, 4, 7}, merchants: []merchantProfile{
		{"StreamBox", "4899", ""}, {"Tunewave Music", "5815", ""}, {"Pixel Arcade Store", "5816", ""},
		{"AppHarbor", "5817", ""}, {"Inkwell eBooks", "5815", ""},
	}},
	{name: "bills", knots: []int64{3500, 5200, 6800, 8400, 10500, 14000, 22000}, dayparts: [4]int{0, 2, 2, 1}, merchants: []merchantProfile{
		{"Metro Power & Light", "4900", "Portland"}, {"City Water Bureau", "4900", "Portland"},
		{"Skyline Mobile", "4814", ""}, {"Fiberlink Internet", "4816", ""},
	}},
	{name: "clothing", knots: []int64{2000, 3200, 4300, 5500, 7000, 9500, 15000}, dayparts: [4]int{0, 3, 12, 8}, merchants: []merchantProfile{
		{"Thread & Needle", "5651", "Portland"}, {"Urban Closet", "5691", "Portland"},
		{"Stride Shoes", "5661", "Beaverton"}, {"Trailhead Outfitters", "5941", "Portland"},
	}},
	{name: "department stores", knots: []int64{1500, 3000, 4500, 6000, 8200, 12000, 20000}, dayparts: [4]int{0, 3, 10, 8}, merchants: []merchantProfile{
		{"Hallbrook's", "5311", "Portland"}, {"Meridian Department Store", "5311", "Tigard"},
		{"ValueWorld", "5310", "Gresham"},
	}},
	{name: "home and hardware", knots: []int64{800, 1800, 2900, 4200, 6000, 9000, 15000}, dayparts: [4]int{0, 6, 8, 4}, merchants: []merchantProfile{
		{"Ironwood Hardware", "5251", "Portland"}, {"Fix-It Depot", "5200", "Tigard"},
		{"Greenleaf Garden Center", "5261", "Lake Oswego"},
	}},
	{name: "books and gifts", knots: []int64{800, 1300, 1800, 2300, 2900, 3600, 4500}, dayparts: [4]int{0, 3, 5, 4}, merchants: []merchantProfile{
		{"Chapter & Verse Books", "5942", "Portland"}, {"Paper Lantern Bookshop", "5942", "Beaverton"},
		{"Wildflower Florist", "5992", "Portland"},
	}},
	{name: "pets", knots: []int64{1200, 2200, 3000, 3900, 5000, 6800, 11000}, dayparts: [4]int{0, 3, 4, 3}, merchants: []merchantProfile{
		{"Happy Paws Pet Supply", "5995", "Portland"},
	}},
	{name: "electronics", knots: []int64{2000, 3500, 6000, 9000, 14000, 22000, 40000}, dayparts: [4]int{0, 1, 3, 2}, merchants: []merchantProfile{
		{"Circuit Corner", "5732", "Beaverton"},
	}},
	{name: "leisure", knots: []int64{1200, 1600, 1900, 2300, 2800, 3400, 4500}, dayparts: [4]int{0, 1, 3, 9}, merchants: []merchantProfile{
		{"Starlight Cinemas", "7832", "Portland"}, {"Peak Fitness Club", "7997", "Portland"},
		{"Shear Genius Salon", "7230", "Portland"},
	}},
	{name: "parking", knots: []int64{300, 600, 900, 1200, 1600, 2200, 3500}, dayparts: [4]int{1, 6, 6, 4}, merchants: []merchantProfile{
		{"Downtown Parking Garage", "7523", "Portland"},
	}},
	{name: "travel", knots: []int64{11000, 16000, 21000, 27000, 34000, 45000, 65000}, dayparts: [4]int{0, 1, 1, 1}, merchants: []merchantProfile{
		{"Skyward Air", "4511", ""}, {"Blue Horizon Airlines", "4511", ""},
		{"Lakeside Inn", "7011", "Bend"}, {"Grand Meridian Hotel", "7011", "Seattle"},
	}},
}

// refundable are categories whose purchases come back as refunds now and
// then (returned clothes, a cancelled order).
var refundable = []string{"clothing", "department stores", "home and hardware", "electronics", "books and gifts"}

// hourWeight is how busy each hour of the day is for card spending,
// relative; hourWeightMean is its mean, so Interval stays the mean over a
// day. Nights are quiet but not silent (a late taxi, a convenience store).
var hourWeight = [24]int{12, 9, 8, 8, 8, 10, 25, 60, 90, 90, 95, 120, 150, 130, 100, 95, 100, 130, 150, 140, 110, 80, 50, 25}

var hourWeightMean = func() float64 {
	sum := 0
	for _, w := range hourWeight {
		sum += w
	}
	return float64(sum) / float64(len(hourWeight))
}()

func daypart(t time.Time) int {
	switch h := t.Hour(); {
	case h < 6:
		return 0
	case h < 11:
		return 1
	case h < 17:
		return 2
	default:
		return 3
	}
}

// nextDelay draws the wait until a customer's next card transaction:
// exponential (a Poisson process), with a rate that follows the hour of day.
// Time, not money, so a float is fine here.
func (b *Bank) nextDelay(now time.Time) time.Duration {
	mean := float64(b.cfg.Interval) * hourWeightMean / float64(hourWeight[now.Hour()])
	return time.Duration(b.rng.ExpFloat64() * mean)
}

// sampleCents draws an amount from a category's shape, in integers only.
func (b *Bank) sampleCents(cat *spendingCategory) int64 {
	if len(cat.prices) > 0 {
		return cat.prices[b.rng.IntN(len(cat.prices))]
	}
	const scale = 1 << 20
	segments := int64(len(cat.knots) - 1)
	u := b.rng.Int64N(segments * scale)
	i, frac := u/scale, u%scale
	return cat.knots[i] + (cat.knots[i+1]-cat.knots[i])*frac/scale
}

func (b *Bank) pickCategory(now time.Time) *spendingCategory {
	part := daypart(now)
	total := 0
	for i := range categories {
		total += categories[i].dayparts[part]
	}
	n := b.rng.IntN(total)
	for i := range categories {
		if n -= categories[i].dayparts[part]; n < 0 {
			return &categories[i]
		}
	}
	return &categories[len(categories)-1]
}

func categoryNamed(name string) *spendingCategory {
	for i := range categories {
		if categories[i].name == name {
			return &categories[i]
		}
	}
	panic("banksim: no spending category " + name)
}

// pendingCharge is a card purchase authorized but not yet posted.
type pendingCharge struct {
	Ref        string           `json:"ref"` // internal; links see a pairwise reference_id
	CustomerID string           `json:"customer_id"`
	AccountID  string           `json:"account_id"`
	Merchant   bankapi.Merchant `json:"merchant"`
	HoldCents  int64            `json:"hold_cents"`
	FinalCents int64            `json:"final_cents"` // what posts: the hold plus any tip
	PostAt     time.Time        `json:"post_at"`
}

// act gives a customer one piece of activity. b.mu must be held.
func (b *Bank) act(c *customer, now time.Time) {
	if len(b.st.Outbox) >= maxOutbox {
		return // the platform is not taking events; do not pile up more
	}
	checking, card := c.account(bankapi.AccountChecking), c.account(bankapi.AccountCreditCard)
	switch r := b.rng.IntN(100); {
	case r < 3:
		b.payroll(c, checking, now)
		return
	case r < 5:
		if b.refund(c, card, now) {
			return
		}
	case r < 7:
		if b.payCard(c, checking, card, now) {
			return
		}
	case r < 8:
		if b.raiseAlert(c, now) > 0 {
			return
		}
	}
	b.purchase(c, now)
}

// purchase authorizes a card purchase: a pending transaction and a hold on
// available funds, posted later by settleDue.
func (b *Bank) purchase(c *customer, now time.Time) {
	cat := b.pickCategory(now)
	m := cat.merchants[b.rng.IntN(len(cat.merchants))]
	hold := b.sampleCents(cat)
	final := hold
	if cat.tipPercent[1] > 0 {
		pct := cat.tipPercent[0] + b.rng.Int64N(cat.tipPercent[1]-cat.tipPercent[0]+1)
		final += hold * pct / 100
	}
	// Spend from the credit card a little more often than from checking,
	// falling back to the other when one cannot cover the amount with its
	// tip. A customer with neither simply does not buy this time.
	accounts := []*account{c.account(bankapi.AccountCreditCard), c.account(bankapi.AccountChecking)}
	if b.rng.IntN(100) < 45 {
		slices.Reverse(accounts)
	}
	var acct *account
	for _, a := range accounts {
		if a != nil && !a.Locked && a.availableCents() >= final {
			acct = a
			break
		}
	}
	if acct == nil {
		return
	}
	description, _ := mcc.Lookup(m.MCC)
	p := &pendingCharge{
		Ref:        b.nextID("r"),
		CustomerID: c.ID,
		AccountID:  acct.ID,
		Merchant:   bankapi.Merchant{Name: m.Name, MCC: m.MCC, Category: description, City: m.City, Country: "US"},
		HoldCents:  hold,
		FinalCents: final,
		// Real settlement times vary; ±20% keeps postings from marching
		// in lockstep with purchases.
		PostAt: now.Add(b.cfg.PostDelay * time.Duration(80+b.rng.IntN(41)) / 100),
	}
	acct.authorize(hold)
	b.st.Pending = append(b.st.Pending, p)
	b.emitTransaction(c, acct, txn{internalID: b.nextID("t"), ref: p.Ref, status: bankapi.StatusPending, direction: bankapi.Debit, cents: hold, description: m.Name, merchant: &p.Merchant}, now)
	b.emitBalance(c, acct, now)
}

// settleDue posts every pending charge whose time has come, oldest first.
// b.mu must be held.
func (b *Bank) settleDue(now time.Time) {
	waiting := b.st.Pending[:0]
	for _, p := range b.st.Pending {
		if now.Before(p.PostAt) {
			waiting = append(waiting, p)
			continue
		}
		c := b.customerByID(p.CustomerID)
		acct := c.accountByID(p.AccountID)
		acct.post(bankapi.Debit, p.FinalCents, p.HoldCents)
		b.emitTransaction(c, acct, txn{internalID: b.nextID("t"), ref: p.Ref, status: bankapi.StatusPosted, direction: bankapi.Debit, cents: p.FinalCents, description: p.Merchant.Name, merchant: &p.Merchant}, now)
		b.emitBalance(c, acct, now)
	}
	clear(b.st.Pending[len(waiting):])
	b.st.Pending = waiting
}

// payroll deposits a salary into checking, posted at once, as direct
// deposits are.
func (b *Bank) payroll(c *customer, checking *account, now time.Time) {
	cents := 180000 + b.rng.Int64N(80001)
	checking.post(bankapi.Credit, cents, 0)
	b.emitTransaction(c, checking, txn{internalID: b.nextID("t"), status: bankapi.StatusPosted, direction: bankapi.Credit, cents: cents, description: "Payroll deposit — Harborview Logistics"}, now)
	b.emitBalance(c, checking, now)
}

// refund credits the card for a returned purchase. It never exceeds what
// the card owes, so the card's balance stays a non-negative amount owed.
func (b *Bank) refund(c *customer, card *account, now time.Time) bool {
	if card == nil || card.CurrentCents <= 0 {
		return false
	}
	cat := categoryNamed(refundable[b.rng.IntN(len(refundable))])
	m := cat.merchants[b.rng.IntN(len(cat.merchants))]
	cents := min(b.sampleCents(cat), card.CurrentCents)
	description, _ := mcc.Lookup(m.MCC)
	card.post(bankapi.Credit, cents, 0)
	b.emitTransaction(c, card, txn{internalID: b.nextID("t"), status: bankapi.StatusPosted, direction: bankapi.Credit, cents: cents, description: "Refund — " + m.Name,
		merchant: &bankapi.Merchant{Name: m.Name, MCC: m.MCC, Category: description, City: m.City, Country: "US"}}, now)
	b.emitBalance(c, card, now)
	return true
}

// payCard pays the card's balance from checking, as much as checking can
// spare while keeping a cushion.
func (b *Bank) payCard(c *customer, checking, card *account, now time.Time) bool {
	if checking == nil || card == nil {
		return false
	}
	const cushion = 50000
	cents := min(card.CurrentCents, checking.availableCents()-cushion)
	if cents <= 0 {
		return false
	}
	checking.post(bankapi.Debit, cents, 0)
	card.post(bankapi.Credit, cents, 0)
	b.emitTransaction(c, checking, txn{internalID: b.nextID("t"), status: bankapi.StatusPosted, direction: bankapi.Debit, cents: cents, description: card.Name + " payment"}, now)
	b.emitBalance(c, checking, now)
	b.emitTransaction(c, card, txn{internalID: b.nextID("t"), status: bankapi.StatusPosted, direction: bankapi.Credit, cents: cents, description: "Payment — thank you"}, now)
	b.emitBalance(c, card, now)
	return true
}

// txn is a transaction about to be told to a customer's links.
type txn struct {
	internalID  string
	ref         string // internal reference shared by pending and posted; empty if it never pended
	status      string
	direction   string
	cents       int64
	description string
	merchant    *bankapi.Merchant
}

func (b *Bank) emitTransaction(c *customer, a *account, t txn, now time.Time) {
	if t.status == bankapi.StatusPosted {
		c.remember(recentTxn{At: now.UTC(), Description: t.description, Direction: t.direction, Cents: t.cents, Currency: a.Currency})
	}
	b.emit(c, bankapi.TypeTransactionPosted, now, func(l *link) any {
		data := bankapi.TransactionPosted{
			AccountID:     b.accountRef(l, a),
			TransactionID: b.pairwise("txn_", l.ID, t.internalID),
			Status:        t.status,
			Direction:     t.direction,
			Amount:        money(t.cents, a.Currency),
			Description:   t.description,
			Merchant:      t.merchant,
		}
		if t.ref != "" {
			data.ReferenceID = b.pairwise("ref_", l.ID, t.ref)
		}
		if t.merchant != nil {
			data.CardLast4 = a.CardLast4
		}
		return data
	})
}

func (b *Bank) emitBalance(c *customer, a *account, now time.Time) {
	b.emit(c, bankapi.TypeBalanceUpdated, now, func(l *link) any { return a.balance(b.accountRef(l, a)) })
}

// emit queues the event for every live link of the customer. b.mu must be
// held.
func (b *Bank) emit(c *customer, eventType string, now time.Time, data func(l *link) any) {
	for _, l := range b.st.Links {
		if l.CustomerID == c.ID {
			b.emitTo(l, eventType, now, data)
		}
	}
}

// emitTo queues one event for a link, if the link is live and its scopes
// allow the type, and returns its id (empty if not). data builds the event
// for that link, since references are pairwise. b.mu must be held.
func (b *Bank) emitTo(l *link, eventType string, now time.Time, data func(l *link) any) string {
	if l.Stopped != "" || !l.allows(eventType) {
		return ""
	}
	id := b.nextID("evt_") + "_" + b.st.Nonce
	b.st.Outbox = append(b.st.Outbox, outboxEvent{
		ID:     id,
		LinkID: l.ID,
		Type:   eventType,
		// UTC, so the encoding is the same before and after a restart.
		OccurredAt: now.UTC(),
		Data:       eventJSON(data(l)),
	})
	b.wake()
	return id
}

// nextID returns prefix + the next number of the bank's single counter.
// b.mu must be held.
func (b *Bank) nextID(prefix string) string {
	b.st.Counter++
	return prefix + strconv.FormatUint(b.st.Counter, 10)
}

// pairwise derives the reference a link sees for one of the bank's internal
// ids. Two links to the same customer (two people, or one who linked twice)
// see different account and transaction ids, so the platform cannot join
// them on the bank's references: links stay pairwise all the way down.
func (b *Bank) pairwise(prefix, linkID, internalID string) string {
	mac := hmac.New(sha256.New, b.st.RefKey)
	mac.Write([]byte(linkID))
	mac.Write([]byte{0})
	mac.Write([]byte(internalID))
	return prefix + lowerBase32.EncodeToString(mac.Sum(nil)[:15])
}

func (b *Bank) accountRef(l *link, a *account) string {
	prefix := "acc_chk_"
	if a.Kind == bankapi.AccountCreditCard {
		prefix = "acc_card_"
	}
	return b.pairwise(prefix, l.ID, a.ID)
}

var lowerBase32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// randomBase32 returns n random bytes from crypto/rand as lowercase base32.
func randomBase32(n int) string { return lowerBase32.EncodeToString(randomBytes(n)) }

func (b *Bank) customerByID(id string) *customer {
	for _, c := range b.st.Customers {
		if c.ID == id {
			return c
		}
	}
	panic("banksim: pending charge for unknown customer " + id) // state is corrupt
}

func (c *customer) accountByID(id string) *account {
	for _, a := range c.Accounts {
		if a.ID == id {
			return a
		}
	}
	panic("banksim: pending charge for unknown account " + id) // state is corrupt
}

// newDemoCustomer opens the demo customer's accounts with plausible
// starting balances. b.mu must be held or b not yet shared.
func (b *Bank) newDemoCustomer() *customer {
	digits := func() string { return fmt.Sprintf("%04d", b.rng.IntN(10000)) }
	return &customer{
		ID:          "cus_000101",
		Username:    demoUsername,
		DisplayName: "Alex",
		Accounts: []*account{
			{ID: "chk1", Kind: bankapi.AccountChecking, Name: "Everyday Checking", Mask: digits(), CardLast4: digits(), CardID: "chk1-card", Currency: "USD", CurrentCents: 284763},
			{ID: "cc1", Kind: bankapi.AccountCreditCard, Name: "Rewards Visa", Mask: digits(), CardLast4: digits(), CardID: "cc1-card", Currency: "USD", CurrentCents: 41218, LimitCents: 500000},
		},
	}
}

// welcomeText is the first message on a new link, naming what will flow.
func welcomeText(bankName, customerName string, scopes []string) string {
	var what []string
	if slices.Contains(scopes, bankapi.ScopeBalances) {
		what = append(what, "balances")
	}
	if slices.Contains(scopes, bankapi.ScopeTransactions) {
		what = append(what, "card activity")
	}
	shared := "messages from us here"
	if len(what) > 0 {
		shared = "your " + strings.Join(what, " and ") + " here as they change"
	}
	return fmt.Sprintf("Hi %s, your %s accounts are now connected. You'll see %s. You can change or revoke this at any time in your privacy center.", customerName, bankName, shared)
}
