package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/openteller/openteller/internal/store"
)

// Sign-in beyond the password: reset tokens, re-authentication, the second
// factor and recovery codes; and institutions' brands.

func (s *Store) CreateResetToken(ctx context.Context, t store.ResetToken) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO password_resets (token_hash, customer_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
		t.Hash, t.CustomerID, t.CreatedAt, t.ExpiresAt)
	if isUnique(err) {
		return store.ErrExists
	}
	return wrap("CreateResetToken", err)
}

func (s *Store) ResetPassword(ctx context.Context, tokenHash []byte, passwordHash string, now time.Time) (string, error) {
	var customerID string
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The delete takes the token's row lock: a second spend of the same
		// token waits, then finds nothing.
		err := tx.QueryRow(ctx, `DELETE FROM password_resets WHERE token_hash = $1 AND expires_at > $2 RETURNING customer_id`, tokenHash, now).Scan(&customerID)
		if err != nil {
			return notFound(err)
		}
		if _, err := tx.Exec(ctx, `UPDATE customers SET password_hash = $1 WHERE id = $2`, passwordHash, customerID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM password_resets WHERE customer_id = $1`, customerID); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `DELETE FROM sessions WHERE customer_id = $1`, customerID)
		return err
	})
	if err != nil {
		return "", wrap("ResetPassword", err)
	}
	return customerID, nil
}

func (s *Store) Reauthenticated(ctx context.Context, idHash []byte, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO session_reauth (id_hash, at) SELECT id_hash, $1 FROM sessions WHERE id_hash = $2 AND expires_at > $3
		ON CONFLICT (id_hash) DO UPDATE SET at = greatest(session_reauth.at, EXCLUDED.at)`, at, idHash, s.now())
	if err != nil {
		return wrap("Reauthenticated", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (s *Store) LastReauth(ctx context.Context, idHash []byte) (time.Time, error) {
	var at time.Time
	err := s.pool.QueryRow(ctx, `SELECT at FROM session_reauth WHERE id_hash = $1`, idHash).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	return at.UTC(), wrap("LastReauth", err)
}

func (s *Store) PutTOTP(ctx context.Context, t store.TOTP) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO customer_totp (customer_id, sealed, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (customer_id) DO UPDATE SET sealed = EXCLUDED.sealed, created_at = EXCLUDED.created_at, last_step = 0
		WHERE customer_totp.confirmed_at IS NULL`, t.CustomerID, t.Sealed, t.CreatedAt)
	if err != nil {
		return wrap("PutTOTP", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrExists
	}
	return nil
}

func (s *Store) TOTP(ctx context.Context, customerID string) (store.TOTP, error) {
	t := store.TOTP{CustomerID: customerID}
	var confirmed *time.Time
	err := s.pool.QueryRow(ctx, `SELECT sealed, created_at, confirmed_at, last_step,
		(SELECT count(*) FROM recovery_codes WHERE customer_id = t.customer_id AND used_at IS NULL)
		FROM customer_totp t WHERE customer_id = $1`, customerID).
		Scan(&t.Sealed, &t.CreatedAt, &confirmed, &t.LastStep, &t.RecoveryCodesLeft)
	t.CreatedAt, t.ConfirmedAt = t.CreatedAt.UTC(), orZero(confirmed)
	return t, wrap("TOTP", notFound(err))
}

func (s *Store) ConfirmTOTP(ctx context.Context, customerID string, step int64, codes [][]byte, at time.Time) error {
	return wrap("ConfirmTOTP", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE customer_totp SET confirmed_at = $1, last_step = $2 WHERE customer_id = $3 AND confirmed_at IS NULL`, at, step, customerID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		return replaceRecoveryCodes(ctx, tx, customerID, codes, at)
	}))
}

