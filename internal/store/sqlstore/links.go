package sqlstore

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// Links: a customer's consent to one institution, from the attempt that
// starts it to its end, with a receipt for every change. Each script that
// changes a link holds it (Engine.LockLink) for its whole transaction, the
// way appends take it, so an append either commits before the change or
// sees it; and whatever the change deletes goes in the same transaction.

func (db *DB) CreateLinkAttempt(ctx context.Context, a store.LinkAttempt) error {
	_, err := db.exec(ctx, `INSERT INTO link_attempts (state_hash, customer_id, institution_id, link_id, code_verifier, scopes, expires_at, duration_days, disclosure_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		a.StateHash, a.CustomerID, a.InstitutionID, a.LinkID, a.CodeVerifier, strings.Join(a.Scopes, " "), a.ExpiresAt, a.DurationDays, a.DisclosureDigest)
	return db.wrap("CreateLinkAttempt", err)
}

// TakeLinkAttempt deletes the attempt and returns it, once: the delete
// holds the row, so a replayed state finds nothing.
func (db *DB) TakeLinkAttempt(ctx context.Context, stateHash []byte) (store.LinkAttempt, error) {
	var a store.LinkAttempt
	err := db.write(ctx, func(ctx context.Context, q Querier) error {
		var scopes string
		err := q.QueryRow(ctx, `DELETE FROM link_attempts WHERE state_hash = ? RETURNING state_hash, customer_id, institution_id, link_id, code_verifier, scopes, expires_at, duration_days, disclosure_digest`, stateHash).
			Scan(&a.StateHash, &a.CustomerID, &a.InstitutionID, &a.LinkID, &a.CodeVerifier, &scopes, &a.ExpiresAt, &a.DurationDays, &a.DisclosureDigest)
		a.Scopes = strings.Fields(scopes)
		// Other expired attempts are SweepExpired's: deleting them here
		// would hold their rows with this one's, and two takes could
		// wait for each other.
		return notFound(err)
	})
	if err == nil && !db.e.Now().Before(a.ExpiresAt) {
		// The delete committed: an expired state cannot be replayed either.
		err = store.ErrNotFound
	}
	if err != nil {
		return store.LinkAttempt{}, db.wrap("TakeLinkAttempt", err)
	}
	return a, nil
}

// CreateLink stores a link, its conversation if it is the customer's first
// link to the institution, its grant receipt, and the link.created notice.
func (db *DB) CreateLink(ctx context.Context, l store.Link, grant store.Receipt) (store.Link, error) {
	if err := store.CheckReceipt(grant); err != nil {
		return l, db.wrap("CreateLink", err)
	}
	err := db.write(ctx, func(ctx context.Context, q Querier) error {
		if l.ConversationID == "" {
			return errors.New("no conversation id given")
		}
		// Insert-or-read in one statement; the unique pair decides the
		// winner when two links for the same bank are created at once.
		err := q.QueryRow(ctx, `INSERT INTO conversations (id, customer_id, institution_id, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (customer_id, institution_id) DO UPDATE SET customer_id = excluded.customer_id RETURNING id`,
			l.ConversationID, l.CustomerID, l.InstitutionID, l.CreatedAt).Scan(&l.ConversationID)
		if err != nil {
			return err
		}
		_, err = q.Exec(ctx, `INSERT INTO links (id, customer_id, institution_id, conversation_id, scopes, status, created_at, expires_at, revoked_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			l.ID, l.CustomerID, l.InstitutionID, l.ConversationID, strings.Join(l.Scopes, " "), l.Status, l.CreatedAt, l.ExpiresAt, l.RevokedAt)
		if err := db.unique(err); err != nil {
			return err
		}
		grant.CustomerID, grant.InstitutionID, grant.LinkID = l.CustomerID, l.InstitutionID, l.ID
		if err := insertReceipt(ctx, q, grant); err != nil {
			return err
		}
		return insertNotice(ctx, q, store.CreatedNotice(l))
	})
	return l, db.wrap("CreateLink", err)
}

const linkCols = `id, customer_id, institution_id, conversation_id, scopes, status, created_at, expires_at, revoked_at`

