package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// Sign-in beyond the password: reset tokens, re-authentication, the second
// factor and recovery codes; and institutions' brands. None of these
// touches a link, a key or an event.

func (db *DB) CreateResetToken(ctx context.Context, t store.ResetToken) error {
	_, err := db.exec(ctx, `INSERT INTO password_resets (token_hash, customer_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		t.Hash, t.CustomerID, t.CreatedAt, t.ExpiresAt)
	return db.wrap("CreateResetToken", db.unique(err))
}

func (db *DB) ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string, now time.Time) (string, error) {
	var customerID string
	err := db.write(ctx, func(ctx context.Context, q Querier) error {
		// The delete takes the token's row lock: a second spend of the same
		// token waits, then finds nothing.
		err := q.QueryRow(ctx, `DELETE FROM password_resets WHERE token_hash = ? AND expires_at > ? RETURNING customer_id`, tokenHash, now).Scan(&customerID)
		if err != nil {
			return notFound(err)
		}
		if _, err := q.Exec(ctx, `UPDATE customers SET password_hash = ? WHERE id = ?`, passwordHash, customerID); err != nil {
			return err
		}
		if _, err := q.Exec(ctx, `DELETE FROM password_resets WHERE customer_id = ?`, customerID); err != nil {
			return err
		}
		_, err = q.Exec(ctx, `DELETE FROM sessions WHERE customer_id = ?`, customerID)
		return err
	})
	if err != nil {
		return "", db.wrap("ResetPassword", err)
	}
	return customerID, nil
}

func (db *DB) Reauthenticated(ctx context.Context, idHash []byte, at time.Time) error {
	// The later of the two: max(a, b) on SQLite is greatest(a, b) on
	// PostgreSQL, so a CASE that both read.
	return db.wrap("Reauthenticated", changed(db.exec(ctx, `INSERT INTO session_reauth (id_hash, at) SELECT id_hash, ? FROM sessions WHERE id_hash = ? AND expires_at > ?
		ON CONFLICT (id_hash) DO UPDATE SET at = CASE WHEN excluded.at > session_reauth.at THEN excluded.at ELSE session_reauth.at END`,
		at, idHash, db.e.Now())))
}

func (db *DB) LastReauth(ctx context.Context, idHash []byte) (time.Time, error) {
	var at time.Time
	err := db.reads().QueryRow(ctx, `SELECT at FROM session_reauth WHERE id_hash = ?`, idHash).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return at, db.wrap("LastReauth", err)
}

func (db *DB) PutTOTP(ctx context.Context, t store.TOTP) error {
	return db.wrap("PutTOTP", db.write(ctx, func(ctx context.Context, q Querier) error {
		// One statement: a confirmed second factor is kept, and then
		// nothing changed.
		n, err := q.Exec(ctx, `INSERT INTO customer_totp (customer_id, sealed, created_at, confirmed_at, last_step) VALUES (?, ?, ?, UNSET, 0)
			ON CONFLICT (customer_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at, last_step = 0
			WHERE customer_totp.confirmed_at IS UNSET`, t.CustomerID, t.Sealed, t.CreatedAt)
		if err == nil && n == 0 {
			return store.ErrExists
		}
		return err
	}))
}

func (db *DB) TOTP(ctx context.Context, customerID string) (store.TOTP, error) {
	t := store.TOTP{CustomerID: customerID}
	err := db.reads().QueryRow(ctx, `SELECT sealed, created_at, confirmed_at, last_step,
		(SELECT count(*) FROM recovery_codes WHERE customer_id = t.customer_id AND used_at IS UNSET)
		FROM customer_totp t WHERE customer_id = ?`, customerID).
		Scan(&t.Sealed, &t.CreatedAt, &t.ConfirmedAt, &t.LastStep, &t.RecoveryCodesLeft)
	return t, db.wrap("TOTP", notFound(err))
}

func (db *DB) ConfirmTOTP(ctx context.Context, customerID string, step int64, codes [][]byte, at time.Time) error {
	return db.wrap("ConfirmTOTP", db.write(ctx, func(ctx context.Context, q Querier) error {
		if err := changed(q.Exec(ctx, `UPDATE customer_totp SET confirmed_at = ?, last_step = ? WHERE customer_id = ? AND confirmed_at IS UNSET`,
			at, step, customerID)); err != nil {
			return err
		}
		return replaceRecoveryCodes(ctx, q, customerID, codes, at)
	}))
}

func replaceRecoveryCodes(ctx context.Context, q Querier, customerID string, codes [][]byte, at time.Time) error {
	if _, err := q.Exec(ctx, `DELETE FROM recovery_codes WHERE customer_id = ?`, customerID); err != nil {
		return err
	}
	for _, h := range codes {
		if _, err := q.Exec(ctx, `INSERT INTO recovery_codes (customer_id, code_hash, created_at) VALUES (?, ?, ?)`, customerID, h, at); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) UseTOTPStep(ctx context.Context, customerID string, step int64) error {
	return db.wrap("UseTOTPStep", db.write(ctx, func(ctx context.Context, q Querier) error {
		// One statement: the row lock makes two uses of one code race to
		// it, and the second finds the step taken.
		n, err := q.Exec(ctx, `UPDATE customer_totp SET last_step = ?2 WHERE customer_id = ?1 AND confirmed_at IS SET AND last_step < ?2`, customerID, step)
		if err != nil || n == 1 {
			return err
		}
		var one int
		if err := q.QueryRow(ctx, `SELECT 1 FROM customer_totp WHERE customer_id = ? AND confirmed_at IS SET`, customerID).Scan(&one); err != nil {
			return notFound(err)
		}
		return store.ErrCodeUsed
	}))
}

func (db *DB) DeleteTOTP(ctx context.Context, customerID string) error {
	return db.wrap("DeleteTOTP", db.write(ctx, func(ctx context.Context, q Querier) error {
		if _, err := q.Exec(ctx, `DELETE FROM recovery_codes WHERE customer_id = ?`, customerID); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `DELETE FROM customer_totp WHERE customer_id = ?`, customerID)
		return err
	}))
}

func (db *DB) SetRecoveryCodes(ctx context.Context, customerID string, codes [][]byte, at time.Time) error {
	return db.wrap("SetRecoveryCodes", db.write(ctx, func(ctx context.Context, q Querier) error {
		return replaceRecoveryCodes(ctx, q, customerID, codes, at)
	}))
}

func (db *DB) UseRecoveryCode(ctx context.Context, customerID string, hash []byte, at time.Time) error {
	return db.wrap("UseRecoveryCode", changed(db.exec(ctx, `UPDATE recovery_codes SET used_at = ? WHERE customer_id = ? AND code_hash = ? AND used_at IS UNSET`, at, customerID, hash)))
}

func (db *DB) SetBrand(ctx context.Context, b store.Brand) error {
	// The SELECT's WHERE is needed twice: an unknown institution
	// inserts nothing (ErrNotFound), and SQLite parses an upsert after
	// INSERT … SELECT only when the SELECT has one.
	return db.wrap("SetBrand", changed(db.exec(ctx, `INSERT INTO institution_brands (institution_id, color, logo, logo_type, updated_at)
		SELECT id, ?2, ?3, ?4, ?5 FROM institutions WHERE id = ?1
		ON CONFLICT (institution_id) DO UPDATE SET color = excluded.color, logo = excluded.logo, logo_type = excluded.logo_type, updated_at = excluded.updated_at`,
		b.InstitutionID, b.Color, b.Logo, b.LogoType, b.UpdatedAt)))
}

func (db *DB) Brand(ctx context.Context, institutionID string) (store.Brand, error) {
	b := store.Brand{InstitutionID: institutionID}
	err := db.reads().QueryRow(ctx, `SELECT color, logo, logo_type, updated_at FROM institution_brands WHERE institution_id = ?`, institutionID).
		Scan(&b.Color, &b.Logo, &b.LogoType, &b.UpdatedAt)
	return b, db.wrap("Brand", notFound(err))
}

func (db *DB) Brands(ctx context.Context) ([]store.Brand, error) {
	out, err := all(func(row Row) (store.Brand, error) {
		var b store.Brand
		return b, row.Scan(&b.InstitutionID, &b.Color, &b.LogoType, &b.UpdatedAt)
	})(db.reads().Query(ctx, `SELECT institution_id, color, logo_type, updated_at FROM institution_brands ORDER BY institution_id`))
	return out, db.wrap("Brands", err)
}
