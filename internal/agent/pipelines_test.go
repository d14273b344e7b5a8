package agent_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/server/servertest"
	"github.com/ferrycd/ferry/internal/testenv"
)

// metricsTargetHost is the host the analysis-by-http example checks; the
// tests point it at their metrics target.
const metricsTargetHost = "http://metrics-target.test"

// meshCRDs are the CRDs of the service meshes the examples route traffic
// with, kept with the platform's tests: Istio's VirtualService and
// DestinationRule, SMI's TrafficSplit.
var meshCRDs = []string{"istio-virtualservice.yaml", "istio-destinationrule.yaml", "smi-trafficsplit.yaml"}

// installCRDs installs CRDs the platform tests keep in their testdata/crds,
// by file name, and waits until they are established (applying them again
// changes nothing).
func installCRDs(t *testing.T, kube *testenv.KubeEnv, files ...string) {
	t.Helper()
	crds := schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
	for _, f := range files {
		file := filepath.Join("..", "platform", "kubernetes", "testdata", "crds", f)
		cmd := exec.Command(filepath.Join(testenv.KubeBinDir(t), "kubectl"), "--kubeconfig", kube.Kubeconfig,
			"apply", "--server-side", "--force-conflicts", "-o", "name", "-f", file)
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("kubectl apply %s: %v\n%s", file, err, out)
		}
		name := strings.TrimPrefix(strings.TrimSpace(string(out)), "customresourcedefinition.apiextensions.k8s.io/")
		testenv.WaitFor(t, time.Minute, "the CRD "+name+" is established", func() bool {
			obj, err := kube.Dynamic.Resource(crds).Get(context.Background(), name, metav1.GetOptions{})
			if err != nil {
				return false
			}
			conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
			for _, c := range conds {
				if c, ok := c.(map[string]any); ok && c["type"] == "Established" && c["status"] == "True" {
					return true
				}
			}
			return false
		})
	}
}

// startPipelineAgent starts a control plane and an agent on the local
// cluster whose analysis provider prometheus-dev is prom.
func startPipelineAgent(t *testing.T, kube *testenv.KubeEnv, repo string, prom *testenv.PrometheusEnv) *servertest.ControlPlane {
	t.Helper()
	return startKubeAgentWith(t, kube, repo, agent.Options{}, func(c *config.Agent) {
		c.Spec.AnalysisProviders = []config.AnalysisProvider{{Name: "prometheus-dev", Type: "PROMETHEUS", Config: map[string]any{"address": prom.URL}}}
	})
}

// stagesOf lists a deployment's stages as NAME=STATUS.
func stagesOf(d *ferryv1.Deployment) string {
	var out []string
	for _, st := range d.GetStages() {
		out = append(out, st.GetName()+"="+strings.TrimPrefix(st.GetStatus().String(), "STAGE_STATUS_"))
	}
	return strings.Join(out, " ")
}

// waitRunningStage waits until app's newest deployment runs a stage named
// name and returns the deployment and the stage's id.
func waitRunningStage(t *testing.T, cp *servertest.ControlPlane, app, name string) (*ferryv1.Deployment, string) {
	t.Helper()
	var d *ferryv1.Deployment
	var id string
	testenv.WaitFor(t, 60*time.Second, app+" runs "+name, func() bool {
		res, err := cp.User().ListDeployments(context.Background(), connect.NewRequest(&ferryv1.ListDeploymentsRequest{Application: app}))
		if err != nil || len(res.Msg.Deployments) == 0 {
			return false
		}
		d = res.Msg.Deployments[0]
		for _, st := range d.Stages {
			if st.Name == name && st.Status == ferryv1.StageStatus_STAGE_STATUS_RUNNING {
				id = st.Id
				return true
			}
		}
		return false
	})
	return d, id
}

// waitNewest waits until app has n deployments, the newest completed,
// and returns that one.
func waitNewest(t *testing.T, cp *servertest.ControlPlane, app string, n int) *ferryv1.Deployment {
	t.Helper()
	var d *ferryv1.Deployment
	testenv.WaitFor(t, 90*time.Second, fmt.Sprintf("%s's deployment %d completes", app, n), func() bool {
		res, err := cp.User().ListDeployments(context.Background(), connect.NewRequest(&ferryv1.ListDeploymentsRequest{Application: app}))
		if err != nil || len(res.Msg.Deployments) < n {
			return false
		}
		d = res.Msg.Deployments[0]
		return d.CompletedAt != nil
	})
	return d
}

// waitCompleted waits until the deployment has completed and returns it.
func waitCompleted(t *testing.T, cp *servertest.ControlPlane, id string) *ferryv1.Deployment {
	t.Helper()
	var d *ferryv1.Deployment
	testenv.WaitFor(t, 90*time.Second, "deployment "+id+" completes", func() bool {
		res, err := cp.User().GetDeployment(context.Background(), connect.NewRequest(&ferryv1.GetDeploymentRequest{DeploymentId: id}))
		if err != nil {
			t.Fatal(err)
		}
		d = res.Msg.Deployment
		return d.CompletedAt != nil
	})
	return d
}

