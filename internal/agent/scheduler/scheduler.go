// Package scheduler runs the agent's deployments: it plans a PENDING one
// (checks out the target commit, picks quick sync or the pipeline, writes
// the stage list), then runs its stages one by one through the platform
// provider's executors, recording every status change, log line and piece
// of metadata in the control plane as it happens. A failed or cancelled
// deployment runs its rollback stage when there is one. All state lives in
// the control plane, so a restarted agent resumes a deployment at its
// first unfinished stage.
package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/controlplane"
	"github.com/ferrycd/ferry/internal/agent/discovery"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/gitrepo"
	"github.com/ferrycd/ferry/internal/platform"
)

// DefaultTimeout bounds a deployment whose config sets no timeout.
const DefaultTimeout = 6 * time.Hour

// ErrCancelled is the cause of a deployment cancelled by a CANCEL command.
var ErrCancelled = errors.New("cancelled by a command")

// Scheduler runs deployments. It is safe for concurrent use; the caller
// (the controller) runs at most one deployment per application at a time.
type Scheduler struct {
	Client *controlplane.Client
	// Repos are the watched repositories by id.
	Repos map[string]discovery.Repo
	// Providers are the agent's platform providers by name.
	Providers map[string]platform.Provider
	// Stages are the executors of the stages every kind of application
	// shares (WAIT, WAIT_APPROVAL, ANALYSIS, SCRIPT_RUN, …) by stage name;
	// the provider's executors run the others.
	Stages map[string]platform.StageExecutor
	// Disabled are the stages the agent's config turns off, by name, with
	// the reason: a deployment whose plan has one fails at plan time
	// saying so, and one planned before runs none of them.
	Disabled map[string]string
	Logger   *slog.Logger
}

// disabledName is the stage whose switch turns name off: a
// SCRIPT_RUN_ROLLBACK runs SCRIPT_RUN's code.
func disabledName(name string) string {
	if name == StageScriptRunRollback {
		return "SCRIPT_RUN"
	}
	return name
}

// Run plans the deployment when it is PENDING and runs it to completion. It
// returns once the deployment is completed and reported, or ctx ends (the
// agent stopping: the deployment stays RUNNING for the next start). ctl,
// which may be nil, carries the commands that steer it: cancel (its
// rollback still runs unless the cancel says otherwise), skip, approve.
func (s *Scheduler) Run(ctx context.Context, d *ferryv1.Deployment, ctl *Control) error {
	log := s.Logger.With("deployment_id", d.GetId(), "app_id", d.GetApplicationId())
	repo, ok := s.Repos[d.GetGitPath().GetRepoId()]
	if !ok {
		return s.complete(ctx, d, ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE,
			fmt.Sprintf("repository %q is not in the agent's config", d.GetGitPath().GetRepoId()))
	}
	target, err := s.checkout(ctx, repo, d.GetTrigger().GetCommit().GetHash())
	if err != nil {
		return s.failOrStop(ctx, d, fmt.Sprintf("check out %.8s: %v", d.GetTrigger().GetCommit().GetHash(), err))
	}
	defer target.Close()
	cfgFile := path.Join(d.GetGitPath().GetPath(), d.GetGitPath().GetConfigFilename())
	app, err := readConfig(target.Dir(), cfgFile)
	if err != nil {
		return s.complete(ctx, d, ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE, err.Error())
	}
	provider, ok := s.Providers[d.GetPlatformProvider()]
	if !ok {
		return s.complete(ctx, d, ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE,
			fmt.Sprintf("platform provider %q is not in the agent's config", d.GetPlatformProvider()))
	}
	r := &run{
		d: d, provider: provider, ctl: ctl,
		in: platform.StageInput{Deployment: d, App: app, RepoDir: target.Dir(), AppDir: filepath.Join(target.Dir(), d.GetGitPath().GetPath())},
	}
	// The running commit is checked out only when a stage needs it (a
	// pipeline, a rollback), not on a quick sync's critical path.
	var running *gitrepo.Snapshot
	defer func() {
		if running != nil {
			running.Close()
		}
	}()
	var runningApp *config.AppConfig
	r.withRunning = func(in *platform.StageInput) {
		c := r.d.GetRunningCommitHash()
		switch {
		case c == "":
			return
		case c == r.d.GetTrigger().GetCommit().GetHash():
			// Redeploying the running commit: its checkout is the target's.
			in.RunningRepoDir, in.RunningAppDir, in.RunningApp = target.Dir(), filepath.Join(target.Dir(), r.d.GetGitPath().GetPath()), app
			return
		case running == nil:
			wt, err := s.checkout(ctx, repo, c)
			if err != nil {
				log.WarnContext(ctx, "running commit unavailable", "commit", c, "error", err)
				return
			}
			running = wt
			if runningApp, err = readConfig(wt.Dir(), cfgFile); err != nil {
				log.WarnContext(ctx, "running commit's config unreadable", "commit", c, "error", err)
			}
		}
		in.RunningRepoDir, in.RunningAppDir, in.RunningApp = running.Dir(), filepath.Join(running.Dir(), r.d.GetGitPath().GetPath()), runningApp
	}
	r.changed = sync.OnceValues(func() ([]string, error) {
		if r.d.GetRunningCommitHash() == "" {
			return nil, errors.New("a first deployment has no running commit")
		}
		return repo.Mirror.ChangedFiles(ctx, r.d.GetRunningCommitHash(), r.d.GetTrigger().GetCommit().GetHash())
	})
	if d.GetStatus() == ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_PENDING {
		if r.d, err = s.plan(ctx, r, app); err != nil {
			return s.failOrStop(ctx, r.d, err.Error())
		}
		r.in.Deployment = r.d
		log.InfoContext(ctx, "deployment planned", "strategy", r.d.GetTrigger().GetStrategy().String())
	}
	if r.d.GetTrigger().GetStrategy() == ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE {
		r.withRunning(&r.in)
	}
	timeout := DefaultTimeout
	if t := app.Generic.Timeout.Std(); t > 0 {
		timeout = t
	}
	rctx, stop := context.WithTimeoutCause(ctx, timeout, fmt.Errorf("the deployment took longer than its timeout of %s", timeout))
	defer stop()
	rctx, cancelRun := context.WithCancelCause(rctx)
	defer cancelRun(nil)
	go func() {
		select {
		case <-ctl.cancelled():
			cancelRun(ErrCancelled)
		case <-rctx.Done():
		}
	}()
	return s.execute(ctx, rctx, r)
}

