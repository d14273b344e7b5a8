package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/controlplane"
	"github.com/ferrycd/ferry/internal/agent/discovery"
	"github.com/ferrycd/ferry/internal/agent/scheduler"
	"github.com/ferrycd/ferry/internal/agent/stages"
	"github.com/ferrycd/ferry/internal/gitrepo"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/server/servertest"
	"github.com/ferrycd/ferry/internal/testenv"
)

// scripted is a platform provider whose stages do what the test says; it
// stands for a real platform so the scheduler's own rules can be checked
// one by one (the Kubernetes provider has tests of its own on a cluster).
type scripted struct {
	mu    sync.Mutex
	ran   []string
	steps map[string]func(ctx context.Context, in platform.StageInput) error
}

func (p *scripted) Name() string { return "local" }
func (p *scripted) Kind() ferryv1.ApplicationKind {
	return ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES
}
func (p *scripted) Executor(stage string) platform.StageExecutor {
	f, ok := p.steps[stage]
	if !ok {
		return nil
	}
	return execFunc(func(ctx context.Context, in platform.StageInput) error {
		p.mu.Lock()
		p.ran = append(p.ran, stage)
		p.mu.Unlock()
		return f(ctx, in)
	})
}

func (p *scripted) stagesRun() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.ran...)
}

type execFunc func(ctx context.Context, in platform.StageInput) error

func (f execFunc) Execute(ctx context.Context, in platform.StageInput) error { return f(ctx, in) }

// env is a control plane, an agent client, a repository with one app and a
// scheduler over a scripted provider.
type env struct {
	t      *testing.T
	dir    string // the repository
	cp     *servertest.ControlPlane
	client *controlplane.Client
	appID  string
	head   string
	prov   *scripted
	sched  *scheduler.Scheduler
}

func newEnv(t *testing.T, appConfig string) *env {
	ctx := context.Background()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "web"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "web", "app.pipecd.yaml"), []byte(appConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	testenv.Git(t, dir, "init", "-q", "-b", "main")
	testenv.Git(t, dir, "add", "-A")
	testenv.Git(t, dir, "commit", "-q", "-m", "web")
	cp := servertest.Start(t)
	_, key := cp.RegisterAgent("dev")
	client := controlplane.New(cp.URL(), key, controlplane.Options{})
	mirror, err := gitrepo.Open(ctx, gitrepo.Config{RepoID: "apps", Remote: "file://" + dir, CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mirror.Close() })
	if err := mirror.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	repo := discovery.Repo{ID: "apps", Remote: "file://" + dir, Branch: "main", Mirror: mirror}
	d := &discovery.Discoverer{Repos: []discovery.Repo{repo}, Client: client, Logger: slog.Default(),
		Providers: map[ferryv1.ApplicationKind]string{ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES: "local"}}
	apps, err := d.Scan(ctx)
	if err != nil || len(apps) != 1 {
		t.Fatalf("scan = %v, %v", apps, err)
	}
	head, err := mirror.Head(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	prov := &scripted{steps: map[string]func(context.Context, platform.StageInput) error{}}
	return &env{t: t, dir: dir, cp: cp, client: client, appID: apps[0].Id, head: head.Hash, prov: prov, sched: &scheduler.Scheduler{
		Client: client, Repos: map[string]discovery.Repo{"apps": repo},
		Providers: map[string]platform.Provider{"local": prov},
		Logger:    slog.New(slog.NewTextHandler(testenv.LogWriter(t), nil)),
	}}
}

func (e *env) create(strategy ferryv1.SyncStrategy) *ferryv1.Deployment {
	e.t.Helper()
	res, err := e.client.CreateDeployment(context.Background(), connect.NewRequest(&ferryv1.CreateDeploymentRequest{
		ApplicationId: e.appID, Trigger: &ferryv1.Trigger{Commit: &ferryv1.Commit{Hash: e.head, Message: "change"}, Strategy: strategy},
	}))
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Msg.Deployment
}

func (e *env) get(id string) *ferryv1.Deployment {
	e.t.Helper()
	res, err := e.client.GetDeployment(context.Background(), connect.NewRequest(&ferryv1.AgentGetDeploymentRequest{DeploymentId: id}))
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Msg.Deployment
}

const quickApp = "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n"

func TestAQuickSyncRunsItsStageAndLogs(t *testing.T) {
	e := newEnv(t, quickApp)
	e.prov.steps["K8S_SYNC"] = func(_ context.Context, in platform.StageInput) error {
		if _, err := os.Stat(filepath.Join(in.AppDir, "app.pipecd.yaml")); err != nil {
			return err
		}
		in.Log.Info("applied 1 object")
		return nil
	}
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_AUTO)
	if err := e.sched.Run(context.Background(), d, nil); err != nil {
		t.Fatal(err)
	}
	got := e.get(d.Id)
	if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS || got.Trigger.Strategy != ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC {
		t.Fatalf("deployment = %v %v (%s)", got.Status, got.Trigger.Strategy, got.StatusReason)
	}
	if len(got.Stages) != 2 || got.Stages[0].Name != "K8S_SYNC" || got.Stages[0].Status != ferryv1.StageStatus_STAGE_STATUS_SUCCESS ||
		got.Stages[1].Name != "ROLLBACK" || got.Stages[1].Status != ferryv1.StageStatus_STAGE_STATUS_NOT_STARTED_YET {
		t.Errorf("stages = %v", got.Stages)
	}
	logs, err := e.cp.User().GetStageLog(context.Background(), connect.NewRequest(&ferryv1.GetStageLogRequest{DeploymentId: d.Id, StageId: got.Stages[0].Id, AfterIndex: -1}))
	if err != nil || len(logs.Msg.Blocks) != 1 || logs.Msg.Blocks[0].Log != "applied 1 object" {
		t.Errorf("stage log = %v, %v", logs, err)
	}
}

