package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"github.com/openteller/openteller/pkg/bankapi"
)

// The fraud scenario measures the round trip that makes "Not me — lock
// card" matter: the bank posts fraud.alert → the customer's device receives
// it on its socket → the device answers over the customer API → the bank
// receives the signed fraud.response webhook, verified with the SDK. The
// clock runs from the bank's POST to the webhook's arrival.

// FraudResult is what the fraud scenario measured.
type FraudResult struct {
	Scenario    string      `json:"scenario"` // "fraud"
	Store       string      `json:"store"`
	Nodes       int         `json:"nodes"`
	RoundtripMs Percentiles `json:"fraud_roundtrip_ms"`
	// WarmupRoundtripMs is the same load's first second, just after the
	// devices connected, timed apart from RoundtripMs.
	WarmupRoundtripMs *Percentiles `json:"warmup_roundtrip_ms,omitempty"`
	// WarmupUnanswered is the warm-up's alerts the bank never heard back
	// about (must be 0, as Unanswered).
	WarmupUnanswered int `json:"warmup_unanswered"`
	// The legs of the round trip: the alert reaching the device, the
	// device's answer being acknowledged, and the answer reaching the bank.
	ToDeviceMs     Percentiles `json:"alert_to_device_ms"`
	AnswerMs       Percentiles `json:"answer_request_ms"`
	ToBankMs       Percentiles `json:"answer_to_bank_ms"`
	OfferedPerSec  int         `json:"offered_alerts_per_sec"`
	AchievedPerSec float64     `json:"achieved_alerts_per_sec"` // round trips completed per second of the run
	Alerts         int         `json:"alerts"`
	Seen           int         `json:"seen"`     // alerts devices received and answered
	Answered       int         `json:"answered"` // webhooks the bank received
	Unanswered     int         `json:"unanswered"`
	Customers      int         `json:"customers"`
	NodeCounters   *Counters   `json:"node_counters,omitempty"` // what the nodes counted during the measured round trips
	RSSMB          float64     `json:"rss_mb"`
	PeakRSSMB      float64     `json:"peak_rss_mb"`
	DurationS      float64     `json:"duration_s"`
	// HostSpeed is Result's reading: the cores' hashing speed before the
	// node started and after the last round trip.
	HostSpeed [2]float64 `json:"host_sha256_mb_per_sec"`
}

