// Package clustersoak runs the local Kubernetes cluster for a long while
// on a busy machine and reports whether it stayed healthy: a Go build runs
// beside it in a loop, Deployments roll out one image after another, and
// the soak counts node NotReady transitions, pods made unready and
// rollouts that did not finish. A healthy cluster has none of either. It is
// a check for people (`go run ./bench/cmd/clustersoak -duration 30m`), not
// part of the tests: its worth is in running for many minutes.
package clustersoak

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/ferrycd/ferry/bench/internal/benchkit"
	"github.com/ferrycd/ferry/internal/localcluster"
)

// Namespace holds the soak's Deployments.
const Namespace = "soak"

// Options configure Run.
type Options struct {
	// BinDir holds the cluster's binaries; empty means localcluster's search.
	BinDir string
	// Duration is how long the cluster is soaked.
	Duration time.Duration
	// Deployments is how many Deployments roll out at once, each one
	// rollout after another; Replicas is the size of each.
	Deployments, Replicas int
	// RolloutTimeout is how long a rollout may take before it counts as
	// stuck.
	RolloutTimeout time.Duration
	// BuildDir is the Go module the load builds, BuildPackages its
	// packages; no BuildPackages means no build beside the cluster.
	BuildDir      string
	BuildPackages []string
	// BuildJobs is go build's -p; 0 means the number of CPUs.
	BuildJobs int
	// Logger receives progress.
	Logger *slog.Logger
}

// Report is what a soak saw.
type Report struct {
	Options  Options
	Elapsed  time.Duration
	Grace    time.Duration // the cluster's node monitor grace period
	LoadFrom string        // the 1-minute load average at the end
	// Builds counts go builds that finished; BuildFailures those that
	// failed (the build's own errors, not the cluster's).
	Builds, BuildFailures int
	// BuildCut says a build was still running when the soak ended.
	BuildCut bool
	// Rollouts counts rollouts that finished; Stuck those that did not
	// within RolloutTimeout. Slowest is the longest one that finished.
	Rollouts, Stuck int
	Slowest         time.Duration
	RolloutP50      time.Duration
	// NotReady counts nodes leaving the Ready state; PodsUnready counts the
	// soak's pods turning unready after they were Ready.
	NotReady, PodsUnready int
	// LeaseGap is the longest time between two renewals of a node Lease
	// the soak saw.
	LeaseGap time.Duration
	// Died names a process of the cluster that exited during the soak.
	Died string
}

// Healthy reports whether the cluster stayed healthy throughout.
func (r *Report) Healthy() bool {
	return r.NotReady == 0 && r.Stuck == 0 && r.Died == ""
}

// Run starts a cluster with the defaults every user of it gets, soaks it
// for o.Duration and reports.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Duration <= 0 || o.Deployments <= 0 || o.Replicas <= 0 || o.RolloutTimeout <= 0 {
		return nil, errors.New("soak: duration, deployments, replicas and rollout timeout must be positive")
	}
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	c, err := localcluster.Start(ctx, localcluster.Options{BinDir: o.BinDir, Logger: log})
	if err != nil {
		return nil, err
	}
	defer func() {
		if err := c.Stop(); err != nil {
			log.Error("stop the cluster", "error", err)
		}
	}()
	cs, err := c.Clientset()
	if err != nil {
		return nil, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: Namespace}}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
		return nil, fmt.Errorf("create namespace: %w", err)
	}

	rep := &Report{Options: o, Grace: localcluster.DefaultNodeMonitorGracePeriod}
	w, err := startWatch(ctx, cs, log)
	if err != nil {
		return nil, err
	}
	soakCtx, stop := context.WithTimeout(ctx, o.Duration)
	defer stop()
	begin := time.Now()
	builds := startBuilds(soakCtx, o, log)
	rollouts := startRollouts(soakCtx, cs, o, log)

	// Watch the processes too: a dead one ends the soak at once.
	_ = wait.PollUntilContextCancel(soakCtx, time.Second, false, func(context.Context) (bool, error) {
		for _, p := range c.State().Processes {
			if !p.Alive() {
				rep.Died = p.Name
				return true, nil
			}
		}
		return false, nil
	})
	stop()
	rep.Elapsed = time.Since(begin).Round(time.Second)
	builds.wait(rep)
	rollouts.wait(rep)
	w.report(rep)
	rep.LoadFrom = benchkit.LoadAverage()
	if rep.Died != "" {
		return rep, fmt.Errorf("soak: the cluster's %s exited during the soak", rep.Died)
	}
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	return rep, nil
}
