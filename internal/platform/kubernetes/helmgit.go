package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"

	"github.com/Masterminds/semver/v3"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/gitrepo"
	"github.com/ferrycd/ferry/internal/model"
)

// gitCharts holds the mirrors of the Git remotes charts come from, shared
// by every render in the process: gitrepo allows one Mirror per directory,
// and many applications may take charts from the same remote. A mirror is
// kept for the life of the process; it holds no goroutine between fetches.
var gitCharts = struct {
	sync.Mutex
	m map[string]*chartMirror
}{m: map[string]*chartMirror{}}

// chartMirror is the mirror of one chart remote and what is known about
// it.
type chartMirror struct {
	*gitrepo.Mirror

	mu            sync.Mutex
	defaultBranch string // the remote's HEAD, asked once
}

// commitPattern matches refs that may be commit hashes.
var commitPattern = regexp.MustCompile(`^[0-9a-f]{7,64}$`)

// loadGitChart loads the chart at helmChart.path in helmChart.gitRemote at
// helmChart.ref. A ref that is a commit the mirror already holds needs no
// fetch; any other ref (a branch, a tag, a new commit) fetches once.
func (s HelmSettings) loadGitChart(ctx context.Context, hc *config.HelmChart) (*chart.Chart, string, error) {
	remote := redactURL(hc.GitRemote)
	if hc.Ref == "" {
		return nil, "", fmt.Errorf("render: spec.input.helmChart.ref is required with gitRemote: the branch, tag or commit of %s to take the chart from", remote)
	}
	m, err := s.gitMirror(ctx, hc.GitRemote, s.gitAuth(hc.GitRemote))
	if err != nil {
		return nil, "", fmt.Errorf("render: spec.input.helmChart.gitRemote %s: %w", remote, err)
	}
	commit, err := m.resolveRef(ctx, hc.Ref)
	var fe *fetchError
	if errors.As(err, &fe) {
		return nil, "", fmt.Errorf("render: spec.input.helmChart.gitRemote %s%s: %w; check the address and the agent's Git credentials (spec.git, sent only to the hosts of the agent's repositories, or those of a GIT chart repository with this gitRemote)", remote, rewritten(m.Mirror, remote), fe.err)
	}
	if err != nil {
		if model.IsKind(err, model.KindNotFound) || model.IsKind(err, model.KindInvalid) {
			return nil, "", fmt.Errorf("render: spec.input.helmChart.ref %q: no branch, tag or commit of that name in %s; push it or fix the ref", hc.Ref, remote)
		}
		return nil, "", fmt.Errorf("render: spec.input.helmChart.ref %q: %w", hc.Ref, err)
	}
	c, err := loadChartAt(ctx, m.Mirror, commit, hc.Path)
	if err != nil {
		return nil, "", fmt.Errorf("render: spec.input.helmChart.path %q at %s (%s) of %s: %w", hc.Path, hc.Ref, commit[:12], remote, err)
	}
	return c, remote + "@" + hc.Ref + ":" + path.Clean("/" + hc.Path)[1:], nil
}

// rewritten says where a mirror fetches from when spec.git.urlRewrites
// changed remote, for messages; "" when it did not.
func rewritten(m *gitrepo.Mirror, remote string) string {
	if m.Remote() == remote {
		return ""
	}
	return " (fetched from " + m.Remote() + " by spec.git.urlRewrites)"
}

// loadChartAt checks out commit and loads the chart in dir, a path inside
// the repository ("" for its root).
func loadChartAt(ctx context.Context, m *gitrepo.Mirror, commit, dir string) (*chart.Chart, error) {
	wt, err := m.Worktree(ctx, commit)
	if err != nil {
		return nil, err
	}
	defer wt.Close()
	root := wt.Dir()
	full := filepath.Join(root, filepath.FromSlash(dir))
	real, err := filepath.EvalSymlinks(full)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, errors.New("no such directory in the repository")
		}
		return nil, err
	}
	if realRoot, err := filepath.EvalSymlinks(root); err != nil || !within(realRoot, real) {
		return nil, errors.New("the path leaves the repository")
	}
	if _, err := os.Stat(filepath.Join(real, chartutil.ChartfileName)); err != nil {
		return nil, fmt.Errorf("no %s there; point path at the chart's directory", chartutil.ChartfileName)
	}
	if err := checkSymlinks(root, real); err != nil {
		return nil, err
	}
	return loader.Load(real)
}

