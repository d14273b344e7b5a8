// Package agentscale measures the deploy agent at scale, run as its own
// process (`ferry agent --config FILE`) against an in-process control
// plane and the local cluster, with N applications in one Git repository:
//
//   - how long the agent takes to deploy N new applications (each its own
//     directory, a Deployment of one kwok replica and a ConfigMap) until
//     every one is SUCCESS, then reported SYNCED;
//   - its memory (VmRSS, VmHWM) and CPU (utime+stime over a quiet window)
//     idle and with N applications watched;
//   - drift-detection latency: a client-go edit of one live object to the
//     application showing OUT_OF_SYNC in the API, next to the floor of a
//     plain client-go watch seeing the same edit, in the same run;
//   - start to first application reported: from process start to the first
//     application's sync state reported anew in the API, with N deployed.
//
// Counts grow in one run: the agent that was idle deploys the first
// applications, then more are added by later commits, so every figure is
// taken from the same cluster, control plane and repository.
package agentscale

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"slices"
	"time"

	"github.com/ferrycd/ferry/bench/internal/benchkit"
)

// Edits an out-of-band drift may make.
const (
	// EditDeployment patches a Deployment's replicas from 1 to 2.
	EditDeployment = "deployment"
	// EditConfigMap patches the value of a ConfigMap's key.
	EditConfigMap = "configmap"
)

// Options say what to measure. Counts are numbers of applications.
type Options struct {
	// Memory are the counts at which memory and CPU are read; 0 is the
	// idle agent (registered, connected, no applications).
	Memory []int
	// Drift are the counts at which drift latency is measured.
	Drift []int
	// Start are the counts at which the agent is restarted and its first
	// report timed.
	Start []int
	// Reps is how many drift edits to time at each count (after one
	// warm-up edit that is not counted).
	Reps int
	// Window is the quiet window CPU is measured over.
	Window time.Duration
	// PerNamespace is how many applications share a namespace.
	PerNamespace int
	// Batch is how many new applications one commit adds; 0 adds each
	// step's applications in one commit. A batch is deployed before the
	// next is committed.
	Batch int
	// DeployTimeout bounds the deployment of one step's new applications;
	// when it passes, the run stops growing and reports what it reached.
	DeployTimeout time.Duration
	// Poll is the interval of the tight API polls (drift, first report).
	Poll time.Duration
	// Edit is EditDeployment or EditConfigMap.
	Edit string
	// Ferry is a prebuilt ferry binary; empty builds ./cmd/ferry.
	Ferry string
	// Keep leaves the work directory (agent logs, RSS samples) in place.
	Keep bool
	// AgentEnv is added to the agent's environment (KEY=VALUE), e.g.
	// GOGC=50 to try a setting on the agent alone.
	AgentEnv []string
	// Profile serves the agent's pprof (ferry agent --admin-address) and
	// saves a heap profile and a goroutine count at each memory row into
	// the work directory (heap-N.pb.gz); use it with Keep.
	Profile bool
	// Logger receives progress.
	Logger *slog.Logger
}

// Report is what a run measured.
type Report struct {
	Began time.Time
	// LoadAverage and LoadAverageEnd are the 1-minute load averages when
	// the run began and ended: the machine may be shared.
	LoadAverage, LoadAverageEnd string
	Options                     Options
	Nodes                       int
	// Binary is the size of the ferry binary the agent ran from.
	Binary  int64
	Deploys []DeployRow
	Memory  []MemoryRow
	Drift   []DriftRow
	Starts  []StartRow
	// Reached is the largest count fully deployed; Stopped says why the
	// run stopped short of its largest count ("" when it did not).
	Reached int
	Stopped string
	// RSSPeak is the highest VmRSS sampled over the whole run (every 5 s).
	RSSPeak uint64
	// Log summarises the warnings and errors in the agent's logs.
	Log LogSummary
	// WorkDir is kept when Options.Keep is set.
	WorkDir string
}

// counts returns every count Options name, ascending, without duplicates.
func (o Options) counts() []int {
	all := slices.Concat(o.Memory, o.Drift, o.Start)
	slices.Sort(all)
	return slices.Compact(all)
}

// Run sets up the rig, measures every count in ascending order and tears
// the rig down. A report is returned with the error when a step failed
// after others had been measured.
func Run(ctx context.Context, o Options) (*Report, error) {
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	counts := o.counts()
	rep := &Report{Began: time.Now(), LoadAverage: benchkit.LoadAverage(), Options: o, Nodes: nodesFor(slices.Max(counts))}
	r, err := newRig(ctx, o, rep.Nodes)
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(r.ferry); err == nil {
		rep.Binary = fi.Size()
	}
	defer func() {
		rep.RSSPeak = r.sampler.peak()
		rep.Log = r.close()
		rep.LoadAverageEnd = benchkit.LoadAverage()
		if o.Keep {
			rep.WorkDir = r.dir
		}
	}()
	for _, n := range counts {
		if err := measure(ctx, r, rep, n); err != nil {
			return rep, err
		}
		if rep.Stopped != "" {
			break
		}
	}
	return rep, nil
}

// measure grows the rig to n applications and takes the measurements o
// asks for at n: memory first (it needs the quiet), then drift, then the
// restart.
func measure(ctx context.Context, r *rig, rep *Report, n int) error {
	o := r.opts
	if n > int(r.apps.Load()) {
		row, err := r.grow(ctx, n)
		if row != nil {
			rep.Deploys = append(rep.Deploys, *row)
		}
		if err != nil {
			return err
		}
		if !row.Complete() {
			rep.Stopped = row.Problem
			return nil
		}
	}
	rep.Reached = n
	if slices.Contains(o.Memory, n) {
		row, err := r.memory(ctx, n)
		if err != nil {
			return fmt.Errorf("memory at %d applications: %w", n, err)
		}
		rep.Memory = append(rep.Memory, row)
	}
	if n > 0 && slices.Contains(o.Drift, n) {
		row, err := r.drift(ctx, n)
		if err != nil {
			return fmt.Errorf("drift at %d applications: %w", n, err)
		}
		rep.Drift = append(rep.Drift, row)
	}
	if n > 0 && slices.Contains(o.Start, n) {
		row, err := r.restart(ctx, n)
		if err != nil {
			return fmt.Errorf("restart at %d applications: %w", n, err)
		}
		rep.Starts = append(rep.Starts, row)
	}
	return nil
}

// nodesFor returns how many kwok nodes hold n one-replica applications
// (each node takes 110 pods) with room for the drift edits' extra pods.
func nodesFor(n int) int {
	return n/100 + 1
}
