package web

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
	"github.com/ferrycd/ferry/internal/web/sso"
)

// ssoConsole is a console offering sign-in through a real OpenID Connect
// provider that signs user in.
func ssoConsole(t *testing.T, user testenv.OIDCUser) (*console, *http.Client) {
	t.Helper()
	idp := testenv.OIDC(t, user)
	p, err := sso.NewOIDC(context.Background(), sso.OIDCConfig{Name: "corp", Issuer: idp.Issuer, ClientID: idp.ClientID, ClientSecret: idp.ClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	c := newConsole(t, Options{
		// Plain HTTP test servers: Go's cookie jar keeps no Secure cookie.
		InsecureCookies: true,
		SSO:             []sso.Provider{p},
		Roles:           sso.RoleMapping{Rules: []sso.RoleRule{{Group: "deployers", Role: model.RoleEditor}}},
	})
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, &http.Client{Jar: jar}
}

func TestSSOSignInGivesTheMappedRole(t *testing.T) {
	c, client := ssoConsole(t, testenv.OIDCUser{Subject: "u-1", Name: "alice", Groups: []string{"deployers"}})
	_, page := c.browser().get("/login")
	if !strings.Contains(page, `/login/sso/corp`) {
		t.Fatal("the sign-in page does not offer the provider")
	}
	res, err := client.Get(c.srv.URL + "/login/sso/corp?next=" + url.QueryEscape("/deployments/"+c.dep.ID))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK || res.Request.URL.Path != "/deployments/"+c.dep.ID {
		t.Fatalf("after SSO sign-in: %d at %s, want the deployment page", res.StatusCode, res.Request.URL)
	}
	u, _ := url.Parse(c.srv.URL)
	var sess string
	for _, ck := range client.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			sess = ck.Value
		}
	}
	s, err := c.h.sessions.decode(sess)
	if err != nil {
		t.Fatalf("session after SSO sign-in: %v", err)
	}
	if s.Name != "alice" || s.Role != model.RoleEditor || s.Subject != "user:corp:u-1" {
		t.Fatalf("session %+v, want alice, editor, user:corp:u-1", s)
	}
}

func TestSSOSignInWithoutARoleIsRefused(t *testing.T) {
	c, client := ssoConsole(t, testenv.OIDCUser{Subject: "u-2", Name: "mallory", Groups: []string{"visitors"}})
	res, err := client.Get(c.srv.URL + "/login/sso/corp")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("SSO sign-in of someone no rule maps: %d, want 403", res.StatusCode)
	}
	u, _ := url.Parse(c.srv.URL)
	for _, ck := range client.Jar.Cookies(u) {
		if ck.Name == sessionCookie {
			t.Fatal("a refused SSO sign-in left a session cookie")
		}
	}
}

func TestSSOCallbackChecksState(t *testing.T) {
	c, client := ssoConsole(t, testenv.OIDCUser{Subject: "u-1", Name: "alice", Groups: []string{"deployers"}})
	// A callback the browser did not start here (login CSRF) is refused.
	res, err := client.Get(c.srv.URL + "/login/sso/corp/callback?code=x&state=forged")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusBadRequest {
		t.Fatalf("a callback without a sign-in in progress: %d, want 400", res.StatusCode)
	}
}
