package console

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/openteller/openteller/internal/access"
	"github.com/openteller/openteller/internal/httpx"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// fraudWindow is how long after a fraud alert, or the customer's answer
// to one, a conversation counts as fraud-related in the queue's order.
const fraudWindow = 24 * time.Hour

// queued is a conversation as the queue lists it: metadata only. Nothing
// here was opened from the customer's sealed events, so listing it is not
// a read of their data; previews are (see previews).
type queued struct {
	ID           string     `json:"id"`
	LinkID       string     `json:"link_id"`
	Who          string     `json:"who"`                   // a pseudonym, stable per conversation; never the customer's email
	NameSetAt    *time.Time `json:"name_set_at,omitempty"` // the customer shows a name of their choosing since then; reading it is a read (names.go)
	Owner        string     `json:"owner"`
	AgentID      string     `json:"agent_id,omitempty"`
	Mine         bool       `json:"mine"`
	LastSeq      int64      `json:"last_seq"`
	Status       string     `json:"status"`
	Priority     int        `json:"priority"`
	SnoozedUntil *time.Time `json:"snoozed_until,omitempty"`
	Labels       []string   `json:"labels"`

	// From the queue's metadata (HandedOverActivity).
	AgentName       string     `json:"agent_name,omitempty"`
	AgentPresence   string     `json:"agent_presence,omitempty"` // online, away or offline
	Why             string     `json:"why,omitempty"`            // the customer's newest event, in words, without its content
	LastCustomerSeq int64      `json:"last_customer_seq,omitempty"`
	LastCustomerAt  *time.Time `json:"last_customer_at,omitempty"`
	WaitingSince    *time.Time `json:"waiting_since,omitempty"` // the customer waits for an answer since then
	Fraud           bool       `json:"fraud"`                   // a fraud alert or answer in the last 24 hours
}

// row is the queue's view of a conversation the member may see.
func (s *Service) row(m member, c store.Conversation, labels []string, named map[string]time.Time) queued {
	q := queued{ID: c.ID, LinkID: c.Link.ID, Who: Pseudonym(c.ID), Owner: c.Owner, AgentID: c.AgentID, Mine: c.AgentID == m.ID,
		LastSeq: c.LastSeq, Status: c.Status, Priority: c.Priority, Labels: labels}
	if at, ok := named[c.ID]; ok {
		q.NameSetAt = &at
	}
	if q.Labels == nil {
		q.Labels = []string{}
	}
	if c.Status == store.StatusSnoozed && c.SnoozedUntil.After(s.c.Now()) {
		q.SnoozedUntil = &c.SnoozedUntil
	} else if c.Status == store.StatusSnoozed {
		q.Status = store.StatusOpen // the snooze is over
	}
	return q
}

// cardActionType is the customer's tap on an action a card.status offered.
const cardActionType = "card.action"

// whyWords says what the customer last did, from the event's type alone.
var whyWords = map[string]string{
	ingest.CustomerMessageType: "Wrote a message",
	ingest.CustomerRequestType: "Made a request",
	ingest.FraudResponseType:   "Answered a fraud alert",
	cardActionType:             "Acted on a card",
	ingest.RatingType:          "Rated the help",
}

// waitingSince is since when the customer waits for an answer from a
// person: since the bot handed the conversation over, until an agent
// writes; after that, since the customer's first event after the agents'
// last word. Zero when an agent spoke last.
func waitingSince(a store.Activity) time.Time {
	if !a.LastAgentAt.IsZero() && !a.LastAgentAt.Before(a.HandedAt) {
		return a.CustomerSinceAgent
	}
	if !a.HandedAt.IsZero() {
		return a.HandedAt
	}
	return a.CustomerSinceAgent
}

