package kubernetes

import (
	"context"
	"io"
	"log"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/provenance"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/gitrepo"
)

// renderChartVersion renders the test app with a chart from repository
// name and returns the chart version the ConfigMap's label shows.
func renderChartVersion(t *testing.T, settings HelmSettings, hc config.HelmChart) (string, error) {
	t.Helper()
	objs, err := Render(context.Background(), RenderInput{
		RepoDir: "testdata", AppDir: "helm/app", AppName: "hello", Helm: settings,
		Input: config.KubernetesInput{HelmChart: &hc},
	})
	if err != nil {
		return "", err
	}
	return objs[1].GetLabels()["chart-version"], nil
}

// wantError fails the test unless err says all of want and none of never.
func wantError(t *testing.T, err error, want []string, never ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want an error saying %q", want)
	}
	t.Log(err)
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not say %q", err, w)
		}
	}
	for _, n := range never {
		if strings.Contains(err.Error(), n) {
			t.Errorf("error %q shows %q", err, n)
		}
	}
}

func TestHelmChartRepositoryCredentials(t *testing.T) {
	srv := chartRepository(t)
	hc := config.HelmChart{Repository: "charts", Name: "hello", Version: "0.1.0"}
	settings := func(user, password string) HelmSettings {
		return HelmSettings{CacheDir: t.TempDir(), Repositories: []HelmRepository{{Name: "charts", Address: srv.URL, Username: user, Password: password}}}
	}
	t.Run("a wrong password is refused with a clear error that does not show it", func(t *testing.T) {
		_, err := renderChartVersion(t, settings("user", "wr0ng-Pa55"), hc)
		wantError(t, err, []string{"helm chart hello from " + srv.URL, "refused the credentials", "401", "chartRepositories"}, "wr0ng-Pa55")
	})
	t.Run("no credentials for a repository that asks for them is a clear error", func(t *testing.T) {
		_, err := renderChartVersion(t, settings("", ""), hc)
		wantError(t, err, []string{"asks for credentials", "set username and password"})
	})
	t.Run("credentials in the address are not shown", func(t *testing.T) {
		s := settings("", "")
		s.Repositories[0].Address = strings.Replace(srv.URL, "http://", "http://user:wr0ng-Pa55@", 1)
		_, err := renderChartVersion(t, s, hc)
		wantError(t, err, []string{"helm chart hello"}, "wr0ng-Pa55")
	})
}

func TestHelmChartRepositoryWithInsecureTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(chartRepositoryHandler(t))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake below
	srv.StartTLS()
	t.Cleanup(srv.Close)
	repo := HelmRepository{Name: "charts", Address: srv.URL, Username: "user", Password: "secret"}
	hc := config.HelmChart{Repository: "charts", Name: "hello", Version: "0.2.0"}
	_, err := renderChartVersion(t, HelmSettings{CacheDir: t.TempDir(), Repositories: []HelmRepository{repo}}, hc)
	wantError(t, err, []string{"certificate"})
	repo.Insecure = true
	got, err := renderChartVersion(t, HelmSettings{CacheDir: t.TempDir(), Repositories: []HelmRepository{repo}}, hc)
	if err != nil || got != "0.2.0" {
		t.Errorf("with insecure: version %q, %v; want 0.2.0", got, err)
	}
}

func TestHelmChartFromOCIRegistryWithCredentials(t *testing.T) {
	host := ociRegistry(t, true)
	hc := config.HelmChart{Repository: "oci://" + host + "/charts", Name: "hello", Version: "0.1.0"}
	for _, tt := range []struct {
		name     string
		registry HelmRegistry
	}{
		{"the registry's entry in chartRegistries logs in", HelmRegistry{Address: host, Username: "user", Password: "secret"}},
		{"an entry with a path prefix and oci:// matches too", HelmRegistry{Address: "oci://" + host + "/charts", Username: "user", Password: "secret"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := renderChartVersion(t, HelmSettings{CacheDir: t.TempDir(), Registries: []HelmRegistry{tt.registry}}, hc)
			if err != nil {
				t.Fatal(err)
			}
			if got != "0.1.0" {
				t.Errorf("chart version %s, want 0.1.0", got)
			}
		})
	}
	t.Run("a wrong password is refused with a clear error that does not show it", func(t *testing.T) {
		s := HelmSettings{CacheDir: t.TempDir(), Registries: []HelmRegistry{{Address: host, Username: "user", Password: "wr0ng-Pa55"}}}
		_, err := renderChartVersion(t, s, hc)
		wantError(t, err, []string{"log in to " + host, "chartRegistries"}, "wr0ng-Pa55")
	})
	t.Run("without credentials the pull is refused", func(t *testing.T) {
		s := HelmSettings{CacheDir: t.TempDir(), Registries: []HelmRegistry{{Address: "other.example.com", Username: "user", Password: "secret"}}}
		_, err := renderChartVersion(t, s, hc)
		wantError(t, err, []string{"the registry asks for credentials", "chartRegistries"}, "secret")
	})
}

