package agent

import (
	"context"
	"fmt"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

// handle takes one item of the command stream. Commands are handled in
// their own goroutine so the stream keeps flowing; the control plane
// delivers a command until it is reported handled, so each one runs to its
// report.
func (a *Agent) handle(ctx context.Context, item *ferryv1.WatchResponse) error {
	if n := item.GetNotice(); n != nil {
		switch n.GetKind() {
		case ferryv1.Notice_KIND_REPOSITORY_PUSHED, ferryv1.Notice_KIND_APPLICATIONS_CHANGED:
			a.log.DebugContext(ctx, "notice", "kind", n.GetKind().String(), "repo_id", n.GetRepositoryId(), "commit", n.GetCommitHash())
			a.sync.kick()
		}
		return nil
	}
	if cmd := item.GetCommand(); cmd != nil {
		switch res, state := a.commands.claim(cmd.GetId(), time.Now()); state {
		case commandNew:
			go a.runCommand(ctx, cmd)
		case commandRunning:
			a.log.DebugContext(ctx, "command already being handled", "command_id", cmd.GetId())
		case commandDone:
			// Handled, but the report was lost: send it again rather than
			// act twice.
			go a.report(ctx, res)
		}
	}
	return nil
}

func (a *Agent) runCommand(ctx context.Context, cmd *ferryv1.Command) {
	res := a.execute(ctx, cmd)
	if ctx.Err() != nil {
		a.commands.forget(cmd.GetId())
		return // stopping: the command is delivered again on the next start
	}
	a.commands.done(res, time.Now())
	a.report(ctx, res)
}

// report tells the control plane a command was handled.
func (a *Agent) report(ctx context.Context, res *ferryv1.ReportCommandHandledRequest) {
	if _, err := a.client.ReportCommandHandled(ctx, connect.NewRequest(res)); err != nil && ctx.Err() == nil {
		a.log.ErrorContext(ctx, "report command handled", "command_id", res.GetCommandId(), "error", err)
	}
}

// execute carries out one command and says how it went.
func (a *Agent) execute(ctx context.Context, cmd *ferryv1.Command) *ferryv1.ReportCommandHandledRequest {
	status, output, meta := ferryv1.CommandStatus_COMMAND_STATUS_SUCCEEDED, "", map[string]string(nil)
	var err error
	switch cmd.GetKind() {
	case ferryv1.CommandKind_COMMAND_KIND_SYNC_APPLICATION:
		var id string
		if id, err = a.syncApp(ctx, cmd); err == nil {
			output, meta = "deployment "+id+" triggered", map[string]string{"TriggeredDeploymentID": id}
		}
	case ferryv1.CommandKind_COMMAND_KIND_CANCEL_DEPLOYMENT:
		output, err = a.cancel(ctx, cmd)
	case ferryv1.CommandKind_COMMAND_KIND_APPROVE_STAGE:
		if err = a.ctrl.Approve(ctx, cmd.GetDeploymentId(), cmd.GetStageId(), cmd.GetCommander()); err == nil {
			output = "approved by " + cmd.GetCommander()
		}
	case ferryv1.CommandKind_COMMAND_KIND_SKIP_STAGE:
		if err = a.ctrl.Skip(ctx, cmd.GetDeploymentId(), cmd.GetStageId()); err == nil {
			output = "stage " + cmd.GetStageId() + " skipped"
		}
	default:
		err = fmt.Errorf("%s is not supported by this agent yet", strings.TrimPrefix(cmd.GetKind().String(), "COMMAND_KIND_"))
	}
	if err != nil && ctx.Err() == nil {
		status, output = ferryv1.CommandStatus_COMMAND_STATUS_FAILED, err.Error()
		a.log.WarnContext(ctx, "command failed", "command_id", cmd.GetId(), "kind", cmd.GetKind().String(), "error", err)
	}
	return &ferryv1.ReportCommandHandledRequest{CommandId: cmd.GetId(), Status: status, Output: output, Metadata: meta}
}

// syncApp creates the deployment a SYNC command asks for, at the newest
// commit: the application's repository is fetched first.
func (a *Agent) syncApp(ctx context.Context, cmd *ferryv1.Command) (string, error) {
	res, err := a.client.ListApplications(ctx, connect.NewRequest(&ferryv1.AgentListApplicationsRequest{ApplicationIds: []string{cmd.GetApplicationId()}}))
	if err != nil {
		return "", err
	}
	for _, app := range res.Msg.GetApplications() {
		if app.GetId() == cmd.GetApplicationId() {
			if repo, ok := a.repos[app.GetGitPath().GetRepoId()]; ok {
				if err := repo.Mirror.Fetch(ctx); err != nil {
					return "", err
				}
			}
			d, err := a.trig.OnCommand(ctx, app, cmd)
			if err != nil {
				return "", err
			}
			a.ctrl.Kick()
			return d.GetId(), nil
		}
	}
	return "", fmt.Errorf("application %s is not one of this agent's enabled applications", cmd.GetApplicationId())
}

// cancel stops a deployment running here, or cancels it before it starts.
func (a *Agent) cancel(ctx context.Context, cmd *ferryv1.Command) (string, error) {
	deploymentID := cmd.GetDeploymentId()
	if a.ctrl.Cancel(deploymentID, cmd.GetArgs().GetForceRollback(), cmd.GetArgs().GetForceNoRollback()) {
		return "cancelling the running stage", nil
	}
	res, err := a.client.GetDeployment(ctx, connect.NewRequest(&ferryv1.AgentGetDeploymentRequest{DeploymentId: deploymentID}))
	if err != nil {
		return "", err
	}
	switch res.Msg.GetDeployment().GetStatus() {
	case ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING, ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_ROLLING_BACK:
		// Left running by an earlier run of this agent and not resumed
		// yet: the cancel waits for it, as approvals and skips do.
		if err := a.ctrl.CancelWhenRunning(ctx, deploymentID, cmd.GetArgs().GetForceRollback(), cmd.GetArgs().GetForceNoRollback()); err != nil {
			return "", err
		}
		return "cancelling the running stage", nil
	case ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_PENDING, ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_PLANNED:
		_, err := a.client.ReportDeploymentCompleted(ctx, connect.NewRequest(&ferryv1.ReportDeploymentCompletedRequest{
			DeploymentId: deploymentID, Status: ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED,
			StatusReason: "cancelled before it started", CompletedAt: timestamppb.Now(),
		}))
		return "cancelled before it started", err
	}
	return "", fmt.Errorf("deployment %s is %s, not running on this agent", deploymentID, res.Msg.GetDeployment().GetStatus())
}
