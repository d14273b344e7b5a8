package scheduler_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/agent/scheduler"
	"github.com/ferrycd/ferry/internal/agent/stages"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/testenv"
)

// pipelineApp is an application whose pipeline is stagesYAML (indented
// under "stages:").
func pipelineApp(stagesYAML string) string {
	return "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n  pipeline:\n    stages:\n" + stagesYAML
}

// start runs d in the background with a fresh control and returns the
// control and a channel with Run's result.
func (e *env) start(d *ferryv1.Deployment) (*scheduler.Control, chan error) {
	e.sched.Stages = stages.Executors()
	ctl := scheduler.NewControl()
	done := make(chan error, 1)
	go func() { done <- e.sched.Run(context.Background(), d, ctl) }()
	return ctl, done
}

// waitStage waits until the deployment's stage index i has status.
func (e *env) waitStage(id string, i int, status ferryv1.StageStatus) *ferryv1.Deployment {
	e.t.Helper()
	var d *ferryv1.Deployment
	testenv.WaitFor(e.t, 20*time.Second, "stage "+status.String(), func() bool {
		d = e.get(id)
		return len(d.Stages) > i && d.Stages[i].Status == status
	})
	return d
}

func (e *env) finish(done chan error, id string) *ferryv1.Deployment {
	e.t.Helper()
	select {
	case err := <-done:
		if err != nil {
			e.t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		e.t.Fatal("the deployment did not end")
	}
	return e.get(id)
}

func (e *env) noop(names ...string) {
	for _, n := range names {
		e.prov.steps[n] = func(context.Context, platform.StageInput) error { return nil }
	}
}

func TestSkipEndsAWaitAndOnlySkippableStages(t *testing.T) {
	e := newEnv(t, pipelineApp("      - name: WAIT\n        with: {duration: 1h}\n      - name: K8S_PRIMARY_ROLLOUT\n"))
	e.noop("K8S_PRIMARY_ROLLOUT", "ROLLBACK")
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
	ctl, done := e.start(d)
	got := e.waitStage(d.Id, 0, ferryv1.StageStatus_STAGE_STATUS_RUNNING)
	// A skip waits for its stage to start; asked not to wait, one for a
	// stage not running is refused.
	noWait, cancel := context.WithCancel(context.Background())
	cancel()
	if err := ctl.Skip(noWait, got.Stages[1].Id); err == nil {
		t.Error("skipping a stage not running was accepted")
	}
	if err := ctl.Skip(context.Background(), got.Stages[0].Id); err != nil {
		t.Fatal(err)
	}
	got = e.finish(done, d.Id)
	if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS || got.Stages[0].Status != ferryv1.StageStatus_STAGE_STATUS_SKIPPED ||
		got.Stages[1].Status != ferryv1.StageStatus_STAGE_STATUS_SUCCESS {
		t.Errorf("deployment = %v %q, stages %v", got.Status, got.StatusReason, got.Stages)
	}
}

func TestASyncStageCannotBeSkipped(t *testing.T) {
	e := newEnv(t, pipelineApp("      - name: K8S_PRIMARY_ROLLOUT\n"))
	running := make(chan struct{})
	e.prov.steps["K8S_PRIMARY_ROLLOUT"] = func(ctx context.Context, in platform.StageInput) error {
		close(running)
		<-ctx.Done()
		return ctx.Err()
	}
	e.noop("ROLLBACK")
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
	ctl, done := e.start(d)
	<-running
	err := ctl.Skip(context.Background(), "stage-0")
	if err == nil || !strings.Contains(err.Error(), "cannot be skipped") {
		t.Errorf("skip K8S_PRIMARY_ROLLOUT = %v, want refused", err)
	}
	_, serr := e.cp.User().SkipStage(context.Background(), connect.NewRequest(&ferryv1.SkipStageRequest{DeploymentId: d.Id, StageId: "stage-0"}))
	if connect.CodeOf(serr) != connect.CodeFailedPrecondition {
		t.Errorf("SkipStage of K8S_PRIMARY_ROLLOUT = %v, want FailedPrecondition", serr)
	}
	ctl.Cancel(false, true)
	e.finish(done, d.Id)
}

func TestApprovalNeedsDistinctListedApprovers(t *testing.T) {
	e := newEnv(t, pipelineApp("      - name: WAIT_APPROVAL\n        with: {approvers: [alice, bob, \"github:583231\"], minApproverNum: 2}\n      - name: K8S_PRIMARY_ROLLOUT\n"))
	e.noop("K8S_PRIMARY_ROLLOUT", "ROLLBACK")
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
	ctl, done := e.start(d)
	e.waitStage(d.Id, 0, ferryv1.StageStatus_STAGE_STATUS_RUNNING)
	ctx := context.Background()
	// The control plane refuses a caller not on the list, once the stage
	// has recorded its approvers (as subjects).
	testenv.WaitFor(t, 10*time.Second, "the approvers are recorded", func() bool {
		got := e.get(d.Id)
		return len(got.Stages) > 0 && got.Stages[0].Metadata[stages.MetaApprovers] == "user:alice,user:bob,user:github:583231"
	})
	for _, name := range []string{"mallory", "alice"} {
		// An API key named alice is not alice: approvals match the
		// subject (apikey:<id>), not a name an admin chose.
		_, err := e.cp.NewUser(name, ferryv1.Role_ROLE_EDITOR).ApproveStage(ctx, connect.NewRequest(&ferryv1.ApproveStageRequest{DeploymentId: d.Id, StageId: "stage-0"}))
		if connect.CodeOf(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), "the approvers are user:alice, user:bob, user:github:583231") {
			t.Errorf("approval by an API key named %s = %v, want PermissionDenied naming the approvers", name, err)
		}
	}
	// The agent refuses them too, whatever reaches it.
	if err := ctl.Approve(ctx, "stage-0", "apikey:k1"); err == nil || !strings.Contains(err.Error(), "not an approver") {
		t.Errorf("agent took apikey:k1's approval: %v", err)
	}
	if err := ctl.Approve(ctx, "stage-0", "user:alice"); err != nil {
		t.Fatal(err)
	}
	if err := ctl.Approve(ctx, "stage-0", "user:alice"); err == nil || !strings.Contains(err.Error(), "already approved") {
		t.Errorf("alice's second approval = %v, want refused", err)
	}
	if got := e.get(d.Id); got.Stages[0].Status != ferryv1.StageStatus_STAGE_STATUS_RUNNING {
		t.Fatalf("one approval of two ended the stage: %v", got.Stages[0].Status)
	}
	if err := ctl.Approve(ctx, "stage-0", "user:github:583231"); err != nil {
		t.Fatal(err)
	}
	got := e.finish(done, d.Id)
	if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS || got.Stages[0].Metadata[stages.MetaApprovedBy] != "user:alice,user:github:583231" {
		t.Errorf("deployment = %v %q, approvals %q", got.Status, got.StatusReason, got.Stages[0].Metadata[stages.MetaApprovedBy])
	}
}

