package sqlite

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

func (s *Store) CreateResetToken(ctx context.Context, t store.ResetToken) error {
	return wrap("CreateResetToken", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		_, err := c.ExecContext(ctx, `INSERT INTO password_resets (token_hash, customer_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
			t.Hash, t.CustomerID, micros(t.CreatedAt), micros(t.ExpiresAt))
		if isUnique(err) {
			return store.ErrExists
		}
		return err
	}))
}

func (s *Store) ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string, now time.Time) (string, error) {
	var customerID string
	err := s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		err := c.QueryRowContext(ctx, `SELECT customer_id FROM password_resets WHERE token_hash = ? AND expires_at > ?`, tokenHash, micros(now)).Scan(&customerID)
		if err != nil {
			return notFound(err)
		}
		if _, err := c.ExecContext(ctx, `UPDATE customers SET password_hash = ? WHERE id = ?`, passwordHash, customerID); err != nil {
			return err
		}
		if _, err := c.ExecContext(ctx, `DELETE FROM password_resets WHERE customer_id = ?`, customerID); err != nil {
			return err
		}
		_, err = c.ExecContext(ctx, `DELETE FROM sessions WHERE customer_id = ?`, customerID)
		return err
	})
	if err != nil {
		return "", wrap("ResetPassword", err)
	}
	return customerID, nil
}

func (s *Store) Reauthenticated(ctx context.Context, idHash []byte, at time.Time) error {
	return wrap("Reauthenticated", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		res, err := c.ExecContext(ctx, `INSERT INTO session_reauth (id_hash, at) SELECT id_hash, ? FROM sessions WHERE id_hash = ? AND expires_at > ?
			ON CONFLICT (id_hash) DO UPDATE SET at = max(at, excluded.at)`, micros(at), idHash, micros(s.now()))
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	}))
}

func (s *Store) LastReauth(ctx context.Context, idHash []byte) (time.Time, error) {
	var at int64
	err := s.reads.QueryRowContext(ctx, `SELECT at FROM session_reauth WHERE id_hash = ?`, idHash).Scan(&at)
	if errors.Is(err, sql.ErrNoRows) {
		return time.Time{}, nil
	}
	return fromMicros(at), wrap("LastReauth", err)
}

func (s *Store) PutTOTP(ctx context.Context, t store.TOTP) error {
	return wrap("PutTOTP", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		var confirmed int64
		switch err := c.QueryRowContext(ctx, `SELECT confirmed_at FROM customer_totp WHERE customer_id = ?`, t.CustomerID).Scan(&confirmed); {
		case err == nil && confirmed != 0:
			return store.ErrExists
		case err != nil && !errors.Is(err, sql.ErrNoRows):
			return err
		}
		_, err := c.ExecContext(ctx, `INSERT INTO customer_totp (customer_id, sealed, created_at, confirmed_at, last_step) VALUES (?, ?, ?, 0, 0)
			ON CONFLICT (customer_id) DO UPDATE SET sealed = excluded.sealed, created_at = excluded.created_at, confirmed_at = 0, last_step = 0`,
			t.CustomerID, t.Sealed, micros(t.CreatedAt))
		return err
	}))
}

func (s *Store) TOTP(ctx context.Context, customerID string) (store.TOTP, error) {
	t := store.TOTP{CustomerID: customerID}
	var created, confirmed int64
	err := s.reads.QueryRowContext(ctx, `SELECT sealed, created_at, confirmed_at, last_step,
		(SELECT count(*) FROM recovery_codes WHERE customer_id = t.customer_id AND used_at = 0)
		FROM customer_totp t WHERE customer_id = ?`, customerID).
		Scan(&t.Sealed, &created, &confirmed, &t.LastStep, &t.RecoveryCodesLeft)
	t.CreatedAt, t.ConfirmedAt = fromMicros(created), fromMicros(confirmed)
	return t, wrap("TOTP", notFound(err))
}

func (s *Store) ConfirmTOTP(ctx context.Context, customerID string, step int64, codes [][]byte, at time.Time) error {
	return wrap("ConfirmTOTP", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		res, err := c.ExecContext(ctx, `UPDATE customer_totp SET confirmed_at = ?, last_step = ? WHERE customer_id = ? AND confirmed_at = 0`,
			micros(at), step, customerID)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return replaceRecoveryCodes(ctx, c, customerID, codes, at)
	}))
}

func replaceRecoveryCodes(ctx context.Context, c *sql.Conn, customerID string, codes [][]byte, at time.Time) error {
	if _, err := c.ExecContext(ctx, `DELETE FROM recovery_codes WHERE customer_id = ?`, customerID); err != nil {
		return err
	}
	for _, h := range codes {
		if _, err := c.ExecContext(ctx, `INSERT INTO recovery_codes (customer_id, code_hash, created_at) VALUES (?, ?, ?)`, customerID, h, micros(at)); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) UseTOTPStep(ctx context.Context, customerID string, step int64) error {
	return wrap("UseTOTPStep", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		var last int64
		err := c.QueryRowContext(ctx, `SELECT last_step FROM customer_totp WHERE customer_id = ? AND confirmed_at <> 0`, customerID).Scan(&last)
		if err != nil {
			return notFound(err)
		}
		if step <= last {
			return store.ErrCodeUsed
		}
		_, err = c.ExecContext(ctx, `UPDATE customer_totp SET last_step = ? WHERE customer_id = ?`, step, customerID)
		return err
	}))
}

func (s *Store) DeleteTOTP(ctx context.Context, customerID string) error {
	return wrap("DeleteTOTP", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		if _, err := c.ExecContext(ctx, `DELETE FROM recovery_codes WHERE customer_id = ?`, customerID); err != nil {
			return err
		}
		_, err := c.ExecContext(ctx, `DELETE FROM customer_totp WHERE customer_id = ?`, customerID)
		return err
	}))
}

func (s *Store) SetRecoveryCodes(ctx context.Context, customerID string, codes [][]byte, at time.Time) error {
	return wrap("SetRecoveryCodes", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		return replaceRecoveryCodes(ctx, c, customerID, codes, at)
	}))
}

func (s *Store) UseRecoveryCode(ctx context.Context, customerID string, hash []byte, at time.Time) error {
	return wrap("UseRecoveryCode", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		res, err := c.ExecContext(ctx, `UPDATE recovery_codes SET used_at = ? WHERE customer_id = ? AND code_hash = ? AND used_at = 0`, micros(at), customerID, hash)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return store.ErrNotFound
		}
		return nil
	}))
}

func (s *Store) SetBrand(ctx context.Context, b store.Brand) error {
	return wrap("SetBrand", s.do(ctx, func(ctx context.Context, c *sql.Conn) error {
		var one int
		if err := c.QueryRowContext(ctx, `SELECT 1 FROM institutions WHERE id = ?`, b.InstitutionID).Scan(&one); err != nil {
			return notFound(err)
		}
		_, err := c.ExecContext(ctx, `INSERT INTO institution_brands (institution_id, color, logo, logo_type, updated_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (institution_id) DO UPDATE SET color = excluded.color, logo = excluded.logo, logo_type = excluded.logo_type, updated_at = excluded.updated_at`,
			b.InstitutionID, b.Color, b.Logo, b.LogoType, micros(b.UpdatedAt))
		return err
	}))
}

func (s *Store) Brand(ctx context.Context, institutionID string) (store.Brand, error) {
	b := store.Brand{InstitutionID: institutionID}
	var updated int64
	err := s.reads.QueryRowContext(ctx, `SELECT color, logo, logo_type, updated_at FROM institution_brands WHERE institution_id = ?`, institutionID).
		Scan(&b.Color, &b.Logo, &b.LogoType, &updated)
	b.UpdatedAt = fromMicros(updated)
	return b, wrap("Brand", notFound(err))
}

func (s *Store) Brands(ctx context.Context) ([]store.Brand, error) {
	rows, err := s.reads.QueryContext(ctx, `SELECT institution_id, color, logo_type, updated_at FROM institution_brands ORDER BY institution_id`)
	if err != nil {
		return nil, wrap("Brands", err)
	}
	defer rows.Close()
	var out []store.Brand
	for rows.Next() {
		var b store.Brand
		var updated int64
		if err := rows.Scan(&b.InstitutionID, &b.Color, &b.LogoType, &updated); err != nil {
			return nil, wrap("Brands", err)
		}
		b.UpdatedAt = fromMicros(updated)
		out = append(out, b)
	}
	return out, rows.Err()
}
