package web

import (
	"net/http"
	"strings"

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
	// ConfigRoles are the ControlPlane file's spec.sso.roleMappings, read
	// only; the project's own user groups, which admins edit here, are
	// Project.UserGroups.
	ConfigRoles []roleRow
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
		d.ConfigRoles = append(d.ConfigRoles, roleRow{Group: rule.Group, Role: rule.Role})
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

// setUserGroup adds an SSO team or group with a role to the project, or
// changes the role of one already listed (compared without regard to case,
// as sign-in matches them). The RPC replaces the whole list, so this
// reads the list, changes one entry and sends it back.
func (h *Handler) setUserGroup(w http.ResponseWriter, r *http.Request, s *session) {
	group := strings.TrimSpace(r.PostFormValue("group"))
	role := formRole(r.PostFormValue("role"))
	h.editUserGroups(w, r, s, func(gs []*ferryv1.UserGroup) ([]*ferryv1.UserGroup, string) {
		for _, g := range gs {
			if strings.EqualFold(g.SsoGroup, group) {
				g.Role = role
				return gs, "The members of " + group + " now get the role " + r.PostFormValue("role") + " from their next sign-in."
			}
		}
		return append(gs, &ferryv1.UserGroup{SsoGroup: group, Role: role}), "The members of " + group + " get the role " + r.PostFormValue("role") + " from their next sign-in."
	})
}

// removeUserGroup takes an SSO team or group off the project's list.
func (h *Handler) removeUserGroup(w http.ResponseWriter, r *http.Request, s *session) {
	group := r.PostFormValue("group")
	h.editUserGroups(w, r, s, func(gs []*ferryv1.UserGroup) ([]*ferryv1.UserGroup, string) {
		kept := gs[:0]
		for _, g := range gs {
			if g.SsoGroup != group {
				kept = append(kept, g)
			}
		}
		if len(kept) == len(gs) {
			return kept, group + " was not on the project's list (someone may have removed it already)."
		}
		return kept, group + " no longer gives a role from the project's list, from each member's next sign-in."
	})
}

// editUserGroups reads the project's user groups, lets edit change them and
// stores the result through UpdateProjectUserGroups, whose checks (and
// their messages) apply. The update names the revision it read, so an edit
// racing another admin's is refused rather than dropping theirs.
func (h *Handler) editUserGroups(w http.ResponseWriter, r *http.Request, s *session, edit func([]*ferryv1.UserGroup) ([]*ferryv1.UserGroup, string)) {
	ctx := api.WithPrincipal(r.Context(), s.principal())
	cur, err := h.users.GetProject(ctx, connect.NewRequest(&ferryv1.GetProjectRequest{}))
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	groups, notice := edit(cur.Msg.GetProject().GetUserGroups())
	req := &ferryv1.UpdateProjectUserGroupsRequest{UserGroups: groups, ExpectedRevision: cur.Msg.GetProject().GetRevision()}
	if _, err := h.users.UpdateProjectUserGroups(ctx, connect.NewRequest(req)); err != nil {
		h.callError(w, r, s, err)
		return
	}
	back(w, r, "/settings", notice)
}

// formRole reads a role select; anything else is ROLE_UNSPECIFIED, which the
// API refuses with a message naming the valid roles.
func formRole(v string) ferryv1.Role {
	switch v {
	case "viewer":
		return ferryv1.Role_ROLE_VIEWER
	case "editor":
		return ferryv1.Role_ROLE_EDITOR
	case "admin":
		return ferryv1.Role_ROLE_ADMIN
	}
	return ferryv1.Role_ROLE_UNSPECIFIED
}

// setStaticAdminDisabled disables or enables the static admin's password
// sign-in.
func (h *Handler) setStaticAdminDisabled(w http.ResponseWriter, r *http.Request, s *session) {
	disabled := r.PostFormValue("disabled") == "true"
	ctx := api.WithPrincipal(r.Context(), s.principal())
	if _, err := h.users.SetStaticAdminDisabled(ctx, connect.NewRequest(&ferryv1.SetStaticAdminDisabledRequest{Disabled: disabled})); err != nil {
		h.callError(w, r, s, err)
		return
	}
	notice := "The static admin may sign in with its password again."
	if disabled {
		notice = "The static admin's password sign-in is disabled; sessions already open last until they end."
	}
	back(w, r, "/settings", notice)
}
