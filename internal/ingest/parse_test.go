package ingest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

var now = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

const link = "lnk_abcdefghijklmnopqrstuvwxyz"

func ev(typ, data string) string {
	return `{"id":"e1","link_id":"` + link + `","type":"` + typ + `","occurred_at":"2026-03-01T11:59:00Z","data":` + data + `}`
}

const goodTxn = `{"account_id":"acc_1","transaction_id":"t1","reference_id":"r1","status":"pending","direction":"debit","amount":{"amount":"4.75","currency":"USD"},"merchant":{"name":"Blue Door Coffee","mcc":"5814","category":"Fast Food Restaurants","city":"Oakland","country":"US"},"card_last4":"4242"}`
const goodBalance = `{"account_id":"acc_1","account_name":"Everyday Checking","account_kind":"checking","mask":"1234","available":{"amount":"-12.40","currency":"USD"},"current":{"amount":"100.00","currency":"USD"}}`

func TestParseAccepts(t *testing.T) {
	for name, raw := range map[string]string{
		"transaction": ev("transaction.posted", goodTxn),
		"balance":     ev("balance.updated", goodBalance),
		"message":     ev("message", `{"text":"Your card is on its way."}`),
	} {
		p, err := Parse(json.RawMessage(raw), now)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if p.ID != "e1" || p.LinkID != link || !p.OccurredAt.Equal(now.Add(-time.Minute)) || len(p.Data) == 0 {
			t.Errorf("%s: parsed %+v", name, p)
		}
	}
	p, _ := Parse(json.RawMessage(ev("transaction.posted", goodTxn)), now)
	if p.Scope != "transactions" || !p.Pending || p.Reference != "acc_1\x00r1" {
		t.Fatalf("transaction parsed as %+v", p)
	}
	posted := strings.Replace(goodTxn, `"pending"`, `"posted"`, 1)
	p, _ = Parse(json.RawMessage(ev("transaction.posted", posted)), now)
	if p.Pending || p.Reference == "" {
		t.Fatalf("posted transaction parsed as %+v", p)
	}
}

func TestParseRefuses(t *testing.T) {
	cases := []struct {
		name, raw, code, mention string
	}{
		{"not an object", `[1,2]`, "invalid_event", ""},
		{"unknown envelope field", `{"id":"e1","link_id":"` + link + `","type":"message","occurred_at":"2026-03-01T11:00:00Z","data":{"text":"x"},"extra":1}`, "invalid_event", "extra"},
		{"bad id", strings.Replace(ev("message", `{"text":"x"}`), `"e1"`, `"has space"`, 1), "invalid_event", "id"},
		{"bad link", strings.Replace(ev("message", `{"text":"x"}`), link, "lnk_short", 1), "unknown_link", ""},
		{"unknown type", ev("loan.offer", `{}`), "unknown_type", "loan.offer"},
		{"bad time", strings.Replace(ev("message", `{"text":"x"}`), "2026-03-01T11:59:00Z", "yesterday", 1), "invalid_event", "occurred_at"},
		{"future time", strings.Replace(ev("message", `{"text":"x"}`), "2026-03-01T11:59:00Z", "2026-03-02T11:59:00Z", 1), "invalid_event", "future"},
		{"no data", strings.Replace(ev("message", `null`), `"data":null`, `"data":null`, 1), "invalid_event", "data"},
		{"empty message", ev("message", `{"text":""}`), "invalid_event", "data.text"},
		{"long message", ev("message", `{"text":"`+strings.Repeat("a", 4001)+`"}`), "invalid_event", "data.text"},
		{"float amount", ev("transaction.posted", strings.Replace(goodTxn, `"4.75"`, `4.75`, 1)), "invalid_event", `"data.amount.amount" must be a decimal string such as "12.50"`},
		{"three decimals", ev("transaction.posted", strings.Replace(goodTxn, `"4.75"`, `"4.755"`, 1)), "invalid_event", "data.amount"},
		{"negative amount", ev("transaction.posted", strings.Replace(goodTxn, `"4.75"`, `"-4.75"`, 1)), "invalid_event", "data.amount"},
		{"bad currency", ev("transaction.posted", strings.Replace(goodTxn, `"USD"`, `"DOLLARS"`, 1)), "invalid_event", "data.amount"},
		{"bad status", ev("transaction.posted", strings.Replace(goodTxn, `"pending"`, `"maybe"`, 1)), "invalid_event", "data.status"},
		{"bad direction", ev("transaction.posted", strings.Replace(goodTxn, `"debit"`, `"out"`, 1)), "invalid_event", "data.direction"},
		{"bad mcc", ev("transaction.posted", strings.Replace(goodTxn, `"5814"`, `"58"`, 1)), "invalid_event", "mcc"},
		{"full card number as last4", ev("transaction.posted", strings.Replace(goodTxn, `"4242"`, `"4242424242424242"`, 1)), "pan_detected", "data.card_last4"},
		{"unknown data field", ev("transaction.posted", strings.Replace(goodTxn, `"card_last4"`, `"pan"`, 1)), "invalid_event", "pan"},
		{"bad account kind", ev("balance.updated", strings.Replace(goodBalance, `"checking"`, `"crypto"`, 1)), "invalid_event", "account_kind"},
		{"no merchant nor description", ev("transaction.posted", `{"account_id":"a","transaction_id":"t","status":"posted","direction":"debit","amount":{"amount":"1.00","currency":"USD"}}`), "invalid_event", "merchant"},
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
	}
}

