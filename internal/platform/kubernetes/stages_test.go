package kubernetes

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/testenv"
)

// pipelineApp is an application deployed stage by stage into a test
// namespace: a checkout per commit, a provider, and the commit that runs.
type pipelineApp struct {
	t       *testing.T
	kube    *testenv.KubeEnv
	prov    *Provider
	appID   string
	commits map[string]string // commit → checkout
	running string
}

func newPipelineApp(t *testing.T) *pipelineApp {
	t.Helper()
	kube := testenv.Kube(t)
	prov, err := NewProvider("local", &config.KubernetesProviderConfig{KubeConfigPath: kube.Kubeconfig}, HelmSettings{CacheDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { prov.Close() })
	return &pipelineApp{t: t, kube: kube, prov: prov, appID: "app-" + kube.Namespace, commits: map[string]string{}}
}

// commit writes a checkout for commit holding the application config
// (spec lines, indented under spec, after name and input) and files.
func (a *pipelineApp) commit(commit, spec string, files map[string]string) {
	a.t.Helper()
	dir := filepath.Join(a.t.TempDir(), commit)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		a.t.Fatal(err)
	}
	files = maps.Clone(files)
	files["app.pipecd.yaml"] = "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n" +
		"  input: {namespace: " + a.kube.Namespace + "}\n" + spec
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			a.t.Fatal(err)
		}
	}
	a.commits[commit] = dir
}

// appConfig parses a commit's application config.
func (a *pipelineApp) appConfig(commit string) *config.AppConfig {
	a.t.Helper()
	data, err := os.ReadFile(filepath.Join(a.commits[commit], "app.pipecd.yaml"))
	if err != nil {
		a.t.Fatal(err)
	}
	app, err := config.ParseApp("app.pipecd.yaml", data)
	if err != nil {
		a.t.Fatal(err)
	}
	return app
}

// input is the StageInput of the named stage of target's pipeline (its
// n-th of that name, from 0), or of a planner stage (no Config) when the
// pipeline has none of the name.
func (a *pipelineApp) input(target, stage string, n int) (platform.StageInput, *memMetadata) {
	a.t.Helper()
	app := a.appConfig(target)
	var cfg *config.PipelineStage
	if p := app.Generic.Pipeline; p != nil {
		for i := range p.Stages {
			if p.Stages[i].Name == stage {
				if n == 0 {
					cfg = &p.Stages[i]
					break
				}
				n--
			}
		}
	}
	md := &memMetadata{kv: map[string]string{}}
	in := platform.StageInput{
		Deployment: &ferryv1.Deployment{
			Id: "d-" + target, ApplicationId: a.appID, ApplicationName: "web",
			GitPath:           &ferryv1.GitPath{ConfigFilename: "app.pipecd.yaml"},
			Trigger:           &ferryv1.Trigger{Commit: &ferryv1.Commit{Hash: target}},
			RunningCommitHash: a.running,
		},
		Stage:  &ferryv1.Stage{Id: stage, Name: stage},
		Config: cfg, App: app, RepoDir: a.commits[target], AppDir: ".",
		Log: testLog{a.t}, Metadata: md,
	}
	if a.running != "" {
		in.RunningRepoDir, in.RunningAppDir = a.commits[a.running], "."
		in.RunningApp = a.appConfig(a.running)
	}
	return in, md
}

// run runs a stage (see input) and returns its error and metadata.
func (a *pipelineApp) run(target, stage string, n int) (*memMetadata, error) {
	a.t.Helper()
	in, md := a.input(target, stage, n)
	exec := a.prov.Executor(stage)
	if exec == nil {
		a.t.Fatalf("no executor for %s", stage)
	}
	a.t.Logf("--- %s (commit %s, running %q)", stage, target, a.running)
	return md, exec.Execute(context.Background(), in)
}

// must runs a stage that must succeed.
func (a *pipelineApp) must(target, stage string, n int) *memMetadata {
	a.t.Helper()
	md, err := a.run(target, stage, n)
	if err != nil {
		a.t.Fatalf("%s: %v", stage, err)
	}
	return md
}

// deployments returns the namespace's Deployments by name.
func (a *pipelineApp) deployments() map[string]appsv1.Deployment {
	a.t.Helper()
	l, err := a.kube.Clientset.AppsV1().Deployments(a.kube.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		a.t.Fatal(err)
	}
	out := map[string]appsv1.Deployment{}
	for _, d := range l.Items {
		out[d.Name] = d
	}
	return out
}

