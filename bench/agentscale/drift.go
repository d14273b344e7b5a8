package agentscale

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/bench/internal/benchkit"
)

// DriftRow is drift-detection latency with Apps applications watched.
type DriftRow struct {
	Apps int
	Edit string
	// Drift is, per counted edit, from the edit to OUT_OF_SYNC in the
	// API; Watch from the edit to a client-go watch event carrying it (the
	// floor); Revert from undoing the edit to SYNCED in the API.
	Drift, Watch, Revert []time.Duration
	// Missed counts edits never shown OUT_OF_SYNC within driftTimeout;
	// WatchMissed edits whose watch ended (or waited 10 s) without the
	// event, which happens on an overloaded kube-apiserver.
	Missed, WatchMissed int
}

// driftTimeout bounds the wait for a sync state; longer than the agent's
// periodic drift check (a minute), so a missed event still shows.
const driftTimeout = 2 * time.Minute

// fieldManager owns the bench's out-of-band edits.
const fieldManager = "bench-out-of-band"

// drift edits one live object of a different application per repetition
// (after one warm-up edit), timing the API and a plain watch, and reverts
// each edit before the next.
func (r *rig) drift(ctx context.Context, n int) (DriftRow, error) {
	row := DriftRow{Apps: n, Edit: r.opts.Edit}
	r.log.Info("drift", "apps", n, "reps", r.opts.Reps, "edit", r.opts.Edit)
	for rep := 0; rep <= r.opts.Reps; rep++ {
		i := rep*7919%n + 1 // a prime stride spreads the edits over the applications
		drift, floor, revert, err := r.driftOnce(ctx, i)
		if err != nil {
			return row, fmt.Errorf("%s: %w", appName(i), err)
		}
		if rep == 0 {
			continue // warm-up
		}
		if drift < 0 {
			row.Missed++
		} else {
			row.Drift = append(row.Drift, drift)
		}
		if floor < 0 {
			row.WatchMissed++
		} else {
			row.Watch = append(row.Watch, floor)
		}
		row.Revert = append(row.Revert, revert)
	}
	return row, nil
}

// driftOnce edits application i's object and reverts it. drift is -1 when
// the API never showed OUT_OF_SYNC, floor -1 when the watch missed the
// edit.
func (r *rig) driftOnce(ctx context.Context, i int) (drift, floor, revert time.Duration, err error) {
	name, ns := appName(i), r.namespaceOf(i)
	if _, err := r.waitSync(ctx, name, ferryv1.SyncStatus_SYNC_STATUS_SYNCED, driftTimeout, 20*time.Millisecond); err != nil {
		return 0, 0, 0, fmt.Errorf("before the edit: %w", err)
	}
	seen, stop, err := r.watchEdit(ctx, ns, name)
	if err != nil {
		return 0, 0, 0, err
	}
	defer stop()
	t0 := time.Now()
	if err := r.edit(ctx, ns, name, true); err != nil {
		return 0, 0, 0, err
	}
	drift = -1
	at, err := r.waitSync(ctx, name, ferryv1.SyncStatus_SYNC_STATUS_OUT_OF_SYNC, driftTimeout, r.opts.Poll)
	if err == nil {
		drift = at.Sub(t0)
	} else {
		r.log.Warn("drift not shown", "app", name, "error", err)
	}
	floor = -1
	select {
	case at := <-seen:
		if !at.IsZero() {
			floor = at.Sub(t0)
		}
	case <-time.After(10 * time.Second):
	}
	if floor < 0 {
		r.log.Warn("the watch floor missed an edit", "app", name)
	}
	t1 := time.Now()
	if err := r.edit(ctx, ns, name, false); err != nil {
		return 0, 0, 0, err
	}
	at, err = r.waitSync(ctx, name, ferryv1.SyncStatus_SYNC_STATUS_SYNCED, driftTimeout, r.opts.Poll)
	if err != nil {
		return 0, 0, 0, fmt.Errorf("after the revert: %w", err)
	}
	return drift, floor, at.Sub(t1), nil
}

