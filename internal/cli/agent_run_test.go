package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/gitrepo"
	"github.com/ferrycd/ferry/internal/platform/kubernetes"
)

func TestHelmSettingsComeFromTheAgentConfig(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if err := os.WriteFile(token, []byte("tok\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := &config.Agent{Spec: config.AgentSpec{
		Git: config.AgentGit{Username: "ferry", SSHKeyFile: "/ssh", PasswordFile: token,
			URLRewrites: []config.URLRewrite{{From: "https://github.com/", To: "https://git.mirror.example/"}}},
		Repositories: []config.AgentRepository{{RepoID: "apps", Remote: "https://git.example.com/org/apps.git", Branch: "main"}},
		ChartRepositories: []config.ChartRepository{
			{Type: config.ChartRepositoryHTTP, Name: "web", Address: "https://charts.example.com", Username: "u", Password: "p", Insecure: true},
			{Type: config.ChartRepositoryGit, Name: "git", GitRemote: "git@example.com:org/charts.git", SSHKeyFile: "/charts-key"},
		},
		ChartRegistries: []config.ChartRegistry{{Type: config.ChartRegistryOCI, Address: "registry.example.com", Username: "u", Password: "p"}},
	}}
	got, err := helmSettings(cfg, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := kubernetes.HelmSettings{
		CacheDir: filepath.Join(dir, "helm"),
		Repositories: []kubernetes.HelmRepository{
			{Name: "web", Address: "https://charts.example.com", Username: "u", Password: "p", Insecure: true},
			{Name: "git", GitRemote: "git@example.com:org/charts.git", SSHKeyFile: "/charts-key"},
		},
		Registries:  []kubernetes.HelmRegistry{{Address: "registry.example.com", Username: "u", Password: "p"}},
		Git:         gitrepo.Auth{SSHKeyFile: "/ssh", Username: "ferry", Token: "tok"},
		GitHosts:    []string{"git.example.com"},
		URLRewrites: []gitrepo.URLRewrite{{From: "https://github.com/", To: "https://git.mirror.example/"}},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreUnexported(kubernetes.HelmRepository{})); diff != "" {
		t.Errorf("settings (-want +got):\n%s", diff)
	}
}

// An agent whose secretManagement key cannot be read does not start.
func TestBuildProvidersRefusesABadSecretKey(t *testing.T) {
	cfg := &config.Agent{File: "agent.yaml", Spec: config.AgentSpec{
		SecretManagement: &config.SecretManagement{Type: config.SecretManagementKeyPair, Config: config.SecretKeyPair{
			PrivateKeyFile: filepath.Join(t.TempDir(), "missing"), PublicKeyFile: "/p",
		}},
	}}
	_, err := buildProviders(cfg, t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "agent.yaml: spec.secretManagement: privateKeyFile") {
		t.Errorf("err = %v, want it to name agent.yaml and spec.secretManagement's privateKeyFile", err)
	}
}
