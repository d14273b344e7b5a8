package scheduler

import (
	"fmt"
	"regexp"
	"strings"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/config"
)

// Stage names the planner writes itself.
const (
	// StageRollback is the hidden stage run when a deployment fails and
	// autoRollback is on; the provider's executor of that name runs it.
	StageRollback = "ROLLBACK"
	// StageScriptRunRollback runs a SCRIPT_RUN's onRollback script during
	// a rollback; it requires that SCRIPT_RUN stage.
	StageScriptRunRollback = "SCRIPT_RUN_ROLLBACK"
	// StageWaitApproval is the stage that takes approvals.
	StageWaitApproval = "WAIT_APPROVAL"
)

// syncStage is the quick-sync stage of each application kind.
var syncStage = map[string]string{
	config.KindKubernetesApp: "K8S_SYNC",
	config.KindTerraformApp:  "TERRAFORM_SYNC",
	config.KindCloudRunApp:   "CLOUDRUN_SYNC",
	config.KindLambdaApp:     "LAMBDA_SYNC",
	config.KindECSApp:        "ECS_SYNC",
}

// plan is what the planner decided for a deployment.
type plan struct {
	strategy ferryv1.SyncStrategy
	summary  string
	stages   []*ferryv1.Stage
	// platformDecides is set when only the platform's comparison of the
	// running and target commits is left to decide (the pipeline is
	// planned meanwhile).
	platformDecides bool
	err             error
}

// decide picks quick sync or the pipeline and lists the stages, as PipeCD
// does: an explicit strategy wins; no pipeline means quick sync;
// alwaysUsePipeline, or a commit message matching commitMatcher.pipeline,
// means the pipeline; commitMatcher.quickSync means quick sync; a first
// deployment is a quick sync; otherwise the platform decides from what
// changed (see platform.StrategyDecider), the pipeline when it cannot.
func decide(d *ferryv1.Deployment, app *config.AppConfig) (plan, error) {
	g := app.Generic
	hasPipeline := g.Pipeline != nil && len(g.Pipeline.Stages) > 0
	msg := d.GetTrigger().GetCommit().GetMessage()
	auto := d.GetTrigger().GetKind() != ferryv1.TriggerKind_TRIGGER_KIND_ON_COMMAND
	var s ferryv1.SyncStrategy
	var why string
	platformDecides := false
	switch requested := d.GetTrigger().GetStrategy(); {
	case requested == ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC:
		s, why = requested, "quick sync was requested"
	case requested == ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE:
		if !hasPipeline {
			return plan{}, fmt.Errorf("a pipeline sync was requested but %s defines no pipeline", app.File)
		}
		s, why = requested, "pipeline sync was requested"
	case !hasPipeline:
		s, why = ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC, "no pipeline is defined"
	case g.Planner.AlwaysUsePipeline:
		s, why = ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE, "planner.alwaysUsePipeline is set"
	case auto && matches(g.CommitMatcher.Pipeline, msg):
		s, why = ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE, "the commit message matches commitMatcher.pipeline"
	case auto && matches(g.CommitMatcher.QuickSync, msg):
		s, why = ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC, "the commit message matches commitMatcher.quickSync"
	case d.GetRunningCommitHash() == "":
		s, why = ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC, "it is the first deployment"
	default:
		s, why, platformDecides = ferryv1.SyncStrategy_SYNC_STRATEGY_PIPELINE, "a pipeline is defined", true
	}
	p := finish(d, app, s, why)
	p.platformDecides = platformDecides
	return p, p.err
}

// finish lists the stages of the chosen strategy: the kind's quick-sync
// stage, or the pipeline's stages each requiring the one before; then,
// with autoRollback, ROLLBACK and a SCRIPT_RUN_ROLLBACK for each
// SCRIPT_RUN with an onRollback script.
func finish(d *ferryv1.Deployment, app *config.AppConfig, s ferryv1.SyncStrategy, why string) plan {
	g := app.Generic
	p := plan{strategy: s}
	var scriptRollbacks []*ferryv1.Stage
	if s == ferryv1.SyncStrategy_SYNC_STRATEGY_QUICK_SYNC {
		name, ok := syncStage[app.Kind]
		if !ok {
			p.err = fmt.Errorf("no quick sync for kind %s", app.Kind)
			return p
		}
		p.summary = fmt.Sprintf("Quick sync, because %s", why)
		p.stages = []*ferryv1.Stage{{Id: "stage-0", Name: name, Index: 0, Visible: true}}
	} else {
		p.summary = fmt.Sprintf("Pipeline sync, because %s", why)
		if err := refused(app); err != nil {
			p.err = err
			return p
		}
		for i, st := range g.Pipeline.Stages {
			id := st.ID
			if id == "" {
				id = fmt.Sprintf("stage-%d", i)
			}
			stage := &ferryv1.Stage{Id: id, Name: st.Name, Description: st.Desc, Index: int32(i), Visible: true}
			if i > 0 {
				stage.Requires = []string{p.stages[i-1].GetId()}
			}
			p.stages = append(p.stages, stage)
			if st.Name == "SCRIPT_RUN" {
				if opts, err := st.StageOptions(); err == nil {
					if o, ok := opts.(*config.ScriptRunOptions); ok && strings.TrimSpace(o.OnRollback) != "" {
						scriptRollbacks = append(scriptRollbacks, &ferryv1.Stage{
							Id: id + "-rollback", Name: StageScriptRunRollback, Requires: []string{id}, Rollback: true,
							Description: "Runs the onRollback script of " + id,
						})
					}
				}
			}
		}
	}
	if app.AutoRollback() {
		p.stages = append(p.stages, &ferryv1.Stage{
			Id: "stage-rollback", Name: StageRollback, Index: int32(len(p.stages)), Rollback: true,
		})
		for _, st := range scriptRollbacks {
			st.Index = int32(len(p.stages))
			p.stages = append(p.stages, st)
		}
	}
	return p
}

// refused returns why the pipeline of app cannot run at all, before any
// stage starts: an ANALYSIS with logs (PipeCD's log analysis, which Ferry
// does not run) would otherwise fail only when the deployment reached it,
// after the canary rolled out.
func refused(app *config.AppConfig) error {
	for i, st := range app.Generic.Pipeline.Stages {
		if st.Name != "ANALYSIS" {
			continue
		}
		opts, err := st.StageOptions()
		if err != nil {
			return fmt.Errorf("%s: spec.pipeline.stages[%d] (ANALYSIS): %w", app.File, i, err)
		}
		if o, ok := opts.(*config.AnalysisOptions); ok && len(o.Logs) > 0 {
			return fmt.Errorf("%s: spec.pipeline.stages[%d] (ANALYSIS): with.logs asks for log analysis, which Ferry does not run: "+
				"analyse with metrics or https instead, or remove the stage", app.File, i)
		}
	}
	return nil
}

// matches reports whether a commitMatcher pattern (a regular expression,
// as in PipeCD) is set and matches the commit message. A pattern that does
// not compile matches nothing.
func matches(pattern, msg string) bool {
	if pattern == "" {
		return false
	}
	ok, err := regexp.MatchString(pattern, msg)
	return err == nil && ok
}
