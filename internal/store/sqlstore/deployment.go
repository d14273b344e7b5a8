package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"reflect"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

const deploymentCols = `id, project_id, application_id, application_name, agent_id, kind, platform_provider, git_path, labels,
	trigger_info, running_commit_hash, summary, status, status_reason, metadata, operations, created_at, updated_at, completed_at, revision,
	request_id`

const stageCols = `deployment_id, id, idx, name, description, requires, visible, rollback, status, status_reason, metadata,
	retried_count, created_at, started_at, completed_at, updated_at, revision`

func scanDeployment(sc scanner) (*model.Deployment, error) {
	var d model.Deployment
	err := sc.Scan(&d.ID, &d.ProjectID, &d.ApplicationID, &d.ApplicationName, &d.AgentID, &d.Kind, &d.PlatformProvider,
		jsonCol{&d.GitPath}, jsonCol{&d.Labels}, jsonCol{&d.Trigger}, &d.RunningCommitHash, &d.Summary, &d.Status,
		&d.StatusReason, jsonCol{&d.Metadata}, jsonCol{&d.Operations}, timeCol{&d.CreatedAt}, timeCol{&d.UpdatedAt},
		timeCol{&d.CompletedAt}, &d.Revision, &d.RequestID)
	d.Labels, d.Metadata = emptyMapNil(d.Labels), emptyMapNil(d.Metadata)
	return &d, err
}

func deploymentArgs(d *model.Deployment) []any {
	return []any{d.ProjectID, d.ApplicationID, d.ApplicationName, d.AgentID, string(d.Kind), d.PlatformProvider,
		toJSON(d.GitPath), toJSON(d.Labels), toJSON(d.Trigger), d.RunningCommitHash, d.Summary, string(d.Status),
		d.StatusReason, toJSON(d.Metadata), toJSON(d.Operations), toMicros(d.CreatedAt), toMicros(d.UpdatedAt),
		toMicros(d.CompletedAt), d.Revision}
}

func normaliseDeployment(d *model.Deployment) {
	d.CreatedAt, d.UpdatedAt, d.CompletedAt = trunc(d.CreatedAt), trunc(d.UpdatedAt), trunc(d.CompletedAt)
	d.Trigger.Timestamp, d.Trigger.Commit.Timestamp = trunc(d.Trigger.Timestamp), trunc(d.Trigger.Commit.Timestamp)
	d.Labels, d.Metadata = emptyMapNil(d.Labels), emptyMapNil(d.Metadata)
	for i := range d.Operations {
		d.Operations[i].At = trunc(d.Operations[i].At)
	}
	for _, st := range d.Stages {
		normaliseStage(st)
	}
}

func scanStage(sc scanner) (*model.Stage, error) {
	var st model.Stage
	var deploymentID string
	err := sc.Scan(&deploymentID, &st.ID, &st.Index, &st.Name, &st.Description, jsonCol{&st.Requires}, boolCol{&st.Visible},
		boolCol{&st.Rollback}, &st.Status, &st.StatusReason, jsonCol{&st.Metadata}, &st.RetriedCount, timeCol{&st.CreatedAt},
		timeCol{&st.StartedAt}, timeCol{&st.CompletedAt}, timeCol{&st.UpdatedAt}, &st.Revision)
	st.Metadata = emptyMapNil(st.Metadata)
	if len(st.Requires) == 0 {
		st.Requires = nil
	}
	return &st, err
}

func stageArgs(st *model.Stage) []any {
	return []any{st.Index, st.Name, st.Description, toJSON(st.Requires), boolInt(st.Visible), boolInt(st.Rollback),
		string(st.Status), st.StatusReason, toJSON(st.Metadata), st.RetriedCount, toMicros(st.CreatedAt),
		toMicros(st.StartedAt), toMicros(st.CompletedAt), toMicros(st.UpdatedAt), st.Revision}
}

func normaliseStage(st *model.Stage) {
	st.CreatedAt, st.StartedAt, st.CompletedAt, st.UpdatedAt = trunc(st.CreatedAt), trunc(st.StartedAt), trunc(st.CompletedAt), trunc(st.UpdatedAt)
	st.Metadata = emptyMapNil(st.Metadata)
	if len(st.Requires) == 0 {
		st.Requires = nil
	}
}

