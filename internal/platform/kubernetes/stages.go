package kubernetes

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
)

// Stage metadata keys the stages write, PipeCD's names where PipeCD has
// them.
const (
	// MetadataCanaryResources and MetadataBaselineResources list, comma
	// separated, the keys of the objects a canary or baseline rollout
	// applied (ResourceKey.String).
	MetadataCanaryResources   = "canary-resources"
	MetadataBaselineResources = "baseline-resources"
	// MetadataPrimaryPercentage, MetadataCanaryPercentage and
	// MetadataBaselinePercentage are the traffic shares K8S_TRAFFIC_ROUTING
	// applied, in percent.
	MetadataPrimaryPercentage  = "primary-percentage"
	MetadataCanaryPercentage   = "canary-percentage"
	MetadataBaselinePercentage = "baseline-percentage"
)

// kubeSpec returns the application's Kubernetes spec, or an error when the
// application is of another kind.
func kubeSpec(app *config.AppConfig) (*config.KubernetesSpec, error) {
	if app == nil {
		return nil, errors.New("no application config")
	}
	if app.Kubernetes == nil {
		return nil, fmt.Errorf("%s is a %s, not a KubernetesApp", app.File, app.Kind)
	}
	return app.Kubernetes, nil
}

// setup reads what most stages start with: the application's Kubernetes
// spec and the stage's options as T.
func setup[T any](in platform.StageInput) (*config.KubernetesSpec, *T, error) {
	spec, err := kubeSpec(in.App)
	if err != nil {
		return nil, nil, err
	}
	opts, err := platform.StageOptions[T](in)
	if err != nil {
		return nil, nil, err
	}
	return spec, opts, nil
}

// stageTimeout is how long a stage waits for health: the pipeline stage's
// timeout, else DefaultWaitTimeout.
func stageTimeout(in platform.StageInput) time.Duration {
	if in.Config != nil && in.Config.Timeout > 0 {
		return in.Config.Timeout.Std()
	}
	return DefaultWaitTimeout
}

// runningApp is the application config to render the running commit
// with: running's when it is a KubernetesApp, else app's (the target's).
func runningApp(app, running *config.AppConfig) *config.AppConfig {
	if running != nil && running.Kubernetes != nil {
		return running
	}
	return app
}

// renderAt renders the manifests of d's application at one checkout, with
// spec's input and the sealed secrets of enc (the same config's
// spec.encryption).
func (p *Provider) renderAt(ctx context.Context, d *ferryv1.Deployment, spec *config.KubernetesSpec, enc *config.Encryption, repoDir, appDir string) ([]*unstructured.Unstructured, error) {
	return Render(ctx, RenderInput{
		RepoDir: repoDir, AppDir: appDir, AppName: d.GetApplicationName(),
		ConfigFile: d.GetGitPath().GetConfigFilename(), Input: spec.Input, Helm: p.helm,
		Encryption: enc, Decrypter: p.decrypter,
	})
}

// render is renderAt for a stage, which logs what it rendered.
func (p *Provider) render(ctx context.Context, in platform.StageInput, spec *config.KubernetesSpec, enc *config.Encryption, repoDir, appDir, commit string) ([]*unstructured.Unstructured, error) {
	objs, err := p.renderAt(ctx, in.Deployment, spec, enc, repoDir, appDir)
	if err != nil {
		return nil, err
	}
	in.Log.Info(fmt.Sprintf("Rendered %d objects at commit %.8s", len(objs), commit))
	return objs, nil
}

// apply applies objs for the application, opts' AppID, Namespace,
// AutoCreateNamespace and Log filled in from in and spec.
func (p *Provider) apply(ctx context.Context, in platform.StageInput, spec *config.KubernetesSpec, objs []*unstructured.Unstructured, opts ApplyOptions) (*ApplyResult, error) {
	opts.AppID = in.Deployment.GetApplicationId()
	opts.Namespace, opts.AutoCreateNamespace = spec.Input.Namespace, spec.Input.AutoCreateNamespace
	opts.Log = in.Log.Info
	return p.applier.Apply(ctx, objs, opts)
}

// applyAndWait is apply, then a wait until the objects are healthy.
func (p *Provider) applyAndWait(ctx context.Context, in platform.StageInput, spec *config.KubernetesSpec, objs []*unstructured.Unstructured, opts ApplyOptions) (*ApplyResult, error) {
	res, err := p.apply(ctx, in, spec, objs, opts)
	if err != nil {
		return res, err
	}
	if err := p.applier.WaitHealthy(ctx, res.Objects, stageTimeout(in), in.Log.Info); err != nil {
		return res, err
	}
	return res, nil
}

// targetCommit is the deployment's target commit.
func targetCommit(in platform.StageInput) string {
	return in.Deployment.GetTrigger().GetCommit().GetHash()
}

