package kubernetes

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/ferrycd/ferry/internal/testenv"
)

// render renders the plain manifests in testdata/dir.
func render(t *testing.T, dir string) []*unstructured.Unstructured {
	t.Helper()
	objs, err := Render(context.Background(), RenderInput{RepoDir: "testdata", AppDir: dir, AppName: "test"})
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// logLines collects Apply's log lines and echoes them to the test log.
type logLines struct {
	t     *testing.T
	mu    sync.Mutex
	lines []string
}

func (l *logLines) log(msg string) {
	l.t.Log(msg)
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, msg)
}

// take returns the lines so far and forgets them.
func (l *logLines) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

// newApplier returns an Applier for the test cluster.
func newApplier(t *testing.T, env *testenv.KubeEnv) *Applier {
	t.Helper()
	a, err := NewApplier(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func TestApplyRollsOutChangesAndReappliesUnchanged(t *testing.T) {
	t.Parallel()
	env := testenv.Kube(t)
	a := newApplier(t, env)
	ctx := context.Background()
	logs := &logLines{t: t}
	ns := env.Namespace
	opts := ApplyOptions{AppID: ns, Commit: "c1", Namespace: ns, Log: logs.log}

	steps := []struct {
		name   string
		dir    string
		commit string
		want   []string
	}{{
		name: "a first apply creates every object, config before workloads",
		dir:  "apply/v1", commit: "c1",
		want: []string{
			"applied v1/ConfigMap " + ns + "/web-config (created)",
			"applied v1/Service " + ns + "/web (created)",
			"applied apps/v1/Deployment " + ns + "/web (created)",
		},
	}, {
		name: "applying the same commit again changes nothing",
		dir:  "apply/v1", commit: "c1",
		want: []string{
			"applied v1/ConfigMap " + ns + "/web-config (unchanged)",
			"applied v1/Service " + ns + "/web (unchanged)",
			"applied apps/v1/Deployment " + ns + "/web (unchanged)",
		},
	}, {
		name: "a new image rolls the Deployment out",
		dir:  "apply/v2", commit: "c2",
		want: []string{
			"applied v1/ConfigMap " + ns + "/web-config (configured)",
			"applied v1/Service " + ns + "/web (configured)",
			"applied apps/v1/Deployment " + ns + "/web (configured)",
		},
	}}
	for _, step := range steps {
		opts.Commit = step.commit
		res, err := a.Apply(ctx, render(t, step.dir), opts)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if diff := cmp.Diff(step.want, logs.take()); diff != "" {
			t.Errorf("%s: log lines (-want +got):\n%s", step.name, diff)
		}
		// A ConfigMap's apply answers with its metadata only; the result
		// still identifies the live object as the cluster has it.
		cm, err := env.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "web-config", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got := res.Objects[0]
		if got.GetKind() != "ConfigMap" || got.GetAPIVersion() != "v1" || got.GetUID() != cm.UID || got.GetResourceVersion() != cm.ResourceVersion || got.GetLabels()[LabelApplication] != ns {
			t.Errorf("%s: the ConfigMap's apply result is %s %s uid %s rv %s labels %v; the cluster has uid %s rv %s",
				step.name, got.GetAPIVersion(), got.GetKind(), got.GetUID(), got.GetResourceVersion(), got.GetLabels(), cm.UID, cm.ResourceVersion)
		}
		if err := a.WaitHealthy(ctx, res.Objects, 2*time.Minute, logs.log); err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		logs.take()
	}

	dep, err := env.Clientset.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if got := dep.Spec.Template.Spec.Containers[0].Image; got != "example.com/web:2.0.0" {
		t.Errorf("image = %s, want the new one", got)
	}
	if dep.Status.UpdatedReplicas != 2 || dep.Status.AvailableReplicas != 2 {
		t.Errorf("rollout not done when WaitHealthy returned: %+v", dep.Status)
	}
	wantLabels := map[string]string{LabelManagedBy: "ferry", LabelApplication: ns}
	wantAnnotations := map[string]string{AnnotationCommit: "c2", AnnotationResourceKey: "apps:Deployment:" + ns + ":web"}
	for k, v := range wantLabels {
		if dep.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, dep.Labels[k], v)
		}
	}
	for k, v := range wantAnnotations {
		if dep.Annotations[k] != v {
			t.Errorf("annotation %s = %q, want %q", k, dep.Annotations[k], v)
		}
	}
	for _, mf := range dep.ManagedFields {
		if mf.Operation == metav1.ManagedFieldsOperationApply && mf.Manager != FieldManager {
			t.Errorf("applied by field manager %q, want %q", mf.Manager, FieldManager)
		}
	}
}

