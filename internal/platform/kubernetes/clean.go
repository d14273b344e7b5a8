package kubernetes

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

// deleteVariants deletes the application appID's objects whose variant
// label key has one of values (a canary's or baseline's), and waits until
// they are gone, or timeout passes or ctx ends. It finds them as prune
// does, by listing every resource type by the application's labels and
// the variant label, so it needs no record of what the rollout made and is
// safe to run again: a second run finds nothing. Objects that only carry
// copies of the labels (an Endpoints of a variant's Service), or that a
// controller owns, are left to their owners.
//
// Services go first, so the variant stops getting traffic before its pods
// go, then the rest dependents first (workloads before their ConfigMaps).
// Deletion is in the foreground: a workload is gone once its pods are, so
// when deleteVariants returns the variant serves nothing any more.
func (a *Applier) deleteVariants(ctx context.Context, appID, key string, values []string, timeout time.Duration, logf func(string, ...any)) ([]ResourceKey, error) {
	resources, err := a.pruneResources(ctx, logf)
	if err != nil {
		return nil, err
	}
	selector := fmt.Sprintf("%s=%s,%s=%s,%s in (%s)", LabelManagedBy, ManagedByFerry, LabelApplication, appID, key, strings.Join(values, ","))
	found, err := a.findLabelled(ctx, resources, []string{selector})
	if err != nil {
		return nil, fmt.Errorf("find variant objects: %w", err)
	}
	doomed := make([]pruneCandidate, 0, len(found))
	for _, c := range found {
		if owned(c.obj, appID, false) && metav1.GetControllerOf(c.obj) == nil {
			doomed = append(doomed, c)
		}
	}
	rank := func(c pruneCandidate) int {
		gk := KeyOf(c.obj).GroupKind()
		if gk.Group == "" && gk.Kind == "Service" {
			return -len(applyOrder) // before everything
		}
		return -applyRank(gk)
	}
	slices.SortFunc(doomed, func(x, y pruneCandidate) int {
		return cmp.Or(rank(x)-rank(y), cmp.Compare(KeyOf(x.obj).String(), KeyOf(y.obj).String()))
	})
	var deleted []ResourceKey
	for _, c := range doomed {
		if err := a.remove(ctx, c, metav1.DeletePropagationForeground); err != nil {
			return deleted, fmt.Errorf("delete %s: %w", describe(c.obj), err)
		}
		logf("deleted %s", describe(c.obj))
		deleted = append(deleted, KeyOf(c.obj))
	}
	// Wait for each to be gone (or replaced by a new object of the name,
	// which is not ours to wait for).
	if timeout <= 0 {
		timeout = DefaultWaitTimeout
	}
	for _, c := range doomed {
		err := wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
			live, err := a.client(c).Get(ctx, c.obj.GetName(), getOptions)
			switch {
			case apierrors.IsNotFound(err):
				return true, nil
			case err != nil:
				return false, err
			}
			return live.GetUID() != c.obj.GetUID(), nil
		})
		if err != nil {
			if ctx.Err() != nil {
				return deleted, ctx.Err()
			}
			return deleted, fmt.Errorf("wait for %s to be deleted: %w", describe(c.obj), err)
		}
	}
	return deleted, nil
}
