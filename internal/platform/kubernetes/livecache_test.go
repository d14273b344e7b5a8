package kubernetes

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"

	"github.com/ferrycd/ferry/internal/testenv"
)

// TestAWatchedApplicationIsReappliedOnlyWhereItChanged: once an
// application is watched, a sync applies only the objects whose manifests
// changed or that were edited in the cluster; the rest are left alone.
func TestAWatchedApplicationIsReappliedOnlyWhereItChanged(t *testing.T) {
	o := deployWeb(t, "")
	ctx, cancel := context.WithCancel(context.Background())
	view := newLiveView()
	done := make(chan error, 1)
	go func() { done <- o.prov.WatchLiveState(ctx, o.desired(""), view.emit) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("watch: %v", err)
		}
	}()
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
