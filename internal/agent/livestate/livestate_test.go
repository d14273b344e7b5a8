package livestate_test

import (
	"context"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
)

func TestTheReporterShowsTheLiveTreeAndDrift(t *testing.T) {
	e := newEnv(t)
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
	if took > 3*time.Second {
		t.Errorf("drift took %s to show, want about a second", took)
	}
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
