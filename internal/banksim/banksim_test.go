package banksim

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

func step(t *testing.T, tb *testBank, n int) {
	t.Helper()
	for range n {
		tb.clock.Advance(5 * time.Second)
		if err := tb.Step(context.Background()); err != nil {
			t.Fatalf("Step: %v", err)
		}
	}
}

func eventsForLink(events []receivedEvent, linkID string) int {
	n := 0
	for _, e := range events {
		if e.LinkID == linkID {
			n++
		}
	}
	return n
}

func TestStopsPostingWhenThePlatformEndsTheLink(t *testing.T) {
	for _, code := range []string{"consent_revoked", "consent_expired", "unknown_link"} {
		t.Run(code, func(t *testing.T) {
			tb := newTestBank(t)
			kept := tb.link(t, balancesAndTransactions, balancesAndTransactions...)
			ended := tb.link(t, balancesAndTransactions, balancesAndTransactions...)
			step(t, tb, 5)
			// unknown_link is only believed once a link is past its
			// creation grace period.
			tb.clock.Advance(linkGrace)
			tb.platform.Reject(ended, code)
			step(t, tb, 1)
			if live, why, _ := tb.LinkStatus(ended); live || why != code {
				t.Fatalf("link after %s: live %v, stopped because %q", code, live, why)
			}
			before := tb.platform.Events()
			requests := tb.platform.Requests()
			tb.platform.Reject(ended, "")
			step(t, tb, 20)
			after := tb.platform.Events()
			if eventsForLink(after, ended) != eventsForLink(before, ended) {
				t.Errorf("the bank kept posting to a link ended by %s", code)
			}
			if eventsForLink(after, kept) <= eventsForLink(before, kept) {
				t.Error("the customer's other link stopped too")
			}
			if tb.platform.Requests() == requests {
				t.Error("no requests after the link ended")
			}
		})
	}
}

func TestUnknownLinkIsRetriedWhileTheLinkIsNew(t *testing.T) {
	tb := newTestBank(t)
	// The platform has not finished storing the link when the opening
	// events arrive.
	p := newPKCE()
	code := tb.approve(t, p, balancesAndTransactions, balancesAndTransactions...)
	linkID := newLinkID()
	tb.platform.Reject(linkID, "unknown_link")
	if status, body, _ := tb.exchange(t, tokenForm(code, p.verifier, linkID)); status != 200 {
		t.Fatalf("token: %d %v", status, body)
	}
	if err := tb.flush(context.Background()); err != nil {
		t.Fatalf("flush: %v", err)
	}
	if live, _, _ := tb.LinkStatus(linkID); !live {
		t.Fatal("a brand-new link was stopped on unknown_link")
	}
	tb.platform.Reject(linkID, "")
	tb.clock.Advance(time.Second)
	if err := tb.flush(context.Background()); err != nil {
		t.Fatalf("flush: %v", err)
	}
	events := tb.platform.Events()
	if len(events) != 3 || events[0].Type != bankapi.TypeMessage {
		t.Fatalf("after the retry the platform has %d events, want the 3 opening ones", len(events))
	}
}

func TestUndeliveredEventsKeepTheirIDsAndBodies(t *testing.T) {
	tb := newTestBank(t)
	tb.link(t, balancesAndTransactions, balancesAndTransactions...)
	tb.platform.FailNext(1)
	tb.clock.Advance(5 * time.Second)
	err := tb.Step(context.Background())
	var apiErr *bankapi.Error
	if !errors.As(err, &apiErr) || apiErr.Code != "invalid_json" {
		t.Fatalf("Step with the platform refusing: %v, want the typed error", err)
	}
	tb.mu.Lock()
	waiting := slices.Clone(tb.st.Outbox)
	tb.mu.Unlock()
	if len(waiting) < 3 {
		t.Fatalf("outbox has %d events after a failed delivery", len(waiting))
	}

	step(t, tb, 1)
	delivered := map[string]receivedEvent{}
	for _, e := range tb.platform.Events() {
		delivered[e.ID] = e
	}
	for _, w := range waiting {
		got, ok := delivered[w.ID]
		if !ok {
			t.Fatalf("event %s was never delivered", w.ID)
		}
		if !bytes.Equal(got.Data, w.Data) || !got.OccurredAt.Equal(w.OccurredAt) {
			t.Errorf("event %s changed between attempts", w.ID)
		}
	}
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.st.Outbox) != 0 {
		t.Errorf("outbox still holds %d delivered events", len(tb.st.Outbox))
	}
}

