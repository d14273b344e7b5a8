package agent

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/gitrepo"
)

// GitAuth returns the Git credentials of the config's spec.git, reading
// its passwordFile, for the wiring to hand to parts that fetch from Git
// besides the agent's own repositories (Helm charts from other remotes).
func GitAuth(cfg *config.Agent) (gitrepo.Auth, error) {
	g := cfg.Spec.Git
	auth := gitrepo.Auth{SSHKeyFile: g.SSHKeyFile, KnownHostsFile: g.KnownHostsFile, Username: g.Username}
	if g.PasswordFile != "" {
		b, err := os.ReadFile(g.PasswordFile)
		if err != nil {
			return gitrepo.Auth{}, fmt.Errorf("%s: spec.git.passwordFile: %w", cfg.File, err)
		}
		auth.Token = strings.TrimSpace(string(b))
	}
	return auth, nil
}

// GitHosts returns the hosts the config's spec.git credentials are for:
// those of its repositories. Parts that fetch remotes an application
// config names (helmChart.gitRemote) send the credentials to these hosts
// only.
func GitHosts(cfg *config.Agent) []string {
	var hosts []string
	for _, r := range cfg.Spec.Repositories {
		if h := gitrepo.RemoteHost(r.Remote); h != "" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	return hosts
}

// URLRewrites returns the config's spec.git.urlRewrites for gitrepo.
func URLRewrites(cfg *config.Agent) []gitrepo.URLRewrite {
	out := make([]gitrepo.URLRewrite, 0, len(cfg.Spec.Git.URLRewrites))
	for _, r := range cfg.Spec.Git.URLRewrites {
		out = append(out, gitrepo.URLRewrite{From: r.From, To: r.To})
	}
	return out
}
