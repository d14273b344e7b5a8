package api

import (
	"context"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// findApp resolves an application of the caller's project by id,
// REPO:PATH or name; a name several applications share is refused with the
// list of them (see store.FindApplication).
func (s *UserService) findApp(ctx context.Context, ref string) (*model.Application, error) {
	return store.FindApplication(ctx, s.Store, PrincipalFrom(ctx).ProjectID, ref)
}

// AddApplication implements UserService.
func (s *UserService) AddApplication(ctx context.Context, req *connect.Request[ferryv1.AddApplicationRequest]) (*connect.Response[ferryv1.AddApplicationResponse], error) {
	m := req.Msg
	if err := checkName("application", m.Name); err != nil {
		return nil, err
	}
	kind := fromKind(m.Kind)
	if kind == "" {
		kind = model.AppKindKubernetes
	}
	g := fromGitPath(m.GitPath)
	if g.RepoID == "" {
		return nil, model.Invalid("git path: repository id is required")
	}
	if g.ConfigFilename == "" {
		g.ConfigFilename = "app.ferry.yaml"
	}
	ag, err := s.findAgent(ctx, m.Agent)
	if err != nil {
		return nil, err
	}
	now := s.now()
	a := &model.Application{
		ID:               newID(),
		ProjectID:        ag.ProjectID,
		Name:             m.Name,
		Kind:             kind,
		AgentID:          ag.ID,
		PlatformProvider: m.PlatformProvider,
		GitPath:          g,
		Labels:           m.Labels,
		Description:      m.Description,
		SyncState:        model.SyncState{Status: model.SyncUnknown, Timestamp: now},
		CreatedAt:        now,
		UpdatedAt:        now,
	}
	if err := s.Store.CreateApplication(ctx, a); err != nil {
		if model.IsKind(err, model.KindAlreadyExists) {
			return nil, model.Errorf(model.KindAlreadyExists, "an application with its config at %s already exists on agent %s", g.Ref(), ag.Name)
		}
		return nil, err
	}
	s.notifyApplicationsChanged(ctx, a.AgentID)
	s.appChanged(a)
	return res(&ferryv1.AddApplicationResponse{Application: toApplication(a, model.HealthUnknown)})
}

// ListApplications implements UserService.
func (s *UserService) ListApplications(ctx context.Context, req *connect.Request[ferryv1.ListApplicationsRequest]) (*connect.Response[ferryv1.ListApplicationsResponse], error) {
	m := req.Msg
	pg, err := page(m.PageSize, m.PageToken)
	if err != nil {
		return nil, err
	}
	f := store.ApplicationFilter{
		ProjectID:  PrincipalFrom(ctx).ProjectID,
		Name:       m.Name,
		Kind:       fromKind(m.Kind),
		SyncStatus: fromSyncStatus(m.SyncStatus),
		Labels:     m.Labels,
	}
	if m.Agent != "" {
		ag, err := s.findAgent(ctx, m.Agent)
		if err != nil {
			return nil, err
		}
		f.AgentID = ag.ID
	}
	if !m.IncludeDisabled {
		enabled := false
		f.Disabled = &enabled
	}
	apps, next, err := s.Store.ListApplications(ctx, f, pg)
	if err != nil {
		return nil, err
	}
	out := &ferryv1.ListApplicationsResponse{NextPageToken: next}
	for _, a := range apps {
		out.Applications = append(out.Applications, toApplication(a, ""))
	}
	return res(out)
}

// GetApplication implements UserService.
func (s *UserService) GetApplication(ctx context.Context, req *connect.Request[ferryv1.GetApplicationRequest]) (*connect.Response[ferryv1.GetApplicationResponse], error) {
	a, err := s.findApp(ctx, req.Msg.Application)
	if err != nil {
		return nil, err
	}
	ls, err := getLiveState(ctx, s.Blobs, a)
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.GetApplicationResponse{Application: toApplication(a, ls.Health)})
}

// SyncApplication implements UserService.
func (s *UserService) SyncApplication(ctx context.Context, req *connect.Request[ferryv1.SyncApplicationRequest]) (*connect.Response[ferryv1.SyncApplicationResponse], error) {
	a, err := s.findApp(ctx, req.Msg.Application)
	if err != nil {
		return nil, err
	}
	if a.Disabled {
		return nil, model.Errorf(model.KindFailedPrecondition, "application %s is disabled: enable it first", a.Name)
	}
	strategy := fromStrategy(req.Msg.Strategy)
	if strategy == "" {
		strategy = model.SyncStrategyAuto
	}
	c := &model.Command{
		ProjectID:     a.ProjectID,
		AgentID:       a.AgentID,
		Kind:          model.CommandSyncApplication,
		ApplicationID: a.ID,
		Commander:     PrincipalFrom(ctx).Subject,
		Args:          model.CommandArgs{SyncStrategy: strategy},
	}
	if err := s.queueCommand(ctx, c); err != nil {
		return nil, err
	}
	return res(&ferryv1.SyncApplicationResponse{CommandId: c.ID})
}

