package webhook

import (
	"context"
	"net"
	"net/http"
	"strings"

	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/store"
)

// route publishes a NoticeRepositoryPushed to every enabled agent, in any
// project, that follows the pushed branch of the pushed repository, through
// the bus that reaches the agent's stream on whichever replica it is.
//
// The agent index is rebuilt for each push rather than cached: it is one
// query over a table of a few rows (agents are few, and their repositories
// are a column of the same row), it runs only for authenticated requests,
// and it is never stale, so a repository an agent reported a moment ago on
// another replica matches at once with nothing to invalidate.
func (r *Receiver) route(ctx context.Context, provider string, p *push) reply {
	enabled := false
	agents, err := r.agents.ListAgents(ctx, store.AgentFilter{Disabled: &enabled})
	if err != nil {
		r.logger.ErrorContext(ctx, "webhook: list agents", "provider", provider, "error", err)
		return refuse(http.StatusServiceUnavailable, resultError, "datastore unavailable, try again")
	}
	keys := map[string]bool{}
	for _, u := range p.remotes {
		keys[remoteKey(u)] = true
	}
	matched, notified := 0, 0
	for _, a := range agents {
		for _, repo := range a.Repositories {
			if repo.Branch != p.branch || !keys[remoteKey(repo.Remote)] {
				continue
			}
			matched++
			err := r.hub.Publish(ctx, a.ID, hub.Item{Notice: &hub.Notice{
				Kind: hub.NoticeRepositoryPushed, RepositoryID: repo.ID, Branch: p.branch, CommitHash: p.commit,
			}})
			if err != nil {
				// The agent still fetches on its next poll.
				r.logger.WarnContext(ctx, "webhook: notice fan-out failed", "provider", provider, "agent_id", a.ID, "error", err)
				continue
			}
			notified++
		}
	}
	result := resultMatched
	if matched == 0 {
		result = resultUnmatched
	}
	// The normalised key carries no credentials, unlike the URLs given.
	r.logger.InfoContext(ctx, "webhook push routed", "provider", provider, "repository", remoteKey(p.remotes[0]),
		"branch", p.branch, "commit", p.commit, "matched", matched, "notified", notified)
	return reply{status: http.StatusOK, result: result, body: map[string]any{"notified": notified, "matched": matched}}
}

// remoteKey reduces a Git remote URL to what identifies the repository, so
// the forms one repository is known by compare equal:
//
//	git@github.com:org/apps.git
//	ssh://git@github.com:22/org/apps
//	https://token@github.com/org/apps.git/
//
// all become "github.com/org/apps". Scheme, credentials, port, query,
// trailing slashes and ".git" are dropped. The whole key is lower-cased,
// path included: GitHub, GitLab and Bitbucket treat owner and repository
// names case-insensitively and a payload spells them canonically, which the
// remote in an agent's config may not; a false match on a case-sensitive
// server costs only an extra fetch. A local path (or file:// URL) keeps an
// empty host: "/srv/git/apps". It returns "" for what names no repository.
func remoteKey(remote string) string {
	s := strings.TrimSpace(remote)
	var host, path string
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		if scheme == "" || strings.ContainsAny(scheme, "/@:") {
			return ""
		}
		host, path, _ = strings.Cut(rest, "/")
	} else if i := strings.Index(s, ":"); i > 0 && !strings.Contains(s[:i], "/") {
		host, path = s[:i], s[i+1:] // scp-like: [user@]host:path
	} else {
		path = s
	}
	if i := strings.LastIndex(host, "@"); i >= 0 {
		host = host[i+1:]
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if i := strings.IndexAny(path, "?#"); i >= 0 {
		path = path[:i]
	}
	path = strings.Trim(path, "/")
	path = strings.Trim(strings.TrimSuffix(path, ".git"), "/")
	if path == "" {
		return ""
	}
	return strings.ToLower(host + "/" + path)
}