func TestHelmChartFromGitChartRepository(t *testing.T) {
	t.Run("chart sources: the chart directory at the default branch's tip", func(t *testing.T) {
		remote := chartRemote(t)
		s := HelmSettings{CacheDir: t.TempDir(), Repositories: []HelmRepository{{Name: "in-git", GitRemote: "file://" + remote}}}
		for _, version := range []string{"", "~0.1", "0.1.0"} {
			got, err := renderChartVersion(t, s, config.HelmChart{Repository: "in-git", Name: "hello", Version: version})
			if err != nil {
				t.Fatalf("version %q: %v", version, err)
			}
			if got != "0.1.0" {
				t.Errorf("version %q: rendered %s, want 0.1.0", version, got)
			}
		}
		_, err := renderChartVersion(t, s, config.HelmChart{Repository: "in-git", Name: "hello", Version: "0.2.0"})
		wantError(t, err, []string{"charts/hello is at version 0.1.0", `does not satisfy "0.2.0"`})
		_, err = renderChartVersion(t, s, config.HelmChart{Repository: "in-git", Name: "bye"})
		wantError(t, err, []string{"helm chart bye from file://" + remote, "no chart bye"})
	})
	t.Run("a Helm repository committed to Git: index.yaml and packages", func(t *testing.T) {
		dir := t.TempDir()
		runGit(t, dir, "init", "-q", "-b", "trunk")
		idx := repo.NewIndexFile()
		for _, v := range []string{"0.1.0", "0.2.0"} {
			path := packageChart(t, filepath.Join(dir, "packages"), v)
			digest, err := provenance.DigestFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := idx.MustAdd(&chart.Metadata{APIVersion: "v2", Name: "hello", Version: v}, "packages/"+filepath.Base(path), "", digest); err != nil {
				t.Fatal(err)
			}
		}
		if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
			t.Fatal(err)
		}
		runGit(t, dir, "add", "-A")
		runGit(t, dir, "commit", "-q", "-m", "charts")
		s := HelmSettings{CacheDir: t.TempDir(), Repositories: []HelmRepository{{Name: "in-git", GitRemote: "file://" + dir}}}
		for version, want := range map[string]string{"": "0.2.0", "0.1.0": "0.1.0"} {
			got, err := renderChartVersion(t, s, config.HelmChart{Repository: "in-git", Name: "hello", Version: version})
			if err != nil {
				t.Fatalf("version %q: %v", version, err)
			}
			if got != want {
				t.Errorf("version %q: rendered %s, want %s", version, got, want)
			}
		}
	})
}

func TestAGitChartRepositoryLendsItsKeyToItsRemote(t *testing.T) {
	s := HelmSettings{
		Git:          gitrepo.Auth{SSHKeyFile: "/agent-key"},
		GitHosts:     []string{"example.com"},
		Repositories: []HelmRepository{{Name: "charts", GitRemote: "git@example.com:org/charts.git", SSHKeyFile: "/charts-key"}},
	}
	if got := s.gitAuth("git@example.com:org/charts.git").SSHKeyFile; got != "/charts-key" {
		t.Errorf("key for the repository's remote = %s, want /charts-key", got)
	}
	if got := s.gitAuth("git@example.com:org/other.git").SSHKeyFile; got != "/agent-key" {
		t.Errorf("key for another remote on the agent's host = %s, want the agent's /agent-key", got)
	}
	if got := s.gitAuth("git@example.org:org/other.git").SSHKeyFile; got != "" {
		t.Errorf("key for a remote on another host = %s, want none", got)
	}
}