func TestAnApprovalTimeoutFailsAndRollsBack(t *testing.T) {
	e := newEnv(t, pipelineApp("      - name: WAIT_APPROVAL\n        with: {timeout: 200ms}\n"))
	e.noop("ROLLBACK")
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
	_, done := e.start(d)
	got := e.finish(done, d.Id)
	if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE || !strings.Contains(got.StatusReason, "not approved within 200ms: 0 of 1 approvals") ||
		!strings.HasSuffix(got.StatusReason, "; rolled back") {
		t.Errorf("deployment = %v %q", got.Status, got.StatusReason)
	}
}

func TestCancelHonoursTheRollbackChoice(t *testing.T) {
	for _, tc := range []struct {
		name       string
		noRollback bool
		rollback   ferryv1.StageStatus
		reason     string
	}{
		{"as planned", false, ferryv1.StageStatus_STAGE_STATUS_SUCCESS, "; rolled back"},
		{"without rollback", true, ferryv1.StageStatus_STAGE_STATUS_SKIPPED, "; not rolled back, as the cancel asked"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, pipelineApp("      - name: WAIT\n        with: {duration: 1h}\n"))
			e.noop("ROLLBACK")
			d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
			ctl, done := e.start(d)
			e.waitStage(d.Id, 0, ferryv1.StageStatus_STAGE_STATUS_RUNNING)
			ctl.Cancel(false, tc.noRollback)
			got := e.finish(done, d.Id)
			if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED || !strings.HasSuffix(got.StatusReason, tc.reason) ||
				got.Stages[1].Status != tc.rollback {
				t.Errorf("deployment = %v %q, rollback stage %v", got.Status, got.StatusReason, got.Stages[1].Status)
			}
		})
	}
}

