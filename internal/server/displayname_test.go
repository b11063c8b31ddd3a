package server_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/console"
	"github.com/openteller/openteller/internal/store"
)

// TestConsoleSeesSharedName: a name a customer shows their bank's people
// is, in the queue and in search, only a time (name_set_at): listing
// opens nothing and is no read. The name itself comes from
// /console/api/names, one access-log entry (record display_name) per
// customer before it is returned; never another bank's, never for a
// customer who shows none, and the pseudonym stays. Removed, the queue
// and the names say so at once.
func TestConsoleSeesSharedName(t *testing.T) {
	ctx := context.Background()
	srv := testServer(t)
	st := srv.Store
	addInstitutions(t, st, "ins_a", "ins_b")
	handedOver(t, srv, "lnk_named", "cus_named", "ins_a", "cnv_named", "support_chat")
	handedOver(t, srv, "lnk_plain", "cus_plain", "ins_a", "cnv_plain", "support_chat")
	ts := httptest.NewServer(srv.Handler())
	defer ts.Close()
	ada := consoleSignIn(t, ts.URL, st, "ins_a", "ada@a.example", store.RoleAgent)
	bo := consoleSignIn(t, ts.URL, st, "ins_b", "bo@b.example", store.RoleAgent)
	if _, err := srv.Consent.SetDisplayName(ctx, "cus_named", "lnk_named", "Sam"); err != nil {
		t.Fatal(err)
	}

	type row struct {
		ID        string     `json:"id"`
		Who       string     `json:"who"`
		NameSetAt *time.Time `json:"name_set_at"`
	}
	rows := func(path string) map[string]row {
		t.Helper()
		code, body := consoleCall(t, ts.URL, ada, "GET", path, "")
		var q struct{ Conversations []row }
		if code != http.StatusOK || json.Unmarshal(body, &q) != nil {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		if strings.Contains(string(body), "Sam") {
			t.Errorf("%s shows the name: %s", path, body)
		}
		out := map[string]row{}
		for _, r := range q.Conversations {
			out[r.ID] = r
		}
		return out
	}
	before, _ := st.LogSize(ctx)
	q := rows("/console/api/queue")
	if r := q["cnv_named"]; r.NameSetAt == nil || r.Who != console.Pseudonym("cnv_named") {
		t.Errorf("the named customer's row: %+v", r)
	}
	if r := q["cnv_plain"]; r.NameSetAt != nil || r.Who != console.Pseudonym("cnv_plain") {
		t.Errorf("the other customer's row: %+v", r)
	}
	if r := rows("/console/api/search?q=lnk_named")["cnv_named"]; r.NameSetAt == nil {
		t.Errorf("the search result: %+v", r)
	}
	if after, _ := st.LogSize(ctx); after != before {
		t.Errorf("listing wrote %d access-log entries", after-before)
	}

	names := func(s staffSession, ids string) []struct{ ID, Name string } {
		t.Helper()
		code, body := consoleCall(t, ts.URL, s, "GET", "/console/api/names?ids="+ids, "")
		var out struct{ Names []struct{ ID, Name string } }
		if code != http.StatusOK || json.Unmarshal(body, &out) != nil {
			t.Fatalf("names: %d %s", code, body)
		}
		return out.Names
	}
	if got := names(ada, "cnv_named,cnv_plain,cnv_named,cnv_none"); len(got) != 1 || got[0].ID != "cnv_named" || got[0].Name != "Sam" {
		t.Fatalf("names: %+v", got)
	}
	if after, _ := st.LogSize(ctx); after != before+1 {
		t.Fatalf("one name read wrote %d access-log entries", after-before)
	}
	h, err := srv.Access.History(ctx, "cus_named", 0)
	fatalIf(t, err)
	if last := h.Entries[len(h.Entries)-1].Entry; last.ActorKind != "agent" || last.RecordKind != "display_name" || last.Action != "read" {
		t.Errorf("the read in the customer's access history: %+v", last)
	}
	if h, _ := srv.Access.History(ctx, "cus_plain", 0); len(h.Entries) != 0 {
		t.Errorf("a customer who shows no name has reads: %+v", h.Entries)
	}
	// Another bank's agent: nothing, and nothing logged.
	before, _ = st.LogSize(ctx)
	if got := names(bo, "cnv_named"); len(got) != 0 {
		t.Errorf("another bank's agent reads %+v", got)
	}
	if after, _ := st.LogSize(ctx); after != before {
		t.Errorf("another bank's agent wrote %d access-log entries", after-before)
	}
	for _, bad := range []string{"", ",", strings.Repeat("cnv_x,", 51)} {
		code, body := consoleCall(t, ts.URL, ada, "GET", "/console/api/names?ids="+bad, "")
		if code != http.StatusBadRequest || !strings.Contains(string(body), `"code":"invalid_ids"`) {
			t.Errorf("names?ids=%s: %d %s", bad, code, body)
		}
	}

	// Removed: the pseudonym alone.
	fatalIf(t, srv.Consent.RemoveDisplayName(ctx, "cus_named", "lnk_named"))
	if r := rows("/console/api/queue")["cnv_named"]; r.NameSetAt != nil {
		t.Errorf("after removing, the row: %+v", r)
	}
	if got := names(ada, "cnv_named"); len(got) != 0 {
		t.Errorf("after removing, names: %+v", got)
	}
}
