package agentscale

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

// podReadier stands in for a kubelet where the local cluster's kwok does
// not: when a node misses its lease (kwok starved of CPU on a busy
// machine), the node lifecycle controller marks the node's pods not
// Ready, and kwok's stages only ready Pending pods, so a Running pod stays
// not Ready for good and every deployment waiting for it fails. Once the
// pod's node is Ready again, podReadier sets the pod's Ready condition
// back. It counts what it did, so the report shows it.
//
// It works only while a step deploys (setActive): re-readying a pod is a
// status change the agent's live state sees, and on a busy machine nodes
// keep missing leases, so an always-on readier would keep the agent busy
// through the quiet windows it is measured in. Pods left not Ready change
// no application's sync state.
type podReadier struct {
	kube    kubernetes.Interface
	log     *slog.Logger
	stop    context.CancelFunc
	nodes   cache.Indexer
	pods    cache.Store
	ctx     context.Context
	active  atomic.Bool
	readied atomic.Int64
}

// startPodReadier watches pods and nodes until stop is called.
func startPodReadier(ctx context.Context, kube kubernetes.Interface, log *slog.Logger) *podReadier {
	ctx, cancel := context.WithCancel(ctx)
	p := &podReadier{kube: kube, log: log, stop: cancel, ctx: ctx}
	f := informers.NewSharedInformerFactory(kube, 0)
	nodes := f.Core().V1().Nodes().Informer()
	p.nodes = nodes.GetIndexer()
	pods := f.Core().V1().Pods().Informer()
	p.pods = pods.GetStore()
	check := func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok && strings.HasPrefix(pod.Namespace, "bench-") {
			p.check(ctx, pod)
		}
	}
	_, _ = pods.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    check,
		UpdateFunc: func(_, obj any) { check(obj) },
	})
	// A node turning Ready again re-checks its pods.
	_, _ = nodes.AddEventHandler(cache.ResourceEventHandlerFuncs{UpdateFunc: func(_, obj any) {
		if n, ok := obj.(*corev1.Node); ok && condition(n.Status.Conditions, corev1.NodeReady) {
			for _, o := range pods.GetStore().List() {
				if pod := o.(*corev1.Pod); pod.Spec.NodeName == n.Name {
					check(pod)
				}
			}
		}
	}})
	f.Start(ctx.Done())
	return p
}

// setActive turns the readier on (checking every pod at once) or off.
func (p *podReadier) setActive(on bool) {
	if p.active.Swap(on) || !on {
		return
	}
	for _, o := range p.pods.List() {
		if pod := o.(*corev1.Pod); strings.HasPrefix(pod.Namespace, "bench-") {
			p.check(p.ctx, pod)
		}
	}
}

// check readies pod when kwok left it Running with its containers ready but
// itself not Ready, on a node that is Ready, while the readier is active.
func (p *podReadier) check(ctx context.Context, pod *corev1.Pod) {
	if !p.active.Load() || pod.Status.Phase != corev1.PodRunning || pod.DeletionTimestamp != nil {
		return
	}
	ready, containersReady := -1, false
	for i, c := range pod.Status.Conditions {
		switch c.Type {
		case corev1.PodReady:
			if c.Status != corev1.ConditionTrue {
				ready = i
			}
		case corev1.ContainersReady:
			containersReady = c.Status == corev1.ConditionTrue
		}
	}
	if ready < 0 || !containersReady {
		return
	}
	obj, ok, _ := p.nodes.GetByKey(pod.Spec.NodeName)
	if !ok || !condition(obj.(*corev1.Node).Status.Conditions, corev1.NodeReady) {
		return
	}
	pod = pod.DeepCopy()
	pod.Status.Conditions[ready].Status = corev1.ConditionTrue
	pod.Status.Conditions[ready].LastTransitionTime = metav1.NewTime(time.Now())
	if _, err := p.kube.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{}); err == nil {
		if p.readied.Add(1) == 1 {
			p.log.Warn("kwok left a pod not Ready after its node missed a lease; readying such pods", "pod", pod.Namespace+"/"+pod.Name)
		}
	}
}

// condition reports whether the node condition t is True.
func condition(cs []corev1.NodeCondition, t corev1.NodeConditionType) bool {
	for _, c := range cs {
		if c.Type == t {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}