func TestAForcedRollbackNeedsARollbackStage(t *testing.T) {
	e := newEnv(t, "apiVersion: pipecd.dev/v1beta1\nkind: KubernetesApp\nspec:\n  name: web\n  planner: {autoRollback: false}\n  pipeline:\n    stages:\n      - name: WAIT\n        with: {duration: 1h}\n")
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
	ctl, done := e.start(d)
	e.waitStage(d.Id, 0, ferryv1.StageStatus_STAGE_STATUS_RUNNING)
	_, err := e.cp.User().CancelDeployment(context.Background(), connect.NewRequest(&ferryv1.CancelDeploymentRequest{DeploymentId: d.Id, ForceRollback: true}))
	if connect.CodeOf(err) != connect.CodeFailedPrecondition || !strings.Contains(err.Error(), "autoRollback") {
		t.Errorf("cancel with rollback = %v, want FailedPrecondition naming autoRollback", err)
	}
	ctl.Cancel(false, false)
	if got := e.finish(done, d.Id); got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED {
		t.Errorf("deployment = %v", got.Status)
	}
}

func TestAFailingScriptRunsItsOnRollbackScript(t *testing.T) {
	marker := filepath.Join(t.TempDir(), "rolled-back")
	e := newEnv(t, pipelineApp(`      - name: SCRIPT_RUN
        with:
          env: {MARKER: "`+marker+`"}
          run: |
            echo "deploying $SR_APPLICATION_NAME at $SR_TRIGGERED_COMMIT_HASH"
            test -f app.pipecd.yaml
            exit 3
          onRollback: echo "undo $SR_IS_ROLLBACK" > "$MARKER"
`))
	e.noop("ROLLBACK")
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
	_, done := e.start(d)
	got := e.finish(done, d.Id)
	if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE || !strings.Contains(got.StatusReason, "the script exited with code 3") {
		t.Errorf("deployment = %v %q", got.Status, got.StatusReason)
	}
	names := []string{}
	for _, st := range got.Stages {
		names = append(names, st.Name+"="+strings.TrimPrefix(st.Status.String(), "STAGE_STATUS_"))
	}
	if strings.Join(names, " ") != "SCRIPT_RUN=FAILURE ROLLBACK=SUCCESS SCRIPT_RUN_ROLLBACK=SUCCESS" {
		t.Errorf("stages = %v", names)
	}
	b, err := os.ReadFile(marker)
	if err != nil || string(b) != "undo true\n" {
		t.Errorf("onRollback wrote %q, %v", b, err)
	}
	logs, err := e.cp.User().GetStageLog(context.Background(), connect.NewRequest(&ferryv1.GetStageLogRequest{DeploymentId: d.Id, StageId: "stage-0", AfterIndex: -1}))
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, b := range logs.Msg.Blocks {
		lines = append(lines, b.Log)
	}
	if want := "deploying web at " + e.head; !strings.Contains(strings.Join(lines, "\n"), want) {
		t.Errorf("script log = %q, want a line %q", lines, want)
	}
}

