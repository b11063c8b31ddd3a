package ingest

import (
	"go/ast"
	"go/parser"
	"go/token"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/openteller/openteller/pkg/bankapi"
)

// The plain shapes the scanners read.
var (
	plainBatches = []string{
		`{"events":[` + ev("transaction.posted", goodTxn) + `]}`,
		`{"events":[` + ev("transaction.posted", goodTxn) + `,` + ev("message", `{"text":"Hi"}`) + `]}`,
		" \n{ \"events\" : [ " + ev("balance.updated", goodBalance) + " ] }\t",
		`{"events":[]}`,
	}
	plainTransactions = []string{
		goodTxn,
		`{"account_id":"a","amount":{"amount":"1.00","currency":"USD"}}`,
		`{"merchant":{}}`,
		` {"account_id" : "a" , "direction":"debit" } `,
	}
)

// Inputs for the fuzz tests: the plain shapes, and near misses the
// scanners must leave to encoding/json.
var scanSeeds = append(slices.Clone(plainBatches),
	`{"events":null}`,
	`{}`,
	`{"events":[`+ev("message", `{"text":"a \"quoted\" word"}`)+`]}`,
	`{"events":[`+ev("message", `{"text":"caf\u00e9"}`)+`]}`,
	`{"events":[`+ev("message", `[1,{"a":[]},"]"]`)+`]}`,
	`{"events":[`+ev("message", `-1.5e3`)+`]}`,
	`{"events":[`+ev("message", `nul`)+`]}`,
	`{"events":[`+ev("message", `"\"}"`)+`]}`,
	`{"Events":[`+ev("message", `{}`)+`]}`,
	`{"events":[`+strings.Replace(ev("message", `{}`), `"id"`, `"ID"`, 1)+`]}`,
	`{"events":[`+strings.Replace(ev("message", `{}`), `"e1"`, `null`, 1)+`]}`,
	`{"events":[`+strings.Replace(ev("message", `{}`), `"e1"`, `7`, 1)+`]}`,
	`{"events":[`+strings.Replace(ev("message", `{}`), `"e1"`, "\"\xff\"", 1)+`]}`,
	`{"events":[`+strings.Replace(ev("message", `{}`), `"e1"`, "\"a\tb\"", 1)+`]}`,
	`{"events":[`+ev("message", `{}`)+`],"events":[]}`,
	`{"events":[`+`{"id":"a","id":"b"}`+`]}`,
	`{"events":[`+ev("message", `{}`)+`]} ]`,
	`{"events":[`+ev("message", `{}`)+`]}x`,
	`{"events":[`+ev("message", `{}`)+`,]}`,
	`{"events":[1]}`,
	`{"events":[`+ev("message", strings.Repeat("[", 65)+strings.Repeat("]", 65))+`]}`,
)

var transactionSeeds = append(slices.Clone(plainTransactions),
	`{}`,
	`{"merchant":null}`,
	`{"merchant":{"name":"A","name":"B"}}`,
	`{"amount":{"amount":1}}`,
	`{"amount":{"Amount":"1"}}`,
	`{"status":"posted","status":"pending"}`,
	`{"card_last4":"4242","extra":true}`,
	`{"description":"two\nlines"}`,
	`{"description":"tab	inside"}`,
	`{"account_id":"a"} {}`,
	`{"amount":null}`,
)

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
	for _, body := range plainBatches {
		if _, ok := scanBatch([]byte(body)); !ok {
			t.Errorf("scanBatch left %s to encoding/json", body)
		}
	}
	for _, data := range plainTransactions {
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

// TestDeepDataRefusesTheBatch: encoding/json refuses a body nested more
// than 10,000 deep, and so must the scanners, which check data apart from
// the body it sits in (a fuzzer never grows an input this large).
func TestDeepDataRefusesTheBatch(t *testing.T) {
	for _, depth := range []int{9997, 9998, 10000} {
		body := []byte(`{"events":[` + ev("transaction.posted", goodTxn) + `,` +
			ev("transaction.posted", strings.Repeat("[", depth)+strings.Repeat("]", depth)) + `]}`)
		if _, ok := scanBatch(body); ok {
			t.Errorf("depth %d: scanBatch read the batch", depth)
		}
		if items, err := decodeBatch(body, now); err == nil && depth >= 9998 {
			t.Errorf("depth %d: batch accepted as %d items, want it refused whole", depth, len(items))
		}
	}
}

// TestTrailingDataRefusesTheBatch: nothing may follow the batch's object,
// not even a bracket.
func TestTrailingDataRefusesTheBatch(t *testing.T) {
	for _, tail := range []string{"]", "}", " {}", "x"} {
		if _, err := decodeBatch([]byte(`{"events":[`+ev("message", `{"text":"x"}`)+`]}`+tail), now); err == nil {
			t.Errorf("a batch followed by %q was accepted", tail)
		}
	}
}

// TestScannersKnowTheFields: the keys each scanner reads are the JSON
// names of its type's fields, read from scan.go's switch cases, so that a
// field renamed, added or removed in bankapi cannot leave the fast path
// reading a key that encoding/json would refuse.
func TestScannersKnowTheFields(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "scan.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string][]string{}
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok {
			continue
		}
		ast.Inspect(fn, func(n ast.Node) bool {
			if cc, ok := n.(*ast.CaseClause); ok {
				for _, e := range cc.List {
					if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
						key, _ := strconv.Unquote(lit.Value)
						cases[fn.Name.Name] = append(cases[fn.Name.Name], key)
					}
				}
			}
			return true
		})
	}
	names := func(v any) []string {
		var out []string
		for f := range reflect.TypeOf(v).Fields() {
			if name, _, _ := strings.Cut(f.Tag.Get("json"), ","); name != "" && name != "-" {
				out = append(out, name)
			}
		}
		return out
	}
	for fn, typ := range map[string]any{"envelope": Envelope{}, "scanTransaction": bankapi.TransactionPosted{}, "money": bankapi.Money{}, "merchant": bankapi.Merchant{}} {
		got, want := slices.Sorted(slices.Values(cases[fn])), slices.Sorted(slices.Values(names(typ)))
		if !slices.Equal(got, want) {
			t.Errorf("%s reads keys %q; %T has %q", fn, got, typ, want)
		}
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