func replaceRecoveryCodes(ctx context.Context, tx pgx.Tx, customerID string, codes [][]byte, at time.Time) error {
	if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE customer_id = $1`, customerID); err != nil {
		return err
	}
	for _, h := range codes {
		if _, err := tx.Exec(ctx, `INSERT INTO recovery_codes (customer_id, code_hash, created_at) VALUES ($1, $2, $3)`, customerID, h, at); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) UseTOTPStep(ctx context.Context, customerID string, step int64) error {
	// One statement: the row lock makes two uses of one code race to it,
	// and the second finds the step taken.
	tag, err := s.pool.Exec(ctx, `UPDATE customer_totp SET last_step = $2 WHERE customer_id = $1 AND confirmed_at IS NOT NULL AND last_step < $2`, customerID, step)
	if err != nil {
		return wrap("UseTOTPStep", err)
	}
	if tag.RowsAffected() == 1 {
		return nil
	}
	var one int
	err = s.pool.QueryRow(ctx, `SELECT 1 FROM customer_totp WHERE customer_id = $1 AND confirmed_at IS NOT NULL`, customerID).Scan(&one)
	if err != nil {
		return wrap("UseTOTPStep", notFound(err))
	}
	return store.ErrCodeUsed
}

func (s *Store) DeleteTOTP(ctx context.Context, customerID string) error {
	return wrap("DeleteTOTP", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM recovery_codes WHERE customer_id = $1`, customerID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `DELETE FROM customer_totp WHERE customer_id = $1`, customerID)
		return err
	}))
}

func (s *Store) SetRecoveryCodes(ctx context.Context, customerID string, codes [][]byte, at time.Time) error {
	return wrap("SetRecoveryCodes", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		return replaceRecoveryCodes(ctx, tx, customerID, codes, at)
	}))
}

func (s *Store) UseRecoveryCode(ctx context.Context, customerID string, hash []byte, at time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE recovery_codes SET used_at = $1 WHERE customer_id = $2 AND code_hash = $3 AND used_at IS NULL`, at, customerID, hash)
	if err != nil {
		return wrap("UseRecoveryCode", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (s *Store) SetBrand(ctx context.Context, b store.Brand) error {
	tag, err := s.pool.Exec(ctx, `INSERT INTO institution_brands (institution_id, color, logo, logo_type, updated_at)
		SELECT id, $2, $3, $4, $5 FROM institutions WHERE id = $1
		ON CONFLICT (institution_id) DO UPDATE SET color = EXCLUDED.color, logo = EXCLUDED.logo, logo_type = EXCLUDED.logo_type, updated_at = EXCLUDED.updated_at`,
		b.InstitutionID, b.Color, b.Logo, b.LogoType, b.UpdatedAt)
	if err != nil {
		return wrap("SetBrand", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (s *Store) Brand(ctx context.Context, institutionID string) (store.Brand, error) {
	b := store.Brand{InstitutionID: institutionID}
	err := s.pool.QueryRow(ctx, `SELECT color, logo, logo_type, updated_at FROM institution_brands WHERE institution_id = $1`, institutionID).
		Scan(&b.Color, &b.Logo, &b.LogoType, &b.UpdatedAt)
	b.UpdatedAt = b.UpdatedAt.UTC()
	return b, wrap("Brand", notFound(err))
}

func (s *Store) Brands(ctx context.Context) ([]store.Brand, error) {
	rows, err := s.pool.Query(ctx, `SELECT institution_id, color, logo_type, updated_at FROM institution_brands ORDER BY institution_id`)
	if err != nil {
		return nil, wrap("Brands", err)
	}
	defer rows.Close()
	var out []store.Brand
	for rows.Next() {
		var b store.Brand
		if err := rows.Scan(&b.InstitutionID, &b.Color, &b.LogoType, &b.UpdatedAt); err != nil {
			return nil, wrap("Brands", err)
		}
		b.UpdatedAt = b.UpdatedAt.UTC()
		out = append(out, b)
	}
	return out, rows.Err()
}
