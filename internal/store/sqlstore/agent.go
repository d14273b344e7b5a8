package sqlstore

import (
	"context"
	"database/sql"
	"time"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

const agentCols = "id, project_id, name, description, keys, version, started_at, last_seen_at, repositories, platform_providers, disabled, created_at, updated_at, revision"

func scanAgent(sc scanner) (*model.Agent, error) {
	var a model.Agent
	err := sc.Scan(&a.ID, &a.ProjectID, &a.Name, &a.Description, jsonCol{&a.Keys}, &a.Version,
		timeCol{&a.StartedAt}, timeCol{&a.LastSeenAt}, jsonCol{&a.Repositories}, jsonCol{&a.PlatformProviders},
		boolCol{&a.Disabled}, timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt}, &a.Revision)
	return &a, err
}

func agentArgs(a *model.Agent) []any {
	return []any{a.ProjectID, a.Name, a.Description, toJSON(a.Keys), a.Version, toMicros(a.StartedAt), toMicros(a.LastSeenAt),
		toJSON(a.Repositories), toJSON(a.PlatformProviders), boolInt(a.Disabled), toMicros(a.CreatedAt), toMicros(a.UpdatedAt), a.Revision}
}

func normaliseAgent(a *model.Agent) {
	a.StartedAt, a.LastSeenAt, a.CreatedAt, a.UpdatedAt = trunc(a.StartedAt), trunc(a.LastSeenAt), trunc(a.CreatedAt), trunc(a.UpdatedAt)
	for i := range a.Keys {
		a.Keys[i].CreatedAt = trunc(a.Keys[i].CreatedAt)
	}
}

// CreateAgent implements store.AgentStore.
func (s *Store) CreateAgent(ctx context.Context, a *model.Agent) error {
	normaliseAgent(a)
	a.Revision = 1
	_, err := s.exec(ctx, s.w, "INSERT INTO agents ("+agentCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		append([]any{a.ID}, agentArgs(a)...)...)
	return s.wrap(err)
}

// GetAgent implements store.AgentStore.
func (s *Store) GetAgent(ctx context.Context, id string) (*model.Agent, error) {
	return s.getAgent(ctx, s.r, id)
}

func (s *Store) getAgent(ctx context.Context, q queryer, id string) (*model.Agent, error) {
	a, err := scanAgent(s.queryRow(ctx, q, "SELECT "+agentCols+" FROM agents WHERE id = ?", id))
	if err != nil {
		return nil, s.wrap(notFound(err, "agent", id))
	}
	return a, nil
}

// ListAgents implements store.AgentStore, ordered by name.
func (s *Store) ListAgents(ctx context.Context, f store.AgentFilter) ([]*model.Agent, error) {
	var w where
	w.eq("project_id", f.ProjectID)
	w.boolean("disabled", f.Disabled)
	rows, err := s.query(ctx, s.r, ("SELECT " + agentCols + " FROM agents" + w.sql() + " ORDER BY name, id"), w.args...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []*model.Agent
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, a)
	}
	return out, s.wrap(rows.Err())
}

// UpdateAgent implements store.AgentStore.
func (s *Store) UpdateAgent(ctx context.Context, id string, mutate func(*model.Agent) error) (*model.Agent, error) {
	var out *model.Agent
	err := retry(ctx, "update agent "+id, func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			a, err := s.getAgent(ctx, tx, id)
			if err != nil {
				return err
			}
			rev := a.Revision
			if err := mutate(a); err != nil {
				return err
			}
			a.ID, a.Revision, a.UpdatedAt = id, rev+1, now()
			normaliseAgent(a)
			res, err := s.exec(ctx, tx, (`UPDATE agents SET project_id=?, name=?, description=?, keys=?, version=?, started_at=?, last_seen_at=?,
				repositories=?, platform_providers=?, disabled=?, created_at=?, updated_at=?, revision=? WHERE id=? AND revision=?`),
				append(agentArgs(a), id, rev)...)
			if err != nil {
				return err
			}
			out = a
			return checkUpdated(res)
		})
	})
	return out, err
}

// TouchAgent implements store.AgentStore.
func (s *Store) TouchAgent(ctx context.Context, id string, seenAt time.Time) error {
	res, err := s.exec(ctx, s.w, ("UPDATE agents SET last_seen_at = ? WHERE id = ?"), toMicros(trunc(seenAt)), id)
	if err != nil {
		return s.wrap(err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return model.NotFound("agent", id)
	}
	return nil
}
