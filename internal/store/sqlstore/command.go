package sqlstore

import (
	"context"
	"database/sql"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

const commandCols = `id, project_id, agent_id, kind, application_id, deployment_id, stage_id, commander, args, status, output,
	metadata, handled_at, created_at, updated_at, revision`

func scanCommand(sc scanner) (*model.Command, error) {
	var c model.Command
	err := sc.Scan(&c.ID, &c.ProjectID, &c.AgentID, &c.Kind, &c.ApplicationID, &c.DeploymentID, &c.StageID, &c.Commander,
		jsonCol{&c.Args}, &c.Status, &c.Output, jsonCol{&c.Metadata}, timeCol{&c.HandledAt}, timeCol{&c.CreatedAt},
		timeCol{&c.UpdatedAt}, &c.Revision)
	c.Metadata = emptyMapNil(c.Metadata)
	return &c, err
}

func commandArgs(c *model.Command) []any {
	return []any{c.ProjectID, c.AgentID, string(c.Kind), c.ApplicationID, c.DeploymentID, c.StageID, c.Commander,
		toJSON(c.Args), string(c.Status), c.Output, toJSON(c.Metadata), toMicros(c.HandledAt), toMicros(c.CreatedAt),
		toMicros(c.UpdatedAt), c.Revision}
}

func normaliseCommand(c *model.Command) {
	c.HandledAt, c.CreatedAt, c.UpdatedAt = trunc(c.HandledAt), trunc(c.CreatedAt), trunc(c.UpdatedAt)
	c.Metadata = emptyMapNil(c.Metadata)
}

// CreateCommand implements store.CommandStore.
func (s *Store) CreateCommand(ctx context.Context, c *model.Command) error {
	normaliseCommand(c)
	c.Revision = 1
	_, err := s.exec(ctx, s.w, "INSERT INTO commands ("+commandCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		append([]any{c.ID}, commandArgs(c)...)...)
	return s.wrap(err)
}

// GetCommand implements store.CommandStore.
func (s *Store) GetCommand(ctx context.Context, id string) (*model.Command, error) {
	return s.getCommand(ctx, s.r, id)
}

func (s *Store) getCommand(ctx context.Context, q queryer, id string) (*model.Command, error) {
	c, err := scanCommand(s.queryRow(ctx, q, "SELECT "+commandCols+" FROM commands WHERE id = ?", id))
	if err != nil {
		return nil, s.wrap(notFound(err, "command", id))
	}
	return c, nil
}

// ListCommands implements store.CommandStore.
func (s *Store) ListCommands(ctx context.Context, f store.CommandFilter, p store.Page) ([]*model.Command, string, error) {
	hash := queryHash("commands", f)
	cur, err := decodeCursor(p.Cursor, hash)
	if err != nil {
		return nil, "", err
	}
	var w where
	w.eq("project_id", f.ProjectID)
	w.eq("agent_id", f.AgentID)
	w.eq("deployment_id", f.DeploymentID)
	statuses := make([]string, len(f.Statuses))
	for i, st := range f.Statuses {
		statuses[i] = string(st)
	}
	w.in("status", statuses)
	if !f.CreatedBefore.IsZero() {
		w.add("created_at < ?", toMicros(f.CreatedBefore))
	}
	if cur != nil {
		w.add("(created_at > ? OR (created_at = ? AND id > ?))", cur.Time, cur.Time, cur.ID)
	}
	n := limit(p)
	rows, err := s.query(ctx, s.r, ("SELECT " + commandCols + " FROM commands" + w.sql() + " ORDER BY created_at, id LIMIT ?"), append(w.args, n+1)...)
	if err != nil {
		return nil, "", s.wrap(err)
	}
	defer rows.Close()
	var out []*model.Command
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, "", s.wrap(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.wrap(err)
	}
	next := ""
	if len(out) > n {
		out = out[:n]
		last := out[n-1]
		next = cursor{Time: toMicros(last.CreatedAt), ID: last.ID, Query: hash}.encode()
	}
	return out, next, nil
}

// UpdateCommand implements store.CommandStore.
func (s *Store) UpdateCommand(ctx context.Context, id string, mutate func(*model.Command) error) (*model.Command, error) {
	var out *model.Command
	err := retry(ctx, "update command "+id, func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			c, err := s.getCommand(ctx, tx, id)
			if err != nil {
				return err
			}
			rev := c.Revision
			if err := mutate(c); err != nil {
				return err
			}
			c.ID, c.Revision, c.UpdatedAt = id, rev+1, now()
			normaliseCommand(c)
			res, err := s.exec(ctx, tx, (`UPDATE commands SET project_id=?, agent_id=?, kind=?, application_id=?, deployment_id=?, stage_id=?,
				commander=?, args=?, status=?, output=?, metadata=?, handled_at=?, created_at=?, updated_at=?, revision=? WHERE id=? AND revision=?`),
				append(commandArgs(c), id, rev)...)
			if err != nil {
				return err
			}
			out = c
			return checkUpdated(res)
		})
	})
	return out, err
}