// RunFraud runs the fraud scenario: o.Rate alerts per second for
// o.Duration, spread over o.Customers devices.
func RunFraud(ctx context.Context, o Options) (FraudResult, error) {
	res := FraudResult{Scenario: "fraud", Store: o.Store, Nodes: max(o.Nodes, 1), OfferedPerSec: o.Rate, Customers: o.Sockets}
	res.HostSpeed[0] = hostSpeed()
	env, err := prepare(ctx, o, true)
	if err != nil {
		return res, err
	}
	defer env.close()

	f := &fraudDriver{driver: env.driver, sent: map[string]time.Time{}, answered: map[string]time.Time{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return res, err
	}
	bank := &http.Server{Handler: bankapi.WebhookHandler(&f.verifier, f.onWebhook)}
	go bank.Serve(ln)
	defer bank.Close()
	secret, err := bankapi.NewClient(env.driver.bases[0], env.driver.apiKey).RegisterWebhookEndpoint(ctx, "http://"+ln.Addr().String()+"/hooks")
	if err != nil {
		return res, fmt.Errorf("bench: register webhook endpoint: %w", err)
	}
	f.verifier.Secrets = []string{secret}
	// link.created notices from setup go out first; let them drain so they
	// are not measured.
	time.Sleep(2 * time.Second)

	fmt.Fprintf(o.Log, "connecting %d devices…\n", len(f.customers))
	if err := f.connectDevices(ctx); err != nil {
		return res, err
	}
	defer f.closeSockets()

	// As in the ingest scenario, the first second after the devices
	// connect is timed apart (WarmupRoundtripMs): a node's caches and
	// pooled connections are cold then.
	fmt.Fprintf(o.Log, "warm-up: %d alerts/s for %s…\n", o.Rate, latencyWarmup)
	if err := f.offer(ctx, o.Rate, latencyWarmup); err != nil {
		return res, err
	}
	f.land()
	f.mu.Lock()
	warm := percentiles(f.rtts)
	res.WarmupRoundtripMs = &warm
	res.WarmupUnanswered = len(f.sent)
	f.rtts, f.toDevice, f.answerReq, f.toBank, f.posted = nil, nil, nil, nil, 0
	clear(f.sent)
	clear(f.answered)
	f.epoch++
	f.answers.Store(0)
	f.mu.Unlock()

	fmt.Fprintf(o.Log, "fraud round trips: %d alerts/s for %s…\n", o.Rate, o.Duration)
	start := time.Now()
	if res.NodeCounters, err = env.phaseCounters(ctx, func() error {
		if err := f.offer(ctx, o.Rate, o.Duration); err != nil {
			return err
		}
		f.land()
		return nil
	}); err != nil {
		return res, err
	}
	logCounters(o.Log, res.NodeCounters)
	if err := f.failed(); err != nil {
		return res, err
	}
	f.mu.Lock()
	res.Alerts, res.Answered, res.Unanswered, res.Seen = f.posted, len(f.rtts), len(f.sent), int(f.answers.Load())
	res.RoundtripMs, res.ToDeviceMs, res.AnswerMs, res.ToBankMs = percentiles(f.rtts), percentiles(f.toDevice), percentiles(f.answerReq), percentiles(f.toBank)
	f.mu.Unlock()
	res.AchievedPerSec = float64(res.Answered) / o.Duration.Seconds()
	res.DurationS = time.Since(start).Seconds()
	res.RSSMB, res.PeakRSSMB = env.rss()
	res.HostSpeed[1] = hostSpeed()
	return res, nil
}

type fraudDriver struct {
	*driver
	verifier bankapi.WebhookVerifier
	answers  atomic.Int64 // answers posted by devices

	mu       sync.Mutex
	sent     map[string]time.Time // alert id → when the bank posted it
	answered map[string]time.Time // alert id → when the device's answer was acknowledged
	rtts     []time.Duration
	// legs
	toDevice, answerReq, toBank []time.Duration
	epoch                       int // the warm-up's answers are 0, the measured ones 1
	posted                      int
	err                         error
}

func (f *fraudDriver) fail(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *fraudDriver) failed() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// land waits up to 10 s for the answers to the alerts posted to arrive.
func (f *fraudDriver) land() {
	for wait := 0; wait < 200 && f.pending() > 0; wait++ {
		time.Sleep(50 * time.Millisecond)
	}
}

func (f *fraudDriver) pending() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.sent)
}

// onWebhook is the bank receiving the customer's answer.
func (f *fraudDriver) onWebhook(_ context.Context, w bankapi.Webhook) error {
	if w.Type != bankapi.WebhookFraudResponse {
		return nil
	}
	now := time.Now()
	var r bankapi.FraudResponse
	if err := json.Unmarshal(w.Data, &r); err != nil {
		return err
	}
	f.mu.Lock()
	if t, ok := f.sent[r.AlertID]; ok {
		delete(f.sent, r.AlertID)
		f.rtts = append(f.rtts, now.Sub(t))
		if a, ok := f.answered[r.AlertID]; ok {
			f.toBank = append(f.toBank, now.Sub(a))
		}
	}
	f.mu.Unlock()
	return nil
}

// connectDevices opens one socket per customer whose reader answers every
// fraud alert it is shown with "deny", as the customer's tap would.
func (f *fraudDriver) connectDevices(ctx context.Context) error {
	caught := make(chan struct{}, len(f.customers))
	f.sockets = make([]*websocket.Conn, len(f.customers))
	for i, c := range f.customers {
		conn, err := f.dial(ctx, i)
		if err != nil {
			return fmt.Errorf("bench: dial socket %d: %w", i, err)
		}
		conn.SetReadLimit(1 << 20)
		f.sockets[i] = conn
		resume, _ := json.Marshal(map[string]any{"type": "resume", "cursors": map[string]int64{c.convID: 0}})
		if err := conn.Write(ctx, websocket.MessageText, resume); err != nil {
			return err
		}
		go f.device(ctx, conn, c, caught)
	}
	for range f.customers {
		select {
		case <-caught:
		case <-time.After(60 * time.Second):
			return errors.New("bench: devices did not catch up within 60s")
		}
	}
	return nil
}

