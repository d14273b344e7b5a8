package api

import (
	"context"
	"encoding/json"
	"fmt"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// maxLogBlocksPerCall bounds one ReportStageLogs call.
const maxLogBlocksPerCall = 1000

// CreateDeployment implements AgentService.
func (s *AgentService) CreateDeployment(ctx context.Context, req *connect.Request[ferryv1.CreateDeploymentRequest]) (*connect.Response[ferryv1.CreateDeploymentResponse], error) {
	a, err := s.ownApp(ctx, req.Msg.ApplicationId)
	if err != nil {
		return nil, err
	}
	if a.Disabled {
		return nil, model.Errorf(model.KindFailedPrecondition, "application %s is disabled", a.Name)
	}
	now := s.now()
	trig := fromTrigger(req.Msg.Trigger)
	if trig.Kind == "" {
		trig.Kind = model.TriggerOnCommit
	}
	if trig.Strategy == "" {
		trig.Strategy = model.SyncStrategyAuto
	}
	if trig.Timestamp.IsZero() {
		trig.Timestamp = now
	}
	if trig.Commit.Hash == "" {
		return nil, model.Invalid("trigger commit hash is required")
	}
	if n := len(req.Msg.RequestId); n > maxRequestIDLen {
		return nil, model.Invalid("request id is %d characters; the limit is %d", n, maxRequestIDLen)
	}
	if d, err := s.requested(ctx, a.ID, req.Msg.RequestId); d != nil || err != nil {
		return deploymentRes(d, err)
	}
	d := &model.Deployment{
		ID:               newID(),
		ProjectID:        a.ProjectID,
		ApplicationID:    a.ID,
		ApplicationName:  a.Name,
		AgentID:          a.AgentID,
		Kind:             a.Kind,
		PlatformProvider: a.PlatformProvider,
		GitPath:          a.GitPath,
		Labels:           a.Labels,
		Trigger:          trig,
		Summary:          req.Msg.Summary,
		Status:           model.DeploymentPending,
		RequestID:        req.Msg.RequestId,
		CreatedAt:        now,
		UpdatedAt:        now,
	}
	if a.MostRecentSuccessfulDeployment != nil {
		d.RunningCommitHash = a.MostRecentSuccessfulDeployment.CommitHash
	}
	// The deployment and its application's record of it are written
	// together: a failure leaves neither.
	err = s.Store.CreateDeploymentWithApp(ctx, d, func(a *model.Application) error {
		a.Deploying = true
		a.MostRecentDeployment = &model.DeploymentRef{DeploymentID: d.ID, Status: d.Status, CommitHash: trig.Commit.Hash, Summary: d.Summary, StartedAt: now}
		return nil
	})
	if model.IsKind(err, model.KindAlreadyExists) && d.RequestID != "" {
		// The same request, sent again while the first was being stored.
		return deploymentRes(s.requested(ctx, a.ID, d.RequestID))
	}
	if err != nil {
		return nil, err
	}
	s.owners.remember(d)
	s.changed(hub.Change{ProjectID: d.ProjectID, ApplicationID: d.ApplicationID, DeploymentID: d.ID, What: hub.ChangeDeployment | hub.ChangeApplication})
	return res(&ferryv1.CreateDeploymentResponse{Deployment: toDeployment(d)})
}

// maxRequestIDLen bounds a CreateDeployment request id.
const maxRequestIDLen = 128

// requested returns the deployment of application appID that request id
// created, or nil when there is none (or no id).
func (s *AgentService) requested(ctx context.Context, appID, id string) (*model.Deployment, error) {
	if id == "" {
		return nil, nil
	}
	ds, _, err := s.Store.ListDeployments(ctx, store.DeploymentFilter{ApplicationID: appID, RequestID: id}, store.Page{Limit: 1})
	if err != nil || len(ds) == 0 {
		return nil, err
	}
	return ds[0], nil
}

func deploymentRes(d *model.Deployment, err error) (*connect.Response[ferryv1.CreateDeploymentResponse], error) {
	if err != nil {
		return nil, err
	}
	if d == nil {
		return nil, model.Errorf(model.KindUnavailable, "the deployment of this request was not found; try again")
	}
	return res(&ferryv1.CreateDeploymentResponse{Deployment: toDeployment(d)})
}

// deploymentChanged is Deps.changed for what of d.
func (s *AgentService) deploymentChanged(d *model.Deployment, what hub.ChangeKind) {
	s.changed(hub.Change{ProjectID: d.ProjectID, ApplicationID: d.ApplicationID, DeploymentID: d.ID, What: what})
}

// ownDeployment returns the deployment if it belongs to the calling agent.
func (s *AgentService) ownDeployment(ctx context.Context, id string) (*model.Deployment, error) {
	d, err := s.Store.GetDeployment(ctx, id)
	if err != nil {
		return nil, err
	}
	if d.AgentID != PrincipalFrom(ctx).AgentID {
		return nil, model.NotFound("deployment", id)
	}
	return d, nil
}

// updateOwnDeployment applies mutate to one of the calling agent's
// deployments.
func (s *AgentService) updateOwnDeployment(ctx context.Context, id string, mutate func(*model.Deployment) error) (*model.Deployment, error) {
	agentID := PrincipalFrom(ctx).AgentID
	return s.Store.UpdateDeployment(ctx, id, func(d *model.Deployment) error {
		if d.AgentID != agentID {
			return model.NotFound("deployment", id)
		}
		return mutate(d)
	})
}

// GetDeployment implements AgentService.
func (s *AgentService) GetDeployment(ctx context.Context, req *connect.Request[ferryv1.AgentGetDeploymentRequest]) (*connect.Response[ferryv1.AgentGetDeploymentResponse], error) {
	d, err := s.ownDeployment(ctx, req.Msg.DeploymentId)
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.AgentGetDeploymentResponse{Deployment: toDeployment(d)})
}

