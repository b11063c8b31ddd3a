package messenger

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/openteller/openteller/internal/handover"
	"github.com/openteller/openteller/internal/ingest"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
	"github.com/openteller/openteller/pkg/bankapi"
)

// Signature headers of a Messenger webhook: the hex HMAC of the body keyed
// with the app secret, in SHA-256 and (for older bots) SHA-1.
const (
	HeaderSignature256 = "X-Hub-Signature-256"
	HeaderSignature    = "X-Hub-Signature"
)

// Payloads of the postbacks that carry what Messenger has no event for:
// the customer's menu requests and answers to fraud alerts.
const (
	PayloadRequestPrefix = "OPENTELLER_REQUEST:"        // + balance, recent_transactions or human
	PayloadFraudPrefix   = "OPENTELLER_FRAUD_RESPONSE:" // + alert id + ":" + action
	// Any other notice (a type newer than this mapping): its type, with
	// the Bank API's data in the event's "openteller" field.
	PayloadNoticePrefix = "OPENTELLER_NOTICE:"
)

// Sign returns the two signature headers' values for body, made with the
// app secret inside the vault.
func Sign(appSecret *vault.MACKey, body []byte) (sha256Header, sha1Header string) {
	return "sha256=" + hex.EncodeToString(appSecret.Sum(sha256.New, body)), "sha1=" + hex.EncodeToString(appSecret.Sum(sha1.New, body))
}

// Delivery is the body of a Messenger webhook.
type Delivery struct {
	Object string  `json:"object"` // "page"
	Entry  []Entry `json:"entry"`
}

// Entry is one page's events: Messaging while the bot has the
// conversation, Standby while the bank's people do.
type Entry struct {
	ID        string      `json:"id"`
	Time      int64       `json:"time"`
	Messaging []Messaging `json:"messaging,omitempty"`
	Standby   []Messaging `json:"standby,omitempty"`
}

// Party is a sender or recipient.
type Party struct {
	ID string `json:"id"`
}

// Messaging is one event of an entry.
type Messaging struct {
	Sender            Party           `json:"sender"`
	Recipient         Party           `json:"recipient"`
	Timestamp         int64           `json:"timestamp"`
	Message           *InMessage      `json:"message,omitempty"`
	Postback          *Postback       `json:"postback,omitempty"`
	AccountLinking    *AccountLinking `json:"account_linking,omitempty"`
	PassThreadControl *ThreadControl  `json:"pass_thread_control,omitempty"`
	TakeThreadControl *ThreadControl  `json:"take_thread_control,omitempty"`
	ReleaseThreadCtrl *ThreadControl  `json:"release_thread_control,omitempty"`
	RequestThreadCtrl *ThreadControl  `json:"request_thread_control,omitempty"`
	// OpenTeller carries, beside a postback, a notice Messenger has no
	// event for, as the Bank API's webhook would: {"type","data"}.
	OpenTeller *Notice `json:"openteller,omitempty"`
}

// Notice is a Bank API notice inside a Messenger event.
type Notice struct {
	Type string          `json:"type"`
	Data json.RawMessage `json:"data"`
}

// InMessage is what the customer wrote, or the quick reply they tapped.
type InMessage struct {
	MID        string      `json:"mid"`
	Text       string      `json:"text"`
	QuickReply *QuickReply `json:"quick_reply,omitempty"`
}

// QuickReply carries a tapped quick reply's payload.
type QuickReply struct {
	Payload string `json:"payload"`
}

// Postback is a tapped button or menu item.
type Postback struct {
	MID     string `json:"mid,omitempty"`
	Title   string `json:"title"`
	Payload string `json:"payload"`
}

// AccountLinking says a link was made ("linked") or ended ("unlinked").
type AccountLinking struct {
	Status string `json:"status"`
}

// ThreadControl is a change of who has the conversation.
type ThreadControl struct {
	NewOwnerAppID      string `json:"new_owner_app_id,omitempty"`
	PreviousOwnerAppID string `json:"previous_owner_app_id,omitempty"`
	RequestedOwnerID   string `json:"requested_owner_app_id,omitempty"`
	Metadata           string `json:"metadata,omitempty"`
}

// Format is the webhook format store.FormatMessenger (webhook.Format): the
// notice in Messenger's shape, one event in one entry, signed with the
// newest secret. A change of owner between the bank's people (queue to
// agent) has no Messenger event and is not sent.
func Format(n store.Notice, data []byte, secrets []*vault.MACKey, now time.Time) ([]byte, http.Header, bool, error) {
	if len(secrets) == 0 {
		return nil, nil, false, errors.New("no app secret")
	}
	ev, standby, send, err := event(n, data)
	if err != nil || !send {
		return nil, nil, send, err
	}
	entry := Entry{ID: n.InstitutionID, Time: now.UnixMilli()}
	if standby {
		entry.Standby = []Messaging{ev}
	} else {
		entry.Messaging = []Messaging{ev}
	}
	body, err := json.Marshal(Delivery{Object: "page", Entry: []Entry{entry}})
	if err != nil {
		return nil, nil, false, err
	}
	s256, s1 := Sign(secrets[0], body)
	h := http.Header{}
	h.Set(HeaderSignature256, s256)
	h.Set(HeaderSignature, s1)
	return body, h, true, nil
}