func cloneStage(st *model.Stage) *model.Stage {
	c := *st
	c.Metadata = cloneMap(st.Metadata)
	c.Requires = append([]string(nil), st.Requires...)
	return &c
}

func (s *Store) insertStage(ctx context.Context, tx *sql.Tx, deploymentID string, st *model.Stage) error {
	if st.CreatedAt.IsZero() {
		st.CreatedAt = now()
	}
	if st.UpdatedAt.IsZero() {
		st.UpdatedAt = st.CreatedAt
	}
	normaliseStage(st)
	st.Revision = 1
	_, err := s.exec(ctx, tx, "INSERT INTO stages ("+stageCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		append([]any{deploymentID, st.ID}, stageArgs(st)...)...)
	if err != nil {
		return fmt.Errorf("insert stage %s: %w", st.ID, err)
	}
	return nil
}

// CreateDeployment implements store.DeploymentStore.
func (s *Store) CreateDeployment(ctx context.Context, d *model.Deployment) error {
	return s.CreateDeploymentWithApp(ctx, d, nil)
}

// CreateDeploymentWithApp implements store.DeploymentStore.
func (s *Store) CreateDeploymentWithApp(ctx context.Context, d *model.Deployment, app func(*model.Application) error) error {
	normaliseDeployment(d)
	d.Revision = 1
	return retry(ctx, "create deployment "+d.ID, func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			if d.RequestID != "" {
				var id string
				err := s.queryRow(ctx, tx, "SELECT id FROM deployments WHERE application_id = ? AND request_id = ?", d.ApplicationID, d.RequestID).Scan(&id)
				if err == nil {
					return model.Errorf(model.KindAlreadyExists, "application %s already has deployment %s of request %s", d.ApplicationID, id, d.RequestID)
				}
				if !errors.Is(err, sql.ErrNoRows) {
					return err
				}
			}
			if _, err := s.exec(ctx, tx, "INSERT INTO deployments ("+deploymentCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
				append(append([]any{d.ID}, deploymentArgs(d)...), d.RequestID)...); err != nil {
				return err
			}
			for _, st := range d.Stages {
				if err := s.insertStage(ctx, tx, d.ID, st); err != nil {
					return err
				}
			}
			if err := s.writeLabels(ctx, tx, "deployment_labels", "deployment_id", d.ID, d.Labels); err != nil {
				return err
			}
			if app == nil {
				return nil
			}
			return s.updateApp(ctx, tx, d.ApplicationID, app)
		})
	})
}

// GetDeployment implements store.DeploymentStore.
func (s *Store) GetDeployment(ctx context.Context, id string) (*model.Deployment, error) {
	return s.getDeployment(ctx, s.r, id)
}

func (s *Store) getDeployment(ctx context.Context, q queryer, id string) (*model.Deployment, error) {
	d, err := scanDeployment(s.queryRow(ctx, q, "SELECT "+deploymentCols+" FROM deployments WHERE id = ?", id))
	if err != nil {
		return nil, s.wrap(notFound(err, "deployment", id))
	}
	if err := s.loadStages(ctx, q, []*model.Deployment{d}); err != nil {
		return nil, err
	}
	return d, nil
}

// loadStages fills the stages of ds with one query.
func (s *Store) loadStages(ctx context.Context, q queryer, ds []*model.Deployment) error {
	if len(ds) == 0 {
		return nil
	}
	byID := make(map[string]*model.Deployment, len(ds))
	ids := make([]string, len(ds))
	for i, d := range ds {
		byID[d.ID], ids[i] = d, d.ID
	}
	var w where
	w.in("deployment_id", ids)
	rows, err := s.query(ctx, q, ("SELECT " + stageCols + " FROM stages" + w.sql() + " ORDER BY deployment_id, idx, id"), w.args...)
	if err != nil {
		return s.wrap(err)
	}
	defer rows.Close()
	for rows.Next() {
		var dep string
		st, err := scanStage(deploymentIDScanner{rows, &dep})
		if err != nil {
			return s.wrap(err)
		}
		if d := byID[dep]; d != nil {
			d.Stages = append(d.Stages, st)
		}
	}
	return s.wrap(rows.Err())
}

// deploymentIDScanner captures the first column (deployment_id) for the
// caller while scanStage reads the rest.
type deploymentIDScanner struct {
	rows *sql.Rows
	dep  *string
}