func TestSkipOnACommitMessagePrefix(t *testing.T) {
	e := newEnv(t, pipelineApp("      - name: WAIT\n        with: {duration: 1h, skipOn: {commitMessagePrefixes: ['[no-wait]']}}\n      - name: K8S_PRIMARY_ROLLOUT\n"))
	e.noop("K8S_PRIMARY_ROLLOUT", "ROLLBACK")
	res, err := e.client.CreateDeployment(context.Background(), connect.NewRequest(&ferryv1.CreateDeploymentRequest{
		ApplicationId: e.appID, Trigger: &ferryv1.Trigger{
			Commit: &ferryv1.Commit{Hash: e.head, Message: "[no-wait] fix the typo"}, Strategy: ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE,
		},
	}))
	if err != nil {
		t.Fatal(err)
	}
	d := res.Msg.Deployment
	_, done := e.start(d)
	got := e.finish(done, d.Id)
	if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS || got.Stages[0].Status != ferryv1.StageStatus_STAGE_STATUS_SKIPPED ||
		!strings.Contains(got.Stages[0].StatusReason, `"[no-wait]"`) {
		t.Errorf("deployment = %v, WAIT %v %q", got.Status, got.Stages[0].Status, got.Stages[0].StatusReason)
	}
}

func TestAStageTimeoutFailsTheStage(t *testing.T) {
	e := newEnv(t, pipelineApp("      - name: WAIT\n        timeout: 100ms\n        with: {duration: 1h}\n"))
	e.noop("ROLLBACK")
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
	_, done := e.start(d)
	got := e.finish(done, d.Id)
	if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_FAILURE || got.Stages[0].Status != ferryv1.StageStatus_STAGE_STATUS_FAILURE ||
		!strings.Contains(got.StatusReason, "the stage took longer than its timeout of 100ms") {
		t.Errorf("deployment = %v %q", got.Status, got.StatusReason)
	}
}

// A WAIT keeps its deadline when the agent restarts during it: the second
// run waits only what was left.
func TestAWaitResumesAtItsDeadline(t *testing.T) {
	e := newEnv(t, pipelineApp("      - name: WAIT\n        with: {duration: 1s}\n"))
	e.noop("ROLLBACK")
	e.sched.Stages = stages.Executors()
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.sched.Run(ctx, d, nil) }()
	var started time.Time
	testenv.WaitFor(t, 10*time.Second, "the wait records its start", func() bool {
		got := e.get(d.Id)
		if len(got.Stages) == 0 {
			return false
		}
		v := got.Stages[0].Metadata[stages.MetaWaitStartedAt]
		var err error
		started, err = time.Parse(time.RFC3339Nano, v)
		return err == nil
	})
	stop() // the agent stops
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := e.get(d.Id); got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_RUNNING {
		t.Fatalf("after the stop the deployment is %v, want RUNNING", got.Status)
	}
	if err := e.sched.Run(context.Background(), e.get(d.Id), nil); err != nil {
		t.Fatal(err)
	}
	ended := time.Now()
	got := e.get(d.Id)
	if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS || got.Stages[0].Metadata[stages.MetaWaitStartedAt] != started.UTC().Format(time.RFC3339Nano) {
		t.Errorf("deployment = %v, start %q (was %s)", got.Status, got.Stages[0].Metadata[stages.MetaWaitStartedAt], started)
	}
	if ended.Sub(started) < time.Second {
		t.Errorf("the resumed wait ended %s after it first started, before its 1s", ended.Sub(started))
	}
}

// decider is a scripted provider that also decides the strategy.
type decider struct {
	*scripted
	pipeline bool
	why      string
	err      error
	saw      platform.PlanInput
}

func (d *decider) DecideStrategy(_ context.Context, in platform.PlanInput) (bool, string, error) {
	d.saw = in
	return d.pipeline, d.why, d.err
}

