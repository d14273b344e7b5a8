package kubernetes

import (
	"context"
	"fmt"
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
)

// Applier applies objects to one cluster and reads them back. It keeps the
// cluster's discovery information in memory, refreshed when an object's kind
// is unknown, so a CustomResourceDefinition applied in one call is usable
// right after. An Applier is safe for concurrent use; concurrent Apply calls
// for the same application race as two kubectl invocations would.
type Applier struct {
	dynamic   dynamic.Interface
	quiet     dynamic.Interface // for prune's lists: no deprecation warnings
	clientset kubernetes.Interface
	discovery discovery.CachedDiscoveryInterfaceWithContext
	mapper    *restmapper.DeferredDiscoveryRESTMapper
	// mappings caches mapper's answers by GroupVersionKind (a lookup in
	// it costs tens of microseconds, once per object applied); emptied
	// whenever mapper is reset.
	mappings sync.Map
	// live, when set, is the provider's informers: Apply reads objects
	// from them instead of the API server.
	live *liveCache
	// owned is the shared scan for objects not in Git.
	owned ownedScan
	// rest sends server-side applies (to learn created from configured
	// without a read first); applied holds, by ResourceKey, the manifestHash
	// of what was last applied.
	rest    rest.Interface
	applied sync.Map
	// namespaces holds the autoCreateNamespace namespaces this Applier
	// made sure of, so each apply does not ask again.
	namespaces sync.Map
}

// NewApplier returns an Applier for the cluster cfg points at. It makes no
// request; the first Apply discovers the cluster's API resources. Without a
// rate limit in cfg it allows 50 requests a second, bursts of 100.
func NewApplier(cfg *rest.Config) (*Applier, error) {
	cfg = rest.CopyConfig(cfg)
	if cfg.QPS == 0 && cfg.RateLimiter == nil {
		// client-go's default of 5 requests a second makes a sync of a few
		// dozen objects, two requests each, take seconds of waiting alone.
		cfg.QPS, cfg.Burst = 50, 100
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	quietCfg := rest.CopyConfig(cfg)
	quietCfg.WarningHandlerWithContext = rest.NoWarnings{}
	quiet, err := dynamic.NewForConfigAndClient(quietCfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	cs, err := kubernetes.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	dc, err := discovery.NewDiscoveryClientForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("kubernetes discovery: %w", err)
	}
	restCfg := dynamic.ConfigFor(cfg)
	restCfg.GroupVersion, restCfg.APIPath = nil, ""
	rc, err := rest.UnversionedRESTClientForConfigAndClient(restCfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	cached := memory.NewMemCacheClientWithContext(dc)
	return &Applier{
		dynamic:   dyn,
		quiet:     quiet,
		clientset: cs,
		discovery: cached,
		mapper:    restmapper.NewDeferredDiscoveryRESTMapperWithContext(cached),
		rest:      rc,
	}, nil
}

// mapping finds how to reach objects of gvk. When the kind is unknown the
// discovery cache is refreshed once, since the kind may come from a CRD
// created after the cache was filled. For kinds a CRD of the current apply
// defines (fresh), it keeps refreshing for a short while, because an
// Established CRD can take a moment to show in discovery.
func (a *Applier) mapping(ctx context.Context, gvk schema.GroupVersionKind, fresh bool) (*meta.RESTMapping, error) {
	if m, ok := a.mappings.Load(gvk); ok {
		return m.(*meta.RESTMapping), nil
	}
	m, err := a.discoverMapping(ctx, gvk, fresh)
	if err == nil {
		a.mappings.Store(gvk, m)
	}
	return m, err
}

// resetMapper forgets what discovery found, to find it again.
func (a *Applier) resetMapper(ctx context.Context) {
	a.mapper.ResetWithContext(ctx)
	a.mappings.Clear()
}

// discoverMapping is mapping without its cache: it asks the discovery
// mapper, refreshing it as mapping says.
func (a *Applier) discoverMapping(ctx context.Context, gvk schema.GroupVersionKind, fresh bool) (*meta.RESTMapping, error) {
	m, err := a.mapper.RESTMappingWithContext(ctx, gvk.GroupKind(), gvk.Version)
	if !meta.IsNoMatchError(err) {
		return m, err
	}
	a.resetMapper(ctx)
	m, err = a.mapper.RESTMappingWithContext(ctx, gvk.GroupKind(), gvk.Version)
	if fresh && meta.IsNoMatchError(err) {
		werr := wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, false, func(ctx context.Context) (bool, error) {
			a.resetMapper(ctx)
			m, err = a.mapper.RESTMappingWithContext(ctx, gvk.GroupKind(), gvk.Version)
			return !meta.IsNoMatchError(err), nil
		})
		if werr != nil && !meta.IsNoMatchError(err) {
			err = werr
		}
	}
	if meta.IsNoMatchError(err) {
		return nil, fmt.Errorf("the cluster does not serve %s; apply its CustomResourceDefinition first or fix apiVersion", gvk)
	}
	return m, err
}

// resource returns the client for obj's resource, in obj's namespace when
// the resource is namespaced.
func (a *Applier) resource(m *meta.RESTMapping, namespace string) dynamic.ResourceInterface {
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		return a.dynamic.Resource(m.Resource).Namespace(namespace)
	}
	return a.dynamic.Resource(m.Resource)
}
