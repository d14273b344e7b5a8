package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent"
	"github.com/ferrycd/ferry/internal/server/servertest"
	"github.com/ferrycd/ferry/internal/testenv"
)

// TestAnOutOfSyncApplicationIsSyncedBack: with trigger.onOutOfSync on, an
// out-of-band scale is undone by an ON_OUT_OF_SYNC deployment of the
// commit last deployed, once minWindow has passed since the first
// deployment. (That it is that commit and not the branch head is tested in
// package trigger.)
func TestAnOutOfSyncApplicationIsSyncedBack(t *testing.T) {
	e := startOutOfSyncAgent(t, "  trigger: {onOutOfSync: {disabled: false, minWindow: 1s}}\n")
	first := waitDeployments(t, e.cp, 1)[0]
	e.scale(4)
	ds := waitDeployments(t, e.cp, 2)
	tr := ds[0].GetTrigger()
	if tr.GetKind() != ferryv1.TriggerKind_TRIGGER_KIND_ON_OUT_OF_SYNC || tr.GetCommit().GetHash() != first.GetTrigger().GetCommit().GetHash() {
		t.Errorf("second deployment: %s at %.8s; want ON_OUT_OF_SYNC at %.8s, the first deployment's commit",
			tr.GetKind(), tr.GetCommit().GetHash(), first.GetTrigger().GetCommit().GetHash())
	}
	if ended, started := first.GetCompletedAt().AsTime(), ds[0].GetCreatedAt().AsTime(); started.Sub(ended) < time.Second {
		t.Errorf("the out-of-sync deployment was created %s after the first one ended, within minWindow (1s)", started.Sub(ended))
	}
	e.waitSync(ferryv1.SyncStatus_SYNC_STATUS_SYNCED, "")
	dep, err := e.kube.Clientset.AppsV1().Deployments(e.kube.Namespace).Get(context.Background(), "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if *dep.Spec.Replicas != 2 {
		t.Errorf("after the out-of-sync deployment: %d replicas, want 2", *dep.Spec.Replicas)
	}
	if n := len(e.deployments()); n != 2 {
		t.Errorf("%d deployments, want 2", n)
	}
}

// TestAnOutOfSyncApplicationStaysSoWithoutTheTrigger: by default drift
// is only reported.
func TestAnOutOfSyncApplicationStaysSoWithoutTheTrigger(t *testing.T) {
	e := startOutOfSyncAgent(t, "  trigger: {onOutOfSync: {minWindow: 1s}}\n")
	waitDeployments(t, e.cp, 1)
	e.scale(4)
	e.waitSync(ferryv1.SyncStatus_SYNC_STATUS_OUT_OF_SYNC, "spec.replicas: 2 → 4")
	// The agent tells the trigger after each check, before the next one:
	// once a later check has reported, the trigger has answered for the
	// first, and would have created its deployment by then.
	e.scale(5)
	e.waitSync(ferryv1.SyncStatus_SYNC_STATUS_OUT_OF_SYNC, "spec.replicas: 2 → 5")
	if ds := e.deployments(); len(ds) != 1 {
		t.Errorf("%d deployments, want only the first: %v", len(ds), ds)
	}
}

// outOfSyncEnv is a running agent deploying the web application, whose
// config has extra, to its own namespace of the local cluster.
type outOfSyncEnv struct {
	t    *testing.T
	kube *testenv.KubeEnv
	cp   *servertest.ControlPlane
	repo string
}

func startOutOfSyncAgent(t *testing.T, extra string) *outOfSyncEnv {
	t.Helper()
	e := &outOfSyncEnv{t: t, kube: testenv.Kube(t), repo: t.TempDir()}
	git(t, e.repo, "init", "-q", "-b", "main")
	commit(t, e.repo, "web/deployment.yaml", strings.ReplaceAll(deployment, "IMAGE", "nginx:1.27"))
	commit(t, e.repo, "web/app.pipecd.yaml", "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n"+
		"  input: {namespace: "+e.kube.Namespace+"}\n"+extra)

	e.cp = startKubeAgent(t, e.kube, e.repo, agent.Options{
		Logger: slog.New(slog.NewTextHandler(testenv.LogWriter(t), &slog.HandlerOptions{Level: slog.LevelDebug})),
		// Drift is checked on every change of the Deployment anyway; this
		// bounds the wait should an event be missed.
		DriftInterval: time.Second,
	})
	return e
}

// scale sets the web Deployment's replicas out of band.
func (e *outOfSyncEnv) scale(replicas int) {
	e.t.Helper()
	_, err := e.kube.Clientset.AppsV1().Deployments(e.kube.Namespace).Patch(context.Background(), "web", types.MergePatchType,
		fmt.Appendf(nil, `{"spec":{"replicas":%d}}`, replicas), metav1.PatchOptions{})
	if err != nil {
		e.t.Fatal(err)
	}
}

// waitSync waits until web's sync state has status and its diff contains
// reasonHas.
func (e *outOfSyncEnv) waitSync(status ferryv1.SyncStatus, reasonHas string) {
	e.t.Helper()
	testenv.WaitFor(e.t, 30*time.Second, fmt.Sprintf("web is %s with %q in its diff", status, reasonHas), func() bool {
		res, err := e.cp.User().GetApplication(context.Background(), connect.NewRequest(&ferryv1.GetApplicationRequest{Application: "web"}))
		if err != nil {
			e.t.Fatal(err)
		}
		st := res.Msg.GetApplication().GetSyncState()
		return st.GetStatus() == status && strings.Contains(st.GetReason(), reasonHas)
	})
}

// deployments lists every deployment of web, newest first.
func (e *outOfSyncEnv) deployments() []*ferryv1.Deployment {
	e.t.Helper()
	res, err := e.cp.User().ListDeployments(context.Background(), connect.NewRequest(&ferryv1.ListDeploymentsRequest{Application: "web"}))
	if err != nil {
		e.t.Fatal(err)
	}
	return res.Msg.GetDeployments()
}
