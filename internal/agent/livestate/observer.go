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
// desired state, keeps the live-state watch running, batches its reports
// and checks drift, until stopped. It owns no goroutine: its work runs on
// the Reporter's workers (step), its reports on one-shot timers, so
// thousands of applications cost a few kilobytes each.
type observer struct {
	r                           *Reporter
	appID, commit, providerName string
	provider                    platform.Provider
	// app is the application as last listed; guarded by r.mu.
	app *ferryv1.Application

	ctx    context.Context
	cancel context.CancelFunc
	// busy is held while a worker runs step; stop takes it to wait for
	// the step in progress.
	busy sync.Mutex

	// Touched by step only (the work queue never runs two steps of one
	// observer at once).
	desired   platform.DesiredState
	stopWatch func()
	// attempt and watchAttempt count the failures in a row of loading the
	// desired state and of starting the watch, for the backoff.
	attempt, watchAttempt int
	// lastSync is the sync state last reported; lastErr and watchErr the
	// last errors logged (each is logged once).
	lastSync          syncState
	lastErr, watchErr string

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

	// flushPending says flushTimer will report; flushes counts the
	// reports scheduled or running. Guarded by mu. None is scheduled once
	// ctx ended.
	flushPending bool
	flushTimer   *time.Timer
	flushes      sync.WaitGroup
}

// startObserver starts observing app: its first step is queued.
func (r *Reporter) startObserver(ctx context.Context, app *ferryv1.Application) *observer {
	ctx, cancel := context.WithCancel(ctx)
	o := &observer{
		r: r, appID: app.GetId(), commit: app.GetMostRecentSuccessfulDeployment().GetCommitHash(),
		providerName: app.GetPlatformProvider(), provider: r.Providers[app.GetPlatformProvider()], app: app,
		ctx: ctx, cancel: cancel,
		live: map[string]model.ResourceState{}, changed: map[string]bool{}, deleted: map[string]bool{},
	}
	r.queue.Add(o)
	return o
}

// stop ends the observer and waits until it reports no more.
func (o *observer) stop() {
	o.cancel()
	o.busy.Lock() // the step in progress, if any, ends with the context
	if o.stopWatch != nil {
		o.stopWatch() // no update comes after it returned
		o.stopWatch = nil
	}
	o.busy.Unlock()
	o.mu.Lock()
	if o.flushPending && o.flushTimer.Stop() {
		o.flushPending = false
		o.flushes.Done()
	}
	o.mu.Unlock()
	o.flushes.Wait()
}

// kickDrift asks for a drift check now; it never blocks.
func (o *observer) kickDrift() { o.r.queue.Add(o) }

// log is the observer's logger.
func (o *observer) log() *slog.Logger {
	return o.r.Logger.With("app_id", o.appID, "commit", o.commit)
}

// step does what is due: load the desired state, start the watch, check
// drift; then it queues the next step (the next drift check, or a retry).
// A worker runs it; never two of one observer at once.
func (o *observer) step() {
	o.busy.Lock()
	defer o.busy.Unlock()
	ctx := o.ctx
	if ctx.Err() != nil {
		return
	}
	if o.desired == nil {
		ds, err := o.load(ctx)
		if err != nil {
			o.retry(ctx, err)
			return
		}
		o.desired, o.attempt, o.lastErr = ds, 0, ""
	}
	// A watch that cannot start is retried with backoff; drift is checked
	// meanwhile all the same.
	var watchRetry time.Duration
	if w, ok := o.provider.(platform.LiveStateWatcher); ok && o.stopWatch == nil {
		stop, err := w.StartLiveState(ctx, o.desired, o.onUpdate)
		switch {
		case err != nil && ctx.Err() == nil:
			if err.Error() != o.watchErr {
				o.log().WarnContext(ctx, "live state watch failed", "error", err)
				o.watchErr = err.Error()
			}
			watchRetry = o.r.Client.Backoff(o.watchAttempt)
			o.watchAttempt++
		case err == nil:
			o.stopWatch, o.watchAttempt, o.watchErr = stop, 0, ""
		}
	}
	next := o.checkDrift(ctx)
	if watchRetry > 0 {
		next = min(next, watchRetry)
	}
	o.r.queue.AddAfter(o, next)
}

// retry logs err (once while it stays the same) and queues the next step
// after a backoff: the desired state did not load.
func (o *observer) retry(ctx context.Context, err error) {
	if ctx.Err() != nil {
		return
	}
	if err.Error() != o.lastErr {
		o.log().WarnContext(ctx, "load desired state failed", "error", err)
		o.lastErr = err.Error()
	}
	o.r.queue.AddAfter(o, o.r.Client.Backoff(o.attempt))
	o.attempt++
}

// load loads the desired state at the observer's commit.
func (o *observer) load(ctx context.Context) (platform.DesiredState, error) {
	loader, _ := o.provider.(platform.DesiredStateLoader)
	if loader == nil {
		return nil, fmt.Errorf("platform provider %s cannot load desired states", o.providerName)
	}
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
