package api

import (
	"cmp"
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
	// Approvals too are by subject: the agent checks it against the
	// approvers list again.
	c.Commander = p.Subject
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

// checkStageOperation refuses an approval or a skip the stage cannot take:
// approvals go to WAIT_APPROVAL only, from a caller whose subject is on its
// approvers list (model.ApproverSubject; the agent records the list in the
// stage's metadata) and who has not approved it yet; skips go to WAIT,
// WAIT_APPROVAL, ANALYSIS and SCRIPT_RUN.
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
		list := approverSubjects(st.Metadata["Approvers"])
		if len(list) > 0 && !slices.Contains(list, p.Subject) {
			return model.Errorf(model.KindPermissionDenied, "%s is not an approver of stage %s: the approvers are %s (approvals are matched on the subject, not the name)",
				actor(p), st.ID, strings.Join(list, ", "))
		}
		if slices.Contains(approverSubjects(st.Metadata["ApprovedBy"]), p.Subject) {
			return model.Errorf(model.KindFailedPrecondition, "%s has already approved stage %s; approvals must come from distinct people", actor(p), st.ID)
		}
	}
	return nil
}

// approverSubjects reads a comma-separated list of approvers as subjects.
func approverSubjects(s string) []string {
	var out []string
	for _, v := range splitList(s) {
		out = append(out, model.ApproverSubject(v))
	}
	return out
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

// Stage log pages.
const (
	defaultLogPage = 1000
	maxLogPage     = 5000
	// maxLogPageBytes stops a page at about this much text (always after
	// at least one block).
	maxLogPageBytes = 4 << 20
)

// GetStageLog implements UserService: one page of a stage's log. Blocks of
// a running stage come from the datastore, those of an ended deployment
// from the filestore archive; a log cut at its limits ends with the marker
// that says how much was cut.
func (s *UserService) GetStageLog(ctx context.Context, req *connect.Request[ferryv1.GetStageLogRequest]) (*connect.Response[ferryv1.GetStageLogResponse], error) {
	d, err := s.findDeployment(ctx, req.Msg.DeploymentId)
	if err != nil {
		return nil, err
	}
	st := d.Stage(req.Msg.StageId)
	if st == nil {
		return nil, model.NotFound("stage", req.Msg.StageId)
	}
	size := int(req.Msg.PageSize)
	switch {
	case size < 0:
		return nil, model.Invalid("page size %d is negative", size)
	case size == 0:
		size = defaultLogPage
	case size > maxLogPage:
		size = maxLogPage
	}
	after := req.Msg.AfterIndex
	// One more than asked tells whether there are more.
	blocks, err := s.Store.ListLogBlocks(ctx, d.ID, st.ID, after, size+1)
	if err != nil {
		return nil, err
	}
	if len(blocks) <= size && after < model.LogCutIndex {
		cut, err := s.Store.StageLogCut(ctx, d.ID, st.ID)
		if err != nil {
			return nil, err
		}
		if cut.Blocks > 0 {
			blocks = append(blocks, cut.Marker(st.UpdatedAt))
		}
	}
	if len(blocks) == 0 && d.Status.Completed() {
		if blocks, err = s.archivedLog(ctx, d.ID, st.ID, after, size+1); err != nil {
			return nil, err
		}
	}
	out := &ferryv1.GetStageLogResponse{Completed: d.Status.Completed() || st.Status.Completed()}
	bytes := 0
	for i, b := range blocks {
		if i == size || (i > 0 && bytes+len(b.Log) > maxLogPageBytes) {
			out.HasMore = true
			break
		}
		bytes += len(b.Log)
		out.Blocks = append(out.Blocks, toLogBlock(b))
	}
	return res(out)
}

// archivedLog returns up to limit blocks after index after from a stage's
// archived log. The archive is read whole: a stage's log limits bound it.
func (s *UserService) archivedLog(ctx context.Context, deploymentID, stageID string, after int64, limit int) ([]model.LogBlock, error) {
	if after == model.LogCutIndex {
		return nil, nil // nothing follows the cut marker
	}
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
	i, _ := slices.BinarySearchFunc(all, after+1, func(b model.LogBlock, idx int64) int { return cmp.Compare(b.Index, idx) })
	all = all[i:]
	return all[:min(len(all), limit)], nil
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
