package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"time"

	"connectrpc.com/connect"

	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/store"
	"github.com/ferrycd/ferry/internal/web/sso"
)

// Cookie names. The session cookie carries the session's token; the login
// cookie carries the CSRF token of the sign-in form (and the state and
// nonce of an SSO sign-in), before there is a session.
const (
	sessionCookie = "ferry_session"
	loginCookie   = "ferry_login"
	ssoCookie     = "ferry_sso"
	// csrfHeader carries the CSRF token of JSON API calls made with the
	// session cookie.
	csrfHeader = "X-CSRF-Token"
	// csrfField is the hidden form field carrying the CSRF token.
	csrfField = "csrf"
)

// session is a signed-in person, as the datastore keeps it.
type session = model.ConsoleSession

func principalOf(s *session) *auth.Principal {
	return &auth.Principal{Subject: s.Subject, Name: s.Name, ProjectID: s.ProjectID, Role: s.Role, SessionID: s.ID}
}

// sessions starts, finds and ends console sessions. A session is a row in
// the datastore found by the hash of a random token the browser holds in
// an HttpOnly cookie: every replica sees the same sessions, and deleting
// the row signs the person out everywhere at once. A single sign-on
// session's role follows the project's current user groups and the
// config's role mapping (see follow).
type sessions struct {
	store  store.Store
	roles  sso.RoleMapping
	ttl    time.Duration
	secure bool
	now    func() time.Time
}

func randomToken() string {
	b := make([]byte, 24)
	if _, err := rand.Read(b); err != nil {
		panic("crypto/rand failed: " + err.Error())
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// tokenHash is what the datastore keeps of a session token.
func tokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// checkCSRF reports whether token is s's CSRF token.
func checkCSRF(s *session, token string) bool {
	return token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(s.CSRFToken)) == 1
}

// start signs p in: it stores a new session and sets its cookie. id is the
// identity a single sign-on provider gave; nil for the static admin.
func (m *sessions) start(ctx context.Context, w http.ResponseWriter, r *http.Request, p *auth.Principal, id *sso.Identity) (*session, error) {
	token, now := randomToken(), m.now()
	ua := r.UserAgent()
	if len(ua) > 200 {
		ua = ua[:200]
	}
	s := &session{
		ID: model.NewID(), TokenHash: tokenHash(token), ProjectID: p.ProjectID, Subject: p.Subject, Name: p.Name, Role: p.Role,
		CSRFToken: randomToken(), UserAgent: ua, CreatedAt: now, ExpiresAt: now.Add(m.ttl),
	}
	if id != nil {
		s.Provider, s.Groups = id.Provider, id.Groups
	}
	if err := m.store.CreateConsoleSession(ctx, s); err != nil {
		return nil, err
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: token, Path: "/", MaxAge: int(m.ttl.Seconds()),
		HttpOnly: true, Secure: m.secure, SameSite: http.SameSiteLaxMode,
	})
	return s, nil
}

// end signs s out (when there is one) and clears the session cookie.
func (m *sessions) end(ctx context.Context, w http.ResponseWriter, s *session) error {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: m.secure, SameSite: http.SameSiteLaxMode,
	})
	if s == nil {
		return nil
	}
	_, err := m.store.DeleteConsoleSessions(ctx, store.ConsoleSessionFilter{ProjectID: s.ProjectID, IDs: []string{s.ID}})
	return err
}

// fromRequest returns the request's live session; nil without one (no
// cookie, an unknown token, or one that expired or was signed out). The
// error is the datastore's, when it cannot tell.
func (m *sessions) fromRequest(r *http.Request) (*session, error) {
	return m.fromHeader(r.Context(), r.Header)
}

func (m *sessions) fromHeader(ctx context.Context, hd http.Header) (*session, error) {
	r := http.Request{Header: hd}
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	s, err := m.store.GetConsoleSessionByToken(ctx, tokenHash(c.Value), m.now())
	switch {
	case model.IsKind(err, model.KindNotFound):
		return nil, nil
	case err != nil:
		return nil, err
	case s.Provider == "":
		// The static admin is an admin for as long as the session lasts;
		// disabling it or changing its password deletes its sessions.
		return s, nil
	}
	return m.follow(ctx, s)
}

// roleIn is the role a person in groups has in project p: the highest the
// config's role mapping (in the default project) and p's user groups give.
func (m *sessions) roleIn(p *model.Project, groups []string) (model.Role, bool) {
	return m.roles.ForProject(p.ID).With(p.UserGroups).RoleFor(sso.Identity{Groups: groups})
}

// follow gives the single sign-on session s the role its groups have in
// its project now, so that an admin's change of the project's user groups
// (or a restart with another role mapping) counts from each session's
// next request, on every replica, rather than when the session ends. A
// changed role is stored, so the sessions list shows it. A session whose
// groups no longer give any role is deleted: nil, as if signed out.
func (m *sessions) follow(ctx context.Context, s *session) (*session, error) {
	var (
		role model.Role
		ok   bool
	)
	p, err := m.store.GetProject(ctx, s.ProjectID)
	switch {
	case model.IsKind(err, model.KindNotFound):
	case err != nil:
		return nil, err
	default:
		role, ok = m.roleIn(p, s.Groups)
	}
	if !ok {
		_, err := m.store.DeleteConsoleSessions(ctx, store.ConsoleSessionFilter{ProjectID: s.ProjectID, IDs: []string{s.ID}})
		return nil, err
	}
	if role != s.Role {
		if err := m.store.SetConsoleSessionRole(ctx, s.ID, role); err != nil {
			if model.IsKind(err, model.KindNotFound) {
				return nil, nil // signed out meanwhile
			}
			return nil, err
		}
		s.Role = role
	}
	return s, nil
}

// Authenticator returns the API's session hook: a UserService call that
// carries the console's session cookie instead of an API key is made as the
// signed-in person. Such a call must also carry the session's CSRF token in
// the X-CSRF-Token header (the console's pages hold it in a meta tag),
// because a browser sends the cookie along with requests other sites make.
func (h *Handler) Authenticator() auth.SessionAuthenticator {
	return func(ctx context.Context, hd http.Header) (*auth.Principal, error) {
		if _, err := (&http.Request{Header: hd}).Cookie(sessionCookie); err != nil {
			return nil, nil
		}
		s, err := h.sessions.fromHeader(ctx, hd)
		switch {
		case err != nil:
			return nil, err
		case s == nil:
			return nil, connect.NewError(connect.CodeUnauthenticated, errors.New("not signed in, or the console session has ended: sign in again"))
		}
		if !checkCSRF(s, hd.Get(csrfHeader)) {
			return nil, connect.NewError(connect.CodeUnauthenticated,
				errors.New("a call with the console's session cookie needs its CSRF token in the X-CSRF-Token header"))
		}
		return principalOf(s), nil
	}
}