// syncStage renders the target commit's manifests, labels the workloads'
// pods as the primary variant (and their selectors with
// addVariantLabelToSelector), applies them, prunes with prune, and waits
// until they are healthy. Options come from quickSync, or from the
// stage's own when it is a pipeline stage (either one turns an option on).
type syncStage struct{ p *Provider }

func (s syncStage) Execute(ctx context.Context, in platform.StageInput) error {
	spec, opts, err := setup[config.K8sSyncOptions](in)
	if err != nil {
		return err
	}
	addToSelector := spec.QuickSync.AddVariantLabelToSelector || opts.AddVariantLabelToSelector
	prune := spec.QuickSync.Prune || opts.Prune
	commit := targetCommit(in)
	objs, err := s.p.render(ctx, in, spec, in.App.Generic.Encryption, in.RepoDir, in.AppDir, commit)
	if err != nil {
		return err
	}
	if err := labelPrimary(objs, spec, addToSelector); err != nil {
		return err
	}
	res, err := s.p.applyAndWait(ctx, in, spec, objs, ApplyOptions{Commit: commit, Prune: prune})
	if err != nil {
		return err
	}
	in.Log.Success(fmt.Sprintf("Applied %d objects, pruned %d; all healthy", len(res.Applied), len(res.Pruned)))
	return nil
}

// primaryRolloutStage applies the target commit's manifests as the primary
// variant: workloads' pods labelled primary (selectors too with
// addVariantLabelToSelector), with createService a `<service>-<suffix>`
// Service selecting the primary's pods, pruning with prune (the canary and
// baseline are kept: they are cleaned by their own stages). With istio or
// gatewayapi routing the VirtualService or HTTPRoute is left as it is, as
// PipeCD does, so the rollout does not undo the traffic split; a later
// K8S_TRAFFIC_ROUTING moves the traffic back.
type primaryRolloutStage struct{ p *Provider }

func (s primaryRolloutStage) Execute(ctx context.Context, in platform.StageInput) error {
	spec, opts, err := setup[config.K8sPrimaryRolloutOptions](in)
	if err != nil {
		return err
	}
	method, err := routingMethod(spec)
	if err != nil {
		return err
	}
	commit := targetCommit(in)
	objs, err := s.p.render(ctx, in, spec, in.App.Generic.Encryption, in.RepoDir, in.AppDir, commit)
	if err != nil {
		return err
	}
	var routing *unstructured.Unstructured
	if method != routingPodSelector {
		if routing, err = routingObject(objs, spec, method); err != nil {
			in.Log.Info(fmt.Sprintf("No routing object to leave alone: %v", err))
			routing = nil
		}
	}
	primary := make([]*unstructured.Unstructured, 0, len(objs)+1)
	for _, o := range objs {
		if o != routing {
			primary = append(primary, o)
		}
	}
	if routing != nil {
		in.Log.Info(fmt.Sprintf("Leaving %s %s as it is: traffic is routed by K8S_TRAFFIC_ROUTING", routing.GetKind(), routing.GetName()))
	}
	// A selector is immutable: the primary keeps the variant label in it
	// when the quick sync put it there.
	if err := labelPrimary(primary, spec, opts.AddVariantLabelToSelector || spec.QuickSync.AddVariantLabelToSelector); err != nil {
		return err
	}
	vl := variantLabelOf(spec)
	if opts.CreateService {
		svcs, err := variantServices(primary, spec, vl.key, vl.primary, cmp.Or(opts.Suffix, variantPrimary))
		if err != nil {
			return err
		}
		primary = append(primary, svcs...)
	}
	keep := func(obj *unstructured.Unstructured) bool {
		if vl.isVariantObject(obj) {
			return true
		}
		return routing != nil && obj.GroupVersionKind().GroupKind() == routing.GroupVersionKind().GroupKind() && obj.GetName() == routing.GetName()
	}
	res, err := s.p.applyAndWait(ctx, in, spec, primary, ApplyOptions{Commit: commit, Prune: opts.Prune, PruneKeep: keep})
	if err != nil {
		return err
	}
	in.Log.Success(fmt.Sprintf("Rolled out the primary: applied %d objects, pruned %d; all healthy", len(res.Applied), len(res.Pruned)))
	return nil
}

// canaryRolloutStage applies a canary variant of the target commit's
// workloads (see makeVariant), after the stage's patches, and waits until
// it is healthy.
type canaryRolloutStage struct{ p *Provider }

