package kubernetes

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/ferrycd/ferry/internal/config"
)

// appInput reads the application config in testdata/dir, so the tests use
// the input as users write it.
func appInput(t *testing.T, dir string) config.KubernetesInput {
	t.Helper()
	file := filepath.Join("testdata", dir, "app.ferry.yaml")
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	app, err := config.ParseApp(file, data)
	if err != nil {
		t.Fatal(err)
	}
	return app.Kubernetes.Input
}

// names lists objects as "Kind namespace/name" for comparison.
func names(objs []*unstructured.Unstructured) []string {
	var out []string
	for _, o := range objs {
		out = append(out, o.GetKind()+" "+o.GetNamespace()+"/"+o.GetName())
	}
	return out
}

func TestRenderPlainManifests(t *testing.T) {
	tests := []struct {
		name      string
		manifests []string
		want      []string
	}{{
		name: "every yaml and json file but the app configs is read, lists flattened",
		want: []string{"Deployment /web", "Service /web", "ConfigMap /one", "ConfigMap /two", "ConfigMap /settings"},
	}, {
		name:      "input.manifests picks files in its order",
		manifests: []string{"settings.json", "deployment.yaml"},
		want:      []string{"ConfigMap /settings", "Deployment /web", "Service /web"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			objs, err := Render(context.Background(), RenderInput{
				RepoDir: "testdata", AppDir: "plain", AppName: "plain",
				Input: config.KubernetesInput{Manifests: tt.manifests},
			})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, names(objs)); diff != "" {
				t.Errorf("objects (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRenderErrorsNameTheFile(t *testing.T) {
	tests := []struct {
		name    string
		in      RenderInput
		want    string
		wantErr *ManifestError
	}{{
		name:    "bad YAML in a later document reports the file's line",
		in:      RenderInput{AppDir: "badyaml", Input: config.KubernetesInput{Manifests: []string{"good.yaml", "bad.yaml"}}},
		wantErr: &ManifestError{File: "badyaml/bad.yaml", Line: 12},
	}, {
		name:    "a listed manifest that does not exist is named",
		in:      RenderInput{AppDir: "plain", Input: config.KubernetesInput{Manifests: []string{"missing.yaml"}}},
		wantErr: &ManifestError{File: "plain/missing.yaml"},
	}, {
		name: "a manifest outside the repository is refused",
		in:   RenderInput{AppDir: "escape", Input: appInput(t, "escape")},
		want: "outside the repository",
	}, {
		name: "an application dir outside the repository is refused",
		in:   RenderInput{AppDir: "../../kubernetes"},
		want: "outside the repository",
	}, {
		name: "a chart from another Git remote needs a ref",
		in:   RenderInput{AppDir: "helm/app", Input: config.KubernetesInput{HelmChart: &config.HelmChart{GitRemote: "git@example.com:charts.git", Path: "hello"}}},
		want: "spec.input.helmChart.ref is required with gitRemote",
	}, {
		name: "kustomize's helm inflation is refused with what to do instead",
		in:   RenderInput{AppDir: "kustomize/overlays/prod", Input: config.KubernetesInput{KustomizeOptions: map[string]string{"enable_helm": ""}}},
		want: "render the chart with input.helmChart instead",
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.in.RepoDir = "testdata"
			_, err := Render(context.Background(), tt.in)
			if err == nil {
				t.Fatal("Render succeeded, want an error")
			}
			if tt.wantErr != nil {
				var me *ManifestError
				if !errors.As(err, &me) {
					t.Fatalf("error %q is not a *ManifestError", err)
				}
				if me.File != tt.wantErr.File || me.Line != tt.wantErr.Line {
					t.Errorf("error at %s:%d, want %s:%d (%v)", me.File, me.Line, tt.wantErr.File, tt.wantErr.Line, err)
				}
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			t.Log(err)
		})
	}
}

func TestRenderKustomizeOverlayWithBaseAndPatch(t *testing.T) {
	objs, err := Render(context.Background(), RenderInput{RepoDir: "testdata", AppDir: "kustomize/overlays/prod", AppName: "api-prod"})
	if err != nil {
		t.Fatal(err)
	}
	// Kustomize's legacy order, as `kustomize build`: ConfigMaps first.
	if diff := cmp.Diff([]string{"ConfigMap /prod-api-config", "Deployment /prod-api"}, names(objs)); diff != "" {
		t.Errorf("objects (-want +got):\n%s", diff)
	}
	replicas, _, _ := unstructured.NestedInt64(objs[1].Object, "spec", "replicas")
	if replicas != 3 {
		t.Errorf("replicas = %d, want 3 from the overlay's patch", replicas)
	}
}
