package messenger

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/pkg/bankapi"
)

// Messaging types and the message tags that OpenTeller takes. Under
// OpenTeller the customer's consent, not a 24-hour window, says what a
// bank may send; the types are checked and otherwise change nothing.
var (
	messagingTypes = []string{"RESPONSE", "UPDATE", "MESSAGE_TAG"}
	messageTags    = []string{"ACCOUNT_UPDATE", "POST_PURCHASE_UPDATE", "CONFIRMED_EVENT_UPDATE", "HUMAN_AGENT"}
)

// sendRecipient is the Send API's recipient: only the page-scoped id.
type sendRecipient struct {
	ID          string          `json:"id"`
	UserRef     json.RawMessage `json:"user_ref"`
	PhoneNumber json.RawMessage `json:"phone_number"`
	PostID      json.RawMessage `json:"post_id"`
	CommentID   json.RawMessage `json:"comment_id"`
	Token       json.RawMessage `json:"notification_messages_token"`
}

// sendMessage is the Send API's message.
type sendMessage struct {
	Text         string          `json:"text"`
	QuickReplies []quickReply    `json:"quick_replies"`
	Attachment   *attachment     `json:"attachment"`
	Metadata     string          `json:"metadata"` // for echoes, which OpenTeller does not send: ignored
	Attachments  json.RawMessage `json:"attachments"`
}

type quickReply struct {
	ContentType string          `json:"content_type"`
	Title       string          `json:"title"`
	Payload     json.RawMessage `json:"payload"` // a string, or a number
	ImageURL    string          `json:"image_url"`
}

type attachment struct {
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload"`
}

// sent is what a translated message becomes: Bank API events for ingest.
type sent struct {
	events []bankapi.Event
}

