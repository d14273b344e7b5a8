package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/ferrycd/ferry/internal/model"
)

const projectCols = "id, description, static_admin, user_groups, created_at, updated_at, revision"

type scanner interface{ Scan(dest ...any) error }

func scanProject(sc scanner) (*model.Project, error) {
	var p model.Project
	err := sc.Scan(&p.ID, &p.Description, jsonCol{&p.StaticAdmin}, jsonCol{&p.UserGroups},
		timeCol{&p.CreatedAt}, timeCol{&p.UpdatedAt}, &p.Revision)
	return &p, err
}

// notFound turns sql.ErrNoRows into a KindNotFound error.
func notFound(err error, what, id string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return model.NotFound(what, id)
	}
	return err
}

// CreateProject implements store.ProjectStore.
func (s *Store) CreateProject(ctx context.Context, p *model.Project) error {
	p.CreatedAt, p.UpdatedAt, p.Revision = trunc(p.CreatedAt), trunc(p.UpdatedAt), 1
	_, err := s.exec(ctx, s.w, "INSERT INTO projects ("+projectCols+") VALUES (?,?,?,?,?,?,?)",
		p.ID, p.Description, toJSON(p.StaticAdmin), toJSON(p.UserGroups), toMicros(p.CreatedAt), toMicros(p.UpdatedAt), p.Revision)
	return s.wrap(err)
}

// GetProject implements store.ProjectStore.
func (s *Store) GetProject(ctx context.Context, id string) (*model.Project, error) {
	return s.getProject(ctx, s.r, id)
}

func (s *Store) getProject(ctx context.Context, q queryer, id string) (*model.Project, error) {
	p, err := scanProject(s.queryRow(ctx, q, "SELECT "+projectCols+" FROM projects WHERE id = ?", id))
	if err != nil {
		return nil, s.wrap(notFound(err, "project", id))
	}
	return p, nil
}

// ListProjects implements store.ProjectStore.
func (s *Store) ListProjects(ctx context.Context) ([]*model.Project, error) {
	rows, err := s.r.QueryContext(ctx, "SELECT "+projectCols+" FROM projects ORDER BY id")
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []*model.Project
	for rows.Next() {
		p, err := scanProject(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, p)
	}
	return out, s.wrap(rows.Err())
}

// UpdateProject implements store.ProjectStore.
func (s *Store) UpdateProject(ctx context.Context, id string, mutate func(*model.Project) error) (*model.Project, error) {
	var out *model.Project
	err := retry(ctx, "update project "+id, func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			p, err := s.getProject(ctx, tx, id)
			if err != nil {
				return err
			}
			rev := p.Revision
			if err := mutate(p); err != nil {
				return err
			}
			p.ID, p.Revision, p.UpdatedAt = id, rev+1, now()
			res, err := s.exec(ctx, tx, ("UPDATE projects SET description=?, static_admin=?, user_groups=?, updated_at=?, revision=? WHERE id=? AND revision=?"),
				p.Description, toJSON(p.StaticAdmin), toJSON(p.UserGroups), toMicros(p.UpdatedAt), p.Revision, id, rev)
			if err != nil {
				return err
			}
			out = p
			return checkUpdated(res)
		})
	})
	return out, err
}
