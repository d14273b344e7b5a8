package web

import (
	"crypto/hmac"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/web/sso"
)

// loginData is what the sign-in page shows.
type loginData struct {
	Next string
	// Project is the project to sign in to; "default" unless the person
	// chose another.
	Project string
	Error   string
	// Warning says why signing in may not stick.
	Warning   string
	Username  string
	Providers []string
}

// loginToken returns the login cookie's token, setting a new cookie when
// there is none.
func (h *Handler) loginToken(w http.ResponseWriter, r *http.Request) string {
	if c, err := r.Cookie(loginCookie); err == nil && c.Value != "" {
		return c.Value
	}
	t := randomToken()
	h.setCookie(w, loginCookie, t, "/")
	return t
}

// setCookie sets a short-lived sign-in cookie; an empty value clears it.
func (h *Handler) setCookie(w http.ResponseWriter, name, v, path string) {
	maxAge := 600
	if v == "" {
		maxAge = -1
	}
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: v, Path: path, MaxAge: maxAge,
		HttpOnly: true, Secure: h.sessions.secure, SameSite: http.SameSiteLaxMode,
	})
}

func (h *Handler) providerNames() []string {
	out := make([]string, len(h.opts.SSO))
	for i, p := range h.opts.SSO {
		out[i] = p.Name()
	}
	return out
}

// projectCookie remembers the project last signed in to, so the sign-in
// page offers it again.
const projectCookie = "ferry_project"

// loginProject is the project a sign-in is for: the one asked for, else
// the one last signed in to in this browser, else the default project.
func loginProject(r *http.Request, asked string) string {
	if p := strings.TrimSpace(asked); p != "" {
		return p
	}
	if c, err := r.Cookie(projectCookie); err == nil && c.Value != "" {
		return c.Value
	}
	return model.DefaultProjectID
}

func (h *Handler) loginPage(w http.ResponseWriter, r *http.Request) {
	if s, _ := h.sessions.fromRequest(r); s != nil {
		http.Redirect(w, r, safeNext(r.URL.Query().Get("next")), http.StatusSeeOther)
		return
	}
	h.showLogin(w, r, http.StatusOK, loginData{Next: safeNext(r.URL.Query().Get("next")), Project: loginProject(r, r.URL.Query().Get("project"))})
}

func (h *Handler) showLogin(w http.ResponseWriter, r *http.Request, status int, d loginData) {
	d.Providers = h.providerNames()
	if d.Project == "" {
		d.Project = loginProject(r, "")
	}
	if h.sessions.secure && !secureRequest(r) && !loopbackHost(r.Host) {
		d.Warning = "This console is served over plain HTTP, so your browser will drop its secure session cookie and signing in will not stick. " +
			"Serve it over HTTPS (a proxy in front must set X-Forwarded-Proto: https), or start the server with --insecure-cookies on a trusted network."
	}
	v := h.view(r, nil, "Sign in", "", d)
	v.CSRF = h.loginToken(w, r)
	h.render(w, r, status, "login", v)
}

// login signs the static admin in. The password is checked against the
// bcrypt hash kept in the project; it is never logged.
func (h *Handler) login(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
	d := loginData{Next: safeNext(r.PostFormValue("next")), Username: r.PostFormValue("username")}
	c, err := r.Cookie(loginCookie)
	if err != nil || c.Value == "" || !hmac.Equal([]byte(c.Value), []byte(r.PostFormValue(csrfField))) {
		d.Error = "The sign-in form had expired or its security token was missing. Please try again."
		h.showLogin(w, r, http.StatusForbidden, d)
		return
	}
	d.Project = loginProject(r, r.PostFormValue("project"))
	name, pw := strings.TrimSpace(d.Username), r.PostFormValue("password")
	addr, now := clientAddr(r), h.opts.Now()
	if wait, byName := h.throttle.wait(now, addr, d.Project, name); wait > 0 {
		h.throttled(w, r, d, wait, byName)
		return
	}
	p, err := h.store.GetProject(r.Context(), d.Project)
	if err != nil && !model.IsKind(err, model.KindNotFound) {
		h.logger.ErrorContext(r.Context(), "read project for sign-in", "error", err)
		d.Error = "The datastore could not be read. Try again in a moment."
		h.showLogin(w, r, http.StatusServiceUnavailable, d)
		return
	}
	var admin model.StaticAdmin
	if p != nil {
		admin = p.StaticAdmin
	}
	// Check the password even for a wrong name or project, so timing does
	// not tell which names or projects exist.
	okPW := auth.CheckPassword(admin.PasswordHash, pw)
	if p == nil || admin.Disabled || admin.Username == "" || name != admin.Username || !okPW {
		h.throttle.fail(now, addr, d.Project, name)
		h.logger.WarnContext(r.Context(), "console sign-in refused", "user", name, "project_id", d.Project)
		d.Error = "Wrong project, username or password (or the project's static admin is disabled). Check them and try again."
		h.showLogin(w, r, http.StatusUnauthorized, d)
		return
	}
	if !h.signIn(w, r, &auth.Principal{Subject: admin.Subject(), Name: name, ProjectID: p.ID, Role: model.RoleAdmin}, nil) {
		return
	}
	h.throttle.succeed(d.Project, name)
	h.setCookie(w, loginCookie, "", "/")
	http.Redirect(w, r, d.Next, http.StatusSeeOther)
}

