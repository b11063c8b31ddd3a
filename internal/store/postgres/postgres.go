// Package postgres is the production Store, on PostgreSQL through pgx.
//
// Durability is PostgreSQL's own: a commit returns once its WAL record is
// flushed (the default synchronous_commit). Concurrency is row locks: an
// append holds its link and its conversation until it commits, so a
// revocation waits for the appends in flight and every append after it sees
// it, and a conversation's sequence numbers commit in order with no gaps.
package postgres

import (
	"context"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/openteller/openteller/internal/store"
	"github.com/openteller/openteller/internal/vault"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the PostgreSQL implementation of store.Store.
type Store struct {
	store.Committed
	pool     *pgxpool.Pool
	now      func() time.Time
	appender *appender
}

var _ store.Store = (*Store)(nil)

// Open connects to the database at url (a postgres:// URL or key=value DSN)
// and applies migrations.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: parse url: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgxpool's default (4 on a small machine) queues concurrent
		// appends behind each other; a node serves many banks at once.
		cfg.MaxConns = 32
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{pool: pool, now: time.Now}
	if err := s.migrate(ctx); err != nil {
		pool.Close()
		return nil, wrap("Open", err)
	}
	s.appender = newAppender(pool, func() time.Time { return s.now() }, s.Announce)
	return s, nil
}

// SetClock replaces the store's clock, for tests of expiry.
func (s *Store) SetClock(now func() time.Time) { s.now = now }

// migrationLock is the advisory lock key that serialises migrations when
// several nodes start at once.
const migrationLock = 0x6f70656e74656c6c // "opentell"

func (s *Store) migrate(ctx context.Context) error {
	conn, err := s.pool.Acquire(ctx)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	defer conn.Release()
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1)`, int64(migrationLock)); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	defer conn.Exec(context.Background(), `SELECT pg_advisory_unlock($1)`, int64(migrationLock))
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL)`); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		var version int
		if _, err := fmt.Sscanf(filepath.Base(name), "%d_", &version); err != nil {
			return fmt.Errorf("postgres: migration %s: bad name", name)
		}
		body, _ := migrations.ReadFile(name)
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			var n int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM schema_migrations WHERE version = $1`, version).Scan(&n); err != nil || n > 0 {
				return err
			}
			if _, err := tx.Exec(ctx, string(body)); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES ($1, now())`, version)
			return err
		})
		if err != nil {
			return fmt.Errorf("postgres: migration %s: %w", name, err)
		}
	}
	return nil
}

func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

func (s *Store) Close() error {
	s.appender.close()
	s.pool.Close()
	return nil
}

func isUnique(err error) bool {
	var e *pgconn.PgError
	return errors.As(err, &e) && e.Code == "23505"
}

func notFound(err error) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	return err
}

// nullTime maps the zero time to NULL and back.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func orZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

// Institutions and keys.

func (s *Store) CreateInstitution(ctx context.Context, in store.Institution) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO institutions (id, name, authorize_url, token_url, client_id, client_secret, created_at, kind) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		in.ID, in.Name, in.AuthorizeURL, in.TokenURL, in.ClientID, in.ClientSecret, in.CreatedAt, store.KindOf(in.Kind))
	if isUnique(err) {
		return store.ErrExists
	}
	return wrap("CreateInstitution", err)
}

const institutionCols = `id, name, authorize_url, token_url, client_id, client_secret, created_at, kind`

func scanInstitution(row pgx.Row) (store.Institution, error) {
	var in store.Institution
	err := row.Scan(&in.ID, &in.Name, &in.AuthorizeURL, &in.TokenURL, &in.ClientID, &in.ClientSecret, &in.CreatedAt, &in.Kind)
	in.CreatedAt = in.CreatedAt.UTC()
	return in, notFound(err)
}

func (s *Store) Institution(ctx context.Context, id string) (store.Institution, error) {
	return scanInstitution(s.pool.QueryRow(ctx, `SELECT `+institutionCols+` FROM institutions WHERE id = $1`, id))
}

func (s *Store) Institutions(ctx context.Context) ([]store.Institution, error) {
	rows, err := s.pool.Query(ctx, `SELECT `+institutionCols+` FROM institutions ORDER BY name, id`)
	if err != nil {
		return nil, wrap("Institutions", err)
	}
	defer rows.Close()
	var out []store.Institution
	for rows.Next() {
		in, err := scanInstitution(rows)
		if err != nil {
			return nil, wrap("Institutions", err)
		}
		out = append(out, in)
	}
	return out, rows.Err()
}

func (s *Store) SetInstitutionEndpoints(ctx context.Context, id, authorizeURL, tokenURL string) error {
	tag, err := s.pool.Exec(ctx, `UPDATE institutions SET authorize_url = $1, token_url = $2 WHERE id = $3`, authorizeURL, tokenURL, id)
	if err != nil {
		return wrap("SetInstitutionEndpoints", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (s *Store) RotateAPIKey(ctx context.Context, k store.APIKey, oldKeysUntil time.Time) error {
	return wrap("RotateAPIKey", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		until := oldKeysUntil
		if now := s.now(); until.Before(now) {
			until = now
		}
		if _, err := tx.Exec(ctx, `UPDATE api_keys SET expires_at = $1 WHERE institution_id = $2 AND (expires_at IS NULL OR expires_at > $1)`, until, k.InstitutionID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO api_keys (id, institution_id, hash, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			k.ID, k.InstitutionID, k.Hash, k.CreatedAt, nullTime(k.ExpiresAt))
		if isUnique(err) {
			return store.ErrExists
		}
		return err
	}))
}

func (s *Store) APIKey(ctx context.Context, id string) (store.APIKey, error) {
	var k store.APIKey
	var expires *time.Time
	err := s.pool.QueryRow(ctx, `SELECT id, institution_id, hash, created_at, expires_at FROM api_keys WHERE id = $1`, id).
		Scan(&k.ID, &k.InstitutionID, &k.Hash, &k.CreatedAt, &expires)
	k.CreatedAt, k.ExpiresAt = k.CreatedAt.UTC(), orZero(expires)
	return k, wrap("APIKey", notFound(err))
}

// Customers and sessions.

func (s *Store) CreateCustomer(ctx context.Context, cu store.Customer) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO customers (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4)`,
		cu.ID, cu.Email, cu.PasswordHash, cu.CreatedAt)
	if isUnique(err) {
		return store.ErrExists
	}
	return wrap("CreateCustomer", err)
}

func (s *Store) customer(ctx context.Context, where, arg string) (store.Customer, error) {
	var cu store.Customer
	err := s.pool.QueryRow(ctx, `SELECT id, email, password_hash, created_at FROM customers WHERE `+where+` = $1`, arg).
		Scan(&cu.ID, &cu.Email, &cu.PasswordHash, &cu.CreatedAt)
	cu.CreatedAt = cu.CreatedAt.UTC()
	return cu, notFound(err)
}

func (s *Store) CustomerByEmail(ctx context.Context, email string) (store.Customer, error) {
	return s.customer(ctx, "email", email)
}

func (s *Store) Customer(ctx context.Context, id string) (store.Customer, error) {
	return s.customer(ctx, "id", id)
}

func (s *Store) CreateSession(ctx context.Context, se store.Session, checked string) error {
	// FOR SHARE waits for a change of password under way, then reads the
	// hash it left; a change that starts after waits for this insert, and
	// then ends the session with the others.
	tag, err := s.pool.Exec(ctx, `INSERT INTO sessions (id_hash, customer_id, csrf_token, created_at, expires_at)
		SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM customers WHERE id = $2 AND password_hash = $6 FOR SHARE)`,
		se.IDHash, se.CustomerID, se.CSRFToken, se.CreatedAt, se.ExpiresAt, checked)
	if err != nil {
		return wrap("CreateSession", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrPasswordChanged
	}
	return nil
}

func (s *Store) Session(ctx context.Context, idHash []byte) (store.Session, error) {
	var se store.Session
	err := s.pool.QueryRow(ctx, `SELECT id_hash, customer_id, csrf_token, created_at, expires_at FROM sessions WHERE id_hash = $1 AND expires_at > $2`, idHash, s.now()).
		Scan(&se.IDHash, &se.CustomerID, &se.CSRFToken, &se.CreatedAt, &se.ExpiresAt)
	se.CreatedAt, se.ExpiresAt = se.CreatedAt.UTC(), se.ExpiresAt.UTC()
	return se, wrap("Session", notFound(err))
}

func (s *Store) DeleteSession(ctx context.Context, idHash []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM sessions WHERE id_hash = $1`, idHash)
	return wrap("DeleteSession", err)
}

func (s *Store) SetPassword(ctx context.Context, customerID, hash string, keep []byte) error {
	return s.setPassword(ctx, "customers", "sessions", "customer_id", customerID, hash, keep)
}

func (s *Store) SetStaffPassword(ctx context.Context, staffID, hash string, keep []byte) error {
	return s.setPassword(ctx, "staff", "staff_sessions", "staff_id", staffID, hash, keep)
}

// setPassword serves both kinds of account: the table of accounts, and of
// their sessions, which name their account in column owner.
func (s *Store) setPassword(ctx context.Context, accounts, sessions, owner, id, hash string, keep []byte) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE `+accounts+` SET password_hash = $1 WHERE id = $2`, hash, id)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		if _, err = tx.Exec(ctx, `DELETE FROM `+sessions+` WHERE `+owner+` = $1 AND id_hash IS DISTINCT FROM $2`, id, keep); err != nil || accounts != "customers" {
			return err
		}
		// A reset link asked for before the new password must not undo it.
		_, err = tx.Exec(ctx, `DELETE FROM password_resets WHERE customer_id = $1`, id)
		return err
	})
}

func (s *Store) SweepExpired(ctx context.Context, now time.Time) (int64, error) {
	var n int64
	for _, q := range []string{`DELETE FROM sessions WHERE expires_at <= $1`, `DELETE FROM link_attempts WHERE expires_at <= $1`, `DELETE FROM password_resets WHERE expires_at <= $1`} {
		tag, err := s.pool.Exec(ctx, q, now)
		if err != nil {
			return n, wrap("SweepExpired", err)
		}
		n += tag.RowsAffected()
	}
	return n, nil
}

// Data keys.

func (s *Store) DataKey(ctx context.Context, customerID string) (vault.WrappedKey, error) {
	k := vault.WrappedKey{CustomerID: customerID}
	err := s.pool.QueryRow(ctx, `SELECT version, root_key_version, wrapped FROM data_keys WHERE customer_id = $1`, customerID).
		Scan(&k.Version, &k.RootKeyVersion, &k.Wrapped)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, vault.ErrNoKey
	}
	return k, wrap("DataKey", err)
}

func (s *Store) PutDataKey(ctx context.Context, k vault.WrappedKey) (vault.WrappedKey, error) {
	_, err := s.pool.Exec(ctx, `INSERT INTO data_keys (customer_id, version, root_key_version, wrapped, created_at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (customer_id) DO NOTHING`,
		k.CustomerID, k.Version, k.RootKeyVersion, k.Wrapped, s.now())
	if err != nil {
		return vault.WrappedKey{}, wrap("PutDataKey", err)
	}
	return s.DataKey(ctx, k.CustomerID)
}

func (s *Store) DataKeysWrappedBelow(ctx context.Context, version, limit int) ([]vault.WrappedKey, error) {
	rows, err := s.pool.Query(ctx, `SELECT customer_id, version, root_key_version, wrapped FROM data_keys WHERE root_key_version < $1 ORDER BY customer_id LIMIT $2`, version, limit)
	if err != nil {
		return nil, wrap("DataKeysWrappedBelow", err)
	}
	defer rows.Close()
	var out []vault.WrappedKey
	for rows.Next() {
		var k vault.WrappedKey
		if err := rows.Scan(&k.CustomerID, &k.Version, &k.RootKeyVersion, &k.Wrapped); err != nil {
			return nil, wrap("DataKeysWrappedBelow", err)
		}
		out = append(out, k)
	}
	return out, rows.Err()
}

func (s *Store) RewrapDataKey(ctx context.Context, w vault.WrappedKey, oldRoot int) error {
	_, err := s.pool.Exec(ctx, `UPDATE data_keys SET wrapped = $1, root_key_version = $2 WHERE customer_id = $3 AND version = $4 AND root_key_version = $5`,
		w.Wrapped, w.RootKeyVersion, w.CustomerID, w.Version, oldRoot)
	return wrap("RewrapDataKey", err)
}

func (s *Store) RootKeyUsage(ctx context.Context) (map[int]int, error) {
	rows, err := s.pool.Query(ctx, `SELECT root_key_version, count(*) FROM data_keys GROUP BY root_key_version`)
	if err != nil {
		return nil, wrap("RootKeyUsage", err)
	}
	defer rows.Close()
	out := map[int]int{}
	for rows.Next() {
		var v, n int
		if err := rows.Scan(&v, &n); err != nil {
			return nil, wrap("RootKeyUsage", err)
		}
		out[v] = n
	}
	return out, rows.Err()
}

func (s *Store) PlatformSecret(ctx context.Context, name string) ([]byte, error) {
	var sealed []byte
	err := s.pool.QueryRow(ctx, `SELECT sealed FROM platform_secrets WHERE name = $1`, name).Scan(&sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, vault.ErrNoKey
	}
	return sealed, wrap("PlatformSecret", err)
}

func (s *Store) PutPlatformSecret(ctx context.Context, name string, sealed []byte) ([]byte, error) {
	if _, err := s.pool.Exec(ctx, `INSERT INTO platform_secrets (name, sealed, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING`, name, sealed, s.now()); err != nil {
		return nil, wrap("PutPlatformSecret", err)
	}
	return s.PlatformSecret(ctx, name)
}

func (s *Store) PlatformSecrets(ctx context.Context) (map[string][]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT name, sealed FROM platform_secrets`)
	if err != nil {
		return nil, wrap("PlatformSecrets", err)
	}
	defer rows.Close()
	out := map[string][]byte{}
	for rows.Next() {
		var name string
		var sealed []byte
		if err := rows.Scan(&name, &sealed); err != nil {
			return nil, wrap("PlatformSecrets", err)
		}
		out[name] = sealed
	}
	return out, rows.Err()
}

func (s *Store) ReplacePlatformSecret(ctx context.Context, name string, old, sealed []byte) error {
	_, err := s.pool.Exec(ctx, `UPDATE platform_secrets SET sealed = $1 WHERE name = $2 AND sealed = $3`, sealed, name, old)
	return wrap("ReplacePlatformSecret", err)
}

func (s *Store) SetWebhookSecrets(ctx context.Context, institutionID string, secret, previous []byte) error {
	_, err := s.pool.Exec(ctx, `UPDATE webhook_endpoints SET secret = $1, previous_secret = $2 WHERE institution_id = $3`, secret, previous, institutionID)
	return wrap("SetWebhookSecrets", err)
}

// Links.

func (s *Store) CreateLinkAttempt(ctx context.Context, a store.LinkAttempt) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO link_attempts (state_hash, customer_id, institution_id, link_id, code_verifier, scopes, expires_at, duration_days, disclosure_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		a.StateHash, a.CustomerID, a.InstitutionID, a.LinkID, a.CodeVerifier, strings.Join(a.Scopes, " "), a.ExpiresAt, a.DurationDays, a.DisclosureDigest)
	return wrap("CreateLinkAttempt", err)
}

func (s *Store) TakeLinkAttempt(ctx context.Context, stateHash []byte) (store.LinkAttempt, error) {
	var a store.LinkAttempt
	var scopes string
	err := s.pool.QueryRow(ctx, `DELETE FROM link_attempts WHERE state_hash = $1 RETURNING state_hash, customer_id, institution_id, link_id, code_verifier, scopes, expires_at, duration_days, disclosure_digest`, stateHash).
		Scan(&a.StateHash, &a.CustomerID, &a.InstitutionID, &a.LinkID, &a.CodeVerifier, &scopes, &a.ExpiresAt, &a.DurationDays, &a.DisclosureDigest)
	if err != nil {
		return store.LinkAttempt{}, wrap("TakeLinkAttempt", notFound(err))
	}
	s.pool.Exec(ctx, `DELETE FROM link_attempts WHERE expires_at <= $1`, s.now())
	a.Scopes, a.ExpiresAt = strings.Fields(scopes), a.ExpiresAt.UTC()
	if !s.now().Before(a.ExpiresAt) {
		return store.LinkAttempt{}, store.ErrNotFound
	}
	return a, nil
}

