// Command agentdeploy measures the deploy agent end to end on the local
// cluster — commit and sync command to SUCCESS in the API — for
// applications of 1, 100 and 1,000 ConfigMaps, each next to the floor
// (client-go server-side apply of the same objects, 32 workers) measured in
// the same run. It prints a Markdown table for bench/RESULTS.md.
//
//	go run ./bench/cmd/agentdeploy [-objects 1,100,1000] [-reps 5]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/ferrycd/ferry/bench/agentdeploy"
)

func main() {
	objects := flag.String("objects", "1,100,1000", "comma-separated object counts")
	reps := flag.Int("reps", 5, "measured repetitions per size, after a warm-up")
	flag.Parse()
	var sizes []int
	for _, s := range strings.Split(*objects, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "agentdeploy bench: bad -objects value %q\n", s)
			os.Exit(2)
		}
		sizes = append(sizes, n)
	}
	rows, err := agentdeploy.Run(context.Background(), sizes, *reps)
	if err != nil {
		fmt.Fprintln(os.Stderr, "agentdeploy bench:", err)
		os.Exit(1)
	}
	fmt.Printf("Agent, commit + sync command to SUCCESS in the API (quick sync, wait for health); %s, %d CPUs, %s; median of %d\n\n",
		runtime.Version(), runtime.NumCPU(), time.Now().UTC().Format("2006-01-02"), *reps)
	fmt.Println("| objects | commit to SUCCESS | floor (SSA, 32 workers) | ratio |")
	fmt.Println("|---:|---:|---:|---:|")
	for _, r := range rows {
		fmt.Printf("| %d | %s | %s | %.2f× |\n", r.Objects, r.Deploy.Round(time.Millisecond), r.Floor.Round(time.Millisecond), r.Ratio())
	}
}
