package api

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// findDeployment returns a deployment of the caller's project.
func (s *UserService) findDeployment(ctx context.Context, id string) (*model.Deployment, error) {
	if err := required("deployment id", id); err != nil {
		return nil, err
	}
	d, err := s.Store.GetDeployment(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.ProjectID != PrincipalFrom(ctx).ProjectID {
		return nil, model.NotFound("deployment", id)
	}
	return d, nil
}

// ListDeployments implements UserService.
func (s *UserService) ListDeployments(ctx context.Context, req *connect.Request[ferryv1.ListDeploymentsRequest]) (*connect.Response[ferryv1.ListDeploymentsResponse], error) {
	m := req.Msg
	pg, err := page(m.PageSize, m.PageToken)
	if err != nil {
		return nil, err
	}
	f := store.DeploymentFilter{ProjectID: PrincipalFrom(ctx).ProjectID, Kind: fromKind(m.Kind), Labels: m.Labels}
	for _, st := range m.Statuses {
		f.Statuses = append(f.Statuses, fromDeploymentStatus(st))
	}
	if m.Application != "" {
		a, err := s.findApp(ctx, m.Application)
		if err != nil {
			return nil, err
		}
		f.ApplicationID = a.ID
	}
	if m.Agent != "" {
		ag, err := s.findAgent(ctx, m.Agent)
		if err != nil {
			return nil, err
		}
		f.AgentID = ag.ID
	}
	ds, next, err := s.Store.ListDeployments(ctx, f, pg)
	if err != nil {
		return nil, err
	}
	out := &ferryv1.ListDeploymentsResponse{NextPageToken: next}
	for _, d := range ds {
		out.Deployments = append(out.Deployments, toDeployment(d))
	}
	return res(out)
}

// GetDeployment implements UserService.
func (s *UserService) GetDeployment(ctx context.Context, req *connect.Request[ferryv1.GetDeploymentRequest]) (*connect.Response[ferryv1.GetDeploymentResponse], error) {
	d, err := s.findDeployment(ctx, req.Msg.DeploymentId)
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.GetDeploymentResponse{Deployment: toDeployment(d)})
}

// operate records a manual operation on a running deployment and queues the
// command that carries it to the agent.
func (s *UserService) operate(ctx context.Context, id string, op model.OperationKind, stageID string, c *model.Command) (string, error) {
	p := PrincipalFrom(ctx)
	d, err := s.findDeployment(ctx, id)
	if err != nil {
		return "", err
	}
	if d.Status.Completed() {
		return "", model.Errorf(model.KindFailedPrecondition, "deployment %s already ended %s", d.ID, d.Status)
	}
	if stageID != "" {
		st := d.Stage(stageID)
		if st == nil {
			return "", model.NotFound("stage", stageID)
		}
		if st.Status != model.StageRunning {
			return "", model.Errorf(model.KindFailedPrecondition, "stage %s (%s) is %s, not RUNNING", st.ID, st.Name, st.Status)
		}
		if err := checkStageOperation(op, st, p); err != nil {
			return "", err
		}
	}
	if c.Args.ForceRollback && !hasRollback(d) {
		return "", model.Errorf(model.KindFailedPrecondition, "deployment %s has no rollback stage (its application turns autoRollback off): cancel without --rollback", d.ID)
	}
	c.ProjectID, c.AgentID, c.ApplicationID, c.DeploymentID, c.StageID = d.ProjectID, d.AgentID, d.ApplicationID, d.ID, stageID
	c.Commander = p.Subject
	if op == model.OperationApprove {
		c.Commander = approverName(p)
	}
	if err := s.queueCommand(ctx, c); err != nil {
		return "", err
	}
	now := s.now()
	_, err = s.Store.UpdateDeployment(ctx, d.ID, func(d *model.Deployment) error {
		d.Operations = append(d.Operations, model.Operation{Kind: op, StageID: stageID, Actor: actor(p), At: now, Note: operationNote(c)})
		return nil
	})
	if err != nil {
		return "", err
	}
	s.changed(hub.Change{ProjectID: d.ProjectID, ApplicationID: d.ApplicationID, DeploymentID: d.ID, What: hub.ChangeDeployment})
	return c.ID, nil
}

// skippable lists the stages SKIP may end (the agent checks the same).
var skippable = map[string]bool{"WAIT": true, "WAIT_APPROVAL": true, "ANALYSIS": true, "SCRIPT_RUN": true}

// actor names the caller in a deployment's operations: "alice
// (apikey:k1)".
func actor(p *Principal) string {
	if p.Name != "" && p.Name != p.Subject {
		return p.Name + " (" + p.Subject + ")"
	}
	return p.Subject
}

// operationNote says what an operation asked for, and its command.
func operationNote(c *model.Command) string {
	switch {
	case c.Args.ForceRollback:
		return "with rollback; command " + c.ID
	case c.Args.ForceNoRollback:
		return "without rollback; command " + c.ID
	}
	return "command " + c.ID
}

// approverName is who an approval is from.
func approverName(p *Principal) string {
	if p.Name != "" {
		return p.Name
	}
	return p.Subject
}

