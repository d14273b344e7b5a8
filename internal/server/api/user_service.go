package api

import (
	"context"
	"errors"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// UserService implements ferry.v1.UserService: what people, the console and
// CI call. Its methods are spread over user_*.go, a file per resource.
type UserService struct {
	*Deps
}

var _ ferryv1connect.UserServiceHandler = (*UserService)(nil)

// NewUserService returns the user-facing service.
func NewUserService(d *Deps) *UserService { return &UserService{Deps: d} }

// GetMe implements UserService.
func (s *UserService) GetMe(ctx context.Context, _ *connect.Request[ferryv1.GetMeRequest]) (*connect.Response[ferryv1.GetMeResponse], error) {
	p := PrincipalFrom(ctx)
	return res(&ferryv1.GetMeResponse{Subject: p.Subject, ProjectId: p.ProjectID, Role: toRole(p.Role)})
}

// GetProject implements UserService.
func (s *UserService) GetProject(ctx context.Context, _ *connect.Request[ferryv1.GetProjectRequest]) (*connect.Response[ferryv1.GetProjectResponse], error) {
	p, err := s.Store.GetProject(ctx, PrincipalFrom(ctx).ProjectID)
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.GetProjectResponse{Project: toProject(p)})
}

// page translates API paging fields.
func page(size int32, token string) (store.Page, error) {
	if size < 0 {
		return store.Page{}, model.Invalid("page size must not be negative")
	}
	return store.Page{Limit: int(size), Cursor: token}, nil
}

// required returns an InvalidArgument error naming a missing field.
func required(field, value string) error {
	if value == "" {
		return connect.NewError(connect.CodeInvalidArgument, errors.New(field+" is required"))
	}
	return nil
}
