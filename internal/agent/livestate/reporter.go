// Package livestate keeps the control plane's picture of what runs for the
// agent's applications: their live resources (reported incrementally as
// they change) and their sync state (SYNCED, or OUT_OF_SYNC with the
// readable diff, against the commit each application last deployed
// successfully; DEPLOYING while a deployment runs).
//
// It works through the optional abilities of the platform providers
// (platform.LiveStateWatcher, platform.DriftDetector): applications whose
// provider has neither are left alone.
package livestate

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"
	"k8s.io/client-go/util/workqueue"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/controlplane"
	"github.com/ferrycd/ferry/internal/agent/discovery"
	"github.com/ferrycd/ferry/internal/platform"
)

// Defaults of the Reporter's intervals.
const (
	DefaultFlushInterval = 250 * time.Millisecond
	// DefaultDeployingFlushInterval batches the live-state changes of an
	// application being deployed: most of its objects change within a
	// second or two then, and its progress is in the stage log, so one
	// report a second carries the same tree for a fraction of the
	// control plane's work.
	DefaultDeployingFlushInterval = time.Second
	DefaultDriftInterval          = time.Minute
	DefaultRefreshInterval        = time.Minute
)

// Reporter is the runnable that observes the agent's applications; no
// goroutine is an application's own (8 workers run their steps). For
// each enabled application with a successful deployment it loads the
// desired state of that deployment's commit (once per commit), keeps a
// live-state watch running and reports its changes in batches, and
// recomputes drift on every change to the application's declared objects
// and at least every DriftInterval, reporting the sync state when it
// changes, and calls OnOutOfSync while an application is out of sync. The
// zero value is not ready: set Client, Repos and Providers.
// SetDeploying and Refresh are safe to call at any time, from any
// goroutine, before or during Start.
type Reporter struct {
	Client *controlplane.Client
	// Repos are the watched repositories by id.
	Repos map[string]discovery.Repo
	// Providers are the agent's platform providers by name.
	Providers map[string]platform.Provider
	Logger    *slog.Logger
	// FlushInterval batches live-state changes into one report; default
	// DefaultFlushInterval.
	FlushInterval time.Duration
	// DeployingFlushInterval is FlushInterval while the application is
	// being deployed; default DefaultDeployingFlushInterval, and never
	// shorter than FlushInterval.
	DeployingFlushInterval time.Duration
	// DriftInterval is the longest time between drift checks; default
	// DefaultDriftInterval.
	DriftInterval time.Duration
	// RefreshInterval is how often the application list is read again
	// when nothing asked for it; default DefaultRefreshInterval.
	RefreshInterval time.Duration
	// OnOutOfSync, when set, is called after every drift check that finds
	// an application OUT_OF_SYNC, once that state is reported (each check,
	// not only the first: what it decides may change with time). app is
	// the application as last listed. It runs in the application's drift
	// check, on one of the reporter's workers, so the next check waits for
	// it to return. A positive return asks for the next check after that
	// long (when sooner than DriftInterval), besides the checks on changes.
	OnOutOfSync func(ctx context.Context, app *ferryv1.Application) (recheck time.Duration)

	once    sync.Once
	refresh chan struct{}
	// queue holds the observers with a step due (now or after a delay);
	// driftWorkers goroutines run them.
	queue workqueue.TypedDelayingInterface[*observer]
	// settled asks for only the settling applications to be read again:
	// with thousands of applications, a deployment's end must not cost a
	// list of all of them.
	settled chan struct{}

	mu sync.Mutex
	// deploying holds the applications the scheduler runs a deployment
	// of; settling those whose deployment ended before the application
	// list was read again (their new commit is not known yet).
	deploying, settling map[string]bool
	observers           map[string]*observer
}

func (r *Reporter) init() {
	r.once.Do(func() {
		r.refresh = make(chan struct{}, 1)
		r.settled = make(chan struct{}, 1)
		r.queue = workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[*observer]{Name: ""})
		r.mu.Lock()
		r.deploying, r.settling, r.observers = map[string]bool{}, map[string]bool{}, map[string]*observer{}
		r.mu.Unlock()
		if r.Logger == nil {
			r.Logger = slog.Default()
		}
		if r.FlushInterval <= 0 {
			r.FlushInterval = DefaultFlushInterval
		}
		if r.DeployingFlushInterval <= 0 {
			r.DeployingFlushInterval = DefaultDeployingFlushInterval
		}
		r.DeployingFlushInterval = max(r.DeployingFlushInterval, r.FlushInterval)
		if r.DriftInterval <= 0 {
			r.DriftInterval = DefaultDriftInterval
		}
		if r.RefreshInterval <= 0 {
			r.RefreshInterval = DefaultRefreshInterval
		}
	})
}

// SetDeploying tells the reporter that a deployment of the application
// started (true) or ended (false). While one runs the application reports
// DEPLOYING and drift is not checked. Call it with false after the
// deployment's completion was reported: the reporter then reads the
// application list again to learn the newly deployed commit, and checks
// drift against it, never against the commit that ran before. It never
// blocks.
func (r *Reporter) SetDeploying(appID string, deploying bool) {
	r.init()
	r.mu.Lock()
	if deploying {
		r.deploying[appID] = true
	} else {
		delete(r.deploying, appID)
		r.settling[appID] = true
	}
	o := r.observers[appID]
	r.mu.Unlock()
	if deploying && o != nil {
		o.kickDrift()
	}
	if !deploying && o != nil {
		// What changed during the deployment goes out now, not at the
		// end of the deploying batch.
		o.expediteFlush()
	}
	if !deploying {
		r.kickSettled()
	}
}

// kickSettled asks for the settling applications to be read again; it
// never blocks.
func (r *Reporter) kickSettled() {
	select {
	case r.settled <- struct{}{}:
	default:
	}
}

