// Package consolefeed measures how long an agent's stage-status report
// takes to show on a console page: from the report's call, made through
// replica A, to the page's Server-Sent Event, served by replica B (or by A
// itself). The page's stream re-reads either when the hub's change feed
// wakes it or on its own timer, so comparing setups compares the feed with
// the poll of one second it replaced.
package consolefeed

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
	"github.com/ferrycd/ferry/bench/internal/benchkit"
	"github.com/ferrycd/ferry/internal/auth"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/server"
)

// Setup says where the report and the page are, and how the page's stream
// learns of the report.
type Setup struct {
	// Datastore is "" for SQLite (the replicas share one file) or a
	// postgres:// URL.
	Datastore string
	// FanoutRedis, when set, carries the fan-out between the replicas.
	FanoutRedis string
	// SameReplica serves the page from A, which takes the report.
	SameReplica bool
	// ConsolePollInterval is the page stream's own re-read interval.
	ConsolePollInterval time.Duration
	// Reports is how many reports to time. Before each the benchmark
	// pauses Gap plus a random part of a second, so that reports land at
	// every phase of a poll of one second (a stream's timer restarts at
	// each of its reads, and the benchmark waits for that read).
	Reports int
	Gap     time.Duration
}

// Result is one setup's measurement.
type Result struct {
	// Latencies are report-to-event times, sorted.
	Latencies []time.Duration
	// Calls are the report calls' own times, sorted: the floor under the
	// latencies.
	Calls []time.Duration
}

// Percentile returns the p-th percentile (0..1) of sorted ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	return ds[min(len(ds)-1, int(p*float64(len(ds))))]
}

