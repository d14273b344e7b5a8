// Package web is Ferry's console: server-rendered pages (html/template,
// assets embedded) served at "/" by the control plane, with live updates
// over Server-Sent Events and a little hand-written JavaScript for them.
//
// Sessions. A session is a row in the datastore (store.ConsoleSessionStore)
// found by the SHA-256 of a random token the browser holds in an HttpOnly,
// SameSite=Lax cookie, Secure unless Options.InsecureCookies. Every replica
// sees every session, and deleting the row (signing out, a revocation, a
// password change) ends it on all of them at the next request. Sessions
// last Options.SessionTTL, default 12h. A single sign-on session's role is
// derived again on every request from the groups it signed in with and
// the project's current user groups. See docs/design/0005.
//
// CSRF. Every POST carries the session's random CSRF token (hidden field
// "csrf", or the X-CSRF-Token header for API calls); a request without the
// right token is refused before anything runs. The sign-in form, which has
// no session yet, uses a token kept in a short-lived cookie (double
// submit).
//
// Roles. Every page and action corresponds to one UserService RPC and is
// allowed exactly when auth.RequiredRoles says the session's role may call
// that RPC, as for API keys. Actions call the UserService in-process with
// the session's principal, so their checks and records (approvers, who
// cancelled) are the API's own; pages read the datastore directly, limited
// to the session's project.
package web

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/insights"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
	"github.com/ferrycd/ferry/internal/web/sso"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Options is what the console needs from the control plane.
type Options struct {
	Store store.Store
	// Users is the API's UserService; actions are calls to it, in-process,
	// with the session's principal in the context (auth.WithPrincipal).
	Users ferryv1connect.UserServiceHandler
	// SessionTTL is how long a sign-in lasts; default 12h.
	SessionTTL time.Duration
	// InsecureCookies drops the Secure flag from cookies, for a console
	// served over plain HTTP on a host other than localhost.
	InsecureCookies bool
	// SSO lists the identity providers offered on the sign-in page, signed
	// in at /login/sso/{name}; Roles maps their groups to roles.
	SSO   []sso.Provider
	Roles sso.RoleMapping
	// Changes is this replica's hub: a live page's stream re-reads what it
	// shows when the hub reports a change of it, stored through any
	// replica, and when the hub reconnects to its broker. Nil: streams
	// re-read every PollInterval alone.
	Changes *hub.Hub
	// PollInterval is how often a live page's stream re-reads what it
	// shows even though no change was reported: the safety net for a
	// change lost on its way between replicas. Default 15s with Changes,
	// 1s without.
	PollInterval time.Duration
	// MinRedraw is the least time between two re-reads of one stream
	// prompted by changes, so that a burst of them (a stage's log) costs
	// one re-read; default 100ms.
	MinRedraw time.Duration
	// Stopping is closed when the server shuts down; live streams end then.
	Stopping <-chan struct{}
	Logger   *slog.Logger
	// Now returns the current time; tests may replace it.
	Now func() time.Time
}

// Handler serves the console.
type Handler struct {
	opts     Options
	store    store.Store
	users    ferryv1connect.UserServiceHandler
	sessions *sessions
	throttle *throttle
	required map[string]ferryv1.Role
	pages    *pages
	logger   *slog.Logger
	mux      *http.ServeMux
}

