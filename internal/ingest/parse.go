package ingest

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openteller/openteller/internal/money"
	"github.com/openteller/openteller/internal/pan"
	"github.com/openteller/openteller/pkg/bankapi"
)

// Parsed is an event that passed every check that needs no store.
type Parsed struct {
	ID         string
	LinkID     string
	Type       string
	Scope      string // consent scope the type needs; empty for none
	OccurredAt time.Time
	Data       []byte // canonical JSON of the typed data: exactly what was checked
	Reference  string // account and reference id of a card transaction, if any
	Pending    bool
}

var (
	eventIDPattern = newShape("", "A-Za-z0-9._:-", 1, 128)
	linkIDPattern  = newShape("lnk_", "a-z2-7", 26, 26)
	refPattern     = newShape("", "A-Za-z0-9._:-", 1, 128)
	mccPattern     = newShape("", "0-9", 4, 4)
	last4Pattern   = newShape("", "0-9", 4, 4)
	maskPattern    = newShape("", "0-9", 2, 4)
	countryPattern = newShape("", "A-Z", 2, 2)
	actionPattern  = newShape("", "a-z0-9_-", 1, 32)
)

// Clock skew allowed for occurred_at in the future.
const maxFutureSkew = time.Hour

func invalid(format string, args ...any) *rejection {
	return &rejection{"invalid_event", fmt.Sprintf(format, args...)}
}

// Envelope is an event as it arrives, before any check of its fields.
type Envelope struct {
	ID         string          `json:"id"`
	LinkID     string          `json:"link_id"`
	Type       string          `json:"type"`
	OccurredAt string          `json:"occurred_at"`
	Data       json.RawMessage `json:"data"`
}

// Parse checks one raw event of a batch. The returned Parsed carries the id
// even when the event is refused, so the result can name it.
func Parse(raw json.RawMessage, now time.Time) (Parsed, error) {
	var env Envelope
	if err := strictDecode(raw, &env); err != nil {
		id := idOf(raw)
		if pan.ContainsBytes(raw) || pan.Contains(id) {
			// Refused for the card number, and the decoder's message, which
			// may quote it (an unknown field), is not passed on.
			f := panField(raw, "")
			if f == "" {
				f = "event"
			}
			if pan.Contains(id) {
				id = ""
			}
			return Parsed{ID: id}, panDetected(f)
		}
		if rej := typeMismatch(raw, "", err); rej != nil {
			return Parsed{ID: id}, rej
		}
		return Parsed{ID: id}, invalid("The event is not a JSON object of the documented shape: %v.", err)
	}
	return ParseEnvelope(env, now)
}

// Check runs every check Parse makes on one raw event and returns its
// refusal as the Bank API reports it, or nil. A layer that turns another
// API's request into several events (package messenger) checks them all
// before storing any, so it refuses all or none.
func Check(raw json.RawMessage, now time.Time) *bankapi.Error {
	_, err := Parse(raw, now)
	if err == nil {
		return nil
	}
	var rej *rejection
	if errors.As(err, &rej) {
		return &bankapi.Error{Code: rej.code, Message: rej.message}
	}
	return &bankapi.Error{Code: "internal", Message: "The event could not be checked."}
}

// idOf digs the id out of an event that does not decode, so its result can
// still name it.
func idOf(raw json.RawMessage) string {
	var v struct {
		ID string `json:"id"`
	}
	json.Unmarshal(raw, &v)
	return v.ID
}

