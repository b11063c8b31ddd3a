package ingest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

const goodPayment = `{"payment_id":"pay-1","amount":{"amount":"89.00","currency":"USD"},"reference":"Order A-1042","payee":{"name":"Alder Outfitters"},` +
	`"note":"Thanks for your order","order":{"order_number":"A-1042","items":[{"name":"Rain jacket","quantity":1,"unit_price":{"amount":"89.00","currency":"USD"},"total":{"amount":"89.00","currency":"USD"}}]},` +
	`"expires_at":"2026-03-02T12:00:00Z"}`

const goodPaymentStatus = `{"payment_id":"pay-1","status":"rejected","reason_code":"AM04","note":"Not enough money in Everyday Checking."}`

// TestParsePayments: a payment request (with an order, a payee) and a
// payment status are accepted under the payments scope; bad ones are
// refused with a typed error naming the field, a card number never.
func TestParsePayments(t *testing.T) {
	for typ, data := range map[string]string{"payment.request": goodPayment, "payment.status": goodPaymentStatus} {
		p, err := Parse(json.RawMessage(ev(typ, data)), now)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if p.Scope != "payments" {
			t.Fatalf("%s needs %q", typ, p.Scope)
		}
	}
	req := func(old, new string) string { return ev("payment.request", strings.Replace(goodPayment, old, new, 1)) }
	st := func(old, new string) string {
		return ev("payment.status", strings.Replace(goodPaymentStatus, old, new, 1))
	}
	cases := []struct {
		name, raw, code, mention string
	}{
		{"nothing to pay", req(`"89.00","currency":"USD"},"reference"`, `"0.00","currency":"USD"},"reference"`), "invalid_event", "data.amount"},
		{"a float", req(`"89.00","currency":"USD"},"reference"`, `89,"currency":"USD"},"reference"`), "invalid_event", "decimal string"},
		{"a negative amount", req(`"89.00","currency":"USD"},"reference"`, `"-89.00","currency":"USD"},"reference"`), "invalid_event", "data.amount"},
		{"no payment id", req(`"pay-1"`, `""`), "invalid_event", "data.payment_id"},
		{"no reference", req(`"Order A-1042"`, `""`), "invalid_event", "data.reference"},
		{"a long reference", req(`"Order A-1042"`, `"`+strings.Repeat("x", 141)+`"`), "invalid_event", "data.reference"},
		{"an unnamed payee", req(`{"name":"Alder Outfitters"}`, `{"name":""}`), "invalid_event", "data.payee.name"},
		{"an empty order", req(`"items":[{"name":"Rain jacket","quantity":1,"unit_price":{"amount":"89.00","currency":"USD"},"total":{"amount":"89.00","currency":"USD"}}]`, `"items":[]`), "invalid_event", "data.order.items"},
		{"an item in another currency", req(`"total":{"amount":"89.00","currency":"USD"}}]`, `"total":{"amount":"89.00","currency":"EUR"}}]`), "invalid_event", "data.order.items[0].total.currency"},
		{"no expiry", req(`,"expires_at":"2026-03-02T12:00:00Z"`, ``), "invalid_event", "data.expires_at"},
		{"already expired", req(`2026-03-02T12:00:00Z`, `2026-03-01T11:00:00Z`), "invalid_event", "data.expires_at"},
		{"open for years", req(`2026-03-02T12:00:00Z`, `2029-03-02T12:00:00Z`), "invalid_event", "data.expires_at"},
		{"an unknown field", req(`"note"`, `"iban"`), "invalid_event", "iban"},
		{"a card number in the reference", req(`"Order A-1042"`, `"Card 4111 1111 1111 1111"`), "pan_detected", "data.reference"},
		{"an unknown status", st(`"rejected"`, `"pending"`), "invalid_event", "data.status"},
		{"a bad reason code", st(`"AM04"`, `"insufficient"`), "invalid_event", "data.reason_code"},
		{"a status of nothing", st(`"pay-1"`, `"no spaces allowed"`), "invalid_event", "data.payment_id"},
		{"a card number in the note", st(`"Not enough money in Everyday Checking."`, `"Card 5555555555554444 declined"`), "pan_detected", "data.note"},
	}
	for _, c := range cases {
		_, err := Parse(json.RawMessage(c.raw), now)
		var rej *rejection
		if !errors.As(err, &rej) {
			t.Errorf("%s: err = %v, want a rejection", c.name, err)
			continue
		}
		if rej.code != c.code || !strings.Contains(rej.message, c.mention) {
			t.Errorf("%s: got %s %q, want %s mentioning %q", c.name, rej.code, rej.message, c.code, c.mention)
		}
		if strings.Contains(rej.message, "4111") || strings.Contains(rej.message, "5555") {
			t.Errorf("%s: the refusal quotes the card number: %q", c.name, rej.message)
		}
	}
}