func (d deploymentIDScanner) Scan(dest ...any) error {
	dest[0] = d.dep
	return d.rows.Scan(dest...)
}

// ListDeployments implements store.DeploymentStore.
func (s *Store) ListDeployments(ctx context.Context, f store.DeploymentFilter, p store.Page) ([]*model.Deployment, string, error) {
	hash := queryHash("deployments", f)
	cur, err := decodeCursor(p.Cursor, hash)
	if err != nil {
		return nil, "", err
	}
	var w where
	w.eq("project_id", f.ProjectID)
	w.eq("application_id", f.ApplicationID)
	w.eq("agent_id", f.AgentID)
	w.eq("kind", string(f.Kind))
	w.eq("request_id", f.RequestID)
	statuses := make([]string, len(f.Statuses))
	for i, st := range f.Statuses {
		statuses[i] = string(st)
	}
	w.in("status", statuses)
	if !f.CreatedAfter.IsZero() {
		w.add("created_at >= ?", toMicros(f.CreatedAfter))
	}
	w.labels("deployment_labels", "deployment_id", "deployments", f.Labels)
	if cur != nil {
		w.add("(created_at < ? OR (created_at = ? AND id < ?))", cur.Time, cur.Time, cur.ID)
	}
	n := limit(p)
	rows, err := s.query(ctx, s.r, ("SELECT " + deploymentCols + " FROM deployments" + w.sql() + " ORDER BY created_at DESC, id DESC LIMIT ?"), append(w.args, n+1)...)
	if err != nil {
		return nil, "", s.wrap(err)
	}
	var out []*model.Deployment
	for rows.Next() {
		d, err := scanDeployment(rows)
		if err != nil {
			rows.Close()
			return nil, "", s.wrap(err)
		}
		out = append(out, d)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", s.wrap(err)
	}
	next := ""
	if len(out) > n {
		out = out[:n]
		last := out[n-1]
		next = cursor{Time: toMicros(last.CreatedAt), ID: last.ID, Query: hash}.encode()
	}
	if err := s.loadStages(ctx, s.r, out); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// UpdateDeployment implements store.DeploymentStore.
func (s *Store) UpdateDeployment(ctx context.Context, id string, mutate func(*model.Deployment) error) (*model.Deployment, error) {
	return s.UpdateDeploymentWithApp(ctx, id, mutate, nil)
}

// UpdateDeploymentWithApp implements store.DeploymentStore.
func (s *Store) UpdateDeploymentWithApp(ctx context.Context, id string, mutate func(*model.Deployment) error, app func(*model.Application, *model.Deployment) error) (*model.Deployment, error) {
	var out *model.Deployment
	err := retry(ctx, "update deployment "+id, func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			d, err := s.getDeployment(ctx, tx, id)
			if err != nil {
				return err
			}
			rev, labels := d.Revision, toJSON(d.Labels)
			before := make(map[string]*model.Stage, len(d.Stages))
			for _, st := range d.Stages {
				before[st.ID] = cloneStage(st)
			}
			if err := mutate(d); err != nil {
				return err
			}
			d.ID, d.Revision, d.UpdatedAt = id, rev+1, now()
			normaliseDeployment(d)
			res, err := s.exec(ctx, tx, (`UPDATE deployments SET project_id=?, application_id=?, application_name=?, agent_id=?, kind=?,
				platform_provider=?, git_path=?, labels=?, trigger_info=?, running_commit_hash=?, summary=?, status=?, status_reason=?,
				metadata=?, operations=?, created_at=?, updated_at=?, completed_at=?, revision=? WHERE id=? AND revision=?`),
				append(deploymentArgs(d), id, rev)...)
			if err != nil {
				return err
			}
			if err := checkUpdated(res); err != nil {
				return err
			}
			if err := s.writeChangedStages(ctx, tx, d, before); err != nil {
				return err
			}
			if toJSON(d.Labels) != labels {
				if err := s.writeLabels(ctx, tx, "deployment_labels", "deployment_id", id, d.Labels); err != nil {
					return err
				}
			}
			if app != nil {
				err := s.updateApp(ctx, tx, d.ApplicationID, func(a *model.Application) error { return app(a, d) })
				if err != nil && !model.IsKind(err, model.KindNotFound) {
					return err
				}
			}
			out = d
			return nil
		})
	})
	return out, err
}

