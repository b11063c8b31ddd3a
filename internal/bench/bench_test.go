package bench

import (
	"encoding/json"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/openteller/openteller/pkg/bankapi"
)

// TestEventEncoding: the hand-built JSON decodes to the event encoding/json
// would have written, so the bench posts what a bank using the SDK would.
func TestEventEncoding(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 123000000, time.UTC)
	m := bankapi.Merchant{Name: `Café "Zero" \\ Ünïcode`, MCC: "5814", Category: "Fast Food Restaurants", City: "Oakland", Country: "US"}
	got := appendEventJSON(nil, "b42", "lnk_abcdefghijklmnopqrstuvwxyz", at, "12.34", &m)
	want := bankapi.Event{ID: "b42", LinkID: "lnk_abcdefghijklmnopqrstuvwxyz", Type: bankapi.TypeTransactionPosted, OccurredAt: at,
		Data: bankapi.TransactionPosted{AccountID: "acc_chk", TransactionID: "b42", Status: "posted", Direction: "debit",
			Amount: bankapi.Money{Amount: "12.34", Currency: "USD"}, Merchant: &m, CardLast4: "4821"}}
	wantJSON, _ := json.Marshal(want)
	var a, b any
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, got)
	}
	json.Unmarshal(wantJSON, &b)
	if !reflect.DeepEqual(a, b) {
		t.Fatalf("hand-built:\n%s\nencoding/json:\n%s", got, wantJSON)
	}
}

// TestNodeEnv: a node bench starts is configured by its flags alone; the
// bench's own OPENTELLER_ settings do not reach it.
func TestNodeEnv(t *testing.T) {
	got := nodeEnv([]string{"PATH=/bin", "OPENTELLER_DATABASE=postgres://x", "OPENTELLER_NATS=nats://y", "HOME=/h", "OPENTELLER_ROOT_KEY=old"}, "scratch")
	want := []string{"PATH=/bin", "HOME=/h", "OPENTELLER_ROOT_KEY=scratch"}
	if !slices.Equal(got, want) {
		t.Fatalf("node environment %q, want %q", got, want)
	}
}
