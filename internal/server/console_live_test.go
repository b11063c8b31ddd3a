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

	"github.com/coder/websocket"
	"github.com/openteller/openteller/internal/console"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
)

// TestConsoleLive: an agent with a conversation open sees what the
// customer writes, and that they are typing, as it happens; each batch is
// in the customer's access log first; disabling the agent or the customer
// revoking the link ends the stream before anything more is sent.
func TestConsoleLive(t *testing.T) {
	ctx := context.Background()
	srv := testServer(t)
	st := srv.Store
	addInstitutions(t, st, "ins_a", "ins_b")
	handedOver(t, srv, "lnk_1", "cus_1", "ins_a", "cnv_1", "support_chat")
	handedOver(t, srv, "lnk_2", "cus_2", "ins_a", "cnv_2", "support_chat")
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	ada := consoleSignIn(t, ts.URL, st, "ins_a", "ada@a.example", store.RoleAgent).cookie
	bo := consoleSignIn(t, ts.URL, st, "ins_b", "bo@b.example", store.RoleAgent).cookie
	follow := func(cookie, conv string) (*websocket.Conn, int) {
		c, _ := st.Conversation(ctx, conv)
		url := "ws" + strings.TrimPrefix(ts.URL, "http") + fmt.Sprintf("/console/api/conversations/%s/live?after=%d", conv, c.LastSeq)
		ws, resp, err := websocket.Dial(ctx, url, &websocket.DialOptions{HTTPHeader: http.Header{"Cookie": {cookie}}})
		if err != nil {
			return nil, resp.StatusCode
		}
		t.Cleanup(func() { ws.CloseNow() })
		return ws, http.StatusSwitchingProtocols
	}
	type frame struct {
		Type   string
		Events []struct {
			Seq    int64
			Author string
			Data   struct{ Text string }
		}
	}
	next := func(ws *websocket.Conn) (frame, error) {
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		_, data, err := ws.Read(ctx)
		var f frame
		if err == nil {
			err = json.Unmarshal(data, &f)
		}
		return f, err
	}
	write := func(conv, text string) {
		cus := strings.Replace(conv, "cnv_", "cus_", 1)
		_, err := srv.Ingest.PostCustomerMessage(ctx, cus, conv, ingest.CustomerMessage{Text: text})
		fatalIf(t, err)
	}

	if _, code := follow(bo, "cnv_1"); code != http.StatusNotFound {
		t.Fatalf("another bank's agent following the conversation: %d", code)
	}
	ws, code := follow(ada, "cnv_1")
	if ws == nil {
		t.Fatalf("following: %d", code)
	}
	logged, err := st.LogSize(ctx)
	fatalIf(t, err)
	write("cnv_1", "Is my card blocked?")
	f, err := next(ws)
	fatalIf(t, err)
	if f.Type != "events" || len(f.Events) != 1 || f.Events[0].Author != "customer" || f.Events[0].Data.Text != "Is my card blocked?" {
		t.Fatalf("the customer's message, live: %+v", f)
	}
	if n, _ := st.LogSize(ctx); n != logged+1 {
		t.Fatalf("access log grew by %d for one live batch, want 1", n-logged)
	}
	fatalIf(t, srv.Bus.CustomerTyping("cnv_1"))
	if f, err := next(ws); err != nil || f.Type != "typing" {
		t.Fatalf("the customer typing: %+v %v", f, err)
	}

	// The customer revokes the link: the stream ends, and the notice of it
	// (or anything after) is not sent to the bank's people.
	_, err = srv.Consent.Revoke(ctx, store.Revocation{LinkID: "lnk_1", CustomerID: "cus_1", At: time.Now()})
	fatalIf(t, err)
	f, err = next(ws)
	if got := websocket.CloseStatus(err); got != console.CloseNotShared {
		t.Fatalf("after revocation: frame %+v, close %d (%v), want close %d", f, got, err, console.CloseNotShared)
	}

	// Ada is disabled mid-stream: neither that the customer types nor
	// their next message is sent to her, and the stream says she is
	// signed out.
	ws, code = follow(ada, "cnv_2")
	if ws == nil {
		t.Fatalf("following: %d", code)
	}
	m, err := st.StaffByEmail(ctx, "ada@a.example")
	fatalIf(t, err)
	fatalIf(t, st.DisableStaff(ctx, "ins_a", m.ID, time.Now()))
	logged, err = st.LogSize(ctx)
	fatalIf(t, err)
	fatalIf(t, srv.Bus.CustomerTyping("cnv_2"))
	write("cnv_2", "Hello?")
	f, err = next(ws)
	if got := websocket.CloseStatus(err); got != console.CloseSignedOut {
		t.Fatalf("after disabling: frame %+v, close %d (%v), want close %d", f, got, err, console.CloseSignedOut)
	}
	if n, _ := st.LogSize(ctx); n != logged {
		t.Fatalf("a disabled agent's stream logged %d reads", n-logged)
	}
}
