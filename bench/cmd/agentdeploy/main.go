// Command agentdeploy measures the deploy agent end to end on the local
// cluster — push webhook for a new commit to SUCCESS in the API — for
// applications of 1, 100 and 1,000 ConfigMaps all changed, 1,000 with one
// changed, and a Deployment image change with its rollout, each next to
// its floor measured in the same run (see package agentdeploy). It prints
// a Markdown table for bench/RESULTS.md. FERRY_BENCH_AGENT_LOG=FILE writes
// the agent's debug log to FILE.
//
//	go run ./bench/cmd/agentdeploy [-objects 1,100,1000] [-reps 5] [-rollout=true] [-labelled-floor] [-cpuprofile FILE]
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

	"github.com/ferrycd/ferry/bench/agentdeploy"
)

func main() {
	objects := flag.String("objects", "1,100,1000", "comma-separated object counts")
	reps := flag.Int("reps", 5, "measured repetitions per case, after a warm-up")
	rollout := flag.Bool("rollout", true, "measure a Deployment image change and its rollout too")
	flag.BoolVar(&agentdeploy.LabelledFloor, "labelled-floor", false, "the ConfigMap floors apply Ferry's ownership labels and annotations too (watched by the agent's informers, as its own objects are)")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the whole run (agent, control plane and floors: one process) to this file")
	flag.Parse()
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "agentdeploy bench: -cpuprofile:", err)
			os.Exit(2)
		}
		defer pprof.StopCPUProfile()
	}
	var sizes []int
	for _, s := range strings.Split(*objects, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "agentdeploy bench: bad -objects value %q\n", s)
			os.Exit(2)
		}
		sizes = append(sizes, n)
	}
	rows, err := agentdeploy.Run(context.Background(), sizes, *reps, *rollout)
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentdeploy bench:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
	floorKind := "bare"
	if agentdeploy.LabelledFloor {
		floorKind = "labelled (Ferry's ownership labels and annotations)"
	}
	fmt.Printf("Agent, push webhook to SUCCESS in the API (quick sync, wait for health); %s, %d CPUs, %s; median of %d; ConfigMap floors %s\n\n",
		runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"), *reps, floorKind)
	fmt.Println("| the commit changes | objects | push to SUCCESS | floor | over the floor | ratio |")
	fmt.Println("|---|---:|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Printf("| %s | %d | %s | %s | +%s | %.2f× |\n", r.Case, r.Objects, r.Deploy.Round(time.Millisecond), r.Floor.Round(time.Millisecond),
			(r.Deploy - r.Floor).Round(time.Millisecond), r.Ratio())
	}
}