// waitSync polls the application until its sync status is want and
// returns when the answer saying so arrived. It lists by name, which
// reads no live-state blob, so the poll costs the control plane little.
func (r *rig) waitSync(ctx context.Context, name string, want ferryv1.SyncStatus, timeout, interval time.Duration) (time.Time, error) {
	var at time.Time
	var last ferryv1.SyncStatus
	err := benchkit.Poll(ctx, timeout, interval, func() (bool, error) {
		res, err := r.user.ListApplications(ctx, connect.NewRequest(&ferryv1.ListApplicationsRequest{Name: name, PageSize: 1}))
		if err != nil {
			return false, err
		}
		at = time.Now()
		if apps := res.Msg.GetApplications(); len(apps) == 1 {
			last = apps[0].GetSyncState().GetStatus()
		}
		return last == want, nil
	}, fmt.Sprintf("%s was not shown %s", name, want))
	if err != nil {
		return time.Time{}, fmt.Errorf("%w (last %s)", err, last)
	}
	return at, nil
}

// edit makes (or, with on false, undoes) the out-of-band edit of
// application name's object with a merge patch.
func (r *rig) edit(ctx context.Context, ns, name string, on bool) error {
	var err error
	opts := metav1.PatchOptions{FieldManager: fieldManager}
	switch r.opts.Edit {
	case EditConfigMap:
		value := configValue
		if on {
			value = driftedValue
		}
		patch := fmt.Appendf(nil, `{"data":{%q:%q}}`, configKey, value)
		_, err = r.kube.CoreV1().ConfigMaps(ns).Patch(ctx, name, types.MergePatchType, patch, opts)
	default:
		replicas := 1
		if on {
			replicas = driftedReplicas
		}
		patch := fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas)
		_, err = r.kube.AppsV1().Deployments(ns).Patch(ctx, name, types.MergePatchType, patch, opts)
	}
	if err != nil {
		return fmt.Errorf("patch %s/%s: %w", ns, name, err)
	}
	return nil
}

// What the edits set.
const (
	driftedValue    = "drifted"
	driftedReplicas = 2
)

// watchEdit opens a client-go watch on application name's object from its
// current version; the channel receives the time the event carrying the
// edit arrived, or the zero time when the watch ended first. stop ends the
// watch.
func (r *rig) watchEdit(ctx context.Context, ns, name string) (<-chan time.Time, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	byName := metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("metadata.name", name).String()}
	var w watch.Interface
	var err error
	switch r.opts.Edit {
	case EditConfigMap:
		var cm *corev1.ConfigMap
		if cm, err = r.kube.CoreV1().ConfigMaps(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			byName.ResourceVersion = cm.ResourceVersion
			w, err = r.kube.CoreV1().ConfigMaps(ns).Watch(ctx, byName)
		}
	default:
		var d *appsv1.Deployment
		if d, err = r.kube.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{}); err == nil {
			byName.ResourceVersion = d.ResourceVersion
			w, err = r.kube.AppsV1().Deployments(ns).Watch(ctx, byName)
		}
	}
	if err != nil {
		cancel()
		return nil, nil, fmt.Errorf("watch %s/%s: %w", ns, name, err)
	}
	seen := make(chan time.Time, 1)
	go func() {
		for ev := range w.ResultChan() {
			if edited(ev.Object) {
				seen <- time.Now()
				return
			}
		}
		seen <- time.Time{}
	}()
	return seen, func() { w.Stop(); cancel() }, nil
}

// edited reports whether a watched object carries the edit.
func edited(obj any) bool {
	switch o := obj.(type) {
	case *appsv1.Deployment:
		return o.Spec.Replicas != nil && *o.Spec.Replicas == driftedReplicas
	case *corev1.ConfigMap:
		return o.Data[configKey] == driftedValue
	}
	return false
}
