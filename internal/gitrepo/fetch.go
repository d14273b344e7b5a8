package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/ferrycd/ferry/internal/model"
)

// refspecs are what the mirror keeps of the remote: branches and tags, not
// refs/pull/* and the like, which can be many and which no deployment needs.
var refspecs = []string{"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"}

// fetcher runs at most one fetch at a time and lets callers share it. A
// caller that arrives while a fetch runs waits for the next one, since the
// running fetch may have read the remote before the change the caller was
// told about; every caller waiting for that next fetch shares it.
type fetcher struct {
	m      *Mirror
	ctx    context.Context // bounds fetches; ended by close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	closed  bool
	running *fetchCall
	pending *fetchCall

	// Test hooks: joined runs when a caller joins a pending fetch, fetched
	// after each fetch, before its callers are released.
	joined, fetched func()
}

// fetchCall is one fetch shared by its callers.
type fetchCall struct {
	done chan struct{}
	err  error
}

func (f *fetcher) init(m *Mirror) {
	f.m = m
	f.ctx, f.cancel = context.WithCancel(context.Background())
}

// Fetch updates the mirror's branches and tags from the remote, deleting
// those the remote deleted. It returns once a fetch that started after the
// call has finished, with that fetch's error, or when ctx ends (the fetch
// goes on for the other callers, bounded by Config.Timeout). Concurrent
// calls coalesce: at most one fetch runs and at most one more is queued.
//
// When the fetch fails on a corrupted mirror (missing objects, a damaged
// HEAD, a lock left by a killed git) Fetch re-clones it once, logging
// "mirror corrupted, re-cloning". Errors: model.KindUnauthenticated when the
// remote refuses the credentials, model.KindUnavailable otherwise;
// ErrClosed after Close.
func (m *Mirror) Fetch(ctx context.Context) error {
	f := &m.fetcher
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return fmt.Errorf("fetch repo %s: %w", m.id, ErrClosed)
	}
	var c *fetchCall
	joined := false
	switch {
	case f.running == nil:
		c = &fetchCall{done: make(chan struct{})}
		f.running = c
		f.wg.Add(1)
		go f.loop(c)
	case f.pending == nil:
		f.pending = &fetchCall{done: make(chan struct{})}
		fallthrough
	default:
		c, joined = f.pending, true
	}
	f.mu.Unlock()
	if joined && f.joined != nil {
		f.joined()
	}
	select {
	case <-c.done:
		return c.err
	case <-ctx.Done():
		return fmt.Errorf("fetch repo %s: %w", m.id, ctx.Err())
	}
}

// loop runs c, then whatever fetch was queued meanwhile, until none is.
func (f *fetcher) loop(c *fetchCall) {
	defer f.wg.Done()
	for c != nil {
		c.err = f.m.fetch(f.ctx)
		if f.fetched != nil {
			f.fetched()
		}
		close(c.done)
		f.mu.Lock()
		c, f.pending = f.pending, nil
		f.running = c
		f.mu.Unlock()
	}
}

func (f *fetcher) close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.cancel()
	f.wg.Wait()
}

// fetch runs one fetch, re-cloning the mirror once if it turns out broken.
func (m *Mirror) fetch(ctx context.Context) error {
	start := time.Now()
	m.mu.RLock()
	err := m.fetchInto(ctx, m.dir)
	m.mu.RUnlock()
	if err == nil {
		m.log.DebugContext(ctx, "fetched repository", logKeyRepoID, m.id, "duration", time.Since(start))
		return nil
	}
	kind := kindOf(err)
	if kind == model.KindUnauthenticated {
		return model.Errorf(kind, "fetch repo %s: authentication failed: %w", m.id, err)
	}
	if ctx.Err() != nil {
		return model.Errorf(kind, "fetch repo %s: %w", m.id, err)
	}
	if !isStaleLock(err) {
		m.mu.RLock()
		healthy := m.check(ctx, m.dir, true)
		m.mu.RUnlock()
		if healthy == nil {
			return model.Errorf(kind, "fetch repo %s: %w", m.id, err)
		}
	}
	if err := m.reclone(ctx, err); err != nil {
		return model.Errorf(kindOf(err), "re-clone repo %s: %w", m.id, err)
	}
	return nil
}

// fetchInto fetches the remote's branches and tags into the bare repo dir.
func (m *Mirror) fetchInto(ctx context.Context, dir string) error {
	args := []string{"fetch", "--quiet", "--prune", "--no-tags", "--no-recurse-submodules", "--no-write-fetch-head", "--", m.remote}
	_, err := m.git.run(ctx, call{args: append(args, refspecs...), gitDir: dir, network: true})
	return err
}

// reclone builds a fresh mirror beside the broken one and swaps it in. Only
// the swap holds readers back; Worktrees are separate repositories and
// survive it.
func (m *Mirror) reclone(ctx context.Context, cause error) error {
	m.log.WarnContext(ctx, "mirror corrupted, re-cloning", logKeyRepoID, m.id, "error", cause)
	fresh, old := m.dir+".new", m.dir+".old"
	if err := os.RemoveAll(fresh); err != nil {
		return err
	}
	if err := m.initRepo(ctx, fresh); err != nil {
		return err
	}
	if err := m.fetchInto(ctx, fresh); err != nil {
		_ = os.RemoveAll(fresh)
		return err
	}
	m.mu.Lock()
	err := os.RemoveAll(old)
	if err == nil {
		if err = os.Rename(m.dir, old); errors.Is(err, os.ErrNotExist) {
			err = nil
		}
	}
	if err == nil {
		err = os.Rename(fresh, m.dir)
	}
	m.mu.Unlock()
	if err != nil {
		return err
	}
	m.log.InfoContext(ctx, "mirror re-cloned", logKeyRepoID, m.id)
	return os.RemoveAll(old)
}