func TestThePlatformDecidesQuickSyncOrPipeline(t *testing.T) {
	for _, tc := range []struct {
		name     string
		pipeline bool
		err      error
		want     []string
		summary  string
	}{
		{"replicas only", false, nil, []string{"K8S_SYNC", "ROLLBACK"}, "Quick sync, because only the replicas changed"},
		{"image changed", true, nil, []string{"K8S_PRIMARY_ROLLOUT", "ROLLBACK"}, "Pipeline sync, because the image changed"},
		{"unreadable change", false, errors.New("render: bad yaml"), []string{"K8S_PRIMARY_ROLLOUT", "ROLLBACK"}, "Pipeline sync, because a pipeline is defined (the change could not be compared: render: bad yaml)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, pipelineApp("      - name: K8S_PRIMARY_ROLLOUT\n"))
			e.noop("K8S_SYNC", "K8S_PRIMARY_ROLLOUT", "ROLLBACK")
			why := map[bool]string{false: "only the replicas changed", true: "the image changed"}[tc.pipeline]
			dec := &decider{scripted: e.prov, pipeline: tc.pipeline, why: why, err: tc.err}
			e.sched.Providers = map[string]platform.Provider{"local": dec}
			// A first deployment is a quick sync without asking.
			first := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_AUTO)
			if err := e.sched.Run(context.Background(), first, nil); err != nil {
				t.Fatal(err)
			}
			if got := e.get(first.Id); got.Trigger.Strategy != ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC || dec.saw.App != nil {
				t.Fatalf("first deployment = %v (%s), decider asked: %v", got.Trigger.Strategy, got.Trigger.StrategySummary, dec.saw.App != nil)
			}
			d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_AUTO)
			if err := e.sched.Run(context.Background(), d, nil); err != nil {
				t.Fatal(err)
			}
			got := e.get(d.Id)
			var names []string
			for _, st := range got.Stages {
				names = append(names, st.Name)
			}
			if strings.Join(names, " ") != strings.Join(tc.want, " ") || got.Trigger.StrategySummary != tc.summary {
				t.Errorf("stages %v, summary %q; want %v, %q", names, got.Trigger.StrategySummary, tc.want, tc.summary)
			}
			if dec.saw.RunningAppDir == "" || dec.saw.RunningApp == nil || dec.saw.RunningApp.Generic.Name != "web" {
				t.Errorf("the decider did not get the running commit: %+v", dec.saw)
			}
		})
	}
}

func TestACustomSyncRunsItsScriptWithItsEnvs(t *testing.T) {
	out := filepath.Join(t.TempDir(), "synced")
	e := newEnv(t, pipelineApp(`      - name: CUSTOM_SYNC
        with:
          envs: {OUT: "`+out+`", TARGET: prod}
          run: echo "synced $SR_APPLICATION_NAME to $TARGET" > "$OUT"
`))
	e.noop("ROLLBACK")
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
	_, done := e.start(d)
	if got := e.finish(done, d.Id); got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS {
		t.Fatalf("deployment = %v %q", got.Status, got.StatusReason)
	}
	if b, err := os.ReadFile(out); err != nil || string(b) != "synced web to prod\n" {
		t.Errorf("the script wrote %q, %v", b, err)
	}
}

// A cancel stops a running script, and its children, at once: they get
// SIGTERM with the script (the child notes it), not SIGKILL after the
// kill grace.
func TestCancelStopsARunningScript(t *testing.T) {
	dir := t.TempDir()
	started, termed := filepath.Join(dir, "started"), filepath.Join(dir, "termed")
	e := newEnv(t, pipelineApp(`      - name: SCRIPT_RUN
        with:
          env: {STARTED: "`+started+`", TERMED: "`+termed+`"}
          run: |
            (trap 'touch "$TERMED"; exit 0' TERM; sleep 3600 & wait) &
            touch "$STARTED"
            wait
`))
	e.noop("ROLLBACK")
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
	ctl, done := e.start(d)
	testenv.WaitFor(t, 20*time.Second, "the script starts", func() bool {
		_, err := os.Stat(started)
		return err == nil
	})
	ctl.Cancel(false, false)
	got := e.finish(done, d.Id)
	if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_CANCELLED || got.Stages[0].Status != ferryv1.StageStatus_STAGE_STATUS_CANCELLED {
		t.Errorf("deployment = %v %q, stage %v", got.Status, got.StatusReason, got.Stages[0].Status)
	}
	if _, err := os.Stat(termed); err != nil {
		t.Errorf("the script's child got no SIGTERM with the cancel: %v", err)
	}
}

