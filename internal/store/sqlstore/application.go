package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"path"
	"strings"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

const appCols = `id, project_id, name, kind, agent_id, platform_provider, git_path, labels, description, sync_status, sync_state,
	deploying, most_recent, most_recent_successful, disabled, created_at, updated_at, revision, health, config_warnings`

func scanApp(sc scanner) (*model.Application, error) {
	var a model.Application
	var syncStatus string
	err := sc.Scan(&a.ID, &a.ProjectID, &a.Name, &a.Kind, &a.AgentID, &a.PlatformProvider, jsonCol{&a.GitPath},
		jsonCol{&a.Labels}, &a.Description, &syncStatus, jsonCol{&a.SyncState}, boolCol{&a.Deploying},
		jsonCol{&a.MostRecentDeployment}, jsonCol{&a.MostRecentSuccessfulDeployment}, boolCol{&a.Disabled},
		timeCol{&a.CreatedAt}, timeCol{&a.UpdatedAt}, &a.Revision, &a.Health, jsonCol{&a.ConfigWarnings})
	a.Labels = emptyMapNil(a.Labels)
	if len(a.ConfigWarnings) == 0 {
		a.ConfigWarnings = nil
	}
	return &a, err
}

func normaliseApp(a *model.Application) {
	a.CreatedAt, a.UpdatedAt, a.SyncState.Timestamp = trunc(a.CreatedAt), trunc(a.UpdatedAt), trunc(a.SyncState.Timestamp)
	a.Labels = emptyMapNil(a.Labels)
	if len(a.ConfigWarnings) == 0 {
		a.ConfigWarnings = nil
	}
	for _, r := range []*model.DeploymentRef{a.MostRecentDeployment, a.MostRecentSuccessfulDeployment} {
		if r != nil {
			r.StartedAt, r.CompletedAt = trunc(r.StartedAt), trunc(r.CompletedAt)
		}
	}
}

func appArgs(a *model.Application) []any {
	return []any{a.ProjectID, a.Name, string(a.Kind), a.AgentID, a.PlatformProvider, toJSON(a.GitPath), toJSON(a.Labels),
		a.Description, string(a.SyncState.Status), toJSON(a.SyncState), boolInt(a.Deploying), toJSON(a.MostRecentDeployment),
		toJSON(a.MostRecentSuccessfulDeployment), boolInt(a.Disabled), toMicros(a.CreatedAt), toMicros(a.UpdatedAt), a.Revision,
		string(a.Health), warningsJSON(a.ConfigWarnings)}
}

// warningsJSON is the config_warnings column: a JSON list, [] when empty.
func warningsJSON(w []model.ConfigWarning) string {
	if len(w) == 0 {
		return "[]"
	}
	return toJSON(w)
}

// identityKey is what makes an application one: the agent that deploys it
// and where its config lives. It is unique in a project (see migration
// 00005); the name is not.
func identityKey(agentID string, g model.GitPath) string {
	return strings.Join([]string{agentID, g.RepoID, path.Join(g.Path, g.ConfigFilename)}, "\n")
}

// configAt keeps the applications whose config is in repo at configPath
// (a file, or the directory holding it), matched on identity_key, which
// ends in repository id and config path.
func configAt(w *where, repo, configPath string) {
	if repo == "" {
		return
	}
	base := "%\n" + likeEscaper.Replace(repo) + "\n"
	p := strings.Trim(configPath, "/")
	dir := base
	if p != "" {
		dir += likeEscaper.Replace(p) + "/"
	}
	w.add(`(identity_key LIKE ? ESCAPE '\' OR (identity_key LIKE ? ESCAPE '\' AND identity_key NOT LIKE ? ESCAPE '\'))`,
		base+likeEscaper.Replace(p), dir+"%", dir+"%/%")
}

// fillIdentityKeys writes the identity of the rows written before
// identity_key existed, which migration 00005 could not compute in SQL both
// engines read. A row whose identity another row already has keeps its
// placeholder: both stay, and the next registration by their agent
// updates the one at that path.
func (s *Store) fillIdentityKeys(ctx context.Context) error {
	rows, err := s.query(ctx, s.w, "SELECT id, agent_id, git_path FROM applications WHERE identity_key LIKE 'legacy:%'")
	if err != nil {
		return s.wrap(err)
	}
	type legacy struct {
		id, agent string
		g         model.GitPath
	}
	var todo []legacy
	for rows.Next() {
		var l legacy
		if err := rows.Scan(&l.id, &l.agent, jsonCol{&l.g}); err != nil {
			rows.Close()
			return s.wrap(err)
		}
		todo = append(todo, l)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return s.wrap(err)
	}
	for _, l := range todo {
		_, err := s.exec(ctx, s.w, "UPDATE applications SET identity_key = ? WHERE id = ?", identityKey(l.agent, l.g), l.id)
		if err := s.wrap(err); err != nil && !model.IsKind(err, model.KindAlreadyExists) {
			return fmt.Errorf("fill identity of application %s: %w", l.id, err)
		}
	}
	return nil
}

