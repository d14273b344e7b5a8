package clustersoak

import (
	"fmt"
	"strings"
	"time"
)

// Text is the report as people read it: what ran, then the counts, then
// the verdict.
func (r *Report) Text() string {
	var b strings.Builder
	o := r.Options
	build := "no build beside it"
	if len(o.BuildPackages) > 0 {
		jobs := "the number of CPUs"
		if o.BuildJobs > 0 {
			jobs = fmt.Sprint(o.BuildJobs)
		}
		build = fmt.Sprintf("`go build -a %s` in a loop beside it (-p %s)", strings.Join(o.BuildPackages, " "), jobs)
	}
	fmt.Fprintf(&b, "Local cluster soak: %s with %s; %d Deployments of %d replicas rolling out one image after another.\n",
		r.Elapsed, build, o.Deployments, o.Replicas)
	cut := ""
	if r.BuildCut {
		cut = "; one more was still compiling at the end"
	}
	fmt.Fprintf(&b, "  go builds finished        %d (failed: %d%s)\n", r.Builds, r.BuildFailures, cut)
	fmt.Fprintf(&b, "  rollouts finished         %d (p50 %s, slowest %s)\n", r.Rollouts, round(r.RolloutP50), round(r.Slowest))
	fmt.Fprintf(&b, "  stuck rollouts            %d (not rolled out within %s)\n", r.Stuck, o.RolloutTimeout)
	fmt.Fprintf(&b, "  node NotReady transitions %d\n", r.NotReady)
	fmt.Fprintf(&b, "  pods made unready         %d\n", r.PodsUnready)
	fmt.Fprintf(&b, "  longest node Lease gap    %s (the node is NotReady after %s)\n", round(r.LeaseGap), r.Grace)
	fmt.Fprintf(&b, "  load average at the end   %s\n", r.LoadFrom)
	if r.Died != "" {
		fmt.Fprintf(&b, "  died                      %s\n", r.Died)
	}
	if r.Healthy() {
		b.WriteString("HEALTHY: no NotReady transition, no stuck rollout.\n")
	} else {
		b.WriteString("UNHEALTHY\n")
	}
	return b.String()
}

func round(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }
