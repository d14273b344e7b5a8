package server_test

import (
	"bufio"
	"context"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/server"
	"github.com/ferrycd/ferry/internal/testenv"
)

func TestConsoleFeedThroughPostgresReachesAPageOnAnotherReplica(t *testing.T) {
	dsn := testenv.PostgresURL(t)
	testConsoleFeed(t, dsn, postgresBroker(t, dsn))
}

func TestConsoleFeedThroughRedisReachesAPageOnAnotherReplica(t *testing.T) {
	redisURL := testenv.RedisURL(t)
	dsn := testenv.PostgresURL(t)
	testConsoleFeed(t, dsn, redisBroker(t, redisURL))
}

// testConsoleFeed runs two replicas whose console streams re-read on their
// own only once an hour, an agent reporting through A and a console page
// served by B, and checks that what the agent reports shows on the page
// promptly: it can only have come through the change feed.
func testConsoleFeed(t *testing.T, dsn string, b broker) {
	const password = "console-feed-password"
	hash, err := auth.HashPassword(password)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var keyFile string
	replica := func(c *server.Config) {
		c.Datastore = dsn
		c.StaticAdmin = config.StaticAdminConfig{Username: "root", PasswordHash: hash}
		c.CommandPollInterval = time.Hour
		c.ConsolePollInterval = time.Hour
		if keyFile != "" {
			c.BootstrapAPIKeyFile = keyFile
		}
		if b.configure != nil {
			b.configure(c)
		}
	}
	a := startServer(t, replica)
	keyFile = filepath.Join(a.dataDir, "admin-key")
	bb := startServer(t, replica)

	_, agentKey := a.registerAgent(t, "cluster")
	agent := a.agent(agentKey)
	reg, err := agent.RegisterApplications(ctx, req(&ferryv1.RegisterApplicationsRequest{Applications: []*ferryv1.ApplicationSpec{{
		Name: "checkout", Kind: ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES, PlatformProvider: "dev",
		GitPath: &ferryv1.GitPath{RepoId: "apps", Path: "checkout", ConfigFilename: "app.pipecd.yaml"},
	}}}))
	if err != nil {
		t.Fatal(err)
	}
	appID := reg.Msg.Applications[0].Id
	dep, err := agent.CreateDeployment(ctx, req(&ferryv1.CreateDeploymentRequest{
		ApplicationId: appID, Trigger: &ferryv1.Trigger{Commit: &ferryv1.Commit{Hash: "0123456789abcdef0123456789abcdef01234567"}},
	}))
	if err != nil {
		t.Fatal(err)
	}
	depID := dep.Msg.Deployment.Id
	if _, err := agent.ReportDeploymentPlanned(ctx, req(&ferryv1.ReportDeploymentPlannedRequest{
		DeploymentId: depID,
		Stages: []*ferryv1.Stage{
			{Id: "s1", Name: "K8S_SYNC", Visible: true},
			{Id: "s2", Name: "WAIT", Visible: true, Requires: []string{"s1"}},
		},
	})); err != nil {
		t.Fatal(err)
	}

	cookies := signIn(t, bb.Addr(), "root", password)
	page := openStream(ctx, t, bb.Addr()+"/deployments/"+depID+"/live", cookies)
	page.want(t, "the first pipeline", func(name, data string) bool {
		return name == "pipeline" && strings.Contains(data, `id="stage-s1"`)
	})
	logs := openStream(ctx, t, bb.Addr()+"/deployments/"+depID+"/stages/s1/log", cookies)
	apps := openStream(ctx, t, bb.Addr()+"/applications/live", cookies)
	apps.want(t, "the first list", func(name, data string) bool {
		return name == "apps" && strings.Contains(data, "checkout")
	})

	start := time.Now()
	if _, err := agent.ReportStageStatusChanged(ctx, req(&ferryv1.ReportStageStatusChangedRequest{
		DeploymentId: depID, StageId: "s1", Status: ferryv1.StageStatus_STAGE_STATUS_RUNNING,
	})); err != nil {
		t.Fatal(err)
	}
	page.want(t, "s1 RUNNING on B", func(name, data string) bool {
		return name == "pipeline" && strings.Contains(data, "s-running")
	})
	t.Logf("a stage report through A showed on B's page after %s", time.Since(start))

	if _, err := agent.ReportStageLogs(ctx, req(&ferryv1.ReportStageLogsRequest{
		DeploymentId: depID, StageId: "s1", Blocks: []*ferryv1.LogBlock{{Index: 0, Log: "applied 3 objects"}},
	})); err != nil {
		t.Fatal(err)
	}
	logs.want(t, "the log block on B", func(name, data string) bool {
		return name == "log" && strings.Contains(data, "applied 3 objects")
	})

	if _, err := agent.ReportApplicationSyncState(ctx, req(&ferryv1.ReportApplicationSyncStateRequest{
		ApplicationId: appID, State: &ferryv1.SyncState{Status: ferryv1.SyncStatus_SYNC_STATUS_OUT_OF_SYNC, ShortReason: "1 object differs"},
	})); err != nil {
		t.Fatal(err)
	}
	apps.want(t, "OUT_OF_SYNC in B's list", func(name, data string) bool {
		return name == "apps" && strings.Contains(data, "OUT_OF_SYNC")
	})
}

// signIn signs in to the console at base as the static admin and returns
// the cookies to send with its pages.
func signIn(t *testing.T, base, user, password string) []*http.Cookie {
	t.Helper()
	res, page := consoleRequest(t, http.MethodGet, base+"/login", nil, nil, nil)
	cookies := res.Cookies()
	m := formCSRF.FindStringSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on the sign-in page")
	}
	res, _ = consoleRequest(t, http.MethodPost, base+"/login", url.Values{"csrf": {m[1]}, "username": {user}, "password": {password}}, cookies, nil)
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d, want 303", res.StatusCode)
	}
	return append(cookies, res.Cookies()...)
}

// sseStream reads a console page's Server-Sent Events in the background.
type sseStream struct {
	events chan [2]string
	errc   chan error
}

// openStream opens the event stream at u.
func openStream(ctx context.Context, t *testing.T, u string, cookies []*http.Cookie) *sseStream {
	t.Helper()
	ctx, cancel := context.WithCancel(ctx)
	t.Cleanup(cancel)
	r, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Accept", "text/event-stream")
	for _, c := range cookies {
		r.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = res.Body.Close() })
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d, want an event stream", u, res.StatusCode)
	}
	s := &sseStream{events: make(chan [2]string, 64), errc: make(chan error, 1)}
	go func() {
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var name string
		var data []string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event: "):
				name = strings.TrimPrefix(line, "event: ")
			case strings.HasPrefix(line, "data: "):
				data = append(data, strings.TrimPrefix(line, "data: "))
			case line == "":
				if name != "" {
					s.events <- [2]string{name, strings.Join(data, "\n")}
				}
				name, data = "", nil
			}
		}
		s.errc <- sc.Err()
	}()
	return s
}

// want waits, at most promptly, for an event that match accepts.
func (s *sseStream) want(t *testing.T, what string, match func(name, data string) bool) {
	t.Helper()
	timeout := time.After(promptly)
	for {
		select {
		case e := <-s.events:
			if match(e[0], e[1]) {
				return
			}
		case err := <-s.errc:
			t.Fatalf("the stream ended waiting for %s: %v", what, err)
		case <-timeout:
			t.Fatalf("%s did not arrive within %s", what, promptly)
		}
	}
}
