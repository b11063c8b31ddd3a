package consent_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/internal/consent"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// errCode is the typed error's code, or "" for nil or another error.
func errCode(err error) string {
	var e *httpx.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

// TestDisplayNameIsChecked: a name is trimmed and kept with 1 to 40
// characters, in any script; empty, longer, multi-line, with a control or
// a bidirectional control character, or holding a card number, it is
// refused with a typed error.
func TestDisplayNameIsChecked(t *testing.T) {
	for in, want := range map[string]string{
		"  Sam  ":                 "Sam",
		"Renée Ó Súilleabháin":    "Renée Ó Súilleabháin",
		"山田 花子":                   "山田 花子",
		"Sam 🙂":                   "Sam 🙂",
		strings.Repeat("é", 40):   strings.Repeat("é", 40),
		"Call me 4111 then later": "Call me 4111 then later", // four digits are no card number
	} {
		got, err := consent.CheckDisplayName(in)
		if err != nil || got != want {
			t.Errorf("%q: %q %v, want %q", in, got, err, want)
		}
	}
	for in, code := range map[string]string{
		"":                        "invalid_name",
		"   ":                     "invalid_name",
		strings.Repeat("a", 41):   "invalid_name",
		"Sam\nSmith":              "invalid_name",
		"Sam\tSmith":              "invalid_name",
		"Sam\x00":                 "invalid_name",
		"Sam\u0085Smith":          "invalid_name", // NEL, a C1 control
		"Sam\u2028Smith":          "invalid_name",
		"\u202eSam":               "invalid_name", // right-to-left override
		"Sam\u2066x\u2069":        "invalid_name",
		"Sam\xff":                 "invalid_name",
		"4111 1111 1111 1111":     "pan_detected",
		"Sam 4111-1111-1111-1111": "pan_detected",
		"Sam４１１１１１１１１１１１１１１１": "pan_detected", // full-width digits
	} {
		if _, err := consent.CheckDisplayName(in); errCode(err) != code {
			t.Errorf("%q: %v, want %s", in, err, code)
		}
	}
}

// nameRig is a rig with the customer's routes mounted (X-Customer stands
// in for the session) and two links of cus_1's with support_chat, to
// Cedar Bank and Birch Bank.
type nameRig struct {
	*rig
	mux          *http.ServeMux
	cedar, birch store.Link
}

func newNameRig(t *testing.T) *nameRig {
	r := &nameRig{rig: newRig(t), mux: http.NewServeMux()}
	ctx := context.Background()
	r.customer("cus_1")
	r.customer("cus_2")
	r.must(r.st.CreateInstitution(ctx, store.Institution{ID: "ins_2", Name: "Birch Bank", AuthorizeURL: "x", TokenURL: "x", ClientID: "x", CreatedAt: r.now}))
	r.cedar = r.link("cus_1", []string{"support_chat", "balances"}, r.now.Add(time.Hour))
	birch := store.Link{ID: ingest.NewID("lnk_"), CustomerID: "cus_1", InstitutionID: "ins_2", ConversationID: "cnv_birch",
		Scopes: []string{"support_chat"}, Status: store.LinkActive, CreatedAt: r.now, ExpiresAt: r.now.Add(time.Hour)}
	birch, err := r.st.CreateLink(ctx, birch, consent.GrantReceipt(birch, "digest"))
	r.must(err)
	r.birch = birch
	require := func(h http.Handler) http.Handler { return h }
	customerOf := func(req *http.Request) (string, bool) { return req.Header.Get("X-Customer"), true }
	r.svc.RegisterCustomer(r.mux, require, customerOf, r.rec)
	return r
}

// call makes a request as the customer and returns the status and body.
func (r *nameRig) call(customerID, method, path, body string) (int, string) {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("X-Customer", customerID)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	r.mux.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// shown is what GET /app/api/links says each of the customer's links
// shows, by link id.
func (r *nameRig) shown(customerID string) map[string]string {
	r.t.Helper()
	code, body := r.call(customerID, "GET", "/app/api/links", "")
	var out struct {
		Links []struct {
			ID          string `json:"id"`
			DisplayName string `json:"display_name"`
		} `json:"links"`
	}
	if code != http.StatusOK || json.Unmarshal([]byte(body), &out) != nil {
		r.t.Fatalf("links: %d %s", code, body)
	}
	got := map[string]string{}
	for _, l := range out.Links {
		if l.DisplayName != "" {
			got[l.ID] = l.DisplayName
		}
	}
	return got
}

// receipts counts the customer's receipts of the action.
func (r *nameRig) receipts(customerID, action string) int {
	r.t.Helper()
	rs, err := r.st.Receipts(context.Background(), customerID)
	r.must(err)
	n := 0
	for _, rc := range rs {
		if rc.Action == action {
			n++
		}
	}
	return n
}

// TestDisplayNameRequests: the customer shows a name to one bank's people
// and not another's, changes it and removes it, each with a receipt that
// holds no name; the store holds it sealed. Bad input, another customer's
// link and a link without support chat get typed errors and change
// nothing.
func TestDisplayNameRequests(t *testing.T) {
	r := newNameRig(t)
	ctx := context.Background()
	path := "/app/api/links/" + r.cedar.ID + "/display-name"
	for _, bad := range []struct{ customer, body, code string }{
		{"cus_1", `{"name":"   "}`, "invalid_name"},
		{"cus_1", `{"name":"Sam\u202e"}`, "invalid_name"},
		{"cus_1", `{"name":"` + strings.Repeat("x", 41) + `"}`, "invalid_name"},
		{"cus_1", `{"name":"4111 1111 1111 1111"}`, "pan_detected"},
		{"cus_1", `{"name":"Sam","nickname":"S"}`, "invalid_json"},
		{"cus_1", `"Sam"`, "invalid_json"},
		{"cus_2", `{"name":"Sam"}`, "unknown_link"},
	} {
		code, body := r.call(bad.customer, "PUT", path, bad.body)
		if code < 400 || !strings.Contains(body, `"code":"`+bad.code+`"`) {
			t.Errorf("%s %s: %d %s, want %s", bad.customer, bad.body, code, body, bad.code)
		}
	}
	if code, body := r.call("cus_1", "PUT", "/app/api/links/lnk_nobody/display-name", `{"name":"Sam"}`); code != http.StatusNotFound {
		t.Errorf("an unknown link: %d %s", code, body)
	}
	if got := r.shown("cus_1"); len(got) != 0 || r.receipts("cus_1", store.ReceiptShareName) != 0 {
		t.Fatalf("refused requests kept %v", got)
	}

	sent := func(body string) {
		t.Helper()
		code, resp := r.call("cus_1", "PUT", path, body)
		if code != http.StatusOK {
			t.Fatalf("PUT %s: %d %s", body, code, resp)
		}
	}
	sent(`{"name":"  Sam  "}`)
	if got := r.shown("cus_1"); len(got) != 1 || got[r.cedar.ID] != "Sam" {
		t.Fatalf("after sharing with Cedar Bank, the links show %v", got)
	}
	ns, err := r.st.DisplayNames(ctx, []string{r.cedar.ID, r.birch.ID})
	r.must(err)
	if len(ns) != 1 || bytes.Contains(ns[0].Sealed, []byte("Sam")) {
		t.Fatalf("stored: %+v", ns)
	}
	if r.receipts("cus_1", store.ReceiptShareName) != 1 {
		t.Fatal("no receipt for sharing a name")
	}
	sent(`{"name":"Sam"}`) // the same again: nothing new
	if r.receipts("cus_1", store.ReceiptShareName) != 1 {
		t.Fatal("the same name again made another receipt")
	}
	sent(`{"name":"Samantha"}`)
	if got := r.shown("cus_1"); got[r.cedar.ID] != "Samantha" || r.receipts("cus_1", store.ReceiptShareName) != 2 {
		t.Fatalf("after a change: %v", got)
	}
	rs, err := r.st.Receipts(ctx, "cus_1")
	r.must(err)
	for _, rc := range rs {
		if raw, _ := json.Marshal(consent.Kantara(rc, "Cedar Bank", "https://ot.example")); bytes.Contains(raw, []byte("Sam")) {
			t.Errorf("a receipt holds the name: %s", raw)
		}
	}

	// Without support chat the bank's people never see the conversation.
	_, err = r.svc.Narrow(ctx, "cus_1", r.birch.ID, nil)
	if errCode(err) != "widen_via_bank" {
		t.Fatalf("narrowing to nothing: %v", err)
	}
	noChat := r.link("cus_2", []string{"balances"}, r.now.Add(time.Hour))
	if code, body := r.call("cus_2", "PUT", "/app/api/links/"+noChat.ID+"/display-name", `{"name":"Bo"}`); code != http.StatusConflict || !strings.Contains(body, "no_support_chat") || !strings.Contains(body, "Cedar Bank") {
		t.Errorf("a link without support chat: %d %s", code, body)
	}

	// Removing: the pseudonym again, with a receipt; removing none is
	// no change, and no receipt.
	if code, body := r.call("cus_2", "DELETE", path, ""); code != http.StatusNotFound {
		t.Errorf("another customer removes it: %d %s", code, body)
	}
	for range 2 {
		if code, body := r.call("cus_1", "DELETE", path, ""); code != http.StatusNoContent {
			t.Fatalf("remove: %d %s", code, body)
		}
	}
	if got := r.shown("cus_1"); len(got) != 0 || r.receipts("cus_1", store.ReceiptUnshareName) != 1 {
		t.Fatalf("after removing: %v, %d unshare receipts", got, r.receipts("cus_1", store.ReceiptUnshareName))
	}
}

// TestDisplayNameIsPerLink: a name shown to Cedar Bank's people says
// nothing to Birch Bank's; each link has its own, and the other
// customer's are theirs.
func TestDisplayNameIsPerLink(t *testing.T) {
	r := newNameRig(t)
	ctx := context.Background()
	_, err := r.svc.SetDisplayName(ctx, "cus_1", r.cedar.ID, "Sam")
	r.must(err)
	if got := r.shown("cus_1"); len(got) != 1 || got[r.cedar.ID] != "Sam" {
		t.Fatalf("one bank: %v", got)
	}
	_, err = r.svc.SetDisplayName(ctx, "cus_1", r.birch.ID, "Samantha B.")
	r.must(err)
	theirs := r.link("cus_2", []string{"support_chat"}, r.now.Add(time.Hour))
	_, err = r.svc.SetDisplayName(ctx, "cus_2", theirs.ID, "Bo")
	r.must(err)
	if got := r.shown("cus_1"); len(got) != 2 || got[r.cedar.ID] != "Sam" || got[r.birch.ID] != "Samantha B." {
		t.Fatalf("two banks: %v", got)
	}
	if got := r.shown("cus_2"); len(got) != 1 || got[theirs.ID] != "Bo" {
		t.Fatalf("the other customer: %v", got)
	}
	// Each is sealed under its own conversation's key: one does not open
	// as the other's.
	ns, err := r.st.DisplayNames(ctx, []string{r.cedar.ID, r.birch.ID})
	r.must(err)
	if len(ns) != 2 {
		t.Fatalf("stored: %+v", ns)
	}
	moved := ns[0]
	moved.LinkID = ns[1].LinkID
	if _, err := r.kr.Open(ctx, vault.ConversationKey(ns[1].CustomerID, ns[1].InstitutionID), moved.Record(), moved.Sealed); err == nil {
		t.Error("a name opens as another link's")
	}
}

// TestDisplayNameGoesWithTheHistory: clearing a bank's history deletes the
// name shown to its people (its key is destroyed), and disconnecting the
// bank deletes it too; the other bank's stays. A node that still holds
// the destroyed key seals the next name again under the new one.
func TestDisplayNameGoesWithTheHistory(t *testing.T) {
	r := newNameRig(t)
	ctx := context.Background()
	other, err := vault.New(bytes.Repeat([]byte{5}, 32), r.st) // another node, over the same store
	r.must(err)
	otherNode := consent.New(consent.Config{Store: r.st, Keyring: other, Bus: r.bus, Now: func() time.Time { return r.now }})
	_, err = otherNode.SetDisplayName(ctx, "cus_1", r.cedar.ID, "Sam") // the other node now holds Cedar's key
	r.must(err)
	_, err = r.svc.SetDisplayName(ctx, "cus_1", r.birch.ID, "Sam B.")
	r.must(err)
	ns, err := r.st.DisplayNames(ctx, []string{r.cedar.ID})
	r.must(err)
	sealed := ns[0]

	if _, err := r.svc.ClearHistory(ctx, "cus_1", r.cedar.InstitutionID); err != nil {
		t.Fatal(err)
	}
	if got := r.shown("cus_1"); len(got) != 1 || got[r.birch.ID] != "Sam B." {
		t.Fatalf("after clearing Cedar Bank's history: %v", got)
	}
	if _, err := r.kr.Open(ctx, vault.ConversationKey("cus_1", r.cedar.InstitutionID), sealed.Record(), sealed.Sealed); err == nil {
		t.Error("a copy of the name taken before the clearing still opens")
	}
	// The other node missed the news (no subscription here): its first
	// seal is refused as stale, and it seals again.
	if _, err := otherNode.SetDisplayName(ctx, "cus_1", r.cedar.ID, "Sam again"); err != nil {
		t.Fatalf("sharing anew from a node with the old key: %v", err)
	}
	if got := r.shown("cus_1"); got[r.cedar.ID] != "Sam again" {
		t.Fatalf("after sharing anew: %v", got)
	}

	if _, err := r.svc.Revoke(ctx, store.Revocation{LinkID: r.cedar.ID, CustomerID: "cus_1"}); err != nil {
		t.Fatal(err)
	}
	if got := r.shown("cus_1"); len(got) != 1 || got[r.birch.ID] != "Sam B." {
		t.Fatalf("after disconnecting Cedar Bank: %v", got)
	}
	if _, err := r.svc.SetDisplayName(ctx, "cus_1", r.cedar.ID, "Sam"); errCode(err) != "link_ended" {
		t.Fatalf("a name for a disconnected bank: %v", err)
	}
	// Disconnecting every bank takes the rest.
	if _, err := r.svc.DisconnectAll(ctx, "cus_1"); err != nil {
		t.Fatal(err)
	}
	if got := r.shown("cus_1"); len(got) != 0 {
		t.Fatalf("after disconnecting every bank: %v", got)
	}
}