// ParseEnvelope checks an event whose envelope has decoded.
func ParseEnvelope(env Envelope, now time.Time) (Parsed, error) {
	p := Parsed{ID: env.ID, LinkID: env.LinkID, Type: env.Type}
	// A card number in the envelope is refused before anything else, so no
	// refusal below quotes it back (an unknown type, a malformed id); the
	// result does not even name the event by it.
	for _, f := range []struct{ name, value string }{{"id", env.ID}, {"link_id", env.LinkID}, {"type", env.Type}, {"occurred_at", env.OccurredAt}} {
		if pan.Contains(f.value) {
			if f.name == "id" {
				p.ID = ""
			}
			return p, panDetected(f.name)
		}
	}
	if pan.ContainsBytes(env.Data) || bytes.IndexByte(env.Data, '\\') >= 0 {
		if f := panField(env.Data, "data"); f != "" {
			return p, panDetected(f) // before data is decoded, whose errors quote values
		}
	}
	if !eventIDPattern.MatchString(env.ID) {
		return p, invalid("Field \"id\" must be 1 to 128 letters, digits or . _ : -.")
	}
	if !linkIDPattern.MatchString(env.LinkID) {
		return p, &rejection{"unknown_link", "Field \"link_id\" is not a link id (lnk_ followed by 26 characters)."}
	}
	scope, known := bankapi.ScopeFor(env.Type)
	if !known {
		return p, &rejection{"unknown_type", fmt.Sprintf("Event type %q is not one this platform accepts.", env.Type)}
	}
	p.Scope = scope
	t, err := time.Parse(time.RFC3339Nano, env.OccurredAt)
	if err != nil {
		return p, invalid("Field \"occurred_at\" must be an RFC 3339 time such as 2026-03-01T12:00:00Z.")
	}
	if t.After(now.Add(maxFutureSkew)) {
		return p, invalid("Field \"occurred_at\" is more than an hour in the future.")
	}
	if t.Year() < 2000 {
		return p, invalid("Field \"occurred_at\" is before the year 2000.")
	}
	p.OccurredAt = t.UTC()
	if len(env.Data) == 0 || bytes.Equal(env.Data, []byte("null")) {
		return p, invalid("Field \"data\" is required.")
	}
	var data any
	switch env.Type {
	case bankapi.TypeBalanceUpdated:
		var d bankapi.BalanceUpdated
		if err := strictDecode(env.Data, &d); err != nil {
			return p, badData("balance.updated", env.Data, err)
		}
		if err := checkBalance(d); err != nil {
			return p, err
		}
		data = d
	case bankapi.TypeTransactionPosted:
		d, ok := scanTransaction(env.Data)
		if !ok {
			if err := strictDecode(env.Data, &d); err != nil {
				return p, badData("transaction.posted", env.Data, err)
			}
		}
		if err := checkTransaction(d); err != nil {
			return p, err
		}
		if d.ReferenceID != "" {
			p.Reference = d.AccountID + "\x00" + d.ReferenceID
			p.Pending = d.Status == bankapi.StatusPending
		}
		data = d
	case bankapi.TypeReceipt:
		var d bankapi.Receipt
		if err := strictDecode(env.Data, &d); err != nil {
			return p, badData("receipt", env.Data, err)
		}
		if err := checkReceipt(d); err != nil {
			return p, err
		}
		data = d
	case bankapi.TypeShipmentUpdated:
		var d bankapi.ShipmentUpdated
		if err := strictDecode(env.Data, &d); err != nil {
			return p, badData("shipment.updated", env.Data, err)
		}
		if err := checkShipment(d); err != nil {
			return p, err
		}
		data = d
	case bankapi.TypeMessage:
		var d bankapi.Message
		if err := strictDecode(env.Data, &d); err != nil {
			return p, badData("message", env.Data, err)
		}
		if err := checkMessage(d); err != nil {
			return p, err
		}
		data = d
	case bankapi.TypeFraudAlert:
		var d bankapi.FraudAlert
		if err := strictDecode(env.Data, &d); err != nil {
			return p, badData("fraud.alert", env.Data, err)
		}
		if err := checkFraudAlert(d, now); err != nil {
			return p, err
		}
		d.ExpiresAt, d.Transaction.At = d.ExpiresAt.UTC(), d.Transaction.At.UTC()
		data = d
	case bankapi.TypeCardStatus:
		var d bankapi.CardStatus
		if err := strictDecode(env.Data, &d); err != nil {
			return p, badData("card.status", env.Data, err)
		}
		if err := checkCardStatus(d); err != nil {
			return p, err
		}
		data = d
	case bankapi.TypePaymentRequest:
		var d bankapi.PaymentRequest
		if err := strictDecode(env.Data, &d); err != nil {
			return p, badData("payment.request", env.Data, err)
		}
		if err := checkPaymentRequest(d, now); err != nil {
			return p, err
		}
		d.ExpiresAt = d.ExpiresAt.UTC()
		data = d
	case bankapi.TypePaymentStatus:
		var d bankapi.PaymentStatus
		if err := strictDecode(env.Data, &d); err != nil {
			return p, badData("payment.status", env.Data, err)
		}
		if err := checkPaymentStatus(d); err != nil {
			return p, err
		}
		data = d
	}
	p.Data, err = json.Marshal(data)
	if err != nil {
		return p, fmt.Errorf("ingest: encode data: %w", err)
	}
	// No full card number anywhere: the canonical JSON is scanned whole,
	// and only when something is found is the field looked for, to name
	// it. Quotes, colons and commas are separators to the scanner, so
	// neighbouring values could join; keys hold letters, which end a run,
	// so only values side by side in an array can, and a card number split
	// across them is one. JSON
	// escapes a tab or a newline with a backslash, which would end a run
	// that the text itself continues: data with an escape is scanned value
	// by value, as decoded.
	if pan.ContainsBytes(p.Data) {
		f := panField(p.Data, "data")
		if f == "" {
			f = "data" // across values, as encoded: refused all the same
		}
		return p, panDetected(f)
	}
	if bytes.IndexByte(p.Data, '\\') >= 0 {
		if f := panField(p.Data, "data"); f != "" {
			return p, panDetected(f)
		}
	}
	return p, nil
}

