package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/openteller/openteller/internal/vault"
)

// Wrapped keys: each customer's (and conversation's) data key under a root
// key, and the platform's own secrets sealed by the vault. The store keeps
// only what the vault wrapped or sealed; it never sees a key in clear.

func (db *DB) DataKey(ctx context.Context, customerID string) (vault.WrappedKey, error) {
	k := vault.WrappedKey{CustomerID: customerID}
	err := db.reads().QueryRow(ctx, `SELECT version, root_key_version, wrapped FROM data_keys WHERE customer_id = ?`, customerID).
		Scan(&k.Version, &k.RootKeyVersion, &k.Wrapped)
	if errors.Is(err, sql.ErrNoRows) {
		return k, vault.ErrNoKey
	}
	return k, db.wrap("DataKey", err)
}

func (db *DB) DataKeys(ctx context.Context, owners []string) ([]vault.WrappedKey, error) {
	var out []vault.WrappedKey
	err := each(owners, func(args []any) error {
		found, err := all(scanWrapped)(db.reads().Query(ctx, `SELECT customer_id, version, root_key_version, wrapped FROM data_keys WHERE customer_id IN `+in(len(args)), args...))
		out = append(out, found...)
		return err
	})
	return out, db.wrap("DataKeys", err)
}

func scanWrapped(r Row) (vault.WrappedKey, error) {
	var k vault.WrappedKey
	err := r.Scan(&k.CustomerID, &k.Version, &k.RootKeyVersion, &k.Wrapped)
	return k, err
}

// PutDataKey keeps k unless the customer already has a key, and returns the
// key the customer has: two nodes creating one at once agree on the first.
func (db *DB) PutDataKey(ctx context.Context, k vault.WrappedKey) (vault.WrappedKey, error) {
	err := db.write(ctx, func(ctx context.Context, q Querier) error {
		_, err := q.Exec(ctx, `INSERT INTO data_keys (customer_id, version, root_key_version, wrapped, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (customer_id) DO NOTHING`,
			k.CustomerID, k.Version, k.RootKeyVersion, k.Wrapped, db.e.Now())
		return err
	})
	if err != nil {
		return vault.WrappedKey{}, db.wrap("PutDataKey", err)
	}
	return db.DataKey(ctx, k.CustomerID)
}

func (db *DB) DataKeysWrappedBelow(ctx context.Context, version, limit int) ([]vault.WrappedKey, error) {
	out, err := all(scanWrapped)(db.reads().Query(ctx, `SELECT customer_id, version, root_key_version, wrapped FROM data_keys WHERE root_key_version < ? ORDER BY customer_id LIMIT ?`, version, limit))
	return out, db.wrap("DataKeysWrappedBelow", err)
}

// RewrapDataKey replaces a key's wrapping if it is still the version
// wrapped under oldRoot (a cleared history may have replaced it since).
func (db *DB) RewrapDataKey(ctx context.Context, w vault.WrappedKey, oldRoot int) error {
	_, err := db.exec(ctx, `UPDATE data_keys SET wrapped = ?, root_key_version = ? WHERE customer_id = ? AND version = ? AND root_key_version = ?`,
		w.Wrapped, w.RootKeyVersion, w.CustomerID, w.Version, oldRoot)
	return db.wrap("RewrapDataKey", err)
}

func (db *DB) RootKeyUsage(ctx context.Context) (map[int]int, error) {
	type usage struct{ v, n int }
	rows, err := all(func(r Row) (usage, error) {
		var u usage
		err := r.Scan(&u.v, &u.n)
		return u, err
	})(db.reads().Query(ctx, `SELECT root_key_version, count(*) FROM data_keys GROUP BY root_key_version`))
	out := map[int]int{}
	for _, u := range rows {
		out[u.v] = u.n
	}
	return out, db.wrap("RootKeyUsage", err)
}

func (db *DB) PlatformSecret(ctx context.Context, name string) ([]byte, error) {
	var sealed []byte
	err := db.reads().QueryRow(ctx, `SELECT sealed FROM platform_secrets WHERE name = ?`, name).Scan(&sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, vault.ErrNoKey
	}
	return sealed, db.wrap("PlatformSecret", err)
}

// PutPlatformSecret keeps sealed unless the secret exists, and returns the
// one kept: the first node to create it wins.
func (db *DB) PutPlatformSecret(ctx context.Context, name string, sealed []byte) ([]byte, error) {
	err := db.write(ctx, func(ctx context.Context, q Querier) error {
		_, err := q.Exec(ctx, `INSERT INTO platform_secrets (name, sealed, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING`, name, sealed, db.e.Now())
		return err
	})
	if err != nil {
		return nil, db.wrap("PutPlatformSecret", err)
	}
	return db.PlatformSecret(ctx, name)
}

func (db *DB) PlatformSecrets(ctx context.Context) (map[string][]byte, error) {
	type secret struct {
		name   string
		sealed []byte
	}
	rows, err := all(func(r Row) (secret, error) {
		var s secret
		err := r.Scan(&s.name, &s.sealed)
		return s, err
	})(db.reads().Query(ctx, `SELECT name, sealed FROM platform_secrets`))
	out := map[string][]byte{}
	for _, s := range rows {
		out[s.name] = s.sealed
	}
	return out, db.wrap("PlatformSecrets", err)
}

// ReplacePlatformSecret replaces a secret if it is still old.
func (db *DB) ReplacePlatformSecret(ctx context.Context, name string, old, sealed []byte) error {
	_, err := db.exec(ctx, `UPDATE platform_secrets SET sealed = ? WHERE name = ? AND sealed = ?`, sealed, name, old)
	return db.wrap("ReplacePlatformSecret", err)
}
