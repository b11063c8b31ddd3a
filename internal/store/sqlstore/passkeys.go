package sqlstore

import (
	"context"
	"strings"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// Passkeys: customers' WebAuthn credentials, and the ceremonies begun with
// them (migration 0020). None of these touches a link, a key or an event.

func (db *DB) PutPasskeyCeremony(ctx context.Context, pc store.PasskeyCeremony, now time.Time) error {
	return db.wrap("PutPasskeyCeremony", db.write(ctx, func(ctx context.Context, q Querier) error {
		// Abandoned ceremonies go as new ones come, so the table holds
		// only a few minutes' worth.
		if _, err := q.Exec(ctx, `DELETE FROM passkey_ceremonies WHERE hash IN (SELECT hash FROM passkey_ceremonies WHERE expires_at <= ? FOR UPDATE SKIP LOCKED)`, now); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `INSERT INTO passkey_ceremonies (hash, kind, customer_id, email, session_hash, data, expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (hash) DO UPDATE SET kind = excluded.kind, customer_id = excluded.customer_id, email = excluded.email,
				session_hash = excluded.session_hash, data = excluded.data, expires_at = excluded.expires_at`,
			pc.Hash, pc.Kind, pc.CustomerID, pc.Email, pc.SessionHash, pc.Data, pc.ExpiresAt)
		return err
	}))
}

// TakePasskeyCeremony deletes a ceremony and returns it unless it has
// lapsed. The delete holds the row: of two takes, the second finds
// nothing. A lapsed ceremony is deleted too, and not returned.
func (db *DB) TakePasskeyCeremony(ctx context.Context, hash []byte, now time.Time) (store.PasskeyCeremony, error) {
	pc := store.PasskeyCeremony{Hash: hash}
	err := db.write(ctx, func(ctx context.Context, q Querier) error {
		return notFound(q.QueryRow(ctx, `DELETE FROM passkey_ceremonies WHERE hash = ? RETURNING kind, customer_id, email, session_hash, data, expires_at`, hash).
			Scan(&pc.Kind, &pc.CustomerID, &pc.Email, &pc.SessionHash, &pc.Data, &pc.ExpiresAt))
	})
	if err == nil && !now.Before(pc.ExpiresAt) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.PasskeyCeremony{}, db.wrap("TakePasskeyCeremony", err)
	}
	return pc, nil
}

func (db *DB) AddPasskey(ctx context.Context, p store.Passkey) error {
	aaguid := p.AAGUID
	if aaguid == nil {
		aaguid = []byte{} // NOT NULL
	}
	_, err := db.exec(ctx, `INSERT INTO passkeys (id, customer_id, name, public_key, sign_count, transports, aaguid, flags, attestation_format, created_at, last_used_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.CustomerID, p.Name, p.PublicKey, int64(p.SignCount), strings.Join(p.Transports, " "), aaguid, int64(p.Flags),
		p.AttestationFormat, p.CreatedAt, p.LastUsedAt)
	return db.wrap("AddPasskey", db.unique(err))
}

const passkeyColumns = `id, customer_id, name, public_key, sign_count, transports, aaguid, flags, attestation_format, created_at, last_used_at`

func scanPasskey(row Row) (store.Passkey, error) {
	var p store.Passkey
	var count, flags int64
	var transports string
	err := row.Scan(&p.ID, &p.CustomerID, &p.Name, &p.PublicKey, &count, &transports, &p.AAGUID, &flags, &p.AttestationFormat, &p.CreatedAt, &p.LastUsedAt)
	p.SignCount, p.Flags, p.Transports = uint32(count), byte(flags), strings.Fields(transports)
	return p, notFound(err)
}

func (db *DB) Passkeys(ctx context.Context, customerID string) ([]store.Passkey, error) {
	out, err := all(scanPasskey)(db.reads().Query(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE customer_id = ? ORDER BY created_at, id`, customerID))
	return out, db.wrap("Passkeys", err)
}

func (db *DB) Passkey(ctx context.Context, id []byte) (store.Passkey, error) {
	p, err := scanPasskey(db.reads().QueryRow(ctx, `SELECT `+passkeyColumns+` FROM passkeys WHERE id = ?`, id))
	if err != nil {
		return store.Passkey{}, db.wrap("Passkey", err)
	}
	return p, nil
}

// UsePasskey records a sign-in with a passkey whose counter moved forward
// (or that keeps none: both 0), and refuses one that did not: a copied
// authenticator (store.ErrCodeUsed).
func (db *DB) UsePasskey(ctx context.Context, customerID string, id []byte, signCount uint32, flags byte, at time.Time) error {
	return db.wrap("UsePasskey", db.write(ctx, func(ctx context.Context, q Querier) error {
		// One statement: the row lock makes two uses with one counter
		// value race to it, and the second finds the counter taken.
		n, err := q.Exec(ctx, `UPDATE passkeys SET sign_count = ?3, flags = ?4, last_used_at = ?5
			WHERE id = ?1 AND customer_id = ?2 AND (sign_count < ?3 OR (sign_count = 0 AND ?3 = 0))`,
			id, customerID, int64(signCount), int64(flags), at)
		if err != nil || n == 1 {
			return err
		}
		var one int
		if err := q.QueryRow(ctx, `SELECT 1 FROM passkeys WHERE id = ? AND customer_id = ?`, id, customerID).Scan(&one); err != nil {
			return notFound(err)
		}
		return store.ErrCodeUsed
	}))
}

// DeletePasskey removes a passkey and the sessions it signed in, and
// returns those that had not expired. The passkey goes first: its row lock
// makes a sign-in with it that is making its session (CreateSession)
// either finish first, and have its session ended here, or find the
// passkey gone, and make none.
func (db *DB) DeletePasskey(ctx context.Context, customerID string, id []byte) ([][]byte, error) {
	var ended [][]byte
	err := db.write(ctx, func(ctx context.Context, q Querier) error {
		ended = nil
		if err := changed(q.Exec(ctx, `DELETE FROM passkeys WHERE id = ? AND customer_id = ?`, id, customerID)); err != nil {
			return err
		}
		type session struct {
			idHash    []byte
			expiresAt time.Time
		}
		gone, err := all(func(row Row) (session, error) {
			var se session
			return se, row.Scan(&se.idHash, &se.expiresAt)
		})(q.Query(ctx, `DELETE FROM sessions WHERE passkey_id = ? AND customer_id = ? RETURNING id_hash, expires_at`, id, customerID))
		now := db.e.Now()
		for _, se := range gone {
			if se.expiresAt.After(now) {
				ended = append(ended, se.idHash)
			}
		}
		return err
	})
	if err != nil {
		return nil, db.wrap("DeletePasskey", err)
	}
	return ended, nil
}
