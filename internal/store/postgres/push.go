package postgres

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/openteller/openteller/internal/store"
)

// Web Push subscriptions.

func (s *Store) PutPushSubscription(ctx context.Context, p store.PushSubscription) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO push_subscriptions (id, customer_id, endpoint, p256dh, auth, kinds, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (id) DO UPDATE SET customer_id = excluded.customer_id, endpoint = excluded.endpoint, p256dh = excluded.p256dh,
			auth = excluded.auth, kinds = excluded.kinds, created_at = excluded.created_at`,
		p.ID, p.CustomerID, p.Endpoint, p.P256DH, p.Auth, strings.Join(p.Kinds, " "), p.CreatedAt)
	if err != nil {
		return fmt.Errorf("postgres: put push subscription: %w", err)
	}
	return nil
}

func (s *Store) PushSubscriptions(ctx context.Context, customerIDs []string) ([]store.PushSubscription, error) {
	if len(customerIDs) == 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `SELECT id, customer_id, endpoint, p256dh, auth, kinds, created_at FROM push_subscriptions
		WHERE customer_id = ANY($1) ORDER BY customer_id, created_at, id`, customerIDs)
	out, err := collect(rows, err, func(rows pgx.Rows) (store.PushSubscription, error) {
		var p store.PushSubscription
		var kinds string
		err := rows.Scan(&p.ID, &p.CustomerID, &p.Endpoint, &p.P256DH, &p.Auth, &kinds, &p.CreatedAt)
		p.Kinds, p.CreatedAt = strings.Fields(kinds), p.CreatedAt.UTC()
		return p, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: push subscriptions: %w", err)
	}
	return out, nil
}

func (s *Store) DeletePushSubscription(ctx context.Context, customerID, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM push_subscriptions WHERE id = $1 AND customer_id = $2`, id, customerID)
	if err != nil {
		return fmt.Errorf("postgres: delete push subscription: %w", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}