// gitMirror returns the process's mirror of remote under the cache,
// opening it on first use.
func (s HelmSettings) gitMirror(ctx context.Context, remote string, auth gitrepo.Auth) (*chartMirror, error) {
	dir, err := s.cacheDir()
	if err != nil {
		return nil, err
	}
	dir = filepath.Join(dir, "git")
	sum := sha256.Sum256([]byte(remote))
	id := "remote-" + hex.EncodeToString(sum[:8])
	key := filepath.Join(dir, id)
	gitCharts.Lock()
	defer gitCharts.Unlock()
	if m, ok := gitCharts.m[key]; ok {
		return m, nil
	}
	m, err := gitrepo.Open(ctx, gitrepo.Config{RepoID: id, Remote: remote, CacheDir: dir, Auth: auth, URLRewrites: s.URLRewrites})
	if err != nil {
		return nil, err
	}
	cm := &chartMirror{Mirror: m}
	gitCharts.m[key] = cm
	return cm, nil
}

// gitAuth returns the credentials for remote: those of the GIT chart
// repository with that gitRemote (PipeCD's way to give a chart remote its
// own SSH key), else the agent's when remote is on a host they were
// configured for (GitHosts), else none: an application config must not be
// able to send the agent's key or token to a host of its choosing.
func (s HelmSettings) gitAuth(remote string) gitrepo.Auth {
	for _, r := range s.Repositories {
		if r.GitRemote == remote && (r.SSHKeyFile != "" || r.Password != "") {
			return gitrepo.Auth{SSHKeyFile: r.SSHKeyFile, KnownHostsFile: s.Git.KnownHostsFile, Username: r.Username, Token: r.Password}
		}
	}
	if host := gitrepo.RemoteHost(remote); host != "" && slices.Contains(s.GitHosts, host) {
		return s.Git
	}
	return gitrepo.Auth{KnownHostsFile: s.Git.KnownHostsFile}
}

// fetchError is a failed fetch, told apart from a ref the remote lacks.
type fetchError struct{ err error }

func (e *fetchError) Error() string { return e.err.Error() }
func (e *fetchError) Unwrap() error { return e.err }

// resolveRef returns the commit ref names. A ref that is a commit the
// mirror already holds needs no fetch; any other ref (a branch, a tag, a
// new commit) fetches once, and a failed fetch is a *fetchError.
func (m *chartMirror) resolveRef(ctx context.Context, ref string) (string, error) {
	if commitPattern.MatchString(ref) && m.HasCommit(ctx, ref) {
		return m.ResolveRef(ctx, ref)
	}
	if err := m.Fetch(ctx); err != nil {
		return "", &fetchError{err}
	}
	return m.ResolveRef(ctx, ref)
}

// head fetches the mirror and returns the commit at the remote's default
// branch, asking the remote for that branch once.
func (m *chartMirror) head(ctx context.Context) (string, error) {
	m.mu.Lock()
	branch := m.defaultBranch
	m.mu.Unlock()
	if branch == "" {
		b, err := m.DefaultBranch(ctx)
		if err != nil {
			return "", err
		}
		m.mu.Lock()
		m.defaultBranch, branch = b, b
		m.mu.Unlock()
	}
	if err := m.Fetch(ctx); err != nil {
		return "", err
	}
	return m.ResolveRef(ctx, branch)
}

