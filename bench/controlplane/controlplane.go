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
	// FloorCallsPerSecond and FloorP50 measure the baseline in the same
	// run: heartbeats, the cheapest authenticated call.
	FloorCallsPerSecond float64
	FloorP50            time.Duration
}

// P50OverFloor is the hot path's median call latency as a multiple of the
// heartbeat floor's.
func (r Result) P50OverFloor() float64 {
	if r.FloorP50 == 0 {
		return 0
	}
	return float64(r.P50) / float64(r.FloorP50)
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

	// The floor first: the cheapest authenticated call (a heartbeat) by the
	// same agents through the same server, so the hot path's latency can
	// be read as a ratio that holds when the machine's speed drifts.
	floorDur := o.Duration / 4
	_, floor, floorElapsed, err := measure(ctx, agents, floorDur, (*benchAgent).heartbeat)
	if err != nil {
		return Result{}, fmt.Errorf("heartbeat floor: %w", err)
	}
	deps, lat, elapsed, err := measure(ctx, agents, o.Duration, (*benchAgent).deploy)
	if err != nil {
		return Result{}, err
	}
	return Result{
		Agents: o.Agents, Deployments: deps, StageUpdates: deps * StagesPerDeployment,
		Elapsed: elapsed, P50: percentile(lat, 0.50), P99: percentile(lat, 0.99),
		FloorCallsPerSecond: float64(len(floor)) / floorElapsed.Seconds(),
		FloorP50:            percentile(floor, 0.50),
	}, nil
}

// measure runs op on every agent in a loop until dur has passed and returns
// how many ops finished, every call's latency (sorted) and the time taken.
func measure(ctx context.Context, agents []*benchAgent, dur time.Duration, op func(*benchAgent, context.Context, int) ([]time.Duration, error)) (int, []time.Duration, time.Duration, error) {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		lat   []time.Duration
		ops   int
		first error
	)
	start := time.Now()
	deadline := start.Add(dur)
	for _, a := range agents {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var mine []time.Duration
			n := 0
			for time.Now().Before(deadline) {
				ls, err := op(a, ctx, n)
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
			ops += n
			mu.Unlock()
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return ops, lat, elapsed, first
}

// percentile returns the p-th latency of sorted lat.
func percentile(lat []time.Duration, p float64) time.Duration {
	if len(lat) == 0 {
		return 0
	}
	return lat[int(float64(len(lat)-1)*p)]
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
	if f := apps.Msg.GetFailures(); len(f) > 0 {
		return nil, fmt.Errorf("register app of %s: %s", name, f[0].GetReason())
	}
	return &benchAgent{client: client, appID: apps.Msg.Applications[0].Id}, nil
}

// heartbeat makes one heartbeat call and returns its latency.
func (a *benchAgent) heartbeat(ctx context.Context, _ int) ([]time.Duration, error) {
	t := time.Now()
	if _, err := a.client.Heartbeat(ctx, connect.NewRequest(&ferryv1.HeartbeatRequest{})); err != nil {
		return nil, fmt.Errorf("heartbeat: %w", err)
	}
	return []time.Duration{time.Since(t)}, nil
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
