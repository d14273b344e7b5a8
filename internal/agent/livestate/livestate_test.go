package livestate_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

func TestTheReporterShowsTheLiveTreeAndDrift(t *testing.T) {
	e := newEnv(t)
	// No periodic drift check within the test: drift that shows comes from
	// the change to the Deployment.
	e.rep.DriftInterval = time.Hour
	e.start()
	e.waitTree(`ConfigMap HEALTHY
Deployment HEALTHY
  ReplicaSet HEALTHY
    Pod HEALTHY
    Pod HEALTHY
Service HEALTHY
`)
	e.waitSync(ferryv1.SyncStatus_SYNC_STATUS_SYNCED, "")

	// An out-of-band scale shows as drift, and in the tree, fast.
	e.patch(`{"spec":{"replicas":5}}`)
	took := e.waitSync(ferryv1.SyncStatus_SYNC_STATUS_OUT_OF_SYNC, "  spec.replicas: 2 → 5\n")
	t.Logf("drift reported %s after the edit", took.Round(time.Millisecond))
	st := e.syncState()
	want := "apps/v1 Deployment " + e.kube.Namespace + "/web\n  spec.replicas: 2 → 5\n"
	if st.GetReason() != want || st.GetShortReason() != "1 resource out of sync: apps/v1 Deployment "+e.kube.Namespace+"/web (1 field)" {
		t.Errorf("sync state = %q / %q, want the replicas line alone", st.GetShortReason(), st.GetReason())
	}
	e.waitTree(`ConfigMap HEALTHY
Deployment HEALTHY
  ReplicaSet HEALTHY
    Pod HEALTHY
    Pod HEALTHY
    Pod HEALTHY
    Pod HEALTHY
    Pod HEALTHY
Service HEALTHY
`)

	// Back to Git: in sync again, and the pods scaled away leave the tree.
	e.patch(`{"spec":{"replicas":2}}`)
	e.waitSync(ferryv1.SyncStatus_SYNC_STATUS_SYNCED, "")
	e.waitTree(`ConfigMap HEALTHY
Deployment HEALTHY
  ReplicaSet HEALTHY
    Pod HEALTHY
    Pod HEALTHY
Service HEALTHY
`)

	// While a deployment runs the application is DEPLOYING; after it, the
	// drift check resumes.
	e.running.SetDeploying(e.appID, true)
	e.waitSync(ferryv1.SyncStatus_SYNC_STATUS_DEPLOYING, "")
	e.patch(`{"spec":{"replicas":3}}`)
	e.running.SetDeploying(e.appID, false)
	e.waitSync(ferryv1.SyncStatus_SYNC_STATUS_OUT_OF_SYNC, "spec.replicas: 2 → 3")
}

func TestARestartedReporterStartsWithAFullSnapshot(t *testing.T) {
	e := newEnv(t)
	stop := e.start()
	e.waitTree(`ConfigMap HEALTHY
Deployment HEALTHY
  ReplicaSet HEALTHY
    Pod HEALTHY
    Pod HEALTHY
Service HEALTHY
`)
	stop()

	// Changed while the agent was away: the snapshot drops what is gone.
	if err := e.kube.Clientset.CoreV1().ConfigMaps(e.kube.Namespace).Delete(context.Background(), "web-config", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.start()
	e.waitTree(`Deployment HEALTHY
  ReplicaSet HEALTHY
    Pod HEALTHY
    Pod HEALTHY
Service HEALTHY
`)
	e.waitSync(ferryv1.SyncStatus_SYNC_STATUS_OUT_OF_SYNC, "v1 ConfigMap "+e.kube.Namespace+"/web-config\n  missing\n")
}

// TestLiveChangesDuringADeploymentGoOutWhenItEnds batches a deploying
// application's live changes for an hour, and finds them reported as soon
// as the deployment ends.
func TestLiveChangesDuringADeploymentGoOutWhenItEnds(t *testing.T) {
	e := newEnv(t)
	e.rep.DeployingFlushInterval = time.Hour
	e.start()
	e.waitSync(ferryv1.SyncStatus_SYNC_STATUS_SYNCED, "")
	e.running.SetDeploying(e.appID, true)
	e.waitSync(ferryv1.SyncStatus_SYNC_STATUS_DEPLOYING, "")
	e.patch(`{"spec":{"replicas":3}}`)
	// The third pod runs in the cluster (so the agent's watch has been
	// told, or soon will be) before the deployment ends.
	waitFor(t, "a third ready pod in the cluster", func() (bool, string) {
		d, err := e.kube.Clientset.AppsV1().Deployments(e.kube.Namespace).Get(context.Background(), "web", metav1.GetOptions{})
		if err != nil {
			return false, err.Error()
		}
		return d.Status.ReadyReplicas == 3, fmt.Sprintf("%d ready", d.Status.ReadyReplicas)
	})
	e.running.SetDeploying(e.appID, false)
	took := waitFor(t, "the live tree after the deployment", func() (bool, string) {
		got := e.tree()
		return strings.Count(got, "Pod HEALTHY") == 3, got
	})
	t.Logf("the batched changes were reported %s after the deployment ended", took.Round(time.Millisecond))
}
