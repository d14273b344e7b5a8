package sqlstore

import (
	"context"
	"time"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

const consoleSessionCols = "id, token_hash, project_id, subject, name, role, provider, sso_groups, csrf_token, user_agent, created_at, expires_at"

func scanConsoleSession(sc scanner) (*model.ConsoleSession, error) {
	var c model.ConsoleSession
	err := sc.Scan(&c.ID, &c.TokenHash, &c.ProjectID, &c.Subject, &c.Name, &c.Role, &c.Provider, jsonCol{&c.Groups}, &c.CSRFToken, &c.UserAgent,
		timeCol{&c.CreatedAt}, timeCol{&c.ExpiresAt})
	return &c, err
}

// CreateConsoleSession implements store.ConsoleSessionStore.
func (s *Store) CreateConsoleSession(ctx context.Context, c *model.ConsoleSession) error {
	c.CreatedAt, c.ExpiresAt = trunc(c.CreatedAt), trunc(c.ExpiresAt)
	// Sign-ins are rare next to page views: a good moment to drop the
	// sessions nobody signed out of, by the caller's clock.
	if _, err := s.exec(ctx, s.w, "DELETE FROM console_sessions WHERE expires_at <= ?", toMicros(c.CreatedAt)); err != nil {
		return s.wrap(err)
	}
	_, err := s.exec(ctx, s.w, "INSERT INTO console_sessions ("+consoleSessionCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
		c.ID, c.TokenHash, c.ProjectID, c.Subject, c.Name, string(c.Role), c.Provider, toJSON(c.Groups), c.CSRFToken, c.UserAgent,
		toMicros(c.CreatedAt), toMicros(c.ExpiresAt))
	return s.wrap(err)
}

// GetConsoleSessionByToken implements store.ConsoleSessionStore.
func (s *Store) GetConsoleSessionByToken(ctx context.Context, tokenHash string, at time.Time) (*model.ConsoleSession, error) {
	c, err := scanConsoleSession(s.queryRow(ctx, s.r,
		"SELECT "+consoleSessionCols+" FROM console_sessions WHERE token_hash = ? AND expires_at > ?", tokenHash, toMicros(at)))
	if err != nil {
		return nil, s.wrap(notFound(err, "console session", "(by token)"))
	}
	return c, nil
}

// SetConsoleSessionRole implements store.ConsoleSessionStore.
func (s *Store) SetConsoleSessionRole(ctx context.Context, id string, role model.Role) error {
	res, err := s.exec(ctx, s.w, "UPDATE console_sessions SET role = ? WHERE id = ?", string(role), id)
	if err != nil {
		return s.wrap(err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return s.wrap(err)
	}
	if n == 0 {
		return model.NotFound("console session", id)
	}
	return nil
}

func sessionWhere(f store.ConsoleSessionFilter) where {
	var w where
	w.eq("project_id", f.ProjectID)
	w.eq("subject", f.Subject)
	w.in("id", f.IDs)
	return w
}

// ListConsoleSessions implements store.ConsoleSessionStore.
func (s *Store) ListConsoleSessions(ctx context.Context, f store.ConsoleSessionFilter, at time.Time) ([]*model.ConsoleSession, error) {
	w := sessionWhere(f)
	w.add("expires_at > ?", toMicros(at))
	rows, err := s.query(ctx, s.r, "SELECT "+consoleSessionCols+" FROM console_sessions"+w.sql()+" ORDER BY created_at DESC, id", w.args...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []*model.ConsoleSession
	for rows.Next() {
		c, err := scanConsoleSession(rows)
		if err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, c)
	}
	return out, s.wrap(rows.Err())
}

// DeleteConsoleSessions implements store.ConsoleSessionStore.
func (s *Store) DeleteConsoleSessions(ctx context.Context, f store.ConsoleSessionFilter) (int, error) {
	if f.ProjectID == "" {
		return 0, model.Invalid("deleting console sessions needs a project")
	}
	w := sessionWhere(f)
	res, err := s.exec(ctx, s.w, "DELETE FROM console_sessions"+w.sql(), w.args...)
	if err != nil {
		return 0, s.wrap(err)
	}
	n, err := res.RowsAffected()
	return int(n), s.wrap(err)
}