// New returns the console's handler.
func New(opts Options) (*Handler, error) {
	if opts.Store == nil || opts.Users == nil {
		return nil, errors.New("web: a store and a user service are required")
	}
	if opts.SessionTTL <= 0 {
		opts.SessionTTL = 12 * time.Hour
	}
	switch {
	case opts.PollInterval > 0:
	case opts.Changes != nil:
		opts.PollInterval = 15 * time.Second
	default:
		opts.PollInterval = time.Second
	}
	if opts.MinRedraw <= 0 {
		opts.MinRedraw = 100 * time.Millisecond
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	p, err := parsePages()
	if err != nil {
		return nil, err
	}
	h := &Handler{
		opts:     opts,
		store:    opts.Store,
		users:    opts.Users,
		sessions: &sessions{store: opts.Store, roles: opts.Roles, ttl: opts.SessionTTL, secure: !opts.InsecureCookies, now: opts.Now},
		throttle: newThrottle(),
		required: auth.RequiredRoles(),
		pages:    p,
		logger:   opts.Logger,
		mux:      http.NewServeMux(),
	}
	h.routes()
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("X-Frame-Options", "DENY")
	w.Header().Set("Referrer-Policy", "same-origin")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'")
	h.mux.ServeHTTP(w, r)
}

func (h *Handler) routes() {
	static, _ := fs.Sub(staticFS, "static")
	m := h.mux
	m.Handle("GET /static/", http.StripPrefix("/static/", cacheFor(http.FileServerFS(static))))
	m.Handle("GET /static/insights.css", cacheFor(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		_, _ = io.WriteString(w, insights.ChartCSS)
	})))
	m.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/applications", http.StatusSeeOther)
	})
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s, _ := h.sessions.fromRequest(r)
		h.fail(w, r, s, http.StatusNotFound, "There is no page at "+r.URL.Path+". Use the links above, or start from the applications.")
	})
	m.HandleFunc("GET /login", h.loginPage)
	m.HandleFunc("POST /login", h.login)
	m.HandleFunc("POST /logout", h.logout)
	m.HandleFunc("GET /login/sso/{name}", h.ssoStart)
	m.HandleFunc("GET /login/sso/{name}/callback", h.ssoCallback)

	m.Handle("GET /applications", h.page("ListApplications", h.applications))
	m.Handle("GET /applications/live", h.page("ListApplications", h.applicationsLive))
	m.Handle("GET /applications/{id}", h.page("GetApplication", h.application))
	m.Handle("GET /applications/{id}/live", h.page("GetApplicationLiveState", h.applicationLive))
	m.Handle("POST /applications/{id}/sync", h.action("SyncApplication", h.syncApplication))
	m.Handle("POST /applications/{id}/rollback", h.action("RollbackApplication", h.rollbackApplication))
	m.Handle("POST /applications/{id}/disable", h.action("DisableApplication", h.disableApplication))
	m.Handle("POST /applications/{id}/enable", h.action("EnableApplication", h.enableApplication))

	m.Handle("GET /deployments", h.page("ListDeployments", h.deployments))
	m.Handle("GET /deployments/live", h.page("ListDeployments", h.deploymentsLive))
	m.Handle("GET /deployments/{id}", h.page("GetDeployment", h.deployment))
	m.Handle("GET /deployments/{id}/live", h.page("GetDeployment", h.deploymentLive))
	m.Handle("GET /deployments/{id}/stages/{stage}/log", h.page("GetStageLog", h.stageLog))
	m.Handle("POST /deployments/{id}/cancel", h.action("CancelDeployment", h.cancelDeployment))
	m.Handle("POST /deployments/{id}/stages/{stage}/approve", h.action("ApproveStage", h.approveStage))
	m.Handle("POST /deployments/{id}/stages/{stage}/skip", h.action("SkipStage", h.skipStage))

	m.Handle("GET /events", h.page("ListEvents", h.events))

	m.Handle("GET /agents", h.page("ListAgents", h.agents))
	m.Handle("POST /agents", h.action("RegisterAgent", h.registerAgent))
	m.Handle("POST /agents/{id}/rotate", h.action("RotateAgentKey", h.rotateAgentKey))
	m.Handle("POST /agents/{id}/drop-old-keys", h.action("DeleteOldAgentKeys", h.dropOldAgentKeys))
	m.Handle("POST /agents/{id}/disable", h.action("DisableAgent", h.disableAgent))
	m.Handle("POST /agents/{id}/enable", h.action("EnableAgent", h.enableAgent))

	m.Handle("GET /settings", h.page("GetMe", h.settings))
	m.Handle("POST /settings/apikeys", h.action("CreateAPIKey", h.createAPIKey))
	m.Handle("POST /settings/apikeys/{id}/revoke", h.action("RevokeAPIKey", h.revokeAPIKey))
	m.Handle("POST /settings/user-groups", h.action("UpdateProjectUserGroups", h.setUserGroup))
	m.Handle("POST /settings/user-groups/remove", h.action("UpdateProjectUserGroups", h.removeUserGroup))
	m.Handle("POST /settings/static-admin", h.action("SetStaticAdminDisabled", h.setStaticAdminDisabled))
	m.Handle("POST /settings/static-admin/password", h.action("ChangeStaticAdminPassword", h.changePassword))
	m.Handle("POST /settings/sessions/revoke", h.action("RevokeConsoleSessions", h.revokeSessions))

	// Insights are computed from deployments: whoever may list them may
	// see them.
	m.Handle("GET /insights", h.page("ListDeployments", h.insights))
}

func cacheFor(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		next.ServeHTTP(w, r)
	})
}

// procedure returns the full name of a UserService method.
func procedure(rpc string) string { return "/ferry.v1.UserService/" + rpc }

// can reports whether s's role may call the UserService method rpc: the
// rule the API applies to API keys.
func (h *Handler) can(s *session, rpc string) bool {
	want, ok := h.required[procedure(rpc)]
	if !ok {
		return false
	}
	role, ok := auth.RoleOf(want)
	return ok && s.Role.Allows(role)
}

type handlerFunc func(w http.ResponseWriter, r *http.Request, s *session)

