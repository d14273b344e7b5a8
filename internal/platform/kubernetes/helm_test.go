package kubernetes

import (
	"context"
	"io"
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
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "user" || p != "secret" {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
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

func TestRenderHelmChartFromOCIRegistry(t *testing.T) {
	reg := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)
	host := strings.TrimPrefix(reg.URL, "http://")
	client, err := helmregistry.NewClient(helmregistry.ClientOptPlainHTTP(),
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
