package sqlstore

import (
	"context"
	"errors"
	"strings"

	"github.com/openteller/openteller/internal/store"
)

// Conversations and their events, as customers, delivery and the console
// read them. Appends (the hot path) are each engine's own.

// conversationQuery reads a conversation with its institution's name, its
// last seq and its latest link.
const conversationQuery = conversationSelect + conversationFrom

const (
	conversationSelect = `SELECT c.id, c.customer_id, c.institution_id, i.name, LAST_SEQ(c),
	l.id, l.customer_id, l.institution_id, l.conversation_id, l.scopes, l.status, l.created_at, l.expires_at, l.revoked_at, c.owner, c.agent_id,
	c.status, c.snoozed_until, c.priority`
	conversationFrom = `
	FROM conversations c JOIN institutions i ON i.id = c.institution_id
	JOIN links l ON l.id = (SELECT id FROM links WHERE conversation_id = c.id ORDER BY created_at DESC, id DESC LIMIT 1)`
)

// conversationRow is where a row of conversationSelect is scanned.
type conversationRow struct {
	cv     store.Conversation
	scopes string
}

func (r *conversationRow) dest() []any {
	cv, l := &r.cv, &r.cv.Link
	return []any{&cv.ID, &cv.CustomerID, &cv.InstitutionID, &cv.InstitutionName, &cv.LastSeq,
		&l.ID, &l.CustomerID, &l.InstitutionID, &l.ConversationID, &r.scopes, &l.Status, &l.CreatedAt, &l.ExpiresAt, &l.RevokedAt, &cv.Owner, &cv.AgentID,
		&cv.Status, &cv.SnoozedUntil, &cv.Priority}
}

func (r *conversationRow) conversation() store.Conversation {
	r.cv.Link.Scopes = strings.Fields(r.scopes)
	return r.cv
}

func scanConversation(row Row) (store.Conversation, error) {
	var r conversationRow
	err := row.Scan(r.dest()...)
	return r.conversation(), notFound(err)
}

func (db *DB) Conversations(ctx context.Context, customerID string) ([]store.Conversation, error) {
	out, err := all(scanConversation)(db.reads().Query(ctx, conversationQuery+` WHERE c.customer_id = ? ORDER BY i.name, c.id`, customerID))
	return out, db.wrap("Conversations", err)
}

func (db *DB) Conversation(ctx context.Context, id string) (store.Conversation, error) {
	cv, err := scanConversation(db.reads().QueryRow(ctx, conversationQuery+` WHERE c.id = ?`, id))
	return cv, db.wrap("Conversation", err)
}

// HandedOver lists an institution's conversations that people own or wait
// for, for the console's queue.
func (db *DB) HandedOver(ctx context.Context, institutionID string) ([]store.Conversation, error) {
	out, err := all(scanConversation)(db.reads().Query(ctx, conversationQuery+` WHERE c.institution_id = ? AND c.owner <> 'bot' ORDER BY c.id`, institutionID))
	return out, db.wrap("HandedOver", err)
}

// SearchConversations finds an institution's conversations whose latest
// link's id contains ref.
func (db *DB) SearchConversations(ctx context.Context, institutionID, ref string, limit int) ([]store.Conversation, error) {
	pattern := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(ref) + "%"
	out, err := all(scanConversation)(db.reads().Query(ctx, conversationQuery+` WHERE c.institution_id = ? AND l.id LIKE ? ESCAPE '\' ORDER BY c.id LIMIT ?`, institutionID, pattern, limit))
	return out, db.wrap("SearchConversations", err)
}

// ConversationHeads returns the last seq of every conversation of the
// customers, for delivery to know what each device has missed.
func (db *DB) ConversationHeads(ctx context.Context, customerIDs []string) ([]store.ConversationHead, error) {
	var out []store.ConversationHead
	err := each(customerIDs, func(ids []any) error {
		heads, err := all(func(row Row) (store.ConversationHead, error) {
			var h store.ConversationHead
			return h, row.Scan(&h.ConversationID, &h.CustomerID, &h.LastSeq)
		})(db.reads().Query(ctx, `SELECT c.id, c.customer_id, LAST_SEQ(c) FROM conversations c WHERE c.customer_id IN `+in(len(ids)), ids...))
		out = append(out, heads...)
		return err
	})
	return out, db.wrap("ConversationHeads", err)
}

const eventCols = `conversation_id, seq, id, customer_id, institution_id, link_id, coalesce(bank_event_id, ''), type, author, occurred_at, received_at, replaces_seq, sealed`

func eventDest(e *store.Event) []any {
	return []any{&e.ConversationID, &e.Seq, &e.ID, &e.CustomerID, &e.InstitutionID, &e.LinkID, &e.BankEventID, &e.Type, &e.Author, &e.OccurredAt, &e.ReceivedAt, &e.ReplacesSeq, &e.Sealed}
}

func scanEvent(row Row) (store.Event, error) {
	var e store.Event
	err := row.Scan(eventDest(&e)...)
	return e, err
}

// conversationEventQuery reads a conversation as conversationQuery does,
// and its event at a seq: the event's seq, then the conversation's id.
const conversationEventQuery = conversationSelect + `,
	e.conversation_id, e.seq, e.id, e.customer_id, e.institution_id, e.link_id, coalesce(e.bank_event_id, ''), e.type, e.author, e.occurred_at, e.received_at, e.replaces_seq, e.sealed` +
	conversationFrom + `
	JOIN events e ON e.conversation_id = c.id AND e.seq = ? WHERE c.id = ?`

// ConversationEvent reads the conversation and its event at seq in one
// statement: a customer's tap on a card needs both, and waits for each
// round trip. When the conversation has no event at seq, the event is the
// zero Event, read with the conversation in a second statement.
func (db *DB) ConversationEvent(ctx context.Context, id string, seq int64) (store.Conversation, store.Event, error) {
	var r conversationRow
	var e store.Event
	err := db.reads().QueryRow(ctx, conversationEventQuery, seq, id).Scan(append(r.dest(), eventDest(&e)...)...)
	if errors.Is(notFound(err), store.ErrNotFound) {
		c, err := db.Conversation(ctx, id)
		return c, store.Event{}, err
	}
	return r.conversation(), e, db.wrap("ConversationEvent", err)
}

func (db *DB) EventsAfter(ctx context.Context, conversationID string, after int64, limit int) ([]store.Event, error) {
	out, err := all(scanEvent)(db.reads().Query(ctx, `SELECT `+eventCols+` FROM events WHERE conversation_id = ? AND seq > ? ORDER BY seq LIMIT ?`, conversationID, after, limit))
	return out, db.wrap("EventsAfter", err)
}

func (db *DB) EventsBefore(ctx context.Context, conversationID string, before int64, limit int) ([]store.Event, error) {
	out, err := all(scanEvent)(db.reads().Query(ctx, `SELECT * FROM (SELECT `+eventCols+` FROM events WHERE conversation_id = ? AND seq < ? ORDER BY seq DESC LIMIT ?) page ORDER BY seq`,
		conversationID, before, limit))
	return out, db.wrap("EventsBefore", err)
}

func (db *DB) LatestEvents(ctx context.Context, conversationID, typ string, limit int) ([]store.Event, error) {
	out, err := all(scanEvent)(db.reads().Query(ctx, `SELECT `+eventCols+` FROM events WHERE conversation_id = ? AND type = ? ORDER BY seq DESC LIMIT ?`, conversationID, typ, limit))
	return out, db.wrap("LatestEvents", err)
}
