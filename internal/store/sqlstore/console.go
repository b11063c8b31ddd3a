package sqlstore

import (
	"context"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// The agent console: who owns a conversation, its work state, notes,
// canned responses, ratings, labels and the queue's metadata.

func (db *DB) SetOwner(ctx context.Context, conversationID, fromOwner, fromAgent, toOwner, toAgent string, n store.Notice) error {
	return db.wrap("SetOwner", db.write(ctx, func(ctx context.Context, q Querier) error {
		// A new wait for a person starts afresh: open, normal priority.
		k, err := q.Exec(ctx, `UPDATE conversations SET owner = ?1, agent_id = ?2,
				status = CASE WHEN ?1 = 'queue' THEN 'open' ELSE status END,
				priority = CASE WHEN ?1 = 'queue' THEN 0 ELSE priority END,
				snoozed_until = CASE WHEN ?1 = 'queue' THEN UNSET ELSE snoozed_until END
			WHERE id = ?3 AND owner = ?4 AND agent_id = ?5`,
			toOwner, toAgent, conversationID, fromOwner, fromAgent)
		if err != nil {
			return err
		}
		if k == 0 {
			return store.ErrOwnerChanged
		}
		agent := toAgent
		if agent == "" {
			agent = fromAgent
		}
		if _, err := q.Exec(ctx, `INSERT INTO handovers (conversation_id, institution_id, from_owner, to_owner, agent_id, at) VALUES (?, ?, ?, ?, ?, ?)`,
			conversationID, n.InstitutionID, fromOwner, toOwner, agent, n.CreatedAt); err != nil {
			return err
		}
		return insertNotice(ctx, q, n)
	}))
}

func (db *DB) SetWork(ctx context.Context, conversationID, status string, snoozedUntil time.Time, priority int) error {
	return db.wrap("SetWork", changed(db.exec(ctx, `UPDATE conversations SET status = ?, snoozed_until = ?, priority = ? WHERE id = ?`, status, snoozedUntil, priority, conversationID)))
}

func (db *DB) AddNote(ctx context.Context, n store.Note) error {
	return db.wrap("AddNote", db.write(ctx, func(ctx context.Context, q Querier) error {
		// Only under the conversation's key as it is (see store.AddNote).
		// FOR SHARE waits for a clearing under way; the key row it replaces
		// is then gone, and the note with it. The conversation is read in
		// a subquery of its own, so that only the key row is locked.
		k, err := q.Exec(ctx, `INSERT INTO console_notes (id, conversation_id, staff_id, sealed, created_at)
			SELECT ?1, ?2, ?3, ?4, ?5 WHERE ?6 = 0 OR EXISTS (SELECT 1 FROM data_keys k
				WHERE k.customer_id = (SELECT c.customer_id || '/' || c.institution_id FROM conversations c WHERE c.id = ?2) AND k.version = ?6 FOR SHARE)`,
			n.ID, n.ConversationID, n.StaffID, n.Sealed, n.CreatedAt, vault.SealedVersion(n.Sealed))
		if err == nil && k == 0 {
			return store.ErrStaleKey
		}
		return err
	}))
}

func (db *DB) Notes(ctx context.Context, conversationID string) ([]store.Note, error) {
	out, err := all(func(row Row) (store.Note, error) {
		var n store.Note
		return n, row.Scan(&n.ID, &n.ConversationID, &n.StaffID, &n.Sealed, &n.CreatedAt)
	})(db.reads().Query(ctx, `SELECT id, conversation_id, staff_id, sealed, created_at FROM console_notes WHERE conversation_id = ? ORDER BY created_at, id`, conversationID))
	return out, db.wrap("Notes", err)
}

func (db *DB) AddCanned(ctx context.Context, cr store.Canned) error {
	_, err := db.exec(ctx, `INSERT INTO canned_responses (id, institution_id, title, text, created_at) VALUES (?, ?, ?, ?, ?)`,
		cr.ID, cr.InstitutionID, cr.Title, cr.Text, cr.CreatedAt)
	return db.wrap("AddCanned", err)
}

func (db *DB) CannedResponses(ctx context.Context, institutionID string) ([]store.Canned, error) {
	out, err := all(func(row Row) (store.Canned, error) {
		var cr store.Canned
		return cr, row.Scan(&cr.ID, &cr.InstitutionID, &cr.Title, &cr.Text, &cr.CreatedAt)
	})(db.reads().Query(ctx, `SELECT id, institution_id, title, text, created_at FROM canned_responses WHERE institution_id = ? ORDER BY title, id`, institutionID))
	return out, db.wrap("CannedResponses", err)
}

func (db *DB) DeleteCanned(ctx context.Context, institutionID, id string) error {
	return db.wrap("DeleteCanned", changed(db.exec(ctx, `DELETE FROM canned_responses WHERE institution_id = ? AND id = ?`, institutionID, id)))
}

func (db *DB) AddRating(ctx context.Context, r store.Rating) error {
	_, err := db.exec(ctx, `INSERT INTO ratings (conversation_id, request_seq, institution_id, staff_id, score, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		r.ConversationID, r.RequestSeq, r.InstitutionID, r.StaffID, r.Score, r.CreatedAt)
	return db.wrap("AddRating", db.unique(err))
}

func (db *DB) Ratings(ctx context.Context, institutionID string, since time.Time) ([]store.Rating, error) {
	out, err := all(func(row Row) (store.Rating, error) {
		var r store.Rating
		return r, row.Scan(&r.ConversationID, &r.RequestSeq, &r.InstitutionID, &r.StaffID, &r.Score, &r.CreatedAt)
	})(db.reads().Query(ctx, `SELECT conversation_id, request_seq, institution_id, staff_id, score, created_at FROM ratings WHERE institution_id = ? AND created_at >= ?`, institutionID, since))
	return out, db.wrap("Ratings", err)
}

func (db *DB) Handovers(ctx context.Context, institutionID string, since time.Time) ([]store.HandoverRecord, error) {
	out, err := all(func(row Row) (store.HandoverRecord, error) {
		var h store.HandoverRecord
		return h, row.Scan(&h.ConversationID, &h.From, &h.To, &h.AgentID, &h.At)
	})(db.reads().Query(ctx, `SELECT conversation_id, from_owner, to_owner, agent_id, at FROM handovers WHERE institution_id = ? AND at >= ? ORDER BY at`, institutionID, since))
	return out, db.wrap("Handovers", err)
}

func (db *DB) AgentMessageTimes(ctx context.Context, institutionID string, since time.Time) ([]store.EventTime, error) {
	out, err := all(func(row Row) (store.EventTime, error) {
		var e store.EventTime
		return e, row.Scan(&e.ConversationID, &e.At)
	})(db.reads().Query(ctx, `SELECT conversation_id, received_at FROM events WHERE institution_id = ? AND author = 'agent' AND received_at >= ? ORDER BY received_at`, institutionID, since))
	return out, db.wrap("AgentMessageTimes", err)
}

func (db *DB) HandedOverActivity(ctx context.Context, institutionID string) ([]store.Activity, error) {
	// Each subquery reads one of the partial indexes of migration 0016
	// (the terms match theirs exactly), never the bank's own events. A
	// time with no event is NULL, read as the zero time.
	out, err := all(func(row Row) (store.Activity, error) {
		var a store.Activity
		return a, row.Scan(&a.ConversationID, &a.LastCustomerSeq, &a.LastCustomerType, &a.LastCustomerAt, &a.LastAgentAt, &a.CustomerSinceAgent, &a.HandedAt, &a.FraudAt)
	})(db.reads().Query(ctx, `SELECT c.id, coalesce(lc.seq, 0), coalesce(lc.type, ''), lc.received_at, la.received_at,
		(SELECT min(e.received_at) FROM events e WHERE e.conversation_id = c.id AND e.author = 'customer' AND e.seq > coalesce(la.seq, 0)),
		(SELECT max(h.at) FROM handovers h WHERE h.conversation_id = c.id AND h.from_owner = 'bot' AND h.to_owner <> 'bot'),
		(SELECT f.received_at FROM events f WHERE f.conversation_id = c.id AND f.type IN ('fraud.alert', 'fraud.response') ORDER BY f.seq DESC LIMIT 1)
		FROM conversations c
		LEFT JOIN events lc ON lc.conversation_id = c.id AND lc.seq = (SELECT max(seq) FROM events WHERE conversation_id = c.id AND author = 'customer')
		LEFT JOIN events la ON la.conversation_id = c.id AND la.seq = (SELECT max(seq) FROM events WHERE conversation_id = c.id AND author = 'agent')
		WHERE c.institution_id = ? AND c.owner <> 'bot' ORDER BY c.id`, institutionID))
	return out, db.wrap("HandedOverActivity", err)
}

// Labels.

func (db *DB) AddLabel(ctx context.Context, l store.Label) error {
	_, err := db.exec(ctx, `INSERT INTO conversation_labels (conversation_id, label, staff_id, created_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (conversation_id, label) DO NOTHING`, l.ConversationID, l.Label, l.StaffID, l.CreatedAt)
	return db.wrap("AddLabel", err)
}

func (db *DB) RemoveLabel(ctx context.Context, conversationID, label string) error {
	return db.wrap("RemoveLabel", changed(db.exec(ctx, `DELETE FROM conversation_labels WHERE conversation_id = ? AND label = ?`, conversationID, label)))
}

func (db *DB) ConversationLabels(ctx context.Context, institutionID string) (map[string][]string, error) {
	ls, err := all(func(row Row) (store.Label, error) {
		var l store.Label
		return l, row.Scan(&l.ConversationID, &l.Label)
	})(db.reads().Query(ctx, `SELECT l.conversation_id, l.label FROM conversation_labels l JOIN conversations c ON c.id = l.conversation_id
		WHERE c.institution_id = ? ORDER BY l.conversation_id, l.label`, institutionID))
	out := map[string][]string{}
	for _, l := range ls {
		out[l.ConversationID] = append(out[l.ConversationID], l.Label)
	}
	return out, db.wrap("ConversationLabels", err)
}