// throttled answers a sign-in tried too soon after too many failures:
// 429, with a Retry-After header and the page saying how long to wait.
func (h *Handler) throttled(w http.ResponseWriter, r *http.Request, d loginData, wait time.Duration, byName bool) {
	secs := retryAfter(wait)
	w.Header().Set("Retry-After", strconv.Itoa(secs))
	who := "from your address"
	if byName {
		who = "as " + strings.TrimSpace(d.Username)
	}
	h.logger.WarnContext(r.Context(), "console sign-in throttled", "user", strings.TrimSpace(d.Username), "project_id", d.Project, "by_name", byName)
	d.Error = fmt.Sprintf("Too many failed sign-ins %s. So that passwords cannot be guessed, the next try is allowed in %d seconds; the password was not checked.", who, secs)
	h.showLogin(w, r, http.StatusTooManyRequests, d)
}

// signIn starts a session for p, remembers p's project for the next
// sign-in, and logs it; id is the identity a single sign-on provider gave,
// nil for the static admin. When the datastore refuses, it shows the
// sign-in page with the error and returns false.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request, p *auth.Principal, id *sso.Identity) bool {
	if _, err := h.sessions.start(r.Context(), w, r, p, id); err != nil {
		h.logger.ErrorContext(r.Context(), "store console session", "error", err)
		h.showLogin(w, r, http.StatusServiceUnavailable, loginData{Next: "/applications", Project: p.ProjectID,
			Error: "The datastore could not record the sign-in. Try again in a moment."})
		return false
	}
	http.SetCookie(w, &http.Cookie{
		Name: projectCookie, Value: p.ProjectID, Path: "/login", MaxAge: 365 * 24 * 3600,
		HttpOnly: true, Secure: h.sessions.secure, SameSite: http.SameSiteLaxMode,
	})
	provider := ""
	if id != nil {
		provider = id.Provider
	}
	h.logger.InfoContext(r.Context(), "console sign-in", "subject", p.Subject, "project_id", p.ProjectID, "provider", provider)
	return true
}

