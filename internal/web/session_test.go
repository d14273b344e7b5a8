package web

import (
	"context"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/server/api"
	"github.com/ferrycd/ferry/internal/store"
	"github.com/ferrycd/ferry/internal/testenv"
	"github.com/ferrycd/ferry/internal/web/sso"
)

// sessionsTable returns the sessions table of a settings page.
func sessionsTable(t *testing.T, page string) string {
	t.Helper()
	start := strings.Index(page, `<table id="sessions">`)
	if start < 0 {
		t.Fatal("the settings page has no sessions table")
	}
	end := strings.Index(page[start:], "</table>")
	return page[start : start+end]
}

// signIn signs the static admin in through the form.
func (b *browser) signIn(project, password string) *http.Response {
	b.c.t.Helper()
	token := b.csrf("/login")
	res, _ := b.do(http.MethodPost, "/login", url.Values{"csrf": {token}, "project": {project}, "username": {"admin"}, "password": {password}})
	return res
}

func TestAnAdminSignsAnotherPersonOutEverywhere(t *testing.T) {
	c := newConsole(t, Options{})
	admin := c.as("admin", model.RoleAdmin)
	bob1, bob2 := c.as("bob", model.RoleViewer), c.as("bob", model.RoleViewer)

	// bob sees only his own sessions, the admin everyone's.
	_, page := bob1.get("/settings")
	table := sessionsTable(t, page)
	if !strings.Contains(page, "Your console sessions") || strings.Count(table, "<tr") != 3 || strings.Contains(table, "admin") {
		t.Errorf("bob's settings page should list his own two sessions and not the admin's:\n%s", table)
	}
	_, page = admin.get("/settings")
	if !strings.Contains(page, "Console sessions in this project") || strings.Count(page, "(this session)") != 1 {
		t.Fatalf("the admin's settings page should list everyone's sessions, marking the admin's own")
	}

	// bob may not end the admin's session through the API.
	ctx := api.WithPrincipal(context.Background(), &api.Principal{Subject: "user:bob", Name: "bob", ProjectID: model.DefaultProjectID, Role: model.RoleViewer})
	all, err := c.h.users.ListConsoleSessions(api.WithPrincipal(context.Background(), &api.Principal{Subject: "user:admin", ProjectID: model.DefaultProjectID, Role: model.RoleAdmin}),
		connect.NewRequest(&ferryv1.ListConsoleSessionsRequest{All: true}))
	if err != nil {
		t.Fatal(err)
	}
	var adminID string
	for _, s := range all.Msg.Sessions {
		if s.Subject == "user:admin" {
			adminID = s.Id
		}
	}
	if _, err := c.h.users.RevokeConsoleSessions(ctx, connect.NewRequest(&ferryv1.RevokeConsoleSessionsRequest{Ids: []string{adminID}})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("a viewer ending the admin's session: %v, want permission denied", err)
	}
	if _, err := c.h.users.ListConsoleSessions(ctx, connect.NewRequest(&ferryv1.ListConsoleSessionsRequest{All: true})); connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Errorf("a viewer listing everyone's sessions: %v, want permission denied", err)
	}

	// The admin ends all of bob's sessions with one call; both of bob's
	// browsers are signed out at their next request.
	res, err := c.h.users.RevokeConsoleSessions(api.WithPrincipal(context.Background(), &api.Principal{Subject: "user:admin", ProjectID: model.DefaultProjectID, Role: model.RoleAdmin}),
		connect.NewRequest(&ferryv1.RevokeConsoleSessionsRequest{Subject: "user:bob"}))
	if err != nil || res.Msg.Revoked != 2 {
		t.Fatalf("revoke bob's sessions: %v, %v; want 2 revoked", res, err)
	}
	for i, b := range []*browser{bob1, bob2} {
		if r, _ := b.get("/applications"); r.StatusCode != http.StatusSeeOther {
			t.Errorf("bob's browser %d after the admin signed him out: got %d, want a redirect to sign in", i+1, r.StatusCode)
		}
	}
	if r, _ := admin.get("/applications"); r.StatusCode != http.StatusOK {
		t.Errorf("the admin's own session: got %d", r.StatusCode)
	}
}

