// Package platform is the contract between the deploy agent and the
// platforms it deploys to. A platform provider (one cluster, one cloud
// account) offers stage executors by stage name; the agent's scheduler runs
// the stages of a deployment through them and records what they report.
// Extra abilities (live state, drift, plan preview) are separate interfaces
// a provider may also implement, found by type assertion.
//
// Adding a platform is adding a package under internal/platform that
// implements Provider, and registering it in the agent's wiring.
package platform

import (
	"context"
	"errors"
	"fmt"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/config"
)

// Provider is one deploy target of the agent.
type Provider interface {
	// Name is the provider's name in the agent config.
	Name() string
	// Kind is the application kind it deploys.
	Kind() ferryv1.ApplicationKind
	// Executor returns the executor of the named stage, or nil when the
	// provider does not run that stage.
	Executor(stage string) StageExecutor
}

// StageExecutor runs one kind of stage.
type StageExecutor interface {
	// Execute runs the stage to completion. It blocks; it returns nil on
	// success, an error saying why on failure, and ctx's error when the
	// stage was cancelled (a CANCEL command, the deployment's timeout, or the
	// agent stopping). It reports progress through in.Log and keeps what a
	// resumed run needs in in.Metadata. It must be safe to run again after
	// the agent died mid-way: apply is idempotent, waits resume.
	Execute(ctx context.Context, in StageInput) error
}

// ErrExited is what an executor returns (wrapped) to end the deployment there
// as a success: the stage is EXITED and the stages after it do not run
// (TERRAFORM_PLAN's exitOnNoChanges).
var ErrExited = errors.New("nothing more to do")

// StageInput is what a stage executor works with.
type StageInput struct {
	Deployment *ferryv1.Deployment
	Stage      *ferryv1.Stage
	// Config is the stage as the application's pipeline writes it (decode
	// its options with Config.StageOptions); nil for the stages the
	// planner adds itself (quick sync, ROLLBACK, SCRIPT_RUN_ROLLBACK).
	Config *config.PipelineStage
	// App is the application config at the deployment's target commit.
	App *config.AppConfig
	// RepoDir is the checkout of the target commit; AppDir the
	// application's directory inside it. Checkouts are shared read-only
	// with the other deployments and observers of the same commit: an
	// executor must not write in them (copy what it needs to change).
	RepoDir, AppDir string
	// RunningRepoDir and RunningAppDir are the checkout of the commit that
	// runs now (the last successful deployment's), empty on a first deploy;
	// read-only too. They are set for every stage of a pipeline and for the
	// rollback stages; a quick sync does without them.
	RunningRepoDir, RunningAppDir string
	// RunningApp is the application config at the running commit, nil when
	// RunningAppDir is empty or the config there does not parse.
	RunningApp *config.AppConfig
	Log        Logger
	Metadata   Metadata
	// Approvals delivers the approvals people send to this stage while it
	// runs; nil for stages other than WAIT_APPROVAL.
	Approvals <-chan Approval
}

// Approval is one person's approval of a running stage. The executor
// answers on Result exactly once: nil when the approval counts, an error
// saying why it was refused (not an approver, approved twice).
type Approval struct {
	// Approver is the approver's subject, as the control plane
	// authenticated it ("user:alice", "user:github:583231", "apikey:k1").
	Approver string
	Result   chan<- error
}

// StageOptions decodes the stage's `with` options into a *T (the options
// type config.NewStageOptions gives the stage's name): zero options for a
// stage the planner added (no Config) or one given none.
func StageOptions[T any](in StageInput) (*T, error) {
	if in.Config == nil {
		return new(T), nil
	}
	opts, err := in.Config.StageOptions()
	if err != nil {
		return nil, fmt.Errorf("stage %s options: %w", in.Config.Name, err)
	}
	if opts == nil {
		return new(T), nil
	}
	o, ok := opts.(*T)
	if !ok {
		return nil, fmt.Errorf("stage %s: the pipeline gives it the options of %s", in.Stage.GetName(), in.Config.Name)
	}
	return o, nil
}

// Logger is a stage's log, shown to people as it is written.
type Logger interface {
	Info(msg string)
	Success(msg string)
	Error(msg string)
}

// Metadata is a stage's stored key-value state, kept by the control plane
// so a resumed stage can pick up where it stopped.
type Metadata interface {
	Get(key string) (string, bool)
	// Put stores the pairs; it blocks until they are stored or ctx ends.
	Put(ctx context.Context, kv map[string]string) error
}

// StrategyDecider is implemented by providers that choose quick sync or the
// pipeline from what changed between the running and the target commit,
// the last of the planner's rules (after an explicit strategy, no
// pipeline, alwaysUsePipeline, commitMatcher and a first deployment).
type StrategyDecider interface {
	// DecideStrategy reports whether the change needs the pipeline and
	// why, in words for the deployment's summary ("image of Deployment
	// web changed from web:v1 to web:v2", "only the replicas changed").
	DecideStrategy(ctx context.Context, in PlanInput) (pipeline bool, why string, err error)
}

// PlanInput is what a StrategyDecider compares: the target commit's
// application and checkout, and the running commit's.
type PlanInput struct {
	Deployment                    *ferryv1.Deployment
	App                           *config.AppConfig
	RepoDir, AppDir               string
	RunningApp                    *config.AppConfig
	RunningRepoDir, RunningAppDir string
}