func panDetected(field string) *rejection {
	return &rejection{"pan_detected", fmt.Sprintf("Field %q holds what looks like a full card number. OpenTeller never accepts one: send the last four digits (card_last4).", field)}
}

// panField names the first field of data (found at root) whose value, or
// key, holds a card number; "" when none does, root when data is not JSON.
func panField(data []byte, root string) string {
	var v any
	if json.Unmarshal(data, &v) != nil {
		return cmp.Or(root, "event")
	}
	join := func(path, k string) string {
		if path == "" {
			return k
		}
		return path + "." + k
	}
	var walk func(v any, path string) string
	walk = func(v any, path string) string {
		switch x := v.(type) {
		case string:
			if pan.Contains(x) {
				return path
			}
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				if pan.Contains(k) {
					return cmp.Or(path, "event") // the key itself is never named
				}
				if f := walk(x[k], join(path, k)); f != "" {
					return f
				}
			}
		case []any:
			for i, e := range x {
				if f := walk(e, fmt.Sprintf("%s[%d]", path, i)); f != "" {
					return f
				}
			}
		}
		return ""
	}
	return walk(v, root)
}

func strictDecode(raw []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &decodeError{err}
	}
	// Token, not More: More lets a stray ] or } through.
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("trailing data")
	}
	return nil
}

// decodeError is the decoder's error without its "json: " prefix; the cause
// stays reachable, so that a refusal can say what to send instead.
type decodeError struct{ err error }

func (e *decodeError) Error() string { return strings.TrimPrefix(e.err.Error(), "json: ") }
func (e *decodeError) Unwrap() error { return e.err }

// badData refuses data that does not decode as the event type's shape.
func badData(typ string, data []byte, err error) *rejection {
	if rej := typeMismatch(data, "data", err); rej != nil {
		return rej
	}
	return invalid("Field \"data\" does not match %s: %v.", typ, err)
}

var moneyType = reflect.TypeFor[bankapi.Money]()

