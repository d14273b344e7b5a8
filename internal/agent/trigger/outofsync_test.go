package trigger_test

import (
	"context"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	"google.golang.org/protobuf/types/known/timestamppb"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/trigger"
	"github.com/ferrycd/ferry/internal/config"
)

func TestDecideOutOfSync(t *testing.T) {
	now := time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)
	notDisabled, disabled := false, true
	enabled := func(window time.Duration) config.OnOutOfSync {
		return config.OnOutOfSync{Disabled: &notDisabled, MinWindow: config.Duration(window)}
	}
	ref := func(status ferryv1.DeploymentStatus, endedAgo time.Duration) *ferryv1.DeploymentRef {
		r := &ferryv1.DeploymentRef{DeploymentId: "d1", Status: status, CommitHash: "abc"}
		if endedAgo >= 0 {
			r.CompletedAt = timestamppb.New(now.Add(-endedAgo))
		}
		return r
	}
	success := ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS
	// deployed is an application whose last deployment succeeded ago.
	deployed := func(ago time.Duration) *ferryv1.Application {
		return &ferryv1.Application{MostRecentDeployment: ref(success, ago), MostRecentSuccessfulDeployment: ref(success, ago)}
	}
	for _, c := range []struct {
		name string
		app  *ferryv1.Application
		on   config.OnOutOfSync
		want trigger.OutOfSyncDecision
	}{
		{"an unset trigger never deploys (the default is disabled)", deployed(time.Hour), config.OnOutOfSync{},
			trigger.OutOfSyncDecision{Reason: "trigger.onOutOfSync is disabled"}},
		{"a disabled trigger never deploys", deployed(time.Hour), config.OnOutOfSync{Disabled: &disabled},
			trigger.OutOfSyncDecision{Reason: "trigger.onOutOfSync is disabled"}},
		{"an enabled trigger deploys once minWindow has passed", deployed(10 * time.Second), enabled(10 * time.Second),
			trigger.OutOfSyncDecision{Trigger: true}},
		{"within minWindow of the last deployment it waits for the rest of the window", deployed(4 * time.Minute), enabled(10 * time.Minute),
			trigger.OutOfSyncDecision{Wait: 6 * time.Minute, Reason: "the last deployment ended less than minWindow (10m0s) ago"}},
		{"an unset minWindow is five minutes", deployed(4 * time.Minute), enabled(0),
			trigger.OutOfSyncDecision{Wait: time.Minute, Reason: "the last deployment ended less than minWindow (5m0s) ago"}},
		{"the window runs from the last deployment, failed ones included", &ferryv1.Application{
			MostRecentDeployment:           ref(ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE, time.Minute),
			MostRecentSuccessfulDeployment: ref(success, time.Hour),
		}, enabled(2 * time.Minute), trigger.OutOfSyncDecision{Wait: time.Minute, Reason: "the last deployment ended less than minWindow (2m0s) ago"}},
		{"a running deployment holds it back", &ferryv1.Application{
			Deploying:                      true,
			MostRecentDeployment:           ref(ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING, -1),
			MostRecentSuccessfulDeployment: ref(success, time.Hour),
		}, enabled(time.Second), trigger.OutOfSyncDecision{Reason: "a deployment is pending or running"}},
		{"a pending deployment holds it back even before the control plane marks the app deploying", &ferryv1.Application{
			MostRecentDeployment:           ref(ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_PENDING, -1),
			MostRecentSuccessfulDeployment: ref(success, time.Hour),
		}, enabled(time.Second), trigger.OutOfSyncDecision{Reason: "a deployment is pending or running"}},
		{"the control plane's deploying flag holds it back", &ferryv1.Application{
			Deploying: true, MostRecentDeployment: ref(success, time.Hour), MostRecentSuccessfulDeployment: ref(success, time.Hour),
		}, enabled(time.Second), trigger.OutOfSyncDecision{Reason: "a deployment is pending or running"}},
		{"without a successful deployment there is nothing to go back to", &ferryv1.Application{
			MostRecentDeployment: ref(ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE, time.Hour),
		}, enabled(time.Second), trigger.OutOfSyncDecision{Reason: "no successful deployment to go back to"}},
		{"a disabled application never deploys", &ferryv1.Application{
			Disabled: true, MostRecentDeployment: ref(success, time.Hour), MostRecentSuccessfulDeployment: ref(success, time.Hour),
		}, enabled(time.Second), trigger.OutOfSyncDecision{Reason: "the application is disabled"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if diff := cmp.Diff(c.want, trigger.DecideOutOfSync(c.app, c.on, now)); diff != "" {
				t.Errorf("decision (-want +got):\n%s", diff)
			}
		})
	}
}

// TestOutOfSyncDeploysTheLastSuccessfulCommitAgain goes through the
// control plane: the deployment goes back to the commit last deployed, not
// to the branch head, and a second call while it is pending does nothing.
func TestOutOfSyncDeploysTheLastSuccessfulCommitAgain(t *testing.T) {
	ctx := context.Background()
	repo := newWorkRepo(t)
	repo.commit("first", map[string]string{
		"web/app.pipecd.yaml": app("web", "  trigger: {onOutOfSync: {disabled: false, minWindow: 1s}}\n"),
		"off/app.pipecd.yaml": app("off", ""),
	})
	e := startTrigger(t, repo)
	if err := e.mirror.Fetch(ctx); err != nil {
		t.Fatal(err)
	}
	apps, err := e.discoverer.Scan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Both deployed once at the first commit, an hour ago; then a commit
	// nobody deployed yet.
	first, err := e.mirror.Head(ctx, "main")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*ferryv1.Application{}
	for _, a := range apps {
		created, err := e.client.CreateDeployment(ctx, connect.NewRequest(&ferryv1.CreateDeploymentRequest{
			ApplicationId: a.GetId(), Trigger: &ferryv1.Trigger{Commit: &ferryv1.Commit{Hash: first.Hash}},
		}))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.client.ReportDeploymentCompleted(ctx, connect.NewRequest(&ferryv1.ReportDeploymentCompletedRequest{
			DeploymentId: created.Msg.GetDeployment().GetId(), Status: ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS,
			CompletedAt: timestamppb.New(time.Now().Add(-time.Hour)),
		})); err != nil {
			t.Fatal(err)
		}
		byName[a.GetName()] = a
	}
	repo.commit("second", map[string]string{"web/deploy.yaml": "v: 2\n"})
	if err := e.mirror.Fetch(ctx); err != nil {
		t.Fatal(err)
	}

	if dep, _, err := e.trigger.OnOutOfSync(ctx, byName["off"]); dep != nil || err != nil {
		t.Errorf("off: %v, %v; want no deployment (the trigger is off by default)", dep, err)
	}
	dep, _, err := e.trigger.OnOutOfSync(ctx, byName["web"])
	if err != nil || dep == nil {
		t.Fatalf("web: %v, %v; want a deployment", dep, err)
	}
	got := dep.GetTrigger()
	if got.GetKind() != ferryv1.TriggerKind_TRIGGER_KIND_ON_OUT_OF_SYNC || got.GetCommit().GetHash() != first.Hash ||
		got.GetStrategy() != ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC {
		t.Errorf("trigger = %v; want ON_OUT_OF_SYNC, QUICK_SYNC at %.8s (the last success, not the head)", got, first.Hash)
	}
	if again, wait, err := e.trigger.OnOutOfSync(ctx, byName["web"]); again != nil || wait != 0 || err != nil {
		t.Errorf("while it is pending: %v, %s, %v; want nothing", again, wait, err)
	}
}
