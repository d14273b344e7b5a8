package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// Bounds of a static admin password. bcrypt reads at most 72 bytes, so a
// longer password would be silently cut.
const (
	minPasswordLen = 12
	maxPasswordLen = 72
)

// ChangeStaticAdminPassword implements UserService.
func (s *UserService) ChangeStaticAdminPassword(ctx context.Context, req *connect.Request[ferryv1.ChangeStaticAdminPasswordRequest]) (*connect.Response[ferryv1.ChangeStaticAdminPasswordResponse], error) {
	p := PrincipalFrom(ctx)
	pw := req.Msg.NewPassword
	switch {
	case len(pw) < minPasswordLen:
		return nil, model.Invalid("new_password: is %d bytes; use at least %d", len(pw), minPasswordLen)
	case len(pw) > maxPasswordLen:
		return nil, model.Invalid("new_password: is %d bytes; bcrypt reads at most %d, so use a shorter one", len(pw), maxPasswordLen)
	}
	hash, err := auth.HashPassword(pw)
	if err != nil {
		return nil, err
	}
	var subject string
	_, err = s.Store.UpdateProject(ctx, p.ProjectID, func(proj *model.Project) error {
		admin := proj.StaticAdmin
		if admin.Username == "" {
			return model.Invalid("the project has no static admin whose password could change")
		}
		// The static admin changing its own password proves it knows the
		// present one, so a session left open on a shared screen cannot
		// lock its owner out. Other admins reset it without.
		if p.SessionID != "" && admin.Is(p.Subject) && !auth.CheckPassword(admin.PasswordHash, req.Msg.CurrentPassword) {
			return model.Errorf(model.KindPermissionDenied, "current_password: is not the static admin's present password")
		}
		proj.StaticAdmin.PasswordHash = hash
		subject = admin.Subject()
		return nil
	})
	if err != nil {
		return nil, err
	}
	n, err := s.Store.DeleteConsoleSessions(ctx, store.ConsoleSessionFilter{ProjectID: p.ProjectID, Subject: subject})
	if err != nil {
		return nil, model.Errorf(model.KindUnavailable, "the password changed, but the static admin's console sessions could not be ended; end them under Settings: %w", err)
	}
	return res(&ferryv1.ChangeStaticAdminPasswordResponse{SessionsEnded: int32(n)})
}

// ListConsoleSessions implements UserService.
func (s *UserService) ListConsoleSessions(ctx context.Context, req *connect.Request[ferryv1.ListConsoleSessionsRequest]) (*connect.Response[ferryv1.ListConsoleSessionsResponse], error) {
	p := PrincipalFrom(ctx)
	f := store.ConsoleSessionFilter{ProjectID: p.ProjectID, Subject: p.Subject}
	if req.Msg.All {
		if !p.Role.Allows(model.RoleAdmin) {
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New("listing everyone's console sessions needs the admin role; leave out all to list your own"))
		}
		f.Subject = ""
	}
	list, err := s.Store.ListConsoleSessions(ctx, f, s.now())
	if err != nil {
		return nil, err
	}
	out := make([]*ferryv1.ConsoleSession, len(list))
	for i, c := range list {
		out[i] = &ferryv1.ConsoleSession{
			Id: c.ID, Subject: c.Subject, Name: c.Name, Role: toRole(c.Role), UserAgent: c.UserAgent,
			CreatedAt: ts(c.CreatedAt), ExpiresAt: ts(c.ExpiresAt), Current: c.ID == p.SessionID,
		}
	}
	return res(&ferryv1.ListConsoleSessionsResponse{Sessions: out})
}

// RevokeConsoleSessions implements UserService.
func (s *UserService) RevokeConsoleSessions(ctx context.Context, req *connect.Request[ferryv1.RevokeConsoleSessionsRequest]) (*connect.Response[ferryv1.RevokeConsoleSessionsResponse], error) {
	p := PrincipalFrom(ctx)
	m := req.Msg
	admin := p.Role.Allows(model.RoleAdmin)
	var ids []string
	switch {
	case m.AllButCurrent:
		if len(m.Ids) > 0 || m.Subject != "" {
			return nil, model.Invalid("all_but_current: give it alone, without ids or subject")
		}
		mine, err := s.Store.ListConsoleSessions(ctx, store.ConsoleSessionFilter{ProjectID: p.ProjectID, Subject: p.Subject}, s.now())
		if err != nil {
			return nil, err
		}
		for _, c := range mine {
			if c.ID != p.SessionID {
				ids = append(ids, c.ID)
			}
		}
		if len(ids) == 0 {
			return res(&ferryv1.RevokeConsoleSessionsResponse{})
		}
	case m.Subject != "":
		if len(m.Ids) > 0 {
			return nil, model.Invalid("subject: give ids or subject, not both")
		}
		if m.Subject != p.Subject && !admin {
			return nil, connect.NewError(connect.CodePermissionDenied, errors.New("ending someone else's console sessions needs the admin role"))
		}
	case len(m.Ids) > 0:
		if len(m.Ids) > 1000 {
			return nil, model.Invalid("ids: %d sessions at once is too many: at most 1000", len(m.Ids))
		}
		ids = m.Ids
		if !admin {
			// Only one's own sessions: the others are not deleted, and
			// asking for them is refused so nobody probes for ids.
			mine, err := s.Store.ListConsoleSessions(ctx, store.ConsoleSessionFilter{ProjectID: p.ProjectID, Subject: p.Subject, IDs: ids}, s.now())
			if err != nil {
				return nil, err
			}
			if len(mine) != len(uniq(ids)) {
				return nil, connect.NewError(connect.CodePermissionDenied, errors.New("ending someone else's console sessions needs the admin role; list your own with ListConsoleSessions"))
			}
		}
	default:
		return nil, model.Invalid("say which sessions to end: ids, subject or all_but_current")
	}
	n, err := s.Store.DeleteConsoleSessions(ctx, store.ConsoleSessionFilter{ProjectID: p.ProjectID, Subject: m.Subject, IDs: ids})
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.RevokeConsoleSessionsResponse{Revoked: int32(n)})
}

func uniq(ids []string) map[string]struct{} {
	out := make(map[string]struct{}, len(ids))
	for _, id := range ids {
		out[id] = struct{}{}
	}
	return out
}
