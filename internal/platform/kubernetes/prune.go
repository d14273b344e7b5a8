package kubernetes

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
)

// pruneResource is an API resource prune lists and deletes objects of.
type pruneResource struct {
	gvr        schema.GroupVersionResource
	namespaced bool
}

// pruneCandidate is a live object of the application's.
type pruneCandidate struct {
	res pruneResource
	obj *unstructured.Unstructured
}

// findLabelled lists the objects of resources that any of the label
// selectors match, each once, by uid; eight lists at a time.
func (a *Applier) findLabelled(ctx context.Context, resources []pruneResource, selectors []string) (map[types.UID]pruneCandidate, error) {
	var (
		mu    sync.Mutex
		found = map[types.UID]pruneCandidate{}
	)
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for _, r := range resources {
		for _, sel := range selectors {
			g.Go(func() error {
				items, err := a.listAll(gctx, r.gvr, sel)
				if err != nil {
					return err
				}
				mu.Lock()
				defer mu.Unlock()
				for i := range items {
					found[items[i].GetUID()] = pruneCandidate{res: r, obj: &items[i]}
				}
				return nil
			})
		}
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return found, nil
}

// pruneResources lists every resource that supports list and delete, from
// the discovery cache (so it costs nothing between CRD changes). Groups
// whose discovery fails, typically an aggregated API that is down, are left
// out: their objects are not pruned this time, which is safe.
func (a *Applier) pruneResources(ctx context.Context, logf func(string, ...any)) ([]pruneResource, error) {
	lists, err := a.discovery.ServerPreferredResourcesWithContext(ctx)
	if err != nil {
		if !discovery.IsGroupDiscoveryFailedError(err) {
			return nil, fmt.Errorf("prune: discover resources: %w", err)
		}
		logf("prune skips API groups that failed discovery: %v", err)
	}
	var out []pruneResource
	for _, l := range lists {
		gv, err := schema.ParseGroupVersion(l.GroupVersion)
		if err != nil {
			continue
		}
		for _, r := range l.APIResources {
			if strings.Contains(r.Name, "/") || !slices.Contains(r.Verbs, "list") || !slices.Contains(r.Verbs, "delete") {
				continue
			}
			out = append(out, pruneResource{gvr: gv.WithResource(r.Name), namespaced: r.Namespaced})
		}
	}
	return out, nil
}

// prune deletes the application's live objects whose keys are not in keep.
// It lists every listable resource in all namespaces by the application's
// labels, so it also finds objects of kinds the application no longer
// declares at all. It skips objects that only carry copies of the labels
// (see owned), objects a controller owns (their owner's deletion removes
// them), objects already being deleted, and Namespaces and CRDs unless
// opts.PruneKinds allows them.
func (a *Applier) prune(ctx context.Context, keep map[ResourceKey]bool, opts ApplyOptions, logf func(string, ...any)) ([]ResourceKey, error) {
	resources, err := a.pruneResources(ctx, logf)
	if err != nil {
		return nil, err
	}
	selectors := []string{LabelManagedBy + "=" + ManagedByFerry + "," + LabelApplication + "=" + opts.AppID}
	if opts.AdoptPipeCD {
		selectors = append(selectors, LabelPipeCDManagedBy+"="+ManagedByPiped+","+LabelPipeCDApplication+"="+opts.AppID)
	}
	found, err := a.findLabelled(ctx, resources, selectors)
	if err != nil {
		return nil, fmt.Errorf("prune: %w", err)
	}
	allowed := map[schema.GroupKind]bool{}
	for _, gk := range opts.PruneKinds {
		allowed[gk] = true
	}
	var doomed []pruneCandidate
	for _, c := range found {
		key := KeyOf(c.obj)
		switch {
		case keep[key] || c.obj.GetDeletionTimestamp() != nil || metav1.GetControllerOf(c.obj) != nil || !owned(c.obj, opts.AppID, opts.AdoptPipeCD):
		case opts.PruneKeep != nil && opts.PruneKeep(c.obj):
		case (key.GroupKind() == crdGroupKind || key.GroupKind() == namespaceGroupKind) && !allowed[key.GroupKind()]:
			logf("kept %s: %s is pruned only when allowed, since deleting one deletes everything in it", describe(c.obj), key.Kind)
		default:
			doomed = append(doomed, c)
		}
	}
	// Dependents first: the reverse of the apply order.
	slices.SortFunc(doomed, func(x, y pruneCandidate) int {
		kx, ky := KeyOf(x.obj), KeyOf(y.obj)
		return cmp.Or(applyRank(ky.GroupKind())-applyRank(kx.GroupKind()), cmp.Compare(kx.String(), ky.String()))
	})
	var pruned []ResourceKey
	for _, c := range doomed {
		if err := a.remove(ctx, c, metav1.DeletePropagationBackground); err != nil {
			return pruned, fmt.Errorf("prune %s: %w", describe(c.obj), err)
		}
		logf("pruned %s", describe(c.obj))
		pruned = append(pruned, KeyOf(c.obj))
	}
	return pruned, nil
}

// client is the dynamic client of c's resource, in c's namespace when it
// is namespaced.
func (a *Applier) client(c pruneCandidate) dynamic.ResourceInterface {
	if c.res.namespaced {
		return a.dynamic.Resource(c.res.gvr).Namespace(c.obj.GetNamespace())
	}
	return a.dynamic.Resource(c.res.gvr)
}

// remove deletes c's object with policy, that very object only (by uid):
// one already gone, or replaced by a new object of the name, is not an
// error.
func (a *Applier) remove(ctx context.Context, c pruneCandidate, policy metav1.DeletionPropagation) error {
	uid := c.obj.GetUID()
	err := a.client(c).Delete(ctx, c.obj.GetName(), metav1.DeleteOptions{PropagationPolicy: &policy, Preconditions: &metav1.Preconditions{UID: &uid}})
	if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
		return nil
	}
	return err
}

// namespaceGroupKind is the kind of Namespaces.
var namespaceGroupKind = schema.GroupKind{Kind: "Namespace"}

// listAll lists gvr's objects matching selector in all namespaces, page by
// page. Resources the agent may not list, or that vanished since
// discovery, are treated as empty.
func (a *Applier) listAll(ctx context.Context, gvr schema.GroupVersionResource, selector string) ([]unstructured.Unstructured, error) {
	var out []unstructured.Unstructured
	opts := metav1.ListOptions{LabelSelector: selector, Limit: 500}
	for {
		// Quietly: listing every resource touches deprecated ones (v1
		// Endpoints), whose warnings would say nothing about the app.
		l, err := a.quiet.Resource(gvr).List(ctx, opts)
		switch {
		case apierrors.IsForbidden(err) || apierrors.IsNotFound(err) || apierrors.IsMethodNotSupported(err):
			return out, nil
		case err != nil:
			return nil, fmt.Errorf("list %s: %w", gvr, err)
		}
		out = append(out, l.Items...)
		if opts.Continue = l.GetContinue(); opts.Continue == "" {
			return out, nil
		}
	}
}
