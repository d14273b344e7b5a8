package server_test

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/server"
	"github.com/ferrycd/ferry/internal/store"
	"github.com/ferrycd/ferry/internal/testenv"
)

// consoleRequest sends a request with the given cookies, not following
// redirects, and returns the response and its body.
func consoleRequest(t *testing.T, method, u string, form url.Values, cookies []*http.Cookie, header http.Header) (*http.Response, string) {
	t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, u, body)
	if err != nil {
		t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range header {
		req.Header[k] = v
	}
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, string(data)
}

var (
	formCSRF = regexp.MustCompile(`name="csrf" value="([^"]+)"`)
	metaCSRF = regexp.MustCompile(`<meta name="csrf-token" content="([^"]+)">`)
)

// TestConsoleIsServedBesideTheAPI signs in to the console of one replica
// and uses the session on another replica of the same datastore, for pages
// and for the JSON API (which then needs the CSRF header), while the API,
// health and metrics endpoints keep working.
func TestConsoleIsServedBesideTheAPI(t *testing.T) {
	const password = "s3cret-for-the-console"
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	admin := config.StaticAdminConfig{Username: "root", PasswordHash: hash}
	a := startServer(t, func(c *server.Config) { c.StaticAdmin = admin })
	// A second replica on the same datastore; it finds the installation
	// bootstrapped.
	b := startReplica(t, a, admin)

	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if res, _ := consoleRequest(t, http.MethodGet, a.Addr()+path, nil, nil, nil); res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d, want 200 beside the console", path, res.StatusCode)
		}
	}
	if got := callJSON(t, a.Addr(), "/ferry.v1.UserService/GetMe", a.adminKey); got != "ok" {
		t.Errorf("GetMe with the API key: %s, want ok", got)
	}
	if res, _ := consoleRequest(t, http.MethodGet, a.Addr()+"/", nil, nil, nil); res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/applications" {
		t.Errorf("GET /: %d to %q, want the console's applications", res.StatusCode, res.Header.Get("Location"))
	}

	res, page := consoleRequest(t, http.MethodGet, a.Addr()+"/login", nil, nil, nil)
	login := res.Cookies()
	m := formCSRF.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on the sign-in page")
	}
	res, _ = consoleRequest(t, http.MethodPost, a.Addr()+"/login", url.Values{"csrf": {m[1]}, "username": {"root"}, "password": {password}}, login, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d, want 303", res.StatusCode)
	}
	var session []*http.Cookie
	for _, c := range res.Cookies() {
		if c.Name == "ferry_session" {
			if !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
				t.Errorf("session cookie: Secure=%v HttpOnly=%v SameSite=%v, want Secure, HttpOnly, Lax", c.Secure, c.HttpOnly, c.SameSite)
			}
			session = append(session, c)
		}
	}
	if session == nil {
		t.Fatal("sign-in set no session cookie")
	}

	// The other replica accepts the session.
	res, page = consoleRequest(t, http.MethodGet, b.Addr()+"/applications", nil, session, nil)
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "No applications match") {
		t.Fatalf("the other replica's applications page with the session: %d, want 200 with an empty list", res.StatusCode)
	}
	tok := metaCSRF.FindStringSubmatch(page)
	if tok == nil {
		t.Fatal("no CSRF token in the page's meta tag")
	}

	call := func(base string, header http.Header) int {
		h := http.Header{"Content-Type": {"application/json"}}
		for k, v := range header {
			h[k] = v
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/ferry.v1.UserService/GetMe", bytes.NewReader([]byte("{}")))
		if err != nil {
			t.Fatal(err)
		}
		req.Header = h
		for _, c := range session {
			req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		return res.StatusCode
	}
	if got := call(a.Addr(), nil); got != http.StatusUnauthorized {
		t.Errorf("API call with the session but no CSRF header: %d, want 401", got)
	}
	if got := call(b.Addr(), http.Header{"X-Csrf-Token": {tok[1]}}); got != http.StatusOK {
		t.Errorf("API call on the other replica with the session and its CSRF header: %d, want 200", got)
	}

	// Signing out on one replica ends the session on the other at once.
	res, _ = consoleRequest(t, http.MethodPost, b.Addr()+"/logout", url.Values{"csrf": {tok[1]}}, session, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out on the second replica: %d", res.StatusCode)
	}
	if res, _ := consoleRequest(t, http.MethodGet, a.Addr()+"/applications", nil, session, nil); res.StatusCode != http.StatusSeeOther {
		t.Errorf("the first replica with a session signed out on the second: %d, want a redirect to sign in", res.StatusCode)
	}
	if got := call(a.Addr(), http.Header{"X-Csrf-Token": {tok[1]}}); got != http.StatusUnauthorized {
		t.Errorf("API call with a signed-out session: %d, want 401", got)
	}
}

// startReplica starts another replica on a's SQLite datastore, with the
// static admin of the config admin.
func startReplica(t *testing.T, a *testServer, admin config.StaticAdminConfig) *server.Server {
	t.Helper()
	srv, err := server.New(server.Config{
		Address: "127.0.0.1:0", DataDir: t.TempDir(), Datastore: filepath.Join(a.dataDir, "ferry.db"), StaticAdmin: admin,
		Logger: slog.New(slog.NewTextHandler(testenv.LogWriter(t), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Close(); err != nil {
			t.Errorf("close the replica: %v", err)
		}
	})
	return srv
}

// signInStatus signs root in to the console at base with password and
// returns the status of the sign-in.
func signInStatus(t *testing.T, base, password string) int {
	t.Helper()
	res, page := consoleRequest(t, http.MethodGet, base+"/login", nil, nil, nil)
	m := formCSRF.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on the sign-in page")
	}
	res, _ = consoleRequest(t, http.MethodPost, base+"/login", url.Values{"csrf": {m[1]}, "username": {"root"}, "password": {password}}, res.Cookies(), nil)
	return res.StatusCode
}

// TestAPasswordChangedThroughTheAPIOutlivesARestart changes the static
// admin's password through the API, restarts on the same config and finds
// the new password still in force; a new password hash in the config then
// wins.
func TestAPasswordChangedThroughTheAPIOutlivesARestart(t *testing.T) {
	hash := func(pw string) string {
		h, err := auth.HashPassword(pw)
		if err != nil {
			t.Fatal(err)
		}
		return h
	}
	fromFile := config.StaticAdminConfig{Username: "root", PasswordHash: hash("the config's password")}
	a := startServer(t, func(c *server.Config) { c.StaticAdmin = fromFile })
	if _, err := a.user(a.adminKey).ChangeStaticAdminPassword(context.Background(), connect.NewRequest(&ferryv1.ChangeStaticAdminPasswordRequest{NewPassword: "changed through the API"})); err != nil {
		t.Fatal(err)
	}
	same := startReplica(t, a, fromFile)
	if got := signInStatus(t, same.Addr(), "changed through the API"); got != http.StatusSeeOther {
		t.Errorf("after a restart on the same config, the password set through the API: %d, want a sign-in", got)
	}
	if got := signInStatus(t, same.Addr(), "the config's password"); got != http.StatusUnauthorized {
		t.Errorf("after a restart on the same config, the config's old password: %d, want 401", got)
	}
	changed := startReplica(t, a, config.StaticAdminConfig{Username: "root", PasswordHash: hash("a new one in the config")})
	if got := signInStatus(t, changed.Addr(), "a new one in the config"); got != http.StatusSeeOther {
		t.Errorf("after the config's password hash changed: %d, want its password to sign in", got)
	}
}

// TestLiveStateReportsKeepTheApplicationsHealth checks that an agent's
// live-state report sets the health the console's list filters on.
func TestLiveStateReportsKeepTheApplicationsHealth(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	_, agentKey := s.registerAgent(t, "dev-cluster")
	agent := s.agent(agentKey)
	reg, err := agent.RegisterApplications(ctx, req(&ferryv1.RegisterApplicationsRequest{Applications: []*ferryv1.ApplicationSpec{{
		Name: "checkout", Kind: ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES, PlatformProvider: "dev",
		GitPath: &ferryv1.GitPath{RepoId: "apps", Path: "checkout", ConfigFilename: "app.pipecd.yaml"},
	}}}))
	if err != nil {
		t.Fatal(err)
	}
	appID := reg.Msg.Applications[0].Id
	for _, tc := range []struct {
		health ferryv1.HealthStatus
		want   model.HealthStatus
	}{
		{ferryv1.HealthStatus_HEALTH_STATUS_PROGRESSING, model.HealthProgress},
		{ferryv1.HealthStatus_HEALTH_STATUS_HEALTHY, model.HealthHealthy},
	} {
		if _, err := agent.ReportApplicationLiveState(ctx, req(&ferryv1.ReportApplicationLiveStateRequest{
			ApplicationId: appID,
			Resources:     []*ferryv1.ResourceState{{Id: "d1", Kind: "Deployment", Name: "checkout", Health: tc.health}},
		})); err != nil {
			t.Fatal(err)
		}
		apps, _, err := s.Store().ListApplications(ctx, store.ApplicationFilter{Health: tc.want}, store.Page{})
		if err != nil {
			t.Fatal(err)
		}
		if len(apps) != 1 || apps[0].ID != appID {
			t.Fatalf("applications %s after a report of a %s resource: %d, want checkout", tc.want, tc.want, len(apps))
		}
	}
}
