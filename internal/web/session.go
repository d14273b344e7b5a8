package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"connectrpc.com/connect"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/server/api"
)

// Cookie names. The session cookie carries the signed session; the login
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

// session is what the signed cookie holds. It is the whole session: no
// replica keeps any of it, so any replica can serve any request.
type session struct {
	// ID is random per sign-in; the CSRF token is derived from it.
	ID        string     `json:"id"`
	Subject   string     `json:"sub"`
	Name      string     `json:"name"`
	ProjectID string     `json:"project"`
	Role      model.Role `json:"role"`
	Expires   int64      `json:"exp"`
}

func (s *session) principal() *api.Principal {
	return &api.Principal{Subject: s.Subject, Name: s.Name, ProjectID: s.ProjectID, Role: s.Role}
}

// sessions signs and checks session cookies and CSRF tokens with one key.
type sessions struct {
	key    []byte
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

func (m *sessions) mac(purpose, data string) string {
	h := hmac.New(sha256.New, m.key)
	h.Write([]byte(purpose))
	h.Write([]byte{0})
	h.Write([]byte(data))
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}

// encode returns the cookie value of s: payload "." signature.
func (m *sessions) encode(s *session) string {
	b, _ := json.Marshal(s) // a struct of strings and ints cannot fail
	payload := base64.RawURLEncoding.EncodeToString(b)
	return payload + "." + m.mac("session", payload)
}

// decode checks a cookie value's signature and expiry.
func (m *sessions) decode(v string) (*session, error) {
	payload, sig, ok := strings.Cut(v, ".")
	if !ok || !hmac.Equal([]byte(sig), []byte(m.mac("session", payload))) {
		return nil, errors.New("session cookie is not valid: sign in again")
	}
	b, err := base64.RawURLEncoding.DecodeString(payload)
	if err != nil {
		return nil, errors.New("session cookie is not valid: sign in again")
	}
	var s session
	if err := json.Unmarshal(b, &s); err != nil {
		return nil, errors.New("session cookie is not valid: sign in again")
	}
	if m.now().Unix() >= s.Expires {
		return nil, errors.New("session expired: sign in again")
	}
	return &s, nil
}

// csrf is the CSRF token of a session: only a page served to the holder of
// the session cookie can know it, so a form posted from another site fails.
func (m *sessions) csrf(s *session) string { return m.mac("csrf", s.ID) }

// checkCSRF reports whether token is s's CSRF token.
func (m *sessions) checkCSRF(s *session, token string) bool {
	return token != "" && hmac.Equal([]byte(token), []byte(m.csrf(s)))
}

// start signs p in: it sets a fresh session cookie.
func (m *sessions) start(w http.ResponseWriter, p *api.Principal) *session {
	s := &session{
		ID: randomToken(), Subject: p.Subject, Name: p.Name, ProjectID: p.ProjectID, Role: p.Role,
		Expires: m.now().Add(m.ttl).Unix(),
	}
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: m.encode(s), Path: "/", MaxAge: int(m.ttl.Seconds()),
		HttpOnly: true, Secure: m.secure, SameSite: http.SameSiteLaxMode,
	})
	return s
}

// end signs out: it clears the session cookie.
func (m *sessions) end(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: sessionCookie, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: m.secure, SameSite: http.SameSiteLaxMode,
	})
}

// fromRequest returns the request's session, or nil without a valid one.
func (m *sessions) fromRequest(r *http.Request) *session {
	c, err := r.Cookie(sessionCookie)
	if err != nil {
		return nil
	}
	s, err := m.decode(c.Value)
	if err != nil {
		return nil
	}
	return s
}

// Authenticator returns the API's session hook: a UserService call that
// carries the console's session cookie instead of an API key is made as the
// signed-in person. Such a call must also carry the session's CSRF token in
// the X-CSRF-Token header (the console's pages hold it in a meta tag),
// because a browser sends the cookie along with requests other sites make.
func (h *Handler) Authenticator() api.SessionAuthenticator {
	return func(_ context.Context, hd http.Header) (*api.Principal, error) {
		r := http.Request{Header: hd}
		c, err := r.Cookie(sessionCookie)
		if err != nil {
			return nil, nil
		}
		s, err := h.sessions.decode(c.Value)
		if err != nil {
			return nil, connect.NewError(connect.CodeUnauthenticated, err)
		}
		if !h.sessions.checkCSRF(s, hd.Get(csrfHeader)) {
			return nil, connect.NewError(connect.CodeUnauthenticated,
				errors.New("a call with the console's session cookie needs its CSRF token in the X-CSRF-Token header"))
		}
		return s.principal(), nil
	}
}
