package sqlstore

import (
	"context"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// The outbox: notices to institutions, written in the transaction of the
// change they announce. Claiming and settling them differ between the
// engines (SKIP LOCKED, leases) and stay in each store.

// insertNotice adds n to the outbox inside a write; its lease is left to
// the column's default (none).
func insertNotice(ctx context.Context, q Querier, n store.Notice) error {
	_, err := q.Exec(ctx, `INSERT INTO outbox (id, institution_id, link_id, type, payload, created_at, customer_id, sealed) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		n.ID, n.InstitutionID, n.LinkID, n.Type, NoticePayload(n), n.CreatedAt, n.CustomerID, n.Sealed)
	return err
}

// NoticePayload is what the payload column holds: '{}' for a sealed notice.
func NoticePayload(n store.Notice) string {
	if n.Sealed != nil {
		return "{}"
	}
	return string(n.Payload)
}

// Redeliver puts a dead notice back in line, to be sent at now.
func (db *DB) Redeliver(ctx context.Context, institutionID, noticeID string, now time.Time) error {
	return db.wrap("Redeliver", changed(db.exec(ctx, `UPDATE outbox SET dead_at = UNSET, attempts = 0, next_at = ?, lease_until = MIN_TIME WHERE id = ? AND institution_id = ? AND dead_at IS SET`,
		now, noticeID, institutionID)))
}