func TestAFailedStageRollsBack(t *testing.T) {
	e := newEnv(t, quickApp)
	e.prov.steps["K8S_SYNC"] = func(context.Context, platform.StageInput) error { return errors.New("deployment web: 0/1 pods ready") }
	e.prov.steps["ROLLBACK"] = func(context.Context, platform.StageInput) error { return nil }
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_AUTO)
	if err := e.sched.Run(context.Background(), d, nil); err != nil {
		t.Fatal(err)
	}
	got := e.get(d.Id)
	if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE || got.StatusReason != "stage K8S_SYNC: deployment web: 0/1 pods ready; rolled back" {
		t.Errorf("deployment = %v %q", got.Status, got.StatusReason)
	}
	if ran := e.prov.stagesRun(); len(ran) != 2 || ran[1] != "ROLLBACK" {
		t.Errorf("stages run = %v", ran)
	}
}

func TestAStageNoProviderRunsFailsClearly(t *testing.T) {
	e := newEnv(t, "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n  planner: {autoRollback: false}\n")
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC)
	if err := e.sched.Run(context.Background(), d, nil); err != nil {
		t.Fatal(err)
	}
	if got := e.get(d.Id); got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE ||
		got.StatusReason != "stage K8S_SYNC: stage K8S_SYNC is not supported by platform provider local" {
		t.Errorf("deployment = %v %q", got.Status, got.StatusReason)
	}
}

func TestTheControllerCancelsSupersedesAndResumes(t *testing.T) {
	e := newEnv(t, quickApp)
	started := make(chan string, 8)
	e.prov.steps["K8S_SYNC"] = func(ctx context.Context, in platform.StageInput) error {
		started <- in.Deployment.Id
		<-ctx.Done() // runs until cancelled
		return ctx.Err()
	}
	e.prov.steps["ROLLBACK"] = func(context.Context, platform.StageInput) error { return nil }
	older1 := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_AUTO)
	older2 := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_AUTO)
	newest := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_AUTO)

	ctx, stop := context.WithCancel(context.Background())
	c := &scheduler.Controller{Scheduler: e.sched, Interval: time.Hour}
	done := make(chan error, 1)
	go func() { done <- c.Start(ctx) }()
	if id := <-started; id != newest.Id {
		t.Fatalf("started %s, want the newest %s", id, newest.Id)
	}
	for _, old := range []*ferryv1.Deployment{older1, older2} {
		if got := e.get(old.Id); got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED {
			t.Errorf("older pending deployment = %v %q, want CANCELLED as superseded", got.Status, got.StatusReason)
		}
	}

	// Stopping the agent leaves the deployment running; a new controller
	// resumes it at its unfinished stage.
	stop()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := e.get(newest.Id); got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING {
		t.Fatalf("after the agent stopped the deployment is %v, want RUNNING", got.Status)
	}
	ctx, stop = context.WithCancel(context.Background())
	defer stop()
	c = &scheduler.Controller{Scheduler: e.sched, Interval: time.Hour}
	go func() { done <- c.Start(ctx) }()
	if id := <-started; id != newest.Id {
		t.Fatalf("resumed %s, want %s", id, newest.Id)
	}
	if !c.Cancel(newest.Id, false, false) {
		t.Fatal("Cancel found no running deployment")
	}
	testenv.WaitFor(t, 10*time.Second, "the deployment is cancelled", func() bool {
		return e.get(newest.Id).Status == ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED
	})
	if got := e.get(newest.Id); got.Stages[0].Status != ferryv1.StageStatus_STAGE_STATUS_CANCELLED || got.Stages[1].Status != ferryv1.StageStatus_STAGE_STATUS_SUCCESS {
		t.Errorf("stages after cancel = %v", got.Stages)
	}
}

