// Command agentscale measures the deploy agent at scale: drift-detection
// latency next to a client-go watch floor, memory and CPU idle and with
// thousands of applications watched, start to first application reported
// after a restart, and how long deploying thousands of applications takes.
// It prints a Markdown section for bench/RESULTS.md; -help says more.
//
//	go run ./bench/cmd/agentscale [-memory 0,1000,5000] [-drift 1,1000] [-start 1,1000] [-reps 20]
//
// Run it from the repository root (it builds ./cmd/ferry) with the local
// cluster's binaries built (FERRY_KUBE_BIN, see docs/local-cluster.md).
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ferrycd/ferry/bench/agentscale"
)

const usage = `Usage: go run ./bench/cmd/agentscale [flags]

Measures the deploy agent at scale. The agent runs as its own process
(ferry agent --config FILE, built from ./cmd/ferry into a temporary
folder); the control plane (SQLite) and the local cluster (kwok nodes, no
real containers) run beside it. One Git repository holds the applications,
apps/appNNNN/ each (app.pipecd.yaml, a Deployment of 1 replica, a
ConfigMap). Counts grow in one run, ascending: each step adds applications
in commits of -batch applications, the agent deploys each on the commit
that adds it, and the bench waits for all to be SUCCESS (retrying a failed
first deployment with a sync command, twice at most) and then SYNCED. At
each count it measures what the flags ask:

  -memory  agent VmRSS and VmHWM (/proc/PID/status) and CPU (utime+stime of
           /proc/PID/stat) over a quiet window, once all are SYNCED;
           0 is the idle agent (registered, connected, no applications).
           Targets: idle < 60 MiB; 5,000 applications < 400 MiB.
  -drift   drift-detection latency: a client-go patch of one live object
           (Deployment replicas, or ConfigMap data with -edit configmap)
           to the application OUT_OF_SYNC in the API, polled every -poll;
           the floor is a plain client-go watch seeing the same edit.
           -reps edits on different applications, each reverted (and
           SYNCED again) before the next; p50 and p99.
  -start   restart the agent (SIGTERM, new process) and time from process
           start to the first application's sync state reported anew in
           the API, and to all of them.

Deploying a step that takes longer than -deploy-timeout, or applications
failing three deployments, stops the run; the report says how many
applications were reached. Memory rows and deploy steps also show
kube-apiserver's request rate (from its /metrics, every client counted).

Flags:
`

func main() {
	flag.Usage = func() {
		fmt.Fprint(flag.CommandLine.Output(), usage)
		flag.PrintDefaults()
	}
	memory := flag.String("memory", "0,1000,5000", "application counts at which to read memory and CPU (0: idle)")
	drift := flag.String("drift", "1,1000", "application counts at which to time drift detection")
	start := flag.String("start", "1,1000", "application counts at which to restart the agent and time its first report")
	reps := flag.Int("reps", 20, "drift edits per count, after one warm-up")
	window := flag.Duration("window", 30*time.Second, "quiet window for the CPU reading")
	perNS := flag.Int("per-namespace", 50, "applications per namespace")
	batch := flag.Int("batch", 250, "new applications per commit, each batch deployed before the next (0: a step's all in one commit)")
	deployTimeout := flag.Duration("deploy-timeout", 15*time.Minute, "longest wait for one step's applications to deploy")
	pollEvery := flag.Duration("poll", 5*time.Millisecond, "interval of the API polls that time drift and restarts")
	edit := flag.String("edit", agentscale.EditDeployment, "out-of-band edit: deployment (replicas) or configmap (data)")
	ferry := flag.String("ferry", "", "use this ferry binary instead of building ./cmd/ferry")
	keep := flag.Bool("keep", false, "keep the work folder (agent logs, RSS samples every 5s)")
	profile := flag.Bool("profile", false, "save the agent's heap profile at each memory count into the work folder (heap-N.pb.gz; with -keep)")
	var agentEnv []string
	flag.Func("agent-env", "KEY=VALUE added to the agent's environment only (repeatable), e.g. GOGC=50", func(s string) error {
		if !strings.Contains(s, "=") {
			return fmt.Errorf("want KEY=VALUE, not %q", s)
		}
		agentEnv = append(agentEnv, s)
		return nil
	})
	flag.Parse()

	o := agentscale.Options{
		Reps: *reps, Window: *window, PerNamespace: *perNS, Batch: *batch, DeployTimeout: *deployTimeout,
		Poll: *pollEvery, Edit: *edit, Ferry: *ferry, Keep: *keep, Profile: *profile, AgentEnv: agentEnv,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	var err error
	for _, l := range []struct {
		name string
		s    string
		into *[]int
	}{{"memory", *memory, &o.Memory}, {"drift", *drift, &o.Drift}, {"start", *start, &o.Start}} {
		if *l.into, err = ints(l.s); err != nil {
			fail(2, fmt.Errorf("-%s: %w", l.name, err))
		}
	}
	switch {
	case o.Edit != agentscale.EditDeployment && o.Edit != agentscale.EditConfigMap:
		fail(2, fmt.Errorf("-edit must be deployment or configmap, not %q", o.Edit))
	case o.Reps < 1 || o.PerNamespace < 1 || o.Batch < 0 || o.Window <= 0 || o.Poll <= 0:
		fail(2, fmt.Errorf("-reps and -per-namespace must be at least 1, -batch not negative, -window and -poll positive"))
	case len(o.Memory)+len(o.Drift)+len(o.Start) == 0:
		fail(2, fmt.Errorf("nothing to measure: give -memory, -drift or -start"))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := agentscale.Run(ctx, o)
	if rep != nil {
		fmt.Print(rep.Markdown("go run ./bench/cmd/agentscale " + strings.Join(os.Args[1:], " ")))
		if rep.WorkDir != "" {
			fmt.Fprintln(os.Stderr, "work folder kept:", rep.WorkDir)
		}
	}
	if err != nil {
		fail(1, err)
	}
}

func fail(code int, err error) {
	fmt.Fprintln(os.Stderr, "agentscale bench:", err)
	os.Exit(code)
}

// ints parses a comma-separated list of counts; "" is none.
func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}
