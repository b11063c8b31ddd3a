package messenger

import (
	"encoding/json"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"

	"github.com/openteller/openteller/internal/money"
	"github.com/openteller/openteller/pkg/bankapi"
)

// button is a Messenger button: web_url and postback map onto OpenTeller's
// message buttons; the webview's presentation fields change nothing.
type button struct {
	Type                string `json:"type"`
	Title               string `json:"title"`
	URL                 string `json:"url"`
	Payload             any    `json:"payload"`
	WebviewHeightRatio  string `json:"webview_height_ratio"`
	MessengerExtensions bool   `json:"messenger_extensions"`
	FallbackURL         string `json:"fallback_url"`
	WebviewShareButton  string `json:"webview_share_button"`
}

func translateButtons(field string, bs []button) ([]bankapi.Button, error) {
	if len(bs) > 3 {
		return nil, invalidParam("Param %s must have at most 3 buttons.", field)
	}
	var out []bankapi.Button
	for i, b := range bs {
		f := fmt.Sprintf("%s[%d]", field, i)
		if b.Title == "" {
			return nil, invalidParam("Param %s[title] must be non-empty.", f)
		}
		switch b.Type {
		case "web_url":
			if b.URL == "" {
				return nil, invalidParam("Param %s[url] must be non-empty.", f)
			}
			out = append(out, bankapi.Button{Label: b.Title, URL: b.URL})
		case "postback":
			var payload string
			switch p := b.Payload.(type) {
			case string:
				payload = p
			case float64:
				payload = strconv.FormatFloat(p, 'f', -1, 64)
			}
			if payload == "" {
				return nil, invalidParam("Param %s[payload] must be non-empty.", f)
			}
			out = append(out, bankapi.Button{Label: b.Title, Payload: payload})
		default:
			return nil, invalidParam("Param %s[type] %q is not supported: OpenTeller's buttons open an https page (web_url) or send a payload back (postback).", f, b.Type)
		}
	}
	return out, nil
}

// buttonTemplate is text with up to three buttons: one message.
func buttonTemplate(raw json.RawMessage) (bankapi.Message, error) {
	var p struct {
		TemplateType string   `json:"template_type"`
		Text         string   `json:"text"`
		Buttons      []button `json:"buttons"`
		Sharable     bool     `json:"sharable"`
	}
	if err := strictJSON(raw, &p); err != nil {
		return bankapi.Message{}, invalidParam("Param message[attachment][payload] is not a button template: %v.", err)
	}
	if p.Text == "" {
		return bankapi.Message{}, invalidParam("Param message[attachment][payload][text] must be non-empty.")
	}
	if len(p.Buttons) == 0 {
		return bankapi.Message{}, invalidParam("Param message[attachment][payload][buttons] must have 1 to 3 buttons.")
	}
	bs, err := translateButtons("message[attachment][payload][buttons]", p.Buttons)
	if err != nil {
		return bankapi.Message{}, err
	}
	return bankapi.Message{Text: p.Text, Buttons: bs}, nil
}

// genericTemplate is up to ten elements: each becomes a message whose
// text is the title and subtitle, with the element's buttons.
func genericTemplate(raw json.RawMessage) ([]bankapi.Message, error) {
	var p struct {
		TemplateType     string `json:"template_type"`
		Sharable         bool   `json:"sharable"`
		ImageAspectRatio string `json:"image_aspect_ratio"`
		Elements         []struct {
			Title         string          `json:"title"`
			Subtitle      string          `json:"subtitle"`
			ImageURL      string          `json:"image_url"`
			DefaultAction json.RawMessage `json:"default_action"`
			Buttons       []button        `json:"buttons"`
		} `json:"elements"`
	}
	if err := strictJSON(raw, &p); err != nil {
		return nil, invalidParam("Param message[attachment][payload] is not a generic template: %v.", err)
	}
	if len(p.Elements) == 0 || len(p.Elements) > 10 {
		return nil, invalidParam("Param message[attachment][payload][elements] must have 1 to 10 elements.")
	}
	var out []bankapi.Message
	for i, e := range p.Elements {
		f := fmt.Sprintf("message[attachment][payload][elements][%d]", i)
		switch {
		case e.Title == "":
			return nil, invalidParam("Param %s[title] must be non-empty.", f)
		case e.ImageURL != "":
			return nil, noImages(f + "[image_url]")
		case e.DefaultAction != nil:
			return nil, invalidParam("Param %s[default_action] is not supported: an OpenTeller message is not a link itself; give it a web_url button.", f)
		}
		bs, err := translateButtons(f+"[buttons]", e.Buttons)
		if err != nil {
			return nil, err
		}
		text := e.Title
		if e.Subtitle != "" {
			text += "\n" + e.Subtitle
		}
		out = append(out, bankapi.Message{Text: text, Buttons: bs})
	}
	return out, nil
}

