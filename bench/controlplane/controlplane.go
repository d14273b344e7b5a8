// Package controlplane measures the control plane on the agents' hottest
// path: create a deployment, plan it, then report ten stage-status updates,
// each followed by a log append. Agents are real Connect clients talking to
// a real server on loopback, so the figures include HTTP, auth, the handlers
// and the datastore.
package controlplane

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/api/gen/ferry/v1/ferryv1connect"
	"github.com/ferrycd/ferry/internal/server"
)

// StagesPerDeployment is how many stages each benchmark deployment has; each
// gets one status update and one log append.
const StagesPerDeployment = 10

// Options say what to measure.
type Options struct {
	// Datastore is "" for SQLite in a temp dir, or a postgres:// URL.
	Datastore string
	// Agents is how many agents report concurrently.
	Agents int
	// Duration is how long the agents run.
	Duration time.Duration
}

// Result is one measurement.
type Result struct {
	Agents       int
	Deployments  int
	StageUpdates int
	Elapsed      time.Duration
	// P50 and P99 are per-call latencies over every call made.
	P50, P99 time.Duration
}

// StageUpdatesPerSecond is the throughput of stage-status updates.
func (r Result) StageUpdatesPerSecond() float64 { return float64(r.StageUpdates) / r.Elapsed.Seconds() }

// Run starts a server, registers the agents and measures.
func Run(ctx context.Context, o Options) (Result, error) {
	dir, err := os.MkdirTemp("", "ferry-bench-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(dir)
	srv, err := server.New(server.Config{
		Address:             "127.0.0.1:0",
		DataDir:             dir,
		Datastore:           o.Datastore,
		Logger:              slog.New(slog.NewTextHandler(io.Discard, nil)),
		BootstrapAPIKeyFile: filepath.Join(dir, "key"),
	})
	if err != nil {
		return Result{}, err
	}
	if err := srv.Start(ctx); err != nil {
		return Result{}, err
	}
	defer srv.Close()
	key, err := os.ReadFile(filepath.Join(dir, "key"))
	if err != nil {
		return Result{}, err
	}

	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.Agents + 4}}
	user := ferryv1connect.NewUserServiceClient(hc, srv.Addr(), withKey(strings.TrimSpace(string(key))))
	agents := make([]*benchAgent, o.Agents)
	for i := range agents {
		if agents[i], err = newBenchAgent(ctx, hc, srv.Addr(), user, i); err != nil {
			return Result{}, err
		}
	}

	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		lat   []time.Duration
		deps  int
		first error
	)
	start := time.Now()
	deadline := start.Add(o.Duration)
	for _, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			n := 0
			for time.Now().Before(deadline) {
				ls, err := a.deploy(ctx, n)
				if err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
					return
				}
				mine = append(mine, ls...)
				n++
			}
			mu.Lock()
			lat = append(lat, mine...)
			deps += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if first != nil {
		return Result{}, first
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration {
		if len(lat) == 0 {
			return 0
		}
		return lat[int(float64(len(lat)-1)*p)]
	}
	return Result{
		Agents: o.Agents, Deployments: deps, StageUpdates: deps * StagesPerDeployment,
		Elapsed: elapsed, P50: pct(0.50), P99: pct(0.99),
	}, nil
}

type benchAgent struct {
	client ferryv1connect.AgentServiceClient
	appID  string
}

func newBenchAgent(ctx context.Context, hc *http.Client, addr string, user ferryv1connect.UserServiceClient, i int) (*benchAgent, error) {
	name := fmt.Sprintf("bench-agent-%d", i)
	reg, err := user.RegisterAgent(ctx, connect.NewRequest(&ferryv1.RegisterAgentRequest{Name: name}))
	if err != nil {
		return nil, fmt.Errorf("register %s: %w", name, err)
	}
	client := ferryv1connect.NewAgentServiceClient(hc, addr, withKey(reg.Msg.Key))
	apps, err := client.RegisterApplications(ctx, connect.NewRequest(&ferryv1.RegisterApplicationsRequest{
		Applications: []*ferryv1.ApplicationSpec{{
			Name: fmt.Sprintf("bench-app-%d", i), Kind: ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES,
			GitPath: &ferryv1.GitPath{RepoId: "bench", Path: fmt.Sprintf("app-%d", i), ConfigFilename: "app.ferry.yaml"},
		}},
	}))
	if err != nil {
		return nil, fmt.Errorf("register app of %s: %w", name, err)
	}
	return &benchAgent{client: client, appID: apps.Msg.Applications[0].Id}, nil
}

// deploy runs one deployment's hot path and returns each call's latency.
func (a *benchAgent) deploy(ctx context.Context, n int) ([]time.Duration, error) {
	lat := make([]time.Duration, 0, 2+2*StagesPerDeployment)
	timed := func(f func() error) error {
		t := time.Now()
		err := f()
		lat = append(lat, time.Since(t))
		return err
	}
	var depID string
	err := timed(func() error {
		res, err := a.client.CreateDeployment(ctx, connect.NewRequest(&ferryv1.CreateDeploymentRequest{
			ApplicationId: a.appID,
			Trigger:       &ferryv1.Trigger{Commit: &ferryv1.Commit{Hash: fmt.Sprintf("%040x", n)}},
		}))
		if err == nil {
			depID = res.Msg.Deployment.Id
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("create deployment: %w", err)
	}
	stages := make([]*ferryv1.Stage, StagesPerDeployment)
	for i := range stages {
		stages[i] = &ferryv1.Stage{Id: fmt.Sprintf("s%d", i), Name: "WAIT", Index: int32(i), Visible: true}
	}
	if err := timed(func() error {
		_, err := a.client.ReportDeploymentPlanned(ctx, connect.NewRequest(&ferryv1.ReportDeploymentPlannedRequest{DeploymentId: depID, Stages: stages}))
		return err
	}); err != nil {
		return nil, fmt.Errorf("report planned: %w", err)
	}
	for i, st := range stages {
		if err := timed(func() error {
			_, err := a.client.ReportStageStatusChanged(ctx, connect.NewRequest(&ferryv1.ReportStageStatusChangedRequest{
				DeploymentId: depID, StageId: st.Id, Status: ferryv1.StageStatus_STAGE_STATUS_RUNNING,
			}))
			return err
		}); err != nil {
			return nil, fmt.Errorf("report stage status: %w", err)
		}
		if err := timed(func() error {
			_, err := a.client.ReportStageLogs(ctx, connect.NewRequest(&ferryv1.ReportStageLogsRequest{
				DeploymentId: depID, StageId: st.Id,
				Blocks: []*ferryv1.LogBlock{{Index: int64(i + 1), Log: "stage started: applying manifests to the cluster"}},
			}))
			return err
		}); err != nil {
			return nil, fmt.Errorf("report stage log: %w", err)
		}
	}
	return lat, nil
}

func withKey(key string) connect.ClientOption {
	return connect.WithInterceptors(connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+key)
			return next(ctx, req)
		}
	}))
}
