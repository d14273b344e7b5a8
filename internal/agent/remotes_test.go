package agent_test

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/ferrycd/ferry/internal/agent"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform/kubernetes"
	"github.com/ferrycd/ferry/internal/secrets"
	"github.com/ferrycd/ferry/internal/testenv"
)

// remoteSources is where the sources the examples take from other places
// live (testdata/remote/README.md).
var remoteSources = filepath.Join("testdata", "remote")

// exampleRemotes are the places, other than the application repository,
// the examples point at, served by the test: the Git repositories behind
// https://github.com/ferrycd/ and the chart repository ferrycd.
type exampleRemotes struct {
	// GitRoot holds bare repositories named as on GitHub
	// (kustomize-bases.git, charts.git); the agent reaches it through its
	// urlRewrites.
	GitRoot string
	// ChartRepo is the URL of the Helm chart repository.
	ChartRepo string
}

// serveExampleRemotes publishes testdata/remote: Git repositories tagged
// v1.0.0, and the charts as a Helm chart repository over HTTP.
func serveExampleRemotes(t *testing.T) exampleRemotes {
	t.Helper()
	root := t.TempDir()
	for _, name := range []string{"kustomize-bases", "charts"} {
		bareRepository(t, filepath.Join(remoteSources, name), filepath.Join(root, name+".git"))
	}
	return exampleRemotes{GitRoot: root, ChartRepo: chartRepository(t, filepath.Join(remoteSources, "charts"))}
}

// bareRepository makes a bare Git repository at dst whose one commit, on
// main and tagged v1.0.0, holds the files of src.
func bareRepository(t *testing.T, src, dst string) {
	t.Helper()
	work := t.TempDir()
	if err := os.CopyFS(work, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	git(t, work, "init", "-q", "-b", "main")
	git(t, work, "add", "-A")
	git(t, work, "commit", "-q", "-m", "v1.0.0")
	git(t, work, "tag", "v1.0.0")
	git(t, filepath.Dir(dst), "clone", "-q", "--bare", work, dst)
}

// chartRepository packages every chart in dir and serves them, with their
// index, as a Helm chart repository until the test ends; it returns the
// repository's URL.
func chartRepository(t *testing.T, dir string) string {
	t.Helper()
	out := t.TempDir()
	srv := httptest.NewServer(http.FileServer(http.Dir(out)))
	t.Cleanup(srv.Close)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		c, err := loader.LoadDir(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := chartutil.Save(c, out); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := repo.IndexDirectory(out, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(out, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	return srv.URL
}

// kubeProviderFor makes the Kubernetes provider on the local cluster with
// the Helm settings of the agent config, as `ferry agent run` does: its
// chartRepositories, and its Git repositories' hosts and urlRewrites.
func kubeProviderFor(t *testing.T, kube *testenv.KubeEnv, cfg *config.Agent) *kubernetes.Provider {
	t.Helper()
	helm := kubernetes.HelmSettings{CacheDir: t.TempDir(), GitHosts: agent.GitHosts(cfg), URLRewrites: agent.URLRewrites(cfg)}
	for _, r := range cfg.Spec.ChartRepositories {
		helm.Repositories = append(helm.Repositories, kubernetes.HelmRepository{
			Name: r.Name, Address: r.Address, Username: r.Username, Password: r.Password,
			Insecure: r.Insecure, GitRemote: r.GitRemote, SSHKeyFile: r.SSHKeyFile,
		})
	}
	// The agent's secretManagement reaches the provider as ferry agent run
	// hands it over.
	var opts []kubernetes.Option
	if cfg.Spec.SecretManagement != nil {
		keys, err := secrets.FromConfig(cfg.Spec.SecretManagement)
		if err != nil {
			t.Fatal(err)
		}
		opts = append(opts, kubernetes.WithDecrypter(keys))
	}
	prov, err := kubernetes.NewProvider("local", &config.KubernetesProviderConfig{KubeConfigPath: kube.Kubeconfig}, helm, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = prov.Close() })
	return prov
}
