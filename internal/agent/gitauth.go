package agent

import (
	"fmt"
	"os"
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