// typeMismatch names the field of doc (found at root) that holds a value of
// the wrong JSON kind, and says in JSON's words, not Go's, what it must be;
// nil when err is not such a mismatch. Money sent as a JSON number, the
// usual mistake, is told what to send: a number may not hold every cent.
func typeMismatch(doc []byte, root string, err error) *rejection {
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) || te.Field == "" || te.Type == nil {
		return nil
	}
	kind, _, _ := strings.Cut(te.Value, " ") // "number 1.5"
	field := mismatchPath(doc, root, te.Field, kind)
	number := strings.HasPrefix(te.Value, "number")
	switch {
	case te.Type == moneyType:
		return invalid("Field %q must be money, an object such as {\"amount\":\"12.50\",\"currency\":\"USD\"}.", field)
	case number && te.Type.Kind() == reflect.String && (te.Field == "amount" || strings.HasSuffix(te.Field, ".amount")):
		return invalid("Field %q must be a decimal string such as \"12.50\", not a JSON number: a number may not hold every cent exactly.", field)
	}
	return invalid("Field %q must be %s.", field, jsonKind(te.Type))
}

// mismatchPath finds the first value of kind (a JSON kind: number, string,
// bool, array, object) at the decoder's path (field names joined by dots,
// without array indices) and names it as the other refusals do, indices
// included: data.items[1].unit_price.amount.
func mismatchPath(doc []byte, root, path, kind string) string {
	fallback := path
	if root != "" {
		fallback = root + "." + path
	}
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return fallback
	}
	join := func(a, b string) string {
		if a == "" {
			return b
		}
		return a + "." + b
	}
	var walk func(v any, named, plain string) string
	walk = func(v any, named, plain string) string {
		if plain == path && jsonKindOf(v) == kind {
			return named
		}
		switch x := v.(type) {
		case map[string]any:
			for _, k := range slices.Sorted(maps.Keys(x)) {
				if f := walk(x[k], join(named, k), join(plain, k)); f != "" {
					return f
				}
			}
		case []any:
			for i, e := range x {
				if f := walk(e, fmt.Sprintf("%s[%d]", named, i), plain); f != "" {
					return f
				}
			}
		}
		return ""
	}
	return cmp.Or(walk(v, root, ""), fallback)
}

// jsonKindOf is the JSON kind of a decoded value, in the decoder's words.
func jsonKindOf(v any) string {
	switch v.(type) {
	case float64:
		return "number"
	case string:
		return "string"
	case bool:
		return "bool"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return ""
}

// jsonKind says what JSON a field of Go type t takes.
func jsonKind(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a whole number"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Bool:
		return "true or false"
	case reflect.Slice, reflect.Array:
		return "an array"
	}
	return "an object"
}

// checkItems checks a receipt's or an order's items (1 to
// maxReceiptItems): a name, a whole quantity, prices; each also through
// each, if given.
func checkItems(name string, items []bankapi.ReceiptItem, each func(field string, it bankapi.ReceiptItem) error) error {
	if len(items) == 0 || len(items) > maxReceiptItems {
		return invalid("Field %q must list 1 to %d items.", name, maxReceiptItems)
	}
	for i, it := range items {
		field := fmt.Sprintf("%s[%d]", name, i)
		if err := checkText(field+".name", it.Name, 1, 200); err != nil {
			return err
		}
		if it.Quantity < 1 || it.Quantity > 10000 {
			return invalid("Field %q must be a whole number from 1 to 10000.", field+".quantity")
		}
		if err := checkMoney(field+".unit_price", it.UnitPrice, false); err != nil {
			return err
		}
		if err := checkMoney(field+".total", it.Total, false); err != nil {
			return err
		}
		if each != nil {
			if err := each(field, it); err != nil {
				return err
			}
		}
	}
	return nil
}

func checkText(field, s string, min, max int) error {
	n := utf8.RuneCountInString(s)
	switch {
	case !utf8.ValidString(s):
		return invalid("Field %q is not valid UTF-8.", field)
	case n < min:
		return invalid("Field %q is required.", field)
	case n > max:
		return invalid("Field %q is longer than %d characters.", field, max)
	case strings.ContainsRune(s, 0):
		return invalid("Field %q contains a NUL character.", field)
	}
	return nil
}