// routeWeights lists a VirtualService's first route's destinations as
// host/subset=weight.
func routeWeights(vs *unstructured.Unstructured) string {
	routes, _, _ := unstructured.NestedSlice(vs.Object, "spec", "http")
	if len(routes) == 0 {
		return ""
	}
	var out []string
	dests, _, _ := unstructured.NestedSlice(routes[0].(map[string]any), "route")
	for _, d := range dests {
		dm := d.(map[string]any)
		dest, _ := dm["destination"].(map[string]any)
		out = append(out, fmt.Sprintf("%v/%v=%v", dest["host"], dest["subset"], dm["weight"]))
	}
	return strings.Join(out, " ")
}

// TestABadCanaryFailsItsAnalysisAndRollsBack runs analysis-by-metrics
// with a canary whose error rate is far over the threshold: the ANALYSIS
// fails, the deployment rolls back by itself, the canary is gone and the
// primary still runs the old version.
func TestABadCanaryFailsItsAnalysisAndRollsBack(t *testing.T) {
	kube := testenv.Kube(t)
	target := testenv.NewMetricsTarget(t)
	prom := testenv.Prometheus(t, target.Addr)
	target.SetErrorRate("canary", 0.3)
	ctx := context.Background()
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	copyExamples(t, repo, kube.Namespace, []string{metricsTargetHost, target.URL}, "analysis-by-metrics")
	cp := startPipelineAgent(t, kube, repo, prom)
	waitAppDeployments(t, cp, "analysis-by-metrics", 1)
	prom.WaitForSamples(t, strings.ReplaceAll(testenv.ErrorRatioQuery, "{{ .Variant.Name }}", "canary"), 5, 60*time.Second)
	bumpExamples(t, repo)
	if _, err := cp.User().SyncApplication(ctx, connect.NewRequest(&ferryv1.SyncApplicationRequest{Application: "analysis-by-metrics"})); err != nil {
		t.Fatal(err)
	}
	d, _ := waitRunningStage(t, cp, "analysis-by-metrics", "ANALYSIS")
	d = waitCompleted(t, cp, d.Id)
	if d.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE || !strings.Contains(d.StatusReason, "stage ANALYSIS") ||
		!strings.HasSuffix(d.StatusReason, "; rolled back") {
		t.Errorf("deployment = %v %q, want a failed analysis, rolled back", d.Status, d.StatusReason)
	}
	if got := stagesOf(d); got != "K8S_CANARY_ROLLOUT=SUCCESS ANALYSIS=FAILURE K8S_PRIMARY_ROLLOUT=NOT_STARTED_YET K8S_CANARY_CLEAN=NOT_STARTED_YET ROLLBACK=SUCCESS" {
		t.Errorf("stages = %s", got)
	}
	if _, err := kube.Clientset.AppsV1().Deployments(kube.Namespace).Get(ctx, "analysis-by-metrics-canary", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the canary is left after the rollback: %v", err)
	}
	dep, err := kube.Clientset.AppsV1().Deployments(kube.Namespace).Get(ctx, "analysis-by-metrics", metav1.GetOptions{})
	if err != nil || dep.Spec.Template.Spec.Containers[0].Image != "ghcr.io/ferrycd/greeter:v1" {
		t.Errorf("primary after the rollback: %v, %v; want the old image v1", dep.Spec.Template.Spec.Containers, err)
	}
}

// pipelineRepo is a repository with one application, resume, whose
// pipeline is stagesYAML, and a Deployment; the first commit.
func pipelineRepo(t *testing.T, namespace, stagesYAML string) string {
	t.Helper()
	repo := t.TempDir()
	git(t, repo, "init", "-q", "-b", "main")
	commit(t, repo, "resume/deployment.yaml", strings.ReplaceAll(deployment, "IMAGE", "nginx:1.27"))
	commit(t, repo, "resume/app.pipecd.yaml", "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: resume\n"+
		"  input: {namespace: "+namespace+"}\n  pipeline:\n    stages:\n"+stagesYAML)
	return repo
}

// stageMeta reads one metadata value of a deployment's stage by index.
func stageMeta(t *testing.T, cp *servertest.ControlPlane, id string, stage int, key string) string {
	t.Helper()
	res, err := cp.User().GetDeployment(context.Background(), connect.NewRequest(&ferryv1.GetDeploymentRequest{DeploymentId: id}))
	if err != nil {
		t.Fatal(err)
	}
	if st := res.Msg.Deployment.Stages; len(st) > stage {
		return st[stage].Metadata[key]
	}
	return ""
}

