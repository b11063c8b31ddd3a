package webhook_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/store/sqlite"
	"github.com/openteller/openteller/internal/testenv"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/internal/webhook"
	"github.com/openteller/openteller/pkg/bankapi"
)

// rig: a real store and keyring (every link made queues a link.created
// notice), endpoints, and a clock the test moves.
type rig struct {
	t   *testing.T
	st  *sqlite.Store
	kr  *vault.Keyring
	eps *webhook.Endpoints
	mu  sync.Mutex
	now time.Time
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{t: t, st: testenv.SQLite(t), now: time.Now().UTC()}
	r.st.SetClock(r.clock)
	r.kr, _ = vault.New(bytes.Repeat([]byte{4}, 32), r.st)
	r.eps = &webhook.Endpoints{Store: r.st, Keyring: r.kr, AllowPrivate: true, Now: r.clock}
	ctx := context.Background()
	if err := r.st.CreateInstitution(ctx, store.Institution{ID: "ins_1", Name: "Cedar Bank", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: r.now}); err != nil {
		t.Fatal(err)
	}
	if err := r.st.CreateCustomer(ctx, store.Customer{ID: "cus_1", Email: "a@example.com", PasswordHash: "x", CreatedAt: r.now}); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *rig) clock() time.Time {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

func (r *rig) advance(d time.Duration) {
	r.mu.Lock()
	r.now = r.now.Add(d)
	r.mu.Unlock()
}

func (r *rig) deliverer(allowPrivate bool) *webhook.Deliverer {
	return webhook.New(webhook.Config{Store: r.st, Keyring: r.kr, Now: r.clock, AllowPrivate: allowPrivate})
}

// link makes a link: its link.created notice is queued for the bank.
func (r *rig) link() string {
	r.t.Helper()
	l := store.Link{ID: ingest.NewID("lnk_"), CustomerID: "cus_1", InstitutionID: "ins_1", ConversationID: "cnv_1",
		Scopes: []string{"balances"}, Status: store.LinkActive, CreatedAt: r.clock(), ExpiresAt: r.clock().Add(time.Hour)}
	l, err := r.st.CreateLink(context.Background(), l, consent.GrantReceipt(l, "d"))
	if err != nil {
		r.t.Fatal(err)
	}
	r.advance(time.Millisecond) // notices get distinct times, as in life
	return l.ID
}

// receiver is a bank's webhook endpoint that verifies every delivery with
// the SDK and answers with what status returns.
type receiver struct {
	secret         string // the one registered first
	rejected       atomic.Int32
	expectRefusals bool
	srv            *httptest.Server
	verifier       *bankapi.WebhookVerifier
	status         func(n int) (int, http.Header)
	mu             sync.Mutex
	got            []webhook.Envelope
	calls          atomic.Int32
	inFlight       sync.Map // notice id → in flight
	overlap        atomic.Bool
}

func newReceiver(t *testing.T, r *rig, status func(n int) (int, http.Header)) *receiver {
	rc := &receiver{status: status}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		n := int(rc.calls.Add(1))
		id := req.Header.Get(bankapi.HeaderWebhookID)
		if _, busy := rc.inFlight.LoadOrStore(id, true); busy {
			rc.overlap.Store(true)
		}
		defer rc.inFlight.Delete(id)
		body, _ := io.ReadAll(req.Body)
		if err := rc.verifier.Verify(req.Header, body); err != nil {
			rc.rejected.Add(1)
			if !rc.expectRefusals {
				t.Errorf("delivery does not verify: %v", err)
			}
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		code, h := rc.status(n)
		for k, v := range h {
			w.Header()[k] = v
		}
		if code < 300 {
			var env webhook.Envelope
			json.Unmarshal(body, &env)
			rc.mu.Lock()
			rc.got = append(rc.got, env)
			rc.mu.Unlock()
		}
		w.WriteHeader(code)
	}))
	t.Cleanup(rc.srv.Close)
	secret, err := r.eps.Register(context.Background(), "ins_1", rc.srv.URL+"/hooks")
	if err != nil {
		t.Fatal(err)
	}
	rc.secret = secret
	rc.verifier = &bankapi.WebhookVerifier{Secrets: []string{secret}, Now: r.clock}
	return rc
}

func ok(int) (int, http.Header) { return 200, nil }