func scanLink(row Row) (store.Link, error) {
	var l store.Link
	var scopes string
	err := row.Scan(&l.ID, &l.CustomerID, &l.InstitutionID, &l.ConversationID, &scopes, &l.Status, &l.CreatedAt, &l.ExpiresAt, &l.RevokedAt)
	l.Scopes = strings.Fields(scopes)
	return l, notFound(err)
}

func (db *DB) Link(ctx context.Context, id string) (store.Link, error) {
	l, err := scanLink(db.reads().QueryRow(ctx, `SELECT `+linkCols+` FROM links WHERE id = ?`, id))
	return l, db.wrap("Link", err)
}

func (db *DB) LinksByID(ctx context.Context, ids []string) ([]store.Link, error) {
	var out []store.Link
	err := each(ids, func(args []any) error {
		found, err := all(scanLink)(db.reads().Query(ctx, `SELECT `+linkCols+` FROM links WHERE id IN `+in(len(args)), args...))
		out = append(out, found...)
		return err
	})
	return out, db.wrap("LinksByID", err)
}

func (db *DB) Links(ctx context.Context, customerID string) ([]store.Link, error) {
	out, err := all(scanLink)(db.reads().Query(ctx, `SELECT `+linkCols+` FROM links WHERE customer_id = ? ORDER BY created_at DESC, id`, customerID))
	return out, db.wrap("Links", err)
}

func (db *DB) DueLinks(ctx context.Context, now time.Time, limit int) ([]store.Link, error) {
	out, err := all(scanLink)(db.reads().Query(ctx, `SELECT `+linkCols+` FROM links WHERE status = ? AND expires_at <= ? ORDER BY expires_at LIMIT ?`,
		store.LinkActive, now, limit))
	return out, db.wrap("DueLinks", err)
}

func (db *DB) DueReminders(ctx context.Context, now, before time.Time, limit int) ([]store.Link, error) {
	out, err := all(scanLink)(db.reads().Query(ctx, `SELECT `+linkCols+` FROM links WHERE status = ? AND expires_at > ? AND expires_at <= ? AND reminded_at IS UNSET ORDER BY expires_at LIMIT ?`,
		store.LinkActive, now, before, limit))
	return out, db.wrap("DueReminders", err)
}

// RevokeLink ends a link: everything it brought into the conversation is
// deleted, a marker says so, a receipt records it, and the institution
// hears of it unless it asked.
func (db *DB) RevokeLink(ctx context.Context, r store.Revocation) (store.Revoked, error) {
	var out store.Revoked
	if err := store.CheckReceipt(r.Receipt); err != nil {
		return out, db.wrap("RevokeLink", err)
	}
	err := db.write(ctx, func(ctx context.Context, q Querier) error {
		l, last, err := db.e.LockLink(ctx, q, r.LinkID)
		if err != nil {
			return err
		}
		if err := store.CheckRevoker(r, l); err != nil {
			return err
		}
		l.Status, l.RevokedAt = store.EndedStatus(r), r.At.UTC().Truncate(time.Microsecond)
		if _, err := q.Exec(ctx, `UPDATE links SET status = ?, revoked_at = ? WHERE id = ?`, l.Status, l.RevokedAt, l.ID); err != nil {
			return err
		}
		if out.Deleted, err = q.Exec(ctx, `DELETE FROM events WHERE conversation_id = ? AND link_id = ?`, l.ConversationID, l.ID); err != nil {
			return err
		}
		// The marker takes the seq after the last, read before the delete.
		m := store.Marker(r.Marker, l, last)
		if err := db.e.AppendMarker(ctx, q, &m); err != nil {
			return err
		}
		rc := r.Receipt
		rc.CustomerID, rc.InstitutionID, rc.LinkID, rc.Scopes = l.CustomerID, l.InstitutionID, l.ID, l.Scopes // the scopes as locked, not as read before
		if err := insertReceipt(ctx, q, rc); err != nil {
			return err
		}
		if n, ok := store.EndedNotice(r, l); ok {
			if err := insertNotice(ctx, q, n); err != nil {
				return err
			}
		}
		out.Link, out.Seq = l, m.Seq
		return nil
	})
	if err == nil {
		db.e.Shredded()
	}
	return out, db.wrap("RevokeLink", err)
}

