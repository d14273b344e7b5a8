package livestate

import (
	"context"
	"slices"
	"strings"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/platform"
)

// onUpdate takes a watch's update into the next report. It is the watch's
// emit function, so it only records and signals.
func (o *observer) onUpdate(u platform.LiveUpdate) {
	if u.Err != nil {
		o.log().Warn("live state watch", "error", u.Err)
		return
	}
	declared := u.Full
	interval := o.r.FlushInterval
	if o.r.isDeploying(o) {
		interval = o.r.DeployingFlushInterval
	}
	o.mu.Lock()
	if u.Full {
		clear(o.live)
		o.full, o.ready = true, true
	}
	for _, c := range u.Changes {
		id := c.Resource.ID
		declared = declared || c.Declared
		if c.Deleted {
			delete(o.live, id)
			delete(o.changed, id)
			o.deleted[id] = true
			continue
		}
		o.live[id] = c.Resource
		delete(o.deleted, id)
		o.changed[id] = true
	}
	o.scheduleFlush(interval)
	o.mu.Unlock()
	if declared {
		o.kickDrift()
	}
}

// scheduleFlush makes a report go out interval from now, unless one is
// already due, batching what changes meanwhile. o.mu must be held.
func (o *observer) scheduleFlush(interval time.Duration) {
	if o.flushPending || o.ctx.Err() != nil {
		return
	}
	o.flushPending = true
	o.flushes.Add(1)
	o.flushTimer = time.AfterFunc(interval, o.flushDue)
}

// expediteFlush brings a pending report forward to FlushInterval from
// now.
func (o *observer) expediteFlush() {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.flushPending && o.flushTimer.Stop() {
		// The stopped timer's flushes count carries over to the new one.
		o.flushTimer = time.AfterFunc(o.r.FlushInterval, o.flushDue)
	}
}

// flushDue reports, and schedules the next attempt after a failure.
func (o *observer) flushDue() {
	defer o.flushes.Done()
	o.mu.Lock()
	o.flushPending = false
	ctx := o.ctx
	o.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	if !o.flush(ctx) {
		o.mu.Lock()
		o.scheduleFlush(o.r.FlushInterval)
		o.mu.Unlock()
	}
}

// flush sends what changed since the last report: a full snapshot after a
// (re)start or a failed report, else the changed and deleted resources.
// It returns false when the report failed.
func (o *observer) flush(ctx context.Context) bool {
	o.mu.Lock()
	if !o.ready || (!o.full && len(o.changed) == 0 && len(o.deleted) == 0) {
		o.mu.Unlock()
		return true
	}
	// Versions grow across restarts of the agent too.
	o.version = max(o.version+1, time.Now().UnixNano())
	req := &ferryv1.ReportApplicationLiveStateRequest{ApplicationId: o.appID, Version: o.version, Incremental: !o.full}
	for id, r := range o.live {
		if o.full || o.changed[id] {
			req.Resources = append(req.Resources, toResourceState(r))
		}
	}
	if !o.full {
		for id := range o.deleted {
			req.DeletedIds = append(req.DeletedIds, id)
		}
	}
	o.full = false
	clear(o.changed)
	clear(o.deleted)
	o.mu.Unlock()
	slices.SortFunc(req.Resources, func(x, y *ferryv1.ResourceState) int { return strings.Compare(x.Id, y.Id) })
	slices.Sort(req.DeletedIds)
	if _, err := o.r.Client.ReportApplicationLiveState(ctx, connect.NewRequest(req)); err != nil {
		if ctx.Err() == nil {
			o.log().WarnContext(ctx, "report live state failed", "error", err)
		}
		o.mu.Lock()
		o.full = true // the increment is lost: send everything next time
		o.mu.Unlock()
		return false
	}
	return true
}

// syncState is a sync state as reported, to tell when it changed.
type syncState struct {
	status              ferryv1.SyncStatus
	shortReason, reason string
}

