package store

import "context"

// Ownership, inside the read. Every path from a customer's request to a
// conversation or a link reads it through these, so another customer's
// answers exactly as one that does not exist (ErrNotFound), decided in one
// place instead of beside each read.

// CustomerConversation is the customer's own conversation with this id.
func CustomerConversation(ctx context.Context, s interface {
	Conversation(context.Context, string) (Conversation, error)
}, customerID, id string) (Conversation, error) {
	c, err := s.Conversation(ctx, id)
	if err == nil && (customerID == "" || c.CustomerID != customerID) {
		return Conversation{}, ErrNotFound
	}
	return c, err
}

// CustomerConversationEvent is the customer's own conversation with this
// id, and its event at seq (the zero Event when it has none there).
func CustomerConversationEvent(ctx context.Context, s interface {
	ConversationEvent(context.Context, string, int64) (Conversation, Event, error)
}, customerID, id string, seq int64) (Conversation, Event, error) {
	c, e, err := s.ConversationEvent(ctx, id, seq)
	if err == nil && (customerID == "" || c.CustomerID != customerID) {
		return Conversation{}, Event{}, ErrNotFound
	}
	return c, e, err
}

// CustomerLink is the customer's own link with this id.
func CustomerLink(ctx context.Context, s interface {
	Link(context.Context, string) (Link, error)
}, customerID, id string) (Link, error) {
	l, err := s.Link(ctx, id)
	if err == nil && (customerID == "" || l.CustomerID != customerID) {
		return Link{}, ErrNotFound
	}
	return l, err
}