// keysOf returns a map's keys in order.
func keysOf[V any](m map[string]V) []string {
	return slices.Sorted(maps.Keys(m))
}

// image is a Deployment's first container's image.
func image(d appsv1.Deployment) string { return d.Spec.Template.Spec.Containers[0].Image }

// service reads a Service of the namespace.
func (a *pipelineApp) service(name string) *corev1.Service {
	a.t.Helper()
	s, err := a.kube.Clientset.CoreV1().Services(a.kube.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if err != nil {
		a.t.Fatal(err)
	}
	return s
}

// get reads any object of the namespace, nil when it does not exist.
func (a *pipelineApp) get(gvr schema.GroupVersionResource, name string) *unstructured.Unstructured {
	a.t.Helper()
	obj, err := a.kube.Dynamic.Resource(gvr).Namespace(a.kube.Namespace).Get(context.Background(), name, metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		a.t.Fatal(err)
	}
	return obj
}

// memMetadata is stage metadata kept in memory.
type memMetadata struct {
	mu sync.Mutex
	kv map[string]string
}

func (m *memMetadata) Get(key string) (string, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	v, ok := m.kv[key]
	return v, ok
}

func (m *memMetadata) Put(_ context.Context, kv map[string]string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	maps.Copy(m.kv, kv)
	return nil
}

// testLog writes a stage's log to the test's.
type testLog struct{ t *testing.T }

func (l testLog) Info(msg string)    { l.t.Log(msg) }
func (l testLog) Success(msg string) { l.t.Log("OK " + msg) }
func (l testLog) Error(msg string)   { l.t.Log("ERROR " + msg) }

// webFiles are the manifests of a web application at one version: a
// Deployment of replicas pods running image, which mounts a ConfigMap and
// reads a Secret, and its Service (with extra selector lines).
func webFiles(image string, replicas int, level string) map[string]string {
	return map[string]string{
		"deployment.yaml": fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, labels: {app: web}}
spec:
  replicas: %d
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
        - name: web
          image: %s
          env:
            - name: PASSWORD
              valueFrom: {secretKeyRef: {name: web-secret, key: password}}
          volumeMounts: [{name: config, mountPath: /etc/web}]
      volumes:
        - name: config
          configMap: {name: web-config}
`, replicas, image),
		"service.yaml": `apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{port: 80, targetPort: 8080}]
`,
		"config.yaml": `apiVersion: v1
kind: ConfigMap
metadata: {name: web-config}
data:
  level: ` + level + `
  envoy.yaml: |
    listener: {port: 8080}
    timeout: 5s
---
apiVersion: v1
kind: Secret
metadata: {name: web-secret}
stringData: {password: hunter2}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unused}
data: {a: b}
`,
	}
}

// canaryPipeline is PipeCD's canary example.
const canaryPipeline = `  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
        with: {replicas: 10%}
      - name: K8S_PRIMARY_ROLLOUT
      - name: K8S_CANARY_CLEAN
