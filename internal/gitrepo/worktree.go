package gitrepo

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// Worktree is a checkout of one commit in a directory of its own, for a
// deployment to render manifests or run tools in.
//
// It is a separate repository holding only that commit (a depth-1 fetch
// from the mirror), not a `git worktree` of the mirror. That costs one small
// pack per checkout, and buys independence: a worktree registers nothing in
// the mirror, so concurrent checkouts never contend on the mirror's
// worktree metadata; a fetch, an automatic gc or a re-clone of a corrupted
// mirror can run while deployments hold checkouts; and the checkout reads
// the mirror through upload-pack, which is safe against a concurrent fetch
// where copying or hard-linking the object directory (a local clone) is
// not. A Worktree's methods must not be called concurrently with each
// other; different Worktrees are independent.
type Worktree struct {
	m      *Mirror
	dir    string
	commit string
	// exported says dir holds files only (Export), not a repository.
	exported bool

	closeOnce sync.Once
	closeErr  error
}

// Worktree checks out commit (a full or abbreviated hash the mirror holds)
// with a detached HEAD in a new directory under the cache and returns it.
// The caller owns the Worktree and must Close it. Errors:
// model.KindNotFound when the mirror does not hold the commit (fetch
// first), model.KindInvalid for a malformed hash. Blocks for the checkout;
// any number may run concurrently with each other and with Fetch.
func (m *Mirror) Worktree(ctx context.Context, commit string) (*Worktree, error) {
	full, err := m.resolveCommit(ctx, commit)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp(m.worktrees, "wt-")
	if err != nil {
		return nil, fmt.Errorf("check out %s in repo %s: %w", commit, m.id, err)
	}
	w := &Worktree{m: m, dir: dir, commit: full}
	if err := w.populate(ctx); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("check out %s in repo %s: %w", commit, m.id, err)
	}
	m.log.DebugContext(ctx, "checked out commit", logKeyRepoID, m.id, logKeyCommit, full, "dir", dir)
	return w, nil
}

// populate makes w.dir a repository holding w.commit and checks it out.
func (w *Worktree) populate(ctx context.Context) error {
	m := w.m
	if _, err := m.git.run(ctx, call{args: []string{"init", "--quiet", "--template=", w.dir}, dir: w.dir}); err != nil {
		return err
	}
	m.mu.RLock()
	_, err := w.run(ctx, "fetch", "--quiet", "--depth=1", "--no-tags", "--no-write-fetch-head", "--", m.dir, w.commit)
	m.mu.RUnlock()
	if err != nil {
		return err
	}
	_, err = w.run(ctx, "checkout", "--quiet", "--detach", w.commit)
	return err
}

// Dir returns the directory holding the checked-out files. Its .git
// directory belongs to the Worktree: leave it alone.
func (w *Worktree) Dir() string { return w.dir }

// Commit returns the full hash of the commit the Worktree was created at.
func (w *Worktree) Commit() string { return w.commit }

// Close removes the Worktree's directory. Nothing of it is left in the
// mirror, so there is no metadata to prune. Close is idempotent and safe to
// call from any goroutine once the Worktree's other methods have returned.
func (w *Worktree) Close() error {
	w.closeOnce.Do(func() {
		if err := os.RemoveAll(w.dir); err != nil {
			w.closeErr = fmt.Errorf("remove worktree of repo %s: %w", w.m.id, err)
		}
	})
	return w.closeErr
}

// run runs a git command in the worktree.
func (w *Worktree) run(ctx context.Context, args ...string) ([]byte, error) {
	if w.exported {
		return nil, invalid("repo %s: the export of %.8s holds files only; commit from a Worktree", w.m.id, w.commit)
	}
	return w.m.git.run(ctx, call{args: args, gitDir: filepath.Join(w.dir, ".git"), workTree: w.dir})
}
