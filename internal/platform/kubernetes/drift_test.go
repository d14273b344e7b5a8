package kubernetes

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/util/retry"

	"github.com/ferrycd/ferry/internal/testenv"
)

// patch merge-patches the web Deployment, as kubectl edit would.
func (o *observed) patch(patch string) {
	o.t.Helper()
	dep, err := o.kube.Clientset.AppsV1().Deployments(o.kube.Namespace).Patch(context.Background(), "web", types.MergePatchType, []byte(patch), metav1.PatchOptions{})
	if err != nil {
		o.t.Fatal(err)
	}
	o.seen(dep.ResourceVersion)
}

// seen waits until the provider's informers, when they watch the web
// Deployment, hold it at resourceVersion rv or later: drift reads them
// first, and a write is not in them the moment the API server answers.
func (o *observed) seen(rv string) {
	o.t.Helper()
	want, err := strconv.ParseInt(rv, 10, 64)
	if err != nil {
		o.t.Fatalf("resourceVersion %q: %v", rv, err)
	}
	gvr := schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "deployments"}
	testenv.WaitFor(o.t, 30*time.Second, "the informers hold web at resourceVersion "+rv, func() bool {
		live, ok := o.prov.live.lookup(gvr, o.kube.Namespace, "web")
		if !ok {
			return true // not watched: drift reads the API server
		}
		got, _ := strconv.ParseInt(live.GetResourceVersion(), 10, 64)
		return got >= want
	})
}

func TestAnOutOfBandEditIsDriftAndADefaultIsNot(t *testing.T) {
	o := deployWeb(t, "")
	ds := o.desired("")
	if got := o.drift(ds); got != "" {
		t.Fatalf("right after the apply, drift =\n%s", got)
	}

	// kubectl scale, by Update: replicas drift. The strategy, which the
	// manifest leaves to the API server, is edited too and is not drift.
	ctx := context.Background()
	deps := o.kube.Clientset.AppsV1().Deployments(o.kube.Namespace)
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		dep, err := deps.Get(ctx, "web", metav1.GetOptions{})
		if err != nil {
			return err
		}
		dep.Spec.Replicas = new(int32(5))
		dep.Spec.Strategy.RollingUpdate.MaxSurge = new(intstr.FromString("50%"))
		dep.Labels["team"] = "blue" // a label of someone else's
		dep, err = deps.Update(ctx, dep, metav1.UpdateOptions{})
		if err == nil {
			o.seen(dep.ResourceVersion)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	want := "apps/v1 Deployment " + o.kube.Namespace + "/web\n  spec.replicas: 2 → 5\n"
	if diff := cmp.Diff(want, o.drift(ds)); diff != "" {
		t.Errorf("after scaling (-want +got):\n%s", diff)
	}

	// Each ignore annotation hides the object.
	for _, a := range []string{AnnotationIgnoreDrift, AnnotationPipeCDIgnoreDrift} {
		o.patch(`{"metadata":{"annotations":{"` + a + `":"true"}}}`)
		if got := o.drift(ds); got != "" {
			t.Errorf("with %s, drift =\n%s", a, got)
		}
		o.patch(`{"metadata":{"annotations":{"` + a + `":null}}}`)
	}

	// driftDetection.ignoreFields hides the field.
	ignoring := o.desired("  driftDetection:\n    ignoreFields: [\"apps/v1:Deployment:" + o.kube.Namespace + ":web#spec.replicas\"]\n")
	if got := o.drift(ignoring); got != "" {
		t.Errorf("with ignoreFields, drift =\n%s", got)
	}

	// A removed label and a changed image; then back to Git: in sync.
	o.patch(`{"metadata":{"labels":{"tier":null}},"spec":{"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.28"}]}}}}`)
	want = "apps/v1 Deployment " + o.kube.Namespace + "/web\n  - metadata.labels.tier: frontend\n  spec.replicas: 2 → 5\n" +
		"  spec.template.spec.containers.0.image: nginx:1.27 → nginx:1.28\n"
	if diff := cmp.Diff(want, o.drift(ds)); diff != "" {
		t.Errorf("after more edits (-want +got):\n%s", diff)
	}
	o.patch(`{"metadata":{"labels":{"tier":"frontend"}},"spec":{"replicas":2,"template":{"spec":{"containers":[{"name":"web","image":"nginx:1.27"}]}}}}`)
	if got := o.drift(ds); got != "" {
		t.Errorf("after reverting, drift =\n%s", got)
	}
}

func TestAMissingObjectIsDriftAndALeftoverOnlyWhenPruneWouldDeleteIt(t *testing.T) {
	o := deployWeb(t, "")
	ctx := context.Background()
	cms := o.kube.Clientset.CoreV1().ConfigMaps(o.kube.Namespace)
	if err := cms.Delete(ctx, "web-config", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	// Drift reads the informers first: wait until they lost it too.
	cmGVR := schema.GroupVersionResource{Version: "v1", Resource: "configmaps"}
	testenv.WaitFor(t, 30*time.Second, "the informers lost the deleted ConfigMap", func() bool {
		_, ok := o.prov.live.lookup(cmGVR, o.kube.Namespace, "web-config")
		return !ok
	})
	want := "v1 ConfigMap " + o.kube.Namespace + "/web-config\n  missing\n"
	if diff := cmp.Diff(want, o.drift(o.desired(""))); diff != "" {
		t.Errorf("after deleting the ConfigMap (-want +got):\n%s", diff)
	}

	// An object applied for the application that Git no longer has.
	objs, err := parseManifests("extra.yaml", []byte("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: extra}\ndata: {a: b}\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := o.prov.applier.Apply(ctx, objs, ApplyOptions{AppID: o.appID, Namespace: o.kube.Namespace}); err != nil {
		t.Fatal(err)
	}
	if got := o.drift(o.desired("")); got != want {
		t.Errorf("without prune, a leftover is drift:\n%s", got)
	}
	got := o.drift(o.desired("  quickSync: {prune: true}\n"))
	if !strings.Contains(got, "v1 ConfigMap "+o.kube.Namespace+"/extra\n  not in Git\n") {
		t.Errorf("with prune, drift =\n%s\nwant the leftover ConfigMap not in Git", got)
	}
	// Copies of the labels are not the application's.
	copyCM := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "copy", Labels: map[string]string{LabelManagedBy: ManagedByFerry, LabelApplication: o.appID}}}
	if _, err := cms.Create(ctx, copyCM, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if got := o.drift(o.desired("  quickSync: {prune: true}\n")); strings.Contains(got, "/copy") {
		t.Errorf("an object with copied labels is drift:\n%s", got)
	}
}
