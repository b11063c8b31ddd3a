package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/openteller/openteller/internal/testenv"
)

// raiseAlert asks the demo's simulated bank to see a suspicious payment
// and post a fraud alert now.
func raiseAlert(t *testing.T, info demoInfo) {
	t.Helper()
	resp, err := http.Post(info.BankURL+"/sim/fraud-alert", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Raised int }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || resp.StatusCode != http.StatusOK || out.Raised != 1 {
		t.Fatalf("raise alert: %d %+v %v", resp.StatusCode, out, err)
	}
}

// TestBrowserFraudAlert: the bank posts a fraud alert; the customer, on a
// phone, taps "Not me — lock card"; the alert card shows the answer and
// when; the bank hears the signed fraud.response, locks the card and says
// so in the conversation. The card then offers no more answers. An alert
// arriving at the foot of the thread stays where it is drawn: nothing moves
// its buttons from under the finger.
func TestBrowserFraudAlert(t *testing.T) {
	t.Parallel()
	ctx, do, info := browse(t)
	do("see the bank's first cards", chromedp.WaitVisible(css(`[data-testid="balance-card"]`)))
	evalJS[bool](t, ctx, watchStill(`[data-testid="fraud-card"][data-state="open"] [data-testid="alert-action-deny"]`))
	raiseAlert(t, info)
	open := css(`[data-testid="fraud-card"][data-state="open"]`)
	do("see the alert", chromedp.WaitVisible(open))
	do("the alert settles", chromedp.Poll[chromedp.Void](`window.stillWatch.done`))
	if moves := evalJS[[]float64](t, ctx, `window.stillWatch.moves`); len(moves) > 0 {
		t.Fatalf("the answer button stood %v px off where it was drawn in %d of the %d frames after the alert arrived at the foot of the thread", moves[0], len(moves), stillFrames-1)
	}
	text, err := chromedp.Run(ctx, chromedp.Text(open))
	if err != nil || !strings.Contains(text, "Is this you?") || !strings.Contains(text, "It was me") || !strings.Contains(text, "Answer by") {
		t.Fatalf("alert card %q (%v)", text, err)
	}
	shot(t, ctx, "fraud-alert")
	do("answer with one tap",
		click(css(`[data-testid="alert-action-deny"]`)),
		chromedp.WaitVisible(css(`[data-testid="fraud-card"][data-state="answered"]`)),
	)
	answer, err := chromedp.Run(ctx, chromedp.Text(css(`[data-testid="alert-answer"]`)))
	if err != nil || !strings.Contains(answer, "You answered “Not me — lock card”") {
		t.Fatalf("answer line %q (%v)", answer, err)
	}
	do("the bank confirms in the conversation",
		chromedp.Poll[chromedp.Void](`[...document.querySelectorAll('[data-testid="message-bubble"][data-author="institution"]')].some((b) => b.textContent.includes('is locked'))`),
	)
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('[data-testid^="alert-action-"]').length`))
	if err != nil || n != 0 {
		t.Fatalf("%d answer buttons left after answering (%v)", n, err)
	}
	shot(t, ctx, "fraud-answered")
}

// stillFrames is how many frames watchStill watches, the first included.
const stillFrames = 30

// watchStill returns a script that, from its next frame on, waits for
// the element sel to be drawn and then notes, over stillFrames frames, every frame
// in which it stands elsewhere than where it was first drawn: a tap aimed
// at it would land on something else. The result is window.stillWatch:
// done once the frames are counted, moves the offsets in px.
func watchStill(sel string) string {
	return fmt.Sprintf(`(() => {
	  const w = window.stillWatch = { done: false, moves: [] };
	  let first = null, frames = 0;
	  const frame = () => {
	    const el = document.querySelector(%q);
	    if (el && el.getClientRects().length > 0) {
	      const r = el.getBoundingClientRect();
	      if (first === null) first = r;
	      else if (Math.abs(r.top - first.top) > 1 || Math.abs(r.left - first.left) > 1) w.moves.push(Math.round(r.top - first.top));
	      frames++;
	    }
	    if (frames < %d) requestAnimationFrame(frame); else w.done = true;
	  };
	  requestAnimationFrame(frame);
	  return true;
	})()`, sel, stillFrames)
}

// TestBrowserMenuBalance: "Balance" from the menu shows the last known
// balance at once, and the bank's fresh one answers it: the day's one
// balance card moves under the question, with both accounts.
func TestBrowserMenuBalance(t *testing.T) {
	t.Parallel()
	ctx, do, _ := browse(t)
	do("wait for the opening balances", chromedp.WaitVisible(css(`[data-testid="balance-strip"]`)), chromedp.WaitVisible(css(`[data-testid="balance-card"]`)))
	do("ask for the balance from the menu",
		click(css(`[data-testid="menu-button"]`)),
		chromedp.WaitVisible(css(`[data-testid="menu-balance"]`)),
		click(css(`[data-testid="menu-balance"]`)),
		chromedp.WaitVisible(css(`[data-testid="request-bubble"][data-kind="balance"]`)),
	)
	do("the bank's fresh balances arrive under the question and the waiting line goes",
		chromedp.Poll[chromedp.Void](`(() => {
		  const asked = document.querySelector('[data-testid="request-bubble"][data-kind="balance"]');
		  const card = [...document.querySelectorAll('[data-testid="balance-card"]')].pop();
		  return Number(card.dataset.seq) > Number(asked.dataset.seq) && asked.nextElementSibling === card && card.querySelectorAll('.balance-line').length === 2;
		})()`),
		chromedp.WaitNotVisible(css(`[data-testid="request-status"]`)),
	)
	if n := evalJS[balanceCount](t, ctx, balanceCards); n.Today != 1 || len(n.Repeated) > 0 {
		t.Fatalf("balance cards %+v: want one today, and never two on one day", n)
	}
}

// TestBenchFraudScenario runs `openteller bench --scenario fraud` small:
// every alert the bank posts is seen by a device, answered, and heard back
// by the bank as a verified webhook. (It checks that the scenario measures
// real round trips; how fast they are is for BENCHMARKS.md, not a test.)
// On PostgreSQL the database URL carries a setting of the node's pool,
// which the bench's own connection must not send to the server.
func TestBenchFraudScenario(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		if c := benchFraud(t).NodeCounters; c == nil || c.DBAcquires != 0 {
			t.Fatalf("node counters %+v: want them read, with no database pool on SQLite", c)
		}
	})
	t.Run("postgres", func(t *testing.T) {
		u, err := url.Parse(testenv.Postgres(t))
		if err != nil {
			t.Fatal(err)
		}
		q := u.Query()
		q.Set("pool_max_conns", "3")
		u.RawQuery = q.Encode()
		res := benchFraud(t, "--store", "postgres", "--database", u.String())
		// Every answer reads the session, the conversation and the alert
		// before it is stored: the node's pool counted them.
		if c := res.NodeCounters; c == nil || c.DBAcquires < float64(res.Alerts) {
			t.Fatalf("node counters %+v for %d alerts: want the pool's acquires read from the node", c, res.Alerts)
		}
	})
}

// runBench runs `openteller bench` with args and returns the last line it
// printed (the JSON of --json); if it fails, the test fails with what the
// bench said on stderr, where it reports its errors.
func runBench(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binary, append([]string{"bench"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("bench: %v\nstdout:\n%s\nstderr:\n%s", err, out, stderr.String())
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// benchCounters is what a bench result says its nodes counted in a phase.
type benchCounters struct {
	DBAcquires float64 `json:"db_acquires"`
	GCCycles   float64 `json:"gc_cycles"`
}

type benchFraudResult struct {
	Alerts, Seen, Answered, Unanswered int
	WarmupUnanswered                   int                        `json:"warmup_unanswered"`
	Roundtrip                          struct{ P50, P99 float64 } `json:"fraud_roundtrip_ms"`
	NodeCounters                       *benchCounters             `json:"node_counters"`
	Host                               [2]float64                 `json:"host_sha256_mb_per_sec"`
}

func benchFraud(t *testing.T, args ...string) benchFraudResult {
	line := runBench(t, append([]string{"--scenario", "fraud", "--duration", "2s", "--sockets", "20", "--rate", "40", "--json"}, args...)...)
	var res benchFraudResult
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		t.Fatalf("bench output %q: %v", line, err)
	}
	if res.Alerts < 40 || res.Seen != res.Alerts || res.Answered != res.Alerts || res.Unanswered != 0 || res.WarmupUnanswered != 0 || res.Roundtrip.P50 <= 0 || res.Host[0] <= 0 || res.Host[1] <= 0 {
		t.Fatalf("bench result %+v", res)
	}
	return res
}

// TestBenchTarget runs `openteller bench --target` against a running demo:
// it signs in as the demo customer, posts as the demo bank, and every event
// offered reaches the customer's socket.
func TestBenchTarget(t *testing.T) {
	dir := t.TempDir()
	_, info := startDemo(t, dir, "--activity", "1h")
	line := runBench(t, "--target", info.BaseURL, "--target-info", filepath.Join(dir, "demo.json"), "--duration", "3s", "--rate", "50", "--json")
	var res struct {
		Target                       string
		IngestEventsPerSec           float64 `json:"ingest_events_per_sec"`
		DeliveredEventsPerSec        float64 `json:"delivered_events_per_sec"`
		Lost, Delivered, Undelivered int
	}
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		t.Fatalf("bench output %q: %v", line, err)
	}
	if res.Target != info.BaseURL || res.IngestEventsPerSec <= 0 || res.DeliveredEventsPerSec <= 0 || res.Lost != 0 || res.Delivered < 40 || res.Undelivered != 0 {
		t.Fatalf("bench result %+v", res)
	}
}

// TestBenchIngestScenario runs `openteller bench` small: every event
// acknowledged during the throughput phase arrives on its customer's
// socket, and the idle sockets' cost is measured from the node itself (in
// goroutines here: 30 sockets' memory is within the noise of a node's
// resident set, which the benchmark measures at thousands).
func TestBenchIngestScenario(t *testing.T) {
	line := runBench(t, "--duration", "3s", "--sockets", "30", "--rate", "100", "--batch", "20", "--writers", "2", "--json")
	var res struct {
		Ingest      float64                    `json:"ingest_events_per_sec"`
		Delivered   float64                    `json:"delivered_events_per_sec"`
		Lost        int                        `json:"lost"`
		KB          float64                    `json:"kb_per_idle_socket"`
		Goroutines  float64                    `json:"goroutines_per_idle_socket"`
		Latency     struct{ P50 float64 }      `json:"e2e_latency_ms"`
		Post        struct{ P50, Max float64 } `json:"post_latency_ms"`
		Host        [2]float64                 `json:"host_sha256_mb_per_sec"`
		Undelivered int
		// Read from the node's /metrics around each phase.
		LatencyCounters    *benchCounters `json:"latency_phase_counters"`
		ThroughputCounters *benchCounters `json:"throughput_phase_counters"`
	}
	if err := json.Unmarshal([]byte(line), &res); err != nil {
		t.Fatalf("bench output %q: %v", line, err)
	}
	if res.Ingest <= 0 || res.Delivered <= 0 || res.Lost != 0 || res.Undelivered != 0 || res.Latency.P50 <= 0 || res.Post.P50 <= 0 || res.Post.Max < res.Post.P50 || res.Host[0] <= 0 || res.Host[1] <= 0 {
		t.Fatalf("bench result %+v", res)
	}
	if res.Goroutines < 0.5 || res.Goroutines > 1.5 {
		t.Fatalf("idle sockets measured as %.2f goroutines each", res.Goroutines)
	}
	if res.LatencyCounters == nil || res.ThroughputCounters == nil {
		t.Fatalf("node counters: latency phase %+v, throughput phase %+v", res.LatencyCounters, res.ThroughputCounters)
	}
}