// event is the Messenger event for a notice, and whether it goes as
// standby.
func event(n store.Notice, data []byte) (Messaging, bool, bool, error) {
	ev := Messaging{Sender: Party{ID: n.LinkID}, Recipient: Party{ID: n.InstitutionID}, Timestamp: n.CreatedAt.UnixMilli()}
	switch n.Type {
	case store.NoticeCustomerMessage:
		var m bankapi.CustomerMessage
		if err := json.Unmarshal(data, &m); err != nil {
			return ev, false, false, fmt.Errorf("decode %s: %w", n.Type, err)
		}
		ev.Timestamp = m.SentAt.UnixMilli()
		switch m.Tapped {
		case ingest.TappedButton, ingest.TappedMenu, ingest.TappedGetStarted:
			ev.Postback = &Postback{MID: m.MessageID, Title: m.Text, Payload: m.Payload}
		default:
			ev.Message = &InMessage{MID: m.MessageID, Text: m.Text}
			if m.Payload != "" {
				ev.Message.QuickReply = &QuickReply{Payload: m.Payload}
			}
		}
		return ev, m.Standby, true, nil
	case store.NoticeCustomerRequest:
		var m bankapi.CustomerRequest
		if err := json.Unmarshal(data, &m); err != nil {
			return ev, false, false, fmt.Errorf("decode %s: %w", n.Type, err)
		}
		ev.Timestamp = m.RequestedAt.UnixMilli()
		title := map[string]string{bankapi.RequestBalance: "Balance", bankapi.RequestRecentTransactions: "Recent transactions", bankapi.RequestHuman: "Talk to a person"}[m.Kind]
		ev.Postback = &Postback{MID: m.RequestID, Title: title, Payload: PayloadRequestPrefix + m.Kind}
		return ev, false, true, nil
	case store.NoticeFraudResponse:
		var m bankapi.FraudResponse
		if err := json.Unmarshal(data, &m); err != nil {
			return ev, false, false, fmt.Errorf("decode %s: %w", n.Type, err)
		}
		ev.Timestamp = m.AnsweredAt.UnixMilli()
		ev.Postback = &Postback{Title: m.Action, Payload: PayloadFraudPrefix + m.AlertID + ":" + m.Action}
		return ev, false, true, nil
	case store.NoticeLinkCreated:
		ev.AccountLinking = &AccountLinking{Status: "linked"}
		return ev, false, true, nil
	case store.NoticeLinkRevoked, store.NoticeLinkExpired:
		var m bankapi.LinkNotice
		if err := json.Unmarshal(data, &m); err == nil && !m.EndedAt.IsZero() {
			ev.Timestamp = m.EndedAt.UnixMilli()
		}
		ev.AccountLinking = &AccountLinking{Status: "unlinked"}
		return ev, false, true, nil
	case store.NoticeHandover:
		var h handover.Notice
		if err := json.Unmarshal(data, &h); err != nil {
			return ev, false, false, fmt.Errorf("decode %s: %w", n.Type, err)
		}
		ev.Timestamp = h.At.UnixMilli()
		from, to := appID(n.InstitutionID, string(h.From)), appID(n.InstitutionID, string(h.To))
		if from == to {
			return ev, false, false, nil // between the bank's people: no Messenger event
		}
		tc := &ThreadControl{NewOwnerAppID: to, PreviousOwnerAppID: from, Metadata: string(h.Trigger)}
		switch h.Trigger {
		case handover.BotAsks, handover.AgentReturns:
			ev.PassThreadControl = tc // the owner gave it
		default:
			ev.TakeThreadControl = tc // the new owner took it, or the customer asked
		}
		return ev, false, true, nil
	}
	// A notice with no Messenger event of its own still reaches the bot,
	// in order: never held back, never dropped.
	if !json.Valid(data) {
		return ev, false, false, fmt.Errorf("notice %s: data is not JSON", n.Type)
	}
	ev.Postback = &Postback{Title: n.Type, Payload: PayloadNoticePrefix + n.Type}
	ev.OpenTeller = &Notice{Type: n.Type, Data: json.RawMessage(data)}
	return ev, false, true, nil
}

// Handshake is Messenger's verification of a webhook URL
// (webhook.Handshake): a GET with hub.mode=subscribe, the bank's
// hub.verify_token and a fresh hub.challenge, which the endpoint must echo
// with a 200.
func Handshake(ctx context.Context, client *http.Client, endpoint, verifyToken string) error {
	b := make([]byte, 16)
	rand.Read(b)
	challenge := hex.EncodeToString(b)
	u, err := url.Parse(endpoint)
	if err != nil {
		return err
	}
	q := u.Query()
	q.Set("hub.mode", "subscribe")
	q.Set("hub.verify_token", verifyToken)
	q.Set("hub.challenge", challenge)
	u.RawQuery = q.Encode()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "OpenTeller-Webhooks/1")
	resp, err := client.Do(req)
	if err != nil {
		return errors.New("the endpoint could not be reached")
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	switch {
	case resp.StatusCode != http.StatusOK:
		return fmt.Errorf("the endpoint answered %s, not 200 with the challenge", resp.Status)
	case strings.TrimSpace(string(body)) != challenge:
		return errors.New("the endpoint did not echo hub.challenge")
	}
	return nil
}