func (h *Handler) logout(w http.ResponseWriter, r *http.Request) {
	s, _ := h.sessions.fromRequest(r)
	if s != nil && !checkCSRF(s, r.PostFormValue(csrfField)) {
		h.fail(w, r, s, http.StatusForbidden, "The sign-out form's security token is missing or out of date. Reload the page and sign out again.")
		return
	}
	if err := h.sessions.end(r.Context(), w, s); err != nil {
		h.logger.ErrorContext(r.Context(), "delete console session", "error", err)
		h.fail(w, r, s, http.StatusServiceUnavailable, "The datastore could not end your session, so it is still valid elsewhere. Try signing out again in a moment.")
		return
	}
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func (h *Handler) provider(name string) sso.Provider {
	for _, p := range h.opts.SSO {
		if p.Name() == name {
			return p
		}
	}
	return nil
}

// secureRequest reports whether the browser reached the console over
// HTTPS, directly or through a proxy that says so.
func secureRequest(r *http.Request) bool {
	return r.TLS != nil || r.Header.Get("X-Forwarded-Proto") == "https"
}

// loopbackHost reports whether host is this machine, where browsers keep
// Secure cookies even over plain HTTP.
func loopbackHost(host string) bool {
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func callbackURL(r *http.Request, name string) string {
	scheme := "https"
	if !secureRequest(r) {
		scheme = "http"
	}
	return scheme + "://" + r.Host + "/login/sso/" + name + "/callback"
}

// ssoStart sends the browser to the provider, keeping state and nonce in a
// cookie to check on the way back.
func (h *Handler) ssoStart(w http.ResponseWriter, r *http.Request) {
	p := h.provider(r.PathValue("name"))
	if p == nil {
		h.showLogin(w, r, http.StatusNotFound, loginData{Next: "/applications", Error: "No sign-in provider of that name is configured. Use one listed below."})
		return
	}
	project := loginProject(r, r.URL.Query().Get("project"))
	if !validProjectID(project) {
		h.showLogin(w, r, http.StatusBadRequest, loginData{Next: "/applications", Error: "That is not a project name. Check it and try again."})
		return
	}
	state, nonce := randomToken(), randomToken()
	u, err := p.AuthCodeURL(r.Context(), state, nonce, callbackURL(r, p.Name()))
	if err != nil {
		h.logger.WarnContext(r.Context(), "SSO sign-in could not start", "provider", p.Name(), "error", err)
		h.showLogin(w, r, http.StatusBadGateway, loginData{Next: safeNext(r.URL.Query().Get("next")), Project: project,
			Error: "The sign-in provider " + p.Name() + " could not be reached. Try again in a moment, or sign in another way; the details are in the server log."})
		return
	}
	h.setCookie(w, ssoCookie, state+"."+nonce+"."+project+"."+safeNext(r.URL.Query().Get("next")), "/login/sso/")
	http.Redirect(w, r, u, http.StatusFound)
}

// ssoCallback finishes an SSO sign-in: it checks state, trades the code for
// the person's identity and maps their groups to a role: the highest that
// the config's role mappings and the project's user groups give.
func (h *Handler) ssoCallback(w http.ResponseWriter, r *http.Request) {
	p := h.provider(r.PathValue("name"))
	c, err := r.Cookie(ssoCookie)
	if p == nil || err != nil {
		h.showLogin(w, r, http.StatusBadRequest, loginData{Next: "/applications", Error: "The sign-in could not be finished (no sign-in in progress). Start again."})
		return
	}
	parts := strings.SplitN(c.Value, ".", 4)
	if len(parts) != 4 || !hmac.Equal([]byte(parts[0]), []byte(r.URL.Query().Get("state"))) {
		h.showLogin(w, r, http.StatusBadRequest, loginData{Next: "/applications", Error: "The sign-in answer did not match the sign-in started here. Start again."})
		return
	}
	if e := r.URL.Query().Get("error"); e != "" {
		h.showLogin(w, r, http.StatusUnauthorized, loginData{Next: "/applications", Error: "The provider refused the sign-in (" + e + ")."})
		return
	}
	id, err := p.Exchange(r.Context(), r.URL.Query().Get("code"), parts[1], callbackURL(r, p.Name()))
	if err != nil {
		h.logger.WarnContext(r.Context(), "SSO sign-in failed", "provider", p.Name(), "error", err)
		h.showLogin(w, r, http.StatusUnauthorized, loginData{Next: "/applications", Error: "The provider's answer could not be checked. Try again; the details are in the server log."})
		return
	}
	// The project's user groups are read on every sign-in, and again on
	// every request of the session (sessions.follow), so a group an admin
	// adds or changes counts at once, on every replica.
	projectID := parts[2]
	project, err := h.store.GetProject(r.Context(), projectID)
	switch {
	case model.IsKind(err, model.KindNotFound):
		h.showLogin(w, r, http.StatusNotFound, loginData{Next: "/applications", Project: projectID, Error: "There is no project " + projectID + ". Check the name and sign in again."})
		return
	case err != nil:
		h.logger.ErrorContext(r.Context(), "read project for sign-in", "error", err)
		h.showLogin(w, r, http.StatusServiceUnavailable, loginData{Next: "/applications", Project: projectID, Error: "The datastore could not be read. Try again in a moment."})
		return
	}
	// The session's role follows its provider's groups only when it names
	// its provider.
	id.Provider = p.Name()
	role, ok := h.sessions.roleIn(project, id.Groups)
	if !ok {
		h.showLogin(w, r, http.StatusForbidden, loginData{Next: "/applications", Project: projectID,
			Error: "You signed in as " + id.Name + ", but none of your teams or groups has a role in project " + projectID + ". Ask its admin to add one."})
		return
	}
	if !h.signIn(w, r, &auth.Principal{Subject: "user:" + p.Name() + ":" + id.Subject, Name: id.Name, ProjectID: project.ID, Role: role}, &id) {
		return
	}
	h.setCookie(w, ssoCookie, "", "/login/sso/")
	http.Redirect(w, r, safeNext(parts[3]), http.StatusSeeOther)
}

// validProjectID reports whether id could name a project: what a sign-in
// carries through the provider and back in a cookie.
func validProjectID(id string) bool {
	if id == "" || len(id) > 63 {
		return false
	}
	for _, c := range id {
		switch {
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '_':
		default:
			return false
		}
	}
	return true
}
