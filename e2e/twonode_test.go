package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/openteller/openteller/internal/banksim"
	"github.com/openteller/openteller/internal/testenv"
	"github.com/openteller/openteller/internal/vault"
)

// cluster is `serve` nodes on one PostgreSQL schema and an external NATS,
// with the simulated bank (run in this process) redirecting to the first.
type cluster struct {
	baseA, baseB, apiKey, institutionID string
	dbURL                               string // the test's own PostgreSQL schema
	bases                               []string
	nodes                               []*proc
}

func startCluster(t *testing.T) cluster { return startFleet(t, 2) }

// startFleet starts n nodes.
func startFleet(t *testing.T, n int) cluster {
	t.Helper()
	dbURL := testenv.PostgresSchema(t)
	natsURL := testenv.NATS(t)
	env := []string{"OPENTELLER_ROOT_KEY=" + vault.GenerateRootKey()}
	var addrs []string
	c := cluster{dbURL: dbURL}
	for range n {
		addr := freeAddr(t)
		addrs, c.bases = append(addrs, addr), append(c.bases, "http://"+addr)
	}
	c.baseA, c.baseB = c.bases[0], c.bases[1]
	bankURL := "http://" + freeAddr(t)
	bankAddr := strings.TrimPrefix(bankURL, "http://")

	create := exec.Command(binary, "institution", "create", "--database", dbURL, "--name", "Cedar Bank",
		"--authorize-url", bankURL+"/authorize", "--token-url", bankURL+"/token", "--client-id", "openteller", "--client-secret", "s3cret-two-nodes")
	out, err := create.CombinedOutput()
	if err != nil {
		t.Fatalf("institution create: %v\n%s", err, out)
	}
	c.apiKey = regexp.MustCompile(`otk_\S+`).FindString(string(out))
	c.institutionID = regexp.MustCompile(`ins_[a-z2-7]+`).FindString(string(out))

	bank, err := banksim.New(banksim.Config{Name: "Cedar Bank", PlatformURL: c.baseA, APIKey: c.apiKey, ClientID: "openteller",
		ClientSecret: "s3cret-two-nodes", RedirectURI: c.baseA + "/oauth/callback"})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", bankAddr)
	if err != nil {
		t.Fatal(err)
	}
	bankSrv := &http.Server{Handler: bank.Handler()}
	go bankSrv.Serve(ln)
	t.Cleanup(func() { bankSrv.Close() })

	// The simulated bank is on loopback: the nodes may reach its token endpoint.
	for _, addr := range addrs {
		c.nodes = append(c.nodes, start(t, env, "serve", "--addr", addr, "--data", t.TempDir(), "--database", dbURL, "--nats", natsURL, "--webhook-allow-private", "true"))
	}
	for i, p := range c.nodes {
		p.waitReady(c.bases[i])
	}
	return c
}

// TestTwoNodes: an event posted to either node reaches the customer's
// socket on the other.
func TestTwoNodes(t *testing.T) {
	cl := startCluster(t)
	baseA, baseB, apiKey := cl.baseA, cl.baseB, cl.apiKey
	c := newCustomer(t, baseA)
	c.signUp(fmt.Sprintf("two-nodes-%d@example.com", time.Now().UnixNano()), "two nodes, one customer")
	conv := c.link(cl.institutionID, "balances", "transactions")

	// Everything the nodes tell each other about customers, as NATS carries
	// it: it must never hold what the bank sent in the clear.
	nc, err := nats.Connect(testenv.NATS(t))
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	var wireMu sync.Mutex
	var wire [][]byte
	if _, err := nc.Subscribe("ot.>", func(m *nats.Msg) {
		wireMu.Lock()
		wire = append(wire, m.Data)
		wireMu.Unlock()
	}); err != nil {
		t.Fatal(err)
	}
	nc.Flush()

	// The session lives in the shared store: the same cookie works on B.
	onB := c.dial(baseB, map[string]int64{conv.ID: conv.LastSeq})
	onA := c.dial(baseA, map[string]int64{conv.ID: conv.LastSeq})
	for _, s := range []*socket{onA, onB} {
		for s.next(10*time.Second).Type != "caught_up" {
		}
	}

	postTo := func(base, id string) int64 {
		res := newBank(t, base, apiKey).post(message(id, conv.Link.ID, "via "+id))
		if res[0].Status != "accepted" {
			t.Fatalf("post to %s: %+v", base, res[0])
		}
		return res[0].Seq
	}
	seqA := postTo(baseA, "posted-to-a")
	if f := onB.await(15*time.Second, func(f frame) bool { return f.Event.Seq == seqA }); !strings.Contains(string(f.Event.Data), "via posted-to-a") {
		t.Fatalf("node B delivered %s", f.Event.Data)
	}
	seqB := postTo(baseB, "posted-to-b")
	if seqB != seqA+1 {
		t.Fatalf("seq across nodes: %d then %d", seqA, seqB)
	}
	onA.await(15*time.Second, func(f frame) bool { return f.Event.Seq == seqB })

	// A device that reconnects to the other node resumes where it was.
	onA.conn.CloseNow()
	seqC := postTo(baseA, "while-away")
	again := c.dial(baseB, map[string]int64{conv.ID: seqB})
	if f := again.next(15 * time.Second); f.Type != "event" || f.Event.Seq != seqC {
		t.Fatalf("resume on the other node: %+v", f)
	}

	// The device above caught up from the store, so the last post's
	// wake-up may still be on its way from node A: wait for it.
	carried := 0 // wake-ups of this conversation
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		nc.Flush()
		wireMu.Lock()
		carried = 0
		for _, m := range wire {
			if bytes.Contains(m, []byte(conv.ID)) {
				carried++
			}
			for _, text := range []string{"via posted-to-a", "via posted-to-b", "via while-away"} {
				if bytes.Contains(m, []byte(text)) {
					wireMu.Unlock()
					t.Fatalf("the bus carried %q in the clear", text)
				}
			}
		}
		wireMu.Unlock()
		if carried >= 3 || time.Now().After(deadline) {
			break
		}
	}
	if carried < 3 {
		t.Fatalf("heard %d wake-ups of the conversation on the bus, want one per post: the check above checked too little", carried)
	}

	// Readiness reflects the shared services.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "GET", baseB+"/readyz", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("readyz on B: %v %v", resp, errors.Join(err))
	}
	resp.Body.Close()
}