func (s canaryRolloutStage) Execute(ctx context.Context, in platform.StageInput) error {
	spec, opts, err := setup[config.K8sCanaryRolloutOptions](in)
	if err != nil {
		return err
	}
	commit := targetCommit(in)
	objs, err := s.p.render(ctx, in, spec, in.App.Generic.Encryption, in.RepoDir, in.AppDir, commit)
	if err != nil {
		return err
	}
	if err := applyPatches(objs, opts.Patches); err != nil {
		return err
	}
	if len(opts.Patches) > 0 {
		in.Log.Info(fmt.Sprintf("Patched the canary's manifests (%d patches)", len(opts.Patches)))
	}
	return s.p.rolloutVariant(ctx, in, spec, objs, commit, variantOptions{
		variant: variantCanary, suffix: cmp.Or(opts.Suffix, variantCanary), replicas: opts.Replicas, createService: opts.CreateService,
	}, MetadataCanaryResources)
}

// baselineRolloutStage applies a baseline variant made from the running
// commit's manifests (rendered with the running commit's input), so it
// runs what the primary ran before this deployment.
type baselineRolloutStage struct{ p *Provider }

func (s baselineRolloutStage) Execute(ctx context.Context, in platform.StageInput) error {
	spec, err := kubeSpec(in.App)
	if err != nil {
		return err
	}
	if in.RunningAppDir == "" {
		return errors.New("a baseline runs the running commit's manifests, and this application has none: this is its first deployment; remove K8S_BASELINE_ROLLOUT or deploy once first")
	}
	opts, err := platform.StageOptions[config.K8sBaselineRolloutOptions](in)
	if err != nil {
		return err
	}
	running := runningApp(in.App, in.RunningApp).Kubernetes
	commit := in.Deployment.GetRunningCommitHash()
	objs, err := s.p.render(ctx, in, running, runningApp(in.App, in.RunningApp).Generic.Encryption, in.RunningRepoDir, in.RunningAppDir, commit)
	if err != nil {
		return fmt.Errorf("render the running commit: %w", err)
	}
	return s.p.rolloutVariant(ctx, in, spec, objs, commit, variantOptions{
		variant: variantBaseline, suffix: cmp.Or(opts.Suffix, variantBaseline), replicas: opts.Replicas, createService: opts.CreateService,
	}, MetadataBaselineResources)
}

// rolloutVariant makes a variant of objs, applies it and waits until it is
// healthy, recording the applied keys in the stage's metadata under key.
func (p *Provider) rolloutVariant(ctx context.Context, in platform.StageInput, spec *config.KubernetesSpec, objs []*unstructured.Unstructured, commit string, o variantOptions, key string) error {
	variant, err := makeVariant(objs, spec, o)
	if err != nil {
		return err
	}
	in.Log.Info(fmt.Sprintf("Rolling out the %s: %d objects named *-%s", o.variant, len(variant), o.suffix))
	res, err := p.applyAndWait(ctx, in, spec, variant, ApplyOptions{Commit: commit})
	if res != nil && len(res.Objects) > 0 {
		keys := make([]string, len(res.Objects))
		for i, obj := range res.Objects {
			keys[i] = KeyOf(obj).String()
		}
		if perr := in.Metadata.Put(ctx, map[string]string{key: strings.Join(keys, ",")}); perr != nil && err == nil {
			err = fmt.Errorf("record the %s's objects: %w", o.variant, perr)
		}
	}
	if err != nil {
		return err
	}
	in.Log.Success(fmt.Sprintf("The %s is rolled out and healthy", o.variant))
	return nil
}

// cleanStage deletes one variant's objects (K8S_CANARY_CLEAN,
// K8S_BASELINE_CLEAN) and waits until they are gone.
type cleanStage struct {
	p       *Provider
	variant string
}

func (s cleanStage) Execute(ctx context.Context, in platform.StageInput) error {
	spec, err := kubeSpec(in.App)
	if err != nil {
		return err
	}
	vl := variantLabelOf(spec)
	deleted, err := s.p.deleteVariants(ctx, in, vl, vl.value(s.variant))
	if err != nil {
		return err
	}
	in.Log.Success(fmt.Sprintf("Deleted the %s: %d objects", s.variant, len(deleted)))
	return nil
}

// deleteVariants deletes the application's objects of the variant label
// values and waits until they are gone.
func (p *Provider) deleteVariants(ctx context.Context, in platform.StageInput, vl variantLabel, values ...string) ([]ResourceKey, error) {
	defer p.applier.owned.invalidate()
	logf := func(format string, args ...any) { in.Log.Info(fmt.Sprintf(format, args...)) }
	return p.applier.deleteVariants(ctx, in.Deployment.GetApplicationId(), vl.key, values, stageTimeout(in), logf)
}

// trafficRoutingStage shifts traffic among the variants with the
// application's trafficRouting.method (see routeObject), editing the
// routing object of the target commit's manifests, and records the
// shares in the stage's metadata.
type trafficRoutingStage struct{ p *Provider }