func (s *Store) CreateLink(ctx context.Context, l store.Link, grant store.Receipt) (store.Link, error) {
	if err := store.CheckReceipt(grant); err != nil {
		return l, wrap("CreateLink", err)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if l.ConversationID == "" {
			return errors.New("postgres: create link: no conversation id given")
		}
		// Insert-or-read in one statement; the unique pair decides the winner
		// when two links for the same bank are created at once.
		err := tx.QueryRow(ctx, `INSERT INTO conversations (id, customer_id, institution_id, last_seq, created_at) VALUES ($1, $2, $3, 0, $4)
			ON CONFLICT (customer_id, institution_id) DO UPDATE SET customer_id = EXCLUDED.customer_id RETURNING id`,
			l.ConversationID, l.CustomerID, l.InstitutionID, l.CreatedAt).Scan(&l.ConversationID)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO links (id, customer_id, institution_id, conversation_id, scopes, status, created_at, expires_at, revoked_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			l.ID, l.CustomerID, l.InstitutionID, l.ConversationID, strings.Join(l.Scopes, " "), l.Status, l.CreatedAt, l.ExpiresAt, nullTime(l.RevokedAt))
		if isUnique(err) {
			return store.ErrExists
		}
		if err != nil {
			return err
		}
		grant.CustomerID, grant.InstitutionID, grant.LinkID = l.CustomerID, l.InstitutionID, l.ID
		if err := insertReceipt(ctx, tx, grant); err != nil {
			return err
		}
		return insertNotice(ctx, tx, store.CreatedNotice(l))
	})
	return l, wrap("CreateLink", err)
}

func insertNotice(ctx context.Context, tx pgx.Tx, n store.Notice) error {
	_, err := tx.Exec(ctx, `INSERT INTO outbox (id, institution_id, link_id, type, payload, created_at, customer_id, sealed) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		n.ID, n.InstitutionID, n.LinkID, n.Type, noticePayload(n), n.CreatedAt, n.CustomerID, n.Sealed)
	return err
}

// noticePayload is what the payload column holds: '{}' for a sealed notice.
func noticePayload(n store.Notice) string {
	if n.Sealed != nil {
		return "{}"
	}
	return string(n.Payload)
}

func (s *Store) Redeliver(ctx context.Context, institutionID, noticeID string, now time.Time) error {
	tag, err := s.pool.Exec(ctx, `UPDATE outbox SET dead_at = NULL, attempts = 0, next_at = $1, lease_until = '-infinity' WHERE id = $2 AND institution_id = $3 AND dead_at IS NOT NULL`,
		now, noticeID, institutionID)
	if err != nil {
		return wrap("Redeliver", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func insertReceipt(ctx context.Context, tx pgx.Tx, r store.Receipt) error {
	_, err := tx.Exec(ctx, `INSERT INTO consent_receipts (id, customer_id, institution_id, link_id, action, scopes, purpose, collected_at, expires_at, method, disclosure_digest) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		r.ID, r.CustomerID, r.InstitutionID, r.LinkID, r.Action, strings.Join(r.Scopes, " "), r.Purpose, r.CollectedAt, r.ExpiresAt, r.Method, r.DisclosureDigest)
	return err
}

func (s *Store) PurgeReceipts(ctx context.Context, cutoff time.Time) (int64, error) {
	tag, err := s.pool.Exec(ctx, `DELETE FROM consent_receipts WHERE collected_at < $1 AND link_id IN (SELECT id FROM links WHERE status <> $2)`, cutoff, store.LinkActive)
	return tag.RowsAffected(), wrap("PurgeReceipts", err)
}

func (s *Store) Receipts(ctx context.Context, customerID string) ([]store.Receipt, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, customer_id, institution_id, link_id, action, scopes, purpose, collected_at, expires_at, method, disclosure_digest
		FROM consent_receipts WHERE customer_id = $1 ORDER BY collected_at, id`, customerID)
	if err != nil {
		return nil, wrap("Receipts", err)
	}
	defer rows.Close()
	var out []store.Receipt
	for rows.Next() {
		var r store.Receipt
		var scopes string
		if err := rows.Scan(&r.ID, &r.CustomerID, &r.InstitutionID, &r.LinkID, &r.Action, &scopes, &r.Purpose, &r.CollectedAt, &r.ExpiresAt, &r.Method, &r.DisclosureDigest); err != nil {
			return nil, wrap("Receipts", err)
		}
		r.Scopes, r.CollectedAt, r.ExpiresAt = strings.Fields(scopes), r.CollectedAt.UTC(), r.ExpiresAt.UTC()
		out = append(out, r)
	}
	return out, rows.Err()
}

const linkCols = `id, customer_id, institution_id, conversation_id, scopes, status, created_at, expires_at, revoked_at`

func scanLink(row pgx.Row) (store.Link, error) {
	var l store.Link
	var scopes string
	var revoked *time.Time
	err := row.Scan(&l.ID, &l.CustomerID, &l.InstitutionID, &l.ConversationID, &scopes, &l.Status, &l.CreatedAt, &l.ExpiresAt, &revoked)
	l.Scopes = strings.Fields(scopes)
	l.CreatedAt, l.ExpiresAt, l.RevokedAt = l.CreatedAt.UTC(), l.ExpiresAt.UTC(), orZero(revoked)
	return l, notFound(err)
}

func (s *Store) Link(ctx context.Context, id string) (store.Link, error) {
	return scanLink(s.pool.QueryRow(ctx, `SELECT `+linkCols+` FROM links WHERE id = $1`, id))
}

func (s *Store) RevokeLink(ctx context.Context, r store.Revocation) (store.Revoked, error) {
	var out store.Revoked
	if err := store.CheckReceipt(r.Receipt); err != nil {
		return out, wrap("RevokeLink", err)
	}
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		l, last, err := lockLink(ctx, tx, r.LinkID)
		if err != nil {
			return err
		}
		if err := store.CheckRevoker(r, l); err != nil {
			return err
		}
		l.Status, l.RevokedAt = store.EndedStatus(r), r.At.UTC()
		if _, err := tx.Exec(ctx, `UPDATE links SET status = $1, revoked_at = $2 WHERE id = $3`, l.Status, r.At, l.ID); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM events WHERE conversation_id = $1 AND link_id = $2`, l.ConversationID, l.ID)
		if err != nil {
			return err
		}
		out.Deleted = tag.RowsAffected()
		m := store.Marker(r.Marker, l, last)
		if err := appendMarker(ctx, tx, &m); err != nil {
			return err
		}
		rc := r.Receipt
		rc.CustomerID, rc.InstitutionID, rc.LinkID, rc.Scopes = l.CustomerID, l.InstitutionID, l.ID, l.Scopes // the scopes as locked, not as read before
		if err := insertReceipt(ctx, tx, rc); err != nil {
			return err
		}
		if n, ok := store.EndedNotice(r, l); ok {
			if err := insertNotice(ctx, tx, n); err != nil {
				return err
			}
		}
		out.Link, out.Seq = l, m.Seq
		return nil
	})
	return out, wrap("RevokeLink", err)
}

func (s *Store) DueLinks(ctx context.Context, now time.Time, limit int) ([]store.Link, error) {
	return s.queryLinks(ctx, `SELECT `+linkCols+` FROM links WHERE status = $1 AND expires_at <= $2 ORDER BY expires_at LIMIT $3`, store.LinkActive, now, limit)
}

func (s *Store) Links(ctx context.Context, customerID string) ([]store.Link, error) {
	return s.queryLinks(ctx, `SELECT `+linkCols+` FROM links WHERE customer_id = $1 ORDER BY created_at DESC, id`, customerID)
}

func (s *Store) queryLinks(ctx context.Context, query string, args ...any) ([]store.Link, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Link
	for rows.Next() {
		l, err := scanLink(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

func (s *Store) DueReminders(ctx context.Context, now, before time.Time, limit int) ([]store.Link, error) {
	return s.queryLinks(ctx, `SELECT `+linkCols+` FROM links WHERE status = $1 AND expires_at > $2 AND expires_at <= $3 AND reminded_at IS NULL ORDER BY expires_at LIMIT $4`,
		store.LinkActive, now, before, limit)
}

func (s *Store) Remind(ctx context.Context, linkID string, at time.Time, marker store.NewEvent) (int64, error) {
	var seq int64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var reminded *time.Time
		row := tx.QueryRow(ctx, `SELECT `+linkCols+`, reminded_at FROM links WHERE id = $1 FOR NO KEY UPDATE`, linkID)
		var l store.Link
		var scopes string
		var revoked *time.Time
		if err := row.Scan(&l.ID, &l.CustomerID, &l.InstitutionID, &l.ConversationID, &scopes, &l.Status, &l.CreatedAt, &l.ExpiresAt, &revoked, &reminded); err != nil {
			return notFound(err)
		}
		if l.Status != store.LinkActive || reminded != nil || !at.Before(l.ExpiresAt) {
			return store.ErrAlreadyRevoked
		}
		var last int64
		if err := tx.QueryRow(ctx, `SELECT last_seq FROM conversations WHERE id = $1 FOR UPDATE`, l.ConversationID).Scan(&last); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `UPDATE links SET reminded_at = $1 WHERE id = $2`, at, linkID); err != nil {
			return err
		}
		m := store.Marker(marker, l, last)
		seq = m.Seq
		return appendMarker(ctx, tx, &m)
	})
	return seq, wrap("Remind", err)
}

