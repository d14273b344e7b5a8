package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"

	"sigs.k8s.io/yaml"

	"github.com/ferrycd/ferry/internal/gitrepo"
	"github.com/ferrycd/ferry/internal/model"
)

// remoteBase is a Kustomize remote base or component: a directory of a Git
// repository at a ref, written in a kustomization's resources, bases or
// components as Kustomize reads it (https://github.com/org/repo//dir?ref=v1,
// github.com/org/repo/dir, git@host:org/repo.git//dir, file:///srv/repo).
type remoteBase struct {
	repo string // what git clones
	dir  string // the kustomization root inside the repository
	ref  string // branch, tag or commit; "" for the default branch
}

// userPrefix matches the user of an scp-like URL (git@).
var userPrefix = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9-]*@`)

// parseRemoteBase reads s as Kustomize's remote target URL syntax does
// (its parser is internal to Kustomize), and reports false for anything
// Kustomize would take as a local path.
func parseRemoteBase(s string) (remoteBase, bool) {
	if filepath.IsAbs(s) {
		return remoteBase{}, false
	}
	n, query, _ := strings.Cut(s, "?")
	n = trimPrefixFold(n, "git::")
	scheme := ""
	for _, p := range []string{"ssh://", "https://", "http://", "file://"} {
		if rest, ok := cutPrefixFold(n, p); ok {
			scheme, n = p, rest
			break
		}
	}
	user := userPrefix.FindString(n)
	n = n[len(user):]
	lower := strings.ToLower(n)
	github := strings.HasPrefix(lower, "github.com/") || strings.HasPrefix(lower, "github.com:")
	scp := scheme == "" && (user != "" || github)
	if scheme == "" && !scp {
		return remoteBase{}, false
	}
	var host string
	if scheme == "file://" {
		host, n = scheme, user+n
	} else {
		sep := strings.Index(n, "/")
		if c := strings.Index(n, ":"); scp && c > 0 && (sep < 0 || c < sep) {
			sep = c
		}
		if sep < 0 {
			return remoteBase{}, false
		}
		host, n = n[:sep+1], n[sep+1:]
		if github {
			// Kustomize normalises GitHub: https, or scp-like over SSH.
			if scheme == "ssh://" || user != "" {
				scheme, host = "", "github.com:"
				if user == "" {
					user = "git@"
				}
			} else {
				scheme, user, host = "https://", "", "github.com/"
			}
		}
		host = scheme + user + host
	}
	if (scheme == "https://" || scheme == "http://") && !github && !hasRepoMarker(n) && isManifestFile(n) {
		// A manifest over HTTP, which Kustomize downloads itself.
		return remoteBase{}, false
	}
	repo, dir, ok := splitRepoPath(n, scheme == "file://")
	if !ok || repo == "" {
		return remoteBase{}, false
	}
	dir = strings.TrimPrefix(dir, "/")
	if clean := filepath.Clean(dir); clean == ".." || strings.HasPrefix(clean, "../") {
		return remoteBase{}, false
	}
	rb := remoteBase{repo: host + repo, dir: dir}
	if values, err := url.ParseQuery(query); err == nil {
		rb.ref = values.Get("version")
		if r := values.Get("ref"); r != "" {
			rb.ref = r
		}
	}
	return rb, true
}

// splitRepoPath splits a URL's path into the repository and the directory
// in it: after _git/NAME (Azure DevOps), at //, after .git, else after two
// segments (org/repo), or all of it for file://.
func splitRepoPath(n string, all bool) (repo, dir string, ok bool) {
	if i := strings.Index(n, "_git/"); i >= 0 {
		rest := strings.SplitN(n[i+len("_git/"):], "/", 2)
		repo = n[:i+len("_git/")] + rest[0]
		if len(rest) == 2 {
			dir = rest[1]
		}
		return repo, dir, true
	}
	if i := strings.Index(n, "//"); i >= 0 {
		return n[:i], n[i+2:], true
	}
	if i := strings.Index(n, ".git"); i >= 0 {
		return n[:i+len(".git")], n[i+len(".git"):], true
	}
	if all {
		return n, "", true
	}
	segs := strings.Split(n, "/")
	if len(segs) < 2 {
		return "", "", false
	}
	return strings.Join(segs[:2], "/"), strings.Join(segs[2:], "/"), true
}

// hasRepoMarker reports whether a URL path marks where its repository
// ends (_git/, //, .git).
func hasRepoMarker(n string) bool {
	return strings.Contains(n, "_git/") || strings.Contains(n, "//") || strings.Contains(n, ".git")
}

// isManifestFile reports whether a URL path names a YAML or JSON file.
func isManifestFile(n string) bool {
	switch strings.ToLower(filepath.Ext(n)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

func cutPrefixFold(s, prefix string) (string, bool) {
	if len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix) {
		return s[len(prefix):], true
	}
	return s, false
}

func trimPrefixFold(s, prefix string) string {
	s, _ = cutPrefixFold(s, prefix)
	return s
}

// remoteBases fetches the remote bases of one Kustomize build through the
// agent's Git (gitrepo mirrors under the Helm cache, with the agent's
// URL rewrites and credential hosts) instead of Kustomize's own `git
// clone`, which would run with none of them. Each base is read from a
// snapshot of its commit, kept until the build is done.
type remoteBases struct {
	ctx      context.Context
	settings HelmSettings

	mu        sync.Mutex
	err       error             // the first failure, which Kustomize would hide
	dirs      map[string]string // raw URL → local directory
	roots     []string          // the snapshots' directories
	snapshots []*gitrepo.Snapshot
}

