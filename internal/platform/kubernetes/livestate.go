package kubernetes

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/cache"

	"github.com/ferrycd/ferry/internal/platform"
)

// liveSyncTimeout is how long the initial listing of a watch may take
// before the watch says it is stuck (a list that keeps failing: the agent
// may not list a kind). It keeps waiting: the informers retry on their own.
const liveSyncTimeout = time.Minute

// The resources controllers make for workloads, watched in the namespaces
// of an application's objects so its tree reaches its pods.
var (
	replicaSetsResource = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	podsResource        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	jobsResource        = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
)

// StartLiveState implements platform.LiveStateWatcher with informers, not
// polling, shared by every application the provider watches (liveCache):
// the informers of each resource type the desired state declares (across
// namespaces, Ferry's objects) and, in the namespaces of its objects, those
// of the ReplicaSets, Pods and Jobs its workloads make (every object: those
// carry no Ferry label), joined to the application through their
// ownerReferences. Resource ids are object UIDs; health is Health's.
//
// Kinds the cluster does not serve are left out until the next watch. A
// goroutine waits for the informers' initial listing and sends the first
// snapshot; if that takes over a minute it emits an Err update and waits
// on.
func (p *Provider) StartLiveState(ctx context.Context, ds platform.DesiredState, emit func(platform.LiveUpdate)) (func(), error) {
	d, ok := ds.(*desiredState)
	if !ok {
		return nil, fmt.Errorf("watch live state: %T is not a Kubernetes desired state", ds)
	}
	targets, err := d.targets(ctx, p.applier)
	if err != nil {
		return nil, fmt.Errorf("watch live state of %s: %w", d.appID, err)
	}
	declared, children, namespaces := watchPlan(targets)
	var synced []cache.DoneChecker
	need := func(key informerKey) error {
		li, err := p.live.informer(key)
		if err != nil {
			return fmt.Errorf("watch live state of %s: %w", d.appID, err)
		}
		synced = append(synced, li.synced)
		return nil
	}
	for _, gvr := range declared {
		if err := need(informerKey{gvr: gvr, declared: true}); err != nil {
			return nil, err
		}
	}
	for _, ns := range namespaces {
		for _, gvr := range children {
			if err := need(informerKey{gvr: gvr, namespace: ns}); err != nil {
				return nil, err
			}
		}
	}
	sub := p.live.index.subscribe(d.appID, emit)
	wctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for first := true; ; first = false {
			sctx, stop := context.WithTimeout(wctx, liveSyncTimeout)
			ok := cache.WaitFor(sctx, "", synced...)
			stop()
			switch {
			case wctx.Err() != nil:
				return
			case ok:
				p.live.index.markSynced(sub)
				return
			case first:
				emit(platform.LiveUpdate{Err: fmt.Errorf("watch live state of %s: the initial listing did not finish within %s; still waiting", d.appID, liveSyncTimeout)})
			}
		}
	}()
	return func() {
		cancel()
		<-done
		p.live.index.unsubscribe(sub)
	}, nil
}

// watchPlan returns the resources to watch by the ownership labels, the
// resources of controller-made objects to watch, and the namespaces to
// watch them in.
func watchPlan(targets []target) (declared, children []schema.GroupVersionResource, namespaces []string) {
	seen := map[schema.GroupVersionResource]bool{}
	nsSeen := map[string]bool{}
	want := map[schema.GroupVersionResource]bool{}
	for _, t := range targets {
		if t.mapping == nil {
			continue
		}
		if gvr := t.mapping.Resource; !seen[gvr] {
			seen[gvr] = true
			declared = append(declared, gvr)
		}
		if ns := t.obj.GetNamespace(); ns != "" && !nsSeen[ns] {
			nsSeen[ns] = true
			namespaces = append(namespaces, ns)
		}
		for _, gvr := range childResources(t.key.GroupKind()) {
			want[gvr] = true
		}
	}
	for _, gvr := range []schema.GroupVersionResource{replicaSetsResource, jobsResource, podsResource} {
		if want[gvr] {
			children = append(children, gvr)
		}
	}
	if len(children) == 0 {
		namespaces = nil
	}
	return declared, children, namespaces
}

// childResources returns the resources a controller makes for objects of
// gk. Custom resources may be workloads (Argo Rollouts make ReplicaSets).
func childResources(gk schema.GroupKind) []schema.GroupVersionResource {
	switch {
	case gk.Group == "apps" && gk.Kind == "Deployment":
		return []schema.GroupVersionResource{replicaSetsResource, podsResource}
	case gk.Group == "apps" && (gk.Kind == "StatefulSet" || gk.Kind == "DaemonSet" || gk.Kind == "ReplicaSet"),
		gk.Group == "batch" && gk.Kind == "Job":
		return []schema.GroupVersionResource{podsResource}
	case gk.Group == "batch" && gk.Kind == "CronJob":
		return []schema.GroupVersionResource{jobsResource, podsResource}
	case !builtinGroup(gk.Group):
		return []schema.GroupVersionResource{replicaSetsResource, jobsResource, podsResource}
	}
	return nil
}