// lockLink locks a link and then its conversation, the order appends use,
// and returns the link and the conversation's last seq.
func lockLink(ctx context.Context, tx pgx.Tx, id string) (store.Link, int64, error) {
	l, err := scanLink(tx.QueryRow(ctx, `SELECT `+linkCols+` FROM links WHERE id = $1 FOR NO KEY UPDATE`, id))
	if err != nil {
		return l, 0, err
	}
	var last int64
	err = tx.QueryRow(ctx, `SELECT last_seq FROM conversations WHERE id = $1 FOR UPDATE`, l.ConversationID).Scan(&last)
	return l, last, err
}

// appendMarker stores a platform notice placed by store.Marker and moves the
// conversation's counter to it.
func appendMarker(ctx context.Context, tx pgx.Tx, m *store.NewEvent) error {
	// The link is locked, as clearing history locks it: the key read here
	// is the one the conversation has until this transaction ends.
	if err := checkKeyVersion(ctx, tx, m); err != nil {
		return err
	}
	return writeInTx(ctx, tx, store.AppendWrite{Events: []*store.NewEvent{m}, LastSeqs: map[string]int64{m.ConversationID: m.Seq}})
}

func (s *Store) NarrowLink(ctx context.Context, n store.Narrowing) (store.Link, error) {
	var l store.Link
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		var last int64
		if l, last, err = lockLink(ctx, tx, n.LinkID); err != nil {
			return err
		}
		if err := store.CheckNarrowing(n, l); err != nil {
			return err
		}
		l.Scopes = n.Scopes
		if _, err := tx.Exec(ctx, `UPDATE links SET scopes = $1 WHERE id = $2`, strings.Join(n.Scopes, " "), l.ID); err != nil {
			return err
		}
		if len(n.DeleteTypes) > 0 {
			if _, err := tx.Exec(ctx, `DELETE FROM events WHERE conversation_id = $1 AND link_id = $2 AND type = ANY($3)`, l.ConversationID, l.ID, n.DeleteTypes); err != nil {
				return err
			}
		}
		m := store.Marker(n.Marker, l, last)
		if err := appendMarker(ctx, tx, &m); err != nil {
			return err
		}
		rc := n.Receipt
		rc.CustomerID, rc.InstitutionID, rc.LinkID, rc.Scopes, rc.ExpiresAt = l.CustomerID, l.InstitutionID, l.ID, n.Scopes, l.ExpiresAt
		return insertReceipt(ctx, tx, rc)
	})
	return l, wrap("NarrowLink", err)
}

func (s *Store) RenewLink(ctx context.Context, r store.Renewal) (store.Link, error) {
	var l store.Link
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var err error
		if l, err = scanLink(tx.QueryRow(ctx, `SELECT `+linkCols+` FROM links WHERE id = $1 FOR NO KEY UPDATE`, r.LinkID)); err != nil {
			return err
		}
		if err := store.CheckRenewal(r, l); err != nil {
			return err
		}
		if r.ExpiresAt.After(l.ExpiresAt) {
			l.ExpiresAt = r.ExpiresAt.UTC().Truncate(time.Microsecond) // what both stores keep
		}
		l.Status, l.RevokedAt = store.LinkActive, time.Time{}
		if _, err := tx.Exec(ctx, `UPDATE links SET status = $1, expires_at = $2, revoked_at = NULL, reminded_at = NULL WHERE id = $3`, l.Status, l.ExpiresAt, l.ID); err != nil {
			return err
		}
		rc := r.Receipt
		rc.CustomerID, rc.InstitutionID, rc.LinkID, rc.Scopes, rc.ExpiresAt = l.CustomerID, l.InstitutionID, l.ID, l.Scopes, l.ExpiresAt
		return insertReceipt(ctx, tx, rc)
	})
	return l, wrap("RenewLink", err)
}

func (s *Store) CreateDelegation(ctx context.Context, d store.Delegation, grant store.Receipt) error {
	if err := store.CheckReceipt(grant); err != nil {
		return wrap("CreateDelegation", err)
	}
	return wrap("CreateDelegation", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO delegations (id, link_id, owner_id, delegate_id, scopes, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			d.ID, d.LinkID, d.OwnerID, d.DelegateID, strings.Join(d.Scopes, " "), d.CreatedAt, d.ExpiresAt); err != nil {
			return err
		}
		return insertReceipt(ctx, tx, grant)
	}))
}

const delegationCols = `id, link_id, owner_id, delegate_id, scopes, created_at, expires_at, revoked_at`

func scanDelegation(row pgx.Row) (store.Delegation, error) {
	var d store.Delegation
	var scopes string
	var revoked *time.Time
	err := row.Scan(&d.ID, &d.LinkID, &d.OwnerID, &d.DelegateID, &scopes, &d.CreatedAt, &d.ExpiresAt, &revoked)
	d.Scopes, d.CreatedAt, d.ExpiresAt, d.RevokedAt = strings.Fields(scopes), d.CreatedAt.UTC(), d.ExpiresAt.UTC(), orZero(revoked)
	return d, notFound(err)
}

func (s *Store) Delegation(ctx context.Context, id string) (store.Delegation, error) {
	return scanDelegation(s.pool.QueryRow(ctx, `SELECT `+delegationCols+` FROM delegations WHERE id = $1`, id))
}

func (s *Store) Delegations(ctx context.Context, linkID, delegateID string) ([]store.Delegation, error) {
	q, arg := `SELECT `+delegationCols+` FROM delegations WHERE delegate_id = $1 ORDER BY created_at`, delegateID
	if linkID != "" {
		q, arg = `SELECT `+delegationCols+` FROM delegations WHERE link_id = $1 ORDER BY created_at`, linkID
	}
	rows, err := s.pool.Query(ctx, q, arg)
	if err != nil {
		return nil, wrap("Delegations", err)
	}
	defer rows.Close()
	var out []store.Delegation
	for rows.Next() {
		d, err := scanDelegation(rows)
		if err != nil {
			return nil, wrap("Delegations", err)
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

func (s *Store) RevokeDelegation(ctx context.Context, id, ownerID string, at time.Time, r store.Receipt) error {
	if err := store.CheckReceipt(r); err != nil {
		return wrap("RevokeDelegation", err)
	}
	return wrap("RevokeDelegation", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var linkID, institutionID, scopes string
		err := tx.QueryRow(ctx, `UPDATE delegations d SET revoked_at = $1 FROM links l
			WHERE d.id = $2 AND d.owner_id = $3 AND d.revoked_at IS NULL AND l.id = d.link_id
			RETURNING d.link_id, l.institution_id, d.scopes`, at, id, ownerID).Scan(&linkID, &institutionID, &scopes)
		if errors.Is(err, pgx.ErrNoRows) {
			var one int
			return notFound(tx.QueryRow(ctx, `SELECT 1 FROM delegations WHERE id = $1 AND owner_id = $2`, id, ownerID).Scan(&one))
		}
		if err != nil {
			return err
		}
		r.CustomerID, r.LinkID, r.InstitutionID, r.Scopes = ownerID, linkID, institutionID, strings.Fields(scopes)
		return insertReceipt(ctx, tx, r)
	}))
}

// AppendLogEntry takes a transaction-scoped advisory lock so that nodes
// append one at a time: indexes are gapless, the tree has no holes.
func (s *Store) AppendLogEntry(ctx context.Context, e store.LogEntry) (uint64, error) {
	var idx uint64
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtext('openteller.access_entries'))`); err != nil {
			return err
		}
		return tx.QueryRow(ctx, `INSERT INTO access_entries (idx, subject, data, leaf_hash)
			VALUES ((SELECT coalesce(max(idx) + 1, 0) FROM access_entries), $1, $2, $3) RETURNING idx`,
			e.Subject, string(e.Data), e.LeafHash[:]).Scan(&idx)
	})
	return idx, wrap("AppendLogEntry", err)
}

func (s *Store) SetOwner(ctx context.Context, conversationID, fromOwner, fromAgent, toOwner, toAgent string, n store.Notice) error {
	return wrap("SetOwner", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// A new wait for a person starts afresh: open, normal priority.
		tag, err := tx.Exec(ctx, `UPDATE conversations SET owner = $1, agent_id = $2,
				status = CASE WHEN $1 = 'queue' THEN 'open' ELSE status END,
				priority = CASE WHEN $1 = 'queue' THEN 0 ELSE priority END,
				snoozed_until = CASE WHEN $1 = 'queue' THEN NULL ELSE snoozed_until END
			WHERE id = $3 AND owner = $4 AND agent_id = $5`,
			toOwner, toAgent, conversationID, fromOwner, fromAgent)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrOwnerChanged
		}
		agent := toAgent
		if agent == "" {
			agent = fromAgent
		}
		if _, err := tx.Exec(ctx, `INSERT INTO handovers (conversation_id, institution_id, from_owner, to_owner, agent_id, at) VALUES ($1, $2, $3, $4, $5, $6)`,
			conversationID, n.InstitutionID, fromOwner, toOwner, agent, n.CreatedAt); err != nil {
			return err
		}
		return insertNotice(ctx, tx, n)
	}))
}

func (s *Store) ClearHistory(ctx context.Context, c store.Clearing) (store.Cleared, error) {
	var out store.Cleared
	owner := vault.ConversationKey(c.CustomerID, c.InstitutionID)
	err := pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var version int
		err := tx.QueryRow(ctx, `SELECT version FROM data_keys WHERE customer_id = $1 FOR UPDATE`, owner).Scan(&version)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if version != c.OldKeyVersion || c.NewKey.CustomerID != owner || c.NewKey.Version <= version {
			return store.ErrKeyChanged
		}
		// Hold every link of the conversation, as an append does, so no
		// event sealed under the old key slips in.
		rows, err := tx.Query(ctx, `SELECT id FROM links WHERE customer_id = $1 AND institution_id = $2 ORDER BY id FOR NO KEY UPDATE`, c.CustomerID, c.InstitutionID)
		if err != nil {
			return err
		}
		rows.Close()
		var linkID string
		err = tx.QueryRow(ctx, `SELECT id FROM links WHERE customer_id = $1 AND institution_id = $2 ORDER BY created_at DESC, id DESC LIMIT 1`, c.CustomerID, c.InstitutionID).Scan(&linkID)
		if errors.Is(err, pgx.ErrNoRows) {
			return store.ErrNotFound
		}
		if err != nil {
			return err
		}
		l, last, err := lockLink(ctx, tx, linkID)
		if err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `DELETE FROM events WHERE conversation_id = $1`, l.ConversationID)
		if err != nil {
			return err
		}
		out.Deleted = tag.RowsAffected()
		if _, err := tx.Exec(ctx, `DELETE FROM outbox WHERE customer_id = $1 AND institution_id = $2 AND sealed IS NOT NULL`, c.CustomerID, c.InstitutionID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM console_notes WHERE conversation_id = $1`, l.ConversationID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM conversation_labels WHERE conversation_id = $1`, l.ConversationID); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM data_keys WHERE customer_id = $1`, owner); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `INSERT INTO data_keys (customer_id, version, root_key_version, wrapped, created_at) VALUES ($1, $2, $3, $4, $5)`,
			owner, c.NewKey.Version, c.NewKey.RootKeyVersion, c.NewKey.Wrapped, c.At); err != nil {
			return err
		}
		if c.DropCustomerKey {
			if _, err := tx.Exec(ctx, `DELETE FROM data_keys WHERE customer_id = $1`, c.CustomerID); err != nil {
				return err
			}
		}
		m := store.Marker(c.Marker, l, last)
		if err := appendMarker(ctx, tx, &m); err != nil {
			return err
		}
		out.ConversationID, out.Seq = l.ConversationID, m.Seq
		return nil
	})
	return out, wrap("ClearHistory", err)
}