`

var (
	configMapsGVR = schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	secretsGVR    = schema.GroupVersionResource{Version: "v1", Resource: "secrets"}
	servicesGVR   = schema.GroupVersionResource{Version: "v1", Resource: "services"}
)

func TestCanaryThenPrimaryThenCleanLeavesOnlyTheNewPrimary(t *testing.T) {
	t.Parallel()
	a := newPipelineApp(t)
	a.commit("v1", canaryPipeline, webFiles("web:v1", 10, "info"))
	a.commit("v2", canaryPipeline, webFiles("web:v2", 10, "debug"))
	a.must("v1", StageSync, 0)
	a.running = "v1"

	md := a.must("v2", StageCanaryRollout, 0)
	deps := a.deployments()
	if diff := cmp.Diff([]string{"web", "web-canary"}, keysOf(deps)); diff != "" {
		t.Fatalf("Deployments after the canary (-want +got):\n%s", diff)
	}
	canary := deps["web-canary"]
	if got, want := image(canary), "web:v2"; got != want {
		t.Errorf("canary image = %s, want %s", got, want)
	}
	if got := *canary.Spec.Replicas; got != 1 {
		t.Errorf("canary replicas = %d, want 1 (10%% of 10)", got)
	}
	if got := image(deps["web"]); got != "web:v1" {
		t.Errorf("primary image during the canary = %s, want web:v1", got)
	}
	variant := map[string]string{"app": "web", DefaultVariantLabelKey: "canary"}
	if diff := cmp.Diff(variant, canary.Spec.Selector.MatchLabels); diff != "" {
		t.Errorf("canary selector (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(variant, canary.Spec.Template.Labels); diff != "" {
		t.Errorf("canary pod labels (-want +got):\n%s", diff)
	}
	if l := canary.Labels; l[DefaultVariantLabelKey] != "canary" || l[LabelManagedBy] != ManagedByFerry || l[LabelApplication] != a.appID {
		t.Errorf("canary labels = %v, want the variant and Ferry's ownership labels", l)
	}
	if got := deps["web"].Spec.Template.Labels[DefaultVariantLabelKey]; got != "primary" {
		t.Errorf("primary pod label %s = %q, want primary", DefaultVariantLabelKey, got)
	}
	// The canary runs with its own copies of the configuration it uses.
	pod := canary.Spec.Template.Spec
	if got := pod.Volumes[0].ConfigMap.Name; got != "web-config-canary" {
		t.Errorf("canary mounts ConfigMap %s, want web-config-canary", got)
	}
	if got := pod.Containers[0].Env[0].ValueFrom.SecretKeyRef.Name; got != "web-secret-canary" {
		t.Errorf("canary reads Secret %s, want web-secret-canary", got)
	}
	cm := a.get(configMapsGVR, "web-config-canary")
	if cm == nil {
		t.Fatal("no ConfigMap web-config-canary")
	}
	if lvl, _, _ := unstructured.NestedString(cm.Object, "data", "level"); lvl != "debug" {
		t.Errorf("canary ConfigMap level = %q, want the target's debug", lvl)
	}
	if a.get(secretsGVR, "web-secret-canary") == nil {
		t.Error("no Secret web-secret-canary")
	}
	if a.get(configMapsGVR, "unused-canary") != nil {
		t.Error("a ConfigMap no workload uses was copied")
	}
	if got := a.get(configMapsGVR, "web-config"); got == nil || got.Object["data"].(map[string]any)["level"] != "info" {
		t.Errorf("the primary's ConfigMap changed during the canary: %v", got)
	}
	res, _ := md.Get(MetadataCanaryResources)
	for _, want := range []string{"apps:Deployment:" + a.kube.Namespace + ":web-canary", ":ConfigMap:" + a.kube.Namespace + ":web-config-canary"} {
		if !strings.Contains(res, want) {
			t.Errorf("metadata %s = %q, want %s in it", MetadataCanaryResources, res, want)
		}
	}
	// A resumed stage runs again safely.
	a.must("v2", StageCanaryRollout, 0)

	a.must("v2", StagePrimaryRollout, 0)
	if got := image(a.deployments()["web"]); got != "web:v2" {
		t.Errorf("primary image after the primary rollout = %s, want web:v2", got)
	}
	if _, ok := a.deployments()["web-canary"]; !ok {
		t.Error("the primary rollout deleted the canary")
	}

	a.must("v2", StageCanaryClean, 0)
	deps = a.deployments()
	if diff := cmp.Diff([]string{"web"}, keysOf(deps)); diff != "" {
		t.Errorf("Deployments after the clean (-want +got):\n%s", diff)
	}
	if got := image(deps["web"]); got != "web:v2" {
		t.Errorf("primary image = %s, want web:v2", got)
	}
	for _, gvr := range []schema.GroupVersionResource{configMapsGVR, secretsGVR} {
		l, err := a.kube.Dynamic.Resource(gvr).Namespace(a.kube.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: DefaultVariantLabelKey})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) != 0 {
			t.Errorf("%s of a variant left after the clean: %d", gvr.Resource, len(l.Items))
		}
	}
	// Foreground deletion: the canary's pods are gone when the stage ends.
	pods, err := a.kube.Clientset.CoreV1().Pods(a.kube.Namespace).List(context.Background(), metav1.ListOptions{LabelSelector: DefaultVariantLabelKey + "=canary"})
	if err != nil {
		t.Fatal(err)
	}
	if len(pods.Items) != 0 {
		t.Errorf("%d canary pods left after the clean", len(pods.Items))
	}
	// Cleaning again finds nothing and succeeds.
	a.must("v2", StageCanaryClean, 0)
}

func TestBaselineRunsTheRunningVersion(t *testing.T) {
	t.Parallel()
	a := newPipelineApp(t)
	pipeline := `  pipeline:
    stages:
      - name: K8S_BASELINE_ROLLOUT
        with: {replicas: 2, createService: true}
      - name: K8S_BASELINE_CLEAN