func checkMoney(field string, m bankapi.Money, negative bool) error {
	if err := money.Check(m.Amount, m.Currency, negative); err != nil {
		return invalid("Field %q: %v.", field, err)
	}
	return nil
}

func checkBalance(d bankapi.BalanceUpdated) error {
	if !refPattern.MatchString(d.AccountID) {
		return invalid("Field \"data.account_id\" must be 1 to 128 letters, digits or . _ : -.")
	}
	if err := checkText("data.account_name", d.AccountName, 1, 100); err != nil {
		return err
	}
	switch d.AccountKind {
	case bankapi.AccountChecking, bankapi.AccountSavings, bankapi.AccountCreditCard:
	default:
		return invalid("Field \"data.account_kind\" must be checking, savings or credit_card.")
	}
	if d.Mask != "" && !maskPattern.MatchString(d.Mask) {
		return invalid("Field \"data.mask\" must be the last 2 to 4 digits of the account.")
	}
	if err := checkMoney("data.available", d.Available, true); err != nil {
		return err
	}
	return checkMoney("data.current", d.Current, true)
}

func checkTransaction(d bankapi.TransactionPosted) error {
	if !refPattern.MatchString(d.AccountID) {
		return invalid("Field \"data.account_id\" must be 1 to 128 letters, digits or . _ : -.")
	}
	if !refPattern.MatchString(d.TransactionID) {
		return invalid("Field \"data.transaction_id\" must be 1 to 128 letters, digits or . _ : -.")
	}
	if d.ReferenceID != "" && !refPattern.MatchString(d.ReferenceID) {
		return invalid("Field \"data.reference_id\" must be 1 to 128 letters, digits or . _ : -.")
	}
	if d.Status != bankapi.StatusPending && d.Status != bankapi.StatusPosted {
		return invalid("Field \"data.status\" must be pending or posted.")
	}
	if d.Direction != bankapi.Debit && d.Direction != bankapi.Credit {
		return invalid("Field \"data.direction\" must be debit or credit.")
	}
	if err := checkMoney("data.amount", d.Amount, false); err != nil {
		return err
	}
	if d.Description != "" {
		if err := checkText("data.description", d.Description, 1, 200); err != nil {
			return err
		}
	}
	if d.CardLast4 != "" && !last4Pattern.MatchString(d.CardLast4) {
		return invalid("Field \"data.card_last4\" must be exactly four digits.")
	}
	if m := d.Merchant; m != nil {
		if err := checkMerchant("data.merchant", *m); err != nil {
			return err
		}
	}
	if d.Merchant == nil && d.Description == "" {
		return invalid("A transaction needs a merchant or a description.")
	}
	return nil
}

func checkMerchant(field string, m bankapi.Merchant) error {
	if err := checkText(field+".name", m.Name, 1, 100); err != nil {
		return err
	}
	if m.MCC != "" && !mccPattern.MatchString(m.MCC) {
		return invalid("Field %q must be four digits.", field+".mcc")
	}
	if err := checkText(field+".category", m.Category, 0, 100); err != nil {
		return err
	}
	if err := checkText(field+".city", m.City, 0, 100); err != nil {
		return err
	}
	if m.Country != "" && !countryPattern.MatchString(m.Country) {
		return invalid("Field %q must be an ISO 3166-1 alpha-2 code such as US.", field+".country")
	}
	return nil
}

// Limits of what a message may offer; a phone shows no more. Quick replies
// are as many as Messenger allows (13), so its bots need not change.
const (
	maxQuickReplies = 13
	maxButtons      = 3
	maxLabel        = 40
	maxPayload      = 1000
)

