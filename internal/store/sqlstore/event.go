package sqlstore

import (
	"context"
	"database/sql"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

const eventCols = "id, project_id, name, data, labels, event_key, status, status_description, contexts, handled_at, created_at, updated_at, revision"

func scanEvent(sc scanner) (*model.Event, error) {
	var e model.Event
	err := sc.Scan(&e.ID, &e.ProjectID, &e.Name, &e.Data, jsonCol{&e.Labels}, &e.Key, &e.Status, &e.StatusDescription,
		jsonCol{&e.Contexts}, timeCol{&e.HandledAt}, timeCol{&e.CreatedAt}, timeCol{&e.UpdatedAt}, &e.Revision)
	e.Labels, e.Contexts = emptyMapNil(e.Labels), emptyMapNil(e.Contexts)
	return &e, err
}

func eventArgs(e *model.Event) []any {
	return []any{e.ProjectID, e.Name, e.Data, toJSON(e.Labels), e.Key, string(e.Status), e.StatusDescription,
		toJSON(e.Contexts), toMicros(e.HandledAt), toMicros(e.CreatedAt), toMicros(e.UpdatedAt), e.Revision}
}

func normaliseEvent(e *model.Event) {
	e.HandledAt, e.CreatedAt, e.UpdatedAt = trunc(e.HandledAt), trunc(e.CreatedAt), trunc(e.UpdatedAt)
	e.Labels, e.Contexts = emptyMapNil(e.Labels), emptyMapNil(e.Contexts)
}

// CreateEvent implements store.EventStore.
func (s *Store) CreateEvent(ctx context.Context, e *model.Event) error {
	normaliseEvent(e)
	e.Revision = 1
	_, err := s.exec(ctx, s.w, "INSERT INTO events ("+eventCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
		append([]any{e.ID}, eventArgs(e)...)...)
	return s.wrap(err)
}

// GetEvent implements store.EventStore.
func (s *Store) GetEvent(ctx context.Context, id string) (*model.Event, error) {
	return s.getEvent(ctx, s.r, id)
}

func (s *Store) getEvent(ctx context.Context, q queryer, id string) (*model.Event, error) {
	e, err := scanEvent(s.queryRow(ctx, q, "SELECT "+eventCols+" FROM events WHERE id = ?", id))
	if err != nil {
		return nil, s.wrap(notFound(err, "event", id))
	}
	return e, nil
}

// ListEvents implements store.EventStore.
func (s *Store) ListEvents(ctx context.Context, f store.EventFilter, p store.Page) ([]*model.Event, string, error) {
	hash := queryHash("events", f)
	cur, err := decodeCursor(p.Cursor, hash)
	if err != nil {
		return nil, "", err
	}
	var w where
	w.eq("project_id", f.ProjectID)
	w.eq("name", f.Name)
	w.eq("event_key", f.Key)
	statuses := make([]string, len(f.Statuses))
	for i, st := range f.Statuses {
		statuses[i] = string(st)
	}
	w.in("status", statuses)
	if cur != nil {
		w.add("(created_at < ? OR (created_at = ? AND id < ?))", cur.Time, cur.Time, cur.ID)
	}
	n := limit(p)
	rows, err := s.query(ctx, s.r, ("SELECT " + eventCols + " FROM events" + w.sql() + " ORDER BY created_at DESC, id DESC LIMIT ?"), append(w.args, n+1)...)
	if err != nil {
		return nil, "", s.wrap(err)
	}
	defer rows.Close()
	var out []*model.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, "", s.wrap(err)
		}
		out = append(out, e)
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

// UpdateEvent implements store.EventStore.
func (s *Store) UpdateEvent(ctx context.Context, id string, mutate func(*model.Event) error) (*model.Event, error) {
	var out *model.Event
	err := retry(ctx, "update event "+id, func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			e, err := s.getEvent(ctx, tx, id)
			if err != nil {
				return err
			}
			rev := e.Revision
			if err := mutate(e); err != nil {
				return err
			}
			e.ID, e.Revision, e.UpdatedAt = id, rev+1, now()
			normaliseEvent(e)
			res, err := s.exec(ctx, tx, (`UPDATE events SET project_id=?, name=?, data=?, labels=?, event_key=?, status=?, status_description=?,
				contexts=?, handled_at=?, created_at=?, updated_at=?, revision=? WHERE id=? AND revision=?`), append(eventArgs(e), id, rev)...)
			if err != nil {
				return err
			}
			out = e
			return checkUpdated(res)
		})
	})
	return out, err
}