// A stage that logs more lines at once than one call may carry has all of
// them stored, in order (a call with all of them would be refused, retried
// and finally dropped).
func TestALongStageLogArrivesWhole(t *testing.T) {
	e := newEnv(t, quickApp)
	const lines = 2500
	e.prov.steps["K8S_SYNC"] = func(_ context.Context, in platform.StageInput) error {
		for i := range lines {
			in.Log.Info(fmt.Sprintf("line %d", i))
		}
		return nil
	}
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_AUTO)
	if err := e.sched.Run(context.Background(), d, nil); err != nil {
		t.Fatal(err)
	}
	var got []string
	for after := int64(-1); ; {
		logs, err := e.cp.User().GetStageLog(context.Background(), connect.NewRequest(&ferryv1.GetStageLogRequest{DeploymentId: d.Id, StageId: "stage-0", AfterIndex: after}))
		if err != nil {
			t.Fatal(err)
		}
		if len(logs.Msg.Blocks) == 0 {
			break
		}
		for _, b := range logs.Msg.Blocks {
			got = append(got, b.Log)
			after = b.Index
		}
	}
	if len(got) != lines || got[0] != "line 0" || got[lines-1] != fmt.Sprintf("line %d", lines-1) {
		t.Errorf("%d lines stored (first %q), want %d", len(got), got[:min(1, len(got))], lines)
	}
}

// A cancel or a skip that arrives while the agent restarts, before its
// deployment has resumed, waits for it (as an approval does) instead of
// failing because the deployment is not running here yet.
func TestACancelOrSkipSentBeforeAResumeWaitsForIt(t *testing.T) {
	for _, op := range []string{"cancel", "skip"} {
		t.Run(op, func(t *testing.T) {
			e := newEnv(t, pipelineApp("      - name: WAIT\n        with: {duration: 1h}\n      - name: K8S_PRIMARY_ROLLOUT\n"))
			e.noop("K8S_PRIMARY_ROLLOUT", "ROLLBACK")
			e.sched.Stages = stages.Executors()
			d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
			ctx, stop := context.WithCancel(context.Background())
			first := &scheduler.Controller{Scheduler: e.sched, Interval: time.Hour}
			done := make(chan error, 1)
			go func() { done <- first.Start(ctx) }()
			e.waitStage(d.Id, 0, ferryv1.StageStatus_STAGE_STATUS_RUNNING)
			stop() // the agent stops; the deployment stays RUNNING
			if err := <-done; err != nil {
				t.Fatal(err)
			}

			// The restarted agent gets the command before it resumes the
			// deployment.
			ctx, stop = context.WithCancel(context.Background())
			defer stop()
			second := &scheduler.Controller{Scheduler: e.sched, Interval: time.Hour}
			sent := make(chan error, 1)
			go func() {
				if op == "cancel" {
					sent <- second.CancelWhenRunning(ctx, d.Id, false, true)
				} else {
					sent <- second.Skip(ctx, d.Id, "stage-0")
				}
			}()
			go func() { done <- second.Start(ctx) }()
			if err := <-sent; err != nil {
				t.Fatalf("%s before the resume: %v", op, err)
			}
			want := map[string]ferryv1.DeploymentStatus{"cancel": ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED, "skip": ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS}[op]
			testenv.WaitFor(t, 20*time.Second, "the deployment ends "+want.String(), func() bool { return e.get(d.Id).Status == want })
		})
	}
}

func TestALogAnalysisIsRefusedWhenPlannedBeforeAnyStageRuns(t *testing.T) {
	e := newEnv(t, `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: web
  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
      - name: ANALYSIS
        with:
          duration: 10m
          logs:
            - provider: stackdriver
              query: severity=ERROR
              interval: 1m
      - name: K8S_PRIMARY_ROLLOUT
`)
	e.prov.steps["K8S_CANARY_ROLLOUT"] = func(context.Context, platform.StageInput) error { return nil }
	e.prov.steps["ROLLBACK"] = func(context.Context, platform.StageInput) error { return nil }
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
	if err := e.sched.Run(context.Background(), d, nil); err != nil {
		t.Fatal(err)
	}
	got := e.get(d.Id)
	const want = "web/app.pipecd.yaml: spec.pipeline.stages[1] (ANALYSIS): with.logs asks for log analysis, which Ferry does not run: " +
		"analyse with metrics or https instead, or remove the stage"
	if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE || got.StatusReason != want {
		t.Errorf("deployment = %v %q, want FAILURE %q", got.Status, got.StatusReason, want)
	}
	if len(got.Stages) != 0 {
		t.Errorf("stages = %v, want none planned", got.Stages)
	}
	if ran := e.prov.stagesRun(); len(ran) != 0 {
		t.Errorf("stages run = %v, want none", ran)
	}
}