func TestSignOutMyOtherSessionsKeepsThisOne(t *testing.T) {
	c := newConsole(t, Options{})
	here, laptop, phone := c.as("carol", model.RoleEditor), c.as("carol", model.RoleEditor), c.as("carol", model.RoleEditor)
	res, _ := here.do(http.MethodPost, "/settings/sessions/revoke", url.Values{"csrf": {here.csrf("/settings")}, "others": {"true"}})
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "2+session") {
		t.Fatalf("sign out my other sessions: %d to %q, want a redirect saying 2 sessions", res.StatusCode, res.Header.Get("Location"))
	}
	if r, _ := here.get("/applications"); r.StatusCode != http.StatusOK {
		t.Errorf("this session after signing out the others: %d, want 200", r.StatusCode)
	}
	for _, b := range []*browser{laptop, phone} {
		if r, _ := b.get("/applications"); r.StatusCode != http.StatusSeeOther {
			t.Errorf("another session of carol's: %d, want a redirect to sign in", r.StatusCode)
		}
	}
}

func TestTheStaticAdminChangesItsPassword(t *testing.T) {
	c := newConsole(t, Options{})
	b, other := c.browser(), c.browser()
	if res := b.signIn("default", adminPassword); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", res.StatusCode)
	}
	if res := other.signIn("default", adminPassword); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("second sign-in: %d", res.StatusCode)
	}
	const newPassword = "a much longer pass phrase"
	change := func(current, pw, again string) (*http.Response, string) {
		return b.do(http.MethodPost, "/settings/static-admin/password", url.Values{
			"csrf": {b.csrf("/settings")}, "current_password": {current}, "new_password": {pw}, "new_password_again": {again},
		})
	}
	for _, tc := range []struct{ name, current, pw, again, want string }{
		{"a wrong present password", "guess", newPassword, newPassword, "current_password: is not the static admin's present password"},
		{"two different new passwords", adminPassword, newPassword, newPassword + "!", "The two new passwords differ"},
		{"a short one", adminPassword, "short", "short", "new_password: is 5 bytes; use at least 12"},
	} {
		res, body := change(tc.current, tc.pw, tc.again)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(html.UnescapeString(body), tc.want) {
			t.Errorf("%s: %d, want 400 saying %q", tc.name, res.StatusCode, tc.want)
		}
	}
	if r, _ := b.get("/applications"); r.StatusCode != http.StatusOK {
		t.Fatalf("a refused change must not sign out: %d", r.StatusCode)
	}

	res, _ := change(adminPassword, newPassword, newPassword)
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login?notice=") {
		t.Fatalf("change: %d to %q, want a redirect to sign in again", res.StatusCode, res.Header.Get("Location"))
	}
	for name, br := range map[string]*browser{"this browser": b, "the other browser": other} {
		if r, _ := br.get("/applications"); r.StatusCode != http.StatusSeeOther {
			t.Errorf("%s after the change: %d, want signed out", name, r.StatusCode)
		}
	}
	if res := b.signIn("default", adminPassword); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("the old password: %d, want 401", res.StatusCode)
	}
	if res := b.signIn("default", newPassword); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the new password: %d, want a sign-in", res.StatusCode)
	}
}