func TestApplyPutsObjectsInTheInputNamespace(t *testing.T) {
	t.Parallel()
	env := testenv.Kube(t)
	a := newApplier(t, env)
	ctx := context.Background()
	ns := env.Namespace + "-auto"
	t.Cleanup(func() {
		err := env.Clientset.CoreV1().Namespaces().Delete(context.Background(), ns, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	})
	cm := render(t, "apply/v1")[:1] // the ConfigMap
	cm[0].SetNamespace("not-this-one")
	logs := &logLines{t: t}
	_, err := a.Apply(ctx, cm, ApplyOptions{AppID: env.Namespace, Namespace: ns, AutoCreateNamespace: true, Log: logs.log})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := env.Clientset.CoreV1().ConfigMaps(ns).Get(ctx, "web-config", metav1.GetOptions{}); err != nil {
		t.Errorf("the ConfigMap is not in the created input namespace: %v", err)
	}
	if cm[0].GetNamespace() != "not-this-one" {
		t.Error("Apply modified the caller's object")
	}

	twice := []*unstructured.Unstructured{configMap("same"), configMap("same")}
	_, err = a.Apply(ctx, twice, ApplyOptions{AppID: env.Namespace, Namespace: ns})
	if err == nil || !strings.Contains(err.Error(), "declare it twice") {
		t.Errorf("applying an object twice: %v; want an error saying so", err)
	}
}

func TestApplyCRDAndItsInstanceTogether(t *testing.T) {
	t.Parallel()
	env := testenv.Kube(t)
	a := newApplier(t, env)
	ctx := context.Background()
	// CRDs are cluster-wide: give this test's its own group, so runs of the
	// test never meet a CRD of an earlier run that is still being deleted.
	group := env.Namespace + ".ferry.test"
	objs := render(t, "apply/crd")
	objs[0].SetAPIVersion(group + "/v1")
	objs[1].SetName("gadgets." + group)
	if err := unstructured.SetNestedField(objs[1].Object, group, "spec", "group"); err != nil {
		t.Fatal(err)
	}
	crd := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	t.Cleanup(func() {
		err := env.Dynamic.Resource(crd).Delete(context.Background(), "gadgets."+group, metav1.DeleteOptions{})
		if err != nil && !apierrors.IsNotFound(err) {
			t.Error(err)
		}
	})
	// Discover before the CRD exists, so the Applier's cache must be
	// refreshed to find the new kind.
	if _, err := a.mapping(ctx, schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, false); err != nil {
		t.Fatal(err)
	}
	res, err := a.Apply(ctx, objs, ApplyOptions{AppID: env.Namespace, Namespace: env.Namespace, Log: (&logLines{t: t}).log})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"apiextensions.k8s.io:CustomResourceDefinition::gadgets." + group, group + ":Gadget:" + env.Namespace + ":first"}
	var got []string
	for _, k := range res.Applied {
		got = append(got, k.String())
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("applied (-want +got):\n%s", diff)
	}
	if err := a.WaitHealthy(ctx, res.Objects, time.Minute, (&logLines{t: t}).log); err != nil {
		t.Fatal(err)
	}
}

func TestWaitHealthyExplainsAnUnschedulablePod(t *testing.T) {
	t.Parallel()
	env := testenv.Kube(t)
	a := newApplier(t, env)
	ctx := context.Background()
	res, err := a.Apply(ctx, render(t, "apply/unschedulable"), ApplyOptions{AppID: env.Namespace, Namespace: env.Namespace})
	if err != nil {
		t.Fatal(err)
	}
	// Wait for the scheduler's verdict on the pod, so the short timeout
	// below is about WaitHealthy, not about the scheduler's speed.
	waitFor(t, func() bool {
		pods, err := env.Clientset.CoreV1().Pods(env.Namespace).List(ctx, metav1.ListOptions{LabelSelector: "app=stuck"})
		return err == nil && len(pods.Items) > 0 && podProblem(&pods.Items[0]) != ""
	})
	err = a.WaitHealthy(ctx, res.Objects, time.Second, (&logLines{t: t}).log)
	var ue *UnhealthyError
	if !errors.As(err, &ue) {
		t.Fatalf("WaitHealthy = %v, want an *UnhealthyError", err)
	}
	t.Log(err)
	if !ue.Timeout || ue.Object != "apps/v1/Deployment "+env.Namespace+"/stuck" || !strings.Contains(ue.PodReason, "Unschedulable: 0/") {
		t.Errorf("error = %+v; want a timeout naming the Deployment and the pod's Unschedulable reason", ue)
	}
}

func TestARefusedObjectSaysWhichFieldAndWhy(t *testing.T) {
	t.Parallel()
	env := testenv.Kube(t)
	a := newApplier(t, env)
	for _, tc := range []struct {
		name     string
		manifest string
		want     []string
	}{{
		name: "a Deployment with a negative replica count",
		manifest: `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: -1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: web, image: web:v1}]}
`,
		want: []string{"Deployment " + env.Namespace + "/web", "(Invalid)", "spec.replicas", "must be greater than or equal to 0"},
	}, {
		// A Secret's apply asks for metadata only, the path that told
		// "an error on the server (\"unknown\")".
		name: "a Secret with a key Kubernetes does not allow",
		manifest: `apiVersion: v1
kind: Secret
metadata: {name: bad-key}
stringData: {"no spaces allowed": x}
`,
		want: []string{"Secret " + env.Namespace + "/bad-key", "(Invalid)", "no spaces allowed", "a valid config key must consist of"},
	}, {
		name: "a Secret whose data is not base64",
		manifest: `apiVersion: v1
kind: Secret
metadata: {name: not-base64}
data: {user: YWRtaW4=, password: "{{ .encryptedSecrets.password }}"}
`,
		want: []string{"Secret " + env.Namespace + "/not-base64", "illegal base64", "data.password is not base64"},
	}} {
		t.Run(tc.name, func(t *testing.T) {
			objs, err := parseManifests("refused.yaml", []byte(tc.manifest))
			if err != nil {
				t.Fatal(err)
			}
			_, err = a.Apply(context.Background(), objs, ApplyOptions{AppID: "refused", Namespace: env.Namespace})
			if err == nil {
				t.Fatal("Apply succeeded, want a refusal")
			}
			t.Log(err)
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error does not say %q:\n%v", w, err)
				}
			}
			if strings.Contains(err.Error(), "unknown") || strings.Contains(err.Error(), "encryptedSecrets") {
				t.Errorf("error says unknown or shows a value:\n%v", err)
			}
			var se *apierrors.StatusError
			if !errors.As(err, &se) {
				t.Errorf("error %T has no StatusError in its chain", err)
			}
		})
	}
}