func TestDeliversSignedNoticesInOrder(t *testing.T) {
	r := newRig(t)
	rc := newReceiver(t, r, ok)
	var links []string
	for range 3 {
		links = append(links, r.link())
	}
	n, err := r.deliverer(true).Tick(context.Background())
	if err != nil || n != 3 {
		t.Fatalf("tick: %d %v", n, err)
	}
	if len(rc.got) != 3 {
		t.Fatalf("received %d", len(rc.got))
	}
	// Different links' notices go out side by side: compare as a set.
	var got []string
	for _, env := range rc.got {
		var data map[string]any
		json.Unmarshal(env.Data, &data)
		if env.Type != "link.created" {
			t.Fatalf("delivery: %+v %s", env, env.Data)
		}
		got = append(got, data["link_id"].(string))
	}
	slices.Sort(got)
	slices.Sort(links)
	if !slices.Equal(got, links) {
		t.Fatalf("delivered for %v, want %v", got, links)
	}
	ns, _ := r.st.Notices(context.Background(), "ins_1")
	for _, n := range ns {
		if n.DeliveredAt.IsZero() || n.Attempts != 1 {
			t.Fatalf("notice after delivery: %+v", n)
		}
	}
}

// TestRetryScheduleThenDeadLetter: a receiver that always fails is tried on
// the schedule, then the notice is dead-lettered; nothing is lost.
func TestRetryScheduleThenDeadLetter(t *testing.T) {
	r := newRig(t)
	rc := newReceiver(t, r, func(int) (int, http.Header) { return 500, nil })
	r.link()
	d := r.deliverer(true)
	ctx := context.Background()
	for i, wait := range webhook.Schedule {
		r.advance(wait)
		if wait > time.Second {
			// Just before the scheduled time, nothing is due.
			r.advance(-time.Second)
			if n, _ := d.Tick(ctx); n != 0 {
				t.Fatalf("attempt %d went out %s early", i+1, time.Second)
			}
			r.advance(time.Second)
		}
		if n, err := d.Tick(ctx); err != nil || n != 1 {
			t.Fatalf("attempt %d: %d %v", i+1, n, err)
		}
	}
	ns, _ := r.st.Notices(ctx, "ins_1")
	if len(ns) != 1 || ns[0].DeadAt.IsZero() || ns[0].Attempts != len(webhook.Schedule) || !strings.Contains(ns[0].LastError, "500") {
		t.Fatalf("after the last try: %+v", ns)
	}
	r.advance(48 * time.Hour)
	if n, _ := d.Tick(ctx); n != 0 || int(rc.calls.Load()) != len(webhook.Schedule) {
		t.Fatalf("a dead notice was tried again (%d calls)", rc.calls.Load())
	}

	// The bank sees the dead letter through the Bank API and redelivers it.
	token, key := ingest.NewAPIKey("ins_1", r.clock())
	if err := r.st.RotateAPIKey(ctx, key, time.Time{}); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	r.eps.RegisterRoutes(mux)
	api := func(method, path string) *httptest.ResponseRecorder {
		req := httptest.NewRequest(method, path, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		mux.ServeHTTP(rec, req)
		return rec
	}
	var listed struct{ Dead []webhook.DeadLetter }
	json.Unmarshal(api("GET", "/v1/notices").Body.Bytes(), &listed)
	if len(listed.Dead) != 1 || listed.Dead[0].ID != ns[0].ID || listed.Dead[0].Attempts != len(webhook.Schedule) {
		t.Fatalf("dead letters = %+v", listed)
	}
	if rec := api("POST", "/v1/notices/"+ns[0].ID+"/redeliver"); rec.Code != http.StatusNoContent {
		t.Fatalf("redeliver: %d %s", rec.Code, rec.Body)
	}
	rc.status = ok
	if n, _ := d.Tick(ctx); n != 1 || len(rc.got) != 1 {
		t.Fatalf("after redelivery: %d tried, %d received", n, len(rc.got))
	}
}

// message queues a customer.message notice on the link, sealed under the
// customer's key as ingest does, with its event.
func (r *rig) message(linkID, text string) {
	r.t.Helper()
	r.messageLeased(linkID, text, time.Time{})
}

// messageLeased is message asking the store to lease the notice to the
// caller until lease (zero: no), and returns what it leased.
func (r *rig) messageLeased(linkID, text string, lease time.Time) *store.Notice {
	r.t.Helper()
	ctx := context.Background()
	now := r.clock()
	n := store.Notice{ID: ingest.NewID("ntc_"), Type: store.NoticeCustomerMessage, CustomerID: "cus_1", CreatedAt: now, LeaseUntil: lease}
	body, _ := json.Marshal(bankapi.CustomerMessage{LinkID: linkID, MessageID: "m", Text: text, SentAt: now})
	var err error
	if n.Sealed, err = r.kr.Seal(ctx, vault.ConversationKey("cus_1", "ins_1"), n.ID, body); err != nil {
		r.t.Fatal(err)
	}
	id := ingest.NewID("evt_")
	sealed, _ := r.kr.Seal(ctx, vault.ConversationKey("cus_1", "ins_1"), id, []byte(`{}`))
	res, err := r.st.AppendEvents(ctx, []store.NewEvent{{Event: store.Event{ID: id, CustomerID: "cus_1", InstitutionID: "ins_1", LinkID: linkID,
		Type: "customer.message", Author: store.AuthorCustomer, OccurredAt: now, ReceivedAt: now, Sealed: sealed}, Notice: &n}})
	if err != nil || res[0].Err != nil {
		r.t.Fatal(err, res)
	}
	r.advance(time.Millisecond)
	return res[0].Leased
}

// TestReceiverDownThenUp: while the bank answers 503, notices wait in
// order; when it comes back they arrive, none lost, none reordered within
// a link. The customers' messages among them are sealed in the store and
// arrive opened.
func TestReceiverDownThenUp(t *testing.T) {
	r := newRig(t)
	var down atomic.Bool
	down.Store(true)
	rc := newReceiver(t, r, func(int) (int, http.Header) {
		if down.Load() {
			return 503, http.Header{"Retry-After": {"120"}}
		}
		return 200, nil
	})
	var links []string
	for range 4 {
		links = append(links, r.link())
	}
	for _, l := range links {
		r.message(l, "first from "+l)
		r.message(l, "second from "+l)
	}
	ns, _ := r.st.Notices(context.Background(), "ins_1")
	for _, n := range ns {
		if n.Type == store.NoticeCustomerMessage && (n.Payload != nil || bytes.Contains(n.Sealed, []byte("from"))) {
			t.Fatalf("a customer's message is stored in the clear: %+v", n)
		}
	}
	d := r.deliverer(true)
	ctx := context.Background()
	d.Tick(ctx) // every link's first notice fails
	r.advance(time.Minute)
	if n, _ := d.Tick(ctx); n != 0 {
		t.Fatalf("Retry-After 120 s not honoured: %d tried after 60 s", n)
	}
	down.Store(false)
	r.advance(2 * time.Minute)
	for i := 0; i < 10 && len(rc.got) < 12; i++ {
		d.Tick(ctx)
	}
	if len(rc.got) != 12 {
		t.Fatalf("received %d of 12 after the outage", len(rc.got))
	}
	perLink := map[string][]string{}
	for _, env := range rc.got {
		var data map[string]any
		json.Unmarshal(env.Data, &data)
		l, _ := data["link_id"].(string)
		perLink[l] = append(perLink[l], fmt.Sprint(env.Type, " ", data["text"]))
	}
	for _, l := range links {
		want := []string{"link.created <nil>", "customer.message first from " + l, "customer.message second from " + l}
		if !slices.Equal(perLink[l], want) {
			t.Fatalf("link %s received %q, want %q", l, perLink[l], want)
		}
	}
}

// TestSendDeliversAtOnce: a notice the store leased to this node as it
// committed it goes out through Send, with no claim and no poll (the
// deliverer here ticks once an hour), is recorded as delivered, and lets
// the link's next notice go.
func TestSendDeliversAtOnce(t *testing.T) {
	r := newRig(t)
	rc := newReceiver(t, r, ok)
	link := r.link()
	d := r.deliverer(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx, time.Hour); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	received := func(n int) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			rc.mu.Lock()
			got := len(rc.got)
			rc.mu.Unlock()
			if got >= n {
				return
			}
		}
		t.Fatalf("the bank did not receive %d notices in 5 s", n)
	}
	// recorded waits until the notice is stored as delivered at its first
	// attempt: the bank has it a moment before the node records it.
	recorded := func(id string) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			ns, _ := r.st.Notices(context.Background(), "ins_1")
			i := slices.IndexFunc(ns, func(n store.Notice) bool { return n.ID == id })
			if i >= 0 && !ns[i].DeliveredAt.IsZero() && ns[i].Attempts == 1 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("notice %s was not recorded as delivered: %+v", id, ns)
			}
		}
	}
	received(1) // link.created, claimed by Run's first tick
	rc.mu.Lock()
	created := rc.got[0].ID
	rc.mu.Unlock()
	// Until it is recorded, link.created holds the link's place in line.
	recorded(created)

	lease := r.clock().Add(webhook.SendLease).Truncate(time.Microsecond)
	leased := r.messageLeased(link, "tap", lease)
	if leased == nil {
		t.Fatal("the link's only pending notice was not leased")
	}
	d.Send(*leased)
	received(2)
	rc.mu.Lock()
	last := rc.got[len(rc.got)-1]
	rc.mu.Unlock()
	if last.ID != leased.ID || !strings.Contains(string(last.Data), `"tap"`) {
		t.Fatalf("received %+v %s", last, last.Data)
	}
	recorded(leased.ID)
	// Delivered, it no longer holds the link: the next is leased too.
	if r.messageLeased(link, "again", lease) == nil {
		t.Fatal("the next notice of the link was not leased after the first was delivered")
	}
}

