package web

import (
	"context"
	"io"
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
	"github.com/ferrycd/ferry/internal/store"
	"github.com/ferrycd/ferry/internal/testenv"
)

// setUserGroups sets the default project's user groups as its admin does.
func (c *console) setUserGroups(gs ...*ferryv1.UserGroup) {
	c.t.Helper()
	ctx := api.WithPrincipal(context.Background(), &api.Principal{Subject: "user:admin", Name: "admin", ProjectID: model.DefaultProjectID, Role: model.RoleAdmin})
	if _, err := c.h.users.UpdateProjectUserGroups(ctx, connect.NewRequest(&ferryv1.UpdateProjectUserGroupsRequest{UserGroups: gs})); err != nil {
		c.t.Fatal(err)
	}
}

// roleOnSettings reads the settings page with
// client and returns the role it shows, or "" when the page sent the
// client to sign in.
func roleOnSettings(t *testing.T, c *console, client *http.Client) model.Role {
	t.Helper()
	res, err := client.Get(c.srv.URL + "/settings")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.Request.URL.Path == "/login" {
		return ""
	}
	_, rest, ok := strings.Cut(string(body), "<dt>Role</dt><dd>")
	role, _, _ := strings.Cut(rest, "</dd>")
	if res.StatusCode != http.StatusOK || !ok {
		t.Fatalf("settings page: %d without a role", res.StatusCode)
	}
	return model.Role(role)
}

func TestASessionsRoleFollowsTheProjectsUserGroups(t *testing.T) {
	// The config gives dana's groups nothing; only the project's groups do.
	c, _ := ssoConsole(t, testenv.OIDCUser{Subject: "u-7", Name: "dana", Groups: []string{"platform"}})
	c.setUserGroups(&ferryv1.UserGroup{SsoGroup: "platform", Role: ferryv1.Role_ROLE_EDITOR})
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	res, err := client.Get(c.srv.URL + "/login/sso/corp")
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if got := roleOnSettings(t, c, client); got != model.RoleEditor {
		t.Fatalf("after sign-in: role %q, want editor", got)
	}
	stored := func() []*model.ConsoleSession {
		t.Helper()
		list, err := c.store.ListConsoleSessions(context.Background(), store.ConsoleSessionFilter{ProjectID: model.DefaultProjectID, Subject: "user:corp:u-7"}, time.Now())
		if err != nil {
			t.Fatal(err)
		}
		return list
	}

	for _, step := range []struct {
		name string
		role ferryv1.Role
		want model.Role
	}{
		{"lowering the group's role lowers the session's at its next request", ferryv1.Role_ROLE_VIEWER, model.RoleViewer},
		{"raising it raises the session's", ferryv1.Role_ROLE_ADMIN, model.RoleAdmin},
	} {
		c.setUserGroups(&ferryv1.UserGroup{SsoGroup: "platform", Role: step.role})
		if got := roleOnSettings(t, c, client); got != step.want {
			t.Errorf("%s: role %q, want %q", step.name, got, step.want)
		}
		if list := stored(); len(list) != 1 || list[0].Role != step.want {
			t.Errorf("%s: the stored session (shown in the sessions list) is %+v, want one with role %q", step.name, list, step.want)
		}
	}

	// The API, called with the session's cookie, follows it as well.
	c.setUserGroups(&ferryv1.UserGroup{SsoGroup: "platform", Role: ferryv1.Role_ROLE_VIEWER})
	u, err := url.Parse(c.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	var token string
	for _, ck := range jar.Cookies(u) {
		if ck.Name == sessionCookie {
			token = ck.Value
		}
	}
	s, err := c.session(token)
	if err != nil {
		t.Fatal(err)
	}
	hd := http.Header{}
	hd.Set("Cookie", sessionCookie+"="+token)
	hd.Set(csrfHeader, s.CSRFToken)
	p, err := c.h.Authenticator()(context.Background(), hd)
	if err != nil || p == nil || p.Role != model.RoleViewer {
		t.Errorf("the API's principal for the session: %+v, %v; want a viewer", p, err)
	}

	// With no group left that gives dana a role, the session ends.
	c.setUserGroups()
	if got := roleOnSettings(t, c, client); got != "" {
		t.Errorf("after the project's groups no longer give a role: role %q, want sent to sign in", got)
	}
	if list := stored(); len(list) != 0 {
		t.Errorf("the session without a role is still stored: %+v", list)
	}
}
