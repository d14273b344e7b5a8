package kubernetes

import (
	"context"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/equality"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/cache"

	"github.com/ferrycd/ferry/internal/testenv"
)

// TestAWatchedApplicationIsReappliedOnlyWhereItChanged: once an
// application is watched, a sync applies only the objects whose manifests
// changed or that were edited in the cluster; the rest are left alone.
func TestAWatchedApplicationIsReappliedOnlyWhereItChanged(t *testing.T) {
	o := deployWeb(t, "")
	ctx := context.Background()
	view := newLiveView()
	stop, err := o.prov.StartLiveState(ctx, o.desired(""), view.emit)
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer stop()
	view.waitTree(t, "ConfigMap HEALTHY\nDeployment HEALTHY\n  ReplicaSet HEALTHY\n    Pod HEALTHY\n    Pod HEALTHY\nService HEALTHY")

	objs, err := Render(ctx, RenderInput{RepoDir: o.repo, AppDir: ".", ConfigFile: "app.pipecd.yaml"})
	if err != nil {
		t.Fatal(err)
	}
	apply := func(commit string) []string {
		t.Helper()
		var lines []string
		if _, err := o.prov.applier.Apply(ctx, objs, ApplyOptions{AppID: o.appID, Commit: commit, Namespace: o.kube.Namespace,
			Log: func(s string) { lines = append(lines, s) }}); err != nil {
			t.Fatal(err)
		}
		return lines
	}
	// The first apply of this provider sends everything; the informers
	// then hold what it answered.
	apply("c1")
	waitInformers := func() {
		t.Helper()
		for _, obj := range objs {
			m, err := o.prov.applier.mapping(ctx, obj.GroupVersionKind(), false)
			if err != nil {
				t.Fatal(err)
			}
			testenv.WaitFor(t, 30*time.Second, "the informers hold "+obj.GetName(), func() bool {
				_, ok := o.prov.live.lookup(m.Resource, o.kube.Namespace, obj.GetName())
				return ok
			})
		}
	}
	waitInformers()
	if got := apply("c2"); len(got) != 1 || !strings.Contains(got[0], "left 3 objects alone") {
		t.Errorf("a second commit with the same manifests applied:\n%s", strings.Join(got, "\n"))
	}

	// An edit in the cluster is undone by the next sync, for that object.
	cms := o.kube.Clientset.CoreV1().ConfigMaps(o.kube.Namespace)
	edited, err := cms.Patch(ctx, "web-config", types.MergePatchType, []byte(`{"data":{"mode":"dev"}}`), metav1.PatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := o.prov.applier.mapping(ctx, schema.GroupVersionKind{Version: "v1", Kind: "ConfigMap"}, false)
	testenv.WaitFor(t, 30*time.Second, "the informers see the edit", func() bool {
		live, ok := o.prov.live.lookup(m.Resource, o.kube.Namespace, "web-config")
		return ok && live.GetResourceVersion() == edited.ResourceVersion
	})
	got := apply("c3")
	if len(got) != 2 || !strings.Contains(got[0], "ConfigMap "+o.kube.Namespace+"/web-config (configured)") || !strings.Contains(got[1], "left 2 objects alone") {
		t.Errorf("after an edit in the cluster:\n%s", strings.Join(got, "\n"))
	}
	cm, err := cms.Get(ctx, "web-config", metav1.GetOptions{})
	if err != nil || cm.Data["mode"] != "prod" {
		t.Errorf("web-config after the sync: %v %v, want mode prod again", cm.Data, err)
	}
}

// TestInformersHoldObjectsCompact: what the informers store is the
// object's encoding without managedFields (declared) or with only what the tree
// and health read (children), keyed like the object, and decoding it gives
// the object back, a copy of its own each time.
func TestInformersHoldObjectsCompact(t *testing.T) {
	dep := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "apps/v1", "kind": "Deployment",
		"metadata": map[string]any{
			"name": "web", "namespace": "shop", "uid": "u1", "resourceVersion": "7", "generation": int64(3),
			"labels":        map[string]any{LabelManagedBy: ManagedByFerry},
			"managedFields": []any{map[string]any{"manager": "ferry", "operation": "Apply"}},
		},
		"spec":   map[string]any{"replicas": int64(2), "template": map[string]any{"spec": map[string]any{"containers": []any{map[string]any{"name": "web", "image": "web:1"}}}}},
		"status": map[string]any{"readyReplicas": int64(2)},
	}}
	got, err := compactDeclared(dep.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	lo, ok := got.(*liveObject)
	if !ok {
		t.Fatalf("compactDeclared returned %T, want *liveObject", got)
	}
	if key, err := cache.MetaNamespaceKeyFunc(lo); err != nil || key != "shop/web" {
		t.Errorf("store key = %q, %v; want shop/web", key, err)
	}
	if lo.GetResourceVersion() != "7" || lo.GetUID() != "u1" || lo.GetGeneration() != 3 {
		t.Errorf("metadata = %+v", lo.ObjectMeta)
	}
	back, ok := decodeLive(lo)
	if !ok {
		t.Fatal("decodeLive failed")
	}
	want := dep.DeepCopy()
	want.SetManagedFields(nil)
	if !equality.Semantic.DeepEqual(back.Object, want.Object) {
		t.Errorf("decoded = %v\nwant %v", back.Object, want.Object)
	}
	back.SetName("changed")
	if again, _ := decodeLive(cache.DeletedFinalStateUnknown{Key: "shop/web", Obj: lo.DeepCopyObject()}); again.GetName() != "web" {
		t.Errorf("a decoded copy's change reached the informer's object: name %q", again.GetName())
	}

	pod := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "Pod",
		"metadata": map[string]any{
			"name": "web-1", "namespace": "shop", "uid": "p1", "labels": map[string]any{"app": "web"},
			"ownerReferences": []any{map[string]any{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-x", "uid": "r1"}},
		},
		"spec":   map[string]any{"containers": []any{map[string]any{"name": "web"}}},
		"status": map[string]any{"phase": "Running"},
	}}
	got, err = compactChild(pod)
	if err != nil {
		t.Fatal(err)
	}
	back, _ = decodeLive(got)
	if _, has := back.Object["spec"]; has || back.GetLabels() != nil {
		t.Errorf("a Pod's spec and labels are kept: %v", back.Object)
	}
	if len(back.GetOwnerReferences()) != 1 || back.Object["status"].(map[string]any)["phase"] != "Running" {
		t.Errorf("a Pod's owners or status are lost: %v", back.Object)
	}
}