func TestAnotherAdminResetsTheStaticAdminPasswordWithoutTheOldOne(t *testing.T) {
	c := newConsole(t, Options{})
	admin := c.browser()
	admin.signIn("default", adminPassword)
	sso := c.as("dana", model.RoleAdmin)
	res, _ := sso.do(http.MethodPost, "/settings/static-admin/password", url.Values{
		"csrf": {sso.csrf("/settings")}, "new_password": {"break glass 2026"}, "new_password_again": {"break glass 2026"},
	})
	if res.StatusCode != http.StatusSeeOther || !strings.Contains(res.Header.Get("Location"), "1+of+its+sessions") {
		t.Fatalf("an SSO admin resetting it: %d to %q, want one session ended", res.StatusCode, res.Header.Get("Location"))
	}
	if r, _ := admin.get("/applications"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the static admin's session after the reset: %d, want signed out", r.StatusCode)
	}
	if r, _ := sso.get("/applications"); r.StatusCode != http.StatusOK {
		t.Errorf("dana's own session: %d, want 200", r.StatusCode)
	}
	editor := c.as("erin", model.RoleEditor)
	res, _ = editor.do(http.MethodPost, "/settings/static-admin/password", url.Values{
		"csrf": {editor.csrf("/settings")}, "new_password": {"mine now mine now"}, "new_password_again": {"mine now mine now"},
	})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("an editor changing the static admin's password: %d, want 403", res.StatusCode)
	}
}

func TestDisablingTheStaticAdminSignsItOut(t *testing.T) {
	c := newConsole(t, Options{})
	b := c.browser()
	b.signIn("default", adminPassword)
	res, _ := b.do(http.MethodPost, "/settings/static-admin", url.Values{"csrf": {b.csrf("/settings")}, "disabled": {"true"}})
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login") {
		t.Fatalf("disable: %d to %q", res.StatusCode, res.Header.Get("Location"))
	}
	if r, _ := b.get("/applications"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the static admin's session after disabling it: %d, want signed out", r.StatusCode)
	}
}

// addProject stores another project with its own static admin.
func (c *console) addProject(id, password string, groups ...model.UserGroup) {
	c.t.Helper()
	hash, err := auth.HashPassword(password)
	if err != nil {
		c.t.Fatal(err)
	}
	now := time.Now()
	if err := c.store.CreateProject(context.Background(), &model.Project{ID: id, StaticAdmin: model.StaticAdmin{Username: "admin", PasswordHash: hash},
		UserGroups: groups, CreatedAt: now, UpdatedAt: now}); err != nil {
		c.t.Fatal(err)
	}
}

func TestSignInToAnotherProject(t *testing.T) {
	c := newConsole(t, Options{})
	c.addProject("payments", "payments admin password")
	b := c.browser()
	_, page := b.get("/login?project=payments")
	if !strings.Contains(page, `<strong id="login-project">payments</strong>`) || !strings.Contains(page, `name="project" value="payments"`) {
		t.Fatal("the sign-in page asked for project payments does not offer it")
	}
	if res := b.signIn("payments", adminPassword); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("the default project's password for payments: %d, want 401", res.StatusCode)
	}
	if res := b.signIn("nosuch", adminPassword); res.StatusCode != http.StatusUnauthorized {
		t.Errorf("a project that does not exist: %d, want 401", res.StatusCode)
	}
	if res := b.signIn("payments", "payments admin password"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("payments' own admin: %d, want a sign-in", res.StatusCode)
	}
	// The default project's application is not payments'.
	if res, _ := b.get("/applications/" + c.app.ID); res.StatusCode != http.StatusNotFound {
		t.Errorf("the default project's application from payments: %d, want 404", res.StatusCode)
	}
	if _, page := b.get("/settings"); !strings.Contains(page, "<dd>payments</dd>") {
		t.Error("the settings page does not say the project is payments")
	}
	// The sign-in page remembers the project for next time.
	b.do(http.MethodPost, "/logout", url.Values{"csrf": {b.csrf("/settings")}})
	if _, page := b.get("/login"); !strings.Contains(page, `<strong id="login-project">payments</strong>`) {
		t.Error("the sign-in page does not offer the project last signed in to")
	}
}