// RollbackApplication implements UserService: it deploys the commit of an
// earlier successful deployment through a sync command.
func (s *UserService) RollbackApplication(ctx context.Context, req *connect.Request[ferryv1.RollbackApplicationRequest]) (*connect.Response[ferryv1.RollbackApplicationResponse], error) {
	a, err := s.findApp(ctx, req.Msg.Application)
	if err != nil {
		return nil, err
	}
	if a.Disabled {
		return nil, model.Errorf(model.KindFailedPrecondition, "application %s is disabled: enable it first", a.Name)
	}
	target, err := s.rollbackTarget(ctx, a, req.Msg.ToDeploymentId)
	if err != nil {
		return nil, err
	}
	c := &model.Command{
		ProjectID:     a.ProjectID,
		AgentID:       a.AgentID,
		Kind:          model.CommandSyncApplication,
		ApplicationID: a.ID,
		Commander:     PrincipalFrom(ctx).Subject,
		Args:          model.CommandArgs{SyncStrategy: model.SyncStrategyQuickSync, TargetDeploymentID: target.ID},
	}
	if err := s.queueCommand(ctx, c); err != nil {
		return nil, err
	}
	return res(&ferryv1.RollbackApplicationResponse{CommandId: c.ID, TargetDeploymentId: target.ID, CommitHash: target.Trigger.Commit.Hash})
}

// rollbackTarget is the named deployment, which must be a success of the
// application, or the success before the most recent one.
func (s *UserService) rollbackTarget(ctx context.Context, a *model.Application, id string) (*model.Deployment, error) {
	if id != "" {
		d, err := s.findDeployment(ctx, id)
		if err != nil {
			return nil, err
		}
		if d.ApplicationID != a.ID || d.Status != model.DeploymentSuccess {
			return nil, model.Errorf(model.KindFailedPrecondition, "deployment %s is not a successful deployment of %s", id, a.Name)
		}
		return d, nil
	}
	ds, _, err := s.Store.ListDeployments(ctx, store.DeploymentFilter{ApplicationID: a.ID, Statuses: []model.DeploymentStatus{model.DeploymentSuccess}}, store.Page{Limit: 2})
	if err != nil {
		return nil, err
	}
	if len(ds) < 2 {
		return nil, model.Errorf(model.KindFailedPrecondition, "application %s has no earlier successful deployment to roll back to", a.Name)
	}
	return ds[1], nil
}

func (s *UserService) setAppDisabled(ctx context.Context, ref string, disabled bool) (*model.Application, error) {
	a, err := s.findApp(ctx, ref)
	if err != nil {
		return nil, err
	}
	if !disabled && a.ConfigRemoved() {
		return nil, model.Errorf(model.KindFailedPrecondition,
			"application %s cannot be enabled: its config %s was removed from Git; put it back (the agent then enables it) or delete the application",
			a.ID, a.GitPath.Ref())
	}
	a, err = s.Store.UpdateApplication(ctx, a.ID, func(a *model.Application) error { a.Disabled = disabled; return nil })
	if err != nil {
		return nil, err
	}
	s.notifyApplicationsChanged(ctx, a.AgentID)
	s.appChanged(a)
	return a, nil
}

// DisableApplication implements UserService.
func (s *UserService) DisableApplication(ctx context.Context, req *connect.Request[ferryv1.DisableApplicationRequest]) (*connect.Response[ferryv1.DisableApplicationResponse], error) {
	a, err := s.setAppDisabled(ctx, req.Msg.Application, true)
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.DisableApplicationResponse{Application: toApplication(a, "")})
}

// EnableApplication implements UserService.
func (s *UserService) EnableApplication(ctx context.Context, req *connect.Request[ferryv1.EnableApplicationRequest]) (*connect.Response[ferryv1.EnableApplicationResponse], error) {
	a, err := s.setAppDisabled(ctx, req.Msg.Application, false)
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.EnableApplicationResponse{Application: toApplication(a, "")})
}

// DeleteApplication implements UserService. The app's deployments stay for
// the record; its live state goes.
func (s *UserService) DeleteApplication(ctx context.Context, req *connect.Request[ferryv1.DeleteApplicationRequest]) (*connect.Response[ferryv1.DeleteApplicationResponse], error) {
	a, err := s.findApp(ctx, req.Msg.Application)
	if err != nil {
		return nil, err
	}
	if err := s.Store.DeleteApplication(ctx, a.ID); err != nil {
		return nil, err
	}
	if err := s.Blobs.Delete(ctx, liveStateKey(a.ID)); err != nil && !model.IsKind(err, model.KindNotFound) {
		s.Logger.WarnContext(ctx, "delete live state", "app_id", a.ID, "error", err)
	}
	s.notifyApplicationsChanged(ctx, a.AgentID)
	s.appChanged(a)
	return res(&ferryv1.DeleteApplicationResponse{})
}

// GetApplicationLiveState implements UserService.
func (s *UserService) GetApplicationLiveState(ctx context.Context, req *connect.Request[ferryv1.GetApplicationLiveStateRequest]) (*connect.Response[ferryv1.GetApplicationLiveStateResponse], error) {
	a, err := s.findApp(ctx, req.Msg.Application)
	if err != nil {
		return nil, err
	}
	ls, err := getLiveState(ctx, s.Blobs, a)
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.GetApplicationLiveStateResponse{LiveState: toLiveState(ls)})
}