// Refresh asks for the application list to be read again now. It never
// blocks; calls during a refresh coalesce into one more.
func (r *Reporter) Refresh() {
	r.init()
	select {
	case r.refresh <- struct{}{}:
	default:
	}
}

// Start observes the applications until ctx ends, then stops every watch
// and returns nil. Failures (the control plane away, a commit that does not
// render, a cluster that cannot be read) are logged and retried; they
// never end Start.
func (r *Reporter) Start(ctx context.Context) error {
	r.init()
	t := time.NewTicker(r.RefreshInterval)
	defer t.Stop()
	var workers sync.WaitGroup
	for range driftWorkers {
		workers.Go(r.work)
	}
	defer workers.Wait()
	defer r.queue.ShutDown()
	defer r.stopAll()
	full := true
	for {
		if full {
			r.reconcile(ctx)
		} else {
			r.reconcileSettled(ctx)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			full = true
		case <-r.refresh:
			full = true
		case <-r.settled:
			full = false
		}
	}
}

// driftWorkers is how many observers' steps (a desired state to load, a
// watch to start, a drift check) run at once.
const driftWorkers = 8

// work runs the queued observers' steps until the queue shuts down.
func (r *Reporter) work() {
	for {
		o, quit := r.queue.Get()
		if quit {
			return
		}
		o.step()
		r.queue.Done(o)
	}
}

// maxSettledRead is the most settling applications read by id; more are
// read with the whole list.
const maxSettledRead = 100

// reconcileSettled reads the settling applications again and restarts,
// stops or kicks their observers; the others are left as they are.
func (r *Reporter) reconcileSettled(ctx context.Context) {
	r.mu.Lock()
	settled := maps.Clone(r.settling)
	r.mu.Unlock()
	switch {
	case len(settled) == 0:
		return
	case len(settled) > maxSettledRead:
		r.reconcile(ctx) // as cheap by then
		return
	}
	ids := slices.Collect(maps.Keys(settled))
	res, err := r.Client.ListApplications(ctx, connect.NewRequest(&ferryv1.AgentListApplicationsRequest{ApplicationIds: ids}))
	if err != nil {
		if ctx.Err() == nil {
			r.Logger.WarnContext(ctx, "list applications for live state failed", "error", err)
			r.Refresh() // try again, all of them
		}
		return
	}
	r.apply(ctx, r.observableByID(res.Msg.GetApplications()), settled, false)
}

// reconcile reads the application list and starts, restarts or stops
// observers to match it.
func (r *Reporter) reconcile(ctx context.Context) {
	r.mu.Lock()
	settled := maps.Clone(r.settling)
	r.mu.Unlock()
	res, err := r.Client.ListApplications(ctx, connect.NewRequest(&ferryv1.AgentListApplicationsRequest{}))
	if err != nil {
		if ctx.Err() == nil {
			r.Logger.WarnContext(ctx, "list applications for live state failed", "error", err)
		}
		return
	}
	r.apply(ctx, r.observableByID(res.Msg.GetApplications()), settled, true)
}

// apply makes the observers match want: of every application when all,
// else of the settled ones only.
func (r *Reporter) apply(ctx context.Context, want map[string]*ferryv1.Application, settled map[string]bool, all bool) {
	r.mu.Lock()
	for id := range settled {
		delete(r.settling, id)
	}
	var stale, kick []*observer
	for id, o := range r.observers {
		if !all && !settled[id] {
			continue
		}
		app, ok := want[id]
		if !ok || o.commit != app.GetMostRecentSuccessfulDeployment().GetCommitHash() || o.providerName != app.GetPlatformProvider() {
			stale = append(stale, o)
			delete(r.observers, id)
			continue
		}
		if settled[id] || o.app.GetDeploying() != app.GetDeploying() {
			kick = append(kick, o)
		}
		o.app = app
	}
	r.mu.Unlock()
	for _, o := range stale {
		o.stop()
	}
	for _, o := range kick {
		o.kickDrift()
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, app := range want {
		if _, ok := r.observers[id]; !ok && ctx.Err() == nil {
			r.observers[id] = r.startObserver(ctx, app)
		}
	}
}

// observableByID keeps the observable applications of apps, by id.
func (r *Reporter) observableByID(apps []*ferryv1.Application) map[string]*ferryv1.Application {
	want := map[string]*ferryv1.Application{}
	for _, app := range apps {
		if r.observable(app) {
			want[app.GetId()] = app
		}
	}
	return want
}

// observable reports whether the application can be observed: enabled,
// deployed successfully at least once, by a provider with an observe
// ability, from a watched repository.
func (r *Reporter) observable(app *ferryv1.Application) bool {
	if app.GetDisabled() || app.GetMostRecentSuccessfulDeployment().GetCommitHash() == "" {
		return false
	}
	if _, ok := r.Repos[app.GetGitPath().GetRepoId()]; !ok {
		return false
	}
	switch r.Providers[app.GetPlatformProvider()].(type) {
	case platform.LiveStateWatcher, platform.DriftDetector:
		return true
	}
	return false
}

// isDeploying reports whether the application counts as deploying: the
// scheduler said so, its deployment just ended, or the control plane says
// one is pending or running.
func (r *Reporter) isDeploying(o *observer) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.deploying[o.appID] || r.settling[o.appID] || o.app.GetDeploying()
}

// stopAll stops every observer and waits for them.
func (r *Reporter) stopAll() {
	r.mu.Lock()
	all := make([]*observer, 0, len(r.observers))
	for id, o := range r.observers {
		all = append(all, o)
		delete(r.observers, id)
	}
	r.mu.Unlock()
	for _, o := range all {
		o.stop()
	}
}