// plan decides the stages and reports them.
func (s *Scheduler) plan(ctx context.Context, r *run, app *config.AppConfig) (*ferryv1.Deployment, error) {
	d := r.d
	p, err := decide(d, app)
	if err != nil {
		return d, err
	}
	if p.platformDecides {
		if decider, ok := r.provider.(platform.StrategyDecider); ok {
			r.withRunning(&r.in)
			in := r.in
			pipeline, why, err := decider.DecideStrategy(ctx, platform.PlanInput{
				Deployment: d, App: app, RepoDir: in.RepoDir, AppDir: in.AppDir,
				RunningApp: in.RunningApp, RunningRepoDir: in.RunningRepoDir, RunningAppDir: in.RunningAppDir,
			})
			switch {
			case err != nil:
				// As PipeCD: when the change cannot be read, the pipeline
				// is the safe choice.
				p = finish(d, app, ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE, fmt.Sprintf("a pipeline is defined (the change could not be compared: %v)", err))
			case pipeline:
				p = finish(d, app, ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE, why)
			default:
				p = finish(d, app, ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC, why)
			}
		}
	}
	if p.err != nil {
		return d, p.err
	}
	for _, st := range p.stages {
		if why := s.Disabled[disabledName(st.GetName())]; why != "" {
			return d, fmt.Errorf("the pipeline has a %s stage: %s", st.GetName(), why)
		}
	}
	planned, err := s.Client.ReportDeploymentPlanned(ctx, connect.NewRequest(&ferryv1.ReportDeploymentPlannedRequest{
		DeploymentId: d.GetId(), Summary: d.GetSummary(), RunningCommitHash: d.GetRunningCommitHash(),
		Strategy: p.strategy, StrategySummary: p.summary, Stages: p.stages,
	}))
	if err != nil {
		return d, fmt.Errorf("report planned: %w", err)
	}
	if pd := planned.Msg.GetDeployment(); pd != nil {
		return pd, nil
	}
	// A control plane older than this agent answers without it.
	res, err := s.Client.GetDeployment(ctx, connect.NewRequest(&ferryv1.AgentGetDeploymentRequest{DeploymentId: d.GetId()}))
	if err != nil {
		return d, fmt.Errorf("read planned deployment: %w", err)
	}
	return res.Msg.GetDeployment(), nil
}

// checkout returns the shared read-only snapshot of commit.
func (s *Scheduler) checkout(ctx context.Context, repo discovery.Repo, commit string) (*gitrepo.Snapshot, error) {
	wt, err := repo.Mirror.Snapshot(ctx, commit)
	if err != nil && ctx.Err() == nil {
		// The commit may be newer than the mirror: fetch once and retry.
		if ferr := repo.Mirror.Fetch(ctx); ferr == nil {
			wt, err = repo.Mirror.Snapshot(ctx, commit)
		}
	}
	return wt, err
}

// readConfig parses the application config in a checkout.
func readConfig(repoDir, file string) (*config.AppConfig, error) {
	data, err := os.ReadFile(filepath.Join(repoDir, file))
	if err != nil {
		return nil, fmt.Errorf("read application config %s: %w", file, err)
	}
	return config.ParseApp(file, data)
}

// failOrStop fails the deployment, unless the agent is stopping (then the
// deployment is left for the next start).
func (s *Scheduler) failOrStop(ctx context.Context, d *ferryv1.Deployment, reason string) error {
	if ctx.Err() != nil {
		return nil
	}
	return s.complete(ctx, d, ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE, reason)
}

func (s *Scheduler) complete(ctx context.Context, d *ferryv1.Deployment, status ferryv1.DeploymentStatus, reason string) error {
	s.Logger.InfoContext(ctx, "deployment completed", "deployment_id", d.GetId(), "app_id", d.GetApplicationId(),
		"status", status.String(), "reason", reason)
	_, err := s.Client.ReportDeploymentCompleted(ctx, connect.NewRequest(&ferryv1.ReportDeploymentCompletedRequest{
		DeploymentId: d.GetId(), Status: status, StatusReason: reason, CompletedAt: timestamppb.Now(),
	}))
	if err != nil {
		return fmt.Errorf("report deployment %s completed: %w", d.GetId(), err)
	}
	return nil
}