func checkMessage(d bankapi.Message) error {
	if err := checkText("data.text", d.Text, 1, 4000); err != nil {
		return err
	}
	if len(d.QuickReplies) > maxQuickReplies {
		return invalid("Field \"data.quick_replies\" offers more than %d replies.", maxQuickReplies)
	}
	for i, q := range d.QuickReplies {
		field := fmt.Sprintf("data.quick_replies[%d]", i)
		if err := checkText(field+".label", q.Label, 1, maxLabel); err != nil {
			return err
		}
		if err := checkText(field+".payload", q.Payload, 0, maxPayload); err != nil {
			return err
		}
	}
	if len(d.Buttons) > maxButtons {
		return invalid("Field \"data.buttons\" offers more than %d buttons.", maxButtons)
	}
	for i, b := range d.Buttons {
		field := fmt.Sprintf("data.buttons[%d]", i)
		if err := checkText(field+".label", b.Label, 1, maxLabel); err != nil {
			return err
		}
		if (b.URL == "") == (b.Payload == "") {
			return invalid("Field %q needs exactly one of url or payload.", field)
		}
		if b.URL != "" {
			u, err := url.Parse(b.URL)
			if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || len(b.URL) > 2000 {
				return invalid("Field %q must be an https URL.", field+".url")
			}
		}
		if err := checkText(field+".payload", b.Payload, 0, maxPayload); err != nil {
			return err
		}
	}
	return nil
}

const maxAlertActions = 4

var actionStyles = []string{"", "primary", "danger"}

func checkFraudAlert(d bankapi.FraudAlert, now time.Time) error {
	t := d.Transaction
	if err := checkMerchant("data.transaction.merchant", t.Merchant); err != nil {
		return err
	}
	if err := checkMoney("data.transaction.amount", t.Amount, false); err != nil {
		return err
	}
	if t.At.IsZero() {
		return invalid("Field \"data.transaction.at\" is required.")
	}
	if !last4Pattern.MatchString(t.CardLast4) {
		return invalid("Field \"data.transaction.card_last4\" must be exactly four digits.")
	}
	if t.AccountID != "" && !refPattern.MatchString(t.AccountID) {
		return invalid("Field \"data.transaction.account_id\" must be 1 to 128 letters, digits or . _ : -.")
	}
	if err := checkText("data.reason", d.Reason, 1, 300); err != nil {
		return err
	}
	if len(d.Actions) == 0 || len(d.Actions) > maxAlertActions {
		return invalid("Field \"data.actions\" must offer 1 to %d actions.", maxAlertActions)
	}
	if err := checkActions(d.Actions); err != nil {
		return err
	}
	if !d.ExpiresAt.After(now) {
		return invalid("Field \"data.expires_at\" must be in the future: an alert nobody can answer helps no one.")
	}
	return nil
}

// checkActions checks the one-tap answers an alert or a card status
// offers: ids the bank will recognise, each once, labels a phone can show.
func checkActions(actions []bankapi.AlertAction) error {
	seen := map[string]bool{}
	for i, a := range actions {
		field := fmt.Sprintf("data.actions[%d]", i)
		if !actionPattern.MatchString(a.ID) {
			return invalid("Field %q must be 1 to 32 of a-z, 0-9, _ and -.", field+".id")
		}
		if seen[a.ID] {
			return invalid("Field %q repeats action %q.", field+".id", a.ID)
		}
		seen[a.ID] = true
		if err := checkText(field+".label", a.Label, 1, maxLabel); err != nil {
			return err
		}
		if !slices.Contains(actionStyles, a.Style) {
			return invalid("Field %q must be primary or danger, or absent.", field+".style")
		}
	}
	return nil
}

var cardStatuses = []string{bankapi.CardActive, bankapi.CardLocked, bankapi.CardOrdered, bankapi.CardClosed}