// TestGoneDisablesEndpoint: 410 stops deliveries until the bank registers
// again; the notice waits and then goes out.
func TestGoneDisablesEndpoint(t *testing.T) {
	r := newRig(t)
	var gone atomic.Bool
	gone.Store(true)
	newReceiver(t, r, func(int) (int, http.Header) {
		if gone.Load() {
			return 410, nil
		}
		return 200, nil
	})
	r.link()
	d := r.deliverer(true)
	ctx := context.Background()
	d.Tick(ctx)
	ep, _ := r.st.WebhookEndpoint(ctx, "ins_1")
	if ep.DisabledAt.IsZero() {
		t.Fatal("410 did not disable the endpoint")
	}
	gone.Store(false)
	r.advance(2 * time.Minute)
	if n, _ := d.Tick(ctx); n != 0 {
		t.Fatalf("tick while disabled tried %d", n)
	}
	ns, _ := r.st.Notices(ctx, "ins_1")
	if !ns[0].DeliveredAt.IsZero() || !strings.Contains(ns[0].LastError, "410") {
		t.Fatalf("delivered to a disabled endpoint: %+v", ns[0])
	}
	rc := newReceiver(t, r, ok) // the bank registers again
	r.advance(2 * time.Minute)
	d.Tick(ctx)
	if len(rc.got) != 1 {
		t.Fatal("the waiting notice did not go out after re-registration")
	}
}

