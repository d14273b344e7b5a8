package agent_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/platform/kubernetes"
	"github.com/ferrycd/ferry/internal/testenv"
)

// quickSyncExamples are the examples without a pipeline: their upgrade
// is a quick sync.
var quickSyncExamples = []string{"simple", "kustomize-local-base", "kustomize-remote-base", "helm-local-chart", "helm-remote-chart", "helm-remote-git-chart"}

// upgradeImages are the images the examples' workloads run after the
// upgrade, by workload; the others run the greeter v2 under the
// application's name.
var upgradeImages = map[string][2]string{
	"canary-by-config-change": {"canary-by-config-change", "ghcr.io/ferrycd/greeter:v1"}, // only its ConfigMap changed
	"kustomize-local-base":    {"greeter", "ghcr.io/ferrycd/greeter:v2"},
	"kustomize-remote-base":   {"shared-greeter", "ghcr.io/ferrycd/greeter:v2"},
	"helm-local-chart":        {"helm-local-chart", "ghcr.io/ferrycd/greeter:v3"}, // setValues keeps v3
	"helm-remote-git-chart":   {"greeter-from-git", "ghcr.io/ferrycd/greeter:v2"},
}

// seenDuring is what the test saw while the upgrades ran.
type seenDuring struct {
	approvalStage string // wait-approval's WAIT_APPROVAL
}

// watchPipelines does, while the upgrades run, what people and the test
// do in the middle of pipelines: it checks canary-patch's patched canary
// during its WAIT and bluegreen's Service on the canary during its
// approval, and approves: two distinct approvers of wait-approval's list,
// and bluegreen's release manager.
func watchPipelines(t *testing.T, e *examplesEnv) seenDuring {
	t.Helper()
	var seen seenDuring
	cp, _ := waitRunningStage(t, e.cp, "canary-patch", "WAIT")
	// What checkUpgrade finds left after a pipeline, found while it runs.
	if got, want := e.variantCopies(t, cp.ApplicationId), []string{"ConfigMap/canary-patch-config-canary", "Deployment/canary-patch-canary"}; !slices.Equal(got, want) {
		t.Errorf("canary-patch's variant copies during its WAIT = %v, want %v", got, want)
	}
	canary := e.deploymentOf(t, "canary-patch-canary")
	if env := canary.Spec.Template.Spec.Containers[0].Env; env[0].Value != "hello from the canary" {
		t.Errorf("canary-patch canary's env = %v, want the patched greeting", env)
	}
	if got := e.configMapOf(t, "canary-patch-config-canary").Data["greeter.yaml"]; !strings.Contains(got, "newGreeting: true") || !strings.Contains(got, "level: debug") {
		t.Errorf("canary-patch canary's ConfigMap holds %q, want newGreeting and the debug level patched in", got)
	}
	if got := e.configMapOf(t, "canary-patch-config").Data["greeter.yaml"]; !strings.Contains(got, "newGreeting: false") {
		t.Errorf("canary-patch primary's ConfigMap holds %q, want it unpatched", got)
	}

	wa, stage := waitRunningStage(t, e.cp, "wait-approval", "WAIT_APPROVAL")
	seen.approvalStage = stage
	for _, who := range []string{"alice", "bob"} {
		if _, err := e.approvers[who].ApproveStage(e.ctx, connect.NewRequest(&ferryv1.ApproveStageRequest{DeploymentId: wa.Id, StageId: stage})); err != nil {
			t.Fatalf("%s approves: %v", who, err)
		}
		// The second approval is sent once the first is counted, so the
		// control plane can tell a repeat from a new approver.
		testenv.WaitFor(t, 30*time.Second, who+"'s approval is counted", func() bool {
			res, err := e.cp.User().GetDeployment(e.ctx, connect.NewRequest(&ferryv1.GetDeploymentRequest{DeploymentId: wa.Id}))
			return err == nil && strings.Count(res.Msg.Deployment.Stages[1].Metadata["ApprovedBy"], "apikey:") == map[string]int{"alice": 1, "bob": 2}[who]
		})
	}

	bg, bgStage := waitRunningStage(t, e.cp, "bluegreen", "WAIT_APPROVAL")
	svc, err := e.kube.Clientset.CoreV1().Services(e.kube.Namespace).Get(e.ctx, "bluegreen", metav1.GetOptions{})
	if err != nil || svc.Spec.Selector[kubernetes.DefaultVariantLabelKey] != "canary" {
		t.Errorf("bluegreen Service selector during the canary = %v, %v; want variant canary", svc.Spec.Selector, err)
	}
	if _, err := e.approvers["release-manager"].ApproveStage(e.ctx, connect.NewRequest(&ferryv1.ApproveStageRequest{DeploymentId: bg.Id, StageId: bgStage})); err != nil {
		t.Fatal(err)
	}
	return seen
}

