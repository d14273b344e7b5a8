package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/trigger"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
)

// run is one deployment's run: what its stages share.
type run struct {
	d        *ferryv1.Deployment
	provider platform.Provider
	in       platform.StageInput
	ctl      *Control
	// withRunning checks out the running commit into in, once.
	withRunning func(*platform.StageInput)
	// changed lists the files changed since the running commit, for
	// skipOn.paths, reading them once; it errs when they cannot be known
	// (a first deploy).
	changed func() ([]string, error)
}

// execute runs the planned stages in order, then, when a stage failed or
// the deployment was cancelled, its rollback stages (the running commit
// checked out for them), unless a cancel asked for no rollback. agentCtx
// ends when the agent stops (the deployment is then left RUNNING); runCtx
// also ends on cancel and timeout.
func (s *Scheduler) execute(agentCtx, runCtx context.Context, r *run) error {
	d := r.d
	if d.GetStatus() != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING && d.GetStatus() != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_ROLLING_BACK {
		if err := s.setStatus(agentCtx, d, ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING, ""); err != nil {
			return err
		}
	}
	var (
		failed    *ferryv1.Stage
		reason    string
		rollbacks []*ferryv1.Stage
		final     = ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS
		// exited: a stage ended EXITED; the stages after it do not run
		// and the deployment succeeds.
		exited bool
	)
	for _, st := range d.GetStages() {
		if st.GetRollback() {
			rollbacks = append(rollbacks, st)
			continue
		}
		if failed != nil || exited {
			continue
		}
		if completed(st.GetStatus()) {
			// Resumed: an earlier run of this agent finished this stage.
			switch st.GetStatus() {
			case ferryv1.StageStatus_STAGE_STATUS_EXITED:
				exited = true
			case ferryv1.StageStatus_STAGE_STATUS_FAILURE:
				failed, reason, final = st, fmt.Sprintf("stage %s: %s", st.GetName(), st.GetStatusReason()), ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE
			case ferryv1.StageStatus_STAGE_STATUS_CANCELLED:
				failed, reason, final = st, fmt.Sprintf("stage %s: %s", st.GetName(), st.GetStatusReason()), ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED
			}
			continue
		}
		status, why := s.runStage(agentCtx, runCtx, r, st)
		if agentCtx.Err() != nil {
			return nil // the agent is stopping; resume later
		}
		if status == ferryv1.StageStatus_STAGE_STATUS_EXITED {
			exited = true
			continue
		}
		if status != ferryv1.StageStatus_STAGE_STATUS_SUCCESS && status != ferryv1.StageStatus_STAGE_STATUS_SKIPPED {
			failed, reason = st, fmt.Sprintf("stage %s: %s", st.GetName(), why)
			final = ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE
			if status == ferryv1.StageStatus_STAGE_STATUS_CANCELLED {
				final = ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED
			}
		}
	}
	if failed != nil && len(rollbacks) > 0 {
		var err error
		if reason, err = s.rollBack(agentCtx, r, rollbacks, final, reason); err != nil || agentCtx.Err() != nil {
			return err
		}
	}
	return s.complete(agentCtx, d, final, reason)
}

// rollBack runs the rollback stages not yet completed, in order, and
// returns the deployment's reason with how the rollback went. A cancel
// that asked for no rollback marks them SKIPPED instead.
func (s *Scheduler) rollBack(agentCtx context.Context, r *run, rollbacks []*ferryv1.Stage, final ferryv1.DeploymentStatus, reason string) (string, error) {
	d := r.d
	if final == ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED && r.ctl.skipRollback() {
		for _, st := range rollbacks {
			if !completed(st.GetStatus()) {
				s.reportStage(agentCtx, d, st, ferryv1.StageStatus_STAGE_STATUS_SKIPPED, "cancelled without rollback, as asked")
			}
		}
		return reason + "; not rolled back, as the cancel asked", nil
	}
	if d.GetStatus() != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_ROLLING_BACK {
		if err := s.setStatus(agentCtx, d, ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_ROLLING_BACK, reason); err != nil {
			return reason, err
		}
		d.Status = ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_ROLLING_BACK
	}
	r.withRunning(&r.in)
	var problems []string
	for _, st := range rollbacks {
		if completed(st.GetStatus()) {
			if st.GetStatus() == ferryv1.StageStatus_STAGE_STATUS_FAILURE {
				problems = append(problems, fmt.Sprintf("%s failed: %s", st.GetName(), st.GetStatusReason()))
			}
			continue
		}
		if st.GetName() == StageScriptRunRollback {
			if orig := stageByID(d, firstOf(st.GetRequires())); orig == nil || orig.GetStatus() == ferryv1.StageStatus_STAGE_STATUS_NOT_STARTED_YET {
				s.reportStage(agentCtx, d, st, ferryv1.StageStatus_STAGE_STATUS_SKIPPED, "its SCRIPT_RUN stage never ran")
				continue
			}
		}
		// Rollback runs even after a cancel or timeout, bounded on its own.
		rctx, cancel := context.WithTimeout(agentCtx, DefaultTimeout)
		status, why := s.runStage(agentCtx, rctx, r, st)
		cancel()
		if agentCtx.Err() != nil {
			return reason, nil
		}
		if status != ferryv1.StageStatus_STAGE_STATUS_SUCCESS && status != ferryv1.StageStatus_STAGE_STATUS_SKIPPED {
			problems = append(problems, fmt.Sprintf("%s failed: %s", st.GetName(), why))
		}
	}
	if len(problems) > 0 {
		return reason + "; rollback: " + strings.Join(problems, "; "), nil
	}
	return reason + "; rolled back", nil
}

