package kubernetes

import (
	"context"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-containerregistry/pkg/registry"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/provenance"
	helmregistry "helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/testenv"
)

func TestRenderHelmLocalChart(t *testing.T) {
	in := appInput(t, "helm/app")
	in.Namespace = "team"
	in.HelmOptions.APIVersions = []string{"example.com/v1"}
	in.HelmOptions.KubeVersion = "1.30.2"
	objs, err := Render(context.Background(), RenderInput{RepoDir: "testdata", AppDir: "helm/app", AppName: "hello", Input: in})
	if err != nil {
		t.Fatal(err)
	}
	// CRDs are included, the test hook is not (helm template --no-hooks).
	want := []string{"CustomResourceDefinition /widgets.example.com", "ConfigMap /hello-config", "Deployment team/hello"}
	if diff := cmp.Diff(want, names(objs)); diff != "" {
		t.Fatalf("objects (-want +got):\n%s", diff)
	}
	data, _, _ := unstructured.NestedStringMap(objs[1].Object, "data")
	wantData := map[string]string{
		"greeting": "hello from prod", // valueFiles
		"motd":     "Welcome to prod\n",
		"example":  "yes", // apiVersions
		"kube":     "v1.30.2",
	}
	if diff := cmp.Diff(wantData, data); diff != "" {
		t.Errorf("ConfigMap data (-want +got):\n%s", diff)
	}
	containers, _, _ := unstructured.NestedSlice(objs[2].Object, "spec", "template", "spec", "containers")
	if image := containers[0].(map[string]any)["image"]; image != "example.com/hello:2.0" {
		t.Errorf("image = %v, want setValues' example.com/hello:2.0", image)
	}
	replicas, _, _ := unstructured.NestedInt64(objs[2].Object, "spec", "replicas")
	if replicas != 2 {
		t.Errorf("replicas = %d, want values-prod.yaml's 2", replicas)
	}
}

// packageChart packages testdata/helm/chart at version into dir with the
// Helm SDK and returns the archive's path.
func packageChart(t *testing.T, dir, version string) string {
	t.Helper()
	c, err := loader.Load("testdata/helm/chart")
	if err != nil {
		t.Fatal(err)
	}
	c.Metadata.Version = version
	path, err := chartutil.Save(c, dir)
	if err != nil {
		t.Fatal(err)
	}
	return path
}

// chartRepository serves a chart repository with versions 0.1.0 and 0.2.0
// of the test chart on loopback, asking for user:secret.
func chartRepository(t *testing.T) *httptest.Server {
	srv := httptest.NewServer(chartRepositoryHandler(t))
	t.Cleanup(srv.Close)
	return srv
}

// chartRepositoryHandler serves the files of a chart repository with
// versions 0.1.0 and 0.2.0 of the test chart, asking for user:secret.
func chartRepositoryHandler(t *testing.T) http.Handler {
	t.Helper()
	dir := t.TempDir()
	idx := repo.NewIndexFile()
	for _, v := range []string{"0.1.0", "0.2.0"} {
		path := packageChart(t, dir, v)
		digest, err := provenance.DigestFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := idx.MustAdd(&chart.Metadata{APIVersion: "v2", Name: "hello", Version: v}, filepath.Base(path), "", digest); err != nil {
			t.Fatal(err)
		}
	}
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := http.FileServer(http.Dir(dir))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "user" || p != "secret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		files.ServeHTTP(w, r)
	})
}

func TestRenderHelmChartFromRepository(t *testing.T) {
	srv := chartRepository(t)
	settings := HelmSettings{
		CacheDir:     t.TempDir(),
		Repositories: []HelmRepository{{Name: "charts", Address: srv.URL, Username: "user", Password: "secret"}},
	}
	render := func(version string) (string, error) {
		objs, err := Render(context.Background(), RenderInput{
			RepoDir: "testdata", AppDir: "helm/app", AppName: "hello", Helm: settings,
			Input: config.KubernetesInput{HelmChart: &config.HelmChart{Repository: "charts", Name: "hello", Version: version}},
		})
		if err != nil {
			return "", err
		}
		return objs[1].GetLabels()["chart-version"], nil
	}
	tests := []struct{ name, version, want string }{
		{"a pinned version is downloaded from the repository named in the agent config", "0.1.0", "0.1.0"},
		{"no version means the newest", "", "0.2.0"},
		{"a range picks the newest match", "~0.1", "0.1.0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := render(tt.version)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("rendered chart version %s, want %s", got, tt.want)
			}
		})
	}
	t.Run("a pinned version is served from the cache once downloaded", func(t *testing.T) {
		srv.Close()
		if _, err := render("0.1.0"); err != nil {
			t.Fatal(err)
		}
		if _, err := render("0.2.1"); err == nil {
			t.Error("an uncached version rendered with the repository down")
		}
	})
}