// writeChangedStages writes the stages mutate changed or appended, and
// deletes those it dropped (a re-plan replaces the stage list).
func (s *Store) writeChangedStages(ctx context.Context, tx *sql.Tx, d *model.Deployment, before map[string]*model.Stage) error {
	seen := make(map[string]bool, len(d.Stages))
	for _, st := range d.Stages {
		seen[st.ID] = true
		old, ok := before[st.ID]
		if !ok {
			if err := s.insertStage(ctx, tx, d.ID, st); err != nil {
				return err
			}
			continue
		}
		if reflect.DeepEqual(old, st) {
			continue
		}
		rev := old.Revision
		st.Revision, st.UpdatedAt = rev+1, now()
		res, err := s.exec(ctx, tx, (`UPDATE stages SET idx=?, name=?, description=?, requires=?, visible=?, rollback=?, status=?,
			status_reason=?, metadata=?, retried_count=?, created_at=?, started_at=?, completed_at=?, updated_at=?, revision=?
			WHERE deployment_id=? AND id=? AND revision=?`), append(stageArgs(st), d.ID, st.ID, rev)...)
		if err != nil {
			return err
		}
		if err := checkUpdated(res); err != nil {
			return err
		}
	}
	for id := range before {
		if !seen[id] {
			if _, err := s.exec(ctx, tx, ("DELETE FROM stages WHERE deployment_id = ? AND id = ?"), d.ID, id); err != nil {
				return err
			}
		}
	}
	return nil
}

// UpdateStage implements store.DeploymentStore.
func (s *Store) UpdateStage(ctx context.Context, deploymentID, stageID string, mutate func(*model.Stage) error) (*model.Stage, error) {
	var out *model.Stage
	err := retry(ctx, "update stage "+stageID, func() error {
		return s.inTx(ctx, func(tx *sql.Tx) error {
			st, err := scanStage(s.queryRow(ctx, tx, "SELECT "+stageCols+" FROM stages WHERE deployment_id = ? AND id = ?", deploymentID, stageID))
			if err != nil {
				return notFound(err, "stage", deploymentID+"/"+stageID)
			}
			before := cloneStage(st)
			if err := mutate(st); err != nil {
				return err
			}
			st.ID = stageID
			normaliseStage(st)
			if reflect.DeepEqual(before, st) {
				out = st
				return nil
			}
			rev := before.Revision
			st.Revision, st.UpdatedAt = rev+1, now()
			res, err := s.exec(ctx, tx, (`UPDATE stages SET idx=?, name=?, description=?, requires=?, visible=?, rollback=?, status=?,
				status_reason=?, metadata=?, retried_count=?, created_at=?, started_at=?, completed_at=?, updated_at=?, revision=?
				WHERE deployment_id=? AND id=? AND revision=?`), append(stageArgs(st), deploymentID, stageID, rev)...)
			if err != nil {
				return err
			}
			out = st
			return checkUpdated(res)
		})
	})
	return out, err
}

// maxLogBlocksPerAppend bounds one AppendLogBlocks call.
const maxLogBlocksPerAppend = 1000