var (
	virtualServices = schema.GroupVersionResource{Group: "networking.istio.io", Version: "v1beta1", Resource: "virtualservices"}
	trafficSplits   = schema.GroupVersionResource{Group: "split.smi-spec.io", Version: "v1alpha2", Resource: "trafficsplits"}
)

// checkUpgrade checks an example's upgrade, d: it succeeded, by its
// pipeline when it has one, every stage succeeding; only the primary is
// left, at the new version; the traffic is all on it.
func checkUpgrade(t *testing.T, e *examplesEnv, app string, d *ferryv1.Deployment, seen seenDuring) {
	t.Helper()
	if d.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS {
		t.Fatalf("upgrade = %v %q; stages %s", d.Status, d.StatusReason, stagesOf(d))
	}
	quick := slices.Contains(quickSyncExamples, app)
	if pipeline := d.Trigger.Strategy == ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE; pipeline == quick {
		t.Errorf("upgrade = %v (%s), want a pipeline: %v", d.Trigger.Strategy, d.Trigger.StrategySummary, !quick)
	}
	for _, st := range d.Stages {
		if !st.Rollback && st.Status != ferryv1.StageStatus_STAGE_STATUS_SUCCESS {
			t.Errorf("stages %s: %s did not succeed (%s)", stagesOf(d), st.Name, st.StatusReason)
		}
	}
	workload, image := app, "ghcr.io/ferrycd/greeter:v2"
	if w, ok := upgradeImages[app]; ok {
		workload, image = w[0], w[1]
	}
	dep := e.deploymentOf(t, workload)
	if img := dep.Spec.Template.Spec.Containers[0].Image; img != image || dep.Status.AvailableReplicas != *dep.Spec.Replicas {
		t.Errorf("%s: image %s (%d of %d available), want %s", workload, img, dep.Status.AvailableReplicas, *dep.Spec.Replicas, image)
	}
	if quick {
		return
	}
	key, primary := kubernetes.DefaultVariantLabelKey, "primary"
	if app == "analysis-by-http" { // its variantLabel
		key, primary = "example.com/track", "stable"
	}
	if v := dep.Spec.Template.Labels[key]; v != primary {
		t.Errorf("primary pods' %s = %q, want %s", key, v, primary)
	}
	if left := e.variantCopies(t, d.ApplicationId); len(left) > 0 {
		t.Errorf("left after the pipeline: %v", left)
	}
	switch app {
	case "canary":
		if got := stagesOf(d); !strings.Contains(got, "WAIT=SUCCESS") {
			t.Errorf("stages %s: the WAIT ran, as the commit matches none of its skipOn", got)
		}
	case "canary-by-config-change":
		if cm := e.configMapOf(t, app+"-config"); cm.Data["greeting"] != "hello again" {
			t.Errorf("ConfigMap = %v; want the new greeting", cm.Data)
		}
		if _, err := e.kube.Clientset.CoreV1().Services(e.kube.Namespace).Get(e.ctx, app+"-primary", metav1.GetOptions{}); err != nil {
			t.Errorf("the primary's Service (createService): %v", err)
		}
	case "multi-steps-canary":
		if got, want := stagesOf(d), "K8S_CANARY_ROLLOUT=SUCCESS WAIT=SUCCESS K8S_CANARY_ROLLOUT=SUCCESS WAIT=SUCCESS K8S_PRIMARY_ROLLOUT=SUCCESS K8S_CANARY_CLEAN=SUCCESS"; !strings.HasPrefix(got, want) {
			t.Errorf("stages = %s, want %s first", got, want)
		}
	case "bluegreen":
		svc, err := e.kube.Clientset.CoreV1().Services(e.kube.Namespace).Get(e.ctx, app, metav1.GetOptions{})
		if err != nil || svc.Spec.Selector[kubernetes.DefaultVariantLabelKey] != "primary" {
			t.Errorf("Service selector = %v, %v; want variant primary", svc.Spec.Selector, err)
		}
	case "mesh-istio-canary", "mesh-istio-bluegreen":
		vs, err := e.kube.Dynamic.Resource(virtualServices).Namespace(e.kube.Namespace).Get(e.ctx, app, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := routeWeights(vs); got != app+"/primary=100 "+app+"/canary=0 "+app+"/baseline=0" {
			t.Errorf("VirtualService weights = %s, want all on the primary", got)
		}
	case "mesh-smi-canary", "mesh-smi-bluegreen":
		ts, err := e.kube.Dynamic.Resource(trafficSplits).Namespace(e.kube.Namespace).Get(e.ctx, app, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if got := splitWeights(ts); got != app+"=100" { // a variant at 0 is left out
			t.Errorf("TrafficSplit weights = %s, want all on the primary", got)
		}
	case "wait-approval":
		if got, want := d.Stages[1].Metadata["ApprovedBy"], e.subjects["alice"]+","+e.subjects["bob"]; got != want {
			t.Errorf("approved by %q, want alice's and bob's subjects %s", got, want)
		}
		var ops []string
		for _, op := range d.Operations {
			ops = append(ops, fmt.Sprintf("%s %s %s", op.Kind, op.StageId, strings.Fields(op.Actor)[0]))
		}
		if want := []string{"OPERATION_KIND_APPROVE " + seen.approvalStage + " alice", "OPERATION_KIND_APPROVE " + seen.approvalStage + " bob"}; !slices.Equal(ops, want) {
			t.Errorf("operations = %q, want %q", ops, want)
		}
	}
}

// splitWeights lists a TrafficSplit's backends as service=weight.
func splitWeights(ts *unstructured.Unstructured) string {
	backends, _, _ := unstructured.NestedSlice(ts.Object, "spec", "backends")
	var out []string
	for _, b := range backends {
		if b, ok := b.(map[string]any); ok {
			out = append(out, fmt.Sprintf("%v=%v", b["service"], b["weight"]))
		}
	}
	return strings.Join(out, " ")
}

// variantCopies lists the canary and baseline copies the application with
// id appID left in the cluster: its Deployments, Services, ConfigMaps and
// Secrets named <name>-canary or <name>-baseline beside one of its objects
// of the same kind named <name>, as Kind/name.
func (e *examplesEnv) variantCopies(t *testing.T, appID string) []string {
	t.Helper()
	ns, opts := e.kube.Namespace, metav1.ListOptions{LabelSelector: kubernetes.LabelApplication + "=" + appID}
	names := map[string]bool{}
	deps, err := e.kube.Clientset.AppsV1().Deployments(ns).List(e.ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range deps.Items {
		names["Deployment/"+o.Name] = true
	}
	svcs, err := e.kube.Clientset.CoreV1().Services(ns).List(e.ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range svcs.Items {
		names["Service/"+o.Name] = true
	}
	cms, err := e.kube.Clientset.CoreV1().ConfigMaps(ns).List(e.ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range cms.Items {
		names["ConfigMap/"+o.Name] = true
	}
	secrets, err := e.kube.Clientset.CoreV1().Secrets(ns).List(e.ctx, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range secrets.Items {
		names["Secret/"+o.Name] = true
	}
	var copies []string
	for n := range names {
		for _, suffix := range []string{"-canary", "-baseline"} {
			if orig, ok := strings.CutSuffix(n, suffix); ok && names[orig] {
				copies = append(copies, n)
			}
		}
	}
	slices.Sort(copies)
	return copies
}

// checkLogAnalysisRefused checks analysis-by-log's upgrade, d: refused when
// planned, as Ferry runs no log analysis, before any stage ran, so the
// primary still runs v1 and no canary was made.
func checkLogAnalysisRefused(t *testing.T, e *examplesEnv, d *ferryv1.Deployment) {
	t.Helper()
	const want = "analysis-by-log/app.pipecd.yaml: spec.pipeline.stages[1] (ANALYSIS): with.logs asks for log analysis, which Ferry does not run"
	if d.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE || !strings.HasPrefix(d.StatusReason, want) {
		t.Errorf("upgrade = %v %q, want FAILURE %q...", d.Status, d.StatusReason, want)
	}
	for _, st := range d.Stages {
		if st.Status != ferryv1.StageStatus_STAGE_STATUS_NOT_STARTED_YET {
			t.Errorf("stages %s: %s ran", stagesOf(d), st.Name)
		}
	}
	if img := e.deploymentOf(t, "analysis-by-log").Spec.Template.Spec.Containers[0].Image; img != "ghcr.io/ferrycd/greeter:v1" {
		t.Errorf("primary image = %s, want v1 still", img)
	}
	if left := e.variantCopies(t, d.ApplicationId); len(left) > 0 {
		t.Errorf("made by a refused deployment: %v", left)
	}
}
