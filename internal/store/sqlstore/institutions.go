package sqlstore

import (
	"context"
	"time"

	"github.com/openteller/openteller/internal/store"
)

// Institutions and their API keys.

func (db *DB) CreateInstitution(ctx context.Context, in store.Institution) error {
	_, err := db.exec(ctx, `INSERT INTO institutions (id, name, authorize_url, token_url, client_id, client_secret, created_at, kind) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		in.ID, in.Name, in.AuthorizeURL, in.TokenURL, in.ClientID, in.ClientSecret, in.CreatedAt, store.KindOf(in.Kind))
	return db.wrap("CreateInstitution", db.unique(err))
}

const institutionCols = `id, name, authorize_url, token_url, client_id, client_secret, created_at, kind`

func scanInstitution(row Row) (store.Institution, error) {
	var in store.Institution
	err := row.Scan(&in.ID, &in.Name, &in.AuthorizeURL, &in.TokenURL, &in.ClientID, &in.ClientSecret, &in.CreatedAt, &in.Kind)
	return in, notFound(err)
}

func (db *DB) Institution(ctx context.Context, id string) (store.Institution, error) {
	in, err := scanInstitution(db.reads().QueryRow(ctx, `SELECT `+institutionCols+` FROM institutions WHERE id = ?`, id))
	return in, db.wrap("Institution", err)
}

func (db *DB) Institutions(ctx context.Context) ([]store.Institution, error) {
	out, err := all(scanInstitution)(db.reads().Query(ctx, `SELECT `+institutionCols+` FROM institutions ORDER BY name, id`))
	return out, db.wrap("Institutions", err)
}

func (db *DB) SetInstitutionEndpoints(ctx context.Context, id, authorizeURL, tokenURL string) error {
	return db.wrap("SetInstitutionEndpoints", changed(db.exec(ctx, `UPDATE institutions SET authorize_url = ?, token_url = ? WHERE id = ?`, authorizeURL, tokenURL, id)))
}

func (db *DB) RotateAPIKey(ctx context.Context, k store.APIKey, oldKeysUntil time.Time) error {
	return db.wrap("RotateAPIKey", db.write(ctx, func(ctx context.Context, q Querier) error {
		until := oldKeysUntil
		if now := db.e.Now(); until.Before(now) {
			until = now
		}
		if _, err := q.Exec(ctx, `UPDATE api_keys SET expires_at = ?1 WHERE institution_id = ?2 AND (expires_at IS UNSET OR expires_at > ?1)`, until, k.InstitutionID); err != nil {
			return err
		}
		_, err := q.Exec(ctx, `INSERT INTO api_keys (id, institution_id, hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			k.ID, k.InstitutionID, k.Hash, k.CreatedAt, k.ExpiresAt)
		return db.unique(err)
	}))
}

func (db *DB) APIKey(ctx context.Context, id string) (store.APIKey, error) {
	var k store.APIKey
	err := db.reads().QueryRow(ctx, `SELECT id, institution_id, hash, created_at, expires_at FROM api_keys WHERE id = ?`, id).
		Scan(&k.ID, &k.InstitutionID, &k.Hash, &k.CreatedAt, &k.ExpiresAt)
	return k, db.wrap("APIKey", notFound(err))
}