// pullGit takes a chart from a chart repository kept in Git, at the tip of
// the remote's default branch. The repository is either a Helm repository
// committed to Git (index.yaml at the root, the packages it lists beside
// it) or a tree of chart sources (NAME/Chart.yaml or charts/NAME/Chart.yaml),
// whose Chart.yaml version must satisfy version. It returns the version
// found and the packaged chart.
func (s HelmSettings) pullGit(ctx context.Context, r HelmRepository, name, version string) (string, []byte, error) {
	m, err := s.gitMirror(ctx, r.GitRemote, s.gitAuth(r.GitRemote))
	if err != nil {
		return "", nil, err
	}
	commit, err := m.head(ctx)
	if err != nil {
		return "", nil, err
	}
	index, err := m.ReadFile(ctx, commit, "index.yaml")
	switch {
	case err == nil:
		return pullGitIndex(ctx, m.Mirror, commit, index, name, version)
	case !model.IsKind(err, model.KindNotFound):
		return "", nil, err
	}
	for _, dir := range []string{name, "charts/" + name} {
		files, err := m.ListFiles(ctx, commit, dir)
		if err != nil {
			return "", nil, err
		}
		if !slices.Contains(files, dir+"/"+chartutil.ChartfileName) {
			continue
		}
		c, err := loadChartAt(ctx, m.Mirror, commit, dir)
		if err != nil {
			return "", nil, fmt.Errorf("chart %s: %w", dir, err)
		}
		if version != "" {
			want, err := semver.NewConstraint(version)
			if err != nil {
				return "", nil, fmt.Errorf("version %q: %w", version, err)
			}
			got, err := semver.NewVersion(c.Metadata.Version)
			if err != nil || !want.Check(got) {
				return "", nil, fmt.Errorf("chart %s is at version %s, which does not satisfy %q; the repository keeps one version of each chart, at the tip of its default branch", dir, c.Metadata.Version, version)
			}
		}
		tmp, err := os.MkdirTemp("", "ferry-chart-")
		if err != nil {
			return "", nil, err
		}
		defer os.RemoveAll(tmp)
		pkg, err := chartutil.Save(c, tmp)
		if err != nil {
			return "", nil, err
		}
		data, err := os.ReadFile(pkg)
		return c.Metadata.Version, data, err
	}
	return "", nil, fmt.Errorf("no chart %s: the repository has no index.yaml at its root and no %s/%s or charts/%s/%s", name, name, chartutil.ChartfileName, name, chartutil.ChartfileName)
}

// pullGitIndex resolves version in a Helm repository index kept in Git and
// reads the package it lists from the same commit.
func pullGitIndex(ctx context.Context, m *gitrepo.Mirror, commit string, index []byte, name, version string) (string, []byte, error) {
	idx, err := loadIndex(index)
	if err != nil {
		return "", nil, err
	}
	cv, err := idx.Get(name, version)
	if err != nil {
		return "", nil, fmt.Errorf("no version %q in the repository's index: %w", version, err)
	}
	if len(cv.URLs) == 0 || strings.Contains(cv.URLs[0], "://") {
		return "", nil, fmt.Errorf("version %s: the index must list the package by its path in the repository", cv.Version)
	}
	data, err := m.ReadFile(ctx, commit, cv.URLs[0])
	if err != nil {
		return "", nil, fmt.Errorf("version %s: %w", cv.Version, err)
	}
	return cv.Version, data, nil
}

// loadIndex parses a repository index with Helm's own loader, which reads
// only files.
func loadIndex(data []byte) (*repo.IndexFile, error) {
	tmp, err := os.CreateTemp("", "ferry-index-*.yaml")
	if err != nil {
		return nil, err
	}
	defer os.Remove(tmp.Name())
	_, err = tmp.Write(data)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, err
	}
	idx, err := repo.LoadIndexFile(tmp.Name())
	if err != nil {
		return nil, fmt.Errorf("index.yaml: %w", err)
	}
	return idx, nil
}
