package kubernetes

import (
	"context"
	"fmt"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"github.com/ferrycd/ferry/internal/platform"
)

// liveSyncTimeout bounds the initial listing of a watch. A list that keeps
// failing (the agent may not list a kind) would otherwise hold the first
// snapshot back for ever; the caller retries instead.
const liveSyncTimeout = time.Minute

// The resources controllers make for workloads, watched in the namespaces
// of an application's objects so its tree reaches its pods.
var (
	replicaSetsResource = schema.GroupVersionResource{Group: "apps", Version: "v1", Resource: "replicasets"}
	podsResource        = schema.GroupVersionResource{Version: "v1", Resource: "pods"}
	jobsResource        = schema.GroupVersionResource{Group: "batch", Version: "v1", Resource: "jobs"}
)

// WatchLiveState implements platform.LiveStateWatcher with informers, not
// polling: one informer per resource type the desired state declares,
// across namespaces, filtered by the application's ownership labels; and,
// in the namespaces of its objects, informers of the ReplicaSets, Pods and
// Jobs its workloads make (unfiltered: those carry no Ferry label), joined
// to the application through their ownerReferences. Resource ids are
// object UIDs; health is Health's.
//
// Kinds the cluster does not serve are left out until the next watch. The
// initial listing must finish within a minute, or WatchLiveState returns
// an error. Objects are kept in memory without their managedFields.
func (p *Provider) WatchLiveState(ctx context.Context, ds platform.DesiredState, emit func(platform.LiveUpdate)) error {
	d, ok := ds.(*desiredState)
	if !ok {
		return fmt.Errorf("watch live state: %T is not a Kubernetes desired state", ds)
	}
	targets, err := d.targets(ctx, p.applier)
	if err != nil {
		return fmt.Errorf("watch live state of %s: %w", d.appID, err)
	}
	declared, children, namespaces := watchPlan(targets)

	ctx, cancel := context.WithCancel(ctx)
	tree := newLiveTree(d.appID, emit)
	selector := LabelManagedBy + "=" + ManagedByFerry + "," + LabelApplication + "=" + d.appID
	factories := []dynamicinformer.DynamicSharedInformerFactory{
		dynamicinformer.NewFilteredDynamicSharedInformerFactory(p.applier.dynamic, 0, metav1.NamespaceAll,
			func(o *metav1.ListOptions) { o.LabelSelector = selector }),
	}
	for _, ns := range namespaces {
		factories = append(factories, dynamicinformer.NewFilteredDynamicSharedInformerFactory(p.applier.dynamic, 0, ns, nil))
	}
	defer func() {
		cancel()
		for _, f := range factories {
			f.Shutdown()
		}
		tree.stop()
	}()
	var synced []cache.DoneChecker
	add := func(f dynamicinformer.DynamicSharedInformerFactory, gvr schema.GroupVersionResource, src source) error {
		inf := f.ForResource(gvr).Informer()
		if err := inf.SetTransform(dropManagedFields); err != nil {
			return err
		}
		reg, err := inf.AddEventHandler(tree.handler(src))
		if err != nil {
			return err
		}
		synced = append(synced, reg.HasSyncedChecker())
		return nil
	}
	for _, gvr := range declared {
		if err := add(factories[0], gvr, fromDeclared); err != nil {
			return fmt.Errorf("watch live state of %s: %w", d.appID, err)
		}
	}
	for _, f := range factories[1:] {
		for _, gvr := range children {
			if err := add(f, gvr, fromChildren); err != nil {
				return fmt.Errorf("watch live state of %s: %w", d.appID, err)
			}
		}
	}
	for _, f := range factories {
		f.Start(ctx.Done())
	}
	sctx, stop := context.WithTimeout(ctx, liveSyncTimeout)
	ok = cache.WaitFor(sctx, "", synced...)
	stop()
	switch {
	case ctx.Err() != nil:
		return nil
	case !ok:
		return fmt.Errorf("watch live state of %s: the initial listing did not finish within %s", d.appID, liveSyncTimeout)
	}
	tree.markSynced()
	<-ctx.Done()
	return nil
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

// dropManagedFields is an informer transform that keeps cached objects
// small: live state never reads managedFields.
func dropManagedFields(obj any) (any, error) {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		u.SetManagedFields(nil)
	}
	return obj, nil
}
