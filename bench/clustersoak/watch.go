package clustersoak

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// watch counts what goes wrong in the cluster, from informers on nodes,
// node Leases and the soak's pods.
type watch struct {
	log *slog.Logger

	mu          sync.Mutex
	notReady    int
	podsUnready int
	leaseGap    time.Duration
}

// startWatch starts the informers and returns once their caches are
// synced; they stop with ctx.
func startWatch(ctx context.Context, cs kubernetes.Interface, log *slog.Logger) (*watch, error) {
	w := &watch{log: log}
	all := informers.NewSharedInformerFactory(cs, 0)
	leases := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(corev1.NamespaceNodeLease))
	pods := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(Namespace))
	if _, err := all.Core().V1().Nodes().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, cur any) { w.node(old.(*corev1.Node), cur.(*corev1.Node)) },
	}); err != nil {
		return nil, fmt.Errorf("watch nodes: %w", err)
	}
	if _, err := leases.Coordination().V1().Leases().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, cur any) { w.lease(old.(*coordinationv1.Lease), cur.(*coordinationv1.Lease)) },
	}); err != nil {
		return nil, fmt.Errorf("watch leases: %w", err)
	}
	if _, err := pods.Core().V1().Pods().Informer().AddEventHandler(cache.ResourceEventHandlerFuncs{
		UpdateFunc: func(old, cur any) { w.pod(old.(*corev1.Pod), cur.(*corev1.Pod)) },
	}); err != nil {
		return nil, fmt.Errorf("watch pods: %w", err)
	}
	for _, f := range []informers.SharedInformerFactory{all, leases, pods} {
		f.Start(ctx.Done())
		for typ, ok := range f.WaitForCacheSync(ctx.Done()) {
			if !ok {
				return nil, fmt.Errorf("watch %v: cache not synced", typ)
			}
		}
	}
	return w, nil
}

// node counts a node leaving Ready.
func (w *watch) node(old, cur *corev1.Node) {
	was, is := nodeReady(old), nodeReady(cur)
	if was && !is {
		w.mu.Lock()
		w.notReady++
		w.mu.Unlock()
		w.log.Warn("node not ready", "node", cur.Name)
	}
	if !was && is {
		w.log.Info("node ready again", "node", cur.Name)
	}
}

// lease keeps the longest gap between two renewals.
func (w *watch) lease(old, cur *coordinationv1.Lease) {
	if old.Spec.RenewTime == nil || cur.Spec.RenewTime == nil {
		return
	}
	gap := cur.Spec.RenewTime.Sub(old.Spec.RenewTime.Time)
	w.mu.Lock()
	defer w.mu.Unlock()
	w.leaseGap = max(w.leaseGap, gap)
}

// pod counts a running pod turning unready.
func (w *watch) pod(old, cur *corev1.Pod) {
	if cur.DeletionTimestamp == nil && podReady(old) && !podReady(cur) {
		w.mu.Lock()
		w.podsUnready++
		w.mu.Unlock()
		w.log.Warn("pod made unready", "pod", cur.Name)
	}
}

// report copies the counts into r.
func (w *watch) report(r *Report) {
	w.mu.Lock()
	defer w.mu.Unlock()
	r.NotReady, r.PodsUnready, r.LeaseGap = w.notReady, w.podsUnready, w.leaseGap
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