func TestSSOSignInToAnotherProjectUsesOnlyItsGroups(t *testing.T) {
	// The config maps deployers to editor, in the default project only.
	c, _ := ssoConsole(t, testenv.OIDCUser{Subject: "u-9", Name: "frank", Groups: []string{"deployers", "payments-team"}})
	c.addProject("payments", "payments admin password", model.UserGroup{SSOGroup: "payments-team", Role: model.RoleViewer})
	status, s := ssoSignInTo(t, c, "payments")
	if status != http.StatusOK || s == nil || s.ProjectID != "payments" || s.Role != model.RoleViewer {
		t.Fatalf("SSO sign-in to payments: %d, %+v; want payments as viewer (its own group, not the config's editor)", status, s)
	}
	c.addProject("other", "other admin password")
	if status, s := ssoSignInTo(t, c, "other"); status != http.StatusForbidden || s != nil {
		t.Fatalf("SSO sign-in to a project that gives frank no role: %d, %+v; want 403", status, s)
	}
	if status, _ := ssoSignInTo(t, c, "Not A Project"); status != http.StatusBadRequest {
		t.Errorf("SSO sign-in to a malformed project name: %d, want 400", status)
	}
}

// ssoSignInTo signs in through the provider to project with a fresh
// cookie jar and returns the HTTP status and the stored session.
func ssoSignInTo(t *testing.T, c *console, project string) (int, *session) {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Jar: jar}
	res, err := client.Get(c.srv.URL + "/login/sso/corp?project=" + url.QueryEscape(project))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	u, _ := url.Parse(c.srv.URL)
	for _, ck := range jar.Cookies(u) {
		if ck.Name == sessionCookie {
			s, err := c.session(ck.Value)
			if err != nil {
				t.Fatalf("session after SSO sign-in: %v", err)
			}
			return res.StatusCode, s
		}
	}
	return res.StatusCode, nil
}

func TestAnUnreachableIssuerDoesNotBreakTheSignInPage(t *testing.T) {
	c := newConsole(t, Options{InsecureCookies: true, SSO: []sso.Provider{unreachableOIDC(t)}})
	_, page := c.browser().get("/login")
	if !strings.Contains(page, "/login/sso/down") {
		t.Fatal("the sign-in page does not offer the provider")
	}
	res, body := c.browser().get("/login/sso/down")
	if res.StatusCode != http.StatusBadGateway || !strings.Contains(body, "could not be reached") {
		t.Fatalf("SSO sign-in through an unreachable issuer: %d, want 502 saying so", res.StatusCode)
	}
	if res := c.browser().signIn("default", adminPassword); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the password sign-in beside an unreachable issuer: %d", res.StatusCode)
	}
}

// unreachableOIDC is an OpenID Connect provider whose issuer does not
// answer.
func unreachableOIDC(t *testing.T) sso.Provider {
	t.Helper()
	srv := httptest.NewServer(http.NotFoundHandler())
	srv.Close()
	p, err := sso.NewOIDC(sso.OIDCConfig{Name: "down", Issuer: srv.URL, ClientID: "c"})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestARevokedSessionsLiveStreamEnds(t *testing.T) {
	c := newConsole(t, Options{})
	b := c.as("gina", model.RoleViewer)
	res := b.stream(t, "/deployments/"+c.dep.ID+"/live")
	sseEvents(t, res, func(name, _ string) bool { return name == "pipeline" })
	if _, err := c.store.DeleteConsoleSessions(context.Background(), store.ConsoleSessionFilter{ProjectID: model.DefaultProjectID, Subject: "user:gina"}); err != nil {
		t.Fatal(err)
	}
	sseEvents(t, res, func(name, _ string) bool { return name == "signedout" })
}

func TestALiveStreamWithoutASessionSaysSignedOut(t *testing.T) {
	c := newConsole(t, Options{})
	res := c.browser().stream(t, "/deployments/"+c.dep.ID+"/live")
	sseEvents(t, res, func(name, _ string) bool { return name == "signedout" })
}
