package agentscale

import (
	"fmt"
	"math"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/ferrycd/ferry/bench/internal/benchkit"
)

// Targets of the agent issue, checked in the report.
const (
	// IdleRSSTarget bounds the idle agent's VmRSS.
	IdleRSSTarget = 60 << 20
	// RSSTarget5000 bounds VmRSS with 5,000 applications watched.
	RSSTarget5000 = 400 << 20
	// DriftP99Target bounds drift latency at the 99th percentile with
	// 1,000 applications watched (docs: performance goals).
	DriftP99Target = time.Second
)

// Markdown renders the report for bench/RESULTS.md: how it ran, one table
// per measurement, the targets, and what the agent logged.
func (r *Report) Markdown(command string) string {
	var b strings.Builder
	o := r.Options
	fmt.Fprintf(&b, "Measured by `%s` on %s, %d CPUs (%s), %s, %s/%s; **load average %s** when the run began.\n",
		command, r.Began.Format("2006-01-02 15:04 MST"), runtime.NumCPU(), benchkit.CPUModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH, r.LoadAverage)
	fmt.Fprintf(&b, "The agent runs as its own process (`ferry agent --config FILE`, a %.0f MB binary from plain `go build`); the control plane (SQLite) and the local\n", float64(r.Binary)/1e6)
	fmt.Fprintf(&b, "cluster (%d kwok node(s)) run in the bench's process and beside it, on the same CPUs. One Git repository,\n", r.Nodes)
	fmt.Fprintf(&b, "`apps/appNNNN/` per application (a Deployment of 1 replica and a ConfigMap), %d applications per namespace.\n\n", o.PerNamespace)
	if len(r.Deploys) > 0 {
		r.writeDeploys(&b)
	}
	if len(r.Memory) > 0 {
		fmt.Fprintf(&b, "Memory and CPU once every application is SYNCED: VmRSS, RssAnon and VmHWM from /proc, CPU (utime+stime) and\n")
		fmt.Fprintf(&b, "kube-apiserver requests (all clients, WATCH left out) over a %s quiet window.\n\n", o.Window)
		b.WriteString("| applications | VmRSS | of which RssAnon | VmHWM | threads | CPU | kube-apiserver requests | target |\n|---:|---:|---:|---:|---:|---:|---|---|\n")
		for _, m := range r.Memory {
			fmt.Fprintf(&b, "| %d | %.0f MiB | %.0f MiB | %.0f MiB | %d | %.1f%% of a core | %s | %s |\n",
				m.Apps, mib(m.RSS), mib(m.Anon), mib(m.HWM), m.Threads, m.CPUPercent(), m.API, memoryTarget(m))
		}
		b.WriteString("\n")
	}
	if len(r.Drift) > 0 {
		fmt.Fprintf(&b, "Drift: a client-go merge patch (%s) of one live object, to the application OUT_OF_SYNC in the API (polled every %s);\n", editName(o.Edit), o.Poll)
		b.WriteString("the floor is a plain client-go watch on the same object seeing the edit, same run. Each edit is on a different\n")
		fmt.Fprintf(&b, "application and reverted (to SYNCED) before the next; %d edits after one warm-up.\n\n", o.Reps)
		b.WriteString("| applications | drift p50 | drift p99 | watch floor p50 | watch floor p99 | p99 / floor | revert to SYNCED p50 | missed (drift / watch) |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
		for _, d := range r.Drift {
			fmt.Fprintf(&b, "| %d | %s | %s | %s | %s | %s | %s | %d / %d |\n", d.Apps,
				round(percentile(d.Drift, 50)), round(percentile(d.Drift, 99)), round(percentile(d.Watch, 50)), round(percentile(d.Watch, 99)),
				ratio(percentile(d.Drift, 99), percentile(d.Watch, 99)), round(percentile(d.Revert, 50)), d.Missed, d.WatchMissed)
		}
		b.WriteString("\n")
	}
	if len(r.Starts) > 0 {
		b.WriteString("Restart: SIGTERM, then a new process; from its start to the first (and to every) application's sync state reported anew in the API.\n\n")
		b.WriteString("| applications | start to first reported | start to all reported | VmRSS after | VmHWM after |\n|---:|---:|---:|---:|---:|\n")
		for _, s := range r.Starts {
			fmt.Fprintf(&b, "| %d | %s | %s | %.0f MiB | %.0f MiB |\n", s.Apps, round(s.First), round(s.All), mib(s.RSS), mib(s.HWM))
		}
		b.WriteString("\n")
	}
	r.writeTargets(&b)
	if r.Stopped != "" {
		fmt.Fprintf(&b, "**Stopped short**: %s; the largest count fully deployed is %d.\n\n", r.Stopped, r.Reached)
	}
	fmt.Fprintf(&b, "Peak VmRSS sampled every %s over the run: %.0f MiB. Load average when the run ended: %s.\n", sampleEvery, mib(r.RSSPeak), r.LoadAverageEnd)
	r.writeLog(&b)
	return b.String()
}

// writeDeploys renders the growth steps.
func (r *Report) writeDeploys(b *strings.Builder) {
	batch := "all of a step's applications in one commit"
	if r.Options.Batch > 0 {
		batch = fmt.Sprintf("%d applications per commit, each batch deployed before the next commit", r.Options.Batch)
	}
	fmt.Fprintf(b, "Deploying: %s; a push webhook tells the agent, which deploys each application on the commit that adds it.\n", batch)
	fmt.Fprintf(b, "A failed first deployment is retried with a sync command, at most %d times. kube-apiserver requests: all clients, WATCH left out.\n\n", maxRetries)
	b.WriteString("| applications | new | commits | all SUCCESS | per second | retries | all SYNCED | agent CPU | kube-apiserver requests |\n|---:|---:|---:|---:|---:|---:|---:|---:|---|\n")
	for _, d := range r.Deploys {
		if !d.Complete() {
			fmt.Fprintf(b, "| %d | %d | %d | **stopped: %s** | | %d | | | |\n", d.To, d.New, d.Commits, d.Problem, d.Retries)
			continue
		}
		fmt.Fprintf(b, "| %d | %d | %d | %s | %.1f | %d | %s | %s | %s |\n",
			d.To, d.New, d.Commits, round(d.Deploy), d.PerSecond(), d.Retries, round(d.Synced), round(d.CPU), d.API)
	}
	b.WriteString("\n")
}

// writeTargets lists each target with the figure that decides it.
func (r *Report) writeTargets(b *strings.Builder) {
	var lines []string
	for _, m := range r.Memory {
		if t := memoryTarget(m); t != "" {
			lines = append(lines, fmt.Sprintf("VmRSS with %d applications %.0f MiB (%s)", m.Apps, mib(m.RSS), t))
		}
	}
	for _, d := range r.Drift {
		if d.Apps == 1000 {
			p99 := percentile(d.Drift, 99)
			lines = append(lines, fmt.Sprintf("drift p99 at 1,000 applications %s vs watch floor %s (target ≤ %s: %s)",
				round(p99), round(percentile(d.Watch, 99)), DriftP99Target, metOrNot(d.Missed == 0 && len(d.Drift) > 0 && p99 <= DriftP99Target)))
		}
	}
	if len(lines) == 0 {
		return
	}
	b.WriteString("Targets: " + strings.Join(lines, "; ") + ".\n\n")
}

// writeLog lists the agent's most frequent warnings and errors.
func (r *Report) writeLog(b *strings.Builder) {
	total := 0
	for _, n := range r.Log.ByMessage {
		total += n
	}
	fmt.Fprintf(b, "The agent's log: %d lines, %d warnings or errors.\n", r.Log.Lines, total)
	for _, k := range r.Log.Top(8) {
		fmt.Fprintf(b, "- %d × %s\n", r.Log.ByMessage[k], k)
	}
}

// memoryTarget says whether m meets the memory target for its count; ""
// when no target names that count.
func memoryTarget(m MemoryRow) string {
	switch m.Apps {
	case 0:
		return fmt.Sprintf("idle < 60 MiB: %s", metOrNot(m.RSS < IdleRSSTarget))
	case 5000:
		return fmt.Sprintf("< 400 MiB: %s", metOrNot(m.RSS < RSSTarget5000))
	}
	return ""
}

func metOrNot(ok bool) string {
	if ok {
		return "met"
	}
	return "**not met**"
}

func editName(edit string) string {
	if edit == EditConfigMap {
		return "a ConfigMap's data value"
	}
	return "a Deployment's replicas 1 → 2"
}

// percentile is the nearest-rank p-th percentile of ds; 0 when empty.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[max(0, min(i, len(s)-1))]
}

func ratio(a, b time.Duration) string {
	if b <= 0 {
		return "–"
	}
	return fmt.Sprintf("%.1f×", float64(a)/float64(b))
}

// round keeps two or three significant digits.
func round(d time.Duration) time.Duration {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond)
	case d >= 100*time.Millisecond:
		return d.Round(time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(10 * time.Microsecond)
	default:
		return d.Round(time.Microsecond)
	}
}
