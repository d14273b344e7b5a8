package api

import (
	"context"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// UpdateProjectUserGroups implements UserService. It replaces the whole
// list, so two admins editing at once cannot interleave half-lists; the
// store's revision check makes the replacement one write.
func (s *UserService) UpdateProjectUserGroups(ctx context.Context, req *connect.Request[ferryv1.UpdateProjectUserGroupsRequest]) (*connect.Response[ferryv1.UpdateProjectUserGroupsResponse], error) {
	groups := make([]model.UserGroup, 0, len(req.Msg.UserGroups))
	for _, g := range req.Msg.UserGroups {
		groups = append(groups, model.UserGroup{SSOGroup: g.GetSsoGroup(), Role: fromRole(g.GetRole())})
	}
	if err := model.ValidateUserGroups(groups); err != nil {
		return nil, err
	}
	want := req.Msg.ExpectedRevision
	p, err := s.Store.UpdateProject(ctx, PrincipalFrom(ctx).ProjectID, func(p *model.Project) error {
		if want != 0 && p.Revision != want {
			return model.Errorf(model.KindFailedPrecondition, "the project's user groups changed since they were read (revision %d, now %d): read them again and redo the change", want, p.Revision)
		}
		p.UserGroups = groups
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.UpdateProjectUserGroupsResponse{Project: toProject(p)})
}

// SetStaticAdminDisabled implements UserService. Disabling also signs out
// the static admin's console sessions on every replica.
func (s *UserService) SetStaticAdminDisabled(ctx context.Context, req *connect.Request[ferryv1.SetStaticAdminDisabledRequest]) (*connect.Response[ferryv1.SetStaticAdminDisabledResponse], error) {
	p, err := s.Store.UpdateProject(ctx, PrincipalFrom(ctx).ProjectID, func(p *model.Project) error {
		if p.StaticAdmin.Username == "" {
			return model.Invalid("the project has no static admin to disable or enable")
		}
		p.StaticAdmin.Disabled = req.Msg.Disabled
		return nil
	})
	if err != nil {
		return nil, err
	}
	if req.Msg.Disabled {
		f := store.ConsoleSessionFilter{ProjectID: p.ID, Subject: p.StaticAdmin.Subject()}
		if _, err := s.Store.DeleteConsoleSessions(ctx, f); err != nil {
			return nil, model.Errorf(model.KindUnavailable, "the static admin is disabled, but its open console sessions could not be ended; end them under Settings: %w", err)
		}
	}
	return res(&ferryv1.SetStaticAdminDisabledResponse{Project: toProject(p)})
}
