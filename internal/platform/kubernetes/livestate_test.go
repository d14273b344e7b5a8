package kubernetes

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/platform"
)

// liveView applies a watch's updates, as the agent's reporter does, and
// lets a test wait for a condition on the result.
type liveView struct {
	mu       sync.Mutex
	changed  chan struct{}
	full     int
	res      map[string]model.ResourceState
	declared map[string]bool
}

func newLiveView() *liveView {
	return &liveView{changed: make(chan struct{}, 1), res: map[string]model.ResourceState{}, declared: map[string]bool{}}
}

func (v *liveView) emit(u platform.LiveUpdate) {
	v.mu.Lock()
	if u.Full {
		v.full++
		clear(v.res)
	}
	for _, c := range u.Changes {
		if c.Deleted {
			delete(v.res, c.Resource.ID)
			continue
		}
		v.res[c.Resource.ID] = c.Resource
		v.declared[c.Resource.ID] = c.Declared
	}
	v.mu.Unlock()
	select {
	case v.changed <- struct{}{}:
	default:
	}
}

// tree draws the resources as indented "Kind name HEALTH" lines, children
// under their parents, pod names cut to their ReplicaSet's prefix.
func (v *liveView) tree() string {
	v.mu.Lock()
	defer v.mu.Unlock()
	var lines []string
	var draw func(parent string, depth int)
	draw = func(parent string, depth int) {
		var level []string
		for id, r := range v.res {
			if (parent == "" && len(r.ParentIDs) == 0) || (len(r.ParentIDs) > 0 && r.ParentIDs[0] == parent) {
				level = append(level, id)
			}
		}
		sort.Slice(level, func(i, j int) bool {
			return v.res[level[i]].Kind+v.res[level[i]].Name < v.res[level[j]].Kind+v.res[level[j]].Name
		})
		for _, id := range level {
			r := v.res[id]
			lines = append(lines, fmt.Sprintf("%s%s %s", strings.Repeat("  ", depth), r.Kind, r.Health))
			draw(id, depth+1)
		}
	}
	draw("", 0)
	return strings.Join(lines, "\n")
}

// waitTree waits until the drawn tree is want.
func (v *liveView) waitTree(t *testing.T, want string) {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		if got := v.tree(); got == want {
			return
		}
		select {
		case <-v.changed:
		case <-deadline:
			t.Fatalf("live tree:\n%s\nwant:\n%s", v.tree(), want)
		}
	}
}

func TestTheLiveTreeGoesFromDeploymentsToPods(t *testing.T) {
	o := deployWeb(t, "")
	ctx := context.Background()
	view := newLiveView()
	stop, err := o.prov.StartLiveState(ctx, o.desired(""), view.emit)
	if err != nil {
		t.Fatalf("watch: %v", err)
	}
	defer stop()

	// A pod of nobody's in the same namespace stays out.
	stray := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "stray"}, Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "c", Image: "busybox"}}}}
	if _, err := o.kube.Clientset.CoreV1().Pods(o.kube.Namespace).Create(ctx, stray, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	view.waitTree(t, `ConfigMap HEALTHY
Deployment HEALTHY
  ReplicaSet HEALTHY
    Pod HEALTHY
    Pod HEALTHY
Service HEALTHY`)

	o.patch(`{"spec":{"replicas":3}}`)
	view.waitTree(t, `ConfigMap HEALTHY
Deployment HEALTHY
  ReplicaSet HEALTHY
    Pod HEALTHY
    Pod HEALTHY
    Pod HEALTHY
Service HEALTHY`)

	if err := o.kube.Clientset.CoreV1().ConfigMaps(o.kube.Namespace).Delete(ctx, "web-config", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	view.waitTree(t, `Deployment HEALTHY
  ReplicaSet HEALTHY
    Pod HEALTHY
    Pod HEALTHY
    Pod HEALTHY
Service HEALTHY`)

	view.mu.Lock()
	defer view.mu.Unlock()
	if view.full != 1 {
		t.Errorf("%d full updates, want 1", view.full)
	}
	for id, r := range view.res {
		if want := r.Kind != "ReplicaSet" && r.Kind != "Pod"; view.declared[id] != want {
			t.Errorf("%s %s declared = %v, want %v", r.Kind, r.Name, view.declared[id], want)
		}
	}
}
