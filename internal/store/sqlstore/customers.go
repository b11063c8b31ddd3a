package sqlstore

import (
	"context"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// Customers, their sessions and passwords.

func (db *DB) CreateCustomer(ctx context.Context, cu store.Customer) error {
	return db.wrap("CreateCustomer", db.write(ctx, func(ctx context.Context, q Querier) error {
		_, err := q.Exec(ctx, `INSERT INTO customers (id, email, password_hash, created_at) VALUES (?, ?, ?, ?)`,
			cu.ID, cu.Email, cu.PasswordHash, cu.CreatedAt)
		return db.unique(err)
	}))
}

func (db *DB) customer(ctx context.Context, op, where, arg string) (store.Customer, error) {
	var cu store.Customer
	err := db.reads().QueryRow(ctx, `SELECT id, email, password_hash, created_at FROM customers WHERE `+where+` = ?`, arg).
		Scan(&cu.ID, &cu.Email, &cu.PasswordHash, &cu.CreatedAt)
	return cu, db.wrap(op, notFound(err))
}

func (db *DB) CustomerByEmail(ctx context.Context, email string) (store.Customer, error) {
	return db.customer(ctx, "CustomerByEmail", "email", email)
}

func (db *DB) Customer(ctx context.Context, id string) (store.Customer, error) {
	return db.customer(ctx, "Customer", "id", id)
}

func (db *DB) CreateSession(ctx context.Context, se store.Session, checked string) error {
	return db.wrap("CreateSession", db.write(ctx, func(ctx context.Context, q Querier) error {
		// FOR SHARE waits for a change of password under way, then reads
		// the hash it left; a change that starts after waits for this
		// insert, and then ends the session with the others.
		n, err := q.Exec(ctx, `INSERT INTO sessions (id_hash, customer_id, csrf_token, created_at, expires_at)
			SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM customers WHERE id = ?2 AND password_hash = ?6 FOR SHARE)`,
			se.IDHash, se.CustomerID, se.CSRFToken, se.CreatedAt, se.ExpiresAt, checked)
		if err == nil && n == 0 {
			return store.ErrPasswordChanged
		}
		return err
	}))
}

func (db *DB) Session(ctx context.Context, idHash []byte) (store.Session, error) {
	var se store.Session
	err := db.reads().QueryRow(ctx, `SELECT id_hash, customer_id, csrf_token, created_at, expires_at FROM sessions WHERE id_hash = ? AND expires_at > ?`, idHash, db.e.Now()).
		Scan(&se.IDHash, &se.CustomerID, &se.CSRFToken, &se.CreatedAt, &se.ExpiresAt)
	return se, db.wrap("Session", notFound(err))
}

func (db *DB) DeleteSession(ctx context.Context, idHash []byte) error {
	return db.wrap("DeleteSession", db.write(ctx, func(ctx context.Context, q Querier) error {
		_, err := q.Exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
		return err
	}))
}

func (db *DB) SetPassword(ctx context.Context, customerID, hash string, keep []byte) error {
	return db.wrap("SetPassword", db.setPassword(ctx, "customers", "sessions", "customer_id", customerID, hash, keep))
}

func (db *DB) SetStaffPassword(ctx context.Context, staffID, hash string, keep []byte) error {
	return db.wrap("SetStaffPassword", db.setPassword(ctx, "staff", "staff_sessions", "staff_id", staffID, hash, keep))
}

// setPassword serves both kinds of account: the table of accounts, and of
// their sessions, which name their account in column owner. Every session
// but keep ends.
func (db *DB) setPassword(ctx context.Context, accounts, sessions, owner, id, hash string, keep []byte) error {
	return db.write(ctx, func(ctx context.Context, q Querier) error {
		if err := changed(q.Exec(ctx, `UPDATE `+accounts+` SET password_hash = ? WHERE id = ?`, hash, id)); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM `+sessions+` WHERE `+owner+` = ? AND id_hash IS DISTINCT FROM ?`, id, keep); err != nil || accounts != "customers" {
			return err
		}
		// A reset link asked for before the new password must not undo it.
		_, err := q.Exec(ctx, `DELETE FROM password_resets WHERE customer_id = ?`, id)
		return err
	})
}

// SweepExpired deletes sessions, link attempts and reset links that have
// expired.
func (db *DB) SweepExpired(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, func(ctx context.Context, q Querier) error {
		n = 0
		for _, table := range []string{"sessions", "link_attempts", "password_resets"} {
			k, err := q.Exec(ctx, `DELETE FROM `+table+` WHERE expires_at <= ?`, now)
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	return n, db.wrap("SweepExpired", err)
}

func (db *DB) LiveSessions(ctx context.Context, idHashes [][]byte, now time.Time) (map[string]bool, error) {
	out := make(map[string]bool, len(idHashes))
	err := each(idHashes, func(ids []any) error {
		live, err := all(func(row Row) ([]byte, error) {
			var h []byte
			return h, row.Scan(&h)
		})(db.reads().Query(ctx, `SELECT id_hash FROM sessions WHERE id_hash IN `+in(len(ids))+` AND expires_at > ?`, append(ids, now)...))
		for _, h := range live {
			out[string(h)] = true
		}
		return err
	})
	if err != nil {
		return nil, db.wrap("LiveSessions", err)
	}
	return out, nil
}