// page wraps a GET handler: it needs a session whose role may call rpc.
func (h *Handler) page(rpc string, fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.sessions.fromRequest(r)
		if err != nil {
			h.sessionError(w, r, err)
			return
		}
		if s == nil {
			if r.Header.Get("Accept") == "text/event-stream" {
				// A live stream of a page whose session ended before the
				// stream (re)connected: an error status would only make
				// the browser give up silently, so say it in the stream,
				// and the page reloads to sign in.
				w.Header().Set("Content-Type", "text/event-stream")
				w.Header().Set("Cache-Control", "no-store")
				writeEvent(w, event{Name: "signedout", Data: "not signed in: reload the page and sign in"})
				return
			}
			http.Redirect(w, r, "/login?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		if !h.can(s, rpc) {
			h.fail(w, r, s, http.StatusForbidden, fmt.Sprintf("Your role (%s) may not see this page: it needs the role that may call %s. Ask an admin for a role with more rights.", s.Role, rpc))
			return
		}
		fn(w, r, s)
	})
}

// action wraps a POST handler: it needs a session, its CSRF token, and a
// role that may call rpc.
func (h *Handler) action(rpc string, fn handlerFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s, err := h.sessions.fromRequest(r)
		if err != nil {
			h.sessionError(w, r, err)
			return
		}
		if s == nil {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if !checkCSRF(s, r.PostFormValue(csrfField)) {
			h.fail(w, r, s, http.StatusForbidden, "The form's security token is missing or out of date (CSRF check). Reload the page and try again.")
			return
		}
		if !h.can(s, rpc) {
			h.fail(w, r, s, http.StatusForbidden, fmt.Sprintf("Your role (%s) may not do this: %s needs a higher role. Ask an admin.", s.Role, rpc))
			return
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		fn(sw, r, s)
		result := "ok"
		if sw.status >= 400 {
			result = http.StatusText(sw.status)
		}
		h.logger.InfoContext(r.Context(), "audit", "procedure", procedure(rpc), "subject", s.Subject, "project_id", s.ProjectID, "result", result, "via", "console")
	})
}

// statusWriter remembers the status an action answered with, for its
// audit record.
type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// sessionError answers a request whose session could not be looked up
// because the datastore did not answer.
func (h *Handler) sessionError(w http.ResponseWriter, r *http.Request, err error) {
	h.logger.ErrorContext(r.Context(), "read console session", "error", err)
	http.Error(w, "The datastore could not be read to check your session. Try again in a moment; the error is logged.", http.StatusServiceUnavailable)
}

// callError shows the error of an in-process UserService call.
func (h *Handler) callError(w http.ResponseWriter, r *http.Request, s *session, err error) {
	status, msg := http.StatusInternalServerError, "Something went wrong on the server; it has been logged. Try again, and tell your operator if it persists."
	var ce *connect.Error
	switch {
	case errors.As(err, &ce):
		msg = ce.Message()
		status = httpStatus(ce.Code())
	case model.KindOf(err) != model.KindInternal:
		msg = err.Error()
		status = kindStatus(model.KindOf(err))
	default:
		h.logger.ErrorContext(r.Context(), "console request failed", "path", r.URL.Path, "error", err)
	}
	h.fail(w, r, s, status, msg)
}

// kindStatus is the HTTP status of an error of kind k: the one its Connect
// code (auth.CodeOf, as the API answers) has.
func kindStatus(k model.ErrorKind) int {
	code, _ := auth.CodeOf(k)
	return httpStatus(code)
}

// httpStatus is the HTTP status the console answers for a Connect code.
func httpStatus(c connect.Code) int {
	switch c {
	case connect.CodeNotFound:
		return http.StatusNotFound
	case connect.CodeInvalidArgument, connect.CodeFailedPrecondition:
		return http.StatusBadRequest
	case connect.CodeAlreadyExists, connect.CodeAborted:
		return http.StatusConflict
	case connect.CodePermissionDenied:
		return http.StatusForbidden
	case connect.CodeUnauthenticated:
		return http.StatusUnauthorized
	case connect.CodeUnavailable:
		return http.StatusServiceUnavailable
	case connect.CodeResourceExhausted:
		return http.StatusTooManyRequests
	}
	return http.StatusInternalServerError
}

// back redirects to the page a form was posted from, with a notice.
func back(w http.ResponseWriter, r *http.Request, path, notice string) {
	http.Redirect(w, r, path+"?notice="+url.QueryEscape(notice), http.StatusSeeOther)
}

// safeNext keeps only paths of this console as a place to return to after
// sign-in; anything else becomes the applications page. A browser reads a
// Location as the URL standard says, not as Go does: it drops tabs and
// newlines anywhere and leading control characters and spaces, and reads a
// backslash as a slash, so "/\t/evil.example" and "/\\evil.example" both
// lead to another host. So a next holding any control character, space or
// backslash is refused outright, and what is left must parse as a path
// with no scheme, host or user and begin with exactly one slash.
func safeNext(next string) string {
	const home = "/applications"
	if strings.ContainsFunc(next, func(c rune) bool { return c <= ' ' || c == 0x7f || c == '\\' }) {
		return home
	}
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") {
		return home
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" || u.User != nil || u.Opaque != "" || !strings.HasPrefix(u.Path, "/") || strings.HasPrefix(u.Path, "//") {
		return home
	}
	return next
}