// checkDrift computes the sync state and reports it when it changed; while
// the application is out of sync it tells OnOutOfSync. It returns when to
// check again: DriftInterval, or sooner when OnOutOfSync asks.
func (o *observer) checkDrift(ctx context.Context) time.Duration {
	next := o.r.DriftInterval
	detector, _ := o.provider.(platform.DriftDetector)
	st, ok := o.syncState(ctx, detector, o.desired)
	if !ok {
		return next
	}
	if st != o.lastSync {
		if err := o.reportSync(ctx, st); err != nil {
			if ctx.Err() == nil {
				o.log().WarnContext(ctx, "report sync state failed", "error", err)
			}
			return next
		}
		o.lastSync = st
	}
	if st.status == ferryv1.SyncStatus_SYNC_STATUS_OUT_OF_SYNC && o.r.OnOutOfSync != nil {
		o.r.mu.Lock()
		app := o.app
		o.r.mu.Unlock()
		if wait := o.r.OnOutOfSync(ctx, app); wait > 0 {
			next = min(next, wait)
		}
	}
	return next
}

// syncState computes the application's sync state; false when it cannot
// tell (no drift ability, or the platform could not be read).
func (o *observer) syncState(ctx context.Context, detector platform.DriftDetector, desired platform.DesiredState) (syncState, bool) {
	if detector == nil {
		// Without drift detection no sync state is reported at all, so
		// none is left DEPLOYING either.
		return syncState{}, false
	}
	if o.r.isDeploying(o) {
		return syncState{status: ferryv1.SyncStatus_SYNC_STATUS_DEPLOYING, shortReason: "A deployment is running"}, true
	}
	drift, err := detector.DetectDrift(ctx, desired)
	if err != nil {
		if ctx.Err() == nil && err.Error() != o.lastErr {
			o.log().WarnContext(ctx, "drift detection failed", "error", err)
		}
		o.lastErr = err.Error()
		return syncState{}, false
	}
	o.lastErr = ""
	if drift.InSync() {
		return syncState{status: ferryv1.SyncStatus_SYNC_STATUS_SYNCED}, true
	}
	return syncState{status: ferryv1.SyncStatus_SYNC_STATUS_OUT_OF_SYNC, shortReason: drift.Summary(), reason: drift.String()}, true
}

func (o *observer) reportSync(ctx context.Context, st syncState) error {
	o.r.mu.Lock()
	head := o.app.GetMostRecentSuccessfulDeployment().GetDeploymentId()
	o.r.mu.Unlock()
	_, err := o.r.Client.ReportApplicationSyncState(ctx, connect.NewRequest(&ferryv1.ReportApplicationSyncStateRequest{
		ApplicationId: o.appID,
		State: &ferryv1.SyncState{
			Status: st.status, ShortReason: st.shortReason, Reason: st.reason,
			HeadDeploymentId: head, Timestamp: timestamppb.Now(),
		},
	}))
	return err
}

func toResourceState(r model.ResourceState) *ferryv1.ResourceState {
	out := &ferryv1.ResourceState{
		Id: r.ID, OwnerIds: r.OwnerIDs, ParentIds: r.ParentIDs, ApiVersion: r.APIVersion, Kind: r.Kind,
		Namespace: r.Namespace, Name: r.Name, Health: toHealth(r.Health), HealthDescription: r.HealthDescription,
	}
	if !r.CreatedAt.IsZero() {
		out.CreatedAt = timestamppb.New(r.CreatedAt)
	}
	if !r.UpdatedAt.IsZero() {
		out.UpdatedAt = timestamppb.New(r.UpdatedAt)
	}
	return out
}

func toHealth(h model.HealthStatus) ferryv1.HealthStatus {
	switch h {
	case model.HealthHealthy:
		return ferryv1.HealthStatus_HEALTH_STATUS_HEALTHY
	case model.HealthProgress:
		return ferryv1.HealthStatus_HEALTH_STATUS_PROGRESSING
	case model.HealthUnhealthy:
		return ferryv1.HealthStatus_HEALTH_STATUS_UNHEALTHY
	}
	return ferryv1.HealthStatus_HEALTH_STATUS_UNKNOWN
}
