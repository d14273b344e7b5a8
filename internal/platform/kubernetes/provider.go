package kubernetes

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/client-go/tools/clientcmd"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/config"
	"github.com/ferrycd/ferry/internal/platform"
	"github.com/ferrycd/ferry/internal/secrets"
)

// Stage names this provider runs.
const (
	StageSync            = "K8S_SYNC"
	StagePrimaryRollout  = "K8S_PRIMARY_ROLLOUT"
	StageCanaryRollout   = "K8S_CANARY_ROLLOUT"
	StageCanaryClean     = "K8S_CANARY_CLEAN"
	StageBaselineRollout = "K8S_BASELINE_ROLLOUT"
	StageBaselineClean   = "K8S_BASELINE_CLEAN"
	StageTrafficRouting  = "K8S_TRAFFIC_ROUTING"
	StageRollback        = "K8S_ROLLBACK"
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
	// decrypter opens applications' sealed secrets; nil when the agent
	// has no secretManagement.
	decrypter secrets.Decrypter
}

// Option is an optional setting of NewProvider.
type Option func(*Provider)

// WithDecrypter makes the provider decrypt applications' sealed secrets
// (spec.encryption) with d before rendering. Without it an application
// with decryption targets fails to render, saying the agent has no
// secretManagement.
func WithDecrypter(d secrets.Decrypter) Option {
	return func(p *Provider) { p.decrypter = d }
}

var _ platform.Provider = (*Provider)(nil)

// NewProvider connects to the cluster a KUBERNETES platform provider's
// config names: its kubeConfigPath (~ expanded) and masterURL, or the
// in-cluster config when both are empty. It makes no call to the cluster.
func NewProvider(name string, cfg *config.KubernetesProviderConfig, helm HelmSettings, opts ...Option) (*Provider, error) {
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
	p := &Provider{name: name, applier: a, helm: helm, live: live}
	for _, o := range opts {
		o(p)
	}
	return p, nil
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

// Executor implements platform.Provider: the Kubernetes stages of PipeCD,
// K8S_ROLLBACK also run for the planner's generic ROLLBACK stage.
func (p *Provider) Executor(stage string) platform.StageExecutor {
	switch stage {
	case StageSync:
		return syncStage{p}
	case StagePrimaryRollout:
		return primaryRolloutStage{p}
	case StageCanaryRollout:
		return canaryRolloutStage{p}
	case StageBaselineRollout:
		return baselineRolloutStage{p}
	case StageCanaryClean:
		return cleanStage{p, variantCanary}
	case StageBaselineClean:
		return cleanStage{p, variantBaseline}
	case StageTrafficRouting:
		return trafficRoutingStage{p}
	case StageRollback, "ROLLBACK":
		return rollbackStage{p}
	}
	return nil
}