// Remind places the one reminder a link gets before it expires.
func (db *DB) Remind(ctx context.Context, linkID string, at time.Time, marker store.NewEvent) (int64, error) {
	var seq int64
	err := db.write(ctx, func(ctx context.Context, q Querier) error {
		l, last, err := db.e.LockLink(ctx, q, linkID)
		if err != nil {
			return err
		}
		var reminded time.Time
		if err := q.QueryRow(ctx, `SELECT reminded_at FROM links WHERE id = ?`, linkID).Scan(&reminded); err != nil {
			return err
		}
		if l.Status != store.LinkActive || !reminded.IsZero() || !at.Before(l.ExpiresAt) {
			return store.ErrAlreadyRevoked
		}
		if _, err := q.Exec(ctx, `UPDATE links SET reminded_at = ? WHERE id = ?`, at, linkID); err != nil {
			return err
		}
		m := store.Marker(marker, l, last)
		seq = m.Seq
		return db.e.AppendMarker(ctx, q, &m)
	})
	return seq, db.wrap("Remind", err)
}

// NarrowLink takes scopes away from a link and deletes the events they
// brought.
func (db *DB) NarrowLink(ctx context.Context, n store.Narrowing) (store.Link, error) {
	var l store.Link
	err := db.write(ctx, func(ctx context.Context, q Querier) error {
		var err error
		var last int64
		if l, last, err = db.e.LockLink(ctx, q, n.LinkID); err != nil {
			return err
		}
		if err := store.CheckNarrowing(n, l); err != nil {
			return err
		}
		l.Scopes = n.Scopes
		if _, err := q.Exec(ctx, `UPDATE links SET scopes = ? WHERE id = ?`, strings.Join(n.Scopes, " "), l.ID); err != nil {
			return err
		}
		if len(n.DeleteTypes) > 0 {
			args := append([]any{l.ConversationID, l.ID}, anys(n.DeleteTypes)...)
			if _, err := q.Exec(ctx, `DELETE FROM events WHERE conversation_id = ? AND link_id = ? AND type IN `+in(len(n.DeleteTypes)), args...); err != nil {
				return err
			}
		}
		m := store.Marker(n.Marker, l, last)
		if err := db.e.AppendMarker(ctx, q, &m); err != nil {
			return err
		}
		rc := n.Receipt
		rc.CustomerID, rc.InstitutionID, rc.LinkID, rc.Scopes, rc.ExpiresAt = l.CustomerID, l.InstitutionID, l.ID, n.Scopes, l.ExpiresAt
		return insertReceipt(ctx, q, rc)
	})
	if err == nil {
		db.e.Shredded()
	}
	return l, db.wrap("NarrowLink", err)
}

// RenewLink extends a link (never shortens it) and makes it active again.
func (db *DB) RenewLink(ctx context.Context, r store.Renewal) (store.Link, error) {
	var l store.Link
	err := db.write(ctx, func(ctx context.Context, q Querier) error {
		var err error
		if l, _, err = db.e.LockLink(ctx, q, r.LinkID); err != nil {
			return err
		}
		if err := store.CheckRenewal(r, l); err != nil {
			return err
		}
		if r.ExpiresAt.After(l.ExpiresAt) {
			l.ExpiresAt = r.ExpiresAt.UTC().Truncate(time.Microsecond) // what both stores keep
		}
		l.Status, l.RevokedAt = store.LinkActive, time.Time{}
		if _, err := q.Exec(ctx, `UPDATE links SET status = ?, expires_at = ?, revoked_at = UNSET, reminded_at = UNSET WHERE id = ?`, l.Status, l.ExpiresAt, l.ID); err != nil {
			return err
		}
		rc := r.Receipt
		rc.CustomerID, rc.InstitutionID, rc.LinkID, rc.Scopes, rc.ExpiresAt = l.CustomerID, l.InstitutionID, l.ID, l.Scopes, l.ExpiresAt
		return insertReceipt(ctx, q, rc)
	})
	return l, db.wrap("RenewLink", err)
}