func (s *Store) LogEntries(ctx context.Context, subject string) ([]store.LogEntry, error) {
	return s.logEntries(ctx, `SELECT idx, subject, data, leaf_hash FROM access_entries WHERE subject = $1 ORDER BY idx`, subject)
}

func (s *Store) LogRange(ctx context.Context, from, to uint64) ([]store.LogEntry, error) {
	return s.logEntries(ctx, `SELECT idx, subject, data, leaf_hash FROM access_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx`, from, to)
}

func (s *Store) logEntries(ctx context.Context, query string, args ...any) ([]store.LogEntry, error) {
	rows, err := s.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.LogEntry
	for rows.Next() {
		var e store.LogEntry
		var data string
		var leaf []byte
		if err := rows.Scan(&e.Index, &e.Subject, &data, &leaf); err != nil {
			return nil, err
		}
		e.Data = []byte(data)
		copy(e.LeafHash[:], leaf)
		out = append(out, e)
	}
	return out, rows.Err()
}

func (s *Store) LeafHashes(ctx context.Context, from, to uint64) ([][32]byte, error) {
	rows, err := s.pool.Query(ctx, `SELECT leaf_hash FROM access_entries WHERE idx >= $1 AND idx < $2 ORDER BY idx`, from, to)
	if err != nil {
		return nil, wrap("LeafHashes", err)
	}
	defer rows.Close()
	out := make([][32]byte, 0, to-min(from, to))
	for rows.Next() {
		var leaf []byte
		if err := rows.Scan(&leaf); err != nil {
			return nil, wrap("LeafHashes", err)
		}
		h, err := store.Hash32(leaf)
		if err != nil {
			return nil, wrap("LeafHashes", err)
		}
		out = append(out, h)
	}
	return out, rows.Err()
}

func (s *Store) LogNodes(ctx context.Context, ids []store.LogNodeID) ([][32]byte, error) {
	var leaves []int64
	var levels []int16
	var indexes []int64
	for _, id := range ids {
		if id.Level == 0 {
			leaves = append(leaves, int64(id.Index))
		} else {
			levels, indexes = append(levels, int16(id.Level)), append(indexes, int64(id.Index))
		}
	}
	rows, err := s.pool.Query(ctx, `
		SELECT 0::smallint, idx, leaf_hash FROM access_entries WHERE idx = ANY($1)
		UNION ALL
		SELECT n.level, n.idx, n.hash FROM unnest($2::smallint[], $3::bigint[]) AS j(level, idx)
			JOIN log_nodes n ON n.level = j.level AND n.idx = j.idx`, leaves, levels, indexes)
	if err != nil {
		return nil, wrap("LogNodes", err)
	}
	defer rows.Close()
	got := make(map[store.LogNodeID][32]byte, len(ids))
	for rows.Next() {
		var level int16
		var idx int64
		var hash []byte
		if err := rows.Scan(&level, &idx, &hash); err != nil {
			return nil, wrap("LogNodes", err)
		}
		h, err := store.Hash32(hash)
		if err != nil {
			return nil, wrap("LogNodes", err)
		}
		got[store.LogNodeID{Level: uint8(level), Index: uint64(idx)}] = h
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("LogNodes", err)
	}
	return store.InOrder(ids, got)
}

func (s *Store) PutLogNodes(ctx context.Context, nodes []store.LogNode) error {
	levels, indexes, hashes := make([]int16, len(nodes)), make([]int64, len(nodes)), make([][]byte, len(nodes))
	for i, n := range nodes {
		if n.Level == 0 {
			return fmt.Errorf("postgres: log node %d/%d: leaves are kept with their entries", n.Level, n.Index)
		}
		levels[i], indexes[i], hashes[i] = int16(n.Level), int64(n.Index), n.Hash[:]
	}
	// Kept hashes are never replaced: one that disagrees is damage, and
	// then nothing is kept.
	return wrap("PutLogNodes", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		// The CTE's rows are not visible to the SELECT: it compares with
		// what was kept before, and an error rolls the insert back.
		var disagree int
		err := tx.QueryRow(ctx, `
			WITH put AS (
				INSERT INTO log_nodes (level, idx, hash)
				SELECT * FROM unnest($1::smallint[], $2::bigint[], $3::bytea[]) ON CONFLICT DO NOTHING
			)
			SELECT count(*) FROM unnest($1::smallint[], $2::bigint[], $3::bytea[]) AS j(level, idx, hash)
				JOIN log_nodes n ON n.level = j.level AND n.idx = j.idx AND n.hash <> j.hash`, levels, indexes, hashes).Scan(&disagree)
		if err != nil {
			return err
		}
		if disagree > 0 {
			return fmt.Errorf("%w: %d kept log nodes have another hash", store.ErrCorrupt, disagree)
		}
		return nil
	}))
}

func (s *Store) LogNodesCover(ctx context.Context) (cover, kept uint64, err error) {
	err = s.pool.QueryRow(ctx, `SELECT coalesce(max(idx) FILTER (WHERE level = 1) + 1, 0) * 2, count(*) FROM log_nodes`).Scan(&cover, &kept)
	return cover, kept, wrap("LogNodesCover", err)
}

func (s *Store) LogSize(ctx context.Context) (uint64, error) {
	var n uint64
	err := s.pool.QueryRow(ctx, `SELECT coalesce(max(idx) + 1, 0) FROM access_entries`).Scan(&n)
	return n, wrap("LogSize", err)
}

