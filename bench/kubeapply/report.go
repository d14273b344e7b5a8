package kubeapply

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"strings"
	"time"

	"github.com/ferrycd/ferry/bench/internal/benchkit"
)

// Heading is the bench/RESULTS.md section this benchmark owns.
const Heading = "## Local cluster"

// Markdown renders r as the body of the Heading section, with the machine
// it ran on and today's date.
func (r Result) Markdown(cachedBuild time.Duration) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n\n", Heading)
	fmt.Fprintf(&b, "Measured by `go run ./bench/cmd/kubeapply` on %s, on %d CPU(s) (%s), %s, %s/%s;\n",
		time.Now().Format("2006-01-02"), runtime.NumCPU(), benchkit.CPUModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(&b, "load average %s when the run began.\n", r.LoadAverage)
	fmt.Fprintf(&b, "Kubernetes %s, etcd %s (no fsync), kwok %s, one kwok node; see docs/local-cluster.md.\n\n",
		r.Build.KubernetesVersion, r.Build.EtcdVersion, r.Build.KwokVersion)

	b.WriteString("| What | Time |\n|---|---|\n")
	fmt.Fprintf(&b, "| First build of the binaries (`hack/kube/build.sh`: module downloads, Kubernetes compiled from scratch; started %s) | %s |\n",
		r.Build.BuiltAt, time.Duration(r.Build.BuildSeconds)*time.Second)
	if cachedBuild > 0 {
		fmt.Fprintf(&b, "| `hack/kube/build.sh` again (stamp found, nothing rebuilt) | %s |\n", cachedBuild.Round(time.Millisecond))
	}
	starts := make([]string, len(r.Starts))
	for i, s := range r.Starts {
		starts[i] = s.Round(10 * time.Millisecond).String()
	}
	fmt.Fprintf(&b, "| Start to ready, cached binaries (`localcluster.Start`, %d runs) | %s |\n\n",
		len(r.Starts), strings.Join(starts, ", "))

	b.WriteString("Server-side apply of new ConfigMaps (8 keys each) with client-go, field manager\n")
	b.WriteString("`ferry`, no client-side rate limit, one namespace per run; the floor under\n")
	b.WriteString("every Kubernetes deployment Ferry makes on this cluster. The benchmark's client and\n")
	b.WriteString("every cluster process share the CPUs above.\n\n")
	b.WriteString("| Objects | Parallelism | Elapsed | Applies/s | p50 | p99 |\n|---:|---:|---:|---:|---:|---:|\n")
	for _, a := range r.Applies {
		fmt.Fprintf(&b, "| %d | %d | %s | %.0f | %s | %s |\n", a.Objects, a.Parallelism,
			a.Elapsed.Round(time.Millisecond), a.OpsPerSecond(), roundLatency(a.P50), roundLatency(a.P99))
	}
	b.WriteString("\nWith one object, parallelism has nothing to spread; those rows show the\nlatency of a single apply.\n")
	return b.String()
}

// roundLatency keeps two or three significant digits.
func roundLatency(d time.Duration) time.Duration {
	switch {
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}

// WriteSection replaces the Heading section of the Markdown file at path —
// from its heading line to the next "## " heading or the end — with section,
// or appends section when the file has none. Other sections are left as
// they are; a missing file is created with a title.
func WriteSection(path, section string) error {
	old, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		old = []byte("# Benchmark results\n")
	} else if err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	lines := strings.SplitAfter(string(old), "\n")
	start, end := -1, len(lines)
	for i, l := range lines {
		t := strings.TrimRight(l, "\r\n")
		if start < 0 && t == Heading {
			start = i
		} else if start >= 0 && strings.HasPrefix(t, "## ") {
			end = i
			break
		}
	}
	section = strings.TrimRight(section, "\n") + "\n"
	var out string
	if start < 0 {
		out = strings.TrimRight(string(old), "\n") + "\n\n" + section
	} else {
		if end < len(lines) {
			section += "\n"
		}
		out = strings.Join(lines[:start], "") + section + strings.Join(lines[end:], "")
	}
	if err := os.WriteFile(path, []byte(out), 0o644); err != nil {
		return fmt.Errorf("write results: %w", err)
	}
	return nil
}