func firstOf(ss []string) string {
	if len(ss) == 0 {
		return ""
	}
	return ss[0]
}

func stageByID(d *ferryv1.Deployment, id string) *ferryv1.Stage {
	for _, st := range d.GetStages() {
		if st.GetId() == id {
			return st
		}
	}
	return nil
}

// stageConfig is the pipeline's config of a stage: by its id, or, for a
// SCRIPT_RUN_ROLLBACK, its SCRIPT_RUN's. Nil for the planner's own stages.
func stageConfig(app *config.AppConfig, st *ferryv1.Stage) *config.PipelineStage {
	if app == nil || app.Generic == nil || app.Generic.Pipeline == nil {
		return nil
	}
	// A quick sync's stage has an id ("stage-0") a pipeline stage may
	// have too: the name must match as well.
	id, name := st.GetId(), st.GetName()
	if name == StageScriptRunRollback {
		id, name = firstOf(st.GetRequires()), "SCRIPT_RUN"
	} else if st.GetRollback() {
		return nil
	}
	for i := range app.Generic.Pipeline.Stages {
		if ps := &app.Generic.Pipeline.Stages[i]; ps.ID == id && ps.Name == name {
			return ps
		}
	}
	return nil
}

// reportStage records a stage's status; a failure to report is logged.
func (s *Scheduler) reportStage(ctx context.Context, d *ferryv1.Deployment, st *ferryv1.Stage, status ferryv1.StageStatus, reason string) {
	st.Status, st.StatusReason = status, reason
	if _, err := s.Client.ReportStageStatusChanged(ctx, connect.NewRequest(&ferryv1.ReportStageStatusChangedRequest{
		DeploymentId: d.GetId(), StageId: st.GetId(), Status: status, StatusReason: reason, RetriedCount: st.GetRetriedCount(),
	})); err != nil && ctx.Err() == nil {
		s.Logger.WarnContext(ctx, "report stage status", "deployment_id", d.GetId(), "stage", st.GetName(), "error", err)
	}
}

