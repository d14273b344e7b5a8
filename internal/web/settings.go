package web

import (
	"net/http"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/server/api"
	"github.com/ferrycd/ferry/internal/store"
)

type settingsData struct {
	Project   *model.Project
	Keys      []*model.APIKey
	Providers []string
	Roles     []roleRow
	// NewKey is shown once, right after creating it.
	NewKey, NewKeyName string
}

type roleRow struct {
	Group string
	Role  model.Role
}

func (h *Handler) settingsPage(w http.ResponseWriter, r *http.Request, s *session, d *settingsData) {
	p, err := h.store.GetProject(r.Context(), s.ProjectID)
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	d.Project, d.Providers = p, h.providerNames()
	for _, rule := range h.opts.Roles.Rules {
		d.Roles = append(d.Roles, roleRow{Group: rule.Group, Role: rule.Role})
	}
	for _, g := range p.UserGroups {
		d.Roles = append(d.Roles, roleRow{Group: g.SSOGroup, Role: g.Role})
	}
	if h.can(s, "ListAPIKeys") {
		no := false
		keys, err := h.store.ListAPIKeys(r.Context(), store.APIKeyFilter{ProjectID: s.ProjectID, Revoked: &no})
		if err != nil {
			h.callError(w, r, s, err)
			return
		}
		d.Keys = keys
	}
	h.render(w, r, http.StatusOK, "settings", h.view(r, s, "Settings", "settings", d))
}

func (h *Handler) settings(w http.ResponseWriter, r *http.Request, s *session) {
	h.settingsPage(w, r, s, &settingsData{})
}

// createAPIKey creates a key and shows it, once.
func (h *Handler) createAPIKey(w http.ResponseWriter, r *http.Request, s *session) {
	role := ferryv1.Role_ROLE_VIEWER
	switch r.PostFormValue("role") {
	case "editor":
		role = ferryv1.Role_ROLE_EDITOR
	case "admin":
		role = ferryv1.Role_ROLE_ADMIN
	}
	ctx := api.WithPrincipal(r.Context(), s.principal())
	res, err := h.users.CreateAPIKey(ctx, connect.NewRequest(&ferryv1.CreateAPIKeyRequest{Name: r.PostFormValue("name"), Role: role}))
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	h.settingsPage(w, r, s, &settingsData{NewKey: res.Msg.GetKey(), NewKeyName: res.Msg.GetApiKey().GetName()})
}

func (h *Handler) revokeAPIKey(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := api.WithPrincipal(r.Context(), s.principal())
	if _, err := h.users.RevokeAPIKey(ctx, connect.NewRequest(&ferryv1.RevokeAPIKeyRequest{Id: r.PathValue("id")})); err != nil {
		h.callError(w, r, s, err)
		return
	}
	back(w, r, "/settings", "API key revoked: calls with it are refused from now on.")
}
