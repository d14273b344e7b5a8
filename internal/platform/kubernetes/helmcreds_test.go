package kubernetes

import (
	"net/http"
	"net/http/cgi"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/gitrepo"
)

// gitHTTPServer serves the Git repositories under root over smart HTTP
// (git http-backend as CGI) on loopback, without asking for credentials,
// and records the Authorization headers it is sent.
type gitHTTPServer struct {
	*httptest.Server
	mu    sync.Mutex
	auths []string
}

func serveGitHTTP(t *testing.T, root string) *gitHTTPServer {
	t.Helper()
	backend := &cgi.Handler{
		Path: filepath.Join(runGit(t, root, "--exec-path"), "git-http-backend"),
		Env:  []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1", "GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null"},
	}
	s := &gitHTTPServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" {
			s.mu.Lock()
			s.auths = append(s.auths, a)
			s.mu.Unlock()
		}
		backend.ServeHTTP(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

// authorizations returns the Authorization headers received so far.
func (s *gitHTTPServer) authorizations() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.auths...)
}

func TestTheAgentsGitCredentialsGoOnlyToTheirHosts(t *testing.T) {
	remote := chartRemote(t) // a repository named after its temp dir
	trusted := serveGitHTTP(t, filepath.Dir(remote))
	other := serveGitHTTP(t, filepath.Dir(remote))
	settings := HelmSettings{
		CacheDir: t.TempDir(),
		Git:      gitrepo.Auth{Token: "agent-t0ken", SSHKeyFile: "/agent-key"},
		// The agent's repositories are on the trusted server.
		GitHosts: []string{gitrepo.RemoteHost(trusted.URL)},
	}
	render := func(t *testing.T, base string) {
		t.Helper()
		hc := config.HelmChart{GitRemote: base + "/" + filepath.Base(remote), Ref: "v1", Path: "charts/hello"}
		if got, err := renderChartVersion(t, settings, hc); err != nil || got != "0.1.0" {
			t.Fatalf("render from %s: %s, %v", base, got, err)
		}
	}
	t.Run("a remote on another host gets none", func(t *testing.T) {
		render(t, other.URL)
		if got := other.authorizations(); len(got) > 0 {
			t.Errorf("the other host was sent credentials: %q", got)
		}
		if a := settings.gitAuth(other.URL + "/charts.git"); a.Token != "" || a.SSHKeyFile != "" {
			t.Errorf("credentials for another host: %+v, want none", a)
		}
		if a := settings.gitAuth("git@evil.example:org/charts.git"); a.SSHKeyFile != "" {
			t.Errorf("SSH key for another host: %s, want none", a.SSHKeyFile)
		}
	})
	t.Run("a remote on the agent's repositories' host gets them", func(t *testing.T) {
		render(t, trusted.URL)
		got := trusted.authorizations()
		if len(got) == 0 || !strings.HasPrefix(got[0], "Basic ") {
			t.Errorf("the trusted host got no credentials: %q", got)
		}
	})
}

func TestAnAppsInsecureDoesNotWeakenARepositoryWithCredentials(t *testing.T) {
	srv := httptest.NewTLSServer(chartRepositoryHandler(t)) // a certificate the agent does not trust
	t.Cleanup(srv.Close)
	settings := HelmSettings{
		CacheDir:     t.TempDir(),
		Repositories: []HelmRepository{{Name: "charts", Address: srv.URL, Username: "user", Password: "secret"}},
	}
	_, err := renderChartVersion(t, settings, config.HelmChart{Repository: "charts", Name: "hello", Version: "0.1.0", Insecure: true})
	wantError(t, err, []string{"helmChart.insecure", `chart repository "charts"`, "chartRepositories"}, "secret")

	// The agent config may say so itself.
	settings.Repositories[0].Insecure = true
	if _, err := renderChartVersion(t, settings, config.HelmChart{Repository: "charts", Name: "hello", Version: "0.1.0"}); err != nil {
		t.Errorf("a repository the agent config makes insecure: %v", err)
	}
}

func TestAnAppsInsecureDoesNotWeakenARegistryWithCredentials(t *testing.T) {
	host := ociRegistry(t, true)
	settings := HelmSettings{CacheDir: t.TempDir(), Registries: []HelmRegistry{{Address: host, Username: "user", Password: "secret"}}}
	hc := config.HelmChart{Repository: "oci://" + host + "/charts", Name: "hello", Version: "0.1.0", Insecure: true}
	_, err := renderChartVersion(t, settings, hc)
	wantError(t, err, []string{"helmChart.insecure", host, "chartRegistries"}, "secret")
	hc.Insecure = false
	if _, err := renderChartVersion(t, settings, hc); err != nil {
		t.Errorf("without insecure: %v", err)
	}
}
