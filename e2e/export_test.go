package e2e

import (
	"encoding/csv"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

// TestExport: the customer downloads everything held about them, opened:
// profile, links, consent receipts, every event, the access log; and their
// transactions as CSV, with a bank's formula-like text defused. Without a
// session there is nothing to download.
func TestExport(t *testing.T) {
	_, info := startDemo(t, t.TempDir(), "--activity", "1h")
	bank := newBank(t, info.BaseURL, info.InstitutionAPIKey)
	bank.post(message("export-1", info.LinkID, "a note for the export"),
		bankapi.Event{ID: "export-2", LinkID: info.LinkID, Type: bankapi.TypeTransactionPosted, OccurredAt: time.Now().UTC(),
			Data: bankapi.TransactionPosted{AccountID: "acc_x", TransactionID: "t-exp", Status: "posted", Direction: "debit",
				Amount: bankapi.Money{Amount: "42.10", Currency: "USD"}, Merchant: &bankapi.Merchant{Name: "=HYPERLINK(\"http://evil\")"}}})
	c := newCustomer(t, info.BaseURL)
	c.signIn(info.CustomerEmail, info.CustomerPassword)
	if err := c.Call(ctxT(t), "PUT", "/app/api/links/"+info.LinkID+"/display-name", map[string]string{"name": "Sam for the export"}, nil); err != nil {
		t.Fatal(err)
	}
	var out struct {
		Profile struct{ Email string }
		Links   []struct {
			ID, Status  string
			DisplayName string `json:"display_name"`
		}
		Receipts      []map[string]any
		Conversations []struct {
			Institution string
			Events      []struct {
				Type string
				Data map[string]any
			}
		}
		AccessLog struct {
			Checkpoint string
		} `json:"access_log"`
	}
	if err := c.Call(ctxT(t), "GET", "/app/api/export", nil, &out); err != nil {
		t.Fatal(err)
	}
	if out.Profile.Email != info.CustomerEmail || len(out.Links) != 1 || out.Links[0].ID != info.LinkID || out.Links[0].DisplayName != "Sam for the export" ||
		len(out.Receipts) == 0 || out.AccessLog.Checkpoint == "" {
		t.Fatalf("export = %+v", out)
	}
	found := false
	for _, cv := range out.Conversations {
		for _, e := range cv.Events {
			if e.Type == "message" && e.Data["text"] == "a note for the export" {
				found = true
			}
		}
	}
	if !found {
		t.Fatal("the bank's message is not in the export")
	}

	req, _ := http.NewRequest("GET", info.BaseURL+"/app/api/export/transactions.csv", nil)
	req.Header.Set("Cookie", c.Cookie())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil || resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Fatalf("csv: %d %v", resp.StatusCode, err)
	}
	var mine []string
	for _, r := range rows[1:] {
		if r[11] == "t-exp" {
			mine = r
		}
	}
	if rows[0][0] != "bank" || mine == nil || mine[4] != "42.10" || mine[0] != "Cedar Bank" || !strings.HasPrefix(mine[6], "'=") {
		t.Fatalf("csv rows %v", rows)
	}

	resp, err = http.Get(info.BaseURL + "/app/api/export")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(string(body), "a note for the export") {
		t.Fatalf("export without a session: %d %s", resp.StatusCode, body)
	}
}