// send serves POST /me/messages.
func (s *Service) send(w http.ResponseWriter, r *request) {
	if err := r.onlyFields("recipient", "messaging_type", "tag", "message", "sender_action", "notification_type", "persona_id"); err != nil {
		s.fail(w, err)
		return
	}
	var rcpt sendRecipient
	if ok, err := r.field("recipient", &rcpt); err != nil || !ok {
		s.fail(w, firstErr(err, invalidParam("Param recipient must be non-empty.")))
		return
	}
	switch {
	case rcpt.UserRef != nil, rcpt.PhoneNumber != nil, rcpt.PostID != nil, rcpt.CommentID != nil, rcpt.Token != nil:
		s.fail(w, invalidParam("Param recipient takes only id, the customer's link id (lnk_…): OpenTeller knows no customer by phone number, reference, post or comment."))
		return
	case rcpt.ID == "":
		s.fail(w, invalidParam("Param recipient[id] must be non-empty."))
		return
	}
	if _, ok := r.fields["persona_id"]; ok {
		s.fail(w, invalidParam("Param persona_id is not supported: OpenTeller has no personas; the bank's people answer from the agent console under their own names."))
		return
	}
	var notification string
	if _, err := r.field("notification_type", &notification); err != nil {
		s.fail(w, err)
		return
	}
	if notification != "" && notification != "REGULAR" && notification != "SILENT_PUSH" && notification != "NO_PUSH" {
		s.fail(w, invalidParam("Param notification_type must be one of REGULAR, SILENT_PUSH or NO_PUSH."))
		return
	}
	var action string
	if _, err := r.field("sender_action", &action); err != nil {
		s.fail(w, err)
		return
	}
	_, hasMessage := r.fields["message"]
	l, err := s.recipientLink(r.Context(), r.institutionID, rcpt.ID)
	if err != nil {
		s.fail(w, err)
		return
	}
	if action != "" {
		if hasMessage {
			s.fail(w, invalidParam("Param sender_action cannot be sent with a message: send them in two requests."))
			return
		}
		s.senderAction(w, r, l.ID, action)
		return
	}
	if !hasMessage {
		s.fail(w, invalidParam("Param message must be non-empty, or send a sender_action."))
		return
	}
	var typ, tag string
	if _, err := r.field("messaging_type", &typ); err != nil {
		s.fail(w, err)
		return
	}
	if _, err := r.field("tag", &tag); err != nil {
		s.fail(w, err)
		return
	}
	if err := checkMessagingType(typ, tag); err != nil {
		s.fail(w, err)
		return
	}
	var msg sendMessage
	if _, err := r.field("message", &msg); err != nil {
		s.fail(w, err)
		return
	}
	institution, err := s.Store.Institution(r.Context(), r.institutionID)
	if err != nil {
		s.fail(w, fmt.Errorf("messenger: read institution: %w", err))
		return
	}
	now := s.now().UTC()
	out, err := translate(msg, l.ID, institution.Name, now)
	if err != nil {
		s.fail(w, err)
		return
	}
	// Every event is checked before any is stored: a generic template of
	// several elements is refused whole or not at all.
	raws := make([]json.RawMessage, len(out.events))
	for i, ev := range out.events {
		raws[i], _ = json.Marshal(ev)
		if e := ingest.Check(raws[i], now); e != nil {
			s.fail(w, refusal(e, len(out.events) > 1, i))
			return
		}
	}
	results, err := s.Ingest.Ingest(r.Context(), r.institutionID, raws)
	if err != nil {
		s.fail(w, fmt.Errorf("messenger: ingest: %w", err))
		return
	}
	for i, res := range results {
		if res.Status == bankapi.ResultRejected {
			s.fail(w, refusal(res.Error, len(results) > 1, i))
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"recipient_id": l.ID, "message_id": out.events[0].ID})
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

func checkMessagingType(typ, tag string) error {
	switch {
	case typ == "":
		typ = "RESPONSE" // Graph clients of old send none
	case !slices.Contains(messagingTypes, typ):
		return invalidParam("Param messaging_type must be one of RESPONSE, UPDATE or MESSAGE_TAG.")
	}
	switch {
	case typ == "MESSAGE_TAG" && tag == "":
		return invalidParam("Param tag is required when messaging_type is MESSAGE_TAG.")
	case typ != "MESSAGE_TAG" && tag != "":
		return invalidParam("Param tag is only for messaging_type MESSAGE_TAG.")
	case tag != "" && !slices.Contains(messageTags, tag):
		return invalidParam("Param tag must be one of %s: the tags of bank and service updates that OpenTeller carries.", strings.Join(messageTags, ", "))
	}
	return nil
}

// refusal turns the Bank API's refusal of an event into the Graph error
// Messenger gives for the same fault.
func refusal(e *bankapi.Error, several bool, i int) *Error {
	msg := e.Message
	if several {
		msg = fmt.Sprintf("Element %d: %s", i, msg)
	}
	switch e.Code {
	case "pan_detected":
		return invalidParam("%s Nothing was sent.", msg)
	case "invalid_event":
		return invalidParam("The message does not fit OpenTeller's %s: %s", "message", msg)
	}
	return consentError(e.Code, msg)
}

// senderAction serves a sender_action: typing_on shows the customer that
// the bank is typing (for a few seconds, stored nowhere); typing_off and
// mark_seen are taken and change nothing, since OpenTeller's typing line
// fades by itself and it shows no read receipts.
func (s *Service) senderAction(w http.ResponseWriter, r *request, linkID, action string) {
	switch action {
	case "typing_on", "typing_off", "mark_seen":
	default:
		s.fail(w, invalidParam("Param sender_action must be one of typing_on, typing_off or mark_seen."))
		return
	}
	l, err := s.Store.Link(r.Context(), linkID)
	if err != nil {
		s.fail(w, err)
		return
	}
	if err := s.liveLink(l); err != nil {
		s.fail(w, err)
		return
	}
	if action == "typing_on" && s.Typing != nil {
		in, err := s.Store.Institution(r.Context(), r.institutionID)
		if err != nil {
			s.fail(w, err)
			return
		}
		if err := s.Typing(l.CustomerID, l.ConversationID, in.Name); err != nil {
			s.fail(w, fmt.Errorf("messenger: typing: %w", err))
			return
		}
	}
	writeJSON(w, http.StatusOK, map[string]string{"recipient_id": l.ID})
}

// translate turns a Send API message into Bank API events for the link.
func translate(m sendMessage, linkID, merchant string, now time.Time) (sent, error) {
	if m.Attachments != nil {
		return sent{}, invalidParam("Param message[attachments] is not supported: OpenTeller carries no media; send text or a template.")
	}
	if (m.Text == "") == (m.Attachment == nil) {
		return sent{}, invalidParam("Param message must have exactly one of text or attachment.")
	}
	replies, err := translateQuickReplies(m.QuickReplies)
	if err != nil {
		return sent{}, err
	}
	id := ingest.NewID("mid.")
	event := func(n int, typ string, data any) bankapi.Event {
		evID := id
		if n > 0 {
			evID = fmt.Sprintf("%s.%d", id, n+1)
		}
		return bankapi.Event{ID: evID, LinkID: linkID, Type: typ, OccurredAt: now, Data: data}
	}
	if m.Text != "" {
		return sent{events: []bankapi.Event{event(0, bankapi.TypeMessage, bankapi.Message{Text: m.Text, QuickReplies: replies})}}, nil
	}
	a := m.Attachment
	if a.Type != "template" {
		return sent{}, invalidParam("Param message[attachment][type] %q is not supported: OpenTeller carries no images, audio, video or files; send text or a button, generic or receipt template.", a.Type)
	}
	var head struct {
		TemplateType string `json:"template_type"`
	}
	if err := json.Unmarshal(a.Payload, &head); err != nil {
		return sent{}, invalidParam("Param message[attachment][payload] must be an object with a template_type.")
	}
	var msgs []bankapi.Message
	switch head.TemplateType {
	case "button":
		msg, err := buttonTemplate(a.Payload)
		if err != nil {
			return sent{}, err
		}
		msgs = []bankapi.Message{msg}
	case "generic":
		if msgs, err = genericTemplate(a.Payload); err != nil {
			return sent{}, err
		}
	case "receipt":
		if len(replies) > 0 {
			return sent{}, invalidParam("Param message[quick_replies] cannot go with a receipt: OpenTeller's receipt card offers no replies.")
		}
		rcpt, at, err := receiptTemplate(a.Payload, merchant)
		if err != nil {
			return sent{}, err
		}
		ev := event(0, bankapi.TypeReceipt, rcpt)
		if !at.IsZero() && !at.After(now) {
			ev.OccurredAt = at
		}
		return sent{events: []bankapi.Event{ev}}, nil
	default:
		return sent{}, invalidParam("Param message[attachment][payload][template_type] %q is not supported: OpenTeller maps button, generic and receipt templates.", head.TemplateType)
	}
	// Quick replies go with the last message, the question being asked.
	msgs[len(msgs)-1].QuickReplies = replies
	out := sent{}
	for i, msg := range msgs {
		out.events = append(out.events, event(i, bankapi.TypeMessage, msg))
	}
	return out, nil
}

// maxQuickReplies is Messenger's limit, and OpenTeller's.
const maxQuickReplies = 13

func translateQuickReplies(qs []quickReply) ([]bankapi.QuickReply, error) {
	if len(qs) > maxQuickReplies {
		return nil, invalidParam("Param message[quick_replies] must have at most %d items.", maxQuickReplies)
	}
	var out []bankapi.QuickReply
	for i, q := range qs {
		switch q.ContentType {
		case "text", "":
		case "user_phone_number", "user_email":
			return nil, invalidParam("Param message[quick_replies][%d][content_type] %s is not supported: OpenTeller never gives a bank the customer's phone number or email.", i, q.ContentType)
		default:
			return nil, invalidParam("Param message[quick_replies][%d][content_type] must be text.", i)
		}
		if q.ImageURL != "" {
			return nil, noImages(fmt.Sprintf("message[quick_replies][%d][image_url]", i))
		}
		if q.Title == "" {
			return nil, invalidParam("Param message[quick_replies][%d][title] must be non-empty.", i)
		}
		payload, err := payloadString(q.Payload)
		if err != nil {
			return nil, invalidParam("Param message[quick_replies][%d][payload] must be a string or a number.", i)
		}
		out = append(out, bankapi.QuickReply{Label: q.Title, Payload: payload})
	}
	return out, nil
}

// payloadString reads a payload sent as a JSON string or number.
func payloadString(raw json.RawMessage) (string, error) {
	if raw == nil {
		return "", nil
	}
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s, nil
	}
	var n json.Number
	if err := json.Unmarshal(raw, &n); err != nil {
		return "", err
	}
	return n.String(), nil
}

// noImages refuses an image: OpenTeller's messenger loads nothing from
// another host, since that would tell the host when the customer read it.
func noImages(field string) *Error {
	return invalidParam("Param %s is not supported: OpenTeller shows no images from other hosts, since loading one would tell that host when the customer read the message. Leave it out.", field)
}
