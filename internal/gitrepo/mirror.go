// Package gitrepo is the deploy agent's Git layer: a bare mirror per
// repository in a cache directory the agent owns, reads of commits, files
// and changes at exact commits, throwaway checkouts for deployments, and
// commit + push for the event watcher.
//
// It drives the git CLI (os/exec) rather than a Go implementation, so
// behaviour, protocols and credentials work as they do for people. Every
// command runs with a timeout, without prompts and without the user's or the
// system's git config; errors are wrapped model errors (not found, invalid,
// unauthenticated, unavailable, conflict) with URL credentials and tokens
// removed.
//
// Layout under Config.CacheDir:
//
//	<RepoID>/mirror.git   the bare mirror: refs/heads/* and refs/tags/*
//	<RepoID>/worktrees/   checkouts handed out by Mirror.Worktree
package gitrepo

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"time"
)

// Log attribute keys.
const (
	logKeyRepoID = "repo_id"
	logKeyCommit = "commit"
)

// DefaultTimeout bounds each git command when Config.Timeout is zero.
const DefaultTimeout = 5 * time.Minute

// Config describes one repository's mirror.
type Config struct {
	// RepoID names the repository in logs, errors and the cache layout:
	// letters, digits, '.', '_' and '-'. Required.
	RepoID string
	// Remote is the URL fetched from and pushed to: https://, ssh://,
	// scp-like (git@host:org/repo.git), file:// or a local path. Credentials
	// in an http(s) URL are moved into Auth. Required.
	Remote string
	// CacheDir is the directory the agent owns for mirrors. Required.
	CacheDir string
	// Auth holds the remote's credentials.
	Auth Auth
	// URLRewrites are applied to Remote before anything else (see
	// RewriteURL): the mirror fetches from, and names, the rewritten URL.
	URLRewrites []URLRewrite
	// Timeout bounds each git command; zero means DefaultTimeout.
	Timeout time.Duration
	// GitPath is the git binary; empty means "git" from PATH.
	GitPath string
	// Logger receives the mirror's log lines; nil discards them.
	Logger *slog.Logger
}

var repoIDPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9._-]*$`)

// Mirror is a bare mirror of one remote repository. All methods are safe
// for concurrent use: reads and checkouts run in parallel with each other
// and with a fetch; only the re-clone of a corrupted mirror briefly holds
// them back. One Mirror per repository directory: two Mirrors (or two
// processes) on the same CacheDir and RepoID break each other's locks.
type Mirror struct {
	id        string
	remote    string // without credentials
	dir       string // the bare repository
	worktrees string // parent of the checkouts
	git       *runner
	log       *slog.Logger

	// mu is held shared by every command on the mirror and exclusively
	// while a re-cloned mirror is swapped in.
	mu sync.RWMutex

	fetcher fetcher

	// snapshots are the shared exports by full commit hash.
	snapshotsMu sync.Mutex
	snapshots   map[string]*sharedExport
}

// Open prepares the mirror of cfg.Remote under cfg.CacheDir and returns it
// without contacting the remote: a missing mirror, or one git no longer
// recognises, is (re)created empty and filled by the first Fetch. Checkouts
// left by an earlier process are removed. Open blocks for a few local git
// commands; ctx bounds them.
func Open(ctx context.Context, cfg Config) (*Mirror, error) {
	if !repoIDPattern.MatchString(cfg.RepoID) {
		return nil, invalid("open repo: invalid repo id %q", cfg.RepoID)
	}
	if cfg.Remote == "" || strings.HasPrefix(cfg.Remote, "-") {
		return nil, invalid("open repo %s: invalid remote", cfg.RepoID)
	}
	if cfg.CacheDir == "" {
		return nil, invalid("open repo %s: no cache dir", cfg.RepoID)
	}
	root, err := filepath.Abs(filepath.Join(cfg.CacheDir, cfg.RepoID))
	if err != nil {
		return nil, fmt.Errorf("open repo %s: %w", cfg.RepoID, err)
	}
	remote, auth := splitCredentials(RewriteURL(cfg.Remote, cfg.URLRewrites), cfg.Auth)
	config, secrets := httpAuth(remote, auth)
	timeout, gitPath, log := cfg.Timeout, cfg.GitPath, cfg.Logger
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	if gitPath == "" {
		gitPath = "git"
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	m := &Mirror{
		id:        cfg.RepoID,
		remote:    remote,
		dir:       filepath.Join(root, "mirror.git"),
		worktrees: filepath.Join(root, "worktrees"),
		git:       newRunner(gitPath, timeout, []string{"GIT_SSH_COMMAND=" + sshCommand(auth)}, config, secrets),
		log:       log,
	}
	m.fetcher.init(m)
	if err := m.prepare(ctx); err != nil {
		return nil, fmt.Errorf("open repo %s: %w", m.id, err)
	}
	return m, nil
}

// prepare clears leftovers of an earlier process and makes sure a bare
// repository git recognises is in place.
func (m *Mirror) prepare(ctx context.Context) error {
	for _, p := range []string{m.worktrees, m.dir + ".new", m.dir + ".old"} {
		if err := os.RemoveAll(p); err != nil {
			return err
		}
	}
	if err := os.MkdirAll(m.worktrees, 0o700); err != nil {
		return err
	}
	if _, err := os.Stat(m.dir); errors.Is(err, os.ErrNotExist) {
		return m.initRepo(ctx, m.dir)
	}
	if err := m.check(ctx, m.dir, false); err != nil {
		m.log.WarnContext(ctx, "mirror corrupted, recreating", logKeyRepoID, m.id, "error", err)
		if err := os.RemoveAll(m.dir); err != nil {
			return err
		}
		return m.initRepo(ctx, m.dir)
	}
	return nil
}

// initRepo creates an empty bare repository at dir. The mirror serves
// checkouts any commit it holds, reachable from a branch or not (a deploy of
// a commit later force-pushed away still works).
func (m *Mirror) initRepo(ctx context.Context, dir string) error {
	if _, err := m.git.run(ctx, call{
		args: []string{"init", "--quiet", "--bare", "--template=", dir},
		dir:  filepath.Dir(dir),
	}); err != nil {
		return err
	}
	_, err := m.git.run(ctx, call{
		args:   []string{"config", "uploadpack.allowAnySHA1InWant", "true"},
		gitDir: dir,
	})
	return err
}

// check verifies that git recognises dir as a bare repository and, when
// full, that every ref's history is present (fsck --connectivity-only).
func (m *Mirror) check(ctx context.Context, dir string, full bool) error {
	out, err := m.git.run(ctx, call{args: []string{"rev-parse", "--is-bare-repository"}, gitDir: dir})
	if err != nil {
		return err
	}
	if strings.TrimSpace(string(out)) != "true" {
		return errors.New("not a bare repository")
	}
	if !full {
		return nil
	}
	_, err = m.git.run(ctx, call{args: []string{"fsck", "--connectivity-only", "--no-dangling", "--no-progress"}, gitDir: dir})
	return err
}

// ID returns the repository's id.
func (m *Mirror) ID() string { return m.id }

// Remote returns the remote URL without credentials.
func (m *Mirror) Remote() string { return m.remote }

// Close stops a background fetch and waits for it; callers waiting in Fetch
// get an error and later Fetch calls return ErrClosed. Reads and existing
// Worktrees keep working. Close is idempotent and returns nil.
func (m *Mirror) Close() error {
	m.fetcher.close()
	return nil
}
