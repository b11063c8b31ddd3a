package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/openteller/openteller/internal/console"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/server"
	"github.com/openteller/openteller/internal/store"
)

// presenceStream opens a console's presence stream, as the console page
// does, and says how the member is.
type presenceStream struct {
	t  *testing.T
	ws *websocket.Conn
}

func openPresence(t *testing.T, baseURL string, s staffSession, status string) *presenceStream {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(baseURL, "http")+"/console/api/presence", &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {s.cookie}}})
	if err != nil {
		code := 0
		if resp != nil {
			code = resp.StatusCode
		}
		t.Fatalf("open the presence stream: %d %v", code, err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	p := &presenceStream{t: t, ws: ws}
	p.set(status)
	return p
}

// frame reads the stream's next frame.
func (p *presenceStream) frame() (map[string]any, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, data, err := p.ws.Read(ctx)
	if err != nil {
		return nil, err
	}
	var f map[string]any
	return f, json.Unmarshal(data, &f)
}

// send writes a raw message.
func (p *presenceStream) send(msg string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.ws.Write(ctx, websocket.MessageText, []byte(msg)); err != nil {
		p.t.Fatal(err)
	}
}

// set says the member is online or away, and waits until it is kept.
func (p *presenceStream) set(status string) {
	p.t.Helper()
	p.send(fmt.Sprintf(`{"type":"status","status":%q}`, status))
	f, err := p.frame()
	if err != nil || f["type"] != "presence" || f["status"] != status {
		p.t.Fatalf("after saying %s: %v %v", status, f, err)
	}
}

// awaitAvailable waits until the institution's available agents are want.
func awaitAvailable(t *testing.T, st store.Store, institutionID string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got, err := st.AvailableAgents(context.Background(), institutionID, time.Now())
		fatalIf(t, err)
		slices.Sort(got)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("available agents: %v, want %v", got, want)
		}
		time.Sleep(20 * time.Millisecond) // polling the store, not waiting for time to pass
	}
}

// asker hands new conversations of ins_a to the bank's people and says
// where each went ("queue" or the agent's id).
func asker(t *testing.T, srv *server.Server) func() string {
	n := 0
	return func() string {
		t.Helper()
		n++
		conv := fmt.Sprintf("cnv_ask%d", n)
		handedOver(t, srv, fmt.Sprintf("lnk_ask%04d", n), fmt.Sprintf("cus_ask%d", n), "ins_a", conv, "support_chat")
		c, err := srv.Store.Conversation(context.Background(), conv)
		fatalIf(t, err)
		if c.Owner == "agent" {
			return c.AgentID
		}
		return c.Owner
	}
}

// TestAssignmentNeedsPresence: a conversation entering the queue goes only
// to an agent whose console is open and online. Signed in with the console
// closed, away, gone (stream closed) or signed out: never; back online:
// again. Before presence, a signed-in agent with the tab closed was given
// work and the customer waited for nobody.
func TestAssignmentNeedsPresence(t *testing.T) {
	ctx := context.Background()
	srv := testServer(t)
	st := srv.Store
	addInstitutions(t, st, "ins_a")
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	ada := consoleSignIn(t, ts.URL, st, "ins_a", "ada@a.example", store.RoleAgent)
	bo := consoleSignIn(t, ts.URL, st, "ins_a", "bo@a.example", store.RoleAgent)
	sup := consoleSignIn(t, ts.URL, st, "ins_a", "sup@a.example", store.RoleSupervisor)
	id := func(email string) string {
		m, err := st.StaffByEmail(ctx, email)
		fatalIf(t, err)
		return m.ID
	}
	adaID, boID := id("ada@a.example"), id("bo@a.example")
	ask := asker(t, srv)

	if got := ask(); got != "queue" {
		t.Fatalf("two agents signed in, no console open: given to %s, want it to wait in the queue", got)
	}
	openPresence(t, ts.URL, sup, "online") // supervisors are never given work
	if got := ask(); got != "queue" {
		t.Fatalf("only a supervisor online: %s", got)
	}
	adaConsole := openPresence(t, ts.URL, ada, "online")
	if got := ask(); got != adaID {
		t.Fatalf("Ada online: given to %s", got)
	}
	adaConsole.set("away")
	if got := ask(); got != "queue" {
		t.Fatalf("Ada away: given to %s", got)
	}
	boConsole := openPresence(t, ts.URL, bo, "online")
	if got := ask(); got != boID {
		t.Fatalf("Bo online, Ada away: given to %s", got)
	}
	// Bo closes the tab: the stream ends, and so does his presence.
	boConsole.ws.Close(websocket.StatusGoingAway, "")
	awaitAvailable(t, st, "ins_a")
	if got := ask(); got != "queue" {
		t.Fatalf("Bo's console closed: given to %s", got)
	}
	// Ada comes back.
	adaConsole.set("online")
	if got := ask(); got != adaID {
		t.Fatalf("Ada back online: given to %s", got)
	}
	// Bad messages are answered with a typed error and change nothing.
	for _, bad := range []string{`{"type":"status","status":"busy"}`, `not json`, `{"type":"typing"}`} {
		adaConsole.send(bad)
		f, err := adaConsole.frame()
		e, _ := f["error"].(map[string]any)
		if err != nil || f["type"] != "error" || e["code"] == "" || e["message"] == "" {
			t.Fatalf("after %s: %v %v", bad, f, err)
		}
	}
	if got := ask(); got != adaID {
		t.Fatalf("Ada online after bad messages: given to %s", got)
	}
	// Signing out ends every presence of that session at once, before its
	// stream notices.
	req, _ := http.NewRequest("POST", ts.URL+"/console/api/signout", nil)
	req.Header.Set("Cookie", ada.cookie)
	req.Header.Set("X-CSRF-Token", ada.csrf)
	resp, err := http.DefaultClient.Do(req)
	fatalIf(t, err)
	resp.Body.Close()
	if got := ask(); got != "queue" {
		t.Fatalf("Ada signed out: given to %s", got)
	}
	// Without a session there is no presence stream.
	if _, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(ts.URL, "http")+"/console/api/presence", nil); err == nil || resp == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("a presence stream without a session: %v", err)
	}
}

