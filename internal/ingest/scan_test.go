package ingest

import (
	"reflect"
	"strings"
	"testing"

	"github.com/openteller/openteller/pkg/bankapi"
)

// Inputs for the scanners: the plain shapes they read, and the near misses
// they must leave to encoding/json.
var scanSeeds = []string{
	`{"events":[` + ev("transaction.posted", goodTxn) + `]}`,
	`{"events":[` + ev("transaction.posted", goodTxn) + `,` + ev("message", `{"text":"Hi"}`) + `]}`,
	" \n{ \"events\" : [ " + ev("balance.updated", goodBalance) + " ] }\t",
	`{"events":[]}`,
	`{"events":null}`,
	`{}`,
	`{"events":[` + ev("message", `{"text":"a \"quoted\" word"}`) + `]}`,
	`{"events":[` + ev("message", `{"text":"caf\u00e9"}`) + `]}`,
	`{"events":[` + ev("message", `[1,{"a":[]},"]"]`) + `]}`,
	`{"events":[` + ev("message", `-1.5e3`) + `]}`,
	`{"events":[` + ev("message", `nul`) + `]}`,
	`{"events":[` + ev("message", `"\"}"`) + `]}`,
	`{"Events":[` + ev("message", `{}`) + `]}`,
	`{"events":[` + strings.Replace(ev("message", `{}`), `"id"`, `"ID"`, 1) + `]}`,
	`{"events":[` + strings.Replace(ev("message", `{}`), `"e1"`, `null`, 1) + `]}`,
	`{"events":[` + strings.Replace(ev("message", `{}`), `"e1"`, `7`, 1) + `]}`,
	`{"events":[` + strings.Replace(ev("message", `{}`), `"e1"`, "\"\xff\"", 1) + `]}`,
	`{"events":[` + strings.Replace(ev("message", `{}`), `"e1"`, "\"a\tb\"", 1) + `]}`,
	`{"events":[` + ev("message", `{}`) + `],"events":[]}`,
	`{"events":[` + `{"id":"a","id":"b"}` + `]}`,
	`{"events":[` + ev("message", `{}`) + `]} ]`,
	`{"events":[` + ev("message", `{}`) + `]}x`,
	`{"events":[` + ev("message", `{}`) + `,]}`,
	`{"events":[1]}`,
}

var transactionSeeds = []string{
	goodTxn,
	`{}`,
	`{"account_id":"a","amount":{"amount":"1.00","currency":"USD"}}`,
	`{"merchant":null}`,
	`{"merchant":{}}`,
	`{"merchant":{"name":"A","name":"B"}}`,
	`{"amount":{"amount":1}}`,
	`{"amount":{"Amount":"1"}}`,
	`{"status":"posted","status":"pending"}`,
	`{"card_last4":"4242","extra":true}`,
	`{"description":"two\nlines"}`,
	`{"description":"tab	inside"}`,
	`{"account_id":"a"} {}`,
	` {"account_id" : "a" , "direction":"debit" } `,
}

// FuzzScanBatch: whatever scanBatch reads, strictDecode reads alike.
func FuzzScanBatch(f *testing.F) {
	for _, s := range scanSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		got, ok := scanBatch(body)
		if !ok {
			return
		}
		var want struct {
			Events []Envelope `json:"events"`
		}
		if err := strictDecode(body, &want); err != nil {
			t.Fatalf("scanBatch read %q, which encoding/json refuses: %v", body, err)
		}
		if !reflect.DeepEqual(got, want.Events) && !(len(got) == 0 && len(want.Events) == 0) {
			t.Fatalf("scanBatch read %q as\n%+v\nencoding/json as\n%+v", body, got, want.Events)
		}
	})
}

// FuzzScanTransaction: whatever scanTransaction reads, strictDecode reads
// alike.
func FuzzScanTransaction(f *testing.F) {
	for _, s := range transactionSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		got, ok := scanTransaction(data)
		if !ok {
			return
		}
		var want bankapi.TransactionPosted
		if err := strictDecode(data, &want); err != nil {
			t.Fatalf("scanTransaction read %q, which encoding/json refuses: %v", data, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("scanTransaction read %q as %+v, encoding/json as %+v", data, got, want)
		}
	})
}

// TestScannersReadThePlainCase: the shapes a bank sends every day take
// the fast path (the fuzz tests above only check what it does read).
func TestScannersReadThePlainCase(t *testing.T) {
	for _, body := range scanSeeds[:4] {
		if _, ok := scanBatch([]byte(body)); !ok {
			t.Errorf("scanBatch left %s to encoding/json", body)
		}
	}
	for _, data := range []string{goodTxn, transactionSeeds[2], transactionSeeds[4], transactionSeeds[13]} {
		if _, ok := scanTransaction([]byte(data)); !ok {
			t.Errorf("scanTransaction left %s to encoding/json", data)
		}
	}
	got, _ := scanTransaction([]byte(goodTxn))
	want := bankapi.TransactionPosted{AccountID: "acc_1", TransactionID: "t1", ReferenceID: "r1", Status: "pending", Direction: "debit",
		Amount:   bankapi.Money{Amount: "4.75", Currency: "USD"},
		Merchant: &bankapi.Merchant{Name: "Blue Door Coffee", MCC: "5814", Category: "Fast Food Restaurants", City: "Oakland", Country: "US"}, CardLast4: "4242"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("read %+v, want %+v", got, want)
	}
}

// BenchmarkDecodeBatch: a POST of 100 card transactions, decoded and
// checked (no store, no sealing). Report: ns/op per batch.
func BenchmarkDecodeBatch(b *testing.B) {
	var body strings.Builder
	body.WriteString(`{"events":[`)
	for i := range 100 {
		if i > 0 {
			body.WriteByte(',')
		}
		body.WriteString(strings.Replace(ev("transaction.posted", goodTxn), `"e1"`, `"e`+strings.Repeat("1", 1+i%7)+`"`, 1))
	}
	body.WriteString(`]}`)
	raw := []byte(body.String())
	b.SetBytes(int64(len(raw)))
	for b.Loop() {
		items, err := decodeBatch(raw, now)
		if err != nil || len(items) != 100 || items[99].err != nil {
			b.Fatalf("%d items, %v", len(items), err)
		}
	}
}
