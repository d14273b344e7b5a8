package kubernetes

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/testenv"
)

// The application the observe tests deploy: a Deployment that leaves its
// strategy to the API server's defaults, a Service and a ConfigMap.
const (
	webDeployment = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {tier: frontend}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: "nginx:1.27"}]
`
	webService = `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80}]
`
	webConfigMap = `apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data: {mode: prod}
`
)

// observed is a deployed application on the test cluster: its provider,
// repository checkout and id.
type observed struct {
	t     *testing.T
	kube  *testenv.KubeEnv
	prov  *Provider
	repo  string
	appID string
}

// deployWeb writes the web application into a fresh directory with the
// given extra application config lines (indented under spec) and applies
// it for an application id of its own, as K8S_SYNC would.
func deployWeb(t *testing.T, extraSpec string) *observed {
	t.Helper()
	kube := testenv.Kube(t)
	o := &observed{t: t, kube: kube, repo: t.TempDir(), appID: "app-" + kube.Namespace}
	for name, body := range map[string]string{
		"app.pipecd.yaml": "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n" +
			"  input: {namespace: " + kube.Namespace + "}\n" + extraSpec,
		"deployment.yaml": webDeployment, "service.yaml": webService, "configmap.yaml": webConfigMap,
	} {
		if err := os.WriteFile(filepath.Join(o.repo, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var err error
	if o.prov, err = NewProvider("local", &config.KubernetesProviderConfig{KubeConfigPath: kube.Kubeconfig}, HelmSettings{CacheDir: t.TempDir()}); err != nil {
		t.Fatal(err)
	}
	objs, err := Render(context.Background(), RenderInput{RepoDir: o.repo, AppDir: ".", ConfigFile: "app.pipecd.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	if err := labelPrimary(objs, nil, false); err != nil {
		t.Fatal(err)
	}
	if _, err := o.prov.applier.Apply(context.Background(), objs, ApplyOptions{AppID: o.appID, Commit: "c0ffee", Namespace: kube.Namespace}); err != nil {
		t.Fatal(err)
	}
	return o
}

// desired loads the application's desired state; extraSpec, when not
// empty, replaces the config's extra lines first.
func (o *observed) desired(extraSpec string) platform.DesiredState {
	o.t.Helper()
	body := "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n" +
		"  input: {namespace: " + o.kube.Namespace + "}\n" + extraSpec
	app, err := config.ParseApp("app.pipecd.yaml", []byte(body))
	if err != nil {
		o.t.Fatal(err)
	}
	ds, err := o.prov.LoadDesired(context.Background(), platform.DesiredInput{
		AppID: o.appID, AppName: "web", App: app, RepoDir: o.repo, AppDir: ".", ConfigFile: "app.pipecd.yaml", Commit: "c0ffee",
	})
	if err != nil {
		o.t.Fatal(err)
	}
	return ds
}

// drift detects drift and returns the readable diff.
func (o *observed) drift(ds platform.DesiredState) string {
	o.t.Helper()
	d, err := o.prov.DetectDrift(context.Background(), ds)
	if err != nil {
		o.t.Fatal(err)
	}
	return d.String()
}
