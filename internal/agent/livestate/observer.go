package livestate

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path"
	"path/filepath"
	"sync"
	"time"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/gitrepo"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/platform"
)

// observer observes one application at one deployed commit: it loads the
// desired state, then runs the live-state watch, the batching of its
// reports and the drift checks until stopped.
type observer struct {
	r                           *Reporter
	appID, commit, providerName string
	provider                    platform.Provider
	log                         *slog.Logger
	// app is the application as last listed; guarded by r.mu.
	app *ferryv1.Application

	cancel    context.CancelFunc
	done      chan struct{}
	driftKick chan struct{}

	mu sync.Mutex
	// live is the application's live resources by id; ready once the
	// watch's first full update came.
	live  map[string]model.ResourceState
	ready bool
	// changed and deleted are the ids to report in the next increment;
	// full asks for a whole snapshot instead.
	changed, deleted map[string]bool
	full             bool
	version          int64

	// flushCtx is the observer's context once it runs; flushPending says
	// flushTimer will report; flushes counts the reports scheduled or
	// running. Guarded by mu.
	flushCtx     context.Context
	flushPending bool
	flushTimer   *time.Timer
	flushes      sync.WaitGroup

	// lastSync is the sync state last reported; touched by the drift loop
	// only.
	lastSync syncState
	lastErr  string
}

// startObserver starts observing app in the background.
func (r *Reporter) startObserver(ctx context.Context, app *ferryv1.Application) *observer {
	ctx, cancel := context.WithCancel(ctx)
	o := &observer{
		r: r, appID: app.GetId(), commit: app.GetMostRecentSuccessfulDeployment().GetCommitHash(),
		providerName: app.GetPlatformProvider(), provider: r.Providers[app.GetPlatformProvider()], app: app,
		log:    r.Logger.With("app_id", app.GetId(), "commit", app.GetMostRecentSuccessfulDeployment().GetCommitHash()),
		cancel: cancel, done: make(chan struct{}), driftKick: make(chan struct{}, 1),
		live: map[string]model.ResourceState{}, changed: map[string]bool{}, deleted: map[string]bool{},
	}
	go func() {
		defer close(o.done)
		o.run(ctx)
	}()
	return o
}

// stop ends the observer and waits until it reports no more.
func (o *observer) stop() {
	o.cancel()
	<-o.done
}

// kickDrift asks for a drift check now; it never blocks.
func (o *observer) kickDrift() {
	select {
	case o.driftKick <- struct{}{}:
	default:
	}
}

func (o *observer) run(ctx context.Context) {
	desired := o.loadDesired(ctx)
	if desired == nil {
		return
	}
	// Two goroutines an application (this one checks drift), and a timer
	// only while a report is due: thousands of applications stay cheap.
	o.mu.Lock()
	o.flushCtx = ctx
	o.mu.Unlock()
	var wg sync.WaitGroup
	if w, ok := o.provider.(platform.LiveStateWatcher); ok {
		wg.Go(func() { o.watch(ctx, w, desired) })
	}
	o.driftLoop(ctx, desired)
	wg.Wait() // no update comes after the watch returned
	o.mu.Lock()
	if o.flushPending && o.flushTimer.Stop() {
		o.flushPending = false
		o.flushes.Done()
	}
	o.mu.Unlock()
	o.flushes.Wait()
}

// loadDesired loads the desired state at the observer's commit, retrying
// with backoff; nil when ctx ended first.
func (o *observer) loadDesired(ctx context.Context) platform.DesiredState {
	loader, _ := o.provider.(platform.DesiredStateLoader)
	var last string
	for attempt := 0; ; attempt++ {
		ds, err := o.load(ctx, loader)
		if err == nil {
			return ds
		}
		if ctx.Err() != nil {
			return nil
		}
		if err.Error() != last {
			o.log.WarnContext(ctx, "load desired state failed", "error", err)
			last = err.Error()
		}
		if !sleep(ctx, o.r.Client.Backoff(attempt)) {
			return nil
		}
	}
}

func (o *observer) load(ctx context.Context, loader platform.DesiredStateLoader) (platform.DesiredState, error) {
	o.r.mu.Lock()
	gp, name := o.app.GetGitPath(), o.app.GetName()
	o.r.mu.Unlock()
	repo := o.r.Repos[gp.GetRepoId()]
	wt, err := checkout(ctx, repo.Mirror, o.commit)
	if err != nil {
		return nil, fmt.Errorf("check out %.8s: %w", o.commit, err)
	}
	defer wt.Close()
	file := path.Join(gp.GetPath(), gp.GetConfigFilename())
	data, err := os.ReadFile(filepath.Join(wt.Dir(), file))
	if err != nil {
		return nil, fmt.Errorf("read application config: %w", err)
	}
	app, err := config.ParseApp(file, data)
	if err != nil {
		return nil, err
	}
	return loader.LoadDesired(ctx, platform.DesiredInput{
		AppID: o.appID, AppName: name, App: app, RepoDir: wt.Dir(),
		AppDir: filepath.Join(wt.Dir(), gp.GetPath()), ConfigFile: gp.GetConfigFilename(), Commit: o.commit,
	})
}

// checkout checks out commit, fetching once when the mirror lacks it.
func checkout(ctx context.Context, m *gitrepo.Mirror, commit string) (*gitrepo.Snapshot, error) {
	wt, err := m.Snapshot(ctx, commit)
	if err != nil && ctx.Err() == nil {
		if ferr := m.Fetch(ctx); ferr == nil {
			wt, err = m.Snapshot(ctx, commit)
		}
	}
	return wt, err
}

// watch keeps the live-state watch running; each (re)start begins with a
// full update, so the next report is a snapshot.
func (o *observer) watch(ctx context.Context, w platform.LiveStateWatcher, desired platform.DesiredState) {
	for attempt := 0; ; attempt++ {
		err := w.WatchLiveState(ctx, desired, o.onUpdate)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			o.log.WarnContext(ctx, "live state watch failed", "error", err)
		}
		if !sleep(ctx, o.r.Client.Backoff(attempt)) {
			return
		}
	}
}

// sleep pauses for d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