// receiptTemplate maps Messenger's receipt onto OpenTeller's receipt
// event, and returns its time when it has one. Amounts stay decimals: a
// JSON number is taken as written, never through a float.
func receiptTemplate(raw json.RawMessage, institutionName string) (bankapi.Receipt, time.Time, error) {
	var p struct {
		TemplateType  string      `json:"template_type"`
		Sharable      bool        `json:"sharable"`
		RecipientName string      `json:"recipient_name"`
		MerchantName  string      `json:"merchant_name"`
		OrderNumber   string      `json:"order_number"`
		Currency      string      `json:"currency"`
		PaymentMethod string      `json:"payment_method"`
		Timestamp     json.Number `json:"timestamp"`
		OrderURL      string      `json:"order_url"`
		Address       *struct {
			Street1    string `json:"street_1"`
			Street2    string `json:"street_2"`
			City       string `json:"city"`
			PostalCode string `json:"postal_code"`
			State      string `json:"state"`
			Country    string `json:"country"`
		} `json:"address"`
		Summary *struct {
			Subtotal     json.Number `json:"subtotal"`
			ShippingCost json.Number `json:"shipping_cost"`
			TotalTax     json.Number `json:"total_tax"`
			TotalCost    json.Number `json:"total_cost"`
		} `json:"summary"`
		Adjustments json.RawMessage `json:"adjustments"`
		Elements    []struct {
			Title    string      `json:"title"`
			Subtitle string      `json:"subtitle"`
			Quantity *int        `json:"quantity"`
			Price    json.Number `json:"price"`
			Currency string      `json:"currency"`
			ImageURL string      `json:"image_url"`
		} `json:"elements"`
	}
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	if err := dec.Decode(&p); err != nil {
		return bankapi.Receipt{}, time.Time{}, invalidParam("Param message[attachment][payload] is not a receipt template: %v.", strings.TrimPrefix(err.Error(), "json: "))
	}
	f := "message[attachment][payload]"
	switch {
	case p.Adjustments != nil && string(p.Adjustments) != "[]" && string(p.Adjustments) != "null":
		return bankapi.Receipt{}, time.Time{}, invalidParam("Param %s[adjustments] is not supported: OpenTeller's receipt has no adjustments; fold them into the items and totals.", f)
	case p.Summary == nil || p.Summary.TotalCost == "":
		return bankapi.Receipt{}, time.Time{}, invalidParam("Param %s[summary][total_cost] must be non-empty.", f)
	case len(p.Elements) == 0:
		return bankapi.Receipt{}, time.Time{}, invalidParam("Param %s[elements] must list at least one item: OpenTeller's receipt shows what was bought.", f)
	}
	cur := strings.ToUpper(p.Currency)
	units, known := money.MinorUnits(cur)
	if !known {
		return bankapi.Receipt{}, time.Time{}, invalidParam("Param %s[currency] must be an ISO 4217 code such as USD.", f)
	}
	amount := func(field string, n json.Number) (bankapi.Money, error) {
		s := n.String()
		if err := money.Check(s, cur, false); err != nil {
			return bankapi.Money{}, invalidParam("Param %s[%s] must be an amount in %s: %v.", f, field, cur, err)
		}
		return bankapi.Money{Amount: s, Currency: cur}, nil
	}
	r := bankapi.Receipt{OrderNumber: p.OrderNumber, Merchant: bankapi.Merchant{Name: p.MerchantName}}
	if r.Merchant.Name == "" {
		r.Merchant.Name = institutionName
	}
	// "Visa 2345": the brand and the card's last four digits. A full card
	// number here is refused by ingest, like anywhere else.
	pm := strings.TrimSpace(p.PaymentMethod)
	if i := strings.LastIndexByte(pm, ' '); i > 0 && len(pm)-i-1 == 4 {
		r.Payment = bankapi.Payment{Brand: strings.TrimSpace(pm[:i]), Last4: pm[i+1:]}
	} else {
		r.Payment = bankapi.Payment{Brand: pm}
	}
	var sum big.Int
	for i, e := range p.Elements {
		ef := fmt.Sprintf("elements][%d", i)
		switch {
		case e.ImageURL != "":
			return bankapi.Receipt{}, time.Time{}, noImages(fmt.Sprintf("%s[elements][%d][image_url]", f, i))
		case e.Currency != "" && strings.ToUpper(e.Currency) != cur:
			return bankapi.Receipt{}, time.Time{}, invalidParam("Param %s[elements][%d][currency] must be the receipt's currency, %s.", f, i, cur)
		case e.Price == "":
			return bankapi.Receipt{}, time.Time{}, invalidParam("Param %s[elements][%d][price] must be non-empty.", f, i)
		}
		qty := 1
		if e.Quantity != nil {
			qty = *e.Quantity
		}
		// Messenger's price is the line's: quantity 2 at price 50 is 25 each.
		line, err := amount(ef+"][price", e.Price)
		if err != nil {
			return bankapi.Receipt{}, time.Time{}, err
		}
		minor := toMinor(line.Amount, units)
		if qty < 1 {
			return bankapi.Receipt{}, time.Time{}, invalidParam("Param %s[elements][%d][quantity] must be at least 1.", f, i)
		}
		q := big.NewInt(int64(qty))
		if new(big.Int).Mod(minor, q).Sign() != 0 {
			return bankapi.Receipt{}, time.Time{}, invalidParam("Param %s[elements][%d][price] %s does not divide into %d equal unit prices in %s; OpenTeller's receipt shows both, so send one element per unit price.", f, i, line.Amount, qty, cur)
		}
		sum.Add(&sum, minor)
		name := e.Title
		if e.Subtitle != "" {
			name += " · " + e.Subtitle
		}
		r.Items = append(r.Items, bankapi.ReceiptItem{Name: name, Quantity: qty, Total: line,
			UnitPrice: bankapi.Money{Amount: fromMinor(new(big.Int).Quo(minor, q), units), Currency: cur}})
	}
	var err error
	if p.Summary.Subtotal != "" {
		if r.Subtotal, err = amount("summary][subtotal", p.Summary.Subtotal); err != nil {
			return bankapi.Receipt{}, time.Time{}, err
		}
	} else {
		r.Subtotal = bankapi.Money{Amount: fromMinor(&sum, units), Currency: cur}
	}
	if p.Summary.ShippingCost != "" {
		m, err := amount("summary][shipping_cost", p.Summary.ShippingCost)
		if err != nil {
			return bankapi.Receipt{}, time.Time{}, err
		}
		r.Shipping = &m
	}
	if p.Summary.TotalTax != "" {
		m, err := amount("summary][total_tax", p.Summary.TotalTax)
		if err != nil {
			return bankapi.Receipt{}, time.Time{}, err
		}
		r.Tax = &m
	}
	if r.Total, err = amount("summary][total_cost", p.Summary.TotalCost); err != nil {
		return bankapi.Receipt{}, time.Time{}, err
	}
	if a := p.Address; a != nil {
		var parts []string
		for _, s := range []string{a.Street1, a.Street2, a.City, strings.TrimSpace(a.State + " " + a.PostalCode), a.Country} {
			if s = strings.TrimSpace(s); s != "" {
				parts = append(parts, s)
			}
		}
		r.Address = strings.Join(parts, ", ")
	}
	var at time.Time
	if p.Timestamp != "" {
		sec, err := p.Timestamp.Int64()
		if err != nil || sec <= 0 {
			return bankapi.Receipt{}, time.Time{}, invalidParam("Param %s[timestamp] must be a Unix time in seconds.", f)
		}
		at = time.Unix(sec, 0).UTC()
	}
	return r, at, nil
}

// toMinor reads a checked decimal amount as a count of minor units.
func toMinor(amount string, units int) *big.Int {
	whole, frac, _ := strings.Cut(amount, ".")
	frac += strings.Repeat("0", units-len(frac))
	n, _ := new(big.Int).SetString(whole+frac, 10)
	return n
}

// fromMinor writes a count of minor units as a decimal amount.
func fromMinor(n *big.Int, units int) string {
	s := n.String()
	if units == 0 {
		return s
	}
	if len(s) <= units {
		s = strings.Repeat("0", units-len(s)+1) + s
	}
	return s[:len(s)-units] + "." + s[len(s)-units:]
}
