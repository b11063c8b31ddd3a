package server_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/console"
	"github.com/openteller/openteller/internal/handover"
	"github.com/openteller/openteller/internal/store"
)

// TestConsoleAuthorization is the matrix the support issue asks for: every
// console endpoint × role × own or other institution × link with or without
// support_chat, and what each may do.
func TestConsoleAuthorization(t *testing.T) {
	ctx := context.Background()
	srv := testServer(t)
	st := srv.Store
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	addInstitutions(t, st, "ins_a", "ins_b")
	handedOver(t, srv, "lnk_chat", "cus_1", "ins_a", "cnv_chat", "support_chat", "balances")
	handedOver(t, srv, "lnk_nochat", "cus_2", "ins_a", "cnv_nochat", "balances")

	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	type session = staffSession
	signIn := func(inst, email, role string) session { return consoleSignIn(t, ts.URL, st, inst, email, role) }
	agentA := signIn("ins_a", "agent@a.example", store.RoleAgent)
	otherA := signIn("ins_a", "other@a.example", store.RoleAgent)
	superA := signIn("ins_a", "super@a.example", store.RoleSupervisor)
	agentB := signIn("ins_b", "agent@b.example", store.RoleAgent)
	do := func(s session, method, path string, body ...string) int {
		b := `{"text":"hello from the bank"}`
		if len(body) > 0 {
			b = body[0]
		}
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cookie", s.cookie)
		req.Header.Set("X-CSRF-Token", s.csrf)
		resp, err := http.DefaultClient.Do(req)
		must(err)
		resp.Body.Close()
		return resp.StatusCode
	}
	conv := func(c, action string) (string, string) {
		if action == "events" {
			return "GET", "/console/api/conversations/" + c + "/events"
		}
		return "POST", "/console/api/conversations/" + c + "/" + action
	}
	steps := []struct {
		who    string
		s      session
		conv   string
		action string
		want   int
	}{
		// Another institution's people, and a link without support_chat:
		// nothing, as if it did not exist.
		{"agent of B", agentB, "cnv_chat", "events", 404},
		{"agent of B", agentB, "cnv_chat", "take", 404},
		{"agent of B", agentB, "cnv_chat", "messages", 404},
		{"agent of B", agentB, "cnv_chat", "return", 404},
		{"agent of A", agentA, "cnv_nochat", "events", 404},
		{"agent of A", agentA, "cnv_nochat", "take", 404},
		{"agent of A", agentA, "cnv_nochat", "messages", 404},
		{"supervisor of A", superA, "cnv_nochat", "events", 404},
		// Own institution, support_chat granted.
		{"agent of A", agentA, "cnv_chat", "events", 200},
		{"agent of A", agentA, "cnv_chat", "messages", 409}, // not taken yet
		{"agent of A", agentA, "cnv_chat", "return", 409},   // nobody has it
		{"agent of A", agentA, "cnv_chat", "take", 200},
		{"agent of A", agentA, "cnv_chat", "messages", 201},
		{"another agent of A", otherA, "cnv_chat", "take", 409},
		{"another agent of A", otherA, "cnv_chat", "messages", 409},
		{"another agent of A", otherA, "cnv_chat", "return", 409},
		{"supervisor of A", superA, "cnv_chat", "take", 200}, // reassigns to themself
		{"agent of A", agentA, "cnv_chat", "messages", 409},  // no longer theirs
		{"supervisor of A", superA, "cnv_chat", "messages", 201},
		{"supervisor of A", superA, "cnv_chat", "return", 200},
	}
	for _, step := range steps {
		method, path := conv(step.conv, step.action)
		if got := do(step.s, method, path); got != step.want {
			t.Errorf("%s: %s %s → %d, want %d", step.who, method, path, got, step.want)
		}
	}
	// Working a conversation, notes and canned responses.
	work := []struct {
		who          string
		s            session
		method, path string
		body         string
		want         int
	}{
		{"agent of B", agentB, "POST", "/console/api/conversations/cnv_chat/work", `{"status":"pending"}`, 404},
		{"agent of B", agentB, "GET", "/console/api/conversations/cnv_chat/context", ``, 404},
		{"agent of B", agentB, "GET", "/console/api/conversations/cnv_chat/live?after=0", ``, 404},
		{"agent of B", agentB, "POST", "/console/api/conversations/cnv_chat/typing", `{}`, 404},
		{"agent of A", agentA, "GET", "/console/api/conversations/cnv_nochat/live?after=0", ``, 404},
		{"agent of A", agentA, "GET", "/console/api/conversations/cnv_chat/live?after=-1", ``, 400},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/typing", `{}`, 409},    // not theirs yet
		{"agent of A", agentA, "GET", "/console/api/conversations/cnv_chat/live?after=0", ``, 426}, // a WebSocket, or nothing
		{"agent of A", agentA, "GET", "/console/api/conversations/cnv_nochat/context", ``, 404},
		{"another agent of A", otherA, "GET", "/console/api/conversations/cnv_chat/context", ``, 200},
		{"agent of B", agentB, "GET", "/console/api/conversations/cnv_chat/notes", ``, 404},
		{"agent of B", agentB, "POST", "/console/api/conversations/cnv_chat/notes", `{"text":"x"}`, 404},
		{"agent of A", agentA, "GET", "/console/api/conversations/cnv_nochat/notes", ``, 404},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/take", `{}`, 200},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/typing", `{}`, 204},
		{"another agent of A", otherA, "POST", "/console/api/conversations/cnv_chat/typing", `{}`, 409},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/work", `{"status":"sleeping"}`, 400},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/work", `{"status":"snoozed","snoozed_until":"2000-01-01T00:00:00Z"}`, 400},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/work", `{"status":"pending","priority":2}`, 204},
		{"another agent of A", otherA, "POST", "/console/api/conversations/cnv_chat/work", `{"status":"resolved"}`, 409},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/notes", `{"text":"Customer prefers email"}`, 201},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/notes", `{"text":"card 4111 1111 1111 1111"}`, 400},
		{"another agent of A", otherA, "GET", "/console/api/conversations/cnv_chat/notes", ``, 200},
		{"agent of A", agentA, "POST", "/console/api/canned", `{"title":"Hello","text":"How can I help?"}`, 403},
		{"supervisor of A", superA, "POST", "/console/api/canned", `{"title":"Hello","text":"How can I help?"}`, 201},
		{"agent of A", agentA, "GET", "/console/api/canned", ``, 200},
		{"agent of A", agentA, "POST", "/console/api/conversations/cnv_chat/work", `{"status":"resolved"}`, 204},
	}
	for _, step := range work {
		if got := do(step.s, step.method, step.path, step.body); got != step.want {
			t.Errorf("%s: %s %s %s → %d, want %d", step.who, step.method, step.path, step.body, got, step.want)
		}
	}
	if c, _ := st.Conversation(ctx, "cnv_chat"); c.Owner != "bot" || c.Status != store.StatusResolved {
		t.Errorf("after resolving: owner %q status %q, want the bot and resolved", c.Owner, c.Status)
	}
	// Resolving asked the customer for a rating.
	evs, _ := st.EventsAfter(ctx, "cnv_chat", 0, 100)
	if last := evs[len(evs)-1]; last.Type != "rating.request" {
		t.Errorf("after resolving, the last event is %s, want rating.request", last.Type)
	}
	// Figures: supervisors only, and from what happened.
	if got := do(agentA, "GET", "/console/api/metrics"); got != http.StatusForbidden {
		t.Errorf("an agent reading the team's figures: %d", got)
	}
	req0, _ := http.NewRequest("GET", ts.URL+"/console/api/metrics", nil)
	req0.Header.Set("Cookie", superA.cookie)
	resp0, err := http.DefaultClient.Do(req0)
	must(err)
	var figs struct {
		Agents []struct {
			AgentID         string `json:"agent_id"`
			Conversations   int
			FirstResponseMs int64 `json:"first_response_ms"`
		}
	}
	json.NewDecoder(resp0.Body).Decode(&figs)
	resp0.Body.Close()
	if resp0.StatusCode != 200 || len(figs.Agents) < 2 {
		t.Errorf("figures: %d %+v", resp0.StatusCode, figs)
	}
	// Agent B sees none of A's canned responses.
	req, _ := http.NewRequest("GET", ts.URL+"/console/api/canned", nil)
	req.Header.Set("Cookie", agentB.cookie)
	resp, err := http.DefaultClient.Do(req)
	must(err)
	var canned struct{ Canned []struct{ Title string } }
	json.NewDecoder(resp.Body).Decode(&canned)
	resp.Body.Close()
	if len(canned.Canned) != 0 {
		t.Errorf("another bank's canned responses: %+v", canned)
	}
	// Queues show only the institution's conversations with support_chat.
	for who, s := range map[string]session{"agent of A": agentA, "agent of B": agentB} {
		req, _ := http.NewRequest("GET", ts.URL+"/console/api/queue", nil)
		req.Header.Set("Cookie", s.cookie)
		resp, err := http.DefaultClient.Do(req)
		must(err)
		var q struct{ Conversations []struct{ ID string } }
		json.NewDecoder(resp.Body).Decode(&q)
		resp.Body.Close()
		for _, c := range q.Conversations {
			if c.ID != "cnv_chat" || who == "agent of B" {
				t.Errorf("%s's queue shows %s", who, c.ID)
			}
		}
	}
	// Writes need the CSRF token; a disabled member is signed out at once.
	req, _ = http.NewRequest("POST", ts.URL+"/console/api/conversations/cnv_chat/take", nil)
	req.Header.Set("Cookie", agentA.cookie)
	resp, _ = http.DefaultClient.Do(req)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Errorf("a write without the CSRF token: %d", resp.StatusCode)
	}
	// Wrong passwords lock the email after a few tries, right one included.
	codes := []int{}
	for range 7 {
		resp, err := http.Post(ts.URL+"/console/api/signin", "application/json", strings.NewReader(`{"email":"other@a.example","password":"guess"}`))
		must(err)
		resp.Body.Close()
		codes = append(codes, resp.StatusCode)
	}
	if codes[0] != http.StatusUnauthorized || codes[len(codes)-1] != http.StatusTooManyRequests {
		t.Errorf("repeated wrong passwords: %v", codes)
	}
	m, err := st.StaffByEmail(ctx, "agent@a.example")
	must(err)
	must(st.DisableStaff(ctx, "ins_a", m.ID, now))
	if got := do(agentA, "GET", "/console/api/me"); got != http.StatusUnauthorized {
		t.Errorf("a disabled member's session: %d", got)
	}
}