// Mean returns the mean of ds.
func Mean(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

const password = "bench-console-password"

// Run starts the replicas, a deployment and its page, and times s.Reports
// stage reports.
func Run(ctx context.Context, s Setup) (Result, error) {
	dir, err := os.MkdirTemp("", "ferry-consolefeed-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	hash, err := auth.HashPassword(password)
	if err != nil {
		return Result{}, err
	}
	start := func(name, datastore string) (*server.Server, error) {
		srv, err := server.New(server.Config{
			Address: "127.0.0.1:0", DataDir: filepath.Join(dir, name), Datastore: datastore,
			FanoutRedis: s.FanoutRedis, ConsolePollInterval: s.ConsolePollInterval,
			StaticAdmin:         config.StaticAdminConfig{Username: "root", PasswordHash: hash},
			BootstrapAPIKeyFile: filepath.Join(dir, "key"),
			Logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
		if err != nil {
			return nil, err
		}
		return srv, srv.Start(ctx)
	}
	a, err := start("a", s.Datastore)
	if err != nil {
		return Result{}, fmt.Errorf("start A: %w", err)
	}
	defer a.Close()
	page := a
	if !s.SameReplica {
		ds := s.Datastore
		if ds == "" {
			ds = filepath.Join(dir, "a", "ferry.db")
		}
		b, err := start("b", ds)
		if err != nil {
			return Result{}, fmt.Errorf("start B: %w", err)
		}
		defer b.Close()
		page = b
	}
	key, err := os.ReadFile(filepath.Join(dir, "key"))
	if err != nil {
		return Result{}, err
	}

	agent, depID, err := deployment(ctx, a.Addr(), strings.TrimSpace(string(key)))
	if err != nil {
		return Result{}, err
	}
	cookies, err := signIn(ctx, page.Addr())
	if err != nil {
		return Result{}, err
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	events, err := openStream(sctx, page.Addr()+"/deployments/"+depID+"/live", cookies)
	if err != nil {
		return Result{}, err
	}
	if _, err := waitFor(events, `id="stage-s1"`); err != nil {
		return Result{}, err
	}

	var res Result
	for i := range s.Reports {
		time.Sleep(s.Gap + rand.N(time.Second))
		// RUNNING then SUCCESS, each try counted again, so that every
		// report changes the page.
		status, class := ferryv1.StageStatus_STAGE_STATUS_RUNNING, "s-running"
		if i%2 == 1 {
			status, class = ferryv1.StageStatus_STAGE_STATUS_SUCCESS, "s-success"
		}
		t0 := time.Now()
		if _, err := agent.ReportStageStatusChanged(ctx, connect.NewRequest(&ferryv1.ReportStageStatusChangedRequest{
			DeploymentId: depID, StageId: "s1", Status: status, RetriedCount: int32(i / 2),
		})); err != nil {
			return Result{}, fmt.Errorf("report %d: %w", i, err)
		}
		call := time.Since(t0)
		at, err := waitFor(events, `class="stage `+class)
		if err != nil {
			return Result{}, fmt.Errorf("report %d: %w", i, err)
		}
		res.Latencies = append(res.Latencies, at.Sub(t0))
		res.Calls = append(res.Calls, call)
	}
	slices.Sort(res.Latencies)
	slices.Sort(res.Calls)
	return res, nil
}

// deployment registers an agent and an application through the API at
// addr, and a planned deployment of two stages; it returns the agent's
// client and the deployment's id.
func deployment(ctx context.Context, addr, adminKey string) (ferryv1connect.AgentServiceClient, string, error) {
	user := benchkit.UserClient(http.DefaultClient, addr, adminKey)
	reg, err := user.RegisterAgent(ctx, connect.NewRequest(&ferryv1.RegisterAgentRequest{Name: "bench"}))
	if err != nil {
		return nil, "", fmt.Errorf("register agent: %w", err)
	}
	agent := ferryv1connect.NewAgentServiceClient(http.DefaultClient, addr, withKey(reg.Msg.Key))
	apps, err := agent.RegisterApplications(ctx, connect.NewRequest(&ferryv1.RegisterApplicationsRequest{Applications: []*ferryv1.ApplicationSpec{{
		Name: "bench-app", Kind: ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES,
		GitPath: &ferryv1.GitPath{RepoId: "bench", Path: "app", ConfigFilename: "app.ferry.yaml"},
	}}}))
	if err != nil {
		return nil, "", fmt.Errorf("register application: %w", err)
	}
	if f := apps.Msg.GetFailures(); len(f) > 0 {
		return nil, "", fmt.Errorf("register application: %s", f[0].GetReason())
	}
	dep, err := agent.CreateDeployment(ctx, connect.NewRequest(&ferryv1.CreateDeploymentRequest{
		ApplicationId: apps.Msg.Applications[0].Id,
		Trigger:       &ferryv1.Trigger{Commit: &ferryv1.Commit{Hash: "0123456789abcdef0123456789abcdef01234567"}},
	}))
	if err != nil {
		return nil, "", fmt.Errorf("create deployment: %w", err)
	}
	id := dep.Msg.Deployment.Id
	if _, err := agent.ReportDeploymentPlanned(ctx, connect.NewRequest(&ferryv1.ReportDeploymentPlannedRequest{
		DeploymentId: id,
		Stages:       []*ferryv1.Stage{{Id: "s1", Name: "K8S_SYNC", Visible: true}, {Id: "s2", Name: "WAIT", Visible: true, Requires: []string{"s1"}}},
	})); err != nil {
		return nil, "", fmt.Errorf("plan deployment: %w", err)
	}
	return agent, id, nil
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

// signIn signs in to the console at base as the static admin and returns
// the cookies its pages need (sent by hand: the console's are Secure, and
// the benchmark speaks plain HTTP).
func signIn(ctx context.Context, base string) ([]*http.Cookie, error) {
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/login", nil)
	if err != nil {
		return nil, err
	}
	res, err := client.Do(get)
	if err != nil {
		return nil, err
	}
	page, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	m := csrfRE.FindSubmatch(page)
	if m == nil {
		return nil, fmt.Errorf("no CSRF token on the sign-in page")
	}
	cookies := res.Cookies()
	form := url.Values{"csrf": {string(m[1])}, "username": {"root"}, "password": {password}}
	post, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for _, c := range cookies {
		post.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res, err = client.Do(post)
	if err != nil {
		return nil, err
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		return nil, fmt.Errorf("sign-in: %s", res.Status)
	}
	return append(cookies, res.Cookies()...), nil
}

// event is a received pipeline event and when it arrived.
type event struct {
	data string
	at   time.Time
}

// openStream opens the page's event stream and sends its pipeline events
// on the channel returned, stamped as they arrive.
func openStream(ctx context.Context, u string, cookies []*http.Cookie) (<-chan event, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	for _, c := range cookies {
		req.AddCookie(&http.Cookie{Name: c.Name, Value: c.Value})
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if res.StatusCode != http.StatusOK {
		res.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", u, res.Status)
	}
	out := make(chan event, 16)
	go func() {
		defer res.Body.Close()
		defer close(out)
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
				if name == "pipeline" {
					out <- event{data: strings.Join(data, "\n"), at: time.Now()}
				}
				name, data = "", nil
			}
		}
	}()
	return out, nil
}

// waitFor returns when a pipeline event containing want arrived.
func waitFor(events <-chan event, want string) (time.Time, error) {
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e, ok := <-events:
			if !ok {
				return time.Time{}, fmt.Errorf("the page's stream ended waiting for %q", want)
			}
			if strings.Contains(e.data, want) {
				return e.at, nil
			}
		case <-timeout:
			return time.Time{}, fmt.Errorf("no pipeline event with %q within 30s", want)
		}
	}
}

func withKey(key string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+key)
			return next(ctx, req)
		}
	}))
}