// ListNotCompletedDeployments implements AgentService.
func (s *AgentService) ListNotCompletedDeployments(ctx context.Context, _ *connect.Request[ferryv1.ListNotCompletedDeploymentsRequest]) (*connect.Response[ferryv1.ListNotCompletedDeploymentsResponse], error) {
	f := store.DeploymentFilter{
		AgentID:  PrincipalFrom(ctx).AgentID,
		Statuses: []model.DeploymentStatus{model.DeploymentPending, model.DeploymentPlanned, model.DeploymentRunning, model.DeploymentRollingBack},
	}
	out := &ferryv1.ListNotCompletedDeploymentsResponse{}
	page := store.Page{Limit: store.MaxLimit}
	for {
		ds, next, err := s.Store.ListDeployments(ctx, f, page)
		if err != nil {
			return nil, err
		}
		for _, d := range ds {
			out.Deployments = append(out.Deployments, toDeployment(d))
		}
		if next == "" {
			return res(out)
		}
		page.Cursor = next
	}
}

// ReportDeploymentPlanned implements AgentService. A resend after success is
// a no-op.
func (s *AgentService) ReportDeploymentPlanned(ctx context.Context, req *connect.Request[ferryv1.ReportDeploymentPlannedRequest]) (*connect.Response[ferryv1.ReportDeploymentPlannedResponse], error) {
	now := s.now()
	seen := map[string]bool{}
	stages := make([]*model.Stage, 0, len(req.Msg.Stages))
	for i, st := range req.Msg.Stages {
		m := fromStage(st)
		if m.ID == "" || m.Name == "" {
			return nil, model.Invalid("stage %d: id and name are required", i)
		}
		if seen[m.ID] {
			return nil, model.Invalid("stage %d: id %q is used twice", i, m.ID)
		}
		seen[m.ID] = true
		if m.Status == "" {
			m.Status = model.StageNotStartedYet
		}
		m.CreatedAt, m.UpdatedAt = now, now
		stages = append(stages, m)
	}
	d, err := s.updateOwnDeployment(ctx, req.Msg.DeploymentId, func(d *model.Deployment) error {
		if d.Status == model.DeploymentPlanned && len(d.Stages) == len(stages) {
			return nil
		}
		if !d.Status.CanMoveTo(model.DeploymentPlanned) {
			return model.Errorf(model.KindFailedPrecondition, "deployment %s is %s and cannot be planned", d.ID, d.Status)
		}
		d.Status = model.DeploymentPlanned
		d.Summary = req.Msg.Summary
		d.RunningCommitHash = req.Msg.RunningCommitHash
		if st := fromStrategy(req.Msg.Strategy); st != "" {
			d.Trigger.Strategy = st
		}
		d.Trigger.StrategySummary = req.Msg.StrategySummary
		d.Stages = stages
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.showOnApplication(ctx, d); err != nil {
		return nil, err
	}
	s.deploymentChanged(d, hub.ChangeDeployment|hub.ChangeStage|hub.ChangeApplication)
	return res(&ferryv1.ReportDeploymentPlannedResponse{Deployment: toDeployment(d)})
}

// ReportDeploymentStatusChanged implements AgentService.
func (s *AgentService) ReportDeploymentStatusChanged(ctx context.Context, req *connect.Request[ferryv1.ReportDeploymentStatusChangedRequest]) (*connect.Response[ferryv1.ReportDeploymentStatusChangedResponse], error) {
	next := fromDeploymentStatus(req.Msg.Status)
	if next != model.DeploymentRunning && next != model.DeploymentRollingBack {
		return nil, model.Invalid("status must be RUNNING or ROLLING_BACK; use ReportDeploymentCompleted to end a deployment")
	}
	d, err := s.updateOwnDeployment(ctx, req.Msg.DeploymentId, func(d *model.Deployment) error {
		if d.Status == next {
			return nil
		}
		if !d.Status.CanMoveTo(next) {
			return model.Errorf(model.KindFailedPrecondition, "deployment %s cannot move from %s to %s", d.ID, d.Status, next)
		}
		d.Status, d.StatusReason = next, req.Msg.StatusReason
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := s.showOnApplication(ctx, d); err != nil {
		return nil, err
	}
	s.deploymentChanged(d, hub.ChangeDeployment|hub.ChangeApplication)
	return res(&ferryv1.ReportDeploymentStatusChangedResponse{})
}

// showOnApplication copies the status and summary of d, planned or running
// now, into its application's most recent deployment, which CreateDeployment
// set to PENDING and ReportDeploymentCompleted ends: without it `ferry app
// list` showed a running deployment as PENDING. A newer deployment, or one
// that already ended, is left alone, as is an application deleted
// meanwhile.
func (s *AgentService) showOnApplication(ctx context.Context, d *model.Deployment) error {
	_, err := s.Store.UpdateApplication(ctx, d.ApplicationID, func(a *model.Application) error {
		ref := a.MostRecentDeployment
		if ref == nil || ref.DeploymentID != d.ID || ref.Status.Completed() {
			return nil
		}
		ref.Status, ref.Summary = d.Status, d.Summary
		return nil
	})
	if err != nil && !model.IsKind(err, model.KindNotFound) {
		return err
	}
	return nil
}

// ReportDeploymentCompleted implements AgentService: it ends the deployment,
// updates its application and archives the stage logs to the filestore.
func (s *AgentService) ReportDeploymentCompleted(ctx context.Context, req *connect.Request[ferryv1.ReportDeploymentCompletedRequest]) (*connect.Response[ferryv1.ReportDeploymentCompletedResponse], error) {
	status := fromDeploymentStatus(req.Msg.Status)
	if !status.Completed() {
		return nil, model.Invalid("status must be SUCCESS, FAILURE or CANCELLED, not %s", req.Msg.Status)
	}
	completedAt := fromTS(req.Msg.CompletedAt)
	if completedAt.IsZero() {
		completedAt = s.now()
	}
	agentID := PrincipalFrom(ctx).AgentID
	already := false
	// The deployment's end and its application's record of it are written
	// in one transaction: a deployment never ends while its application
	// still says it is deploying.
	d, err := s.Store.UpdateDeploymentWithApp(ctx, req.Msg.DeploymentId, func(d *model.Deployment) error {
		if d.AgentID != agentID {
			return model.NotFound("deployment", req.Msg.DeploymentId)
		}
		if d.Status.Completed() {
			if d.Status == status {
				already = true
				return nil
			}
			return model.Errorf(model.KindFailedPrecondition, "deployment %s already ended %s", d.ID, d.Status)
		}
		d.Status, d.StatusReason, d.CompletedAt = status, req.Msg.StatusReason, completedAt
		return nil
	}, func(a *model.Application, d *model.Deployment) error {
		ref := &model.DeploymentRef{
			DeploymentID: d.ID, Status: d.Status, CommitHash: d.Trigger.Commit.Hash,
			Summary: d.Summary, StartedAt: d.CreatedAt, CompletedAt: d.CompletedAt,
		}
		if a.MostRecentDeployment == nil || a.MostRecentDeployment.DeploymentID == d.ID {
			a.MostRecentDeployment = ref
			a.Deploying = false
		}
		if d.Status == model.DeploymentSuccess {
			a.MostRecentSuccessfulDeployment = ref
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if already {
		return res(&ferryv1.ReportDeploymentCompletedResponse{})
	}
	s.deploymentChanged(d, hub.ChangeDeployment|hub.ChangeApplication)
	for _, st := range d.Stages {
		if err := s.archiveLogs(ctx, d.ID, st.ID); err != nil {
			// The blocks stay in the datastore, where GetStageLog still finds them.
			s.Logger.WarnContext(ctx, "archive stage log", "deployment_id", d.ID, "stage", st.ID, "error", err)
		}
	}
	return res(&ferryv1.ReportDeploymentCompletedResponse{})
}

func logKey(deploymentID, stageID string) string {
	return "logs/" + deploymentID + "/" + stageID + ".json"
}

// archiveLogs moves a completed stage's log blocks to the filestore.
func (s *AgentService) archiveLogs(ctx context.Context, deploymentID, stageID string) error {
	blocks, err := s.Store.ListLogBlocks(ctx, deploymentID, stageID, -1, 0)
	if err != nil {
		return err
	}
	cut, err := s.Store.StageLogCut(ctx, deploymentID, stageID)
	if err != nil {
		return err
	}
	if cut.Blocks > 0 {
		blocks = append(blocks, cut.Marker(s.now()))
	}
	if len(blocks) == 0 {
		return nil
	}
	data, err := json.Marshal(blocks)
	if err != nil {
		return fmt.Errorf("encode log: %w", err)
	}
	if err := s.Blobs.Put(ctx, logKey(deploymentID, stageID), data); err != nil {
		return err
	}
	return s.Store.DeleteLogBlocks(ctx, deploymentID, stageID)
}

// SaveDeploymentMetadata implements AgentService: keys are merged into the
// deployment's metadata; an empty value deletes a key.
func (s *AgentService) SaveDeploymentMetadata(ctx context.Context, req *connect.Request[ferryv1.SaveDeploymentMetadataRequest]) (*connect.Response[ferryv1.SaveDeploymentMetadataResponse], error) {
	d, err := s.updateOwnDeployment(ctx, req.Msg.DeploymentId, func(d *model.Deployment) error {
		d.Metadata = mergeMetadata(d.Metadata, req.Msg.Metadata)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.deploymentChanged(d, hub.ChangeDeployment)
	return res(&ferryv1.SaveDeploymentMetadataResponse{})
}

func mergeMetadata(have, add map[string]string) map[string]string {
	if have == nil {
		have = map[string]string{}
	}
	for k, v := range add {
		if v == "" {
			delete(have, k)
		} else {
			have[k] = v
		}
	}
	return have
}

// ReportStageStatusChanged implements AgentService. A completed stage only
// changes again when it is retried (a higher retried count).
func (s *AgentService) ReportStageStatusChanged(ctx context.Context, req *connect.Request[ferryv1.ReportStageStatusChangedRequest]) (*connect.Response[ferryv1.ReportStageStatusChangedResponse], error) {
	status := fromStageStatus(req.Msg.Status)
	if !status.Valid() {
		return nil, model.Invalid("stage status %s is not valid", req.Msg.Status)
	}
	owner, err := s.owners.check(ctx, s.Store, req.Msg.DeploymentId, PrincipalFrom(ctx).AgentID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	_, err = s.Store.UpdateStage(ctx, req.Msg.DeploymentId, req.Msg.StageId, func(st *model.Stage) error {
		retried := int(req.Msg.RetriedCount)
		if st.Status == status && st.RetriedCount == retried {
			return nil
		}
		if st.Status.Completed() && retried <= st.RetriedCount {
			return model.Errorf(model.KindFailedPrecondition, "stage %s already ended %s", st.ID, st.Status)
		}
		st.Status, st.StatusReason, st.RetriedCount = status, req.Msg.StatusReason, retried
		if status == model.StageRunning {
			st.StartedAt, st.CompletedAt = now, model.Stage{}.CompletedAt
		}
		if status.Completed() {
			st.CompletedAt = now
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.changed(owner.change(req.Msg.DeploymentId, hub.ChangeStage))
	return res(&ferryv1.ReportStageStatusChangedResponse{})
}

// SaveStageMetadata implements AgentService: keys are merged; an empty value
// deletes a key.
func (s *AgentService) SaveStageMetadata(ctx context.Context, req *connect.Request[ferryv1.SaveStageMetadataRequest]) (*connect.Response[ferryv1.SaveStageMetadataResponse], error) {
	owner, err := s.owners.check(ctx, s.Store, req.Msg.DeploymentId, PrincipalFrom(ctx).AgentID)
	if err != nil {
		return nil, err
	}
	_, err = s.Store.UpdateStage(ctx, req.Msg.DeploymentId, req.Msg.StageId, func(st *model.Stage) error {
		st.Metadata = mergeMetadata(st.Metadata, req.Msg.Metadata)
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.changed(owner.change(req.Msg.DeploymentId, hub.ChangeStage))
	return res(&ferryv1.SaveStageMetadataResponse{})
}

// ReportStageLogs implements AgentService.
func (s *AgentService) ReportStageLogs(ctx context.Context, req *connect.Request[ferryv1.ReportStageLogsRequest]) (*connect.Response[ferryv1.ReportStageLogsResponse], error) {
	if n := len(req.Msg.Blocks); n > maxLogBlocksPerCall {
		return nil, model.Invalid("%d log blocks in one call; send at most %d", n, maxLogBlocksPerCall)
	}
	owner, err := s.owners.check(ctx, s.Store, req.Msg.DeploymentId, PrincipalFrom(ctx).AgentID)
	if err != nil {
		return nil, err
	}
	now := s.now()
	blocks := make([]model.LogBlock, len(req.Msg.Blocks))
	for i, b := range req.Msg.Blocks {
		// Invalid, not ResourceExhausted: the same call would fail again,
		// so an agent must not retry it.
		if len(b.Log) > model.MaxLogBlockBytes {
			return nil, model.Invalid("log block %d is %d bytes; the limit is %d: split it", b.Index, len(b.Log), model.MaxLogBlockBytes)
		}
		blocks[i] = fromLogBlock(b)
		if blocks[i].CreatedAt.IsZero() {
			blocks[i].CreatedAt = now
		}
	}
	if err := s.Store.AppendLogBlocks(ctx, req.Msg.DeploymentId, req.Msg.StageId, blocks); err != nil {
		return nil, err
	}
	// A burst of appends costs the broker one message: the relay
	// coalesces changes (hub.ChangeFlushGap).
	s.changed(owner.change(req.Msg.DeploymentId, hub.ChangeLog))
	return res(&ferryv1.ReportStageLogsResponse{})
}
