package sqlstore

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

// Names customers show to an institution's people, sealed under the
// conversation's key. The schema's triggers (migration 0021) delete a name
// with its link's end, its support_chat scope, or its conversation's data
// key.

// displayNameLink reads what PutDisplayName and DeleteDisplayName check of
// the link, held for the write: a revocation or a narrowing under way
// waits for it, or the write sees what it did.
func displayNameLink(ctx context.Context, q Querier, linkID string) (store.Link, error) {
	l := store.Link{ID: linkID}
	var scopes string
	err := q.QueryRow(ctx, `SELECT customer_id, institution_id, scopes, status, expires_at FROM links WHERE id = ? FOR SHARE`, linkID).
		Scan(&l.CustomerID, &l.InstitutionID, &scopes, &l.Status, &l.ExpiresAt)
	l.Scopes = strings.Fields(scopes)
	return l, notFound(err)
}

func (db *DB) PutDisplayName(ctx context.Context, n store.DisplayName, r store.Receipt) error {
	if err := store.CheckReceipt(r); err != nil {
		return db.wrap("PutDisplayName", err)
	}
	return db.wrap("PutDisplayName", db.write(ctx, func(ctx context.Context, q Querier) error {
		// The conversation's key first, then the link, in the order a
		// clearing takes them. FOR SHARE, as AddNote: a clearing under way
		// replaces the key after this commits, and deletes the name with it.
		var customerID, institutionID string
		if err := q.QueryRow(ctx, `SELECT customer_id, institution_id FROM links WHERE id = ?`, n.LinkID).Scan(&customerID, &institutionID); err != nil {
			return notFound(err)
		}
		var version int
		if err := q.QueryRow(ctx, `SELECT coalesce((SELECT version FROM data_keys WHERE customer_id = ? FOR SHARE), 0)`,
			vault.ConversationKey(customerID, institutionID)).Scan(&version); err != nil {
			return err
		}
		l, err := displayNameLink(ctx, q, n.LinkID)
		if err != nil {
			return err
		}
		if err := store.CheckDisplayNameLink(n.CustomerID, l, n.SetAt); err != nil {
			return err
		}
		if v := vault.SealedVersion(n.Sealed); v != 0 && v != version {
			return store.ErrStaleKey
		}
		if _, err := q.Exec(ctx, `INSERT INTO display_names (link_id, customer_id, institution_id, sealed, set_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (link_id) DO UPDATE SET sealed = excluded.sealed, set_at = excluded.set_at`,
			l.ID, l.CustomerID, l.InstitutionID, n.Sealed, n.SetAt); err != nil {
			return err
		}
		r.CustomerID, r.InstitutionID, r.LinkID = l.CustomerID, l.InstitutionID, l.ID
		return insertReceipt(ctx, q, r)
	}))
}

func (db *DB) DeleteDisplayName(ctx context.Context, customerID, linkID string, r store.Receipt) error {
	if err := store.CheckReceipt(r); err != nil {
		return db.wrap("DeleteDisplayName", err)
	}
	return db.wrap("DeleteDisplayName", db.write(ctx, func(ctx context.Context, q Querier) error {
		l, err := displayNameLink(ctx, q, linkID)
		if err != nil {
			return err
		}
		if err := changed(q.Exec(ctx, `DELETE FROM display_names WHERE link_id = ? AND customer_id = ?`, linkID, customerID)); err != nil {
			return err
		}
		r.CustomerID, r.InstitutionID, r.LinkID = l.CustomerID, l.InstitutionID, l.ID
		return insertReceipt(ctx, q, r)
	}))
}

func (db *DB) DisplayNames(ctx context.Context, linkIDs []string) ([]store.DisplayName, error) {
	var out []store.DisplayName
	err := each(linkIDs, func(ids []any) error {
		names, err := all(func(row Row) (store.DisplayName, error) {
			var n store.DisplayName
			err := row.Scan(&n.LinkID, &n.CustomerID, &n.InstitutionID, &n.Sealed, &n.SetAt)
			return n, err
		})(db.reads().Query(ctx, `SELECT link_id, customer_id, institution_id, sealed, set_at FROM display_names
			WHERE link_id IN `+in(len(ids))+` ORDER BY link_id`, ids...))
		out = append(out, names...)
		return err
	})
	if len(linkIDs) > inChunk { // in order across the queries too
		slices.SortFunc(out, func(a, b store.DisplayName) int { return cmp.Compare(a.LinkID, b.LinkID) })
	}
	return out, db.wrap("DisplayNames", err)
}