func (s *Store) PutCheckpoint(ctx context.Context, c store.StoredCheckpoint) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO log_checkpoints (size, note, created_at) VALUES ($1, $2, $3) ON CONFLICT (size) DO NOTHING`,
		c.Size, c.Note, c.CreatedAt)
	return wrap("PutCheckpoint", err)
}

func (s *Store) Checkpoints(ctx context.Context) ([]store.StoredCheckpoint, error) {
	rows, err := s.pool.Query(ctx, `SELECT size, note, created_at FROM log_checkpoints ORDER BY size`)
	if err != nil {
		return nil, wrap("Checkpoints", err)
	}
	defer rows.Close()
	var out []store.StoredCheckpoint
	for rows.Next() {
		var c store.StoredCheckpoint
		if err := rows.Scan(&c.Size, &c.Note, &c.CreatedAt); err != nil {
			return nil, wrap("Checkpoints", err)
		}
		c.CreatedAt = c.CreatedAt.UTC()
		out = append(out, c)
	}
	return out, rows.Err()
}

func (s *Store) PutWebhookEndpoint(ctx context.Context, e store.WebhookEndpoint) error {
	return wrap("PutWebhookEndpoint", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if err := putEndpoint(ctx, tx, e); err != nil {
			return err
		}
		// Notices held for want of an endpoint are due now.
		_, err := tx.Exec(ctx, `UPDATE outbox SET next_at = '-infinity' WHERE institution_id = $1 AND delivered_at IS NULL AND dead_at IS NULL`, e.InstitutionID)
		return err
	}))
}

func putEndpoint(ctx context.Context, tx pgx.Tx, e store.WebhookEndpoint) error {
	_, err := tx.Exec(ctx, `INSERT INTO webhook_endpoints (institution_id, url, secret, previous_secret, previous_until, created_at, format)
		VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (institution_id) DO UPDATE SET url = EXCLUDED.url, secret = EXCLUDED.secret, previous_secret = EXCLUDED.previous_secret,
			previous_until = EXCLUDED.previous_until, disabled_at = NULL, disabled_reason = '', format = EXCLUDED.format`,
		e.InstitutionID, e.URL, e.Secret, e.PreviousSecret, nullTime(e.PreviousUntil), e.CreatedAt, e.Format)
	return err
}

func (s *Store) WebhookEndpoint(ctx context.Context, institutionID string) (store.WebhookEndpoint, error) {
	var e store.WebhookEndpoint
	var until, disabled *time.Time
	err := s.pool.QueryRow(ctx, `SELECT institution_id, url, secret, previous_secret, previous_until, disabled_at, disabled_reason, created_at, format FROM webhook_endpoints WHERE institution_id = $1`, institutionID).
		Scan(&e.InstitutionID, &e.URL, &e.Secret, &e.PreviousSecret, &until, &disabled, &e.DisabledReason, &e.CreatedAt, &e.Format)
	e.PreviousUntil, e.DisabledAt, e.CreatedAt = orZero(until), orZero(disabled), e.CreatedAt.UTC()
	return e, wrap("WebhookEndpoint", notFound(err))
}

func (s *Store) PutMenu(ctx context.Context, m store.Menu) error {
	items, err := json.Marshal(m.Items)
	if err != nil {
		return fmt.Errorf("postgres: encode menu: %w", err)
	}
	_, err = s.pool.Exec(ctx, `INSERT INTO institution_menus (institution_id, get_started, items, updated_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (institution_id) DO UPDATE SET get_started = EXCLUDED.get_started, items = EXCLUDED.items, updated_at = EXCLUDED.updated_at`,
		m.InstitutionID, m.GetStarted, string(items), m.UpdatedAt)
	return wrap("PutMenu", err)
}

func (s *Store) Menu(ctx context.Context, institutionID string) (store.Menu, error) {
	m := store.Menu{InstitutionID: institutionID}
	var items string
	err := s.pool.QueryRow(ctx, `SELECT get_started, items, updated_at FROM institution_menus WHERE institution_id = $1`, institutionID).
		Scan(&m.GetStarted, &items, &m.UpdatedAt)
	if err != nil {
		return m, wrap("Menu", notFound(err))
	}
	m.UpdatedAt = m.UpdatedAt.UTC()
	if err := json.Unmarshal([]byte(items), &m.Items); err != nil {
		return m, fmt.Errorf("%w: menu of %s: %v", store.ErrCorrupt, institutionID, err)
	}
	return m, nil
}

func (s *Store) DisableWebhookEndpoint(ctx context.Context, institutionID, reason string, at time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE webhook_endpoints SET disabled_at = $1, disabled_reason = $2 WHERE institution_id = $3`, at, reason, institutionID)
	return wrap("DisableWebhookEndpoint", err)
}

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

const conversationQuery = `SELECT c.id, c.customer_id, c.institution_id, i.name, c.last_seq,
	l.id, l.customer_id, l.institution_id, l.conversation_id, l.scopes, l.status, l.created_at, l.expires_at, l.revoked_at, c.owner, c.agent_id,
	c.status, c.snoozed_until, c.priority
	FROM conversations c JOIN institutions i ON i.id = c.institution_id
	JOIN LATERAL (SELECT * FROM links WHERE conversation_id = c.id ORDER BY created_at DESC, id DESC LIMIT 1) l ON true`

func scanConversation(row pgx.Row) (store.Conversation, error) {
	var cv store.Conversation
	var l store.Link
	var scopes string
	var revoked, snoozed *time.Time
	err := row.Scan(&cv.ID, &cv.CustomerID, &cv.InstitutionID, &cv.InstitutionName, &cv.LastSeq,
		&l.ID, &l.CustomerID, &l.InstitutionID, &l.ConversationID, &scopes, &l.Status, &l.CreatedAt, &l.ExpiresAt, &revoked, &cv.Owner, &cv.AgentID,
		&cv.Status, &snoozed, &cv.Priority)
	cv.SnoozedUntil = orZero(snoozed)
	l.Scopes = strings.Fields(scopes)
	l.CreatedAt, l.ExpiresAt, l.RevokedAt = l.CreatedAt.UTC(), l.ExpiresAt.UTC(), orZero(revoked)
	cv.Link = l
	return cv, notFound(err)
}

func (s *Store) Conversations(ctx context.Context, customerID string) ([]store.Conversation, error) {
	rows, err := s.pool.Query(ctx, conversationQuery+` WHERE c.customer_id = $1 ORDER BY i.name, c.id`, customerID)
	if err != nil {
		return nil, wrap("Conversations", err)
	}
	defer rows.Close()
	var out []store.Conversation
	for rows.Next() {
		cv, err := scanConversation(rows)
		if err != nil {
			return nil, wrap("Conversations", err)
		}
		out = append(out, cv)
	}
	return out, rows.Err()
}

func (s *Store) Conversation(ctx context.Context, id string) (store.Conversation, error) {
	return scanConversation(s.pool.QueryRow(ctx, conversationQuery+` WHERE c.id = $1`, id))
}

// Events.

// AppendEvents joins the node's group commit (append.go).
func (s *Store) AppendEvents(ctx context.Context, evs []store.NewEvent) ([]store.AppendResult, error) {
	return s.appender.append(ctx, evs)
}

func (s *Store) ConversationHeads(ctx context.Context, customerIDs []string) ([]store.ConversationHead, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, customer_id, last_seq FROM conversations WHERE customer_id = ANY($1)`, customerIDs)
	if err != nil {
		return nil, fmt.Errorf("postgres: conversation heads: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.ConversationHead, error) {
		var h store.ConversationHead
		return h, row.Scan(&h.ConversationID, &h.CustomerID, &h.LastSeq)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: conversation heads: %w", err)
	}
	return out, nil
}

func (s *Store) LiveSessions(ctx context.Context, idHashes [][]byte, now time.Time) (map[string]bool, error) {
	out := make(map[string]bool, len(idHashes))
	rows, err := s.pool.Query(ctx, `SELECT id_hash FROM sessions WHERE id_hash = ANY($1) AND expires_at > $2`, idHashes, now)
	if err != nil {
		return nil, fmt.Errorf("postgres: live sessions: %w", err)
	}
	live, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("postgres: live sessions: %w", err)
	}
	for _, h := range live {
		out[string(h)] = true
	}
	return out, nil
}

func (s *Store) LatestEvents(ctx context.Context, conversationID, typ string, limit int) ([]store.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT conversation_id, seq, id, customer_id, institution_id, link_id, coalesce(bank_event_id, ''), type, author, occurred_at, received_at, replaces_seq, sealed
		FROM events WHERE conversation_id = $1 AND type = $2 ORDER BY seq DESC LIMIT $3`, conversationID, typ, limit)
	if err != nil {
		return nil, wrap("LatestEvents", err)
	}
	return scanEvents(rows)
}

