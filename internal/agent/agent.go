// Package agent is Ferry's deploy agent: it runs next to an environment,
// pulls the desired state from Git and deploys it through its platform
// providers. It connects only outbound (to the control plane, Git and its
// platforms) and keeps no state of its own: what it must remember lives in
// the control plane, so a restarted agent resumes where it stopped.
//
// An Agent is a group of runnables that stop together: heartbeats, the
// command stream, the sync loop (fetch, discover, trigger), the deployment
// controller and the live-state reporter (whose drift checks may trigger
// out-of-sync deployments).
package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"
	"golang.org/x/sync/errgroup"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/controlplane"
	"github.com/ferrycd/ferry/internal/agent/discovery"
	"github.com/ferrycd/ferry/internal/agent/livestate"
	"github.com/ferrycd/ferry/internal/agent/scheduler"
	"github.com/ferrycd/ferry/internal/agent/stages"
	"github.com/ferrycd/ferry/internal/agent/trigger"
	"github.com/ferrycd/ferry/internal/analysis"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/gitrepo"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/version"
)

// Options are what the wiring gives an agent besides its config.
type Options struct {
	// Providers are the platform providers, built from the config's
	// platformProviders by the caller (explicit wiring: tests build exactly
	// what they need).
	Providers []platform.Provider
	// CacheDir holds the Git mirrors; default the user cache dir.
	CacheDir string
	// Logger; default slog.Default().
	Logger *slog.Logger
	// HeartbeatInterval; default controlplane.DefaultHeartbeatInterval.
	HeartbeatInterval time.Duration
	// ReconcileInterval is how often the controller re-reads deployments
	// when nothing kicked it; default scheduler.DefaultReconcileInterval.
	ReconcileInterval time.Duration
	// DriftInterval is the longest time between two drift checks of an
	// application; default livestate.DefaultDriftInterval.
	DriftInterval time.Duration
	// OnStarted, if set, is called once, on the sync loop's goroutine,
	// after the first sync pass succeeded: the repositories fetched, the
	// applications registered and their first deployments created.
	OnStarted func()
}

// Agent is a deploy agent. Create it with New, run it with Run.
type Agent struct {
	cfg     *config.Agent
	log     *slog.Logger
	client  *controlplane.Client
	mirrors []*gitrepo.Mirror
	repos   map[string]discovery.Repo
	disc    *discovery.Discoverer
	trig    *trigger.Trigger
	ctrl    *scheduler.Controller
	hb      *controlplane.Heartbeat
	sync    *syncLoop
	live    *livestate.Reporter
}

// New checks the config, opens (but does not fetch) the Git mirrors and
// wires the parts. It makes no network call.
func New(ctx context.Context, cfg *config.Agent, o Options) (*Agent, error) {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	key, err := cfg.Key()
	if err != nil {
		return nil, err
	}
	if !strings.HasPrefix(key, cfg.Spec.AgentID+".") {
		return nil, fmt.Errorf("%s: the agent key does not belong to agent %s (spec.agentID)", cfg.File, cfg.Spec.AgentID)
	}
	base, err := config.APIURL(cfg.Spec.APIAddress)
	if err != nil {
		return nil, fmt.Errorf("%s: spec.apiAddress: %w", cfg.File, err)
	}
	if o.CacheDir == "" {
		dir, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("find a cache folder for Git mirrors: %w", err)
		}
		o.CacheDir = filepath.Join(dir, "ferry", "agent", cfg.Spec.AgentID)
	}
	a := &Agent{cfg: cfg, log: o.Logger, repos: map[string]discovery.Repo{}}
	a.client = controlplane.New(base, key, controlplane.Options{Logger: o.Logger})
	if err := a.openRepos(ctx, o.CacheDir); err != nil {
		a.Close()
		return nil, err
	}
	providers := map[string]platform.Provider{}
	defaults := map[ferryv1.ApplicationKind]string{}
	meta := &ferryv1.ReportMetaRequest{Version: version.String()}
	for _, p := range o.Providers {
		providers[p.Name()] = p
		if _, ok := defaults[p.Kind()]; !ok {
			defaults[p.Kind()] = p.Name()
		}
		meta.PlatformProviders = append(meta.PlatformProviders, &ferryv1.PlatformProvider{Name: p.Name(), Type: p.Kind()})
	}
	var repos []discovery.Repo
	for _, r := range cfg.Spec.Repositories {
		repos = append(repos, a.repos[r.RepoID])
		meta.Repositories = append(meta.Repositories, &ferryv1.Repository{Id: r.RepoID, Remote: model.RedactRemote(r.Remote), Branch: r.Branch})
	}
	a.disc = &discovery.Discoverer{Repos: repos, Client: a.client, Selector: cfg.Spec.AppSelector, Providers: defaults, Logger: o.Logger}
	a.trig = &trigger.Trigger{Client: a.client, Repos: a.repos, Logger: o.Logger}
	a.live = &livestate.Reporter{
		Client: a.client, Repos: a.repos, Providers: providers, Logger: o.Logger,
		DriftInterval: o.DriftInterval, OnOutOfSync: a.onOutOfSync,
	}
	shared := stages.Executors()
	an, err := analysis.NewStage(analysis.Options{Providers: cfg.Spec.AnalysisProviders, Previous: a.previousAnalysis})
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("%s: spec.%w", cfg.File, err)
	}
	shared[analysis.StageName] = an
	a.ctrl = &scheduler.Controller{
		Scheduler: &scheduler.Scheduler{Client: a.client, Repos: a.repos, Providers: providers, Stages: shared,
			Disabled: cfg.DisabledStages(), Logger: o.Logger},
		Interval: o.ReconcileInterval,
		// Live state shows DEPLOYING while a deployment runs, then checks
		// drift against what it deployed.
		OnRunning: a.live.SetDeploying,
	}
	a.hb = &controlplane.Heartbeat{Client: a.client, Meta: meta, Interval: o.HeartbeatInterval}
	a.sync = newSyncLoop(a, cfg.Spec.SyncInterval.Std(), o.OnStarted)
	return a, nil
}