// TestTwoDeliverersNeverSendTheSameAtOnce runs two deliverers against one
// store and a slow receiver: no notice is ever in flight twice, and each
// is delivered.
func TestTwoDeliverersNeverSendTheSameAtOnce(t *testing.T) {
	r := newRig(t)
	rc := newReceiver(t, r, func(int) (int, http.Header) {
		time.Sleep(20 * time.Millisecond) // a slow bank widens any window for overlap
		return 200, nil
	})
	for range 6 {
		r.link()
	}
	ctx := context.Background()
	var wg sync.WaitGroup
	for range 2 {
		d := r.deliverer(true)
		wg.Go(func() {
			for range 4 {
				d.Tick(ctx)
			}
		})
	}
	wg.Wait()
	if rc.overlap.Load() {
		t.Fatal("a notice was in flight from two deliverers at once")
	}
	if len(rc.got) != 6 || int(rc.calls.Load()) != 6 {
		t.Fatalf("received %d in %d calls, want 6 in 6", len(rc.got), rc.calls.Load())
	}
}

// TestPrivateAddressRefused: without AllowPrivate the deliverer will not
// connect to a loopback endpoint; the notice records why and waits.
func TestPrivateAddressRefused(t *testing.T) {
	r := newRig(t)
	rc := newReceiver(t, r, ok)
	r.link()
	r.deliverer(false).Tick(context.Background())
	if rc.calls.Load() != 0 {
		t.Fatal("connected to a loopback address")
	}
	ns, _ := r.st.Notices(context.Background(), "ins_1")
	if !strings.Contains(ns[0].LastError, "not public") || !ns[0].DeliveredAt.IsZero() {
		t.Fatalf("notice = %+v", ns[0])
	}
	// Plain http is refused at registration unless private endpoints are allowed.
	strict := &webhook.Endpoints{Store: r.st, Keyring: r.kr}
	if _, err := strict.Register(context.Background(), "ins_1", "http://bank.example/hooks"); err == nil {
		t.Fatal("registered a plain-http endpoint")
	}
}

