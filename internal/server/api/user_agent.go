package api

import (
	"context"
	"regexp"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// validName is what agent, application and API key names may look like:
// they appear in URLs, labels and CLI arguments.
var validName = regexp.MustCompile(`^[a-zA-Z0-9][a-zA-Z0-9._-]{0,62}$`)

func checkName(what, name string) error {
	if !validName.MatchString(name) {
		return model.Invalid("%s name %q: use 1-63 letters, digits, '.', '_' or '-', starting with a letter or digit", what, name)
	}
	return nil
}

// findAgent resolves an agent of the caller's project by id or name.
func (s *UserService) findAgent(ctx context.Context, ref string) (*model.Agent, error) {
	if err := required("agent", ref); err != nil {
		return nil, err
	}
	project := PrincipalFrom(ctx).ProjectID
	a, err := s.Store.GetAgent(ctx, ref)
	if err == nil && a.ProjectID == project {
		return a, nil
	}
	if err != nil && !model.IsKind(err, model.KindNotFound) {
		return nil, err
	}
	all, err := s.Store.ListAgents(ctx, store.AgentFilter{ProjectID: project})
	if err != nil {
		return nil, err
	}
	for _, a := range all {
		if a.Name == ref {
			return a, nil
		}
	}
	return nil, model.NotFound("agent", ref)
}

func (s *UserService) updateAgent(ctx context.Context, ref string, mutate func(*model.Agent) error) (*model.Agent, error) {
	a, err := s.findAgent(ctx, ref)
	if err != nil {
		return nil, err
	}
	updated, err := s.Store.UpdateAgent(ctx, a.ID, mutate)
	if s.Authz != nil {
		s.Authz.ForgetAgent(a.ID)
	}
	if err == nil {
		s.changed(hub.Change{ProjectID: a.ProjectID, What: hub.ChangeAgent})
	}
	return updated, err
}

// RegisterAgent implements UserService.
func (s *UserService) RegisterAgent(ctx context.Context, req *connect.Request[ferryv1.RegisterAgentRequest]) (*connect.Response[ferryv1.RegisterAgentResponse], error) {
	p := PrincipalFrom(ctx)
	if err := checkName("agent", req.Msg.Name); err != nil {
		return nil, err
	}
	now := s.now()
	a := &model.Agent{ID: newID(), ProjectID: p.ProjectID, Name: req.Msg.Name, Description: req.Msg.Description, CreatedAt: now, UpdatedAt: now}
	key, hash := auth.NewKey(a.ID)
	a.Keys = []model.AgentKey{{Hash: hash, Creator: p.Subject, CreatedAt: now}}
	if err := s.Store.CreateAgent(ctx, a); err != nil {
		if model.IsKind(err, model.KindAlreadyExists) {
			return nil, model.Errorf(model.KindAlreadyExists, "an agent named %q already exists in project %s", a.Name, a.ProjectID)
		}
		return nil, err
	}
	s.changed(hub.Change{ProjectID: a.ProjectID, What: hub.ChangeAgent})
	return res(&ferryv1.RegisterAgentResponse{Agent: toAgent(a, now), Key: key})
}

// ListAgents implements UserService.
func (s *UserService) ListAgents(ctx context.Context, req *connect.Request[ferryv1.ListAgentsRequest]) (*connect.Response[ferryv1.ListAgentsResponse], error) {
	f := store.AgentFilter{ProjectID: PrincipalFrom(ctx).ProjectID}
	if !req.Msg.IncludeDisabled {
		enabled := false
		f.Disabled = &enabled
	}
	as, err := s.Store.ListAgents(ctx, f)
	if err != nil {
		return nil, err
	}
	now := s.now()
	out := &ferryv1.ListAgentsResponse{}
	for _, a := range as {
		out.Agents = append(out.Agents, toAgent(a, now))
	}
	return res(out)
}

// GetAgent implements UserService.
func (s *UserService) GetAgent(ctx context.Context, req *connect.Request[ferryv1.GetAgentRequest]) (*connect.Response[ferryv1.GetAgentResponse], error) {
	a, err := s.findAgent(ctx, req.Msg.Agent)
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.GetAgentResponse{Agent: toAgent(a, s.now())})
}

// DisableAgent implements UserService. A disabled agent's calls are refused.
func (s *UserService) DisableAgent(ctx context.Context, req *connect.Request[ferryv1.DisableAgentRequest]) (*connect.Response[ferryv1.DisableAgentResponse], error) {
	a, err := s.updateAgent(ctx, req.Msg.Agent, func(a *model.Agent) error { a.Disabled = true; return nil })
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.DisableAgentResponse{Agent: toAgent(a, s.now())})
}

// EnableAgent implements UserService.
func (s *UserService) EnableAgent(ctx context.Context, req *connect.Request[ferryv1.EnableAgentRequest]) (*connect.Response[ferryv1.EnableAgentResponse], error) {
	a, err := s.updateAgent(ctx, req.Msg.Agent, func(a *model.Agent) error { a.Disabled = false; return nil })
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.EnableAgentResponse{Agent: toAgent(a, s.now())})
}

// RotateAgentKey implements UserService.
func (s *UserService) RotateAgentKey(ctx context.Context, req *connect.Request[ferryv1.RotateAgentKeyRequest]) (*connect.Response[ferryv1.RotateAgentKeyResponse], error) {
	p := PrincipalFrom(ctx)
	now := s.now()
	var key string
	a, err := s.updateAgent(ctx, req.Msg.Agent, func(a *model.Agent) error {
		var hash string
		key, hash = auth.NewKey(a.ID)
		a.Keys = append(a.Keys, model.AgentKey{Hash: hash, Creator: p.Subject, CreatedAt: now})
		if n := len(a.Keys); n > model.MaxAgentKeys {
			a.Keys = a.Keys[n-model.MaxAgentKeys:]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.RotateAgentKeyResponse{Agent: toAgent(a, now), Key: key})
}

// DeleteOldAgentKeys implements UserService.
func (s *UserService) DeleteOldAgentKeys(ctx context.Context, req *connect.Request[ferryv1.DeleteOldAgentKeysRequest]) (*connect.Response[ferryv1.DeleteOldAgentKeysResponse], error) {
	a, err := s.updateAgent(ctx, req.Msg.Agent, func(a *model.Agent) error {
		if n := len(a.Keys); n > 1 {
			a.Keys = a.Keys[n-1:]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.DeleteOldAgentKeysResponse{Agent: toAgent(a, s.now())})
}
