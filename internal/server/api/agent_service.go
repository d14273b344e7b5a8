package api

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// AgentService implements ferry.v1.AgentService. Deployment, stage and log
// calls live in agent_deployment.go.
type AgentService struct {
	*Deps
	owners ownerCache
}

var _ ferryv1connect.AgentServiceHandler = (*AgentService)(nil)

// NewAgentService returns the agent-facing service.
func NewAgentService(d *Deps) *AgentService { return &AgentService{Deps: d} }

// ReportMeta implements AgentService.
func (s *AgentService) ReportMeta(ctx context.Context, req *connect.Request[ferryv1.ReportMetaRequest]) (*connect.Response[ferryv1.ReportMetaResponse], error) {
	p := PrincipalFrom(ctx)
	now := s.now()
	a, err := s.Store.UpdateAgent(ctx, p.AgentID, func(a *model.Agent) error {
		a.Version = req.Msg.Version
		a.StartedAt, a.LastSeenAt = now, now
		a.Repositories = a.Repositories[:0]
		for _, r := range req.Msg.Repositories {
			a.Repositories = append(a.Repositories, model.Repository{ID: r.Id, Remote: model.RedactRemote(r.Remote), Branch: r.Branch})
		}
		a.PlatformProviders = a.PlatformProviders[:0]
		for _, pp := range req.Msg.PlatformProviders {
			a.PlatformProviders = append(a.PlatformProviders, model.PlatformProvider{Name: pp.Name, Type: fromKind(pp.Type)})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.changed(hub.Change{ProjectID: a.ProjectID, What: hub.ChangeAgent})
	return res(&ferryv1.ReportMetaResponse{ProjectId: a.ProjectID, AgentId: a.ID, AgentName: a.Name})
}

// Heartbeat implements AgentService.
func (s *AgentService) Heartbeat(ctx context.Context, _ *connect.Request[ferryv1.HeartbeatRequest]) (*connect.Response[ferryv1.HeartbeatResponse], error) {
	if err := s.Store.TouchAgent(ctx, PrincipalFrom(ctx).AgentID, s.now()); err != nil {
		return nil, err
	}
	return res(&ferryv1.HeartbeatResponse{})
}

// Watch implements AgentService: unhandled commands first, then whatever the
// hub publishes, with a re-read of unhandled commands when the hub asks (a
// command queued on another replica) and periodically.
func (s *AgentService) Watch(ctx context.Context, _ *connect.Request[ferryv1.WatchRequest], stream *connect.ServerStream[ferryv1.WatchResponse]) error {
	agentID := PrincipalFrom(ctx).AgentID
	items, cancel := s.Hub.Subscribe(agentID)
	defer cancel()
	if err := s.Store.TouchAgent(ctx, agentID, s.now()); err != nil {
		return err
	}

	sent := map[string]bool{}
	sendCommand := func(c *model.Command) error {
		if sent[c.ID] {
			return nil
		}
		sent[c.ID] = true
		return stream.Send(&ferryv1.WatchResponse{Item: &ferryv1.WatchResponse_Command{Command: toCommand(c)}})
	}
	poll := func() error {
		cs, err := s.unhandled(ctx, agentID)
		if err != nil {
			return err
		}
		for _, c := range cs {
			if err := sendCommand(c); err != nil {
				return err
			}
		}
		return nil
	}
	if err := poll(); err != nil {
		return err
	}
	// An empty notice tells the agent the stream is live.
	if err := stream.Send(&ferryv1.WatchResponse{Item: &ferryv1.WatchResponse_Notice{Notice: &ferryv1.Notice{}}}); err != nil {
		return err
	}
	tick := time.NewTicker(s.pollInterval())
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-s.Stopping:
			return nil
		case <-tick.C:
			if err := poll(); err != nil {
				return err
			}
		case it, ok := <-items:
			if !ok {
				return nil
			}
			var err error
			switch {
			case it.Recheck:
				err = poll()
			case it.Command != nil:
				err = sendCommand(it.Command)
			case it.Notice != nil:
				err = stream.Send(&ferryv1.WatchResponse{Item: &ferryv1.WatchResponse_Notice{Notice: toNotice(it.Notice)}})
			}
			if err != nil {
				return err
			}
		}
	}
}

func toNotice(n *hub.Notice) *ferryv1.Notice {
	out := &ferryv1.Notice{RepositoryId: n.RepositoryID, Branch: n.Branch, CommitHash: n.CommitHash}
	switch n.Kind {
	case hub.NoticeRepositoryPushed:
		out.Kind = ferryv1.Notice_KIND_REPOSITORY_PUSHED
	case hub.NoticeApplicationsChanged:
		out.Kind = ferryv1.Notice_KIND_APPLICATIONS_CHANGED
	}
	return out
}

func (s *AgentService) unhandled(ctx context.Context, agentID string) ([]*model.Command, error) {
	cs, _, err := s.Store.ListCommands(ctx, store.CommandFilter{
		AgentID:  agentID,
		Statuses: []model.CommandStatus{model.CommandNotHandledYet},
	}, store.Page{Limit: store.MaxLimit})
	return cs, err
}

// ListUnhandledCommands implements AgentService.
func (s *AgentService) ListUnhandledCommands(ctx context.Context, _ *connect.Request[ferryv1.ListUnhandledCommandsRequest]) (*connect.Response[ferryv1.ListUnhandledCommandsResponse], error) {
	cs, err := s.unhandled(ctx, PrincipalFrom(ctx).AgentID)
	if err != nil {
		return nil, err
	}
	out := &ferryv1.ListUnhandledCommandsResponse{}
	for _, c := range cs {
		out.Commands = append(out.Commands, toCommand(c))
	}
	return res(out)
}

// ReportCommandHandled implements AgentService. Reporting the same result
// twice is a no-op; reporting a different one for a handled command fails.
func (s *AgentService) ReportCommandHandled(ctx context.Context, req *connect.Request[ferryv1.ReportCommandHandledRequest]) (*connect.Response[ferryv1.ReportCommandHandledResponse], error) {
	p := PrincipalFrom(ctx)
	status := model.CommandStatus(enumTo(req.Msg.Status.String(), "COMMAND_STATUS_"))
	if !status.Completed() {
		return nil, model.Invalid("status must be SUCCEEDED, FAILED or TIMEOUT, not %s", req.Msg.Status)
	}
	now := s.now()
	_, err := s.Store.UpdateCommand(ctx, req.Msg.CommandId, func(c *model.Command) error {
		if c.AgentID != p.AgentID {
			return model.NotFound("command", req.Msg.CommandId)
		}
		if c.Status.Completed() {
			if c.Status == status {
				return nil
			}
			return model.Errorf(model.KindFailedPrecondition, "command %s was already reported %s", c.ID, c.Status)
		}
		c.Status = status
		c.Output = req.Msg.Output
		c.Metadata = req.Msg.Metadata
		c.HandledAt = now
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.ReportCommandHandledResponse{})
}

// agentApps returns every application assigned to agentID.
func (s *AgentService) agentApps(ctx context.Context, agentID string, disabled *bool) ([]*model.Application, error) {
	var all []*model.Application
	page := store.Page{Limit: store.MaxLimit}
	for {
		apps, next, err := s.Store.ListApplications(ctx, store.ApplicationFilter{AgentID: agentID, Disabled: disabled}, page)
		if err != nil {
			return nil, err
		}
		all = append(all, apps...)
		if next == "" {
			return all, nil
		}
		page.Cursor = next
	}
}

// ListApplications implements AgentService: the agent's enabled apps.
func (s *AgentService) ListApplications(ctx context.Context, req *connect.Request[ferryv1.AgentListApplicationsRequest]) (*connect.Response[ferryv1.AgentListApplicationsResponse], error) {
	agentID := PrincipalFrom(ctx).AgentID
	var apps []*model.Application
	if ids := req.Msg.GetApplicationIds(); len(ids) > 0 {
		if len(ids) > store.MaxLimit {
			return nil, model.Invalid("at most %d application ids in one call", store.MaxLimit)
		}
		for _, id := range ids {
			a, err := s.Store.GetApplication(ctx, id)
			switch {
			case model.IsKind(err, model.KindNotFound):
				continue
			case err != nil:
				return nil, err
			case a.AgentID == agentID && !a.Disabled:
				apps = append(apps, a)
			}
		}
	} else {
		enabled := false
		var err error
		if apps, err = s.agentApps(ctx, agentID, &enabled); err != nil {
			return nil, err
		}
	}
	out := &ferryv1.AgentListApplicationsResponse{}
	for _, a := range apps {
		out.Applications = append(out.Applications, toApplication(a, ""))
	}
	return res(out)
}

// RegisterApplications implements AgentService. Each spec is registered on
// its own: one that fails is reported in the response and the others are
// registered all the same, so one bad config never stops an agent's other
// applications. The configs listed as removed disable their applications.
func (s *AgentService) RegisterApplications(ctx context.Context, req *connect.Request[ferryv1.RegisterApplicationsRequest]) (*connect.Response[ferryv1.RegisterApplicationsResponse], error) {
	p := PrincipalFrom(ctx)
	known, err := s.agentApps(ctx, p.AgentID, nil)
	if err != nil {
		return nil, err
	}
	byPath := map[model.GitPath]*model.Application{}
	for _, a := range known {
		byPath[appKey(a.GitPath)] = a
	}
	out := &ferryv1.RegisterApplicationsResponse{}
	for _, spec := range req.Msg.Applications {
		a, err := s.registerOne(ctx, p, spec, byPath[appKey(fromGitPath(spec.GitPath))])
		if err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			out.Failures = append(out.Failures, &ferryv1.RegisterFailure{GitPath: spec.GitPath, Name: spec.Name, Reason: err.Error()})
			continue
		}
		out.Applications = append(out.Applications, toApplication(a, ""))
	}
	for _, g := range req.Msg.Removed {
		a := byPath[appKey(fromGitPath(g))]
		if a == nil || a.ConfigRemoved() {
			continue
		}
		if err := s.markRemoved(ctx, a); err != nil {
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			out.Failures = append(out.Failures, &ferryv1.RegisterFailure{GitPath: toGitPath(a.GitPath), Name: a.Name, Reason: err.Error()})
		}
	}
	return res(out)
}

// markRemoved disables an application whose config left its repository,
// saying why: it must not deploy (or be synced back on drift) from a config
// that is gone, and its deployments stay for the record.
func (s *AgentService) markRemoved(ctx context.Context, a *model.Application) error {
	id, g := a.ID, a.GitPath
	reason := fmt.Sprintf("%s is no longer in repository %s at the head of %s: the application was moved to another folder or deleted. "+
		"It is disabled and keeps its history; delete it (ferry app delete %s), or put the config back to enable it again.",
		g.ConfigPath(), g.RepoID, g.Branch, id)
	a, err := s.Store.UpdateApplication(ctx, id, func(a *model.Application) error {
		a.Disabled = true
		a.SyncState = model.SyncState{Status: model.SyncInvalidConfig, ShortReason: model.ConfigRemovedReason, Reason: reason, Timestamp: s.now()}
		return nil
	})
	if err != nil {
		return fmt.Errorf("disable removed application %s: %w", id, err)
	}
	s.appChanged(a)
	return nil
}

// appKey identifies a discovered application by where its config lives.
func appKey(g model.GitPath) model.GitPath {
	return model.GitPath{RepoID: g.RepoID, Path: g.Path, ConfigFilename: g.ConfigFilename}
}

func (s *AgentService) registerOne(ctx context.Context, p *Principal, spec *ferryv1.ApplicationSpec, existing *model.Application) (*model.Application, error) {
	now := s.now()
	kind := fromKind(spec.Kind)
	if spec.Name == "" || spec.GitPath == nil || spec.GitPath.RepoId == "" {
		return nil, model.Invalid("name and git path (repository id, path, config file) are required")
	}
	if !kind.Valid() {
		kind = model.AppKindKubernetes
	}
	apply := func(a *model.Application) {
		if a.ConfigRemoved() {
			a.Disabled = false // the config is back where it was
		}
		a.Name = spec.Name
		a.Kind = kind
		a.PlatformProvider = spec.PlatformProvider
		a.GitPath = fromGitPath(spec.GitPath)
		a.Labels = spec.Labels
		a.Description = spec.Description
		a.ConfigWarnings = fromConfigWarnings(spec.ConfigWarnings)
		switch {
		case spec.InvalidConfigReason != "":
			a.SyncState = model.SyncState{Status: model.SyncInvalidConfig, ShortReason: "invalid application config", Reason: spec.InvalidConfigReason, Timestamp: now}
		case a.SyncState.Status == model.SyncInvalidConfig || a.SyncState.Status == "":
			a.SyncState = model.SyncState{Status: model.SyncUnknown, Timestamp: now}
		}
	}
	if existing != nil {
		a, err := s.Store.UpdateApplication(ctx, existing.ID, func(a *model.Application) error {
			apply(a)
			return nil
		})
		if err != nil {
			return nil, err
		}
		s.appChanged(a)
		return a, nil
	}
	a := &model.Application{ID: newID(), ProjectID: p.ProjectID, AgentID: p.AgentID, CreatedAt: now, UpdatedAt: now}
	apply(a)
	if err := s.Store.CreateApplication(ctx, a); err != nil {
		return nil, err
	}
	s.appChanged(a)
	return a, nil
}

// ownApp returns the application if it belongs to the calling agent.
func (s *AgentService) ownApp(ctx context.Context, id string) (*model.Application, error) {
	a, err := s.Store.GetApplication(ctx, id)
	if err != nil {
		return nil, err
	}
	if a.AgentID != PrincipalFrom(ctx).AgentID {
		return nil, model.NotFound("application", id)
	}
	return a, nil
}

// ReportApplicationSyncState implements AgentService.
func (s *AgentService) ReportApplicationSyncState(ctx context.Context, req *connect.Request[ferryv1.ReportApplicationSyncStateRequest]) (*connect.Response[ferryv1.ReportApplicationSyncStateResponse], error) {
	st := fromSyncState(req.Msg.State)
	if !st.Status.Valid() {
		return nil, model.Invalid("sync state status %s is not valid", req.Msg.GetState().GetStatus())
	}
	if st.Timestamp.IsZero() {
		st.Timestamp = s.now()
	}
	agentID := PrincipalFrom(ctx).AgentID
	a, err := s.Store.UpdateApplication(ctx, req.Msg.ApplicationId, func(a *model.Application) error {
		if a.AgentID != agentID {
			return model.NotFound("application", req.Msg.ApplicationId)
		}
		a.SyncState = st
		return nil
	})
	if err != nil {
		return nil, err
	}
	s.appChanged(a)
	return res(&ferryv1.ReportApplicationSyncStateResponse{})
}

// ReportApplicationLiveState implements AgentService.
func (s *AgentService) ReportApplicationLiveState(ctx context.Context, req *connect.Request[ferryv1.ReportApplicationLiveStateRequest]) (*connect.Response[ferryv1.ReportApplicationLiveStateResponse], error) {
	a, err := s.ownApp(ctx, req.Msg.ApplicationId)
	if err != nil {
		return nil, err
	}
	resources := make([]model.ResourceState, 0, len(req.Msg.Resources))
	for _, r := range req.Msg.Resources {
		resources = append(resources, fromResourceState(r))
	}
	var health model.HealthStatus
	err = updateLiveState(ctx, s.Blobs, a, func(ls *model.LiveState) {
		if req.Msg.Incremental {
			ls.Resources = mergeResources(ls.Resources, resources, req.Msg.DeletedIds)
		} else {
			ls.Resources = resources
		}
		ls.AgentID, ls.Kind = a.AgentID, a.Kind
		ls.Health = model.AppHealth(ls.Resources)
		health = ls.Health
		if req.Msg.Version > ls.Version {
			ls.Version = req.Msg.Version
		} else {
			ls.Version++
		}
		ls.UpdatedAt = s.now()
	})
	if err != nil {
		return nil, err
	}
	// The application row keeps the health too, for lists that filter on
	// it; it is written only when the health changes.
	what := hub.ChangeLiveState
	if a.Health != health {
		if _, err := s.Store.UpdateApplication(ctx, a.ID, func(a *model.Application) error {
			a.Health = health
			return nil
		}); err != nil {
			s.changed(hub.Change{ProjectID: a.ProjectID, ApplicationID: a.ID, What: what})
			return nil, err
		}
		what |= hub.ChangeApplication
	}
	s.changed(hub.Change{ProjectID: a.ProjectID, ApplicationID: a.ID, What: what})
	return res(&ferryv1.ReportApplicationLiveStateResponse{})
}

// ListEvents implements AgentService: for each name, the newest event not
// handled yet.
func (s *AgentService) ListEvents(ctx context.Context, req *connect.Request[ferryv1.AgentListEventsRequest]) (*connect.Response[ferryv1.AgentListEventsResponse], error) {
	p := PrincipalFrom(ctx)
	out := &ferryv1.AgentListEventsResponse{}
	for _, name := range req.Msg.Names {
		es, _, err := s.Store.ListEvents(ctx, store.EventFilter{
			ProjectID: p.ProjectID, Name: name, Statuses: []model.EventStatus{model.EventNotHandled},
		}, store.Page{Limit: store.MaxLimit})
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			out.Events = append(out.Events, toEvent(e))
		}
	}
	return res(out)
}

// ReportEventStatuses implements AgentService.
func (s *AgentService) ReportEventStatuses(ctx context.Context, req *connect.Request[ferryv1.ReportEventStatusesRequest]) (*connect.Response[ferryv1.ReportEventStatusesResponse], error) {
	p := PrincipalFrom(ctx)
	now := s.now()
	for _, r := range req.Msg.Events {
		status := fromEventStatus(r.Status)
		if status != model.EventSuccess && status != model.EventFailure {
			return nil, model.Invalid("event %s: status must be SUCCESS or FAILURE", r.EventId)
		}
		_, err := s.Store.UpdateEvent(ctx, r.EventId, func(e *model.Event) error {
			if e.ProjectID != p.ProjectID {
				return model.NotFound("event", r.EventId)
			}
			e.Status, e.StatusDescription, e.HandledAt = status, r.StatusDescription, now
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return res(&ferryv1.ReportEventStatusesResponse{})
}
