package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// Claiming and settling notices for institutions: one writer, so a claim
// is an UPDATE … RETURNING with no row locks.

const noticeCols = `id, institution_id, link_id, type, payload, created_at, attempts, delivered_at, dead_at, last_error, customer_id, sealed`

func scanNotice(row interface{ Scan(...any) error }) (store.Notice, error) {
	var n store.Notice
	var payload string
	var created, delivered, dead int64
	err := row.Scan(&n.ID, &n.InstitutionID, &n.LinkID, &n.Type, &payload, &created, &n.Attempts, &delivered, &dead, &n.LastError, &n.CustomerID, &n.Sealed)
	n.Payload, n.CreatedAt, n.DeliveredAt, n.DeadAt = []byte(payload), fromMicros(created), fromMicros(delivered), fromMicros(dead)
	if n.Sealed != nil {
		n.Payload = nil
	}
	return n, err
}

func (s *Store) ClaimNotices(ctx context.Context, now, leaseUntil time.Time, limit int) ([]store.Notice, error) {
	var out []store.Notice
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		rows, err := c.QueryContext(ctx, `UPDATE outbox SET lease_until = ? WHERE id IN (
			SELECT o.id FROM outbox o WHERE o.delivered_at = 0 AND o.dead_at = 0 AND o.next_at <= ? AND o.lease_until <= ?
			AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.institution_id = o.institution_id AND w.disabled_at = 0)
			AND o.id = (SELECT p.id FROM outbox p WHERE p.link_id = o.link_id AND p.delivered_at = 0 AND p.dead_at = 0 ORDER BY p.rowid LIMIT 1)
			ORDER BY o.created_at, o.id LIMIT ?) RETURNING `+noticeCols, micros(leaseUntil), micros(now), micros(now), limit)
		if err != nil {
			return err
		}
		out, err = scanNotices(rows)
		return err
	})
	store.SortNotices(out)
	return out, wrap("ClaimNotices", err)
}

func (s *Store) SettleNotices(ctx context.Context, os []store.Outcome) error {
	if len(os) == 0 {
		return nil
	}
	return wrap("SettleNotices", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		for _, o := range os {
			if _, err := c.ExecContext(ctx, `UPDATE outbox SET attempts = ?, delivered_at = ?, dead_at = ?, next_at = ?, lease_until = 0, last_error = ? WHERE id = ? AND lease_until = ?`,
				o.Attempts, micros(o.DeliveredAt), micros(o.DeadAt), micros(o.NextAt), o.Error, o.NoticeID, micros(o.LeaseUntil)); err != nil {
				return err
			}
		}
		return nil
	}))
}

func (s *Store) Notices(ctx context.Context, institutionID string) ([]store.Notice, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT `+noticeCols+` FROM outbox WHERE institution_id = ? ORDER BY rowid`, institutionID)
	if err != nil {
		return nil, wrap("Notices", err)
	}
	return scanNotices(rows)
}

func scanNotices(rows *sql.Rows) ([]store.Notice, error) {
	defer rows.Close()
	var out []store.Notice
	for rows.Next() {
		n, err := scanNotice(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, rows.Err()
}
