package agent_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent"
	"github.com/ferrycd/ferry/internal/platform/kubernetes"
	"github.com/ferrycd/ferry/internal/testenv"
)

func TestMain(m *testing.M) {
	// The resume test runs the agent as a child process of this binary, so
	// it can kill it with SIGKILL.
	if cfg := os.Getenv(agentProcessEnv); cfg != "" {
		os.Exit(runAgentProcess(cfg))
	}
	testenv.RunWithKube(m)
}

const deployment = `apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: web, image: IMAGE}]
`

// TestTheAgentDeploysToARealCluster runs the whole path on the local
// cluster: discovery, trigger, plan, K8S_SYNC (render, server-side apply,
// prune, wait for the rollout), for a first commit and an image change.
func TestTheAgentDeploysToARealCluster(t *testing.T) {
	kube := testenv.Kube(t)
	ctx := context.Background()
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	appConfig := "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n" +
		"  input: {namespace: " + kube.Namespace + "}\n  quickSync: {prune: true}\n"
	commit(t, repo, "web/app.pipecd.yaml", appConfig)
	commit(t, repo, "web/configmap.yaml", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web-config}\ndata: {a: b}\n")
	commit(t, repo, "web/deployment.yaml", strings.ReplaceAll(deployment, "IMAGE", "nginx:1.27"))

	cp := startKubeAgent(t, kube, repo, agent.Options{})

	waitDeployments(t, cp, 1)
	dep, err := kube.Clientset.AppsV1().Deployments(kube.Namespace).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if dep.Status.AvailableReplicas != 2 || dep.Labels[kubernetes.LabelManagedBy] == "" {
		t.Errorf("after the first deployment: %d available, labels %v", dep.Status.AvailableReplicas, dep.Labels)
	}

	// An image change and a removed ConfigMap: the rollout completes and
	// prune deletes the ConfigMap.
	commit(t, repo, "web/deployment.yaml", strings.ReplaceAll(deployment, "IMAGE", "nginx:1.28"))
	git(t, repo, "rm", "-q", "web/configmap.yaml")
	git(t, repo, "commit", "-q", "-m", "drop the config map")
	if _, err := cp.User().SyncApplication(ctx, connect.NewRequest(&ferryv1.SyncApplicationRequest{Application: "web"})); err != nil {
		t.Fatal(err)
	}
	waitDeployments(t, cp, 2)
	dep, err = kube.Clientset.AppsV1().Deployments(kube.Namespace).Get(ctx, "web", metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != "nginx:1.28" || dep.Status.UpdatedReplicas != 2 || dep.Status.AvailableReplicas != 2 {
		t.Errorf("after the image change: image %s, %d updated, %d available", img, dep.Status.UpdatedReplicas, dep.Status.AvailableReplicas)
	}
	if _, err := kube.Clientset.CoreV1().ConfigMaps(kube.Namespace).Get(ctx, "web-config", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("pruned ConfigMap: %v, want not found", err)
	}

	// A rollback deploys the previous success's commit again: the old image
	// and the ConfigMap are back, and the branch head is not redeployed.
	rb, err := cp.User().RollbackApplication(ctx, connect.NewRequest(&ferryv1.RollbackApplicationRequest{Application: "web"}))
	if err != nil {
		t.Fatal(err)
	}
	ds := waitDeployments(t, cp, 3)
	if ds[0].Trigger.Commit.Hash != rb.Msg.CommitHash {
		t.Errorf("rollback deployed %s, want %s", ds[0].Trigger.Commit.Hash, rb.Msg.CommitHash)
	}
	dep, err = kube.Clientset.AppsV1().Deployments(kube.Namespace).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || dep.Spec.Template.Spec.Containers[0].Image != "nginx:1.27" {
		t.Errorf("after the rollback: %v, %v; want image nginx:1.27", dep.Spec.Template.Spec.Containers, err)
	}
	if _, err := kube.Clientset.CoreV1().ConfigMaps(kube.Namespace).Get(ctx, "web-config", metav1.GetOptions{}); err != nil {
		t.Errorf("ConfigMap after the rollback: %v", err)
	}
}

// TestCancelStopsARunningDeployment cancels a deployment whose pods can
// never be scheduled while its K8S_SYNC stage waits for them, and checks
// that it ends CANCELLED about at once, not when the wait times out.
func TestCancelStopsARunningDeployment(t *testing.T) {
	kube := testenv.Kube(t)
	ctx := context.Background()
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	commit(t, repo, "web/app.pipecd.yaml", "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n"+
		"  planner: {autoRollback: false}\n  input: {namespace: "+kube.Namespace+"}\n")
	unschedulable := strings.Replace(strings.ReplaceAll(deployment, "IMAGE", "nginx:1.27"),
		"containers:", "nodeSelector: {ferry-test/no-such-node: \"true\"}\n      containers:", 1)
	commit(t, repo, "web/deployment.yaml", unschedulable)
	cp := startKubeAgent(t, kube, repo, agent.Options{})

	id := waitStage(t, cp, ferryv1.StageStatus_STAGE_STATUS_RUNNING)
	res, err := cp.User().CancelDeployment(ctx, connect.NewRequest(&ferryv1.CancelDeploymentRequest{DeploymentId: id}))
	if err != nil {
		t.Fatal(err)
	}
	var d *ferryv1.Deployment
	testenv.WaitFor(t, 30*time.Second, "the cancelled deployment completes", func() bool {
		got, err := cp.User().GetDeployment(ctx, connect.NewRequest(&ferryv1.GetDeploymentRequest{DeploymentId: id}))
		if err != nil {
			t.Fatal(err)
		}
		d = got.Msg.Deployment
		return d.GetCompletedAt() != nil
	})
	if d.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED {
		t.Fatalf("deployment = %v %q, want CANCELLED", d.Status, d.StatusReason)
	}
	if st := d.Stages[0]; st.Name != kubernetes.StageSync || st.Status != ferryv1.StageStatus_STAGE_STATUS_CANCELLED {
		t.Errorf("stage = %s %v %q, want K8S_SYNC CANCELLED", st.Name, st.Status, st.StatusReason)
	}
	cmd, err := cp.User().GetCommand(ctx, connect.NewRequest(&ferryv1.GetCommandRequest{CommandId: res.Msg.CommandId}))
	if err != nil {
		t.Fatal(err)
	}
	// CANCELLED, not a timeout's failure: the command ended it. About a
	// second is the aim, logged only: a loaded machine may take longer.
	took := d.CompletedAt.AsTime().Sub(cmd.Msg.Command.CreatedAt.AsTime())
	t.Logf("cancelled %s after the cancel command", took)
	if took < 0 {
		t.Errorf("the deployment completed %s before the cancel command", -took)
	}
}