`
	a.commit("v1", pipeline, webFiles("web:v1", 4, "info"))
	a.commit("v2", pipeline, webFiles("web:v2", 4, "debug"))

	// A first deployment has no running version to make a baseline of.
	_, err := a.run("v1", StageBaselineRollout, 0)
	if err == nil || !strings.Contains(err.Error(), "first deployment") {
		t.Fatalf("baseline on a first deployment: err = %v, want one saying it is the first deployment", err)
	}

	a.must("v1", StageSync, 0)
	a.running = "v1"
	a.must("v2", StageBaselineRollout, 0)
	deps := a.deployments()
	if diff := cmp.Diff([]string{"web", "web-baseline"}, keysOf(deps)); diff != "" {
		t.Fatalf("Deployments (-want +got):\n%s", diff)
	}
	b := deps["web-baseline"]
	if got := image(b); got != "web:v1" {
		t.Errorf("baseline image = %s, want the running web:v1", got)
	}
	if got := *b.Spec.Replicas; got != 2 {
		t.Errorf("baseline replicas = %d, want 2", got)
	}
	if got := b.Spec.Template.Labels[DefaultVariantLabelKey]; got != "baseline" {
		t.Errorf("baseline pod label = %q, want baseline", got)
	}
	cm := a.get(configMapsGVR, "web-config-baseline")
	if lvl, _, _ := unstructured.NestedString(cm.Object, "data", "level"); lvl != "info" {
		t.Errorf("baseline ConfigMap level = %q, want the running info", lvl)
	}
	svc := a.service("web-baseline")
	if diff := cmp.Diff(map[string]string{"app": "web", DefaultVariantLabelKey: "baseline"}, svc.Spec.Selector); diff != "" {
		t.Errorf("baseline Service selector (-want +got):\n%s", diff)
	}

	a.must("v2", StageBaselineClean, 0)
	if diff := cmp.Diff([]string{"web"}, keysOf(a.deployments())); diff != "" {
		t.Errorf("Deployments after the clean (-want +got):\n%s", diff)
	}
	if a.get(servicesGVR, "web-baseline") != nil {
		t.Error("the baseline's Service is left")
	}
}

func TestPodSelectorBlueGreenFlipsTheServiceToTheCanaryAndBack(t *testing.T) {
	t.Parallel()
	a := newPipelineApp(t)
	// PipeCD's blue-green example.
	pipeline := `  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
        with: {replicas: 100%}
      - name: K8S_TRAFFIC_ROUTING
        with: {all: canary}
      - name: K8S_PRIMARY_ROLLOUT
      - name: K8S_TRAFFIC_ROUTING
        with: {all: primary}
      - name: K8S_CANARY_CLEAN
      - name: K8S_TRAFFIC_ROUTING
        with: {primary: 50, canary: 50}