// queue lists the conversations handed to the institution's people:
// waiting, and with an agent, most urgent first (see order). No content:
// opening one, or reading its preview, is a read.
func (s *Service) queue(w http.ResponseWriter, r *http.Request, m member) {
	ctx := r.Context()
	cs, err := s.c.Store.HandedOver(ctx, m.InstitutionID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	activity, err := s.c.Store.HandedOverActivity(ctx, m.InstitutionID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	labels, err := s.c.Store.ConversationLabels(ctx, m.InstitutionID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	presence, err := s.c.Store.StaffPresence(ctx, m.InstitutionID, s.c.Now())
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	named, err := s.nameTimes(ctx, cs)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	byID := map[string]store.Activity{}
	for _, a := range activity {
		byID[a.ConversationID] = a
	}
	names := map[string]string{}
	now := s.c.Now()
	out := []queued{}
	for _, c := range cs {
		if !s.visible(m, c) {
			continue
		}
		q := s.row(m, c, labels[c.ID], named)
		if a, ok := byID[c.ID]; ok {
			q.Why = whyWords[a.LastCustomerType]
			q.LastCustomerSeq = a.LastCustomerSeq
			if !a.LastCustomerAt.IsZero() {
				q.LastCustomerAt = &a.LastCustomerAt
			}
			if since := waitingSince(a); !since.IsZero() {
				q.WaitingSince = &since
			}
			q.Fraud = !a.FraudAt.IsZero() && now.Sub(a.FraudAt) < fraudWindow
		}
		if c.AgentID != "" {
			if _, ok := names[c.AgentID]; !ok {
				if a, err := s.c.Store.Staff(ctx, c.AgentID); err == nil {
					names[c.AgentID] = a.Name
				}
			}
			q.AgentName = names[c.AgentID]
			q.AgentPresence = presence[c.AgentID]
			if q.AgentPresence == "" {
				q.AgentPresence = "offline"
			}
		}
		out = append(out, q)
	}
	slices.SortStableFunc(out, order(now))
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"conversations": out})
}

// order is the queue's order, most urgent first:
//
//  1. snoozed ones (until their time) after all the others;
//  2. urgency: Urgent, then High — a fraud-related conversation (a fraud
//     alert or the customer's answer to one in the last 24 hours) is at
//     least High — then Normal;
//  3. within the same urgency, fraud-related first;
//  4. then customers waiting for an answer before those an agent answered
//     last, the one waiting longest first;
//  5. then by id, so the order is stable between polls.
func order(now time.Time) func(a, b queued) int {
	urgency := func(q queued) int {
		if q.Fraud {
			return max(q.Priority, 1)
		}
		return q.Priority
	}
	flag := func(b bool) int {
		if b {
			return 1
		}
		return 0
	}
	return func(a, b queued) int {
		if d := flag(a.SnoozedUntil != nil) - flag(b.SnoozedUntil != nil); d != 0 {
			return d
		}
		if d := urgency(b) - urgency(a); d != 0 {
			return d
		}
		if d := flag(b.Fraud) - flag(a.Fraud); d != 0 {
			return d
		}
		if d := flag(b.WaitingSince != nil) - flag(a.WaitingSince != nil); d != 0 {
			return d
		}
		if a.WaitingSince != nil {
			if d := a.WaitingSince.Compare(*b.WaitingSince); d != 0 {
				return d
			}
		}
		return strings.Compare(a.ID, b.ID)
	}
}

// maxPreviews is how many conversations one previews (or names) request
// may name.
const maxPreviews = 50

// preview is the customer's newest message or request, in words.
type preview struct {
	ID   string    `json:"id"`
	Seq  int64     `json:"seq"`
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// previews serves GET /console/api/previews?ids=a,b,c: for each of these
// conversations in the member's queue, the customer's newest message or
// request, shortened. Each is a read of that customer's conversation, so
// it goes into their access log before it is opened; the console asks
// only for the rows it shows, and again only when the customer wrote
// since. Conversations the member may not see are left out, as if they
// did not exist.
func (s *Service) previews(w http.ResponseWriter, r *http.Request, m member) {
	ctx := r.Context()
	ids, err := idsParam(r)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	activity, err := s.c.Store.HandedOverActivity(ctx, m.InstitutionID)
	if err != nil {
		httpx.WriteError(w, err)
		return
	}
	last := map[string]int64{}
	for _, a := range activity {
		last[a.ConversationID] = a.LastCustomerSeq
	}
	out := []preview{}
	for _, id := range ids {
		seq := last[id]
		if seq == 0 {
			continue // not in the queue, or the customer has not written
		}
		c, err := s.conversation(ctx, m, id)
		if errors.Is(err, errNotVisible) {
			continue
		}
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		p, ok, err := s.preview(ctx, m, c, seq)
		if err != nil {
			httpx.WriteError(w, err)
			return
		}
		if ok {
			out = append(out, p)
		}
	}
	httpx.WriteJSON(w, http.StatusOK, map[string]any{"previews": out})
}

// idsParam reads ?ids=a,b,c: 1 to maxPreviews conversation ids, each
// once (400 invalid_ids otherwise).
func idsParam(r *http.Request) ([]string, error) {
	var ids []string
	named := 0
	for _, id := range strings.Split(r.URL.Query().Get("ids"), ",") {
		if id = strings.TrimSpace(id); id != "" {
			named++
			if !slices.Contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	if named == 0 || named > maxPreviews {
		return nil, httpx.Errorf(http.StatusBadRequest, "invalid_ids", "Name 1 to %d conversations: ?ids=a,b,c.", maxPreviews)
	}
	return ids, nil
}

// preview reads the customer's event at seq, after writing the read into
// their access log.
func (s *Service) preview(ctx context.Context, m member, c store.Conversation, seq int64) (preview, bool, error) {
	if seq > c.LastSeq {
		return preview{}, false, nil // beyond the head seen when the right to read was checked
	}
	// The event as stored, still sealed: its type and author are metadata.
	evs, err := s.c.Store.EventsAfter(ctx, c.ID, seq-1, 1)
	if err != nil {
		return preview{}, false, err
	}
	if len(evs) == 0 || evs[0].Seq != seq || evs[0].Author != store.AuthorCustomer || !previewed[evs[0].Type] {
		return preview{}, false, nil // deleted meanwhile, or nothing to show: not opened, not a read
	}
	if err := s.c.Access.Record(ctx, access.ActorAgent, m.ID, "read", "conversation", c.CustomerID); err != nil {
		return preview{}, false, fmt.Errorf("console: record access: %w", err)
	}
	plain, err := s.c.Keyring.Open(ctx, vault.ConversationKey(evs[0].CustomerID, evs[0].InstitutionID), evs[0].ID, evs[0].Sealed)
	if err != nil {
		return preview{}, false, nil // its history was cleared: the key went with it
	}
	var data struct {
		Text  string `json:"text"`
		Kind  string `json:"kind"`
		Label string `json:"label"`
	}
	if json.Unmarshal(plain, &data) != nil {
		return preview{}, false, nil
	}
	var text string
	switch evs[0].Type {
	case ingest.CustomerMessageType:
		text = shorten(data.Text, 140)
	case ingest.CustomerRequestType:
		text = requestWords[data.Kind]
		if text == "" {
			text = "Made a request"
		}
	case ingest.FraudResponseType:
		text = "Answered a fraud alert: " + shorten(data.Label, 60)
	case cardActionType:
		text = "On a card: " + shorten(data.Label, 60)
	default:
		return preview{}, false, nil
	}
	return preview{ID: c.ID, Seq: seq, At: evs[0].ReceivedAt, Text: text}, true, nil
}

// previewed are the customer's events a preview shows.
var previewed = map[string]bool{ingest.CustomerMessageType: true, ingest.CustomerRequestType: true, ingest.FraudResponseType: true, cardActionType: true}

// requestWords says what the customer asked for from the menu.
var requestWords = map[string]string{
	"human":               "Asked to talk to a person",
	"balance":             "Asked for their balance",
	"recent_transactions": "Asked for recent transactions",
}

// shorten cuts text to at most n characters, at a word when it can.
func shorten(text string, n int) string {
	text = strings.Join(strings.Fields(text), " ")
	if utf8.RuneCountInString(text) <= n {
		return text
	}
	cut := string([]rune(text)[:n-1])
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return cut + "…"
}

// Pseudonym names a customer to the bank's people without saying who they
// are: two words derived from the conversation's id, the same every time
// and on every node. The customer's email is never shown to the bank.
func Pseudonym(conversationID string) string {
	sum := sha256.Sum256([]byte("openteller console pseudonym\x00" + conversationID))
	a := binary.BigEndian.Uint32(sum[0:4]) % uint32(len(pseudonymAdjectives))
	n := binary.BigEndian.Uint32(sum[4:8]) % uint32(len(pseudonymNouns))
	return pseudonymAdjectives[a] + " " + pseudonymNouns[n]
}

var pseudonymAdjectives = []string{
	"Amber", "Autumn", "Azure", "Birch", "Bright", "Calm", "Cedar", "Clover",
	"Cobalt", "Copper", "Coral", "Crimson", "Dawn", "Dusky", "Early", "Fern",
	"Frosty", "Gentle", "Golden", "Hazel", "Honey", "Indigo", "Ivory", "Jade",
	"Juniper", "Keen", "Lilac", "Lively", "Lunar", "Maple", "Meadow", "Merry",
	"Misty", "Mossy", "Noble", "Ocean", "Olive", "Opal", "Pearl", "Pine",
	"Quiet", "Rainy", "Rosy", "Ruby", "Russet", "Sage", "Sandy", "Silver",
	"Snowy", "Solar", "Spring", "Steady", "Summer", "Sunny", "Teal", "Tidal",
	"Velvet", "Violet", "Warm", "Willow", "Windy", "Winter", "Wise", "Zesty",
}

var pseudonymNouns = []string{
	"Badger", "Bear", "Beaver", "Bison", "Crane", "Deer", "Dolphin", "Dove",
	"Eagle", "Egret", "Falcon", "Finch", "Fox", "Gecko", "Gull", "Hare",
	"Hawk", "Heron", "Ibis", "Jay", "Kestrel", "Kingfisher", "Koala", "Lark",
	"Lemur", "Lynx", "Marmot", "Marten", "Moose", "Newt", "Osprey", "Otter",
	"Owl", "Panda", "Pelican", "Penguin", "Plover", "Puffin", "Quail", "Rabbit",
	"Raven", "Robin", "Salmon", "Seal", "Sparrow", "Starling", "Stork", "Swan",
	"Tern", "Thrush", "Tiger", "Toucan", "Trout", "Turtle", "Walrus", "Weasel",
	"Whale", "Wolf", "Wren", "Yak", "Zebra", "Mole", "Cod", "Emu",
}
