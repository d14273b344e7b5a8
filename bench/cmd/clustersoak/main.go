// Command clustersoak soaks the local Kubernetes cluster: it runs one with
// the defaults every user gets for -duration while a Go build of this
// repository loops beside it and Deployments roll out continuously, then
// reports node NotReady transitions, pods made unready and stuck rollouts.
// It exits 1 unless the cluster stayed healthy (no NotReady transition, no
// stuck rollout). It is not part of the tests; run it by hand, from the
// repository root, after changing the cluster:
//
//	go run ./bench/cmd/clustersoak -duration 30m [-deployments 4] [-replicas 3] [-rollout-timeout 2m] [-build ./...] [-build-jobs 0] [-bin-dir DIR]
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/ferrycd/ferry/bench/clustersoak"
)

func main() {
	var o clustersoak.Options
	flag.StringVar(&o.BinDir, "bin-dir", "", "the local cluster's binaries (default $FERRY_KUBE_BIN, else the default cache)")
	flag.DurationVar(&o.Duration, "duration", 30*time.Minute, "how long to soak the cluster")
	flag.IntVar(&o.Deployments, "deployments", 4, "Deployments rolling out at once")
	flag.IntVar(&o.Replicas, "replicas", 3, "replicas of each Deployment")
	flag.DurationVar(&o.RolloutTimeout, "rollout-timeout", 2*time.Minute, "a rollout taking longer counts as stuck")
	build := flag.String("build", "./...", "space-separated packages `go build -a` compiles in a loop beside the cluster (empty: none)")
	flag.IntVar(&o.BuildJobs, "build-jobs", 0, "go build's -p (0: the number of CPUs)")
	flag.Parse()
	o.BuildPackages = strings.Fields(*build)
	o.BuildDir = "."
	o.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	rep, err := clustersoak.Run(ctx, o)
	if rep != nil {
		fmt.Print(rep.Text())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "clustersoak:", err)
		os.Exit(1)
	}
	if !rep.Healthy() {
		os.Exit(1)
	}
}