`
	a.commit("v1", pipeline, webFiles("web:v1", 3, "info"))
	a.commit("v2", pipeline, webFiles("web:v2", 3, "info"))
	a.must("v1", StageSync, 0)
	a.running = "v1"

	a.must("v2", StageCanaryRollout, 0)
	if got := *a.deployments()["web-canary"].Spec.Replicas; got != 3 {
		t.Errorf("canary replicas = %d, want 3 (100%% of 3)", got)
	}
	md := a.must("v2", StageTrafficRouting, 0)
	if got := a.service("web").Spec.Selector[DefaultVariantLabelKey]; got != "canary" {
		t.Errorf("after routing all to the canary, the Service selects %s=%q", DefaultVariantLabelKey, got)
	}
	want := map[string]string{MetadataPrimaryPercentage: "0", MetadataCanaryPercentage: "100", MetadataBaselinePercentage: "0"}
	if diff := cmp.Diff(want, md.kv); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	a.must("v2", StagePrimaryRollout, 0)
	a.must("v2", StageTrafficRouting, 1)
	if got := a.service("web").Spec.Selector[DefaultVariantLabelKey]; got != "primary" {
		t.Errorf("after routing all to the primary, the Service selects %s=%q", DefaultVariantLabelKey, got)
	}
	a.must("v2", StageCanaryClean, 0)
	if got := image(a.deployments()["web"]); got != "web:v2" {
		t.Errorf("primary image = %s, want web:v2", got)
	}

	// A pod selector cannot split traffic.
	_, err := a.run("v2", StageTrafficRouting, 2)
	if err == nil || !strings.Contains(err.Error(), "one variant to 100%") {
		t.Errorf("routing 50/50 by pod selector: err = %v, want one asking for one variant at 100%%", err)
	}
}

// installCRD applies a CRD of testdata/crds (shared by the tests: applying
// it again changes nothing) and waits until it serves its kind.
func installCRD(t *testing.T, a *pipelineApp, file string) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "crds", file))
	if err != nil {
		t.Fatal(err)
	}
	objs, err := parseManifests(file, data)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.prov.applier.Apply(context.Background(), objs, ApplyOptions{AppID: "test-crds"}); err != nil {
		t.Fatal(err)
	}
}

// weightsIn returns, per route of a VirtualService (by name) or rule of an
// HTTPRoute (by index), its destinations as "host/subset=weight" or
// backends as "name=weight".
func weightsIn(obj *unstructured.Unstructured) map[string][]string {
	out := map[string][]string{}
	if obj.GetKind() == "VirtualService" {
		routes, _, _ := unstructured.NestedSlice(obj.Object, "spec", "http")
		for _, r := range routes {
			rm := r.(map[string]any)
			for _, d := range rm["route"].([]any) {
				dm := d.(map[string]any)
				dest := dm["destination"].(map[string]any)
				s := fmt.Sprint(dest["host"])
				if sub, ok := dest["subset"]; ok {
					s += "/" + fmt.Sprint(sub)
				}
				if p, ok := dest["port"].(map[string]any); ok {
					s += fmt.Sprintf(":%v", p["number"])
				}
				if w, ok := dm["weight"]; ok {
					s += fmt.Sprintf("=%v", w)
				}
				out[fmt.Sprint(rm["name"])] = append(out[fmt.Sprint(rm["name"])], s)
			}
		}
		return out
	}
	rules, _, _ := unstructured.NestedSlice(obj.Object, "spec", "rules")
	for i, r := range rules {
		for _, b := range r.(map[string]any)["backendRefs"].([]any) {
			bm := b.(map[string]any)
			out[fmt.Sprint(i)] = append(out[fmt.Sprint(i)], fmt.Sprintf("%v:%v=%v", bm["name"], bm["port"], bm["weight"]))
		}
	}
	return out
}

func TestIstioRoutingWritesVirtualServiceWeightsAndRollbackRestoresThem(t *testing.T) {
	t.Parallel()
	a := newPipelineApp(t)
	// The VirtualService CRD of istio.io/api (see the file's header).
	installCRD(t, a, "istio-virtualservice.yaml")
	spec := `  trafficRouting:
    method: istio
    istio: {host: web, editableRoutes: [main, mirror]}
  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
      - name: K8S_BASELINE_ROLLOUT
      - name: K8S_TRAFFIC_ROUTING
        with: {primary: 80, canary: 10, baseline: 10}
      - name: K8S_PRIMARY_ROLLOUT
`
	vs := `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web}
spec:
  hosts: [web.example.com]
  http:
    - name: main
      route:
        - destination: {host: web, port: {number: 80}}
    - name: admin
      route:
        - destination: {host: web, port: {number: 80}}
          weight: 100
    - name: mirror
      route:
        - destination: {host: web, port: {number: 80}}
          weight: 80
        - destination: {host: legacy}
          weight: 20