// localize returns the local directory of the remote base written as raw.
func (r *remoteBases) localize(raw string, rb remoteBase) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if dir, ok := r.dirs[raw]; ok {
		return dir, nil
	}
	shown := redactURL(rb.repo)
	m, err := r.settings.gitMirror(r.ctx, rb.repo, r.settings.gitAuth(rb.repo))
	if err != nil {
		return "", fmt.Errorf("remote base %s: %w", shown, err)
	}
	var commit string
	if rb.ref == "" {
		commit, err = m.head(r.ctx)
	} else {
		commit, err = m.resolveRef(r.ctx, rb.ref)
	}
	var fe *fetchError
	if err != nil && !errors.As(err, &fe) && rb.ref != "" && (model.IsKind(err, model.KindNotFound) || model.IsKind(err, model.KindInvalid)) {
		return "", fmt.Errorf("remote base %s: no branch, tag or commit %q; push it or fix ?ref=", shown, rb.ref)
	}
	if err != nil {
		return "", fmt.Errorf("remote base %s%s: %w; check the address, spec.git.urlRewrites and the agent's Git credentials (sent only to the hosts of its repositories)", shown, rewritten(m.Mirror, shown), err)
	}
	snap, err := m.Snapshot(r.ctx, commit)
	if err != nil {
		return "", fmt.Errorf("remote base %s at %s: %w", shown, rb.ref, err)
	}
	r.snapshots = append(r.snapshots, snap)
	r.roots = append(r.roots, snap.Dir())
	dir := filepath.Join(snap.Dir(), filepath.FromSlash(rb.dir))
	if r.dirs == nil {
		r.dirs = map[string]string{}
	}
	r.dirs[raw] = dir
	return dir, nil
}

// check reports whether path is in one of the fetched bases, and fails
// when it is but a symbolic link leads it out of its base's repository.
func (r *remoteBases) check(path string) (bool, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, root := range r.roots {
		if !within(root, path) {
			continue
		}
		if real, err := filepath.EvalSymlinks(path); err == nil && !within(root, real) {
			rel, _ := filepath.Rel(root, path)
			return true, fmt.Errorf("%s of a remote base is, or is under, a symbolic link to a file outside its repository; Ferry reads only files inside it", filepath.ToSlash(rel))
		}
		return true, nil
	}
	return false, nil
}

// failure returns the first remote base that could not be fetched:
// Kustomize takes a kustomization file it cannot read for a missing one
// and says only that.
func (r *remoteBases) failure() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// close releases the snapshots.
func (r *remoteBases) close() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, s := range r.snapshots {
		_ = s.Close()
	}
	r.snapshots, r.roots, r.dirs = nil, nil, nil
}

// rewriteKustomization returns the kustomization file at path with every
// remote base or component in resources, bases and components replaced by
// the relative path of its local copy, and data itself when it has none.
func (r *remoteBases) rewriteKustomization(path string, data []byte) ([]byte, error) {
	var k map[string]any
	if err := yaml.Unmarshal(data, &k); err != nil {
		return data, nil // Kustomize reports the error itself
	}
	changed := false
	for _, field := range []string{"resources", "bases", "components"} {
		list, ok := k[field].([]any)
		if !ok {
			continue
		}
		for i, e := range list {
			raw, ok := e.(string)
			if !ok {
				continue
			}
			rb, ok := parseRemoteBase(raw)
			if !ok {
				continue
			}
			dir, err := r.localize(raw, rb)
			if err != nil {
				err = fmt.Errorf("%s: %s: %w", filepath.Base(path), field, err)
				r.mu.Lock()
				if r.err == nil {
					r.err = err
				}
				r.mu.Unlock()
				return nil, err
			}
			rel, err := filepath.Rel(filepath.Dir(path), dir)
			if err != nil {
				return nil, err
			}
			list[i] = filepath.ToSlash(rel)
			changed = true
		}
	}
	if !changed {
		return data, nil
	}
	return yaml.Marshal(k)
}