// TestRotationSignsWithBoth: after a rotation deliveries carry both
// signatures for the overlap, so either secret verifies them.
func TestRotationSignsWithBoth(t *testing.T) {
	r := newRig(t)
	rc := newReceiver(t, r, ok) // verifies with the first secret
	next, _, err := r.eps.Rotate(context.Background(), "ins_1")
	if err != nil {
		t.Fatal(err)
	}
	r.link()
	r.deliverer(true).Tick(context.Background())
	if len(rc.got) != 1 {
		t.Fatal("the old secret no longer verifies during the overlap")
	}
	rc.verifier.Secrets = []string{next}
	r.link()
	r.deliverer(true).Tick(context.Background())
	if len(rc.got) != 2 {
		t.Fatal("the new secret does not verify")
	}
	// After the overlap only the new secret signs: the old one no longer
	// verifies (the receiver refuses), and the notice will be retried.
	r.advance(webhook.RotationOverlap + time.Hour)
	rc.verifier.Secrets, rc.expectRefusals = []string{rc.secret}, true
	r.link()
	r.deliverer(true).Tick(context.Background())
	if len(rc.got) != 2 || rc.rejected.Load() != 1 {
		t.Fatalf("after the overlap: %d delivered, %d refused", len(rc.got), rc.rejected.Load())
	}
}

// TestPublic: only addresses on the public internet are dialled.
func TestPublic(t *testing.T) {
	for addr, want := range map[string]bool{
		"93.184.216.34": true, "2606:2800:220:1:248:1893:25c8:1946": true,
		"10.0.0.1": false, "172.16.0.1": false, "192.168.1.1": false, "127.0.0.1": false, "169.254.169.254": false,
		"100.100.100.200": false, "198.18.0.1": false, "240.0.0.1": false, "0.1.2.3": false, "255.255.255.255": false,
		"::1": false, "fe80::1": false, "fc00::1": false, "fec0::1": false, "::ffff:10.0.0.1": false,
		"64:ff9b::a00:1": false, "2002:a00:1::": false, "::10.0.0.1": false, "2001:db8::1": false,
	} {
		if got := webhook.Public(netip.MustParseAddr(addr)); got != want {
			t.Errorf("Public(%s) = %v, want %v", addr, got, want)
		}
	}
}

