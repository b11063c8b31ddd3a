package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/openteller/openteller/internal/store"
)

// Claiming and settling notices for institutions: nodes claim with
// FOR UPDATE SKIP LOCKED under a lease, so each notice goes out from one
// node at a time.

const noticeCols = `id, institution_id, link_id, type, payload::text, created_at, attempts, delivered_at, dead_at, last_error, customer_id, sealed`

func scanNotice(row pgx.Row) (store.Notice, error) {
	var n store.Notice
	var payload string
	var delivered, dead *time.Time
	err := row.Scan(&n.ID, &n.InstitutionID, &n.LinkID, &n.Type, &payload, &n.CreatedAt, &n.Attempts, &delivered, &dead, &n.LastError, &n.CustomerID, &n.Sealed)
	n.Payload, n.CreatedAt, n.DeliveredAt, n.DeadAt = []byte(payload), n.CreatedAt.UTC(), orZero(delivered), orZero(dead)
	if n.Sealed != nil {
		n.Payload = nil
	}
	return n, err
}

// ClaimNotices leases with SKIP LOCKED, so deliverers on several nodes pass
// each other's rows instead of waiting on them. It walks pending notices
// oldest first (outbox_due) and keeps each that heads its link's queue (by
// seq, which follows commit order per link), a look-up in outbox_pending: as a NOT EXISTS anti-join the planner, without
// statistics on a young table, compared every pending row with every other
// (0.5 s per claim with a few thousand pending).
func (s *Store) ClaimNotices(ctx context.Context, now, leaseUntil time.Time, limit int) ([]store.Notice, error) {
	rows, err := s.pool.Query(ctx, `UPDATE outbox SET lease_until = $1 WHERE id IN (
		SELECT o.id FROM outbox o WHERE o.delivered_at IS NULL AND o.dead_at IS NULL AND o.next_at <= $2 AND o.lease_until <= $2
		AND EXISTS (SELECT 1 FROM webhook_endpoints w WHERE w.institution_id = o.institution_id AND w.disabled_at IS NULL)
		AND o.id = (SELECT p.id FROM outbox p WHERE p.link_id = o.link_id AND p.delivered_at IS NULL AND p.dead_at IS NULL ORDER BY p.seq LIMIT 1)
		ORDER BY o.created_at, o.id LIMIT $3 FOR UPDATE SKIP LOCKED) RETURNING `+noticeCols, leaseUntil.Truncate(time.Microsecond), now, limit)
	if err != nil {
		return nil, wrap("ClaimNotices", err)
	}
	out, err := scanNotices(rows)
	store.SortNotices(out) // RETURNING has no order
	return out, wrap("ClaimNotices", err)
}

// SettleNotices sends BEGIN, every update and COMMIT in one pipelined
// batch: one round trip and one commit for the whole batch (a commit per
// notice made the deliverer the slowest part of a fraud round trip).
func (s *Store) SettleNotices(ctx context.Context, os []store.Outcome) error {
	if len(os) == 0 {
		return nil
	}
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: settle notices: %w", err)
	}
	defer conn.Release()
	b := &pgx.Batch{}
	b.Queue("BEGIN")
	for _, o := range os {
		next := o.NextAt
		if next.IsZero() {
			next = time.Unix(0, 0)
		}
		b.Queue(`UPDATE outbox SET attempts = $1, delivered_at = $2, dead_at = $3, next_at = $4, lease_until = '-infinity', last_error = $5 WHERE id = $6 AND lease_until = $7`,
			o.Attempts, nullTime(o.DeliveredAt), nullTime(o.DeadAt), next, o.Error, o.NoticeID, o.LeaseUntil.Truncate(time.Microsecond))
	}
	b.Queue("COMMIT")
	if err := conn.SendBatch(ctx, b).Close(); err != nil {
		// Released inside a failed transaction, the connection is
		// destroyed rather than reused.
		conn.Exec(context.Background(), "ROLLBACK")
		return fmt.Errorf("postgres: settle notices: %w", err)
	}
	return nil
}

func (s *Store) Notices(ctx context.Context, institutionID string) ([]store.Notice, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+noticeCols+` FROM outbox WHERE institution_id = $1 ORDER BY seq`, institutionID)
	if err != nil {
		return nil, wrap("Notices", err)
	}
	return scanNotices(rows)
}

func scanNotices(rows pgx.Rows) ([]store.Notice, error) {
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
