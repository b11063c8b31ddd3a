package sqlstore

import (
	"context"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// Staff: the bank's people, their sessions and their presence.

const staffCols = `id, institution_id, email, name, role, password_hash, disabled_at, created_at`

func scanStaff(row Row) (store.Staff, error) {
	var m store.Staff
	err := row.Scan(&m.ID, &m.InstitutionID, &m.Email, &m.Name, &m.Role, &m.PasswordHash, &m.DisabledAt, &m.CreatedAt)
	return m, notFound(err)
}

func (db *DB) CreateStaff(ctx context.Context, m store.Staff) error {
	_, err := db.exec(ctx, `INSERT INTO staff (id, institution_id, email, name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		m.ID, m.InstitutionID, m.Email, m.Name, m.Role, m.PasswordHash, m.CreatedAt)
	return db.wrap("CreateStaff", db.unique(err))
}

func (db *DB) Staff(ctx context.Context, id string) (store.Staff, error) {
	m, err := scanStaff(db.reads().QueryRow(ctx, `SELECT `+staffCols+` FROM staff WHERE id = ?`, id))
	return m, db.wrap("Staff", err)
}

func (db *DB) StaffByEmail(ctx context.Context, email string) (store.Staff, error) {
	m, err := scanStaff(db.reads().QueryRow(ctx, `SELECT `+staffCols+` FROM staff WHERE email = ?`, email))
	return m, db.wrap("StaffByEmail", err)
}

func (db *DB) DisableStaff(ctx context.Context, institutionID, id string, at time.Time) error {
	return db.wrap("DisableStaff", db.write(ctx, func(ctx context.Context, q Querier) error {
		if err := changed(q.Exec(ctx, `UPDATE staff SET disabled_at = ? WHERE id = ? AND institution_id = ?`, at, id, institutionID)); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `DELETE FROM staff_sessions WHERE staff_id = ?`, id)
		return err
	}))
}

func (db *DB) CreateStaffSession(ctx context.Context, se store.StaffSession, checked string) error {
	return db.wrap("CreateStaffSession", db.write(ctx, func(ctx context.Context, q Querier) error {
		// As CreateSession; a member disabled meanwhile gets no session either.
		n, err := q.Exec(ctx, `INSERT INTO staff_sessions (id_hash, staff_id, csrf_token, created_at, expires_at)
			SELECT ?1, ?2, ?3, ?4, ?5 WHERE EXISTS (SELECT 1 FROM staff WHERE id = ?2 AND password_hash = ?6 AND disabled_at IS UNSET FOR SHARE)`,
			se.IDHash, se.StaffID, se.CSRFToken, se.CreatedAt, se.ExpiresAt, checked)
		if err == nil && n == 0 {
			return store.ErrPasswordChanged
		}
		return err
	}))
}

func (db *DB) StaffSession(ctx context.Context, idHash []byte) (store.StaffSession, error) {
	var se store.StaffSession
	err := db.reads().QueryRow(ctx, `SELECT ss.id_hash, ss.staff_id, ss.csrf_token, ss.created_at, ss.expires_at FROM staff_sessions ss
		JOIN staff m ON m.id = ss.staff_id WHERE ss.id_hash = ? AND ss.expires_at > ? AND m.disabled_at IS UNSET`, idHash, db.e.Now()).
		Scan(&se.IDHash, &se.StaffID, &se.CSRFToken, &se.CreatedAt, &se.ExpiresAt)
	return se, db.wrap("StaffSession", notFound(err))
}

func (db *DB) DeleteStaffSession(ctx context.Context, idHash []byte) error {
	_, err := db.exec(ctx, `DELETE FROM staff_sessions WHERE id_hash = ?`, idHash)
	return db.wrap("DeleteStaffSession", err)
}

// Presence.

func (db *DB) AvailableAgents(ctx context.Context, institutionID string, now time.Time) ([]string, error) {
	// Present, not merely signed in: a console online on a live session.
	out, err := all(func(row Row) (string, error) {
		var id string
		return id, row.Scan(&id)
	})(db.reads().Query(ctx, `SELECT DISTINCT m.id FROM staff m
		JOIN staff_presence p ON p.staff_id = m.id JOIN staff_sessions ss ON ss.id_hash = p.session_hash AND ss.staff_id = m.id
		WHERE m.institution_id = ?1 AND m.role = 'agent' AND m.disabled_at IS UNSET AND p.status = 'online' AND p.expires_at > ?2 AND ss.expires_at > ?2
		ORDER BY m.id`, institutionID, now))
	return out, db.wrap("AvailableAgents", err)
}

func (db *DB) SetPresence(ctx context.Context, p store.Presence) error {
	_, err := db.exec(ctx, `INSERT INTO staff_presence (stream_id, staff_id, session_hash, status, expires_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (stream_id) DO UPDATE SET status = excluded.status, expires_at = excluded.expires_at`,
		p.StreamID, p.StaffID, p.SessionHash, p.Status, p.ExpiresAt)
	return db.wrap("SetPresence", err)
}

func (db *DB) EndPresence(ctx context.Context, streamID string, now time.Time) error {
	_, err := db.exec(ctx, `DELETE FROM staff_presence WHERE stream_id = ? OR expires_at <= ?`, streamID, now)
	return db.wrap("EndPresence", err)
}

func (db *DB) StaffPresence(ctx context.Context, institutionID string, now time.Time) (map[string]string, error) {
	type row struct {
		id     string
		online int
	}
	rs, err := all(func(r Row) (row, error) {
		var v row
		return v, r.Scan(&v.id, &v.online)
	})(db.reads().Query(ctx, `SELECT m.id, max(CASE WHEN p.status = 'online' THEN 1 ELSE 0 END) FROM staff m
		JOIN staff_presence p ON p.staff_id = m.id JOIN staff_sessions ss ON ss.id_hash = p.session_hash AND ss.staff_id = m.id
		WHERE m.institution_id = ?1 AND m.disabled_at IS UNSET AND p.expires_at > ?2 AND ss.expires_at > ?2 GROUP BY m.id`, institutionID, now))
	out := map[string]string{}
	for _, r := range rs {
		out[r.id] = store.PresenceAway
		if r.online == 1 {
			out[r.id] = store.PresenceOnline
		}
	}
	return out, db.wrap("StaffPresence", err)
}