`
	for _, v := range []string{"v1", "v2"} {
		files := webFiles("web:"+v, 2, "info")
		files["virtualservice.yaml"] = vs
		a.commit(v, spec, files)
	}
	gvr := schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1", Resource: "virtualservices"}
	a.must("v1", StageSync, 0)
	a.running = "v1"
	a.must("v2", StageCanaryRollout, 0)
	a.must("v2", StageBaselineRollout, 0)
	md := a.must("v2", StageTrafficRouting, 0)
	want := map[string][]string{
		"main":   {"web/primary:80=80", "web/canary:80=10", "web/baseline:80=10"},
		"admin":  {"web:80=100"},
		"mirror": {"web/primary:80=64", "web/canary:80=8", "web/baseline:80=8", "legacy=20"},
	}
	if diff := cmp.Diff(want, weightsIn(a.get(gvr, "web"))); diff != "" {
		t.Errorf("VirtualService routes after routing 80/10/10 (-want +got):\n%s", diff)
	}
	wantMD := map[string]string{MetadataPrimaryPercentage: "80", MetadataCanaryPercentage: "10", MetadataBaselinePercentage: "10"}
	if diff := cmp.Diff(wantMD, md.kv); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	// The primary rollout leaves the split alone.
	a.must("v2", StagePrimaryRollout, 0)
	if diff := cmp.Diff(want, weightsIn(a.get(gvr, "web"))); diff != "" {
		t.Errorf("VirtualService routes after the primary rollout (-want +got):\n%s", diff)
	}

	a.must("v2", "ROLLBACK", 0)
	want = map[string][]string{
		"main":   {"web/primary:80=100", "web/canary:80=0", "web/baseline:80=0"},
		"admin":  {"web:80=100"},
		"mirror": {"web/primary:80=80", "web/canary:80=0", "web/baseline:80=0", "legacy=20"},
	}
	if diff := cmp.Diff(want, weightsIn(a.get(gvr, "web"))); diff != "" {
		t.Errorf("VirtualService routes after the rollback (-want +got):\n%s", diff)
	}
	deps := a.deployments()
	if diff := cmp.Diff([]string{"web"}, keysOf(deps)); diff != "" {
		t.Errorf("Deployments after the rollback (-want +got):\n%s", diff)
	}
	if got := image(deps["web"]); got != "web:v1" {
		t.Errorf("primary image after the rollback = %s, want web:v1", got)
	}
}

func TestGatewayAPIRoutingWritesHTTPRouteWeights(t *testing.T) {
	t.Parallel()
	a := newPipelineApp(t)
	// The HTTPRoute CRD of sigs.k8s.io/gateway-api (see the file's header).
	installCRD(t, a, "gatewayapi-httproute.yaml")
	spec := `  trafficRouting:
    method: gatewayapi
    gatewayAPI: {httpRoute: {name: web}, rules: [0]}
  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
        with: {createService: true}
      - name: K8S_TRAFFIC_ROUTING
        with: {primary: 80, canary: 20}
      - name: K8S_TRAFFIC_ROUTING
        with: {all: primary}
`
	route := `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web}
spec:
  parentRefs: [{name: gateway}]
  rules:
    - backendRefs: [{name: web, port: 80}]
    - matches: [{path: {type: PathPrefix, value: /admin}}]
      backendRefs: [{name: web, port: 80}]
`
	for _, v := range []string{"v1", "v2"} {
		files := webFiles("web:"+v, 2, "info")
		files["httproute.yaml"] = route
		a.commit(v, spec, files)
	}
	gvr := schema.GroupVersionResource{Group: "gateway.networking.k8s.io", Version: "v1", Resource: "httproutes"}
	a.must("v1", StageSync, 0)
	a.running = "v1"
	a.must("v2", StageCanaryRollout, 0)
	if got := a.service("web-canary").Spec.Selector[DefaultVariantLabelKey]; got != "canary" {
		t.Errorf("Service web-canary selects %s=%q, want canary", DefaultVariantLabelKey, got)
	}
	md := a.must("v2", StageTrafficRouting, 0)
	// Rule 1 is not among trafficRouting.gatewayAPI.rules: the API
	// server's default weight, 1, stays.
	want := map[string][]string{"0": {"web:80=80", "web-canary:80=20"}, "1": {"web:80=1"}}
	if diff := cmp.Diff(want, weightsIn(a.get(gvr, "web"))); diff != "" {
		t.Errorf("HTTPRoute backends after routing 80/20 (-want +got):\n%s", diff)
	}
	wantMD := map[string]string{MetadataPrimaryPercentage: "80", MetadataCanaryPercentage: "20", MetadataBaselinePercentage: "0"}
	if diff := cmp.Diff(wantMD, md.kv); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	a.must("v2", StageTrafficRouting, 1)
	want = map[string][]string{"0": {"web:80=100"}, "1": {"web:80=1"}}
	if diff := cmp.Diff(want, weightsIn(a.get(gvr, "web"))); diff != "" {
		t.Errorf("HTTPRoute backends after routing all to the primary (-want +got):\n%s", diff)
	}
}

func TestSMIRoutingWritesTrafficSplitWeights(t *testing.T) {
	t.Parallel()
	a := newPipelineApp(t)
	// A TrafficSplit CRD written from the SMI spec (see the file's header).
	installCRD(t, a, "smi-trafficsplit.yaml")
	spec := `  trafficRouting:
    method: smi
  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
        with: {createService: true}
      - name: K8S_BASELINE_ROLLOUT
        with: {createService: true}
      - name: K8S_TRAFFIC_ROUTING
        with: {primary: 70, canary: 20, baseline: 10}
      - name: K8S_PRIMARY_ROLLOUT