// TestARestartedAgentResumesWaitAndAnalysis stops the agent during a WAIT
// and again during an ANALYSIS: each time the next agent carries on with
// the stage's recorded start, so the wait ends at its first deadline and
// the analysis keeps its schedule, and the deployment succeeds once.
func TestARestartedAgentResumesWaitAndAnalysis(t *testing.T) {
	kube := testenv.Kube(t)
	target := testenv.NewMetricsTarget(t)
	prom := testenv.Prometheus(t, target.Addr)
	ctx := context.Background()
	repo := pipelineRepo(t, kube.Namespace, `      - name: WAIT
        with: {duration: 4s}
      - name: ANALYSIS
        with:
          duration: 6s
          metrics:
            - provider: prometheus-dev
              interval: 2s
              failureLimit: 0
              expected: {max: 0.01}
              query: '`+strings.ReplaceAll(testenv.ErrorRatioQuery, "{{ .Variant.Name }}", "canary")+`'
`)
	cp := servertest.Start(t)
	cfg := agentConfig(t, cp, repo)
	cfg.Spec.AnalysisProviders = []config.AnalysisProvider{{Name: "prometheus-dev", Type: "PROMETHEUS", Config: map[string]any{"address": prom.URL}}}
	stop := runKubeAgent(t, kube, cfg)
	waitAppDeployments(t, cp, "resume", 1)
	prom.WaitForSamples(t, strings.ReplaceAll(testenv.ErrorRatioQuery, "{{ .Variant.Name }}", "canary"), 3, 60*time.Second)
	commit(t, repo, "resume/deployment.yaml", strings.ReplaceAll(deployment, "IMAGE", "nginx:1.28"))
	if _, err := cp.User().SyncApplication(ctx, connect.NewRequest(&ferryv1.SyncApplicationRequest{Application: "resume"})); err != nil {
		t.Fatal(err)
	}

	d, _ := waitRunningStage(t, cp, "resume", "WAIT")
	var waitStart string
	testenv.WaitFor(t, 10*time.Second, "the wait records its start", func() bool {
		waitStart = stageMeta(t, cp, d.Id, 0, "WaitStartedAt")
		return waitStart != ""
	})
	stop()
	stop = runKubeAgent(t, kube, cfg)
	waitRunningStage(t, cp, "resume", "ANALYSIS")
	var analysisStart string
	testenv.WaitFor(t, 10*time.Second, "the analysis records its start", func() bool {
		analysisStart = stageMeta(t, cp, d.Id, 1, "AnalysisStartedAt")
		return analysisStart != ""
	})
	stop()
	runKubeAgent(t, kube, cfg)
	got := waitCompleted(t, cp, d.Id)
	if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS || stagesOf(got) != "WAIT=SUCCESS ANALYSIS=SUCCESS ROLLBACK=NOT_STARTED_YET" {
		t.Fatalf("deployment = %v %q, stages %s", got.Status, got.StatusReason, stagesOf(got))
	}
	if s := got.Stages[0].Metadata["WaitStartedAt"]; s != waitStart {
		t.Errorf("the wait restarted: started %s, first %s", s, waitStart)
	}
	if s := got.Stages[1].Metadata["AnalysisStartedAt"]; s != analysisStart {
		t.Errorf("the analysis restarted: started %s, first %s", s, analysisStart)
	}
	start, _ := time.Parse(time.RFC3339Nano, waitStart)
	if ended := got.Stages[0].CompletedAt.AsTime(); ended.Before(start.Add(4 * time.Second)) {
		t.Errorf("the wait ended %s after it started, before its 4s", ended.Sub(start))
	}
	res, err := cp.User().ListDeployments(ctx, connect.NewRequest(&ferryv1.ListDeploymentsRequest{Application: "resume"}))
	if err != nil || len(res.Msg.Deployments) != 2 {
		t.Errorf("deployments = %d, %v; want the first and this one, once", len(res.Msg.Deployments), err)
	}
}

