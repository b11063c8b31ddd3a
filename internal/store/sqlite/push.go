package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/openteller/openteller/internal/store"
)

// Web Push subscriptions.

func (s *Store) PutPushSubscription(ctx context.Context, p store.PushSubscription) error {
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO push_subscriptions (id, customer_id, endpoint, p256dh, auth, kinds, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, endpoint = excluded.endpoint, p256dh = excluded.p256dh,
				auth = excluded.auth, kinds = excluded.kinds, created_at = excluded.created_at`,
			p.ID, p.CustomerID, p.Endpoint, p.P256DH, p.Auth, strings.Join(p.Kinds, " "), micros(p.CreatedAt))
		return err
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("sqlite: put push subscription: %w", err)
	}
	return wrap("PutPushSubscription", err)
}

func (s *Store) PushSubscriptions(ctx context.Context, customerIDs []string) ([]store.PushSubscription, error) {
	if len(customerIDs) == 0 {
		return nil, nil
	}
	ids, _ := json.Marshal(customerIDs)
	rows, err := s.reads.QueryContext(ctx, `SELECT id, customer_id, endpoint, p256dh, auth, kinds, created_at FROM push_subscriptions
		WHERE customer_id IN (SELECT value FROM json_each(?)) ORDER BY customer_id, created_at, id`, string(ids))
	out, err := collect(rows, err, func(rows *sql.Rows) (store.PushSubscription, error) {
		var p store.PushSubscription
		var kinds string
		var created int64
		err := rows.Scan(&p.ID, &p.CustomerID, &p.Endpoint, &p.P256DH, &p.Auth, &kinds, &created)
		p.Kinds, p.CreatedAt = strings.Fields(kinds), fromMicros(created)
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("sqlite: push subscriptions: %w", err)
	}
	return out, nil
}

func (s *Store) DeletePushSubscription(ctx context.Context, customerID, id string) error {
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		res, err := c.ExecContext(ctx, `DELETE FROM push_subscriptions WHERE id = ? AND customer_id = ?`, id, customerID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	})
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("sqlite: delete push subscription: %w", err)
	}
	return wrap("DeletePushSubscription", err)
}