`
	split := `apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: web}
spec:
  service: web
  backends:
    - {service: web, weight: 90}
    - {service: legacy, weight: 10}
`
	for _, v := range []string{"v1", "v2"} {
		files := webFiles("web:"+v, 2, "info")
		files["trafficsplit.yaml"] = split
		a.commit(v, spec, files)
	}
	gvr := schema.GroupVersionResource{Group: smiGroup, Version: "v1alpha2", Resource: "trafficsplits"}
	backends := func() []string {
		t.Helper()
		obj := a.get(gvr, "web")
		if root, _, _ := unstructured.NestedString(obj.Object, "spec", "service"); root != "web" {
			t.Errorf("spec.service = %q, want web", root)
		}
		list, _, _ := unstructured.NestedSlice(obj.Object, "spec", "backends")
		var out []string
		for _, b := range list {
			bm := b.(map[string]any)
			out = append(out, fmt.Sprintf("%v=%v", bm["service"], bm["weight"]))
		}
		return out
	}
	a.must("v1", StageSync, 0)
	if diff := cmp.Diff([]string{"web=90", "legacy=10"}, backends()); diff != "" {
		t.Errorf("TrafficSplit backends after the sync (-want +got):\n%s", diff)
	}
	a.running = "v1"
	a.must("v2", StageCanaryRollout, 0)
	a.must("v2", StageBaselineRollout, 0)
	md := a.must("v2", StageTrafficRouting, 0)
	// The legacy backend keeps its 10; the variants share the other 90.
	want := []string{"web=63", "web-canary=18", "web-baseline=9", "legacy=10"}
	if diff := cmp.Diff(want, backends()); diff != "" {
		t.Errorf("TrafficSplit backends after routing 70/20/10 (-want +got):\n%s", diff)
	}
	wantMD := map[string]string{MetadataPrimaryPercentage: "70", MetadataCanaryPercentage: "20", MetadataBaselinePercentage: "10"}
	if diff := cmp.Diff(wantMD, md.kv); diff != "" {
		t.Errorf("metadata (-want +got):\n%s", diff)
	}
	// The Services the split sends traffic to exist (service fails the
	// test otherwise).
	a.service("web-canary")
	a.service("web-baseline")
	// The primary rollout leaves the split alone; the rollback sends all
	// traffic back to the primary.
	a.must("v2", StagePrimaryRollout, 0)
	if diff := cmp.Diff(want, backends()); diff != "" {
		t.Errorf("TrafficSplit backends after the primary rollout (-want +got):\n%s", diff)
	}
	a.must("v2", "ROLLBACK", 0)
	if diff := cmp.Diff([]string{"web=90", "legacy=10"}, backends()); diff != "" {
		t.Errorf("TrafficSplit backends after the rollback (-want +got):\n%s", diff)
	}
}

func TestRollbackRemovesVariantsAndRestoresTheRunningManifests(t *testing.T) {
	t.Parallel()
	a := newPipelineApp(t)
	pipeline := `  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
        with: {replicas: 100%, createService: true}
      - name: K8S_BASELINE_ROLLOUT
      - name: K8S_TRAFFIC_ROUTING
        with: {all: canary}
      - name: K8S_PRIMARY_ROLLOUT