// checkStageOperation refuses an approval or a skip the stage cannot take:
// approvals go to WAIT_APPROVAL only, from someone on its approvers list
// (the agent records it in the stage's metadata) who has not approved it
// yet; skips go to WAIT, WAIT_APPROVAL, ANALYSIS and SCRIPT_RUN.
func checkStageOperation(op model.OperationKind, st *model.Stage, p *Principal) error {
	switch op {
	case model.OperationSkip:
		if !skippable[st.Name] {
			return model.Errorf(model.KindFailedPrecondition, "stage %s is a %s, which cannot be skipped: only WAIT, WAIT_APPROVAL, ANALYSIS and SCRIPT_RUN can", st.ID, st.Name)
		}
	case model.OperationApprove:
		if st.Name != "WAIT_APPROVAL" {
			return model.Errorf(model.KindFailedPrecondition, "stage %s is a %s, which takes no approvals: only WAIT_APPROVAL does", st.ID, st.Name)
		}
		who := approverName(p)
		if list := splitList(st.Metadata["Approvers"]); len(list) > 0 && !slices.Contains(list, who) {
			return model.Errorf(model.KindPermissionDenied, "%s is not an approver of stage %s: the approvers are %s", who, st.ID, strings.Join(list, ", "))
		}
		if slices.Contains(splitList(st.Metadata["ApprovedBy"]), who) {
			return model.Errorf(model.KindFailedPrecondition, "%s has already approved stage %s; approvals must come from distinct people", who, st.ID)
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, v := range strings.Split(s, ",") {
		if v = strings.TrimSpace(v); v != "" {
			out = append(out, v)
		}
	}
	return out
}

func hasRollback(d *model.Deployment) bool {
	for _, st := range d.Stages {
		if st.Rollback {
			return true
		}
	}
	return false
}

// CancelDeployment implements UserService.
func (s *UserService) CancelDeployment(ctx context.Context, req *connect.Request[ferryv1.CancelDeploymentRequest]) (*connect.Response[ferryv1.CancelDeploymentResponse], error) {
	if req.Msg.ForceRollback && req.Msg.ForceNoRollback {
		return nil, model.Invalid("choose rollback or no rollback, not both")
	}
	id, err := s.operate(ctx, req.Msg.DeploymentId, model.OperationCancel, "", &model.Command{
		Kind: model.CommandCancelDeployment,
		Args: model.CommandArgs{ForceRollback: req.Msg.ForceRollback, ForceNoRollback: req.Msg.ForceNoRollback},
	})
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.CancelDeploymentResponse{CommandId: id})
}

// ApproveStage implements UserService.
func (s *UserService) ApproveStage(ctx context.Context, req *connect.Request[ferryv1.ApproveStageRequest]) (*connect.Response[ferryv1.ApproveStageResponse], error) {
	if err := required("stage id", req.Msg.StageId); err != nil {
		return nil, err
	}
	id, err := s.operate(ctx, req.Msg.DeploymentId, model.OperationApprove, req.Msg.StageId, &model.Command{Kind: model.CommandApproveStage})
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.ApproveStageResponse{CommandId: id})
}

// SkipStage implements UserService.
func (s *UserService) SkipStage(ctx context.Context, req *connect.Request[ferryv1.SkipStageRequest]) (*connect.Response[ferryv1.SkipStageResponse], error) {
	if err := required("stage id", req.Msg.StageId); err != nil {
		return nil, err
	}
	id, err := s.operate(ctx, req.Msg.DeploymentId, model.OperationSkip, req.Msg.StageId, &model.Command{Kind: model.CommandSkipStage})
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.SkipStageResponse{CommandId: id})
}

// GetStageLog implements UserService: blocks of a running stage come from
// the datastore, those of an ended deployment from the filestore archive.
func (s *UserService) GetStageLog(ctx context.Context, req *connect.Request[ferryv1.GetStageLogRequest]) (*connect.Response[ferryv1.GetStageLogResponse], error) {
	d, err := s.findDeployment(ctx, req.Msg.DeploymentId)
	if err != nil {
		return nil, err
	}
	st := d.Stage(req.Msg.StageId)
	if st == nil {
		return nil, model.NotFound("stage", req.Msg.StageId)
	}
	blocks, err := s.Store.ListLogBlocks(ctx, d.ID, st.ID, req.Msg.AfterIndex, 0)
	if err != nil {
		return nil, err
	}
	if len(blocks) == 0 && d.Status.Completed() {
		if blocks, err = s.archivedLog(ctx, d.ID, st.ID, req.Msg.AfterIndex); err != nil {
			return nil, err
		}
	}
	out := &ferryv1.GetStageLogResponse{Completed: d.Status.Completed() || st.Status.Completed()}
	for _, b := range blocks {
		out.Blocks = append(out.Blocks, toLogBlock(b))
	}
	return res(out)
}

func (s *UserService) archivedLog(ctx context.Context, deploymentID, stageID string, after int64) ([]model.LogBlock, error) {
	data, err := s.Blobs.Get(ctx, logKey(deploymentID, stageID))
	if model.IsKind(err, model.KindNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var all []model.LogBlock
	if err := json.Unmarshal(data, &all); err != nil {
		return nil, fmt.Errorf("decode archived log %s/%s: %w", deploymentID, stageID, err)
	}
	out := all[:0]
	for _, b := range all {
		if b.Index > after {
			out = append(out, b)
		}
	}
	return out, nil
}

// GetCommand implements UserService.
func (s *UserService) GetCommand(ctx context.Context, req *connect.Request[ferryv1.GetCommandRequest]) (*connect.Response[ferryv1.GetCommandResponse], error) {
	if err := required("command id", req.Msg.CommandId); err != nil {
		return nil, err
	}
	c, err := s.Store.GetCommand(ctx, req.Msg.CommandId)
	if err != nil {
		return nil, err
	}
	if c.ProjectID != PrincipalFrom(ctx).ProjectID {
		return nil, model.NotFound("command", req.Msg.CommandId)
	}
	return res(&ferryv1.GetCommandResponse{Command: toCommand(c)})
}
