package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

// TestLinkPostReceive is the spine from the outside: a new customer signs up,
// links the simulated bank through its sign-in page, and receives on a
// WebSocket what the bank posts; what the customer did not grant is refused.
func TestLinkPostReceive(t *testing.T) {
	dir := t.TempDir()
	_, info := startDemo(t, dir, "--activity", "1h")
	c := newCustomer(t, info.BaseURL)
	c.signUp("pat@example.com", "a long enough password")
	conv := c.link(info.InstitutionID, "balances", "support_chat")
	if !slices.Equal(conv.Link.Scopes, []string{"balances", "support_chat"}) || conv.Link.Status != "active" {
		t.Fatalf("link = %+v", conv.Link)
	}
	s := c.dial(info.BaseURL, nil)

	bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)
	res := bank.post(
		message("e2e-hello", conv.Link.ID, "Welcome to e2e"),
		bankapi.Event{ID: "e2e-txn", LinkID: conv.Link.ID, Type: bankapi.TypeTransactionPosted, OccurredAt: time.Now().UTC(),
			Data: bankapi.TransactionPosted{AccountID: "a", TransactionID: "t", Status: "posted", Direction: "debit",
				Amount: bankapi.Money{Amount: "3.50", Currency: "USD"}, Description: "Coffee"}},
		bankapi.Event{ID: "e2e-bal", LinkID: conv.Link.ID, Type: bankapi.TypeBalanceUpdated, OccurredAt: time.Now().UTC(),
			Data: bankapi.BalanceUpdated{AccountID: "a", AccountName: "Everyday Checking", AccountKind: "checking",
				Available: bankapi.Money{Amount: "1200.00", Currency: "USD"}, Current: bankapi.Money{Amount: "1250.00", Currency: "USD"}}},
	)
	if res[0].Status != "accepted" || res[2].Status != "accepted" {
		t.Fatalf("results = %+v", res)
	}
	if res[1].Status != "rejected" || res[1].Error.Code != "consent_scope" {
		t.Fatalf("transaction without the transactions scope: %+v", res[1])
	}
	got := s.await(15*time.Second, func(f frame) bool { return strings.Contains(string(f.Event.Data), "Welcome to e2e") })
	if got.ConversationID != conv.ID || got.Event.Seq != res[0].Seq || got.Event.Author != "institution" {
		t.Fatalf("message frame = %+v", got)
	}
	bal := s.await(15*time.Second, func(f frame) bool { return f.Event.Type == "balance.updated" && f.Event.Seq == res[2].Seq })
	if !strings.Contains(string(bal.Event.Data), `"1200.00"`) {
		t.Fatalf("balance data = %s", bal.Event.Data)
	}

	// The customer writes back; their own devices see it.
	if err := c.Call(ctxT(t), "POST", "/app/api/conversations/"+conv.ID+"/messages", map[string]string{"text": "Thanks!"}, nil); err != nil {
		t.Fatal(err)
	}
	mine := s.await(15*time.Second, func(f frame) bool { return f.Event.Type == "customer.message" })
	if mine.Event.Author != "customer" || !strings.Contains(string(mine.Event.Data), "Thanks!") {
		t.Fatalf("customer message frame = %+v", mine)
	}
}

// TestIdempotencyAndPendingReplaced posts to the demo customer's link: a
// retried event is not stored twice, a reused id with a new body is refused,
// and a posted card transaction names the pending one it replaces.
func TestIdempotencyAndPendingReplaced(t *testing.T) {
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	s := c.dial(info.BaseURL, nil)
	bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)

	at := time.Now().UTC().Truncate(time.Second)
	txn := func(id, status string) bankapi.Event {
		return bankapi.Event{ID: id, LinkID: info.LinkID, Type: bankapi.TypeTransactionPosted, OccurredAt: at,
			Data: bankapi.TransactionPosted{AccountID: "acc_card", TransactionID: id, ReferenceID: "auth-77", Status: status, Direction: "debit",
				Amount: bankapi.Money{Amount: "42.10", Currency: "USD"}, Merchant: &bankapi.Merchant{Name: "Corner Market", MCC: "5411", Category: "Grocery Stores, Supermarkets"}, CardLast4: "4821"}}
	}
	first := bank.post(txn("idem-pending", "pending"))[0]
	retry := bank.post(txn("idem-pending", "pending"))[0]
	if first.Status != "accepted" || retry.Status != "duplicate" || retry.Seq != first.Seq {
		t.Fatalf("first %+v, retry %+v", first, retry)
	}
	changed := txn("idem-pending", "pending")
	d := changed.Data.(bankapi.TransactionPosted)
	d.Amount.Amount = "43.00"
	changed.Data = d
	if r := bank.post(changed)[0]; r.Status != "rejected" || r.Error.Code != "idempotency_conflict" {
		t.Fatalf("reused id with a new body: %+v", r)
	}
	posted := bank.post(txn("idem-posted", "posted"))[0]
	f := s.await(15*time.Second, func(f frame) bool { return f.Event.Seq == posted.Seq })
	if f.Event.ReplacesSeq != first.Seq {
		t.Fatalf("posted transaction replaces seq %d, want %d", f.Event.ReplacesSeq, first.Seq)
	}
}

