package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

const apiKeyCols = "id, project_id, name, key_hash, role, creator, last_used_at, revoked, created_at, updated_at, revision"

func scanAPIKey(sc scanner) (*model.APIKey, error) {
	var k model.APIKey
	err := sc.Scan(&k.ID, &k.ProjectID, &k.Name, &k.KeyHash, &k.Role, &k.Creator, timeCol{&k.LastUsedAt},
		boolCol{&k.Revoked}, timeCol{&k.CreatedAt}, timeCol{&k.UpdatedAt}, &k.Revision)
	return &k, err
}

// CreateAPIKey implements store.APIKeyStore.
func (s *Store) CreateAPIKey(ctx context.Context, k *model.APIKey) error {
	k.LastUsedAt, k.CreatedAt, k.UpdatedAt, k.Revision = trunc(k.LastUsedAt), trunc(k.CreatedAt), trunc(k.UpdatedAt), 1
	_, err := s.exec(ctx, s.w, "INSERT INTO api_keys ("+apiKeyCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?)",
		k.ID, k.ProjectID, k.Name, k.KeyHash, string(k.Role), k.Creator, toMicros(k.LastUsedAt), boolInt(k.Revoked),
		toMicros(k.CreatedAt), toMicros(k.UpdatedAt), k.Revision)
	return s.wrap(err)
}

// GetAPIKey implements store.APIKeyStore.
func (s *Store) GetAPIKey(ctx context.Context, id string) (*model.APIKey, error) {
	return s.getAPIKey(ctx, s.r, id)
}

func (s *Store) getAPIKey(ctx context.Context, q queryer, id string) (*model.APIKey, error) {
	k, err := scanAPIKey(s.queryRow(ctx, q, "SELECT "+apiKeyCols+" FROM api_keys WHERE id = ?", id))
	if err != nil {
		return nil, s.wrap(notFound(err, "API key", id))
	}
	return k, nil
}

// ListAPIKeys implements store.APIKeyStore.
func (s *Store) ListAPIKeys(ctx context.Context, f store.APIKeyFilter) ([]*model.APIKey, error) {
	var w where
	w.eq("project_id", f.ProjectID)
	w.boolean("revoked", f.Revoked)
	rows, err := s.query(ctx, s.r, ("SELECT " + apiKeyCols + " FROM api_keys" + w.sql() + " ORDER BY created_at, id"), w.args...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []*model.APIKey
	for rows.Next() {
		k, err := scanAPIKey(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, k)
	}
	return out, s.wrap(rows.Err())
}

// UpdateAPIKey implements store.APIKeyStore.
func (s *Store) UpdateAPIKey(ctx context.Context, id string, mutate func(*model.APIKey) error) (*model.APIKey, error) {
	var out *model.APIKey
	err := retry(ctx, "update API key "+id, func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			k, err := s.getAPIKey(ctx, tx, id)
			if err != nil {
				return err
			}
			rev := k.Revision
			if err := mutate(k); err != nil {
				return err
			}
			k.ID, k.Revision, k.UpdatedAt, k.LastUsedAt = id, rev+1, now(), trunc(k.LastUsedAt)
			res, err := s.exec(ctx, tx, ("UPDATE api_keys SET name=?, key_hash=?, role=?, last_used_at=?, revoked=?, updated_at=?, revision=? WHERE id=? AND revision=?"),
				k.Name, k.KeyHash, string(k.Role), toMicros(k.LastUsedAt), boolInt(k.Revoked), toMicros(k.UpdatedAt), k.Revision, id, rev)
			if err != nil {
				return err
			}
			out = k
			return checkUpdated(res)
		})
	})
	return out, err
}

// TouchAPIKey implements store.APIKeyStore.
func (s *Store) TouchAPIKey(ctx context.Context, id string, usedAt time.Time) error {
	_, err := s.exec(ctx, s.w, ("UPDATE api_keys SET last_used_at = ? WHERE id = ?"), toMicros(trunc(usedAt)), id)
	return s.wrap(err)
}