// writeLabels replaces a row's label rows.
func (s *Store) writeLabels(ctx context.Context, tx *sql.Tx, table, fk, id string, labels map[string]string) error {
	if _, err := s.exec(ctx, tx, ("DELETE FROM " + table + " WHERE " + fk + " = ?"), id); err != nil {
		return err
	}
	for k, v := range labels {
		if _, err := s.exec(ctx, tx, ("INSERT INTO " + table + " (" + fk + ", key, value) VALUES (?,?,?)"), id, k, v); err != nil {
			return err
		}
	}
	return nil
}

// CreateApplication implements store.ApplicationStore.
func (s *Store) CreateApplication(ctx context.Context, a *model.Application) error {
	normaliseApp(a)
	a.Revision = 1
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, "INSERT INTO applications ("+appCols+", identity_key) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
			append(append([]any{a.ID}, appArgs(a)...), identityKey(a.AgentID, a.GitPath))...); err != nil {
			return err
		}
		return s.writeLabels(ctx, tx, "application_labels", "application_id", a.ID, a.Labels)
	})
}

// GetApplication implements store.ApplicationStore.
func (s *Store) GetApplication(ctx context.Context, id string) (*model.Application, error) {
	return s.getApp(ctx, s.r, id)
}

func (s *Store) getApp(ctx context.Context, q queryer, id string) (*model.Application, error) {
	a, err := scanApp(s.queryRow(ctx, q, "SELECT "+appCols+" FROM applications WHERE id = ?", id))
	if err != nil {
		return nil, s.wrap(notFound(err, "application", id))
	}
	return a, nil
}

// ListApplications implements store.ApplicationStore.
func (s *Store) ListApplications(ctx context.Context, f store.ApplicationFilter, p store.Page) ([]*model.Application, string, error) {
	hash := queryHash("applications", f)
	cur, err := decodeCursor(p.Cursor, hash)
	if err != nil {
		return nil, "", err
	}
	var w where
	w.eq("project_id", f.ProjectID)
	w.eq("agent_id", f.AgentID)
	w.eq("name", f.Name)
	w.contains("name", f.NameContains)
	w.eq("kind", string(f.Kind))
	w.eq("sync_status", string(f.SyncStatus))
	w.eq("health", string(f.Health))
	w.boolean("disabled", f.Disabled)
	w.in("id", f.IDs)
	configAt(&w, f.RepoID, f.ConfigPath)
	w.labels("application_labels", "application_id", "applications", f.Labels)
	if cur != nil {
		w.add("(name > ? OR (name = ? AND id > ?))", cur.Key, cur.Key, cur.ID)
	}
	n := limit(p)
	rows, err := s.query(ctx, s.r, ("SELECT " + appCols + " FROM applications" + w.sql() + " ORDER BY name, id LIMIT ?"), append(w.args, n+1)...)
	if err != nil {
		return nil, "", s.wrap(err)
	}
	defer rows.Close()
	var out []*model.Application
	for rows.Next() {
		a, err := scanApp(rows)
		if err != nil {
			return nil, "", s.wrap(err)
		}
		out = append(out, a)
	}
	if err := rows.Err(); err != nil {
		return nil, "", s.wrap(err)
	}
	next := ""
	if len(out) > n {
		out = out[:n]
		last := out[n-1]
		next = cursor{Key: last.Name, ID: last.ID, Query: hash}.encode()
	}
	return out, next, nil
}

// UpdateApplication implements store.ApplicationStore.
func (s *Store) UpdateApplication(ctx context.Context, id string, mutate func(*model.Application) error) (*model.Application, error) {
	var out *model.Application
	err := retry(ctx, "update application "+id, func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			return s.updateApp(ctx, tx, id, func(a *model.Application) error {
				if err := mutate(a); err != nil {
					return err
				}
				out = a
				return nil
			})
		})
	})
	return out, err
}

// updateApp applies mutate to an application within tx; errStale when
// another writer got there first.
func (s *Store) updateApp(ctx context.Context, tx *sql.Tx, id string, mutate func(*model.Application) error) error {
	a, err := s.getApp(ctx, tx, id)
	if err != nil {
		return err
	}
	rev, labels := a.Revision, toJSON(a.Labels)
	if err := mutate(a); err != nil {
		return err
	}
	a.ID, a.Revision, a.UpdatedAt = id, rev+1, now()
	normaliseApp(a)
	res, err := s.exec(ctx, tx, (`UPDATE applications SET project_id=?, name=?, kind=?, agent_id=?, platform_provider=?, git_path=?,
		labels=?, description=?, sync_status=?, sync_state=?, deploying=?, most_recent=?, most_recent_successful=?, disabled=?,
		created_at=?, updated_at=?, revision=?, health=?, config_warnings=?, identity_key=? WHERE id=? AND revision=?`),
		append(appArgs(a), identityKey(a.AgentID, a.GitPath), id, rev)...)
	if err != nil {
		return err
	}
	if err := checkUpdated(res); err != nil {
		return err
	}
	if toJSON(a.Labels) != labels {
		return s.writeLabels(ctx, tx, "application_labels", "application_id", id, a.Labels)
	}
	return nil
}

// DeleteApplication implements store.ApplicationStore.
func (s *Store) DeleteApplication(ctx context.Context, id string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, ("DELETE FROM application_labels WHERE application_id = ?"), id); err != nil {
			return err
		}
		res, err := s.exec(ctx, tx, ("DELETE FROM applications WHERE id = ?"), id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return model.NotFound("application", id)
		}
		return nil
	})
}
