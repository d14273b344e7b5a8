package kubernetes

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
	"golang.org/x/sync/singleflight"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"

	"github.com/ferrycd/ferry/internal/platform"
)

// leftoverInterval is how long a scan for live objects not in Git is
// reused. The scan lists every resource type of the cluster, too much to
// repeat on every change; such leftovers are rare (prune removes them).
const leftoverInterval = time.Minute

// DetectDrift implements platform.DriftDetector.
//
// For every desired object it reads the live one; one that does not exist
// (or whose kind the cluster no longer serves) is missing. Otherwise it
// applies the desired object as a server-side dry run, as field manager
// "ferry" with force as K8S_SYNC does, so the API server defaults and
// merges exactly as a real apply would, and compares the result with the
// live object: a difference is a field the next deployment would change.
// So defaulted fields and fields the manifest does not set are never
// drift, nor are status, server-kept metadata and Ferry's ownership labels
// and annotations. Objects annotated ferry.dev/ignore-drift or
// pipecd.dev/ignore-drift-detection "true", live or in Git, are skipped;
// driftDetection.ignoreFields paths are dropped with everything below them.
// An object is dry-run again only when its resourceVersion changed.
//
// With quickSync.prune, the application's live objects that are not in Git
// are drift too ("not in Git"): the next deployment would delete them. The
// scan for them lists every resource type, so one scan serves every
// application for a minute.
//
// Live objects come from the provider's informers when the application is
// watched (no read at all while nothing changed), else from the API server.
func (p *Provider) DetectDrift(ctx context.Context, ds platform.DesiredState) (*platform.Drift, error) {
	d, ok := ds.(*desiredState)
	if !ok {
		return nil, fmt.Errorf("detect drift: %T is not a Kubernetes desired state", ds)
	}
	targets, err := d.targets(ctx, p.applier)
	if err != nil {
		return nil, fmt.Errorf("detect drift of %s: %w", d.appID, err)
	}
	results := make([]*platform.ResourceDrift, len(targets))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, t := range targets {
		g.Go(func() error {
			r, err := d.compare(gctx, p.applier, t)
			results[i] = r
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("detect drift of %s: %w", d.appID, err)
	}
	drift := &platform.Drift{}
	keep := make(map[ResourceKey]bool, len(targets))
	for i, r := range results {
		keep[targets[i].key] = true
		if r != nil {
			drift.Resources = append(drift.Resources, *r)
		}
	}
	if d.prune {
		left, err := d.leftoversOf(ctx, p.applier, keep)
		if err != nil {
			return nil, fmt.Errorf("detect drift of %s: %w", d.appID, err)
		}
		for _, obj := range left {
			drift.Resources = append(drift.Resources, platform.ResourceDrift{Name: driftName(obj), State: platform.DriftNotInGit})
		}
	}
	return drift, nil
}

// compare returns t's drift, or nil when it is in sync or ignored.
func (d *desiredState) compare(ctx context.Context, a *Applier, t target) (*platform.ResourceDrift, error) {
	name := driftName(t.obj)
	if ignoresDrift(t.obj) {
		return nil, nil
	}
	if t.mapping == nil {
		return &platform.ResourceDrift{Name: name, State: platform.DriftMissing}, nil
	}
	client := a.resource(t.mapping, t.obj.GetNamespace())
	// A write between the read and the dry run would compare two moments;
	// read again then (a few times: the object may be busy).
	for attempt := range 5 {
		// The informers' copy first: a watched application's comparison
		// then costs no read, and no dry run while its resourceVersion
		// stays. A retry reads the API server, ahead of the informers.
		live, cached := (*unstructured.Unstructured)(nil), false
		if attempt == 0 {
			live, cached = a.live.lookup(t.mapping.Resource, t.obj.GetNamespace(), t.obj.GetName())
		}
		var err error
		if !cached {
			live, err = client.Get(ctx, t.obj.GetName(), getOptions)
		}
		switch {
		case apierrors.IsNotFound(err):
			return &platform.ResourceDrift{Name: name, State: platform.DriftMissing}, nil
		case err != nil:
			return nil, fmt.Errorf("read %s: %w", describe(t.obj), err)
		case ignoresDrift(live):
			return nil, nil
		}
		fields, fresh, err := d.diff(ctx, client, t, live)
		if err != nil {
			return nil, fmt.Errorf("dry-run apply %s: %w", describe(t.obj), err)
		}
		if !fresh {
			continue
		}
		if len(fields) == 0 {
			return nil, nil
		}
		return &platform.ResourceDrift{Name: name, State: platform.DriftChanged, Fields: fields}, nil
	}
	return nil, fmt.Errorf("compare %s: it changes faster than it can be read", describe(t.obj))
}

// diff dry-runs t against live and returns the differing fields, and false
// when live changed in between. It reuses the last result for an unchanged
// resourceVersion.
func (d *desiredState) diff(ctx context.Context, client dynamic.ResourceInterface, t target, live *unstructured.Unstructured) ([]platform.FieldDrift, bool, error) {
	rv := live.GetResourceVersion()
	d.mu.Lock()
	c, ok := d.memo[t.key]
	d.mu.Unlock()
	if ok && c.resourceVersion == rv {
		return c.fields, true, nil
	}
	merged, err := client.Apply(ctx, t.obj.GetName(), t.obj, metav1.ApplyOptions{
		FieldManager: FieldManager, Force: true, DryRun: []string{metav1.DryRunAll},
	})
	if err != nil {
		return nil, false, explainAPIError(t.obj, err)
	}
	if merged.GetResourceVersion() != rv {
		return nil, false, nil
	}
	fields := diffFields(merged.Object, live.Object, d.fieldsIgnored(live))
	d.mu.Lock()
	d.memo[t.key] = comparison{resourceVersion: rv, fields: fields}
	d.mu.Unlock()
	return fields, true, nil
}

// leftoversOf returns the application's live objects that the next
// deployment would prune: its own (see owned), not in keep, not made by a
// controller, not being deleted, and neither Namespaces nor CRDs (K8S_SYNC
// never prunes those), sorted by name.
func (d *desiredState) leftoversOf(ctx context.Context, a *Applier, keep map[ResourceKey]bool) ([]*unstructured.Unstructured, error) {
	found, err := a.owned.of(ctx, a, d.appID)
	if err != nil {
		return nil, err
	}
	var out []*unstructured.Unstructured
	for _, obj := range found {
		key := KeyOf(obj)
		if keep[key] || ignoresDrift(obj) || d.variants.isVariantObject(obj) || key.GroupKind() == crdGroupKind || key.GroupKind() == namespaceGroupKind {
			continue
		}
		out = append(out, obj)
	}
	slices.SortFunc(out, func(x, y *unstructured.Unstructured) int { return cmp.Compare(driftName(x), driftName(y)) })
	return out, nil
}

// ownedScan is the scan for objects not in Git, shared by every
// application of an Applier: one listing of every resource type by Ferry's
// managed-by label, grouped by application and reused for leftoverInterval.
// However many applications check drift, the cluster sees one scan a
// minute. Only what leftoversOf reads of each object is kept.
type ownedScan struct {
	flight singleflight.Group
	mu     sync.Mutex
	at     time.Time
	byApp  map[string][]*unstructured.Unstructured
}

// invalidate makes the next call scan again.
func (s *ownedScan) invalidate() {
	s.mu.Lock()
	s.at = time.Time{}
	s.mu.Unlock()
}

// of returns appID's owned objects as of a scan at most leftoverInterval
// old.
func (s *ownedScan) of(ctx context.Context, a *Applier, appID string) ([]*unstructured.Unstructured, error) {
	s.mu.Lock()
	fresh := !s.at.IsZero() && time.Since(s.at) <= leftoverInterval
	byApp := s.byApp
	s.mu.Unlock()
	if fresh {
		return byApp[appID], nil
	}
	v, err, _ := s.flight.Do("scan", func() (any, error) {
		objs, err := a.listOwned(context.WithoutCancel(ctx))
		if err != nil {
			return nil, err
		}
		byApp := map[string][]*unstructured.Unstructured{}
		for _, obj := range objs {
			app := obj.GetLabels()[LabelApplication]
			byApp[app] = append(byApp[app], obj)
		}
		s.mu.Lock()
		s.at, s.byApp = time.Now(), byApp
		s.mu.Unlock()
		return byApp, nil
	})
	if err != nil {
		return nil, err
	}
	return v.(map[string][]*unstructured.Unstructured)[appID], nil
}

// listOwned lists, across every resource type, the objects Ferry applied
// (for any application) that no controller owns and that are not being
// deleted, slimmed to their identity, labels and Ferry's annotations.
func (a *Applier) listOwned(ctx context.Context) ([]*unstructured.Unstructured, error) {
	// Groups whose discovery fails are left out, as prune leaves them.
	resources, err := a.pruneResources(ctx, func(string, ...any) {})
	if err != nil {
		return nil, err
	}
	selector := LabelManagedBy + "=" + ManagedByFerry
	lists := make([][]unstructured.Unstructured, len(resources))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(8)
	for i, r := range resources {
		g.Go(func() (err error) {
			lists[i], err = a.listAll(gctx, r.gvr, selector)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("list the applications' objects: %w", err)
	}
	var out []*unstructured.Unstructured
	seen := map[types.UID]bool{}
	for _, items := range lists {
		for i := range items {
			obj := &items[i]
			app := obj.GetLabels()[LabelApplication]
			if seen[obj.GetUID()] || obj.GetDeletionTimestamp() != nil || metav1.GetControllerOf(obj) != nil || !owned(obj, app, false) {
				continue
			}
			seen[obj.GetUID()] = true
			out = append(out, slimOwned(obj))
		}
	}
	return out, nil
}

// slimOwned keeps of obj what a leftover check reads.
func slimOwned(obj *unstructured.Unstructured) *unstructured.Unstructured {
	slim := &unstructured.Unstructured{Object: map[string]any{}}
	slim.SetAPIVersion(obj.GetAPIVersion())
	slim.SetKind(obj.GetKind())
	slim.SetNamespace(obj.GetNamespace())
	slim.SetName(obj.GetName())
	slim.SetUID(obj.GetUID())
	slim.SetLabels(obj.GetLabels())
	keep := map[string]string{}
	for k, v := range obj.GetAnnotations() {
		if strings.HasPrefix(k, "ferry.dev/") || strings.HasPrefix(k, "pipecd.dev/") {
			keep[k] = v
		}
	}
	slim.SetAnnotations(keep)
	return slim
}

// driftName names an object in a drift report: "apps/v1 Deployment
// web/frontend", or "v1 Namespace web" for cluster-scoped ones.
func driftName(obj *unstructured.Unstructured) string {
	name := obj.GetName()
	if ns := obj.GetNamespace(); ns != "" {
		name = ns + "/" + name
	}
	return obj.GetAPIVersion() + " " + obj.GetKind() + " " + name
}