// ClearHistory deletes a conversation's events, notes and labels, its
// sealed notices waiting for the bank, and its data key, replacing the
// key with a new one: what was sealed under the old key cannot be opened
// again, from this database or a copy of it taken before (once the root
// key that wrapped it is retired).
func (db *DB) ClearHistory(ctx context.Context, c store.Clearing) (store.Cleared, error) {
	var out store.Cleared
	owner := vault.ConversationKey(c.CustomerID, c.InstitutionID)
	err := db.write(ctx, func(ctx context.Context, q Querier) error {
		var version int
		err := q.QueryRow(ctx, `SELECT version FROM data_keys WHERE customer_id = ? FOR UPDATE`, owner).Scan(&version)
		if err != nil && !errors.Is(notFound(err), store.ErrNotFound) {
			return err
		}
		if version != c.OldKeyVersion || c.NewKey.CustomerID != owner || c.NewKey.Version <= version {
			return store.ErrKeyChanged
		}
		// Hold every link of the conversation, as an append does, so no
		// event sealed under the old key slips in.
		if _, err := q.Exec(ctx, `SELECT id FROM links WHERE customer_id = ? AND institution_id = ? ORDER BY id FOR NO KEY UPDATE`, c.CustomerID, c.InstitutionID); err != nil {
			return err
		}
		var linkID string
		err = q.QueryRow(ctx, `SELECT id FROM links WHERE customer_id = ? AND institution_id = ? ORDER BY created_at DESC, id DESC LIMIT 1`, c.CustomerID, c.InstitutionID).Scan(&linkID)
		if err != nil {
			return notFound(err)
		}
		l, last, err := db.e.LockLink(ctx, q, linkID)
		if err != nil {
			return err
		}
		if out.Deleted, err = q.Exec(ctx, `DELETE FROM events WHERE conversation_id = ?`, l.ConversationID); err != nil {
			return err
		}
		for _, del := range []struct {
			sql  string
			args []any
		}{
			{`DELETE FROM outbox WHERE customer_id = ? AND institution_id = ? AND sealed IS NOT NULL`, []any{c.CustomerID, c.InstitutionID}},
			{`DELETE FROM console_notes WHERE conversation_id = ?`, []any{l.ConversationID}},
			{`DELETE FROM conversation_labels WHERE conversation_id = ?`, []any{l.ConversationID}},
			{`DELETE FROM data_keys WHERE customer_id = ?`, []any{owner}},
		} {
			if _, err := q.Exec(ctx, del.sql, del.args...); err != nil {
				return err
			}
		}
		if _, err := q.Exec(ctx, `INSERT INTO data_keys (customer_id, version, root_key_version, wrapped, created_at) VALUES (?, ?, ?, ?, ?)`,
			owner, c.NewKey.Version, c.NewKey.RootKeyVersion, c.NewKey.Wrapped, c.At); err != nil {
			return err
		}
		if c.DropCustomerKey {
			if _, err := q.Exec(ctx, `DELETE FROM data_keys WHERE customer_id = ?`, c.CustomerID); err != nil {
				return err
			}
		}
		// The marker takes the seq after the last, read before the delete.
		m := store.Marker(c.Marker, l, last)
		if err := db.e.AppendMarker(ctx, q, &m); err != nil {
			return err
		}
		out.ConversationID, out.Seq = l.ConversationID, m.Seq
		return nil
	})
	if err == nil {
		db.e.Shredded()
	}
	return out, db.wrap("ClearHistory", err)
}

// Consent receipts.

