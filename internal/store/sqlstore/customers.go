package sqlstore

import (
	"context"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// Customers, their sessions and passwords.

func (db *DB) CreateCustomer(ctx context.Context, cu store.Customer) error {
	_, err := db.exec(ctx, `INSERT INTO customers (id, email, password_hash, created_at, language) VALUES (?, ?, ?, ?, ?)`,
		cu.ID, cu.Email, cu.PasswordHash, cu.CreatedAt, cu.Language)
	return db.wrap("CreateCustomer", db.unique(err))
}

func (db *DB) customer(ctx context.Context, op, where, arg string) (store.Customer, error) {
	var cu store.Customer
	err := db.reads().QueryRow(ctx, `SELECT id, email, password_hash, created_at, language FROM customers WHERE `+where+` = ?`, arg).
		Scan(&cu.ID, &cu.Email, &cu.PasswordHash, &cu.CreatedAt, &cu.Language)
	return cu, db.wrap(op, notFound(err))
}

func (db *DB) CustomerByEmail(ctx context.Context, email string) (store.Customer, error) {
	return db.customer(ctx, "CustomerByEmail", "email", email)
}

func (db *DB) Customer(ctx context.Context, id string) (store.Customer, error) {
	return db.customer(ctx, "Customer", "id", id)
}

func (db *DB) SetCustomerLanguage(ctx context.Context, customerID, lang string) error {
	return db.wrap("SetCustomerLanguage", changed(db.exec(ctx, `UPDATE customers SET language = ? WHERE id = ?`, lang, customerID)))
}

func (db *DB) CustomerLanguages(ctx context.Context, customerIDs []string) (map[string]string, error) {
	out := map[string]string{}
	err := each(customerIDs, func(ids []any) error {
		type chosen struct{ id, lang string }
		rows, err := all(func(row Row) (chosen, error) {
			var c chosen
			return c, row.Scan(&c.id, &c.lang)
		})(db.reads().Query(ctx, `SELECT id, language FROM customers WHERE id IN `+in(len(ids))+` AND language <> ''`, ids...))
		for _, c := range rows {
			out[c.id] = c.lang
		}
		return err
	})
	if err != nil {
		return nil, db.wrap("CustomerLanguages", err)
	}
	return out, nil
}

func (db *DB) CreateSession(ctx context.Context, se store.Session, checked string) error {
	return db.wrap("CreateSession", db.write(ctx, func(ctx context.Context, q Querier) error {
		// FOR SHARE waits for a change of password under way, then reads
		// the hash it left; a change that starts after waits for this
		// insert, and then ends the session with the others. The same
		// holds for the passkey that signed the session in, if one did,
		// and its removal (DeletePasskey).
		query := `INSERT INTO sessions (id_hash, customer_id, csrf_token, created_at, expires_at, passkey_id)
			SELECT ?1, ?2, ?3, ?4, ?5, ?7 WHERE EXISTS (SELECT 1 FROM customers WHERE id = ?2 AND password_hash = ?6 FOR SHARE)`
		if se.PasskeyID != nil {
			query += ` AND EXISTS (SELECT 1 FROM passkeys WHERE id = ?7 AND customer_id = ?2 FOR SHARE)`
		}
		n, err := q.Exec(ctx, query, se.IDHash, se.CustomerID, se.CSRFToken, se.CreatedAt, se.ExpiresAt, checked, se.PasskeyID)
		if err != nil || n == 1 {
			return err
		}
		if se.PasskeyID != nil {
			var one int
			if err := q.QueryRow(ctx, `SELECT 1 FROM passkeys WHERE id = ? AND customer_id = ?`, se.PasskeyID, se.CustomerID).Scan(&one); err != nil {
				return notFound(err)
			}
		}
		return store.ErrPasswordChanged
	}))
}

func (db *DB) Session(ctx context.Context, idHash []byte) (store.Session, error) {
	var se store.Session
	err := db.reads().QueryRow(ctx, `SELECT id_hash, customer_id, csrf_token, created_at, expires_at, passkey_id FROM sessions WHERE id_hash = ? AND expires_at > ?`, idHash, db.e.Now()).
		Scan(&se.IDHash, &se.CustomerID, &se.CSRFToken, &se.CreatedAt, &se.ExpiresAt, &se.PasskeyID)
	return se, db.wrap("Session", notFound(err))
}

func (db *DB) DeleteSession(ctx context.Context, idHash []byte) error {
	_, err := db.exec(ctx, `DELETE FROM sessions WHERE id_hash = ?`, idHash)
	return db.wrap("DeleteSession", err)
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
// expired. Each table is its own statement, and skips rows another
// transaction holds (a password reset ending a customer's sessions, say):
// a sweep never waits, so it can never deadlock with what it sweeps
// around, and takes what it skipped next time.
func (db *DB) SweepExpired(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	for _, t := range []struct{ table, key string }{{"sessions", "id_hash"}, {"link_attempts", "state_hash"}, {"password_resets", "token_hash"}} {
		k, err := db.exec(ctx, `DELETE FROM `+t.table+` WHERE `+t.key+` IN (SELECT `+t.key+` FROM `+t.table+` WHERE expires_at <= ? FOR UPDATE SKIP LOCKED)`, now)
		if err != nil {
			return n, db.wrap("SweepExpired", err)
		}
		n += k
	}
	return n, nil
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