func (s *Store) EventsAfter(ctx context.Context, conversationID string, after int64, limit int) ([]store.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT conversation_id, seq, id, customer_id, institution_id, link_id, coalesce(bank_event_id, ''), type, author, occurred_at, received_at, replaces_seq, sealed
		FROM events WHERE conversation_id = $1 AND seq > $2 ORDER BY seq LIMIT $3`, conversationID, after, limit)
	if err != nil {
		return nil, wrap("EventsAfter", err)
	}
	return scanEvents(rows)
}

func (s *Store) EventsBefore(ctx context.Context, conversationID string, before int64, limit int) ([]store.Event, error) {
	rows, err := s.pool.Query(ctx, `SELECT * FROM (SELECT conversation_id, seq, id, customer_id, institution_id, link_id, coalesce(bank_event_id, ''), type, author, occurred_at, received_at, replaces_seq, sealed
		FROM events WHERE conversation_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3) page ORDER BY seq`, conversationID, before, limit)
	if err != nil {
		return nil, wrap("EventsBefore", err)
	}
	return scanEvents(rows)
}

func scanEvents(rows pgx.Rows) ([]store.Event, error) {
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		var e store.Event
		if err := rows.Scan(&e.ConversationID, &e.Seq, &e.ID, &e.CustomerID, &e.InstitutionID, &e.LinkID, &e.BankEventID, &e.Type, &e.Author, &e.OccurredAt, &e.ReceivedAt, &e.ReplacesSeq, &e.Sealed); err != nil {
			return nil, err
		}
		e.OccurredAt, e.ReceivedAt = e.OccurredAt.UTC(), e.ReceivedAt.UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}

// Staff.

const staffCols = `id, institution_id, email, name, role, password_hash, disabled_at, created_at`

func scanStaff(row pgx.Row) (store.Staff, error) {
	var m store.Staff
	var disabled *time.Time
	err := row.Scan(&m.ID, &m.InstitutionID, &m.Email, &m.Name, &m.Role, &m.PasswordHash, &disabled, &m.CreatedAt)
	m.DisabledAt, m.CreatedAt = orZero(disabled), m.CreatedAt.UTC()
	return m, notFound(err)
}

func (s *Store) CreateStaff(ctx context.Context, m store.Staff) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO staff (id, institution_id, email, name, role, password_hash, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		m.ID, m.InstitutionID, m.Email, m.Name, m.Role, m.PasswordHash, m.CreatedAt)
	if isUnique(err) {
		return store.ErrExists
	}
	return wrap("CreateStaff", err)
}

func (s *Store) Staff(ctx context.Context, id string) (store.Staff, error) {
	return scanStaff(s.pool.QueryRow(ctx, `SELECT `+staffCols+` FROM staff WHERE id = $1`, id))
}

func (s *Store) StaffByEmail(ctx context.Context, email string) (store.Staff, error) {
	return scanStaff(s.pool.QueryRow(ctx, `SELECT `+staffCols+` FROM staff WHERE email = $1`, email))
}

func (s *Store) DisableStaff(ctx context.Context, institutionID, id string, at time.Time) error {
	return wrap("DisableStaff", pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE staff SET disabled_at = $1 WHERE id = $2 AND institution_id = $3`, at, id, institutionID)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return store.ErrNotFound
		}
		_, err = tx.Exec(ctx, `DELETE FROM staff_sessions WHERE staff_id = $1`, id)
		return err
	}))
}

func (s *Store) CreateStaffSession(ctx context.Context, se store.StaffSession, checked string) error {
	// As CreateSession; a member disabled meanwhile gets no session either.
	tag, err := s.pool.Exec(ctx, `INSERT INTO staff_sessions (id_hash, staff_id, csrf_token, created_at, expires_at)
		SELECT $1, $2, $3, $4, $5 WHERE EXISTS (SELECT 1 FROM staff WHERE id = $2 AND password_hash = $6 AND disabled_at IS NULL FOR SHARE)`,
		se.IDHash, se.StaffID, se.CSRFToken, se.CreatedAt, se.ExpiresAt, checked)
	if err != nil {
		return wrap("CreateStaffSession", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrPasswordChanged
	}
	return nil
}

func (s *Store) StaffSession(ctx context.Context, idHash []byte) (store.StaffSession, error) {
	var se store.StaffSession
	err := s.pool.QueryRow(ctx, `SELECT ss.id_hash, ss.staff_id, ss.csrf_token, ss.created_at, ss.expires_at FROM staff_sessions ss
		JOIN staff m ON m.id = ss.staff_id WHERE ss.id_hash = $1 AND ss.expires_at > $2 AND m.disabled_at IS NULL`, idHash, s.now()).
		Scan(&se.IDHash, &se.StaffID, &se.CSRFToken, &se.CreatedAt, &se.ExpiresAt)
	se.CreatedAt, se.ExpiresAt = se.CreatedAt.UTC(), se.ExpiresAt.UTC()
	return se, wrap("StaffSession", notFound(err))
}

func (s *Store) DeleteStaffSession(ctx context.Context, idHash []byte) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM staff_sessions WHERE id_hash = $1`, idHash)
	return wrap("DeleteStaffSession", err)
}

func (s *Store) HandedOver(ctx context.Context, institutionID string) ([]store.Conversation, error) {
	rows, err := s.pool.Query(ctx, conversationQuery+` WHERE c.institution_id = $1 AND c.owner <> 'bot' ORDER BY c.id`, institutionID)
	return collect(rows, err, func(rows pgx.Rows) (store.Conversation, error) { return scanConversation(rows) })
}

func (s *Store) SetWork(ctx context.Context, conversationID, status string, snoozedUntil time.Time, priority int) error {
	tag, err := s.pool.Exec(ctx, `UPDATE conversations SET status = $1, snoozed_until = $2, priority = $3 WHERE id = $4`, status, nullTime(snoozedUntil), priority, conversationID)
	if err != nil {
		return wrap("SetWork", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (s *Store) AddNote(ctx context.Context, n store.Note) error {
	// Only under the conversation's key as it is (see store.AddNote). FOR
	// SHARE waits for a clearing under way; the key row it replaces is
	// then gone, and the note with it.
	tag, err := s.pool.Exec(ctx, `INSERT INTO console_notes (id, conversation_id, staff_id, sealed, created_at)
		SELECT $1, $2, $3, $4, $5 WHERE $6::int = 0 OR EXISTS (SELECT 1 FROM conversations c
			JOIN data_keys k ON k.customer_id = c.customer_id || '/' || c.institution_id WHERE c.id = $2 AND k.version = $6 FOR SHARE OF k)`,
		n.ID, n.ConversationID, n.StaffID, n.Sealed, n.CreatedAt, vault.SealedVersion(n.Sealed))
	if err != nil {
		return wrap("AddNote", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrStaleKey
	}
	return nil
}

func (s *Store) Notes(ctx context.Context, conversationID string) ([]store.Note, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, conversation_id, staff_id, sealed, created_at FROM console_notes WHERE conversation_id = $1 ORDER BY created_at, id`, conversationID)
	return collect(rows, err, func(rows pgx.Rows) (store.Note, error) {
		var n store.Note
		err := rows.Scan(&n.ID, &n.ConversationID, &n.StaffID, &n.Sealed, &n.CreatedAt)
		n.CreatedAt = n.CreatedAt.UTC()
		return n, err
	})
}

