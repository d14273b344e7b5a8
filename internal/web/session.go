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

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/server/api"
	"github.com/ferrycd/ferry/internal/store"
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

func principalOf(s *session) *api.Principal {
	return &api.Principal{Subject: s.Subject, Name: s.Name, ProjectID: s.ProjectID, Role: s.Role, SessionID: s.ID}
}

// sessions starts, finds and ends console sessions. A session is a row in
// the datastore found by the hash of a random token the browser holds in
// an HttpOnly cookie: every replica sees the same sessions, and deleting
// the row signs the person out everywhere at once.
type sessions struct {
	store  store.ConsoleSessionStore
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

// start signs p in: it stores a new session and sets its cookie.
func (m *sessions) start(ctx context.Context, w http.ResponseWriter, r *http.Request, p *api.Principal) (*session, error) {
	token, now := randomToken(), m.now()
	ua := r.UserAgent()
	if len(ua) > 200 {
		ua = ua[:200]
	}
	s := &session{
		ID: model.NewID(), TokenHash: tokenHash(token), ProjectID: p.ProjectID, Subject: p.Subject, Name: p.Name, Role: p.Role,
		CSRFToken: randomToken(), UserAgent: ua, CreatedAt: now, ExpiresAt: now.Add(m.ttl),
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
	if model.IsKind(err, model.KindNotFound) {
		return nil, nil
	}
	return s, err
}

// Authenticator returns the API's session hook: a UserService call that
// carries the console's session cookie instead of an API key is made as the
// signed-in person. Such a call must also carry the session's CSRF token in
// the X-CSRF-Token header (the console's pages hold it in a meta tag),
// because a browser sends the cookie along with requests other sites make.
func (h *Handler) Authenticator() api.SessionAuthenticator {
	return func(ctx context.Context, hd http.Header) (*api.Principal, error) {
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
