package web

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/model"
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
	// Sessions are the console sessions the viewer may see: their own,
	// or everyone's in the project for an admin.
	Sessions []sessionRow
	// AllSessions says Sessions are everyone's.
	AllSessions bool
	// IsStaticAdmin says the viewer signed in as the static admin, who
	// must give the present password to change it.
	IsStaticAdmin bool
	// PasswordError is why the last password change was refused.
	PasswordError string
}

type sessionRow struct {
	ID, Name, Subject, Browser string
	Role                       model.Role
	CreatedAt, ExpiresAt       time.Time
	Current                    bool
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
	for _, rule := range h.opts.Roles.ForProject(s.ProjectID).Rules {
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
	d.IsStaticAdmin = p.StaticAdmin.Is(s.Subject)
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	d.AllSessions = s.Role.Allows(model.RoleAdmin)
	list, err := h.users.ListConsoleSessions(ctx, connect.NewRequest(&ferryv1.ListConsoleSessionsRequest{All: d.AllSessions}))
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	for _, c := range list.Msg.GetSessions() {
		d.Sessions = append(d.Sessions, sessionRow{
			ID: c.GetId(), Name: c.GetName(), Subject: c.GetSubject(), Browser: browserName(c.GetUserAgent()),
			Role:      model.Role(strings.TrimPrefix(strings.ToLower(c.GetRole().String()), "role_")),
			CreatedAt: c.GetCreatedAt().AsTime(), ExpiresAt: c.GetExpiresAt().AsTime(), Current: c.GetCurrent(),
		})
	}
	status := http.StatusOK
	if d.PasswordError != "" {
		status = http.StatusBadRequest
	}
	h.render(w, r, status, "settings", h.view(r, s, "Settings", "settings", d))
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
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	res, err := h.users.CreateAPIKey(ctx, connect.NewRequest(&ferryv1.CreateAPIKeyRequest{Name: r.PostFormValue("name"), Role: role}))
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	h.settingsPage(w, r, s, &settingsData{NewKey: res.Msg.GetKey(), NewKeyName: res.Msg.GetApiKey().GetName()})
}

func (h *Handler) revokeAPIKey(w http.ResponseWriter, r *http.Request, s *session) {
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
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
				return gs, "The members of " + group + " now have the role " + r.PostFormValue("role") + ", in sessions already open too."
			}
		}
		return append(gs, &ferryv1.UserGroup{SsoGroup: group, Role: role}), "The members of " + group + " have the role " + r.PostFormValue("role") + ", in sessions already open too."
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
		return kept, group + " no longer gives a role from the project's list, in sessions already open too."
	})
}

// editUserGroups reads the project's user groups, lets edit change them and
// stores the result through UpdateProjectUserGroups, whose checks (and
// their messages) apply. The update names the revision it read, so an edit
// racing another admin's is refused rather than dropping theirs.
func (h *Handler) editUserGroups(w http.ResponseWriter, r *http.Request, s *session, edit func([]*ferryv1.UserGroup) ([]*ferryv1.UserGroup, string)) {
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
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
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	if _, err := h.users.SetStaticAdminDisabled(ctx, connect.NewRequest(&ferryv1.SetStaticAdminDisabledRequest{Disabled: disabled})); err != nil {
		h.callError(w, r, s, err)
		return
	}
	notice := "The static admin may sign in with its password again."
	if disabled {
		notice = "The static admin's password sign-in is disabled, and its open sessions are signed out."
		if h.endedHere(w, r) {
			back(w, r, "/login", notice)
			return
		}
	}
	back(w, r, "/settings", notice)
}

// changePassword sets the static admin's password. The static admin must
// give its present one; every session it has, this one too, is signed out.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request, s *session) {
	pw, again := r.PostFormValue("new_password"), r.PostFormValue("new_password_again")
	if pw != again {
		h.settingsPage(w, r, s, &settingsData{PasswordError: "The two new passwords differ. Type the same one twice."})
		return
	}
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	res, err := h.users.ChangeStaticAdminPassword(ctx, connect.NewRequest(&ferryv1.ChangeStaticAdminPasswordRequest{
		CurrentPassword: r.PostFormValue("current_password"), NewPassword: pw,
	}))
	if err != nil {
		if model.IsKind(err, model.KindInvalid) || model.IsKind(err, model.KindPermissionDenied) {
			h.settingsPage(w, r, s, &settingsData{PasswordError: err.Error()})
			return
		}
		h.callError(w, r, s, err)
		return
	}
	if h.endedHere(w, r) {
		back(w, r, "/login", "The password is changed and every session of the static admin is signed out. Sign in with the new password.")
		return
	}
	back(w, r, "/settings", fmt.Sprintf("The static admin's password is changed; %d of its sessions were signed out.", res.Msg.GetSessionsEnded()))
}

// endedHere reports whether the action just done signed out the session
// that asked for it (the static admin changing its password, say), and then
// clears its cookie, so the browser goes to sign in.
func (h *Handler) endedHere(w http.ResponseWriter, r *http.Request) bool {
	if s, err := h.sessions.fromRequest(r); s != nil || err != nil {
		return false
	}
	_ = h.sessions.end(r.Context(), w, nil)
	return true
}

// revokeSessions signs out one session, or all of the viewer's others.
func (h *Handler) revokeSessions(w http.ResponseWriter, r *http.Request, s *session) {
	req := &ferryv1.RevokeConsoleSessionsRequest{}
	if r.PostFormValue("others") == "true" {
		req.AllButCurrent = true
	} else {
		req.Ids = []string{r.PostFormValue("id")}
	}
	ctx := auth.WithPrincipal(r.Context(), principalOf(s))
	res, err := h.users.RevokeConsoleSessions(ctx, connect.NewRequest(req))
	if err != nil {
		h.callError(w, r, s, err)
		return
	}
	if !req.AllButCurrent && req.Ids[0] == s.ID {
		_ = h.sessions.end(r.Context(), w, nil)
		back(w, r, "/login", "You are signed out.")
		return
	}
	back(w, r, "/settings", fmt.Sprintf("%d session(s) signed out on every server.", res.Msg.GetRevoked()))
}

// browserName shortens a User-Agent to the browser and system a person
// recognises.
func browserName(ua string) string {
	var browser, system string
	for _, b := range []struct{ token, name string }{
		{"Edg/", "Edge"}, {"Firefox/", "Firefox"}, {"Chrome/", "Chrome"}, {"Chromium/", "Chromium"}, {"Safari/", "Safari"}, {"curl/", "curl"},
	} {
		if strings.Contains(ua, b.token) {
			browser = b.name
			break
		}
	}
	for _, o := range []struct{ token, name string }{
		{"Android", "Android"}, {"iPhone", "iOS"}, {"iPad", "iPadOS"}, {"Windows", "Windows"}, {"Mac OS X", "macOS"}, {"Linux", "Linux"},
	} {
		if strings.Contains(ua, o.token) {
			system = o.name
			break
		}
	}
	switch {
	case browser == "" && ua == "":
		return "unknown"
	case browser == "":
		if len(ua) > 40 {
			return ua[:40] + "…"
		}
		return ua
	case system == "":
		return browser
	}
	return browser + " on " + system
}