// TestTriedHearsEachOutcome: Config.Tried hears what became of every
// notice the deliverer took a turn at, in the deliverer's own words:
// delivered on a 2xx, held when the bank's endpoint is disabled, retry
// after a failed request, dead after the last try.
func TestTriedHearsEachOutcome(t *testing.T) {
	r := newRig(t)
	var mu sync.Mutex
	var heard []string
	d := webhook.New(webhook.Config{Store: r.st, Keyring: r.kr, Now: r.clock, AllowPrivate: true, Tried: func(outcome string) {
		mu.Lock()
		heard = append(heard, outcome)
		mu.Unlock()
	}})
	ctx := context.Background()
	tick := func() {
		t.Helper()
		if n, err := d.Tick(ctx); err != nil || n != 1 {
			t.Fatalf("tick: %d %v, want 1 notice", n, err)
		}
	}
	newReceiver(t, r, func(n int) (int, http.Header) {
		if n == 1 || n == 3 {
			return 200, nil
		}
		return 500, nil
	})
	link := r.link()
	tick() // 200: delivered

	// A notice sent as it is committed while the endpoint is disabled is
	// held, not tried.
	ep, err := r.st.WebhookEndpoint(ctx, "ins_1")
	if err != nil {
		t.Fatal(err)
	}
	if err := r.st.DisableWebhookEndpoint(ctx, "ins_1", "test", r.clock()); err != nil {
		t.Fatal(err)
	}
	leased := r.messageLeased(link, "tap", r.clock().Add(webhook.SendLease).Truncate(time.Microsecond))
	if leased == nil {
		t.Fatal("the link's only pending notice was not leased")
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { d.Run(runCtx, time.Hour); close(done) }()
	d.Send(*leased)
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		mu.Lock()
		n := len(heard)
		mu.Unlock()
		if n == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("Tried did not hear of the notice sent while the endpoint was disabled")
		}
	}
	cancel()
	<-done

	// Enabled again, the held notice fails once, then goes; a new link's
	// notice fails every time until it is dead.
	if err := r.st.PutWebhookEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	r.advance(webhook.SendLease + time.Minute) // past the hold, and the lease should the send be unsettled
	tick()                                     // 500: retry
	r.advance(webhook.Schedule[1])
	tick() // 200: delivered
	r.link()
	for _, wait := range webhook.Schedule {
		r.advance(wait)
		tick() // 500 each time, then dead
	}

	want := []string{webhook.OutcomeDelivered, webhook.OutcomeHeld, webhook.OutcomeRetry, webhook.OutcomeDelivered}
	for range len(webhook.Schedule) - 1 {
		want = append(want, webhook.OutcomeRetry)
	}
	want = append(want, webhook.OutcomeDead)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(heard, want) {
		t.Fatalf("Tried heard %v, want %v", heard, want)
	}
}

// TestQueuedNoticeFollowsAtOnce: a customer's second answer on a link
// waits for the first to reach the bank, then goes at once, not at the
// next poll, even when another link's notice settled in between (the
// deliverer's poll here is an hour apart).
func TestQueuedNoticeFollowsAtOnce(t *testing.T) {
	r := newRig(t)
	release := make(chan struct{})
	var releaseOnce sync.Once
	let := func() { releaseOnce.Do(func() { close(release) }) }
	var held atomic.Bool
	// The bank takes its time over the first answer.
	rc := newReceiver(t, r, func(int) (int, http.Header) {
		if held.CompareAndSwap(true, false) {
			<-release
		}
		return 200, nil
	})
	t.Cleanup(let) // before the receiver closes, or its Close waits forever
	first, other := r.link(), r.link()
	d := r.deliverer(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.Run(ctx, time.Hour); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	received := func(text string) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
			rc.mu.Lock()
			got := slices.ContainsFunc(rc.got, func(e webhook.Envelope) bool {
				return text == "" && len(rc.got) >= 2 || text != "" && strings.Contains(string(e.Data), text)
			})
			rc.mu.Unlock()
			if got {
				return
			}
		}
		t.Fatalf("the bank did not receive %q in 10 s (the deliverer's poll is an hour apart)", text)
	}
	// settled waits until the store records every notice so far delivered.
	settled := func() {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
			ns, err := r.st.Notices(context.Background(), "ins_1")
			if err == nil && !slices.ContainsFunc(ns, func(n store.Notice) bool { return n.DeliveredAt.IsZero() }) {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("notices not all settled in 10 s: %+v, %v", ns, err)
			}
		}
	}
	received("") // both link.created notices, claimed by Run's first tick
	settled()    // and recorded, so they hold neither link

	lease := r.clock().Add(webhook.SendLease).Truncate(time.Microsecond)
	a := r.messageLeased(first, "first answer", lease)
	if a == nil {
		t.Fatal("the link's only pending notice was not leased")
	}
	if r.messageLeased(first, "second answer", lease) != nil {
		t.Fatal("a notice queued behind one in flight was leased")
	}
	held.Store(true)
	d.Send(*a)
	d.Kick() // what ingest does for a notice it could not lease
	for deadline := time.Now().Add(10 * time.Second); held.Load(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the first answer was not sent in 10 s")
		}
	}

	// Another link's notice goes and settles while the first is held.
	c := r.messageLeased(other, "other link", lease)
	d.Send(*c)
	received("other link")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		ns, _ := r.st.Notices(context.Background(), "ins_1")
		if i := slices.IndexFunc(ns, func(n store.Notice) bool { return n.ID == c.ID }); i >= 0 && !ns[i].DeliveredAt.IsZero() {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the other link's notice was not settled")
		}
	}

	let()
	received("first answer")
	received("second answer")
}