// commitFile commits a file to the repository, fetches the mirror and
// makes the new commit the head deployments are created at.
func (e *env) commitFile(name, content string) {
	e.t.Helper()
	if err := os.MkdirAll(filepath.Dir(filepath.Join(e.dir, name)), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, name), []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	testenv.Git(e.t, e.dir, "add", "-A")
	testenv.Git(e.t, e.dir, "commit", "-q", "-m", "change "+name)
	m := e.sched.Repos["apps"].Mirror
	if err := m.Fetch(context.Background()); err != nil {
		e.t.Fatal(err)
	}
	head, err := m.Head(context.Background(), "main")
	if err != nil {
		e.t.Fatal(err)
	}
	e.head = head.Hash
}

// skipOn.paths skips a stage when every file changed since the running
// commit matches, and only then.
func TestSkipOnPaths(t *testing.T) {
	e := newEnv(t, pipelineApp("      - name: WAIT\n        with: {duration: 1h, skipOn: {paths: ['web/docs/**']}}\n"))
	e.noop("K8S_SYNC", "ROLLBACK")
	e.sched.Stages = stages.Executors()
	first := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_AUTO) // a quick sync
	if err := e.sched.Run(context.Background(), first, nil); err != nil {
		t.Fatal(err)
	}
	e.commitFile("web/docs/README.md", "# web\n")
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
	_, done := e.start(d)
	got := e.finish(done, d.Id)
	if got.Stages[0].Status != ferryv1.StageStatus_STAGE_STATUS_SKIPPED || !strings.Contains(got.Stages[0].StatusReason, "skipOn.paths") {
		t.Errorf("a docs-only change: WAIT %v %q, want SKIPPED by skipOn.paths", got.Stages[0].Status, got.Stages[0].StatusReason)
	}
	// A change outside the paths runs the stage (cancelled here once it
	// is seen running).
	e.commitFile("web/deployment.yaml", "kind: Deployment\n")
	d = e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
	ctl, done := e.start(d)
	e.waitStage(d.Id, 0, ferryv1.StageStatus_STAGE_STATUS_RUNNING)
	ctl.Cancel(false, true)
	e.finish(done, d.Id)
}

// A stage that ends with platform.ErrExited ends the deployment there, as
// a success: the stages after it do not run.
func TestAnExitedStageEndsTheDeploymentAsASuccess(t *testing.T) {
	e := newEnv(t, pipelineApp("      - name: K8S_CANARY_ROLLOUT\n      - name: K8S_PRIMARY_ROLLOUT\n"))
	e.prov.steps["K8S_CANARY_ROLLOUT"] = func(context.Context, platform.StageInput) error {
		return fmt.Errorf("no changes to roll out: %w", platform.ErrExited)
	}
	e.noop("K8S_PRIMARY_ROLLOUT", "ROLLBACK")
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE)
	_, done := e.start(d)
	got := e.finish(done, d.Id)
	if got.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS ||
		got.Stages[0].Status != ferryv1.StageStatus_STAGE_STATUS_EXITED || got.Stages[1].Status != ferryv1.StageStatus_STAGE_STATUS_NOT_STARTED_YET {
		t.Errorf("deployment = %v %q, stages %v %v", got.Status, got.StatusReason, got.Stages[0].Status, got.Stages[1].Status)
	}
	if ran := e.prov.stagesRun(); len(ran) != 1 {
		t.Errorf("stages run = %v, want only the one that exited", ran)
	}
}

// A quick sync of an application with a pipeline gets no pipeline stage's
// config, though its stage's id is the first pipeline stage's too.
func TestAQuickSyncStageGetsNoPipelineConfig(t *testing.T) {
	e := newEnv(t, pipelineApp("      - name: WAIT\n        with: {duration: 1h}\n"))
	var got *config.PipelineStage
	e.prov.steps["K8S_SYNC"] = func(_ context.Context, in platform.StageInput) error {
		got = in.Config
		return nil
	}
	d := e.create(ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC)
	if err := e.sched.Run(context.Background(), d, nil); err != nil {
		t.Fatal(err)
	}
	if s := e.get(d.Id); s.Status != ferryv1.DeploymentStatus_DEPLOYMENT_STATUS_SUCCESS || got != nil {
		t.Errorf("deployment = %v %q; K8S_SYNC got the config of %v, want none", s.Status, s.StatusReason, got)
	}
}