func checkCardStatus(d bankapi.CardStatus) error {
	if !refPattern.MatchString(d.CardID) {
		return invalid("Field \"data.card_id\" must be 1 to 128 letters, digits or . _ : -.")
	}
	if !last4Pattern.MatchString(d.CardLast4) {
		return invalid("Field \"data.card_last4\" must be exactly four digits.")
	}
	if err := checkText("data.account_name", d.AccountName, 0, 100); err != nil {
		return err
	}
	if !slices.Contains(cardStatuses, d.Status) {
		return invalid("Field \"data.status\" must be one of %s.", strings.Join(cardStatuses, ", "))
	}
	if d.ReplacesLast4 != "" && !last4Pattern.MatchString(d.ReplacesLast4) {
		return invalid("Field \"data.replaces_last4\" must be exactly four digits.")
	}
	if d.ExpectedBy != "" {
		if _, err := time.Parse(time.DateOnly, d.ExpectedBy); err != nil {
			return invalid("Field \"data.expected_by\" must be a date such as 2026-03-04.")
		}
	}
	if err := checkText("data.note", d.Note, 0, 300); err != nil {
		return err
	}
	if len(d.Actions) > maxAlertActions {
		return invalid("Field \"data.actions\" offers more than %d actions.", maxAlertActions)
	}
	return checkActions(d.Actions)
}

const maxReceiptItems = 200

func checkReceipt(d bankapi.Receipt) error {
	if err := checkText("data.merchant.name", d.Merchant.Name, 1, 100); err != nil {
		return err
	}
	if err := checkText("data.order_number", d.OrderNumber, 1, 64); err != nil {
		return err
	}
	if err := checkItems("data.items", d.Items, nil); err != nil {
		return err
	}
	for name, m := range map[string]*bankapi.Money{"data.subtotal": &d.Subtotal, "data.shipping": d.Shipping, "data.tax": d.Tax, "data.total": &d.Total} {
		if m == nil {
			continue
		}
		if err := checkMoney(name, *m, false); err != nil {
			return err
		}
	}
	if err := checkText("data.payment.brand", d.Payment.Brand, 1, 40); err != nil {
		return err
	}
	if !last4Pattern.MatchString(d.Payment.Last4) {
		return invalid("Field \"data.payment.last4\" must be exactly four digits.")
	}
	return checkText("data.address", d.Address, 0, 300)
}

var shipmentStatuses = []string{bankapi.ShipmentLabelCreated, bankapi.ShipmentInTransit, bankapi.ShipmentOutForDelivery, bankapi.ShipmentDelivered, bankapi.ShipmentException}

const maxTimeline = 100

func checkShipment(d bankapi.ShipmentUpdated) error {
	if !refPattern.MatchString(d.ShipmentID) {
		return invalid("Field \"data.shipment_id\" must be 1 to 128 letters, digits or . _ : -.")
	}
	if err := checkText("data.carrier", d.Carrier, 1, 60); err != nil {
		return err
	}
	if err := checkText("data.tracking_number", d.TrackingNumber, 1, 64); err != nil {
		return err
	}
	if err := checkText("data.order_number", d.OrderNumber, 0, 64); err != nil {
		return err
	}
	if !slices.Contains(shipmentStatuses, d.Status) {
		return invalid("Field \"data.status\" must be one of %s.", strings.Join(shipmentStatuses, ", "))
	}
	if d.EstimatedDelivery != "" {
		if _, err := time.Parse(time.DateOnly, d.EstimatedDelivery); err != nil {
			return invalid("Field \"data.estimated_delivery\" must be a date such as 2026-03-04.")
		}
	}
	if len(d.Timeline) > maxTimeline {
		return invalid("Field \"data.timeline\" has more than %d steps.", maxTimeline)
	}
	for i, ev := range d.Timeline {
		field := fmt.Sprintf("data.timeline[%d]", i)
		if ev.At.IsZero() {
			return invalid("Field %q is required.", field+".at")
		}
		if !slices.Contains(shipmentStatuses, ev.Status) {
			return invalid("Field %q must be one of %s.", field+".status", strings.Join(shipmentStatuses, ", "))
		}
		if err := checkText(field+".description", ev.Description, 1, 200); err != nil {
			return err
		}
		if err := checkText(field+".location", ev.Location, 0, 100); err != nil {
			return err
		}
	}
	return nil
}