func insertReceipt(ctx context.Context, q Querier, r store.Receipt) error {
	_, err := q.Exec(ctx, `INSERT INTO consent_receipts (id, customer_id, institution_id, link_id, action, scopes, purpose, collected_at, expires_at, method, disclosure_digest) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		r.ID, r.CustomerID, r.InstitutionID, r.LinkID, r.Action, strings.Join(r.Scopes, " "), r.Purpose, r.CollectedAt, r.ExpiresAt, r.Method, r.DisclosureDigest)
	return err
}

// PurgeReceipts deletes receipts older than cutoff of links that have ended.
func (db *DB) PurgeReceipts(ctx context.Context, cutoff time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, func(ctx context.Context, q Querier) error {
		var err error
		n, err = q.Exec(ctx, `DELETE FROM consent_receipts WHERE collected_at < ? AND link_id IN (SELECT id FROM links WHERE status <> ?)`, cutoff, store.LinkActive)
		return err
	})
	return n, db.wrap("PurgeReceipts", err)
}

func (db *DB) Receipts(ctx context.Context, customerID string) ([]store.Receipt, error) {
	out, err := all(func(row Row) (store.Receipt, error) {
		var r store.Receipt
		var scopes string
		err := row.Scan(&r.ID, &r.CustomerID, &r.InstitutionID, &r.LinkID, &r.Action, &scopes, &r.Purpose, &r.CollectedAt, &r.ExpiresAt, &r.Method, &r.DisclosureDigest)
		r.Scopes = strings.Fields(scopes)
		return r, err
	})(db.reads().Query(ctx, `SELECT id, customer_id, institution_id, link_id, action, scopes, purpose, collected_at, expires_at, method, disclosure_digest
		FROM consent_receipts WHERE customer_id = ? ORDER BY collected_at, id`, customerID))
	return out, db.wrap("Receipts", err)
}

// Delegations: a customer sharing a link's conversation with another.

func (db *DB) CreateDelegation(ctx context.Context, d store.Delegation, grant store.Receipt) error {
	if err := store.CheckReceipt(grant); err != nil {
		return db.wrap("CreateDelegation", err)
	}
	return db.wrap("CreateDelegation", db.write(ctx, func(ctx context.Context, q Querier) error {
		if _, err := q.Exec(ctx, `INSERT INTO delegations (id, link_id, owner_id, delegate_id, scopes, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
			d.ID, d.LinkID, d.OwnerID, d.DelegateID, strings.Join(d.Scopes, " "), d.CreatedAt, d.ExpiresAt); err != nil {
			return err
		}
		return insertReceipt(ctx, q, grant)
	}))
}

const delegationCols = `id, link_id, owner_id, delegate_id, scopes, created_at, expires_at, revoked_at`

func scanDelegation(row Row) (store.Delegation, error) {
	var d store.Delegation
	var scopes string
	err := row.Scan(&d.ID, &d.LinkID, &d.OwnerID, &d.DelegateID, &scopes, &d.CreatedAt, &d.ExpiresAt, &d.RevokedAt)
	d.Scopes = strings.Fields(scopes)
	return d, notFound(err)
}

func (db *DB) Delegation(ctx context.Context, id string) (store.Delegation, error) {
	d, err := scanDelegation(db.reads().QueryRow(ctx, `SELECT `+delegationCols+` FROM delegations WHERE id = ?`, id))
	return d, db.wrap("Delegation", err)
}

// Delegations lists a link's delegations, or (linkID empty) a delegate's.
func (db *DB) Delegations(ctx context.Context, linkID, delegateID string) ([]store.Delegation, error) {
	query, arg := `SELECT `+delegationCols+` FROM delegations WHERE delegate_id = ? ORDER BY created_at`, delegateID
	if linkID != "" {
		query, arg = `SELECT `+delegationCols+` FROM delegations WHERE link_id = ? ORDER BY created_at`, linkID
	}
	out, err := all(scanDelegation)(db.reads().Query(ctx, query, arg))
	return out, db.wrap("Delegations", err)
}

func (db *DB) RevokeDelegation(ctx context.Context, id, ownerID string, at time.Time, r store.Receipt) error {
	if err := store.CheckReceipt(r); err != nil {
		return db.wrap("RevokeDelegation", err)
	}
	return db.wrap("RevokeDelegation", db.write(ctx, func(ctx context.Context, q Querier) error {
		var linkID, institutionID, scopes string
		err := q.QueryRow(ctx, `UPDATE delegations SET revoked_at = ? WHERE id = ? AND owner_id = ? AND revoked_at IS UNSET
			RETURNING link_id, (SELECT institution_id FROM links WHERE links.id = delegations.link_id), scopes`, at, id, ownerID).Scan(&linkID, &institutionID, &scopes)
		if errors.Is(notFound(err), store.ErrNotFound) {
			var one int
			return notFound(q.QueryRow(ctx, `SELECT 1 FROM delegations WHERE id = ? AND owner_id = ?`, id, ownerID).Scan(&one))
		}
		if err != nil {
			return err
		}
		r.CustomerID, r.LinkID, r.InstitutionID, r.Scopes = ownerID, linkID, institutionID, strings.Fields(scopes)
		return insertReceipt(ctx, q, r)
	}))
}
