package web

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/filestore"
	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/server/api"
	"github.com/ferrycd/ferry/internal/store"
	"github.com/ferrycd/ferry/internal/store/sqlite"
	"github.com/ferrycd/ferry/internal/testenv"
)

const adminPassword = "correct horse battery staple"

// console is a console over a real SQLite store and the real UserService,
// served by httptest.
type console struct {
	t     testing.TB
	h     *Handler
	deps  *api.Deps
	store store.Store
	srv   *httptest.Server
	// Seeded objects.
	agent *model.Agent
	app   *model.Application
	dep   *model.Deployment
}

func newConsole(t testing.TB, opts Options) *console {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	st, err := sqlite.Open(ctx, filepath.Join(dir, "ferry.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	files, err := filestore.Open(ctx, "file://"+filepath.ToSlash(filepath.Join(dir, "files")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = files.Close() })
	logger := slog.New(slog.NewTextHandler(testenv.LogWriter(t), nil))
	hash, err := auth.HashPassword(adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := st.CreateProject(ctx, &model.Project{ID: model.DefaultProjectID, StaticAdmin: model.StaticAdmin{Username: "admin", PasswordHash: hash}, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	stopping := make(chan struct{})
	deps := &api.Deps{Store: st, Blobs: files, Hub: hub.New(), Logger: logger}
	opts.Store, opts.Users, opts.Logger, opts.Stopping = st, api.NewUserService(deps), logger, stopping
	if opts.PollInterval == 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	h, err := New(opts)
	if err != nil {
		t.Fatal(err)
	}
	c := &console{t: t, h: h, store: st, deps: deps}
	c.seed(ctx, now)
	c.srv = httptest.NewServer(h)
	t.Cleanup(c.srv.Close)
	// Cleanups run last first: live streams end before the server waits
	// for its requests to finish, as on the control plane's shutdown.
	t.Cleanup(func() { close(stopping) })
	return c
}

// seed stores an agent, an application and a deployment waiting for
// approval by alice or admin.
func (c *console) seed(ctx context.Context, now time.Time) {
	c.agent = &model.Agent{ID: model.NewID(), ProjectID: model.DefaultProjectID, Name: "dev-cluster", Version: "v1.2.3", LastSeenAt: now,
		PlatformProviders: []model.PlatformProvider{{Name: "kind", Type: model.AppKindKubernetes}}, CreatedAt: now, UpdatedAt: now}
	if err := c.store.CreateAgent(ctx, c.agent); err != nil {
		c.t.Fatal(err)
	}
	c.app = &model.Application{ID: model.NewID(), ProjectID: model.DefaultProjectID, Name: "checkout", Kind: model.AppKindKubernetes, AgentID: c.agent.ID,
		GitPath:   model.GitPath{RepoID: "apps", Path: "checkout", ConfigFilename: "app.pipecd.yaml"},
		Labels:    map[string]string{"env": "prod"},
		Health:    model.HealthUnhealthy,
		SyncState: model.SyncState{Status: model.SyncInvalidConfig, ShortReason: "config is invalid", Reason: "checkout/app.pipecd.yaml:7: unknown stage K8S_FOO", Timestamp: now},
		CreatedAt: now, UpdatedAt: now}
	if err := c.store.CreateApplication(ctx, c.app); err != nil {
		c.t.Fatal(err)
	}
	c.dep = &model.Deployment{ID: model.NewID(), ProjectID: model.DefaultProjectID, ApplicationID: c.app.ID, ApplicationName: c.app.Name, AgentID: c.agent.ID,
		Kind: model.AppKindKubernetes, Status: model.DeploymentRunning, Summary: "image v2",
		Trigger: model.Trigger{Kind: model.TriggerOnCommit, Commit: model.Commit{Hash: "0123456789abcdef", Message: "bump image"}, Strategy: model.SyncStrategyPipeline},
		Stages: []*model.Stage{
			{ID: "s1", Name: "K8S_CANARY_ROLLOUT", Index: 0, Visible: true, Status: model.StageSuccess},
			{ID: "s2", Name: "WAIT_APPROVAL", Index: 1, Requires: []string{"s1"}, Visible: true, Status: model.StageRunning,
				Metadata: map[string]string{"Approvers": "alice,admin"}},
			{ID: "s3", Name: "K8S_PRIMARY_ROLLOUT", Index: 2, Requires: []string{"s2"}, Visible: true, Status: model.StageNotStartedYet},
			{ID: "s4", Name: "ROLLBACK", Index: 3, Visible: false, Rollback: true, Status: model.StageNotStartedYet},
		},
		CreatedAt: now, UpdatedAt: now}
	if err := c.store.CreateDeployment(ctx, c.dep); err != nil {
		c.t.Fatal(err)
	}
	if err := c.store.AppendLogBlocks(ctx, c.dep.ID, "s2", []model.LogBlock{{Index: 0, Log: "waiting for approval", Severity: model.LogInfo, CreatedAt: now}}); err != nil {
		c.t.Fatal(err)
	}
}

// browser is a client that keeps cookies by hand, as a browser would on a
// secure origin (the test server is plain HTTP, where Go's cookie jar
// would drop Secure cookies).
type browser struct {
	c       *console
	cookies map[string]string
}

func (c *console) browser() *browser { return &browser{c: c, cookies: map[string]string{}} }

// as returns a browser signed in with a session of the given role.
func (c *console) as(name string, role model.Role) *browser {
	b := c.browser()
	rec := httptest.NewRecorder()
	req := httptest.NewRequest(http.MethodPost, "/login", nil)
	if _, err := c.h.sessions.start(req.Context(), rec, req, &api.Principal{Subject: "user:" + name, Name: name, ProjectID: model.DefaultProjectID, Role: role}, nil); err != nil {
		c.t.Fatal(err)
	}
	b.keep(rec.Result())
	return b
}

func (b *browser) keep(res *http.Response) {
	for _, ck := range res.Cookies() {
		if ck.MaxAge < 0 || ck.Value == "" {
			delete(b.cookies, ck.Name)
		} else {
			b.cookies[ck.Name] = ck.Value
		}
	}
}

func (b *browser) do(method, path string, form url.Values) (*http.Response, string) {
	b.c.t.Helper()
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequest(method, b.c.srv.URL+path, body)
	if err != nil {
		b.c.t.Fatal(err)
	}
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		b.c.t.Fatal(err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(res.Body)
	if err != nil {
		b.c.t.Fatal(err)
	}
	b.keep(res)
	return res, string(data)
}

func (b *browser) get(path string) (*http.Response, string) { return b.do(http.MethodGet, path, nil) }

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// csrf reads the CSRF token from a page.
func (b *browser) csrf(path string) string {
	b.c.t.Helper()
	_, body := b.get(path)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		b.c.t.Fatalf("no CSRF token on %s", path)
	}
	return m[1]
}

func TestSignInAndOut(t *testing.T) {
	c := newConsole(t, Options{})
	b := c.browser()

	res, _ := b.get("/applications")
	if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(res.Header.Get("Location"), "/login?next=") {
		t.Fatalf("a page without a session: got %d to %q, want a redirect to /login", res.StatusCode, res.Header.Get("Location"))
	}

	token := b.csrf("/login")
	res, body := b.do(http.MethodPost, "/login", url.Values{"csrf": {token}, "username": {"admin"}, "password": {"wrong"}, "next": {"/agents"}})
	if res.StatusCode != http.StatusUnauthorized || !strings.Contains(body, "Wrong project, username or password") {
		t.Fatalf("a wrong password: got %d, want 401 saying so", res.StatusCode)
	}
	if strings.Contains(body, "wrong") && strings.Contains(body, `value="wrong"`) {
		t.Error("the sign-in page echoes the password back")
	}

	res, _ = b.do(http.MethodPost, "/login", url.Values{"username": {"admin"}, "password": {adminPassword}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("a sign-in without its CSRF token: got %d, want 403", res.StatusCode)
	}

	token = b.csrf("/login")
	res, _ = b.do(http.MethodPost, "/login", url.Values{"csrf": {token}, "username": {"admin"}, "password": {adminPassword}, "next": {"/agents"}})
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/agents" {
		t.Fatalf("sign-in: got %d to %q, want a redirect to /agents", res.StatusCode, res.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range res.Cookies() {
		if ck.Name == sessionCookie {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("sign-in set no session cookie")
	}
	if !session.HttpOnly || !session.Secure || session.SameSite != http.SameSiteLaxMode || session.Path != "/" {
		t.Errorf("session cookie flags: HttpOnly=%v Secure=%v SameSite=%v Path=%q; want HttpOnly, Secure, Lax, /", session.HttpOnly, session.Secure, session.SameSite, session.Path)
	}

	res, body = b.get("/agents")
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "dev-cluster") || !strings.Contains(body, "v1.2.3") {
		t.Fatalf("agents page after sign-in: got %d, want 200 listing dev-cluster v1.2.3", res.StatusCode)
	}

	res, _ = b.do(http.MethodPost, "/logout", url.Values{"csrf": {"forged"}})
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("sign-out with a wrong CSRF token: got %d, want 403", res.StatusCode)
	}
	res, _ = b.do(http.MethodPost, "/logout", url.Values{"csrf": {b.csrf("/agents")}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: got %d, want 303", res.StatusCode)
	}
	if _, ok := b.cookies[sessionCookie]; ok {
		t.Fatal("sign-out left the session cookie")
	}
	if res, _ = b.get("/agents"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("a page after sign-out: got %d, want a redirect to sign in", res.StatusCode)
	}
}

func TestSignInPageWarnsOfPlainHTTPOffLocalhost(t *testing.T) {
	c := newConsole(t, Options{})
	for _, tc := range []struct {
		host, proto string
		warn        bool
	}{
		{"ferry.example.com", "", true},
		{"ferry.example.com", "https", false},
		{"localhost:8080", "", false},
		{"127.0.0.1:8080", "", false},
		{"[::1]:8080", "", false},
	} {
		req := httptest.NewRequest(http.MethodGet, "/login", nil)
		req.Host = tc.host
		if tc.proto != "" {
			req.Header.Set("X-Forwarded-Proto", tc.proto)
		}
		rec := httptest.NewRecorder()
		c.h.ServeHTTP(rec, req)
		if got := strings.Contains(rec.Body.String(), "--insecure-cookies"); got != tc.warn {
			t.Errorf("sign-in page at %s (proto %q): warns of plain HTTP %v, want %v", tc.host, tc.proto, got, tc.warn)
		}
	}
}

func TestInsecureCookiesDropTheSecureFlag(t *testing.T) {
	c := newConsole(t, Options{InsecureCookies: true})
	b := c.browser()
	token := b.csrf("/login")
	res, _ := b.do(http.MethodPost, "/login", url.Values{"csrf": {token}, "username": {"admin"}, "password": {adminPassword}})
	for _, ck := range res.Cookies() {
		if ck.Name == sessionCookie && (ck.Secure || !ck.HttpOnly) {
			t.Errorf("with InsecureCookies the session cookie is Secure=%v HttpOnly=%v; want false, true", ck.Secure, ck.HttpOnly)
		}
	}
}

func TestUnknownExpiredAndSignedOutSessionsAreRefused(t *testing.T) {
	c := newConsole(t, Options{})
	b := c.as("admin", model.RoleAdmin)
	if res, _ := b.get("/applications"); res.StatusCode != http.StatusOK {
		t.Fatalf("a live session: got %d", res.StatusCode)
	}
	token := b.cookies[sessionCookie]
	changed := "x"
	if strings.HasSuffix(token, changed) {
		changed = "y"
	}
	b.cookies[sessionCookie] = token[:len(token)-1] + changed
	if res, _ := b.get("/applications"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("a session token that was changed: got %d, want a redirect to sign in", res.StatusCode)
	}
	b.cookies[sessionCookie] = token

	// The same person in a second browser; the first signs out, which
	// must not end the second's session, and the first's old cookie,
	// replayed, must no longer work.
	other := c.as("admin", model.RoleAdmin)
	replay := token
	res, _ := b.do(http.MethodPost, "/logout", url.Values{"csrf": {b.csrf("/settings")}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign out: got %d", res.StatusCode)
	}
	b.cookies[sessionCookie] = replay
	if res, _ := b.get("/applications"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("a signed-out session's cookie, replayed: got %d, want a redirect to sign in", res.StatusCode)
	}
	if res, _ := other.get("/applications"); res.StatusCode != http.StatusOK {
		t.Errorf("another session of the same person after the first signed out: got %d, want 200", res.StatusCode)
	}

	// A session past its end.
	later := newConsole(t, Options{SessionTTL: time.Minute, Now: func() time.Time { return time.Now().Add(-2 * time.Minute) }})
	old := later.as("admin", model.RoleAdmin)
	later.h.sessions.now = time.Now
	if res, _ := old.get("/applications"); res.StatusCode != http.StatusSeeOther {
		t.Errorf("an expired session: got %d, want a redirect to sign in", res.StatusCode)
	}
}

func TestPagesShowTheStoredObjects(t *testing.T) {
	c := newConsole(t, Options{})
	b := c.as("admin", model.RoleAdmin)
	if err := c.store.CreateEvent(context.Background(), &model.Event{
		ID: model.NewID(), ProjectID: model.DefaultProjectID, Name: "image-update", Data: "v1.2.3", Key: model.EventKey("image-update", nil),
		Status: model.EventNotHandled, CreatedAt: time.Now(), UpdatedAt: time.Now(),
	}); err != nil {
		t.Fatal(err)
	}
	// A failed deployment of another application, ended an hour ago, for
	// the insights.
	done := time.Now().UTC().Add(-time.Hour)
	if err := c.store.CreateDeployment(context.Background(), &model.Deployment{
		ID: model.NewID(), ProjectID: model.DefaultProjectID, ApplicationID: "web", ApplicationName: "web", Status: model.DeploymentFailure,
		Trigger:   model.Trigger{Commit: model.Commit{Hash: "fedcba9876543210", Timestamp: done.Add(-time.Hour)}},
		CreatedAt: done.Add(-10 * time.Minute), CompletedAt: done,
	}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		path string
		want []string
	}{
		{"/applications", []string{"checkout", "INVALID_CONFIG", "KUBERNETES", "dev-cluster", "env=prod"}},
		{"/applications?kind=TERRAFORM", []string{"No applications match"}},
		{"/applications?name=CHECK", []string{"checkout"}},
		{"/applications?health=UNHEALTHY", []string{"checkout", "UNHEALTHY"}},
		{"/applications?health=HEALTHY", []string{"No applications match"}},
		{"/applications?name=nomatch", []string{"No applications match"}},
		{"/applications?labels=env%3Dprod", []string{"checkout"}},
		{"/applications?labels=env%3Ddev", []string{"No applications match"}},
		{"/applications?labels=nonsense", []string{"key=value"}},
		{"/applications/" + c.app.ID, []string{"checkout/app.pipecd.yaml:7: unknown stage K8S_FOO", "Why the config is invalid", "no live resources", "Sync", "Disable", "image v2"}},
		{"/deployments", []string{"checkout", "RUNNING", "01234567"}},
		{"/deployments?status=SUCCESS", []string{"No deployments match"}},
		{"/deployments?app=checkout", []string{"01234567"}},
		{"/deployments?app=other", []string{"No deployments match"}},
		{"/deployments/" + c.dep.ID, []string{"K8S_CANARY_ROLLOUT", "WAIT_APPROVAL", "K8S_PRIMARY_ROLLOUT", "Approve", "Skip", "Cancel deployment", "waiting for approval", "Nobody has approved"}},
		{"/agents", []string{"dev-cluster", "ONLINE", "kind", "Rotate key", "Register an agent"}},
		{"/settings", []string{"API keys", "Create key", "No identity provider"}},
		{"/events", []string{"image-update", "v1.2.3", "NOT_HANDLED"}},
		{"/events?status=SUCCESS", []string{"No events"}},
		{"/insights", []string{"Deployment frequency", "Lead time for changes", "Change failure rate", "Time to restore", "1 completed deployments", "100%", "<svg"}},
		{"/insights?app=checkout&days=7&step=WEEK", []string{"0 completed deployments", "No data in this range"}},
		{"/insights?labels=bad", []string{"key=value"}},
	} {
		res, body := b.get(tc.path)
		if res.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d", tc.path, res.StatusCode)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(body, w) {
				t.Errorf("GET %s: the page does not show %q", tc.path, w)
			}
		}
	}
	if res, body := b.get("/no/such/page"); res.StatusCode != http.StatusNotFound || !strings.Contains(body, "There is no page at /no/such/page") {
		t.Errorf("an unknown path: got %d, want 404 with the console's page", res.StatusCode)
	}
	if res, _ := b.get("/deployments/nope"); res.StatusCode != http.StatusNotFound {
		t.Errorf("an unknown deployment: got %d, want 404", res.StatusCode)
	}
}

func TestApplicationsArePagedInTheStore(t *testing.T) {
	c := newConsole(t, Options{})
	ctx := context.Background()
	now := time.Now().UTC()
	for i := range appPageSize + 5 {
		name := "app-" + strings.Repeat("x", 1) + string(rune('a'+i/26)) + string(rune('a'+i%26))
		a := &model.Application{ID: model.NewID(), ProjectID: model.DefaultProjectID, Name: name,
			GitPath: model.GitPath{RepoID: "apps", Path: name, ConfigFilename: "app.pipecd.yaml"}, Kind: model.AppKindTerraform, AgentID: c.agent.ID, SyncState: model.SyncState{Status: model.SyncSynced}, CreatedAt: now, UpdatedAt: now}
		if err := c.store.CreateApplication(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	b := c.as("viewer", model.RoleViewer)
	_, body := b.get("/applications?kind=TERRAFORM")
	if n := strings.Count(body, `<tr>`) - 1; n != appPageSize {
		t.Fatalf("first page shows %d applications, want %d", n, appPageSize)
	}
	m := regexp.MustCompile(`href="(/applications\?[^"]*cursor=[^"]*)" rel="next"`).FindStringSubmatch(body)
	if m == nil {
		t.Fatal("no link to the next page")
	}
	_, body = b.get(strings.ReplaceAll(m[1], "&amp;", "&"))
	if n := strings.Count(body, `<tr>`) - 1; n != 5 {
		t.Fatalf("second page shows %d applications, want 5", n)
	}
	if strings.Contains(body, `rel="next"`) {
		t.Error("the last page links to a next page")
	}
}

func TestFormsWithoutTheCSRFTokenAreRefused(t *testing.T) {
	c := newConsole(t, Options{})
	b := c.as("admin", model.RoleAdmin)
	for _, path := range []string{
		"/applications/" + c.app.ID + "/sync",
		"/deployments/" + c.dep.ID + "/stages/s2/approve",
		"/deployments/" + c.dep.ID + "/cancel",
		"/agents",
		"/settings/apikeys",
		"/settings/user-groups",
		"/settings/user-groups/remove",
		"/settings/static-admin",
	} {
		for _, token := range []string{"", "forged"} {
			res, body := b.do(http.MethodPost, path, url.Values{"csrf": {token}, "name": {"x"}})
			if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "CSRF") {
				t.Errorf("POST %s with token %q: got %d, want 403 naming the CSRF check", path, token, res.StatusCode)
			}
		}
	}
	// Another session's token is refused too.
	other := c.as("admin", model.RoleAdmin)
	res, _ := b.do(http.MethodPost, "/applications/"+c.app.ID+"/sync", url.Values{"csrf": {other.csrf("/applications/" + c.app.ID)}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("POST with another session's token: got %d, want 403", res.StatusCode)
	}
	d, err := c.store.GetDeployment(context.Background(), c.dep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Operations) != 0 {
		t.Errorf("refused forms still recorded operations: %+v", d.Operations)
	}
}

func TestRolesAreTheAPIs(t *testing.T) {
	c := newConsole(t, Options{})
	viewer := c.as("victor", model.RoleViewer)
	_, page := viewer.get("/deployments/" + c.dep.ID)
	for _, hidden := range []string{">Approve<", ">Skip<", "Cancel deployment"} {
		if strings.Contains(page, hidden) {
			t.Errorf("a viewer sees %q on a deployment", hidden)
		}
	}
	token := viewer.csrf("/deployments/" + c.dep.ID)
	for _, path := range []string{
		"/deployments/" + c.dep.ID + "/stages/s2/approve",
		"/deployments/" + c.dep.ID + "/stages/s2/skip",
		"/deployments/" + c.dep.ID + "/cancel",
		"/applications/" + c.app.ID + "/sync",
		"/agents",
	} {
		res, body := viewer.do(http.MethodPost, path, url.Values{"csrf": {token}, "name": {"x"}})
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "viewer") {
			t.Errorf("viewer POST %s: got %d, want 403 naming the role", path, res.StatusCode)
		}
	}
	// Settings' API keys and agent registration are the admin's, as in the API.
	editor := c.as("eddie", model.RoleEditor)
	_, page = editor.get("/settings")
	if strings.Contains(page, "Create key") {
		t.Error("an editor is offered to create API keys")
	}
	res, _ := editor.do(http.MethodPost, "/settings/apikeys", url.Values{"csrf": {editor.csrf("/settings")}, "name": {"ci"}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("editor creating an API key: got %d, want 403", res.StatusCode)
	}
	d, err := c.store.GetDeployment(context.Background(), c.dep.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Operations) != 0 {
		t.Errorf("refused actions still recorded operations: %+v", d.Operations)
	}
}

func TestApprovalGoesThroughTheAPIsChecks(t *testing.T) {
	c := newConsole(t, Options{})
	// bob is an editor but not on the stage's approvers list: the API's
	// own check refuses him.
	bob := c.as("bob", model.RoleEditor)
	res, body := bob.do(http.MethodPost, "/deployments/"+c.dep.ID+"/stages/s2/approve", url.Values{"csrf": {bob.csrf("/deployments/" + c.dep.ID)}})
	if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "not an approver") {
		t.Fatalf("approval by someone not on the list: got %d, want 403 saying who may approve", res.StatusCode)
	}
	alice := c.as("alice", model.RoleEditor)
	res, _ = alice.do(http.MethodPost, "/deployments/"+c.dep.ID+"/stages/s2/approve", url.Values{"csrf": {alice.csrf("/deployments/" + c.dep.ID)}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("approval by alice: got %d, want 303", res.StatusCode)
	}
	_, page := alice.get(res.Header.Get("Location"))
	if !strings.Contains(page, "Approval recorded") || !strings.Contains(page, "APPROVE") || !strings.Contains(page, "alice (user:alice)") {
		t.Error("after approving, the deployment page does not show the notice and alice's approval in its operations")
	}
	cmds, _, err := c.store.ListCommands(context.Background(), store.CommandFilter{DeploymentID: c.dep.ID}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 1 || cmds[0].Kind != model.CommandApproveStage || cmds[0].Commander != "user:alice" {
		t.Fatalf("commands after approval: %+v, want one APPROVE_STAGE by user:alice", cmds)
	}
}

func TestAPIKeyIsShownOnce(t *testing.T) {
	c := newConsole(t, Options{})
	b := c.as("admin", model.RoleAdmin)
	res, body := b.do(http.MethodPost, "/settings/apikeys", url.Values{"csrf": {b.csrf("/settings")}, "name": {"ci"}, "role": {"editor"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(body, "not shown again") {
		t.Fatalf("create API key: got %d, want the page with the key", res.StatusCode)
	}
	key := regexp.MustCompile(`<pre tabindex="0">([^<]+)</pre>`).FindStringSubmatch(body)
	if key == nil {
		t.Fatal("the new key is not on the page")
	}
	_, again := b.get("/settings")
	if strings.Contains(again, key[1]) {
		t.Error("the key is shown again on a later visit")
	}
	if !strings.Contains(again, "ci") || !strings.Contains(again, "editor") {
		t.Error("the new key is not listed")
	}
}

func TestAdminsEditTheProjectsUserGroups(t *testing.T) {
	c := newConsole(t, Options{})
	b := c.as("admin", model.RoleAdmin)
	stored := func() []model.UserGroup {
		t.Helper()
		p, err := c.store.GetProject(context.Background(), model.DefaultProjectID)
		if err != nil {
			t.Fatal(err)
		}
		return p.UserGroups
	}
	// post sends a form and follows the redirect back to the settings page.
	post := func(path string, form url.Values) (*http.Response, string) {
		t.Helper()
		form.Set("csrf", b.csrf("/settings"))
		res, body := b.do(http.MethodPost, path, form)
		if res.StatusCode != http.StatusSeeOther {
			return res, body
		}
		return b.get(res.Header.Get("Location"))
	}

	res, page := post("/settings/user-groups", url.Values{"group": {" my-org/ops "}, "role": {"editor"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "my-org/ops have the role editor") {
		t.Fatalf("add a group: %d, want the settings page with a notice", res.StatusCode)
	}
	if !strings.Contains(page, "<td>my-org/ops</td><td>editor</td>") {
		t.Error("the added group is not listed")
	}
	post("/settings/user-groups", url.Values{"group": {"my-org/devs"}, "role": {"viewer"}})
	post("/settings/user-groups", url.Values{"group": {"My-Org/Ops"}, "role": {"admin"}})
	want := []model.UserGroup{{SSOGroup: "my-org/ops", Role: model.RoleAdmin}, {SSOGroup: "my-org/devs", Role: model.RoleViewer}}
	if d := cmp.Diff(want, stored()); d != "" {
		t.Errorf("after adding two and changing one (-want +got):\n%s", d)
	}

	for _, tc := range []struct {
		name string
		form url.Values
		want string
	}{
		{"an empty group is refused", url.Values{"group": {"  "}, "role": {"viewer"}}, "the SSO team or group is empty"},
		{"an unknown role is refused", url.Values{"group": {"x"}, "role": {"owner"}}, "role must be viewer, editor or admin"},
	} {
		res, body := post("/settings/user-groups", tc.form)
		if res.StatusCode != http.StatusBadRequest || !strings.Contains(body, tc.want) {
			t.Errorf("%s: %d, want 400 saying %q", tc.name, res.StatusCode, tc.want)
		}
	}

	res, page = post("/settings/user-groups/remove", url.Values{"group": {"my-org/ops"}})
	if res.StatusCode != http.StatusOK || !strings.Contains(page, "no longer gives a role") || strings.Contains(page, "<td>my-org/ops</td>") {
		t.Fatalf("remove a group: %d, want it gone with a notice", res.StatusCode)
	}
	if d := cmp.Diff(want[1:], stored()); d != "" {
		t.Errorf("after removing one (-want +got):\n%s", d)
	}
}

func TestADisabledStaticAdminCannotSignIn(t *testing.T) {
	c := newConsole(t, Options{})
	admin := c.as("ops", model.RoleAdmin)
	signIn := func() int {
		t.Helper()
		b := c.browser()
		res, _ := b.do(http.MethodPost, "/login", url.Values{"csrf": {b.csrf("/login")}, "username": {"admin"}, "password": {adminPassword}, "next": {"/settings"}})
		return res.StatusCode
	}
	setDisabled := func(v string) string {
		t.Helper()
		res, _ := admin.do(http.MethodPost, "/settings/static-admin", url.Values{"csrf": {admin.csrf("/settings")}, "disabled": {v}})
		if res.StatusCode != http.StatusSeeOther {
			t.Fatalf("disabled=%s: %d, want a redirect to the settings page", v, res.StatusCode)
		}
		_, page := admin.get(res.Header.Get("Location"))
		return page
	}
	if page := setDisabled("true"); !strings.Contains(page, "admin (disabled)") || !strings.Contains(page, "Enable the static admin") {
		t.Error("the settings page does not show the static admin disabled")
	}
	if got := signIn(); got != http.StatusUnauthorized {
		t.Errorf("disabled static admin sign-in: %d, want 401", got)
	}
	setDisabled("false")
	if got := signIn(); got != http.StatusSeeOther {
		t.Errorf("enabled static admin sign-in: %d, want a redirect into the console", got)
	}
	editor := c.as("erin", model.RoleEditor)
	if _, page := editor.get("/settings"); strings.Contains(page, "/settings/static-admin") {
		t.Error("an editor is offered the static admin form")
	}
	res, _ := editor.do(http.MethodPost, "/settings/static-admin", url.Values{"csrf": {editor.csrf("/settings")}, "disabled": {"true"}})
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("editor disabling the static admin: %d, want 403", res.StatusCode)
	}
}

func TestEditorsMayNotEditUserGroups(t *testing.T) {
	c := newConsole(t, Options{})
	editor := c.as("erin", model.RoleEditor)
	_, page := editor.get("/settings")
	if strings.Contains(page, `action="/settings/user-groups`) {
		t.Error("an editor is offered the user-group forms")
	}
	for _, path := range []string{"/settings/user-groups", "/settings/user-groups/remove"} {
		res, body := editor.do(http.MethodPost, path, url.Values{"csrf": {editor.csrf("/settings")}, "group": {"x"}, "role": {"admin"}})
		if res.StatusCode != http.StatusForbidden || !strings.Contains(body, "UpdateProjectUserGroups needs a higher role") {
			t.Errorf("editor POST %s: %d, want 403 naming the RPC", path, res.StatusCode)
		}
	}
	p, err := c.store.GetProject(context.Background(), model.DefaultProjectID)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.UserGroups) != 0 {
		t.Errorf("an editor's refused form changed the groups: %+v", p.UserGroups)
	}
}

func (b *browser) stream(t *testing.T, path string) *http.Response {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.c.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "text/event-stream")
	for k, v := range b.cookies {
		req.AddCookie(&http.Cookie{Name: k, Value: v})
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = res.Body.Close() })
	if res.StatusCode != http.StatusOK || res.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("GET %s: %d %s, want an event stream", path, res.StatusCode, res.Header.Get("Content-Type"))
	}
	return res
}

func TestLiveDeploymentStreamsStageChanges(t *testing.T) {
	c := newConsole(t, Options{})
	b := c.as("viewer", model.RoleViewer)
	res := b.stream(t, "/deployments/"+c.dep.ID+"/live")
	first := true
	sseEvents(t, res, func(name, data string) bool {
		if name != "pipeline" {
			return false
		}
		if first {
			first = false
			if !strings.Contains(data, `stage s-running`) {
				t.Fatalf("first pipeline event does not show the running approval stage:\n%s", data)
			}
			_, err := c.store.UpdateStage(context.Background(), c.dep.ID, "s2", func(s *model.Stage) error {
				s.Status = model.StageSuccess
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			return false
		}
		return strings.Contains(data, `id="stage-s2"`) && strings.Contains(data, "s-success") && !strings.Contains(data, "s-running")
	})

	// The stream ends when the deployment does.
	if _, err := c.store.UpdateDeployment(context.Background(), c.dep.ID, func(d *model.Deployment) error {
		d.Status = model.DeploymentSuccess
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	sseEvents(t, res, func(name, _ string) bool { return name == "end" })
}

func TestStageLogFollows(t *testing.T) {
	c := newConsole(t, Options{})
	b := c.as("viewer", model.RoleViewer)
	res := b.stream(t, "/deployments/"+c.dep.ID+"/stages/s2/log?after=0")
	go func() {
		_ = c.store.AppendLogBlocks(context.Background(), c.dep.ID, "s2", []model.LogBlock{{Index: 1, Log: "approved by alice", Severity: model.LogSuccess, CreatedAt: time.Now()}})
	}()
	sseEvents(t, res, func(name, data string) bool {
		if name == "log" && strings.Contains(data, "waiting for approval") {
			t.Fatal("the stream resent a block the page already had")
		}
		return name == "log" && strings.Contains(data, `"t":"approved by alice"`) && strings.Contains(data, `"s":"SUCCESS"`)
	})
}

func TestSessionWorksForTheAPIWithItsCSRFHeader(t *testing.T) {
	c := newConsole(t, Options{})
	b := c.as("alice", model.RoleEditor)
	authn := c.h.Authenticator()
	hd := http.Header{}
	hd.Set("Cookie", sessionCookie+"="+b.cookies[sessionCookie])
	if _, err := authn(context.Background(), hd); err == nil {
		t.Fatal("an API call with the session cookie but no CSRF header was accepted")
	}
	hd.Set(csrfHeader, b.csrf("/applications"))
	p, err := authn(context.Background(), hd)
	if err != nil {
		t.Fatal(err)
	}
	if p.Name != "alice" || p.Role != model.RoleEditor || p.Subject != "user:alice" {
		t.Fatalf("principal %+v, want alice the editor", p)
	}
	if p, err := authn(context.Background(), http.Header{}); p != nil || err != nil {
		t.Fatalf("no cookie: got %v, %v; want no session and no error", p, err)
	}
}

func TestLiveApplicationsListFollowsSyncState(t *testing.T) {
	c := newConsole(t, Options{})
	b := c.as("viewer", model.RoleViewer)
	res := b.stream(t, "/applications/live?name=check")
	first := true
	sseEvents(t, res, func(name, data string) bool {
		if name != "apps" {
			return false
		}
		if first {
			first = false
			if !strings.Contains(data, "INVALID_CONFIG") {
				t.Fatalf("first list event does not show checkout's INVALID_CONFIG:\n%s", data)
			}
			if _, err := c.store.UpdateApplication(context.Background(), c.app.ID, func(a *model.Application) error {
				a.SyncState = model.SyncState{Status: model.SyncSynced, Timestamp: time.Now()}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return false
		}
		return strings.Contains(data, "checkout") && strings.Contains(data, "SYNCED") && !strings.Contains(data, "INVALID_CONFIG")
	})
}

func TestAgentRegisterRotateAndDropOldKey(t *testing.T) {
	c := newConsole(t, Options{})
	b := c.as("admin", model.RoleAdmin)
	keyRE := regexp.MustCompile(`<pre tabindex="0">([^<]+)</pre>`)
	res, body := b.do(http.MethodPost, "/agents", url.Values{"csrf": {b.csrf("/agents")}, "name": {"prod-eu"}})
	if res.StatusCode != http.StatusOK || keyRE.FindStringSubmatch(body) == nil || !strings.Contains(body, "prod-eu") {
		t.Fatalf("register: %d, want the agents page with prod-eu's key shown once", res.StatusCode)
	}
	ags, err := c.store.ListAgents(context.Background(), store.AgentFilter{ProjectID: model.DefaultProjectID})
	if err != nil {
		t.Fatal(err)
	}
	var id string
	for _, a := range ags {
		if a.Name == "prod-eu" {
			id = a.ID
		}
	}
	if id == "" {
		t.Fatal("the registered agent is not stored")
	}
	res, body = b.do(http.MethodPost, "/agents/"+id+"/rotate", url.Values{"csrf": {b.csrf("/agents")}})
	if res.StatusCode != http.StatusOK || keyRE.FindStringSubmatch(body) == nil || !strings.Contains(body, "Drop old key") {
		t.Fatalf("rotate: %d, want the new key and a way to drop the old one", res.StatusCode)
	}
	res, _ = b.do(http.MethodPost, "/agents/"+id+"/drop-old-keys", url.Values{"csrf": {b.csrf("/agents")}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("drop old keys: %d, want 303", res.StatusCode)
	}
	a, err := c.store.GetAgent(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if len(a.Keys) != 1 {
		t.Fatalf("after dropping old keys the agent has %d keys, want 1", len(a.Keys))
	}
	res, _ = b.do(http.MethodPost, "/agents/"+id+"/disable", url.Values{"csrf": {b.csrf("/agents")}})
	if a, _ = c.store.GetAgent(context.Background(), id); res.StatusCode != http.StatusSeeOther || !a.Disabled {
		t.Fatalf("disable: %d, disabled %v; want 303 and a disabled agent", res.StatusCode, a.Disabled)
	}
}

func TestApplicationActionsGoThroughTheAPI(t *testing.T) {
	c := newConsole(t, Options{})
	ctx := context.Background()
	b := c.as("eddie", model.RoleEditor)
	page := "/applications/" + c.app.ID
	res, _ := b.do(http.MethodPost, page+"/sync", url.Values{"csrf": {b.csrf(page)}, "strategy": {"pipeline"}})
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sync: %d, want 303", res.StatusCode)
	}
	cmds, _, err := c.store.ListCommands(ctx, store.CommandFilter{AgentID: c.agent.ID}, store.Page{})
	if err != nil {
		t.Fatal(err)
	}
	if len(cmds) != 1 || cmds[0].Kind != model.CommandSyncApplication || cmds[0].Commander != "user:eddie" {
		t.Fatalf("commands after sync: %+v, want one SYNC_APPLICATION by user:eddie", cmds)
	}
	// Rolling back needs an earlier successful deployment; the API says so.
	res, body := b.do(http.MethodPost, page+"/rollback", url.Values{"csrf": {b.csrf(page)}, "to": {c.dep.ID}})
	if res.StatusCode < 400 || !strings.Contains(strings.ToLower(body), "success") {
		t.Errorf("rollback to a running deployment: %d, want the API's refusal explaining it", res.StatusCode)
	}
	res, _ = b.do(http.MethodPost, page+"/disable", url.Values{"csrf": {b.csrf(page)}})
	if a, err := c.store.GetApplication(ctx, c.app.ID); res.StatusCode != http.StatusSeeOther || err != nil || !a.Disabled {
		t.Fatalf("disable: %d, want 303 and a disabled application", res.StatusCode)
	}
	_, body = b.get(page)
	if !strings.Contains(body, ">Enable<") {
		t.Error("a disabled application's page offers no Enable")
	}
}

// reportLive sends the agent's live-state report of the application
// through the real AgentService.
func (c *console) reportLive(resources ...*ferryv1.ResourceState) {
	c.t.Helper()
	ctx := api.WithPrincipal(context.Background(), &api.Principal{Subject: "agent:" + c.agent.ID, ProjectID: model.DefaultProjectID, AgentID: c.agent.ID})
	if _, err := api.NewAgentService(c.deps).ReportApplicationLiveState(ctx, connect.NewRequest(&ferryv1.ReportApplicationLiveStateRequest{
		ApplicationId: c.app.ID, Resources: resources,
	})); err != nil {
		c.t.Fatal(err)
	}
}

func TestLiveResourceTreeFollowsHealth(t *testing.T) {
	c := newConsole(t, Options{})
	dep := &ferryv1.ResourceState{Id: "d", Kind: "Deployment", Namespace: "shop", Name: "checkout", Health: ferryv1.HealthStatus_HEALTH_STATUS_HEALTHY}
	rs := &ferryv1.ResourceState{Id: "rs", OwnerIds: []string{"d"}, Kind: "ReplicaSet", Namespace: "shop", Name: "checkout-7f9", Health: ferryv1.HealthStatus_HEALTH_STATUS_HEALTHY}
	pod := &ferryv1.ResourceState{Id: "p", OwnerIds: []string{"rs"}, Kind: "Pod", Namespace: "shop", Name: "checkout-7f9-abc", Health: ferryv1.HealthStatus_HEALTH_STATUS_PROGRESSING, HealthDescription: "containers starting"}
	c.reportLive(dep, rs, pod)

	b := c.as("viewer", model.RoleViewer)
	_, page := b.get("/applications/" + c.app.ID)
	// The tree nests by owner: Deployment > ReplicaSet > Pod.
	tree := regexp.MustCompile(`(?s)Deployment.*checkout.*<ul>.*ReplicaSet.*checkout-7f9.*<ul>.*Pod.*checkout-7f9-abc.*PROGRESSING.*containers starting`)
	if !tree.MatchString(page) {
		t.Fatalf("the application page does not show the resource tree nested by owner:\n%s", page)
	}

	res := b.stream(t, "/applications/"+c.app.ID+"/live")
	first := true
	sseEvents(t, res, func(name, data string) bool {
		if name != "live" {
			return false
		}
		if first {
			first = false
			pod.Health, pod.HealthDescription = ferryv1.HealthStatus_HEALTH_STATUS_UNHEALTHY, "CrashLoopBackOff"
			c.reportLive(dep, rs, pod)
			return false
		}
		return strings.Contains(data, "CrashLoopBackOff") && strings.Contains(data, "Health <span class=\"badge s-unhealthy\">UNHEALTHY</span>")
	})
}

func TestLiveDeploymentsListFollowsStatus(t *testing.T) {
	c := newConsole(t, Options{})
	b := c.as("viewer", model.RoleViewer)
	res := b.stream(t, "/deployments/live?app=checkout")
	first := true
	sseEvents(t, res, func(name, data string) bool {
		if name != "deps" {
			return false
		}
		if first {
			first = false
			if !strings.Contains(data, "RUNNING") {
				t.Fatalf("first list event does not show the running deployment:\n%s", data)
			}
			if _, err := c.store.UpdateDeployment(context.Background(), c.dep.ID, func(d *model.Deployment) error {
				d.Status, d.CompletedAt = model.DeploymentSuccess, time.Now()
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			return false
		}
		return strings.Contains(data, "SUCCESS") && !strings.Contains(data, "RUNNING")
	})
}

func TestTheApplicationPagesShowConfigWarnings(t *testing.T) {
	c := newConsole(t, Options{})
	b := c.as("viewer", model.RoleViewer)
	now := time.Now().UTC()
	app := &model.Application{ID: model.NewID(), ProjectID: model.DefaultProjectID, Name: "shop", Kind: model.AppKindKubernetes, AgentID: c.agent.ID,
		GitPath: model.GitPath{RepoID: "apps", Path: "shop", ConfigFilename: "app.pipecd.yaml"},
		ConfigWarnings: []model.ConfigWarning{
			{Field: "spec.encryption", File: "shop/app.pipecd.yaml", Line: 7, Message: "has no effect: Ferry does not decrypt sealed secrets yet"},
			{Field: "spec.input.kubectlVersion", File: "shop/app.pipecd.yaml", Line: 4, Message: "has no effect: no kubectl"},
		},
		CreatedAt: now, UpdatedAt: now}
	if err := c.store.CreateApplication(context.Background(), app); err != nil {
		t.Fatal(err)
	}
	_, page := b.get("/applications/" + app.ID)
	for _, w := range []string{"Config warnings", "<code>spec.encryption</code> has no effect: Ferry does not decrypt sealed secrets yet", "shop/app.pipecd.yaml:7"} {
		if !strings.Contains(page, w) {
			t.Errorf("the application page does not show %q", w)
		}
	}
	if _, other := b.get("/applications/" + c.app.ID); strings.Contains(other, "Config warnings") {
		t.Error("an application without warnings shows a warnings section")
	}
	_, list := b.get("/applications")
	if want := `href="/applications/` + app.ID + `#warnings-h"`; !strings.Contains(list, want) || !strings.Contains(list, "2 config warnings") {
		t.Errorf("the applications list does not mark shop's 2 config warnings with a link %s", want)
	}
}
