package sqlstore

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/openteller/openteller/internal/store"
)

// Web Push subscriptions.

func (db *DB) PutPushSubscription(ctx context.Context, p store.PushSubscription) error {
	_, err := db.exec(ctx, `INSERT INTO push_subscriptions (id, customer_id, endpoint, p256dh, auth, kinds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, endpoint = excluded.endpoint, p256dh = excluded.p256dh,
			auth = excluded.auth, kinds = excluded.kinds, created_at = excluded.created_at`,
		p.ID, p.CustomerID, p.Endpoint, p.P256DH, p.Auth, strings.Join(p.Kinds, " "), p.CreatedAt)
	return db.wrap("PutPushSubscription", err)
}

func scanPushSubscription(row Row) (store.PushSubscription, error) {
	var p store.PushSubscription
	var kinds string
	err := row.Scan(&p.ID, &p.CustomerID, &p.Endpoint, &p.P256DH, &p.Auth, &kinds, &p.CreatedAt)
	p.Kinds = strings.Fields(kinds)
	return p, err
}

func (db *DB) PushSubscriptions(ctx context.Context, customerIDs []string) ([]store.PushSubscription, error) {
	var out []store.PushSubscription
	err := each(customerIDs, func(ids []any) error {
		subs, err := all(scanPushSubscription)(db.reads().Query(ctx, `SELECT id, customer_id, endpoint, p256dh, auth, kinds, created_at FROM push_subscriptions
			WHERE customer_id IN `+in(len(ids))+` ORDER BY customer_id, created_at, id`, ids...))
		out = append(out, subs...)
		return err
	})
	if err != nil {
		return nil, db.wrap("PushSubscriptions", err)
	}
	if len(customerIDs) > inChunk { // in order across the queries too
		slices.SortStableFunc(out, func(a, b store.PushSubscription) int {
			return cmp.Or(strings.Compare(a.CustomerID, b.CustomerID), a.CreatedAt.Compare(b.CreatedAt), strings.Compare(a.ID, b.ID))
		})
	}
	return out, nil
}

func (db *DB) DeletePushSubscription(ctx context.Context, customerID, id string) error {
	return db.wrap("DeletePushSubscription", changed(db.exec(ctx, `DELETE FROM push_subscriptions WHERE id = ? AND customer_id = ?`, id, customerID)))
}
