package api

import (
	"context"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
)

// CreateAPIKey implements UserService.
func (s *UserService) CreateAPIKey(ctx context.Context, req *connect.Request[ferryv1.CreateAPIKeyRequest]) (*connect.Response[ferryv1.CreateAPIKeyResponse], error) {
	p := PrincipalFrom(ctx)
	if err := checkName("API key", req.Msg.Name); err != nil {
		return nil, err
	}
	role := fromRole(req.Msg.Role)
	if !role.Valid() {
		return nil, model.Invalid("role must be viewer, editor or admin")
	}
	now := s.now()
	k := &model.APIKey{ID: newID(), ProjectID: p.ProjectID, Name: req.Msg.Name, Role: role, Creator: p.Subject, CreatedAt: now, UpdatedAt: now}
	key, hash := auth.NewKey(k.ID)
	k.KeyHash = hash
	if err := s.Store.CreateAPIKey(ctx, k); err != nil {
		return nil, err
	}
	return res(&ferryv1.CreateAPIKeyResponse{ApiKey: toAPIKey(k), Key: key})
}

// ListAPIKeys implements UserService.
func (s *UserService) ListAPIKeys(ctx context.Context, req *connect.Request[ferryv1.ListAPIKeysRequest]) (*connect.Response[ferryv1.ListAPIKeysResponse], error) {
	f := store.APIKeyFilter{ProjectID: PrincipalFrom(ctx).ProjectID}
	if !req.Msg.IncludeRevoked {
		active := false
		f.Revoked = &active
	}
	ks, err := s.Store.ListAPIKeys(ctx, f)
	if err != nil {
		return nil, err
	}
	out := &ferryv1.ListAPIKeysResponse{}
	for _, k := range ks {
		out.ApiKeys = append(out.ApiKeys, toAPIKey(k))
	}
	return res(out)
}

// RevokeAPIKey implements UserService. A revoked key is refused at once.
func (s *UserService) RevokeAPIKey(ctx context.Context, req *connect.Request[ferryv1.RevokeAPIKeyRequest]) (*connect.Response[ferryv1.RevokeAPIKeyResponse], error) {
	if err := required("id", req.Msg.Id); err != nil {
		return nil, err
	}
	project := PrincipalFrom(ctx).ProjectID
	_, err := s.Store.UpdateAPIKey(ctx, req.Msg.Id, func(k *model.APIKey) error {
		if k.ProjectID != project {
			return model.NotFound("API key", req.Msg.Id)
		}
		k.Revoked = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res(&ferryv1.RevokeAPIKeyResponse{})
}