// ociRegistry serves an OCI registry on loopback holding versions 0.1.0
// and 0.3.0 of the test chart under charts/hello, and returns its host.
// With auth, it asks for user:secret as a registry behind basic
// authentication does.
func ociRegistry(t *testing.T, auth bool) string {
	t.Helper()
	reg := registry.New(registry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); auth && (!ok || u != "user" || p != "secret") {
			w.Header().Set("WWW-Authenticate", `Basic realm="test"`)
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	client, err := helmregistry.NewClient(helmregistry.ClientOptPlainHTTP(), helmregistry.ClientOptBasicAuth("user", "secret"),
		helmregistry.ClientOptCredentialsFile(filepath.Join(t.TempDir(), "config.json")))
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range []string{"0.1.0", "0.3.0"} {
		data, err := os.ReadFile(packageChart(t, t.TempDir(), v))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := client.Push(data, host+"/charts/hello:"+v); err != nil {
			t.Fatal(err)
		}
	}
	return host
}

func TestRenderHelmChartFromOCIRegistry(t *testing.T) {
	host := ociRegistry(t, false)
	for _, tt := range []struct{ name, version, want string }{
		{"a pinned version is pulled from the registry", "0.1.0", "0.1.0"},
		{"no version means the newest tag", "", "0.3.0"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Render(context.Background(), RenderInput{
				RepoDir: "testdata", AppDir: "helm/app", AppName: "hello", Helm: HelmSettings{CacheDir: t.TempDir()},
				Input: config.KubernetesInput{HelmChart: &config.HelmChart{Repository: "oci://" + host + "/charts", Name: "hello", Version: tt.version}},
			})
			if err != nil {
				t.Fatal(err)
			}
			if got := objs[1].GetLabels()["chart-version"]; got != tt.want {
				t.Errorf("rendered chart version %s, want %s", got, tt.want)
			}
		})
	}
}

// copyDir copies the files of src into dst.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dst, rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
}

// setChartVersion rewrites the version in the Chart.yaml in dir.
func setChartVersion(t *testing.T, dir, version string) {
	t.Helper()
	file := filepath.Join(dir, "Chart.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for line := range strings.Lines(string(data)) {
		if strings.HasPrefix(line, "version:") {
			line = "version: " + version + "\n"
		}
		out = append(out, line)
	}
	if err := os.WriteFile(file, []byte(strings.Join(out, "")), 0o644); err != nil {
		t.Fatal(err)
	}
}

// chartRemote makes a Git repository holding the test chart at
// charts/hello, version 0.1.0 tagged v1, and returns its directory.
func chartRemote(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	testenv.Git(t, dir, "init", "-q", "-b", "main")
	copyDir(t, "testdata/helm/chart", filepath.Join(dir, "charts", "hello"))
	testenv.Git(t, dir, "add", "-A")
	testenv.Git(t, dir, "commit", "-q", "-m", "hello 0.1.0")
	testenv.Git(t, dir, "tag", "v1")
	return dir
}

func TestRenderHelmChartFromGitRemote(t *testing.T) {
	remote := chartRemote(t)
	settings := HelmSettings{CacheDir: t.TempDir()}
	render := func(t *testing.T, hc config.HelmChart) (string, error) {
		t.Helper()
		hc.GitRemote = "file://" + remote
		objs, err := Render(context.Background(), RenderInput{
			RepoDir: "testdata", AppDir: "helm/app", AppName: "hello", Helm: settings,
			Input: config.KubernetesInput{HelmChart: &hc},
		})
		if err != nil {
			return "", err
		}
		return objs[1].GetLabels()["chart-version"], nil
	}
	mustRender := func(t *testing.T, ref, want string) {
		t.Helper()
		got, err := render(t, config.HelmChart{Ref: ref, Path: "charts/hello"})
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("chart version at %s = %s, want %s", ref, got, want)
		}
	}
	t.Run("a tag", func(t *testing.T) { mustRender(t, "v1", "0.1.0") })

	// A new commit on main: the branch is fetched again, the tag still
	// names the old chart.
	setChartVersion(t, filepath.Join(remote, "charts", "hello"), "0.2.0")
	testenv.Git(t, remote, "commit", "-q", "-am", "hello 0.2.0")
	second := testenv.Git(t, remote, "rev-parse", "HEAD")
	t.Run("a branch after a new commit", func(t *testing.T) { mustRender(t, "main", "0.2.0") })
	t.Run("the tag after the new commit", func(t *testing.T) { mustRender(t, "v1", "0.1.0") })

	t.Run("a commit already fetched renders without the remote", func(t *testing.T) {
		if err := os.Rename(remote, remote+".gone"); err != nil {
			t.Fatal(err)
		}
		defer func() {
			if err := os.Rename(remote+".gone", remote); err != nil {
				t.Error(err)
			}
		}()
		mustRender(t, second[:12], "0.2.0")
		if _, err := render(t, config.HelmChart{Ref: "main", Path: "charts/hello"}); err == nil {
			t.Error("a branch rendered with the remote gone; want the fetch to fail")
		}
	})

	for _, tt := range []struct {
		name string
		hc   config.HelmChart
		want []string
	}{
		{"no ref", config.HelmChart{Path: "charts/hello"}, []string{"spec.input.helmChart.ref is required"}},
		{"an unknown ref", config.HelmChart{Ref: "nope", Path: "charts/hello"}, []string{`spec.input.helmChart.ref "nope"`, "no branch, tag or commit"}},
		{"a path without a chart", config.HelmChart{Ref: "main", Path: "charts"}, []string{`spec.input.helmChart.path "charts"`, "no Chart.yaml"}},
		{"a path leaving the repository", config.HelmChart{Ref: "main", Path: "../.."}, []string{"spec.input.helmChart.path", "leaves the repository"}},
	} {
		t.Run("an error names the field: "+tt.name, func(t *testing.T) {
			_, err := render(t, tt.hc)
			if err == nil {
				t.Fatal("rendered")
			}
			t.Log(err)
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	t.Run("an error names the field: an unreachable remote", func(t *testing.T) {
		_, err := Render(context.Background(), RenderInput{
			RepoDir: "testdata", AppDir: "helm/app", AppName: "hello", Helm: settings,
			Input: config.KubernetesInput{HelmChart: &config.HelmChart{GitRemote: "https://user:s3cret@127.0.0.1:1/charts.git", Ref: "main", Path: "hello"}},
		})
		t.Log(err)
		if err == nil || !strings.Contains(err.Error(), "spec.input.helmChart.gitRemote https://127.0.0.1:1/charts.git") || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("error = %v, want it to name spec.input.helmChart.gitRemote without the password", err)
		}
	})
}
