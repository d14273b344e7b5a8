package scheduler

import (
	"context"
	"errors"
	"fmt"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/platform"
)

// execute runs the planned stages in order, then the rollback stage when a
// stage failed or the deployment was cancelled (withRunning checks out the
// running commit for it). agentCtx ends when the agent
// stops (the deployment is then left RUNNING); runCtx also ends on cancel
// and timeout.
func (s *Scheduler) execute(agentCtx, runCtx context.Context, d *ferryv1.Deployment, p platform.Provider, in platform.StageInput, withRunning func(*platform.StageInput)) error {
	if d.GetStatus() != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING && d.GetStatus() != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_ROLLING_BACK {
		if err := s.setStatus(agentCtx, d, ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING, ""); err != nil {
			return err
		}
	}
	var (
		failed   *ferryv1.Stage
		reason   string
		rollback *ferryv1.Stage
		final    = ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS
	)
	for _, st := range d.GetStages() {
		if st.GetRollback() {
			rollback = st
			continue
		}
		if failed != nil {
			continue
		}
		if completed(st.GetStatus()) {
			// Resumed: an earlier run of this agent finished this stage.
			switch st.GetStatus() {
			case ferryv1.StageStatus_STAGE_STATUS_FAILURE:
				failed, reason, final = st, fmt.Sprintf("stage %s: %s", st.GetName(), st.GetStatusReason()), ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE
			case ferryv1.StageStatus_STAGE_STATUS_CANCELLED:
				failed, reason, final = st, fmt.Sprintf("stage %s: %s", st.GetName(), st.GetStatusReason()), ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED
			}
			continue
		}
		status, why := s.runStage(agentCtx, runCtx, d, st, p, in)
		if agentCtx.Err() != nil {
			return nil // the agent is stopping; resume later
		}
		if status == ferryv1.StageStatus_STAGE_STATUS_EXITED {
			break
		}
		if status != ferryv1.StageStatus_STAGE_STATUS_SUCCESS && status != ferryv1.StageStatus_STAGE_STATUS_SKIPPED {
			failed, reason = st, fmt.Sprintf("stage %s: %s", st.GetName(), why)
			final = ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE
			if status == ferryv1.StageStatus_STAGE_STATUS_CANCELLED {
				final = ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED
			}
		}
	}
	if failed != nil && rollback != nil && !completed(rollback.GetStatus()) {
		if err := s.setStatus(agentCtx, d, ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_ROLLING_BACK, reason); err != nil {
			return err
		}
		withRunning(&in)
		// Rollback runs even after a cancel or timeout, bounded on its own.
		rctx, cancel := context.WithTimeout(agentCtx, DefaultTimeout)
		status, why := s.runStage(agentCtx, rctx, d, rollback, p, in)
		cancel()
		if agentCtx.Err() != nil {
			return nil
		}
		if status != ferryv1.StageStatus_STAGE_STATUS_SUCCESS {
			reason += "; rollback failed: " + why
		} else {
			reason += "; rolled back"
		}
	}
	return s.complete(agentCtx, d, final, reason)
}

// runStage runs one stage and reports its status; it returns the status and,
// when not a success, why.
func (s *Scheduler) runStage(agentCtx, runCtx context.Context, d *ferryv1.Deployment, st *ferryv1.Stage, p platform.Provider, in platform.StageInput) (ferryv1.StageStatus, string) {
	log := openStageLog(s.Client, d.GetId(), st.GetId())
	defer log.Close()
	report := func(status ferryv1.StageStatus, reason string) {
		if _, err := s.Client.ReportStageStatusChanged(agentCtx, connect.NewRequest(&ferryv1.ReportStageStatusChangedRequest{
			DeploymentId: d.GetId(), StageId: st.GetId(), Status: status, StatusReason: reason, RetriedCount: st.GetRetriedCount(),
		})); err != nil && agentCtx.Err() == nil {
			s.Logger.WarnContext(agentCtx, "report stage status", "deployment_id", d.GetId(), "stage", st.GetName(), "error", err)
		}
	}
	exec := p.Executor(st.GetName())
	if exec == nil {
		why := fmt.Sprintf("stage %s is not supported by platform provider %s", st.GetName(), p.Name())
		log.Error(why)
		report(ferryv1.StageStatus_STAGE_STATUS_FAILURE, why)
		return ferryv1.StageStatus_STAGE_STATUS_FAILURE, why
	}
	report(ferryv1.StageStatus_STAGE_STATUS_RUNNING, "")
	in.Stage, in.Log = st, log
	in.Metadata = &stageMetadata{client: s.Client, deploymentID: d.GetId(), stageID: st.GetId(), kv: st.GetMetadata()}
	start := time.Now()
	err := safeExecute(runCtx, exec, in)
	s.Logger.DebugContext(agentCtx, "stage executed", "deployment_id", d.GetId(), "stage", st.GetName(), "duration", time.Since(start), "error", err)
	switch {
	case agentCtx.Err() != nil:
		return ferryv1.StageStatus_STAGE_STATUS_RUNNING, ""
	case err == nil:
		report(ferryv1.StageStatus_STAGE_STATUS_SUCCESS, "")
		return ferryv1.StageStatus_STAGE_STATUS_SUCCESS, ""
	case runCtx.Err() != nil:
		why := context.Cause(runCtx).Error()
		status := ferryv1.StageStatus_STAGE_STATUS_CANCELLED
		if !errors.Is(context.Cause(runCtx), ErrCancelled) {
			status = ferryv1.StageStatus_STAGE_STATUS_FAILURE
		}
		log.Error(why)
		report(status, why)
		return status, why
	default:
		log.Error(err.Error())
		report(ferryv1.StageStatus_STAGE_STATUS_FAILURE, err.Error())
		return ferryv1.StageStatus_STAGE_STATUS_FAILURE, err.Error()
	}
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