// AppendLogBlocks implements store.DeploymentStore. The stage's running
// totals (stage_log_totals) are read and written in the same transaction,
// so the limits hold without counting rows.
func (s *Store) AppendLogBlocks(ctx context.Context, deploymentID, stageID string, blocks []model.LogBlock) error {
	if len(blocks) > maxLogBlocksPerAppend {
		return model.Invalid("%d log blocks in one append; send at most %d", len(blocks), maxLogBlocksPerAppend)
	}
	for _, b := range blocks {
		if len(b.Log) > model.MaxLogBlockBytes {
			return model.Invalid("log block %d is %d bytes; the limit is %d", b.Index, len(b.Log), model.MaxLogBlockBytes)
		}
		if b.Index == model.LogCutIndex {
			return model.Invalid("log block index %d is reserved for the cut marker", b.Index)
		}
	}
	if len(blocks) == 0 {
		return nil
	}
	return s.inTx(ctx, func(tx *sql.Tx) error {
		var t logTotals
		err := s.queryRow(ctx, tx, "SELECT blocks, bytes, cut_blocks, cut_bytes, cut_last FROM stage_log_totals WHERE deployment_id = ? AND stage_id = ?",
			deploymentID, stageID).Scan(&t.blocks, &t.bytes, &t.cut.Blocks, &t.cut.Bytes, &t.cutLast)
		if errors.Is(err, sql.ErrNoRows) {
			t.cutLast = -1
		} else if err != nil {
			return err
		}
		for _, b := range blocks {
			size := int64(len(b.Log))
			// Once anything is cut, everything after is too: a log has no
			// gaps in the middle.
			if t.cut.Blocks > 0 || t.blocks+1 > model.MaxStageLogBlocks || t.bytes+size > model.MaxStageLogBytes {
				if b.Index > t.cutLast { // not a resend of a block counted already
					t.cut.Blocks, t.cut.Bytes, t.cutLast = t.cut.Blocks+1, t.cut.Bytes+size, b.Index
				}
				continue
			}
			created := b.CreatedAt
			if created.IsZero() {
				created = now()
			}
			res, err := s.exec(ctx, tx, "INSERT INTO stage_logs (deployment_id, stage_id, idx, severity, log, created_at) VALUES (?,?,?,?,?,?) ON CONFLICT DO NOTHING",
				deploymentID, stageID, b.Index, string(b.Severity), b.Log, toMicros(created))
			if err != nil {
				return err
			}
			if n, _ := res.RowsAffected(); n > 0 {
				t.blocks, t.bytes = t.blocks+1, t.bytes+size
			}
		}
		_, err = s.exec(ctx, tx, `INSERT INTO stage_log_totals (deployment_id, stage_id, blocks, bytes, cut_blocks, cut_bytes, cut_last) VALUES (?,?,?,?,?,?,?)
			ON CONFLICT (deployment_id, stage_id) DO UPDATE SET blocks = excluded.blocks, bytes = excluded.bytes,
			cut_blocks = excluded.cut_blocks, cut_bytes = excluded.cut_bytes, cut_last = excluded.cut_last`,
			deploymentID, stageID, t.blocks, t.bytes, t.cut.Blocks, t.cut.Bytes, t.cutLast)
		return err
	})
}

// logTotals is a stage's row of stage_log_totals.
type logTotals struct {
	blocks, bytes int64
	cut           model.LogCut
	cutLast       int64
}

// StageLogCut implements store.DeploymentStore.
func (s *Store) StageLogCut(ctx context.Context, deploymentID, stageID string) (model.LogCut, error) {
	var c model.LogCut
	err := s.queryRow(ctx, s.r, "SELECT cut_blocks, cut_bytes FROM stage_log_totals WHERE deployment_id = ? AND stage_id = ?",
		deploymentID, stageID).Scan(&c.Blocks, &c.Bytes)
	if errors.Is(err, sql.ErrNoRows) {
		return model.LogCut{}, nil
	}
	return c, s.wrap(err)
}

// ListLogBlocks implements store.DeploymentStore.
func (s *Store) ListLogBlocks(ctx context.Context, deploymentID, stageID string, after int64, max int) ([]model.LogBlock, error) {
	query := "SELECT idx, severity, log, created_at FROM stage_logs WHERE deployment_id = ? AND stage_id = ? AND idx > ? ORDER BY idx"
	args := []any{deploymentID, stageID, after}
	if max > 0 {
		query += " LIMIT ?"
		args = append(args, max)
	}
	rows, err := s.query(ctx, s.r, (query), args...)
	if err != nil {
		return nil, s.wrap(err)
	}
	defer rows.Close()
	var out []model.LogBlock
	for rows.Next() {
		var b model.LogBlock
		if err := rows.Scan(&b.Index, &b.Severity, &b.Log, timeCol{&b.CreatedAt}); err != nil {
			return nil, s.wrap(err)
		}
		out = append(out, b)
	}
	return out, s.wrap(rows.Err())
}

// DeleteLogBlocks implements store.DeploymentStore.
func (s *Store) DeleteLogBlocks(ctx context.Context, deploymentID, stageID string) error {
	return s.inTx(ctx, func(tx *sql.Tx) error {
		if _, err := s.exec(ctx, tx, "DELETE FROM stage_logs WHERE deployment_id = ? AND stage_id = ?", deploymentID, stageID); err != nil {
			return err
		}
		_, err := s.exec(ctx, tx, "DELETE FROM stage_log_totals WHERE deployment_id = ? AND stage_id = ?", deploymentID, stageID)
		return err
	})
}