func (f *fraudDriver) device(ctx context.Context, conn *websocket.Conn, c customer, caught chan<- struct{}) {
	type event struct {
		Seq  int64  `json:"seq"`
		Type string `json:"type"`
		Data struct {
			Reason string `json:"reason"`
		} `json:"data"`
	}
	var frame struct {
		Type   string  `json:"type"`
		Events []event `json:"events"`
	}
	for {
		_, data, err := conn.Read(context.Background())
		if err != nil {
			return
		}
		frame.Type, frame.Events = "", nil
		if json.Unmarshal(data, &frame) != nil {
			continue
		}
		switch frame.Type {
		case "caught_up":
			caught <- struct{}{}
		case "events":
			for _, e := range frame.Events {
				if e.Type != bankapi.TypeFraudAlert {
					continue
				}
				// The benchmark's alerts name themselves in their reason,
				// so the legs of each round trip can be timed.
				id := e.Data.Reason[strings.LastIndexByte(e.Data.Reason, ' ')+1:]
				f.mu.Lock()
				if t, ok := f.sent[id]; ok {
					f.toDevice = append(f.toDevice, time.Since(t))
				}
				f.mu.Unlock()
				go f.answer(ctx, c, e.Seq, id)
			}
		}
	}
}

func (f *fraudDriver) answer(ctx context.Context, c customer, seq int64, id string) {
	f.mu.Lock()
	epoch := f.epoch
	f.mu.Unlock()
	start := time.Now()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost,
		f.bases[c.node]+"/app/api/conversations/"+c.convID+"/alerts/"+strconv.FormatInt(seq, 10)+"/answer",
		strings.NewReader(`{"action":"deny"}`))
	req.Header.Set("Cookie", c.cookie)
	req.Header.Set("X-CSRF-Token", c.csrf)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.client.Do(req)
	if err != nil {
		f.fail(fmt.Errorf("bench: answer alert: %w", err))
		return
	}
	defer drain(resp.Body)
	if resp.StatusCode != http.StatusCreated {
		b, _ := io.ReadAll(resp.Body)
		f.fail(fmt.Errorf("bench: answer alert: %d %s", resp.StatusCode, b))
		return
	}
	now := time.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.epoch != epoch {
		return // an answer to a warm-up alert, acknowledged after it
	}
	f.answers.Add(1)
	if _, ok := f.sent[id]; ok { // not yet heard back by the bank
		f.answered[id] = now
	}
	f.answerReq = append(f.answerReq, now.Sub(start))
}

// offer posts rate alerts per second for dur, every 10 ms, each to a
// random customer.
func (f *fraudDriver) offer(ctx context.Context, rate int, dur time.Duration) error {
	const tick = 10 * time.Millisecond
	perTick := float64(rate) * tick.Seconds()
	var owed float64
	var wg sync.WaitGroup
	t := time.NewTicker(tick)
	defer t.Stop()
	expires := time.Now().Add(time.Hour).UTC().Format(time.RFC3339)
	for end := time.Now().Add(dur); time.Now().Before(end); {
		<-t.C
		owed += perTick
		n := int(owed)
		owed -= float64(n)
		if n == 0 {
			continue
		}
		var b bytes.Buffer
		b.WriteString(`{"events":[`)
		f.mu.Lock()
		now := time.Now()
		for i := range n {
			if i > 0 {
				b.WriteByte(',')
			}
			c := f.customers[rand.IntN(len(f.customers))]
			id := "fa" + strconv.FormatInt(f.seq.Add(1), 10)
			f.sent[id] = now
			f.posted++
			fmt.Fprintf(&b, `{"id":%q,"link_id":%q,"type":"fraud.alert","occurred_at":%q,"data":{"transaction":{"merchant":{"name":"Lumen Electronics","mcc":"5732","city":"Lagos","country":"NG"},"amount":{"amount":"%d.00","currency":"USD"},"at":%q,"card_last4":"4242"},"reason":"A large payment far from home: %s","actions":[{"id":"confirm","label":"It was me"},{"id":"deny","label":"Not me — lock card","style":"danger"}],"expires_at":%q}}`,
				id, c.linkID, now.UTC().Format(time.RFC3339Nano), 600+rand.IntN(1900), now.UTC().Format(time.RFC3339Nano), id, expires)
		}
		f.mu.Unlock()
		b.WriteString("]}")
		body := b.Bytes()
		node := f.nextNode()
		wg.Go(func() {
			if _, err := f.post(ctx, node, body); err != nil {
				f.fail(err)
			}
		})
	}
	wg.Wait()
	return f.failed()
}