func (s trafficRoutingStage) Execute(ctx context.Context, in platform.StageInput) error {
	spec, opts, err := setup[config.K8sTrafficRoutingOptions](in)
	if err != nil {
		return err
	}
	w := weightsOf(opts)
	commit := targetCommit(in)
	objs, err := s.p.render(ctx, in, spec, in.App.Generic.Encryption, in.RepoDir, in.AppDir, commit)
	if err != nil {
		return err
	}
	return s.p.route(ctx, in, spec, in.App.Generic, objs, commit, w)
}

// route applies the routing object that sends w of the traffic to the
// variants and records w in the stage's metadata.
func (p *Provider) route(ctx context.Context, in platform.StageInput, spec *config.KubernetesSpec, generic *config.GenericSpec, objs []*unstructured.Unstructured, commit string, w weights) error {
	var pipeline []config.PipelineStage
	if generic != nil && generic.Pipeline != nil {
		pipeline = generic.Pipeline.Stages
	}
	obj, lines, err := routeObject(objs, spec, pipeline, w)
	if err != nil {
		return err
	}
	if err := in.Metadata.Put(ctx, map[string]string{
		MetadataPrimaryPercentage:  strconv.Itoa(w.primary),
		MetadataCanaryPercentage:   strconv.Itoa(w.canary),
		MetadataBaselinePercentage: strconv.Itoa(w.baseline),
	}); err != nil {
		return fmt.Errorf("record the traffic shares: %w", err)
	}
	in.Log.Info("Routing traffic: " + w.String())
	for _, l := range lines {
		in.Log.Info(l)
	}
	if _, err := p.applier.Apply(ctx, []*unstructured.Unstructured{obj}, ApplyOptions{
		AppID: in.Deployment.GetApplicationId(), Commit: commit, Namespace: spec.Input.Namespace, Log: in.Log.Info,
	}); err != nil {
		return err
	}
	in.Log.Success("Traffic routed: " + w.String())
	return nil
}

// rollbackStage restores what ran before the deployment: it re-applies
// the running commit's manifests as the primary (which restores the
// Service of pod selector routing), routes all traffic to the primary
// when istio or gatewayapi routing is configured, deletes the canary and
// baseline, and waits until the primary is healthy. On a first
// deployment there is nothing to restore: it deletes the variants only.
// It goes on past a failed step and reports every failure.
type rollbackStage struct{ p *Provider }

func (s rollbackStage) Execute(ctx context.Context, in platform.StageInput) error {
	spec, err := kubeSpec(in.App)
	if err != nil {
		return err
	}
	vl := variantLabelOf(spec)
	if in.RunningAppDir == "" {
		in.Log.Info("Nothing to roll back to: this was the application's first deployment; deleting its canary and baseline, if any")
		_, err := s.p.deleteVariants(ctx, in, vl, vl.canary, vl.baseline)
		return err
	}
	commit := in.Deployment.GetRunningCommitHash()
	in.Log.Info(fmt.Sprintf("Rolling back to commit %s", commit))
	ra := runningApp(in.App, in.RunningApp)
	running, generic := ra.Kubernetes, ra.Generic
	objs, err := s.p.render(ctx, in, running, runningApp(in.App, in.RunningApp).Generic.Encryption, in.RunningRepoDir, in.RunningAppDir, commit)
	if err != nil {
		return fmt.Errorf("render the running commit: %w", err)
	}
	if err := labelPrimary(objs, running, running.QuickSync.AddVariantLabelToSelector); err != nil {
		return err
	}
	var errs []error
	res, err := s.p.apply(ctx, in, running, objs, ApplyOptions{Commit: commit, Prune: running.QuickSync.Prune, PruneKeep: vl.isVariantObject})
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		errs = append(errs, err)
	}
	if method, merr := routingMethod(running); merr == nil && method != routingPodSelector {
		if err := s.p.route(ctx, in, running, generic, objs, commit, weights{primary: 100}); err != nil {
			if ctx.Err() != nil {
				return err
			}
			errs = append(errs, fmt.Errorf("route all traffic to the primary: %w", err))
		}
	}
	deleted, err := s.p.deleteVariants(ctx, in, vl, vl.canary, vl.baseline)
	if err != nil {
		if ctx.Err() != nil {
			return err
		}
		errs = append(errs, fmt.Errorf("delete the canary and baseline: %w", err))
	}
	if res != nil && len(errs) == 0 {
		if err := s.p.applier.WaitHealthy(ctx, res.Objects, stageTimeout(in), in.Log.Info); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	in.Log.Success(fmt.Sprintf("Rolled back to commit %.8s: applied %d objects, deleted %d of the canary and baseline; all healthy", commit, len(res.Applied), len(deleted)))
	return nil
}