// TestSkipAndCancelThroughTheAPI skips a running WAIT and then cancels the
// SCRIPT_RUN after it without rollback, as a person does with the CLI:
// the commands reach the agent at once, and the deployment records who
// did what.
func TestSkipAndCancelThroughTheAPI(t *testing.T) {
	kube := testenv.Kube(t)
	ctx := context.Background()
	repo := pipelineRepo(t, kube.Namespace, `      - name: WAIT
        with: {duration: 1h}
      - name: SCRIPT_RUN
        with: {run: sleep 3600}
      - name: K8S_PRIMARY_ROLLOUT
`)
	cp := servertest.Start(t)
	runKubeAgent(t, kube, agentConfig(t, cp, repo))
	waitAppDeployments(t, cp, "resume", 1)
	commit(t, repo, "resume/deployment.yaml", strings.ReplaceAll(deployment, "IMAGE", "nginx:1.28"))
	if _, err := cp.User().SyncApplication(ctx, connect.NewRequest(&ferryv1.SyncApplicationRequest{Application: "resume"})); err != nil {
		t.Fatal(err)
	}
	d, wait := waitRunningStage(t, cp, "resume", "WAIT")
	dave := cp.NewUser("dave", ferryv1.Role_ROLE_EDITOR)
	if _, err := dave.SkipStage(ctx, connect.NewRequest(&ferryv1.SkipStageRequest{DeploymentId: d.Id, StageId: wait})); err != nil {
		t.Fatal(err)
	}
	waitRunningStage(t, cp, "resume", "SCRIPT_RUN")
	if _, err := dave.CancelDeployment(ctx, connect.NewRequest(&ferryv1.CancelDeploymentRequest{DeploymentId: d.Id, ForceNoRollback: true})); err != nil {
		t.Fatal(err)
	}
	got := waitCompleted(t, cp, d.Id)
	if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED ||
		stagesOf(got) != "WAIT=SKIPPED SCRIPT_RUN=CANCELLED K8S_PRIMARY_ROLLOUT=NOT_STARTED_YET ROLLBACK=SKIPPED" {
		t.Errorf("deployment = %v %q, stages %s", got.Status, got.StatusReason, stagesOf(got))
	}
	var ops []string
	for _, op := range got.Operations {
		ops = append(ops, fmt.Sprintf("%s %s %s %s", strings.TrimPrefix(op.Kind.String(), "OPERATION_KIND_"), op.StageId, strings.Fields(op.Actor)[0], strings.Fields(op.Note)[0]))
	}
	if want := []string{"SKIP " + wait + " dave command", "CANCEL  dave without"}; !slices.Equal(ops, want) {
		t.Errorf("operations = %q, want %q", ops, want)
	}
}

// TestAFailingScriptRollsBackAndRunsItsOnRollbackScript fails a
// SCRIPT_RUN after a canary rollout on the local cluster: the deployment
// rolls back by itself (the canary goes), then runs the script's
// onRollback.
func TestAFailingScriptRollsBackAndRunsItsOnRollbackScript(t *testing.T) {
	kube := testenv.Kube(t)
	ctx := context.Background()
	marker := filepath.Join(t.TempDir(), "undone")
	repo := pipelineRepo(t, kube.Namespace, `      - name: K8S_CANARY_ROLLOUT
        with: {replicas: 1}
      - name: SCRIPT_RUN
        with:
          env: {MARKER: "`+marker+`"}
          run: echo "smoke test failed" >&2; exit 1
          onRollback: echo "$SR_APPLICATION_NAME rolled back $SR_IS_ROLLBACK" > "$MARKER"
      - name: K8S_PRIMARY_ROLLOUT
      - name: K8S_CANARY_CLEAN
`)
	cp := servertest.Start(t)
	runKubeAgent(t, kube, agentConfig(t, cp, repo))
	waitAppDeployments(t, cp, "resume", 1)
	commit(t, repo, "resume/deployment.yaml", strings.ReplaceAll(deployment, "IMAGE", "nginx:1.28"))
	if _, err := cp.User().SyncApplication(ctx, connect.NewRequest(&ferryv1.SyncApplicationRequest{Application: "resume"})); err != nil {
		t.Fatal(err)
	}
	d := waitNewest(t, cp, "resume", 2)
	if d.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE || !strings.Contains(d.StatusReason, "the script exited with code 1") ||
		stagesOf(d) != "K8S_CANARY_ROLLOUT=SUCCESS SCRIPT_RUN=FAILURE K8S_PRIMARY_ROLLOUT=NOT_STARTED_YET K8S_CANARY_CLEAN=NOT_STARTED_YET ROLLBACK=SUCCESS SCRIPT_RUN_ROLLBACK=SUCCESS" {
		t.Errorf("deployment = %v %q, stages %s", d.Status, d.StatusReason, stagesOf(d))
	}
	if b, err := os.ReadFile(marker); err != nil || string(b) != "resume rolled back true\n" {
		t.Errorf("onRollback wrote %q, %v", b, err)
	}
	if _, err := kube.Clientset.AppsV1().Deployments(kube.Namespace).Get(ctx, "web-canary", metav1.GetOptions{}); !apierrors.IsNotFound(err) {
		t.Errorf("the canary is left after the rollback: %v", err)
	}
	dep, err := kube.Clientset.AppsV1().Deployments(kube.Namespace).Get(ctx, "web", metav1.GetOptions{})
	if err != nil || dep.Spec.Template.Spec.Containers[0].Image != "nginx:1.27" {
		t.Errorf("primary after the rollback: %v, %v; want nginx:1.27", dep.Spec.Template.Spec.Containers, err)
	}
}