func TestEventIDsAreUniqueAcrossBanksWithTheSameSeed(t *testing.T) {
	clock := newFakeClock()
	platform := newFakePlatform(t)
	var all []string
	for range 2 {
		b, err := New(testConfig(platform.srv.URL, clock))
		if err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(b.Handler())
		defer srv.Close()
		tb := &testBank{Bank: b, clock: clock, platform: platform, srv: srv}
		tb.link(t, balancesAndTransactions, balancesAndTransactions...)
		step(t, tb, 30)
	}
	for _, e := range platform.Events() {
		all = append(all, e.ID)
		if !regexp.MustCompile(`^evt_[0-9]+_[a-z2-7]+$`).MatchString(e.ID) {
			t.Fatalf("event id %q has an unexpected shape", e.ID)
		}
	}
	if platform.Duplicates() != 0 {
		t.Errorf("two banks with the same seed produced %d colliding event ids", platform.Duplicates())
	}
	slices.Sort(all)
	if len(slices.Compact(all)) != len(platform.Events()) {
		t.Error("event ids repeat")
	}
}

func TestLinksToTheSameCustomerSeePairwiseReferences(t *testing.T) {
	tb := newTestBank(t)
	first := tb.link(t, balancesAndTransactions, balancesAndTransactions...)
	second := tb.link(t, balancesAndTransactions, balancesAndTransactions...)
	step(t, tb, 20)

	refs := map[string]map[string]bool{first: {}, second: {}}
	for _, e := range tb.platform.Events() {
		var d struct {
			AccountID     string `json:"account_id"`
			TransactionID string `json:"transaction_id"`
			ReferenceID   string `json:"reference_id"`
		}
		json.Unmarshal(e.Data, &d)
		for _, r := range []string{d.AccountID, d.TransactionID, d.ReferenceID} {
			if r != "" {
				refs[e.LinkID][r] = true
			}
		}
	}
	if len(refs[first]) == 0 || len(refs[second]) == 0 {
		t.Fatal("no references seen")
	}
	for r := range refs[first] {
		if refs[second][r] {
			t.Errorf("reference %s appears on both links", r)
		}
	}
	checkLedger(t, tb.platform.Events(), first)
	checkLedger(t, tb.platform.Events(), second)
}

func TestStateSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bank.json")
	tb := newTestBank(t, func(c *Config) { c.StatePath = path })
	linkID := tb.link(t, balancesAndTransactions, balancesAndTransactions...)
	step(t, tb, 37)
	// The last round does not reach the platform: the restarted bank must
	// deliver it.
	tb.platform.FailNext(1)
	tb.clock.Advance(5 * time.Second)
	if err := tb.Step(context.Background()); err == nil {
		t.Fatal("Step succeeded although the platform refused it")
	}

	info, err := os.Stat(path)
	if err != nil {
		t.Fatalf("state file: %v", err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("state file mode %v, want 0600", info.Mode().Perm())
	}
	tb.mu.Lock()
	before, _ := json.Marshal(tb.st)
	pending, outbox := len(tb.st.Pending), len(tb.st.Outbox)
	tb.mu.Unlock()
	if pending == 0 || outbox == 0 {
		t.Fatalf("nothing pending (%d) or undelivered (%d) to carry over", pending, outbox)
	}

	restarted, err := New(tb.cfg)
	if err != nil {
		t.Fatalf("New after restart: %v", err)
	}
	after, _ := json.Marshal(restarted.st)
	if !bytes.Equal(before, after) {
		t.Errorf("restored state differs:\nbefore %s\nafter  %s", before, after)
	}
	if live, _, known := restarted.LinkStatus(linkID); !live || !known {
		t.Fatal("the restarted bank forgot the link")
	}

	tb2 := &testBank{Bank: restarted, clock: tb.clock, platform: tb.platform, srv: tb.srv}
	step(t, tb2, 40)
	// The ledger replays across the restart without a seam: the balances
	// carry on, the holds from before post after.
	rep := checkLedger(t, tb.platform.Events(), linkID)
	if rep.posted == 0 {
		t.Fatal("nothing posted")
	}
	if tb.platform.Duplicates() != 0 {
		t.Errorf("%d duplicate deliveries", tb.platform.Duplicates())
	}
}

