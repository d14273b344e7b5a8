package scheduler_test

import (
	"context"
	"strings"
	"testing"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/stages"
)

// TestAPipelineWithADisabledStageFailsAtPlanTime: an agent whose config
// turns SCRIPT_RUN off runs no script; the deployment says why before any
// stage runs.
func TestAPipelineWithADisabledStageFailsAtPlanTime(t *testing.T) {
	e := newEnv(t, `apiVersion: pipecd.dev/v1beta1
kind: KubernetesApp
spec:
  name: web
  pipeline:
    stages:
      - name: SCRIPT_RUN
        with: {run: "echo ran > ran.txt"}
      - name: K8S_PRIMARY_ROLLOUT
`)
	e.sched.Stages = stages.Executors()
	const why = "SCRIPT_RUN is disabled on this agent (spec.stages.scriptRun.disabled in its config agent.yaml)"
	e.sched.Disabled = map[string]string{"SCRIPT_RUN": why}
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
	if err := e.sched.Run(context.Background(), d, nil); err != nil {
		t.Fatal(err)
	}
	got := e.get(d.Id)
	if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE || !strings.Contains(got.StatusReason, why) {
		t.Errorf("deployment = %v %q, want a failure giving the reason", got.Status, got.StatusReason)
	}
	if ran := e.prov.stagesRun(); len(ran) != 0 {
		t.Errorf("stages run = %v, want none", ran)
	}
}