func (s *Store) AddCanned(ctx context.Context, cr store.Canned) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO canned_responses (id, institution_id, title, text, created_at) VALUES ($1, $2, $3, $4, $5)`,
		cr.ID, cr.InstitutionID, cr.Title, cr.Text, cr.CreatedAt)
	return wrap("AddCanned", err)
}

func (s *Store) CannedResponses(ctx context.Context, institutionID string) ([]store.Canned, error) {
	rows, err := s.pool.Query(ctx, `SELECT id, institution_id, title, text, created_at FROM canned_responses WHERE institution_id = $1 ORDER BY title, id`, institutionID)
	return collect(rows, err, func(rows pgx.Rows) (store.Canned, error) {
		var cr store.Canned
		err := rows.Scan(&cr.ID, &cr.InstitutionID, &cr.Title, &cr.Text, &cr.CreatedAt)
		cr.CreatedAt = cr.CreatedAt.UTC()
		return cr, err
	})
}

func (s *Store) AddRating(ctx context.Context, r store.Rating) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO ratings (conversation_id, request_seq, institution_id, staff_id, score, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		r.ConversationID, r.RequestSeq, r.InstitutionID, r.StaffID, r.Score, r.CreatedAt)
	if isUnique(err) {
		return store.ErrExists
	}
	return wrap("AddRating", err)
}

func (s *Store) Ratings(ctx context.Context, institutionID string, since time.Time) ([]store.Rating, error) {
	rows, err := s.pool.Query(ctx, `SELECT conversation_id, request_seq, institution_id, staff_id, score, created_at FROM ratings WHERE institution_id = $1 AND created_at >= $2`, institutionID, since)
	return collect(rows, err, func(rows pgx.Rows) (store.Rating, error) {
		var r store.Rating
		err := rows.Scan(&r.ConversationID, &r.RequestSeq, &r.InstitutionID, &r.StaffID, &r.Score, &r.CreatedAt)
		r.CreatedAt = r.CreatedAt.UTC()
		return r, err
	})
}

func (s *Store) Handovers(ctx context.Context, institutionID string, since time.Time) ([]store.HandoverRecord, error) {
	rows, err := s.pool.Query(ctx, `SELECT conversation_id, from_owner, to_owner, agent_id, at FROM handovers WHERE institution_id = $1 AND at >= $2 ORDER BY at`, institutionID, since)
	return collect(rows, err, func(rows pgx.Rows) (store.HandoverRecord, error) {
		var h store.HandoverRecord
		err := rows.Scan(&h.ConversationID, &h.From, &h.To, &h.AgentID, &h.At)
		h.At = h.At.UTC()
		return h, err
	})
}

func (s *Store) AgentMessageTimes(ctx context.Context, institutionID string, since time.Time) ([]store.EventTime, error) {
	rows, err := s.pool.Query(ctx, `SELECT conversation_id, received_at FROM events WHERE institution_id = $1 AND author = 'agent' AND received_at >= $2 ORDER BY received_at`, institutionID, since)
	return collect(rows, err, func(rows pgx.Rows) (store.EventTime, error) {
		var e store.EventTime
		err := rows.Scan(&e.ConversationID, &e.At)
		e.At = e.At.UTC()
		return e, err
	})
}

func (s *Store) SearchConversations(ctx context.Context, institutionID, ref string, limit int) ([]store.Conversation, error) {
	pattern := "%" + strings.NewReplacer(`\`, `\\`, "%", `\%`, "_", `\_`).Replace(ref) + "%"
	rows, err := s.pool.Query(ctx, conversationQuery+` WHERE c.institution_id = $1 AND l.id LIKE $2 ORDER BY c.id LIMIT $3`, institutionID, pattern, limit)
	return collect(rows, err, func(rows pgx.Rows) (store.Conversation, error) { return scanConversation(rows) })
}

func (s *Store) AvailableAgents(ctx context.Context, institutionID string, now time.Time) ([]string, error) {
	// Present, not merely signed in: a console online on a live session.
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT m.id FROM staff m
		JOIN staff_presence p ON p.staff_id = m.id JOIN staff_sessions ss ON ss.id_hash = p.session_hash AND ss.staff_id = m.id
		WHERE m.institution_id = $1 AND m.role = 'agent' AND m.disabled_at IS NULL AND p.status = 'online' AND p.expires_at > $2 AND ss.expires_at > $2
		ORDER BY m.id`, institutionID, now)
	return collect(rows, err, func(rows pgx.Rows) (string, error) {
		var id string
		return id, rows.Scan(&id)
	})
}

func (s *Store) SetPresence(ctx context.Context, p store.Presence) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO staff_presence (stream_id, staff_id, session_hash, status, expires_at) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (stream_id) DO UPDATE SET status = excluded.status, expires_at = excluded.expires_at`,
		p.StreamID, p.StaffID, p.SessionHash, p.Status, p.ExpiresAt)
	return wrap("SetPresence", err)
}

func (s *Store) EndPresence(ctx context.Context, streamID string, now time.Time) error {
	_, err := s.pool.Exec(ctx, `DELETE FROM staff_presence WHERE stream_id = $1 OR expires_at <= $2`, streamID, now)
	return wrap("EndPresence", err)
}

func (s *Store) StaffPresence(ctx context.Context, institutionID string, now time.Time) (map[string]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT m.id, bool_or(p.status = 'online') FROM staff m
		JOIN staff_presence p ON p.staff_id = m.id JOIN staff_sessions ss ON ss.id_hash = p.session_hash AND ss.staff_id = m.id
		WHERE m.institution_id = $1 AND m.disabled_at IS NULL AND p.expires_at > $2 AND ss.expires_at > $2 GROUP BY m.id`, institutionID, now)
	type row struct {
		id     string
		online bool
	}
	rs, err := collect(rows, err, func(rows pgx.Rows) (row, error) {
		var r row
		return r, rows.Scan(&r.id, &r.online)
	})
	out := map[string]string{}
	for _, r := range rs {
		out[r.id] = store.PresenceAway
		if r.online {
			out[r.id] = store.PresenceOnline
		}
	}
	return out, wrap("StaffPresence", err)
}

func (s *Store) HandedOverActivity(ctx context.Context, institutionID string) ([]store.Activity, error) {
	// Each subquery reads one of the partial indexes of migration 0016
	// (the terms match theirs exactly), never the bank's own events.
	rows, err := s.pool.Query(ctx, `SELECT c.id, coalesce(lc.seq, 0), coalesce(lc.type, ''), lc.received_at, la.received_at,
		(SELECT min(e.received_at) FROM events e WHERE e.conversation_id = c.id AND e.author = 'customer' AND e.seq > coalesce(la.seq, 0)),
		(SELECT max(h.at) FROM handovers h WHERE h.conversation_id = c.id AND h.from_owner = 'bot' AND h.to_owner <> 'bot'),
		(SELECT f.received_at FROM events f WHERE f.conversation_id = c.id AND f.type IN ('fraud.alert', 'fraud.response') ORDER BY f.seq DESC LIMIT 1)
		FROM conversations c
		LEFT JOIN LATERAL (SELECT seq, type, received_at FROM events WHERE conversation_id = c.id AND author = 'customer' ORDER BY seq DESC LIMIT 1) lc ON true
		LEFT JOIN LATERAL (SELECT seq, received_at FROM events WHERE conversation_id = c.id AND author = 'agent' ORDER BY seq DESC LIMIT 1) la ON true
		WHERE c.institution_id = $1 AND c.owner <> 'bot' ORDER BY c.id`, institutionID)
	return collect(rows, err, func(rows pgx.Rows) (store.Activity, error) {
		var a store.Activity
		var customerAt, agentAt, since, handed, fraud *time.Time
		err := rows.Scan(&a.ConversationID, &a.LastCustomerSeq, &a.LastCustomerType, &customerAt, &agentAt, &since, &handed, &fraud)
		a.LastCustomerAt, a.LastAgentAt, a.CustomerSinceAgent, a.HandedAt, a.FraudAt = orZero(customerAt), orZero(agentAt), orZero(since), orZero(handed), orZero(fraud)
		return a, err
	})
}

func (s *Store) AddLabel(ctx context.Context, l store.Label) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO conversation_labels (conversation_id, label, staff_id, created_at) VALUES ($1, $2, $3, $4)
		ON CONFLICT (conversation_id, label) DO NOTHING`, l.ConversationID, l.Label, l.StaffID, l.CreatedAt)
	return wrap("AddLabel", err)
}

func (s *Store) RemoveLabel(ctx context.Context, conversationID, label string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM conversation_labels WHERE conversation_id = $1 AND label = $2`, conversationID, label)
	if err != nil {
		return wrap("RemoveLabel", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

func (s *Store) ConversationLabels(ctx context.Context, institutionID string) (map[string][]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT l.conversation_id, l.label FROM conversation_labels l JOIN conversations c ON c.id = l.conversation_id
		WHERE c.institution_id = $1 ORDER BY l.conversation_id, l.label`, institutionID)
	ls, err := collect(rows, err, func(rows pgx.Rows) (store.Label, error) {
		var l store.Label
		return l, rows.Scan(&l.ConversationID, &l.Label)
	})
	out := map[string][]string{}
	for _, l := range ls {
		out[l.ConversationID] = append(out[l.ConversationID], l.Label)
	}
	return out, wrap("ConversationLabels", err)
}

func (s *Store) DeleteCanned(ctx context.Context, institutionID, id string) error {
	tag, err := s.pool.Exec(ctx, `DELETE FROM canned_responses WHERE institution_id = $1 AND id = $2`, institutionID, id)
	if err != nil {
		return wrap("DeleteCanned", err)
	}
	if tag.RowsAffected() == 0 {
		return store.ErrNotFound
	}
	return nil
}

// collect scans every row of a query with scan.
func collect[T any](rows pgx.Rows, err error, scan func(pgx.Rows) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// wrap names the store and the operation in an error that comes out of
// one of its methods, keeping what it wraps (errors.Is still finds
// store.ErrNotFound and the rest). nil stays nil.
func wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("postgres: %s: %w", op, err)
}