// TestParseSaysWhatToSendForAWrongKind: a value of the wrong JSON kind is
// refused naming its field as the other refusals do, in JSON's words, never
// the Go decoder's; money as a JSON number is told to be a decimal string.
func TestParseSaysWhatToSendForAWrongKind(t *testing.T) {
	secondItem := strings.Replace(goodReceipt, `}}]`, `}},{"name":"Socks","quantity":2,"unit_price":{"amount":5.5,"currency":"USD"},"total":{"amount":"11.00","currency":"USD"}}]`, 1)
	for name, c := range map[string]struct{ raw, want string }{
		"float amount":          {ev("transaction.posted", strings.Replace(goodTxn, `"4.75"`, `12.5`, 1)), `Field "data.amount.amount" must be a decimal string such as "12.50"`},
		"whole-number amount":   {ev("balance.updated", strings.Replace(goodBalance, `"100.00"`, `100`, 1)), `Field "data.current.amount" must be a decimal string such as "12.50"`},
		"second item's price":   {ev("receipt", secondItem), `Field "data.items[1].unit_price.amount" must be a decimal string`},
		"optional tax":          {ev("receipt", strings.Replace(goodReceipt, `"7.12"`, `7.12`, 1)), `Field "data.tax.amount" must be a decimal string`},
		"money as a bare value": {ev("transaction.posted", strings.Replace(goodTxn, `{"amount":"4.75","currency":"USD"}`, `4.75`, 1)), `Field "data.amount" must be money, an object such as {"amount":"12.50","currency":"USD"}`},
		"quantity as a string":  {ev("receipt", strings.Replace(goodReceipt, `"quantity":1`, `"quantity":"1"`, 1)), `Field "data.items[0].quantity" must be a whole number`},
		"text as a number":      {ev("message", `{"text":5}`), `Field "data.text" must be a string`},
		"id as a number":        {strings.Replace(ev("message", `{"text":"x"}`), `"e1"`, `5`, 1), `Field "id" must be a string`},
	} {
		_, err := Parse(json.RawMessage(c.raw), now)
		var rej *rejection
		if !errors.As(err, &rej) || rej.code != "invalid_event" {
			t.Errorf("%s: %v, want invalid_event", name, err)
			continue
		}
		if !strings.Contains(rej.message, c.want) || strings.Contains(rej.message, "Go ") || strings.Contains(rej.message, "unmarshal") {
			t.Errorf("%s: %q, want %q and no words of the Go decoder", name, rej.message, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(ev("transaction.posted", goodTxn)))
	f.Add([]byte(ev("balance.updated", goodBalance)))
	f.Add([]byte(ev("message", `{"text":"hi"}`)))
	f.Fuzz(func(t *testing.T, raw []byte) {
		p, err := Parse(raw, now)
		if err != nil {
			var rej *rejection
			if !errors.As(err, &rej) {
				t.Fatalf("non-rejection error %v", err)
			}
			return
		}
		// Whatever is accepted re-parses to the same canonical data.
		again := `{"id":"` + p.ID + `","link_id":"` + p.LinkID + `","type":"` + p.Type + `","occurred_at":"` + p.OccurredAt.Format(time.RFC3339Nano) + `","data":` + string(p.Data) + `}`
		q, err := Parse(json.RawMessage(again), now)
		if err != nil || string(q.Data) != string(p.Data) {
			t.Fatalf("canonical form does not round-trip: %v", err)
		}
	})
}

func TestDecodeBatchIsolatesMalformedEvents(t *testing.T) {
	good := ev("message", `{"text":"hello"}`)
	bad := `{"id":"e2","link_id":"` + link + `","type":"message","occurred_at":"2026-03-01T11:59:00Z","data":{"text":"x"},"surprise":1}`
	items, err := decodeBatch([]byte(`{"events":[`+good+`,`+bad+`]}`), now)
	if err != nil {
		t.Fatal(err)
	}
	if items[0].err != nil || items[0].parsed.ID != "e1" {
		t.Fatalf("good event: %+v", items[0])
	}
	var rej *rejection
	if !errors.As(items[1].err, &rej) || rej.code != "invalid_event" || items[1].parsed.ID != "e2" {
		t.Fatalf("malformed event: %+v", items[1])
	}
	// The fast path and the per-event path agree on a clean batch.
	fast, err := decodeBatch([]byte(`{"events":[`+good+`]}`), now)
	if err != nil || fast[0].err != nil || string(fast[0].parsed.Data) != string(items[0].parsed.Data) {
		t.Fatalf("fast path: %+v %v", fast, err)
	}
	for _, body := range []string{`{"events":{}}`, `{"events":[]}`, `[]`, `{"events":[1]}`} {
		items, err := decodeBatch([]byte(body), now)
		if err == nil && (len(items) != 1 || items[0].err == nil) {
			t.Errorf("%s: accepted as %+v", body, items)
		}
	}
}

const goodReceipt = `{"merchant":{"name":"Alder Outfitters"},"order_number":"A-10442","items":[{"name":"Rain jacket","quantity":1,"unit_price":{"amount":"89.00","currency":"USD"},"total":{"amount":"89.00","currency":"USD"}}],"subtotal":{"amount":"89.00","currency":"USD"},"shipping":{"amount":"5.00","currency":"USD"},"tax":{"amount":"7.12","currency":"USD"},"total":{"amount":"101.12","currency":"USD"},"payment":{"brand":"Visa","last4":"4821"},"address":"12 Pine St, Portland OR"}`
const goodShipment = `{"shipment_id":"shp_1","order_number":"A-10442","carrier":"Parcelway","tracking_number":"PW123456789","status":"in_transit","estimated_delivery":"2026-03-04","timeline":[{"at":"2026-03-01T10:00:00Z","status":"label_created","description":"Label created"},{"at":"2026-03-02T08:00:00Z","status":"in_transit","description":"Departed facility","location":"Reno, NV"}]}`

func TestParseReceiptsAndShipments(t *testing.T) {
	for typ, data := range map[string]string{"receipt": goodReceipt, "shipment.updated": goodShipment} {
		p, err := Parse(json.RawMessage(ev(typ, data)), now)
		if err != nil {
			t.Fatalf("%s: %v", typ, err)
		}
		if want := map[string]string{"receipt": "receipts", "shipment.updated": "shipments"}[typ]; p.Scope != want {
			t.Fatalf("%s needs scope %q, want %q", typ, p.Scope, want)
		}
	}
	for name, c := range map[string]struct{ typ, data, mention string }{
		"no items":          {"receipt", strings.Replace(goodReceipt, `"items":[{"name":"Rain jacket","quantity":1,"unit_price":{"amount":"89.00","currency":"USD"},"total":{"amount":"89.00","currency":"USD"}}]`, `"items":[]`, 1), "data.items"},
		"zero quantity":     {"receipt", strings.Replace(goodReceipt, `"quantity":1`, `"quantity":0`, 1), "quantity"},
		"float total":       {"receipt", strings.Replace(goodReceipt, `"total":{"amount":"101.12"`, `"total":{"amount":101.12`, 1), `"data.total.amount" must be a decimal string`},
		"unknown status":    {"shipment.updated", strings.Replace(goodShipment, `"status":"in_transit","estimated`, `"status":"lost","estimated`, 1), "data.status"},
		"bad delivery date": {"shipment.updated", strings.Replace(goodShipment, `"2026-03-04"`, `"soon"`, 1), "estimated_delivery"},
		"step without time": {"shipment.updated", strings.Replace(goodShipment, `"at":"2026-03-01T10:00:00Z",`, ``, 1), "timeline[0].at"},
	} {
		_, err := Parse(json.RawMessage(ev(c.typ, c.data)), now)
		var rej *rejection
		if !errors.As(err, &rej) || rej.code != "invalid_event" || !strings.Contains(rej.message, c.mention) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

const goodAlert = `{"transaction":{"merchant":{"name":"Lumen Electronics","mcc":"5732","city":"Lagos","country":"NG"},"amount":{"amount":"1249.00","currency":"USD"},"at":"2026-03-01T11:58:00Z","card_last4":"4242"},"reason":"A large purchase abroad, unlike your usual spending.","actions":[{"id":"confirm","label":"It was me","style":"primary"},{"id":"deny","label":"Not me — lock card","style":"danger"}],"expires_at":"2026-03-01T12:30:00Z"}`

const goodQuickReplies = `{"text":"Anything else?","quick_replies":[{"label":"Balance","payload":"menu:balance"},{"label":"No thanks"}],"buttons":[{"label":"Open the app","url":"https://cedar.example/app"},{"label":"Call me","payload":"call"}]}`

func TestParseFraudAlertsAndRichMessages(t *testing.T) {
	p, err := Parse(json.RawMessage(ev("fraud.alert", goodAlert)), now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Scope != "fraud_alerts" {
		t.Fatalf("fraud.alert needs scope %q", p.Scope)
	}
	if _, err := Parse(json.RawMessage(ev("message", goodQuickReplies)), now); err != nil {
		t.Fatal(err)
	}
	// The account the card spends from, optional, so the messenger can name
	// the card as the balances name its account.
	withAccount := strings.Replace(goodAlert, `"card_last4":"4242"`, `"card_last4":"4242","account_id":"acc_card_1"`, 1)
	if p, err := Parse(json.RawMessage(ev("fraud.alert", withAccount)), now); err != nil || !strings.Contains(string(p.Data), `"account_id":"acc_card_1"`) {
		t.Fatalf("an alert naming its account: %v %s", err, p.Data)
	}
	actions := `"actions":[{"id":"confirm","label":"It was me","style":"primary"},{"id":"deny","label":"Not me — lock card","style":"danger"}]`
	for name, c := range map[string]struct{ typ, data, mention string }{
		"no actions":         {"fraud.alert", strings.Replace(goodAlert, actions, `"actions":[]`, 1), "data.actions"},
		"repeated action":    {"fraud.alert", strings.Replace(goodAlert, `"id":"deny"`, `"id":"confirm"`, 1), "repeats"},
		"bad action id":      {"fraud.alert", strings.Replace(goodAlert, `"id":"deny"`, `"id":"Not Me!"`, 1), "actions[1].id"},
		"unknown style":      {"fraud.alert", strings.Replace(goodAlert, `"style":"danger"`, `"style":"blink"`, 1), "style"},
		"already expired":    {"fraud.alert", strings.Replace(goodAlert, `"2026-03-01T12:30:00Z"`, `"2026-03-01T11:30:00Z"`, 1), "expires_at"},
		"no reason":          {"fraud.alert", strings.Replace(goodAlert, `"reason":"A large purchase abroad, unlike your usual spending."`, `"reason":""`, 1), "data.reason"},
		"no merchant":        {"fraud.alert", strings.Replace(goodAlert, `"name":"Lumen Electronics",`, ``, 1), "merchant.name"},
		"float amount":       {"fraud.alert", strings.Replace(goodAlert, `"1249.00"`, `1249`, 1), `"data.transaction.amount.amount" must be a decimal string`},
		"bad account id":     {"fraud.alert", strings.Replace(withAccount, `"acc_card_1"`, `"acc card!"`, 1), "data.transaction.account_id"},
		"button url and pay": {"message", strings.Replace(goodQuickReplies, `"url":"https://cedar.example/app"`, `"url":"https://cedar.example/app","payload":"x"`, 1), "exactly one"},
		"button not https":   {"message", strings.Replace(goodQuickReplies, `https://cedar.example/app`, `javascript:alert(1)`, 1), "https"},
		"long reply label":   {"message", strings.Replace(goodQuickReplies, `"label":"No thanks"`, `"label":"`+strings.Repeat("x", 41)+`"`, 1), "quick_replies[1].label"},
		"too many buttons":   {"message", strings.Replace(goodQuickReplies, `{"label":"Call me","payload":"call"}`, `{"label":"a","payload":"a"},{"label":"b","payload":"b"},{"label":"c","payload":"c"}`, 1), "buttons"},
	} {
		_, err := Parse(json.RawMessage(ev(c.typ, c.data)), now)
		var rej *rejection
		if !errors.As(err, &rej) || rej.code != "invalid_event" || !strings.Contains(rej.message, c.mention) {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestParseRefusesCardNumbers: a full card number anywhere in an event is
// refused as pan_detected, naming the field but never echoing the number.
func TestParseRefusesCardNumbers(t *testing.T) {
	for name, c := range map[string]struct{ raw, field string }{
		"message text":      {ev("message", `{"text":"Your card 4111 1111 1111 1111 is ready"}`), "data.text"},
		"merchant name":     {ev("transaction.posted", strings.Replace(goodTxn, `"Blue Door Coffee"`, `"Blue Door 5555-5555-5555-4444"`, 1)), "data.merchant.name"},
		"quick reply":       {ev("message", `{"text":"Pick","quick_replies":[{"label":"ok","payload":"pan=4012888888881881"}]}`), "data.quick_replies[0].payload"},
		"receipt item":      {ev("receipt", strings.Replace(goodReceipt, `"Rain jacket"`, `"Jacket for card ４１１１１１１１１１１１１１１１"`, 1)), "data.items[0].name"},
		"event id":          {strings.Replace(ev("message", `{"text":"hi"}`), `"e1"`, `"4111111111111111"`, 1), "id"},
		"zero-width spaced": {ev("message", "{\"text\":\"4111\u200b1111\u200b1111\u200b1111\"}"), "data.text"},
		// JSON escapes these with a backslash, which must not hide the run.
		"receipt last4":    {ev("receipt", strings.Replace(goodReceipt, `"last4":"4821"`, `"last4":"4111111111111111"`, 1)), "data.payment.last4"},
		"unknown field":    {ev("receipt", strings.Replace(goodReceipt, `"brand":"Visa"`, `"brand":"Visa","number":"4111111111111111"`, 1)), "data.payment.number"},
		"alert card_last4": {ev("fraud.alert", strings.Replace(goodAlert, `"4242"`, `"4242424242424242"`, 1)), "data.transaction.card_last4"},
		"event type":       {strings.Replace(ev("message", `{"text":"hi"}`), `"message"`, `"4111111111111111"`, 1), "type"},
		"a key":            {ev("message", `{"text":"hi","4111111111111111":"x"}`), "data"},
		"tab spaced":       {ev("message", `{"text":"4111\t1111\t1111\t1111"}`), "data.text"},
		"newline spaced":   {ev("transaction.posted", strings.Replace(goodTxn, `"Blue Door Coffee"`, `"Blue Door 5555\n5555\n5555\n4444"`, 1)), "data.merchant.name"},
	} {
		p, err := Parse(json.RawMessage(c.raw), now)
		if strings.Contains(p.ID, "1111") {
			t.Errorf("%s: the result names the event by the number: %q", name, p.ID)
		}
		var rej *rejection
		if !errors.As(err, &rej) || rej.code != "pan_detected" || !strings.Contains(rej.message, `"`+c.field+`"`) {
			t.Errorf("%s: %v, want pan_detected naming %s", name, err, c.field)
			continue
		}
		if strings.Contains(rej.message, "1111") || strings.Contains(rej.message, "4444") || strings.Contains(rej.message, "1881") {
			t.Errorf("%s: the refusal echoes the number: %s", name, rej.message)
		}
	}
	// Last four digits, order and tracking numbers pass.
	ok := ev("message", `{"text":"Card ••4242 · order 112-4455667-1234567 · tracking 9400111899223197428490"}`)
	if _, err := Parse(json.RawMessage(ok), now); err != nil {
		t.Fatal(err)
	}
}

const goodCardStatus = `{"card_id":"card_a","card_last4":"4242","account_name":"Rewards Visa","status":"locked","note":"Locked because you said a payment wasn't yours.","actions":[{"id":"unlock","label":"Unlock card","style":"primary"},{"id":"was_me","label":"It was me after all"}]}`

// TestParseCardStatus: a card's status needs the fraud_alerts scope; each
// malformed field is refused as invalid_event naming it, and a full card
// number as pan_detected.
func TestParseCardStatus(t *testing.T) {
	p, err := Parse(json.RawMessage(ev("card.status", goodCardStatus)), now)
	if err != nil {
		t.Fatal(err)
	}
	if p.Scope != "fraud_alerts" {
		t.Fatalf("card.status needs scope %q", p.Scope)
	}
	ordered := `{"card_id":"card_b","card_last4":"5678","status":"ordered","replaces_last4":"4242","expected_by":"2026-03-04"}`
	if _, err := Parse(json.RawMessage(ev("card.status", ordered)), now); err != nil {
		t.Fatalf("an ordered card without actions: %v", err)
	}
	five := `"actions":[{"id":"a","label":"a"},{"id":"b","label":"b"},{"id":"c","label":"c"},{"id":"d","label":"d"},{"id":"e","label":"e"}]`
	for name, c := range map[string]struct{ data, code, mention string }{
		"no card id":        {strings.Replace(goodCardStatus, `"card_id":"card_a",`, ``, 1), "invalid_event", "data.card_id"},
		"card id with a /":  {strings.Replace(goodCardStatus, `"card_a"`, `"card/a"`, 1), "invalid_event", "data.card_id"},
		"three digits":      {strings.Replace(goodCardStatus, `"4242"`, `"424"`, 1), "invalid_event", "data.card_last4"},
		"made-up status":    {strings.Replace(goodCardStatus, `"locked"`, `"frozen"`, 1), "invalid_event", "data.status"},
		"bad replaces":      {strings.Replace(ordered, `"replaces_last4":"4242"`, `"replaces_last4":"42x2"`, 1), "invalid_event", "data.replaces_last4"},
		"not a date":        {strings.Replace(ordered, `"2026-03-04"`, `"next week"`, 1), "invalid_event", "data.expected_by"},
		"long note":         {strings.Replace(goodCardStatus, `"Locked because you said a payment wasn't yours."`, `"`+strings.Repeat("x", 301)+`"`, 1), "invalid_event", "data.note"},
		"five actions":      {strings.Replace(goodCardStatus, `"actions":[{"id":"unlock","label":"Unlock card","style":"primary"},{"id":"was_me","label":"It was me after all"}]`, five, 1), "invalid_event", "data.actions"},
		"repeated action":   {strings.Replace(goodCardStatus, `"id":"was_me"`, `"id":"unlock"`, 1), "invalid_event", "repeats"},
		"unlabelled action": {strings.Replace(goodCardStatus, `"label":"It was me after all"`, `"label":""`, 1), "invalid_event", "actions[1].label"},
		"unknown field":     {strings.Replace(goodCardStatus, `"status":"locked"`, `"status":"locked","pin":"1234"`, 1), "invalid_event", "pin"},
		"a full number":     {strings.Replace(goodCardStatus, `"card_last4":"4242"`, `"card_last4":"4111111111111111"`, 1), "pan_detected", "data.card_last4"},
		"a number in note":  {strings.Replace(goodCardStatus, `a payment`, `4111 1111 1111 1111`, 1), "pan_detected", "data.note"},
	} {
		_, err := Parse(json.RawMessage(ev("card.status", c.data)), now)
		var rej *rejection
		if !errors.As(err, &rej) || rej.code != c.code || !strings.Contains(rej.message, c.mention) {
			t.Errorf("%s: %v, want %s mentioning %s", name, err, c.code, c.mention)
		}
	}
}
