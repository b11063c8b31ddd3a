package ingest

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestParseRefusesCardNumbersInAnySpelling: through the Bank API, a card
// number is refused however its digits are kept apart (see package pan),
// also where the canonical JSON escapes the separators; and figures that
// only look like one pass.
func TestParseRefusesCardNumbersInAnySpelling(t *testing.T) {
	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	event := func(typ, data string) json.RawMessage {
		return json.RawMessage(`{"id":"e1","link_id":"lnk_abcdefghijklmnopqrstuvwxyz","type":"` + typ + `","occurred_at":"2026-03-01T11:59:00Z","data":` + data + `}`)
	}
	message := func(text string) json.RawMessage {
		b, _ := json.Marshal(map[string]string{"text": text})
		return event("message", string(b))
	}
	for name, c := range map[string]struct {
		raw   json.RawMessage
		field string
	}{
		"spaced dashes":       {message("Your card 4111 - 1111 - 1111 - 1111 is ready"), "data.text"},
		"two spaces":          {message("4111  1111  1111  1111"), "data.text"},
		"slashes":             {message("card 5555/5555/5555/4444"), "data.text"},
		"underscores":         {message("6011_1111_1111_1117"), "data.text"},
		"commas":              {message("4111, 1111, 1111, 1111"), "data.text"},
		"ideographic spaces":  {message("4111\u30001111\u30001111\u30001111"), "data.text"},
		"full-width hyphens":  {message("4111\uff0d1111\uff0d1111\uff0d1111"), "data.text"},
		"after a plus":        {message("+4111111111111111"), "data.text"},
		"ampersands, escaped": {message("4111&1111&1111&1111"), "data.text"},
		"a URL":               {event("message", `{"text":"Pay here","buttons":[{"label":"Pay","url":"https://cedar.example/pay?card=4111%201111%201111%201111"}]}`), "data.buttons[0].url"},
		"a query string":      {event("message", `{"text":"Pay here","buttons":[{"label":"Pay","url":"https://cedar.example/pay?q=378282246310005+x"}]}`), "data.buttons[0].url"},
		"plus signs":          {event("message", `{"text":"Pay here","buttons":[{"label":"Pay","url":"https://cedar.example/pay?q=card+4111+1111+1111+1111"}]}`), "data.buttons[0].url"},
	} {
		_, err := Parse(c.raw, at)
		var rej *rejection
		if !errors.As(err, &rej) || rej.code != "pan_detected" || !strings.Contains(rej.message, `"`+c.field+`"`) {
			t.Errorf("%s: %v, want pan_detected naming %s", name, err, c.field)
			continue
		}
		if strings.Contains(rej.message, "1111") || strings.Contains(rej.message, "4444") {
			t.Errorf("%s: the refusal quotes the number: %s", name, rej.message)
		}
	}
	for name, raw := range map[string]json.RawMessage{
		"amounts and dates": message("Payments of 1,234.56, 2,345.67 and 3,456.78 posted on 2026-12-04, 2026-12-05, 2026-12-06."),
		"a phone number":    message("Questions? Call +62 812 3456 7899 or +49 1512 3456787."),
		"an IBAN":           message("Send it to DE89 3704 0044 0532 0130 00, reference 2026/12/0004512."),
		"ids and versions":  message("Ticket 550e8400-e29b-41d4-a716-446655440000 at 2026-12-04T13:45:00Z, app 10.0.19045.3693."),
		"a shipment":        event("shipment.updated", `{"shipment_id":"shp_1","order_number":"112-4455667-1234567","carrier":"Parcelway","tracking_number":"9400 1118 9922 3197 4284 90","status":"in_transit","estimated_delivery":"2026-03-04","timeline":[{"at":"2026-03-01T10:00:00Z","status":"label_created","description":"Label created"},{"at":"2026-03-02T08:00:00Z","status":"in_transit","description":"Departed facility","location":"Reno, NV"}]}`),
	} {
		if _, err := Parse(raw, at); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}