func TestRestartCarriesOnTheActivitySequence(t *testing.T) {
	// What a bank does is a function of its seed and clock; a restart in
	// the middle must not replay the generator from the seed.
	activity := func(restartAfter int) []string {
		path := filepath.Join(t.TempDir(), "bank.json")
		tb := newTestBank(t, func(c *Config) { c.StatePath = path })
		linkID := tb.link(t, balancesAndTransactions, balancesAndTransactions...)
		step(t, tb, restartAfter)
		restarted, err := New(tb.cfg)
		if err != nil {
			t.Fatalf("New after restart: %v", err)
		}
		step(t, &testBank{Bank: restarted, clock: tb.clock, platform: tb.platform, srv: tb.srv}, 40-restartAfter)
		var out []string
		for _, tx := range checkLedger(t, tb.platform.Events(), linkID).transactions {
			out = append(out, tx.Status+" "+tx.Direction+" "+tx.Amount.Amount+" "+tx.Description)
		}
		return out
	}
	if a, b := activity(40), activity(20); !slices.Equal(a, b) {
		t.Error("a restart changed the activity that followed it")
	}
}

func TestNewRefusesCorruptState(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bank.json")
	os.WriteFile(path, []byte(`{"version":`), 0o600)
	cfg := testConfig("http://127.0.0.1:1", newFakeClock())
	cfg.StatePath = path
	if _, err := New(cfg); err == nil {
		t.Error("New accepted a corrupt state file")
	}
	os.WriteFile(path, []byte(`{"version":99}`), 0o600)
	if _, err := New(cfg); err == nil {
		t.Error("New accepted a state file of another version")
	}

	// A valid state, then one whose pending charge points nowhere.
	os.Remove(path)
	if _, err := New(cfg); err != nil {
		t.Fatalf("New with a fresh state file: %v", err)
	}
	raw, _ := os.ReadFile(path)
	var st map[string]any
	json.Unmarshal(raw, &st)
	st["pending"] = []map[string]any{{"ref": "r1", "customer_id": "cus_000101", "account_id": "gone"}}
	raw, _ = json.Marshal(st)
	os.WriteFile(path, raw, 0o600)
	if _, err := New(cfg); err == nil {
		t.Error("New accepted a pending charge on an unknown account")
	}
}

func TestNewValidatesConfig(t *testing.T) {
	for name, tweak := range map[string]func(*Config){
		"no name":               func(c *Config) { c.Name = "" },
		"no API key":            func(c *Config) { c.APIKey = "" },
		"no client id":          func(c *Config) { c.ClientID = "" },
		"relative redirect URI": func(c *Config) { c.RedirectURI = "/oauth/callback" },
		"redirect fragment":     func(c *Config) { c.RedirectURI = testRedirectURI + "#x" },
		"bad platform URL":      func(c *Config) { c.PlatformURL = "platform.example" },
	} {
		cfg := testConfig("http://127.0.0.1:1", newFakeClock())
		tweak(&cfg)
		if _, err := New(cfg); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
}

func TestRunDeliversActivityUntilCancelled(t *testing.T) {
	tb := newTestBank(t, func(c *Config) {
		c.Now = time.Now
		c.Interval = 5 * time.Millisecond
		c.PostDelay = 10 * time.Millisecond
	})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- tb.Run(ctx) }()

	linkID := tb.link(t, balancesAndTransactions, balancesAndTransactions...)
	deadline := time.After(20 * time.Second)
	for {
		rep := checkLedger(t, tb.platform.Events(), linkID)
		if rep.posted >= 3 {
			break
		}
		select {
		case <-tb.platform.notify:
		case <-deadline:
			t.Fatalf("Run delivered %d posted transactions before the deadline", rep.posted)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run returned %v, want nil on cancel", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after cancel")
	}
}

func TestLogsCarryNoPayload(t *testing.T) {
	var logs bytes.Buffer
	tb := newTestBank(t, func(c *Config) {
		c.Logger = slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{
			Level: slog.LevelDebug,
			ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
				if a.Key == slog.TimeKey {
					return slog.Attr{} // timestamps look like amounts to the check below
				}
				return a
			},
		}))
	})
	linkID := tb.link(t, balancesAndTransactions, balancesAndTransactions...)
	step(t, tb, 100)
	tb.platform.Reject(linkID, "invalid_event")
	step(t, tb, 3)

	text := logs.String()
	if !strings.Contains(text, "link created") || !strings.Contains(text, "event rejected") {
		t.Fatalf("expected log lines are missing:\n%s", text)
	}
	if m := regexp.MustCompile(`[0-9]\.[0-9]{2}\b`).FindString(text); m != "" {
		t.Errorf("logs contain something shaped like an amount: %q", m)
	}
	for _, cat := range categories {
		for _, m := range cat.merchants {
			if strings.Contains(text, m.Name) {
				t.Errorf("logs name merchant %q", m.Name)
			}
		}
	}
	if strings.Contains(text, DemoUsername()) || strings.Contains(text, DemoPassword()) {
		t.Error("logs contain the customer's credentials")
	}
}
