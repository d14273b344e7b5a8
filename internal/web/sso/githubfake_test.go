package sso_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"testing"
)

// githubFake is a FAKE of GitHub's OAuth endpoints and of the few REST API
// calls sso.GitHub makes (/user, /user/emails, /user/teams,
// /user/memberships/orgs/{org}). It exists because GitHub cannot run
// here; the OpenID Connect provider, by contrast, is tested against a real
// one (testenv.OIDC). It follows GitHub's documented behaviour: the code
// is single use and bound to the client, the token endpoint answers JSON
// to Accept: application/json, the API wants "Authorization: Bearer",
// teams come in pages of per_page, an org the person is not in is 404.
// It is the only fake of GitHub in this package.
type githubFake struct {
	*httptest.Server
	clientID, clientSecret string

	mu     sync.Mutex
	user   githubUser
	codes  map[string]bool // issued, not yet used
	tokens map[string]bool
	next   int
}

// githubUser is the person the fake signs in.
type githubUser struct {
	ID     int64
	Login  string
	Email  string // public email; empty makes the fake serve Emails
	Emails []map[string]any
	Teams  [][2]string       // {org, slug}
	Orgs   map[string]string // org → membership state
}

func newGitHubFake(t *testing.T, u githubUser) *githubFake {
	t.Helper()
	f := &githubFake{clientID: "gh-client", clientSecret: "gh-secret", user: u, codes: map[string]bool{}, tokens: map[string]bool{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login/oauth/authorize", f.authorize)
	mux.HandleFunc("POST /login/oauth/access_token", f.accessToken)
	mux.HandleFunc("GET /api/v3/user", f.api(func(u githubUser, _ *http.Request) (any, int) {
		var email any
		if u.Email != "" {
			email = u.Email
		}
		return map[string]any{"id": u.ID, "login": u.Login, "email": email}, http.StatusOK
	}))
	mux.HandleFunc("GET /api/v3/user/emails", f.api(func(u githubUser, _ *http.Request) (any, int) {
		return u.Emails, http.StatusOK
	}))
	mux.HandleFunc("GET /api/v3/user/teams", f.api(func(u githubUser, r *http.Request) (any, int) {
		per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
		page, _ := strconv.Atoi(r.URL.Query().Get("page"))
		if per <= 0 {
			per = 30
		}
		if page <= 0 {
			page = 1
		}
		out := []any{}
		for i := (page - 1) * per; i < len(u.Teams) && i < page*per; i++ {
			out = append(out, map[string]any{"slug": u.Teams[i][1], "organization": map[string]any{"login": u.Teams[i][0]}})
		}
		return out, http.StatusOK
	}))
	mux.HandleFunc("GET /api/v3/user/memberships/orgs/{org}", f.api(func(u githubUser, r *http.Request) (any, int) {
		state, ok := u.Orgs[r.PathValue("org")]
		if !ok {
			return map[string]any{"message": "Not Found"}, http.StatusNotFound
		}
		return map[string]any{"state": state, "role": "member"}, http.StatusOK
	}))
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *githubFake) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("client_id") != f.clientID || q.Get("redirect_uri") == "" {
		http.Error(w, "bad client_id or redirect_uri", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.next++
	code := fmt.Sprintf("code-%d", f.next)
	f.codes[code] = true
	f.mu.Unlock()
	http.Redirect(w, r, q.Get("redirect_uri")+"?code="+code+"&state="+q.Get("state"), http.StatusFound)
}

func (f *githubFake) accessToken(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	if r.FormValue("client_id") != f.clientID || r.FormValue("client_secret") != f.clientSecret {
		_ = json.NewEncoder(w).Encode(map[string]any{"error": "incorrect_client_credentials"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	code := r.FormValue("code")
	if !f.codes[code] {
		// GitHub answers 200 with an error field for a bad code.
		_ = json.NewEncoder(w).Encode(map[string]any{"error": "bad_verification_code", "error_description": "The code passed is incorrect or expired."})
		return
	}
	delete(f.codes, code)
	f.next++
	tok := fmt.Sprintf("gho_%d", f.next)
	f.tokens[tok] = true
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "bearer", "scope": "read:org,read:user,user:email"})
}

func (f *githubFake) api(h func(githubUser, *http.Request) (any, int)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		auth := r.Header.Get("Authorization")
		ok := len(auth) > 7 && auth[:7] == "Bearer " && f.tokens[auth[7:]]
		u := f.user
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		if !ok {
			w.WriteHeader(http.StatusUnauthorized)
			_ = json.NewEncoder(w).Encode(map[string]any{"message": "Bad credentials"})
			return
		}
		v, status := h(u, r)
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
}