// TestRoundRobinAndSearch: conversations entering the queue go to the
// agents present (signed in, console online) in turn; nobody there leaves
// them waiting. Search finds a conversation by the customer's reference,
// only in one's own bank.
func TestRoundRobinAndSearch(t *testing.T) {
	ctx := context.Background()
	srv := testServer(t)
	st := srv.Store
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	now := time.Now()
	must(st.CreateInstitution(ctx, store.Institution{ID: "ins_a", Name: "A", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: now}))
	ask := func(n int) string {
		cus, conv := fmt.Sprintf("cus_%d", n), fmt.Sprintf("cnv_%d", n)
		must(st.CreateCustomer(ctx, store.Customer{ID: cus, Email: cus + "@example.com", PasswordHash: "x", CreatedAt: now}))
		l := store.Link{ID: fmt.Sprintf("lnk_ref%04d", n), CustomerID: cus, InstitutionID: "ins_a", ConversationID: conv, Scopes: []string{"support_chat"}, Status: store.LinkActive, CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
		_, err := st.CreateLink(ctx, l, consent.GrantReceipt(l, "d"))
		must(err)
		_, _, err = srv.Handover.Apply(ctx, conv, handover.Request{Trigger: handover.CustomerAsks})
		must(err)
		c, _ := st.Conversation(ctx, conv)
		return c.Owner + ":" + c.AgentID
	}
	if got := ask(1); got != "queue:" {
		t.Fatalf("with nobody signed in: %s", got)
	}
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	var ids []string
	for _, email := range []string{"ada@a.example", "bo@a.example"} {
		m, password, err := console.NewStaff(ctx, st, "ins_a", email, email, store.RoleAgent, now)
		must(err)
		ids = append(ids, m.ID)
		se, code := consoleSignInAs(t, ts.URL, email, password)
		if code != http.StatusOK {
			t.Fatalf("sign in %s: %d", email, code)
		}
		openPresence(t, ts.URL, se, "online") // their console is open
	}
	got := map[string]int{}
	for n := 2; n <= 5; n++ {
		owner := ask(n)
		if !strings.HasPrefix(owner, "agent:") {
			t.Fatalf("conversation %d: %s", n, owner)
		}
		got[strings.TrimPrefix(owner, "agent:")]++
		time.Sleep(2 * time.Millisecond) // assignments get distinct times
	}
	if got[ids[0]] != 2 || got[ids[1]] != 2 {
		t.Fatalf("round robin gave %v", got)
	}
	// Search, as Ada.
	m, password, err := console.NewStaff(ctx, st, "ins_a", "sup@a.example", "Sup", store.RoleSupervisor, now)
	must(err)
	_ = m
	resp, err := http.Post(ts.URL+"/console/api/signin", "application/json", strings.NewReader(fmt.Sprintf(`{"email":"sup@a.example","password":%q}`, password)))
	must(err)
	var cookie string
	for _, c := range resp.Cookies() {
		cookie = c.Name + "=" + c.Value
	}
	resp.Body.Close()
	search := func(q string) (int, int) {
		req, _ := http.NewRequest("GET", ts.URL+"/console/api/search?q="+q, nil)
		req.Header.Set("Cookie", cookie)
		resp, err := http.DefaultClient.Do(req)
		must(err)
		defer resp.Body.Close()
		var out struct{ Conversations []struct{ ID string } }
		json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, len(out.Conversations)
	}
	if code, n := search("ref0003"); code != 200 || n != 1 {
		t.Fatalf("search ref0003: %d, %d found", code, n)
	}
	if code, n := search("ref000"); code != 200 || n != 5 {
		t.Fatalf("search ref000: %d, %d found", code, n)
	}
	if code, _ := search("lnk_"); code != 400 {
		t.Fatalf("a search for the prefix every reference has: %d", code)
	}
	if code, _ := search("ab"); code != 400 {
		t.Fatalf("a two-letter search: %d", code)
	}
	if code, n := search("nomatch"); code != 200 || n != 0 {
		t.Fatalf("search nomatch: %d, %d", code, n)
	}
}

// TestConsolePassword: a member changes their password with the current
// one; their other console sessions end, this one goes on, and only the new
// password signs in.
func TestConsolePassword(t *testing.T) {
	ctx := context.Background()
	srv := testServer(t)
	addInstitutions(t, srv.Store, "ins_a")
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	_, password, err := console.NewStaff(ctx, srv.Store, "ins_a", "ada@a.example", "Ada", store.RoleAgent, time.Now())
	fatalIf(t, err)
	signIn := func(pw string) (staffSession, int) { return consoleSignInAs(t, ts.URL, "ada@a.example", pw) }
	do := func(s staffSession, method, path, body string) int {
		req, _ := http.NewRequest(method, ts.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Cookie", s.cookie)
		req.Header.Set("X-CSRF-Token", s.csrf)
		resp, err := http.DefaultClient.Do(req)
		fatalIf(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}
	here, _ := signIn(password)
	there, _ := signIn(password)
	for _, step := range []struct {
		body string
		want int
	}{
		{`{"current":"a guess","new":"a long new password"}`, http.StatusForbidden},
		{fmt.Sprintf(`{"current":%q,"new":"short"}`, password), http.StatusBadRequest},
		{fmt.Sprintf(`{"current":%q,"new":"a long new password"}`, password), http.StatusNoContent},
	} {
		if got := do(here, "POST", "/console/api/password", step.body); got != step.want {
			t.Fatalf("change with %s: %d, want %d", step.body, got, step.want)
		}
	}
	if got := do(here, "GET", "/console/api/me", ""); got != http.StatusOK {
		t.Errorf("the console that changed it: %d", got)
	}
	if got := do(there, "GET", "/console/api/me", ""); got != http.StatusUnauthorized {
		t.Errorf("another console after the change: %d", got)
	}
	if _, code := signIn(password); code != http.StatusUnauthorized {
		t.Errorf("the old password: %d", code)
	}
	if _, code := signIn("a long new password"); code != http.StatusOK {
		t.Errorf("the new password: %d", code)
	}
}
