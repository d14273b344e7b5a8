package agent_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"connectrpc.com/connect"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/localcluster"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/platform/kubernetes"
	"github.com/ferrycd/ferry/internal/server/servertest"
	"github.com/ferrycd/ferry/internal/testenv"
)

// agentProcessEnv names the agent config a child process of this test
// binary runs.
const agentProcessEnv = "FERRY_TEST_AGENT_PROCESS_CONFIG"

// runAgentProcess runs an agent from a config file until killed.
func runAgentProcess(path string) int {
	cfg, err := config.ReadAgent(path)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	prov, err := kubernetes.NewProvider("local", cfg.Spec.PlatformProviders[0].Kubernetes, kubernetes.HelmSettings{CacheDir: filepath.Join(filepath.Dir(path), "helm")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	a, err := agent.New(context.Background(), cfg, agent.Options{Providers: []platform.Provider{prov},
		CacheDir: filepath.Join(filepath.Dir(path), "cache"), Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := a.Run(context.Background()); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// TestAKilledAgentResumesItsDeploymentOnce kills the agent with SIGKILL
// while its deployment waits for pods that cannot be scheduled yet, lets
// them schedule, starts the agent again and checks that the same
// deployment finishes, once.
func TestAKilledAgentResumesItsDeploymentOnce(t *testing.T) {
	kube := testenv.Kube(t)
	ctx := context.Background()
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	commit(t, repo, "web/app.pipecd.yaml", "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n  planner: {autoRollback: false}\n  input: {namespace: "+kube.Namespace+"}\n")
	held := strings.Replace(strings.ReplaceAll(deployment, "IMAGE", "nginx:1.27"), "containers:", "nodeSelector: {ferry-test/resume: \""+kube.Namespace+"\"}\n      containers:", 1)
	commit(t, repo, "web/deployment.yaml", held)

	cp := servertest.Start(t)
	id, keyFile := registerAgent(t, cp)
	cfgFile := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(cfgFile, []byte(fmt.Sprintf(`apiVersion: ferry.dev/v1
kind: Agent
spec:
  agentID: %s
  agentKeyFile: %s
  apiAddress: %s
  syncInterval: 1h
  repositories: [{repoId: apps, remote: "file://%s", branch: main}]
  platformProviders: [{name: local, type: KUBERNETES, config: {kubeConfigPath: %s}}]
`, id, keyFile, cp.URL(), repo, kube.Kubeconfig)), 0o600); err != nil {
		t.Fatal(err)
	}
	start := func() *exec.Cmd {
		cmd := exec.Command(os.Args[0])
		cmd.Env = append(os.Environ(), agentProcessEnv+"="+cfgFile)
		cmd.Stderr = testenv.LogWriter(t)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		return cmd
	}
	first := start()
	// Wait until the deployment's K8S_SYNC stage runs (its pods wait).
	dep := waitStage(t, cp, ferryv1.StageStatus_STAGE_STATUS_RUNNING)
	if err := first.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()

	// Let the pods schedule, then start the agent again.
	node := localcluster.NodeName(0)
	patch := fmt.Sprintf(`{"metadata":{"labels":{"ferry-test/resume":%q}}}`, kube.Namespace)
	if _, err := kube.Clientset.CoreV1().Nodes().Patch(ctx, node, types.MergePatchType, []byte(patch), metav1.PatchOptions{}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = kube.Clientset.CoreV1().Nodes().Patch(context.Background(), node, types.MergePatchType, []byte(`{"metadata":{"labels":{"ferry-test/resume":null}}}`), metav1.PatchOptions{})
	})
	second := start()
	defer func() {
		_ = second.Process.Signal(syscall.SIGKILL)
		_ = second.Wait()
	}()
	ds := waitDeployments(t, cp, 1)
	all, err := cp.User().ListDeployments(ctx, connect.NewRequest(&ferryv1.ListDeploymentsRequest{Application: "web"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(all.Msg.Deployments) != 1 || ds[0].Id != dep {
		t.Fatalf("deployments after the restart = %v, want only %s, completed", all.Msg.Deployments, dep)
	}
	got, err := cp.User().GetDeployment(ctx, connect.NewRequest(&ferryv1.GetDeploymentRequest{DeploymentId: dep}))
	if err != nil {
		t.Fatal(err)
	}
	if st := got.Msg.Deployment.Stages[0]; st.Status != ferryv1.StageStatus_STAGE_STATUS_SUCCESS {
		t.Errorf("stage after the restart = %v %q", st.Status, st.StatusReason)
	}
}

// waitStage waits until web's newest deployment has a stage in status and
// returns the deployment's id.
func waitStage(t *testing.T, cp *servertest.ControlPlane, status ferryv1.StageStatus) string {
	t.Helper()
	var id string
	testenv.WaitFor(t, 30*time.Second, fmt.Sprintf("a deployment of web has a %v stage", status), func() bool {
		res, err := cp.User().ListDeployments(context.Background(), connect.NewRequest(&ferryv1.ListDeploymentsRequest{Application: "web", PageSize: 1}))
		if err != nil || len(res.Msg.Deployments) != 1 {
			return false
		}
		d := res.Msg.Deployments[0]
		for _, st := range d.Stages {
			if st.Status == status {
				id = d.Id
				return true
			}
		}
		return false
	})
	return id
}
