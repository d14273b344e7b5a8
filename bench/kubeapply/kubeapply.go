// Package kubeapply measures the local Kubernetes cluster that Ferry's tests,
// benchmarks and quickstart run against: how long its binaries take to build
// and the cluster to start, and the floor server-side apply puts under every
// Kubernetes deployment Ferry makes — how fast client-go applies ConfigMaps
// to it at several parallelisms.
package kubeapply

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	applycorev1 "k8s.io/client-go/applyconfigurations/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/ferrycd/ferry/bench/internal/benchkit"
	"github.com/ferrycd/ferry/internal/localcluster"
)

// Options say what to measure.
type Options struct {
	// BinDir holds the cluster's binaries; empty means localcluster's search.
	BinDir string
	// Starts is how many times to start (and stop) a cluster to time it.
	Starts int
	// Objects are the numbers of ConfigMaps the apply runs create; each
	// count runs once at every Parallelism.
	Objects []int
	// Parallelism are the numbers of concurrent appliers.
	Parallelism []int
	// Logger receives progress; nil discards it.
	Logger *slog.Logger
}

// Result is one benchmark run.
type Result struct {
	// Build is what build.sh recorded, with its cold build time.
	Build localcluster.BuildInfo
	// Starts are the start-to-ready times of the clusters started.
	Starts []time.Duration
	// Applies are the apply runs, in the order of Options.
	Applies []Apply
	// LoadAverage is the 1-minute load average when Run began: the
	// figures mean less on a machine busy with other work.
	LoadAverage string
}

// Apply is one run of server-side applies.
type Apply struct {
	Objects, Parallelism int
	// Elapsed is the wall time of the whole run.
	Elapsed time.Duration
	// P50 and P99 are per-apply latencies.
	P50, P99 time.Duration
}

// OpsPerSecond is the run's throughput.
func (a Apply) OpsPerSecond() float64 { return float64(a.Objects) / a.Elapsed.Seconds() }

// Run times o.Starts cluster starts, then measures the applies on the last
// cluster started, each run in a namespace of its own.
func Run(ctx context.Context, o Options) (Result, error) {
	logger := o.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	bin, err := localcluster.FindBinDir(o.BinDir)
	if err != nil {
		return Result{}, err
	}
	r := Result{LoadAverage: benchkit.LoadAverage()}
	if r.Build, err = localcluster.ReadBuildInfo(bin); err != nil {
		return Result{}, err
	}
	var c *localcluster.Cluster
	for i := range max(o.Starts, 1) {
		if c != nil {
			if err := c.Stop(); err != nil {
				return Result{}, err
			}
		}
		begin := time.Now()
		if c, err = localcluster.Start(ctx, localcluster.Options{BinDir: bin}); err != nil {
			return Result{}, err
		}
		r.Starts = append(r.Starts, time.Since(begin))
		logger.Info("cluster started", "run", i+1, "took", r.Starts[i].Round(time.Millisecond))
	}
	defer func() { _ = c.Stop() }() // on early returns; Stop is idempotent

	cfg, err := c.RESTConfig()
	if err != nil {
		return Result{}, err
	}
	cfg.QPS = -1 // no client-side rate limit: measure the server
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return Result{}, fmt.Errorf("clientset: %w", err)
	}
	for _, n := range o.Objects {
		for _, p := range o.Parallelism {
			a, err := applyRun(ctx, cs, n, p)
			if err != nil {
				return Result{}, err
			}
			logger.Info("applied", "objects", n, "parallelism", p, "ops_per_s", int(a.OpsPerSecond()), "p50", a.P50, "p99", a.P99)
			r.Applies = append(r.Applies, a)
		}
	}
	return r, c.Stop()
}

// applyRun applies n new ConfigMaps with p workers in a new namespace.
func applyRun(ctx context.Context, cs kubernetes.Interface, n, p int) (Apply, error) {
	ns, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{
		ObjectMeta: metav1.ObjectMeta{GenerateName: fmt.Sprintf("bench-%d-%d-", n, p)},
	}, metav1.CreateOptions{})
	if err != nil {
		return Apply{}, fmt.Errorf("create namespace: %w", err)
	}
	jobs := make(chan int)
	lat := make([]time.Duration, n)
	errs := make([]error, p)
	var wg sync.WaitGroup
	begin := time.Now()
	for w := range p {
		wg.Go(func() {
			for i := range jobs {
				t := time.Now()
				_, err := cs.CoreV1().ConfigMaps(ns.Name).Apply(ctx, configMap(ns.Name, i),
					metav1.ApplyOptions{FieldManager: "ferry", Force: true})
				lat[i] = time.Since(t)
				if err != nil && errs[w] == nil {
					errs[w] = fmt.Errorf("apply configmap %d: %w", i, err)
				}
			}
		})
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	a := Apply{Objects: n, Parallelism: p, Elapsed: time.Since(begin)}
	if err := errors.Join(errs...); err != nil {
		return a, err
	}
	slices.Sort(lat)
	a.P50, a.P99 = percentile(lat, 50), percentile(lat, 99)
	return a, nil
}

// configMap is the i-th benchmark object: eight small keys, about the size
// of an application's settings.
func configMap(ns string, i int) *applycorev1.ConfigMapApplyConfiguration {
	data := make(map[string]string, 8)
	for k := range 8 {
		data[fmt.Sprintf("KEY_%d", k)] = fmt.Sprintf("value-%d-%d-0123456789abcdef", i, k)
	}
	return applycorev1.ConfigMap(fmt.Sprintf("cm-%05d", i), ns).
		WithLabels(map[string]string{"app.kubernetes.io/managed-by": "ferry"}).
		WithData(data)
}

// percentile returns the q-th percentile of sorted (nearest rank).
func percentile(sorted []time.Duration, q int) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := (len(sorted)*q + 99) / 100
	return sorted[max(i, 1)-1]
}
