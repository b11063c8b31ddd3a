package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

// TestRevocationRaceTwoNodes: the bank posts to both nodes without pause
// while the customer revokes through node B. Every post that started after
// the revoke call returned is refused with consent_revoked, on both nodes;
// the customer's open socket on node A is told at once; and what the link
// brought in is gone from the store.
func TestRevocationRaceTwoNodes(t *testing.T) {
	cl := startCluster(t)
	c := newCustomer(t, cl.baseA)
	c.signUp(fmt.Sprintf("revoke-%d@example.com", time.Now().UnixNano()), "revocation is immediate")
	conv := c.link(cl.institutionID, "balances", "transactions")
	onA := c.dial(cl.baseA, map[string]int64{conv.ID: conv.LastSeq})
	for onA.next(10*time.Second).Type != "caught_up" {
	}

	var revoked atomic.Bool
	var mu sync.Mutex
	var late []bankapi.EventResult // results of posts begun after the revoke returned
	accepted := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w, base := range []string{cl.baseA, cl.baseB, cl.baseA, cl.baseB} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := bankapi.NewClient(base, cl.apiKey, bankapi.WithMaxAttempts(1))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				after := revoked.Load()
				ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
				res, err := client.PostEvents(ctx, []bankapi.Event{message(fmt.Sprintf("race-%d-%d", w, i), conv.Link.ID, "racing")})
				cancel()
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if after {
					late = append(late, res[0])
				} else if res[0].Status == "accepted" {
					accepted++
				}
				mu.Unlock()
			}
		}()
	}
	// Revoke once the posts are flowing.
	for deadline := time.Now().Add(20 * time.Second); ; {
		mu.Lock()
		n := accepted
		mu.Unlock()
		if n >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d events accepted before the revocation", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	onB := c.on(cl.baseB)
	var out struct {
		Link struct{ Status string } `json:"link"`
	}
	if err := onB.Call(ctxT(t), "DELETE", "/app/api/links/"+conv.Link.ID, nil, &out); err != nil || out.Link.Status != "revoked" {
		t.Fatalf("revoke: %v %+v", err, out)
	}
	revoked.Store(true)
	// Let each poster make several posts after the revocation.
	for deadline := time.Now().Add(20 * time.Second); ; {
		mu.Lock()
		n := len(late)
		mu.Unlock()
		if n >= 20 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("only %d posts after the revocation", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	for _, r := range late {
		if r.Status != "rejected" || r.Error.Code != "consent_revoked" {
			t.Fatalf("post after the revocation returned: %+v", r)
		}
	}

	// The open socket on the other node hears it.
	marker := onA.await(15*time.Second, func(f frame) bool { return f.Event.Type == "link.revoked" })
	var notice struct {
		EndedBy string `json:"ended_by"`
	}
	json.Unmarshal(marker.Event.Data, &notice)
	if notice.EndedBy != "customer" || marker.Event.Author != "platform" {
		t.Fatalf("marker = %+v", marker.Event)
	}
	if f := onA.next(10 * time.Second); f.Type != "conversation" || f.Conversation.Link.Status != "revoked" {
		t.Fatalf("after the marker: %+v", f)
	}

	// Everything the link brought in is gone: a device starting from zero
	// receives only the notice.
	fresh := c.dial(cl.baseB, map[string]int64{conv.ID: 0})
	var seen []frame
	for {
		f := fresh.next(10 * time.Second)
		if f.Type == "caught_up" {
			break
		}
		if f.Type == "event" {
			seen = append(seen, f)
		}
	}
	if len(seen) != 1 || seen[0].Event.Type != "link.revoked" || seen[0].Event.Seq != marker.Event.Seq {
		t.Fatalf("after revocation the conversation holds %d events: %+v", len(seen), seen)
	}
	if got := c.conversations()[0].Link.Status; got != "revoked" {
		t.Fatalf("link status %q", got)
	}
}

// TestBankRevokes: DELETE /v1/links/{id} with the institution's key revokes
// (again: the same answer); another key cannot; the customer's socket is told.
func TestBankRevokes(t *testing.T) {
	dir := t.TempDir()
	_, info := startDemo(t, dir, "--activity", "1h")
	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	s := c.dial(info.BaseURL, nil)

	del := func(key string) (int, string) {
		req, _ := http.NewRequest("DELETE", info.BaseURL+"/v1/links/"+info.LinkID, nil)
		req.Header.Set("Authorization", "Bearer "+key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Link  struct{ Status string } `json:"link"`
			Error *bankapi.Error          `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		if body.Error != nil {
			return resp.StatusCode, body.Error.Code
		}
		return resp.StatusCode, body.Link.Status
	}
	if code, what := del(info.InstitutionAPIKey + "x"); code != 401 || what != "unauthorized" {
		t.Fatalf("bad key: %d %s", code, what)
	}
	for range 2 {
		if code, what := del(info.InstitutionAPIKey); code != 200 || what != "revoked" {
			t.Fatalf("bank revoke: %d %s", code, what)
		}
	}
	marker := s.await(15*time.Second, func(f frame) bool { return f.Event.Type == "link.revoked" })
	if !json.Valid(marker.Event.Data) || string(marker.Event.Data) == "{}" {
		t.Fatalf("marker data %s", marker.Event.Data)
	}
	res := newBank(t, info.BaseURL, info.InstitutionAPIKey).post(message("after-bank-revoke", info.LinkID, "too late"))
	if res[0].Error == nil || res[0].Error.Code != "consent_revoked" {
		t.Fatalf("post after the bank revoked: %+v", res[0])
	}
}
