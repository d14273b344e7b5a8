// Command kubeapply measures the local Kubernetes cluster: the cold build
// time hack/kube/build.sh recorded, a cached build.sh run, start-to-ready
// times, and server-side apply of 1, 100 and 1,000 ConfigMaps at
// parallelism 1, 8 and 32. It prints the "## Local cluster" section of
// bench/RESULTS.md and, with -results, writes it there, leaving the other
// sections alone.
//
//	go run ./bench/cmd/kubeapply [-bin-dir DIR] [-starts 3] [-objects 1,100,1000] [-parallel 1,8,32] [-results bench/RESULTS.md]
//
// Run it from the repository root so it finds hack/kube/build.sh.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/ferrycd/ferry/bench/kubeapply"
)

func main() {
	binDir := flag.String("bin-dir", "", "the local cluster's binaries (default $FERRY_KUBE_BIN, else the default cache)")
	starts := flag.Int("starts", 3, "how many cluster starts to time")
	objects := flag.String("objects", "1,100,1000", "comma-separated ConfigMap counts")
	parallel := flag.String("parallel", "1,8,32", "comma-separated parallelisms")
	results := flag.String("results", "", "write the section into this Markdown file (e.g. bench/RESULTS.md)")
	flag.Parse()
	if err := run(*binDir, *starts, *objects, *parallel, *results); err != nil {
		fmt.Fprintln(os.Stderr, "kubeapply bench:", err)
		os.Exit(1)
	}
}

func run(binDir string, starts int, objects, parallel, results string) error {
	o := kubeapply.Options{
		BinDir: binDir, Starts: starts,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, nil)),
	}
	var err error
	if o.Objects, err = ints(objects); err != nil {
		return fmt.Errorf("-objects: %w", err)
	}
	if o.Parallelism, err = ints(parallel); err != nil {
		return fmt.Errorf("-parallel: %w", err)
	}
	cached := timeCachedBuild()
	r, err := kubeapply.Run(context.Background(), o)
	if err != nil {
		return err
	}
	section := r.Markdown(cached)
	fmt.Print(section)
	if results != "" {
		return kubeapply.WriteSection(results, section)
	}
	return nil
}

// timeCachedBuild times `bash hack/kube/build.sh` when the script is here
// and its binaries are built (the run then only checks the stamp); it
// returns 0 otherwise.
func timeCachedBuild() time.Duration {
	if _, err := os.Stat("hack/kube/build.sh"); err != nil {
		return 0
	}
	begin := time.Now()
	if err := exec.Command("bash", "hack/kube/build.sh").Run(); err != nil {
		return 0
	}
	return time.Since(begin)
}

// ints parses a comma-separated list of positive integers.
func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive integer", f)
		}
		out = append(out, n)
	}
	return out, nil
}