`
	a.commit("v1", pipeline, webFiles("web:v1", 2, "info"))
	a.commit("v2", pipeline, webFiles("web:v2", 2, "debug"))

	// A first deployment's rollback deletes what its stages made.
	a.must("v1", StageCanaryRollout, 0)
	a.must("v1", "ROLLBACK", 0)
	if got := keysOf(a.deployments()); len(got) != 0 {
		t.Errorf("Deployments after a first deployment's rollback: %v, want none", got)
	}

	a.must("v1", StageSync, 0)
	a.running = "v1"
	a.must("v2", StageCanaryRollout, 0)
	a.must("v2", StageBaselineRollout, 0)
	a.must("v2", StageTrafficRouting, 0)
	a.must("v2", StagePrimaryRollout, 0)
	if got := image(a.deployments()["web"]); got != "web:v2" {
		t.Fatalf("primary image before the rollback = %s, want web:v2", got)
	}

	a.must("v2", StageRollback, 0)
	deps := a.deployments()
	if diff := cmp.Diff([]string{"web"}, keysOf(deps)); diff != "" {
		t.Errorf("Deployments after the rollback (-want +got):\n%s", diff)
	}
	if got := image(deps["web"]); got != "web:v1" {
		t.Errorf("primary image after the rollback = %s, want web:v1", got)
	}
	// The Service is the running commit's again: the variant label the
	// routing stage put in its selector is gone with the canary.
	if diff := cmp.Diff(map[string]string{"app": "web"}, a.service("web").Spec.Selector); diff != "" {
		t.Errorf("Service selector after the rollback (-want +got):\n%s", diff)
	}
	if lvl, _, _ := unstructured.NestedString(a.get(configMapsGVR, "web-config").Object, "data", "level"); lvl != "info" {
		t.Errorf("ConfigMap level after the rollback = %q, want the running info", lvl)
	}
	for _, left := range []struct {
		gvr  schema.GroupVersionResource
		name string
	}{{servicesGVR, "web-canary"}, {configMapsGVR, "web-config-canary"}, {configMapsGVR, "web-config-baseline"}} {
		if a.get(left.gvr, left.name) != nil {
			t.Errorf("%s %s is left after the rollback", left.gvr.Resource, left.name)
		}
	}
}

func TestCanaryPatchesApplyToTheCanaryOnly(t *testing.T) {
	t.Parallel()
	a := newPipelineApp(t)
	pipeline := `  pipeline:
    stages:
      - name: K8S_CANARY_ROLLOUT
        with:
          patches:
            - target: {kind: Deployment, name: web}
              ops:
                - {op: yaml-replace, path: "$.spec.template.spec.containers[0].image", value: "web:v2-debug"}
            - target: {kind: ConfigMap, name: web-config, documentRoot: "$.data.'envoy.yaml'"}
              ops:
                - {op: text-regex, path: "timeout: \\d+s", value: "timeout: 1s"}
`
	a.commit("v1", pipeline, webFiles("web:v1", 2, "info"))
	a.commit("v2", pipeline, webFiles("web:v2", 2, "info"))
	a.must("v1", StageSync, 0)
	a.running = "v1"
	a.must("v2", StageCanaryRollout, 0)
	deps := a.deployments()
	if got := image(deps["web-canary"]); got != "web:v2-debug" {
		t.Errorf("canary image = %s, want the patched web:v2-debug", got)
	}
	if got := image(deps["web"]); got != "web:v1" {
		t.Errorf("primary image = %s, want web:v1", got)
	}
	envoy := func(name string) string {
		s, _, _ := unstructured.NestedString(a.get(configMapsGVR, name).Object, "data", "envoy.yaml")
		return s
	}
	if got := envoy("web-config-canary"); !strings.Contains(got, "timeout: 1s") {
		t.Errorf("canary envoy.yaml = %q, want the patched timeout", got)
	}
	if got := envoy("web-config"); !strings.Contains(got, "timeout: 5s") {
		t.Errorf("primary envoy.yaml = %q, want it untouched", got)
	}
}

func TestAStageEndsSoonAfterItsContextIsCancelled(t *testing.T) {
	t.Parallel()
	a := newPipelineApp(t)
	files := webFiles("web:v1", 1, "info")
	// Pods no node takes: the canary never becomes healthy.
	files["deployment.yaml"] = strings.Replace(files["deployment.yaml"], "      containers:", "      nodeSelector: {no-such: node}\n      containers:", 1)
	a.commit("v1", "", webFiles("web:v1", 1, "info"))
	a.commit("v2", "", files)
	a.must("v1", StageSync, 0)
	a.running = "v1"
	in, _ := a.input("v2", StageCanaryRollout, 0)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.prov.Executor(StageCanaryRollout).Execute(ctx, in) }()
	testenv.WaitFor(t, 30*time.Second, "the canary Deployment exists", func() bool {
		_, ok := a.deployments()["web-canary"]
		return ok
	})
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", err)
		}
	case <-time.After(time.Second):
		t.Fatal("the stage was still running a second after its context was cancelled")
	}
}
