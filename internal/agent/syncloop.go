package agent

import (
	"context"
	"time"

	"golang.org/x/sync/errgroup"
)

// syncLoop fetches the repositories, registers the applications found and
// triggers deployments: at start, on every push notice or stream
// (re)connection, and every syncInterval as a safety net.
type syncLoop struct {
	a         *Agent
	interval  time.Duration
	kicks     chan struct{}
	onStarted func() // Options.OnStarted
}

func newSyncLoop(a *Agent, interval time.Duration, onStarted func()) *syncLoop {
	return &syncLoop{a: a, interval: interval, kicks: make(chan struct{}, 1), onStarted: onStarted}
}

// kick asks for a sync now; it never blocks, and kicks that arrive during
// a sync coalesce into one more.
func (l *syncLoop) kick() {
	select {
	case l.kicks <- struct{}{}:
	default:
	}
}

// Start syncs until ctx ends; failures are logged and retried next time.
func (l *syncLoop) Start(ctx context.Context) error {
	t := time.NewTicker(l.interval)
	defer t.Stop()
	started := l.onStarted == nil
	for {
		if err := l.once(ctx); err != nil {
			if ctx.Err() == nil {
				l.a.log.WarnContext(ctx, "sync failed", "error", err)
			}
		} else if !started {
			started = true
			l.onStarted()
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			l.a.disc.Forget()
		case <-l.kicks:
		}
	}
}

func (l *syncLoop) once(ctx context.Context) error {
	start := time.Now()
	if err := l.fetch(ctx); err != nil {
		return err
	}
	fetched := time.Now()
	apps, err := l.a.disc.Scan(ctx)
	if err != nil {
		return err
	}
	scanned := time.Now()
	created, err := l.a.trig.OnCommit(ctx, apps)
	if err != nil {
		return err
	}
	l.a.log.DebugContext(ctx, "sync pass", "fetch", fetched.Sub(start), "scan", scanned.Sub(fetched),
		"trigger", time.Since(scanned), "apps", len(apps), "deployments", len(created))
	if len(created) > 0 {
		l.a.ctrl.Kick()
	}
	return nil
}

// fetch fetches every repository now.
func (l *syncLoop) fetch(ctx context.Context) error {
	g, gctx := errgroup.WithContext(ctx)
	for _, m := range l.a.mirrors {
		g.Go(func() error { return m.Fetch(gctx) })
	}
	return g.Wait()
}
