package agent_test

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"github.com/google/go-cmp/cmp"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent"
	"github.com/ferrycd/ferry/internal/platform/kubernetes"
	"github.com/ferrycd/ferry/internal/testenv"
)

// copyExamples copies testdata/examples (only the applications named in
// only, when any are) into the repository in dir and commits them, with
// every application in namespace (the examples say "namespace:
// examples") and each old, new pair of replace applied to their files.
func copyExamples(t *testing.T, dir, namespace string, replace []string, only ...string) {
	t.Helper()
	src := filepath.Join("testdata", "examples")
	r := strings.NewReplacer(append([]string{"namespace: examples", "namespace: " + namespace}, replace...)...)
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if app, _, _ := strings.Cut(rel, string(filepath.Separator)); len(only) > 0 && !slices.Contains(only, app) {
			return nil
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if strings.HasSuffix(d.Name(), ".yaml") {
			data = []byte(r.Replace(string(data)))
		}
		if err := os.MkdirAll(filepath.Join(dir, filepath.Dir(rel)), 0o755); err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, rel), data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	git(t, dir, "add", "-A")
	git(t, dir, "commit", "-q", "-m", "examples")
}

// TestTheExamplesDeployToARealCluster deploys the PipeCD-style examples in
// testdata/examples with a real agent and checks what they made in the
// cluster.
func TestTheExamplesDeployToARealCluster(t *testing.T) {
	kube := testenv.Kube(t)
	ctx := context.Background()
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	copyExamples(t, repo, kube.Namespace, nil, "kustomize-local-base", "helm-local-chart")
	cp := startKubeAgent(t, kube, repo, agent.Options{})
	apps := kube.Clientset.AppsV1().Deployments(kube.Namespace)

	t.Run("kustomize-local-base: the overlay's labels, replicas and image over the base", func(t *testing.T) {
		waitAppDeployments(t, cp, "kustomize-local-base", 1)
		d, err := apps.Get(ctx, "greeter", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Labels["env"] != "prod" || d.Labels["app.kubernetes.io/part-of"] != "greeter" || d.Labels[kubernetes.LabelManagedBy] == "" {
			t.Errorf("labels = %v, want the overlay's env=prod, the base's part-of and Ferry's", d.Labels)
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/ferrycd/greeter:v2" {
			t.Errorf("image = %s, want the overlay's tag v2", img)
		}
		if *d.Spec.Replicas != 2 || d.Status.AvailableReplicas != 2 {
			t.Errorf("replicas = %d (%d available), want the overlay's 2", *d.Spec.Replicas, d.Status.AvailableReplicas)
		}
		svc, err := kube.Clientset.CoreV1().Services(kube.Namespace).Get(ctx, "greeter", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(map[string]string{"app": "greeter"}, svc.Spec.Selector); diff != "" {
			t.Errorf("service selector (-want +got), labels stay out of selectors:\n%s", diff)
		}
	})
	t.Run("helm-local-chart: the chart with the values file and setValues", func(t *testing.T) {
		waitAppDeployments(t, cp, "helm-local-chart", 1)
		d, err := apps.Get(ctx, "helm-local-chart", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if d.Labels["helm.sh/chart"] != "greeter-0.1.0" || d.Labels["app.kubernetes.io/instance"] != "helm-local-chart" {
			t.Errorf("labels = %v, want the chart's, with the app's name as the release", d.Labels)
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/ferrycd/greeter:v3" {
			t.Errorf("image = %s, want setValues' tag v3", img)
		}
		if *d.Spec.Replicas != 2 || d.Status.AvailableReplicas != 2 {
			t.Errorf("replicas = %d (%d available), want values-prod.yaml's 2", *d.Spec.Replicas, d.Status.AvailableReplicas)
		}
		cm, err := kube.Clientset.CoreV1().ConfigMaps(kube.Namespace).Get(ctx, "helm-local-chart", metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := cm.Data["greeting"]; got != "hello from prod" {
			t.Errorf("greeting = %q, want values-prod.yaml's", got)
		}
	})
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
