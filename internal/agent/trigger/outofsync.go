package trigger

import (
	"context"
	"fmt"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/gitrepo"
	"github.com/ferrycd/ferry/internal/model"
)

// DefaultOutOfSyncMinWindow is trigger.onOutOfSync.minWindow when the
// config leaves it unset, as in PipeCD.
const DefaultOutOfSyncMinWindow = 5 * time.Minute

// OutOfSyncDecision is whether an out-of-sync application deploys now.
type OutOfSyncDecision struct {
	// Trigger: deploy now.
	Trigger bool
	// Wait, when Trigger is false only because the last deployment ended
	// less than minWindow ago, is how long until it may deploy.
	Wait time.Duration
	// Reason says why not, for the logs; "" when Trigger.
	Reason string
}

// DecideOutOfSync decides whether app, found OUT_OF_SYNC, deploys now, as
// PipeCD's out-of-sync determiner does: only when on enables it, the
// application is enabled and has a successful deployment to go back to,
// no deployment of it is pending or running, and its most recent
// deployment ended at least minWindow (default DefaultOutOfSyncMinWindow)
// before now. It reads only its arguments.
func DecideOutOfSync(app *ferryv1.Application, on config.OnOutOfSync, now time.Time) OutOfSyncDecision {
	if on.Disabled == nil || *on.Disabled {
		return OutOfSyncDecision{Reason: "trigger.onOutOfSync is disabled"}
	}
	if app.GetDisabled() {
		return OutOfSyncDecision{Reason: "the application is disabled"}
	}
	if app.GetMostRecentSuccessfulDeployment().GetCommitHash() == "" {
		return OutOfSyncDecision{Reason: "no successful deployment to go back to"}
	}
	last := app.GetMostRecentDeployment()
	if last == nil {
		last = app.GetMostRecentSuccessfulDeployment()
	}
	if app.GetDeploying() || !completed(last.GetStatus()) {
		return OutOfSyncDecision{Reason: "a deployment is pending or running"}
	}
	window := on.MinWindow.Std()
	if window <= 0 {
		window = DefaultOutOfSyncMinWindow
	}
	// A deployment that ended without a time (never, from this control
	// plane) counts as ended long ago.
	if ended := last.GetCompletedAt(); ended != nil {
		if wait := ended.AsTime().Add(window).Sub(now); wait > 0 {
			return OutOfSyncDecision{Wait: wait, Reason: fmt.Sprintf("the last deployment ended less than minWindow (%s) ago", window)}
		}
	}
	return OutOfSyncDecision{Trigger: true}
}

func completed(s ferryv1.DeploymentStatus) bool {
	switch s {
	case ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS, ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE,
		ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED:
		return true
	}
	return false
}

// OnOutOfSync is told that app was found OUT_OF_SYNC. When
// trigger.onOutOfSync allows it (DecideOutOfSync, on the config at the
// head of the branch, as PipeCD reads it, and the application as the
// control plane has it now, not as app was listed), it creates a quick
// sync of the commit the application last deployed successfully (the
// commit drift was measured against, not the branch head: undeployed
// commits keep waiting for their own trigger) and returns it. Otherwise
// it returns nil and, when only minWindow holds it back, how long until
// it may deploy. Calls are serialised, so two never both deploy.
func (t *Trigger) OnOutOfSync(ctx context.Context, app *ferryv1.Application) (*ferryv1.Deployment, time.Duration, error) {
	t.outOfSync.Lock()
	defer t.outOfSync.Unlock()
	repo, ok := t.Repos[app.GetGitPath().GetRepoId()]
	if !ok {
		return nil, 0, fmt.Errorf("repository %q is not in the agent's config", app.GetGitPath().GetRepoId())
	}
	head, err := repo.Mirror.Head(ctx, repo.Branch)
	if err != nil {
		return nil, 0, err
	}
	cfg, err := loadConfig(ctx, repo, app, head.Hash)
	if err != nil {
		return nil, 0, nil //nolint:nilerr // invalid configs are reported by discovery
	}
	// Most applications leave it off: decide that before asking the
	// control plane anything.
	if !cfg.Generic.OutOfSyncTriggerEnabled() {
		return nil, 0, nil
	}
	if app, err = t.current(ctx, app.GetId()); app == nil || err != nil {
		return nil, 0, err
	}
	dec := DecideOutOfSync(app, cfg.Generic.Trigger.OnOutOfSync, time.Now())
	if !dec.Trigger {
		t.Logger.DebugContext(ctx, "out-of-sync deployment not triggered", "app_id", app.GetId(), "reason", dec.Reason)
		return nil, dec.Wait, nil
	}
	hash := app.GetMostRecentSuccessfulDeployment().GetCommitHash()
	c, err := repo.Mirror.Commit(ctx, hash)
	if model.IsKind(err, model.KindNotFound) {
		if err = repo.Mirror.Fetch(ctx); err == nil {
			c, err = repo.Mirror.Commit(ctx, hash)
		}
	}
	if err != nil {
		return nil, 0, fmt.Errorf("commit %.8s of the last successful deployment: %w", hash, err)
	}
	d, err := t.create(ctx, app, "", &ferryv1.Trigger{
		Kind:            ferryv1.TriggerKind_TRIGGER_KIND_ON_OUT_OF_SYNC,
		Commit:          commitOf(c, repo.Branch),
		Strategy:        ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC,
		StrategySummary: "Quick sync to resolve the drift",
	}, outOfSyncSummary(app, c))
	if err != nil {
		return nil, 0, err
	}
	return d, 0, nil
}

// current reads app again from the control plane: nil when it is no
// longer one of the agent's enabled applications.
func (t *Trigger) current(ctx context.Context, appID string) (*ferryv1.Application, error) {
	res, err := t.Client.ListApplications(ctx, connect.NewRequest(&ferryv1.AgentListApplicationsRequest{}))
	if err != nil {
		return nil, fmt.Errorf("list applications: %w", err)
	}
	for _, a := range res.Msg.GetApplications() {
		if a.GetId() == appID {
			return a, nil
		}
	}
	return nil, nil
}

// outOfSyncSummary describes an out-of-sync deployment.
func outOfSyncSummary(app *ferryv1.Application, c gitrepo.Commit) string {
	s := fmt.Sprintf("Sync %s back to %.8s", app.GetName(), c.Hash)
	if r := app.GetSyncState().GetShortReason(); r != "" {
		s += " (" + r + ")"
	}
	return s
}