// runStage runs one stage and reports its status; it returns the status and,
// when not a success, why.
func (s *Scheduler) runStage(agentCtx, runCtx context.Context, r *run, st *ferryv1.Stage) (ferryv1.StageStatus, string) {
	d := r.d
	log := openStageLog(s.Client, s.Logger, d.GetId(), st.GetId())
	defer log.Close()
	in := r.in
	in.Stage, in.Log, in.Config = st, log, stageConfig(in.App, st)
	exec := s.Stages[st.GetName()]
	if exec == nil {
		exec = r.provider.Executor(st.GetName())
	}
	refused := s.Disabled[disabledName(st.GetName())] // planned before the agent's config disabled it
	if exec == nil && refused == "" {
		refused = fmt.Sprintf("stage %s is not supported by platform provider %s", st.GetName(), r.provider.Name())
	}
	if refused != "" {
		log.Error(refused)
		s.reportStage(agentCtx, d, st, ferryv1.StageStatus_STAGE_STATUS_FAILURE, refused)
		return ferryv1.StageStatus_STAGE_STATUS_FAILURE, refused
	}
	if why := skipOn(r, in.Config); why != "" {
		log.Info("Skipped: " + why)
		s.reportStage(agentCtx, d, st, ferryv1.StageStatus_STAGE_STATUS_SKIPPED, why)
		return ferryv1.StageStatus_STAGE_STATUS_SKIPPED, why
	}
	s.reportStage(agentCtx, d, st, ferryv1.StageStatus_STAGE_STATUS_RUNNING, "")
	in.Metadata = &stageMetadata{client: s.Client, deploymentID: d.GetId(), stageID: st.GetId(), kv: st.GetMetadata()}
	sctx, skip := context.WithCancelCause(runCtx)
	defer skip(nil)
	if in.Config != nil && in.Config.Timeout > 0 && st.GetName() != StageScriptRunRollback {
		t := in.Config.Timeout.Std()
		var stop context.CancelFunc
		sctx, stop = context.WithTimeoutCause(sctx, t, fmt.Errorf("the stage took longer than its timeout of %s", t))
		defer stop()
	}
	running := &runningStage{id: st.GetId(), name: st.GetName(), skip: skip}
	if st.GetName() == StageWaitApproval {
		running.approvals = make(chan platform.Approval)
		in.Approvals = running.approvals
	}
	r.ctl.enter(running)
	defer r.ctl.leave()
	start := time.Now()
	err := safeExecute(sctx, exec, in)
	s.Logger.DebugContext(agentCtx, "stage executed", "deployment_id", d.GetId(), "stage", st.GetName(), "duration", time.Since(start), "error", err)
	var status ferryv1.StageStatus
	var why string
	switch {
	case agentCtx.Err() != nil:
		return ferryv1.StageStatus_STAGE_STATUS_RUNNING, ""
	case errors.Is(context.Cause(sctx), ErrSkipped) && runCtx.Err() == nil:
		status, why = ferryv1.StageStatus_STAGE_STATUS_SKIPPED, ErrSkipped.Error()
		log.Info("Skipped by a command")
	case err == nil:
		status = ferryv1.StageStatus_STAGE_STATUS_SUCCESS
	case errors.Is(err, platform.ErrExited):
		status = ferryv1.StageStatus_STAGE_STATUS_EXITED
		why = err.Error()
		log.Success(why)
	case sctx.Err() != nil:
		why = context.Cause(sctx).Error()
		status = ferryv1.StageStatus_STAGE_STATUS_FAILURE
		if errors.Is(context.Cause(sctx), ErrCancelled) {
			status = ferryv1.StageStatus_STAGE_STATUS_CANCELLED
		}
		log.Error(why)
	default:
		status, why = ferryv1.StageStatus_STAGE_STATUS_FAILURE, err.Error()
		log.Error(why)
	}
	s.reportStage(agentCtx, d, st, status, why)
	return status, why
}

// skipOn says why a stage is skipped by its skipOn (PipeCD's: the commit
// message starts with one of the prefixes, or every file changed since the
// running commit matches one of the paths), or "" when it runs.
func skipOn(r *run, ps *config.PipelineStage) string {
	if ps == nil {
		return ""
	}
	on := ps.SkipOn
	if on == nil {
		if opts, err := ps.StageOptions(); err == nil {
			if o, ok := opts.(interface{ StageSkipOn() *config.SkipOn }); ok {
				on = o.StageSkipOn()
			}
		}
	}
	if on == nil {
		return ""
	}
	msg := r.d.GetTrigger().GetCommit().GetMessage()
	for _, p := range on.CommitMessagePrefixes {
		if p != "" && strings.HasPrefix(msg, p) {
			return fmt.Sprintf("the commit message starts with %q (skipOn.commitMessagePrefixes)", p)
		}
	}
	if len(on.Paths) == 0 {
		return ""
	}
	files, err := r.changed()
	if err != nil || len(files) == 0 {
		return ""
	}
	for _, f := range files {
		if !trigger.MatchAny(on.Paths, f) {
			return ""
		}
	}
	return fmt.Sprintf("every changed file matches skipOn.paths (%d files)", len(files))
}

// safeExecute turns an executor's panic into a failure of its stage.
func safeExecute(ctx context.Context, e platform.StageExecutor, in platform.StageInput) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("the stage crashed: %v", p)
		}
	}()
	return e.Execute(ctx, in)
}

func (s *Scheduler) setStatus(ctx context.Context, d *ferryv1.Deployment, status ferryv1.DeploymentStatus, reason string) error {
	_, err := s.Client.ReportDeploymentStatusChanged(ctx, connect.NewRequest(&ferryv1.ReportDeploymentStatusChangedRequest{
		DeploymentId: d.GetId(), Status: status, StatusReason: reason,
	}))
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("report deployment %s %s: %w", d.GetId(), status, err)
	}
	return nil
}

// completed reports whether a stage status is final.
func completed(s ferryv1.StageStatus) bool {
	switch s {
	case ferryv1.StageStatus_STAGE_STATUS_SUCCESS, ferryv1.StageStatus_STAGE_STATUS_FAILURE,
		ferryv1.StageStatus_STAGE_STATUS_CANCELLED, ferryv1.StageStatus_STAGE_STATUS_SKIPPED,
		ferryv1.StageStatus_STAGE_STATUS_EXITED:
		return true
	}
	return false
}
