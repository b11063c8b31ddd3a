package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// Institutions' webhook endpoints and conversation menus.

func (db *DB) PutWebhookEndpoint(ctx context.Context, e store.WebhookEndpoint) error {
	return db.wrap("PutWebhookEndpoint", db.write(ctx, func(ctx context.Context, q Querier) error {
		_, err := q.Exec(ctx, `INSERT INTO webhook_endpoints (institution_id, url, secret, previous_secret, previous_until, disabled_at, disabled_reason, created_at, format)
			VALUES (?, ?, ?, ?, ?, UNSET, '', ?, ?)
			ON CONFLICT (institution_id) DO UPDATE SET url = excluded.url, secret = excluded.secret, previous_secret = excluded.previous_secret,
				previous_until = excluded.previous_until, disabled_at = UNSET, disabled_reason = '', format = excluded.format`,
			e.InstitutionID, e.URL, e.Secret, e.PreviousSecret, e.PreviousUntil, e.CreatedAt, e.Format)
		if err != nil {
			return err
		}
		// Notices held for want of an endpoint are due now.
		_, err = q.Exec(ctx, `UPDATE outbox SET next_at = MIN_TIME WHERE institution_id = ? AND delivered_at IS UNSET AND dead_at IS UNSET`, e.InstitutionID)
		return err
	}))
}

func (db *DB) WebhookEndpoint(ctx context.Context, institutionID string) (store.WebhookEndpoint, error) {
	var e store.WebhookEndpoint
	err := db.reads().QueryRow(ctx, `SELECT institution_id, url, secret, previous_secret, previous_until, disabled_at, disabled_reason, created_at, format FROM webhook_endpoints WHERE institution_id = ?`, institutionID).
		Scan(&e.InstitutionID, &e.URL, &e.Secret, &e.PreviousSecret, &e.PreviousUntil, &e.DisabledAt, &e.DisabledReason, &e.CreatedAt, &e.Format)
	return e, db.wrap("WebhookEndpoint", notFound(err))
}

func (db *DB) DisableWebhookEndpoint(ctx context.Context, institutionID, reason string, at time.Time) error {
	_, err := db.exec(ctx, `UPDATE webhook_endpoints SET disabled_at = ?, disabled_reason = ? WHERE institution_id = ?`, at, reason, institutionID)
	return db.wrap("DisableWebhookEndpoint", err)
}

func (db *DB) SetWebhookSecrets(ctx context.Context, institutionID string, secret, previous []byte) error {
	_, err := db.exec(ctx, `UPDATE webhook_endpoints SET secret = ?, previous_secret = ? WHERE institution_id = ?`, secret, previous, institutionID)
	return db.wrap("SetWebhookSecrets", err)
}

func (db *DB) PutMenu(ctx context.Context, m store.Menu) error {
	items, err := json.Marshal(m.Items)
	if err != nil {
		return fmt.Errorf("%s: encode menu: %w", db.e.Name(), err)
	}
	_, err = db.exec(ctx, `INSERT INTO institution_menus (institution_id, get_started, items, updated_at) VALUES (?, ?, ?, ?)
		ON CONFLICT (institution_id) DO UPDATE SET get_started = excluded.get_started, items = excluded.items, updated_at = excluded.updated_at`,
		m.InstitutionID, m.GetStarted, string(items), m.UpdatedAt)
	return db.wrap("PutMenu", err)
}

func (db *DB) Menu(ctx context.Context, institutionID string) (store.Menu, error) {
	m := store.Menu{InstitutionID: institutionID}
	var items string
	err := db.reads().QueryRow(ctx, `SELECT get_started, items, updated_at FROM institution_menus WHERE institution_id = ?`, institutionID).
		Scan(&m.GetStarted, &items, &m.UpdatedAt)
	if err != nil {
		return m, db.wrap("Menu", notFound(err))
	}
	if err := json.Unmarshal([]byte(items), &m.Items); err != nil {
		return m, fmt.Errorf("%w: menu of %s: %v", store.ErrCorrupt, institutionID, err)
	}
	return m, nil
}
