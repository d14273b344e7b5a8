package kubernetes

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
)

// Stage names this provider runs.
const (
	StageSync     = "K8S_SYNC"
	StageRollback = "K8S_ROLLBACK"
)

// DefaultWaitTimeout bounds the wait for applied workloads to become
// healthy when the stage sets no timeout.
const DefaultWaitTimeout = 5 * time.Minute

// Provider deploys to one Kubernetes cluster.
type Provider struct {
	name    string
	applier *Applier
	helm    HelmSettings
	// live is the informers shared by every watch, the applier and drift.
	live *liveCache
}

var _ platform.Provider = (*Provider)(nil)

// NewProvider connects to the cluster a KUBERNETES platform provider's
// config names: its kubeConfigPath (~ expanded) and masterURL, or the
// in-cluster config when both are empty. It makes no call to the cluster.
func NewProvider(name string, cfg *config.KubernetesProviderConfig, helm HelmSettings) (*Provider, error) {
	if cfg == nil {
		cfg = &config.KubernetesProviderConfig{}
	}
	path := cfg.KubeConfigPath
	if rest, ok := strings.CutPrefix(path, "~/"); ok {
		home, err := os.UserHomeDir()
		if err != nil {
			return nil, fmt.Errorf("platform provider %s: expand kubeConfigPath: %w", name, err)
		}
		path = filepath.Join(home, rest)
	}
	rc, err := clientcmd.BuildConfigFromFlags(cfg.MasterURL, path)
	if err != nil {
		return nil, fmt.Errorf("platform provider %s: load kubeconfig %s: %w", name, path, err)
	}
	// The API server protects itself (priority and fairness); a client-side
	// limit would only make large applications slow to apply.
	rc.QPS, rc.Burst = 1000, 2000
	a, err := NewApplier(rc)
	if err != nil {
		return nil, fmt.Errorf("platform provider %s: %w", name, err)
	}
	live := newLiveCache(a)
	a.live = live
	return &Provider{name: name, applier: a, helm: helm, live: live}, nil
}

// Close stops the provider's informers; watches still running end with
// the informers' last state. Stages and other calls keep working, reading
// from the API server. Close is idempotent and returns nil.
func (p *Provider) Close() error {
	p.live.close()
	return nil
}

// Name implements platform.Provider.
func (p *Provider) Name() string { return p.name }

// Kind implements platform.Provider.
func (p *Provider) Kind() ferryv1.ApplicationKind {
	return ferryv1.ApplicationKind_APPLICATION_KIND_KUBERNETES
}

// Executor implements platform.Provider: K8S_SYNC, and K8S_ROLLBACK (also
// run for the planner's generic ROLLBACK stage).
func (p *Provider) Executor(stage string) platform.StageExecutor {
	switch stage {
	case StageSync:
		return syncStage{p}
	case StageRollback, "ROLLBACK":
		return rollbackStage{p}
	}
	return nil
}

// syncStage renders the target commit's manifests, applies them, prunes
// when quickSync.prune is set, and waits until they are healthy.
type syncStage struct{ p *Provider }

func (s syncStage) Execute(ctx context.Context, in platform.StageInput) error {
	return s.p.deploy(ctx, in, in.RepoDir, in.AppDir, in.Deployment.GetTrigger().GetCommit().GetHash())
}

// rollbackStage deploys the manifests of the commit that ran before.
type rollbackStage struct{ p *Provider }

func (s rollbackStage) Execute(ctx context.Context, in platform.StageInput) error {
	if in.RunningAppDir == "" {
		in.Log.Info("Nothing to roll back to: this was the application's first deployment")
		return nil
	}
	in.Log.Info(fmt.Sprintf("Rolling back to commit %s", in.Deployment.GetRunningCommitHash()))
	return s.p.deploy(ctx, in, in.RunningRepoDir, in.RunningAppDir, in.Deployment.GetRunningCommitHash())
}

func (p *Provider) deploy(ctx context.Context, in platform.StageInput, repoDir, appDir, commit string) error {
	spec := in.App.Kubernetes
	if spec == nil {
		return fmt.Errorf("%s is a %s, not a KubernetesApp", in.App.File, in.App.Kind)
	}
	objs, err := Render(ctx, RenderInput{
		RepoDir: repoDir, AppDir: appDir, AppName: in.Deployment.GetApplicationName(),
		ConfigFile: in.Deployment.GetGitPath().GetConfigFilename(), Input: spec.Input, Helm: p.helm,
	})
	if err != nil {
		return err
	}
	in.Log.Info(fmt.Sprintf("Rendered %d objects at commit %.8s", len(objs), commit))
	res, err := p.applier.Apply(ctx, objs, ApplyOptions{
		AppID: in.Deployment.GetApplicationId(), Commit: commit,
		Namespace: spec.Input.Namespace, AutoCreateNamespace: spec.Input.AutoCreateNamespace,
		Prune: spec.QuickSync.Prune, Log: in.Log.Info,
	})
	if err != nil {
		return err
	}
	timeout := DefaultWaitTimeout
	if d := in.Stage.GetMetadata()["timeout"]; d != "" {
		if t, err := time.ParseDuration(d); err == nil {
			timeout = t
		}
	}
	if err := p.applier.WaitHealthy(ctx, res.Objects, timeout, in.Log.Info); err != nil {
		return err
	}
	in.Log.Success(fmt.Sprintf("Applied %d objects, pruned %d; all healthy", len(res.Applied), len(res.Pruned)))
	return nil
}
