package gitrepo

import (
	"context"
	"fmt"
	"strings"

	"github.com/ferrycd/ferry/internal/model"
)

// ResolveRef returns the full hash of the commit ref names as of the last
// Fetch: a branch, else a tag, else a commit hash (full or abbreviated) the
// mirror holds, the order in which `git checkout ref` looks. It is for refs
// people write in configs, such as a chart's helmChart.ref. Errors:
// model.KindNotFound when the mirror holds nothing of that name (fetch
// first), model.KindInvalid for revision syntax (main~1, @{-1}) or an
// option. Safe for concurrent use.
func (m *Mirror) ResolveRef(ctx context.Context, ref string) (string, error) {
	if !validBranch(ref) {
		return "", invalid("resolve %q in repo %s: not a branch, tag or commit hash", ref, m.id)
	}
	for _, full := range []string{"refs/heads/" + ref, "refs/tags/" + ref} {
		hash, err := m.resolve(ctx, full)
		if err != nil {
			return "", fmt.Errorf("resolve %s in repo %s: %w", ref, m.id, err)
		}
		if hash != "" {
			return hash, nil
		}
	}
	if hashPattern.MatchString(ref) {
		if hash, err := m.resolveCommit(ctx, ref); err == nil {
			return hash, nil
		}
	}
	return "", notFound("branch, tag or commit", ref, m.id)
}

// HasCommit reports whether the mirror holds the commit hash (full or
// abbreviated) names, so a caller can skip a fetch for a commit it already
// has. Anything that is not a hash the mirror holds gives false.
func (m *Mirror) HasCommit(ctx context.Context, hash string) bool {
	_, err := m.resolveCommit(ctx, hash)
	return err == nil
}

// DefaultBranch asks the remote which branch its HEAD points at (the
// branch a clone checks out). It contacts the remote; errors are those of
// Fetch, and model.KindNotFound when the remote has no HEAD branch (an
// empty repository). Safe for concurrent use.
func (m *Mirror) DefaultBranch(ctx context.Context) (string, error) {
	m.mu.RLock()
	out, err := m.git.run(ctx, call{args: []string{"ls-remote", "--symref", "--", m.remote, "HEAD"}, gitDir: m.dir, network: true})
	m.mu.RUnlock()
	if err != nil {
		return "", model.Errorf(kindOf(err), "default branch of repo %s: %w", m.id, err)
	}
	for line := range strings.Lines(string(out)) {
		target, ok := strings.CutPrefix(line, "ref: refs/heads/")
		if ok {
			branch, _, _ := strings.Cut(target, "\t")
			return strings.TrimSpace(branch), nil
		}
	}
	return "", notFound("default branch of remote", m.remote, m.id)
}