// TestBankAPIBadInput: every kind of bad request gets a typed error and
// stores nothing; one institution's key cannot reach another's link.
func TestBankAPIBadInput(t *testing.T) {
	dir := t.TempDir()
	_, info := startDemo(t, dir, "--activity", "1h")
	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	// The bank's opening events (a welcome and the balances) arrive in one
	// batch after demo.json is written: count from after them.
	before := c.conversations()[0].LastSeq
	for deadline := time.Now().Add(30 * time.Second); before == 0; before = c.conversations()[0].LastSeq {
		if time.Now().After(deadline) {
			t.Fatal("the bank's opening events did not arrive in 30 s")
		}
		time.Sleep(20 * time.Millisecond)
	}

	post := func(key, contentType, body string) (int, string) {
		req, _ := http.NewRequest("POST", info.BaseURL+"/v1/events", strings.NewReader(body))
		if key != "" {
			req.Header.Set("Authorization", "Bearer "+key)
		}
		req.Header.Set("Content-Type", contentType)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Error   *bankapi.Error        `json:"error"`
			Results []bankapi.EventResult `json:"results"`
		}
		json.NewDecoder(resp.Body).Decode(&e)
		if e.Error != nil {
			if e.Error.Message == "" {
				t.Errorf("error %s has no message", e.Error.Code)
			}
			return resp.StatusCode, e.Error.Code
		}
		codes := []string{}
		for _, r := range e.Results {
			if r.Error != nil {
				codes = append(codes, r.Error.Code)
			}
		}
		return resp.StatusCode, strings.Join(codes, ",")
	}
	key := info.InstitutionAPIKey
	valid := fmt.Sprintf(`{"id":"ok-1","link_id":%q,"type":"message","occurred_at":%q,"data":{"text":"hi"}}`, info.LinkID, time.Now().UTC().Format(time.RFC3339))
	many := "[" + strings.TrimSuffix(strings.Repeat(valid+",", 501), ",") + "]"
	for _, tc := range []struct {
		name, key, ct, body string
		status              int
		code                string
	}{
		{"no key", "", "application/json", `{"events":[` + valid + `]}`, 401, "unauthorized"},
		{"wrong key", key + "x", "application/json", `{"events":[` + valid + `]}`, 401, "unauthorized"},
		{"not json", key, "application/json", `{"events":[`, 400, "invalid_json"},
		{"form body", key, "application/x-www-form-urlencoded", `events=1`, 415, "unsupported_media_type"},
		{"empty batch", key, "application/json", `{"events":[]}`, 400, "batch_empty"},
		{"too many", key, "application/json", `{"events":` + many + `}`, 400, "batch_too_large"},
		{"too big", key, "application/json", `{"events":[{"id":"x","data":{"text":"` + strings.Repeat("a", 5<<20) + `"}}]}`, 413, "body_too_large"},
		{"unknown field", key, "application/json", `{"events":[` + valid + `],"extra":true}`, 400, "invalid_json"},
		{"bad event", key, "application/json", `{"events":[{"id":"bad-1","link_id":"` + info.LinkID + `","type":"message","occurred_at":"now","data":{"text":"hi"}}]}`, 200, "invalid_event"},
		{"unknown type", key, "application/json", `{"events":[{"id":"bad-2","link_id":"` + info.LinkID + `","type":"loan.offer","occurred_at":"2026-01-01T00:00:00Z","data":{}}]}`, 200, "unknown_type"},
		{"float money", key, "application/json", `{"events":[{"id":"bad-3","link_id":"` + info.LinkID + `","type":"balance.updated","occurred_at":"2026-01-01T00:00:00Z","data":{"account_id":"a","account_name":"A","account_kind":"checking","available":{"amount":12.5,"currency":"USD"},"current":{"amount":"1.00","currency":"USD"}}}]}`, 200, "invalid_event"},
		{"card number", key, "application/json", `{"events":[{"id":"bad-4","link_id":"` + info.LinkID + `","type":"message","occurred_at":"2026-01-01T00:00:00Z","data":{"text":"Card 5555 5555 5555 4444 is on its way"}}]}`, 200, "pan_detected"},
	} {
		status, code := post(tc.key, tc.ct, tc.body)
		if status != tc.status || code != tc.code {
			t.Errorf("%s: got %d %s, want %d %s", tc.name, status, code, tc.status, tc.code)
		}
	}

	// A second institution, registered by the admin command while the
	// platform runs, cannot post to Cedar Bank's link.
	out, err := exec.Command(binary, "institution", "create", "--data", dir, "--name", "Other Bank",
		"--authorize-url", "http://127.0.0.1:1/authorize", "--token-url", "http://127.0.0.1:1/token", "--client-id", "x").CombinedOutput()
	if err != nil {
		t.Fatalf("institution create: %v\n%s", err, out)
	}
	otherKey := regexp.MustCompile(`otk_\S+`).FindString(string(out))
	if otherKey == "" {
		t.Fatalf("no key in %s", out)
	}
	if status, code := post(otherKey, "application/json", `{"events":[`+strings.Replace(valid, "ok-1", "other-1", 1)+`]}`); status != 200 || code != "unknown_link" {
		t.Fatalf("other institution's key: %d %s", status, code)
	}
	// Key rotation: the old key stops, the new one works.
	out, err = exec.Command(binary, "institution", "rotate-key", "--data", dir, "--id", info.InstitutionID).CombinedOutput()
	if err != nil {
		t.Fatalf("rotate-key: %v\n%s", err, out)
	}
	newKey := regexp.MustCompile(`otk_\S+`).FindString(string(out))
	if status, code := post(key, "application/json", `{"events":[`+valid+`]}`); status != 401 || code != "unauthorized" {
		t.Fatalf("rotated-out key: %d %s", status, code)
	}
	if status, code := post(newKey, "application/json", `{"events":[`+valid+`]}`); status != 200 || code != "" {
		t.Fatalf("new key: %d %s", status, code)
	}
	if after := c.conversations()[0].LastSeq; after != before+1 {
		t.Fatalf("last seq went from %d to %d; only the one valid event should have been stored", before, after)
	}
}

