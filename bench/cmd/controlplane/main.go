// Command controlplane measures the control plane's throughput and latency on
// the agents' hottest path, on SQLite and PostgreSQL, at several agent
// counts, and prints a Markdown table for bench/RESULTS.md.
//
//	go run ./bench/cmd/controlplane [-postgres URL] [-agents 1,8,64] [-duration 10s]
//
// PostgreSQL is measured when -postgres (or FERRY_TEST_POSTGRES_URL) is set;
// each run uses a fresh schema that is dropped afterwards.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/ferrycd/ferry/bench/controlplane"
	"github.com/ferrycd/ferry/bench/internal/benchkit"
)

func main() {
	pg := flag.String("postgres", os.Getenv("FERRY_TEST_POSTGRES_URL"), "PostgreSQL URL; empty skips PostgreSQL")
	agentList := flag.String("agents", "1,8,64", "comma-separated concurrent agent counts")
	dur := flag.Duration("duration", 10*time.Second, "how long each measurement runs")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "controlplane bench:", err)
			os.Exit(1)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			fmt.Fprintln(os.Stderr, "controlplane bench:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(*pg, *agentList, *dur); err != nil {
		fmt.Fprintln(os.Stderr, "controlplane bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(pg, agentList string, dur time.Duration) error {
	ctx := context.Background()
	var counts []int
	for _, s := range strings.Split(agentList, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			return fmt.Errorf("bad -agents value %q", s)
		}
		counts = append(counts, n)
	}
	backends := []string{"sqlite"}
	if pg != "" {
		backends = append(backends, "postgres")
	}
	fmt.Printf("Control plane, agent hot path (create + plan + %d × (stage status + log append)); %s, %d CPUs, %s per run, %s\n\n",
		controlplane.StagesPerDeployment, runtime.Version(), runtime.NumCPU(), dur, time.Now().UTC().Format("2006-01-02"))
	fmt.Println("| datastore | agents | deployments/s | stage updates/s | p50 per call | p99 per call | heartbeat floor p50 | p50 / floor |")
	fmt.Println("|---|---|---|---|---|---|---|---|")
	for _, b := range backends {
		for _, n := range counts {
			ds := ""
			cleanup := func() {}
			if b == "postgres" {
				var err error
				if ds, cleanup, err = benchkit.FreshSchema(pg); err != nil {
					return err
				}
			}
			r, err := controlplane.Run(ctx, controlplane.Options{Datastore: ds, Agents: n, Duration: dur})
			cleanup()
			if err != nil {
				return fmt.Errorf("%s with %d agents: %w", b, n, err)
			}
			fmt.Printf("| %s | %d | %.0f | %.0f | %s | %s | %s | %.2f× |\n", b, n,
				float64(r.Deployments)/r.Elapsed.Seconds(), r.StageUpdatesPerSecond(),
				r.P50.Round(10*time.Microsecond), r.P99.Round(10*time.Microsecond),
				r.FloorP50.Round(10*time.Microsecond), r.P50OverFloor())
		}
	}
	return nil
}