// consoleCall is a console request of a member, with its status and body.
func consoleCall(t *testing.T, baseURL string, s staffSession, method, path, body string) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, baseURL+path, rd)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Cookie", s.cookie)
	req.Header.Set("X-CSRF-Token", s.csrf)
	resp, err := http.DefaultClient.Do(req)
	fatalIf(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

type queueRow struct {
	ID              string     `json:"id"`
	Who             string     `json:"who"`
	Owner           string     `json:"owner"`
	Why             string     `json:"why"`
	Fraud           bool       `json:"fraud"`
	WaitingSince    *time.Time `json:"waiting_since"`
	LastCustomerSeq int64      `json:"last_customer_seq"`
	Labels          []string   `json:"labels"`
	AgentName       string     `json:"agent_name"`
	AgentPresence   string     `json:"agent_presence"`
}

func readQueue(t *testing.T, baseURL string, s staffSession) []queueRow {
	t.Helper()
	code, body := consoleCall(t, baseURL, s, "GET", "/console/api/queue", "")
	var q struct{ Conversations []queueRow }
	if code != http.StatusOK || json.Unmarshal(body, &q) != nil {
		t.Fatalf("queue: %d %s", code, body)
	}
	return q.Conversations
}

// TestQueueOrderWhoAndWhy: the queue names customers by a pseudonym,
// never their email; says why they are there without opening anything;
// and lists the most urgent first: set priority, then fraud-related, then
// customers waiting longest, then those an agent answered last, snoozed
// ones at the end. Previews of what the customer wrote are reads, in the
// customer's access log before they are returned, and only of one's own
// bank's conversations.
func TestQueueOrderWhoAndWhy(t *testing.T) {
	ctx := context.Background()
	srv := testServer(t)
	st := srv.Store
	addInstitutions(t, st, "ins_a", "ins_b")
	// In the order they ask for a person: the first waits longest.
	handedOver(t, srv, "lnk_old", "cus_old", "ins_a", "cnv_old", "support_chat")
	handedOver(t, srv, "lnk_answered", "cus_answered", "ins_a", "cnv_answered", "support_chat")
	handedOver(t, srv, "lnk_new", "cus_new", "ins_a", "cnv_new", "support_chat")
	handedOver(t, srv, "lnk_fraudaaaaaaaaaaaaaaaaaaaaa", "cus_fraud", "ins_a", "cnv_fraud", "support_chat", "fraud_alerts")
	handedOver(t, srv, "lnk_urgent", "cus_urgent", "ins_a", "cnv_urgent", "support_chat")
	handedOver(t, srv, "lnk_snoozed", "cus_snoozed", "ins_a", "cnv_snoozed", "support_chat")
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	ada := consoleSignIn(t, ts.URL, st, "ins_a", "ada@a.example", store.RoleAgent)
	bo := consoleSignIn(t, ts.URL, st, "ins_b", "bo@b.example", store.RoleAgent)

	alert, _ := json.Marshal(map[string]any{"id": "alert-1", "link_id": "lnk_fraudaaaaaaaaaaaaaaaaaaaaa", "type": "fraud.alert", "occurred_at": time.Now().UTC(),
		"data": map[string]any{"transaction": map[string]any{"merchant": map[string]string{"name": "Far Away Shop"}, "amount": map[string]string{"amount": "950.00", "currency": "USD"},
			"at": time.Now().UTC(), "card_last4": "4821"}, "reason": "An unusual purchase", "actions": []map[string]string{{"id": "me", "label": "It was me"}, {"id": "not_me", "label": "Not me"}},
			"expires_at": time.Now().Add(time.Hour).UTC()}})
	res, err := srv.Ingest.Ingest(ctx, "ins_a", []json.RawMessage{alert})
	fatalIf(t, err)
	if res[0].Status != "accepted" {
		t.Fatalf("fraud alert: %+v", res[0].Error)
	}
	_, err = srv.Ingest.Request(ctx, "cus_old", "cnv_old", "human")
	fatalIf(t, err)
	_, err = srv.Ingest.PostCustomerMessage(ctx, "cus_answered", "cnv_answered", ingest.CustomerMessage{Text: "Where is my new card?"})
	fatalIf(t, err)
	_, err = srv.Ingest.PostCustomerMessage(ctx, "cus_new", "cnv_new", ingest.CustomerMessage{Text: "My card was declined at the pharmacy this morning, twice"})
	fatalIf(t, err)
	for _, step := range []struct{ path, body string }{
		{"/console/api/conversations/cnv_answered/take", `{}`},
		{"/console/api/conversations/cnv_answered/messages", `{"text":"Hello, I am looking into it."}`},
		{"/console/api/conversations/cnv_urgent/work", `{"status":"open","priority":2}`},
		{"/console/api/conversations/cnv_snoozed/work", `{"status":"snoozed","priority":2,"snoozed_until":"` + time.Now().Add(time.Hour).UTC().Format(time.RFC3339) + `"}`},
	} {
		if code, body := consoleCall(t, ts.URL, ada, "POST", step.path, step.body); code >= 300 {
			t.Fatalf("%s: %d %s", step.path, code, body)
		}
	}

	q := readQueue(t, ts.URL, ada)
	var order []string
	for _, r := range q {
		order = append(order, r.ID)
	}
	want := []string{"cnv_urgent", "cnv_fraud", "cnv_old", "cnv_new", "cnv_answered", "cnv_snoozed"}
	if !slices.Equal(order, want) {
		t.Fatalf("queue order %v, want %v", order, want)
	}
	byID := map[string]queueRow{}
	for _, r := range q {
		byID[r.ID] = r
		if r.Who == "" || r.Who != console.Pseudonym(r.ID) || strings.Contains(r.Who, "@") {
			t.Errorf("%s is shown as %q", r.ID, r.Who)
		}
	}
	if !byID["cnv_fraud"].Fraud || byID["cnv_old"].Fraud {
		t.Errorf("fraud flags: %+v", q)
	}
	if r := byID["cnv_answered"]; r.WaitingSince != nil || r.AgentName != "ada@a.example" || r.AgentPresence != "offline" {
		t.Errorf("answered by Ada, whose console is closed: %+v", r)
	}
	if r := byID["cnv_new"]; r.WaitingSince == nil || r.Why != "Wrote a message" || r.LastCustomerSeq == 0 {
		t.Errorf("waiting after writing: %+v", r)
	}
	if r := byID["cnv_old"]; r.Why != "Made a request" {
		t.Errorf("waiting after asking for a person: %+v", r)
	}
	if raw, _ := json.Marshal(q); strings.Contains(string(raw), "@example.com") || strings.Contains(string(raw), "pharmacy") {
		t.Errorf("the queue shows a customer's email or words: %s", raw)
	}
	names := map[string]bool{}
	for _, id := range want {
		names[console.Pseudonym(id)] = true
	}
	if console.Pseudonym("cnv_old") != byID["cnv_old"].Who || len(names) < 3 {
		t.Errorf("pseudonyms are not stable, or alike: %v", names)
	}

	// Previews: logged first, one entry per conversation read.
	before, err := st.LogSize(ctx)
	fatalIf(t, err)
	code, body := consoleCall(t, ts.URL, ada, "GET", "/console/api/previews?ids=cnv_new,cnv_old,cnv_answered", "")
	var pv struct {
		Previews []struct{ ID, Text string }
	}
	if code != http.StatusOK || json.Unmarshal(body, &pv) != nil || len(pv.Previews) != 3 {
		t.Fatalf("previews: %d %s", code, body)
	}
	texts := map[string]string{}
	for _, p := range pv.Previews {
		texts[p.ID] = p.Text
	}
	if !strings.Contains(texts["cnv_new"], "declined at the pharmacy") || texts["cnv_old"] != "Asked to talk to a person" || texts["cnv_answered"] != "Where is my new card?" {
		t.Errorf("previews: %v", texts)
	}
	if after, _ := st.LogSize(ctx); after != before+3 {
		t.Errorf("three previews wrote %d access-log entries", after-before)
	}
	// Another bank's agent previews nothing of it, and nothing is logged.
	before, _ = st.LogSize(ctx)
	code, body = consoleCall(t, ts.URL, bo, "GET", "/console/api/previews?ids=cnv_new,cnv_old", "")
	if code != http.StatusOK || strings.Contains(string(body), "pharmacy") || !strings.Contains(string(body), `"previews":[]`) {
		t.Errorf("another bank's previews: %d %s", code, body)
	}
	if after, _ := st.LogSize(ctx); after != before {
		t.Errorf("another bank's previews wrote %d access-log entries", after-before)
	}
	var many []string
	for i := range 51 {
		many = append(many, fmt.Sprintf("cnv_%d", i))
	}
	for _, bad := range []string{"", "?ids=", "?ids=,,", "?ids=" + strings.Join(many, ",")} {
		code, body := consoleCall(t, ts.URL, ada, "GET", "/console/api/previews"+bad, "")
		if code != http.StatusBadRequest || !strings.Contains(string(body), `"code":"invalid_ids"`) {
			t.Errorf("previews%s: %d %s", bad, code, body)
		}
	}
	if n := len(readQueue(t, ts.URL, bo)); n != 0 {
		t.Errorf("another bank's queue shows %d conversations", n)
	}
}

// TestLabelsAndCanned: the bank's people label conversations and filter
// by label; supervisors keep the canned responses. Another bank's members
// get 404, agents 403 for the supervisors' list, bad input a typed error
// that changes nothing.
func TestLabelsAndCanned(t *testing.T) {
	srv := testServer(t)
	st := srv.Store
	addInstitutions(t, st, "ins_a", "ins_b")
	handedOver(t, srv, "lnk_chat", "cus_1", "ins_a", "cnv_chat", "support_chat")
	handedOver(t, srv, "lnk_nochat", "cus_2", "ins_a", "cnv_nochat", "balances")
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	agentA := consoleSignIn(t, ts.URL, st, "ins_a", "agent@a.example", store.RoleAgent)
	superA := consoleSignIn(t, ts.URL, st, "ins_a", "super@a.example", store.RoleSupervisor)
	agentB := consoleSignIn(t, ts.URL, st, "ins_b", "agent@b.example", store.RoleAgent)
	superB := consoleSignIn(t, ts.URL, st, "ins_b", "super@b.example", store.RoleSupervisor)
	labels := func() []string {
		t.Helper()
		for _, r := range readQueue(t, ts.URL, agentA) {
			if r.ID == "cnv_chat" {
				return r.Labels
			}
		}
		t.Fatal("cnv_chat is not in the queue")
		return nil
	}
	steps := []struct {
		who          string
		s            staffSession
		method, path string
		body         string
		want         int
		code         string
	}{
		{"agent of B", agentB, "POST", "/console/api/conversations/cnv_chat/labels", `{"label":"fraud"}`, 404, "not_found"},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_nochat/labels", `{"label":"fraud"}`, 404, "not_found"},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/labels", `{"label":""}`, 400, "invalid_label"},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/labels", `{"label":"<b>bold</b>"}`, 400, "invalid_label"},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/labels", `{"label":"4111 1111 1111 1111"}`, 400, "invalid_label"},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/labels", `{"label":"` + strings.Repeat("x", 33) + `"}`, 400, "invalid_label"},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/labels", `{"label":`, 400, ""},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/labels", `{"label":"  Card   Dispute "}`, 201, ""},
		{"supervisor of A", superA, "POST", "/console/api/conversations/cnv_chat/labels", `{"label":"callback"}`, 201, ""},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/labels", `{"label":"card dispute"}`, 201, ""}, // again: once
		{"agent of B", agentB, "DELETE", "/console/api/conversations/cnv_chat/labels/callback", ``, 404, "not_found"},
		{"agent of A", agentA, "DELETE", "/console/api/conversations/cnv_chat/labels/vip", ``, 404, "label_not_found"},
	}
	for _, step := range steps {
		code, body := consoleCall(t, ts.URL, step.s, step.method, step.path, step.body)
		var e struct {
			Error struct{ Code, Message string }
		}
		json.Unmarshal(body, &e)
		if code != step.want || (step.want >= 400 && (e.Error.Code == "" || e.Error.Message == "")) || (step.code != "" && e.Error.Code != step.code) {
			t.Errorf("%s: %s %s %s → %d %s, want %d %s", step.who, step.method, step.path, step.body, code, body, step.want, step.code)
		}
	}
	if got := labels(); !slices.Equal(got, []string{"callback", "card dispute"}) {
		t.Fatalf("labels: %v", got)
	}
	code, body := consoleCall(t, ts.URL, agentA, "DELETE", "/console/api/conversations/cnv_chat/labels/card%20dispute", "")
	if code != http.StatusOK || !strings.Contains(string(body), `"labels":["callback"]`) {
		t.Fatalf("taking a label off: %d %s", code, body)
	}
	for i := range 9 {
		consoleCall(t, ts.URL, agentA, "POST", "/console/api/conversations/cnv_chat/labels", fmt.Sprintf(`{"label":"l%d"}`, i))
	}
	if code, body := consoleCall(t, ts.URL, agentA, "POST", "/console/api/conversations/cnv_chat/labels", `{"label":"one too many"}`); code != http.StatusConflict || !strings.Contains(string(body), "too_many_labels") {
		t.Fatalf("an eleventh label: %d %s", code, body)
	}
	if n := len(labels()); n != 10 {
		t.Fatalf("%d labels after a refused one", n)
	}

	// Canned responses: supervisors add and delete; agents read; each
	// bank sees its own.
	code, body = consoleCall(t, ts.URL, superA, "POST", "/console/api/canned", `{"title":"Card lost","text":"I have blocked your card. A new one is on its way."}`)
	var created struct{ ID string }
	if code != http.StatusCreated || json.Unmarshal(body, &created) != nil || created.ID == "" {
		t.Fatalf("add a canned response: %d %s", code, body)
	}
	for _, step := range []struct {
		who          string
		s            staffSession
		method, path string
		body         string
		want         int
		code         string
	}{
		{"agent of A", agentA, "POST", "/console/api/canned", `{"title":"Hi","text":"Hello"}`, 403, "supervisors_only"},
		{"agent of A", agentA, "DELETE", "/console/api/canned/" + created.ID, ``, 403, "supervisors_only"},
		{"supervisor of B", superB, "DELETE", "/console/api/canned/" + created.ID, ``, 404, "not_found"},
		{"supervisor of A", superA, "POST", "/console/api/canned", `{"title":"","text":"Hello"}`, 400, "invalid_canned"},
		{"supervisor of A", superA, "POST", "/console/api/canned", `{"title":"Card","text":"Your card 4111 1111 1111 1111"}`, 400, "pan_detected"},
		{"supervisor of A", superA, "DELETE", "/console/api/canned/cnd_none", ``, 404, "not_found"},
	} {
		code, body := consoleCall(t, ts.URL, step.s, step.method, step.path, step.body)
		if code != step.want || !strings.Contains(string(body), `"code":"`+step.code+`"`) {
			t.Errorf("%s: %s %s → %d %s, want %d %s", step.who, step.method, step.path, code, body, step.want, step.code)
		}
	}
	canned := func(s staffSession) []string {
		t.Helper()
		_, body := consoleCall(t, ts.URL, s, "GET", "/console/api/canned", "")
		var out struct{ Canned []struct{ ID, Title string } }
		json.Unmarshal(body, &out)
		var ids []string
		for _, c := range out.Canned {
			ids = append(ids, c.ID)
		}
		return ids
	}
	if got := canned(agentA); !slices.Equal(got, []string{created.ID}) {
		t.Fatalf("agent of A's canned responses: %v", got)
	}
	if got := canned(agentB); len(got) != 0 {
		t.Fatalf("another bank's canned responses: %v", got)
	}
	if code, _ := consoleCall(t, ts.URL, superA, "DELETE", "/console/api/canned/"+created.ID, ""); code != http.StatusNoContent {
		t.Fatalf("delete: %d", code)
	}
	if got := canned(agentA); len(got) != 0 {
		t.Fatalf("after deleting: %v", got)
	}
}