// previousAnalysis finds the window PREVIOUS analysis metrics compare
// with: the analysis of the application's most recent successful
// deployment, the one running now.
func (a *Agent) previousAnalysis(ctx context.Context, d *ferryv1.Deployment) (start, end time.Time, ok bool, err error) {
	res, err := a.client.ListApplications(ctx, connect.NewRequest(&ferryv1.AgentListApplicationsRequest{ApplicationIds: []string{d.GetApplicationId()}}))
	if err != nil {
		return start, end, false, err
	}
	for _, app := range res.Msg.GetApplications() {
		ref := app.GetMostRecentSuccessfulDeployment()
		if app.GetId() != d.GetApplicationId() || ref.GetDeploymentId() == "" || ref.GetDeploymentId() == d.GetId() {
			continue
		}
		prev, err := a.client.GetDeployment(ctx, connect.NewRequest(&ferryv1.AgentGetDeploymentRequest{DeploymentId: ref.GetDeploymentId()}))
		if err != nil {
			return start, end, false, err
		}
		start, end, ok = analysis.PreviousWindow(prev.Msg.GetDeployment())
		return start, end, ok, nil
	}
	return start, end, false, nil
}

func (a *Agent) openRepos(ctx context.Context, cacheDir string) error {
	g := a.cfg.Spec.Git
	auth := gitrepo.Auth{SSHKeyFile: g.SSHKeyFile, KnownHostsFile: g.KnownHostsFile, Username: g.Username}
	if g.PasswordFile != "" {
		b, err := os.ReadFile(g.PasswordFile)
		if err != nil {
			return fmt.Errorf("%s: spec.git.passwordFile: %w", a.cfg.File, err)
		}
		auth.Token = strings.TrimSpace(string(b))
	}
	for _, r := range a.cfg.Spec.Repositories {
		m, err := gitrepo.Open(ctx, gitrepo.Config{RepoID: r.RepoID, Remote: r.Remote, CacheDir: cacheDir, Auth: auth, URLRewrites: URLRewrites(a.cfg), Logger: a.log})
		if err != nil {
			return fmt.Errorf("open repository %s: %w", r.RepoID, err)
		}
		a.mirrors = append(a.mirrors, m)
		a.repos[r.RepoID] = discovery.Repo{ID: r.RepoID, Remote: model.RedactRemote(r.Remote), Branch: r.Branch, Mirror: m}
	}
	return nil
}

// Run runs the agent until ctx ends or a part fails for good (the control
// plane refused the agent's key, for instance). Deployments in progress
// when ctx ends stay RUNNING and resume on the next start.
func (a *Agent) Run(ctx context.Context) error {
	a.log.InfoContext(ctx, "agent starting", "agent_id", a.cfg.Spec.AgentID, "version", version.String())
	stream := &controlplane.Stream{Client: a.client, Handle: a.handle, OnConnect: func(context.Context) { a.sync.kick(); a.live.Refresh() }}
	g, gctx := errgroup.WithContext(ctx)
	for _, r := range []interface{ Start(context.Context) error }{a.hb, stream, a.sync, a.ctrl, a.live} {
		g.Go(func() error { return r.Start(gctx) })
	}
	err := g.Wait()
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled)) {
		return nil
	}
	return err
}

// Close releases the Git mirrors. Call it after Run returned.
func (a *Agent) Close() error {
	var errs []error
	for _, m := range a.mirrors {
		errs = append(errs, m.Close())
	}
	return errors.Join(errs...)
}

// onOutOfSync is the live-state reporter's hook: an application is out of
// sync; deploy it back when its trigger.onOutOfSync says so. It returns
// when to ask again, for minWindow.
func (a *Agent) onOutOfSync(ctx context.Context, app *ferryv1.Application) time.Duration {
	d, wait, err := a.trig.OnOutOfSync(ctx, app)
	if err != nil {
		if ctx.Err() == nil {
			a.log.WarnContext(ctx, "out-of-sync trigger failed", "app_id", app.GetId(), "error", err)
		}
		return 0
	}
	if d != nil {
		a.ctrl.Kick()
		// The reporter learns the deployment is pending (DEPLOYING) without
		// waiting for its next listing.
		a.live.Refresh()
	}
	return wait
}