// TestAcknowledgedEventsSurviveKill9 posts events while the node is killed
// with SIGKILL, restarts it on the same data, and checks that every event
// the bank saw acknowledged is there, delivered in a gapless sequence.
func TestAcknowledgedEventsSurviveKill9(t *testing.T) {
	dir := t.TempDir()
	p, info := startDemo(t, dir, "--activity", "1h")
	bank := bankapi.NewClient(info.BaseURL, info.InstitutionAPIKey, bankapi.WithMaxAttempts(1))

	var mu sync.Mutex
	acked := map[string]bool{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				var evs []bankapi.Event
				for j := range 10 {
					id := fmt.Sprintf("kill-%d-%d-%d", w, i, j)
					evs = append(evs, message(id, info.LinkID, "durable "+id))
				}
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				res, err := bank.PostEvents(ctx, evs)
				cancel()
				if err != nil {
					return // the node is gone
				}
				mu.Lock()
				for _, r := range res {
					if r.Status == "accepted" {
						acked[r.ID] = true
					}
				}
				mu.Unlock()
			}
		}()
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		n := len(acked)
		mu.Unlock()
		if n >= 400 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d events acknowledged in 30s", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	p.kill()
	close(stop)
	wg.Wait()
	t.Logf("%d events acknowledged before SIGKILL", len(acked))

	_, info = startDemo(t, dir, "--activity", "1h")
	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	conv := c.conversations()[0]
	s := c.dial(info.BaseURL, map[string]int64{conv.ID: 0})
	seen := map[string]bool{}
	var seq int64
	for {
		f := s.next(30 * time.Second)
		if f.Type == "caught_up" {
			break
		}
		if f.Type != "event" {
			continue
		}
		if f.Event.Seq != seq+1 {
			t.Fatalf("seq %d after %d: not gapless", f.Event.Seq, seq)
		}
		seq = f.Event.Seq
		var m struct{ Text string }
		json.Unmarshal(f.Event.Data, &m)
		if id, ok := strings.CutPrefix(m.Text, "durable "); ok {
			seen[id] = true
		}
	}
	for id := range acked {
		if !seen[id] {
			t.Errorf("acknowledged event %s lost", id)
		}
	}
	if seq != conv.LastSeq {
		t.Fatalf("delivered up to seq %d, conversation says %d", seq, conv.LastSeq)
	}
	// The restarted demo's bank listens on another port; linking still works.
	newcomer := newCustomer(t, info.BaseURL)
	newcomer.signUp("after-restart@example.com", "linking after a restart")
	newcomer.link(info.InstitutionID, "balances")
}
