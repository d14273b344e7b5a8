package web

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/server/api"
	"github.com/ferrycd/ferry/internal/testenv"
	"github.com/ferrycd/ferry/internal/web/sso"
)

// ssoConsole is a console offering sign-in through a real OpenID Connect
// provider that signs user in.
func ssoConsole(t *testing.T, user testenv.OIDCUser) (*console, *http.Client) {
	t.Helper()
	idp := testenv.OIDC(t, user)
	p, err := sso.NewOIDC(sso.OIDCConfig{Name: "corp", Issuer: idp.Issuer, ClientID: idp.ClientID, ClientSecret: idp.ClientSecret})
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

// session returns the stored session whose cookie holds token.
func (c *console) session(token string) (*session, error) {
	return c.store.GetConsoleSessionByToken(context.Background(), tokenHash(token), time.Now())
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
	s, err := c.session(sess)
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

// ssoSignIn signs in through the provider to the default project with a
// fresh cookie jar and returns the HTTP status and the session's role (""
// when refused).
func ssoSignIn(t *testing.T, c *console) (int, model.Role) {
	t.Helper()
	status, s := ssoSignInTo(t, c, model.DefaultProjectID)
	if s == nil {
		return status, ""
	}
	return status, s.Role
}

func TestProjectUserGroupsGiveRolesOnTheNextSignIn(t *testing.T) {
	// The config maps deployers to editor; bob is also in platform and
	// auditors, which only the project's groups will name.
	c, _ := ssoConsole(t, testenv.OIDCUser{Subject: "u-3", Name: "bob", Groups: []string{"deployers", "Platform", "auditors"}})
	setGroups := func(gs ...*ferryv1.UserGroup) {
		t.Helper()
		ctx := api.WithPrincipal(context.Background(), &api.Principal{Subject: "user:admin", Name: "admin", ProjectID: model.DefaultProjectID, Role: model.RoleAdmin})
		if _, err := c.h.users.UpdateProjectUserGroups(ctx, connect.NewRequest(&ferryv1.UpdateProjectUserGroupsRequest{UserGroups: gs})); err != nil {
			t.Fatal(err)
		}
	}
	for _, step := range []struct {
		name   string
		groups []*ferryv1.UserGroup
		want   model.Role
	}{
		{"with no project groups the config's mapping gives editor", nil, model.RoleEditor},
		{"a lower project group does not lower the config's role", []*ferryv1.UserGroup{{SsoGroup: "auditors", Role: ferryv1.Role_ROLE_VIEWER}}, model.RoleEditor},
		{"a higher project group, matched without regard to case, raises it", []*ferryv1.UserGroup{{SsoGroup: "auditors", Role: ferryv1.Role_ROLE_VIEWER}, {SsoGroup: "platform", Role: ferryv1.Role_ROLE_ADMIN}}, model.RoleAdmin},
		{"removing the group takes the role away again", []*ferryv1.UserGroup{{SsoGroup: "auditors", Role: ferryv1.Role_ROLE_VIEWER}}, model.RoleEditor},
	} {
		setGroups(step.groups...)
		if status, role := ssoSignIn(t, c); status != http.StatusOK || role != step.want {
			t.Fatalf("%s: sign-in %d with role %q, want 200 with %q", step.name, status, role, step.want)
		}
	}
}

func TestAProjectGroupLetsInSomeoneTheConfigRefuses(t *testing.T) {
	c, _ := ssoConsole(t, testenv.OIDCUser{Subject: "u-2", Name: "mallory", Groups: []string{"visitors"}})
	if status, role := ssoSignIn(t, c); status != http.StatusForbidden || role != "" {
		t.Fatalf("before: sign-in %d with role %q, want 403 without a session", status, role)
	}
	ctx := api.WithPrincipal(context.Background(), &api.Principal{Subject: "user:admin", Name: "admin", ProjectID: model.DefaultProjectID, Role: model.RoleAdmin})
	if _, err := c.h.users.UpdateProjectUserGroups(ctx, connect.NewRequest(&ferryv1.UpdateProjectUserGroupsRequest{
		UserGroups: []*ferryv1.UserGroup{{SsoGroup: "visitors", Role: ferryv1.Role_ROLE_VIEWER}},
	})); err != nil {
		t.Fatal(err)
	}
	if status, role := ssoSignIn(t, c); status != http.StatusOK || role != model.RoleViewer {
		t.Fatalf("after adding visitors: sign-in %d with role %q, want 200 as viewer", status, role)
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
